//! The owner's live memories nearest a vector: what an add merges into
//! (`dedup_threshold`) and what consolidation shows the model.

use std::collections::HashMap;

use uuid::Uuid;

use super::Memory;
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
        let hits = self
            .inner
            .vectors
            .query(&self.inner.collection.name, &query)
            .await?;
        let mut scores: HashMap<Uuid, f32> = HashMap::new();
        for h in hits.into_iter().filter(|h| h.score >= min) {
            let best = scores.entry(h.id).or_insert(h.score);
            *best = best.max(h.score);
        }
        if scores.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = scores.keys().copied().collect();
        // The store is authoritative: the index's payload may be stale.
        let found = self.inner.store.get_memories(&scope.tenant, &ids).await?;
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
    pub(super) async fn near_duplicates(
        &self,
        r: &AddRequest,
        embedding: &[f32],
    ) -> Vec<(MemoryRecord, f32)> {
        let Some(threshold) = r.dedup_threshold.or(self.inner.config.dedup_threshold) else {
            return Vec::new();
        };
        let found = self
            .live_neighbours(
                &r.scope,
                embedding.to_vec(),
                NEAR_DUPLICATE_CANDIDATES,
                threshold,
            )
            .await;
        found.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "near-duplicate check skipped");
            Vec::new()
        })
    }
}
