//! When extraction runs and how it fails, through the chat stand-in: a 500
//! or a timeout fails the job visibly and leaves the messages unextracted;
//! a 429 or a spent budget postpones it; a quiet session and an ended one
//! are extracted below a full batch; a session with extraction turned off
//! is left alone; two workers extract each batch once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::chat::{self, Reply, stand_in};
use memory::{EngineConfig, ErrorKind, ExtractionConfig, Memory, RecordMessage, Scope, Validity};
use serde_json::json;

async fn engine(base: &str, extraction: ExtractionConfig, timeout: Duration) -> Memory {
    let mut llm = chat::client(base);
    llm.timeout = timeout;
    let config = EngineConfig {
        extract_batch: 3,
        extraction,
        ..EngineConfig::default()
    };
    chat::engine(llm, config).await
}

fn quiet() -> ExtractionConfig {
    ExtractionConfig {
        idle_secs: 0,
        ..ExtractionConfig::default()
    }
}

async fn say(m: &Memory, session: &str, texts: &[&str]) -> Vec<memory::MessageOutcome> {
    let mut out = Vec::new();
    for t in texts {
        out.push(
            m.record_message(RecordMessage::user(session, "alice", *t))
                .await
                .unwrap(),
        );
    }
    out
}

fn lisbon() -> serde_json::Value {
    json!({"memories": [{"content": "Alice lives in Lisbon", "kind": "fact", "importance": 7,
        "confidence": 1, "happened_at": null, "source_ids": ["m1"]}], "summary": null})
}

