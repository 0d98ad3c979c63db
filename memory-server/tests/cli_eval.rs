//! `memory eval` on the committed LoCoMo-layout dataset with the real
//! model: every question scored, the metrics ordered as they must be, and
//! bad input named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cli::Cli;
use serde_json::json;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/eval/small.json");

#[test]
fn eval_scores_every_question_of_the_dataset() {
    let c = Cli::new();
    for mode in ["hybrid", "semantic", "keyword"] {
        let r = c.json(&["eval", DATA, "--mode", mode, "--k", "1,3,10"]);
        assert_eq!(
            (
                &r["samples"],
                &r["memories"],
                &r["questions"],
                &r["questions_skipped"]
            ),
            (&2.into(), &31.into(), &18.into(), &0.into()),
            "{mode}: {r}"
        );
        let all = &r["overall"];
        let at = |k: &str| all[format!("recall@{k}")].as_f64().unwrap();
        assert!(
            at("1") <= at("3") && at("3") <= at("10") && at("10") <= 1.0,
            "{mode}: recall must grow with k: {all}"
        );
        let mrr = all["mrr"].as_f64().unwrap();
        assert!(mrr > 0.0 && mrr <= 1.0, "{mode}: {all}");
        assert!(
            r["categories"].as_object().unwrap().len() == 4,
            "{mode}: four categories: {r}"
        );
        assert!(r["search_ms_p50"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["ingest_per_second"].as_f64().unwrap() > 0.0, "{r}");
        // Each conversation holds 15 or 16 turns: ten hits cover most of one.
        assert!(at("10") >= 0.5, "{mode}: {all}");
    }
    c.fails(&["eval", DATA, "--k", "0"], "--k");
    let bad = c.dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"not": "a list"}"#).unwrap();
    c.fails(&["eval", bad.to_str().unwrap()], "LoCoMo");
}

/// `--ingest messages`: turns become dated messages, the language model
/// (the chat stand-in) extracts memories, and a memory covers the turns it
/// names as sources; evidence that was not extracted still counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_measures_extracted_memories_by_their_sources() {
    let (s, base) = common::chat::stand_in().await;
    let c = Cli::new();
    let data = c.dir.path().join("one.json");
    std::fs::write(
        &data,
        serde_json::to_string(&json!([{
            "sample_id": "x",
            "conversation": {
                "speaker_a": "Maya", "speaker_b": "Tom",
                "session_1_date_time": "1:56 pm on 8 May, 2023",
                "session_1": [
                    {"speaker": "Maya", "dia_id": "D1:1", "text": "Hi Tom!"},
                    {"speaker": "Maya", "dia_id": "D1:2", "text": "I adopted a border collie named Pepper."},
                    {"speaker": "Tom", "dia_id": "D1:3", "text": "I am off to Lisbon tomorrow."}
                ]
            },
            "qa": [
                {"question": "What dog did Maya adopt?", "answer": "A border collie", "evidence": ["D1:2"], "category": 1},
                {"question": "Where is Tom going?", "answer": "Lisbon", "evidence": ["D1:3"], "category": 1}
            ]
        }]))
        .unwrap(),
    )
    .unwrap();
    s.answer(
        json!({"memories": [{"content": "Maya adopted a border collie named Pepper",
        "kind": "fact", "importance": 6, "confidence": 1, "happened_at": null,
        "source_ids": ["m2"]}], "summary": null}),
    );
    let out = common::memory_cmd(c.dir.path())
        .env("OPENAI_BASE_URL", &base)
        .env("MEMORY_LANGUAGE_MODEL", "openai:llama3?max_retries=0")
        .args([
            "--json",
            "eval",
            data.to_str().unwrap(),
            "--ingest",
            "messages",
            "--k",
            "1,5",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&r["memories"], &r["questions"]),
        (&1.into(), &2.into()),
        "{r}"
    );
    let all = &r["overall"];
    assert_eq!(all["recall@1"].as_f64(), Some(0.5), "one of two found: {r}");
    let prompt = s.input_of(0);
    assert!(
        prompt.contains("2023-05-08")
            && prompt.contains("border collie")
            && prompt.contains("Maya"),
        "the messages reach the model dated and named: {prompt}"
    );
    c.fails(
        &["eval", data.to_str().unwrap(), "--ingest", "messages"],
        "language model",
    );
}
