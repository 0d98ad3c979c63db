//! `compact` gives a file's free pages back and brings an old file to
//! 32 KiB pages, keeping every memory, vector and keyword hit; it refuses a
//! file another connection has open, and files that are not memory
//! databases.
#![allow(clippy::unwrap_used)]

use memory_core::{
    ChangeSet, ErrorKind, Filter, KeywordIndex, KeywordQuery, MemoryStore, Scope, VectorIndex,
    VectorQuery, VectorRecord,
};
use memory_sqlite::SqliteDb;

mod common;
use uuid::Uuid;

const MEMORIES: usize = 3000;
/// The first `GONE` memories are deleted, as forgetting a user would.
const GONE: usize = 2000;
const DIMENSION: usize = 64;

/// A unit vector of its own for every `seed`.
fn vector(seed: usize) -> Vec<f32> {
    memory_testkit::vector::seeded_vector(seed as u64, DIMENSION)
}

async fn scalar(db: &SqliteDb, sql: &'static str) -> String {
    sqlx::query_scalar::<_, String>(sql)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

/// Keyword hits for `text`, the same through FTS5 (no filter) and through
/// the user's own in-memory index.
async fn keyword(db: &SqliteDb, text: &str) -> Vec<Uuid> {
    let mut answers = Vec::new();
    for filter in [None, Some(serde_json::json!({"user_id": "u"}))] {
        let hits = db
            .store()
            .search(&KeywordQuery {
                tenant: Scope::user("u").tenant,
                text: text.into(),
                k: 5,
                filter: filter.map(|f| Filter::parse(&f).unwrap()),
            })
            .await
            .unwrap();
        answers.push(hits.into_iter().map(|h| h.id).collect::<Vec<_>>());
    }
    assert_eq!(
        answers[0], answers[1],
        "FTS5 and the user's index differ on {text:?}"
    );
    answers.swap_remove(0)
}

/// A memory database made with SQLite's old default 4 KiB pages, holding
/// `MEMORIES` memories with vectors of which the first `GONE` were deleted.
async fn old_database(path: &std::path::Path) -> Vec<Uuid> {
    common::old_file(path).await;
    let db = SqliteDb::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let scope = Scope::user("u");
    let records: Vec<_> = (0..MEMORIES)
        .map(|i| {
            memory_testkit::store::record(
                &scope,
                &format!("note {i} about topic{i} {}", "padding words ".repeat(40)),
            )
        })
        .collect();
    let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
    common::insert(&*db.store(), records).await;
    let index = db.store_vector_index();
    common::create_collection(&*index, "c", DIMENSION).await;
    let vectors: Vec<VectorRecord> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| VectorRecord {
            id,
            vector: vector(i),
            payload: memory_testkit::vector::payload(&scope.tenant, "u", "fact"),
        })
        .collect();
    index.upsert("c", &vectors).await.unwrap();
    let gone = ids[..GONE].to_vec();
    db.store()
        .apply(ChangeSet {
            delete: gone.clone(),
            ..ChangeSet::default()
        })
        .await
        .unwrap();
    index.delete("c", &gone).await.unwrap();
    db.close().await;
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_shrinks_an_old_file_into_large_pages_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let url = format!("sqlite://{}", path.display());
    let ids = old_database(&path).await;

    // In use elsewhere: refused, and the file keeps its pages.
    let open = SqliteDb::connect(&url).await.unwrap();
    let _ = keyword(&open, "topic1").await;
    let described = open.server_version().await.unwrap();
    assert!(
        described.contains("brings it to 32 KiB pages"),
        "{described}"
    );
    let refused = memory_sqlite::compact(&url).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unavailable, "{refused}");
    assert!(
        refused.to_string().contains("open in another process"),
        "{refused}"
    );
    assert_eq!(
        scalar(
            &open,
            "SELECT CAST(page_size AS TEXT) FROM pragma_page_size"
        )
        .await,
        "4096"
    );
    assert_eq!(keyword(&open, "topic2001").await, vec![ids[2001]]);
    open.close().await;

    let report = memory_sqlite::compact(&url).await.unwrap();
    assert_eq!(report.page_size_before, 4096);
    assert_eq!(report.page_size_after, 32768);
    assert!(report.free_pages_before > 0, "{report:?}");
    assert!(report.bytes_after < report.bytes_before, "{report:?}");
    assert_eq!(report.bytes_after, std::fs::metadata(&path).unwrap().len());
    // The header's read and write versions are 2 in WAL mode, as the store keeps it.
    let header = std::fs::read(&path).unwrap();
    assert_eq!(
        &header[18..20],
        &[2, 2],
        "the file was left out of WAL mode"
    );

    let db = SqliteDb::connect(&url).await.unwrap();
    assert_eq!(
        scalar(&db, "SELECT CAST(page_size AS TEXT) FROM pragma_page_size").await,
        "32768"
    );
    let described = db.server_version().await.unwrap();
    assert!(!described.contains("memory compact"), "{described}");
    assert_eq!(
        scalar(&db, "SELECT CAST(COUNT(*) AS TEXT) FROM memories").await,
        (MEMORIES - GONE).to_string()
    );
    // Kept memories are found by keyword and by vector; deleted ones by neither.
    for i in [GONE, GONE + 1, MEMORIES - 1] {
        assert_eq!(
            keyword(&db, &format!("topic{i}")).await,
            vec![ids[i]],
            "topic{i}"
        );
    }
    assert!(keyword(&db, "topic2").await.is_empty());
    assert!(keyword(&db, &format!("topic{}", GONE - 1)).await.is_empty());
    let index = db.store_vector_index();
    for i in [1, GONE - 1, GONE, MEMORIES - 1] {
        let hits = index
            .query(
                "c",
                &VectorQuery {
                    tenant: Scope::user("u").tenant,
                    vector: vector(i),
                    k: 1,
                    filter: None,
                },
            )
            .await
            .unwrap();
        let best = hits.first().map(|h| h.id);
        if i < GONE {
            assert_ne!(best, Some(ids[i]), "deleted vector {i} found");
        } else {
            assert_eq!(best, Some(ids[i]), "vector {i}");
        }
    }
    // Most of what is left deleted: doctor's line says compaction would give it back.
    db.store()
        .apply(ChangeSet {
            delete: ids[GONE..MEMORIES - 100].to_vec(),
            ..ChangeSet::default()
        })
        .await
        .unwrap();
    let described = db.server_version().await.unwrap();
    assert!(
        described.contains("gives the free space back"),
        "{described}"
    );
    db.close().await;
    let again = memory_sqlite::compact(&url).await.unwrap();
    assert_eq!(
        (again.page_size_before, again.page_size_after),
        (32768, 32768)
    );
    assert!(again.free_pages_before > 0, "{again:?}");
    assert!(again.bytes_after < again.bytes_before, "{again:?}");
}

#[tokio::test]
async fn compaction_refuses_what_is_not_a_memory_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.db");
    // A SQLite file of another program's: one table of its own.
    common::old_file(&other).await;
    let e = memory_sqlite::compact(&format!("sqlite://{}", other.display()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("not a memory database"), "{e}");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database at all").unwrap();
    let e = memory_sqlite::compact(&format!("sqlite://{}", text.display()))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a SQLite file"), "{e}");
    assert_eq!(std::fs::read(&text).unwrap(), b"not a database at all");

    let e = memory_sqlite::compact("sqlite::memory:").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let missing = dir.path().join("missing.db");
    let e = memory_sqlite::compact(&format!("sqlite://{}", missing.display()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(!missing.exists(), "compaction created a file");
}
