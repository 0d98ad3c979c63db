//! The conformance suites on a real Qdrant server, when
//! `MEMORY_TEST_QDRANT_URL` or `QDRANT_URL` names one (gRPC, e.g.
//! `qdrant://127.0.0.1:6334`). No registry ships a Qdrant
//! server binary (see the README), so without it these tests say loudly
//! that they were skipped; `scripts/test` lists the suites as optional.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use memory_qdrant::QdrantIndex;
use memory_testkit::engine::{Backends, open_vectors};

fn url() -> Option<String> {
    let url = memory_testkit::qdrant_url();
    if url.is_none() {
        eprintln!(
            "SKIPPED: neither MEMORY_TEST_QDRANT_URL nor QDRANT_URL is set, so the Qdrant \
             conformance suites did not run (no Qdrant server is available on this machine)"
        );
    }
    url
}

/// SQLite as the store and the Qdrant at `url`, opened from their URLs as
/// users open them.
async fn backends(url: String) -> Backends {
    Backends::open(&memory_sqlite::BACKEND, "sqlite::memory:")
        .await
        .unwrap()
        .with_vectors(&memory_qdrant::BACKEND, &url)
        .await
        .expect("connect to Qdrant")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_index() {
    let Some(url) = url() else { return };
    memory_testkit::vector::run(open_vectors(&memory_qdrant::BACKEND, &url).await.unwrap())
        .await
        .assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine() {
    let Some(url) = url() else { return };
    // Cases name their collections uniquely, so they share the server safely.
    let mut report = memory_testkit::engine::run(|| backends(url.clone())).await;
    report.suite = "engine[qdrant]".into();
    report.assert_ok();
}

/// Unreachable servers are `Unavailable` and name the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_unavailable() {
    let e = QdrantIndex::connect("qdrant://127.0.0.1:1?timeout_ms=1000")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), memory_core::ErrorKind::Unavailable, "{e}");
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
}
