//! The model is found in a Hugging Face cache laid out as `hf-hub` leaves it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use memory_core::{EmbedKind, Embedder, vecmath};
use memory_embed_local::{MINILM, OnnxConfig, OnnxEmbedder, Quant};

/// Every text in these tests is a document.
const D: EmbedKind = EmbedKind::Document;

#[tokio::test]
async fn loads_from_a_hugging_face_cache() {
    let prepared = OnnxConfig::discover_model(MINILM, Quant::Fp32)
        .expect("model prepared by scripts/prepare-model all-MiniLM-L6-v2");
    let hub = tempfile::tempdir().unwrap();
    let snapshot = hub
        .path()
        .join("models--sentence-transformers--all-MiniLM-L6-v2")
        .join("snapshots")
        .join("abc123");
    std::fs::create_dir_all(snapshot.join("onnx")).unwrap();
    std::os::unix::fs::symlink(
        &prepared.model_file,
        snapshot.join("onnx").join("model.onnx"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&prepared.tokenizer_file, snapshot.join("tokenizer.json")).unwrap();
    let empty_home = tempfile::tempdir().unwrap();
    let env = |k: &str| -> Option<String> {
        match k {
            "MEMORY_HOME" => Some(empty_home.path().display().to_string()),
            "HF_HUB_CACHE" => Some(hub.path().display().to_string()),
            "ORT_DYLIB_PATH" => Some(prepared.ort_library.display().to_string()),
            _ => None,
        }
    };
    let cfg = OnnxConfig::discover_model_with(MINILM, Quant::Fp32, &env).unwrap();
    assert_eq!(cfg.model_file, snapshot.join("onnx").join("model.onnx"));
    let e = OnnxEmbedder::load(&cfg).unwrap();
    let v = e
        .embed(
            &[
                "The weather is lovely today.".into(),
                "It's so sunny outside!".into(),
            ],
            D,
        )
        .await
        .unwrap();
    assert!((vecmath::dot(&v[0], &v[1]) - 0.6660).abs() < 1e-4);

    let nothing = |k: &str| -> Option<String> {
        match k {
            "MEMORY_HOME" | "HF_HUB_CACHE" => Some(empty_home.path().display().to_string()),
            _ => None,
        }
    };
    let err = OnnxConfig::discover_model_with(MINILM, Quant::Fp32, &nothing).unwrap_err();
    assert!(
        err.message().contains("scripts/prepare-model"),
        "the error does not name the command: {err}"
    );
    let _: PathBuf = cfg.tokenizer_file;
}
