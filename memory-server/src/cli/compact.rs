//! `memory compact`: every SQLite file the configuration names (store and
//! vectors) rebuilt without its free pages, in 32 KiB pages.

use std::path::PathBuf;

use anyhow::{Result, bail};
use memory::Config;
use memory::sqlite::SCHEMES;

use super::output::Out;

/// The configuration's SQLite file URLs, each once, store first.
fn sqlite_files(cfg: &Config) -> Vec<String> {
    let mut urls = cfg.store.list();
    urls.extend(cfg.vectors.iter().flat_map(|v| v.list()));
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for url in urls {
        let Ok(sqlite) = memory::sqlite::SqliteConfig::from_url(&url) else {
            continue;
        };
        let Some(path) = sqlite.path else { continue };
        // `./memory.db` and `memory.db` are one file.
        let path = std::fs::canonicalize(&path).unwrap_or_else(|_| PathBuf::from(path));
        if !files.iter().any(|(p, _)| *p == path) {
            files.push((path, url));
        }
    }
    files.into_iter().map(|(_, url)| url).collect()
}

pub(crate) async fn run(cfg: &Config, out: &Out) -> Result<()> {
    let files = sqlite_files(cfg);
    if files.is_empty() {
        bail!(
            "compact works on SQLite files ({} URLs) and the configuration names no file (store: {}); \
             PostgreSQL gives space back by itself (autovacuum)",
            SCHEMES.join(", "),
            cfg.store.redacted()
        );
    }
    let mut reports = Vec::new();
    for url in files {
        let r = memory::sqlite::compact(&url).await?;
        let mib = |b: u64| b as f64 / f64::from(1 << 20);
        if !out.json {
            println!(
                "{}: {:.1} MiB -> {:.1} MiB ({} free pages given back), pages {} -> {} bytes, {} stale graph files removed, {:.1} s",
                r.path,
                mib(r.bytes_before),
                mib(r.bytes_after),
                r.free_pages_before,
                r.page_size_before,
                r.page_size_after,
                r.graphs_removed,
                r.elapsed.as_secs_f64()
            );
        }
        reports.push(serde_json::json!({
            "path": r.path,
            "bytes_before": r.bytes_before,
            "bytes_after": r.bytes_after,
            "free_pages_before": r.free_pages_before,
            "page_size_before": r.page_size_before,
            "page_size_after": r.page_size_after,
            "graphs_removed": r.graphs_removed,
            "elapsed_ms": r.elapsed.as_millis(),
        }));
    }
    if out.json {
        out.value(&reports)?;
    }
    Ok(())
}
