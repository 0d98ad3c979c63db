//! Store cases on memories: round trips, atomic change sets, the outbox, listing, history.

use super::*;

pub(super) async fn insert_get_round_trip(store: &Arc<dyn Store>) -> CaseResult {
    let s = scope();
    let mut a = record(&s, "alpha");
    a.metadata.insert("topic".into(), "pets".into());
    a.source_message_ids.push(Uuid::now_v7());
    a.expires_at = Some(now() + chrono::Duration::days(3));
    let b = record(&s, "beta");
    store
        .apply(insert(&[a.clone(), b.clone()]))
        .await
        .or_fail("apply")?;
    let got = store
        .get_memories(&s.tenant, &[b.id, Uuid::now_v7(), a.id])
        .await
        .or_fail("get")?;
    ensure!(
        got.len() == 2,
        "got {} of 2 (missing ids are skipped)",
        got.len()
    );
    ensure!(
        got[0].id == b.id && got[1].id == a.id,
        "order asked was not kept"
    );
    let mut want = a.clone();
    want.vector_state = VectorState::Pending;
    ensure!(
        got[1] == want,
        "round trip changed the record:\n{:?}\n{:?}",
        got[1],
        want
    );
    let stored = store.get_stored(&[a.id]).await.or_fail("get_stored")?;
    ensure!(
        stored.first().and_then(|m| m.embedding.clone()) == Some(vec![0.5, 0.25]),
        "embedding not kept"
    );
    let other = store
        .get_memories("another-tenant", &[a.id])
        .await
        .or_fail("get other tenant")?;
    ensure!(other.is_empty(), "another tenant read the memory");
    let found = store
        .find_by_hash(&s, &content_hash("alpha"))
        .await
        .or_fail("find_by_hash")?;
    ensure!(found.map(|m| m.id) == Some(a.id), "find_by_hash missed");
    let other_owner = Scope {
        user_id: Some("someone-else".into()),
        ..s.clone()
    };
    ensure!(
        store
            .find_by_hash(&other_owner, &content_hash("alpha"))
            .await
            .or_fail("find")?
            .is_none(),
        "find_by_hash crossed owners"
    );
    Ok(())
}

pub(super) async fn change_sets_are_atomic(store: &Arc<dyn Store>) -> CaseResult {
    let s = scope();
    let a = record(&s, "one");
    store
        .apply(insert(std::slice::from_ref(&a)))
        .await
        .or_fail("apply")?;
    let dup = record(&s, "one");
    let e = store.apply(insert(&[dup])).await.err();
    ensure!(
        e.as_ref().map(|e| e.kind()) == Some(ErrorKind::Conflict),
        "duplicate hash gave {e:?}"
    );
    let fresh = record(&s, "two");
    let mut stale = a.clone();
    stale.content = "changed".into();
    stale.content_hash = content_hash("changed");
    stale.version = 3;
    let mut changes = insert(std::slice::from_ref(&fresh));
    changes.update.push(VersionedUpdate {
        memory: StoredMemory::new(stale, None),
        expected_version: 2,
        replace_embedding: false,
    });
    let e = store.apply(changes).await.err();
    ensure!(
        e.as_ref().map(|e| e.kind()) == Some(ErrorKind::Conflict),
        "stale version gave {e:?}"
    );
    ensure!(
        store
            .get_memories(&s.tenant, &[fresh.id])
            .await
            .or_fail("get")?
            .is_empty(),
        "a failed change set wrote its insert"
    );
    let mut next = a.clone();
    next.content = "one, changed".into();
    next.content_hash = content_hash(&next.content);
    next.version = 2;
    store
        .apply(ChangeSet {
            update: vec![VersionedUpdate {
                memory: StoredMemory::new(next.clone(), Some(vec![1.0])),
                expected_version: 1,
                replace_embedding: true,
            }],
            ..ChangeSet::default()
        })
        .await
        .or_fail("update")?;
    let got = store
        .get_memories(&s.tenant, &[a.id])
        .await
        .or_fail("get")?;
    ensure!(
        got.first().map(|m| (m.content.as_str(), m.version)) == Some(("one, changed", 2)),
        "update not applied: {got:?}"
    );
    Ok(())
}

