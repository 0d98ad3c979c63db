//! `memory migrate` end to end: SQLite → PostgreSQL → SQLite, and vectors
//! moved onto Chroma and Qdrant.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

mod common;

use common::cli::Cli;
use common::memory_cmd;

#[test]
fn migrate_round_trip_through_postgres() {
    let pg = std::env::var("MEMORY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/memory_test".into());
    let host = pg
        .split('@')
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_owned();
    assert!(
        std::net::TcpStream::connect(&host).is_ok(),
        "PostgreSQL is not reachable at {pg}: eval \"$(scripts/services start postgres)\""
    );
    let c = Cli::new();
    let a = c.json(&[
        "add",
        "Alice has two cats",
        "--user",
        "alice",
        "--importance",
        "7",
    ]);
    c.json(&[
        "update",
        a["id"].as_str().unwrap(),
        "--content",
        "Alice has three cats",
    ]);
    c.json(&[
        "add",
        "Bob plays chess",
        "--user",
        "bob",
        "--metadata",
        r#"{"topic":"games"}"#,
    ]);
    c.json(&[
        "message",
        "Alice: my cats are fine",
        "--session",
        "s-9",
        "--user",
        "alice",
    ]);
    c.json(&["topics", "create", "--session", "s-9", "Cats"]);
    // Longer than the model's window: migrated with every window.
    let long = "Alice walks along the river every morning before work. ".repeat(120);
    c.json(&["add", &long, "--user", "alice"]);
    let windows = c.json(&["check"])["index_count"].as_u64().unwrap();
    assert!(
        windows > 3,
        "three memories, one with several windows: {windows}"
    );
    let src = format!("sqlite://{}/cli.db", c.dir.path().display());
    let schema = format!("mig{}", std::process::id());
    let mid = format!("{pg}?schema={schema}");
    let back = format!("sqlite://{}/back.db", c.dir.path().display());

    let r = c.json(&["migrate", "--from", &src, "--to", &mid]);
    assert_eq!(
        (
            r["copied"].as_u64(),
            r["verified"].as_bool(),
            r["vectors_written"].as_u64()
        ),
        (Some(3), Some(true), Some(3)),
        "{r}"
    );
    assert_eq!(r["target_vectors_count"].as_u64(), Some(windows), "{r}");
    let r = c.json(&["migrate", "--from", &src, "--to", &mid]);
    assert_eq!(
        (
            r["copied"].as_u64(),
            r["skipped_existing"].as_u64(),
            r["verified"].as_bool()
        ),
        (Some(0), Some(3), Some(true)),
        "resume: {r}"
    );
    let r = c.json(&["migrate", "--from", &mid, "--to", &back]);
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(r["target_vectors_count"].as_u64(), Some(windows), "{r}");
    assert_eq!(r["source_checksum"], r["target_checksum"]);
    assert_eq!(
        r["conversations_target"],
        json!({"users": 1, "sessions": 1, "topics": 1, "messages": 1}),
        "{r}"
    );
    let recent = c.json(&["--db", &back, "recent", "--session", "s-9"]);
    assert_eq!(recent[0]["content"], "Alice: my cats are fine", "{recent}");

    let found = c.json(&[
        "--db",
        &back,
        "search",
        "how many cats",
        "--user",
        "alice",
        "-k",
        "1",
    ]);
    assert_eq!(
        found["hits"][0]["memory"]["content"], "Alice has three cats",
        "{found}"
    );
    let history = c.json(&["--db", &back, "history", a["id"].as_str().unwrap()]);
    assert_eq!(
        history.as_array().unwrap().len(),
        2,
        "history lost in migration"
    );
    let check = c.json(&["--db", &back, "check"]);
    assert_eq!(
        (check["store_count"].as_u64(), check["index_count"].as_u64()),
        (Some(windows), Some(windows))
    );

    let dry = format!("sqlite://{}/dry.db", c.dir.path().display());
    let r = c.json(&["migrate", "--from", &src, "--to", &dry, "--dry-run"]);
    assert_eq!(
        (r["copied"].as_u64(), r["target_count"].as_u64()),
        (Some(3), Some(0)),
        "dry run wrote: {r}"
    );
}

/// Export then import restores memories exactly: ids, history, searchable; a
/// second import changes nothing.
/// `migrate --vectors` moves the vectors to another index (Chroma here):
/// the target store and its Chroma index agree, and searches find them.
#[test]
fn migrate_vectors_to_chroma() {
    let chroma =
        std::env::var("MEMORY_TEST_CHROMA_URL").unwrap_or_else(|_| "http://127.0.0.1:58000".into());
    assert!(
        std::net::TcpStream::connect(chroma.trim_start_matches("http://")).is_ok(),
        "Chroma is not reachable at {chroma}: eval \"$(scripts/services start chroma)\""
    );
    let vectors = format!(
        "{}/?database=cli{}",
        chroma.replacen("http://", "chroma://", 1),
        std::process::id()
    );
    let c = Cli::new();
    migrate_vectors(&c, &vectors, "database=cli");
}

/// The same onto Qdrant, whose version `doctor` then reports. Skipped,
/// loudly, without a Qdrant server (`MEMORY_TEST_QDRANT_URL`).
#[test]
fn migrate_vectors_to_qdrant() {
    let Some(vectors) = memory_testkit::qdrant_url() else {
        eprintln!(
            "SKIPPED: no Qdrant server (MEMORY_TEST_QDRANT_URL), so migration onto Qdrant was not tested"
        );
        return;
    };
    let c = Cli::new();
    // A collection of its own on the shared server.
    let collection = format!("cli{}", std::process::id());
    std::fs::write(
        c.dir.path().join("memory.toml"),
        format!("[engine]\ncollection = \"{collection}\"\n"),
    )
    .unwrap();
    let host = vectors.split("://").nth(1).unwrap_or_default();
    migrate_vectors(&c, &vectors, host);

    let out = memory_cmd(c.dir.path())
        .env("MEMORY_VECTORS", &vectors)
        .args([
            "--json",
            "--db",
            &format!("sqlite://{}/on-index.db", c.dir.path().display()),
            "doctor",
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let vectors_check = report
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["component"] == "vectors")
        .unwrap();
    assert_eq!(vectors_check["ok"], true, "{report}");
    assert!(
        vectors_check["detail"]
            .as_str()
            .unwrap()
            .contains("Qdrant 1."),
        "{report}"
    );
}

/// Migrates two users' memories into a store on `vectors`, checks the
/// migration verified, and that a semantic search there finds them.
fn migrate_vectors(c: &Cli, vectors: &str, target_mentions: &str) {
    c.json(&["add", "Alice keeps bees on the roof", "--user", "alice"]);
    c.json(&["add", "Bob collects old maps", "--user", "bob"]);
    let src = format!("sqlite://{}/cli.db", c.dir.path().display());
    let dst = format!("sqlite://{}/on-index.db", c.dir.path().display());
    let r = c.json(&[
        "migrate",
        "--from",
        &src,
        "--to",
        &dst,
        "--vectors",
        vectors,
    ]);
    assert_eq!(
        (&r["verified"], &r["target_vectors_count"]),
        (&json!(true), &json!(2)),
        "{r}"
    );
    assert!(
        r["target_vectors"]
            .as_str()
            .unwrap()
            .contains(target_mentions),
        "{r}"
    );
    let out = memory_cmd(c.dir.path())
        .env("MEMORY_VECTORS", vectors)
        .args([
            "--json", "--db", &dst, "search", "bees", "--mode", "semantic", "--user", "alice",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        found["hits"][0]["memory"]["content"],
        "Alice keeps bees on the roof"
    );
}
