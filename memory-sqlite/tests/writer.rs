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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_queue_for_the_writer_instead_of_failing_busy() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}/w.db?busy_timeout_ms=1&max_connections=8",
        dir.path().display()
    );
    let db = SqliteDb::connect(&url).await.unwrap();
    let (store, index) = (db.store(), db.vector_index());
    index
        .create_collection(&CollectionSpec {
            name: "c".into(),
            dimension: 2,
            metric: Metric::Cosine,
        })
        .await
        .unwrap();
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
