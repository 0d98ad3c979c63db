//! Chroma at 10k vectors: the raw REST query, the same query through
//! `ChromaIndex`, and a semantic search through the engine (SQLite store,
//! free hash embedder), timed in one run; prints each one's ratio to raw.
//!
//! `eval "$(scripts/services start chroma)"; cargo run --release -p memory-benches --bin chroma_report`
//! (`MEMORY_BENCH_SIZE=10000`, `MEMORY_BENCH_QUERIES=300`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;

use memory::{Config, EngineConfig, chroma::naming::collection_name};
use memory_benches::{
    HashEmbedder, env_num, interleave, layered_case, print_ratios, seed, sentences,
};
use serde_json::{Value, json};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n = env_num("MEMORY_BENCH_SIZE", 10_000);
    let q = env_num("MEMORY_BENCH_QUERIES", 300);
    let base =
        std::env::var("MEMORY_TEST_CHROMA_URL").unwrap_or_else(|_| "http://127.0.0.1:58000".into());
    let database = format!("bench{}", std::process::id());
    let dir = tempfile::tempdir()?;
    let config = Config {
        store: format!("sqlite://{}/chroma.db", dir.path().display()).into(),
        vectors: Some(memory::Urls::One(format!(
            "{}/?database={database}",
            base.replacen("http://", "chroma://", 1)
        ))),
        engine: EngineConfig {
            dedup_threshold: None,
            track_access: false,
            ..EngineConfig::default()
        },
        ..Config::default()
    };
    let m = memory::open_with(&config, Some(Arc::new(HashEmbedder))).await?;
    seed(&m, n, 100).await;
    let http = reqwest::Client::new();
    let collection: Value = http
        .get(format!(
            "{base}/api/v2/tenants/default_tenant/databases/{database}/collections/{}",
            collection_name(&["memories"])
        ))
        .send()
        .await?
        .json()
        .await?;
    let query_url = format!(
        "{base}/api/v2/tenants/default_tenant/databases/{database}/collections/{}/query",
        collection["id"].as_str().unwrap()
    );
    let texts = sentences(q, 31);
    let vectors: Vec<Vec<f32>> = texts.iter().map(|t| HashEmbedder::vector(t)).collect();
    let index = m.vectors().clone();
    let name = m.collection().name.clone();

    println!("{n} vectors, 384-d, 100 users, queries pinned to one user, k=10");
    let times = interleave(q, 3, async |case, i| {
        match case {
            0 => {
                let body = json!({
                    "query_embeddings": [vectors[i]],
                    "n_results": 10,
                    "where": {"$and": [{"tenant": {"$eq": "default"}}, {"user_id": {"$eq": "u7"}}]},
                    "include": ["distances", "metadatas"],
                });
                let r = http.post(&query_url).json(&body).send().await?;
                anyhow::ensure!(r.status().is_success(), "raw query: {}", r.status());
                r.bytes().await?;
            }
            _ => layered_case(&m, case, &vectors[i], &texts[i]).await?,
        }
        Ok(())
    })
    .await?;
    print_ratios(
        &[
            "raw REST query",
            "ChromaIndex::query",
            "engine semantic search (hash embedder)",
        ],
        times,
    );
    index.drop_collection(&name).await?;
    Ok(())
}
