//! Prints search and add latency on the embedded default at several sizes,
//! with the engine's overhead over the raw index query, and over that query
//! plus the hits' records read by hand-written SQL, measured in the same
//! run; and end-to-end numbers with the real model when it is prepared.
//! References from the same run: the exact scan and the graph's recall@10
//! against it (partitions on an HNSW graph), and FTS5 ranking the same
//! user's rows by hand-written SQL (the keyword list).
//!
//! `cargo run --release -p memory-benches --bin sqlite_report`
//! (`MEMORY_BENCH_SIZES=1000,10000`, `MEMORY_BENCH_QUERIES=200`,
//! `MEMORY_BENCH_USERS=1,100`: the users each size is spread over).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use memory::{
    AddRequest, Filter, Memory, Scope, SearchMode, SearchRequest, VectorIndex, VectorQuery,
};
use memory_benches::{
    AsSeeded, HashEmbedder, Precomputed, engine, engine_config, env_list, percentiles, seed,
    sentences, time_n,
};

/// p50 and p99 of user u0's searches for `queries`, one after another.
async fn time_searches(m: &memory::Memory, queries: &[String], mode: SearchMode) -> (f64, f64) {
    let d = time_n(queries.len(), |i| {
        let m = m.clone();
        let req = SearchRequest::new(Scope::user("u0"), queries[i].clone())
            .k(10)
            .mode(mode);
        async move {
            m.search(req).await.unwrap();
        }
    })
    .await;
    percentiles(d)
}

/// p50 and p99 of user u1's adds of `texts`, one after another.
async fn time_adds(m: &Memory, texts: &[String]) -> (f64, f64) {
    let d = time_n(texts.len(), |i| {
        let m = m.clone();
        let req = AddRequest::new(Scope::user("u1"), texts[i].clone());
        async move {
            m.add(req).await.unwrap();
        }
    })
    .await;
    percentiles(d)
}

/// The exact scan of the same partition, and the share of its top 10 the
/// index under test returned (1.0 below the graph threshold).
async fn exact_reference(
    url: &str,
    index: &Arc<dyn memory::VectorIndex>,
    name: &str,
    vectors: &[Vec<f32>],
    filter: &Filter,
    raw50: f64,
) -> anyhow::Result<()> {
    let exact = memory::sqlite::SqliteDb::connect(&format!("{url}?hnsw_threshold=0"))
        .await?
        .vector_index();
    let query = |v: &Vec<f32>| VectorQuery {
        tenant: "default".into(),
        vector: v.clone(),
        k: 10,
        filter: Some(filter.clone()),
    };
    let (mut found, mut wanted) = (0usize, 0usize);
    for v in vectors {
        let want: std::collections::HashSet<_> = exact
            .query(name, &query(v))
            .await?
            .into_iter()
            .map(|h| h.id)
            .collect();
        let got = index.query(name, &query(v)).await?;
        found += got.iter().filter(|h| want.contains(&h.id)).count();
        wanted += want.len();
    }
    let d = time_n(vectors.len(), |i| {
        let (exact, q) = (exact.clone(), query(&vectors[i]));
        async move {
            exact.query(name, &q).await.unwrap();
        }
    })
    .await;
    let (p50, p99) = percentiles(d);
    #[allow(clippy::cast_precision_loss)]
    let recall = found as f64 / wanted.max(1) as f64;
    println!(
        "{:<34} {p50:>9.3} {p99:>9.3} {:>10}   (index recall@10 vs exact: {recall:.3})",
        "  exact scan, same partition",
        format!("{:.2}x", p50 / raw50)
    );
    Ok(())
}

/// The hand-written equivalent of a semantic search: the index query, then
/// the hits' memories read by id with one statement; its p50.
async fn raw_search_reference(
    url: &str,
    index: &Arc<dyn memory::VectorIndex>,
    name: &str,
    vectors: &[Vec<f32>],
    filter: &Filter,
    raw50: f64,
) -> anyhow::Result<f64> {
    let db = memory::sqlite::SqliteDb::connect(url).await?;
    let d = time_n(vectors.len(), |i| {
        let (index, pool) = (index.clone(), db.pool().clone());
        let q = VectorQuery {
            tenant: "default".into(),
            vector: vectors[i].clone(),
            k: 10,
            filter: Some(filter.clone()),
        };
        async move {
            let hits = index.query(name, &q).await.unwrap();
            let ids: Vec<String> = hits.iter().map(|h| h.id.to_string()).collect();
            sqlx::query(
                "SELECT id, tenant, user_id, agent_id, session_id, content, kind, importance, confidence, metadata, \
                 source_message_ids, created_at, updated_at, last_accessed_at, access_count, expires_at, content_hash, \
                 embedding_model, vector_state, vector_attempts, version, valid_from, valid_until, superseded_by, supersedes \
                 FROM memories WHERE tenant = 'default' AND id IN (SELECT value FROM json_each(?))",
            )
            .bind(serde_json::Value::from(ids).to_string())
            .fetch_all(&pool)
            .await
            .unwrap();
        }
    })
    .await;
    let (p50, p99) = percentiles(d);
    println!(
        "{:<34} {p50:>9.3} {p99:>9.3} {:>10}",
        "  raw index query + records",
        format!("{:.2}x", p50 / raw50)
    );
    Ok(p50)
}

