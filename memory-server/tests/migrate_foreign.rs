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
    let out = client_python("chromadb-client==1.5.9", &[WRITER, host, port, name]);
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

/// Python with `req` (a pinned PyPI client) installed, run on `args`.
fn client_python(req: &str, args: &[&str]) -> std::process::Output {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/client-python");
    let out = std::process::Command::new(script)
        .arg(req)
        .arg("-c")
        .args(args)
        .output()
        .expect("scripts/client-python");
    assert!(
        out.status.success(),
        "{req}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Seed 003's memories as its batch processor leaves them in Qdrant (the
/// text in `memory`, the character, a type, an importance and an ISO time),
/// with integer and UUID ids; beside them a collection with two named
/// vectors, and one in mem0's shape (`data`, `run_id`, `created_at` with an
/// offset).
const QDRANT_WRITER: &str = r#"
import random, sys, uuid
from qdrant_client import QdrantClient, models
host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = QdrantClient(host=host, grpc_port=port, prefer_grpc=True, check_compatibility=False)
rng = random.Random(3)
def vec(n=384):
    v = [rng.uniform(-1, 1) for _ in range(n)]
    s = sum(x * x for x in v) ** 0.5
    return [x / s for x in v]
seed003 = [
    (1, {"user_id": "user123", "character_name": "meher", "memory": "The user prefers green tea in the morning", "memory_type": "preference", "importance": 8, "timestamp": "2025-03-01T09:00:00Z"}),
    (2, {"user_id": "user123", "character_name": "meher", "memory": "The user has two cats named Tom and Luna", "memory_type": "fact", "importance": 6}),
    (str(uuid.UUID(int=3)), {"user_id": "user123", "character_name": "meher", "memory": "The user is learning to sail on the lake", "memory_type": "fact"}),
    (str(uuid.UUID(int=4)), {"user_id": "user456", "character_name": "meher", "memory": "The user collects stamps from Iceland", "memory_type": "fact"}),
    (5, {"character_name": "meher", "memory": "A summary nobody owns"}),
]
client.create_collection(name, vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE))
client.upsert(name, points=[models.PointStruct(id=i, vector=vec(), payload=p) for i, p in seed003], wait=True)
client.create_collection(name + "_named", vectors_config={
    "text": models.VectorParams(size=384, distance=models.Distance.COSINE),
    "title": models.VectorParams(size=8, distance=models.Distance.DOT),
})
client.upsert(name + "_named", points=[
    models.PointStruct(id=i, vector={"text": vec(), "title": vec(8)}, payload=p) for i, p in seed003[:2]
], wait=True)
client.create_collection(name + "_mem0", vectors_config=models.VectorParams(size=1536, distance=models.Distance.COSINE))
client.upsert(name + "_mem0", points=[models.PointStruct(id=str(uuid.UUID(int=9)), vector=vec(1536), payload={
    "data": "Likes hiking in the Alps", "hash": "x", "user_id": "carol", "run_id": "trip-1",
    "created_at": "2025-06-01T10:00:00-07:00"})], wait=True)
print(client.count(name).count)
"#;

/// `memory migrate --from qdrant://…/COLLECTION` on collections written by
/// Qdrant's own Python client. Skipped, loudly, without a Qdrant server;
/// `scripts/test` requires its marker when it started one.
#[test]
fn a_collection_written_by_qdrants_client_is_imported() {
    let Some(grpc) = memory_testkit::qdrant_url() else {
        eprintln!(
            "SKIPPED: no Qdrant server (MEMORY_TEST_QDRANT_URL), so migrating a Qdrant collection was not tested"
        );
        return;
    };
    let authority = grpc.trim_start_matches("qdrant://").trim_end_matches('/');
    let (host, port) = authority.rsplit_once(':').unwrap();
    let name = memory_testkit::unique("seed003");
    let out = client_python("qdrant-client==1.18.0", &[QDRANT_WRITER, host, port, &name]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5");
    let from = format!("{grpc}/{name}");
    let c = Cli::new();
    let maps = [
        "--agent-field",
        "character_name",
        "--map",
        "memory_type=kind",
        "--map",
        "timestamp=created_at",
        "--batch",
        "2",
    ];
    let run = |from: &str, to: &str, extra: &[&str]| {
        let mut args = vec!["migrate", "--from", from, "--to", to];
        args.extend(maps);
        args.extend(extra);
        c.json(&args)
    };

    let dry = c.dir.path().join("dry.db");
    let r = run(
        &from,
        &format!("sqlite://{}", dry.display()),
        &["--dry-run"],
    );
    assert_eq!(
        (&r["scanned"], &r["imported"], &r["verified"]),
        (&json!(5), &json!(5), &json!(true)),
        "{r}"
    );
    assert!(!dry.exists(), "a dry run created the target");

    // Pages of two across integer and UUID ids; the owner-less summary
    // belongs to the agent; vectors kept.
    let target = format!("sqlite://{}/imported.db", c.dir.path().display());
    let r = run(&from, &target, &["--keep-embeddings"]);
    assert_eq!(
        (&r["imported"], &r["embeddings_kept"], &r["verified"]),
        (&json!(5), &json!(5), &json!(true)),
        "{r}"
    );
    let user = c.json(&[
        "--db", &target, "list", "--user", "user123", "--limit", "10",
    ]);
    let items = user["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{user}");
    let tea = items
        .iter()
        .find(|m| m["content"].as_str().unwrap().contains("green tea"))
        .unwrap();
    assert_eq!(
        (
            &tea["kind"],
            &tea["importance"],
            &tea["created_at"],
            &tea["scope"]["agent_id"]
        ),
        (
            &json!("preference"),
            &json!(8.0),
            &json!("2025-03-01T09:00:00Z"),
            &json!("meher")
        ),
        "{tea}"
    );
    assert_eq!(tea["metadata"]["source_id"], "1", "{tea}");
    let check = c.json(&["--db", &target, "check"]);
    assert_eq!(check["missing_vectors"], json!([]), "{check}");
    let r = run(&from, &target, &["--keep-embeddings"]);
    assert_eq!(
        (&r["imported"], &r["already_present"]),
        (&json!(0), &json!(5)),
        "resumed: {r}"
    );

    // Named vectors: the one asked for is kept; a name the collection lacks
    // is refused before anything is read.
    let named = format!("{grpc}/{name}_named");
    let r = run(
        &format!("{named}?vector=text"),
        &format!("sqlite://{}/named.db", c.dir.path().display()),
        &["--keep-embeddings"],
    );
    assert_eq!(
        (&r["imported"], &r["embeddings_kept"]),
        (&json!(2), &json!(2)),
        "{r}"
    );
    c.fails(
        &[
            "migrate",
            "--from",
            &format!("{named}?vector=body"),
            "--to",
            &target,
        ],
        "no vector named \"body\" (it has text, title)",
    );

    // mem0's payload: `data` is the text, `run_id` the session; 1536-d
    // vectors from another model are embedded anew, and found by meaning.
    let mem0 = format!("sqlite://{}/mem0.db", c.dir.path().display());
    let r = c.json(&[
        "migrate",
        "--from",
        &format!("{grpc}/{name}_mem0"),
        "--to",
        &mem0,
        "--keep-embeddings",
    ]);
    assert_eq!(
        (&r["imported"], &r["re_embedded"]),
        (&json!(1), &json!(1)),
        "{r}"
    );
    let found = c.json(&[
        "--db",
        &mem0,
        "search",
        "mountain walks",
        "--user",
        "carol",
        "-k",
        "1",
    ]);
    let hit = &found["hits"][0]["memory"];
    assert_eq!(
        (
            &hit["content"],
            &hit["scope"]["session_id"],
            &hit["created_at"]
        ),
        (
            &json!("Likes hiking in the Alps"),
            &json!("trip-1"),
            &json!("2025-06-01T17:00:00Z")
        ),
        "{found}"
    );

    c.fails(
        &[
            "migrate",
            "--from",
            &format!("{grpc}/no_such_collection"),
            "--to",
            &mem0,
        ],
        "does not exist",
    );
    memory_testkit::mark_ran("migrate[qdrant]", "foreign collections imported");
}
