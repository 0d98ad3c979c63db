//! The REST server on loopback: auth isolation, user binding, routes,
//! error shape, limits and rate limiting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use memory::{ApiKey, EngineConfig, Memory, RateLimits};
use memory_server::server::{AppState, router};
use memory_testkit::DeterministicEmbedder;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn start(limits: RateLimits) -> String {
    let db = memory::sqlite::SqliteDb::connect("sqlite::memory:")
        .await
        .unwrap();
    let store = db.store();
    let m = Memory::builder()
        .store(store.clone())
        .keywords(store)
        .vectors(db.vector_index())
        .embedder(Arc::new(DeterministicEmbedder::new(32)))
        .config(EngineConfig {
            rate_limits: limits,
            ..EngineConfig::default()
        })
        .build()
        .await
        .unwrap();
    let key = |k: &str, t: &str, u: Option<&str>| ApiKey {
        key: k.into(),
        tenant: t.into(),
        user_id: u.map(str::to_owned),
    };
    let keys = [
        key("ka", "a", None),
        key("kb", "b", None),
        key("kalice", "a", Some("alice")),
    ];
    let app = router(AppState::new(m, &keys, false), 64 * 1024);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn roomy() -> RateLimits {
    RateLimits {
        per_user_per_minute: 10_000,
        global_per_minute: 100_000,
    }
}

async fn call(
    method: reqwest::Method,
    url: String,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
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
    assert!(
        metrics.contains("memory_requests_total{route=\"/v1/memories/{id}\",status=\"409\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after() {
    let base = start(RateLimits {
        per_user_per_minute: 3,
        global_per_minute: 1000,
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
