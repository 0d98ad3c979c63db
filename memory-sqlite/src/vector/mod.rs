//! `VectorIndex` on SQLite: vectors as little-endian f32 blobs, searched in process.
//!
//! Vectors are partitioned by (collection, tenant, user), since most queries
//! ask for one user's memories. Each partition is loaded once into a
//! contiguous in-memory array and scanned exactly (SIMD-friendly dot
//! products; small scans in the caller's task, large ones on the blocking
//! pool). Every write bumps the partition's epoch in the same transaction; a
//! query compares its cached epoch with the stored one, so writes by other
//! processes on the same file are never missed (`query.rs`).
//! A partition past `hnsw_threshold` vectors is also indexed by an HNSW
//! graph, built in the background and then kept in step with every write
//! the partition sees (`partition.rs`, `graph.rs`).

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use memory_core::{
    BackendInfo, CollectionSpec, Error, JoinedHit, Metric, Op, Result, ScoredId,
    VectorCapabilities, VectorIndex, VectorPayload, VectorQuery, VectorRecord,
};
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use crate::SqliteDb;
use crate::batch::Batch;
use crate::bounded::Bounded;
use crate::error::{corrupt, map};
use crate::rows::{self, blob_to_vec, get};
use crate::store::push_ids;

mod graph;
mod partition;
mod places;
mod query;
mod saved;
mod scrub;
mod write;

pub(crate) use scrub::scrub_graphs;

use partition::{PartKey, Partition};
use saved::GraphFiles;

/// The longest vector accepted.
const MAX_DIMENSION: usize = 16_000;

/// Vectors in SQLite, scanned exactly in process.
#[derive(Debug)]
pub struct SqliteVectorIndex {
    db: SqliteDb,
    /// Whether the store's tables are its neighbours (`query_joined`).
    beside_store: bool,
    cache: Bounded<PartKey, Partition>,
    /// Where large partitions' graphs are saved (none in memory).
    files: Option<GraphFiles>,
}

/// Rows read per statement when a partition is loaded.
const LOAD_PAGE_ROWS: usize = 4096;
const LOAD_PAGE: i64 = LOAD_PAGE_ROWS as i64;

fn lock_err() -> Error {
    Error::internal("vector cache lock poisoned").with_backend("sqlite")
}

impl SqliteVectorIndex {
    pub(crate) fn new(db: SqliteDb, beside_store: bool) -> Self {
        Self {
            cache: Bounded::new(db.partitions.clone()),
            files: GraphFiles::beside(db.path()),
            db,
            beside_store,
        }
    }

    /// How many of the loaded partitions are searched on an HNSW graph
    /// (built, or taken from the file it was saved to) rather than scanned.
    pub fn graphs_loaded(&self) -> Result<usize> {
        self.cache.count(Partition::has_graph)
    }

    /// How many partitions this index holds loaded, and about how many
    /// bytes they take (`partitions_mb` bounds it).
    pub fn cached(&self) -> Result<(usize, usize)> {
        self.cache.usage()
    }

    async fn spec(&self, name: &str) -> Result<CollectionSpec> {
        self.describe(name).await?.ok_or_else(|| {
            Error::not_found(format!("vector collection {name:?} does not exist"))
                .with_backend("sqlite")
        })
    }

    /// Applies a committed write to the cached partitions that were current
    /// before it (`epochs`: each partition's epoch after the write) and
    /// drops the ones that were not; they reload on their next search.
    fn patch_cache(
        &self,
        epochs: &[(PartKey, i64)],
        apply: impl Fn(&PartKey, &mut Partition),
    ) -> Result<()> {
        self.cache.patch(epochs, |key, &epoch, part| {
            if part.epoch != epoch - 1 {
                return false;
            }
            apply(key, part);
            part.epoch = epoch;
            true
        })
    }

