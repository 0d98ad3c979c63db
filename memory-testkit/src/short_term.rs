//! Conformance of [`ShortTerm`] implementations.

use std::sync::Arc;
use std::time::Duration;

use memory_core::{Message, RateLimit, Role, Scope, SessionKey, ShortTerm, TtlTiers, now};
use uuid::Uuid;

use crate::{CaseResult, OrFail, Report, case, ensure, unique};

fn msg(tenant: &str, session: &str, user: &str, text: &str) -> Message {
    Message {
        id: Uuid::now_v7(),
        tenant: tenant.to_owned(),
        session_id: session.to_owned(),
        user_id: Some(user.to_owned()),
        agent_id: Some("agent".into()),
        role: Role::User,
        author_name: None,
        content: text.to_owned(),
        created_at: now(),
        metadata: serde_json::Map::new(),
        extracted: false,
        answered: false,
        client_id: None,
        topic_id: None,
    }
}

async fn window_keeps_order_and_size(st: &Arc<dyn ShortTerm>) -> CaseResult {
    let t = unique("t");
    let key = SessionKey {
        tenant: t.clone(),
        session_id: "s".into(),
    };
    for i in 0..8 {
        st.push(&msg(&t, "s", "alice", &format!("m{i}")), 5)
            .await
            .or_fail("push")?;
    }
    let all = st.recent(&key, 100).await.or_fail("recent")?;
    let texts: Vec<&str> = all.iter().map(|m| m.content.as_str()).collect();
    ensure!(texts == ["m3", "m4", "m5", "m6", "m7"], "window: {texts:?}");
    let two = st.recent(&key, 2).await.or_fail("recent")?;
    ensure!(
        two.iter().map(|m| m.content.as_str()).collect::<Vec<_>>() == ["m6", "m7"],
        "limit not the newest"
    );
    let last = st.last_message(&t, "alice").await.or_fail("last")?;
    ensure!(
        last.map(|m| m.content) == Some("m7".into()),
        "last message per user"
    );
    let other = SessionKey {
        tenant: unique("other"),
        session_id: "s".into(),
    };
    ensure!(
        st.recent(&other, 10).await.or_fail("recent")?.is_empty(),
        "another tenant read the window"
    );
    ensure!(
        st.last_message(&other.tenant, "alice")
            .await
            .or_fail("last")?
            .is_none(),
        "another tenant read the last message"
    );
    Ok(())
}

async fn state_merges(st: &Arc<dyn ShortTerm>) -> CaseResult {
    let key = SessionKey {
        tenant: unique("t"),
        session_id: "s".into(),
    };
    let mut a = serde_json::Map::new();
    a.insert("current_topic".into(), "Python frameworks".into());
    st.set_state(&key, &a).await.or_fail("set")?;
    let mut b = serde_json::Map::new();
    b.insert("context".into(), serde_json::json!({"level": "expert"}));
    st.set_state(&key, &b).await.or_fail("set")?;
    let got = st.get_state(&key).await.or_fail("get")?.unwrap_or_default();
    ensure!(
        got.get("current_topic") == Some(&"Python frameworks".into())
            && got.get("context") == Some(&serde_json::json!({"level": "expert"})),
        "state: {got:?}"
    );
    Ok(())
}

async fn restore_active_and_clear(st: &Arc<dyn ShortTerm>) -> CaseResult {
    let t = unique("t");
    let key = SessionKey {
        tenant: t.clone(),
        session_id: "s1".into(),
    };
    let msgs: Vec<Message> = (0..4)
        .map(|i| msg(&t, "s1", "alice", &format!("r{i}")))
        .collect();
    st.restore(&key, &msgs, 3).await.or_fail("restore")?;
    let got = st.recent(&key, 10).await.or_fail("recent")?;
    ensure!(
        got.iter().map(|m| m.content.as_str()).collect::<Vec<_>>() == ["r1", "r2", "r3"],
        "restore: {got:?}"
    );
    st.push(&msg(&t, "s2", "bob", "hello"), 10)
        .await
        .or_fail("push")?;
    let active = st.active_sessions(&t).await.or_fail("active")?;
    ensure!(
        active.contains(&"s1".to_owned()) && active.contains(&"s2".to_owned()),
        "active: {active:?}"
    );
    st.clear(&Scope::user("alice").with_tenant(t.clone()))
        .await
        .or_fail("clear")?;
    ensure!(
        st.recent(&key, 10).await.or_fail("recent")?.is_empty(),
        "clear kept alice's window"
    );
    let bob = SessionKey {
        tenant: t.clone(),
        session_id: "s2".into(),
    };
    ensure!(
        st.recent(&bob, 10).await.or_fail("recent")?.len() == 1,
        "clear removed bob's window"
    );
    Ok(())
}

