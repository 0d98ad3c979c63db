//! `sqlite://` URLs.

use std::time::Duration;

use memory_core::{Error, Result};

/// Where and how to open the database.
///
/// URL forms: `sqlite://./memory.db`, `sqlite:///abs/path.db`,
/// `sqlite::memory:`; query keys `max_connections`, `busy_timeout_ms`,
/// `cache_mb`, `synchronous` (`normal`, `full`, `off`). Unknown keys are errors.
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
    /// `PRAGMA synchronous`.
    pub synchronous: String,
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
            cache_mb: 64,
            synchronous: "normal".into(),
        }
    }
}

impl SqliteConfig {
    /// Parses a `sqlite:` URL.
    pub fn from_url(url: &str) -> Result<Self> {
        let rest = url.strip_prefix("sqlite:").ok_or_else(|| {
            Error::config(format!(
                "not a sqlite URL: {url:?} (expected sqlite://PATH or sqlite::memory:)"
            ))
        })?;
        let (target, query) = match rest.split_once('?') {
            Some((t, q)) => (t, Some(q)),
            None => (rest, None),
        };
        let path = match target {
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
        let mut cfg = Self {
            path,
            ..Self::default()
        };
        if cfg.path.is_none() {
            cfg.max_connections = 1;
        }
        for pair in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let num = |v: &str| {
                v.parse::<u32>().map_err(|_| {
                    Error::config(format!("sqlite URL: {k}={v:?} is not a whole number"))
                })
            };
            match k {
                "max_connections" => cfg.max_connections = num(v)?.max(1),
                "busy_timeout_ms" => cfg.busy_timeout = Duration::from_millis(u64::from(num(v)?)),
                "cache_mb" => cfg.cache_mb = num(v)?,
                "synchronous" if matches!(v, "normal" | "full" | "off") => {
                    cfg.synchronous = v.to_owned()
                }
                "synchronous" => {
                    return Err(Error::config(format!(
                        "sqlite URL: synchronous={v:?} (expected normal, full or off)"
                    )));
                }
                other => {
                    return Err(Error::config(format!(
                        "sqlite URL: unknown key {other:?} (expected max_connections, busy_timeout_ms, cache_mb, synchronous)"
                    )));
                }
            }
        }
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
        assert_eq!(
            SqliteConfig::from_url("sqlite::memory:").unwrap().path,
            None
        );
        let e = SqliteConfig::from_url("sqlite://./m.db?colour=red").unwrap_err();
        assert!(e.message().contains("colour"));
        assert!(SqliteConfig::from_url("postgres://x").is_err());
    }
}
