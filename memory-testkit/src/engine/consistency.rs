//! Engine cases on store/index consistency: outages, check, decay.

use super::*;

pub(super) async fn vector_outage_queues_and_degrades(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    m.add(AddRequest::new(r.scope.clone(), "before the outage"))
        .await
        .or_fail("add")?;
    r.flaky.set_down(true);
    let mut ids = Vec::new();
    for i in 0..20 {
        let o = m
            .add(AddRequest::new(
                r.scope.clone(),
                format!("written during outage number {i}"),
            ))
            .await
            .or_fail("add while down")?;
        ensure!(
            o.vector_state == VectorState::Pending,
            "vector state while down: {:?}",
            o.vector_state
        );
        ids.push(o.id);
    }
    let res = m
        .search(SearchRequest::new(r.scope.clone(), "outage"))
        .await
        .or_fail("search while down")?;
    if b.keywords.is_some() {
        ensure!(
            res.degraded == ["vector"] && !res.hits.is_empty(),
            "search did not degrade to keyword: {:?}",
            res.degraded
        );
    }
    m.delete(&r.scope.tenant, ids[0])
        .await
        .or_fail("delete while down")?;
    let st = m.stats(Some(&r.scope.tenant)).await.or_fail("stats")?;
    ensure!(
        st.store.outbox_pending == 20,
        "outbox holds {} rows, want 20",
        st.store.outbox_pending
    );
    r.flaky.set_down(false);
    let report = m.sync(false).await.or_fail("sync")?;
    ensure!(
        report.upserted == 19 && report.deleted == 1 && report.failed == 0,
        "sync: {report:?}"
    );
    let check = m.check(false).await.or_fail("check")?;
    ensure!(
        check.is_consistent() && check.pending == 0 && check.index_count == 20,
        "after sync: {check:?}"
    );
    let res = m
        .search(
            SearchRequest::new(r.scope.clone(), "outage")
                .mode(SearchMode::Semantic)
                .k(50),
        )
        .await
        .or_fail("search")?;
    ensure!(
        res.hits.len() == 20,
        "semantic search sees {} of 20",
        res.hits.len()
    );
    Ok(())
}

pub(super) async fn one_refused_vector_does_not_hold_back_its_page(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    r.flaky.refuse_metadata(Some("refused"));
    let marked = json!({"refused": true})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let requests: Vec<AddRequest> = (0..20)
        .map(|i| {
            let add = AddRequest::new(r.scope.clone(), format!("page member number {i}"));
            if i == 13 {
                add.metadata(marked.clone())
            } else {
                add
            }
        })
        .collect();
    let outcomes = m.add_batch(requests).await.or_fail("add batch")?;
    let pending: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i].vector_state != VectorState::Synced)
        .collect();
    ensure!(
        pending == [13],
        "items not synced after the batch: {pending:?} (want only the refused one, 13)"
    );
    let semantic = |k| {
        SearchRequest::new(r.scope.clone(), "page member")
            .mode(SearchMode::Semantic)
            .k(k)
    };
    let res = m.search(semantic(50)).await.or_fail("search")?;
    ensure!(
        res.hits.len() == 19,
        "semantic search sees {} of the 19 accepted",
        res.hits.len()
    );
    let report = m.sync(false).await.or_fail("sync while refused")?;
    ensure!(
        report.failed == 1 && report.upserted == 0,
        "sync while one is refused: {report:?}"
    );
    r.flaky.refuse_metadata(None);
    let report = m.sync(false).await.or_fail("sync")?;
    ensure!(
        report.upserted == 1 && report.failed == 0,
        "sync once accepted: {report:?}"
    );
    let check = m.check(false).await.or_fail("check")?;
    ensure!(
        check.is_consistent() && check.pending == 0 && check.index_count == 20,
        "after sync: {check:?}"
    );

    // More refused rows at the head of the outbox than a sync reads ahead
    // do not keep the rows behind them waiting for another sync.
    r.flaky.set_down(true);
    let refused: Vec<AddRequest> = (0..520)
        .map(|i| {
            AddRequest::new(r.scope.clone(), format!("refused row {i}")).metadata(marked.clone())
        })
        .collect();
    m.add_batch(refused)
        .await
        .or_fail("add refused while down")?;
    let behind: Vec<AddRequest> = (0..10)
        .map(|i| AddRequest::new(r.scope.clone(), format!("row behind them {i}")))
        .collect();
    m.add_batch(behind).await.or_fail("add behind while down")?;
    r.flaky.set_down(false);
    r.flaky.refuse_metadata(Some("refused"));
    let report = m.sync(false).await.or_fail("sync behind refused rows")?;
    ensure!(
        report.upserted == 10 && report.failed == 520,
        "one sync past 520 refused rows: {report:?}"
    );
    Ok(())
}

