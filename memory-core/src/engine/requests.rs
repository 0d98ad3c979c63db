//! Write requests and their validation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::EngineConfig;
use crate::filter::is_valid_key;
use crate::{Error, MemoryKind, MemoryRecord, Metadata, Result, Scope, VectorState};

fn default_importance() -> f32 {
    5.0
}

fn default_confidence() -> f32 {
    1.0
}

/// A memory to add.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddRequest {
    /// Whose memory it is; needs a user, agent or session.
    #[serde(flatten)]
    pub scope: Scope,
    /// The text to remember.
    pub content: String,
    /// Kind; `fact` by default.
    #[serde(default)]
    pub kind: MemoryKind,
    /// 1–10; 5 by default.
    #[serde(default = "default_importance")]
    pub importance: f32,
    /// 0–1; 1 by default.
    #[serde(default = "default_confidence")]
    pub confidence: f32,
    /// JSON object.
    #[serde(default)]
    pub metadata: Metadata,
    /// Messages it came from.
    #[serde(default)]
    pub source_message_ids: Vec<Uuid>,
    /// When it expires.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it became true or happened, if not when it is added.
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    /// A current memory of the same owner this one contradicts: that one
    /// gets `valid_until` (this one's `valid_from`) and `superseded_by`,
    /// and stays for history and `as_of` reads.
    #[serde(default)]
    pub supersedes: Option<Uuid>,
    /// Merge into the owner's nearest memory when its cosine similarity is
    /// at least this, overriding the engine's `dedup_threshold` (off by default).
    #[serde(default)]
    pub dedup_threshold: Option<f32>,
    /// The topic it is about: kept as `metadata.topic_id` and filtered by
    /// the field `topic_id`; the topic must exist.
    #[serde(default)]
    pub topic_id: Option<Uuid>,
}

impl AddRequest {
    /// A fact with default importance for `scope`.
    pub fn new(scope: Scope, content: impl Into<String>) -> Self {
        Self {
            scope,
            content: content.into(),
            kind: MemoryKind::Fact,
            importance: default_importance(),
            confidence: default_confidence(),
            metadata: Metadata::new(),
            source_message_ids: Vec::new(),
            expires_at: None,
            valid_from: None,
            supersedes: None,
            dedup_threshold: None,
            topic_id: None,
        }
    }

    /// Sets the kind.
    pub fn kind(mut self, kind: MemoryKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the importance.
    pub fn importance(mut self, importance: f32) -> Self {
        self.importance = importance;
        self
    }

    /// Sets the metadata.
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets the expiry.
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Sets when it became true.
    pub fn valid_from(mut self, at: DateTime<Utc>) -> Self {
        self.valid_from = Some(at);
        self
    }

    /// Merges into a near-duplicate at this similarity (see [`AddRequest::dedup_threshold`]).
    pub fn dedup_threshold(mut self, threshold: f32) -> Self {
        self.dedup_threshold = Some(threshold);
        self
    }

    /// Supersedes the memory `id` (see [`AddRequest::supersedes`]).
    pub fn supersedes(mut self, id: Uuid) -> Self {
        self.supersedes = Some(id);
        self
    }

    pub(crate) fn validate(&self, config: &EngineConfig) -> Result<()> {
        self.scope.validate(true)?;
        validate_content(&self.content, config)?;
        validate_importance(self.importance)?;
        validate_confidence(self.confidence)?;
        validate_metadata(&self.metadata)?;
        if let Some(t) = self.dedup_threshold
            && !(t.is_finite() && (0.0..=1.0).contains(&t))
        {
            return Err(Error::invalid(format!(
                "dedup_threshold: must be within 0 and 1, got {t}"
            )));
        }
        if self.supersedes.is_some() && self.dedup_threshold.is_some() {
            return Err(Error::invalid(
                "dedup_threshold: a memory that supersedes another is never merged",
            ));
        }
        validate_kind(&self.kind)
    }
}

/// Changes to a memory; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// New text (re-embedded).
    #[serde(default)]
    pub content: Option<String>,
    /// New kind.
    #[serde(default)]
    pub kind: Option<MemoryKind>,
    /// New importance.
    #[serde(default)]
    pub importance: Option<f32>,
    /// New confidence.
    #[serde(default)]
    pub confidence: Option<f32>,
    /// New metadata (replaces the old object).
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// New expiry.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Fail with `Conflict` unless the stored version is this one.
    #[serde(default)]
    pub expected_version: Option<u64>,
    /// Why, for the history row.
    #[serde(default)]
    pub reason: Option<String>,
}

