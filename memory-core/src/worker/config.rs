//! The `[worker]` section: whether the worker runs, how many jobs at once,
//! leases, retries and the intervals of the scheduled jobs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Settings of the background worker; every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Whether `memory serve` runs a worker inside it.
    pub enabled: bool,
    /// Jobs run at once.
    pub concurrency: usize,
    /// How often an idle worker looks for due jobs, in milliseconds.
    pub poll_interval_ms: u64,
    /// How long a claimed job stays with its worker; a worker that dies
    /// loses its jobs to another after this, in seconds.
    pub lease_secs: u64,
    /// Claims after which a failing job is dead-lettered.
    pub max_attempts: u32,
    /// First retry delay of a failed job, in milliseconds; doubled each
    /// attempt, with jitter.
    pub backoff_base_ms: u64,
    /// Longest retry delay, in seconds.
    pub backoff_max_secs: u64,
    /// How often the vector outbox is drained while the index answers, in
    /// milliseconds.
    pub outbox_interval_ms: u64,
    /// Longest wait between drains while the index fails, in seconds.
    pub outbox_max_backoff_secs: u64,
    /// How often importance decays and low memories are pruned, in seconds.
    pub decay_interval_secs: u64,
    /// How often memories past `expires_at` are removed, in seconds.
    pub expire_interval_secs: u64,
    /// How often the short-term tier drops inactive sessions, in seconds.
    pub short_term_cleanup_interval_secs: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 2,
            poll_interval_ms: 500,
            lease_secs: 120,
            max_attempts: 5,
            backoff_base_ms: 1000,
            backoff_max_secs: 300,
            outbox_interval_ms: 1000,
            outbox_max_backoff_secs: 30,
            decay_interval_secs: 86_400,
            expire_interval_secs: 3_600,
            short_term_cleanup_interval_secs: 300,
        }
    }
}

impl WorkerConfig {
    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            (
                "concurrency",
                u64::try_from(self.concurrency).unwrap_or(u64::MAX),
            ),
            ("poll_interval_ms", self.poll_interval_ms),
            ("lease_secs", self.lease_secs),
            ("max_attempts", u64::from(self.max_attempts)),
            ("outbox_interval_ms", self.outbox_interval_ms),
            ("decay_interval_secs", self.decay_interval_secs),
            ("expire_interval_secs", self.expire_interval_secs),
            (
                "short_term_cleanup_interval_secs",
                self.short_term_cleanup_interval_secs,
            ),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(Error::config(format!("worker.{name}: must be at least 1")));
            }
        }
        Ok(())
    }

    pub(crate) fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }

    pub(crate) fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}
