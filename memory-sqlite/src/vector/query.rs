//! Answering a query. The collection's spec and the epochs of the
//! partitions asked for are read in one statement; stale partitions are
//! reloaded; small scans run in the caller's task, large ones on the
//! blocking pool. A query pinned to one user whose partition is cached
//! scans first and then reads the hits' memories in the same statement
//! that checks the partition's epoch, so a search costs one round trip to
//! the database; if the epoch moved meanwhile, it is answered again the
//! long way.

use std::sync::{Arc, RwLock};

use memory_core::filter::{Field, Filter};
use memory_core::{
    CollectionSpec, Error, JoinedHit, Metric, Result, ScoredId, VectorQuery, check_vector, vecmath,
};
use sqlx::{QueryBuilder, Sqlite};

use super::partition::{PartKey, Partition, part_of_user, residual};
use super::{SqliteVectorIndex, lock_err};
use crate::error::{corrupt, map};
use crate::joined::{self, Check};
use crate::rows::get;

/// Up to this many floats compared, a scan runs in the caller's task:
/// handing it to the blocking pool and back costs more than the scan
/// (about 680 vectors of 384 dimensions).
const INLINE_SCAN_FLOATS: usize = 1 << 18;

/// The partition a query's filter pins, if any.
fn pinned_part(q: &VectorQuery) -> Option<String> {
    q.filter
        .as_ref()
        .and_then(|f| f.pinned(&Field::UserId))
        .and_then(|v| v.as_str())
        .map(|u| part_of_user(Some(u)))
}

/// A collection's spec from a row holding its `dimension` and `metric`.
pub(super) fn spec_of(name: &str, r: &sqlx::sqlite::SqliteRow) -> Result<CollectionSpec> {
    Ok(CollectionSpec {
        name: name.to_owned(),
        dimension: usize::try_from(get::<i64>(r, "dimension")?)
            .map_err(|e| corrupt("dimension", e))?,
        metric: Metric::parse(&get::<String>(r, "metric")?)?,
    })
}

impl SqliteVectorIndex {
    /// The collection's spec and the epochs of its partitions in `tenant`
    /// (only `pinned` when set).
    async fn current(
        &self,
        collection: &str,
        tenant: &str,
        pinned: Option<&str>,
    ) -> Result<(CollectionSpec, Vec<(String, i64)>)> {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT c.dimension, c.metric, e.part, e.epoch FROM vec_collections c \
             LEFT JOIN vec_epochs e ON e.collection = c.name AND e.tenant = ",
        );
        qb.push_bind(tenant.to_owned());
        if let Some(p) = pinned {
            qb.push(" AND e.part = ").push_bind(p.to_owned());
        }
        qb.push(" WHERE c.name = ").push_bind(collection.to_owned());
        let rows = qb
            .build()
            .fetch_all(&self.db.pool)
            .await
            .map_err(|e| map(e, "query"))?;
        let Some(first) = rows.first() else {
            return Err(Error::not_found(format!(
                "vector collection {collection:?} does not exist"
            ))
            .with_backend("sqlite"));
        };
        let spec = spec_of(collection, first)?;
        let mut epochs = Vec::with_capacity(rows.len());
        for r in &rows {
            if let (Some(part), Some(epoch)) = (get(r, "part")?, get(r, "epoch")?) {
                epochs.push((part, epoch));
            }
        }
        Ok((spec, epochs))
    }

    /// The `q.k` nearest vectors passing the query's filter.
    pub(super) async fn search(&self, collection: &str, q: &VectorQuery) -> Result<Vec<ScoredId>> {
        let pinned = pinned_part(q);
        let (spec, epochs) = self
            .current(collection, &q.tenant, pinned.as_deref())
            .await?;
        check_vector(&q.vector, spec.dimension)?;
        if q.k == 0 {
            return Ok(Vec::new());
        }
        let mut parts = Vec::with_capacity(epochs.len());
        for (part, epoch) in epochs {
            let key = (collection.to_owned(), q.tenant.clone(), part);
            parts.push(self.load(&key, epoch, &spec).await?);
        }
        self.scan(parts, spec.metric, q, pinned.is_some())
            .await
            .map(|(hits, _)| hits)
    }

    /// A search pinned to one user's cached partition, answered with its
    /// hits' windows and memories in one statement; `None` when the
    /// partition is not cached or moved on since it was scanned.
    pub(super) async fn search_cached_joined(
        &self,
        collection: &str,
        q: &VectorQuery,
    ) -> Result<Option<Vec<JoinedHit>>> {
        let Some(part) = pinned_part(q) else {
            return Ok(None);
        };
        let key: PartKey = (collection.to_owned(), q.tenant.clone(), part);
        let Some(cached) = self.cache.get(&key)? else {
            return Ok(None);
        };
        let metric = {
            let p = cached.read().map_err(|_| lock_err())?;
            if p.dimension != q.vector.len() {
                // The long way names the mismatch.
                return Ok(None);
            }
            p.metric
        };
        let (hits, epochs) = self.scan(vec![cached], metric, q, true).await?;
        let (joined, current) =
            joined::windows(&self.db.pool, &q.tenant, hits, Check::Epoch(&key)).await?;
        Ok((current == epochs.first().copied()).then_some(joined))
    }

    /// Scans `parts` (inline when small) and returns the hits with the
    /// epoch each partition had while it was scanned.
    async fn scan(
        &self,
        parts: Vec<Arc<RwLock<Partition>>>,
        metric: Metric,
        q: &VectorQuery,
        pinned: bool,
    ) -> Result<(Vec<ScoredId>, Vec<i64>)> {
        let mut vector = q.vector.clone();
        if metric == Metric::Cosine {
            vecmath::normalize(&mut vector);
        }
        let filter = q.filter.as_ref().and_then(|f| residual(f, pinned));
        let k = q.k;
        let mut floats = 0;
        for p in &parts {
            Partition::build_graph_if_due(p, self.db.hnsw_threshold, metric);
            floats += p.read().map_err(|_| lock_err())?.data.len();
        }
        if floats <= INLINE_SCAN_FLOATS {
            return scan_parts(&parts, metric, &vector, k, filter.as_ref());
        }
        tokio::task::spawn_blocking(move || scan_parts(&parts, metric, &vector, k, filter.as_ref()))
            .await
            .map_err(|e| Error::internal(format!("vector scan task failed: {e}")))?
    }
}

/// The `k` best of `parts` for `vector`, and each partition's epoch as
/// scanned.
fn scan_parts(
    parts: &[Arc<RwLock<Partition>>],
    metric: Metric,
    vector: &[f32],
    k: usize,
    filter: Option<&Filter>,
) -> Result<(Vec<ScoredId>, Vec<i64>)> {
    let mut all: Vec<ScoredId> = Vec::new();
    let mut epochs = Vec::with_capacity(parts.len());
    for p in parts {
        let part = p.read().map_err(|_| lock_err())?;
        all.extend(part.top(metric, vector, k, filter));
        epochs.push(part.epoch);
    }
    all.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    all.truncate(k);
    Ok((all, epochs))
}