/// Outbox rows are served in the order their ops were queued: within a
/// change set as listed (a memory queued twice takes its later op and
/// place), and a later change set's after every earlier one's. A row
/// queued for a memory the change set does not write carries its tenant.
pub(super) async fn outbox_keeps_the_order_ops_were_queued(store: &Arc<dyn Store>) -> CaseResult {
    let s = scope();
    let (x, y, z) = (
        record(&s, "order x"),
        record(&s, "order y"),
        record(&s, "order z"),
    );
    let mut first = insert(&[x.clone(), y.clone()]);
    first.outbox = vec![
        (x.id, VectorOp::Upsert),
        (y.id, VectorOp::Upsert),
        (x.id, VectorOp::Delete),
    ];
    store.apply(first).await.or_fail("first")?;
    store
        .apply(insert(std::slice::from_ref(&z)))
        .await
        .or_fail("second")?;
    // z's upsert done, its delete is a new row: its tenant comes from the
    // stored memory; y's moves after it.
    store
        .outbox_done(&[OutboxAck::of(z.id, VectorOp::Upsert)])
        .await
        .or_fail("ack z")?;
    store
        .apply(ChangeSet {
            outbox: vec![(z.id, VectorOp::Delete), (y.id, VectorOp::Delete)],
            ..ChangeSet::default()
        })
        .await
        .or_fail("third")?;
    let mine: Vec<(Uuid, VectorOp, String)> = store
        .outbox_pending(100_000, u32::MAX)
        .await
        .or_fail("pending")?
        .into_iter()
        .filter(|e| [x.id, y.id, z.id].contains(&e.memory_id))
        .map(|e| (e.memory_id, e.op, e.tenant))
        .collect();
    let want = vec![
        (x.id, VectorOp::Delete, s.tenant.clone()),
        (z.id, VectorOp::Delete, s.tenant.clone()),
        (y.id, VectorOp::Delete, s.tenant.clone()),
    ];
    ensure!(
        mine == want,
        "outbox rows out of the order queued:\n got  {mine:?}\n want {want:?}"
    );
    Ok(())
}

pub(super) async fn outbox_never_loses_a_newer_op(store: &Arc<dyn Store>) -> CaseResult {
    let s = scope();
    let a = record(&s, "outbox");
    store
        .apply(insert(std::slice::from_ref(&a)))
        .await
        .or_fail("apply")?;
    let pending = store.outbox_pending(10_000, 10).await.or_fail("pending")?;
    ensure!(
        pending
            .iter()
            .any(|e| e.memory_id == a.id && e.op == VectorOp::Upsert && e.tenant == s.tenant),
        "insert did not queue an upsert"
    );
    store
        .outbox_failed(&[a.id], "boom", 2)
        .await
        .or_fail("failed")?;
    let m = store
        .get_memories(&s.tenant, &[a.id])
        .await
        .or_fail("get")?;
    ensure!(
        m[0].vector_state == VectorState::Pending && m[0].vector_attempts == 1,
        "one failure: {:?} {}",
        m[0].vector_state,
        m[0].vector_attempts
    );
    store
        .outbox_failed(&[a.id], "boom", 2)
        .await
        .or_fail("failed")?;
    let m = store
        .get_memories(&s.tenant, &[a.id])
        .await
        .or_fail("get")?;
    ensure!(
        m[0].vector_state == VectorState::Failed,
        "max failures did not mark failed"
    );
    let pending = store.outbox_pending(10_000, 2).await.or_fail("pending")?;
    ensure!(
        pending.iter().all(|e| e.memory_id != a.id),
        "a row at max attempts is still served"
    );
    let pending = store
        .outbox_pending(10_000, u32::MAX)
        .await
        .or_fail("pending")?;
    ensure!(
        pending
            .iter()
            .any(|e| e.memory_id == a.id && e.last_error.as_deref() == Some("boom")),
        "forced pending misses the row or its error"
    );
    store
        .apply(ChangeSet {
            outbox: vec![(a.id, VectorOp::Delete)],
            ..ChangeSet::default()
        })
        .await
        .or_fail("queue delete")?;
    let acked = store
        .outbox_done(&[OutboxAck::of(a.id, VectorOp::Upsert)])
        .await
        .or_fail("ack stale upsert")?;
    ensure!(
        acked.is_empty(),
        "a stale upsert was answered as acknowledged: {acked:?}"
    );
    let pending = store.outbox_pending(10_000, 10).await.or_fail("pending")?;
    ensure!(
        pending
            .iter()
            .any(|e| e.memory_id == a.id && e.op == VectorOp::Delete),
        "acknowledging an old upsert dropped the newer delete"
    );
    store
        .outbox_done(&[OutboxAck::of(a.id, VectorOp::Delete)])
        .await
        .or_fail("ack delete")?;
    let b = record(&s, "synced");
    store
        .apply(insert(std::slice::from_ref(&b)))
        .await
        .or_fail("apply")?;
    // A write of another version than the store's is not the one queued.
    let other = OutboxAck {
        version: Some(b.version + 1),
        ..OutboxAck::of(b.id, VectorOp::Upsert)
    };
    let acked = store.outbox_done(&[other]).await.or_fail("ack other")?;
    let pending = store.outbox_pending(10_000, 10).await.or_fail("pending")?;
    ensure!(
        acked.is_empty() && pending.iter().any(|e| e.memory_id == b.id),
        "an upsert of another version was acknowledged: {acked:?}"
    );
    let written = OutboxAck {
        version: Some(b.version),
        ..OutboxAck::of(b.id, VectorOp::Upsert)
    };
    let acked = store.outbox_done(&[written]).await.or_fail("ack")?;
    ensure!(
        acked == [b.id],
        "the queued upsert was not answered as acknowledged: {acked:?}"
    );
    let m = store
        .get_memories(&s.tenant, &[b.id])
        .await
        .or_fail("get")?;
    ensure!(
        m[0].vector_state == VectorState::Synced,
        "acknowledged upsert not marked synced"
    );
    Ok(())
}

