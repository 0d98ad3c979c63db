//! Memories, their kinds, vector state and history.

use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::*;

/// What kind of memory a record is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum MemoryKind {
    /// A concrete fact ("works as a nurse").
    #[default]
    Fact,
    /// A like or dislike ("prefers tea").
    Preference,
    /// Something that happened ("moved to Lyon in May").
    Event,
    /// A summary of a conversation.
    Summary,
    /// A stable profile attribute, always included in context.
    Profile,
    /// A conversation message kept as a searchable memory (`remember_messages`).
    Message,
    /// Any other kind the application names.
    Custom(String),
}

impl MemoryKind {
    /// The kind's name as stored.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Fact => "fact",
            Self::Preference => "preference",
            Self::Event => "event",
            Self::Summary => "summary",
            Self::Profile => "profile",
            Self::Message => "message",
            Self::Custom(s) => s,
        }
    }

    /// Parses a kind; unknown names become [`MemoryKind::Custom`].
    pub fn parse(s: &str) -> Self {
        match s {
            "fact" => Self::Fact,
            "preference" => Self::Preference,
            "event" => Self::Event,
            "summary" => Self::Summary,
            "profile" => Self::Profile,
            "message" => Self::Message,
            other => Self::Custom(other.to_owned()),
        }
    }
}

impl std::fmt::Display for MemoryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MemoryKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl schemars::JsonSchema for MemoryKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MemoryKind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "fact, preference, event, summary, profile, message, or any other name the application uses",
            "examples": ["fact", "preference", "event", "summary", "profile", "message"]
        })
    }
}

impl<'de> Deserialize<'de> for MemoryKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// Where a memory's vector stands relative to the vector index.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VectorState {
    /// Written to the store; the vector index has not confirmed it yet.
    #[default]
    Pending,
    /// The vector index holds the current vector.
    Synced,
    /// Upserting failed too many times; `sync` keeps trying on request.
    Failed,
}

impl VectorState {
    /// The state's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Synced => "synced",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored state name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(Self::Pending),
            "synced" => Ok(Self::Synced),
            "failed" => Ok(Self::Failed),
            other => Err(Error::internal(format!("unknown vector state {other:?}"))),
        }
    }
}

/// One long-term memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemoryRecord {
    /// UUIDv7, so ids sort by creation time.
    pub id: Uuid,
    /// Whose memory it is.
    pub scope: Scope,
    /// The remembered text.
    pub content: String,
    /// What kind of memory it is.
    pub kind: MemoryKind,
    /// How much it matters, 1–10 when written; decay lowers it over time.
    pub importance: f32,
    /// How sure the writer was, 0–1.
    pub confidence: f32,
    /// Free-form JSON object, filterable as `metadata.<key>`.
    pub metadata: Metadata,
    /// Messages it was extracted from.
    #[serde(default)]
    pub source_message_ids: Vec<Uuid>,
    /// When it was first written.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When a search or get last returned it.
    pub last_accessed_at: DateTime<Utc>,
    /// How often a search or get returned it.
    pub access_count: u64,
    /// When it stops being returned and is pruned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it became true (for an event, when it happened); absent means
    /// since `created_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    /// When it stopped being true: set when a newer memory supersedes it,
    /// which keeps it for history and `as_of` reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    /// The memory that superseded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<Uuid>,
    /// The memory it superseded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<Uuid>,
    /// SHA-256 of the normalised content, for exact de-duplication.
    pub content_hash: String,
    /// The embedder that made its vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
    /// Whether the vector index holds its vector.
    pub vector_state: VectorState,
    /// Failed attempts to write its vector.
    pub vector_attempts: u32,
    /// Incremented on every change, for optimistic concurrency.
    pub version: u64,
}

