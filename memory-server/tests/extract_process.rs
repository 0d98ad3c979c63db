//! Extraction in real processes against the chat stand-in: 25 messages
//! recorded over REST to `memory serve` become memories with their sources
//! with no manual call; a `memory worker` killed with SIGKILL in the middle
//! of an extraction leaves nothing half-written, and the next worker
//! extracts the batch exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::chat::{Reply, stand_in};
use common::memory_cmd;
use serde_json::{Value, json};

/// A configuration on a fresh SQLite file with the stand-in as the model.
fn configure(dir: &std::path::Path, extra: &str) -> String {
    let db = format!("sqlite://{}/x.db", dir.display());
    std::fs::write(
        dir.join("memory.toml"),
        format!(
            "store = \"{db}\"\nlanguage_model = \"openai:llama3?max_retries=0\"\n{extra}\n[worker]\nlease_secs = 2\npoll_interval_ms = 100\n"
        ),
    )
    .unwrap();
    db
}

/// Starts `memory ARGS` with the stand-in as the model; its stderr goes to
/// a log file in `dir`, which `until` shows when it times out.
fn spawn(dir: &std::path::Path, base: &str, args: &[&str]) -> Child {
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let log = std::fs::File::create(dir.join(format!("{}-{n}.log", args[0]))).unwrap();
    memory_cmd(dir)
        .env("OPENAI_BASE_URL", base)
        .env("MEMORY_LOG", "memory=debug")
        .args(args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Waits until `done`, failing after `secs` with the processes' logs.
async fn until(dir: &std::path::Path, what: &str, secs: u64, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done().await {
        if Instant::now() > deadline {
            let mut logs = String::new();
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                if e.path().extension().is_some_and(|x| x == "log") {
                    logs.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
                }
            }
            panic!("timed out waiting for {what}; logs:\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn lisbon(source: &str) -> Value {
    json!({"memories": [{"content": "Alice lives in Lisbon", "kind": "fact", "importance": 7,
        "confidence": 1, "happened_at": null, "source_ids": [source]}],
        "summary": "Alice talked about Lisbon."})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_five_messages_over_rest_become_memories_by_themselves() {
    let (s, base) = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    configure(
        dir.path(),
        &format!("[server]\nlisten = \"127.0.0.1:{port}\""),
    );
    s.answer(lisbon("m7"));
    let mut server = spawn(dir.path(), &base, &["serve", "--no-auth"]);
    let api = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    until(dir.path(), "the server", 60, async || {
        http.get(format!("{api}/healthz")).send().await.is_ok()
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..25 {
        let text = if i == 6 {
            "I live in Lisbon".to_owned()
        } else {
            format!("message {i}")
        };
        let r: Value = http
            .post(format!("{api}/v1/sessions/s1/messages"))
            .json(&json!({"user_id": "alice", "content": text}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["extraction_due"], i == 24, "{r}");
        ids.push(r["message"]["id"].as_str().unwrap().to_owned());
    }
    let mut found = Value::Null;
    until(dir.path(), "the extracted memory", 60, async || {
        found = http
            .get(format!("{api}/v1/memories?user_id=alice"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        found["items"]
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m["kind"] == "fact"))
    })
    .await;
    server.kill().unwrap();
    server.wait().unwrap();
    let fact = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "fact")
        .unwrap()
        .clone();
    assert_eq!(fact["content"], "Alice lives in Lisbon");
    assert_eq!(fact["source_message_ids"], json!([ids[6]]), "{fact}");
    assert_eq!(s.schema_of(0), "extraction");
    assert!(s.input_of(0).contains("[m25]"), "{}", s.input_of(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_extraction_leaves_it_whole_for_the_next() {
    let (s, base) = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let db = configure(dir.path(), "[engine]\nextract_batch = 3");
    // The first worker's call never returns: it is killed while waiting.
    s.push(Reply::Hang(Duration::from_secs(60)));
    s.answer(lisbon("m1"));
    let mut writer = spawn(dir.path(), &base, &["worker"]);
    let record = |text: &str| {
        memory_cmd(dir.path())
            .env("OPENAI_BASE_URL", &base)
            .args(["message", "--session", "s1", "--user", "alice", text])
            .output()
            .unwrap()
    };
    for text in ["I live in Lisbon", "by the river", "since 2019"] {
        let out = record(text);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    until(dir.path(), "the model call", 60, async || s.calls() >= 1).await;
    writer.kill().unwrap();
    writer.wait().unwrap();
    let sqlite = memory::sqlite::SqliteDb::connect(&db).await.unwrap();
    let pool = sqlite.pool().clone();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM memories").await, 0);
    assert_eq!(
        count("SELECT COUNT(*) FROM messages WHERE extracted = 0").await,
        3
    );

    let mut next = spawn(dir.path(), &base, &["worker"]);
    until(dir.path(), "the batch extracted", 60, async || {
        count("SELECT COUNT(*) FROM messages WHERE extracted = 0").await == 0
    })
    .await;
    // Let a duplicate run show itself if there were one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    next.kill().unwrap();
    next.wait().unwrap();
    assert_eq!(
        count("SELECT COUNT(*) FROM memories WHERE kind = 'fact'").await,
        1
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM memories WHERE kind = 'summary'").await,
        1
    );
    assert_eq!(s.calls(), 2, "the batch went to the model more than twice");
    assert_eq!(
        count("SELECT COUNT(*) FROM jobs WHERE kind = 'extract'").await,
        0
    );
}
