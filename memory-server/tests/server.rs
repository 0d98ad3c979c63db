//! The REST server on loopback: auth isolation, user binding, routes,
//! error shape, limits and rate limiting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use memory::{ApiKey, EngineConfig, RateLimits};
use memory_server::server::{AppState, router};
use memory_testkit::DeterministicEmbedder;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::call;
use common::roomy;

async fn start(limits: RateLimits) -> String {
    let keys = [
        common::key("ka", "a", None),
        common::key("kb", "b", None),
        common::key("kalice", "a", Some("alice")),
    ];
    common::start(&keys, limits).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_never_cross_their_binding() {
    let base = start(roomy()).await;
    use reqwest::Method as M;
    let (s, body) = call(
        M::POST,
        format!("{base}/v1/memories"),
        None,
        Some(json!({"user_id": "bob", "content": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["kind"], "unauthorized");
    let (s, _) = call(M::GET, format!("{base}/v1/stats"), Some("wrong"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let (s, bob) = call(
        M::POST,
        format!("{base}/v1/memories"),
        Some("ka"),
        Some(json!({"user_id": "bob", "content": "Bob plays chess"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{bob}");
    let id = bob["id"].as_str().unwrap().to_owned();
    assert_eq!(
        call(M::GET, format!("{base}/v1/memories/{id}"), Some("ka"), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(M::GET, format!("{base}/v1/memories/{id}"), Some("kb"), None)
            .await
            .0,
        StatusCode::NOT_FOUND,
        "another tenant read it"
    );
    assert_eq!(
        call(
            M::GET,
            format!("{base}/v1/memories/{id}"),
            Some("kalice"),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND,
        "a key bound to alice read bob's"
    );
    assert_eq!(
        call(
            M::DELETE,
            format!("{base}/v1/memories/{id}"),
            Some("kb"),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (s, e) = call(
        M::POST,
        format!("{base}/v1/memories"),
        Some("kalice"),
        Some(json!({"user_id": "bob", "content": "sneaky"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, a) = call(
        M::POST,
        format!("{base}/v1/memories"),
        Some("kalice"),
        Some(json!({"content": "Alice has two cats"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let (_, found) = call(
        M::POST,
        format!("{base}/v1/memories/search"),
        Some("kalice"),
        Some(json!({"query": "chess cats", "k": 10})),
    )
    .await;
    let hits = found["hits"].as_array().unwrap();
    assert!(
        hits.iter()
            .all(|h| h["memory"]["scope"]["user_id"] == "alice")
            && !hits.is_empty(),
        "{found}"
    );
    let (_, found) = call(
        M::POST,
        format!("{base}/v1/memories/search"),
        Some("kb"),
        Some(json!({"query": "chess cats"})),
    )
    .await;
    assert!(
        found["hits"].as_array().unwrap().is_empty(),
        "tenant b found tenant a's memories"
    );
    let (s, _) = call(
        M::DELETE,
        format!("{base}/v1/users/bob"),
        Some("kalice"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a key bound to alice forgot bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_works() {
    let base = start(roomy()).await;
    use reqwest::Method as M;
    let k = Some("ka");
    let (s, b) = call(M::POST, format!("{base}/v1/memories/batch"), k, Some(json!({"items": [
        {"user_id": "u", "content": "likes tea", "kind": "preference", "metadata": {"topic": "food"}},
        {"user_id": "u", "content": "works as a nurse", "kind": "profile"}
    ]}))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let id = b["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, page) = call(
        M::GET,
        format!("{base}/v1/memories?user_id=u&limit=10&filter=%7B%22kind%22%3A%22preference%22%7D"),
        k,
        None,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    let (s, up) = call(
        M::PATCH,
        format!("{base}/v1/memories/{id}"),
        k,
        Some(json!({"content": "likes green tea", "expected_version": 1})),
    )
    .await;
    assert_eq!((s, up["version"].as_u64()), (StatusCode::OK, Some(2)));
    let (s, e) = call(
        M::PATCH,
        format!("{base}/v1/memories/{id}"),
        k,
        Some(json!({"importance": 3, "expected_version": 1})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(e["error"]["kind"], "conflict");
    let (_, h) = call(M::GET, format!("{base}/v1/memories/{id}/history"), k, None).await;
    assert_eq!(h.as_array().unwrap().len(), 2);
    let (s, e) = call(
        M::POST,
        format!("{base}/v1/memories"),
        k,
        Some(json!({"user_id": "u", "content": "  "})),
    )
    .await;
    assert_eq!(
        (s, e["error"]["kind"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_input"))
    );
    assert!(e["error"]["message"].as_str().unwrap().contains("content"));
    let (s, _) = call(
        M::POST,
        format!("{base}/v1/memories"),
        k,
        Some(json!({"user_id": "u", "content": "x".repeat(70_000)})),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let (s, m) = call(
        M::POST,
        format!("{base}/v1/sessions/chat-1/messages"),
        k,
        Some(json!({"user_id": "u", "content": "what tea do I like?", "author_name": "U"})),
    )
    .await;
    assert_eq!(
        (s, m["unextracted"].as_u64()),
        (StatusCode::CREATED, Some(1)),
        "{m}"
    );
    let (_, recent) = call(
        M::GET,
        format!("{base}/v1/sessions/chat-1/messages?limit=5"),
        k,
        None,
    )
    .await;
    assert_eq!(recent[0]["content"], "what tea do I like?");
    let (_, ctx) = call(
        M::GET,
        format!("{base}/v1/sessions/chat-1/context?query=tea&user_id=u&budget=500"),
        k,
        None,
    )
    .await;
    let text = ctx["text"].as_str().unwrap();
    assert!(
        text.contains("works as a nurse")
            && text.contains("green tea")
            && text.contains("what tea"),
        "{text}"
    );
    let (s, user) = call(M::GET, format!("{base}/v1/users/u"), k, None).await;
    assert_eq!(
        (s, user["message_count"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    let (_, stats) = call(M::GET, format!("{base}/v1/stats"), k, None).await;
    assert_eq!(stats["store"]["memories"], 2);
    let (_, status) = call(M::GET, format!("{base}/v1/status"), k, None).await;
    assert_eq!(status["store"]["scheme"], "sqlite");
    let (s, gone) = call(M::DELETE, format!("{base}/v1/users/u"), k, None).await;
    assert_eq!(
        (s, gone["memories"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(2))
    );
    assert_eq!(
        call(M::DELETE, format!("{base}/v1/memories/{id}"), k, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(M::GET, format!("{base}/healthz"), None, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(M::GET, format!("{base}/readyz"), None, None).await.0,
        StatusCode::OK
    );
    let (_, metrics) = call(M::GET, format!("{base}/metrics"), None, None).await;
    let metrics = metrics.as_str().unwrap().to_owned();
    // The recorder is the process's: other tests' servers count too.
    let conflicts = metrics
        .lines()
        .find(|l| {
            l.starts_with("memory_requests_total{route=\"/v1/memories/{id}\",status=\"409\"}")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    assert!(conflicts.is_some_and(|n| n >= 1), "{metrics}");
    for histogram in [
        "memory_request_seconds_bucket{",
        "memory_search_seconds_bucket{",
        "memory_embed_seconds_bucket{",
    ] {
        assert!(metrics.contains(histogram), "no {histogram}: {metrics}");
    }
    assert!(metrics.contains("memory_outbox_pending"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after() {
    let base = start(RateLimits {
        per_key_per_minute: 3,
        ..roomy()
    })
    .await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(
            client
                .get(format!("{base}/v1/stats"))
                .bearer_auth("ka")
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    let resp = client
        .get(format!("{base}/v1/stats"))
        .bearer_auth("ka")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&after));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "rate_limited");
    assert_eq!(
        client
            .get(format!("{base}/v1/stats"))
            .header("x-api-key", "kb")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "another key was limited"
    );
}

fn reachable(url: &str, what: &str) {
    let host = url
        .rsplit('@')
        .next()
        .and_then(|r| r.trim_start_matches("redis://").split('/').next())
        .unwrap()
        .to_owned();
    assert!(
        std::net::TcpStream::connect(&host).is_ok(),
        "{what} is not reachable at {url}: eval \"$(scripts/services start redis postgres)\""
    );
}

/// Two servers on one PostgreSQL and one Redis: what one writes the other
/// reads, version conflicts are seen across them, and rate limits add up.
/// The first instance also names an unreachable vector backend first in its
/// fallback list, and `/v1/status` says it was skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behave_as_one() {
    let pg = std::env::var("MEMORY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/memory_test".into());
    let redis = std::env::var("MEMORY_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:56379/0".into());
    reachable(&pg, "PostgreSQL");
    reachable(&redis, "Redis");
    let schema = format!("srv_{}", uuid::Uuid::now_v7().simple());
    let store = format!("{pg}?schema={schema}");
    let tenant = format!("t{}", uuid::Uuid::now_v7().simple());
    let limits = RateLimits {
        per_key_per_minute: 10,
        ..roomy()
    };
    let mut bases = Vec::new();
    for i in 0..2 {
        let config = memory::Config {
            store: store.clone().into(),
            vectors: Some(memory::Urls::Many(if i == 0 {
                vec![
                    "postgres://nobody:secret@127.0.0.1:1/nothing".into(),
                    store.clone(),
                ]
            } else {
                vec![store.clone()]
            })),
            short_term: redis.clone(),
            engine: EngineConfig {
                rate_limits: limits,
                ..EngineConfig::default()
            },
            ..memory::Config::default()
        };
        let m = memory::open_with(&config, Some(Arc::new(DeterministicEmbedder::new(32))))
            .await
            .unwrap();
        let keys = [ApiKey {
            key: "k".into(),
            tenant: tenant.clone(),
            user_id: None,
        }];
        let app = router(AppState::new(m, &keys, false), 64 * 1024);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        bases.push(format!("http://{addr}"));
    }
    let (a, b) = (&bases[0], &bases[1]);
    use reqwest::Method as M;

    let (s, status) = call(M::GET, format!("{a}/v1/status"), Some("k"), None).await;
    assert_eq!(s, StatusCode::OK);
    let skipped = status["vectors_skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{status}");
    let url = skipped[0]["url"].as_str().unwrap();
    assert!(
        url.contains(":1/nothing") && !url.contains("secret"),
        "{url}"
    );

    let (s, added) = call(
        M::POST,
        format!("{a}/v1/memories"),
        Some("k"),
        Some(json!({"user_id": "u1", "content": "u1 keeps bees in the garden"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{added}");
    let id = added["id"].as_str().unwrap();
    let (s, got) = call(M::GET, format!("{b}/v1/memories/{id}"), Some("k"), None).await;
    assert_eq!(
        (s, got["content"].as_str()),
        (StatusCode::OK, Some("u1 keeps bees in the garden"))
    );
    let (_, found) = call(
        M::POST,
        format!("{b}/v1/memories/search"),
        Some("k"),
        Some(json!({"user_id": "u1", "query": "bees garden"})),
    )
    .await;
    assert_eq!(found["hits"][0]["memory"]["id"], id, "{found}");

    // Both instances update from version 1: exactly one wins.
    let (sa, _) = call(
        M::PATCH,
        format!("{a}/v1/memories/{id}"),
        Some("k"),
        Some(json!({"importance": 7, "expected_version": 1})),
    )
    .await;
    let (sb, conflict) = call(
        M::PATCH,
        format!("{b}/v1/memories/{id}"),
        Some("k"),
        Some(json!({"importance": 9, "expected_version": 1})),
    )
    .await;
    assert_eq!(
        (sa, sb),
        (StatusCode::OK, StatusCode::CONFLICT),
        "{conflict}"
    );

    // A message recorded on one is in the other's recent window.
    let (s, _) = call(
        M::POST,
        format!("{a}/v1/sessions/s1/messages"),
        Some("k"),
        Some(json!({"user_id": "u1", "content": "hello from instance a"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, recent) = call(
        M::GET,
        format!("{b}/v1/sessions/s1/messages"),
        Some("k"),
        None,
    )
    .await;
    assert_eq!(recent[0]["content"], "hello from instance a", "{recent}");

    // The per-key limit (10 a minute) is shared: 8 calls so far, 5 of them
    // to a; a and b together allow 2 more, then both refuse.
    let mut codes = Vec::new();
    for base in [a, b, a, b] {
        let (s, _) = call(M::GET, format!("{base}/v1/stats"), Some("k"), None).await;
        codes.push(s.as_u16());
    }
    assert_eq!(
        codes,
        [200, 200, 429, 429],
        "the instances kept separate counts"
    );
}

/// Seed 004's fallback: PostgreSQL first, then Chroma. With PostgreSQL
/// unreachable the server comes up on Chroma and `/v1/status` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_fallback_reaches_chroma() {
    let chroma =
        std::env::var("MEMORY_TEST_CHROMA_URL").unwrap_or_else(|_| "http://127.0.0.1:58000".into());
    reachable(&chroma.replace("http://", "x@"), "Chroma");
    let dir = tempfile::tempdir().unwrap();
    let chroma = format!(
        "{}/?database=fallback{}",
        chroma.replacen("http://", "chroma://", 1),
        uuid::Uuid::now_v7().simple()
    );
    let config = memory::Config {
        store: format!("sqlite://{}/f.db", dir.path().display()).into(),
        vectors: Some(memory::Urls::Many(vec![
            "postgres://memory:pw@127.0.0.1:1/memory".into(),
            chroma,
        ])),
        ..memory::Config::default()
    };
    let m = memory::open_with(&config, Some(Arc::new(DeterministicEmbedder::new(32))))
        .await
        .unwrap();
    let status = m.status();
    assert_eq!(status["vectors"]["scheme"], "chroma", "{status}");
    assert_eq!(
        status["vectors_skipped"][0]["url"],
        "postgres://memory:***@127.0.0.1:1/memory"
    );
    let added = m
        .add(memory::AddRequest::new(
            memory::Scope::user("u"),
            "kept in chroma",
        ))
        .await
        .unwrap();
    assert_eq!(added.vector_state, memory::VectorState::Synced);
    let hits = m
        .search(
            memory::SearchRequest::new(memory::Scope::user("u"), "chroma")
                .mode(memory::SearchMode::Semantic),
        )
        .await
        .unwrap();
    assert_eq!(hits.hits[0].memory.id, added.id);
}

/// Every answer carries a request id: the caller's, or a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_carry_a_request_id() {
    let base = start(roomy()).await;
    let http = reqwest::Client::new();
    let given = http
        .get(format!("{base}/v1/stats"))
        .bearer_auth("ka")
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-42");
    let fresh = http.get(format!("{base}/healthz")).send().await.unwrap();
    let id = fresh.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let denied = http.get(format!("{base}/v1/stats")).send().await.unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    assert!(denied.headers().contains_key("x-request-id"));
}

/// The job queue answers keys bound to a tenant and refuses user-bound ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_queue_needs_a_tenant_key() {
    let base = start(roomy()).await;
    use reqwest::Method as M;
    let (s, body) = call(M::GET, format!("{base}/v1/jobs"), Some("kalice"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["kind"], "forbidden");
    let (s, body) = call(
        M::GET,
        format!("{base}/v1/jobs?dead=true"),
        Some("ka"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body["jobs"].as_array().is_some_and(Vec::is_empty), "{body}");
    let (s, body) = call(
        M::POST,
        format!("{base}/v1/jobs/retry"),
        Some("ka"),
        Some(json!({"ids": [], "all": false})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["kind"], "invalid_input", "{body}");
}
