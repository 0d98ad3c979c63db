//! `chroma://host:port?tenant=…&database=…&layout=…` parsed into settings.

use std::time::Duration;

use memory_core::{Error, Result};

/// How memories map onto Chroma collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One Chroma collection per memory collection; tenant and user are
    /// metadata. The default: one HNSW graph, filters select the owner.
    Shared,
    /// One Chroma collection per (tenant, user), as seed 001 does. Each user's
    /// graph is small and dropping a user drops a collection, but searches
    /// that do not name a user visit every collection of the tenant.
    PerUser,
}

/// Connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChromaConfig {
    /// `http(s)://host:port`, no trailing slash.
    pub base_url: String,
    /// Chroma tenant (created if missing).
    pub tenant: String,
    /// Chroma database (created if missing).
    pub database: String,
    /// Collection layout.
    pub layout: Layout,
    /// Sent as `x-chroma-token` when set.
    pub token: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl ChromaConfig {
    /// Parses `chroma://host:port` (or `chromas://` for TLS) with optional
    /// `tenant`, `database`, `layout=shared|per_user`, `token`, `timeout_ms`.
    pub fn from_url(url: &str) -> Result<Self> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            Error::config(format!("chroma URL {url:?}: expected chroma://host:port"))
        })?;
        let http = match scheme {
            "chroma" | "http" => "http",
            "chromas" | "https" => "https",
            other => {
                return Err(Error::config(format!(
                    "chroma URL: unknown scheme {other:?} (expected chroma:// or chromas://)"
                )));
            }
        };
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(Error::config(format!(
                "chroma URL: expected host:port, got {authority:?}"
            )));
        }
        let mut cfg = Self {
            base_url: format!("{http}://{authority}"),
            tenant: "default_tenant".into(),
            database: "default_database".into(),
            layout: Layout::Shared,
            token: None,
            timeout: Duration::from_secs(10),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "tenant" => cfg.tenant = non_empty(k, v)?,
                "database" => cfg.database = non_empty(k, v)?,
                "token" => cfg.token = Some(non_empty(k, v)?),
                "layout" => {
                    cfg.layout = match v {
                        "shared" => Layout::Shared,
                        "per_user" => Layout::PerUser,
                        other => {
                            return Err(Error::config(format!(
                                "chroma URL: layout {other:?} (expected shared or per_user)"
                            )));
                        }
                    }
                }
                "timeout_ms" => {
                    let ms: u64 = v.parse().map_err(|_| {
                        Error::config(format!("chroma URL: timeout_ms {v:?} is not a number"))
                    })?;
                    cfg.timeout = Duration::from_millis(ms.max(1));
                }
                other => {
                    return Err(Error::config(format!(
                        "chroma URL: unknown key {other:?} (known: tenant, database, layout, token, timeout_ms)"
                    )));
                }
            }
        }
        Ok(cfg)
    }

    /// The URL with the token hidden, for logs and status.
    pub fn redacted(&self) -> String {
        format!(
            "{}?tenant={}&database={}{}",
            self.base_url,
            self.tenant,
            self.database,
            if self.layout == Layout::PerUser {
                "&layout=per_user"
            } else {
                ""
            }
        )
    }
}

fn non_empty(key: &str, v: &str) -> Result<String> {
    if v.is_empty() {
        Err(Error::config(format!(
            "chroma URL: {key} must not be empty"
        )))
    } else {
        Ok(v.to_owned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_every_key_and_refuses_unknown_ones() {
        let c = ChromaConfig::from_url(
            "chroma://127.0.0.1:58000/?tenant=t1&database=d1&layout=per_user&token=s3cret&timeout_ms=250",
        )
        .unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:58000");
        assert_eq!((c.tenant.as_str(), c.database.as_str()), ("t1", "d1"));
        assert_eq!(c.layout, Layout::PerUser);
        assert_eq!(c.timeout, Duration::from_millis(250));
        assert!(!c.redacted().contains("s3cret"));
        assert_eq!(
            ChromaConfig::from_url("chromas://h:1").unwrap().base_url,
            "https://h:1"
        );
        let e = ChromaConfig::from_url("chroma://h:1?colour=red").unwrap_err();
        assert!(e.message().contains("colour"), "{e}");
        assert!(ChromaConfig::from_url("chroma://h:1?layout=sideways").is_err());
        assert!(ChromaConfig::from_url("redis://h:1").is_err());
        assert!(ChromaConfig::from_url("chroma://").is_err());
    }
}