impl UpdateRequest {
    pub(crate) fn validate(&self, config: &EngineConfig) -> Result<()> {
        if let Some(c) = &self.content {
            validate_content(c, config)?;
        }
        if let Some(i) = self.importance {
            validate_importance(i)?;
        }
        if let Some(c) = self.confidence {
            validate_confidence(c)?;
        }
        if let Some(m) = &self.metadata {
            validate_metadata(m)?;
        }
        if let Some(k) = &self.kind {
            validate_kind(k)?;
        }
        Ok(())
    }
}

/// What `add` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddEvent {
    /// A new memory was written.
    Added,
    /// The same content already existed in the scope; nothing was written.
    Unchanged,
    /// A near-duplicate existed and was updated with the new content.
    Merged,
}

impl AddEvent {
    /// The event's name as serialized (`added`, `unchanged`, `merged`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Unchanged => "unchanged",
            Self::Merged => "merged",
        }
    }
}

/// The result of adding one memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AddOutcome {
    /// The memory's id (the existing one for `Unchanged` and `Merged`).
    pub id: Uuid,
    /// What happened.
    pub event: AddEvent,
    /// Whether the vector index confirmed the vector.
    pub vector_state: VectorState,
    /// For `Merged`: the similarity to the existing memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
}

/// The checks an added memory passes, for one built elsewhere (an import
/// of a foreign collection).
pub(crate) fn check_record(r: &MemoryRecord, config: &EngineConfig) -> Result<()> {
    r.scope.validate(true)?;
    validate_content(&r.content, config)?;
    validate_metadata(&r.metadata)
}

pub(crate) fn validate_content(content: &str, config: &EngineConfig) -> Result<()> {
    if content.trim().is_empty() {
        return Err(Error::invalid("content: must not be empty"));
    }
    if content.len() > config.max_content_bytes {
        return Err(Error::invalid(format!(
            "content: {} bytes, the maximum is {} (engine.max_content_bytes)",
            content.len(),
            config.max_content_bytes
        )));
    }
    if content.contains('\0') {
        return Err(Error::invalid("content: must not contain NUL characters"));
    }
    Ok(())
}

fn validate_importance(i: f32) -> Result<()> {
    if i.is_finite() && (1.0..=10.0).contains(&i) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "importance: must be within 1 and 10, got {i}"
        )))
    }
}

fn validate_confidence(c: f32) -> Result<()> {
    if c.is_finite() && (0.0..=1.0).contains(&c) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "confidence: must be within 0 and 1, got {c}"
        )))
    }
}

fn validate_kind(k: &MemoryKind) -> Result<()> {
    if is_valid_key(k.as_str()) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "kind: {:?} is not a valid kind (letters, digits, _ and -, at most 64 bytes)",
            k.as_str()
        )))
    }
}

/// The largest metadata object accepted, serialised.
pub(crate) const MAX_METADATA_BYTES: usize = 16 * 1024;

pub(crate) fn validate_metadata(m: &Metadata) -> Result<()> {
    if let Some(k) = m.keys().find(|k| !is_valid_key(k)) {
        return Err(Error::invalid(format!(
            "metadata: key {k:?} is not valid (letters, digits, _ and -, at most 64 bytes)"
        )));
    }
    let size = serde_json::to_vec(m).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(Error::invalid(format!(
            "metadata: {size} bytes serialised, the maximum is {MAX_METADATA_BYTES}"
        )));
    }
    Ok(())
}
