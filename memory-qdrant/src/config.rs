//! `qdrant://host:6334?api_key=…` parsed into settings.

use std::time::Duration;

use memory_core::{BackendUrl, Error, Params, Result};

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
        let parsed = BackendUrl::parse(url)?;
        if !matches!(parsed.path(), "" | "/") {
            return Err(Self::expected(&parsed));
        }
        let mut q = parsed.params("qdrant");
        let cfg = Self::read(&parsed, &mut q)?;
        q.finish()?;
        Ok(cfg)
    }

    /// The server's settings from a parsed URL whose path the caller reads
    /// (a collection's name, for `memory migrate --from`); `q`'s other keys
    /// are left for the caller to read and finish.
    pub fn read(parsed: &BackendUrl, q: &mut Params) -> Result<Self> {
        let http = match parsed.scheme() {
            "qdrant" | "http" => "http",
            "qdrants" | "https" => "https",
            other => {
                return Err(Error::config(format!(
                    "qdrant URL: unknown scheme {other:?} (expected qdrant:// or qdrants://)"
                )));
            }
        };
        let authority = match parsed.host() {
            Some(_) if parsed.username().is_none() && parsed.password().is_none() => {
                parsed.host_port(6334)
            }
            _ => None,
        }
        .ok_or_else(|| Self::expected(parsed))?;
        Ok(Self {
            url: format!("{http}://{authority}"),
            api_key: q.non_empty("api_key")?,
            timeout: q
                .millis("timeout_ms")?
                .map_or(Duration::from_secs(10), |t| t.max(Duration::from_millis(1))),
        })
    }

    fn expected(parsed: &BackendUrl) -> Error {
        Error::config(format!(
            "qdrant URL {parsed}: expected qdrant://host:port (pass the key as ?api_key=)"
        ))
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
