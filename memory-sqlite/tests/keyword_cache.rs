//! A process's cached keyword partitions follow writes made by another
//! process on the same file, and reload when the log no longer reaches
//! back to what they hold.
#![allow(clippy::unwrap_used)]

use memory_core::{ChangeSet, Filter, KeywordIndex, KeywordQuery, MemoryStore, Scope};
use memory_sqlite::SqliteDb;
use uuid::Uuid;

mod common;

async fn add(db: &SqliteDb, scope: &Scope, text: &str) -> Uuid {
    let record = memory_testkit::store::record(scope, text);
    let id = record.id;
    db.store()
        .apply(memory_testkit::store::without_vectors([record]))
        .await
        .unwrap();
    id
}

/// The user's hits for `text`, found alike by a joined search asked first
/// (which finds the cached index as the last search left it) and a search.
async fn find(store: &impl KeywordIndex, scope: &Scope, text: &str) -> Vec<Uuid> {
    let filter = Filter::parse(&serde_json::json!({"user_id": scope.user_id})).unwrap();
    let query = KeywordQuery {
        tenant: scope.tenant.clone(),
        text: text.into(),
        k: 10,
        filter: Some(filter),
    };
    let joined: Vec<Uuid> = store
        .search_joined(&query)
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|j| j.hit.id)
        .collect();
    let found: Vec<Uuid> = store
        .search(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(joined, found, "a joined search found other hits");
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_writer_is_seen_and_a_trimmed_log_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/shared.db", dir.path().display());
    let (reader, writer) = (
        SqliteDb::connect(&url).await.unwrap(),
        SqliteDb::connect(&url).await.unwrap(),
    );
    let scope = Scope::user("u");
    let searcher = reader.store();
    let first = add(&writer, &scope, "sourdough bread recipe").await;
    assert_eq!(find(&*searcher, &scope, "bread").await, vec![first]);

    let second = add(&writer, &scope, "rye bread on sunday").await;
    let mut hits = find(&*searcher, &scope, "bread").await;
    hits.sort();
    let mut want = vec![first, second];
    want.sort();
    assert_eq!(hits, want, "another process's insert was missed");
    writer
        .store()
        .apply(ChangeSet {
            delete: vec![first],
            ..ChangeSet::default()
        })
        .await
        .unwrap();
    assert_eq!(find(&*searcher, &scope, "bread").await, vec![second]);

    // Entries this process never read are trimmed away, the last kept
    // another user's: it must reload.
    let third = add(&writer, &scope, "bread pudding").await;
    let fourth = add(&writer, &scope, "banana bread").await;
    add(&writer, &Scope::user("w"), "bread for w").await;
    sqlx::query("DELETE FROM kw_log WHERE seq < (SELECT MAX(seq) FROM kw_log)")
        .execute(writer.pool())
        .await
        .unwrap();
    let mut hits = find(&*searcher, &scope, "bread").await;
    hits.sort();
    let mut want = vec![second, third, fourth];
    want.sort();
    assert_eq!(
        hits, want,
        "a partition older than the log was not reloaded"
    );
}

/// The loaded keyword partitions stay within `partitions_mb`: the least
/// recently searched are dropped, and load again, correct, when searched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_partitions_stay_within_their_budget() {
    const USERS: usize = 5;
    const PER_USER: usize = 400;
    const BUDGET: usize = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/k.db?partitions_mb=1", dir.path().display());
    let db = SqliteDb::connect(&url).await.unwrap();
    let store = db.store();
    let mut ids = Vec::new();
    for user in 0..USERS {
        let scope = Scope::user(format!("u{user}"));
        let records: Vec<_> = (0..PER_USER)
            .map(|i| {
                memory_testkit::store::record(&scope, &format!("note{i} about garden{user} plans"))
            })
            .collect();
        ids.push(records.iter().map(|r| r.id).collect::<Vec<_>>());
        common::insert(&*store, records).await;
    }
    let mut most = 0;
    for (user, ids) in ids.iter().enumerate() {
        let scope = Scope::user(format!("u{user}"));
        assert_eq!(find(&*store, &scope, "note7").await, vec![ids[7]]);
        let (parts, bytes) = store.keyword_partitions_cached().unwrap();
        assert!(
            parts >= 1 && bytes <= BUDGET,
            "{parts} keyword partitions take {bytes} bytes (budget {BUDGET})"
        );
        most = most.max(parts);
    }
    let (parts, _) = store.keyword_partitions_cached().unwrap();
    assert!(
        parts < USERS,
        "all {USERS} keyword partitions are still loaded"
    );
    assert!(
        most >= 2,
        "the budget holds two partitions, at most {most} were"
    );
    // The first user's partition was dropped; it loads again whole.
    let scope = Scope::user("u0");
    assert_eq!(find(&*store, &scope, "note399").await, vec![ids[0][399]]);
}

/// Rewriting a memory with only a new vector (a re-embedding) logs no
/// keyword change and leaves its FTS5 entry; changing its text does both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_vector_alone_logs_no_keyword_change() {
    use memory_core::{StoredMemory, VersionedUpdate};
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::connect(&format!("sqlite://{}/v.db", dir.path().display()))
        .await
        .unwrap();
    let store = db.store();
    let scope = Scope::user("u");
    let id = add(&db, &scope, "sourdough bread recipe").await;
    let log = async || -> i64 {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM kw_log")
            .fetch_one(db.pool())
            .await
            .unwrap()
    };
    let fts = async |term: &str| -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM memories_fts WHERE memories_fts MATCH ?")
            .bind(term)
            .fetch_one(db.pool())
            .await
            .unwrap()
    };
    let rewrite = async |record: memory_core::MemoryRecord| {
        let version = record.version;
        store
            .apply(ChangeSet {
                update: vec![VersionedUpdate {
                    memory: StoredMemory::new(record, Some(vec![0.5; 4])),
                    expected_version: version,
                    replace_embedding: true,
                }],
                ..ChangeSet::default()
            })
            .await
            .unwrap();
    };
    let before = log().await;
    let mut record = store.get_memories(&scope.tenant, &[id]).await.unwrap()[0].clone();
    record.embedding_model = Some("another".into());
    rewrite(record.clone()).await;
    assert_eq!(log().await, before, "a new vector alone was logged");
    let stored = store.get_stored(&[id]).await.unwrap();
    assert_eq!(stored[0].embedding.as_deref(), Some(&[0.5; 4][..]));
    assert_eq!(stored[0].record.embedding_model.as_deref(), Some("another"));
    assert_eq!(find(&*store, &scope, "bread").await, vec![id]);
    assert_eq!(fts("sourdough").await, 1);

    record.content = "rye loaf recipe".into();
    rewrite(record).await;
    assert!(log().await > before, "a new text was not logged");
    assert_eq!(find(&*store, &scope, "bread").await, Vec::<Uuid>::new());
    assert_eq!(find(&*store, &scope, "rye").await, vec![id]);
    assert_eq!((fts("sourdough").await, fts("rye").await), (0, 1));
}