pub(super) async fn list_pages_and_filters(store: &Arc<dyn Store>) -> CaseResult {
    let tenant = unique("tenant");
    let mut rng = StdRng::seed_from_u64(21);
    let mut all = Vec::new();
    for i in 0..90 {
        let p = random_payload(&mut rng, &tenant, i);
        let s = Scope {
            tenant: tenant.clone(),
            user_id: p.user_id.clone(),
            agent_id: p.agent_id.clone(),
            session_id: None,
        };
        let mut r = record(&s, &format!("memory number {i}"));
        r.kind = MemoryKind::parse(&p.kind);
        r.importance = p.importance;
        r.metadata = p.metadata.clone();
        r.created_at =
            chrono::DateTime::from_timestamp_millis(p.created_at).unwrap_or(r.created_at);
        all.push(r);
    }
    store.apply(insert(&all)).await.or_fail("apply")?;
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_memories(
                &tenant,
                &ListQuery {
                    filter: None,
                    limit: 7,
                    cursor: cursor.clone(),
                },
            )
            .await
            .or_fail("list")?;
        ensure!(
            page.items.windows(2).all(|w| w[0].id > w[1].id),
            "page not newest first"
        );
        seen.extend(page.items.iter().map(|m| m.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let want: BTreeSet<Uuid> = all.iter().map(|r| r.id).collect();
    ensure!(
        seen.len() == 90 && seen.iter().copied().collect::<BTreeSet<_>>() == want,
        "pagination visited {} of 90 (or twice)",
        seen.len()
    );
    let generated = crate::filter_gen::generated(crate::filter_gen::count());
    for fj in sample_filters().into_iter().chain(generated) {
        // A generated filter may be invalid; the parser's errors are tested apart.
        let Ok(f) = Filter::parse(&fj) else { continue };
        let want: BTreeSet<Uuid> = all.iter().filter(|r| f.matches(*r)).map(|r| r.id).collect();
        let page = store
            .list_memories(
                &tenant,
                &ListQuery {
                    filter: Some(f),
                    limit: 1000,
                    cursor: None,
                },
            )
            .await
            .or_fail(&format!("filtered list {fj}"))?;
        let got: BTreeSet<Uuid> = page.items.iter().map(|m| m.id).collect();
        ensure!(
            got == want,
            "filter {fj}: {} ids, brute force {}",
            got.len(),
            want.len()
        );
    }
    let scanned = store.scan_memories(None, 100_000).await.or_fail("scan")?;
    ensure!(
        scanned.windows(2).all(|w| w[0].record.id < w[1].record.id),
        "scan not ascending"
    );
    ensure!(
        want.iter()
            .all(|id| scanned.iter().any(|m| &m.record.id == id)),
        "scan missed memories"
    );
    Ok(())
}

pub(super) async fn history_and_touch(store: &Arc<dyn Store>) -> CaseResult {
    let s = scope();
    let a = record(&s, "h");
    store
        .apply(insert(std::slice::from_ref(&a)))
        .await
        .or_fail("apply")?;
    let mut changes = ChangeSet::default();
    changes.history.push(HistoryEvent::new(
        &a,
        HistoryOp::Update,
        Some("h".into()),
        Some("h2".into()),
        "because",
    ));
    store.apply(changes).await.or_fail("history")?;
    let h = store.history(&s.tenant, a.id).await.or_fail("history")?;
    ensure!(
        h.len() == 2
            && h[0].op == HistoryOp::Add
            && h[1].op == HistoryOp::Update
            && h[1].reason == "because",
        "history: {h:?}"
    );
    ensure!(
        store
            .history("other", a.id)
            .await
            .or_fail("history")?
            .is_empty(),
        "history crossed tenants"
    );
    let later = now() + chrono::Duration::seconds(5);
    store
        .touch_memories(&s.tenant, &[a.id], later)
        .await
        .or_fail("touch")?;
    let m = store
        .get_memories(&s.tenant, &[a.id])
        .await
        .or_fail("get")?;
    ensure!(
        m[0].access_count == 1 && m[0].last_accessed_at == later,
        "touch not recorded"
    );
    Ok(())
}
