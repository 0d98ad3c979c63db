//! What several of this crate's test files share. Each file uses some of
//! it, so the rest is dead code there.
#![allow(clippy::unwrap_used, dead_code)]

use memory_core::{
    ChangeSet, CollectionSpec, MemoryRecord, MemoryStore, Metric, StoredMemory, VectorIndex,
};
use sqlx::{ConnectOptions, Connection};

/// Creates a SQLite file with SQLite's old default 4 KiB pages, as files
/// made before the store chose 32 KiB pages have, holding one table of
/// its own.
pub(crate) async fn old_file(path: &std::path::Path) {
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .page_size(4096)
        .connect()
        .await
        .unwrap();
    sqlx::query("CREATE TABLE before (x INTEGER)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// Creates the cosine collection `name` of `dimension`.
pub(crate) async fn create_collection(index: &impl VectorIndex, name: &str, dimension: usize) {
    index
        .create_collection(&CollectionSpec {
            name: name.into(),
            dimension,
            metric: Metric::Cosine,
        })
        .await
        .unwrap();
}

/// Stores these memories, without vectors.
pub(crate) async fn insert(store: &impl MemoryStore, records: Vec<MemoryRecord>) {
    store
        .apply(ChangeSet {
            insert: records
                .into_iter()
                .map(|r| StoredMemory::new(r, None))
                .collect(),
            ..ChangeSet::default()
        })
        .await
        .unwrap();
}
