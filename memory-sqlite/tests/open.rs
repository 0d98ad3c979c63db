//! Several processes opening one fresh database file at once all get a
//! migrated schema: a migration lost to another opener is run again.
#![allow(clippy::unwrap_used)]

use memory_sqlite::SqliteDb;

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
