//! Maintenance: sync the outbox, reindex, decay, consistency checks, stats.

use std::collections::{BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Memory;
use super::chunking::EmbedInput;
use super::outbox::Prepared;
use super::score::half_life;
use crate::traits::{ChangeSet, ShortTermStats, StoreStats, VectorOp, VersionedUpdate};
use crate::{Error, ErrorKind, HistoryEvent, HistoryOp, Result, StoredMemory};

const PAGE: usize = 256;

/// Outbox pages prepared at once by `sync`.
const PAGES_AHEAD: usize = 2;

/// Times `reindex` embeds one page again because other writes changed
/// its memories meanwhile, before it gives up.
const MAX_PAGE_CONFLICTS: u32 = 8;

/// A page `sync` prepares on a task of its own, stopped when dropped: a
/// sync that ends early (the index went down, or its caller stopped
/// waiting) leaves no task reading and embedding pages nobody will write.
struct Ahead(tokio::task::JoinHandle<Prepared>);

impl Drop for Ahead {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What `sync` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SyncReport {
    /// Vectors written.
    pub upserted: u64,
    /// Vectors removed.
    pub deleted: u64,
    /// Writes that failed and stay queued.
    pub failed: u64,
}

/// What `decay` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DecayReport {
    /// Memories looked at.
    pub scanned: u64,
    /// Memories whose importance was lowered.
    pub decayed: u64,
    /// Memories removed because importance fell below the threshold.
    pub pruned: u64,
    /// Memories removed because they expired.
    pub expired: u64,
}

/// What `check` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckReport {
    /// Vectors the store's memories should have in the index: one per
    /// memory, plus one per further window of a memory longer than the
    /// embedder's window.
    pub store_count: u64,
    /// Vectors in the index.
    pub index_count: u64,
    /// Memories whose vector write is still queued.
    pub pending: u64,
    /// Vectors (a memory's, or a window's) that are not in the index: lost,
    /// or still queued (`pending` counts those) or failed in the outbox.
    pub missing_vectors: Vec<Uuid>,
    /// Vectors with no memory in the store.
    pub orphan_vectors: Vec<Uuid>,
    /// Whether missing vectors were queued and orphans deleted.
    pub repaired: bool,
}

impl CheckReport {
    /// Whether store and index agree: every memory has its vector and no
    /// vector lacks its memory.
    pub fn is_consistent(&self) -> bool {
        self.missing_vectors.is_empty() && self.orphan_vectors.is_empty()
    }
}

/// Everything `stats` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EngineStats {
    /// Store counts.
    pub store: StoreStats,
    /// Vectors in the index.
    pub vectors: Option<u64>,
    /// Short-term sizes (`None` when the tier did not answer).
    pub short_term: Option<ShortTermStats>,
    /// Short-term calls that failed since start and were survived.
    pub short_term_failures: u64,
    /// Embedder model.
    pub embedder: String,
    /// Vector dimension.
    pub dimension: usize,
    /// Backends in use: role → scheme and location.
    pub backends: serde_json::Value,
    /// The job queue by kind (all tenants: the queue serves the store).
    pub jobs: Vec<crate::traits::JobCounts>,
    /// Language-model calls and tokens per tenant since this process started.
    pub llm: Vec<crate::extract::LlmUsage>,
}

impl Memory {
    /// Drains the vector outbox: writes queued vectors and deletes. Rows that
    /// failed `max_vector_attempts` times are retried only with `force`.
    pub async fn sync(&self, force: bool) -> Result<SyncReport> {
        let max = if force {
            u32::MAX
        } else {
            self.inner.config.max_vector_attempts
        };
        let mut report = SyncReport::default();
        let mut seen = BTreeSet::new();
        // Pages are prepared (read, and embedded when a memory has no
        // vector, as after `migrate --re-embed`) on their own tasks, two at
        // once, while the oldest is written to the index: the model always
        // holds the next page's texts, and the index sees the pages in order.
        let mut ahead: VecDeque<Ahead> = VecDeque::new();
        loop {
            while ahead.len() < PAGES_AHEAD {
                // The pages in flight and the rows that failed this call
                // (the index refused them) are still pending: read past them.
                let stuck = usize::try_from(report.failed).unwrap_or(usize::MAX);
                let entries = self
                    .inner
                    .store
                    .outbox_pending(stuck.saturating_add((ahead.len() + 1) * PAGE), max)
                    .await?;
                // Each row is tried once per call.
                let fresh: Vec<(Uuid, VectorOp)> = entries
                    .iter()
                    .filter(|e| seen.insert((e.memory_id, e.op.as_str())))
                    .take(PAGE)
                    .map(|e| (e.memory_id, e.op))
                    .collect();
                if fresh.is_empty() {
                    break;
                }
                let m = self.clone();
                ahead.push_back(Ahead(tokio::spawn(async move {
                    m.prepare(&fresh, Vec::new()).await
                })));
            }
            let Some(mut oldest) = ahead.pop_front() else {
                break;
            };
            let page = (&mut oldest.0)
                .await
                .map_err(|e| Error::internal(format!("vector sync: a page was lost: {e}")))?;
            let c = self.commit(page).await;
            report.upserted += c.upserted;
            report.deleted += c.deleted;
            report.failed += c.failed;
            // An index that is down would fail every page behind this one.
            if c.index_failed {
                break;
            }
        }
        Ok(report)
    }

