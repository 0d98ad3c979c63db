//! Bulk ingest on the embedded default against the raw embedding
//! throughput of the same model, measured in one run: the model alone
//! embedding chat-like sentences in batches, then `add_batch` (what
//! `memory import` calls) adding as many different sentences to a fresh
//! SQLite store, vectors synced, then the model alone again.
//!
//! `cargo run --release -p memory-benches --bin ingest_report`
//! (`MEMORY_BENCH_SENTENCES=2000`, `MEMORY_BENCH_BATCH=256`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss
)]

use std::sync::Arc;
use std::time::Instant;

use memory::{AddRequest, EmbedKind, Embedder, Scope};
use memory_benches::{engine, env_num, sentences};

/// Chat-like sentences without the numeric suffix the store benches add;
/// each seed gives different ones, so no embedding cache helps.
fn texts(n: usize, seed: u64) -> Vec<String> {
    sentences(n, seed)
        .into_iter()
        .enumerate()
        .map(|(i, s)| format!("{} {i}", s.split(" #").next().unwrap_or("")))
        .collect()
}

async fn raw_rate(model: &dyn Embedder, texts: &[String], batch: usize) -> f64 {
    let start = Instant::now();
    for chunk in texts.chunks(batch) {
        model.embed(chunk, EmbedKind::Document).await.unwrap();
    }
    texts.len() as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n = env_num("MEMORY_BENCH_SENTENCES", 2000);
    let batch = env_num("MEMORY_BENCH_BATCH", 256);
    let model: Arc<dyn Embedder> = Arc::new(memory::embed_local::OnnxEmbedder::load_default()?);
    println!(
        "model {}, {n} sentences, batches of {batch}",
        model.model_id()
    );
    model.embed(&texts(32, 1), EmbedKind::Document).await?;
    let before = raw_rate(model.as_ref(), &texts(n, 2), batch).await;

    let dir = tempfile::tempdir()?;
    let m = engine(dir.path(), "ingest", Some(model.clone())).await;
    let adds = texts(n, 3);
    let start = Instant::now();
    for (c, chunk) in adds.chunks(batch).enumerate() {
        let reqs = chunk
            .iter()
            .map(|t| AddRequest::new(Scope::user(format!("u{}", c % 10)), t.clone()))
            .collect();
        m.add_batch(reqs).await?;
    }
    m.sync(true).await?;
    let ingest = n as f64 / start.elapsed().as_secs_f64();

    let after = raw_rate(model.as_ref(), &texts(n, 4), batch).await;
    let raw = f64::midpoint(before, after);
    println!("{:<44} {:>10}", "case", "per second");
    println!("{:<44} {before:>10.1}", "model alone, before");
    println!("{:<44} {after:>10.1}", "model alone, after");
    println!(
        "{:<44} {ingest:>10.1}",
        "add_batch into SQLite, vectors synced"
    );
    println!("ingest / model: {:.2}x", ingest / raw);
    Ok(())
}
