//! The embedder reproduces sentence-transformers' published numbers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use memory_core::{EmbedKind, Embedder, vecmath};
use memory_embed_local::OnnxEmbedder;

/// Every text in these tests is a document.
const D: EmbedKind = EmbedKind::Document;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reproduces_sentence_transformers_quickstart() {
    let e = OnnxEmbedder::load(
        &memory_embed_local::OnnxConfig::discover_model(
            memory_embed_local::MINILM,
            memory_embed_local::Quant::Fp32,
        )
        .expect("model prepared by scripts/prepare-model all-MiniLM-L6-v2"),
    )
    .unwrap();
    let texts: Vec<String> = [
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
    ]
    .map(String::from)
    .to_vec();
    let v = e.embed(&texts, D).await.unwrap();
    assert_eq!(v.len(), 3);
    assert!(
        v.iter()
            .all(|x| x.len() == 384 && (vecmath::norm(x) - 1.0).abs() < 1e-5)
    );
    let sim = |a: usize, b: usize| vecmath::dot(&v[a], &v[b]);
    assert!((sim(0, 1) - 0.6660).abs() < 1e-4, "0/1: {}", sim(0, 1));
    assert!((sim(0, 2) - 0.1046).abs() < 1e-4, "0/2: {}", sim(0, 2));
    assert!((sim(1, 2) - 0.1411).abs() < 1e-4, "1/2: {}", sim(1, 2));
    // Golden value computed with Python onnxruntime on the same graph.
    let sum: f32 = v.iter().flatten().sum();
    assert!((sum - 0.096_179_79).abs() < 1e-3, "golden sum: {sum}");
    // Batching and order: one at a time equals the batch.
    for (i, t) in texts.iter().enumerate() {
        let one = e.embed(std::slice::from_ref(t), D).await.unwrap().remove(0);
        assert!(
            vecmath::dot(&one, &v[i]) > 0.99999,
            "padding changed text {i}"
        );
    }
    assert!(e.embed(&[], D).await.unwrap().is_empty());
    let long = "memory ".repeat(2000);
    assert_eq!(
        e.embed(std::slice::from_ref(&long), D).await.unwrap()[0].len(),
        384,
        "long text not truncated"
    );
    assert_eq!(e.max_tokens(), Some(256));
    assert_eq!(
        e.count_tokens("The weather is lovely today."),
        Some(8),
        "[CLS] + 6 tokens + [SEP]"
    );
    assert!(e.count_tokens(&long).unwrap() > 2000);
    // Token spans, which long texts are cut on, are byte ranges of the
    // text, one per token the model counts besides [CLS] and [SEP].
    let text = "Señora Müller's naïve café—in Zürich! 東京";
    let spans = e.token_spans(text).unwrap();
    assert_eq!(spans.len() + 2, e.count_tokens(text).unwrap());
    assert!(
        spans
            .iter()
            .all(|s| s.start < s.end && text.get(s.clone()).is_some()),
        "{spans:?}"
    );
    assert!(spans.windows(2).all(|w| w[0].end <= w[1].start));
    assert!(text[spans[0].clone()].starts_with("Se"), "{spans:?}");
}

/// Several sessions embedding at once give exactly what one session gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sessions_agree_with_one() {
    let base = memory_embed_local::OnnxConfig::discover_model(
        memory_embed_local::MINILM,
        memory_embed_local::Quant::Fp32,
    )
    .expect("model prepared");
    let one = OnnxEmbedder::load(&memory_embed_local::OnnxConfig {
        sessions: 1,
        ..base.clone()
    })
    .unwrap();
    let many = std::sync::Arc::new(
        OnnxEmbedder::load(&memory_embed_local::OnnxConfig {
            sessions: 3,
            ..base
        })
        .unwrap(),
    );
    let texts: Vec<String> = (0..24)
        .map(|i| format!("sentence number {i} about the weather in town {}", i % 5))
        .collect();
    let want = one.embed(&texts, D).await.unwrap();
    let tasks: Vec<_> = texts
        .iter()
        .cloned()
        .map(|t| {
            let m = many.clone();
            tokio::spawn(async move { m.embed(&[t], D).await.unwrap().remove(0) })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        let got = t.await.unwrap();
        let diff = got
            .iter()
            .zip(&want[i])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-5, "text {i} differs by {diff}");
    }
}
