//! Store cases on explicit sessions, users looked up by platform id,
//! topics, and counts per user and agent.

use memory_core::{SessionQuery, TimeKey, Topic, TopicQuery, UserPatch, UserQuery};

use super::*;

fn kind_of<T: std::fmt::Debug>(r: memory_core::Result<T>) -> Option<ErrorKind> {
    r.err().map(|e| e.kind())
}

/// Explicit sessions: unique ids and external ids per platform, replaced
/// fields, listings newest first that page with a key and filter.
pub(super) async fn sessions_created_listed_and_found(store: &Arc<dyn Store>) -> CaseResult {
    let tenant = unique("tenant");
    let t0 = now();
    let mk = |id: &str, ext: Option<&str>, platform: &str, secs: i64| Session {
        platform: Some(platform.into()),
        external_id: ext.map(str::to_owned),
        started_at: t0 + chrono::Duration::seconds(secs),
        ..session(&tenant, id)
    };
    let s1 = mk("s1", Some("vid1"), "youtube", 0);
    store.create_session(&s1).await.or_fail("create")?;
    ensure!(
        kind_of(store.create_session(&mk("s1", None, "youtube", 1)).await)
            == Some(ErrorKind::Conflict),
        "a second session with the same id was created"
    );
    ensure!(
        kind_of(
            store
                .create_session(&mk("s2", Some("vid1"), "youtube", 1))
                .await
        ) == Some(ErrorKind::Conflict),
        "a second session with the same external id on the platform was created"
    );
    let s2 = mk("s2", Some("vid1"), "twitch", 1);
    store
        .create_session(&s2)
        .await
        .or_fail("same id, other platform")?;
    let s3 = Session {
        user_id: Some("bob".into()),
        ..mk("s3", None, "youtube", 2)
    };
    store.create_session(&s3).await.or_fail("create s3")?;
    ensure!(
        store.get_session(&tenant, "s1").await.or_fail("get")? == Some(s1.clone()),
        "created session round trip"
    );
    let page = |after: Option<TimeKey>, limit| SessionQuery {
        user_id: Some("alice".into()),
        after,
        limit,
        ..SessionQuery::default()
    };
    let first = store
        .list_sessions(&tenant, &page(None, 1))
        .await
        .or_fail("list")?;
    ensure!(
        first.iter().map(|s| s.id.as_str()).collect::<Vec<_>>() == ["s2"],
        "alice's newest session first: {first:?}"
    );
    let key = TimeKey::of(first[0].started_at, &first[0].id);
    let key = TimeKey::decode(&key.encode()).or_fail("cursor round trip")?;
    let rest = store
        .list_sessions(&tenant, &page(Some(key), 10))
        .await
        .or_fail("list after")?;
    ensure!(
        rest.iter().map(|s| s.id.as_str()).collect::<Vec<_>>() == ["s1"],
        "the next page: {rest:?}"
    );
    let by_ext = SessionQuery {
        platform: Some("youtube".into()),
        external_id: Some("vid1".into()),
        limit: 5,
        ..SessionQuery::default()
    };
    let found = store
        .list_sessions(&tenant, &by_ext)
        .await
        .or_fail("by external id")?;
    ensure!(
        found == vec![s1.clone()],
        "lookup by platform id: {found:?}"
    );
    let renamed = Session {
        title: Some("Renamed".into()),
        external_id: Some("vid9".into()),
        ..s1.clone()
    };
    store.replace_session(&renamed).await.or_fail("replace")?;
    let got = store
        .get_session(&tenant, "s1")
        .await
        .or_fail("get replaced")?;
    ensure!(got == Some(renamed.clone()), "replaced session: {got:?}");
    ensure!(
        kind_of(store.replace_session(&mk("nope", None, "youtube", 0)).await)
            == Some(ErrorKind::NotFound),
        "replacing a missing session did not say NotFound"
    );
    ensure!(
        kind_of(
            store
                .replace_session(&Session {
                    external_id: Some("vid9".into()),
                    ..s3.clone()
                })
                .await
        ) == Some(ErrorKind::Conflict),
        "two sessions took one external id through a replace"
    );
    // The implicit creation's upsert leaves a known external id alone.
    store
        .upsert_session(&session(&tenant, "s1"))
        .await
        .or_fail("upsert")?;
    let got = store.get_session(&tenant, "s1").await.or_fail("get")?;
    ensure!(
        got.as_ref().and_then(|s| s.external_id.as_deref()) == Some("vid9"),
        "upsert dropped the external id: {got:?}"
    );
    Ok(())
}

