//! The conformance suite on SQLite, in memory and on a file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use memory_sqlite::SqliteDb;
use memory_testkit::engine::Backends;

/// The backends at `url`, opened from the URL as users open them.
async fn backends(url: &str) -> Backends {
    Backends::open(&memory_sqlite::BACKEND, url)
        .await
        .expect("open sqlite")
}

fn file_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}/conformance.db", dir.path().display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_index() {
    // Exact scans only, so the suite checks the exact top k.
    let b = backends("sqlite::memory:?hnsw_threshold=0").await;
    memory_testkit::vector::run(b.vectors).await.assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store() {
    let dir = tempfile::tempdir().unwrap();
    let b = backends(&file_url(&dir)).await;
    memory_testkit::store::run(b.store).await.assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_index() {
    let b = backends("sqlite::memory:").await;
    memory_testkit::keyword::run(b.store, b.keywords.unwrap())
        .await
        .assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let factory = || {
        let url = format!(
            "sqlite://{}/engine-{}.db",
            dir.path().display(),
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        async move { backends(&url).await }
    };
    memory_testkit::engine::run(factory).await.assert_ok();
}

/// Two handles on one file stand for two processes: a write through one is
/// seen by the other's cached partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_cache_sees_other_writers() {
    use memory_core::{CollectionSpec, Metric, VectorIndex, VectorQuery, VectorRecord};
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteDb::connect(&file_url(&dir))
        .await
        .unwrap()
        .vector_index();
    let b = SqliteDb::connect(&file_url(&dir))
        .await
        .unwrap()
        .vector_index();
    a.create_collection(&CollectionSpec {
        name: "c".into(),
        dimension: 2,
        metric: Metric::Cosine,
    })
    .await
    .unwrap();
    let payload = |user: &str| memory_testkit::vector::payload("t", user, "fact");
    let q = VectorQuery {
        tenant: "t".into(),
        vector: vec![1.0, 0.0],
        k: 10,
        filter: None,
    };
    let id1 = uuid::Uuid::now_v7();
    a.upsert(
        "c",
        &[VectorRecord {
            id: id1,
            vector: vec![1.0, 0.0],
            payload: payload("u"),
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        b.query("c", &q).await.unwrap().len(),
        1,
        "b misses a's first write"
    );
    let id2 = uuid::Uuid::now_v7();
    a.upsert(
        "c",
        &[VectorRecord {
            id: id2,
            vector: vec![0.0, 1.0],
            payload: payload("u"),
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        b.query("c", &q).await.unwrap().len(),
        2,
        "b's cache is stale after a's second write"
    );
    b.delete("c", &[id1]).await.unwrap();
    let hits = a.query("c", &q).await.unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![id2],
        "a's cache is stale after b's delete"
    );
}

/// The vector suite with every partition on an HNSW graph (built in the
/// background after a partition's first query, then kept in step).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_index_on_graphs() {
    let b = backends("sqlite::memory:?hnsw_threshold=1").await;
    memory_testkit::vector::run(b.vectors).await.assert_ok();
}
