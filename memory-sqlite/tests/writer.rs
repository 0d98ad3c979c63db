//! Every write goes through one connection: concurrent writers queue for
//! it rather than waiting on SQLite's lock, so a short busy timeout fails
//! none of them.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use memory_core::{
    ChangeSet, CollectionSpec, MaintenanceStore, MemoryStore, Metric, Scope, StoredMemory,
    VectorIndex, VectorOp, VectorRecord,
};
use memory_sqlite::SqliteDb;

/// The collection both tests write: two cosine dimensions.
fn collection() -> CollectionSpec {
    CollectionSpec {
        name: "c".into(),
        dimension: 2,
        metric: Metric::Cosine,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_queue_for_the_writer_instead_of_failing_busy() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}/w.db?busy_timeout_ms=1&max_connections=8",
        dir.path().display()
    );
    let db = SqliteDb::connect(&url).await.unwrap();
    let (store, index) = (db.store(), db.vector_index());
    index.create_collection(&collection()).await.unwrap();
    let scope = Scope::user("u");
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..64 {
        let (store, index) = (Arc::clone(&store), Arc::clone(&index));
        let record = memory_testkit::store::record(&scope, &format!("written at once {i}"));
        writes.spawn(async move {
            let id = record.id;
            let stored = StoredMemory::new(record, Some(vec![1.0, 0.5]));
            let vectors = VectorRecord::all_of(&stored);
            store
                .apply(ChangeSet {
                    insert: vec![stored],
                    outbox: vec![(id, VectorOp::Upsert)],
                    ..ChangeSet::default()
                })
                .await?;
            index.upsert("c", &vectors).await
        });
    }
    let failed: Vec<String> = writes
        .join_all()
        .await
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 64 writes failed: {:?}",
        failed.len(),
        failed.first()
    );
    let stats = store.stats(None).await.unwrap();
    assert_eq!(stats.memories, 64);
    assert_eq!(stats.outbox_pending, 64);
}

/// A memory and its vector written in one transaction of the store, when
/// the index is the store's own: the vector is found at once through the
/// index's cached partition, nothing is left queued, the memory is synced.
/// Any other index is refused with nothing written, and a vector the index
/// refuses leaves no memory behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_and_its_vector_are_written_together_into_the_stores_own_index() {
    use memory_core::{Filter, VectorQuery, VectorState};
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::connect(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .unwrap();
    let (store, own) = db.store_with_vectors();
    own.create_collection(&collection()).await.unwrap();
    let scope = Scope::user("u");
    let query = VectorQuery {
        tenant: scope.tenant.clone(),
        vector: vec![1.0, 0.0],
        k: 10,
        filter: Some(Filter::parse(&serde_json::json!({"user_id": "u"})).unwrap()),
    };
    // The partition is cached (empty) before the write.
    assert!(own.query("c", &query).await.unwrap().is_empty());
    let write = |text: &str, vector: Vec<f32>| {
        let record = memory_testkit::store::record(&scope, text);
        let id = record.id;
        let stored = StoredMemory::new(record, Some(vector));
        let vectors = VectorRecord::all_of(&stored);
        let changes = ChangeSet {
            insert: vec![stored],
            outbox: vec![(id, VectorOp::Upsert)],
            ..ChangeSet::default()
        };
        (id, changes, vectors)
    };

    let (id, changes, vectors) = write("together", vec![1.0, 0.0]);
    let other = db.vector_index();
    assert!(
        !store
            .apply_with_own_vectors(&changes, other.as_ref(), "c", &vectors)
            .await
            .unwrap(),
        "another index was taken for the store's own"
    );
    assert!(
        store
            .get_memories(&scope.tenant, &[id])
            .await
            .unwrap()
            .is_empty()
    );

    // A delete queued for an earlier memory of this id (written again by
    // an import, say) must not survive to undo the new vector.
    store
        .apply(ChangeSet {
            outbox: vec![(id, VectorOp::Delete)],
            ..ChangeSet::default()
        })
        .await
        .unwrap();
    // The facade hands the store its index behind the retry layer.
    let layered =
        memory_core::retry::Retrying::new(own.clone(), memory_core::retry::RetryPolicy::default());
    assert!(
        store
            .apply_with_own_vectors(&changes, &layered, "c", &vectors)
            .await
            .unwrap()
    );
    let hits: Vec<_> = own.query("c", &query).await.unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![id]);
    let m = store.get_memories(&scope.tenant, &[id]).await.unwrap();
    assert_eq!(m[0].vector_state, VectorState::Synced);
    let queued = store.outbox_pending(100, u32::MAX).await.unwrap();
    assert!(queued.is_empty(), "left queued: {queued:?}");

    let (bad, changes, vectors) = write("refused", vec![1.0, 0.0, 0.5]);
    assert!(
        store
            .apply_with_own_vectors(&changes, own.as_ref(), "c", &vectors)
            .await
            .is_err()
    );
    assert!(
        store
            .get_memories(&scope.tenant, &[bad])
            .await
            .unwrap()
            .is_empty()
    );
}
