//! The background worker: a loop that claims due jobs from the store's
//! queue with a lease, runs them, and completes, retries or dead-letters
//! each. Schedules (vector outbox drain, decay, expiry, short-term cleanup)
//! are keyed jobs that enqueue their next run when they complete, so there
//! is one mechanism, and it survives a crash: a job whose worker died is
//! claimed again when its lease ends.

mod config;
mod handlers;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::traits::{Job, JobRetry, NewJob};
use crate::{Memory, Result};

pub use config::WorkerConfig;
pub use handlers::{DECAY, EXPIRE, OUTBOX, SHORT_TERM_CLEANUP};

/// Where a worker reads the time; tests pass a clock they move by hand.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The tenant of jobs that serve the whole store.
pub const ALL_TENANTS: &str = "*";

/// A worker over one engine. [`Worker::tick`] runs one round (for tests
/// and tools); [`Worker::spawn`] runs rounds until shut down.
#[derive(Clone)]
pub struct Worker {
    memory: Memory,
    config: WorkerConfig,
    owner: String,
    clock: Clock,
    /// When this worker last made sure every schedule has a live job.
    ensured: Arc<std::sync::Mutex<Option<DateTime<Utc>>>>,
}

/// How often a worker re-checks that every schedule has a live job (a
/// schedule whose job was dead-lettered gets a new one); completed jobs
/// enqueue their next run themselves, so rounds in between skip the check.
const ENSURE_EVERY: chrono::Duration = chrono::Duration::seconds(60);

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("owner", &self.owner)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Jobs completed.
    pub completed: u64,
    /// Jobs that failed and will run again.
    pub retried: u64,
    /// Jobs dead-lettered.
    pub dead: u64,
}

impl TickReport {
    /// Jobs run this round.
    pub fn ran(&self) -> u64 {
        self.completed + self.retried + self.dead
    }
}

impl Memory {
    /// A background worker over this engine (see [`Worker`]).
    pub fn worker(&self, config: WorkerConfig) -> Result<Worker> {
        config.validate()?;
        Ok(Worker {
            memory: self.clone(),
            config,
            owner: format!("{}-{}", std::process::id(), Uuid::now_v7()),
            clock: Arc::new(crate::now),
            ensured: Arc::default(),
        })
    }
}

impl Worker {
    /// The same worker reading time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The name this worker leases jobs under.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// The scheduled jobs, each under its key so only one is ever live.
    fn schedules(&self, now: DateTime<Utc>) -> Vec<NewJob> {
        [OUTBOX, DECAY, EXPIRE, SHORT_TERM_CLEANUP]
            .into_iter()
            .map(|kind| NewJob::new(kind, ALL_TENANTS, now).keyed(format!("schedule:{kind}")))
            .collect()
    }

    /// Whether this round should check the schedules: the first round, and
    /// then every [`ENSURE_EVERY`].
    fn schedules_due(&self, now: DateTime<Utc>) -> bool {
        let Ok(last) = self.ensured.lock() else {
            return true;
        };
        last.is_none_or(|t| now - t >= ENSURE_EVERY || now < t)
    }

    /// One round: makes sure every schedule has a live job, claims the due
    /// jobs (up to `concurrency`), and runs them at once.
    pub async fn tick(&self) -> Result<TickReport> {
        let now = self.now();
        let store = self.memory.store();
        if self.schedules_due(now) {
            store.enqueue(&self.schedules(now)).await?;
            if let Ok(mut last) = self.ensured.lock() {
                *last = Some(now);
            }
        }
        let jobs = store
            .claim(
                &self.owner,
                self.config.concurrency,
                self.config.lease(),
                now,
            )
            .await?;
        let outcomes = join_all(jobs.into_iter().map(|job| self.run(job))).await;
        let mut report = TickReport::default();
        for o in outcomes {
            match o {
                Outcome::Completed => report.completed += 1,
                Outcome::Retried => report.retried += 1,
                Outcome::Dead => report.dead += 1,
            }
        }
        Ok(report)
    }

    /// Runs one claimed job and records how it ended.
    async fn run(&self, job: Job) -> Outcome {
        let started = std::time::Instant::now();
        let result = handlers::handle(self, &job).await;
        let store = self.memory.store();
        let now = self.now();
        let seconds = started.elapsed().as_secs_f64();
        metrics::histogram!("memory_job_seconds", "kind" => job.kind.clone()).record(seconds);
        tracing::debug!(kind = %job.kind, id = %job.id, ms = seconds * 1000.0, ok = result.is_ok(), "job ran");
        match result {
            Ok(next) => {
                if let Err(e) = store.complete(job.id, &self.owner, next).await {
                    tracing::warn!(kind = %job.kind, id = %job.id, error = %e, "completing a job failed; its lease will end and it runs again");
                }
                Outcome::Completed
            }
            Err(e) => {
                let (retry, outcome) = if job.attempts >= self.config.max_attempts {
                    (JobRetry::Dead, Outcome::Dead)
                } else {
                    (
                        JobRetry::At(now + self.backoff(job.attempts)),
                        Outcome::Retried,
                    )
                };
                tracing::warn!(kind = %job.kind, id = %job.id, attempts = job.attempts, error = %e, dead = matches!(retry, JobRetry::Dead), "job failed");
                metrics::counter!("memory_job_failures_total", "kind" => job.kind.clone())
                    .increment(1);
                if matches!(retry, JobRetry::Dead) {
                    metrics::counter!("memory_jobs_dead_lettered_total", "kind" => job.kind.clone())
                        .increment(1);
                }
                if let Err(e2) = store
                    .fail(job.id, &self.owner, &e.to_string(), retry, now)
                    .await
                {
                    tracing::warn!(error = %e2, "recording a job failure failed; its lease will end and it runs again");
                }
                outcome
            }
        }
    }

    /// Exponential backoff with jitter after `attempts` claims.
    fn backoff(&self, attempts: u32) -> chrono::Duration {
        let base = self.config.backoff_base_ms.max(1);
        let exp = base.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
        let max = self.config.backoff_max_secs.saturating_mul(1000).max(base);
        let capped = exp.min(max);
        // Jitter in [0.5, 1.0) without a random source: the sub-second clock.
        let jitter = 500 + u64::from(crate::now().timestamp_subsec_nanos() % 500);
        chrono::Duration::milliseconds(i64::try_from(capped * jitter / 1000).unwrap_or(i64::MAX))
    }

    /// Runs rounds until the handle is shut down; then finishes the jobs in
    /// hand and releases anything still leased.
    pub fn spawn(self) -> WorkerHandle {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let idle = match self.tick().await {
                    Ok(r) => r.ran() == 0,
                    Err(e) => {
                        tracing::warn!(error = %e, "worker round failed; trying again");
                        true
                    }
                };
                if *stopped.borrow() {
                    break;
                }
                if idle {
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.poll()) => {}
                        _ = stopped.changed() => break,
                    }
                }
            }
            if let Err(e) = self.memory.store().release(&self.owner).await {
                tracing::warn!(error = %e, "releasing jobs at shutdown failed; their leases will end");
            }
        });
        WorkerHandle { stop, task }
    }
}

enum Outcome {
    Completed,
    Retried,
    Dead,
}

/// A running worker.
#[derive(Debug)]
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl WorkerHandle {
    /// Stops claiming, lets the jobs in hand finish, releases the rest and
    /// waits for the worker to end (at most `grace`; then it is aborted and
    /// its leases end by themselves).
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(grace, self.task).await.is_err() {
            abort.abort();
        }
    }
}
