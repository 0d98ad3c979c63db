//! Shared set-up for the benches: seeding a store at a given size and
//! partition shape, and an embedder that costs nothing so seeding 100k
//! memories measures the store, not the model.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use memory::{AddRequest, Config, EngineConfig, Memory, Result, Scope, vecmath};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Sentences like chat memories, 5–20 words, from a fixed vocabulary.
pub fn sentences(n: usize, seed: u64) -> Vec<String> {
    const WORDS: &[&str] = &[
        "alice",
        "bob",
        "likes",
        "coffee",
        "tea",
        "cats",
        "dogs",
        "works",
        "as",
        "a",
        "nurse",
        "teacher",
        "in",
        "paris",
        "lyon",
        "plays",
        "chess",
        "tennis",
        "on",
        "sundays",
        "moved",
        "to",
        "berlin",
        "last",
        "year",
        "allergic",
        "peanuts",
        "prefers",
        "green",
        "over",
        "black",
        "reads",
        "science",
        "fiction",
        "every",
        "night",
        "her",
        "his",
        "sister",
        "lives",
        "near",
        "the",
        "river",
        "birthday",
        "is",
        "march",
        "favourite",
        "band",
        "plays",
        "guitar",
        "learning",
        "japanese",
        "for",
        "trip",
        "next",
        "summer",
        "vegetarian",
        "since",
        "2019",
        "runs",
        "marathons",
    ];
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let len = rng.random_range(5..=20);
            let mut s: Vec<&str> = (0..len)
                .map(|_| WORDS[rng.random_range(0..WORDS.len())])
                .collect();
            s[0] = WORDS[i % WORDS.len()];
            format!("{} #{i}", s.join(" "))
        })
        .collect()
}

/// A free 384-d embedder: each word maps to a fixed pseudo-random unit
/// vector and a text to the normalised sum of its words', so texts sharing
/// words lie close together, as real embeddings of related texts do (an
/// approximate index searched over unrelated random points would be judged
/// on a case no real model produces).
#[derive(Debug, Default)]
pub struct HashEmbedder;

impl HashEmbedder {
    /// The vector of one text.
    pub fn vector(text: &str) -> Vec<f32> {
        let mut v = vec![0.0_f32; 384];
        for word in text.split_whitespace() {
            let seed = word.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
            let mut rng = StdRng::seed_from_u64(seed);
            for x in &mut v {
                *x += rng.random_range(-1.0_f32..1.0);
            }
        }
        vecmath::normalize(&mut v);
        v
    }
}

#[async_trait]
impl memory::Embedder for HashEmbedder {
    fn model_id(&self) -> &str {
        "bench:hash-384"
    }
    fn dimension(&self) -> usize {
        384
    }
    fn max_batch(&self) -> usize {
        1000
    }
    async fn embed(&self, texts: &[String], _kind: memory::EmbedKind) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| Self::vector(t)).collect())
    }
}

/// The hash embedder with the vectors of known texts worked out ahead:
/// a timed search then pays a lookup for its query's vector, as the raw
/// references it is compared with, which are handed theirs, do. Other
/// texts are hashed as usual.
#[derive(Debug, Default)]
pub struct Precomputed(std::collections::HashMap<String, Vec<f32>>);

impl Precomputed {
    /// Knows the vectors of `texts`.
    pub fn of(texts: &[String]) -> Self {
        Self(
            texts
                .iter()
                .map(|t| (t.clone(), HashEmbedder::vector(t)))
                .collect(),
        )
    }
}

#[async_trait]
impl memory::Embedder for Precomputed {
    fn model_id(&self) -> &str {
        HashEmbedder.model_id()
    }
    fn dimension(&self) -> usize {
        384
    }
    fn max_batch(&self) -> usize {
        1000
    }
    async fn embed(&self, texts: &[String], _kind: memory::EmbedKind) -> Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                self.0
                    .get(t)
                    .cloned()
                    .unwrap_or_else(|| HashEmbedder::vector(t))
            })
            .collect())
    }
}

/// A real model under the hash embedder's name, so a store seeded cheaply
/// with hash vectors opens with it: its searches pay for the real query
/// embedding (what is timed) though their hits mean nothing.
#[derive(Debug)]
pub struct AsSeeded(pub Arc<dyn memory::Embedder>);

#[async_trait]
impl memory::Embedder for AsSeeded {
    fn model_id(&self) -> &str {
        HashEmbedder.model_id()
    }
    fn dimension(&self) -> usize {
        self.0.dimension()
    }
    fn max_batch(&self) -> usize {
        self.0.max_batch()
    }
    fn max_tokens(&self) -> Option<usize> {
        self.0.max_tokens()
    }
    fn count_tokens(&self, text: &str) -> Option<usize> {
        self.0.count_tokens(text)
    }
    fn token_spans(&self, text: &str) -> Option<Vec<std::ops::Range<usize>>> {
        self.0.token_spans(text)
    }
    async fn embed(&self, texts: &[String], kind: memory::EmbedKind) -> Result<Vec<Vec<f32>>> {
        self.0.embed(texts, kind).await
    }
}

