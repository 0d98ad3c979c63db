//! Copying the write-ahead log into the database file off the write path.
//!
//! SQLite checkpoints on the connection that commits once the log passes
//! `wal_autocheckpoint` pages: that commit then copies every page written
//! since the last checkpoint into the file and syncs it, which one add in
//! fifty or so paid for (20–30 ms at the default 1,000 pages of 32 KiB).
//! The writer's threshold is raised to a backstop instead, and shortly
//! after writes a passive checkpoint runs on a reading connection: a
//! passive checkpoint takes no lock a writer waits for, so writes go on
//! appending to the log while it copies.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sqlx::SqlitePool;

/// The writer's own `wal_autocheckpoint`: reached only when the background
/// checkpoints cannot keep up or cannot run (256 MiB of 32 KiB pages).
pub(crate) const WRITER_AUTOCHECKPOINT_PAGES: u32 = 8_192;

/// How long after a write its checkpoint runs: the writes of that time
/// share it.
const DELAY: Duration = Duration::from_millis(250);

/// Schedules checkpoints: at most one waits at a time.
#[derive(Debug, Default)]
pub(crate) struct Checkpoints {
    scheduled: AtomicBool,
    count: AtomicU64,
}

impl Checkpoints {
    /// How many checkpoints were scheduled so far.
    pub(crate) fn scheduled(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Notes a write: a checkpoint on `readers` follows within [`DELAY`]
    /// unless one is already waiting.
    pub(crate) fn after_write(self: &Arc<Self>, readers: &SqlitePool) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to wait on: the writer's backstop checkpoints.
            self.scheduled.store(false, Ordering::Release);
            return;
        };
        self.count.fetch_add(1, Ordering::Relaxed);
        let (this, readers) = (self.clone(), readers.clone());
        runtime.spawn(async move {
            tokio::time::sleep(DELAY).await;
            // Cleared first: a write landing while this one copies gets a
            // checkpoint of its own.
            this.scheduled.store(false, Ordering::Release);
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&readers)
                .await
            {
                // A closed pool, most often: the database is being shut,
                // and closing its last connection checkpoints.
                tracing::debug!(error = %e, "SQLite background checkpoint failed");
            }
        });
    }
}
