//! Consolidation through the chat stand-in: a contradiction supersedes
//! (kept with history and visible `as_of` before), a refinement updates, a
//! known fact is a no-op, an invented target adds; the rolling summary is
//! written, rewritten and served in context.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::chat::{self, stand_in};
use memory::{
    AddRequest, EngineConfig, Filter, HistoryOp, Memory, RecordMessage, Role, Scope, SearchRequest,
    Validity,
};
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

async fn say(m: &Memory, texts: [&str; 3]) {
    for (i, text) in texts.into_iter().enumerate() {
        let role = if i == 1 { Role::Assistant } else { Role::User };
        let r = RecordMessage {
            role,
            user_id: (role == Role::User).then(|| "alice".to_owned()),
            ..RecordMessage::user("s1", "alice", text)
        };
        m.record_message(r).await.unwrap();
    }
}

async fn facts(m: &Memory, validity: Validity) -> Vec<memory::MemoryRecord> {
    m.list(
        &Scope::user("alice"),
        Some(Filter::parse_str(r#"{"kind": {"$ne": "summary"}}"#).unwrap()),
        validity,
        50,
        None,
    )
    .await
    .unwrap()
    .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_supersedes_the_old_city_and_as_of_still_sees_it() {
    let (s, base) = stand_in().await;
    let m = engine(&base).await;
    say(
        &m,
        [
            "I live in Lisbon",
            "Nice! Since when?",
            "years now, I love jazz there",
        ],
    )
    .await;
    s.answer(json!({"memories": [
        {"content": "Alice lives in Lisbon", "kind": "fact", "importance": 7, "confidence": 1, "happened_at": null, "source_ids": ["m1"]}
    ], "summary": "Alice lives in Lisbon and loves jazz."}));
    let first = m.extract_session("default", "s1").await.unwrap();
    assert_eq!(
        (first.added, first.calls, first.summarized),
        (1, 1, true),
        "{first:?}"
    );
    let lisbon = facts(&m, Validity::Current).await.pop().unwrap();

    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let before_move = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    say(
        &m,
        ["I moved to Berlin!", "Big change!", "yes, new job too"],
    )
    .await;
    s.answer(json!({"memories": [
        {"content": "Alice lives in Berlin", "kind": "fact", "importance": 7, "confidence": 1, "happened_at": null, "source_ids": ["m1"]}
    ], "summary": "Alice lived in Lisbon and has moved to Berlin for a new job."}));
    s.answer(json!({"decisions": [
        {"candidate": "c1", "action": "supersede", "target": "e1", "content": null}
    ]}));
    let second = m.extract_session("default", "s1").await.unwrap();
    assert_eq!(
        (second.superseded, second.added, second.calls),
        (1, 0, 2),
        "{second:?}"
    );
    assert!(
        s.input_of(1)
            .contains("Summary so far: Alice lives in Lisbon and loves jazz."),
        "the summary was not given as context: {}",
        s.input_of(1)
    );
    assert_eq!(s.schema_of(2), "consolidation");
    let asked = s.input_of(2);
    assert!(
        asked.contains("[c1] Alice lives in Berlin")
            && asked.contains("[e1] Alice lives in Lisbon"),
        "{asked}"
    );

    let now = facts(&m, Validity::Current).await;
    assert_eq!(now.len(), 1, "{now:?}");
    let berlin = &now[0];
    assert_eq!(berlin.content, "Alice lives in Berlin");
    assert_eq!(berlin.supersedes, Some(lisbon.id));
    let old = m.find("default", lisbon.id).await.unwrap().unwrap();
    assert_eq!(old.superseded_by, Some(berlin.id));
    assert!(old.valid_until.is_some());
    let then = facts(&m, Validity::AsOf(before_move)).await;
    assert_eq!(
        then.iter().map(|r| r.content.as_str()).collect::<Vec<_>>(),
        ["Alice lives in Lisbon"]
    );
    assert_eq!(facts(&m, Validity::All).await.len(), 2);
    let hits = m
        .search(
            SearchRequest::new(Scope::user("alice"), "where does Alice live")
                .validity(Validity::AsOf(before_move)),
        )
        .await
        .unwrap();
    assert_eq!(hits.hits[0].memory.id, lisbon.id);
    let history = m.history("default", berlin.id).await.unwrap();
    let ops: Vec<HistoryOp> = history.iter().map(|e| e.op).collect();
    assert_eq!(ops, [HistoryOp::Add, HistoryOp::Supersede, HistoryOp::Add]);

    // One summary, rewritten, with its history, and served in context.
    let summary = m.session_summary("default", "s1").await.unwrap().unwrap();
    assert!(summary.content.contains("moved to Berlin"), "{summary:?}");
    let h = m.history("default", summary.id).await.unwrap();
    assert_eq!(
        h.iter().map(|e| e.op).collect::<Vec<_>>(),
        [HistoryOp::Add, HistoryOp::Update]
    );
    let ctx = m
        .context(
            &Scope::user("alice"),
            Some("s1"),
            "where does she live",
            2000,
        )
        .await
        .unwrap();
    assert!(
        ctx.text
            .contains("## Conversation so far\nAlice lived in Lisbon and has moved to Berlin"),
        "{}",
        ctx.text
    );
    assert!(
        !ctx.text.contains("- Alice lives in Lisbon"),
        "{}",
        ctx.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refinements_update_known_facts_are_noops_and_invented_targets_add() {
    let (s, base) = stand_in().await;
    let m = engine(&base).await;
    let alice = Scope::user("alice");
    let tea = m
        .add(AddRequest::new(alice.clone(), "Alice likes green tea"))
        .await
        .unwrap();
    let shellfish = m
        .add(AddRequest::new(
            alice.clone(),
            "Alice is allergic to shellfish",
        ))
        .await
        .unwrap();
    say(
        &m,
        [
            "green tea, with honey please",
            "Noted!",
            "and no shrimp, I'm allergic",
        ],
    )
    .await;
    s.answer(json!({"memories": [
        {"content": "Alice likes green tea with honey", "kind": "preference", "importance": 5, "confidence": 1, "happened_at": null, "source_ids": ["m1"]},
        {"content": "Alice is allergic to shellfish", "kind": "fact", "importance": 9, "confidence": 1, "happened_at": null, "source_ids": ["m3"]},
        {"content": "Alice is allergic to shrimp", "kind": "fact", "importance": 9, "confidence": 1, "happened_at": null, "source_ids": ["m3"]}
    ], "summary": null}));
    // Ids as the prompt numbers them: each existing memory once, in order of appearance.
    s.answer(json!({"decisions": [
        {"candidate": "c1", "action": "update", "target": "e1", "content": "Alice likes green tea with honey"},
        {"candidate": "c2", "action": "noop", "target": "e2", "content": null},
        {"candidate": "c3", "action": "supersede", "target": "e9", "content": null}
    ]}));
    let report = m.extract_session("default", "s1").await.unwrap();
    let asked = s.input_of(1);
    assert!(asked.contains("[e1] Alice likes green tea\n"), "{asked}");
    assert_eq!(
        (
            report.updated,
            report.unchanged,
            report.added,
            report.superseded
        ),
        (1, 1, 1, 0),
        "{report:?}\n{asked}"
    );
    let got = m.find("default", tea.id).await.unwrap().unwrap();
    assert_eq!(
        (got.content.as_str(), got.version),
        ("Alice likes green tea with honey", 2)
    );
    assert_eq!(got.source_message_ids.len(), 1);
    let h = m.history("default", tea.id).await.unwrap();
    assert_eq!(h[1].old_content.as_deref(), Some("Alice likes green tea"));
    assert!(
        m.find("default", shellfish.id)
            .await
            .unwrap()
            .unwrap()
            .is_current()
    );
    let now = facts(&m, Validity::Current).await;
    assert_eq!(now.len(), 3, "{now:?}");
    assert_eq!(
        m.store().count_unextracted("default", "s1").await.unwrap(),
        0
    );
    let check = m.check(false).await.unwrap();
    assert!(check.is_consistent(), "{check:?}");
}

/// A Japanese conversation keeps its language: the transcript reaches the
/// model as written, and the memories and summary it answers are stored and
/// served as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_japanese_conversation_yields_japanese_memories() {
    let (s, base) = stand_in().await;
    let m = engine(&base).await;
    say(
        &m,
        ["東京に住んでいます", "いいですね！", "猫を二匹飼っています"],
    )
    .await;
    s.answer(json!({"memories": [
        {"content": "アリスは東京に住んでいる", "kind": "fact", "importance": 7, "confidence": 1, "happened_at": null, "source_ids": ["m1"]},
        {"content": "アリスは猫を二匹飼っている", "kind": "fact", "importance": 6, "confidence": 1, "happened_at": null, "source_ids": ["m3"]}
    ], "summary": "アリスは東京に住み、猫を二匹飼っていると話した。"}));
    let report = m.extract_session("default", "s1").await.unwrap();
    assert_eq!(report.added, 2, "{report:?}");
    let system = s.requests.lock().unwrap()[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        system.contains("in Japanese"),
        "the prompt does not ask to keep the language"
    );
    assert!(s.input_of(0).contains("[m1]") && s.input_of(0).contains("東京に住んでいます"));
    let mut got: Vec<String> = facts(&m, Validity::Current)
        .await
        .into_iter()
        .map(|r| r.content)
        .collect();
    got.sort();
    assert_eq!(
        got,
        ["アリスは東京に住んでいる", "アリスは猫を二匹飼っている"]
    );
    let ctx = m
        .context(&Scope::user("alice"), Some("s1"), "東京", 2000)
        .await
        .unwrap();
    assert!(ctx.text.contains("アリスは東京に住み"), "{}", ctx.text);
}
