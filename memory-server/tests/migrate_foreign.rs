//! `memory migrate --from chroma://…/COLLECTION` on a collection written by
//! Chroma's own Python client in the shape seeds 002 and 004 use (documents,
//! embeddings, metadata with an integer `user_id`, a `type` and a
//! timestamp): mapped, resumable, dry runs that write nothing, verified.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

mod common;

use common::cli::Cli;

const WRITER: &str = r#"
import json, random, sys
import chromadb
host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = chromadb.HttpClient(host=host, port=port)
col = client.create_collection(name, metadata={"hnsw:space": "cosine"})
rows = [
    ("m1", "Alice prefers green tea in the morning", {"user_id": 1, "type": "preference", "timestamp": "2025-03-01T09:00:00Z", "sqlite_id": 11}),
    ("m2", "Alice has two cats named Tom and Luna", {"user_id": 1, "type": "fact", "timestamp": 1740822000, "sqlite_id": 12}),
    ("m3", "Alice is learning to sail on the lake", {"user_id": 1, "type": "fact", "sqlite_id": 13}),
    ("m4", "Bob collects stamps from Iceland", {"user_id": 2, "type": "fact", "sqlite_id": 14}),
    ("m5", "Alice prefers green tea in the morning", {"user_id": 1, "type": "preference", "sqlite_id": 15}),
    ("m6", "A note nobody owns", {"sqlite_id": 16}),
]
rng = random.Random(7)
def vec():
    v = [rng.uniform(-1, 1) for _ in range(384)]
    n = sum(x * x for x in v) ** 0.5
    return [x / n for x in v]
col.add(ids=[r[0] for r in rows], documents=[r[1] for r in rows],
        metadatas=[r[2] for r in rows], embeddings=[vec() for _ in rows])
print(col.count())
"#;

fn chroma() -> (String, String) {
    let url =
        std::env::var("MEMORY_TEST_CHROMA_URL").unwrap_or_else(|_| "http://127.0.0.1:58000".into());
    let host_port = url.trim_start_matches("http://").trim_end_matches('/');
    assert!(
        std::net::TcpStream::connect(host_port).is_ok(),
        "Chroma is not reachable at {url}: eval \"$(scripts/services start chroma)\""
    );
    let (h, p) = host_port.split_once(':').unwrap();
    (h.to_owned(), p.to_owned())
}

fn write_collection(host: &str, port: &str, name: &str) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/chroma-client-python"
    );
    let out = std::process::Command::new(script)
        .args(["-c", WRITER, host, port, name])
        .output()
        .expect("scripts/chroma-client-python");
    assert!(
        out.status.success(),
        "chroma client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "6");
}

#[test]
fn a_collection_written_by_chromas_client_is_imported() {
    let (host, port) = chroma();
    let name = format!("seed004_{}", uuid::Uuid::now_v7().simple());
    write_collection(&host, &port, &name);
    let from = format!("chroma://{host}:{port}/{name}");
    let c = Cli::new();
    let maps = ["--map", "type=kind", "--map", "timestamp=created_at"];

    // A dry run reads the collection and opens nothing of the target.
    let dry = c.dir.path().join("dry.db");
    let dry_url = format!("sqlite://{}", dry.display());
    let mut args = vec!["migrate", "--from", &from, "--to", &dry_url, "--dry-run"];
    args.extend(maps);
    let r = c.json(&args);
    assert_eq!(
        (
            &r["scanned"],
            &r["imported"],
            &r["skipped_no_owner"],
            &r["dry_run"]
        ),
        (&json!(6), &json!(5), &json!(1), &json!(true)),
        "{r}"
    );
    assert!(!dry.exists(), "a dry run created the target");

    // The import: owners from the integer user_id, kinds from type, times
    // from ISO and epoch timestamps; the repeated text once; vectors kept.
    let target = format!("sqlite://{}/imported.db", c.dir.path().display());
    let import = || {
        let mut args = vec![
            "migrate",
            "--from",
            &from,
            "--to",
            &target,
            "--keep-embeddings",
        ];
        args.extend(maps);
        c.json(&args)
    };
    let r = import();
    assert_eq!(
        (
            &r["imported"],
            &r["duplicates"],
            &r["skipped_no_owner"],
            &r["embeddings_kept"],
            &r["verified"]
        ),
        (&json!(4), &json!(1), &json!(1), &json!(4), &json!(true)),
        "{r}"
    );
    let alice = c.json(&["--db", &target, "list", "--user", "1", "--limit", "10"]);
    let items = alice["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{alice}");
    let tea = items
        .iter()
        .find(|m| m["content"] == "Alice prefers green tea in the morning")
        .unwrap();
    assert_eq!(tea["kind"], "preference", "{tea}");
    assert_eq!(tea["created_at"], "2025-03-01T09:00:00Z", "{tea}");
    assert_eq!(tea["metadata"]["sqlite_id"], 11, "{tea}");
    assert_eq!(tea["metadata"]["source_id"], "m1", "{tea}");
    let cats = items
        .iter()
        .find(|m| m["content"].as_str().unwrap().contains("cats"))
        .unwrap();
    assert_eq!(
        cats["created_at"], "2025-03-01T09:40:00Z",
        "epoch seconds: {cats}"
    );
    let check = c.json(&["--db", &target, "check"]);
    assert_eq!(check["missing_vectors"], json!([]), "{check}");

    // Resumed: nothing written twice.
    let r = import();
    assert_eq!(
        (&r["imported"], &r["already_present"], &r["verified"]),
        (&json!(0), &json!(4), &json!(true)),
        "{r}"
    );

    // Every record to one user, embedded anew with the local model: found by meaning.
    let one = format!("sqlite://{}/one.db", c.dir.path().display());
    let r = c.json(&[
        "migrate",
        "--from",
        &from,
        "--to",
        &one,
        "--user-id",
        "alice",
    ]);
    assert_eq!(
        (&r["imported"], &r["re_embedded"], &r["skipped_no_owner"]),
        (&json!(5), &json!(5), &json!(0)),
        "{r}"
    );
    let found: Value = c.json(&[
        "--db",
        &one,
        "search",
        "which pets does she have",
        "--user",
        "alice",
        "--mode",
        "semantic",
        "-k",
        "1",
    ]);
    assert_eq!(
        found["hits"][0]["memory"]["content"], "Alice has two cats named Tom and Luna",
        "{found}"
    );

    c.fails(
        &[
            "migrate",
            "--from",
            &format!("chroma://{host}:{port}/no_such_collection"),
            "--to",
            &one,
        ],
        "does not exist",
    );
}
