//! Prints search and add latency on the embedded default at several sizes,
//! with the engine's overhead over the raw index query measured in the same
//! run, and end-to-end numbers with the real model when it is prepared.
//!
//! `cargo run --release -p memory-benches --bin sqlite_report`
//! (`MEMORY_BENCH_SIZES=1000,10000`, `MEMORY_BENCH_QUERIES=200`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;

use memory::{AddRequest, Filter, Scope, SearchMode, SearchRequest, VectorQuery};
use memory_benches::{HashEmbedder, engine, percentiles, seed, sentences, time_n};

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let sizes = env_list("MEMORY_BENCH_SIZES", "1000,10000,100000");
    let q = env_list("MEMORY_BENCH_QUERIES", "200")
        .first()
        .copied()
        .unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let model: Option<Arc<dyn memory::Embedder>> =
        match memory::embed_local::OnnxEmbedder::load_default() {
            Ok(e) => Some(Arc::new(e)),
            Err(e) => {
                println!("real model not prepared ({e}); end-to-end rows skipped");
                None
            }
        };
    println!(
        "{:<34} {:>9} {:>9} {:>10}",
        "case", "p50 ms", "p99 ms", "vs raw"
    );
    for &n in &sizes {
        for users in [1usize, 100] {
            let m = engine(dir.path(), &format!("r{n}_{users}"), None).await;
            seed(&m, n, users).await;
            let label = |what: &str| format!("{what} n={n} part={}", n / users);
            let queries = sentences(q, 1234);
            let vectors: Vec<Vec<f32>> = queries.iter().map(|t| HashEmbedder::vector(t)).collect();
            let filter = Filter::parse(&serde_json::json!({"user_id": "u0"}))?;
            let index = m.vectors().clone();
            let name = m.collection().name.clone();
            index
                .query(
                    &name,
                    &VectorQuery {
                        tenant: "default".into(),
                        vector: vectors[0].clone(),
                        k: 10,
                        filter: Some(filter.clone()),
                    },
                )
                .await?;
            let raw = time_n(q, |i| {
                let (index, name, v, f) = (
                    index.clone(),
                    name.clone(),
                    vectors[i].clone(),
                    filter.clone(),
                );
                async move {
                    index
                        .query(
                            &name,
                            &VectorQuery {
                                tenant: "default".into(),
                                vector: v,
                                k: 10,
                                filter: Some(f),
                            },
                        )
                        .await
                        .unwrap();
                }
            })
            .await;
            let (raw50, raw99) = percentiles(raw);
            println!(
                "{:<34} {raw50:>9.3} {raw99:>9.3} {:>10}",
                label("raw index query"),
                "1.00x"
            );
            for mode in [
                SearchMode::Semantic,
                SearchMode::Hybrid,
                SearchMode::Keyword,
            ] {
                let d = time_n(q, |i| {
                    let m = m.clone();
                    let req = SearchRequest::new(Scope::user("u0"), queries[i].clone())
                        .k(10)
                        .mode(mode);
                    async move {
                        m.search(req).await.unwrap();
                    }
                })
                .await;
                let (p50, p99) = percentiles(d);
                let ratio = if mode == SearchMode::Semantic {
                    format!("{:.2}x", p50 / raw50)
                } else {
                    String::new()
                };
                println!(
                    "{:<34} {p50:>9.3} {p99:>9.3} {ratio:>10}",
                    label(&format!("engine {mode:?}").to_lowercase())
                );
            }
            if let (Some(model), 100) = (&model, users) {
                drop(m);
                let real = engine(dir.path(), &format!("r{n}_{users}"), Some(model.clone())).await;
                let fresh = sentences(q, 777);
                let d = time_n(q, |i| {
                    let m = real.clone();
                    let req = SearchRequest::new(Scope::user("u0"), fresh[i].clone()).k(10);
                    async move {
                        m.search(req).await.unwrap();
                    }
                })
                .await;
                let (p50, p99) = percentiles(d);
                println!(
                    "{:<34} {p50:>9.3} {p99:>9.3}",
                    label("end-to-end hybrid, real model")
                );
                let adds = sentences(50, 4242);
                let d = time_n(adds.len(), |i| {
                    let m = real.clone();
                    let req = AddRequest::new(Scope::user("u1"), adds[i].clone());
                    async move {
                        m.add(req).await.unwrap();
                    }
                })
                .await;
                let (p50, p99) = percentiles(d);
                println!(
                    "{:<34} {p50:>9.3} {p99:>9.3}",
                    label("end-to-end add, real model")
                );
            }
        }
    }
    Ok(())
}
