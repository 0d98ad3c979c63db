//! Engine case on bulk adds with two batches in flight (`add_pipeline`).

use std::collections::HashMap;

use memory_core::{AddOutcome, MigrateOptions};

use super::*;

/// Overlapping batches store each text once, as one batch after another
/// would: batches sharing texts race to insert them, and the store's
/// unique index sends the loser back to find the winner's row. Batches
/// that merge near-duplicates wait for the batch before.
pub(super) async fn pipelined_batches_store_each_text_once(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let text = |i: usize| format!("fact number {i} about the garden");
    // Each batch shares half its texts with the one before it.
    let batches: Vec<Vec<usize>> = (0..4).map(|b| (b * 20..b * 20 + 40).collect()).collect();
    let mut pipeline = m.add_pipeline();
    let mut outcomes: Vec<AddOutcome> = Vec::new();
    for batch in &batches {
        let reqs = batch
            .iter()
            .map(|&i| AddRequest::new(r.scope.clone(), text(i)))
            .collect();
        let done = pipeline.push(reqs).await.or_fail("push")?;
        outcomes.extend(done.into_iter().flatten());
    }
    outcomes.extend(
        pipeline
            .finish()
            .await
            .or_fail("finish")?
            .into_iter()
            .flatten(),
    );
    let texts: Vec<usize> = batches.iter().flatten().copied().collect();
    ensure!(
        outcomes.len() == texts.len(),
        "{} outcomes for {} items",
        outcomes.len(),
        texts.len()
    );
    let mut ids: HashMap<usize, uuid::Uuid> = HashMap::new();
    let mut added: HashMap<usize, usize> = HashMap::new();
    for (&t, o) in texts.iter().zip(&outcomes) {
        let id = *ids.entry(t).or_insert(o.id);
        ensure!(id == o.id, "text {t} has two ids: {id} and {}", o.id);
        if o.event == AddEvent::Added {
            *added.entry(t).or_default() += 1;
        }
    }
    ensure!(
        ids.len() == 100 && (0..100).all(|t| added.get(&t) == Some(&1)),
        "each of 100 texts must be added exactly once: {added:?}"
    );
    let check = m.check(false).await.or_fail("check")?;
    ensure!(
        check.is_consistent() && check.pending == 0 && check.index_count == 100,
        "check: {check:?}"
    );

    // Merging needs the batch before written: not overlapped. Another
    // owner's, so the near-duplicate lookup is not among the 100 above
    // (an approximate index may miss the nearest of many).
    let carol = Scope::user("carol").with_tenant(r.scope.tenant.clone());
    let mut pipeline = m.add_pipeline();
    let none = pipeline
        .push(vec![AddRequest::new(carol.clone(), "Alice loves cats")])
        .await
        .or_fail("push first")?;
    ensure!(none.is_none(), "a first batch has no batch before it");
    let near = AddRequest::new(carol, "alice LOVES cats!").dedup_threshold(0.95);
    let first = pipeline
        .push(vec![near])
        .await
        .or_fail("push near")?
        .unwrap_or_default();
    let merged = pipeline
        .finish()
        .await
        .or_fail("finish")?
        .unwrap_or_default();
    ensure!(
        first.len() == 1
            && merged.len() == 1
            && merged[0].event == AddEvent::Merged
            && merged[0].id == first[0].id,
        "near duplicate in the next batch: {first:?} then {merged:?}"
    );
    Ok(())
}

