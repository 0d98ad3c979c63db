//! The CLI on a temporary SQLite file with the real local model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

mod common;

use common::cli::Cli;
use common::memory_cmd;

#[test]
fn remember_recall_update_forget() {
    let c = Cli::new();
    let cats = c.json(&[
        "add",
        "Alice has two cats named Tom and Luna",
        "--user",
        "alice",
        "--importance",
        "7",
    ]);
    assert_eq!(cats["event"], "added");
    let id = cats["id"].as_str().unwrap().to_owned();
    c.json(&[
        "add",
        "Alice prefers green tea",
        "--user",
        "alice",
        "--kind",
        "preference",
        "--metadata",
        r#"{"topic":"food"}"#,
    ]);
    c.json(&["add", "Bob plays chess", "--user", "bob"]);
    assert_eq!(
        c.json(&[
            "add",
            "Alice has two cats named Tom and Luna",
            "--user",
            "alice"
        ])["event"],
        "unchanged"
    );

    let found = c.json(&["search", "does she have pets", "--user", "alice", "-k", "1"]);
    assert_eq!(
        found["hits"][0]["memory"]["id"],
        id.as_str(),
        "semantic recall: {found}"
    );
    let kw = c.json(&["search", "chess", "--mode", "keyword"]);
    assert_eq!(kw["hits"][0]["memory"]["content"], "Bob plays chess");
    let filtered = c.json(&[
        "search",
        "Alice",
        "--user",
        "alice",
        "--filter",
        r#"{"metadata.topic":"food"}"#,
    ]);
    assert_eq!(filtered["hits"].as_array().unwrap().len(), 1);

    let listed = c.json(&["list", "--user", "alice"]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    let updated = c.json(&[
        "update",
        &id,
        "--content",
        "Alice has three cats",
        "--expected-version",
        "1",
    ]);
    assert_eq!(updated["version"], 2);
    c.fails(
        &[
            "update",
            &id,
            "--importance",
            "3",
            "--expected-version",
            "1",
        ],
        "conflict",
    );
    let history = c.json(&["history", &id]);
    assert_eq!(history.as_array().unwrap().len(), 2);
    let check = c.json(&["check"]);
    assert_eq!(check["missing_vectors"].as_array().unwrap().len(), 0);
    assert_eq!(check["index_count"], 3);

    let forgot = c.json(&["forget", "--user", "alice"]);
    assert_eq!(forgot["memories"].as_array().unwrap().len(), 2);
    let stats = c.json(&["stats"]);
    assert_eq!(stats["store"]["memories"], 1);
    assert_eq!(stats["vectors"], 1);
    c.fails(&["get", &id], "not found");

    // The file is rebuilt without what was forgotten, and still serves.
    // The store and the vectors name one file two ways: it is compacted once.
    std::fs::write(
        c.dir.path().join("memory.toml"),
        format!("vectors = \"sqlite://{}/cli.db\"\n", c.dir.path().display()),
    )
    .unwrap();
    let compacted = c.json(&["--db", "sqlite://./cli.db", "compact"]);
    std::fs::remove_file(c.dir.path().join("memory.toml")).unwrap();
    assert_eq!(compacted.as_array().map(Vec::len), Some(1), "{compacted}");
    assert_eq!(compacted[0]["page_size_after"], 32768, "{compacted}");
    assert!(
        compacted[0]["path"].as_str().unwrap().ends_with("cli.db"),
        "{compacted}"
    );
    let kw = c.json(&["search", "chess", "--mode", "keyword"]);
    assert_eq!(kw["hits"][0]["memory"]["content"], "Bob plays chess");
    assert_eq!(c.json(&["check"])["index_count"], 1);
    c.fails(
        &["--db", "postgres://localhost/none", "compact"],
        "compact works on SQLite files",
    );
}

#[test]
fn bad_input_is_named() {
    let c = Cli::new();
    c.json(&["add", "kept", "--user", "u"]);
    c.fails(&["add", "   ", "--user", "u"], "content: must not be empty");
    c.fails(
        &["add", "x", "--user", "u", "--importance", "11"],
        "importance",
    );
    c.fails(&["add", "x"], "scope");
    c.fails(
        &["search", "x", "--filter", r#"{"colour":"red"}"#],
        "colour",
    );
    c.fails(
        &["search", "x", "--filter", "{not json"],
        "--filter is not JSON",
    );
    c.fails(&["--db", "mysql://h/db", "stats"], "unknown scheme");
    c.fails(
        &["--db", "postgres://u:secret@127.0.0.1:9/db", "stats"],
        "cannot connect to PostgreSQL",
    );
    // An unknown key is named. Every vector backend is compiled into the
    // binary: an unknown scheme lists them, an unreachable one names its address.
    for (toml, needle) in [
        ("stroe = \"sqlite::memory:\"", "stroe"),
        (
            "vectors = \"milvus://127.0.0.1:1/c\"",
            "sqlite, postgres, chroma, qdrant",
        ),
        (
            "vectors = \"chroma://127.0.0.1:1?timeout_ms=500\"",
            "127.0.0.1:1",
        ),
    ] {
        std::fs::write(c.dir.path().join("memory.toml"), format!("{toml}\n")).unwrap();
        let out = memory_cmd(c.dir.path()).arg("stats").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(needle),
            "{toml}: {err}"
        );
    }
    std::fs::remove_file(c.dir.path().join("memory.toml")).unwrap();
    assert_eq!(
        c.json(&["stats"])["store"]["memories"],
        1,
        "bad input lost what was stored"
    );
}

#[test]
fn import_jsonl_memories_and_messages() {
    let c = Cli::new();
    let file = c.dir.path().join("in.jsonl");
    std::fs::write(
        &file,
        [
            r#"{"user_id":"v1","content":"Viewer one loves horror games","kind":"preference","importance":6}"#,
            r#"{"user_id":"v1","content":"Viewer one is from Osaka"}"#,
            r#"{"user_id":"v1","content":"Viewer one is from Osaka"}"#,
            r#"{"session_id":"stream-1","user_id":"v1","role":"user","content":"hello from chat","author_name":"V1"}"#,
            "",
        ]
        .join("\n"),
    )
    .unwrap();
    let r = c.json(&["import", file.to_str().unwrap()]);
    assert_eq!(
        (
            r["added"].as_u64(),
            r["unchanged"].as_u64(),
            r["messages"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{r}"
    );
    let recent = c.json(&["recent", "--session", "stream-1"]);
    assert_eq!(recent[0]["content"], "hello from chat");
    std::fs::write(&file, "{\"user_id\":\"v1\",\"content\":\"\"}\n").unwrap();
    c.fails(&["import", file.to_str().unwrap()], "line 1");
}

/// SQLite → PostgreSQL → SQLite loses nothing; a second run skips what is
/// there (resumable); a dry run writes nothing.
#[test]
fn export_import_round_trip() {
    let c = Cli::new();
    let a = c.json(&["add", "Alice has two cats", "--user", "alice"]);
    let id = a["id"].as_str().unwrap().to_owned();
    c.json(&["update", &id, "--content", "Alice has three cats"]);
    c.json(&["add", "Bob plays chess", "--user", "bob"]);
    for (text, role) in [("hi, I'm Alice", "user"), ("hello Alice!", "assistant")] {
        c.json(&[
            "message",
            text,
            "--session",
            "chat-1",
            "--user",
            "alice",
            "--role",
            role,
        ]);
    }
    let file = c.dir.path().join("export.jsonl");
    let r = c.json(&["export", file.to_str().unwrap(), "--vectors"]);
    assert_eq!(
        (&r["exported"], &r["users"], &r["sessions"], &r["messages"]),
        (&json!(2), &json!(1), &json!(1), &json!(2)),
        "{r}"
    );
    let other = format!("sqlite://{}/restored.db", c.dir.path().display());
    let r = c.json(&["--db", &other, "import", file.to_str().unwrap()]);
    assert_eq!(
        (r["restored"].as_u64(), r["added"].as_u64()),
        (Some(2), Some(0)),
        "{r}"
    );
    let got = c.json(&["--db", &other, "get", &id]);
    assert_eq!(
        (got["content"].as_str(), got["version"].as_u64()),
        (Some("Alice has three cats"), Some(2))
    );
    assert_eq!(
        c.json(&["--db", &other, "history", &id])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let found = c.json(&["--db", &other, "search", "chess", "--mode", "semantic"]);
    assert_eq!(found["hits"][0]["memory"]["content"], "Bob plays chess");
    // Users, sessions and messages come back exactly: exporting the restored
    // store gives the same lines.
    let again = c.dir.path().join("again.jsonl");
    c.json(&["--db", &other, "export", again.to_str().unwrap()]);
    let conversation = |f: &std::path::Path| -> Vec<String> {
        std::fs::read_to_string(f)
            .unwrap()
            .lines()
            .filter(|l| serde_json::from_str::<Value>(l).unwrap()["type"] != "memory")
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(conversation(&file).len(), 4);
    assert_eq!(conversation(&file), conversation(&again));
    let r = c.json(&["--db", &other, "import", file.to_str().unwrap()]);
    assert_eq!(
        (r["restored"].as_u64(), r["unchanged"].as_u64()),
        (Some(0), Some(2)),
        "second import: {r}"
    );
    assert_eq!(c.json(&["--db", &other, "check"])["index_count"], 2);
}

/// `doctor` reports each backend on its own line, and fails naming the one
/// that is down while still checking the others.
#[test]
fn doctor_names_what_is_wrong() {
    let c = Cli::new();
    let report = c.json(&["doctor"]);
    let components: Vec<&str> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["component"].as_str().unwrap())
        .collect();
    assert_eq!(
        components,
        ["config", "store", "vectors", "short_term", "embedder"]
    );
    assert!(
        report.as_array().unwrap().iter().all(|r| r["ok"] == true),
        "{report}"
    );
    assert!(
        report[1]["detail"].as_str().unwrap().contains("SQLite 3."),
        "{report}"
    );

    let out = memory_cmd(c.dir.path())
        .env("MEMORY_SHORT_TERM", "redis://127.0.0.1:1/0")
        .args(["--json", "doctor"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad: Vec<&str> = report
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ok"] == false)
        .map(|r| r["component"].as_str().unwrap())
        .collect();
    assert_eq!(bad, ["short_term"], "{report}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 check(s) failed"));
}

#[test]
fn superseded_memories_remembered_messages_and_sessions() {
    let c = Cli::new();
    let lisbon = c.json(&["add", "Alice lives in Lisbon", "--user", "alice"]);
    let id = lisbon["id"].as_str().unwrap();
    let berlin = c.json(&[
        "add",
        "Alice lives in Berlin",
        "--user",
        "alice",
        "--supersedes",
        id,
    ]);
    assert_eq!(berlin["event"], "added", "{berlin}");
    let now = c.json(&["list", "--user", "alice"]);
    assert_eq!(now["items"].as_array().unwrap().len(), 1, "{now}");
    let all = c.json(&["list", "--user", "alice", "--include-superseded"]);
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "{all}");
    let found = c.json(&[
        "search",
        "where does alice live",
        "--user",
        "alice",
        "--include-superseded",
    ]);
    assert_eq!(found["hits"].as_array().unwrap().len(), 2, "{found}");
    c.fails(
        &[
            "list",
            "--user",
            "alice",
            "--include-superseded",
            "--as-of",
            "2026-01-01T00:00:00Z",
        ],
        "as_of",
    );
    let history = c.json(&["history", berlin["id"].as_str().unwrap()]);
    assert_eq!(history.as_array().unwrap().len(), 3, "{history}");

    let kept = c.json(&[
        "message",
        "--session",
        "s1",
        "--user",
        "alice",
        "--remember",
        "my sister Ana visits in May",
    ]);
    assert!(kept["memory_id"].is_string(), "{kept}");
    let send = [
        "message",
        "--session",
        "s1",
        "--user",
        "alice",
        "--client-id",
        "c1",
        "on my way",
    ];
    let once = c.json(&send);
    let twice = c.json(&send);
    assert_eq!(
        (twice["duplicate"].as_bool(), &twice["message"]["id"]),
        (Some(true), &once["message"]["id"]),
        "{twice}"
    );
    let page = c.json(&["transcript", "--session", "s1", "--limit", "1"]);
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    let rest = c.json(&[
        "transcript",
        "--session",
        "s1",
        "--cursor",
        page["next_cursor"].as_str().unwrap(),
    ]);
    assert_eq!(rest["items"][0]["id"], once["message"]["id"], "{rest}");
    c.json(&[
        "answered",
        "--session",
        "s1",
        once["message"]["id"].as_str().unwrap(),
    ]);
    let off = c.json(&["session-extraction", "--session", "s1", "off"]);
    assert_eq!(off["metadata"]["extract"], false, "{off}");
    let ended = c.json(&["end-session", "--session", "s1"]);
    assert!(ended["ended_at"].is_string(), "{ended}");
    c.fails(&["end-session", "--session", "nope"], "not found");
}

/// Seed 000's `DATABASE_URL` in Prisma's form opens the SQLite file.
#[test]
fn prisma_file_urls_open_sqlite() {
    let c = Cli::new();
    let added = c.json(&[
        "--db",
        "file:./dev.db",
        "add",
        "Alice has two cats",
        "--user",
        "alice",
    ]);
    assert_eq!(added["event"], "added", "{added}");
    assert!(c.dir.path().join("dev.db").exists());
    let listed = c.json(&["--db", "file:./dev.db", "list", "--user", "alice"]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
}

/// The CLI's bulk work is not throttled by the server's rate limits.
#[test]
fn bulk_import_is_not_rate_limited() {
    let c = Cli::new();
    std::fs::write(
        c.dir.path().join("memory.toml"),
        "[engine.rate_limits]\nper_user_per_minute = 1\nper_key_per_minute = 1\nglobal_per_minute = 1\n",
    )
    .unwrap();
    let lines: String = (0..20)
        .map(|i| format!("{{\"user_id\": \"alice\", \"content\": \"fact number {i}\"}}\n"))
        .collect();
    let file = c.dir.path().join("bulk.jsonl");
    std::fs::write(&file, lines).unwrap();
    c.json(&["import", file.to_str().unwrap()]);
    let listed = c.json(&["list", "--user", "alice", "--limit", "50"]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 20, "{listed}");
}
