//! `Memory::migrate_from`: copies users, sessions, messages and memories
//! (with ids, embeddings and history) from another store into this engine's,
//! in batches, resumably, then verifies the result.

use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use uuid::Uuid;

use super::conversations::{self, ConversationCounts};
use super::restore::{fingerprint, restoring};
use crate::{ChangeSet, Error, Memory, Result, Store};

/// Source histories read at once.
const HISTORY_READS: usize = 8;

/// How to migrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrateOptions {
    /// Report what would be copied without writing.
    pub dry_run: bool,
    /// Leave the embeddings behind and embed every memory with this
    /// engine's model (those without a vector of it are embedded anyway).
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
        // For progress only: the verification below counts exactly.
        let total = source.stats(None).await?.memories;
        // Users, sessions and messages first: memories may name their messages.
        report.conversations_copied = conversations::scan(source, None, batch, async |items| {
            if !dry_run {
                conversations::write(dst, items).await?;
            }
            Ok(())
        })
        .await?;
        // Three pages in flight: while one page is embedded, the next is
        // read from the source and the one before is written (its
        // memories with their vectors, in one transaction on a store with
        // its own index), so the model waits for neither. Once the index
        // fails a page, later pages only queue theirs for the last sync,
        // so a down index is not tried again for every page.
        let mut read = self.read_page(source, None, options).await?;
        let mut embedded: Option<Page> = None;
        let (mut flushing, mut written) = (true, 0);
        while read.is_some() || embedded.is_some() {
            let after = read.as_ref().map(|p| p.last);
            let reading = async {
                match after {
                    Some(after) => self.read_page(source, Some(after), options).await,
                    None => Ok(None),
                }
            };
            let embedding = async {
                let mut page = read.take();
                if let Some(page) = page.as_mut().filter(|_| !dry_run)
                    && let Err(e) = self.embed_missing(&mut page.changes.insert).await
                {
                    // Copied all the same: the vector sync embeds what it
                    // can, and `check` reports what it cannot (as it does
                    // a text the model refused).
                    tracing::warn!(error = %e, "migrate: a page could not be embedded; its vectors are left to the sync");
                }
                page
            };
            let writing = async {
                match embedded.take() {
                    Some(page) if !dry_run => self.write_page(page.changes, flushing).await,
                    _ => Ok((0, false)),
                }
            };
            // All three run to the end: a failed read leaves the write
            // beside it whole rather than cut off part way.
            let (next, page, wrote) = futures::join!(reading, embedding, writing);
            let (upserted, failed) = wrote?;
            written += upserted;
            flushing &= !failed;
            if let Some(page) = page {
                report.scanned += page.scanned;
                report.copied += page.changes.insert.len() as u64;
                report.skipped_existing += page.skipped;
                progress(report.scanned, total);
                embedded = Some(page);
            }
            read = next?;
        }
        if !dry_run {
            written += self.sync(true).await?.upserted;
        }
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

/// A page of source memories `migrate_from` read.
struct Page {
    /// The page's last id, where the next page starts.
    last: Uuid,
    scanned: u64,
    /// Memories the target holds already (an earlier, interrupted run).
    skipped: u64,
    /// The memories the target lacks (embedded with its model before
    /// they are written).
    changes: ChangeSet,
}

impl Memory {
    /// Reads the page of source memories after `after` (with histories)
    /// and leaves out those the target holds; `None` when the source has
    /// no more.
    async fn read_page(
        &self,
        source: &dyn Store,
        after: Option<Uuid>,
        options: MigrateOptions,
    ) -> Result<Option<Page>> {
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
        let (changes, skipped) = restoring(self.store().as_ref(), items, options.re_embed).await?;
        Ok(Some(Page {
            last,
            scanned,
            skipped,
            changes,
        }))
    }

    /// Writes a page's memories and, while `flushing`, their vectors with
    /// them; returns the vectors written and whether the index failed (a
    /// vector it refused, or one the model did not embed, fails alone and
    /// stays queued).
    async fn write_page(&self, changes: ChangeSet, flushing: bool) -> Result<(u64, bool)> {
        if changes.insert.is_empty() {
            return Ok((0, false));
        }
        if flushing {
            let counts = self.apply_and_flush(changes).await?;
            return Ok((counts.upserted, counts.index_failed));
        }
        self.store().apply(changes).await?;
        Ok((0, false))
    }
}
