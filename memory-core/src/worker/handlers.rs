//! What each kind of job does. Every handler is idempotent: running a job
//! twice (its worker died after the effect, before completing) has the
//! effect of running it once. A scheduled job returns its next run.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{ALL_TENANTS, Worker};
use crate::traits::{Job, NewJob};
use crate::{Error, Result};

/// Drains the vector outbox; while the index fails, waits longer each time.
pub const OUTBOX: &str = "outbox";
/// Decays importance and prunes low and expired memories.
pub const DECAY: &str = "decay";
/// Removes memories past `expires_at`.
pub const EXPIRE: &str = "expire";
/// Drops inactive sessions from the short-term tier.
pub const SHORT_TERM_CLEANUP: &str = "short_term_cleanup";

/// Runs `job`; a scheduled job answers its next run.
pub(super) async fn handle(w: &Worker, job: &Job) -> Result<Option<NewJob>> {
    let now = w.now();
    let cfg = &w.config;
    let m = &w.memory;
    match job.kind.as_str() {
        OUTBOX => {
            // Rows that failed often are retried too: an index that was down
            // for a while must catch up by itself once it is back.
            let report = m.sync(true).await?;
            let last = job.payload["backoff_ms"].as_u64().unwrap_or(0);
            let wait = if report.failed > 0 {
                // The index is failing: wait longer each time, never spin.
                (last.max(cfg.outbox_interval_ms) * 2).min(cfg.outbox_max_backoff_secs * 1000)
            } else {
                cfg.outbox_interval_ms
            };
            let backoff = if report.failed > 0 { wait } else { 0 };
            Ok(Some(
                next(job, now, wait).payload(json!({ "backoff_ms": backoff })),
            ))
        }
        DECAY => {
            m.decay(now).await?;
            Ok(Some(next(job, now, cfg.decay_interval_secs * 1000)))
        }
        EXPIRE => {
            m.expire(now).await?;
            Ok(Some(next(job, now, cfg.expire_interval_secs * 1000)))
        }
        SHORT_TERM_CLEANUP => {
            m.cleanup_short_term().await?;
            Ok(Some(next(
                job,
                now,
                cfg.short_term_cleanup_interval_secs * 1000,
            )))
        }
        crate::extract::EXTRACT => m.run_extract_job(job, now).await,
        crate::extract::EXTRACT_IDLE => m.run_idle_job(job, now).await,
        crate::engine::REMEMBER => m.run_remember_job(&job.payload).await.map(|()| None),
        other => Err(Error::invalid(format!(
            "job kind {other:?} has no handler in this build"
        ))),
    }
}

/// The next run of a scheduled job, `after_ms` from `now`, under its key.
fn next(job: &Job, now: DateTime<Utc>, after_ms: u64) -> NewJob {
    let due = now + chrono::Duration::milliseconds(i64::try_from(after_ms).unwrap_or(i64::MAX));
    let mut n = NewJob::new(job.kind.clone(), ALL_TENANTS, due);
    n.key = job.key.clone();
    n
}
