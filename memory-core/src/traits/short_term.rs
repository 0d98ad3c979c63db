use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::BackendInfo;
use crate::{Message, Metadata, Result, Scope};

/// The key of one conversation in the short-term tier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SessionKey {
    /// Tenant.
    pub tenant: String,
    /// Session.
    pub session_id: String,
}

/// A rate limit: at most `max` calls per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RateLimit {
    /// Calls allowed per window.
    pub max: u32,
    /// Window length.
    pub window: Duration,
}

/// The answer of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RateDecision {
    /// Whether the call may proceed (and was counted).
    pub allowed: bool,
    /// Calls left in the window.
    pub remaining: u32,
    /// When refused: how long until a call would be allowed.
    pub retry_after: Duration,
}

/// What a short-term tier can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ShortTermCapabilities {
    /// Whether state survives a restart of this process.
    pub durable: bool,
    /// Whether several processes share it (rate limits hold across them).
    pub shared: bool,
}

/// Sizes of the short-term tier.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShortTermStats {
    /// Keys held.
    pub keys: u64,
    /// Active sessions.
    pub active_sessions: u64,
    /// Bytes used, where the backend reports it.
    pub memory_bytes: Option<u64>,
}

/// The live conversation: recent windows, session state, activity, rate limits.
///
/// # Behavior
///
/// - `push` appends to the session's window, trims it to `window` messages,
///   records the message as the user's last, marks the session active and
///   sets the TTL of everything it touched from the user's activity tier.
/// - `recent` returns at most `limit` messages, oldest first, and refreshes the TTL.
/// - `get_state` refreshes the TTL; `set_state` merges fields.
/// - Expired sessions disappear from `recent`, `get_state` and, after
///   `cleanup`, from `active_sessions`.
/// - `check_rate` counts a call only when it is allowed; under concurrency
///   exactly `max` calls per window are allowed.
/// - `restore` replaces a session's window (recovery from the long-term store).
/// - `clear` removes every key of the scope's owner.
/// - No key of one tenant is reachable from another.
#[async_trait]
pub trait ShortTerm: Send + Sync + std::fmt::Debug {
    /// What this tier is.
    fn info(&self) -> BackendInfo;
    /// What it can do.
    fn capabilities(&self) -> ShortTermCapabilities;

    /// Appends a message to its session's window.
    async fn push(&self, message: &Message, window: usize) -> Result<()>;
    /// The newest `limit` messages, oldest first.
    async fn recent(&self, key: &SessionKey, limit: usize) -> Result<Vec<Message>>;
    /// Replaces a session's window.
    async fn restore(&self, key: &SessionKey, messages: &[Message], window: usize) -> Result<()>;
    /// Merges fields into the session's state.
    async fn set_state(&self, key: &SessionKey, fields: &Metadata) -> Result<()>;
    /// The session's state.
    async fn get_state(&self, key: &SessionKey) -> Result<Option<Metadata>>;
    /// The last message a user sent.
    async fn last_message(&self, tenant: &str, user_id: &str) -> Result<Option<Message>>;
    /// Sessions with unexpired state or window.
    async fn active_sessions(&self, tenant: &str) -> Result<Vec<String>>;
    /// Drops expired sessions from the active set; returns how many.
    async fn cleanup(&self) -> Result<u64>;
    /// Counts a call against `subject`'s limit if it is allowed.
    async fn check_rate(
        &self,
        tenant: &str,
        subject: &str,
        limit: RateLimit,
    ) -> Result<RateDecision>;
    /// Removes every key of the scope's owner.
    async fn clear(&self, scope: &Scope) -> Result<()>;
    /// Sizes.
    async fn stats(&self) -> Result<ShortTermStats>;
}
