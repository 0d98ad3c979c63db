//! Compaction of a database file: the space deleted rows left behind given
//! back, the keyword index merged into one segment, and a file made before
//! 32 KiB pages brought to them (README, Bulk ingest). Saved graphs that
//! still hold vectors the database no longer has go too, so after `forget`
//! and compaction nothing of a forgotten memory is left in the files.
//!
//! SQLite changes a file's page size only outside WAL mode, and leaves WAL
//! mode only when no other connection has the file open, so compaction
//! runs on a connection of its own and refuses a file that is in use.

use std::path::Path;
use std::time::{Duration, Instant};

use memory_core::{Error, ErrorKind, Result};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use crate::SqliteConfig;
use crate::error::map;
use crate::vector::scrub_graphs;

/// The page size new files get, and compaction brings old files to.
pub(crate) const PAGE_SIZE: u32 = 32768;

/// What [`compact`] did to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactReport {
    /// The file compacted.
    pub path: String,
    /// Its page size before, in bytes.
    pub page_size_before: u32,
    /// Its page size after.
    pub page_size_after: u32,
    /// Its size before (with its write-ahead log), in bytes.
    pub bytes_before: u64,
    /// Its size after.
    pub bytes_after: u64,
    /// Pages that held nothing before (deleted rows' space).
    pub free_pages_before: u64,
    /// Saved graph files removed because they held vectors the database no
    /// longer has (a forgotten memory's, an updated memory's old one), or
    /// were left by a save cut short; their partitions save them afresh.
    pub graphs_removed: usize,
    /// How long it took.
    pub elapsed: Duration,
}

fn file_bytes(path: &str) -> u64 {
    let size = |p: &str| std::fs::metadata(p).map_or(0, |m| m.len());
    size(path) + size(&format!("{path}-wal"))
}

fn in_use(path: &str) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!(
            "{path:?} is open in another process (a running `memory serve` or `memory worker`?); \
             stop it and compact again"
        ),
    )
    .with_backend("sqlite")
}

async fn pragma(conn: &mut SqliteConnection, name: &str) -> Result<i64> {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| map(e, "compact"))
}

/// Compacts the SQLite database file `url` names: rebuilds it without the
/// free pages deleted rows left (SQLite never shrinks a file by itself), in
/// 32 KiB pages, with its keyword index rebuilt whole. Nothing else may have
/// the file open meanwhile; a file in use is refused, untouched, and so is
/// a file that is not a memory database or an in-memory URL.
pub async fn compact(url: &str) -> Result<CompactReport> {
    let cfg = SqliteConfig::from_url(url)?;
    let Some(path) = cfg.path else {
        return Err(Error::invalid(
            "an in-memory SQLite database has no file to compact",
        ));
    };
    if !Path::new(&path).is_file() {
        return Err(Error::not_found(format!(
            "no SQLite database file at {path:?}"
        )));
    }
    let mut head = [0u8; 16];
    let is_sqlite = std::fs::File::open(&path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|()| &head == b"SQLite format 3\0");
    if !is_sqlite {
        return Err(Error::invalid(format!(
            "{path:?} is not a memory database (not a SQLite file)"
        )));
    }
    let started = Instant::now();
    let bytes_before = file_bytes(&path);
    let opts = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_millis(500));
    let mut conn = opts.connect().await.map_err(|e| map(e, "compact"))?;
    let ours: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('memories', 'memories_fts', '_sqlx_migrations')",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(|e| map(e, "compact"))?;
    if ours != 3 {
        return Err(Error::invalid(format!(
            "{path:?} is not a memory database (no memories table or keyword index)"
        )));
    }
    // Leaving WAL mode checkpoints the log into the file and needs every
    // other connection gone: SQLite answers busy, or keeps WAL, otherwise.
    let mode: std::result::Result<String, _> = sqlx::query_scalar("PRAGMA journal_mode = DELETE")
        .fetch_one(&mut conn)
        .await;
    if !matches!(mode.as_deref(), Ok("delete")) {
        return Err(in_use(&path));
    }
    let result = rebuild(&mut conn).await;
    // WAL again whatever happened, as the store opens it: a failed VACUUM
    // rolls back and leaves the file as it was.
    let restored = sqlx::query_scalar::<_, String>("PRAGMA journal_mode = WAL")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| map(e, "compact"));
    let graphs = match (&result, &restored) {
        (Ok(_), Ok(_)) => scrub_graphs(&path, &mut conn).await,
        _ => Ok(0),
    };
    let _ = conn.close().await;
    let (page_size_before, free_pages_before, page_size_after) = result?;
    restored?;
    let graphs_removed = graphs?;
    Ok(CompactReport {
        bytes_after: file_bytes(&path),
        path,
        page_size_before,
        page_size_after,
        bytes_before,
        free_pages_before,
        graphs_removed,
        elapsed: started.elapsed(),
    })
}

/// Rebuilds the keyword index and the file: answers the page size before,
/// the free pages before and the page size after.
async fn rebuild(conn: &mut SqliteConnection) -> Result<(u32, u64, u32)> {
    let page_before = u32::try_from(pragma(conn, "page_size").await?).unwrap_or(0);
    let free_before = u64::try_from(pragma(conn, "freelist_count").await?).unwrap_or(0);
    // The external-content index is made again from the rows, one segment
    // instead of one per write batch; VACUUM then drops the pages the old
    // segments held.
    sqlx::query("INSERT INTO memories_fts (memories_fts) VALUES ('rebuild')")
        .execute(&mut *conn)
        .await
        .map_err(|e| map(e, "compact: keyword index"))?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA page_size = {PAGE_SIZE}"
    )))
    .execute(&mut *conn)
    .await
    .map_err(|e| map(e, "compact"))?;
    sqlx::query("VACUUM")
        .execute(&mut *conn)
        .await
        .map_err(|e| map(e, "compact: vacuum"))?;
    // The keyword index points at rows by rowid, which SQLite documents
    // VACUUM may renumber in tables without an INTEGER PRIMARY KEY (it
    // keeps them today); should it ever have, the index is made again.
    let intact =
        sqlx::query("INSERT INTO memories_fts (memories_fts, rank) VALUES ('integrity-check', 1)")
            .execute(&mut *conn)
            .await;
    if intact.is_err() {
        tracing::warn!("the keyword index no longer matched its rows after VACUUM; rebuilding it");
        sqlx::query("INSERT INTO memories_fts (memories_fts) VALUES ('rebuild')")
            .execute(&mut *conn)
            .await
            .map_err(|e| map(e, "compact: keyword index"))?;
    }
    let page_after = u32::try_from(pragma(conn, "page_size").await?).unwrap_or(0);
    Ok((page_before, free_before, page_after))
}
