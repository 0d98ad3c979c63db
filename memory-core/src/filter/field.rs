//! The fields and operators a filter names, each spelled once.

use std::fmt;

use crate::{Error, Result};

/// A field a filter can test.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// `user_id`.
    UserId,
    /// `agent_id`.
    AgentId,
    /// `session_id`.
    SessionId,
    /// `kind`.
    Kind,
    /// `importance`.
    Importance,
    /// `confidence`.
    Confidence,
    /// `created_at`, compared as milliseconds.
    CreatedAt,
    /// `updated_at`, compared as milliseconds.
    UpdatedAt,
    /// `last_accessed_at`, compared as milliseconds.
    LastAccessedAt,
    /// `expires_at`, compared as milliseconds.
    ExpiresAt,
    /// `valid_from`, compared as milliseconds: when it became true.
    ValidFrom,
    /// `valid_until`, compared as milliseconds: when it stopped being true.
    ValidUntil,
    /// `metadata.<path>`: the path's segments.
    Metadata(Vec<String>),
}

impl Field {
    /// Every field but metadata paths.
    pub const FIXED: &'static [Field] = &[
        Field::UserId,
        Field::AgentId,
        Field::SessionId,
        Field::Kind,
        Field::Importance,
        Field::Confidence,
        Field::CreatedAt,
        Field::UpdatedAt,
        Field::LastAccessedAt,
        Field::ExpiresAt,
        Field::ValidFrom,
        Field::ValidUntil,
    ];

    /// The name a filter spells a fixed field with; `None` for metadata paths.
    pub fn fixed_name(&self) -> Option<&'static str> {
        Some(match self {
            Self::UserId => "user_id",
            Self::AgentId => "agent_id",
            Self::SessionId => "session_id",
            Self::Kind => "kind",
            Self::Importance => "importance",
            Self::Confidence => "confidence",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::LastAccessedAt => "last_accessed_at",
            Self::ExpiresAt => "expires_at",
            Self::ValidFrom => "valid_from",
            Self::ValidUntil => "valid_until",
            Self::Metadata(_) => return None,
        })
    }

    /// The names of the fixed fields, for error messages.
    pub fn names() -> Vec<&'static str> {
        Self::FIXED.iter().filter_map(Self::fixed_name).collect()
    }

    /// Parses a field name, validating metadata paths.
    pub fn parse(name: &str) -> Result<Self> {
        if let Some(f) = Self::FIXED.iter().find(|f| f.fixed_name() == Some(name)) {
            return Ok(f.clone());
        }
        // A memory's topic lives in its metadata (see `AddRequest::topic_id`).
        if name == "topic_id" {
            return Ok(Self::Metadata(vec![name.to_owned()]));
        }
        let Some(path) = name.strip_prefix("metadata.") else {
            return Err(Error::invalid(format!(
                "filter: unknown field {name:?} (expected one of {}, topic_id, or metadata.<key>)",
                Self::names().join(", ")
            )));
        };
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        if !segments.iter().all(|s| is_valid_key(s)) {
            return Err(Error::invalid(format!(
                "filter: invalid metadata key {name:?} (segments use letters, digits, _ and -, at most 64 bytes)"
            )));
        }
        Ok(Self::Metadata(segments))
    }

    /// Whether the field holds a timestamp.
    pub fn is_time(&self) -> bool {
        matches!(
            self,
            Self::CreatedAt
                | Self::UpdatedAt
                | Self::LastAccessedAt
                | Self::ExpiresAt
                | Self::ValidFrom
                | Self::ValidUntil
        )
    }

    /// Whether the field holds a number.
    pub fn is_numeric(&self) -> bool {
        self.is_time() || matches!(self, Self::Importance | Self::Confidence)
    }

    /// Whether the field holds text.
    pub fn is_text(&self) -> bool {
        matches!(
            self,
            Self::UserId | Self::AgentId | Self::SessionId | Self::Kind
        )
    }
}

/// Whether `s` is a valid metadata key segment.
pub fn is_valid_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.fixed_name(), self) {
            (Some(name), _) => f.write_str(name),
            (None, Self::Metadata(p)) => write!(f, "metadata.{}", p.join(".")),
            (None, _) => Ok(()),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal, or missing.
    Ne,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Equal to one of a list.
    In,
    /// Equal to none of a list, or missing.
    Nin,
    /// Substring of a string, or element of an array.
    Contains,
    /// Present (true) or absent (false).
    Exists,
}

impl Op {
    /// Every operator, for capabilities.
    pub const ALL: &'static [Op] = &[
        Op::Eq,
        Op::Ne,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::In,
        Op::Nin,
        Op::Contains,
        Op::Exists,
    ];

    /// The operator named `name` (a leading `$` is accepted).
    pub(super) fn parse(name: &str) -> Option<Self> {
        let name = name.strip_prefix('$').unwrap_or(name);
        Self::ALL.iter().copied().find(|o| o.as_str() == name)
    }

    /// The operator's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Gte => "gte",
            Self::Lt => "lt",
            Self::Lte => "lte",
            Self::In => "in",
            Self::Nin => "nin",
            Self::Contains => "contains",
            Self::Exists => "exists",
        }
    }
}
