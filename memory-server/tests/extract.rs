//! Extraction through a local server speaking the OpenAI chat-completions
//! wire format (the one stand-in allowed: OpenAI is a paid remote API),
//! scripted per test: memories appear with their source messages by
//! themselves, invented sources are dropped, answers that break the schema
//! write nothing, and a model that is down never blocks recording.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::chat::{self, Reply, stand_in};
use memory::embed_openai::OpenAiConfig;
use memory::{EngineConfig, Memory, RecordMessage, Role, Scope, Validity};
use serde_json::json;

async fn engine(base: &str) -> Memory {
    chat::engine(
        chat::client(base),
        EngineConfig {
            extract_batch: 3,
            ..EngineConfig::default()
        },
    )
    .await
}

/// Three messages of session `s1`: alice, the assistant, alice.
async fn conversation(m: &Memory) -> Vec<memory::MessageOutcome> {
    let mut out = Vec::new();
    for (role, text) in [
        (Role::User, "I live in Lisbon, near the river"),
        (Role::Assistant, "Lisbon is lovely! What do you do there?"),
        (Role::User, "mostly I listen to jazz in small bars"),
    ] {
        let r = RecordMessage {
            role,
            user_id: (role == Role::User).then(|| "alice".to_owned()),
            ..RecordMessage::user("s1", "alice", text)
        };
        out.push(m.record_message(r).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memories_appear_with_their_sources_without_a_manual_call() {
    let (s, base) = stand_in().await;
    let m = engine(&base).await;
    s.answer(json!({"memories": [
        {"content": "Alice lives in Lisbon", "kind": "fact", "importance": 7, "source_ids": ["m1"]},
        {"content": "Alice has a dog", "kind": "fact", "importance": 5, "source_ids": ["m99"]},
        {"content": "Alice likes jazz", "kind": "preference", "importance": 6, "source_ids": ["m3", "m42"]}
    ]}));
    let sent = conversation(&m).await;
    assert!(sent[2].extraction_due && !sent[1].extraction_due);
    assert_eq!(s.calls(), 0, "recording called the model");
    chat::worker(&m).tick().await.unwrap();

    let page = m
        .list(&Scope::user("alice"), None, Validity::Current, 10, None)
        .await
        .unwrap();
    let mut got: Vec<(String, Vec<uuid::Uuid>)> = page
        .items
        .iter()
        .map(|r| (r.content.clone(), r.source_message_ids.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("Alice likes jazz".to_owned(), vec![sent[2].message.id]),
            ("Alice lives in Lisbon".to_owned(), vec![sent[0].message.id]),
        ],
        "invented sources must be dropped and sourceless candidates rejected"
    );
    assert_eq!(
        m.store().count_unextracted("default", "s1").await.unwrap(),
        0
    );
    assert_eq!(s.schema_of(0), "extraction");
    let prompt = s.input_of(0);
    assert!(
        prompt.contains("[m1]") && prompt.contains("Lisbon"),
        "{prompt}"
    );

    // Run again: nothing is left to extract and nothing is written twice.
    let again = m.extract_session("default", "s1").await.unwrap();
    assert_eq!((again.messages, again.added), (0, 0));
    assert_eq!(
        m.list(&Scope::user("alice"), None, Validity::Current, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_break_the_schema_write_nothing() {
    let (s, base) = stand_in().await;
    let m = engine(&base).await;
    conversation(&m).await;
    s.push(Reply::Answer(
        r#"{"memories": [{"text": "no content field"}]}"#.into(),
    ));
    s.push(Reply::Answer(r#"{"facts": []}"#.into()));
    let err = m.extract_session("default", "s1").await.unwrap_err();
    assert!(err.message().contains("schema"), "{err}");
    assert_eq!(s.calls(), 2, "an invalid answer is asked for once more");
    assert_eq!(
        m.store().count_unextracted("default", "s1").await.unwrap(),
        3
    );
    assert!(
        m.list(&Scope::user("alice"), None, Validity::Current, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Then an answer that is not JSON, and a valid one.
    s.push(Reply::Answer("not json at all".into()));
    s.answer(json!({"memories": [{"content": "Alice lives in Lisbon", "kind": "fact", "importance": 7, "source_ids": ["m1"]}]}));
    // An answer that is not JSON fails the call at once (the worker retries
    // the job); the next call gets the valid answer and writes it.
    let err = m.extract_session("default", "s1").await.unwrap_err();
    assert!(err.message().contains("not a JSON object"), "{err}");
    assert_eq!(
        m.store().count_unextracted("default", "s1").await.unwrap(),
        3
    );
    let report = m.extract_session("default", "s1").await.unwrap();
    assert_eq!((report.added, report.messages), (1, 3), "{report:?}");
    assert_eq!((report.input_tokens, report.output_tokens), (100, 20));
    assert_eq!(
        m.store().count_unextracted("default", "s1").await.unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_is_down_never_blocks_recording() {
    let m = engine("http://127.0.0.1:9/v1").await;
    let sent = conversation(&m).await;
    assert!(sent[2].extraction_due);
    let report = chat::worker(&m).tick().await.unwrap();
    assert!(
        report.retried >= 1,
        "the extraction job did not fail visibly: {report:?}"
    );
    assert_eq!(
        m.store().count_unextracted("default", "s1").await.unwrap(),
        3
    );
    let jobs = m.jobs(None, false, 50).await.unwrap();
    let extract = jobs.iter().find(|j| j.kind == "extract").unwrap();
    assert!(
        extract
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("openai")),
        "{extract:?}"
    );
}

/// In a shared session (a live chat), a memory belongs to whoever said
/// what it comes from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_memory_goes_to_the_speaker_of_its_source() {
    let (s, base) = stand_in().await;
    let m = engine(&base).await;
    for (user, text) in [
        ("alice", "I live in Lisbon"),
        ("bob", "I have two cats"),
        ("alice", "jazz is my thing"),
    ] {
        m.record_message(RecordMessage::user("stream", user, text))
            .await
            .unwrap();
    }
    s.answer(json!({"memories": [
        {"content": "Alice lives in Lisbon", "kind": "fact", "importance": 6, "source_ids": ["m1"]},
        {"content": "Bob has two cats", "kind": "fact", "importance": 6, "source_ids": ["m2"]}
    ]}));
    let report = m.extract_session("default", "stream").await.unwrap();
    assert_eq!(report.added, 2, "{report:?}");
    for (user, content) in [
        ("alice", "Alice lives in Lisbon"),
        ("bob", "Bob has two cats"),
    ] {
        let items = m
            .list(&Scope::user(user), None, Validity::Current, 10, None)
            .await
            .unwrap()
            .items;
        assert_eq!(
            items.iter().map(|r| r.content.as_str()).collect::<Vec<_>>(),
            [content],
            "{user}'s memories"
        );
    }
}

/// Extraction and consolidation against the real API, only when a key is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_openai_extraction_when_a_key_is_set() {
    let Ok(key) = std::env::var("OPENAI_API_KEY") else {
        println!("OPENAI_API_KEY not set: live extraction test skipped");
        return;
    };
    let base = std::env::var("OPENAI_BASE_URL").ok();
    let llm = OpenAiConfig::new("gpt-4o-mini", Some(key), base).unwrap();
    let config = EngineConfig {
        extract_batch: 3,
        ..EngineConfig::default()
    };
    let m = chat::engine(llm, config).await;
    for text in ["I live in Lisbon.", "I work as a nurse.", "I love jazz."] {
        m.record_message(RecordMessage::user("live", "alice", text))
            .await
            .unwrap();
    }
    let first = m.extract_session("default", "live").await.unwrap();
    assert!(first.added >= 2, "{first:?}");
    for text in [
        "Big news: I moved to Berlin last week.",
        "Still a nurse.",
        "bye",
    ] {
        m.record_message(RecordMessage::user("live", "alice", text))
            .await
            .unwrap();
    }
    let second = m.extract_session("default", "live").await.unwrap();
    println!("{first:?}\n{second:?}");
    let current: Vec<String> = m
        .list(&Scope::user("alice"), None, Validity::Current, 50, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|r| r.kind != memory::MemoryKind::Summary)
        .map(|r| r.content)
        .collect();
    assert!(current.iter().any(|c| c.contains("Berlin")), "{current:?}");
    assert!(
        !current
            .iter()
            .any(|c| c.contains("Lisbon") && !c.contains("Berlin")),
        "{current:?}"
    );
}