/// Users patched without touching their counts, found by platform id,
/// listed most recently seen first; an export's user round-trips whole.
pub(super) async fn users_patched_listed_and_found(store: &Arc<dyn Store>) -> CaseResult {
    let tenant = unique("tenant");
    let t0 = now();
    for (i, (id, ext)) in [("alice", "yt_a"), ("bob", "yt_b")].iter().enumerate() {
        let touch = UserTouch {
            external_id: Some((*ext).into()),
            platform: Some("youtube".into()),
            messages: 3,
            ..UserTouch::default()
        };
        let at = t0 + chrono::Duration::seconds(i64::try_from(i).unwrap_or(0));
        store
            .touch_user(&tenant, id, &touch, at)
            .await
            .or_fail("touch")?;
    }
    let mut meta = serde_json::Map::new();
    meta.insert("vip".into(), true.into());
    let patch = UserPatch {
        display_name: Some("Alice A.".into()),
        metadata: Some(meta.clone()),
        ..UserPatch::default()
    };
    let later = t0 + chrono::Duration::seconds(60);
    let u = store
        .patch_user(&tenant, "alice", &patch, later)
        .await
        .or_fail("patch")?;
    ensure!(
        u.display_name.as_deref() == Some("Alice A.")
            && u.metadata == meta
            && u.message_count == 3
            && u.last_seen_at == t0
            && u.external_id.as_deref() == Some("yt_a"),
        "patched user: {u:?}"
    );
    let u = store
        .patch_user(&tenant, "alice", &UserPatch::default(), later)
        .await
        .or_fail("empty patch")?;
    ensure!(u.metadata == meta, "an empty patch cleared metadata: {u:?}");
    let carol = store
        .patch_user(&tenant, "carol", &UserPatch::default(), later)
        .await
        .or_fail("patch creates")?;
    ensure!(
        carol.message_count == 0 && carol.first_seen_at == later,
        "created by a patch: {carol:?}"
    );
    let steal = UserPatch {
        external_id: Some("yt_b".into()),
        platform: Some("youtube".into()),
        ..UserPatch::default()
    };
    ensure!(
        kind_of(store.patch_user(&tenant, "carol", &steal, later).await)
            == Some(ErrorKind::Conflict),
        "two users took one external id"
    );
    let all = store
        .list_users(
            &tenant,
            &UserQuery {
                limit: 10,
                ..UserQuery::default()
            },
        )
        .await
        .or_fail("list")?;
    ensure!(
        all.iter().map(|u| u.id.as_str()).collect::<Vec<_>>() == ["carol", "bob", "alice"],
        "most recently seen first: {all:?}"
    );
    let q = UserQuery {
        after: Some(TimeKey::of(all[1].last_seen_at, &all[1].id)),
        limit: 10,
        ..UserQuery::default()
    };
    let rest = store.list_users(&tenant, &q).await.or_fail("page")?;
    ensure!(
        rest.iter().map(|u| u.id.as_str()).collect::<Vec<_>>() == ["alice"],
        "after bob: {rest:?}"
    );
    let q = UserQuery {
        platform: Some("youtube".into()),
        external_id: Some("yt_b".into()),
        limit: 1,
        ..UserQuery::default()
    };
    let found = store
        .list_users(&tenant, &q)
        .await
        .or_fail("by external id")?;
    ensure!(
        found.len() == 1 && found[0].id == "bob",
        "lookup by platform id: {found:?}"
    );
    let mut copy = store
        .get_user(&tenant, "alice")
        .await
        .or_fail("get")?
        .ok_or_else(|| "alice is gone".to_owned())?;
    copy.id = "alice2".into();
    copy.external_id = None;
    store.put_user(&copy).await.or_fail("put")?;
    let back = store.get_user(&tenant, "alice2").await.or_fail("get put")?;
    ensure!(
        back == Some(copy),
        "put_user round trip (metadata included): {back:?}"
    );
    Ok(())
}

