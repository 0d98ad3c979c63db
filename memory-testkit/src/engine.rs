//! Conformance of the engine on a backend: dual write, dedup, versions,
//! search, decay, forget, messages. Uses the deterministic embedder.

use std::sync::Arc;

use memory_core::{
    AddEvent, AddRequest, EngineConfig, ErrorKind, HistoryOp, KeywordIndex, Memory, MemoryKind,
    RecordMessage, Scope, SearchMode, SearchRequest, Store, UpdateRequest, VectorIndex,
    VectorState,
};
use serde_json::json;

use crate::{CaseResult, DeterministicEmbedder, FlakyIndex, OrFail, Report, case, ensure, unique};

/// The backends an engine runs on.
#[derive(Clone)]
pub struct Backends {
    /// Source of truth.
    pub store: Arc<dyn Store>,
    /// Vector index.
    pub vectors: Arc<dyn VectorIndex>,
    /// Keyword index, if the backend has one.
    pub keywords: Option<Arc<dyn KeywordIndex>>,
}

struct Rig {
    memory: Memory,
    flaky: Arc<FlakyIndex>,
    scope: Scope,
}

async fn rig(b: &Backends, config: EngineConfig) -> Result<Rig, String> {
    let flaky = Arc::new(FlakyIndex::new(b.vectors.clone()));
    let mut builder = Memory::builder()
        .store(b.store.clone())
        .vectors(flaky.clone())
        .embedder(Arc::new(DeterministicEmbedder::new(64).with_max_words(200)))
        .config(EngineConfig {
            collection: unique("eng"),
            ..config
        });
    if let Some(k) = &b.keywords {
        builder = builder.keywords(k.clone());
    }
    let memory = builder.build().await.or_fail("build")?;
    Ok(Rig {
        memory,
        flaky,
        scope: Scope::user("alice").with_tenant(unique("tenant")),
    })
}

async fn add_dedups_exactly_and_nearly(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let first = m
        .add(AddRequest::new(r.scope.clone(), "Alice loves cats"))
        .await
        .or_fail("add")?;
    ensure!(
        first.event == AddEvent::Added && first.vector_state == VectorState::Synced,
        "first add: {first:?}"
    );
    let same = m
        .add(AddRequest::new(r.scope.clone(), "  Alice loves   cats "))
        .await
        .or_fail("add same")?;
    ensure!(
        same.event == AddEvent::Unchanged && same.id == first.id,
        "exact duplicate: {same:?}"
    );
    let near = m
        .add(AddRequest::new(r.scope.clone(), "alice LOVES cats!").importance(8.0))
        .await
        .or_fail("add near")?;
    ensure!(
        near.event == AddEvent::Merged && near.id == first.id,
        "near duplicate: {near:?}"
    );
    let got = m.get(&r.scope.tenant, first.id).await.or_fail("get")?;
    ensure!(
        got.content == "alice LOVES cats!" && got.importance == 8.0 && got.version == 2,
        "merged record: {got:?}"
    );
    let h = m
        .history(&r.scope.tenant, first.id)
        .await
        .or_fail("history")?;
    ensure!(
        h.iter().map(|e| e.op).collect::<Vec<_>>() == [HistoryOp::Add, HistoryOp::Merge],
        "history: {h:?}"
    );
    let other = m
        .add(AddRequest::new(
            Scope::user("bob").with_tenant(r.scope.tenant.clone()),
            "Alice loves cats",
        ))
        .await
        .or_fail("add for bob")?;
    ensure!(
        other.event == AddEvent::Added && other.id != first.id,
        "dedup crossed owners"
    );
    let batch = m
        .add_batch(vec![
            AddRequest::new(r.scope.clone(), "likes tea"),
            AddRequest::new(r.scope.clone(), "likes tea"),
            AddRequest::new(r.scope.clone(), "plays the violin"),
        ])
        .await
        .or_fail("batch")?;
    ensure!(
        batch[0].event == AddEvent::Added
            && batch[1].event == AddEvent::Unchanged
            && batch[1].id == batch[0].id
            && batch[2].event == AddEvent::Added,
        "batch: {batch:?}"
    );
    let check = m.check(false).await.or_fail("check")?;
    ensure!(
        check.is_consistent() && check.pending == 0,
        "check: {check:?}"
    );
    Ok(())
}

