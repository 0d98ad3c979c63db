//! Several processes opening one fresh database file at once all get a
//! migrated schema: a migration lost to another opener is run again. New
//! files get 32 KiB pages; older files keep theirs.
#![allow(clippy::unwrap_used)]

use memory_sqlite::SqliteDb;

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_opens_all_succeed() {
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .count();
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/fresh-{round}.db", dir.path().display());
        let opens: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { SqliteDb::connect(&url).await })
            })
            .collect();
        for o in opens {
            let db = o.await.unwrap().unwrap();
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
                .fetch_one(db.pool())
                .await
                .unwrap();
            assert_eq!(usize::try_from(n).unwrap(), migrations, "round {round}");
        }
    }
}

/// A store whose keyword terms were made by another analyser (or, from
/// before terms existed, none) is re-analysed when it opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_keyword_terms_are_reanalysed_on_open() {
    use memory_core::{KeywordIndex, KeywordQuery, MemoryStore, Scope};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/old.db", dir.path().display());
    let scope = Scope::user("u");
    let record = memory_testkit::store::record(&scope, "昨日の配信でラーメンを食べました");
    let id = record.id;
    let search = |db: &SqliteDb| {
        let store = db.store();
        let tenant = scope.tenant.clone();
        async move {
            store
                .search(&KeywordQuery {
                    tenant,
                    text: "ラーメン".into(),
                    k: 5,
                    filter: None,
                })
                .await
                .unwrap()
        }
    };
    {
        let db = SqliteDb::connect(&url).await.unwrap();
        db.store()
            .apply(memory_testkit::store::without_vectors([record]))
            .await
            .unwrap();
        assert_eq!(search(&db).await.len(), 1);
        sqlx::query("UPDATE memories SET fts_terms = ''")
            .execute(db.pool())
            .await
            .unwrap();
        sqlx::query("UPDATE settings SET value = 'older' WHERE key = 'keyword_analyzer'")
            .execute(db.pool())
            .await
            .unwrap();
        assert!(search(&db).await.is_empty());
    }
    let db = SqliteDb::connect(&url).await.unwrap();
    let hits = search(&db).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_files_get_large_pages_and_old_files_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let page_size = |db: &SqliteDb| {
        let pool = db.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("PRAGMA page_size")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let fresh = SqliteDb::connect(&format!("sqlite://{}/new.db", dir.path().display()))
        .await
        .unwrap();
    assert_eq!(page_size(&fresh).await, 32768);
    let described = fresh.server_version().await.unwrap();
    assert!(described.contains("; 32 KiB pages,"), "{described}");
    assert!(!described.contains("memory compact"), "{described}");

    // A file made before, with SQLite's default pages, opens and works.
    let old = dir.path().join("old.db");
    common::old_file(&old).await;
    let db = SqliteDb::connect(&format!("sqlite://{}", old.display()))
        .await
        .unwrap();
    assert_eq!(page_size(&db).await, 4096);
    let described = db.server_version().await.unwrap();
    assert!(
        described.contains("; 4 KiB pages,") && described.contains("`memory compact` brings it"),
        "{described}"
    );
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(n > 0, "the old file was not migrated");
}
