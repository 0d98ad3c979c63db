//! Over REST: a superseding add, reads of current, all and past memories,
//! the history chain; remembered messages; ending a session and turning its
//! extraction off, inside the key's binding.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::json;

mod common;

use common::{call, key, roomy, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supersede_as_of_history_and_session_routes() {
    let base = start(
        &[key("k", "t", None), key("kbob", "t", Some("bob"))],
        roomy(),
    )
    .await;
    let k = Some("k");
    let (s, lisbon) = call(
        M::POST,
        format!("{base}/v1/memories"),
        k,
        Some(json!({"user_id": "alice", "content": "Alice lives in Lisbon"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{lisbon}");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let before = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (s, berlin) = call(
        M::POST,
        format!("{base}/v1/memories"),
        k,
        Some(json!({"user_id": "alice", "content": "Alice lives in Berlin", "supersedes": lisbon["id"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{berlin}");
    let list = |q: String| {
        call(
            M::GET,
            format!("{base}/v1/memories?user_id=alice{q}"),
            k,
            None,
        )
    };
    let contents = |v: &serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        contents(&list(String::new()).await.1),
        ["Alice lives in Berlin"]
    );
    assert_eq!(
        contents(&list("&include_superseded=true".into()).await.1).len(),
        2
    );
    let (_, then) = list(format!("&as_of={}", before.replace('+', "%2B"))).await;
    assert_eq!(contents(&then), ["Alice lives in Lisbon"], "{then}");
    let (s, e) = list(format!("&include_superseded=true&as_of={before}")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("as_of"),
        "{e}"
    );
    let (_, found) = call(
        M::POST,
        format!("{base}/v1/memories/search"),
        k,
        Some(json!({"user_id": "alice", "query": "where does Alice live", "as_of": before})),
    )
    .await;
    assert_eq!(found["hits"][0]["memory"]["id"], lisbon["id"], "{found}");
    let id = berlin["id"].as_str().unwrap();
    let (_, h) = call(M::GET, format!("{base}/v1/memories/{id}/history"), k, None).await;
    let ops: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["add", "supersede", "add"], "{h}");

    // A remembered message; a session ended, with extraction turned off.
    let (s, msg) = call(
        M::POST,
        format!("{base}/v1/sessions/s1/messages"),
        k,
        Some(
            json!({"user_id": "alice", "content": "my sister Ana visits in May", "remember": true}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{msg}");
    assert!(msg["memory_id"].is_string(), "{msg}");
    let (s, off) = call(
        M::PUT,
        format!("{base}/v1/sessions/s1/extraction"),
        k,
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(
        (s, &off["metadata"]["extract"]),
        (StatusCode::OK, &json!(false)),
        "{off}"
    );
    // Bob's key cannot end Alice's session.
    let (s, _) = call(
        M::POST,
        format!("{base}/v1/sessions/s1/end"),
        Some("kbob"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, ended) = call(M::POST, format!("{base}/v1/sessions/s1/end"), k, None).await;
    assert_eq!(s, StatusCode::OK, "{ended}");
    assert!(ended["ended_at"].is_string(), "{ended}");
    let (s, _) = call(M::POST, format!("{base}/v1/sessions/nope/end"), k, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
