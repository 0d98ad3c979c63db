//! `VectorIndex` on pgvector: one table per collection, `vector(N)` with the
//! dimension recorded at creation, and an HNSW index for the metric.
//!
//! Queries pinned to one user scan that user's partition exactly (a B-tree
//! on (tenant, user_id) finds it; most memory queries are per user and a
//! partition holds hundreds to thousands of vectors). Other queries use HNSW
//! with pgvector 0.8's iterative scan, so selective filters still fill `k`.

use async_trait::async_trait;
use memory_core::filter::Field;
use memory_core::{
    BackendInfo, CollectionSpec, Error, JoinedHit, Metric, Op, Result, ScoredId,
    VectorCapabilities, VectorIndex, VectorQuery, VectorRecord, check_vector,
};
use pgvector::Vector;
use sha2::{Digest, Sha256};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::PgDb;
use crate::error::map;
use crate::filter_sql::{VectorColumns, push_and};
use crate::rows::{self, get};

/// pgvector's HNSW limit for `vector`.
const MAX_DIMENSION: usize = 2000;

/// Vectors in PostgreSQL with pgvector.
#[derive(Debug)]
pub struct PgVectorIndex {
    db: PgDb,
    /// Whether the store's `memories` live in this same database and
    /// schema (the store's own index), so hits can be joined to them.
    beside_store: bool,
    // Specs never change while a collection exists; dropping evicts. A
    // collection recreated elsewhere with another dimension still fails
    // safely: PostgreSQL rejects the vectors (`DimensionMismatch`).
    specs: std::sync::Mutex<std::collections::HashMap<String, CollectionSpec>>,
}

/// The table of a collection: a fixed prefix and a hash, so any name is a safe identifier.
fn table(name: &str) -> String {
    format!(
        "vec_{}",
        &hex::encode(Sha256::digest(name.as_bytes()))[..20]
    )
}

/// (operator class, distance operator) of a metric.
pub(crate) fn ops(metric: Metric) -> (&'static str, &'static str) {
    match metric {
        Metric::Cosine => ("vector_cosine_ops", "<=>"),
        Metric::Dot => ("vector_ip_ops", "<#>"),
        Metric::L2 => ("vector_l2_ops", "<->"),
    }
}

/// Turns pgvector's distance into a higher-is-better score matching the other backends.
pub(crate) fn score(metric: Metric, distance: f64) -> f32 {
    #[allow(clippy::cast_possible_truncation)]
    let s = match metric {
        Metric::Cosine => 1.0 - distance,
        Metric::Dot => -distance,
        Metric::L2 => -(distance * distance),
    } as f32;
    s
}

impl PgVectorIndex {
    pub(crate) fn new(db: PgDb, beside_store: bool) -> Self {
        Self {
            db,
            beside_store,
            specs: std::sync::Mutex::default(),
        }
    }

    async fn spec(&self, name: &str) -> Result<(CollectionSpec, String)> {
        if let Some(s) = self.specs.lock().ok().and_then(|m| m.get(name).cloned()) {
            return Ok((s, table(name)));
        }
        let spec = self.describe(name).await?.ok_or_else(|| {
            Error::not_found(format!("vector collection {name:?} does not exist"))
                .with_backend("postgres")
        })?;
        let mut conn = self
            .db
            .pool
            .acquire()
            .await
            .map_err(|e| map(e, "connect"))?;
        add_validity_columns(&mut conn, &table(name)).await?;
        if let Ok(mut m) = self.specs.lock() {
            m.insert(name.to_owned(), spec.clone());
        }
        Ok((spec, table(name)))
    }
}

/// Adds the validity columns to a table made before they existed; a
/// catalogue check first, so an up-to-date table takes no exclusive lock.
async fn add_validity_columns(conn: &mut sqlx::PgConnection, tbl: &str) -> Result<()> {
    let have: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = $1::regclass AND attname IN ('valid_from', 'valid_until') AND NOT attisdropped",
    )
    .bind(tbl)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| map(e, "open collection"))?;
    if have < 2 {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {tbl} ADD COLUMN IF NOT EXISTS valid_from bigint, ADD COLUMN IF NOT EXISTS valid_until bigint"
        )))
        .execute(&mut *conn)
        .await
        .map_err(|e| map(e, "open collection"))?;
    }
    Ok(())
}

#[async_trait]
impl VectorIndex for PgVectorIndex {
    fn info(&self) -> BackendInfo {
        self.db.info()
    }

    fn capabilities(&self) -> VectorCapabilities {
        VectorCapabilities {
            max_dimension: MAX_DIMENSION,
            metrics: vec![Metric::Cosine, Metric::Dot, Metric::L2],
            filter_ops: Op::ALL.to_vec(),
            nested_filters: true,
            exact: false,
        }
    }

