//! `Memory::migrate_from`: copies users, sessions, messages and memories
//! (with ids, embeddings and history) from another store into this engine's,
//! in batches, resumably, then verifies the result.

use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;
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
        let MigrateOptions {
            dry_run,
            re_embed,
            batch,
        } = options;
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
        let mut after: Option<Uuid> = None;
        loop {
            let page = source.scan_memories(after, batch).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.record.id);
            report.scanned += page.len() as u64;
            // Histories are read a few at a time: one round trip each.
            let items: Vec<_> = futures::stream::iter(page)
                .map(async |m| {
                    let history = source.history(&m.record.scope.tenant, m.record.id).await?;
                    Ok::<_, Error>((m, history))
                })
                .buffered(HISTORY_READS)
                .try_collect()
                .await?;
            let (copied, skipped) = restore(dst, items, re_embed, dry_run).await?;
            report.copied += copied;
            report.skipped_existing += skipped;
            progress(report.scanned, total);
        }
        if !dry_run {
            report.vectors_written = self.sync(true).await?.upserted;
        }
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