/// FTS5 ranking the user's matching rows by bm25, as the keyword list did
/// before it kept an inverted index per user.
async fn fts5_reference(url: &str, queries: &[String], label: String) -> anyhow::Result<()> {
    let db = memory::sqlite::SqliteDb::connect(url).await?;
    let matches: Vec<String> = queries
        .iter()
        .map(|q| {
            let terms: Vec<String> = memory::text::query_terms(q, 64)
                .iter()
                .map(|t| format!("\"{t}\""))
                .collect();
            format!("fts_terms : ({})", terms.join(" OR "))
        })
        .collect();
    let d = time_n(matches.len(), |i| {
        let (pool, m) = (db.pool().clone(), matches[i].clone());
        async move {
            sqlx::query(
                "SELECT m.id, bm25(memories_fts) AS rank FROM memories_fts CROSS JOIN memories m ON m.rowid = memories_fts.rowid \
                 WHERE memories_fts MATCH ? AND m.tenant = 'default' AND m.user_id = 'u0' ORDER BY rank LIMIT 30",
            )
            .bind(m)
            .fetch_all(&pool)
            .await
            .unwrap();
        }
    })
    .await;
    let (p50, p99) = percentiles(d);
    println!("{label:<34} {p50:>9.3} {p99:>9.3}");
    Ok(())
}

/// p50 of the engine adding one memory (the query embedder hashes its
/// text: the row is the layer's own cost), against hand-written SQL that
/// writes the same text and vector in one transaction on the same file.
async fn add_reference(url: &str, m: &Memory, label: &str) -> anyhow::Result<()> {
    let texts = sentences(200, 9191);
    let db = memory::sqlite::SqliteDb::connect(url).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS raw_adds (id TEXT PRIMARY KEY, content TEXT, vector BLOB)",
    )
    .execute(db.pool())
    .await?;
    let d = time_n(texts.len(), |i| {
        let (pool, text) = (db.pool().clone(), texts[i].clone());
        async move {
            let blob: Vec<u8> = HashEmbedder::vector(&text)
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect();
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            sqlx::query("INSERT INTO raw_adds (id, content, vector) VALUES (?, ?, ?)")
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(text)
                .bind(blob)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    })
    .await;
    let (raw50, raw99) = percentiles(d);
    println!(
        "{:<34} {raw50:>9.3} {raw99:>9.3} {:>10}",
        format!("raw INSERT + COMMIT {label}"),
        "1.00x"
    );
    let (p50, p99) = time_adds(m, &texts).await;
    println!(
        "{:<34} {p50:>9.3} {p99:>9.3} {:>10}",
        format!("engine add {label}"),
        format!("{:.2}x", p50 / raw50)
    );
    Ok(())
}

