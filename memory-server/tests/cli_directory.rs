//! The CLI's sessions, topics and users, and their trip through an export.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

mod common;

use common::cli::Cli;

#[test]
fn sessions_topics_users_and_their_export() {
    let c = Cli::new();
    let s = c.json(&[
        "sessions",
        "create",
        "--id",
        "stream-1",
        "--user",
        "alice",
        "--title",
        "Chess",
        "--external-id",
        "vid1",
    ]);
    assert_eq!(
        (&s["platform"], &s["external_id"]),
        (&json!("youtube"), &json!("vid1"))
    );
    c.fails(
        &[
            "sessions",
            "create",
            "--id",
            "stream-2",
            "--external-id",
            "vid1",
        ],
        "external id",
    );
    c.json(&["sessions", "update", "stream-1", "--title", "Chess night"]);
    assert_eq!(
        c.json(&["sessions", "get", "stream-1"])["title"],
        "Chess night"
    );
    let found = c.json(&[
        "sessions",
        "list",
        "--platform",
        "youtube",
        "--external-id",
        "vid1",
    ]);
    assert_eq!(found["items"][0]["id"], "stream-1", "{found}");

    let t = c.json(&[
        "topics",
        "create",
        "--session",
        "stream-1",
        "Openings",
        "--outline",
        r#"["Sicilian"]"#,
    ]);
    let tid = t["id"].as_str().unwrap().to_owned();
    assert_eq!(t["outline"], json!(["Sicilian"]));
    c.fails(&["topics", "create", "--session", "nope", "x"], "session");
    c.json(&[
        "message",
        "Sicilian please",
        "--session",
        "stream-1",
        "--user",
        "alice",
        "--topic",
        &tid,
    ]);
    c.json(&[
        "message",
        "hello",
        "--session",
        "stream-1",
        "--user",
        "alice",
    ]);
    let on = c.json(&["transcript", "--session", "stream-1", "--topic", &tid]);
    assert_eq!(on["items"].as_array().unwrap().len(), 1, "{on}");
    c.json(&[
        "add",
        "Alice plays the Sicilian",
        "--user",
        "alice",
        "--topic",
        &tid,
    ]);
    let listed = c.json(&[
        "list",
        "--user",
        "alice",
        "--filter",
        &json!({"topic_id": tid}).to_string(),
    ]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let done = c.json(&["topics", "update", &tid, "--completed", "true"]);
    assert_eq!(done["completed"], true);
    let open = c.json(&[
        "topics",
        "list",
        "--session",
        "stream-1",
        "--completed",
        "false",
    ]);
    assert_eq!(open["items"].as_array().unwrap().len(), 0, "{open}");

    let u = c.json(&[
        "users",
        "update",
        "alice",
        "--name",
        "Alice A.",
        "--external-id",
        "UC_a",
        "--platform",
        "youtube",
    ]);
    assert_eq!(
        (&u["display_name"], &u["message_count"]),
        (&json!("Alice A."), &json!(2))
    );
    let viewers = c.json(&[
        "users",
        "list",
        "--platform",
        "youtube",
        "--external-id",
        "UC_a",
    ]);
    assert_eq!(viewers["items"][0]["id"], "alice", "{viewers}");
    let stats = c.json(&["users", "stats", "alice"]);
    assert_eq!(
        (&stats["memories"], &stats["messages"], &stats["sessions"]),
        (&json!(1), &json!(2), &json!(1)),
        "{stats}"
    );

    // Topics and the session's platform id travel through an export.
    let file = c.dir.path().join("export.jsonl");
    let r = c.json(&["export", file.to_str().unwrap()]);
    assert_eq!(r["topics"], 1, "{r}");
    let other = format!("sqlite://{}/restored.db", c.dir.path().display());
    c.json(&["--db", &other, "import", file.to_str().unwrap()]);
    let back = c.json(&["--db", &other, "topics", "get", &tid]);
    assert_eq!(
        (&back["title"], &back["completed"]),
        (&json!("Openings"), &json!(true))
    );
    let on = c.json(&[
        "--db",
        &other,
        "transcript",
        "--session",
        "stream-1",
        "--topic",
        &tid,
    ]);
    assert_eq!(on["items"].as_array().unwrap().len(), 1, "{on}");
    let s: Value = c.json(&["--db", &other, "sessions", "get", "stream-1"]);
    assert_eq!(s["external_id"], "vid1");
    // A second import of the same file rewrites the topic, no conflict.
    c.json(&["--db", &other, "import", file.to_str().unwrap()]);
    c.json(&["topics", "delete", &tid]);
    c.fails(&["topics", "get", &tid], "not found");
}
