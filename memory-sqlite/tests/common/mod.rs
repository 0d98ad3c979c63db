//! What several of this crate's test files share.
#![allow(clippy::unwrap_used)]

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
