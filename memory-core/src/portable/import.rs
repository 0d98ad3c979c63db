//! `Memory::importer`: JSON lines of an export (restored exactly: ids,
//! history, vectors), memories to add, or messages to record (lines with a
//! `role`), in batches.

use serde::Serialize;

use super::conversations::{self, ConversationItem};
use super::restore::restore;
use crate::{
    AddEvent, AddOutcome, AddPipeline, AddRequest, Error, HistoryEvent, Memory, RecordMessage,
    Result, StoredMemory,
};

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Memories added.
    pub added: u64,
    /// Memories already stored (same content, or an exported id already there).
    pub unchanged: u64,
    /// Memories merged into a near-duplicate.
    pub merged: u64,
    /// Exported memories restored exactly.
    pub restored: u64,
    /// Messages recorded.
    pub messages: u64,
    /// Exported messages restored.
    pub restored_messages: u64,
}

/// Takes import lines one at a time and writes them in batches; call
/// [`Importer::finish`] to write the rest.
#[derive(Debug)]
pub struct Importer<'a> {
    memory: &'a Memory,
    tenant: String,
    batch: usize,
    adds: Vec<(usize, AddRequest)>,
    /// Batches of adds are written while the next is embedded.
    pipeline: AddPipeline,
    /// The first line of the batch of adds in flight.
    in_flight: Option<usize>,
    exported: Vec<(StoredMemory, Vec<HistoryEvent>)>,
    conversations: Vec<ConversationItem>,
    report: ImportReport,
}

/// The error for line `n`.
fn at(n: usize, what: impl std::fmt::Display) -> Error {
    Error::invalid(format!("line {n}: {what}"))
}

impl Memory {
    /// An importer into `tenant` (the default of lines that name none)
    /// writing `batch` lines at a time.
    pub fn importer(&self, tenant: &str, batch: usize) -> Result<Importer<'_>> {
        if batch == 0 || batch > self.config().max_batch {
            return Err(Error::invalid(format!(
                "batch must be within 1 and {}",
                self.config().max_batch
            )));
        }
        Ok(Importer {
            memory: self,
            tenant: tenant.to_owned(),
            batch,
            adds: Vec::new(),
            pipeline: self.add_pipeline(),
            in_flight: None,
            exported: Vec::new(),
            conversations: Vec::new(),
            report: ImportReport::default(),
        })
    }
}

impl Importer<'_> {
    /// Takes line `n` (counted from 1, for errors) of the input.
    pub async fn push(&mut self, n: usize, line: &str) -> Result<()> {
        if line.trim().is_empty() {
            return Ok(());
        }
        let mut value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| at(n, format!("not JSON ({e})")))?;
        let obj = value
            .as_object_mut()
            .ok_or_else(|| at(n, "not a JSON object"))?;
        match obj.get("type").and_then(|t| t.as_str()) {
            // Adds in flight land before anything else is written.
            Some("user" | "session" | "topic" | "message") => {
                self.wait_adds().await?;
                let item: ConversationItem = serde_json::from_value(value).map_err(|e| {
                    at(
                        n,
                        format!("not an exported user, session, topic or message ({e})"),
                    )
                })?;
                self.conversations.push(item);
                if self.conversations.len() >= self.batch {
                    self.write_conversations()
                        .await
                        .map_err(|e| e.context(format!("line {n}")))?;
                }
            }
            Some("memory") => {
                self.wait_adds().await?;
                // Conversations come first in an export; memories may name their messages.
                self.write_conversations()
                    .await
                    .map_err(|e| e.context(format!("line {n}")))?;
                let memory = obj
                    .remove("memory")
                    .ok_or_else(|| at(n, "exported line without \"memory\""))?;
                let stored: StoredMemory = serde_json::from_value(memory)
                    .map_err(|e| at(n, format!("not an exported memory ({e})")))?;
                let history: Vec<HistoryEvent> = obj
                    .remove("history")
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(|e| at(n, format!("history ({e})")))?
                    .unwrap_or_default();
                self.exported.push((stored, history));
                if self.exported.len() >= self.batch {
                    self.write_exported().await?;
                }
            }
            _ => {
                obj.entry("tenant")
                    .or_insert_with(|| self.tenant.clone().into());
                if obj.contains_key("role") {
                    self.wait_adds().await?;
                    let msg: RecordMessage = serde_json::from_value(value)
                        .map_err(|e| at(n, format!("not a message ({e})")))?;
                    self.memory
                        .record_message(msg)
                        .await
                        .map_err(|e| e.context(format!("line {n}")))?;
                    self.report.messages += 1;
                } else {
                    let req: AddRequest = serde_json::from_value(value)
                        .map_err(|e| at(n, format!("not a memory ({e})")))?;
                    self.adds.push((n, req));
                    if self.adds.len() >= self.batch {
                        self.write_adds().await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes what is buffered and drains the vector outbox of restored
    /// memories; returns what the whole import did.
    pub async fn finish(mut self) -> Result<ImportReport> {
        self.write_adds().await?;
        self.wait_adds().await?;
        self.write_conversations().await?;
        self.write_exported().await?;
        // Also what an interrupted run left queued: a re-run finishes the job.
        let queued = self.memory.store().outbox_pending(1, u32::MAX).await?;
        if !queued.is_empty() {
            self.memory.sync(true).await?;
        }
        Ok(self.report)
    }

    async fn write_conversations(&mut self) -> Result<()> {
        if !self.conversations.is_empty() {
            let items = std::mem::take(&mut self.conversations);
            let written = conversations::write(self.memory.store().as_ref(), items).await?;
            self.report.restored_messages += written.messages;
        }
        Ok(())
    }

    async fn write_exported(&mut self) -> Result<()> {
        if !self.exported.is_empty() {
            let items = std::mem::take(&mut self.exported);
            let (written, present) = restore(self.memory.store().as_ref(), items).await?;
            self.report.restored += written;
            self.report.unchanged += present;
        }
        Ok(())
    }

    /// Starts writing the buffered adds; counts the batch before, which
    /// was in flight meanwhile.
    async fn write_adds(&mut self) -> Result<()> {
        let Some(first) = self.adds.first().map(|(n, _)| *n) else {
            return Ok(());
        };
        let reqs: Vec<AddRequest> = self.adds.drain(..).map(|(_, r)| r).collect();
        let before = self.in_flight.replace(first);
        let done = self.pipeline.push(reqs).await;
        self.count(done, before)
    }

    /// Waits for the adds in flight.
    async fn wait_adds(&mut self) -> Result<()> {
        let before = self.in_flight.take();
        let done = self.pipeline.wait().await;
        self.count(done, before)
    }

    /// Counts the outcomes of the batch starting at line `first`.
    fn count(&mut self, done: Result<Option<Vec<AddOutcome>>>, first: Option<usize>) -> Result<()> {
        let outcomes = done.map_err(|e| match first {
            Some(n) => e.context(format!("batch starting at line {n}")),
            None => e,
        })?;
        for o in outcomes.into_iter().flatten() {
            match o.event {
                AddEvent::Added => self.report.added += 1,
                AddEvent::Unchanged => self.report.unchanged += 1,
                AddEvent::Merged => self.report.merged += 1,
            }
        }
        Ok(())
    }
}