async fn bad_input_is_named_and_stores_nothing(b: &Backends) -> CaseResult {
    let r = rig(
        b,
        EngineConfig {
            max_content_bytes: 100,
            ..EngineConfig::default()
        },
    )
    .await?;
    let m = &r.memory;
    m.add(AddRequest::new(r.scope.clone(), "kept"))
        .await
        .or_fail("add")?;
    let cases: Vec<(AddRequest, &str)> = vec![
        (AddRequest::new(r.scope.clone(), "   "), "content"),
        (AddRequest::new(r.scope.clone(), "x".repeat(101)), "content"),
        (
            AddRequest::new(r.scope.clone(), "ok").importance(11.0),
            "importance",
        ),
        (
            AddRequest::new(r.scope.clone(), "ok").importance(f32::NAN),
            "importance",
        ),
        (
            AddRequest::new(Scope::default().with_tenant(r.scope.tenant.clone()), "ok"),
            "scope",
        ),
        (
            AddRequest::new(r.scope.clone(), "ok").metadata(
                json!({"bad key": 1})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
            "metadata",
        ),
        (
            AddRequest::new(r.scope.clone(), "ok").kind(MemoryKind::Custom("no spaces".into())),
            "kind",
        ),
    ];
    for (req, word) in cases {
        let e = m.add(req).await.err();
        ensure!(
            e.as_ref()
                .is_some_and(|e| e.kind() == ErrorKind::InvalidInput && e.message().contains(word)),
            "expected an error naming {word}, got {e:?}"
        );
    }
    let long = "word ".repeat(201);
    let wide = rig(b, EngineConfig::default()).await?;
    let e = wide
        .memory
        .add(AddRequest::new(wide.scope.clone(), long))
        .await
        .err();
    ensure!(
        e.as_ref()
            .is_some_and(|e| e.kind() == ErrorKind::InvalidInput
                && e.message().contains("201 tokens")
                && e.message().contains("at most 200")),
        "content over the model window: {e:?}"
    );
    let e = m
        .add_batch(vec![
            AddRequest::new(r.scope.clone(), "fine"),
            AddRequest::new(r.scope.clone(), ""),
        ])
        .await
        .err();
    ensure!(
        e.as_ref()
            .is_some_and(|e| e.message().starts_with("items[1].content")),
        "batch error does not name the item: {e:?}"
    );
    let bad_filter = m
        .search(SearchRequest::new(r.scope.clone(), "kept").filter(json!({"colour": "red"})))
        .await
        .err();
    ensure!(
        bad_filter
            .as_ref()
            .is_some_and(|e| e.kind() == ErrorKind::InvalidInput && e.message().contains("colour")),
        "bad filter: {bad_filter:?}"
    );
    let big_k = m
        .search(SearchRequest::new(r.scope.clone(), "kept").k(10_000))
        .await
        .err();
    ensure!(
        big_k
            .as_ref()
            .is_some_and(|e| e.message().starts_with("k:")),
        "k over max: {big_k:?}"
    );
    let st = m.stats(Some(&r.scope.tenant)).await.or_fail("stats")?;
    ensure!(
        st.store.memories == 1,
        "rejected input stored something: {} memories",
        st.store.memories
    );
    Ok(())
}

async fn update_versions_and_reembeds(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let t = &r.scope.tenant;
    let a = m
        .add(AddRequest::new(r.scope.clone(), "works as a nurse in Lyon"))
        .await
        .or_fail("add")?;
    let up = m
        .update(
            t,
            a.id,
            UpdateRequest {
                content: Some("works as a teacher in Paris".into()),
                expected_version: Some(1),
                reason: Some("moved".into()),
                ..UpdateRequest::default()
            },
        )
        .await
        .or_fail("update")?;
    ensure!(
        up.version == 2 && up.vector_state == VectorState::Synced,
        "update: {up:?}"
    );
    let stale = m
        .update(
            t,
            a.id,
            UpdateRequest {
                importance: Some(9.0),
                expected_version: Some(1),
                ..UpdateRequest::default()
            },
        )
        .await
        .err();
    ensure!(
        stale.as_ref().map(|e| e.kind()) == Some(ErrorKind::Conflict),
        "stale version: {stale:?}"
    );
    let hits = m
        .search(SearchRequest::new(r.scope.clone(), "teacher Paris").mode(SearchMode::Semantic))
        .await
        .or_fail("search")?;
    ensure!(
        hits.hits.first().map(|h| h.memory.id) == Some(a.id),
        "new content not found by meaning"
    );
    let old = m
        .search(SearchRequest::new(r.scope.clone(), "nurse Lyon").mode(SearchMode::Keyword))
        .await
        .or_fail("search")?;
    ensure!(old.hits.is_empty(), "old content still found by keyword");
    let h = m.history(t, a.id).await.or_fail("history")?;
    ensure!(
        h.len() == 2
            && h[1].old_content.as_deref() == Some("works as a nurse in Lyon")
            && h[1].reason == "moved",
        "history: {h:?}"
    );
    let missing = m
        .update(
            t,
            uuid::Uuid::now_v7(),
            UpdateRequest {
                importance: Some(2.0),
                ..UpdateRequest::default()
            },
        )
        .await
        .err();
    ensure!(
        missing.as_ref().map(|e| e.kind()) == Some(ErrorKind::NotFound),
        "missing id: {missing:?}"
    );
    let other_tenant = m.get("someone-else", a.id).await.err();
    ensure!(
        other_tenant.as_ref().map(|e| e.kind()) == Some(ErrorKind::NotFound),
        "another tenant read it"
    );
    m.delete(t, a.id).await.or_fail("delete")?;
    let check = m.check(false).await.or_fail("check")?;
    ensure!(
        check.is_consistent() && check.index_count == 0,
        "after delete: {check:?}"
    );
    Ok(())
}

async fn hybrid_search_explains_filters_and_pages(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let facts = [
        ("Alice has two cats named Tom and Luna", "pets", 7.0),
        ("Alice prefers coffee over tea", "food", 6.0),
        ("Alice is allergic to peanuts", "food", 9.0),
        ("Alice's dog is called Rex", "pets", 5.0),
        ("Alice plays tennis on Sundays", "sport", 4.0),
    ];
    for (text, topic, imp) in facts {
        let meta = json!({"topic": topic})
            .as_object()
            .cloned()
            .unwrap_or_default();
        m.add(
            AddRequest::new(r.scope.clone(), text)
                .importance(imp)
                .metadata(meta),
        )
        .await
        .or_fail("add")?;
    }
    m.add(AddRequest::new(
        Scope::user("bob").with_tenant(r.scope.tenant.clone()),
        "Bob has cats too",
    ))
    .await
    .or_fail("add bob")?;
    let res = m
        .search(SearchRequest::new(r.scope.clone(), "cats").k(3))
        .await
        .or_fail("search")?;
    let top = res.hits.first().ok_or("no hits")?;
    ensure!(
        top.memory.content.contains("cats"),
        "top hit: {}",
        top.memory.content
    );
    ensure!(
        top.explain.keyword_rank == Some(1) && top.explain.vector_rank.is_some(),
        "explain: {:?}",
        top.explain
    );
    ensure!(
        res.hits
            .iter()
            .all(|h| h.memory.scope.user_id.as_deref() == Some("alice")),
        "another user's memory returned"
    );
    ensure!(
        res.hits.windows(2).all(|w| w[0].score >= w[1].score),
        "hits not sorted"
    );
    let f = m
        .search(
            SearchRequest::new(r.scope.clone(), "Alice")
                .filter(json!({"and": [{"metadata.topic": "food"}, {"importance": {"gte": 7}}]})),
        )
        .await
        .or_fail("filtered")?;
    ensure!(
        f.hits.len() == 1 && f.hits[0].memory.content.contains("peanuts"),
        "filtered: {:?}",
        f.hits.iter().map(|h| &h.memory.content).collect::<Vec<_>>()
    );
    let mut seen = std::collections::BTreeSet::new();
    let mut req = SearchRequest::new(r.scope.clone(), "Alice").k(2);
    let mut pages = 0;
    loop {
        let page = m.search(req.clone()).await.or_fail("page")?;
        pages += 1;
        for h in &page.hits {
            ensure!(seen.insert(h.memory.id), "a hit repeated across pages");
        }
        match page.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => break,
        }
        ensure!(pages < 10, "pagination does not end");
    }
    ensure!(
        seen.len() == 5,
        "pages visited {} of 5 memories",
        seen.len()
    );
    let got = m
        .get(&r.scope.tenant, *seen.iter().next().ok_or("empty")?)
        .await
        .or_fail("get")?;
    ensure!(got.access_count >= 1, "search did not record access");
    Ok(())
}