impl MemoryRecord {
    /// A new fact for `scope`, created now: importance 5, confidence 1,
    /// no metadata, its vector still to write.
    pub fn new(scope: Scope, content: impl Into<String>) -> Self {
        let content = content.into();
        let t = now();
        Self {
            id: Uuid::now_v7(),
            scope,
            content_hash: crate::hash::content_hash(&content),
            content,
            kind: MemoryKind::Fact,
            importance: 5.0,
            confidence: 1.0,
            metadata: Metadata::new(),
            source_message_ids: Vec::new(),
            created_at: t,
            updated_at: t,
            last_accessed_at: t,
            access_count: 0,
            expires_at: None,
            valid_from: None,
            valid_until: None,
            superseded_by: None,
            supersedes: None,
            embedding_model: None,
            vector_state: VectorState::Pending,
            vector_attempts: 0,
            version: 1,
        }
    }

    /// Whether it has expired at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }

    /// Whether it is still believed (no newer memory superseded it).
    pub fn is_current(&self) -> bool {
        self.valid_until.is_none()
    }
}

/// A memory as the store holds it: the record and its embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StoredMemory {
    /// The record.
    #[serde(flatten)]
    pub record: MemoryRecord,
    /// Its vector, kept so the index can be rebuilt without re-embedding;
    /// for a chunked memory, the vector of its first window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    /// Empty when one window of the embedder covers the content; else every
    /// window in order, each its own vector in the index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<StoredChunk>,
}

impl StoredMemory {
    /// A record with its vector and no chunks.
    pub fn new(record: MemoryRecord, embedding: Option<Vec<f32>>) -> Self {
        Self {
            record,
            embedding,
            chunks: Vec::new(),
        }
    }

    /// The index ids of its vectors: its own id, then its windows' after the first.
    pub fn vector_ids(&self) -> Vec<Uuid> {
        let mut ids = vec![self.record.id];
        ids.extend(
            self.chunks
                .iter()
                .filter(|c| c.index > 0)
                .map(|c| chunk_id(self.record.id, c.index)),
        );
        ids
    }
}

/// What a history row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HistoryOp {
    /// The memory was created.
    Add,
    /// Its content or attributes changed.
    Update,
    /// It was deleted.
    Delete,
    /// Decay lowered its importance.
    Decay,
    /// A near-duplicate was merged into it.
    Merge,
    /// A newer memory contradicted it: it got `valid_until` and `superseded_by`.
    Supersede,
}

impl HistoryOp {
    /// The op's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Decay => "decay",
            Self::Merge => "merge",
            Self::Supersede => "supersede",
        }
    }

    /// Parses a stored op name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "add" => Ok(Self::Add),
            "update" => Ok(Self::Update),
            "delete" => Ok(Self::Delete),
            "decay" => Ok(Self::Decay),
            "merge" => Ok(Self::Merge),
            "supersede" => Ok(Self::Supersede),
            other => Err(Error::internal(format!("unknown history op {other:?}"))),
        }
    }
}

/// One change of a memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HistoryEvent {
    /// UUIDv7.
    pub id: Uuid,
    /// The memory that changed.
    pub memory_id: Uuid,
    /// Tenant of the memory.
    pub tenant: String,
    /// What happened.
    pub op: HistoryOp,
    /// Content before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_content: Option<String>,
    /// Content after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_content: Option<String>,
    /// Why it happened.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl HistoryEvent {
    /// A history row for `record`, stamped now.
    pub fn new(
        record: &MemoryRecord,
        op: HistoryOp,
        old_content: Option<String>,
        new_content: Option<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            memory_id: record.id,
            tenant: record.scope.tenant.clone(),
            op,
            old_content,
            new_content,
            reason: reason.into(),
            created_at: now(),
        }
    }
}

/// A page of results and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from `limit + 1` items read past the cursor: the extra item
    /// only says that another page follows, whose cursor `cursor_of` makes
    /// from the page's last item.
    pub fn from_overfetch(
        mut items: Vec<T>,
        limit: usize,
        cursor_of: impl FnOnce(&T) -> String,
    ) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more {
            items.last().map(cursor_of)
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

/// An id with a score from an index; higher is better.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScoredId {
    /// The memory.
    pub id: Uuid,
    /// The index's score (cosine similarity, bm25…); higher is better.
    pub score: f32,
}
