//! Bulk ingest on the embedded default against the raw embedding
//! throughput of the same model, measured in one run: the model alone
//! embedding chat-like sentences in batches, then `add_batch` one batch
//! after another and `add_pipeline` (what `memory import` writes with:
//! each batch embedded while the one before is written) adding as many
//! different sentences to fresh SQLite stores, vectors synced, and
//! `migrate --re-embed` copying as many into another, then the model alone
//! again. The last rows add and migrate the same number with a free
//! embedder: what the store's writes cost on their own.
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

use memory::{AddRequest, EmbedKind, Embedder, MigrateOptions, Scope};
use memory_benches::{HashEmbedder, engine, env_num, sentences};

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

/// Memories per second stored in a fresh store named `name`, `batch` at
/// a time over ten users, until every vector is synced: by `add_batch`
/// one batch after another, or `pipelined` (what `import` does: each batch
/// embedded while the one before is written).
async fn ingest_rate(
    dir: &std::path::Path,
    name: &str,
    model: Arc<dyn Embedder>,
    adds: &[String],
    batch: usize,
    pipelined: bool,
) -> anyhow::Result<f64> {
    let m = engine(dir, name, Some(model)).await;
    let start = Instant::now();
    let mut pipeline = m.add_pipeline();
    for (c, chunk) in adds.chunks(batch).enumerate() {
        let reqs = chunk
            .iter()
            .map(|t| AddRequest::new(Scope::user(format!("u{}", c % 10)), t.clone()))
            .collect();
        if pipelined {
            pipeline.push(reqs).await?;
        } else {
            m.add_batch(reqs).await?;
        }
    }
    pipeline.finish().await?;
    m.sync(true).await?;
    Ok(adds.len() as f64 / start.elapsed().as_secs_f64())
}

/// Memories per second `memory migrate --re-embed` copies into a fresh
/// store, each embedded anew with `model` (a page embedded while the next
/// is read and the one before written), verification included: from a
/// store of `adds` seeded with free vectors.
async fn re_embed_rate(
    dir: &std::path::Path,
    name: &str,
    model: Arc<dyn Embedder>,
    adds: &[String],
    batch: usize,
) -> anyhow::Result<f64> {
    let source = format!("{name}-source");
    ingest_rate(dir, &source, Arc::new(HashEmbedder), adds, batch, true).await?;
    let source = engine(dir, &source, Some(Arc::new(HashEmbedder))).await;
    let target = engine(dir, name, Some(model)).await;
    let start = Instant::now();
    let options = MigrateOptions {
        re_embed: true,
        batch,
        ..MigrateOptions::default()
    };
    let report = target
        .migrate_from(source.store().as_ref(), options, |_, _| {})
        .await?;
    anyhow::ensure!(
        report.verified && report.copied == adds.len() as u64,
        "the migration did not copy everything: {report:?}"
    );
    Ok(adds.len() as f64 / start.elapsed().as_secs_f64())
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
    let one_by_one = ingest_rate(
        dir.path(),
        "ingest",
        model.clone(),
        &texts(n, 3),
        batch,
        false,
    )
    .await?;
    let pipelined = ingest_rate(
        dir.path(),
        "pipelined",
        model.clone(),
        &texts(n, 6),
        batch,
        true,
    )
    .await?;
    let re_embed = re_embed_rate(
        dir.path(),
        "re-embedded",
        model.clone(),
        &texts(n, 7),
        batch,
    )
    .await?;
    let after = raw_rate(model.as_ref(), &texts(n, 4), batch).await;
    let writes = ingest_rate(
        dir.path(),
        "writes",
        Arc::new(HashEmbedder),
        &texts(n, 5),
        batch,
        false,
    )
    .await?;
    let re_embed_writes = re_embed_rate(
        dir.path(),
        "re-written",
        Arc::new(HashEmbedder),
        &texts(n, 8),
        batch,
    )
    .await?;
    let raw = f64::midpoint(before, after);
    println!("{:<52} {:>10}", "case", "per second");
    println!("{:<52} {before:>10.1}", "model alone, before");
    println!("{:<52} {after:>10.1}", "model alone, after");
    println!(
        "{:<52} {one_by_one:>10.1}",
        "add_batch into SQLite, one after another"
    );
    println!(
        "{:<52} {pipelined:>10.1}",
        "add_pipeline (import): next batch embedded meanwhile"
    );
    println!(
        "{:<52} {re_embed:>10.1}",
        "migrate --re-embed (read, embed, write side by side)"
    );
    println!(
        "{:<52} {writes:>10.1}",
        "add_batch with a free embedder (writes alone)"
    );
    println!(
        "{:<52} {re_embed_writes:>10.1}",
        "migrate --re-embed with a free embedder (writes alone)"
    );
    println!(
        "ingest / model: add_batch {:.2}x, add_pipeline {:.2}x, migrate --re-embed {:.2}x",
        one_by_one / raw,
        pipelined / raw,
        re_embed / raw
    );
    Ok(())
}
