//! Bulk adds in a row of batches, each started while the one before it is
//! still writing, so the model never waits for the store.

use tokio::task::JoinHandle;

use super::Memory;
use super::requests::{AddOutcome, AddRequest};
use crate::{Error, Result};

/// Adds batches one after another with two in flight: a batch is embedded
/// while the batch before it is written (its duplicate lookups, its
/// transaction and its vectors), which is most of what keeps a bulk add
/// below the model's own throughput.
///
/// Each batch is one [`Memory::add_batch`]: validated as a whole and
/// written in one transaction. Two batches in flight may hold the same
/// text; the store's unique index turns the second insert into a conflict
/// and that batch is retried, so a text is stored once as it would be one
/// batch at a time. Near-duplicate merging (`dedup_threshold`, the
/// engine's or a request's) needs the batch before written first, so such
/// batches are not overlapped.
///
/// Dropping a pipeline does not cancel the batch in flight: it is written
/// anyway. Call [`AddPipeline::finish`] to have its outcomes.
#[derive(Debug)]
pub struct AddPipeline {
    memory: Memory,
    in_flight: Option<JoinHandle<Result<Vec<AddOutcome>>>>,
}

impl Memory {
    /// A pipeline of bulk adds ([`AddPipeline`]): what `import` writes with.
    pub fn add_pipeline(&self) -> AddPipeline {
        AddPipeline {
            memory: self.clone(),
            in_flight: None,
        }
    }
}

impl AddPipeline {
    /// Starts adding `batch` and returns the outcomes of the batch pushed
    /// before it, once that one is written (`None` for the first). An
    /// error is the earlier batch's; the batch just pushed is then written
    /// before the error is returned, so nothing is left running.
    pub async fn push(&mut self, batch: Vec<AddRequest>) -> Result<Option<Vec<AddOutcome>>> {
        let merges = self.memory.inner.config.dedup_threshold.is_some()
            || batch.iter().any(|r| r.dedup_threshold.is_some());
        let before = if merges { self.wait().await? } else { None };
        let memory = self.memory.clone();
        let started = tokio::spawn(async move { memory.add_batch(batch).await });
        let Some(previous) = self.in_flight.replace(started) else {
            return Ok(before);
        };
        match joined(previous).await {
            Ok(outcomes) => Ok(Some(outcomes)),
            Err(e) => {
                // The batch behind a failed one still lands (or fails) in
                // full before the caller hears of the failure.
                if let Err(later) = self.wait().await {
                    tracing::warn!(error = %later, "the batch after a failed one failed too");
                }
                Err(e)
            }
        }
    }

    /// Waits for the batch in flight and returns its outcomes.
    pub async fn finish(mut self) -> Result<Option<Vec<AddOutcome>>> {
        self.wait().await
    }

    /// Waits for the batch in flight, so what comes next sees it written;
    /// returns its outcomes, or `None` when there was none.
    pub async fn wait(&mut self) -> Result<Option<Vec<AddOutcome>>> {
        match self.in_flight.take() {
            Some(h) => joined(h).await.map(Some),
            None => Ok(None),
        }
    }
}

async fn joined(h: JoinHandle<Result<Vec<AddOutcome>>>) -> Result<Vec<AddOutcome>> {
    h.await
        .map_err(|e| Error::internal(format!("an add batch's task failed: {e}")))?
}
