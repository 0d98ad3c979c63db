//! `sqlite://` URLs.

use std::time::Duration;

use memory_core::{BackendUrl, Error, Result};

/// Where and how to open the database.
///
/// URL forms: `sqlite://./memory.db`, `sqlite:///abs/path.db`,
/// `sqlite::memory:`, and Prisma's `file:./dev.db` / `file:/abs/path.db`; query keys `max_connections`, `busy_timeout_ms`,
/// `cache_mb`, `mmap_mb`, `synchronous` (`normal`, `full`, `off`), `hnsw_threshold`,
/// `partitions_mb`.
/// Unknown keys are errors.
#[derive(Clone, PartialEq, Eq)]
pub struct SqliteConfig {
    /// File path, or `None` for a private in-memory database.
    pub path: Option<String>,
    /// Pool size (1 for in-memory databases).
    pub max_connections: u32,
    /// How long a writer waits for the lock.
    pub busy_timeout: Duration,
    /// Page cache per connection, in MiB.
    pub cache_mb: u32,
    /// How much of the file each connection maps into memory, in MiB
    /// (0: read through the page cache only).
    pub mmap_mb: u32,
    /// `PRAGMA synchronous`.
    pub synchronous: String,
    /// A user's vectors are searched on an HNSW graph from this many on,
    /// scanned exactly below it; 0 scans every partition exactly.
    pub hnsw_threshold: usize,
    /// The users' vector partitions and keyword indexes one database
    /// handle keeps loaded, together, in MiB; past it, the least recently
    /// searched are dropped and load again when next searched.
    pub partitions_mb: u32,
}

impl std::fmt::Debug for SqliteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteConfig")
            .field("path", &self.path)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            path: None,
            max_connections: 4,
            busy_timeout: Duration::from_secs(5),
            // Small per connection: a partition's vectors and keyword
            // index live in memory, so SQLite's own caches serve only the
            // few records of each search's hits (measured with
            // `serve_rss_report`: 64 MiB and 256 MiB cost 350 MB of
            // resident memory at 100k memories).
            cache_mb: 16,
            mmap_mb: 64,
            synchronous: "normal".into(),
            hnsw_threshold: 20_000,
            // 100k memories of 384 dimensions, graphs included, take about
            // 300 MiB: a store of that size stays loaded whole.
            partitions_mb: 1024,
        }
    }
}

impl SqliteConfig {
    /// Parses a `sqlite:` URL.
    pub fn from_url(url: &str) -> Result<Self> {
        let parsed = BackendUrl::parse(url)
            .ok()
            .filter(|u| crate::SCHEMES.contains(&u.scheme()))
            .ok_or_else(|| {
                Error::config(format!(
                    "not a sqlite URL: {:?} (expected sqlite://PATH or sqlite::memory:)",
                    memory_core::redact_url(url)
                ))
            })?;
        let path = match parsed.target() {
            ":memory:" | "//:memory:" => None,
            t => {
                let p = t.strip_prefix("//").unwrap_or(t);
                if p.is_empty() {
                    return Err(Error::config(
                        "sqlite URL: no file path (use sqlite://./memory.db or sqlite::memory:)",
                    ));
                }
                Some(p.to_owned())
            }
        };
        let defaults = Self::default();
        let mut q = parsed.params("sqlite");
        let mut cfg = Self {
            max_connections: q
                .u32("max_connections")?
                .map_or(defaults.max_connections, |n| n.max(1)),
            busy_timeout: q
                .millis("busy_timeout_ms")?
                .unwrap_or(defaults.busy_timeout),
            cache_mb: q.u32("cache_mb")?.unwrap_or(defaults.cache_mb),
            mmap_mb: q.u32("mmap_mb")?.unwrap_or(defaults.mmap_mb),
            synchronous: q
                .choice("synchronous", &["normal", "full", "off"])?
                .unwrap_or(defaults.synchronous),
            hnsw_threshold: q
                .u32("hnsw_threshold")?
                .map_or(defaults.hnsw_threshold, |n| n as usize),
            partitions_mb: q.u32("partitions_mb")?.unwrap_or(defaults.partitions_mb),
            path,
        };
        q.finish()?;
        if cfg.path.is_none() {
            cfg.max_connections = 1;
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_urls() {
        let c = SqliteConfig::from_url("sqlite://./m.db?max_connections=2").unwrap();
        assert_eq!(c.path.as_deref(), Some("./m.db"));
        assert_eq!(c.max_connections, 2);
        assert_eq!((c.cache_mb, c.mmap_mb), (16, 64));
        let c = SqliteConfig::from_url("sqlite://./m.db?mmap_mb=0&cache_mb=4").unwrap();
        assert_eq!((c.cache_mb, c.mmap_mb), (4, 0));
        let c = SqliteConfig::from_url("sqlite://./m.db?partitions_mb=64").unwrap();
        assert_eq!(c.partitions_mb, 64);
        assert_eq!(
            SqliteConfig::from_url("sqlite://./m.db")
                .unwrap()
                .partitions_mb,
            1024
        );
        assert_eq!(
            SqliteConfig::from_url("sqlite::memory:").unwrap().path,
            None
        );
        let e = SqliteConfig::from_url("sqlite://./m.db?colour=red").unwrap_err();
        assert!(e.message().contains("colour"));
        assert!(SqliteConfig::from_url("postgres://x").is_err());
        // Prisma's DATABASE_URL form.
        for (url, path) in [
            ("file:./dev.db", "./dev.db"),
            ("file:/tmp/x.db", "/tmp/x.db"),
            ("file:///tmp/x.db", "/tmp/x.db"),
        ] {
            assert_eq!(
                SqliteConfig::from_url(url).unwrap().path.as_deref(),
                Some(path),
                "{url}"
            );
        }
    }
}