    async fn create_collection(&self, spec: &CollectionSpec) -> Result<CollectionSpec> {
        spec.validate(MAX_DIMENSION)?;
        let tbl = table(&spec.name);
        let (opclass, _) = ops(spec.metric);
        let mut tx = self.db.pool.begin().await.map_err(|e| map(e, "begin"))?;
        // Serialises concurrent creators of the same collection.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(&spec.name)
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "create collection"))?;
        let existing = sqlx::query("SELECT dimension, metric FROM vec_collections WHERE name = $1")
            .bind(&spec.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| map(e, "create collection"))?;
        if let Some(row) = existing {
            let existing = CollectionSpec {
                name: spec.name.clone(),
                dimension: usize::try_from(get::<i32>(&row, "dimension")?).unwrap_or(0),
                metric: Metric::parse(&get::<String>(&row, "metric")?)?,
            };
            existing
                .ensure_compatible(spec)
                .map_err(|e| e.with_backend("postgres"))?;
            return Ok(spec.clone());
        }
        // Identifiers are generated (table) or fixed (opclass); the dimension is a checked number.
        for ddl in [
            format!(
                "CREATE TABLE IF NOT EXISTS {tbl} (id uuid PRIMARY KEY, tenant text NOT NULL, user_id text, agent_id text, session_id text, kind text NOT NULL, importance real NOT NULL, confidence real NOT NULL, created_at bigint NOT NULL, updated_at bigint NOT NULL, expires_at bigint, valid_from bigint, valid_until bigint, metadata jsonb NOT NULL, embedding vector({}) NOT NULL)",
                spec.dimension
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS {tbl}_hnsw ON {tbl} USING hnsw (embedding {opclass})"
            ),
            format!("CREATE INDEX IF NOT EXISTS {tbl}_user ON {tbl} (tenant, user_id)"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(ddl))
                .execute(&mut *tx)
                .await
                .map_err(|e| map(e, "create collection"))?;
        }
        sqlx::query(
            "INSERT INTO vec_collections (name, dimension, metric, tbl) VALUES ($1, $2, $3, $4)",
        )
        .bind(&spec.name)
        .bind(i32::try_from(spec.dimension).unwrap_or(i32::MAX))
        .bind(spec.metric.as_str())
        .bind(&tbl)
        .execute(&mut *tx)
        .await
        .map_err(|e| map(e, "create collection"))?;
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        Ok(spec.clone())
    }

    async fn describe(&self, name: &str) -> Result<Option<CollectionSpec>> {
        let row = sqlx::query("SELECT dimension, metric FROM vec_collections WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(|e| map(e, "describe collection"))?;
        row.map(|r| {
            Ok(CollectionSpec {
                name: name.to_owned(),
                dimension: usize::try_from(get::<i32>(&r, "dimension")?).unwrap_or(0),
                metric: Metric::parse(&get::<String>(&r, "metric")?)?,
            })
        })
        .transpose()
    }

    async fn drop_collection(&self, name: &str) -> Result<()> {
        if let Ok(mut m) = self.specs.lock() {
            m.remove(name);
        }
        let mut tx = self.db.pool.begin().await.map_err(|e| map(e, "begin"))?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP TABLE IF EXISTS {}",
            table(name)
        )))
        .execute(&mut *tx)
        .await
        .map_err(|e| map(e, "drop collection"))?;
        sqlx::query("DELETE FROM vec_collections WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "drop collection"))?;
        tx.commit().await.map_err(|e| map(e, "commit"))
    }

    async fn upsert(&self, collection: &str, records: &[VectorRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let (spec, tbl) = self.spec(collection).await?;
        for (i, r) in records.iter().enumerate() {
            check_vector(&r.vector, spec.dimension)
                .map_err(|e| Error::new(e.kind(), format!("records[{i}]: {}", e.message())))?;
        }
        let mut tx = self.db.pool.begin().await.map_err(|e| map(e, "begin"))?;
        for chunk in records.chunks(500) {
            let mut qb = QueryBuilder::<Postgres>::new(format!(
                "INSERT INTO {tbl} (id, tenant, user_id, agent_id, session_id, kind, importance, confidence, created_at, updated_at, expires_at, valid_from, valid_until, metadata, embedding) "
            ));
            qb.push_values(chunk, |mut b, r: &VectorRecord| {
                let p = &r.payload;
                b.push_bind(r.id)
                    .push_bind(p.tenant.clone())
                    .push_bind(p.user_id.clone())
                    .push_bind(p.agent_id.clone())
                    .push_bind(p.session_id.clone())
                    .push_bind(p.kind.clone())
                    .push_bind(p.importance)
                    .push_bind(p.confidence)
                    .push_bind(p.created_at)
                    .push_bind(p.updated_at)
                    .push_bind(p.expires_at)
                    .push_bind(p.valid_from)
                    .push_bind(p.valid_until)
                    .push_bind(serde_json::Value::Object(p.metadata.clone()))
                    .push_bind(Vector::from(r.vector.clone()));
            });
            qb.push(
                " ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, user_id = excluded.user_id, agent_id = excluded.agent_id, session_id = excluded.session_id, kind = excluded.kind, importance = excluded.importance, confidence = excluded.confidence, created_at = excluded.created_at, updated_at = excluded.updated_at, expires_at = excluded.expires_at, valid_from = excluded.valid_from, valid_until = excluded.valid_until, metadata = excluded.metadata, embedding = excluded.embedding",
            );
            qb.build()
                .execute(&mut *tx)
                .await
                .map_err(|e| map(e, "upsert vectors"))?;
        }
        tx.commit().await.map_err(|e| map(e, "commit"))
    }

    async fn delete(&self, collection: &str, ids: &[Uuid]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let (_, tbl) = self.spec(collection).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {tbl} WHERE id = ANY($1)"
        )))
        .bind(ids)
        .execute(&self.db.pool)
        .await
        .map_err(|e| map(e, "delete vectors"))?;
        Ok(())
    }

    async fn query(&self, collection: &str, q: &VectorQuery) -> Result<Vec<ScoredId>> {
        let (spec, tbl) = self.spec(collection).await?;
        check_vector(&q.vector, spec.dimension)?;
        if q.k == 0 {
            return Ok(Vec::new());
        }
        let (_, dist) = ops(spec.metric);
        let pinned = q
            .filter
            .as_ref()
            .and_then(|f| f.pinned(&Field::UserId))
            .is_some();
        let vector = Vector::from(q.vector.clone());
        let k = i64::try_from(q.k).unwrap_or(i64::MAX);
        // Only the HNSW path needs a transaction, for its SET LOCAL options.
        let mut tx = None;
        let mut qb;
        if pinned {
            // One user's partition: an exact scan is cheap and never misses.
            qb = QueryBuilder::<Postgres>::new(format!(
                "WITH c AS MATERIALIZED (SELECT v.id, v.embedding FROM {tbl} v WHERE v.tenant = "
            ));
            qb.push_bind(q.tenant.clone());
            push_and(&mut qb, &VectorColumns, q.filter.as_ref());
            qb.push(format!(") SELECT id, (embedding {dist} "))
                .push_bind(vector.clone())
                .push(")::float8 AS d FROM c ORDER BY d, id LIMIT ")
                .push_bind(k);
        } else {
            let mut t = self.db.pool.begin().await.map_err(|e| map(e, "begin"))?;
            let ef = self
                .db
                .cfg
                .ef_search
                .max(u32::try_from(q.k).unwrap_or(u32::MAX))
                .min(1000);
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SET LOCAL hnsw.ef_search = {ef}"
            )))
            .execute(&mut *t)
            .await
            .map_err(|e| map(e, "query"))?;
            sqlx::query("SET LOCAL hnsw.iterative_scan = strict_order")
                .execute(&mut *t)
                .await
                .map_err(|e| map(e, "query"))?;
            tx = Some(t);
            qb = QueryBuilder::<Postgres>::new(format!("SELECT v.id, (v.embedding {dist} "));
            qb.push_bind(vector.clone())
                .push(format!(")::float8 AS d FROM {tbl} v WHERE v.tenant = "))
                .push_bind(q.tenant.clone());
            push_and(&mut qb, &VectorColumns, q.filter.as_ref());
            qb.push(format!(" ORDER BY v.embedding {dist} "))
                .push_bind(vector)
                .push(" LIMIT ")
                .push_bind(k);
        }
        let rows = match tx {
            Some(mut t) => {
                let rows = qb
                    .build()
                    .fetch_all(&mut *t)
                    .await
                    .map_err(|e| map(e, "query"))?;
                t.commit().await.map_err(|e| map(e, "commit"))?;
                rows
            }
            None => qb
                .build()
                .fetch_all(&self.db.pool)
                .await
                .map_err(|e| map(e, "query"))?,
        };
        let mut hits = rows
            .iter()
            .map(|r| {
                Ok(ScoredId {
                    id: get(r, "id")?,
                    score: score(spec.metric, get(r, "d")?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        Ok(hits)
    }

    async fn query_joined(
        &self,
        collection: &str,
        q: &VectorQuery,
    ) -> Result<Option<Vec<JoinedHit>>> {
        if !self.beside_store || !q.pins_a_user() || q.k == 0 {
            return Ok(None);
        }
        let (spec, tbl) = self.spec(collection).await?;
        check_vector(&q.vector, spec.dimension)?;
        crate::joined::query(&self.db.pool, &spec, &tbl, q)
            .await
            .map(Some)
    }

    async fn count(&self, collection: &str, tenant: Option<&str>) -> Result<u64> {
        let (_, tbl) = self.spec(collection).await?;
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {tbl} WHERE $1::text IS NULL OR tenant = $1"
        )))
        .bind(tenant)
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
        let (_, tbl) = self.spec(collection).await?;
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {tbl} WHERE id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after.unwrap_or(Uuid::nil()))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| map(e, "list ids"))
    }
}
