//! The store's own pgvector index answers a user's search with the hits'
//! memories and windows in one statement (the shared check in
//! `memory_testkit::joined`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use memory_postgres::PgDb;
use memory_testkit::unique;

async fn fresh() -> PgDb {
    let url = std::env::var("MEMORY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/memory_test".into());
    PgDb::connect(&format!("{url}?schema={}", unique("j").to_lowercase()))
        .await
        .expect("PostgreSQL: start it with `eval \"$(scripts/services start postgres)\"`")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joined_hits_match_the_separate_lookups() {
    let db = fresh().await;
    memory_testkit::joined::joined_hits_match_the_separate_lookups(
        db.store(),
        db.store_vector_index(),
        db.vector_index(),
    )
    .await;
}
