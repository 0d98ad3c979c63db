//! The conformance suites on a real Chroma 1.5.9 server (started by
//! `scripts/services start chroma`), each run in a fresh Chroma database,
//! in both layouts; the engine suite uses SQLite as the store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use memory_chroma::ChromaIndex;
use memory_core::VectorIndex;
use memory_testkit::engine::{Backends, open_vectors};
use memory_testkit::unique;

fn base_url() -> String {
    let url =
        std::env::var("MEMORY_TEST_CHROMA_URL").unwrap_or_else(|_| "http://127.0.0.1:58000".into());
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    assert!(
        std::net::TcpStream::connect(&host).is_ok(),
        "Chroma is not reachable at {url}: start it with `eval \"$(scripts/services start chroma)\"`"
    );
    url.replacen("http://", "chroma://", 1)
}

/// A fresh Chroma database's index, opened from its URL as users open it.
fn index_url(layout: &str) -> String {
    format!("{}/?database={}&layout={layout}", base_url(), unique("db"))
}

async fn index(layout: &str) -> Arc<dyn VectorIndex> {
    open_vectors(&memory_chroma::BACKEND, &index_url(layout))
        .await
        .expect("connect to Chroma")
}

async fn backends(layout: &'static str) -> Backends {
    Backends::open(&memory_sqlite::BACKEND, "sqlite::memory:")
        .await
        .unwrap()
        .with_vectors(&memory_chroma::BACKEND, &index_url(layout))
        .await
        .expect("connect to Chroma")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_index_shared() {
    memory_testkit::vector::run(index("shared").await)
        .await
        .assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_index_per_user() {
    let mut report = memory_testkit::vector::run(index("per_user").await).await;
    report.suite = "vector[chroma per_user]".into();
    report.assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_shared() {
    let mut report = memory_testkit::engine::run(|| backends("shared")).await;
    report.suite = "engine[chroma]".into();
    report.assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_per_user() {
    let mut report = memory_testkit::engine::run(|| backends("per_user")).await;
    report.suite = "engine[chroma per_user]".into();
    report.assert_ok();
}

/// An unreachable server is `Unavailable`, named, and quick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_unavailable() {
    let start = std::time::Instant::now();
    let e = ChromaIndex::connect("chroma://127.0.0.1:1?timeout_ms=2000")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), memory_core::ErrorKind::Unavailable, "{e}");
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}
