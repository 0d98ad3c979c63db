//! Every rejection answers the one JSON error shape, whatever rejected it:
//! a handler, the JSON extractor, the path, the body limit, the router.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::StatusCode;
use serde_json::Value;

mod common;

use common::{key, roomy, start, start_open};

async fn raw(
    method: reqwest::Method,
    url: String,
    body: Option<&str>,
) -> (StatusCode, String, Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .bearer_auth("k")
        .header("content-type", "application/json");
    if let Some(b) = body {
        req = req.body(b.to_owned());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    (
        status,
        ctype,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A request and what must come back: status, kind, a word of the message.
type Case<'a> = (
    reqwest::Method,
    String,
    Option<&'a str>,
    StatusCode,
    &'static str,
    &'static str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_is_json_and_names_the_problem() {
    let base = start(&[key("k", "t", None)], roomy()).await;
    use reqwest::Method as M;
    let big = format!(
        r#"{{"user_id": "u", "content": "{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let cases: Vec<Case> = vec![
        (
            M::POST,
            format!("{base}/v1/memories"),
            Some("{not json"),
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "JSON",
        ),
        (
            M::POST,
            format!("{base}/v1/memories"),
            Some(r#"{"user_id": "u", "content": 5}"#),
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "content",
        ),
        (
            M::POST,
            format!("{base}/v1/memories"),
            Some(r#"{"user_id": "u", "content": "x", "colour": 1}"#),
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "colour",
        ),
        (
            M::GET,
            format!("{base}/v1/memories/not-a-uuid"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "UUID",
        ),
        (
            M::POST,
            format!("{base}/v1/memories"),
            Some(big.as_str()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "max_body_bytes",
        ),
        (
            M::GET,
            format!("{base}/v1/nowhere"),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
            "/v1/nowhere",
        ),
        (
            M::DELETE,
            format!("{base}/v1/memories/search"),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "DELETE",
        ),
        (
            M::GET,
            format!("{base}/v1/memories?limit=many"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "limit",
        ),
    ];
    for (method, url, body, status, kind, needle) in cases {
        let what = format!("{method} {url}");
        let (got, ctype, v) = raw(method, url, body).await;
        assert_eq!(got, status, "{what}: {v}");
        assert!(ctype.starts_with("application/json"), "{what}: {ctype}");
        assert_eq!(v["error"]["kind"], kind, "{what}: {v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{what}: {message:?} does not name {needle:?}"
        );
    }
}

/// Without API keys, every route refuses a Host that is not loopback (a web
/// page reaching the server through DNS rebinding), as `/mcp` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_only_loopback_hosts_are_served() {
    let base = start_open().await;
    let http = reqwest::Client::new();
    for path in ["/healthz", "/v1/memories?user_id=u"] {
        let ok = http.get(format!("{base}{path}")).send().await.unwrap();
        assert!(ok.status().is_success(), "{path}: {}", ok.status());
        let evil = http
            .get(format!("{base}{path}"))
            .header("host", "evil.example:8080")
            .send()
            .await
            .unwrap();
        assert_eq!(evil.status(), StatusCode::FORBIDDEN, "{path}");
        let v: Value = evil.json().await.unwrap();
        assert_eq!(v["error"]["kind"], "forbidden", "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("evil.example"),
            "{v}"
        );
    }
}
