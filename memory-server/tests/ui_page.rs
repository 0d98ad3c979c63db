//! The inspector page is served without a key, from the binary, under a
//! policy that lets nothing but its own files load; the browser tests in
//! `ui-tests/` drive it (`scripts/ui-test`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{key, roomy, start, start_open};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_files_are_served_under_a_strict_policy() {
    let base = start(&[key("k", "t", None)], roomy()).await;
    let client = reqwest::Client::new();
    for (path, ctype, marker) in [
        ("/ui", "text/html", "<main id=\"view\""),
        ("/ui/app.js", "text/javascript", "sessionStorage"),
        ("/ui/app.css", "text/css", "@media"),
    ] {
        let resp = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let headers = resp.headers().clone();
        let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
        assert!(header("content-type").starts_with(ctype), "{path}");
        let policy = header("content-security-policy");
        assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert!(resp.text().await.unwrap().contains(marker), "{path}");
    }
    // The page holds no data: the API behind it still wants the key.
    let denied = client.get(format!("{base}/v1/stats")).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let unknown = client
        .get(format!("{base}/ui/nope.js"))
        .bearer_auth("k")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_the_page_refuses_foreign_hosts_too() {
    let base = start_open().await;
    let resp = reqwest::Client::new()
        .get(format!("{base}/ui"))
        .header("host", "evil.example:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}
