//! The durable job queue: work that can wait (vector sync, decay, expiry,
//! short-term cleanup, extraction) kept in the store, claimed with a lease.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Result;

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What to do (`outbox`, `decay`, `expire`, `short_term_cleanup`, …).
    pub kind: String,
    /// Whose work it is.
    pub tenant: String,
    /// At most one live (not dead, not finished) job holds a key: enqueuing
    /// another with the same key does nothing. Schedules use it.
    pub key: Option<String>,
    /// The handler's input.
    pub payload: serde_json::Value,
    /// Not to run before this time.
    pub due_at: DateTime<Utc>,
}

impl NewJob {
    /// A job of `kind` due at `due_at`, with an empty payload and no key.
    pub fn new(kind: impl Into<String>, tenant: impl Into<String>, due_at: DateTime<Utc>) -> Self {
        Self {
            kind: kind.into(),
            tenant: tenant.into(),
            key: None,
            payload: serde_json::Value::Object(serde_json::Map::new()),
            due_at,
        }
    }

    /// With a key: at most one live job holds it.
    pub fn keyed(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// With a payload.
    pub fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }
}

/// A job to enqueue with a message insert, in its transaction, once the
/// session holds at least `threshold` unextracted messages.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractTrigger {
    /// The job (keyed, so a live one is not doubled).
    pub job: NewJob,
    /// Unextracted messages of the inserted messages' session that call for it.
    pub threshold: u64,
    /// Jobs enqueued with the messages whatever the count (keyed ones that
    /// are live already stay as they are), in the same transaction.
    pub always: Vec<NewJob>,
}

/// A job as the queue holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Job {
    /// Its id.
    pub id: Uuid,
    /// What to do.
    pub kind: String,
    /// Whose work it is.
    pub tenant: String,
    /// Its key, if it has one.
    pub key: Option<String>,
    /// The handler's input.
    pub payload: serde_json::Value,
    /// Not to run before this time.
    pub due_at: DateTime<Utc>,
    /// Times it was claimed.
    pub attempts: u32,
    /// The worker holding it.
    pub lease_owner: Option<String>,
    /// When that worker's lease ends.
    pub lease_until: Option<DateTime<Utc>>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When it was dead-lettered.
    pub finished_at: Option<DateTime<Utc>>,
    /// Whether it failed too often and waits for `retry` or `purge`.
    pub dead: bool,
}

/// How a failed job goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobRetry {
    /// Run again at this time.
    At(DateTime<Utc>),
    /// Give up: keep it as a dead letter.
    Dead,
}

/// Jobs of one kind, by state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct JobCounts {
    /// The kind.
    pub kind: String,
    /// Waiting (due or not).
    pub queued: u64,
    /// Held by a worker's live lease.
    pub running: u64,
    /// Dead letters.
    pub dead: u64,
}

/// The job queue of a store.
///
/// # Behavior
///
/// - `enqueue` (and a `ChangeSet`'s jobs, in the write's own transaction)
///   skips a job whose key a live job already holds.
/// - `claim` takes up to `limit` due jobs that no live lease holds, oldest due
///   first, and gives them to `owner` until `now + lease`, counting an
///   attempt; two workers never hold one job at once, and a job whose
///   worker died is claimed again once its lease has ended.
/// - `complete` removes the job only if `owner` still holds it, and then
///   enqueues `next` in the same transaction; it says whether it did.
/// - `fail` records the error and either makes the job due again at the
///   given time or dead-letters it, only if `owner` still holds it.
/// - `release` gives back every job `owner` holds without counting the attempt.
/// - `retry_dead` makes dead letters due now with no attempts counted;
///   `purge_dead` deletes them.
#[async_trait]
pub trait JobStore: Send + Sync + std::fmt::Debug {
    /// Adds jobs.
    async fn enqueue(&self, jobs: &[NewJob]) -> Result<()>;
    /// Leases due jobs to `owner`.
    async fn claim(
        &self,
        owner: &str,
        limit: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Job>>;
    /// Finishes a job, enqueuing `next` with it.
    async fn complete(&self, id: Uuid, owner: &str, next: Option<NewJob>) -> Result<bool>;
    /// Records a failure.
    async fn fail(
        &self,
        id: Uuid,
        owner: &str,
        error: &str,
        retry: JobRetry,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Gives back every job `owner` holds.
    async fn release(&self, owner: &str) -> Result<u64>;
    /// Jobs of `tenant` and those serving every tenant (all jobs with
    /// `None`), dead letters only if `dead`, oldest due first.
    async fn list_jobs(&self, tenant: Option<&str>, dead: bool, limit: usize) -> Result<Vec<Job>>;
    /// Makes dead letters due again (all of them if `ids` is empty).
    async fn retry_dead(&self, ids: &[Uuid], now: DateTime<Utc>) -> Result<u64>;
    /// Deletes dead letters (all of them if `ids` is empty).
    async fn purge_dead(&self, ids: &[Uuid]) -> Result<u64>;
    /// Counts by kind and state.
    async fn job_counts(&self, now: DateTime<Utc>) -> Result<Vec<JobCounts>>;
}