/// A vector write that a delete or an update of its memory overtakes (they
/// flush their own while it is on the way, and it lands after them) is
/// mended when acknowledged: no orphan of the deleted memory, and the
/// changed one keeps its current vector. An update whose own write failed
/// keeps its upsert queued: the older write does not acknowledge it.
pub(super) async fn an_overtaken_vector_write_is_mended(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    r.flaky.set_down(true);
    let texts = [
        "a fact deleted during its sync",
        "a fact changed during its sync",
        "a fact changed while the index failed",
    ];
    let added = m
        .add_batch(
            texts
                .iter()
                .map(|t| AddRequest::new(r.scope.clone(), *t))
                .collect(),
        )
        .await
        .or_fail("add")?;
    let [gone, changed, late] = added.as_slice() else {
        return Err(format!("3 adds answered {} outcomes", added.len()));
    };
    let (gone, changed, late) = (gone.id, changed.id, late.id);
    r.flaky.set_down(false);
    let new_text = "zebras graze the savanna at dawn";
    let late_text = "otters juggle pebbles by the river";
    let (other, flaky, tenant) = (m.clone(), r.flaky.clone(), r.scope.tenant.clone());
    let edit = |content: &str| UpdateRequest {
        content: Some(content.into()),
        ..Default::default()
    };
    let (new_edit, late_edit) = (edit(new_text), edit(late_text));
    r.flaky.before_next_upsert(Box::pin(async move {
        let _ = other.delete(&tenant, gone).await;
        let _ = other.update(&tenant, changed, new_edit).await;
        flaky.set_down(true);
        let _ = other.update(&tenant, late, late_edit).await;
        flaky.set_down(false);
    }));
    m.sync(false).await.or_fail("sync")?;
    for (text, id) in [(new_text, changed), (late_text, late)] {
        let q = memory_core::VectorQuery {
            tenant: r.scope.tenant.clone(),
            vector: DeterministicEmbedder::new(64).vector(text),
            k: 1,
            filter: None,
        };
        let hits = r
            .flaky
            .query(&m.collection().name, &q)
            .await
            .or_fail("query")?;
        ensure!(
            hits.first().is_some_and(|h| h.id == id && h.score > 0.99),
            "a changed memory's vector is not its current one: {hits:?}"
        );
    }
    let st = m.stats(Some(&r.scope.tenant)).await.or_fail("stats")?;
    ensure!(
        st.store.outbox_pending == 1,
        "the update whose write failed is not queued: {} rows",
        st.store.outbox_pending
    );
    m.sync(false).await.or_fail("sync again")?;
    let check = m.check(false).await.or_fail("check")?;
    ensure!(
        check.is_consistent() && check.index_count == 2,
        "after a delete overtook the sync: {check:?}"
    );
    Ok(())
}

