//! Qdrant at 10k vectors: the raw `qdrant-client` query, the same query
//! through `QdrantIndex`, and a semantic search through the engine (SQLite
//! store, free hash embedder), interleaved in one run; prints each one's
//! ratio to raw.
//!
//! `eval "$(scripts/services start qdrant)"; cargo run --release -p memory-benches --bin qdrant_report`
//! (`MEMORY_BENCH_SIZE=10000`, `MEMORY_BENCH_QUERIES=300`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;

use memory::{Config, EngineConfig};
use memory_benches::{
    HashEmbedder, env_num, interleave, layered_case, print_ratios, seed, sentences,
};
use qdrant_client::Qdrant;
use qdrant_client::qdrant::{Condition, Filter as QFilter, QueryPointsBuilder};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n = env_num("MEMORY_BENCH_SIZE", 10_000);
    let q = env_num("MEMORY_BENCH_QUERIES", 300);
    let url = ["MEMORY_TEST_QDRANT_URL", "QDRANT_URL"]
        .iter()
        .find_map(|k| std::env::var(k).ok())
        .ok_or_else(|| anyhow::anyhow!("no Qdrant: eval \"$(scripts/services start qdrant)\""))?
        .replacen("http://", "qdrant://", 1);
    let dir = tempfile::tempdir()?;
    let config = Config {
        store: format!("sqlite://{}/qdrant.db", dir.path().display()).into(),
        vectors: Some(memory::Urls::One(url.clone())),
        engine: EngineConfig {
            collection: format!("bench{}", std::process::id()),
            dedup_threshold: None,
            track_access: false,
            ..EngineConfig::default()
        },
        ..Config::default()
    };
    let m = memory::open_with(&config, Some(Arc::new(HashEmbedder))).await?;
    seed(&m, n, 100).await;
    let raw = Qdrant::from_url(&url.replacen("qdrant://", "http://", 1))
        .skip_compatibility_check()
        .build()?;
    let texts = sentences(q, 31);
    let vectors: Vec<Vec<f32>> = texts.iter().map(|t| HashEmbedder::vector(t)).collect();
    let index = m.vectors().clone();
    let name = m.collection().name.clone();
    let raw_filter = QFilter::must([
        Condition::matches("tenant", "default".to_owned()),
        Condition::matches("user_id", "u7".to_owned()),
    ]);

    println!("{n} vectors, 384-d, 100 users, queries pinned to one user, k=10");
    let times = interleave(q, 3, async |case, i| {
        match case {
            0 => {
                // With payloads, as QdrantIndex asks for them to check filters.
                raw.query(
                    QueryPointsBuilder::new(&name)
                        .query(vectors[i].clone())
                        .filter(raw_filter.clone())
                        .limit(10)
                        .with_payload(true),
                )
                .await?;
            }
            _ => layered_case(&m, case, &vectors[i], &texts[i]).await?,
        }
        Ok(())
    })
    .await?;
    print_ratios(
        &[
            "raw qdrant-client query",
            "QdrantIndex::query",
            "engine semantic search (hash embedder)",
        ],
        times,
    );
    index.drop_collection(&name).await?;
    Ok(())
}
