//! Resident memory of `memory serve` as a process of its own, on the
//! embedded default with the real model: once on an empty store (the model
//! alone, the reference of the same run) and once on a store of
//! `MEMORY_BENCH_SIZE` memories (default 100k over 100 users), each read
//! from `/proc/PID/status` after every user was searched (so every
//! partition and both its indexes are loaded), then after bulk adds.
//!
//! `cargo build --release -p memory-server && cargo run --release -p
//! memory-benches --bin serve_rss_report` (`MEMORY_BIN` names another
//! `memory` binary; extra SQLite URL keys in `MEMORY_BENCH_STORE_KEYS`, e.g.
//! `mmap_mb=0&cache_mb=8`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use memory::{AddRequest, Config, EngineConfig, Scope, SearchRequest};
use memory_benches::{HashAs, env_num, seed, sentences};

/// A `memory serve` child, killed when dropped.
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `bin` on `store` and waits until it answers.
    async fn start(bin: &Path, dir: &Path, store: &str) -> anyhow::Result<Self> {
        // Generous limits: the warm-up sends more than 30 requests a minute per user.
        let config = dir.join(format!("memory-{}.toml", std::process::id()));
        std::fs::write(
            &config,
            format!(
                "store = \"{store}\"\n[engine]\ntrack_access = false\n[engine.rate_limits]\nper_user_per_minute = 0\nper_key_per_minute = 0\nglobal_per_minute = 0\n"
            ),
        )?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(bin)
            .arg("--config")
            .arg(&config)
            .args(["serve", "--no-auth", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()?;
        let served = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let ready = http
                .get(format!("{}/readyz", served.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(served);
            }
            anyhow::ensure!(Instant::now() < deadline, "memory serve did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// VmRSS, RssAnon, RssFile and VmHWM, in MiB.
    fn rss(&self) -> [f64; 4] {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        ["VmRSS:", "RssAnon:", "RssFile:", "VmHWM:"].map(|key| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .map_or(f64::NAN, |kb| kb / 1024.0)
        })
    }

    /// Searches every one of `users` twice over, with texts no run repeats.
    async fn warm(&self, users: usize, salt: u64) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        for (i, t) in sentences(users * 2, salt).into_iter().enumerate() {
            let req = SearchRequest::new(Scope::user(format!("u{}", i % users)), t).k(10);
            let resp = http
                .post(format!("{}/v1/memories/search", self.base))
                .json(&req)
                .send()
                .await?;
            anyhow::ensure!(resp.status().is_success(), "search: {}", resp.status());
        }
        Ok(())
    }

    /// Adds `n` chat-like memories through the batch route, 100 a request.
    async fn add(&self, n: usize, users: usize, salt: u64) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let texts = sentences(n, salt);
        for (c, chunk) in texts.chunks(100).enumerate() {
            let items: Vec<AddRequest> = chunk
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    AddRequest::new(
                        Scope::user(format!("u{}", (c * 100 + i) % users)),
                        t.clone(),
                    )
                })
                .collect();
            let resp = http
                .post(format!("{}/v1/memories/batch", self.base))
                .json(&serde_json::json!({ "items": items }))
                .send()
                .await?;
            anyhow::ensure!(resp.status().is_success(), "batch add: {}", resp.status());
        }
        Ok(())
    }
}

fn print(label: &str, [rss, anon, file, hwm]: [f64; 4]) {
    println!("{label:<52} {rss:>8.0} {anon:>8.0} {file:>8.0} {hwm:>8.0}");
}

fn memory_bin() -> anyhow::Result<PathBuf> {
    let bin = match std::env::var_os("MEMORY_BIN") {
        Some(b) => PathBuf::from(b),
        None => std::env::current_exe()?.with_file_name("memory"),
    };
    anyhow::ensure!(
        bin.is_file(),
        "{} not found: cargo build --release -p memory-server (or set MEMORY_BIN)",
        bin.display()
    );
    Ok(bin)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n = env_num("MEMORY_BENCH_SIZE", 100_000);
    let users = env_num("MEMORY_BENCH_USERS", 100);
    let keys = std::env::var("MEMORY_BENCH_STORE_KEYS").unwrap_or_default();
    let bin = memory_bin()?;
    let model = memory::embed_local::OnnxEmbedder::load_default()
        .map_err(|e| anyhow::anyhow!("the default model is needed: {e}"))?;
    let seeder = HashAs {
        model_id: memory::Embedder::model_id(&model).to_owned(),
        prompt_scheme: memory::Embedder::prompt_scheme(&model).to_owned(),
    };
    drop(model);

    let dir = tempfile::tempdir()?;
    let url = |name: &str| {
        let q = if keys.is_empty() {
            String::new()
        } else {
            format!("?{keys}")
        };
        format!("sqlite://{}/{name}.db{q}", dir.path().display())
    };
    let started = Instant::now();
    let seeded = {
        let config = Config {
            store: url("full").into(),
            engine: EngineConfig {
                dedup_threshold: None,
                track_access: false,
                ..EngineConfig::default()
            },
            ..Config::default()
        };
        let m = memory::open_with(&config, Some(Arc::new(seeder))).await?;
        seed(&m, n, users).await;
        started.elapsed()
    };
    println!(
        "`memory serve` with {model}, {n} memories over {users} users seeded in {:.0} s; MiB",
        seeded.as_secs_f64(),
        model = memory::embed_local::DEFAULT_EMBEDDER,
    );
    println!(
        "{:<52} {:>8} {:>8} {:>8} {:>8}",
        "state", "VmRSS", "anon", "file", "peak"
    );
    {
        let empty = Served::start(&bin, dir.path(), &url("empty")).await?;
        empty.warm(users, 11).await?;
        print("empty store, after searches (the model alone)", empty.rss());
        // What the write path costs the model and the process alone, to
        // tell it from what the loaded store adds below.
        empty.add(2_000, users, 31_337).await?;
        print("  and after 2,000 adds in batches", empty.rss());
    }
    let full = Served::start(&bin, dir.path(), &url("full")).await?;
    print(&format!("{n} memories, started"), full.rss());
    full.warm(users, 12).await?;
    print(&format!("{n} memories, every user searched"), full.rss());
    // Two rounds: whether the write path's growth is a working set that
    // levels off or keeps climbing.
    for (round, salt) in [(1, 31_337), (2, 27_182)] {
        full.add(2_000, users, salt).await?;
        print(
            &format!("{n} memories, after {} adds in batches", round * 2_000),
            full.rss(),
        );
        full.warm(users, 12 + round).await?;
        print("  and every user searched again", full.rss());
    }
    Ok(())
}
