//! Conversations: messages, sessions and the users who write them.

use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::*;

/// Who wrote a message.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The human.
    #[default]
    User,
    /// The agent.
    Assistant,
    /// A system prompt or notice.
    System,
    /// A tool result.
    Tool,
}

impl Role {
    /// The role's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::System => "system",
            Self::Tool => "tool",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "user" => Ok(Self::User),
            "assistant" => Ok(Self::Assistant),
            "system" => Ok(Self::System),
            "tool" => Ok(Self::Tool),
            other => Err(Error::invalid(format!(
                "role: unknown role {other:?} (expected user, assistant, system or tool)"
            ))),
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Message {
    /// UUIDv7.
    pub id: Uuid,
    /// Tenant of the conversation.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The conversation.
    pub session_id: String,
    /// The human in the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The agent in the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Who wrote it.
    pub role: Role,
    /// Display name of the author (a chat viewer's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    /// The text.
    pub content: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Free-form metadata (e.g. a comment type).
    #[serde(default)]
    pub metadata: Metadata,
    /// Whether memories were extracted from it.
    #[serde(default)]
    pub extracted: bool,
    /// Whether the agent answered it.
    #[serde(default)]
    pub answered: bool,
    /// The sender's own id for it, unique in its session: recording it again
    /// (a client's retry) is a no-op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The topic of its session it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<Uuid>,
}

/// A conversation: a chat, a stream, a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Session {
    /// Caller-chosen id.
    pub id: String,
    /// Tenant.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The human, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The agent, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Platform (youtube, whatsapp, web…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Its id on the platform (a stream's video id), unique per platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: Metadata,
}

/// A person the agent talks to (a chat viewer, a customer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct User {
    /// Caller-chosen id, unique in the tenant.
    pub id: String,
    /// Tenant.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Id on an external platform; unique together with `platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The platform of `external_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// First message seen.
    pub first_seen_at: DateTime<Utc>,
    /// Last message seen.
    pub last_seen_at: DateTime<Utc>,
    /// Messages recorded.
    pub message_count: u64,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: Metadata,
}

/// A subject a session works through (seed 000's stream topics): what a
/// streamer planned to talk about, and whether it was covered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Topic {
    /// UUIDv7.
    pub id: Uuid,
    /// Tenant.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The session it belongs to.
    pub session_id: String,
    /// Title.
    pub title: String,
    /// Any JSON: the planned points, usually a list.
    #[serde(default)]
    pub outline: serde_json::Value,
    /// Whether it was covered.
    #[serde(default)]
    pub completed: bool,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: Metadata,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}