    /// Re-embeds every memory with the current embedder and rewrites the index.
    pub async fn reindex(&self) -> Result<u64> {
        let name = &self.inner.collection.name;
        self.inner.vectors.drop_collection(name).await?;
        self.inner
            .vectors
            .create_collection(&self.inner.collection)
            .await?;
        let mut after = None;
        let mut total = 0;
        let mut conflicts = 0;
        loop {
            let page = self.inner.store.scan_memories(after, PAGE).await?;
            let Some(last) = page.last().map(|m| m.record.id) else {
                break;
            };
            // The new embedder's window may split texts differently. A
            // text it cannot take (past `chunking.max_chunks`) stays
            // queued with that error, as the sync leaves it, rather than
            // failing the rebuild of every other memory.
            let mut changes = ChangeSet::default();
            let mut planned = Vec::with_capacity(page.len());
            for m in page {
                match self.windows_or_refused(&m.record.content)? {
                    Ok(windows) => planned.push((m, windows)),
                    Err(why) => {
                        tracing::warn!(memory = %m.record.id, error = %why, "reindex: the model cannot embed this memory; left queued");
                        changes.outbox.push((m.record.id, VectorOp::Upsert));
                    }
                }
            }
            let vectors = {
                let inputs: Vec<EmbedInput<'_>> = planned
                    .iter()
                    .map(|(m, w)| EmbedInput::of(&m.record.content, &m.record.metadata).planned(w))
                    .collect();
                self.embed_inputs(&inputs).await?
            };
            for ((m, _), v) in planned.into_iter().zip(vectors) {
                let mut record = m.record;
                record.embedding_model = Some(self.inner.embedder.model_id().to_owned());
                changes.outbox.push((record.id, VectorOp::Upsert));
                changes.update.push(VersionedUpdate {
                    expected_version: record.version,
                    memory: StoredMemory {
                        record,
                        embedding: Some(v.vector),
                        chunks: v.chunks,
                    },
                    replace_embedding: true,
                });
            }
            match self.apply_and_flush(changes).await {
                Ok(c) => {
                    total += c.upserted;
                    after = Some(last);
                    conflicts = 0;
                }
                // A memory of the page changed while it was embedded, and
                // the page's change set was refused whole: the page is read
                // and embedded again, or its other memories would keep no
                // vector in the new collection.
                Err(e) if e.kind() == ErrorKind::Conflict && conflicts < MAX_PAGE_CONFLICTS => {
                    conflicts += 1;
                }
                Err(e) => return Err(e),
            }
        }
        super::scheme::record(
            self.inner.store.as_ref(),
            name,
            self.inner.embedder.as_ref(),
        )
        .await?;
        Ok(total)
    }

    /// Lowers importance by time since last access (half-life
    /// `decay_half_life_days`), prunes memories below `prune_below` and expired ones.
    pub async fn decay(&self, now: DateTime<Utc>) -> Result<DecayReport> {
        self.prune(now, true).await
    }

    /// Removes the memories past their `expires_at` (with a history row and
    /// their vectors), and nothing else.
    pub async fn expire(&self, now: DateTime<Utc>) -> Result<DecayReport> {
        self.prune(now, false).await
    }

    /// Drops inactive sessions from the short-term tier; returns how many.
    pub async fn cleanup_short_term(&self) -> Result<u64> {
        self.inner.short_term.cleanup().await
    }

