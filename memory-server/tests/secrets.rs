//! Secrets in backend URLs never reach a user: not in `memory status`,
//! `memory doctor`, a log line at debug level, an error, or `GET /v1/status`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// An unreachable port on loopback (the discard port is never served here).
const DOWN: &str = "127.0.0.1:9";

mod common;

/// The binary, logging at debug level: secrets must not reach any line.
fn memory_cmd(dir: &std::path::Path) -> Command {
    let mut cmd = common::memory_cmd(dir);
    cmd.env("MEMORY_LOG", "debug");
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_hidden(what: &str, shown: &str) {
    assert!(!shown.contains("SECRET"), "{what} shows a secret:\n{shown}");
}

/// A configuration whose vector fallbacks carry every kind of secret; the
/// last fallback (the store's own SQLite) serves.
fn config(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let db = format!("sqlite://{}/m.db", dir.display());
    let toml = format!(
        r#"store = "{db}"
vectors = [
  "postgres://user:SECRET1@{DOWN}/db?password=SECRET5",
  "chroma://{DOWN}?token=SECRET3",
  "qdrant://{DOWN}?api_key=SECRET2",
  "{db}",
]
[server]
listen = "127.0.0.1:{port}"
[[server.api_keys]]
key = "admin-key"
[[server.api_keys]]
key = "alice-key"
user_id = "alice"
"#
    );
    let path = dir.join("memory.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

#[test]
fn status_doctor_and_logs_hide_url_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 0);
    let cfg = cfg.to_str().unwrap();
    let status = memory_cmd(dir.path())
        .args(["--config", cfg, "--json", "status"])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", text(&status));
    let shown = text(&status);
    assert_hidden("memory status", &shown);
    // The skipped fallbacks are listed, their secrets masked.
    assert!(
        shown.contains("user:***@") && shown.contains("token=***"),
        "{shown}"
    );
    assert!(
        shown.contains("vector backend unreachable"),
        "no WARN line: {shown}"
    );

    let doctor = memory_cmd(dir.path())
        .args(["--config", cfg, "--json", "doctor"])
        .output()
        .unwrap();
    assert_hidden("memory doctor", &text(&doctor));
    assert!(text(&doctor).contains("api_key=***"), "{}", text(&doctor));

    // Qdrant's own variables: the key becomes part of the URL.
    let only_qdrant = |args: &[&str]| {
        memory_cmd(dir.path())
            .env(
                "MEMORY_STORE",
                format!("sqlite://{}/q.db", dir.path().display()),
            )
            .env("QDRANT_URL", format!("http://{DOWN}"))
            .env("QDRANT_API_KEY", "SECRET4")
            .args(args)
            .output()
            .unwrap()
    };
    for args in [&["status"][..], &["--json", "doctor"], &["search", "x"]] {
        let out = only_qdrant(args);
        assert!(!out.status.success(), "{args:?} succeeded with Qdrant down");
        assert_hidden(&format!("memory {args:?}"), &text(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_status_hides_secrets_and_details_from_user_keys() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = config(dir.path(), port);
    let mut server = memory_cmd(dir.path())
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..300 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let get = async |path: &str, key: &str| {
        client
            .get(format!("{base}{path}"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let (admin, alice, alice_stats) = if up {
        (
            get("/v1/status", "admin-key").await,
            get("/v1/status", "alice-key").await,
            get("/v1/stats", "alice-key").await,
        )
    } else {
        Default::default()
    };
    server.kill().unwrap();
    let log = text(&server.wait_with_output().unwrap());
    assert!(up, "the server did not start: {log}");
    assert_hidden("GET /v1/status", &admin);
    assert!(
        admin.contains("vectors_skipped") && admin.contains("m.db"),
        "{admin}"
    );
    assert_hidden("GET /v1/status (user key)", &alice);
    for hidden in ["vectors_skipped", "m.db", DOWN] {
        assert!(
            !alice.contains(hidden),
            "a user-bound key sees {hidden}: {alice}"
        );
        assert!(
            !alice_stats.contains(hidden),
            "a user-bound key sees {hidden}: {alice_stats}"
        );
    }
    assert!(alice.contains("sqlite"), "{alice}");
    assert_hidden("the server's debug log", &log);
    assert!(
        log.contains("DEBUG") || log.contains("WARN"),
        "no log: {log}"
    );
}
