//! The write-ahead log reaches the database file in the background shortly
//! after writes, instead of in whichever commit crosses SQLite's threshold.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use memory_core::{MemoryStore, Scope};
use memory_sqlite::SqliteDb;
use sqlx::sqlite::SqliteConnectOptions;

/// The memories in the database file at `path` alone, without its log;
/// `None` while a copy caught mid-checkpoint does not open.
async fn memories_in_file_alone(path: &Path, scratch: &Path) -> Option<i64> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", scratch.display()));
    }
    std::fs::copy(path, scratch).ok()?;
    let opts = SqliteConnectOptions::new().filename(scratch);
    let pool = sqlx::SqlitePool::connect_with(opts).await.ok()?;
    let n = sqlx::query_scalar("SELECT count(*) FROM memories")
        .fetch_one(&pool)
        .await
        .ok();
    pool.close().await;
    n
}

/// A database in a fresh file `c.db`, with its directory.
async fn file_db() -> (tempfile::TempDir, std::path::PathBuf, SqliteDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let db = SqliteDb::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    (dir, path, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_reach_the_database_file_shortly_after_they_commit() {
    let (dir, path, db) = file_db().await;
    let store = db.store();
    let scope = Scope::user("u");
    for i in 0..20 {
        let record = memory_testkit::store::record(&scope, &format!("checkpointed {i}"));
        store
            .apply(memory_testkit::store::without_vectors([record]))
            .await
            .unwrap();
    }
    // Twenty small writes are far below the 1,000 pages at which SQLite
    // would checkpoint on its own: only the background checkpoint moves
    // them out of the log while the database stays open.
    let scratch = dir.path().join("copy.db");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = memories_in_file_alone(&path, &scratch).await;
        if n == Some(20) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "30 s after the writes the database file alone holds {n:?} of 20 memories"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_poll_schedules_no_checkpoint() {
    use memory_core::traits::{JobStore, NewJob};
    let (_dir, _, db) = file_db().await;
    let store = db.store();
    let lease = Duration::from_secs(30);
    let before = db.checkpoints_scheduled();
    for _ in 0..5 {
        let claimed = store
            .claim("w", 8, lease, chrono::Utc::now())
            .await
            .unwrap();
        assert!(claimed.is_empty());
        // Past the delay, so a checkpoint scheduled by a poll would have
        // run and the next poll would schedule another.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        db.checkpoints_scheduled(),
        before,
        "polls that claimed nothing scheduled checkpoints"
    );

    let due = chrono::Utc::now() - chrono::Duration::seconds(1);
    store
        .enqueue(&[NewJob::new("decay", "t", due)])
        .await
        .unwrap();
    let enqueued = db.checkpoints_scheduled();
    assert!(enqueued > before, "an enqueue schedules a checkpoint");
    // Past the enqueue's checkpoint, which a claim would otherwise share.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let claimed = store
        .claim("w", 8, lease, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        db.checkpoints_scheduled() > enqueued,
        "a claim that leased a job schedules a checkpoint"
    );
    db.close().await;
}
