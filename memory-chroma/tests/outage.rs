//! Chroma killed in the middle of 1,000 adds loses nothing (the scenario is
//! `memory_testkit::outage`). Its own test binary: it stops the shared
//! Chroma server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use memory_chroma::ChromaIndex;
use memory_testkit::engine::Backends;
use memory_testkit::unique;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chroma_killed_mid_adds_loses_nothing() {
    let url = std::env::var("MEMORY_TEST_CHROMA_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:58000".into())
        .replacen("http://", "chroma://", 1);
    let index = ChromaIndex::connect(&format!(
        "{url}/?database={}&timeout_ms=2000",
        unique("outage")
    ))
    .await
    .expect("Chroma is not reachable: eval \"$(scripts/services start chroma)\"");
    let dir = tempfile::tempdir().unwrap();
    let db = memory_sqlite::SqliteDb::connect(&format!("sqlite://{}/o.db", dir.path().display()))
        .await
        .unwrap();
    let store = db.store();
    let backends = Backends {
        store: store.clone(),
        vectors: Arc::new(index),
        keywords: Some(store),
    };
    memory_testkit::outage::vector_down_mid_adds(backends, "chroma").await;
}
