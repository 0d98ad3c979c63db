//! `memory eval` on the committed LoCoMo-layout dataset with the real
//! model: every question scored, the metrics ordered as they must be, and
//! bad input named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::cli::Cli;

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
