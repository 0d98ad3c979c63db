//! A text longer than all-MiniLM-L6-v2's 256 tokens, through the CLI with
//! the real model: split into windows, found by the window that matches,
//! kept whole through export and import.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

mod common;

use common::cli::Cli;

fn essay() -> String {
    let garden = "Alice spends her weekends in the community garden, where she grows tomatoes, \
                  basil and runner beans, and trades seedlings with her neighbours. ";
    let sailing = "Last summer she learned to sail a small dinghy on the lake, capsized twice, \
                   and now races on Thursday evenings with her brother. ";
    format!("{}{}", garden.repeat(12), sailing.repeat(3))
}

#[test]
fn long_texts_are_windowed_and_found_by_their_window() {
    let c = Cli::new();
    let text = essay();
    let added = c.json(&["add", &text, "--user", "alice"]);
    let id = added["id"].as_str().unwrap().to_owned();
    c.json(&["add", "Bob collects stamps from Iceland", "--user", "bob"]);
    let found = c.json(&[
        "search",
        "does she go sailing or racing boats?",
        "--user",
        "alice",
        "--mode",
        "semantic",
    ]);
    let hit = &found["hits"][0];
    assert_eq!(hit["memory"]["id"], json!(id), "{found}");
    assert_eq!(
        found["hits"].as_array().unwrap().len(),
        1,
        "one memory, once: {found}"
    );
    let (start, end) = (
        usize::try_from(hit["chunk"]["start"].as_u64().unwrap()).unwrap(),
        usize::try_from(hit["chunk"]["end"].as_u64().unwrap()).unwrap(),
    );
    assert!(hit["chunk"]["index"].as_u64().unwrap() > 0, "{hit}");
    assert!(
        text[start..end].contains("sail"),
        "best window: {}",
        &text[start..end]
    );
    let check = c.json(&["check"]);
    assert_eq!(check["missing_vectors"], json!([]), "{check}");
    assert!(
        check["index_count"].as_u64().unwrap() > 2,
        "the windows are vectors of their own: {check}"
    );

    let file = c.dir.path().join("export.jsonl");
    c.json(&["export", file.to_str().unwrap(), "--vectors"]);
    let other = format!("sqlite://{}/restored.db", c.dir.path().display());
    c.json(&["--db", &other, "import", file.to_str().unwrap()]);
    let again = c.json(&["--db", &other, "check"]);
    assert_eq!(again["index_count"], check["index_count"], "{again}");
    assert_eq!(again["orphan_vectors"], json!([]), "{again}");
    let found = c.json(&[
        "--db",
        &other,
        "search",
        "sailing a dinghy",
        "--user",
        "alice",
        "--mode",
        "semantic",
    ]);
    assert_eq!(found["hits"][0]["memory"]["id"], json!(id), "{found}");

    // Past the bound on content, a clear error names it.
    let huge = "word ".repeat(8000);
    c.fails(&["add", &huge, "--user", "alice"], "max_content_bytes");
}
