//! Qdrant killed in the middle of 1,000 adds loses nothing (the scenario is
//! `memory_testkit::outage`). Its own test binary: it stops the shared
//! Qdrant server, so it runs only when `scripts/services` started that
//! server itself (it has the binary), not against any other Qdrant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use memory_qdrant::QdrantIndex;
use memory_testkit::engine::Backends;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qdrant_killed_mid_adds_loses_nothing() {
    if std::env::var_os("MEMORY_QDRANT_SERVICE").is_none() {
        eprintln!(
            "SKIPPED: the Qdrant outage test stops the server, so it runs only on one \
             scripts/services started (MEMORY_QDRANT_SERVICE is not set)"
        );
        return;
    }
    let url = memory_testkit::qdrant_url().expect("scripts/services sets MEMORY_TEST_QDRANT_URL");
    let index = QdrantIndex::connect(&format!("{url}?timeout_ms=2000"))
        .await
        .expect("Qdrant is not reachable: eval \"$(scripts/services start qdrant)\"");
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
    memory_testkit::outage::vector_down_mid_adds(backends, "qdrant").await;
}
