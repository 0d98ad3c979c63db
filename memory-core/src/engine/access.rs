//! Access times recorded off the request path. A search notes its hits and
//! returns; a writer task writes everything noted in the last
//! [`WRITE_EVERY`] at once (one write per tenant and hit count), so many
//! searches share a write instead of each paying for its own: a write also
//! makes SQLite's readers drop their page caches. Reads that return access
//! fields ([`Memory::get`]) have what is pending written first, so a caller
//! always sees its own earlier searches counted. Hits noted in the last
//! moment before the process exits are not recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Memory;
use crate::Store;

/// Per tenant: hits per memory.
type Hits = HashMap<String, HashMap<Uuid, u32>>;

#[derive(Default)]
struct Pending {
    /// Hits since the last write.
    hits: Hits,
    at: Option<DateTime<Utc>>,
    writing: bool,
    /// Notes made, and notes written, since start.
    noted: u64,
    written: u64,
}

/// Access hits waiting to be written.
/// How long hits gather before they are written.
const WRITE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

#[derive(Default)]
pub(crate) struct AccessLog {
    pending: Mutex<Pending>,
    /// Signalled after each write.
    wrote: tokio::sync::Notify,
    /// Signalled by a reader that wants pending hits written now.
    hurry: tokio::sync::Notify,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog").finish_non_exhaustive()
    }
}

impl AccessLog {
    /// Everything noted so far and how many notes that is; `None` (and
    /// the writer's mark cleared) when nothing is left.
    fn take(&self) -> Option<(Hits, DateTime<Utc>, u64)> {
        let mut p = self.pending.lock().ok()?;
        match p.at.take() {
            Some(at) if !p.hits.is_empty() => Some((std::mem::take(&mut p.hits), at, p.noted)),
            _ => {
                p.writing = false;
                None
            }
        }
    }

    async fn write(self: Arc<Self>, store: Arc<dyn Store>) {
        let mut running = Running {
            log: self.clone(),
            finished: false,
        };
        loop {
            tokio::select! {
                () = tokio::time::sleep(WRITE_EVERY) => {}
                () = self.hurry.notified() => {}
            }
            let Some((hits, at, notes)) = self.take() else {
                running.finished = true;
                break;
            };
            for (tenant, counts) in hits {
                // A memory hit n times since the last write is touched n times.
                let mut by_count: HashMap<u32, Vec<Uuid>> = HashMap::new();
                for (id, n) in counts {
                    by_count.entry(n).or_default().push(id);
                }
                for (n, ids) in by_count {
                    for _ in 0..n {
                        if let Err(e) = store.touch_memories(&tenant, &ids, at).await {
                            tracing::warn!(error = %e, "access times not recorded");
                        }
                    }
                }
            }
            if let Ok(mut p) = self.pending.lock() {
                p.written = notes;
            }
            self.wrote.notify_waiters();
        }
    }
}

/// The writer task's mark. When the task ends early (a panic, a runtime
/// shutting down), the hits it held are given up, so the next note starts a
/// new writer and no reader waits for a write that will never come.
struct Running {
    log: Arc<AccessLog>,
    finished: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Ok(mut p) = self.log.pending.lock() {
            p.writing = false;
            p.written = p.noted;
            p.hits.clear();
            p.at = None;
        }
        self.log.wrote.notify_waiters();
    }
}

impl Memory {
    /// Notes that these memories were returned now; written shortly after.
    pub(super) fn note_access(&self, tenant: &str, ids: &[Uuid], at: DateTime<Utc>) {
        let log = &self.inner.access;
        let start = {
            let Ok(mut p) = log.pending.lock() else {
                return;
            };
            let hits = p.hits.entry(tenant.to_owned()).or_default();
            for id in ids {
                *hits.entry(*id).or_default() += 1;
            }
            p.at = Some(p.at.map_or(at, |t| t.max(at)));
            p.noted += 1;
            !std::mem::replace(&mut p.writing, true)
        };
        if start {
            tokio::spawn(log.clone().write(self.inner.store.clone()));
        }
    }

    /// Has every access noted so far written, and waits for it.
    pub(super) async fn access_written(&self) {
        let log = &self.inner.access;
        let Ok(target) = log.pending.lock().map(|p| p.noted) else {
            return;
        };
        loop {
            let wrote = log.wrote.notified();
            tokio::pin!(wrote);
            wrote.as_mut().enable();
            // A writer gone (or never started) has written all it took.
            if log
                .pending
                .lock()
                .map_or(true, |p| p.written >= target || !p.writing)
            {
                return;
            }
            log.hurry.notify_one();
            wrote.await;
        }
    }
}
