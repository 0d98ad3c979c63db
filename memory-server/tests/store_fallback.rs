//! Seed 004's graceful degradation for the store: of a list, the first
//! reachable store serves; `status` and `doctor` name the one used and why
//! the others were skipped, with secrets masked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;

mod common;

use common::memory_cmd;

const DOWN: &str = "postgres://nobody:hunter2@127.0.0.1:1/nothing";

fn run(dir: &std::path::Path, store: &str, args: &[&str]) -> std::process::Output {
    memory_cmd(dir)
        .env("MEMORY_STORE", store)
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_first_reachable_store_serves_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let local = format!("sqlite://{}/fallback.db", dir.path().display());
    let list = format!("{DOWN}, {local}");
    let added = json(&run(
        dir.path(),
        &list,
        &["--json", "add", "Alice keeps bees", "--user", "alice"],
    ));
    assert_eq!(added["event"], "added", "{added}");
    // The memory went to the fallback: the SQLite file alone finds it.
    let found = json(&run(
        dir.path(),
        &local,
        &["--json", "list", "--user", "alice"],
    ));
    assert_eq!(found["items"][0]["content"], "Alice keeps bees", "{found}");

    let status = json(&run(dir.path(), &list, &["--json", "status"]));
    let skipped = status["store_skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{status}");
    let url = skipped[0]["url"].as_str().unwrap();
    assert!(
        url.contains(":1/nothing") && !url.contains("hunter2"),
        "{url}"
    );
    assert!(
        !skipped[0]["error"].as_str().unwrap().is_empty(),
        "no reason given: {status}"
    );
    assert_eq!(status["store"]["scheme"], "sqlite", "{status}");

    let report = json(&run(dir.path(), &list, &["--json", "doctor"]));
    let stores: Vec<&Value> = report
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["component"] == "store")
        .collect();
    assert_eq!(stores.len(), 2, "{report}");
    assert_eq!(stores[0]["ok"], false, "{report}");
    assert!(
        stores[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("unreachable (fallback #1)"),
        "{report}"
    );
    assert!(
        stores[1]["detail"]
            .as_str()
            .unwrap()
            .starts_with("in use (fallback #2)"),
        "{report}"
    );
    assert!(!report.to_string().contains("hunter2"), "{report}");

    // None reachable: the error names the last one tried.
    let out = run(dir.path(), &format!("{DOWN}, {DOWN}"), &["list"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unreachable")
            || String::from_utf8_lossy(&out.stderr).contains("unavailable"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A store that is misconfigured, not down, stops the list.
    let out = run(
        dir.path(),
        &format!("nosuch://x, {local}"),
        &["list", "--user", "alice"],
    );
    assert!(!out.status.success(), "a bad URL was passed over");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nosuch"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