/// A sync of several pages of the outbox (two pages prepared at once while
/// the one before is written to the index) drains all of them: upserts, and
/// the deletes queued after some of them.
pub(super) async fn a_sync_drains_many_pages(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    r.flaky.set_down(true);
    let mut ids = Vec::new();
    for part in 0..3 {
        let reqs = (0..250)
            .map(|i| AddRequest::new(r.scope.clone(), format!("queued fact {part}-{i}")))
            .collect();
        let done = m.add_batch(reqs).await.or_fail("add while down")?;
        ids.extend(done.into_iter().map(|o| o.id));
    }
    for id in ids.iter().step_by(50) {
        m.delete(&r.scope.tenant, *id)
            .await
            .or_fail("delete while down")?;
    }
    // A sync while the index is down stops at the first page it cannot
    // write, rather than failing every page in turn.
    let before = r.flaky.refused_upserts();
    let report = m.sync(false).await.or_fail("sync while down")?;
    let tried = r.flaky.refused_upserts() - before;
    ensure!(
        report.upserted == 0 && tried <= 256,
        "a sync while down tried {tried} vector writes: {report:?}"
    );
    r.flaky.set_down(false);
    let report = m.sync(false).await.or_fail("sync")?;
    ensure!(
        report.upserted == 735 && report.deleted == 15 && report.failed == 0,
        "sync of 750 queued adds, 15 of them deleted: {report:?}"
    );
    let check = m.check(false).await.or_fail("check")?;
    ensure!(
        check.is_consistent() && check.pending == 0 && check.index_count == 735,
        "check: {check:?}"
    );
    Ok(())
}

/// `migrate --re-embed` embeds each page while the one before is written
/// (memories with their vectors), and ends with every memory embedded
/// once and the copy verified. With the target's index down, the copy goes
/// on, the index is not retried page after page, and a second run
/// completes the vectors.
pub(super) async fn migrate_embeds_while_it_copies(
    from: &Backends,
    to: &Backends,
    down_to: &Backends,
) -> CaseResult {
    let src = rig(from, EngineConfig::default()).await?;
    for part in 0..3 {
        let reqs = (0..200)
            .map(|i| AddRequest::new(src.scope.clone(), format!("migrated fact {part}-{i}")))
            .collect();
        src.memory.add_batch(reqs).await.or_fail("seed")?;
    }
    let source = src.memory.store().as_ref();
    let options = MigrateOptions {
        dry_run: false,
        re_embed: true,
        batch: 100,
    };
    let dst = rig(to, EngineConfig::default()).await?;
    let mut pages = 0;
    let report = dst
        .memory
        .migrate_from(source, options, |_, _| pages += 1)
        .await
        .or_fail("migrate")?;
    ensure!(
        report.copied == 600 && report.vectors_written == 600 && report.verified && pages == 6,
        "600 memories in 6 pages, each vector written once: {pages} pages, {report:?}"
    );
    let check = dst.memory.check(false).await.or_fail("check")?;
    ensure!(
        check.is_consistent() && check.pending == 0 && check.index_count == 600,
        "check: {check:?}"
    );

    let down = rig(down_to, EngineConfig::default()).await?;
    down.flaky.set_down(true);
    let failed = down.memory.migrate_from(source, options, |_, _| {}).await;
    // The first page's vectors are tried with it, then the last sync's:
    // not again for every page copied.
    let refused = down.flaky.refused_upserts();
    ensure!(
        failed.is_err() && refused <= 100 + 600,
        "index down: {refused} vector writes refused for 600 memories, {failed:?}"
    );
    down.flaky.set_down(false);
    let report = down
        .memory
        .migrate_from(source, options, |_, _| {})
        .await
        .or_fail("migrate again")?;
    ensure!(
        report.copied == 0
            && report.skipped_existing == 600
            && report.vectors_written == 600
            && report.verified,
        "the second run writes the vectors: {report:?}"
    );

    // A text the target's model cannot embed (past its window limit) is
    // copied all the same, its vector left queued.
    let long: String = (0..600).map(|i| format!("w{i} ")).collect();
    let added = src
        .memory
        .add(AddRequest::new(src.scope.clone(), long))
        .await
        .or_fail("add a long memory")?;
    src.memory
        .add(AddRequest::new(src.scope.clone(), "a short one beside it"))
        .await
        .or_fail("add")?;
    let mut narrow = EngineConfig::default();
    narrow.chunking.max_chunks = 1;
    let narrow = rig(to, narrow).await?;
    let report = narrow
        .memory
        .migrate_from(source, options, |_, _| {})
        .await
        .or_fail("migrate a text the target cannot embed")?;
    let copied = narrow
        .memory
        .store()
        .get_stored(&[added.id])
        .await
        .or_fail("read")?;
    ensure!(
        report.copied == 2 && copied.len() == 1 && !report.verified,
        "copied without its vector and reported: {report:?}"
    );
    Ok(())
}
