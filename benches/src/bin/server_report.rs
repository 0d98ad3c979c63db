//! Load on the REST server over loopback: search requests/s and p50/p99 at
//! 10k memories on the embedded default, with the same searches run in
//! process in the same run, so the HTTP layer's cost is printed as a ratio;
//! and hybrid searches on distinct queries in process with every query
//! embedded on its own call, against which query batching is measured.
//!
//! `cargo run --release -p memory-benches --bin server_report`
//! (`MEMORY_BENCH_SIZE=10000`, `MEMORY_BENCH_SECONDS=5`,
//! `MEMORY_BENCH_CONCURRENCY=1,8,32`, `MEMORY_BENCH_EMBEDDER=local:…`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use memory::{ApiKey, Config, EngineConfig, Memory, RateLimits, Scope, SearchMode, SearchRequest};
use memory_benches::{AsSeeded, HashEmbedder, env_num, percentiles, seed, sentences};
use memory_server::server::{AppState, router};

async fn open(path: &str, embedder: Arc<dyn memory::Embedder>, batching: bool) -> Memory {
    let config = Config {
        store: path.to_owned().into(),
        engine: EngineConfig {
            dedup_threshold: None,
            track_access: false,
            // The bench measures throughput, not the limiter.
            rate_limits: RateLimits {
                per_user_per_minute: u32::MAX,
                per_key_per_minute: u32::MAX,
                global_per_minute: u32::MAX,
                ..RateLimits::default()
            },
            query_batch_lanes: if batching {
                EngineConfig::default().query_batch_lanes
            } else {
                0
            },
            ..EngineConfig::default()
        },
        ..Config::default()
    };
    memory::open_with(&config, Some(embedder)).await.unwrap()
}

/// What one load run measured.
struct Run {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn print(&self, label: &str, reference: Option<&Run>) {
        let rps = self.requests as f64 / self.elapsed.as_secs_f64();
        let (p50, p99) = percentiles(self.latencies.clone());
        let ratio = reference.map_or_else(String::new, |r| {
            let (r50, _) = percentiles(r.latencies.clone());
            format!("{:.2}x", p50 / r50)
        });
        println!("{label:<44} {rps:>9.0} {p50:>9.3} {p99:>9.3} {ratio:>9}");
    }
}

