//! Over REST: sessions created, listed, found by video id and changed;
//! topics with their messages and memories; viewers looked up, renamed and
//! listed; counts per user and agent (seed 003's stats route) — each inside
//! the key's binding.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::json;

mod common;

use common::{call, key, roomy, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_topics_viewers_and_stats() {
    let base = start(
        &[key("k", "t", None), key("kbob", "t", Some("bob"))],
        roomy(),
    )
    .await;
    let k = Some("k");
    let url = |p: &str| format!("{base}{p}");

    // Sessions: explicit creation, youtube by default, unique video ids.
    let (s, stream) = call(
        M::POST,
        url("/v1/sessions"),
        k,
        Some(json!({"id": "stream-1", "user_id": "alice", "title": "Chess night", "external_id": "vid1"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{stream}");
    assert_eq!(stream["platform"], "youtube", "{stream}");
    let (s, e) = call(
        M::POST,
        url("/v1/sessions"),
        k,
        Some(json!({"id": "stream-2", "external_id": "vid1"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, e) = call(M::POST, url("/v1/sessions"), k, Some(json!({"title": 3}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    for i in 2..=3 {
        let (s, _) = call(
            M::POST,
            url("/v1/sessions"),
            k,
            Some(json!({"id": format!("stream-{i}"), "user_id": "alice"})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, page) = call(M::GET, url("/v1/sessions?user_id=alice&limit=2"), k, None).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = call(
        M::GET,
        url(&format!(
            "/v1/sessions?user_id=alice&limit=2&cursor={cursor}"
        )),
        k,
        None,
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1, "{rest}");
    assert!(rest["next_cursor"].is_null(), "{rest}");
    let (_, found) = call(
        M::GET,
        url("/v1/sessions?platform=youtube&external_id=vid1"),
        k,
        None,
    )
    .await;
    assert_eq!(found["items"][0]["id"], "stream-1", "{found}");
    let (s, changed) = call(
        M::PATCH,
        url("/v1/sessions/stream-1"),
        k,
        Some(json!({"title": "Chess night 2"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    let (_, got) = call(M::GET, url("/v1/sessions/stream-1"), k, None).await;
    assert_eq!(got["title"], "Chess night 2", "{got}");
    let (s, e) = call(
        M::PATCH,
        url("/v1/sessions/stream-1"),
        k,
        Some(json!({"colour": "red"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["kind"], "invalid_input", "{e}");

    // Bob's key sees neither alice's sessions nor their topics.
    let (s, _) = call(M::GET, url("/v1/sessions/stream-1"), Some("kbob"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, mine) = call(M::GET, url("/v1/sessions"), Some("kbob"), None).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 0, "{mine}");

    // Topics: messages and memories point at one and are filtered by it.
    let (s, topic) = call(
        M::POST,
        url("/v1/sessions/stream-1/topics"),
        k,
        Some(json!({"title": "Openings", "outline": ["Sicilian", "French"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{topic}");
    let tid = topic["id"].as_str().unwrap().to_owned();
    let (s, _) = call(
        M::GET,
        url(&format!("/v1/topics/{tid}")),
        Some("kbob"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, msg) = call(
        M::POST,
        url("/v1/sessions/stream-1/messages"),
        k,
        Some(
            json!({"user_id": "alice", "content": "Sicilian please", "topic_id": tid,
                    "external_id": "UC_alice", "platform": "youtube", "author_name": "Alice"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{msg}");
    let (s, _) = call(
        M::POST,
        url("/v1/sessions/stream-1/messages"),
        k,
        Some(json!({"user_id": "carol", "content": "hi"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, on_topic) = call(
        M::GET,
        url(&format!("/v1/sessions/stream-1/transcript?topic_id={tid}")),
        k,
        None,
    )
    .await;
    assert_eq!(on_topic["items"].as_array().unwrap().len(), 1, "{on_topic}");
    let (s, mem) = call(
        M::POST,
        url("/v1/memories"),
        k,
        Some(json!({"user_id": "alice", "content": "Alice plays the Sicilian", "topic_id": tid})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{mem}");
    let (s, e) = call(
        M::POST,
        url("/v1/memories"),
        k,
        Some(json!({"user_id": "alice", "content": "x", "topic_id": uuid::Uuid::now_v7()})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("topic_id"),
        "{e}"
    );
    let filter = urlencode(&json!({"topic_id": tid}).to_string());
    let (_, listed) = call(
        M::GET,
        url(&format!("/v1/memories?user_id=alice&filter={filter}")),
        k,
        None,
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let (s, done) = call(
        M::PATCH,
        url(&format!("/v1/topics/{tid}")),
        k,
        Some(json!({"completed": true})),
    )
    .await;
    assert_eq!(
        (s, &done["completed"]),
        (StatusCode::OK, &json!(true)),
        "{done}"
    );
    let (_, open) = call(
        M::GET,
        url("/v1/sessions/stream-1/topics?completed=false"),
        k,
        None,
    )
    .await;
    assert_eq!(open["items"].as_array().unwrap().len(), 0, "{open}");
    let (s, _) = call(M::DELETE, url(&format!("/v1/topics/{tid}")), k, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(M::GET, url(&format!("/v1/topics/{tid}")), k, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, all) = call(M::GET, url("/v1/sessions/stream-1/transcript"), k, None).await;
    assert_eq!(
        all["items"].as_array().unwrap().len(),
        2,
        "messages stay: {all}"
    );

    // Viewers: found by channel id, renamed, listed; counts unchanged.
    let (_, viewers) = call(
        M::GET,
        url("/v1/users?platform=youtube&external_id=UC_alice"),
        k,
        None,
    )
    .await;
    assert_eq!(viewers["items"][0]["id"], "alice", "{viewers}");
    assert_eq!(viewers["items"][0]["message_count"], 1, "{viewers}");
    let (s, renamed) = call(
        M::PATCH,
        url("/v1/users/alice"),
        k,
        Some(json!({"display_name": "Alice A.", "metadata": {"vip": true}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["message_count"], 1, "{renamed}");
    let (_, everyone) = call(M::GET, url("/v1/users"), k, None).await;
    assert_eq!(everyone["items"].as_array().unwrap().len(), 2, "{everyone}");
    let (_, only_bob) = call(M::GET, url("/v1/users"), Some("kbob"), None).await;
    assert_eq!(only_bob["items"].as_array().unwrap().len(), 0, "{only_bob}");
    let (s, _) = call(
        M::PATCH,
        url("/v1/users/bob"),
        Some("kbob"),
        Some(json!({"display_name": "Bob"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, only_bob) = call(M::GET, url("/v1/users"), Some("kbob"), None).await;
    assert_eq!(only_bob["items"][0]["id"], "bob", "{only_bob}");
    assert_eq!(only_bob["items"].as_array().unwrap().len(), 1, "{only_bob}");
    let (s, _) = call(
        M::PATCH,
        url("/v1/users/alice"),
        Some("kbob"),
        Some(json!({"display_name": "pwned"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Counts per user, and per user and character (seed 003's route).
    let (s, stats) = call(M::GET, url("/v1/users/alice/stats"), k, None).await;
    assert_eq!(s, StatusCode::OK, "{stats}");
    assert_eq!(
        (&stats["memories"], &stats["messages"], &stats["sessions"]),
        (&json!(1), &json!(1), &json!(3)),
        "{stats}"
    );
    let (s, pair) = call(M::GET, url("/v1/stats/alice/luna"), k, None).await;
    assert_eq!(s, StatusCode::OK, "{pair}");
    assert_eq!(pair["memories"], 0, "{pair}");
    let (s, _) = call(M::GET, url("/v1/stats/alice/luna"), Some("kbob"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
