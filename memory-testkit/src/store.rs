//! Conformance of [`Store`] implementations.

use std::collections::BTreeSet;
use std::sync::Arc;

use memory_core::{
    ChangeSet, ErrorKind, Filter, HistoryEvent, HistoryOp, ListQuery, MemoryKind, MemoryRecord,
    Message, Role, Scope, Session, Store, StoredMemory, UserTouch, VectorOp, VectorState,
    VersionedUpdate, content_hash, now,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use uuid::Uuid;

use crate::vector::{random_payload, sample_filters};
use crate::{CaseResult, OrFail, Report, case, ensure, unique};

/// A new memory record for `scope`.
pub fn record(scope: &Scope, content: &str) -> MemoryRecord {
    let t = now();
    MemoryRecord {
        id: Uuid::now_v7(),
        scope: scope.clone(),
        content: content.to_owned(),
        kind: MemoryKind::Fact,
        importance: 5.0,
        confidence: 1.0,
        metadata: serde_json::Map::new(),
        source_message_ids: Vec::new(),
        created_at: t,
        updated_at: t,
        last_accessed_at: t,
        access_count: 0,
        expires_at: None,
        content_hash: content_hash(content),
        embedding_model: Some("test".into()),
        vector_state: VectorState::Pending,
        vector_attempts: 0,
        version: 1,
    }
}

fn insert(records: &[MemoryRecord]) -> ChangeSet {
    ChangeSet {
        insert: records
            .iter()
            .map(|r| StoredMemory {
                record: r.clone(),
                embedding: Some(vec![0.5, 0.25]),
            })
            .collect(),
        outbox: records.iter().map(|r| (r.id, VectorOp::Upsert)).collect(),
        history: records
            .iter()
            .map(|r| HistoryEvent::new(r, HistoryOp::Add, None, Some(r.content.clone()), "added"))
            .collect(),
        ..ChangeSet::default()
    }
}

fn scope() -> Scope {
    Scope::user(unique("user")).with_tenant(unique("tenant"))
}

async fn insert_get_round_trip(store: &Arc<dyn Store>) -> CaseResult {
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

async fn change_sets_are_atomic(store: &Arc<dyn Store>) -> CaseResult {
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
        memory: StoredMemory {
            record: stale,
            embedding: None,
        },
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
                memory: StoredMemory {
                    record: next.clone(),
                    embedding: Some(vec![1.0]),
                },
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

async fn outbox_never_loses_a_newer_op(store: &Arc<dyn Store>) -> CaseResult {
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
    store
        .outbox_done(&[(a.id, VectorOp::Upsert)])
        .await
        .or_fail("ack stale upsert")?;
    let pending = store.outbox_pending(10_000, 10).await.or_fail("pending")?;
    ensure!(
        pending
            .iter()
            .any(|e| e.memory_id == a.id && e.op == VectorOp::Delete),
        "acknowledging an old upsert dropped the newer delete"
    );
    store
        .outbox_done(&[(a.id, VectorOp::Delete)])
        .await
        .or_fail("ack delete")?;
    let b = record(&s, "synced");
    store
        .apply(insert(std::slice::from_ref(&b)))
        .await
        .or_fail("apply")?;
    store
        .outbox_done(&[(b.id, VectorOp::Upsert)])
        .await
        .or_fail("ack")?;
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

async fn list_pages_and_filters(store: &Arc<dyn Store>) -> CaseResult {
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
    for fj in sample_filters() {
        let f = Filter::parse(&fj).or_fail("parse")?;
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
            .or_fail("filtered list")?;
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

async fn history_and_touch(store: &Arc<dyn Store>) -> CaseResult {
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

/// Alice's untitled session `id` in `tenant`, started now.
fn session(tenant: &str, id: &str) -> Session {
    Session {
        id: id.into(),
        tenant: tenant.to_owned(),
        user_id: Some("alice".into()),
        agent_id: None,
        title: None,
        platform: None,
        started_at: now(),
        ended_at: None,
        metadata: serde_json::Map::new(),
    }
}

fn message(tenant: &str, session: &str, user: &str, text: &str) -> Message {
    Message {
        id: Uuid::now_v7(),
        tenant: tenant.to_owned(),
        session_id: session.to_owned(),
        user_id: Some(user.to_owned()),
        agent_id: None,
        role: Role::User,
        author_name: Some("Alice".into()),
        content: text.to_owned(),
        created_at: now(),
        metadata: serde_json::Map::new(),
        extracted: false,
        answered: false,
    }
}

async fn messages_sessions_users(store: &Arc<dyn Store>) -> CaseResult {
    let tenant = unique("tenant");
    let session = Session {
        title: Some("Stream".into()),
        platform: Some("youtube".into()),
        ..session(&tenant, "s1")
    };
    store.upsert_session(&session).await.or_fail("session")?;
    ensure!(
        store
            .get_session(&tenant, "s1")
            .await
            .or_fail("get session")?
            == Some(session.clone()),
        "session round trip"
    );
    let msgs: Vec<Message> = (0..5)
        .map(|i| message(&tenant, "s1", "alice", &format!("m{i}")))
        .collect();
    store.insert_messages(&msgs).await.or_fail("insert")?;
    let recent = store
        .recent_messages(&tenant, "s1", 3)
        .await
        .or_fail("recent")?;
    ensure!(
        recent
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            == ["m2", "m3", "m4"],
        "recent: {recent:?}"
    );
    ensure!(
        store
            .count_unextracted(&tenant, "s1")
            .await
            .or_fail("count")?
            == 5,
        "unextracted count"
    );
    store
        .mark_extracted(&tenant, &[msgs[0].id, msgs[1].id])
        .await
        .or_fail("mark")?;
    let un = store
        .unextracted_messages(&tenant, "s1", 10)
        .await
        .or_fail("unextracted")?;
    ensure!(
        un.len() == 3 && un[0].content == "m2",
        "unextracted after marking: {un:?}"
    );
    let e = store
        .insert_messages(&[message(&tenant, "no-such-session", "alice", "x")])
        .await
        .err();
    ensure!(e.is_some(), "a message for a missing session was stored");
    let t0 = now();
    let u = store
        .touch_user(
            &tenant,
            "alice",
            &UserTouch {
                display_name: Some("Alice".into()),
                external_id: Some("yt_alice".into()),
                platform: Some("youtube".into()),
                messages: 1,
            },
            t0,
        )
        .await
        .or_fail("touch user")?;
    ensure!(
        u.message_count == 1 && u.first_seen_at == t0,
        "new user: {u:?}"
    );
    let t1 = t0 + chrono::Duration::seconds(10);
    let u = store
        .touch_user(
            &tenant,
            "alice",
            &UserTouch {
                messages: 1,
                ..UserTouch::default()
            },
            t1,
        )
        .await
        .or_fail("touch again")?;
    ensure!(
        u.message_count == 2
            && u.first_seen_at == t0
            && u.last_seen_at == t1
            && u.display_name.as_deref() == Some("Alice"),
        "returning user: {u:?}"
    );
    let e = store
        .touch_user(
            &tenant,
            "bob",
            &UserTouch {
                external_id: Some("yt_alice".into()),
                platform: Some("youtube".into()),
                messages: 1,
                ..UserTouch::default()
            },
            t1,
        )
        .await
        .err();
    ensure!(
        e.as_ref().map(|e| e.kind()) == Some(ErrorKind::Conflict),
        "duplicate external id gave {e:?}"
    );
    Ok(())
}

/// Scans page through every tenant in key order; messages re-inserted with
/// known ids change nothing; `put_user` writes a user exactly.
async fn scans_and_restores(store: &Arc<dyn Store>) -> CaseResult {
    let tenants = [unique("scan-a"), unique("scan-b")];
    let mut wanted_sessions = BTreeSet::new();
    let mut wanted_messages = BTreeSet::new();
    for t in &tenants {
        for sid in ["s1", "s2"] {
            store
                .upsert_session(&session(t, sid))
                .await
                .or_fail("session")?;
            wanted_sessions.insert((t.clone(), sid.to_owned()));
            let msgs: Vec<Message> = (0..3)
                .map(|i| message(t, sid, "alice", &format!("{sid}-{i}")))
                .collect();
            store.insert_messages(&msgs).await.or_fail("insert")?;
            // A retried restore: the same ids again, one new.
            let mut again = msgs.clone();
            again[0].content = "changed on the second write".into();
            again.push(message(t, sid, "alice", "late"));
            store.insert_messages(&again).await.or_fail("re-insert")?;
            wanted_messages.extend(again.iter().map(|m| m.id));
        }
        store
            .touch_user(t, "alice", &UserTouch::default(), now())
            .await
            .or_fail("touch")?;
    }
    let (mut got, mut after) = (BTreeSet::new(), None::<(String, String)>);
    loop {
        let page = store
            .scan_sessions(after.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), 1)
            .await
            .or_fail("scan sessions")?;
        let Some(last) = page.last() else { break };
        ensure!(page.len() == 1, "page size ignored: {}", page.len());
        let key = (last.tenant.clone(), last.id.clone());
        ensure!(
            after.as_ref() < Some(&key),
            "sessions out of order at {key:?}"
        );
        after = Some(key.clone());
        got.insert(key);
    }
    ensure!(
        wanted_sessions.is_subset(&got),
        "sessions missing from the scan: {:?}",
        wanted_sessions.difference(&got).collect::<Vec<_>>()
    );
    let (mut seen, mut after) = (BTreeSet::new(), None);
    loop {
        let page = store
            .scan_messages(after, 5)
            .await
            .or_fail("scan messages")?;
        let Some(last) = page.last() else { break };
        for m in &page {
            ensure!(after < Some(m.id), "messages out of order");
            ensure!(
                m.content != "changed on the second write",
                "a re-inserted message overwrote the stored one"
            );
            after = Some(m.id);
            seen.insert(m.id);
        }
        after = Some(last.id);
    }
    ensure!(
        wanted_messages.is_subset(&seen),
        "{} messages missing from the scan",
        wanted_messages.difference(&seen).count()
    );
    let mut users = Vec::new();
    let mut after = None::<(String, String)>;
    loop {
        let page = store
            .scan_users(after.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), 2)
            .await
            .or_fail("scan users")?;
        let Some(last) = page.last() else { break };
        after = Some((last.tenant.clone(), last.id.clone()));
        users.extend(page.into_iter().filter(|u| tenants.contains(&u.tenant)));
    }
    ensure!(users.len() == 2, "users scanned: {users:?}");
    let mut exact = users[0].clone();
    exact.display_name = Some("Alice Restored".into());
    exact.message_count = 42;
    exact.first_seen_at = memory_core::truncate_ms(now() - chrono::Duration::days(30));
    store.put_user(&exact).await.or_fail("put user")?;
    let back = store
        .get_user(&exact.tenant, &exact.id)
        .await
        .or_fail("get user")?;
    ensure!(
        back.as_ref() == Some(&exact),
        "put_user: {back:?} != {exact:?}"
    );
    let mut fresh = exact.clone();
    fresh.tenant = unique("scan-new");
    store.put_user(&fresh).await.or_fail("put new user")?;
    ensure!(
        store
            .get_user(&fresh.tenant, &fresh.id)
            .await
            .or_fail("get")?
            == Some(fresh),
        "put_user of a new user"
    );
    Ok(())
}

async fn forget_removes_everything(store: &Arc<dyn Store>) -> CaseResult {
    let tenant = unique("tenant");
    let alice = Scope::user("alice").with_tenant(tenant.clone());
    let bob = Scope::user("bob").with_tenant(tenant.clone());
    let a = record(&alice, "alice fact");
    let b = record(&bob, "bob fact");
    store
        .apply(insert(&[a.clone(), b.clone()]))
        .await
        .or_fail("apply")?;
    let s = session(&tenant, "sa");
    store.upsert_session(&s).await.or_fail("session")?;
    store
        .insert_messages(&[message(&tenant, "sa", "alice", "hi")])
        .await
        .or_fail("message")?;
    store
        .touch_user(
            &tenant,
            "alice",
            &UserTouch {
                messages: 1,
                ..UserTouch::default()
            },
            now(),
        )
        .await
        .or_fail("user")?;
    let report = store.forget(&alice).await.or_fail("forget")?;
    ensure!(
        report.memories == vec![a.id]
            && report.messages == 1
            && report.sessions == 1
            && report.users == 1,
        "report: {report:?}"
    );
    ensure!(
        store
            .get_memories(&tenant, &[a.id])
            .await
            .or_fail("get")?
            .is_empty(),
        "memory survived"
    );
    ensure!(
        store
            .get_memories(&tenant, &[b.id])
            .await
            .or_fail("get")?
            .len()
            == 1,
        "bob's memory was removed"
    );
    ensure!(
        store
            .get_user(&tenant, "alice")
            .await
            .or_fail("user")?
            .is_none(),
        "user survived"
    );
    let pending = store
        .outbox_pending(100_000, u32::MAX)
        .await
        .or_fail("pending")?;
    ensure!(
        pending
            .iter()
            .any(|e| e.memory_id == a.id && e.op == VectorOp::Delete),
        "vector delete not queued"
    );
    Ok(())
}

async fn stats_count(store: &Arc<dyn Store>) -> CaseResult {
    let s = scope();
    store
        .apply(insert(&[record(&s, "x"), record(&s, "y")]))
        .await
        .or_fail("apply")?;
    let st = store.stats(Some(&s.tenant)).await.or_fail("stats")?;
    ensure!(
        st.memories == 2 && st.history == 2 && st.outbox_pending == 2,
        "stats: {st:?}"
    );
    Ok(())
}

/// Runs every store case.
pub async fn run(store: Arc<dyn Store>) -> Report {
    let mut r = Report::new(format!("store[{}]", store.info().scheme));
    case!(r, insert_get_round_trip(&store));
    case!(r, change_sets_are_atomic(&store));
    case!(r, outbox_never_loses_a_newer_op(&store));
    case!(r, list_pages_and_filters(&store));
    case!(r, history_and_touch(&store));
    case!(r, messages_sessions_users(&store));
    case!(r, scans_and_restores(&store));
    case!(r, forget_removes_everything(&store));
    case!(r, stats_count(&store));
    r
}
