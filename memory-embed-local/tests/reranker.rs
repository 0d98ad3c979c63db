//! The cross-encoder path, on a tiny cross-encoder this test builds
//! (`scripts/build_tiny_cross_encoder.py`, laid out as a Hugging Face
//! repository): scores match ONNX Runtime's own run of the same graph on
//! the same pairs, long texts are cut to the window, and the `local:`
//! opener finds a directory or a Hugging Face cache entry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use memory_core::{BackendUrl, Reranker};
use memory_embed_local::{BACKEND, OnnxReranker, RerankerConfig, cache_dir};

fn python() -> PathBuf {
    cache_dir().join("venv").join("bin").join("python")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build_tiny_cross_encoder.py")
}

fn build(dir: &Path) {
    let status = Command::new(python())
        .arg(script())
        .arg("build")
        .arg(dir)
        .status()
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/prepare-model)", python().display()));
    assert!(status.success(), "building the tiny cross-encoder failed");
}

/// ONNX Runtime's logits for `pairs`, from Python.
fn reference(dir: &Path, pairs: &[(String, String)]) -> Vec<f32> {
    let mut child = Command::new(python())
        .arg(script())
        .arg("score")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), pairs).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "scoring in Python failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

const QUERY: &str = "where does Alice garden?";

fn texts() -> Vec<String> {
    let long = "Alice waters the garden every morning and ".repeat(120);
    vec![
        "Alice grows tomatoes in her garden".into(),
        "Bob plays chess on Sunday".into(),
        "Carol loves coffee, not tea!".into(),
        "Alice planted sunflowers along the fence".into(),
        long,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scores_match_onnx_runtime_on_the_same_pairs() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let cfg = RerankerConfig::find(dir.path().to_str().unwrap(), None).unwrap();
    assert!(cfg.model_file.ends_with("onnx/model.onnx"));
    let r = OnnxReranker::load(&cfg, "test:tiny").unwrap();
    assert_eq!(r.model_id(), "test:tiny");
    let texts = texts();
    let ours = r.score(QUERY, &texts).await.unwrap();
    let pairs: Vec<(String, String)> = texts.iter().map(|t| (QUERY.into(), t.clone())).collect();
    let theirs = reference(dir.path(), &pairs);
    assert_eq!(ours.len(), texts.len());
    for ((text, a), b) in texts.iter().zip(&ours).zip(&theirs) {
        assert!(
            (a - b).abs() < 1e-4,
            "{:?}: {a} here, {b} in ONNX Runtime",
            &text[..text.len().min(40)]
        );
    }
    // Different texts score differently, and the query is read too.
    assert!(ours.windows(2).any(|w| (w[0] - w[1]).abs() > 1e-3));
    let other = r.score("who plays chess?", &texts[..1]).await.unwrap();
    assert!(
        (other[0] - ours[0]).abs() > 1e-4,
        "the query changed nothing"
    );
    // One pair at a time scores as in a padded batch.
    let alone = r.score(QUERY, &texts[1..2]).await.unwrap();
    assert!((alone[0] - ours[1]).abs() < 1e-4);
    assert!(r.score(QUERY, &[]).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_scheme_opens_a_directory_or_a_hugging_face_cache_entry() {
    let open = BACKEND.reranker.unwrap();
    let hub = tempfile::tempdir().unwrap();
    let snapshot = hub
        .path()
        .join("models--cross-encoder--tiny")
        .join("snapshots")
        .join("0123abcd");
    std::fs::create_dir_all(&snapshot).unwrap();
    build(&snapshot);
    let url = format!("local:{}", snapshot.display());
    let r = open(BackendUrl::parse(&url).unwrap()).await.unwrap();
    assert_eq!(r.model_id(), url);
    assert_eq!(r.score(QUERY, &texts()).await.unwrap().len(), 5);

    let get = |k: &str| match k {
        "HF_HUB_CACHE" => Some(hub.path().display().to_string()),
        _ => std::env::var(k).ok(),
    };
    let cfg = RerankerConfig::find_with("cross-encoder/tiny", None, &get).unwrap();
    assert!(cfg.model_file.starts_with(&snapshot));

    let missing = RerankerConfig::find_with("cross-encoder/absent", None, &get)
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("cross-encoder/absent") && missing.contains("tokenizer.json"),
        "{missing}"
    );
    let bad = open(BackendUrl::parse(&format!("{url}?bogus=1")).unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.contains("bogus"), "{bad}");
}
