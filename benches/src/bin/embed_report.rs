//! Local embedding throughput and latency, Rust against Python onnxruntime on
//! the same ONNX file, sentences, threads and batch sizes, in the same run;
//! then every local model in fp32 and int8, one thread, int8 against fp32.
//!
//! `cargo run --release -p memory-benches --bin embed_report`
//! (`MEMORY_BENCH_SENTENCES=1000`, `MEMORY_BENCH_THREADS=1,2`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::time::Instant;

use memory::embed_local::{MINILM, MODELS, OnnxConfig, OnnxEmbedder, Quant, cache_dir};
use memory::{EmbedKind, Embedder};
use memory_benches::{percentiles, sentences};

/// The report embeds documents.
const D: EmbedKind = EmbedKind::Document;
const BATCHES: [usize; 3] = [1, 32, 256];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("MEMORY_BENCH_SENTENCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let threads: Vec<usize> = std::env::var("MEMORY_BENCH_THREADS")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let singles = 200.min(n);
    // Chat-like: 5–20 words, without the numeric suffix the store benches add.
    let texts: Vec<String> = sentences(n, 11)
        .into_iter()
        .map(|s| s.split(" #").next().unwrap_or("").to_owned())
        .collect();
    let base = OnnxConfig::discover_model(MINILM, Quant::Fp32)?;
    let mut rust = std::collections::BTreeMap::new();
    for &t in &threads {
        for b in BATCHES {
            let e = OnnxEmbedder::load(&OnnxConfig {
                threads: t,
                sessions: 1,
                alone_threads: 0,
                batch: b,
                ..base.clone()
            })?;
            e.embed(&texts[..32.min(n)], D).await?;
            let start = Instant::now();
            for chunk in texts.chunks(b) {
                e.embed(chunk, D).await?;
            }
            rust.insert(
                format!("t{t}_b{b}"),
                n as f64 / start.elapsed().as_secs_f64(),
            );
            if b == 1 {
                let mut lat = Vec::with_capacity(singles);
                for text in &texts[..singles] {
                    let s = Instant::now();
                    e.embed(std::slice::from_ref(text), D).await?;
                    lat.push(s.elapsed());
                }
                let (p50, p99) = percentiles(lat);
                rust.insert(format!("t{t}_p50"), p50);
                rust.insert(format!("t{t}_p99"), p99);
            }
        }
    }
    let file = std::env::temp_dir().join(format!("memory-embed-bench-{}.txt", std::process::id()));
    std::fs::write(&file, texts.join("\n"))?;
    let python = cache_dir().join("venv").join("bin").join("python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/bench_embed.py");
    let list = |v: &[usize]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let out = std::process::Command::new(&python)
        .args([
            script,
            &base.model_file.display().to_string(),
            &base.tokenizer_file.display().to_string(),
            &file.display().to_string(),
            &list(&threads),
            &list(&BATCHES),
            &singles.to_string(),
        ])
        .output();
    let _ = std::fs::remove_file(&file);
    let py: std::collections::BTreeMap<String, f64> = match out {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout)?,
        Ok(o) => anyhow::bail!(
            "python reference failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => anyhow::bail!(
            "cannot run {} (run scripts/prepare-model): {e}",
            python.display()
        ),
    };
    println!("{n} chat-like sentences of 5–20 words; all-MiniLM-L6-v2 fp32; same ONNX file");
    println!(
        "{:<28} {:>12} {:>12} {:>12}",
        "case", "rust", "python ort", "rust/python"
    );
    for &t in &threads {
        for b in BATCHES {
            let k = format!("t{t}_b{b}");
            println!(
                "{:<28} {:>12.1} {:>12.1} {:>11.2}x",
                format!("{t} thread(s), batch {b}, sent/s"),
                rust[&k],
                py[&k],
                rust[&k] / py[&k]
            );
        }
        for q in ["p50", "p99"] {
            let k = format!("t{t}_{q}");
            // For latency, lower is better: the ratio is python/rust.
            println!(
                "{:<28} {:>12.2} {:>12.2} {:>11.2}x",
                format!("{t} thread(s), single {q} ms"),
                rust[&k],
                py[&k],
                py[&k] / rust[&k]
            );
        }
    }
    println!("fp32 ceiling here: ~190 sentences/s per core (RECIPES.md)");
    precisions(&texts, singles).await
}

/// Each model in each precision on one thread: batch-32 throughput and
/// single-text p50, with int8's speed-up over fp32 measured in this run.
async fn precisions(texts: &[String], singles: usize) -> anyhow::Result<()> {
    println!();
    println!(
        "{:<44} {:>10} {:>12} {:>12} {:>12}",
        "model (1 thread)", "sent/s b32", "single p50", "int8/fp32", "lone p50"
    );
    for model in MODELS {
        let mut fp32 = None;
        for quant in [Quant::Fp32, Quant::Int8] {
            let cfg = match OnnxConfig::discover_model(*model, quant) {
                Ok(c) => c,
                Err(e) => {
                    println!("{:<44} not prepared: {e}", model.name);
                    continue;
                }
            };
            let e = OnnxEmbedder::load(&OnnxConfig {
                threads: 1,
                sessions: 1,
                alone_threads: 0,
                batch: 32,
                ..cfg.clone()
            })?;
            e.embed(&texts[..32.min(texts.len())], D).await?;
            let start = Instant::now();
            for chunk in texts.chunks(32) {
                e.embed(chunk, D).await?;
            }
            let rate = texts.len() as f64 / start.elapsed().as_secs_f64();
            let p50 = single_p50(&e, &texts[..singles]).await?;
            // A session per core, and one whose threads span the cores
            // for a call that comes alone (`MEMORY_EMBED_ALONE_THREADS`).
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let pooled = OnnxEmbedder::load(&OnnxConfig {
                alone_threads: cores,
                ..cfg.clone()
            })?;
            let lone = single_p50(&pooled, &texts[..singles]).await?;
            drop(pooled);
            let ratio = match (quant, fp32) {
                (Quant::Int8, Some((r, p))) => format!("{:.2}x / {:.2}x", rate / r, p / p50),
                _ => String::new(),
            };
            fp32 = fp32.or(Some((rate, p50)));
            println!(
                "{:<44} {rate:>10.1} {p50:>9.2} ms {ratio:>12} {lone:>9.2} ms ({} threads)",
                e.model_id(),
                cores
            );
        }
    }
    println!("int8/fp32: batch throughput ratio / single-text latency ratio");
    println!(
        "lone p50: single texts with a session whose threads span the cores for calls that come alone"
    );
    Ok(())
}

/// The median time to embed each of `texts` as a query on its own.
async fn single_p50(e: &OnnxEmbedder, texts: &[String]) -> anyhow::Result<f64> {
    e.embed(&texts[..1], EmbedKind::Query).await?;
    let mut lat = Vec::with_capacity(texts.len());
    for text in texts {
        let s = Instant::now();
        e.embed(std::slice::from_ref(text), EmbedKind::Query)
            .await?;
        lat.push(s.elapsed());
    }
    Ok(percentiles(lat).0)
}
