//! The candidate lists a search fuses: the vector index's hits folded to
//! memories, and the keyword index's; each with the records its index read
//! in the same round trip, so the engine fetches only the rest.

use std::collections::HashMap;

use uuid::Uuid;

use super::Memory;
use crate::traits::{JoinedHit, KeywordIndex, KeywordQuery, VectorQuery};
use crate::{ChunkSpan, MemoryRecord, Result, ScoredId};

/// A keyword list: its hits and the records read with them.
pub(super) type KeywordList = (Vec<ScoredId>, HashMap<Uuid, MemoryRecord>);

impl Memory {
    /// One vector list: its hits folded to memories, their windows, and
    /// the records an index in the store's database read with them; and
    /// whether the index filled the `k` asked for.
    pub(super) async fn vector_list(&self, q: &VectorQuery) -> Result<(bool, Folded)> {
        let name = &self.inner.collection.name;
        if let Some(joined) = self.inner.vectors.query_joined(name, q).await? {
            let full = joined.len() >= q.k;
            let mut refs = HashMap::new();
            let mut held = HashMap::new();
            let mut raw = Vec::with_capacity(joined.len());
            for j in joined {
                if let Some(c) = j.chunk {
                    refs.insert(c.chunk_id, c);
                }
                if let Some(r) = j.record {
                    held.insert(r.id, r);
                }
                raw.push(j.hit);
            }
            let (hits, spans) = fold_windows(raw, &refs);
            return Ok((full, (hits, spans, held)));
        }
        let raw = self.inner.vectors.query(name, q).await?;
        let full = raw.len() >= q.k;
        let refs: HashMap<Uuid, crate::ChunkRef> = if raw.is_empty() {
            HashMap::new()
        } else {
            let ids: Vec<Uuid> = raw.iter().map(|h| h.id).collect();
            self.inner
                .store
                .chunk_refs(&q.tenant, &ids)
                .await?
                .into_iter()
                .map(|r| (r.chunk_id, r))
                .collect()
        };
        let (hits, spans) = fold_windows(raw, &refs);
        Ok((full, (hits, spans, HashMap::new())))
    }

    /// One keyword list, with its memories when the index reads them in
    /// the same round trip.
    pub(super) async fn keyword_list(
        &self,
        index: &dyn KeywordIndex,
        q: &KeywordQuery,
    ) -> Result<KeywordList> {
        match index.search_joined(q).await? {
            Some(joined) => Ok(split_joined(joined)),
            None => Ok((index.search(q).await?, HashMap::new())),
        }
    }
}

/// Joined hits as hits and the records found for them.
fn split_joined(joined: Vec<JoinedHit>) -> KeywordList {
    let mut held = HashMap::with_capacity(joined.len());
    let hits = joined
        .into_iter()
        .map(|j| {
            if let Some(r) = j.record {
                held.insert(r.id, r);
            }
            j.hit
        })
        .collect();
    (hits, held)
}

/// A vector list folded to memories: hits, the window each matched by, and
/// records already read.
pub(super) type Folded = (
    Vec<ScoredId>,
    HashMap<Uuid, ChunkSpan>,
    HashMap<Uuid, MemoryRecord>,
);

/// Folds the windows among an index's hits into their memories: each
/// memory once, at its best window's score, with that window's span.
fn fold_windows(
    raw: Vec<ScoredId>,
    refs: &HashMap<Uuid, crate::ChunkRef>,
) -> (Vec<ScoredId>, HashMap<Uuid, ChunkSpan>) {
    let mut spans = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut hits = Vec::with_capacity(raw.len());
    // The index answers best first, so a memory's first window is its best.
    for h in raw {
        let (id, span) = match refs.get(&h.id) {
            Some(r) => (r.memory_id, Some(r.span)),
            None => (h.id, None),
        };
        if seen.insert(id) {
            if let Some(span) = span {
                spans.insert(id, span);
            }
            hits.push(ScoredId { id, score: h.score });
        }
    }
    (hits, spans)
}