/// Waits until the partition's graph answers: an engine builds it in the
/// background on its first query (or takes it from the file an earlier
/// engine saved), and until then queries scan exactly while a build takes
/// both cores, so every row would measure that instead. Ready is three
/// times faster than the exact scan of the same partition.
async fn wait_for_graph(
    index: &Arc<dyn VectorIndex>,
    db: &Path,
    name: &str,
    vector: &[f32],
    filter: &Filter,
) -> anyhow::Result<()> {
    let query = VectorQuery {
        tenant: "default".into(),
        vector: vector.to_vec(),
        k: 10,
        filter: Some(filter.clone()),
    };
    // The best of a few, so one slow query on a busy machine does not
    // look like a scan.
    let best = |index: Arc<dyn VectorIndex>| {
        let query = query.clone();
        async move {
            let mut best = Duration::MAX;
            for _ in 0..5 {
                let t = Instant::now();
                index.query(name, &query).await?;
                best = best.min(t.elapsed());
            }
            anyhow::Ok(best)
        }
    };
    let started = Instant::now();
    index.query(name, &query).await?;
    let url = format!("sqlite://{}?hnsw_threshold=0", db.display());
    let exact: Arc<dyn VectorIndex> = memory::sqlite::SqliteDb::connect(&url)
        .await?
        .vector_index();
    let scanning = best(exact).await?;
    while started.elapsed() < Duration::from_secs(600) {
        if best(index.clone()).await? * 3 < scanning {
            println!(
                "  (graph ready after {:.1} s)",
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("the partition's graph was not ready after 10 minutes")
}

/// A fresh process's first query on a large partition, which loads the
/// partition and takes up the graph the first engine built and saved,
/// against the same first query scanning exactly (the partition's load
/// alone). The graph's build time is the "graph ready" line above it.
async fn reopened(
    db: &Path,
    name: &str,
    vector: &[f32],
    filter: &Filter,
    label: &str,
) -> anyhow::Result<()> {
    let dir = PathBuf::from(format!("{}-graphs", db.display()));
    let saved = || {
        std::fs::read_dir(&dir).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "graph"))
        })
    };
    // The build saves its graph just after it starts answering.
    let started = Instant::now();
    while !saved() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "no graph saved in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let query = VectorQuery {
        tenant: "default".into(),
        vector: vector.to_vec(),
        k: 10,
        filter: Some(filter.clone()),
    };
    let mut first = Vec::new();
    for threshold in [0, memory::sqlite::SqliteConfig::default().hnsw_threshold] {
        let url = format!("sqlite://{}?hnsw_threshold={threshold}", db.display());
        let index = memory::sqlite::SqliteDb::connect(&url)
            .await?
            .vector_index();
        let t = Instant::now();
        index.query(name, &query).await?;
        first.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(
            index.graphs_loaded()? == usize::from(threshold > 0),
            "the fresh index did not take up the saved graph"
        );
    }
    println!(
        "{label:<34} {:>9.1} {:>9} {:>10}",
        first[1],
        "",
        format!("{:.2}x load", first[1] / first[0])
    );
    Ok(())
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
        for &users in &env_list("MEMORY_BENCH_USERS", "1,100") {
            let queries = sentences(q, 1234);
            // The engine looks its queries' vectors up, as the raw
            // references are handed theirs: the ratios are the layer's.
            let known = Arc::new(Precomputed::of(&queries));
            let m = engine(dir.path(), &format!("r{n}_{users}"), Some(known.clone())).await;
            seed(&m, n, users).await;
            let label = |what: &str| format!("{what} n={n} part={}", n / users);
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
            // The first engine opened on the store builds the graph of a
            // large partition in the background on its first query and
            // saves it; the engines after it take it from the file.
            let on_graph = n / users >= memory::sqlite::SqliteConfig::default().hnsw_threshold;
            let db = dir.path().join(format!("r{n}_{users}.db"));
            let settle = |m: Memory| {
                let (name, vector, filter) = (name.clone(), vectors[0].clone(), filter.clone());
                let db = db.clone();
                async move {
                    if on_graph {
                        wait_for_graph(m.vectors(), &db, &name, &vector, &filter).await?;
                    }
                    anyhow::Ok(())
                }
            };
            settle(m.clone()).await?;
            if on_graph {
                let label = label("first query, fresh process");
                reopened(&db, &name, &vectors[0], &filter, &label).await?;
            }
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
            let url = format!("sqlite://{}/r{n}_{users}.db", dir.path().display());
            exact_reference(&url, &index, &name, &vectors, &filter, raw50).await?;
            let search50 =
                raw_search_reference(&url, &index, &name, &vectors, &filter, raw50).await?;
            fts5_reference(&url, &queries, label("raw FTS5 keyword query")).await?;
            for mode in [
                SearchMode::Semantic,
                SearchMode::Hybrid,
                SearchMode::Keyword,
            ] {
                let (p50, p99) = time_searches(&m, &queries, mode).await;
                let ratio = if mode == SearchMode::Semantic {
                    format!("{:.2}x / {:.2}x", p50 / raw50, p50 / search50)
                } else {
                    String::new()
                };
                println!(
                    "{:<34} {p50:>9.3} {p99:>9.3} {ratio:>10}",
                    label(&format!("engine {mode:?}").to_lowercase())
                );
            }
            add_reference(&url, &m, &format!("n={n} part={}", n / users)).await?;
            {
                // The same hybrid searches recording access times.
                let mut cfg = engine_config(dir.path(), &format!("r{n}_{users}"));
                cfg.engine.track_access = true;
                let tracking = memory::open_with(&cfg, Some(known.clone())).await?;
                settle(tracking.clone()).await?;
                let (p50, p99) = time_searches(&tracking, &queries, SearchMode::Hybrid).await;
                println!(
                    "{:<34} {p50:>9.3} {p99:>9.3}",
                    label("  hybrid, recording access")
                );
            }
            if let Some(model) = &model {
                drop(m);
                let real = engine(
                    dir.path(),
                    &format!("r{n}_{users}"),
                    Some(Arc::new(AsSeeded(model.clone()))),
                )
                .await;
                settle(real.clone()).await?;
                let fresh = sentences(q, 777);
                let (p50, p99) = time_searches(&real, &fresh, SearchMode::Hybrid).await;
                println!(
                    "{:<34} {p50:>9.3} {p99:>9.3}",
                    label("end-to-end hybrid, real model")
                );
                let adds = sentences(50, 4242);
                let (p50, p99) = time_adds(&real, &adds).await;
                println!(
                    "{:<34} {p50:>9.3} {p99:>9.3}",
                    label("end-to-end add, real model")
                );
            }
        }
    }
    Ok(())
}
