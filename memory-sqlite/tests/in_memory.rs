//! An in-memory database lives in its one connection: requests cancelled
//! at any point (a client hanging up mid-search) never drop it.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use memory_core::{MemoryStore, Scope};
use memory_sqlite::SqliteDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_requests_keep_an_in_memory_database() {
    let db = SqliteDb::connect("sqlite::memory:").await.unwrap();
    let store = db.store();
    let record = memory_testkit::store::record(&Scope::user("u"), "kept through cancellations");
    let (tenant, id) = (record.scope.tenant.clone(), record.id);
    store
        .apply(memory_testkit::store::without_vectors([record]))
        .await
        .unwrap();
    // Deadlines spread over the span of a request, so some land while a
    // connection is being handed out.
    for i in 0..3000_u64 {
        let ids = [id];
        let read = store.get_memories(&tenant, &ids);
        let _ = tokio::time::timeout(Duration::from_micros(i % 60), read).await;
    }
    let found = store.get_memories(&tenant, &[id]).await.unwrap();
    assert_eq!(found.len(), 1, "the in-memory database was lost");
}
