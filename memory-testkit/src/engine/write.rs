//! Engine cases on writes: dedup, bad input, versions, forget.

use super::*;

pub(super) async fn add_dedups_exactly_and_nearly(b: &Backends) -> CaseResult {
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
    // Distinct facts stay apart unless merging is asked for.
    let two = m
        .add(AddRequest::new(r.scope.clone(), "Alice has 2 cats"))
        .await
        .or_fail("add 2 cats")?;
    let three = m
        .add(AddRequest::new(r.scope.clone(), "Alice has 3 cats"))
        .await
        .or_fail("add 3 cats")?;
    ensure!(
        three.event == AddEvent::Added && three.id != two.id,
        "a fact differing in one number was merged: {three:?}"
    );
    let near = m
        .add(
            AddRequest::new(r.scope.clone(), "alice LOVES cats!")
                .importance(8.0)
                .dedup_threshold(0.95),
        )
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

pub(super) async fn bad_input_is_named_and_stores_nothing(b: &Backends) -> CaseResult {
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
    let long = "word ".repeat(600);
    let narrow = rig(
        b,
        EngineConfig {
            chunking: memory_core::ChunkingConfig {
                max_chunks: 2,
                ..memory_core::ChunkingConfig::default()
            },
            ..EngineConfig::default()
        },
    )
    .await?;
    let e = narrow
        .memory
        .add(AddRequest::new(narrow.scope.clone(), long))
        .await
        .err();
    ensure!(
        e.as_ref()
            .is_some_and(|e| e.kind() == ErrorKind::InvalidInput
                && e.message().contains("600 tokens")
                && e.message().contains("chunking.max_chunks")),
        "content past the most windows: {e:?}"
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

pub(super) async fn update_versions_and_reembeds(b: &Backends) -> CaseResult {
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

pub(super) async fn forget_and_concurrent_adds(b: &Backends) -> CaseResult {
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

/// A merge targets only what is believed now: never a superseded or expired
/// memory, and the nearest among many of the owner's memories.
pub(super) async fn dedup_merges_only_into_live_memories(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let add = |text: &str| AddRequest::new(r.scope.clone(), text);
    let paris = m.add(add("Alice lives in Paris")).await.or_fail("add")?;
    let berlin = m
        .add(add("Alice lives in Berlin").supersedes(paris.id))
        .await
        .or_fail("supersede")?;
    let again = m
        .add(add("alice lives in PARIS!").dedup_threshold(0.95))
        .await
        .or_fail("add near a superseded memory")?;
    ensure!(
        again.event == AddEvent::Added && again.id != paris.id && again.id != berlin.id,
        "merged into a superseded memory: {again:?}"
    );
    let past = memory_core::now() - chrono::Duration::hours(1);
    let bike = m
        .add(add("Alice owns a red bike").expires_at(past))
        .await
        .or_fail("add expired")?;
    let near = m
        .add(add("alice owns a RED bike!").dedup_threshold(0.95))
        .await
        .or_fail("add near an expired memory")?;
    ensure!(
        near.event == AddEvent::Added && near.id != bike.id,
        "merged into an expired memory: {near:?}"
    );
    // Told again word for word after it expired, a fact is current again.
    let passport = m
        .add(add("Alice's passport number ends in 42").expires_at(past))
        .await
        .or_fail("add expired")?;
    let told = m
        .add_batch(vec![
            add("Alice's passport number ends in 42"),
            add("Alice's  passport number ends in 42 "),
        ])
        .await
        .or_fail("restate")?;
    ensure!(
        told[0].event == AddEvent::Merged
            && told[0].id == passport.id
            && told[1].event == AddEvent::Unchanged
            && told[1].id == passport.id
            && told[1].vector_state == told[0].vector_state,
        "restated after expiry: {told:?}"
    );
    let revived = m.get(&r.scope.tenant, passport.id).await.or_fail("get")?;
    ensure!(
        revived.expires_at.is_none() && revived.version == 2,
        "revived record: {revived:?}"
    );
    let found = m
        .search(
            SearchRequest::new(r.scope.clone(), "passport number")
                .mode(SearchMode::Semantic)
                .k(3),
        )
        .await
        .or_fail("search")?;
    ensure!(
        found.hits.iter().any(|h| h.memory.id == passport.id),
        "the revived memory is not found: {found:?}"
    );
    // Many memories of the owner share most words; the merge still finds
    // the one the new text restates.
    let many: Vec<AddRequest> = (0..200)
        .map(|i| add(&format!("note {i} about topic {}", i * 7)))
        .collect();
    let added = m.add_batch(many).await.or_fail("add many")?;
    let merged = m
        .add(add("NOTE 123 about topic 861!").dedup_threshold(0.95))
        .await
        .or_fail("add near one of many")?;
    ensure!(
        merged.event == AddEvent::Merged && merged.id == added[123].id,
        "near duplicate among many: {merged:?}"
    );
    let check = m.check(false).await.or_fail("check")?;
    ensure!(check.is_consistent(), "check: {check:?}");
    Ok(())
}