async fn vector_outage_queues_and_degrades(b: &Backends) -> CaseResult {
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

async fn check_finds_and_repairs_orphans(b: &Backends) -> CaseResult {
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

async fn decay_lowers_prunes_and_does_not_compound(b: &Backends) -> CaseResult {
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

async fn forget_and_concurrent_adds(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let m = m.clone();
        let s = r.scope.clone();
        tasks.push(tokio::spawn(async move {
            m.add(AddRequest::new(s, "the same thing at once")).await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        ids.insert(t.await.or_fail("join")?.or_fail("concurrent add")?.id);
    }
    ensure!(
        ids.len() == 1,
        "10 concurrent adds of one content made {} memories",
        ids.len()
    );
    let mut msg = RecordMessage::user("s1", "alice", "hello there");
    msg.tenant = r.scope.tenant.clone();
    m.record_message(msg).await.or_fail("message")?;
    let report = m.forget(&r.scope).await.or_fail("forget")?;
    ensure!(
        report.memories.len() == 1 && report.messages == 1,
        "forget: {report:?}"
    );
    let c = m.check(false).await.or_fail("check")?;
    let st = m.stats(Some(&r.scope.tenant)).await.or_fail("stats")?;
    ensure!(
        st.store.memories == 0 && st.vectors == Some(0) && c.is_consistent(),
        "after forget: {st:?}"
    );
    ensure!(
        m.recent(&r.scope.tenant, "s1", 10)
            .await
            .or_fail("recent")?
            .is_empty(),
        "short-term window survived forget"
    );
    Ok(())
}

async fn messages_window_and_recovery(b: &Backends) -> CaseResult {
    let r = rig(
        b,
        EngineConfig {
            window: 5,
            extract_batch: 3,
            ..EngineConfig::default()
        },
    )
    .await?;
    let m = &r.memory;
    let t = r.scope.tenant.clone();
    for i in 0..7 {
        let mut msg = RecordMessage::user("stream-1", "viewer-1", format!("message {i}"));
        msg.tenant = t.clone();
        msg.author_name = Some("Viewer One".into());
        msg.external_id = Some("yt_1".into());
        msg.platform = Some("youtube".into());
        let o = m.record_message(msg).await.or_fail("record")?;
        ensure!(
            o.short_term_ok && o.unextracted == i + 1 && !o.extraction_due,
            "outcome: {o:?}"
        );
    }
    let recent = m.recent(&t, "stream-1", 5).await.or_fail("recent")?;
    ensure!(
        recent.len() == 5 && recent[4].content == "message 6",
        "window: {recent:?}"
    );
    let user = m
        .store()
        .get_user(&t, "viewer-1")
        .await
        .or_fail("user")?
        .ok_or("no user row")?;
    ensure!(
        user.message_count == 7 && user.display_name.as_deref() == Some("Viewer One"),
        "user: {user:?}"
    );
    let session = m
        .store()
        .get_session(&t, "stream-1")
        .await
        .or_fail("session")?
        .ok_or("no session row")?;
    ensure!(
        session.platform.as_deref() == Some("youtube"),
        "session: {session:?}"
    );
    let fresh = rig(
        b,
        EngineConfig {
            window: 5,
            collection: m.collection().name.clone(),
            ..EngineConfig::default()
        },
    )
    .await?;
    let rebuilt = fresh
        .memory
        .recent(&t, "stream-1", 3)
        .await
        .or_fail("recent from store")?;
    ensure!(
        rebuilt
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            == ["message 4", "message 5", "message 6"],
        "recovery: {rebuilt:?}"
    );
    Ok(())
}

async fn context_respects_priority_and_budget(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let s = r.scope.clone();
    m.add(AddRequest::new(s.clone(), "Alice is a nurse").kind(MemoryKind::Profile))
        .await
        .or_fail("add")?;
    m.add(AddRequest::new(s.clone(), "Alice is allergic to peanuts"))
        .await
        .or_fail("add")?;
    m.add(AddRequest::new(s.clone(), "Alice climbs on weekends"))
        .await
        .or_fail("add")?;
    for text in [
        "what should I cook tonight?",
        "something with peanuts maybe",
    ] {
        let mut msg = RecordMessage::user("chat", "alice", text);
        msg.tenant = s.tenant.clone();
        m.record_message(msg).await.or_fail("message")?;
    }
    let ctx = m
        .context(&s, Some("chat"), "peanuts", 1000)
        .await
        .or_fail("context")?;
    ensure!(
        ctx.text.contains("## About the user\n- Alice is a nurse"),
        "profile missing: {}",
        ctx.text
    );
    ensure!(
        ctx.text.contains("allergic to peanuts"),
        "relevant memory missing: {}",
        ctx.text
    );
    ensure!(
        ctx.text.contains("user: something with peanuts maybe"),
        "recent window missing: {}",
        ctx.text
    );
    ensure!(
        ctx.memories
            .iter()
            .all(|h| h.memory.kind != MemoryKind::Profile),
        "profile repeated among memories"
    );
    let small = m
        .context(&s, Some("chat"), "peanuts", 12)
        .await
        .or_fail("small context")?;
    ensure!(
        small.tokens <= 12 && small.text.contains("nurse") && !small.text.contains("cook"),
        "budget not respected: {:?}",
        small.text
    );
    ensure!(
        ctx.enhance("You are helpful.")
            .starts_with("You are helpful.\n\n## About"),
        "enhance"
    );
    Ok(())
}

async fn reindex_after_model_change(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let collection = r.memory.collection().name.clone();
    for t in ["one fact", "two facts", "three facts"] {
        r.memory
            .add(AddRequest::new(r.scope.clone(), t))
            .await
            .or_fail("add")?;
    }
    let new_model = || {
        let mut builder = Memory::builder()
            .store(b.store.clone())
            .vectors(b.vectors.clone())
            .embedder(Arc::new(DeterministicEmbedder::new(32)))
            .config(EngineConfig {
                collection: collection.clone(),
                ..EngineConfig::default()
            });
        if let Some(k) = &b.keywords {
            builder = builder.keywords(k.clone());
        }
        builder
    };
    let e = new_model().build().await.err();
    ensure!(
        e.as_ref().map(|e| e.kind()) == Some(ErrorKind::DimensionMismatch),
        "a new dimension was accepted silently: {e:?}"
    );
    let m2 = new_model()
        .allow_dimension_change(true)
        .build()
        .await
        .or_fail("build for reindex")?;
    let n = m2.reindex().await.or_fail("reindex")?;
    ensure!(n == 3, "reindexed {n} of 3");
    let spec = b.vectors.describe(&collection).await.or_fail("describe")?;
    ensure!(
        spec.map(|s| s.dimension) == Some(32),
        "collection dimension not changed"
    );
    let again = new_model().build().await.or_fail("build after reindex")?;
    let hits = again
        .search(
            SearchRequest::new(r.scope.clone(), "two facts")
                .mode(SearchMode::Semantic)
                .k(1),
        )
        .await
        .or_fail("search")?;
    ensure!(
        hits.hits.first().map(|h| h.memory.content.as_str()) == Some("two facts"),
        "search after reindex: {:?}",
        hits.hits.first().map(|h| &h.memory.content)
    );
    let c = again.check(false).await.or_fail("check")?;
    ensure!(c.is_consistent() && c.pending == 0, "after reindex: {c:?}");
    Ok(())
}

async fn rate_limits_per_user_and_global(b: &Backends) -> CaseResult {
    let limits = memory_core::RateLimits {
        per_user_per_minute: 3,
        global_per_minute: 5,
    };
    let r = rig(
        b,
        EngineConfig {
            rate_limits: limits,
            ..EngineConfig::default()
        },
    )
    .await?;
    let t = &r.scope.tenant;
    for _ in 0..3 {
        r.memory
            .check_rate(t, "alice")
            .await
            .or_fail("within the user limit")?;
    }
    let e = r.memory.check_rate(t, "alice").await.err();
    ensure!(
        e.as_ref()
            .is_some_and(|e| e.kind() == ErrorKind::RateLimited
                && e.retry_after().is_some()
                && e.message().contains("per-user")),
        "fourth call: {e:?}"
    );
    r.memory.check_rate(t, "bob").await.or_fail("bob")?;
    r.memory.check_rate(t, "carol").await.or_fail("carol")?;
    let e = r.memory.check_rate(t, "dave").await.err();
    ensure!(
        e.as_ref()
            .is_some_and(|e| e.kind() == ErrorKind::RateLimited && e.message().contains("global")),
        "global limit: {e:?}"
    );
    Ok(())
}

/// Runs every engine case, each on fresh backends from `factory` (a store
/// serves one vector collection, so cases must not share a store).
pub async fn run<F, Fut>(factory: F) -> Report
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Backends>,
{
    let first = factory().await;
    let mut r = Report::new(format!("engine[{}]", first.store.info().scheme));
    drop(first);
    case!(r, add_dedups_exactly_and_nearly(&factory().await));
    case!(r, bad_input_is_named_and_stores_nothing(&factory().await));
    case!(r, update_versions_and_reembeds(&factory().await));
    case!(
        r,
        hybrid_search_explains_filters_and_pages(&factory().await)
    );
    case!(r, vector_outage_queues_and_degrades(&factory().await));
    case!(r, check_finds_and_repairs_orphans(&factory().await));
    case!(
        r,
        decay_lowers_prunes_and_does_not_compound(&factory().await)
    );
    case!(r, forget_and_concurrent_adds(&factory().await));
    case!(r, messages_window_and_recovery(&factory().await));
    case!(r, context_respects_priority_and_budget(&factory().await));
    case!(r, reindex_after_model_change(&factory().await));
    case!(r, rate_limits_per_user_and_global(&factory().await));
    r
}