pub(super) async fn check_finds_and_repairs_orphans(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let a = m
        .add(AddRequest::new(r.scope.clone(), "one"))
        .await
        .or_fail("add")?;
    m.add(AddRequest::new(r.scope.clone(), "two"))
        .await
        .or_fail("add")?;
    let name = m.collection().name.clone();
    b.vectors
        .delete(&name, &[a.id])
        .await
        .or_fail("remove a vector behind the engine's back")?;
    let stray = memory_core::VectorRecord {
        id: uuid::Uuid::now_v7(),
        vector: DeterministicEmbedder::new(64).vector("stray"),
        payload: memory_core::VectorPayload::from(
            &m.get(&r.scope.tenant, a.id).await.or_fail("get")?,
        ),
    };
    b.vectors
        .upsert(&name, std::slice::from_ref(&stray))
        .await
        .or_fail("add an orphan")?;
    let c = m.check(false).await.or_fail("check")?;
    ensure!(
        c.missing_vectors == vec![a.id] && c.orphan_vectors == vec![stray.id],
        "check: {c:?}"
    );
    m.check(true).await.or_fail("repair")?;
    let c = m.check(false).await.or_fail("check")?;
    ensure!(
        c.is_consistent() && c.index_count == 2,
        "after repair: {c:?}"
    );
    Ok(())
}

pub(super) async fn decay_lowers_prunes_and_does_not_compound(b: &Backends) -> CaseResult {
    let r = rig(
        b,
        EngineConfig {
            decay_half_life_days: 30.0,
            prune_below: 1.0,
            ..EngineConfig::default()
        },
    )
    .await?;
    let m = &r.memory;
    let t = &r.scope.tenant;
    let keep = m
        .add(AddRequest::new(r.scope.clone(), "important fact").importance(8.0))
        .await
        .or_fail("add")?;
    let weak = m
        .add(AddRequest::new(r.scope.clone(), "trivial fact").importance(1.5))
        .await
        .or_fail("add")?;
    let gone = m
        .add(
            AddRequest::new(r.scope.clone(), "temporary fact")
                .expires_at(memory_core::now() + chrono::Duration::days(1)),
        )
        .await
        .or_fail("add")?;
    let later = memory_core::now() + chrono::Duration::days(30);
    let rep = m.decay(later).await.or_fail("decay")?;
    ensure!(
        rep.decayed >= 1 && rep.pruned >= 1 && rep.expired >= 1,
        "decay: {rep:?}"
    );
    let k = m.get(t, keep.id).await.or_fail("get kept")?;
    ensure!(
        (k.importance - 4.0).abs() < 0.05,
        "importance after one half-life: {}",
        k.importance
    );
    ensure!(
        m.get(t, weak.id).await.is_err() && m.get(t, gone.id).await.is_err(),
        "weak or expired memory survived"
    );
    let rep2 = m.decay(later).await.or_fail("decay again")?;
    let k2 = m.get(t, keep.id).await.or_fail("get")?;
    ensure!(
        rep2.decayed == 0 && (k2.importance - k.importance).abs() < 1e-6,
        "a second run at the same time compounded: {}",
        k2.importance
    );
    let h = m.history(t, keep.id).await.or_fail("history")?;
    ensure!(
        h.iter().any(|e| e.op == HistoryOp::Decay),
        "no decay history row"
    );
    let c = m.check(false).await.or_fail("check")?;
    ensure!(
        c.is_consistent(),
        "decay left store and index inconsistent: {c:?}"
    );
    Ok(())
}

