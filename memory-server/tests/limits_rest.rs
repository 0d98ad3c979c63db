//! Rate limits as seed 001 means them: per end user (the user a request
//! acts on, whichever key makes it), per API key, and global, each in its
//! own bucket; recording a message counts; the window is configurable.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use memory::RateLimits;
use reqwest::Method as M;
use reqwest::StatusCode;
use serde_json::json;

mod common;

use common::{call, key, roomy, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_end_user_has_a_bucket_of_their_own() {
    let limits = RateLimits {
        per_user_per_minute: 2,
        per_key_per_minute: 8,
        window_secs: 120,
        ..roomy()
    };
    // key0 serves many users; a key bound to a user named "key0" must not
    // share the service key's bucket.
    let base = start(
        &[key("service", "t", None), key("own", "t", Some("key0"))],
        limits,
    )
    .await;
    let add = |key: &'static str, user: &'static str| {
        call(
            M::POST,
            format!("{base}/v1/memories"),
            Some(key),
            Some(json!({"user_id": user, "content": format!("a fact about {user}")})),
        )
    };
    // One service key, three users, two calls each: nobody is limited.
    for user in ["u1", "u2", "u3"] {
        for _ in 0..2 {
            let (s, b) = add("service", user).await;
            assert!(s.is_success(), "{user}: {s} {b}");
        }
    }
    // A third call for u1 is refused, naming the per-user limit and its window.
    let (s, b) = add("service", "u1").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    let message = b["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("per-user") && message.contains("120 s"),
        "{message}"
    );
    // Recording a message counts for its user too.
    let (s, b) = call(
        M::POST,
        format!("{base}/v1/sessions/s/messages"),
        Some("service"),
        Some(json!({"user_id": "u2", "content": "hello"})),
    )
    .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    // The user "key0" has a bucket of its own.
    for _ in 0..2 {
        let (s, b) = add("own", "key0").await;
        assert!(s.is_success(), "{s} {b}");
    }
    // The service key has made 8 requests: its own limit refuses the next,
    // whoever it is for.
    let (s, b) = add("service", "u9").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("per-key"),
        "{b}"
    );
}
