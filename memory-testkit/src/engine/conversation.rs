//! Engine cases on messages, windows and rate limits.

use super::*;

pub(super) async fn messages_window_and_recovery(b: &Backends) -> CaseResult {
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

pub(super) async fn rate_limits_per_user_and_global(b: &Backends) -> CaseResult {
    let limits = memory_core::RateLimits {
        per_user_per_minute: 3,
        global_per_minute: 5,
        ..memory_core::RateLimits::default()
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

pub(super) async fn messages_can_be_remembered_and_searched(b: &Backends) -> CaseResult {
    let r = rig(b, remembering()).await?;
    let m = &r.memory;
    let t = r.scope.tenant.clone();
    let say = |session: &str, text: &str, remember: Option<bool>| {
        let mut msg = RecordMessage::user(session, "alice", text);
        msg.tenant = t.clone();
        msg.remember = remember;
        m.record_message(msg)
    };
    let kept = say("chat-1", "my sister Ana is visiting from Porto", None)
        .await
        .or_fail("record")?;
    let id = kept
        .memory_id
        .ok_or("the message was not kept as a memory")?;
    say("chat-2", "the violin lesson moved to Thursday", None)
        .await
        .or_fail("record")?;
    let skipped = say("chat-2", "a private remark about Porto", Some(false))
        .await
        .or_fail("record")?;
    ensure!(skipped.memory_id.is_none(), "remember=false was kept");
    let got = m.find(&t, id).await.or_fail("find")?.ok_or("no memory")?;
    ensure!(
        got.kind == MemoryKind::Message
            && got.source_message_ids == [kept.message.id]
            && got.scope.session_id.as_deref() == Some("chat-1")
            && got.valid_from == Some(kept.message.created_at),
        "message memory: {got:?}"
    );
    let alice = Scope::user("alice").with_tenant(t.clone());
    let hits = m
        .search(
            SearchRequest::new(alice.clone(), "who visits from Porto")
                .filter(json!({"kind": "message", "session_id": "chat-1"})),
        )
        .await
        .or_fail("search")?;
    ensure!(
        hits.hits.len() == 1 && hits.hits[0].memory.id == id,
        "search by kind and session: {hits:?}"
    );
    let since = kept.message.created_at.timestamp_millis() + 1;
    let later = m
        .search(
            SearchRequest::new(alice, "lesson")
                .mode(SearchMode::Keyword)
                .filter(json!({"kind": "message", "created_at": {"$gte": since}})),
        )
        .await
        .or_fail("search by time")?;
    ensure!(
        later.hits.len() == 1 && later.hits[0].memory.content.contains("violin"),
        "search by time: {later:?}"
    );
    // Off by default.
    let plain = rig(b, EngineConfig::default()).await?;
    let o = plain
        .memory
        .record_message(RecordMessage::user("chat-3", "alice", "hello"))
        .await
        .or_fail("record")?;
    ensure!(
        o.memory_id.is_none(),
        "kept without remember_messages: {o:?}"
    );
    Ok(())
}

pub(super) async fn a_retried_message_is_recorded_once(b: &Backends) -> CaseResult {
    let r = rig(b, remembering()).await?;
    let m = &r.memory;
    let t = r.scope.tenant.clone();
    let send = |text: &str| {
        let mut msg = RecordMessage::user("chat", "alice", text);
        msg.tenant = t.clone();
        msg.client_id = Some("phone-42".into());
        m.record_message(msg)
    };
    let first = send("see you at noon").await.or_fail("record")?;
    let again = send("see you at noon").await.or_fail("retry")?;
    ensure!(
        !first.duplicate && again.duplicate && again.message.id == first.message.id,
        "retry: {again:?}"
    );
    let page = m
        .transcript(&t, "chat", None, 10, None)
        .await
        .or_fail("transcript")?;
    ensure!(page.items.len() == 1, "recorded twice: {page:?}");
    let user = m
        .user(&t, "alice")
        .await
        .or_fail("user")?
        .ok_or("no user")?;
    ensure!(user.message_count == 1, "counted twice: {user:?}");
    m.mark_answered(&t, "chat", first.message.id)
        .await
        .or_fail("answered")?;
    let page = m
        .transcript(&t, "chat", None, 10, None)
        .await
        .or_fail("transcript")?;
    ensure!(page.items[0].answered, "not answered: {page:?}");
    let missing = m.mark_answered(&t, "chat", uuid::Uuid::now_v7()).await;
    ensure!(
        missing
            .as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::NotFound),
        "{missing:?}"
    );
    let bad = m.transcript(&t, "chat", None, 10, Some("nope")).await;
    ensure!(
        bad.as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::InvalidInput),
        "{bad:?}"
    );
    Ok(())
}

/// An engine that keeps every message as a memory.
fn remembering() -> EngineConfig {
    EngineConfig {
        remember_messages: true,
        ..EngineConfig::default()
    }
}
