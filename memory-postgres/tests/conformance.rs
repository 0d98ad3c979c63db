//! The conformance suite on a real PostgreSQL + pgvector (started by
//! `scripts/services start postgres`), each run in a fresh schema.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation
)]

use std::sync::Arc;

use memory_core::{AddRequest, EngineConfig, ErrorKind, Memory, Scope, UpdateRequest};
use memory_postgres::PgDb;
use memory_testkit::engine::Backends;
use memory_testkit::{DeterministicEmbedder, unique};

fn base_url() -> String {
    let url = std::env::var("MEMORY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/memory_test".into());
    let host = url
        .split('@')
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_owned();
    assert!(
        std::net::TcpStream::connect(&host).is_ok(),
        "PostgreSQL is not reachable at {url}: start it with `eval \"$(scripts/services start postgres)\"`"
    );
    url
}

async fn fresh() -> PgDb {
    PgDb::connect(&format!(
        "{}?schema={}",
        base_url(),
        unique("t").to_lowercase()
    ))
    .await
    .expect("connect to PostgreSQL")
}

/// Backends in a fresh schema, opened from the URL as users open them.
async fn backends() -> Backends {
    let url = format!("{}?schema={}", base_url(), unique("t").to_lowercase());
    Backends::open(&memory_postgres::BACKEND, &url)
        .await
        .expect("connect to PostgreSQL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_index() {
    memory_testkit::vector::run(backends().await.vectors)
        .await
        .assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store() {
    memory_testkit::store::run(backends().await.store)
        .await
        .assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_index() {
    let b = backends().await;
    memory_testkit::keyword::run(b.store, b.keywords.unwrap())
        .await
        .assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine() {
    memory_testkit::engine::run(backends).await.assert_ok();
}

/// Migrations run twice on one schema, and from two pools at once, without error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_and_concurrent() {
    let url = format!("{}?schema={}", base_url(), unique("m").to_lowercase());
    let (a, b) = tokio::join!(PgDb::connect(&url), PgDb::connect(&url));
    a.unwrap();
    b.unwrap();
    PgDb::connect(&url).await.unwrap();
}

/// 50 concurrent writers update one memory with optimistic versions: every
/// write either lands or reports Conflict, and none is lost silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_lose_no_update() {
    let db = fresh().await;
    let store = db.store();
    let m = Memory::builder()
        .store(store.clone())
        .keywords(store)
        .vectors(db.vector_index())
        .embedder(Arc::new(DeterministicEmbedder::new(16)))
        .config(EngineConfig::default())
        .build()
        .await
        .unwrap();
    let scope = Scope::user("alice");
    let id = m
        .add(AddRequest::new(scope.clone(), "counter"))
        .await
        .unwrap()
        .id;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            let current = m.get("default", id).await.unwrap();
            let mut meta = current.metadata.clone();
            meta.insert(format!("w{i}"), true.into());
            m.update(
                "default",
                id,
                UpdateRequest {
                    metadata: Some(meta),
                    expected_version: Some(current.version),
                    ..UpdateRequest::default()
                },
            )
            .await
        }));
    }
    let (mut ok, mut conflicts) = (0u64, 0u64);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) if e.kind() == ErrorKind::Conflict => conflicts += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    let last = m.get("default", id).await.unwrap();
    assert_eq!(ok + conflicts, 50);
    assert_eq!(last.version, 1 + ok, "a successful write was lost");
    assert_eq!(
        last.metadata.len() as u64,
        ok,
        "the final record does not hold exactly the successful writes"
    );
    assert_eq!(m.history("default", id).await.unwrap().len() as u64, 1 + ok);
}

/// A selective filter over 10k vectors returns exactly the brute-force answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selective_filter_on_10k_vectors_is_exact() {
    use memory_core::{
        CollectionSpec, Filter, Metric, VectorIndex, VectorQuery, VectorRecord, vecmath,
    };
    let db = fresh().await;
    let index = db.vector_index();
    let spec = CollectionSpec {
        name: "big".into(),
        dimension: 32,
        metric: Metric::Cosine,
    };
    index.create_collection(&spec).await.unwrap();
    let mut records = Vec::new();
    let mut seed = 1u64;
    let mut next = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    for i in 0..10_000 {
        let mut payload = memory_testkit::vector::payload("t", &format!("u{}", i % 50), "fact");
        payload
            .metadata
            .insert("rare".into(), (i % 500 == 0).into());
        let vector: Vec<f32> = (0..32).map(|_| next()).collect();
        records.push(VectorRecord {
            id: uuid::Uuid::now_v7(),
            vector,
            payload,
        });
    }
    index.upsert("big", &records).await.unwrap();
    let query: Vec<f32> = (0..32).map(|_| next()).collect();
    let f = Filter::parse(&serde_json::json!({"metadata.rare": true})).unwrap();
    let hits = index
        .query(
            "big",
            &VectorQuery {
                tenant: "t".into(),
                vector: query.clone(),
                k: 10,
                filter: Some(f.clone()),
            },
        )
        .await
        .unwrap();
    let mut brute: Vec<(f32, uuid::Uuid)> = records
        .iter()
        .filter(|r| f.matches(&r.payload))
        .map(|r| (vecmath::cosine(&query, &r.vector), r.id))
        .collect();
    brute.sort_by(|a, b| b.0.total_cmp(&a.0));
    let want: Vec<uuid::Uuid> = brute.iter().take(10).map(|x| x.1).collect();
    let got: Vec<uuid::Uuid> = hits.iter().map(|h| h.id).collect();
    assert_eq!(
        got, want,
        "selective filtered query differs from brute force"
    );
}

/// Rows whose `tsvector` was made by another analyser or configuration are
/// re-analysed when the store opens; a new `ts_config` re-analyses too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_keyword_terms_are_reanalysed_on_open() {
    use memory_core::{KeywordIndex, KeywordQuery, MemoryStore};
    let url = format!("{}?schema={}", base_url(), unique("t").to_lowercase());
    let scope = Scope::user("u");
    let record = memory_testkit::store::record(&scope, "A viagem para Lisboa foi ótima");
    let id = record.id;
    let search = |db: &PgDb| {
        let store = db.store();
        let tenant = scope.tenant.clone();
        async move {
            store
                .search(&KeywordQuery {
                    tenant,
                    text: "viagens".into(),
                    k: 5,
                    filter: None,
                })
                .await
                .unwrap()
        }
    };
    {
        let db = PgDb::connect(&url).await.unwrap();
        db.store()
            .apply(memory_testkit::store::without_vectors([record]))
            .await
            .unwrap();
        assert_eq!(search(&db).await.len(), 1);
        sqlx::query("UPDATE memories SET tsv = ''::tsvector")
            .execute(db.pool())
            .await
            .unwrap();
        sqlx::query("UPDATE settings SET value = 'older' WHERE key = 'keyword_analyzer'")
            .execute(db.pool())
            .await
            .unwrap();
        assert!(search(&db).await.is_empty());
    }
    let db = PgDb::connect(&url).await.unwrap();
    let hits = search(&db).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, id);
    // Another configuration re-analyses under it: `english` also stems.
    let db = PgDb::connect(&format!("{url}&ts_config=english"))
        .await
        .unwrap();
    let value: String =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'keyword_analyzer'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert!(value.ends_with(" english"), "{value}");
    assert_eq!(search(&db).await.len(), 1);
}
