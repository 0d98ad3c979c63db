//! Rate limits through the short-term tier, per user and global.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Memory;
use crate::traits::RateLimit;
use crate::{Error, ErrorKind, Result};

/// Calls allowed per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Per user (0 turns it off).
    pub per_user_per_minute: u32,
    /// Across all users of a tenant (0 turns it off).
    pub global_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_user_per_minute: 30,
            global_per_minute: 10_000,
        }
    }
}

impl Memory {
    /// Counts one call of `user_id` against the per-user and global limits.
    /// Refused calls fail with `RateLimited` and `retry_after` set (for a 429
    /// with `Retry-After`). A short-term tier that is down lets calls through:
    /// rate limiting protects the service, it must not take it down.
    pub async fn check_rate(&self, tenant: &str, user_id: &str) -> Result<()> {
        let limits = self.inner.config.rate_limits;
        let minute = Duration::from_secs(60);
        let checks = [
            (
                format!("user:{user_id}"),
                limits.per_user_per_minute,
                "per-user",
            ),
            ("global".to_owned(), limits.global_per_minute, "global"),
        ];
        for (subject, max, name) in checks {
            if max == 0 {
                continue;
            }
            match self
                .inner
                .short_term
                .check_rate(
                    tenant,
                    &subject,
                    RateLimit {
                        max,
                        window: minute,
                    },
                )
                .await
            {
                Ok(d) if d.allowed => {}
                Ok(d) => {
                    return Err(Error::new(
                        ErrorKind::RateLimited,
                        format!("{name} rate limit of {max} calls a minute reached"),
                    )
                    .with_retry_after(d.retry_after));
                }
                Err(e) => self.short_term_failed("rate limit", &e),
            }
        }
        Ok(())
    }
}
