//! `chroma://host:port?tenant=…&database=…&layout=…` parsed into settings.

use std::time::Duration;

use memory_core::{BackendUrl, Error, Result};

/// How memories map onto Chroma collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One Chroma collection per memory collection; tenant and user are
    /// metadata. The default: one HNSW graph, filters select the owner.
    Shared,
    /// One Chroma collection per (tenant, user). Each user's
    /// graph is small and dropping a user drops a collection, but searches
    /// that do not name a user visit every collection of the tenant.
    PerUser,
}

/// Connection settings.
#[derive(Clone, PartialEq, Eq)]
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

impl std::fmt::Debug for ChromaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChromaConfig")
            .field("base_url", &self.base_url)
            .field("tenant", &self.tenant)
            .field("database", &self.database)
            .field("layout", &self.layout)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ChromaConfig {
    /// Parses `chroma://host:port` (or `chromas://` for TLS) with optional
    /// `tenant`, `database`, `layout=shared|per_user`, `token`, `timeout_ms`.
    pub fn from_url(url: &str) -> Result<Self> {
        let parsed = BackendUrl::parse(url)?;
        let http = match parsed.scheme() {
            "chroma" | "http" => "http",
            "chromas" | "https" => "https",
            other => {
                return Err(Error::config(format!(
                    "chroma URL: unknown scheme {other:?} (expected chroma:// or chromas://)"
                )));
            }
        };
        let authority = match parsed.host() {
            Some(_) if matches!(parsed.path(), "" | "/") && parsed.username().is_none() => {
                parsed.host_port(8000)
            }
            _ => None,
        }
        .ok_or_else(|| {
            Error::config(format!("chroma URL {parsed}: expected chroma://host:port"))
        })?;
        let mut q = parsed.params("chroma");
        let cfg = Self {
            base_url: format!("{http}://{authority}"),
            tenant: q
                .non_empty("tenant")?
                .unwrap_or_else(|| "default_tenant".into()),
            database: q
                .non_empty("database")?
                .unwrap_or_else(|| "default_database".into()),
            layout: match q.choice("layout", &["shared", "per_user"])?.as_deref() {
                Some("per_user") => Layout::PerUser,
                _ => Layout::Shared,
            },
            token: q.non_empty("token")?,
            timeout: q
                .millis("timeout_ms")?
                .map_or(Duration::from_secs(10), |t| t.max(Duration::from_millis(1))),
        };
        q.finish()?;
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
