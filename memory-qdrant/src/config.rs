//! `qdrant://host:6334?api_key=…` parsed into settings.

use std::time::Duration;

use memory_core::{Error, Result};

/// Connection settings.
#[derive(Clone, PartialEq, Eq)]
pub struct QdrantConfig {
    /// `http(s)://host:port` of the gRPC endpoint (6334 by default).
    pub url: String,
    /// Sent as `api-key` when set.
    pub api_key: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for QdrantConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantConfig")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl QdrantConfig {
    /// Parses `qdrant://host:port` (gRPC; `qdrants://` for TLS) with optional
    /// `api_key` and `timeout_ms`. A URL without a port uses 6334.
    pub fn from_url(url: &str) -> Result<Self> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            Error::config(format!("qdrant URL {url:?}: expected qdrant://host:6334"))
        })?;
        let http = match scheme {
            "qdrant" | "http" => "http",
            "qdrants" | "https" => "https",
            other => {
                return Err(Error::config(format!(
                    "qdrant URL: unknown scheme {other:?} (expected qdrant:// or qdrants://)"
                )));
            }
        };
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') || authority.contains('@') {
            return Err(Error::config(format!(
                "qdrant URL: expected host:port, got {authority:?} (pass the key as ?api_key=)"
            )));
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_owned()
        } else {
            format!("{authority}:6334")
        };
        let mut cfg = Self {
            url: format!("{http}://{authority}"),
            api_key: None,
            timeout: Duration::from_secs(10),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "api_key" if !v.is_empty() => cfg.api_key = Some(v.to_owned()),
                "timeout_ms" => {
                    let ms: u64 = v.parse().map_err(|_| {
                        Error::config(format!("qdrant URL: timeout_ms {v:?} is not a number"))
                    })?;
                    cfg.timeout = Duration::from_millis(ms.max(1));
                }
                other => {
                    return Err(Error::config(format!(
                        "qdrant URL: unknown or empty key {other:?} (known: api_key, timeout_ms)"
                    )));
                }
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_keys_defaults_the_grpc_port_and_hides_the_key() {
        let c =
            QdrantConfig::from_url("qdrant://db.example:6334/?api_key=k3y&timeout_ms=500").unwrap();
        assert_eq!(c.url, "http://db.example:6334");
        assert_eq!(c.api_key.as_deref(), Some("k3y"));
        assert_eq!(c.timeout, Duration::from_millis(500));
        assert!(!format!("{c:?}").contains("k3y"));
        assert_eq!(
            QdrantConfig::from_url("qdrants://h").unwrap().url,
            "https://h:6334"
        );
        let e = QdrantConfig::from_url("qdrant://h?collection=x").unwrap_err();
        assert!(e.message().contains("collection"), "{e}");
        assert!(QdrantConfig::from_url("qdrant://user:pw@h:6334").is_err());
        assert!(QdrantConfig::from_url("chroma://h").is_err());
    }
}
