//! The short-term conformance suite and the failure rules on a real Redis
//! (started by `scripts/services start redis`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use memory_core::{
    AddRequest, Memory, RateLimit, RecordMessage, Scope, SearchMode, SearchRequest, SessionKey,
    ShortTerm,
};
use memory_redis::{RedisConfig, RedisShortTerm};
use memory_testkit::short_term::short_tiers;
use memory_testkit::{DeterministicEmbedder, unique};

fn url() -> String {
    let url = std::env::var("MEMORY_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:56379/0".into());
    let host_port = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        std::net::TcpStream::connect(&host_port).is_ok(),
        "Redis is not reachable at {url}: start it with `eval \"$(scripts/services start redis)\"`"
    );
    url
}

fn tier(url: &str, prefix: &str) -> Arc<RedisShortTerm> {
    Arc::new(RedisShortTerm::from_url(&format!("{url}?prefix={prefix}")).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let url = url();
    let st = memory_testkit::short_term::open(
        &memory_redis::BACKEND,
        &format!("{url}?prefix={}", unique("conf")),
    )
    .await
    .unwrap();
    let mut cfg = RedisConfig::from_url(&format!("{url}?prefix={}", unique("exp"))).unwrap();
    cfg.tiers = short_tiers();
    let expiring = Arc::new(RedisShortTerm::new(cfg).unwrap());
    memory_testkit::short_term::run(st, expiring)
        .await
        .assert_ok();
}

/// Two clients stand for two processes: the limit holds across them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_holds_across_processes() {
    let url = url();
    let prefix = unique("rate");
    let (a, b) = (tier(&url, &prefix), tier(&url, &prefix));
    let limit = RateLimit {
        max: 9,
        window: Duration::from_secs(60),
    };
    let mut tasks = Vec::new();
    for i in 0..20 {
        let st: Arc<RedisShortTerm> = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            st.check_rate("t", "user:alice", limit)
                .await
                .unwrap()
                .allowed
        }));
    }
    let mut allowed = 0;
    for t in tasks {
        allowed += usize::from(t.await.unwrap());
    }
    assert_eq!(allowed, 9);
    let stats = a.stats().await.unwrap();
    assert!(
        stats.keys >= 1 && stats.memory_bytes.is_some_and(|b| b > 0),
        "{stats:?}"
    );
}

struct OwnRedis {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl OwnRedis {
    fn start(port: Option<u16>, dir: Option<tempfile::TempDir>) -> Self {
        let port = port.unwrap_or_else(|| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        });
        let dir = dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let bin = std::env::var("MEMORY_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(bin)
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (scripts/services installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, dir }
    }

    fn kill(mut self) -> (u16, tempfile::TempDir) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        (self.port, self.dir)
    }
}

/// Redis killed mid-test: long-term writes and searches go on, the window is
/// served from the store, and after a restart `recent` rebuilds it in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_degrades_only_short_term() {
    let redis = OwnRedis::start(None, None);
    let url = format!("redis://127.0.0.1:{}/0?timeout_ms=300", redis.port);
    let st = Arc::new(RedisShortTerm::from_url(&url).unwrap());
    let db = memory_sqlite::SqliteDb::connect("sqlite::memory:")
        .await
        .unwrap();
    let store = db.store();
    let m = Memory::builder()
        .store(store.clone())
        .keywords(store)
        .vectors(db.vector_index())
        .short_term(st.clone())
        .embedder(Arc::new(DeterministicEmbedder::new(32)))
        .build()
        .await
        .unwrap();
    let alice = Scope::user("alice");
    for i in 0..3 {
        let o = m
            .record_message(RecordMessage::user("s1", "alice", format!("before {i}")))
            .await
            .unwrap();
        assert!(o.short_term_ok);
    }
    let key = SessionKey {
        tenant: "default".into(),
        session_id: "s1".into(),
    };
    assert_eq!(
        st.recent(&key, 10).await.unwrap().len(),
        3,
        "window not in Redis"
    );

    let (port, dir) = redis.kill();
    let o = m
        .record_message(RecordMessage::user("s1", "alice", "during outage"))
        .await
        .unwrap();
    assert!(!o.short_term_ok, "push to a dead Redis reported success");
    m.add(AddRequest::new(alice.clone(), "Alice likes tea"))
        .await
        .expect("long-term write failed because Redis is down");
    let found = m
        .search(SearchRequest::new(alice.clone(), "tea").mode(SearchMode::Keyword))
        .await
        .unwrap();
    assert_eq!(found.hits.len(), 1);
    let window = m
        .recent("default", "s1", 10)
        .await
        .expect("recent failed because Redis is down");
    assert_eq!(window.len(), 4, "the store did not serve the window");
    assert!(m.stats(None).await.unwrap().short_term_failures >= 2);

    let redis = OwnRedis::start(Some(port), Some(dir));
    let mut restored = Vec::new();
    for _ in 0..50 {
        // The connection manager reconnects in the background.
        if let Ok(v) = m.recent("default", "s1", 10).await
            && let Ok(w) = st.recent(&key, 10).await
            && w.len() == 4
        {
            restored = v;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        restored.len(),
        4,
        "recover did not rebuild the window in Redis"
    );
    assert_eq!(restored[3].content, "during outage");
    drop(redis.kill());
}

#[tokio::test]
async fn unreachable_redis_fails_fast_and_clearly() {
    let st = RedisShortTerm::from_url("redis://127.0.0.1:9/0?timeout_ms=200").unwrap();
    let key = SessionKey {
        tenant: "t".into(),
        session_id: "s".into(),
    };
    let e = st.recent(&key, 5).await.unwrap_err();
    assert_eq!(e.kind(), memory_core::ErrorKind::Unavailable, "{e}");
    assert!(e.is_temporary());
}