async fn memories(m: &Memory) -> usize {
    m.list(&Scope::user("alice"), None, Validity::All, 100, None)
        .await
        .unwrap()
        .items
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_fail_visibly_and_rate_limits_postpone() {
    let (s, base) = stand_in().await;
    let m = engine(&base, quiet(), Duration::from_millis(300)).await;
    say(&m, "s1", &["I live in Lisbon", "really", "yes"]).await;
    // A 500: the job fails, is retried later, nothing is written.
    s.push(Reply::Status(500, None));
    let w = chat::worker(&m);
    let r = w.tick().await.unwrap();
    assert_eq!(r.retried, 1, "{r:?}");
    let job = m
        .jobs(None, false, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.kind == "extract")
        .unwrap();
    assert!(
        job.last_error.as_deref().is_some_and(|e| e.contains("500")),
        "{job:?}"
    );
    assert_eq!(
        m.store().count_unextracted("default", "s1").await.unwrap(),
        3
    );
    // A timeout fails the call the same way.
    s.push(Reply::Hang(Duration::from_secs(2)));
    let e = m.extract_session("default", "s1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert_eq!(
        m.store().count_unextracted("default", "s1").await.unwrap(),
        3
    );
    // A 429 with Retry-After postpones the job by that long, as no failure.
    let e = {
        s.push(Reply::Status(429, Some(120)));
        m.extract_session("default", "s1").await.unwrap_err()
    };
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(memories(&m).await, 0);
    // Then the model answers: written once, messages marked.
    s.answer(lisbon());
    let report = m.extract_session("default", "s1").await.unwrap();
    assert_eq!((report.added, report.messages), (1, 3), "{report:?}");
    assert_eq!(
        m.store().count_unextracted("default", "s1").await.unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_postpones_extraction() {
    let (s, base) = stand_in().await;
    let budget = ExtractionConfig {
        daily_calls_per_tenant: 1,
        ..quiet()
    };
    let m = engine(&base, budget, Duration::from_secs(5)).await;
    say(&m, "s1", &["I live in Lisbon", "nice", "yes"]).await;
    say(&m, "s2", &["I like jazz", "cool", "yes"]).await;
    s.answer(lisbon());
    let w = chat::worker(&m);
    let r = w.tick().await.unwrap();
    assert_eq!((r.retried, r.dead), (0, 0), "{r:?}");
    assert_eq!(s.calls(), 1, "the budget allowed a second call");
    // The postponed session waits, due later, with no failure recorded.
    let pending = m.jobs(None, false, 10).await.unwrap();
    let later = pending.iter().find(|j| j.kind == "extract").unwrap();
    assert!(
        later.due_at > chrono::Utc::now() + chrono::Duration::hours(1),
        "{later:?}"
    );
    assert!(
        later.last_error.is_none() && later.attempts == 0,
        "{later:?}"
    );
    assert_eq!(memories(&m).await, 1);
    let usage = m.stats(Some("default")).await.unwrap().llm;
    assert_eq!(usage.len(), 1);
    assert_eq!(
        (
            usage[0].calls,
            usage[0].input_tokens,
            usage[0].output_tokens
        ),
        (1, 100, 20)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_and_ended_sessions_are_extracted_below_a_batch() {
    let (s, base) = stand_in().await;
    let idle = ExtractionConfig {
        idle_secs: 1,
        ..ExtractionConfig::default()
    };
    let m = engine(&base, idle, Duration::from_secs(5)).await;
    let w = chat::worker(&m);
    say(&m, "quiet", &["I live in Lisbon"]).await;
    w.tick().await.unwrap();
    assert_eq!(s.calls(), 0, "extracted before the session went quiet");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.answer(lisbon());
    // The idle check queues the extraction, which runs on the next round.
    w.tick().await.unwrap();
    w.tick().await.unwrap();
    assert_eq!(s.calls(), 1);
    assert_eq!(
        m.store()
            .count_unextracted("default", "quiet")
            .await
            .unwrap(),
        0
    );

    say(&m, "ending", &["I like jazz"]).await;
    s.answer(json!({"memories": [{"content": "Alice likes jazz", "kind": "preference", "importance": 5,
        "confidence": 1, "happened_at": null, "source_ids": ["m1"]}], "summary": "Alice said she likes jazz."}));
    let ended = m.end_session("default", "ending").await.unwrap();
    assert!(ended.ended_at.is_some());
    w.tick().await.unwrap();
    assert_eq!(
        m.store()
            .count_unextracted("default", "ending")
            .await
            .unwrap(),
        0
    );
    let summary = m
        .session_summary("default", "ending")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.content, "Alice said she likes jazz.");
    assert_eq!(memories(&m).await, 3, "two facts and a summary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_with_extraction_off_is_left_alone() {
    let (s, base) = stand_in().await;
    let m = engine(&base, quiet(), Duration::from_secs(5)).await;
    m.set_session_extraction("default", "private", false)
        .await
        .unwrap();
    let sent = say(&m, "private", &["my PIN is 1234", "ok", "thanks"]).await;
    assert!(!sent[2].extraction_due);
    assert!(
        m.jobs(None, false, 10)
            .await
            .unwrap()
            .iter()
            .all(|j| j.kind != "extract")
    );
    let e = m.queue_extraction("default", "private").await.unwrap_err();
    assert!(e.message().contains("turned off"), "{e}");
    chat::worker(&m).tick().await.unwrap();
    assert_eq!(s.calls(), 0);
    assert_eq!(
        m.store()
            .count_unextracted("default", "private")
            .await
            .unwrap(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_extract_each_batch_once() {
    let (s, base) = stand_in().await;
    let m = engine(&base, quiet(), Duration::from_secs(5)).await;
    for session in ["a", "b", "c"] {
        // One speaker per session: no candidate has another's memory as a neighbour.
        for text in ["I live in Lisbon", "ok", "yes"] {
            m.record_message(RecordMessage::user(session, session, text))
                .await
                .unwrap();
        }
        s.answer(lisbon());
    }
    let (w1, w2) = (chat::worker(&m), chat::worker(&m));
    let (r1, r2) = tokio::join!(w1.tick(), w2.tick());
    let ran = r1.unwrap().completed + r2.unwrap().completed;
    assert!(ran >= 3, "{ran}");
    assert_eq!(s.calls(), 3, "a batch was extracted twice");
    for session in ["a", "b", "c"] {
        let mine = m
            .list(&Scope::user(session), None, Validity::All, 10, None)
            .await
            .unwrap();
        assert_eq!(mine.items.len(), 1, "{session}: {mine:?}");
        assert_eq!(
            m.store()
                .count_unextracted("default", session)
                .await
                .unwrap(),
            0
        );
    }
}
