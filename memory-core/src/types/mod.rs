//! The domain model: scopes, memories, messages, sessions, users, history.

mod chunk;
mod conversation;
mod memory;

pub use chunk::*;
pub use conversation::*;
pub use memory::*;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Error, Result};

/// A JSON object of free-form metadata.
pub type Metadata = Map<String, Value>;

/// Now, truncated to milliseconds: the precision every backend stores.
pub fn now() -> DateTime<Utc> {
    truncate_ms(Utc::now())
}

/// A time truncated to milliseconds.
pub fn truncate_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// The tenant used when none is given.
pub const DEFAULT_TENANT: &str = "default";

fn default_tenant() -> String {
    DEFAULT_TENANT.to_owned()
}

/// Whose memory this is: every record carries one and every read is filtered by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Scope {
    /// Isolation boundary between customers; `"default"` unless set.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The end user the memory is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The agent (persona, character, bot) that holds the memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The conversation the memory came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl Default for Scope {
    fn default() -> Self {
        Self {
            tenant: default_tenant(),
            user_id: None,
            agent_id: None,
            session_id: None,
        }
    }
}

/// The longest id (tenant, user, agent, session) accepted, in bytes.
pub const MAX_ID_BYTES: usize = 256;

impl Scope {
    /// The scope of one user in the default tenant.
    pub fn user(user_id: impl Into<String>) -> Self {
        Self {
            user_id: Some(user_id.into()),
            ..Self::default()
        }
    }

    /// Sets the tenant.
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }

    /// Sets the agent.
    pub fn with_agent(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = Some(agent_id.into());
        self
    }

    /// Sets the session.
    pub fn with_session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// Whether at least one of user, agent or session is set.
    pub fn is_owned(&self) -> bool {
        self.user_id.is_some() || self.agent_id.is_some() || self.session_id.is_some()
    }

    /// Checks every id; a write scope must also name a user, agent or session.
    pub fn validate(&self, for_write: bool) -> Result<()> {
        validate_id("tenant", &self.tenant)?;
        for (name, v) in [
            ("user_id", &self.user_id),
            ("agent_id", &self.agent_id),
            ("session_id", &self.session_id),
        ] {
            if let Some(v) = v {
                validate_id(name, v)?;
            }
        }
        if for_write && !self.is_owned() {
            return Err(Error::invalid(
                "scope: a write needs at least one of user_id, agent_id or session_id",
            ));
        }
        Ok(())
    }

    /// A stable key of user, agent and session, used for uniqueness.
    pub fn owner_key(&self) -> String {
        let part = |v: &Option<String>| v.as_deref().unwrap_or("").to_owned();
        format!(
            "{}\u{1f}{}\u{1f}{}",
            part(&self.user_id),
            part(&self.agent_id),
            part(&self.session_id)
        )
    }
}

/// Checks one id: not empty, not too long, no control characters.
pub fn validate_id(name: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(format!("{name}: must not be empty")));
    }
    if value.len() > MAX_ID_BYTES {
        return Err(Error::invalid(format!(
            "{name}: {} bytes, the maximum is {MAX_ID_BYTES}",
            value.len()
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{name}: must not contain control characters"
        )));
    }
    Ok(())
}