async fn rate_limit_is_exact_under_concurrency(st: &Arc<dyn ShortTerm>) -> CaseResult {
    let t = unique("t");
    let limit = RateLimit {
        max: 7,
        window: Duration::from_secs(60),
    };
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let st = st.clone();
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            st.check_rate(&t, "user:alice", limit).await
        }));
    }
    let mut allowed = 0;
    let mut refused = Vec::new();
    for task in tasks {
        let d = task.await.or_fail("join")?.or_fail("check_rate")?;
        if d.allowed {
            allowed += 1;
        } else {
            refused.push(d);
        }
    }
    ensure!(allowed == 7, "{allowed} of 20 allowed, limit 7");
    ensure!(
        refused
            .iter()
            .all(|d| d.retry_after > Duration::ZERO && d.retry_after <= limit.window),
        "retry_after out of range"
    );
    let other = st.check_rate(&t, "user:bob", limit).await.or_fail("bob")?;
    ensure!(
        other.allowed && other.remaining == 6,
        "limits leak between subjects"
    );
    Ok(())
}

async fn ttl_expires(st: &Arc<dyn ShortTerm>) -> CaseResult {
    let t = unique("t");
    let key = SessionKey {
        tenant: t.clone(),
        session_id: "s".into(),
    };
    st.push(&msg(&t, "s", "alice", "soon gone"), 10)
        .await
        .or_fail("push")?;
    ensure!(
        !st.recent(&key, 10).await.or_fail("recent")?.is_empty(),
        "window missing right after push"
    );
    tokio::time::sleep(Duration::from_millis(2300)).await;
    ensure!(
        st.recent(&key, 10).await.or_fail("recent")?.is_empty(),
        "window outlived its TTL"
    );
    st.cleanup().await.or_fail("cleanup")?;
    ensure!(
        !st.active_sessions(&t)
            .await
            .or_fail("active")?
            .contains(&"s".to_owned()),
        "expired session still active after cleanup"
    );
    Ok(())
}

/// The TTL tiers `run` expects its factory to use for the expiry case.
pub fn short_tiers() -> TtlTiers {
    TtlTiers {
        active: Duration::from_secs(2),
        inactive: Duration::from_secs(1),
        active_within: Duration::from_secs(60),
    }
}

/// Runs every case. `expiring` must be built with [`short_tiers`].
pub async fn run(st: Arc<dyn ShortTerm>, expiring: Arc<dyn ShortTerm>) -> Report {
    let mut r = Report::new(format!("short_term[{}]", st.info().scheme));
    case!(r, window_keeps_order_and_size(&st));
    case!(r, state_merges(&st));
    case!(r, restore_active_and_clear(&st));
    case!(r, rate_limit_is_exact_under_concurrency(&st));
    case!(r, ttl_expires(&expiring));
    r
}

/// Opens a short-term tier from its URL through its backend's descriptor,
/// exactly as the `memory` facade opens it for users.
pub async fn open(
    backend: &memory_core::BackendDescriptor,
    url: &str,
) -> Result<Arc<dyn ShortTerm>, String> {
    let open = backend
        .short_term
        .ok_or_else(|| format!("{} opens no short-term tier", backend.name))?;
    let parsed = memory_core::BackendUrl::parse(url).map_err(|e| e.to_string())?;
    open(parsed).await.map_err(|e| e.to_string())
}
