//! Engine cases on explicit sessions, viewers, topics and counts per user
//! and agent (seeds 000 and 003).

use memory_core::{
    Filter, NewSession, NewTopic, SessionPatch, SessionQuery, TopicPatch, UserPatch, UserQuery,
    Validity,
};

use super::*;

fn invalid<T: std::fmt::Debug>(r: &memory_core::Result<T>, names: &str) -> bool {
    r.as_ref()
        .is_err_and(|e| e.kind() == ErrorKind::InvalidInput && e.message().contains(names))
}

/// Sessions created with the platform default, paged with cursors, found
/// by platform id, changed without losing extraction's switch.
pub(super) async fn sessions_and_viewers_are_managed(b: &Backends) -> CaseResult {
    let rig = rig(b, EngineConfig::default()).await?;
    let (m, t) = (&rig.memory, rig.scope.tenant.clone());
    let new = |id: &str, ext: Option<&str>| NewSession {
        tenant: t.clone(),
        id: Some(id.into()),
        user_id: Some("alice".into()),
        external_id: ext.map(str::to_owned),
        ..NewSession::default()
    };
    let s1 = m
        .create_session(new("s1", Some("vid1")))
        .await
        .or_fail("create")?;
    ensure!(
        s1.platform.as_deref() == Some("youtube"),
        "default platform: {s1:?}"
    );
    let generated = m
        .create_session(NewSession {
            tenant: t.clone(),
            user_id: Some("alice".into()),
            ..NewSession::default()
        })
        .await
        .or_fail("create with a generated id")?;
    ensure!(
        uuid::Uuid::parse_str(&generated.id).is_ok(),
        "generated id: {generated:?}"
    );
    m.create_session(new("s3", None))
        .await
        .or_fail("create s3")?;
    let dup = m.create_session(new("s4", Some("vid1"))).await;
    ensure!(
        dup.as_ref().is_err_and(|e| e.kind() == ErrorKind::Conflict),
        "a second session took vid1: {dup:?}"
    );
    let q = SessionQuery {
        user_id: Some("alice".into()),
        limit: 2,
        ..SessionQuery::default()
    };
    let first = m
        .list_sessions(&t, q.clone(), None)
        .await
        .or_fail("page 1")?;
    let cursor = first.next_cursor.clone().ok_or("no second page")?;
    let second = m
        .list_sessions(&t, q.clone(), Some(&cursor))
        .await
        .or_fail("page 2")?;
    let mut ids: Vec<String> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|s| s.id.clone())
        .collect();
    ids.sort();
    let mut want = vec!["s1".to_owned(), "s3".to_owned(), generated.id.clone()];
    want.sort();
    ensure!(
        ids == want && second.next_cursor.is_none(),
        "pages: {first:?} then {second:?}"
    );
    let bad = m.list_sessions(&t, q, Some("garbage")).await;
    ensure!(invalid(&bad, "cursor"), "a bad cursor: {bad:?}");
    let found = m
        .session_by_external(&t, "youtube", "vid1")
        .await
        .or_fail("by external id")?;
    ensure!(found == Some(s1), "lookup by video id: {found:?}");
    m.set_session_extraction(&t, "s1", false)
        .await
        .or_fail("switch off")?;
    let mut meta = serde_json::Map::new();
    meta.insert("game".into(), "chess".into());
    let patched = m
        .update_session(
            &t,
            "s1",
            SessionPatch {
                title: Some("Chess night".into()),
                metadata: Some(meta),
                ..SessionPatch::default()
            },
        )
        .await
        .or_fail("update")?;
    ensure!(
        patched.title.as_deref() == Some("Chess night")
            && patched.metadata.get("game") == Some(&json!("chess"))
            && patched.metadata.get("extract") == Some(&json!(false)),
        "patched session: {patched:?}"
    );
    let missing = m.update_session(&t, "nope", SessionPatch::default()).await;
    ensure!(
        missing
            .as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::NotFound),
        "{missing:?}"
    );

    let mut msg = RecordMessage::user("s1", "bob", "hi from bob");
    msg.tenant = t.clone();
    msg.external_id = Some("UC_bob".into());
    msg.platform = Some("youtube".into());
    m.record_message(msg).await.or_fail("record")?;
    let bob = m
        .user_by_external(&t, "youtube", "UC_bob")
        .await
        .or_fail("viewer lookup")?
        .ok_or("bob not found by channel id")?;
    ensure!(bob.id == "bob" && bob.message_count == 1, "{bob:?}");
    let renamed = m
        .update_user(
            &t,
            "bob",
            UserPatch {
                display_name: Some("Bobby".into()),
                ..UserPatch::default()
            },
        )
        .await
        .or_fail("rename")?;
    ensure!(
        renamed.display_name.as_deref() == Some("Bobby") && renamed.message_count == 1,
        "{renamed:?}"
    );
    let users = m
        .list_users(
            &t,
            UserQuery {
                limit: 10,
                ..UserQuery::default()
            },
            None,
        )
        .await
        .or_fail("users")?;
    ensure!(
        users.items.iter().any(|u| u.id == "bob"),
        "bob is not listed: {users:?}"
    );
    let bad = m
        .list_users(
            &t,
            UserQuery {
                limit: 0,
                ..UserQuery::default()
            },
            None,
        )
        .await;
    ensure!(invalid(&bad, "limit"), "{bad:?}");
    Ok(())
}

