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

/// The store's own index reads a user's hits with their windows and
/// memories in one statement, and says what the separate lookups say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joined_hits_match_the_separate_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::connect(&file_url(&dir)).await.unwrap();
    memory_testkit::joined::joined_hits_match_the_separate_lookups(
        db.store(),
        db.store_vector_index(),
        db.vector_index(),
    )
    .await;
}

/// Two handles on one file stand for two processes: a write through one is
/// seen by the other's cached partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_cache_sees_other_writers() {
    cache_sees_other_writers(false).await;
}

/// The same through a user's joined search, which scans its cached
/// partition before it reads the epoch (with the hits' memories).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joined_search_sees_other_writers() {
    cache_sees_other_writers(true).await;
}

/// The ids user `u`'s query finds through `index`, plain or joined.
async fn found(
    index: &memory_sqlite::SqliteVectorIndex,
    q: &memory_core::VectorQuery,
    joined: bool,
) -> Vec<uuid::Uuid> {
    use memory_core::VectorIndex;
    if joined {
        let hits = index.query_joined("c", q).await.unwrap();
        hits.expect("a pinned search beside the store is joined")
            .into_iter()
            .map(|j| j.hit.id)
            .collect()
    } else {
        index
            .query("c", q)
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect()
    }
}

async fn cache_sees_other_writers(joined: bool) {
    use memory_core::{CollectionSpec, Filter, Metric, VectorIndex, VectorQuery, VectorRecord};
    let dir = tempfile::tempdir().unwrap();
    let open = || async {
        let db = SqliteDb::connect(&file_url(&dir)).await.unwrap();
        if joined {
            db.store_vector_index()
        } else {
            db.vector_index()
        }
    };
    let (a, b) = (open().await, open().await);
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
        filter: joined.then(|| Filter::parse(&serde_json::json!({"user_id": "u"})).unwrap()),
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
        found(&b, &q, joined).await,
        vec![id1],
        "b misses a's first write"
    );
    // Twice, so b answers from its cache.
    assert_eq!(found(&b, &q, joined).await, vec![id1]);
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
        found(&b, &q, joined).await,
        vec![id1, id2],
        "b's cache is stale after a's second write"
    );
    // a caches the partition too, before b's delete.
    assert_eq!(found(&a, &q, joined).await, vec![id1, id2]);
    b.delete("c", &[id1]).await.unwrap();
    assert_eq!(
        found(&a, &q, joined).await,
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

/// A partition larger than one page of rows, written through one handle,
/// loads whole into another's cache: every vector, each found as its own
/// nearest neighbour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_of_many_pages_loads_whole() {
    use memory_core::{CollectionSpec, Metric, VectorIndex, VectorQuery, VectorRecord};
    use rand::{Rng, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}?hnsw_threshold=0", file_url(&dir));
    let a = SqliteDb::connect(&url).await.unwrap().vector_index();
    a.create_collection(&CollectionSpec {
        name: "c".into(),
        dimension: 4,
        metric: Metric::Cosine,
    })
    .await
    .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let records: Vec<VectorRecord> = (0..9_000)
        .map(|_| VectorRecord {
            id: uuid::Uuid::now_v7(),
            vector: (0..4).map(|_| rng.random_range(-1.0..1.0)).collect(),
            payload: memory_testkit::vector::payload("t", "u", "fact"),
        })
        .collect();
    a.upsert("c", &records).await.unwrap();
    let b = SqliteDb::connect(&url).await.unwrap().vector_index();
    let all = b
        .query(
            "c",
            &VectorQuery {
                tenant: "t".into(),
                vector: vec![1.0, 0.0, 0.0, 0.0],
                k: 10_000,
                filter: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), records.len());
    for r in records.iter().step_by(997) {
        let top = b
            .query(
                "c",
                &VectorQuery {
                    tenant: "t".into(),
                    vector: r.vector.clone(),
                    k: 1,
                    filter: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(top[0].id, r.id);
    }
}
