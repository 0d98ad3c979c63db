//! Near-duplicate lookup for adds that merge (`dedup_threshold`).

use std::collections::HashMap;

use uuid::Uuid;

use super::Memory;
use super::requests::AddRequest;
use super::scope::owner_filter;
use super::validity::Validity;
use crate::MemoryRecord;
use crate::traits::VectorQuery;

/// Memories the near-duplicate check asks the vector index for.
const NEAR_DUPLICATE_CANDIDATES: usize = 8;

impl Memory {
    /// The owner's current memories at least `dedup_threshold` like
    /// `embedding`, most alike first.
    ///
    /// Several candidates are asked for because an approximate index may
    /// rank the nearest below another, and the best may be expired or
    /// already taken by an earlier item of the batch.
    pub(super) async fn near_duplicates(
        &self,
        r: &AddRequest,
        embedding: &[f32],
    ) -> Vec<(MemoryRecord, f32)> {
        let Some(threshold) = r.dedup_threshold.or(self.inner.config.dedup_threshold) else {
            return Vec::new();
        };
        let query = VectorQuery {
            tenant: r.scope.tenant.clone(),
            vector: embedding.to_vec(),
            k: NEAR_DUPLICATE_CANDIDATES,
            filter: Validity::Current.and(Some(owner_filter(&r.scope))),
        };
        let hits = match self
            .inner
            .vectors
            .query(&self.inner.collection.name, &query)
            .await
        {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "near-duplicate check skipped: vector index failed");
                return Vec::new();
            }
        };
        let mut scores: HashMap<Uuid, f32> = HashMap::new();
        for h in hits.into_iter().filter(|h| h.score >= threshold) {
            let best = scores.entry(h.id).or_insert(h.score);
            *best = best.max(h.score);
        }
        if scores.is_empty() {
            return Vec::new();
        }
        let ids: Vec<Uuid> = scores.keys().copied().collect();
        // The store is authoritative: the index's payload may be stale.
        let found = match self.inner.store.get_memories(&r.scope.tenant, &ids).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "near-duplicate check skipped: store read failed");
                return Vec::new();
            }
        };
        let now = crate::now();
        let mut out: Vec<(MemoryRecord, f32)> = found
            .into_iter()
            .filter(|m| m.scope == r.scope && m.is_current() && !m.is_expired(now))
            .filter_map(|m| {
                let similarity = *scores.get(&m.id)?;
                Some((m, similarity))
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }
}
