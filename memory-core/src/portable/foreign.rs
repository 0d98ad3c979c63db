//! `memory migrate --from chroma://…/COLLECTION` (seed 004's
//! `migrate_chromadb`): the records of a collection another program wrote,
//! mapped onto memories, written page by page, resumable, verified by counts.

use std::collections::HashSet;

use serde::Serialize;

use super::foreign_map::{ForeignMapping, Skip};
use crate::traits::{ChangeSet, ForeignReader, ForeignRecord, VectorOp};
use crate::{EngineConfig, HistoryEvent, HistoryOp, Memory, MemoryRecord, Result, StoredMemory};

/// What an import of a foreign collection did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ForeignReport {
    /// The collection, without secrets.
    pub source: String,
    /// Records the collection holds.
    pub source_count: u64,
    /// Records read.
    pub scanned: u64,
    /// Memories written (dry: that would be).
    pub imported: u64,
    /// Records a previous run already imported.
    pub already_present: u64,
    /// Records with the same text for the same owner as another (kept once).
    pub duplicates: u64,
    /// Records without text.
    pub skipped_no_content: u64,
    /// Records with no user, agent or session (give `--user-id`).
    pub skipped_no_owner: u64,
    /// Records with a value the engine refuses, with the first reason.
    pub skipped_invalid: u64,
    /// The first reason a record was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_invalid: Option<String>,
    /// Vectors kept from the collection.
    pub embeddings_kept: u64,
    /// Memories embedded anew.
    pub re_embedded: u64,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Memories of this collection in the target afterwards.
    pub target_count: u64,
    /// Every record read, and the target holds each one imported.
    pub verified: bool,
}

impl ForeignReport {
    fn skip(&mut self, why: Skip) {
        match why {
            Skip::NoContent => self.skipped_no_content += 1,
            Skip::NoOwner => self.skipped_no_owner += 1,
            Skip::Invalid(m) => {
                self.skipped_invalid += 1;
                self.first_invalid.get_or_insert(m);
            }
        }
    }
}

/// Reads every page of `reader`, mapping records; hands each page's
/// memories (with the records' vectors) to `write`.
async fn scan(
    reader: &dyn ForeignReader,
    mapping: &ForeignMapping,
    config: &EngineConfig,
    batch: usize,
    report: &mut ForeignReport,
    mut progress: impl FnMut(u64, u64),
    mut write: impl AsyncFnMut(Vec<(MemoryRecord, Option<Vec<f32>>)>, &mut ForeignReport) -> Result<()>,
) -> Result<()> {
    report.source = reader.describe();
    report.source_count = reader.count().await?;
    let mut from: Option<String> = None;
    loop {
        let page = reader.page(from.as_deref(), batch.max(1)).await?;
        report.scanned += page.records.len() as u64;
        let mut mapped = Vec::with_capacity(page.records.len());
        for r in page.records {
            let ForeignRecord { embedding, .. } = &r;
            match mapping.map(&report.source, &r, config) {
                Ok(m) => mapped.push((m, embedding.clone())),
                Err(why) => report.skip(why),
            }
        }
        write(mapped, report).await?;
        progress(report.scanned, report.source_count);
        match page.next {
            Some(n) => from = Some(n),
            None => break,
        }
    }
    Ok(())
}

/// What an import would do, without opening (or creating) the target.
pub async fn survey_foreign(
    reader: &dyn ForeignReader,
    mapping: &ForeignMapping,
    config: &EngineConfig,
    batch: usize,
    progress: impl FnMut(u64, u64),
) -> Result<ForeignReport> {
    let mut report = ForeignReport {
        dry_run: true,
        ..ForeignReport::default()
    };
    scan(
        reader,
        mapping,
        config,
        batch,
        &mut report,
        progress,
        async |page, r| {
            r.imported += page.len() as u64;
            Ok(())
        },
    )
    .await?;
    report.verified = report.scanned == report.source_count;
    Ok(report)
}

impl Memory {
    /// Imports a foreign collection: each record becomes a memory whose id
    /// derives from the collection and the record's id, so a second run
    /// skips what the first wrote. Vectors are kept when `keep_embeddings`
    /// says they come from this engine's model and one window holds the
    /// text; otherwise the text is embedded anew.
    pub async fn import_foreign(
        &self,
        reader: &dyn ForeignReader,
        mapping: &ForeignMapping,
        batch: usize,
        progress: impl FnMut(u64, u64),
    ) -> Result<ForeignReport> {
        let mut report = ForeignReport::default();
        let config = self.inner.config.clone();
        let mut present_after = 0u64;
        scan(
            reader,
            mapping,
            &config,
            batch,
            &mut report,
            progress,
            async |page, r| {
                present_after += self.write_foreign_page(page, mapping, r).await?;
                Ok(())
            },
        )
        .await?;
        self.sync(true).await?;
        report.target_count = present_after;
        report.verified = report.scanned == report.source_count
            && present_after == report.imported + report.already_present;
        Ok(report)
    }

    /// Writes one page; answers how many of its memories the target holds
    /// afterwards.
    async fn write_foreign_page(
        &self,
        page: Vec<(MemoryRecord, Option<Vec<f32>>)>,
        mapping: &ForeignMapping,
        report: &mut ForeignReport,
    ) -> Result<u64> {
        let tenant = &mapping.tenant;
        let ids: Vec<uuid::Uuid> = page.iter().map(|(m, _)| m.id).collect();
        let present: HashSet<uuid::Uuid> = self
            .inner
            .store
            .get_memories(tenant, &ids)
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect();
        report.already_present += present.len() as u64;
        let model = self.inner.embedder.model_id().to_owned();
        let dim = self.inner.collection.dimension;
        let mut seen = HashSet::new();
        let mut kept = Vec::new();
        let mut fresh = Vec::new();
        for (mut m, vector) in page.into_iter().filter(|(m, _)| !present.contains(&m.id)) {
            if !seen.insert((m.scope.owner_key(), m.content_hash.clone()))
                || self
                    .inner
                    .store
                    .find_by_hash(&m.scope, &m.content_hash)
                    .await?
                    .is_some()
            {
                report.duplicates += 1;
                continue;
            }
            m.embedding_model = Some(model.clone());
            match vector {
                Some(v)
                    if mapping.keep_embeddings
                        && v.len() == dim
                        && self.windows(&m.content)?.is_none() =>
                {
                    kept.push(StoredMemory::new(m, Some(v)));
                }
                _ => fresh.push(m),
            }
        }
        let texts: Vec<String> = fresh.iter().map(|m| m.content.clone()).collect();
        let embedded = self.embed_contents(&texts).await?;
        report.embeddings_kept += kept.len() as u64;
        report.re_embedded += fresh.len() as u64;
        let mut changes = ChangeSet::default();
        let all = kept
            .into_iter()
            .chain(fresh.into_iter().zip(embedded).map(|(m, e)| StoredMemory {
                record: m,
                embedding: Some(e.vector),
                chunks: e.chunks,
            }));
        for s in all {
            let r = &s.record;
            changes.history.push(HistoryEvent::new(
                r,
                HistoryOp::Add,
                None,
                Some(r.content.clone()),
                "imported from a foreign collection",
            ));
            changes.outbox.push((r.id, VectorOp::Upsert));
            changes.insert.push(s);
        }
        report.imported += changes.insert.len() as u64;
        if !changes.is_empty() {
            self.inner.store.apply(changes).await?;
        }
        Ok(self.inner.store.get_memories(tenant, &ids).await?.len() as u64)
    }
}
