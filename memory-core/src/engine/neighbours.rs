//! The owner's live memories nearest a vector: what an add merges into
//! (`dedup_threshold`) and what consolidation shows the model.

use std::collections::HashMap;

use uuid::Uuid;

use super::Memory;
use super::chunking::Embedded;
use super::requests::AddRequest;
use super::scope::owner_filter;
use super::validity::Validity;
use crate::traits::VectorQuery;
use crate::{MemoryRecord, Result, Scope};

/// Memories the near-duplicate check asks the vector index for.
const NEAR_DUPLICATE_CANDIDATES: usize = 8;

impl Memory {
    /// The memories of `scope`'s owner that are believed now (not
    /// superseded, not expired) and at least `min` like `vector`, most alike
    /// first; at most `k`.
    pub(crate) async fn live_neighbours(
        &self,
        scope: &Scope,
        vector: Vec<f32>,
        k: usize,
        min: f32,
    ) -> Result<Vec<(MemoryRecord, f32)>> {
        let query = VectorQuery {
            tenant: scope.tenant.clone(),
            vector,
            k,
            filter: Validity::Current.and(Some(owner_filter(scope))),
        };
        // A long memory's windows are folded into it, at its best window's
        // score; an index in the store's database reads the records with
        // its hits, which are then the store's own.
        let (_, (hits, _, mut records)) = self.vector_list(&query).await?;
        let scores: HashMap<Uuid, f32> = hits
            .into_iter()
            .filter(|h| h.score >= min)
            .map(|h| (h.id, h.score))
            .collect();
        if scores.is_empty() {
            return Ok(Vec::new());
        }
        records.retain(|id, _| scores.contains_key(id));
        let unread: Vec<Uuid> = scores
            .keys()
            .filter(|id| !records.contains_key(id))
            .copied()
            .collect();
        let mut found: Vec<MemoryRecord> = records.into_values().collect();
        if !unread.is_empty() {
            // The store is authoritative: the index's payload may be stale.
            found.extend(
                self.inner
                    .store
                    .get_memories(&scope.tenant, &unread)
                    .await?,
            );
        }
        let now = crate::now();
        let mut out: Vec<(MemoryRecord, f32)> = found
            .into_iter()
            .filter(|m| m.scope == *scope && m.is_current() && !m.is_expired(now))
            .filter_map(|m| {
                let similarity = *scores.get(&m.id)?;
                Some((m, similarity))
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(out)
    }

    /// The near-duplicates `r` would merge into, most alike first; none
    /// unless merging is asked for.
    ///
    /// Several candidates are asked for because an approximate index may
    /// rank the nearest below another, and the best may be taken by an
    /// earlier item of the batch.
    ///
    /// A merge replaces the memory's content with the new text, so it is
    /// made only where the vectors compared stand for the whole texts: a
    /// text longer than the embedder's window is represented by its first
    /// window, and a short text like one window of a long memory is not a
    /// restatement of all of it. Texts that long merge only when equal.
    pub(super) async fn near_duplicates(
        &self,
        r: &AddRequest,
        embedded: &Embedded,
    ) -> Vec<(MemoryRecord, f32)> {
        let Some(threshold) = r.dedup_threshold.or(self.inner.config.dedup_threshold) else {
            return Vec::new();
        };
        if !embedded.chunks.is_empty() {
            return Vec::new();
        }
        let found = self
            .live_neighbours(
                &r.scope,
                embedded.vector.clone(),
                NEAR_DUPLICATE_CANDIDATES,
                threshold,
            )
            .await;
        match found {
            Ok(found) => found
                .into_iter()
                .filter(|(m, _)| matches!(self.windows(&m.content), Ok(None)))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "near-duplicate check skipped");
                Vec::new()
            }
        }
    }
}
