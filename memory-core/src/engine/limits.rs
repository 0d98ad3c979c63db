//! Rate limits through the short-term tier: per end user, per API key and
//! global, each in its own bucket.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Memory;
use crate::traits::RateLimit;
use crate::{Error, ErrorKind, Result};

/// Calls allowed per window (a minute by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Per end user: the user a call acts on, whichever key makes it (0 turns it off).
    pub per_user_per_minute: u32,
    /// Per API key of the server (0 turns it off).
    pub per_key_per_minute: u32,
    /// Across all users of a tenant (0 turns it off).
    pub global_per_minute: u32,
    /// The window the limits count over, in seconds.
    pub window_secs: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_user_per_minute: 30,
            per_key_per_minute: 600,
            global_per_minute: 10_000,
            window_secs: 60,
        }
    }
}

/// A bucket: what it counts, its limit, and its name in errors.
struct Bucket {
    subject: String,
    max: u32,
    name: &'static str,
}

impl Memory {
    /// Counts one call acting on `user_id` against the per-user and global
    /// limits (seed 001's 30 per user and 10,000 in all a minute). Refused
    /// calls fail with `RateLimited` and `retry_after` set (for a 429 with
    /// `Retry-After`). A short-term tier that is down lets calls through:
    /// rate limiting protects the service, it must not take it down.
    pub async fn check_rate(&self, tenant: &str, user_id: &str) -> Result<()> {
        let l = self.inner.config.rate_limits;
        self.count(
            tenant,
            [
                self.user_bucket(user_id),
                Self::global_bucket(l.global_per_minute),
            ],
        )
        .await
    }

    /// Counts one call acting on `user_id` against the per-user limit only
    /// (the server counts the global limit once per request, by key).
    pub async fn check_user_rate(&self, tenant: &str, user_id: &str) -> Result<()> {
        self.count(tenant, [self.user_bucket(user_id)]).await
    }

    /// Counts one request of the API key named `key` against the per-key
    /// and global limits.
    pub async fn check_key_rate(&self, tenant: &str, key: &str) -> Result<()> {
        let l = self.inner.config.rate_limits;
        let per_key = Bucket {
            subject: format!("key:{key}"),
            max: l.per_key_per_minute,
            name: "per-key",
        };
        self.count(tenant, [per_key, Self::global_bucket(l.global_per_minute)])
            .await
    }

    fn user_bucket(&self, user_id: &str) -> Bucket {
        // Each kind of subject has its own prefix: a user named like a key
        // never shares the key's bucket.
        Bucket {
            subject: format!("user:{user_id}"),
            max: self.inner.config.rate_limits.per_user_per_minute,
            name: "per-user",
        }
    }

    fn global_bucket(max: u32) -> Bucket {
        Bucket {
            subject: "global".to_owned(),
            max,
            name: "global",
        }
    }

    async fn count<const N: usize>(&self, tenant: &str, buckets: [Bucket; N]) -> Result<()> {
        let window = Duration::from_secs(self.inner.config.rate_limits.window_secs.max(1));
        for b in buckets {
            if b.max == 0 {
                continue;
            }
            let limit = RateLimit { max: b.max, window };
            match self
                .inner
                .short_term
                .check_rate(tenant, &b.subject, limit)
                .await
            {
                Ok(d) if d.allowed => {}
                Ok(d) => {
                    return Err(Error::new(
                        ErrorKind::RateLimited,
                        format!(
                            "{} rate limit of {} calls per {} s reached",
                            b.name,
                            b.max,
                            window.as_secs()
                        ),
                    )
                    .with_retry_after(d.retry_after));
                }
                Err(e) => self.short_term_failed("rate limit", &e),
            }
        }
        Ok(())
    }
}
