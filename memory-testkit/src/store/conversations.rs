//! Store cases on messages, sessions and users.

use super::*;

pub(super) async fn messages_sessions_users(store: &Arc<dyn Store>) -> CaseResult {
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

/// A client id is unique in its session (a retry writes nothing), pages of
/// a transcript visit every message once in order, and a message can be
/// marked answered after the fact.
pub(super) async fn messages_client_ids_pages_and_answers(store: &Arc<dyn Store>) -> CaseResult {
    let tenant = unique("tenant");
    store
        .upsert_session(&session(&tenant, "chat"))
        .await
        .or_fail("session")?;
    let mut first = message(&tenant, "chat", "alice", "hello");
    first.client_id = Some("c-1".into());
    let mut retry = message(&tenant, "chat", "alice", "hello (again)");
    retry.client_id = Some("c-1".into());
    store
        .insert_messages(&[first.clone()])
        .await
        .or_fail("insert")?;
    store
        .insert_messages(&[retry])
        .await
        .or_fail("insert retry")?;
    let rest: Vec<Message> = (0..5)
        .map(|i| message(&tenant, "chat", "alice", &format!("m{i}")))
        .collect();
    store.insert_messages(&rest).await.or_fail("insert rest")?;
    let by_client = store
        .list_messages(
            &tenant,
            "chat",
            &MessageQuery {
                client_id: Some("c-1".into()),
                limit: 5,
                ..MessageQuery::default()
            },
        )
        .await
        .or_fail("by client id")?;
    ensure!(
        by_client.len() == 1 && by_client[0].id == first.id && by_client[0].content == "hello",
        "client id: {by_client:?}"
    );
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_messages(
                &tenant,
                "chat",
                &MessageQuery {
                    after,
                    limit: 2,
                    ..MessageQuery::default()
                },
            )
            .await
            .or_fail("page")?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        seen.extend(page.iter().map(|m| m.id));
        ensure!(seen.len() <= 6, "pages do not end");
    }
    let want: Vec<Uuid> = std::iter::once(first.id)
        .chain(rest.iter().map(|m| m.id))
        .collect();
    ensure!(seen == want, "pages: {seen:?} != {want:?}");
    let n = store
        .mark_answered(&tenant, "chat", &[rest[2].id, Uuid::now_v7()])
        .await
        .or_fail("answered")?;
    ensure!(n == 1, "marked {n}");
    let n = store
        .mark_answered(&tenant, "elsewhere", &[rest[3].id])
        .await
        .or_fail("answered elsewhere")?;
    ensure!(n == 0, "marked a message of another session");
    let all = store
        .recent_messages(&tenant, "chat", 10)
        .await
        .or_fail("recent")?;
    ensure!(
        all.iter()
            .filter(|m| m.answered)
            .map(|m| m.id)
            .collect::<Vec<_>>()
            == [rest[2].id],
        "answered: {all:?}"
    );
    Ok(())
}