/// Topics of a session: created, listed, changed; messages point at them
/// and are listed by them; deleting one unlinks its messages.
pub(super) async fn topics_and_their_messages(store: &Arc<dyn Store>) -> CaseResult {
    let tenant = unique("tenant");
    store
        .upsert_session(&session(&tenant, "s1"))
        .await
        .or_fail("session")?;
    let mk = |title: &str, session_id: &str| Topic {
        id: Uuid::now_v7(),
        tenant: tenant.clone(),
        session_id: session_id.into(),
        title: title.into(),
        outline: serde_json::json!(["intro", "demo"]),
        completed: false,
        metadata: serde_json::Map::new(),
        created_at: now(),
        updated_at: now(),
    };
    let a = mk("Rust", "s1");
    let b = mk("Q&A", "s1");
    store.create_topic(&a).await.or_fail("create a")?;
    store.create_topic(&b).await.or_fail("create b")?;
    ensure!(
        kind_of(store.create_topic(&mk("x", "missing")).await) == Some(ErrorKind::InvalidInput),
        "a topic of a missing session was created"
    );
    ensure!(
        store.get_topic(&tenant, a.id).await.or_fail("get")? == Some(a.clone()),
        "topic round trip"
    );
    ensure!(
        store
            .get_topic("other", a.id)
            .await
            .or_fail("get other")?
            .is_none(),
        "a topic seen from another tenant"
    );
    let done = Topic {
        completed: true,
        title: "Rust 2024".into(),
        ..a.clone()
    };
    store.replace_topic(&done).await.or_fail("replace")?;
    let q = |completed| TopicQuery {
        session_id: Some("s1".into()),
        completed,
        limit: 10,
        ..TopicQuery::default()
    };
    let open = store
        .list_topics(&tenant, &q(Some(false)))
        .await
        .or_fail("list open")?;
    ensure!(open == vec![b.clone()], "open topics: {open:?}");
    let all = store
        .list_topics(&tenant, &q(None))
        .await
        .or_fail("list all")?;
    ensure!(
        all == vec![done.clone(), b.clone()],
        "all topics oldest first: {all:?}"
    );
    let mut on_a = message(&tenant, "s1", "alice", "about rust");
    on_a.topic_id = Some(a.id);
    let off = message(&tenant, "s1", "alice", "hello");
    store
        .insert_messages(&[on_a.clone(), off])
        .await
        .or_fail("insert")?;
    let mq = MessageQuery {
        topic_id: Some(a.id),
        limit: 10,
        ..MessageQuery::default()
    };
    let listed = store
        .list_messages(&tenant, "s1", &mq)
        .await
        .or_fail("by topic")?;
    ensure!(
        listed == vec![on_a.clone()],
        "messages of the topic: {listed:?}"
    );
    ensure!(
        store.delete_topic(&tenant, a.id).await.or_fail("delete")?,
        "delete found nothing"
    );
    ensure!(
        !store
            .delete_topic(&tenant, a.id)
            .await
            .or_fail("delete again")?,
        "a deleted topic was deleted again"
    );
    let kept = store
        .list_messages(
            &tenant,
            "s1",
            &MessageQuery {
                limit: 10,
                ..MessageQuery::default()
            },
        )
        .await
        .or_fail("after delete")?;
    ensure!(
        kept.len() == 2 && kept.iter().all(|m| m.topic_id.is_none()),
        "deleting a topic must keep its messages, unlinked: {kept:?}"
    );
    Ok(())
}

/// Counts for one user, one agent, and both.
pub(super) async fn scope_stats_count(store: &Arc<dyn Store>) -> CaseResult {
    let tenant = unique("tenant");
    let alice = Scope::user("alice").with_tenant(tenant.clone());
    let with_bot = Scope {
        agent_id: Some("bot".into()),
        ..alice.clone()
    };
    let mut pref = record(&alice, "likes tea");
    pref.kind = MemoryKind::Preference;
    let mut old = record(&with_bot, "lives in Lisbon");
    old.valid_until = Some(now());
    let recs = [
        record(&alice, "is a streamer"),
        pref,
        record(&with_bot, "told bot a joke"),
        old,
    ];
    store.apply(insert(&recs)).await.or_fail("insert")?;
    let s = Session {
        agent_id: Some("bot".into()),
        ..session(&tenant, "s1")
    };
    store.upsert_session(&s).await.or_fail("session")?;
    let mut msgs: Vec<Message> = (0..3)
        .map(|i| message(&tenant, "s1", "alice", &format!("m{i}")))
        .collect();
    msgs[2].agent_id = Some("bot".into());
    msgs[0].extracted = true;
    store.insert_messages(&msgs).await.or_fail("messages")?;
    let st = store
        .scope_stats(&alice, now())
        .await
        .or_fail("user stats")?;
    ensure!(
        st.memories == 3
            && st.memories_by_kind.get("preference") == Some(&1)
            && st.memories_by_kind.get("fact") == Some(&2)
            && st.superseded == 1
            && st.messages == 3
            && st.unextracted_messages == 2
            && st.sessions == 1
            && st.first_message_at == Some(msgs[0].created_at)
            && st.last_message_at == Some(msgs[2].created_at),
        "alice's counts: {st:?}"
    );
    let st = store
        .scope_stats(&with_bot, now())
        .await
        .or_fail("pair stats")?;
    ensure!(
        st.memories == 1 && st.superseded == 1 && st.messages == 1 && st.sessions == 1,
        "alice with the bot: {st:?}"
    );
    let nobody = Scope::user("nobody").with_tenant(tenant);
    let st = store.scope_stats(&nobody, now()).await.or_fail("empty")?;
    ensure!(
        st == memory_core::ScopeStats::default(),
        "a stranger's counts: {st:?}"
    );
    Ok(())
}
