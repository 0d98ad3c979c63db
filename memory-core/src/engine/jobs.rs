//! The job queue as operators see it: counts, dead letters, retry, purge.

use uuid::Uuid;

use super::Memory;
use crate::Result;
use crate::traits::{Job, JobCounts};

impl Memory {
    /// Jobs waiting (or dead letters, with `dead`), oldest due first: those
    /// of `tenant` and those serving every tenant, or all with `None`.
    pub async fn jobs(&self, tenant: Option<&str>, dead: bool, limit: usize) -> Result<Vec<Job>> {
        self.inner.store.list_jobs(tenant, dead, limit).await
    }

    /// Makes dead letters due again (every one if `ids` is empty).
    pub async fn retry_jobs(&self, ids: &[Uuid]) -> Result<u64> {
        self.inner.store.retry_dead(ids, crate::now()).await
    }

    /// Deletes dead letters (every one if `ids` is empty).
    pub async fn purge_jobs(&self, ids: &[Uuid]) -> Result<u64> {
        self.inner.store.purge_dead(ids).await
    }

    /// [`Memory::status`] with the job queue by kind (`jobs`), so a dead
    /// letter shows wherever the backends are shown. A store that does not
    /// answer puts its error there instead: status is read during outages.
    pub async fn status_with_jobs(&self) -> serde_json::Value {
        let mut status = self.status();
        status["jobs"] = match self.job_counts().await {
            Ok(counts) => serde_json::to_value(counts)
                .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() })),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        status
    }

    /// Jobs by kind: queued, running, dead.
    pub async fn job_counts(&self) -> Result<Vec<JobCounts>> {
        self.inner.store.job_counts(crate::now()).await
    }
}
