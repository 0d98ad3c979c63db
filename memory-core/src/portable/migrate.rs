//! `Memory::migrate_from`: copies users, sessions, messages and memories
//! (with ids, embeddings and history) from another store into this engine's,
//! in batches, resumably, then verifies the result.

use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use tokio::sync::watch;
use uuid::Uuid;

use super::conversations::{self, ConversationCounts};
use super::restore::{fingerprint, restore};
use crate::{Error, Memory, Result, Store};

/// Source histories read at once.
const HISTORY_READS: usize = 8;

/// How to migrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrateOptions {
    /// Report what would be copied without writing.
    pub dry_run: bool,
    /// Leave the embeddings behind; `sync` embeds with this engine's model.
    pub re_embed: bool,
    /// Memories per batch.
    pub batch: usize,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            re_embed: false,
            batch: 500,
        }
    }
}

/// What a migration did, and whether the target now equals the source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MigrateReport {
    /// Where the target's vectors live (no secrets).
    pub target_vectors: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Memories read from the source.
    pub scanned: u64,
    /// Memories written to the target.
    pub copied: u64,
    /// Memories the target held already (an earlier, interrupted run).
    pub skipped_existing: u64,
    /// Vectors written to the target index.
    pub vectors_written: u64,
    /// Memories in the source.
    pub source_count: u64,
    /// Memories in the target.
    pub target_count: u64,
    /// Fingerprint of the source's memories.
    pub source_checksum: String,
    /// Fingerprint of the target's memories.
    pub target_checksum: String,
    /// Users, sessions and messages copied.
    pub conversations_copied: ConversationCounts,
    /// Users, sessions and messages in the source.
    pub conversations_source: ConversationCounts,
    /// Users, sessions and messages in the target.
    pub conversations_target: ConversationCounts,
    /// Vectors in the target index, which must equal the memories.
    pub target_vectors_count: u64,
    /// Counts, checksums and the target's index all agree.
    pub verified: bool,
}

impl Memory {
    /// Copies everything of `source` into this engine's store and index.
    /// `progress` is told (memories scanned, memories in the source) after
    /// each batch. A run that stops part way is resumed by running it again:
    /// what the target holds already is skipped.
    pub async fn migrate_from(
        &self,
        source: &dyn Store,
        options: MigrateOptions,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<MigrateReport> {
        let MigrateOptions { dry_run, batch, .. } = options;
        if batch == 0 || batch > 10_000 {
            return Err(Error::invalid("batch must be within 1 and 10000"));
        }
        let dst = self.store().as_ref();
        let mut report = MigrateReport {
            target_vectors: self.vectors().info().location,
            dry_run,
            ..MigrateReport::default()
        };
        let (total, _) = fingerprint(source).await?;
        // Users, sessions and messages first: memories may name their messages.
        report.conversations_copied = conversations::scan(source, None, batch, async |items| {
            if !dry_run {
                conversations::write(dst, items).await?;
            }
            Ok(())
        })
        .await?;
        // The vectors are written (and, re-embedding, the texts embedded)
        // by a sync that runs beside the copy and takes pages as they are
        // copied, so the model is not idle while the store is written.
        let (copied_tx, copied_rx) = watch::channel(Copied::default());
        let copy = async {
            let mut after: Option<Uuid> = None;
            while let Some(page) = copy_page(source, dst, after, options).await? {
                after = Some(page.last);
                report.scanned += page.scanned;
                report.copied += page.copied;
                report.skipped_existing += page.skipped;
                progress(report.scanned, total);
                if page.copied > 0 {
                    copied_tx.send_modify(|c| c.queued += 1);
                }
            }
            copied_tx.send_modify(|c| c.done = true);
            Ok::<_, Error>(())
        };
        let written = if dry_run {
            copy.await?;
            0
        } else {
            let ((), beside) = futures::try_join!(copy, self.sync_beside(copied_rx))?;
            beside + self.sync(true).await?.upserted
        };
        report.vectors_written = written;
        (report.source_count, report.source_checksum) = fingerprint(source).await?;
        (report.target_count, report.target_checksum) = fingerprint(dst).await?;
        report.conversations_source = ConversationCounts::of(source).await?;
        report.conversations_target = ConversationCounts::of(dst).await?;
        let check = self.check(false).await?;
        report.target_vectors_count = check.index_count;
        report.verified = !dry_run
            && check.is_consistent()
            && report.source_count == report.target_count
            && report.source_checksum == report.target_checksum
            && report.conversations_source == report.conversations_target;
        Ok(report)
    }
}

/// How far `migrate_from`'s copy has got.
#[derive(Debug, Clone, Copy, Default)]
struct Copied {
    /// Pages that queued vectors.
    queued: u64,
    /// Whether every page is copied.
    done: bool,
}

impl Memory {
    /// Syncs while a copy runs, each time a page was copied since the last
    /// sync; returns the vectors written. Stops at the end of the copy, or
    /// once a write fails: a down index would otherwise be retried (and its
    /// texts embedded again) for every page; the caller's last sync tries
    /// once more.
    async fn sync_beside(&self, mut copied: watch::Receiver<Copied>) -> Result<u64> {
        let (mut synced, mut written) = (0, 0);
        loop {
            // Copied out at once: the borrow locks the channel, and the copy
            // (in the same task) sends on it.
            let now = match copied.wait_for(|c| c.queued > synced || c.done).await {
                Ok(now) => *now,
                Err(_) => return Ok(written),
            };
            let report = self.sync(true).await?;
            written += report.upserted;
            if now.done || report.failed > 0 {
                return Ok(written);
            }
            synced = now.queued;
        }
    }
}

/// One page of memories copied by `migrate_from`.
struct CopiedPage {
    /// The page's last id, where the next page starts.
    last: Uuid,
    scanned: u64,
    copied: u64,
    skipped: u64,
}

/// Copies the page of source memories after `after` (with histories);
/// `None` when the source has no more.
async fn copy_page(
    source: &dyn Store,
    dst: &dyn Store,
    after: Option<Uuid>,
    options: MigrateOptions,
) -> Result<Option<CopiedPage>> {
    let page = source.scan_memories(after, options.batch).await?;
    let Some(last) = page.last().map(|m| m.record.id) else {
        return Ok(None);
    };
    let scanned = page.len() as u64;
    // Histories are read a few at a time: one round trip each.
    let items: Vec<_> = futures::stream::iter(page)
        .map(async |m| {
            let history = source.history(&m.record.scope.tenant, m.record.id).await?;
            Ok::<_, Error>((m, history))
        })
        .buffered(HISTORY_READS)
        .try_collect()
        .await?;
    let (copied, skipped) = restore(dst, items, options.re_embed, options.dry_run).await?;
    Ok(Some(CopiedPage {
        last,
        scanned,
        copied,
        skipped,
    }))
}
