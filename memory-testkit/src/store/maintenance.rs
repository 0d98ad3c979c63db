//! Store cases on scans, exact restores, forgetting and counts.

use super::*;

/// Scans page through every tenant in key order; messages re-inserted with
/// known ids change nothing; `put_user` writes a user exactly.
pub(super) async fn scans_and_restores(store: &Arc<dyn Store>) -> CaseResult {
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

pub(super) async fn forget_removes_everything(store: &Arc<dyn Store>) -> CaseResult {
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

/// Forgetting a user removes that user's data only: in a shared session
/// (seed 000's live chat) the others' messages survive and the session stays
/// without the forgotten owner; a session of the user's own goes whole,
/// the agent's answers with it.
pub(super) async fn forget_spares_shared_sessions(store: &Arc<dyn Store>) -> CaseResult {
    let tenant = unique("tenant");
    let alice = Scope::user("alice").with_tenant(tenant.clone());
    for id in ["stream", "private"] {
        store
            .upsert_session(&session(&tenant, id))
            .await
            .or_fail("session")?;
    }
    let mut answer = message(&tenant, "private", "alice", "here is your answer, Alice");
    answer.user_id = None;
    answer.role = Role::Assistant;
    let bob_says = message(&tenant, "stream", "bob", "hello everyone");
    store
        .insert_messages(&[
            message(&tenant, "stream", "alice", "first!"),
            bob_says.clone(),
            message(&tenant, "stream", "alice", "bye"),
            message(&tenant, "private", "alice", "my secret question"),
            answer,
        ])
        .await
        .or_fail("messages")?;
    let report = store.forget(&alice).await.or_fail("forget")?;
    ensure!(
        report.messages == 4 && report.sessions == 1,
        "report: {report:?}"
    );
    let left = store
        .recent_messages(&tenant, "stream", 10)
        .await
        .or_fail("recent")?;
    ensure!(
        left.iter().map(|m| m.id).collect::<Vec<_>>() == [bob_says.id],
        "the shared session lost others' messages or kept alice's: {left:?}"
    );
    let stream = store
        .get_session(&tenant, "stream")
        .await
        .or_fail("session")?
        .ok_or("the shared session was removed")?;
    ensure!(
        stream.user_id.is_none(),
        "the shared session still names alice: {stream:?}"
    );
    ensure!(
        store
            .get_session(&tenant, "private")
            .await
            .or_fail("session")?
            .is_none()
            && store
                .recent_messages(&tenant, "private", 10)
                .await
                .or_fail("recent")?
                .is_empty(),
        "alice's own session survived"
    );
    Ok(())
}

pub(super) async fn stats_count(store: &Arc<dyn Store>) -> CaseResult {
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