    async fn prune(&self, now: DateTime<Utc>, decay: bool) -> Result<DecayReport> {
        let cfg = &self.inner.config;
        let mut report = DecayReport::default();
        let mut after = None;
        loop {
            let page = self.inner.store.scan_memories(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.record.id);
            let mut changes = ChangeSet::default();
            for m in page {
                report.scanned += 1;
                let r = m.record;
                // The last decay (or update) is a checkpoint, so runs do not compound.
                let since = r.last_accessed_at.max(r.updated_at);
                #[allow(clippy::cast_precision_loss)]
                let days = (now - since).num_milliseconds() as f64 / 86_400_000.0;
                let next_importance = r.importance * half_life(days, cfg.decay_half_life_days);
                let (prune, reason) = if r.is_expired(now) {
                    report.expired += 1;
                    (true, "expired".to_owned())
                } else if !decay {
                    (false, String::new())
                } else if next_importance < cfg.prune_below {
                    report.pruned += 1;
                    (
                        true,
                        format!(
                            "importance decayed to {next_importance:.2}, below {}",
                            cfg.prune_below
                        ),
                    )
                } else {
                    (false, String::new())
                };
                if prune {
                    changes.history.push(HistoryEvent::new(
                        &r,
                        HistoryOp::Delete,
                        Some(r.content.clone()),
                        None,
                        reason,
                    ));
                    changes.outbox.push((r.id, VectorOp::Delete));
                    changes.delete.push(r.id);
                } else if decay && r.importance - next_importance > 0.01 {
                    report.decayed += 1;
                    let mut next = r.clone();
                    next.importance = next_importance;
                    next.updated_at = now;
                    next.version += 1;
                    changes.history.push(HistoryEvent::new(
                        &r,
                        HistoryOp::Decay,
                        None,
                        None,
                        format!("importance {:.2} → {next_importance:.2}", r.importance),
                    ));
                    changes.outbox.push((r.id, VectorOp::Upsert));
                    changes.update.push(VersionedUpdate {
                        expected_version: r.version,
                        memory: StoredMemory::new(next, None),
                        replace_embedding: false,
                    });
                }
            }
            if changes.is_empty() {
                continue;
            }
            let ops = changes.outbox.clone();
            match self.inner.store.apply(changes).await {
                Ok(()) => {
                    self.flush(&ops, Vec::new()).await;
                }
                // Touched meanwhile: it was just used, so skipping its decay is right.
                Err(e) if e.kind() == ErrorKind::Conflict => {
                    tracing::info!("decay: a page changed concurrently; it decays on the next run");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// Compares store and index: memories whose vector is not in the index
    /// (lost, or still queued in the outbox) and vectors with no memory. With `repair`, queues the missing and deletes the orphans.
    pub async fn check(&self, repair: bool) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        let mut store_ids = BTreeSet::new();
        // Which memory each expected vector belongs to: repairing a missing
        // window rewrites its whole memory.
        let mut owners = std::collections::HashMap::new();
        let mut after = None;
        loop {
            let page = self.inner.store.scan_memories(after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.record.id);
            for m in page {
                for id in m.vector_ids() {
                    store_ids.insert(id);
                    owners.insert(id, m.record.id);
                }
                if m.record.vector_state != crate::VectorState::Synced {
                    report.pending += 1;
                }
            }
        }
        let name = &self.inner.collection.name;
        let mut index_ids = BTreeSet::new();
        let mut after = None;
        loop {
            let ids = self.inner.vectors.list_ids(name, after, 1000).await?;
            let Some(last) = ids.last() else { break };
            after = Some(*last);
            index_ids.extend(ids);
        }
        report.store_count = store_ids.len() as u64;
        report.index_count = index_ids.len() as u64;
        // A memory whose vector write is pending or failed is missing from
        // the index as surely as a synced one whose vector was lost.
        report.missing_vectors = store_ids.difference(&index_ids).copied().collect();
        report.orphan_vectors = index_ids.difference(&store_ids).copied().collect();
        if repair && !report.is_consistent() {
            for chunk in report.orphan_vectors.chunks(500) {
                self.inner.vectors.delete(name, chunk).await?;
            }
            let memories: BTreeSet<Uuid> = report
                .missing_vectors
                .iter()
                .filter_map(|id| owners.get(id).copied())
                .collect();
            let changes = ChangeSet {
                outbox: memories
                    .into_iter()
                    .map(|id| (id, VectorOp::Upsert))
                    .collect(),
                ..ChangeSet::default()
            };
            if !changes.is_empty() {
                self.inner.store.apply(changes).await?;
                self.sync(true).await?;
            }
            report.repaired = true;
        }
        Ok(report)
    }

    /// Counts across the backends; a backend that fails is reported as `None`.
    pub async fn stats(&self, tenant: Option<&str>) -> Result<EngineStats> {
        let store = self.inner.store.stats(tenant).await?;
        let vectors = self
            .inner
            .vectors
            .count(&self.inner.collection.name, tenant)
            .await
            .ok();
        let short_term = self.inner.short_term.stats().await.ok();
        Ok(EngineStats {
            store,
            vectors,
            short_term,
            short_term_failures: self.short_term_failures(),
            embedder: self.inner.embedder.model_id().to_owned(),
            dimension: self.inner.collection.dimension,
            backends: self.status(),
            jobs: self.inner.store.job_counts(crate::now()).await?,
            llm: self.llm_usage(tenant),
        })
    }

    /// Which backend serves which role.
    pub fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "store": self.inner.store.info(),
            "vectors": self.inner.vectors.info(),
            "vectors_skipped": self.inner.skipped_vectors,
            "store_skipped": self.inner.skipped_stores,
            "keywords": self.inner.keywords.as_ref().map(|k| k.info()),
            "short_term": self.inner.short_term.info(),
            "embedder": { "model": self.inner.embedder.model_id(), "dimension": self.inner.embedder.dimension() },
            "language_model": self.inner.llm.as_ref().map(|l| l.model_id().to_owned()),
        })
    }
}