    async fn load(
        &self,
        key: &PartKey,
        epoch: i64,
        spec: &CollectionSpec,
    ) -> Result<Arc<RwLock<Partition>>> {
        if let Some(p) = self.cache.get(key)?
            && p.read().map_err(|_| lock_err())?.epoch == epoch
        {
            return Ok(p);
        }
        // Read in pages (the partition index is ordered by id), so a reload
        // holds one page of rows beside the partition, not the whole
        // partition twice.
        let dimension = spec.dimension;
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM vec_items WHERE collection = ? AND tenant = ? AND part = ?",
        )
        .bind(&key.0)
        .bind(&key.1)
        .bind(&key.2)
        .fetch_one(&self.db.pool)
        .await
        .map_err(|e| map(e, "load partition"))?;
        let mut parsed = Partition::new(epoch, dimension, spec.metric);
        parsed
            .data
            .reserve_exact(usize::try_from(count).unwrap_or(0) * dimension);
        let mut after = String::new();
        loop {
            let rows = sqlx::query(
                "SELECT id, payload, vector FROM vec_items WHERE collection = ? AND tenant = ? AND part = ? AND id > ? ORDER BY id LIMIT ?",
            )
            .bind(&key.0)
            .bind(&key.1)
            .bind(&key.2)
            .bind(&after)
            .bind(LOAD_PAGE)
            .fetch_all(&self.db.pool)
            .await
            .map_err(|e| map(e, "load partition"))?;
            let full = rows.len() >= LOAD_PAGE_ROWS;
            if let Some(last) = rows.last() {
                after = get::<String>(last, "id")?;
            }
            parsed = tokio::task::spawn_blocking(move || -> Result<Partition> {
                let mut part = parsed;
                for r in &rows {
                    let id = rows::uuid(&get::<String>(r, "id")?)?;
                    let payload: VectorPayload =
                        serde_json::from_str(&get::<String>(r, "payload")?)
                            .map_err(|e| corrupt("vector payload", e))?;
                    let v = blob_to_vec(&get::<Vec<u8>>(r, "vector")?);
                    if v.len() != dimension {
                        return Err(corrupt(
                            "vector",
                            format!("{} dimensions, expected {dimension}", v.len()),
                        ));
                    }
                    part.upsert(id, &v, payload);
                }
                Ok(part)
            })
            .await
            .map_err(|e| Error::internal(format!("partition load task failed: {e}")))??;
            if !full {
                break;
            }
        }
        parsed.file = self.files.as_ref().map(|f| f.file(key));
        let threshold = self.db.hnsw_threshold;
        // A partition scanned exactly has no use for a saved graph, which
        // would keep ids and copies of vectors it no longer has: one left
        // by a process stopped before its last vector's delete removed it,
        // or by a partition since shrunk below the threshold. (A process
        // with graphs off leaves the files to those that use them.)
        if let Some(file) = &parsed.file
            && (parsed.ids.is_empty() || (threshold > 0 && parsed.ids.len() < threshold))
        {
            file.remove();
        }
        if let Some(file) = parsed.file.clone()
            && threshold > 0
            && parsed.ids.len() >= threshold
        {
            let metric = spec.metric;
            parsed = tokio::task::spawn_blocking(move || {
                if let Some(saved) = file.load(dimension, metric) {
                    parsed.adopt(saved);
                }
                parsed
            })
            .await
            .map_err(|e| Error::internal(format!("graph load task failed: {e}")))?;
        }
        let p = Arc::new(RwLock::new(parsed));
        self.cache.insert(key.clone(), p.clone())?;
        Ok(p)
    }
}

#[async_trait]
impl VectorIndex for SqliteVectorIndex {
    fn info(&self) -> BackendInfo {
        self.db.info()
    }

    fn capabilities(&self) -> VectorCapabilities {
        VectorCapabilities {
            max_dimension: MAX_DIMENSION,
            metrics: vec![Metric::Cosine, Metric::Dot, Metric::L2],
            filter_ops: Op::ALL.to_vec(),
            nested_filters: true,
            // A partition on a graph answers approximately.
            exact: self.db.hnsw_threshold == 0,
        }
    }

    async fn create_collection(&self, spec: &CollectionSpec) -> Result<CollectionSpec> {
        spec.validate(MAX_DIMENSION)?;
        sqlx::query("INSERT INTO vec_collections (name, dimension, metric) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING")
            .bind(&spec.name)
            .bind(i64::try_from(spec.dimension).unwrap_or(i64::MAX))
            .bind(spec.metric.as_str())
            .execute(self.db.writer())
            .await
            .map_err(|e| map(e, "create collection"))?;
        let existing = self.spec(&spec.name).await?;
        existing
            .ensure_compatible(spec)
            .map_err(|e| e.with_backend("sqlite"))?;
        Ok(existing)
    }

