//! `redis://` URLs.

use std::time::Duration;

use memory_core::{BackendUrl, Error, Result, TtlTiers};

/// Settings of the Redis short-term tier. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// The server URL without this crate's own query keys.
    pub url: String,
    /// Prefix of every key.
    pub prefix: String,
    /// TTLs by activity.
    pub tiers: TtlTiers,
    /// How long one command may take before the call fails (default 500 ms).
    pub timeout: Duration,
    /// A PEM file of the certificate authorities a `rediss://` server's
    /// certificate must chain to, instead of the system's (`tls_ca`).
    pub tls_ca: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact(&self.url))
            .field("prefix", &self.prefix)
            .field("tiers", &self.tiers)
            .field("tls_ca", &self.tls_ca)
            .finish_non_exhaustive()
    }
}

pub(crate) use memory_core::redact_url as redact;

impl RedisConfig {
    /// Parses `redis://[user:pass@]host:port/db?prefix=memory&active_ttl=86400&inactive_ttl=3600&active_within=86400&timeout_ms=500`,
    /// or `rediss://…` for TLS (`tls_ca=/path/ca.pem` to trust a private
    /// authority). Unknown keys are errors.
    pub fn from_url(url: &str) -> Result<Self> {
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(Error::config(format!(
                "not a redis URL: {:?} (expected redis://host:port/db)",
                redact(url)
            )));
        }
        let parsed = BackendUrl::parse(url)?;
        let base = url.split_once('?').map_or(url, |(b, _)| b);
        let mut q = parsed.params("redis");
        let defaults = TtlTiers::default();
        let cfg = Self {
            url: base.to_owned(),
            prefix: match q.str("prefix") {
                Some(p) if p.is_empty() || p.contains(':') => {
                    return Err(q.error("prefix must be non-empty and without ':'"));
                }
                p => p.unwrap_or_else(|| "memory".into()),
            },
            tiers: TtlTiers {
                active: q.secs("active_ttl")?.unwrap_or(defaults.active),
                inactive: q.secs("inactive_ttl")?.unwrap_or(defaults.inactive),
                active_within: q.secs("active_within")?.unwrap_or(defaults.active_within),
            },
            timeout: q
                .millis("timeout_ms")?
                .unwrap_or(Duration::from_millis(500)),
            tls_ca: q.str("tls_ca").map(std::path::PathBuf::from),
        };
        if cfg.tls_ca.is_some() && !url.starts_with("rediss://") {
            return Err(q.error("tls_ca needs a rediss:// URL"));
        }
        q.finish()?;
        if cfg.tiers.active.is_zero() || cfg.tiers.inactive.is_zero() {
            return Err(Error::config("redis URL: TTLs must be at least one second"));
        }
        Ok(cfg)
    }
}

impl RedisConfig {
    /// A client for the URL; over TLS, trusting `tls_ca` when given.
    pub(crate) fn client(&self) -> Result<redis::Client> {
        let bad = |e| Error::config(format!("redis URL {:?}: {e}", redact(&self.url)));
        match &self.tls_ca {
            None => redis::Client::open(self.url.as_str()).map_err(bad),
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| Error::config(format!("redis tls_ca {}: {e}", path.display())))?;
                let certs = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                redis::Client::build_with_tls(self.url.as_str(), certs).map_err(bad)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let c = RedisConfig::from_url("redis://:pw@127.0.0.1:6379/2?prefix=bot&inactive_ttl=60")
            .unwrap();
        assert_eq!(c.url, "redis://:pw@127.0.0.1:6379/2");
        assert_eq!(c.prefix, "bot");
        assert_eq!(c.tiers.inactive, Duration::from_secs(60));
        assert!(!format!("{c:?}").contains("pw"));
        assert!(
            RedisConfig::from_url("redis://h?colour=red")
                .unwrap_err()
                .message()
                .contains("colour")
        );
        assert!(RedisConfig::from_url("http://h").is_err());
    }
}
