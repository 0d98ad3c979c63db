//! Search and add on PostgreSQL + pgvector: the engine against the same work
//! written as raw SQL through sqlx, in the same run, at several sizes.
//!
//! Needs `eval "$(scripts/services start postgres)"`; then
//! `cargo run --release -p memory-benches --bin postgres_report`
//! (`MEMORY_BENCH_SIZES=1000,10000`, `MEMORY_BENCH_QUERIES=200`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]

use std::sync::Arc;

use memory::{AddRequest, Config, EngineConfig, Scope, SearchMode, SearchRequest, VectorIndex};
use memory_benches::{
    HashEmbedder, Precomputed, env_list, interleave, percentiles, print_ratios, seed, sentences,
    time_n,
};
use sqlx::Row;

/// Every column of a memory record, as a hand-written query would name them.
const WHOLE_RECORD: &str = "m.id, m.tenant, m.user_id, m.agent_id, m.session_id, m.content, \
    m.kind, m.importance, m.confidence, m.metadata, m.source_message_ids, m.created_at, \
    m.updated_at, m.last_accessed_at, m.access_count, m.expires_at, m.content_hash, \
    m.embedding_model, m.vector_state, m.vector_attempts, m.version, m.valid_from, \
    m.valid_until, m.superseded_by, m.supersedes";

/// A memory as a hand-written application would read it from a row: every
/// column decoded by name into its own field, JSON parsed.
#[derive(Debug)]
#[allow(dead_code)]
struct RawRecord {
    id: uuid::Uuid,
    tenant: String,
    user_id: Option<String>,
    agent_id: Option<String>,
    session_id: Option<String>,
    content: String,
    kind: String,
    importance: f32,
    confidence: f32,
    metadata: serde_json::Map<String, serde_json::Value>,
    source_message_ids: Vec<uuid::Uuid>,
    created_at: i64,
    updated_at: i64,
    last_accessed_at: i64,
    access_count: i64,
    expires_at: Option<i64>,
    content_hash: String,
    embedding_model: Option<String>,
    vector_state: String,
    vector_attempts: i32,
    version: i64,
    valid_from: Option<i64>,
    valid_until: Option<i64>,
    superseded_by: Option<uuid::Uuid>,
    supersedes: Option<uuid::Uuid>,
    distance: f64,
}

