//! `memory migrate`: copies users, sessions, messages and memories (with
//! ids, embeddings and history) between any two stores, in batches, resumably, and verifies the result.

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use memory::{ChangeSet, Config, HistoryEvent, Store, StoredMemory, VectorOp};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::output::Out;

/// What a migration did.
#[derive(Debug, Default, serde::Serialize)]
struct Report {
    source: String,
    target: String,
    target_vectors: String,
    dry_run: bool,
    scanned: u64,
    copied: u64,
    skipped_existing: u64,
    vectors_written: u64,
    source_count: u64,
    target_count: u64,
    source_checksum: String,
    target_checksum: String,
    conversations_copied: crate::conversations::Counts,
    conversations_source: crate::conversations::Counts,
    conversations_target: crate::conversations::Counts,
    /// Vectors in the target index, which must equal the memories.
    target_vectors_count: u64,
    verified: bool,
}

/// Count and SHA-256 over (id, content hash, version) of every memory, in id order.
async fn fingerprint(store: &dyn Store) -> Result<(u64, String)> {
    let mut h = Sha256::new();
    let (mut n, mut after) = (0u64, None);
    loop {
        let page = store.scan_memories(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.record.id);
        for m in &page {
            h.update(m.record.id.as_bytes());
            h.update(m.record.content_hash.as_bytes());
            h.update(m.record.version.to_le_bytes());
            n += 1;
        }
    }
    Ok((n, hex_digest(h)))
}

fn hex_digest(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes memories (with their ids, embeddings and history) that `dst` does
/// not hold yet and queues their vectors; returns (written, already there).
/// Rows already present were written by an earlier, interrupted run.
pub(crate) async fn restore(
    dst: &dyn Store,
    items: Vec<(StoredMemory, Vec<HistoryEvent>)>,
    re_embed: bool,
    dry_run: bool,
) -> Result<(u64, u64)> {
    let ids: Vec<Uuid> = items.iter().map(|(m, _)| m.record.id).collect();
    let present: std::collections::HashSet<Uuid> = dst
        .get_stored(&ids)
        .await?
        .into_iter()
        .map(|m| m.record.id)
        .collect();
    let mut changes = ChangeSet::default();
    for (m, history) in items
        .into_iter()
        .filter(|(m, _)| !present.contains(&m.record.id))
    {
        let mut record = m.record;
        let embedding = if re_embed {
            // Vectors missing or from another model are (re-)embedded by sync.
            record.embedding_model = None;
            None
        } else {
            m.embedding
        };
        changes.history.extend(history);
        changes.outbox.push((record.id, VectorOp::Upsert));
        changes.insert.push(StoredMemory { record, embedding });
    }
    let written = changes.insert.len() as u64;
    if !dry_run && written > 0 {
        dst.apply(changes).await?;
    }
    Ok((written, present.len() as u64))
}

/// What to copy where.
pub(crate) struct Plan {
    pub(crate) from: String,
    pub(crate) to: String,
    /// The target's vector index, if not the target store's own.
    pub(crate) vectors: Option<String>,
    pub(crate) dry_run: bool,
    pub(crate) re_embed: bool,
    pub(crate) batch: usize,
}

pub(crate) async fn run(base: Config, plan: &Plan, out: &Out) -> Result<()> {
    let Plan {
        from,
        to,
        dry_run,
        re_embed,
        batch,
        ..
    } = plan;
    let (dry_run, re_embed, batch) = (*dry_run, *re_embed, *batch);
    if from == to {
        bail!("--from and --to are the same store");
    }
    if batch == 0 || batch > 10_000 {
        bail!("--batch must be within 1 and 10000");
    }
    let source = memory::open_store_url(from).await?;
    let target = memory::open(&Config {
        store: to.to_owned(),
        vectors: plan.vectors.clone().map(memory::Urls::One),
        ..base
    })
    .await?;
    let dst = target.store().clone();
    let mut report = Report {
        source: memory::redact(from),
        target: memory::redact(to),
        target_vectors: target.vectors().info().location,
        dry_run,
        ..Report::default()
    };
    let (source_count, _) = fingerprint(source.as_ref()).await?;
    let bar = if out.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(source_count)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} memories {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Users, sessions and messages first: memories may name their messages.
    report.conversations_copied =
        crate::conversations::scan(source.as_ref(), None, batch, async |items| {
            if !dry_run {
                crate::conversations::write(dst.as_ref(), items).await?;
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
        let ids: Vec<Uuid> = page.iter().map(|m| m.record.id).collect();
        let mut items = Vec::with_capacity(page.len());
        for m in page {
            let history = source.history(&m.record.scope.tenant, m.record.id).await?;
            items.push((m, history));
        }
        let (copied, skipped) = restore(dst.as_ref(), items, re_embed, dry_run).await?;
        report.copied += copied;
        report.skipped_existing += skipped;
        bar.inc(ids.len() as u64);
    }
    bar.finish_and_clear();
    if !dry_run {
        report.vectors_written = target.sync(true).await?.upserted;
    }
    let (sc, scs) = fingerprint(source.as_ref()).await?;
    let (tc, tcs) = fingerprint(dst.as_ref()).await?;
    report.source_count = sc;
    report.target_count = tc;
    report.source_checksum = scs;
    report.target_checksum = tcs;
    report.conversations_source = crate::conversations::count(source.as_ref()).await?;
    report.conversations_target = crate::conversations::count(dst.as_ref()).await?;
    let check = target.check(false).await?;
    report.target_vectors_count = check.index_count;
    report.verified = !dry_run
        && check.is_consistent()
        && sc == tc
        && report.source_checksum == report.target_checksum
        && report.conversations_source == report.conversations_target;
    out.value(&report)?;
    if !dry_run && !report.verified {
        bail!("verification failed: the target differs from the source (counts {sc} / {tc})");
    }
    Ok(())
}