    async fn describe(&self, name: &str) -> Result<Option<CollectionSpec>> {
        let row = sqlx::query("SELECT name, dimension, metric FROM vec_collections WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(|e| map(e, "describe collection"))?;
        row.map(|r| query::spec_of(&get::<String>(&r, "name")?, &r))
            .transpose()
    }

    async fn drop_collection(&self, name: &str) -> Result<()> {
        let mut tx = self.db.begin_immediate().await?;
        for sql in [
            "DELETE FROM vec_items WHERE collection = ?",
            "UPDATE vec_epochs SET epoch = epoch + 1 WHERE collection = ?",
            "DELETE FROM vec_collections WHERE name = ?",
        ] {
            sqlx::query(sql)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(|e| map(e, "drop collection"))?;
        }
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        if let Some(files) = &self.files {
            files.remove_collection(name);
        }
        self.cache.retain(|k| k.0 != name)
    }

    async fn upsert(&self, collection: &str, records: &[VectorRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_immediate().await?;
        let mut batch = Batch::default();
        let staged = Self::stage_upsert(&mut tx, collection, records, &mut batch).await?;
        let rows = batch.fetch(&mut tx, "upsert vectors").await?;
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        self.finish_upsert(staged, &rows)
    }

    async fn delete(&self, collection: &str, ids: &[Uuid]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_immediate().await?;
        let (_, before) = Self::locate(&mut tx, collection, ids).await?;
        if before.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::default();
        for chunk in ids.chunks(500) {
            let qb = batch.statement();
            qb.push("DELETE FROM vec_items WHERE collection = ")
                .push_bind(collection.to_owned())
                .push(" AND id IN ");
            push_ids(qb, chunk);
        }
        let mut parts: Vec<(String, String)> = before.values().cloned().collect();
        parts.sort();
        parts.dedup();
        Self::bump(&mut batch, collection, &parts);
        let rows = batch.fetch(&mut tx, "delete vectors").await?;
        let epochs = Self::bumped(&rows, collection, &parts)?;
        let mut emptied = Vec::new();
        if self.files.is_some() {
            for (key, _) in &epochs {
                let left: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM vec_items WHERE collection = ? AND tenant = ? AND part = ?)",
                )
                .bind(&key.0)
                .bind(&key.1)
                .bind(&key.2)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| map(e, "delete vectors"))?;
                if !left {
                    emptied.push(key);
                }
            }
        }
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        let patched =
            self.patch_cache(&epochs, |_, part| ids.iter().for_each(|id| part.remove(id)));
        // A user's vectors all deleted leave no copy of them in a graph
        // file. Removed after the cached partition is emptied, so a save
        // finishing meanwhile either sees it empty or is removed here.
        if let Some(files) = &self.files {
            emptied.into_iter().for_each(|key| files.file(key).remove());
        }
        patched
    }

    async fn query(&self, collection: &str, q: &VectorQuery) -> Result<Vec<ScoredId>> {
        self.search(collection, q).await
    }

    async fn query_joined(
        &self,
        collection: &str,
        q: &VectorQuery,
    ) -> Result<Option<Vec<JoinedHit>>> {
        if !self.beside_store || !q.pins_a_user() || q.k == 0 {
            return Ok(None);
        }
        if let Some(joined) = self.search_cached_joined(collection, q).await? {
            return Ok(Some(joined));
        }
        let hits = self.search(collection, q).await?;
        let (joined, _) =
            crate::joined::windows(&self.db.pool, &q.tenant, hits, crate::joined::Check::None)
                .await?;
        Ok(Some(joined))
    }

    async fn count(&self, collection: &str, tenant: Option<&str>) -> Result<u64> {
        self.spec(collection).await?;
        let mut qb =
            QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM vec_items WHERE collection = ");
        qb.push_bind(collection.to_owned());
        if let Some(t) = tenant {
            qb.push(" AND tenant = ").push_bind(t.to_owned());
        }
        let n: i64 = qb
            .build_query_scalar()
            .fetch_one(&self.db.pool)
            .await
            .map_err(|e| map(e, "count"))?;
        Ok(rows::u64_of(n))
    }

    async fn list_ids(
        &self,
        collection: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Uuid>> {
        self.spec(collection).await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM vec_items WHERE collection = ? AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(collection)
        .bind(after.map(|u| u.to_string()).unwrap_or_default())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| map(e, "list ids"))?;
        ids.iter().map(|s| rows::uuid(s)).collect()
    }
}