/// A sync whose caller stops waiting stops preparing its pages: the page
/// being embedded is dropped, not left running on a task of its own.
pub(super) async fn a_cancelled_sync_stops_preparing_pages(b: &Backends) -> CaseResult {
    /// Sets its flag when the embedding it sits in is dropped.
    struct Dropped(Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let embedder = DeterministicEmbedder::new(64);
    let m = builder_on(b, &unique("cancel"), &embedder)
        .build()
        .await
        .or_fail("build")?;
    let scope = Scope::user("alice").with_tenant(unique("tenant"));
    let texts: Vec<String> = (0..3).map(|i| format!("not embedded yet {i}")).collect();
    queued_without_vectors(b, &scope, &texts).await?;
    let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let guard = Dropped(dropped.clone());
    embedder.before_next_documents(Box::pin(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    }));
    let waited = tokio::time::timeout(std::time::Duration::from_millis(300), m.sync(false)).await;
    ensure!(
        waited.is_err(),
        "the sync finished past an embedding that never ends"
    );
    for _ in 0..100 {
        if dropped.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Err("5 s after its sync was dropped, a page was still being embedded".into())
}

/// A memory changed while `sync` embeds the vector it lacked: the stale
/// vector is not acknowledged as the memory's, and the memory ends with
/// the vector of its new text; its page's other memories get theirs.
pub(super) async fn a_memory_changed_while_sync_embeds_it_keeps_its_new_vector(
    b: &Backends,
) -> CaseResult {
    let embedder = DeterministicEmbedder::new(64);
    let collection = unique("embed-race");
    let m = builder_on(b, &collection, &embedder)
        .build()
        .await
        .or_fail("build")?;
    let scope = Scope::user("alice").with_tenant(unique("tenant"));
    let texts = ["likes green tea", "plays the cello", "walks the dog daily"];
    let records = queued_without_vectors(b, &scope, &texts).await?;
    let (other, tenant, changed) = (m.clone(), scope.tenant.clone(), records[0].id);
    embedder.before_next_documents(Box::pin(async move {
        let edit = memory_core::UpdateRequest {
            content: Some("likes strong black coffee".into()),
            ..Default::default()
        };
        let _ = other.update(&tenant, changed, edit).await;
    }));
    for _ in 0..3 {
        m.sync(true).await.or_fail("sync")?;
    }
    let current = [
        ("likes strong black coffee", records[0].id),
        (texts[1], records[1].id),
        (texts[2], records[2].id),
    ];
    has_current_vectors(b, &collection, &embedder, &scope.tenant, &current).await?;
    let c = m.check(false).await.or_fail("check")?;
    ensure!(c.is_consistent() && c.pending == 0, "after sync: {c:?}");
    Ok(())
}

/// A memory the model cannot embed (more windows than `max_chunks`, as
/// after a change to a model with a smaller window) fails alone: the sync
/// and a reindex write the other vectors of its page, and it stays queued
/// with why.
pub(super) async fn a_text_the_model_refuses_does_not_hold_back_its_page(
    b: &Backends,
) -> CaseResult {
    let mut config = EngineConfig::default();
    config.chunking.max_chunks = 1;
    let r = rig(b, config).await?;
    let long: String = (0..600).map(|i| format!("w{i} ")).collect();
    let texts = [long.as_str(), "likes green tea", "plays the cello"];
    let records = queued_without_vectors(b, &r.scope, &texts).await?;
    let report = r.memory.sync(false).await.or_fail("sync")?;
    ensure!(
        report.upserted == 2 && report.failed == 1,
        "the page's other vectors are written: {report:?}"
    );
    let pending = b
        .store
        .outbox_pending(100, u32::MAX)
        .await
        .or_fail("outbox")?;
    let left: Vec<_> = pending
        .iter()
        .filter(|e| records.iter().any(|r| r.id == e.memory_id))
        .collect();
    ensure!(
        left.len() == 1
            && left[0].memory_id == records[0].id
            && left[0]
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("max_chunks")),
        "only the long memory stays queued, with why: {left:?}"
    );
    let check = r.memory.check(false).await.or_fail("check")?;
    ensure!(
        check.pending == 1 && check.index_count == 2,
        "check: {check:?}"
    );
    // A rebuild of the index does the same rather than fail.
    let rebuilt = r.memory.reindex().await.or_fail("reindex")?;
    let check = r.memory.check(false).await.or_fail("check")?;
    ensure!(
        rebuilt == 2 && check.pending == 1 && check.index_count == 2,
        "reindex wrote {rebuilt}: {check:?}"
    );
    Ok(())
}

/// Stores memories of `texts` without a vector, their upserts queued: the
/// next sync embeds them.
async fn queued_without_vectors(
    b: &Backends,
    scope: &Scope,
    texts: &[impl AsRef<str>],
) -> Result<Vec<memory_core::MemoryRecord>, String> {
    let records: Vec<_> = texts
        .iter()
        .map(|t| crate::store::record(scope, t.as_ref()))
        .collect();
    let mut changes = crate::store::without_vectors(records.clone());
    changes.outbox = records
        .iter()
        .map(|r| (r.id, memory_core::VectorOp::Upsert))
        .collect();
    b.store.apply(changes).await.or_fail("store memories")?;
    Ok(records)
}
