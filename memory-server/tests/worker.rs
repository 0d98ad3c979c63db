//! The background worker as a process: `memory worker` killed with SIGKILL
//! in the middle of its jobs, then started again, finishes every job once;
//! and a `memory import` run again finishes the vectors an earlier run left
//! queued.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use memory::{AddRequest, Config, EngineConfig, Memory, Scope};
use memory_testkit::FlakyIndex;
use serde_json::Value;

mod common;

use common::memory_cmd;

/// `n` memories written while the vector index was down: every one of them
/// waits in the outbox.
async fn pending_memories(db: &str, n: usize) {
    let opened = memory::open_store_backends(db).await.unwrap();
    let flaky = Arc::new(FlakyIndex::new(opened.vectors.unwrap()));
    let embedder = memory::open_embedder(&Config::default().embedder)
        .await
        .unwrap();
    let m = Memory::builder()
        .store(opened.store)
        .keywords(opened.keywords.unwrap())
        .vectors(flaky.clone())
        .embedder(embedder)
        // The lines differ in one number: keep them apart.
        .config(EngineConfig {
            dedup_threshold: None,
            ..EngineConfig::default()
        })
        .build()
        .await
        .unwrap();
    flaky.set_down(true);
    let reqs: Vec<AddRequest> = (0..n)
        .map(|i| AddRequest::new(Scope::user("u"), format!("fact number {i} about the user")))
        .collect();
    for chunk in reqs.chunks(100) {
        m.add_batch(chunk.to_vec()).await.unwrap();
    }
    assert_eq!(m.store_stats(None).await.unwrap().outbox_pending, n as u64);
}

fn check(dir: &std::path::Path, db: &str) -> Value {
    let out = memory_cmd(dir)
        .args(["--db", db, "--json", "check"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_is_taken_over_and_nothing_runs_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/w.db", dir.path().display());
    pending_memories(&db, 300).await;
    let before = check(dir.path(), &db);
    assert_eq!(
        before["missing_vectors"].as_array().map(Vec::len),
        Some(300),
        "{before}"
    );
    // Short leases so the second worker takes over within the test.
    std::fs::write(
        dir.path().join("memory.toml"),
        format!("store = \"{db}\"\n[worker]\nlease_secs = 2\noutbox_interval_ms = 200\npoll_interval_ms = 100\n"),
    )
    .unwrap();
    let start = || {
        memory_cmd(dir.path())
            .arg("worker")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let pool = memory::sqlite::SqliteDb::connect(&db)
        .await
        .unwrap()
        .pool()
        .clone();
    let leased_by = |pid: u32| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM jobs WHERE lease_owner LIKE ? AND dead = 0",
            )
            .bind(format!("{pid}-%"))
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let mut first = start();
    let pid = first.id();
    // Kill it (SIGKILL: no release, nothing graceful) while it holds a job.
    let deadline = Instant::now() + Duration::from_secs(60);
    while leased_by(pid).await == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let held = leased_by(pid).await;
    let mut second = start();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        last = check(dir.path(), &db);
        if last["missing_vectors"]
            .as_array()
            .is_some_and(Vec::is_empty)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    // Whatever the killed worker held is taken over once its lease ends.
    eprintln!("jobs held by the killed worker: {held}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while leased_by(pid).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let still_held = leased_by(pid).await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(still_held, 0, "a dead worker's job was never taken over");
    assert_eq!(last["index_count"], 300, "the outbox did not drain: {last}");
    assert!(
        last["orphan_vectors"].as_array().is_some_and(Vec::is_empty),
        "{last}"
    );
    // No effect twice: one history row per memory, no dead letters.
    let history: usize = {
        let list = memory_cmd(dir.path())
            .args(["--json", "list", "--user", "u", "--limit", "1"])
            .output()
            .unwrap();
        let page: Value = serde_json::from_slice(&list.stdout).unwrap();
        let id = page["items"][0]["id"].as_str().unwrap().to_owned();
        let h = memory_cmd(dir.path())
            .args(["--json", "history", &id])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&h.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(history, 1, "a memory gained history from the worker");
    let jobs = memory_cmd(dir.path())
        .args(["--json", "jobs", "list", "--dead"])
        .output()
        .unwrap();
    let jobs: Value = serde_json::from_slice(&jobs.stdout).unwrap();
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(0), "{jobs}");
    assert!(
        jobs["counts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "outbox"),
        "{jobs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_run_again_finishes_queued_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/i.db", dir.path().display());
    pending_memories(&db, 50).await;
    let report = check(dir.path(), &db);
    assert_eq!(
        report["missing_vectors"].as_array().map(Vec::len),
        Some(50),
        "{report}"
    );
    let failed = memory_cmd(dir.path())
        .args(["--db", &db, "check"])
        .output()
        .unwrap();
    assert!(
        !failed.status.success(),
        "check passed with 50 vectors queued"
    );
    // An import of nothing new still finishes what an earlier run queued.
    let file = dir.path().join("empty.jsonl");
    std::fs::write(&file, "").unwrap();
    let out = memory_cmd(dir.path())
        .args(["--db", &db, "--json", "import", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = check(dir.path(), &db);
    assert_eq!(report["index_count"], 50, "{report}");
    assert!(
        report["missing_vectors"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{report}"
    );
}