/// The hash embedder under a real model's name and dimension, so a store
/// seeded cheaply opens in a process (such as `memory serve`) that loads
/// that model.
#[derive(Debug)]
pub struct HashAs {
    /// The model id the seeded store records.
    pub model_id: String,
    /// And its prompt scheme.
    pub prompt_scheme: String,
}

#[async_trait]
impl memory::Embedder for HashAs {
    fn model_id(&self) -> &str {
        &self.model_id
    }
    fn prompt_scheme(&self) -> &str {
        &self.prompt_scheme
    }
    fn dimension(&self) -> usize {
        384
    }
    fn max_batch(&self) -> usize {
        1000
    }
    async fn embed(&self, texts: &[String], _kind: memory::EmbedKind) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| HashEmbedder::vector(t)).collect())
    }
}

/// The benches' SQLite configuration: a file `name` in `dir`, no near-duplicate
/// merging, access times not recorded.
pub fn engine_config(dir: &std::path::Path, name: &str) -> Config {
    Config {
        store: format!("sqlite://{}/{name}.db", dir.display()).into(),
        engine: EngineConfig {
            dedup_threshold: None,
            track_access: false,
            ..EngineConfig::default()
        },
        ..Config::default()
    }
}

/// A SQLite engine in a fresh temporary file with `embedder`.
pub async fn engine(
    dir: &std::path::Path,
    name: &str,
    embedder: Option<Arc<dyn memory::Embedder>>,
) -> Memory {
    let config = engine_config(dir, name);
    memory::open_with(
        &config,
        Some(embedder.unwrap_or_else(|| Arc::new(HashEmbedder))),
    )
    .await
    .expect("open engine")
}

/// Adds `n` memories spread over `users` users (user ids `u0`…).
pub async fn seed(m: &Memory, n: usize, users: usize) {
    let texts = sentences(n, 7);
    for (chunk_no, chunk) in texts.chunks(1000).enumerate() {
        let reqs = chunk
            .iter()
            .enumerate()
            .map(|(i, t)| {
                AddRequest::new(
                    Scope::user(format!("u{}", (chunk_no * 1000 + i) % users)),
                    t.clone(),
                )
            })
            .collect();
        m.add_batch(reqs).await.expect("seed");
    }
}

/// Latency percentiles of a sample, in milliseconds.
pub fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0;
    (at(0.5), at(0.99))
}

/// Times `n` runs of `f`.
pub async fn time_n<F, Fut>(n: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i).await;
        out.push(t.elapsed());
    }
    out
}

/// A comma-separated list of counts from the environment, or `default`'s.
pub fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// A count from the environment, or `default`.
pub fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `cases` cases for each of `queries` queries, interleaved query by
/// query in rotating order, so a server's background work and the machine's
/// noise fall on all cases alike. `run(case, query)` does one; the times
/// come back per case.
pub async fn interleave<F>(
    queries: usize,
    cases: usize,
    mut run: F,
) -> anyhow::Result<Vec<Vec<Duration>>>
where
    F: AsyncFnMut(usize, usize) -> anyhow::Result<()>,
{
    let mut times = vec![Vec::with_capacity(queries); cases];
    for i in 0..queries {
        for j in 0..cases {
            let case = (i + j) % cases;
            let start = Instant::now();
            run(case, i).await?;
            times[case].push(start.elapsed());
        }
    }
    Ok(times)
}

/// Prints p50, p99 and the p50 ratio to the first case, the reference.
#[allow(clippy::print_stdout)]
pub fn print_ratios(labels: &[&str], times: Vec<Vec<Duration>>) {
    println!(
        "{:<40} {:>9} {:>9} {:>8}",
        "case", "p50 ms", "p99 ms", "vs raw"
    );
    let mut reference = None;
    for (label, t) in labels.iter().zip(times) {
        let (p50, p99) = percentiles(t);
        let r50 = *reference.get_or_insert(p50);
        println!("{label:<40} {p50:>9.3} {p99:>9.3} {:>7.2}x", p50 / r50);
    }
}

/// The two layered cases a vector bench sets beside its raw query, for the
/// user `u7`, k = 10: case 1 is the index's own query with the vector,
/// any other case the engine's semantic search for the text.
pub async fn layered_case(m: &Memory, case: usize, vector: &[f32], text: &str) -> Result<()> {
    if case == 1 {
        let query = memory::VectorQuery {
            tenant: "default".into(),
            vector: vector.to_vec(),
            k: 10,
            filter: Some(memory::Filter::parse(
                &serde_json::json!({"user_id": "u7"}),
            )?),
        };
        m.vectors().query(&m.collection().name, &query).await?;
    } else {
        let req = memory::SearchRequest::new(Scope::user("u7"), text)
            .k(10)
            .mode(memory::SearchMode::Semantic);
        m.search(req).await?;
    }
    Ok(())
}
