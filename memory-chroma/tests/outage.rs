//! Chroma stopped in the middle of 1,000 adds: every add still answers
//! (success, or a clear error), the outbox keeps what Chroma missed, `sync`
//! after the restart drains it, and `check` finds store and index agree.
//! Its own test binary: it stops the shared Chroma server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use memory_chroma::ChromaIndex;
use memory_core::{AddRequest, EngineConfig, ErrorKind, Memory, Scope, VectorState};
use memory_testkit::{DeterministicEmbedder, unique};

fn services(action: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services");
    let out = Command::new("bash")
        .args([script, action, "chroma"])
        .output()
        .expect("run scripts/services");
    assert!(
        out.status.success(),
        "scripts/services {action} chroma: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts Chroma again however the test ends, so later tests find it up.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        services("start");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chroma_down_mid_adds_loses_nothing() {
    let url = std::env::var("MEMORY_TEST_CHROMA_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:58000".into())
        .replacen("http://", "chroma://", 1);
    let index = Arc::new(
        ChromaIndex::connect(&format!(
            "{url}/?database={}&timeout_ms=2000",
            unique("outage")
        ))
        .await
        .expect("Chroma is not reachable: eval \"$(scripts/services start chroma)\""),
    );
    let dir = tempfile::tempdir().unwrap();
    let db = memory_sqlite::SqliteDb::connect(&format!("sqlite://{}/o.db", dir.path().display()))
        .await
        .unwrap();
    let store = db.store();
    let m = Memory::builder()
        .store(store.clone())
        .keywords(store.clone())
        .vectors(index)
        .embedder(Arc::new(DeterministicEmbedder::new(32)))
        // Near-duplicate merging would fold some of the similar texts.
        .config(EngineConfig {
            dedup_threshold: None,
            ..EngineConfig::default()
        })
        .build()
        .await
        .unwrap();

    let _restart = Restart;
    let done = Arc::new(AtomicUsize::new(0));
    let adder = {
        let (m, done) = (m.clone(), done.clone());
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for i in 0..1000 {
                let req = AddRequest::new(
                    Scope::user(format!("u{}", i % 10)),
                    format!("memory number {i} about topic {}", i % 37),
                );
                outcomes.push(m.add(req).await);
                done.fetch_add(1, Ordering::SeqCst);
            }
            outcomes
        })
    };
    while done.load(Ordering::SeqCst) < 300 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    services("stop");
    let outcomes = adder.await.unwrap();

    let (mut synced, mut pending) = (0, 0);
    for (i, o) in outcomes.iter().enumerate() {
        match o {
            Ok(a) if a.vector_state == VectorState::Synced => synced += 1,
            Ok(_) => pending += 1,
            Err(e) => assert_eq!(
                e.kind(),
                ErrorKind::Unavailable,
                "add {i} failed unclearly: {e}"
            ),
        }
    }
    let stored = m.stats(None).await.unwrap();
    assert_eq!(
        stored.store.memories, 1000,
        "the store lost adds: {stored:?}"
    );
    assert!(
        synced >= 300,
        "only {synced} adds reached Chroma before the stop"
    );
    assert!(pending > 0, "Chroma was stopped, yet every add was synced");
    assert_eq!(
        stored.store.outbox_pending, pending,
        "the outbox does not hold exactly the vectors Chroma missed"
    );
    // While Chroma is down a search degrades to keyword results.
    let r = m
        .search(memory_core::SearchRequest::new(
            Scope::user("u3"),
            "topic 5",
        ))
        .await
        .unwrap();
    assert_eq!(r.degraded, vec!["vector".to_owned()]);

    services("start");
    let mut drained = 0;
    for _ in 0..20 {
        let s = m.sync(false).await.unwrap();
        drained += s.upserted;
        if m.stats(None).await.unwrap().store.outbox_pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(drained, pending, "sync did not drain the outbox");
    let check = m.check(false).await.unwrap();
    assert!(check.is_consistent(), "{check:?}");
    assert_eq!((check.store_count, check.index_count), (1000, 1000));
    assert!(check.missing_vectors.is_empty() && check.orphan_vectors.is_empty());
}
