//! `redis://` URLs.

use std::time::Duration;

use memory_core::{Error, Result, TtlTiers};

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
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact(&self.url))
            .field("prefix", &self.prefix)
            .field("tiers", &self.tiers)
            .finish_non_exhaustive()
    }
}

pub(crate) use memory_core::redact_url as redact;

impl RedisConfig {
    /// Parses `redis://[user:pass@]host:port/db?prefix=memory&active_ttl=86400&inactive_ttl=3600&active_within=86400&timeout_ms=500`.
    /// Unknown keys are errors.
    pub fn from_url(url: &str) -> Result<Self> {
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(Error::config(format!(
                "not a redis URL: {:?} (expected redis://host:port/db)",
                redact(url)
            )));
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut cfg = Self {
            url: base.to_owned(),
            prefix: "memory".into(),
            tiers: TtlTiers::default(),
            timeout: Duration::from_millis(500),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let secs = || {
                v.parse::<u64>().map(Duration::from_secs).map_err(|_| {
                    Error::config(format!(
                        "redis URL: {k}={v:?} is not a whole number of seconds"
                    ))
                })
            };
            match k {
                "prefix" if !v.is_empty() && !v.contains(':') => cfg.prefix = v.to_owned(),
                "prefix" => {
                    return Err(Error::config(
                        "redis URL: prefix must be non-empty and without ':'",
                    ));
                }
                "active_ttl" => cfg.tiers.active = secs()?,
                "inactive_ttl" => cfg.tiers.inactive = secs()?,
                "active_within" => cfg.tiers.active_within = secs()?,
                "timeout_ms" => {
                    cfg.timeout = v.parse::<u64>().map(Duration::from_millis).map_err(|_| {
                        Error::config(format!("redis URL: timeout_ms={v:?} is not a whole number"))
                    })?
                }
                other => {
                    return Err(Error::config(format!(
                        "redis URL: unknown key {other:?} (expected prefix, active_ttl, inactive_ttl, active_within, timeout_ms)"
                    )));
                }
            }
        }
        if cfg.tiers.active.is_zero() || cfg.tiers.inactive.is_zero() {
            return Err(Error::config("redis URL: TTLs must be at least one second"));
        }
        Ok(cfg)
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