/// `concurrency` workers call `one(i)` with distinct `i` until `seconds` pass.
async fn drive<F, Fut>(concurrency: usize, seconds: u64, one: F) -> Run
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (one, counter) = (one.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < until {
                let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let t = Instant::now();
                one(i).await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    Run {
        requests: latencies.len(),
        elapsed: start.elapsed(),
        latencies,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n = env_num("MEMORY_BENCH_SIZE", 10_000);
    let seconds = env_num("MEMORY_BENCH_SECONDS", 5) as u64;
    let levels: Vec<usize> = std::env::var("MEMORY_BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "1,8,32".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let dir = tempfile::tempdir()?;
    let path = format!("sqlite://{}/server.db", dir.path().display());
    // Seeding embeds with a free hash model; searches then use the real one
    // when it is prepared (same dimension), as a deployed server would.
    seed(&open(&path, Arc::new(HashEmbedder), true).await, n, 100).await;
    // MEMORY_BENCH_EMBEDDER names another model of the same dimension
    // (`local:all-MiniLM-L6-v2?quant=int8`, the fast English one).
    let chosen = match std::env::var("MEMORY_BENCH_EMBEDDER") {
        Ok(spec) => memory::open_embedder(&spec).await,
        Err(_) => memory::embed_local::OnnxEmbedder::load_default()
            .map(|e| Arc::new(e) as Arc<dyn memory::Embedder>),
    };
    let (embedder, model): (Arc<dyn memory::Embedder>, &str) = match chosen {
        Ok(e) => (Arc::new(AsSeeded(e)), "real model"),
        Err(e) => {
            println!("real model not prepared ({e}); using the hash embedder");
            (Arc::new(HashEmbedder), "hash embedder")
        }
    };
    println!(
        "model: {}",
        embedder_name(&std::env::var("MEMORY_BENCH_EMBEDDER").ok())
    );
    let m = open(&path, embedder.clone(), true).await;
    let unbatched = open(&path, embedder, false).await;
    let keys = [ApiKey {
        key: "bench".into(),
        tenant: memory::DEFAULT_TENANT.into(),
        user_id: None,
    }];
    let app = router(AppState::new(m.clone(), &keys, false), 1 << 20);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/memories/search", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();

    // Distinct texts miss the embedding cache; a fixed set of 50 hits it
    // after the first round, as an agent repeating questions would.
    let fresh = Arc::new(sentences(200_000, 99));
    let repeated = Arc::new(sentences(50, 5));
    println!("{n} memories over 100 users, {model}, {seconds} s per row, 2 cores");
    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>9}",
        "case", "req/s", "p50 ms", "p99 ms", "vs in-proc"
    );
    // Warm the model sessions, the page cache and the HTTP connections on
    // texts no row uses, so the first row does not pay for them.
    let warm = sentences(400, 4_000_000);
    for (i, t) in warm.iter().enumerate() {
        let req = SearchRequest::new(Scope::user(format!("u{}", i % 100)), t.clone()).k(10);
        if i % 2 == 0 {
            m.search(req).await?;
        } else {
            http.post(&url)
                .bearer_auth("bench")
                .json(&req)
                .send()
                .await?;
        }
    }
    // Every user has been searched by now, so each partition is loaded.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("RssAnon") || l.starts_with("RssFile"))
    {
        println!("{line} after warm-up: the model, {n} memories searched, the HTTP server");
    }
    // Each run starts where the last one stopped in the distinct texts, so
    // no run finds the previous one's queries in the embedding cache.
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for (texts, what) in [
        (&fresh, "distinct queries"),
        (&repeated, "repeated queries"),
    ] {
        for mode in [SearchMode::Hybrid, SearchMode::Keyword] {
            for &c in &levels {
                let request = {
                    let (texts, next) = (texts.clone(), next.clone());
                    move |_: usize| {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        SearchRequest::new(
                            Scope::user(format!("u{}", i % 100)),
                            texts[i % texts.len()].clone(),
                        )
                        .k(10)
                        .mode(mode)
                    }
                };
                let local = {
                    let (m, request) = (m.clone(), request.clone());
                    drive(c, seconds, move |i| {
                        let (m, req) = (m.clone(), request(i));
                        async move {
                            m.search(req).await.unwrap();
                        }
                    })
                    .await
                };
                let remote = {
                    let (http, url, request) = (http.clone(), url.clone(), request.clone());
                    drive(c, seconds, move |i| {
                        let (http, url, req) = (http.clone(), url.clone(), request(i));
                        async move {
                            let resp = http
                                .post(url)
                                .bearer_auth("bench")
                                .json(&req)
                                .send()
                                .await
                                .unwrap();
                            assert!(resp.status().is_success(), "{}", resp.status());
                            resp.bytes().await.unwrap();
                        }
                    })
                    .await
                };
                let mode_name = format!("{mode:?}").to_lowercase();
                local.print(&format!("in-process {mode_name}, {what}, c={c}"), None);
                remote.print(&format!("HTTP {mode_name}, {what}, c={c}"), Some(&local));
                if mode == SearchMode::Hybrid && what == "distinct queries" {
                    // The reference: each query embedded on its own call.
                    let (m, request) = (unbatched.clone(), request.clone());
                    let alone = drive(c, seconds, move |i| {
                        let (m, req) = (m.clone(), request(i));
                        async move {
                            m.search(req).await.unwrap();
                        }
                    })
                    .await;
                    alone.print(
                        &format!("  in-process, queries not batched, c={c}"),
                        Some(&local),
                    );
                }
            }
        }
    }
    Ok(())
}

fn embedder_name(spec: &Option<String>) -> String {
    spec.clone()
        .unwrap_or_else(|| "the default (local:multilingual-e5-small?quant=int8)".into())
}
