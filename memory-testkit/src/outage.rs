//! A vector server killed in the middle of 1,000 adds: every add still
//! answers (success, or a clear error), the outbox keeps what the server
//! missed, `sync` after the restart drains it, and `check` finds store and
//! index agree. It stops and starts the shared server with
//! `scripts/services`, so each backend runs it in a test binary of its own.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use memory_core::{AddRequest, EngineConfig, ErrorKind, Memory, Scope, SearchRequest, VectorState};

use crate::DeterministicEmbedder;
use crate::engine::Backends;

/// Runs `scripts/services ACTION SERVICE`.
pub fn services(action: &str, service: &str) -> Result<(), String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services");
    let out = Command::new("bash")
        .args([script, action, service])
        .output()
        .map_err(|e| format!("run scripts/services: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "scripts/services {action} {service} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// Starts the service again however the test ends, so later tests find it up.
struct Restart(&'static str);

impl Drop for Restart {
    fn drop(&mut self) {
        // A second panic while the test is already failing would abort the
        // binary and hide the first failure.
        if let Err(e) = services("start", self.0) {
            if std::thread::panicking() {
                eprintln!("{e}");
            } else {
                panic!("{e}");
            }
        }
    }
}

/// Kills `service` (a `scripts/services` name) after 300 of 1,000 adds
/// through an engine on `backends`, whose vector index is on that service.
pub async fn vector_down_mid_adds(backends: Backends, service: &'static str) {
    let mut builder = Memory::builder()
        .store(backends.store)
        .vectors(backends.vectors)
        .embedder(Arc::new(DeterministicEmbedder::new(32)))
        // Near-duplicate merging would fold some of the similar texts.
        .config(EngineConfig {
            // Its own collection, whatever else the server holds.
            collection: crate::unique("outage"),
            dedup_threshold: None,
            ..EngineConfig::default()
        });
    if let Some(k) = backends.keywords {
        builder = builder.keywords(k);
    }
    let m = builder.build().await.unwrap();

    let _restart = Restart(service);
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
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // SIGKILL: no graceful shutdown that would go on serving the adds.
    services("kill", service).unwrap();
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
        "only {synced} adds reached {service} before the stop"
    );
    assert!(
        pending > 0,
        "{service} was killed, yet every add was synced"
    );
    assert_eq!(
        stored.store.outbox_pending, pending,
        "the outbox does not hold exactly the vectors {service} missed"
    );
    // While the server is down a search degrades to keyword results.
    let r = m
        .search(SearchRequest::new(Scope::user("u3"), "topic 5"))
        .await
        .unwrap();
    assert_eq!(r.degraded, vec!["vector".to_owned()]);

    services("start", service).unwrap();
    let mut drained = 0;
    for _ in 0..20 {
        let s = m.sync(false).await.unwrap();
        drained += s.upserted;
        if m.stats(None).await.unwrap().store.outbox_pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(drained, pending, "sync did not drain the outbox");
    let check = m.check(false).await.unwrap();
    assert!(check.is_consistent(), "{check:?}");
    assert_eq!((check.store_count, check.index_count), (1000, 1000));
    assert!(check.missing_vectors.is_empty() && check.orphan_vectors.is_empty());
}