/// Topics: messages and memories point at one, are filtered by it, and a
/// topic of another session or an unknown one is refused by name.
pub(super) async fn topics_tag_messages_and_memories(b: &Backends) -> CaseResult {
    let rig = rig(b, EngineConfig::default()).await?;
    let (m, t) = (&rig.memory, rig.scope.tenant.clone());
    for id in ["s1", "s2"] {
        m.create_session(NewSession {
            tenant: t.clone(),
            id: Some(id.into()),
            ..NewSession::default()
        })
        .await
        .or_fail("session")?;
    }
    let topic = |session: &str, title: &str| NewTopic {
        tenant: t.clone(),
        session_id: session.into(),
        title: title.into(),
        outline: json!(["openings", "endgames"]),
        ..NewTopic::default()
    };
    let chess = m
        .create_topic(topic("s1", "Chess"))
        .await
        .or_fail("topic")?;
    let other = m
        .create_topic(topic("s2", "Other"))
        .await
        .or_fail("topic 2")?;
    let empty = m.create_topic(topic("s1", " ")).await;
    ensure!(invalid(&empty, "title"), "{empty:?}");
    let orphan = m.create_topic(topic("missing", "x")).await;
    ensure!(invalid(&orphan, "session"), "{orphan:?}");

    let send = |text: &str, topic_id| {
        let mut msg = RecordMessage::user("s1", "alice", text);
        msg.tenant = t.clone();
        msg.topic_id = topic_id;
        m.record_message(msg)
    };
    send("what about the Sicilian?", Some(chess.id))
        .await
        .or_fail("on topic")?;
    send("hello all", None).await.or_fail("off topic")?;
    let wrong = send("wrong session", Some(other.id)).await;
    ensure!(invalid(&wrong, "topic_id"), "{wrong:?}");
    let page = m
        .transcript(&t, "s1", Some(chess.id), 10, None)
        .await
        .or_fail("transcript by topic")?;
    ensure!(
        page.items.len() == 1 && page.items[0].topic_id == Some(chess.id),
        "{page:?}"
    );

    let scope = rig.scope.clone();
    let mut add = AddRequest::new(scope.clone(), "alice plays the Sicilian defence");
    add.topic_id = Some(chess.id);
    m.add(add).await.or_fail("add with topic")?;
    m.add(AddRequest::new(scope.clone(), "alice drinks tea"))
        .await
        .or_fail("add")?;
    let mut bad = AddRequest::new(scope.clone(), "x");
    bad.topic_id = Some(uuid::Uuid::now_v7());
    let bad = m.add(bad).await;
    ensure!(invalid(&bad, "topic_id"), "{bad:?}");
    let filter = Filter::parse(&json!({ "topic_id": chess.id.to_string() })).or_fail("filter")?;
    let listed = m
        .list(&scope, Some(filter), Validity::Current, 10, None)
        .await
        .or_fail("list by topic")?;
    ensure!(
        listed.items.len() == 1 && listed.items[0].content.contains("Sicilian"),
        "{listed:?}"
    );
    let hits = m
        .search(
            SearchRequest::new(scope.clone(), "what does alice play")
                .filter(json!({ "topic_id": chess.id.to_string() })),
        )
        .await
        .or_fail("search by topic")?;
    ensure!(
        hits.hits.len() == 1 && hits.hits[0].memory.content.contains("Sicilian"),
        "{hits:?}"
    );

    let done = m
        .update_topic(
            &t,
            chess.id,
            TopicPatch {
                completed: Some(true),
                ..TopicPatch::default()
            },
        )
        .await
        .or_fail("complete")?;
    ensure!(
        done.completed && done.updated_at >= chess.updated_at,
        "{done:?}"
    );
    m.delete_topic(&t, chess.id).await.or_fail("delete")?;
    let gone = m.topic(&t, chess.id).await;
    ensure!(
        gone.as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::NotFound),
        "{gone:?}"
    );
    let page = m
        .transcript(&t, "s1", None, 10, None)
        .await
        .or_fail("transcript")?;
    ensure!(
        page.items.len() == 2,
        "messages went with their topic: {page:?}"
    );

    let stats = m.scope_stats(&scope).await.or_fail("stats")?;
    ensure!(
        stats.memories == 2 && stats.messages == 2,
        "alice's counts: {stats:?}"
    );
    let unscoped = m
        .scope_stats(&Scope {
            user_id: None,
            ..scope
        })
        .await;
    ensure!(invalid(&unscoped, "scope"), "{unscoped:?}");
    Ok(())
}