impl RawRecord {
    fn of(row: &sqlx::postgres::PgRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            tenant: row.try_get("tenant")?,
            user_id: row.try_get("user_id")?,
            agent_id: row.try_get("agent_id")?,
            session_id: row.try_get("session_id")?,
            content: row.try_get("content")?,
            kind: row.try_get("kind")?,
            importance: row.try_get("importance")?,
            confidence: row.try_get("confidence")?,
            metadata: serde_json::from_value(row.try_get("metadata")?)?,
            source_message_ids: serde_json::from_value(row.try_get("source_message_ids")?)?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            last_accessed_at: row.try_get("last_accessed_at")?,
            access_count: row.try_get("access_count")?,
            expires_at: row.try_get("expires_at")?,
            content_hash: row.try_get("content_hash")?,
            embedding_model: row.try_get("embedding_model")?,
            vector_state: row.try_get("vector_state")?,
            vector_attempts: row.try_get("vector_attempts")?,
            version: row.try_get("version")?,
            valid_from: row.try_get("valid_from")?,
            valid_until: row.try_get("valid_until")?,
            superseded_by: row.try_get("superseded_by")?,
            supersedes: row.try_get("supersedes")?,
            distance: row.try_get("d")?,
        })
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("MEMORY_TEST_POSTGRES_URL").map_err(|_| {
        anyhow::anyhow!("set MEMORY_TEST_POSTGRES_URL: eval \"$(scripts/services start postgres)\"")
    })?;
    let q = env_list("MEMORY_BENCH_QUERIES", "200")
        .first()
        .copied()
        .unwrap_or(200);
    for n in env_list("MEMORY_BENCH_SIZES", "1000,10000") {
        let users = 100;
        let schema = format!("bench_{n}_{}", std::process::id());
        let url = format!("{base}?schema={schema}");
        let config = Config {
            store: url.clone().into(),
            engine: EngineConfig {
                dedup_threshold: None,
                track_access: false,
                ..EngineConfig::default()
            },
            ..Config::default()
        };
        let queries = sentences(q, 99);
        // The engine looks its queries' vectors up, as the raw references
        // are handed theirs: the ratios are the layer's.
        let known = Arc::new(Precomputed::of(&queries));
        let seeding = memory::open_with(&config, Some(known.clone())).await?;
        seed(&seeding, n, users).await;
        drop(seeding);
        // sqlx hands idle connections out in turn, so a pool that grew to
        // ten while seeding passes each search through ten server
        // processes, each colder than one that serves every query (0.06 to
        // 0.1 ms a search here). The engine is measured as a process
        // opened on the data would be, its pool grown only by searching;
        // the reference pool opens as many connections as it has.
        let m = memory::open_with(&config, Some(known)).await?;
        let db = memory::postgres::PgDb::connect(&url).await?;
        let pool = db.pool().clone();
        let engine_connections: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(&pool)
        .await?;
        let mut held = Vec::new();
        let most = i64::from(pool.options().get_max_connections());
        for _ in 0..engine_connections.clamp(1, most) {
            held.push(pool.acquire().await?);
        }
        drop(held);
        println!(
            "connections: the engine's pool {engine_connections}, the reference pool {}",
            pool.size()
        );
        let tbl: String = sqlx::query_scalar("SELECT tbl FROM vec_collections WHERE name = $1")
            .bind(&m.collection().name)
            .fetch_one(&pool)
            .await?;
        // Hand-written references: the whole record a search answers with,
        // decoded as an application would (what the engine's ratios are
        // taken against) or only fetched; and the few columns a caller
        // might want.
        let raw_sql = |columns: &str| {
            format!(
                "WITH c AS MATERIALIZED (SELECT v.id, v.embedding FROM {tbl} v WHERE v.tenant = $1 AND v.user_id = $2), \
                 h AS (SELECT id, (embedding <=> $3)::float8 AS d FROM c ORDER BY d LIMIT 10) \
                 SELECT {columns}, h.d FROM h JOIN memories m ON m.id = h.id ORDER BY h.d"
            )
        };
        let vectors: Vec<pgvector::Vector> = queries
            .iter()
            .map(|t| pgvector::Vector::from(HashEmbedder::vector(t)))
            .collect();
        let sqls = [
            raw_sql(WHOLE_RECORD),
            raw_sql("m.id, m.content, m.metadata"),
        ];
        // The index alone, then joined to the records: the layer's share.
        let index = db.store_vector_index();
        let name = m.collection().name.clone();
        let pinned = memory::Filter::parse(&serde_json::json!({"user_id": "u0"}))?;
        // The engine's own filter adds "not superseded" to the user's.
        let current = memory::Filter::parse(
            &serde_json::json!({"user_id": "u0", "valid_until": {"exists": false}}),
        )?;
        let vq = |i: usize, filter: &memory::Filter| memory::VectorQuery {
            tenant: "default".into(),
            vector: HashEmbedder::vector(&queries[i]),
            k: 11,
            filter: Some(filter.clone()),
        };
        // Interleaved query by query, so the machine's noise and the
        // server's background work fall on every case alike.
        let times = interleave(q, 8, async |case, i| {
            match case {
                0 => {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sqls[0].clone()))
                        .bind("default")
                        .bind("u0")
                        .bind(vectors[i].clone())
                        .fetch_all(&pool)
                        .await?;
                    let records = rows
                        .iter()
                        .map(RawRecord::of)
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    anyhow::ensure!(!records.is_empty(), "the raw query found nothing");
                }
                1 | 2 => {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sqls[case - 1].clone()))
                        .bind("default")
                        .bind("u0")
                        .bind(vectors[i].clone())
                        .fetch_all(&pool)
                        .await?;
                    anyhow::ensure!(
                        rows.first()
                            .is_some_and(|r| r.try_get::<String, _>("content").is_ok()),
                        "the raw query found nothing"
                    );
                }
                3 => {
                    index.query(&name, &vq(i, &pinned)).await?;
                }
                4 => {
                    index.query_joined(&name, &vq(i, &pinned)).await?;
                }
                5 => {
                    index.query_joined(&name, &vq(i, &current)).await?;
                }
                7 => {
                    m.vectors().query_joined(&name, &vq(i, &current)).await?;
                }
                _ => {
                    let req = SearchRequest::new(Scope::user("u0"), queries[i].clone())
                        .k(10)
                        .mode(SearchMode::Semantic);
                    m.search(req).await?;
                }
            }
            Ok(())
        })
        .await?;
        let part = n / users;
        print_ratios(
            &[
                &format!("raw SQL n={n} part={part}, records decoded"),
                "raw SQL, records fetched, not decoded",
                "raw SQL, 3 columns",
                "  index query (ids and scores)",
                "  index query joined to records",
                "  the same, with the engine's filter",
                &format!("engine semantic n={n}"),
                "engine's own index, joined",
            ],
            times,
        );
        let d = time_n(q, |i| {
            let m = m.clone();
            let req = SearchRequest::new(Scope::user("u0"), queries[i].clone())
                .k(10)
                .mode(SearchMode::Hybrid);
            async move {
                m.search(req).await.unwrap();
            }
        })
        .await;
        let (p50, p99) = percentiles(d);
        println!(
            "{:<40} {p50:>9.3} {p99:>9.3}",
            format!("engine hybrid n={n}")
        );
        let adds = sentences(100, 4242);
        let raw_add = time_n(adds.len(), |i| {
            let (pool, tbl, text) = (pool.clone(), tbl.clone(), adds[i].clone());
            async move {
                let id = uuid::Uuid::now_v7();
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("INSERT INTO memories (id, tenant, user_id, owner_key, content, kind, importance, confidence, created_at, updated_at, last_accessed_at, content_hash, tsv) VALUES ($1, 'default', 'raw', 'raw', $2, 'fact', 5, 1, 0, 0, 0, $1::text, to_tsvector('english', $2))")
                    .bind(id).bind(&text).execute(&mut *tx).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO {tbl} (id, tenant, user_id, kind, importance, confidence, created_at, updated_at, metadata, embedding) VALUES ($1, 'default', 'raw', 'fact', 5, 1, 0, 0, '{{}}', $2)")))
                    .bind(id).bind(pgvector::Vector::from(HashEmbedder::vector(&text))).execute(&mut *tx).await.unwrap();
                tx.commit().await.unwrap();
            }
        })
        .await;
        let (a50, a99) = percentiles(raw_add);
        println!(
            "{:<40} {a50:>9.3} {a99:>9.3} {:>10}",
            format!("raw SQL add n={n}"),
            "1.00x"
        );
        let eng_add = time_n(adds.len(), |i| {
            let m = m.clone();
            let req = AddRequest::new(Scope::user("u1"), format!("engine {}", adds[i]));
            async move {
                m.add(req).await.unwrap();
            }
        })
        .await;
        let (e50, e99) = percentiles(eng_add);
        println!(
            "{:<40} {e50:>9.3} {e99:>9.3} {:>9.2}x",
            format!("engine add n={n}"),
            e50 / a50
        );
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&pool)
            .await?;
    }
    Ok(())
}
