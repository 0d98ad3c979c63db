//! How a record of a collection another program wrote becomes a memory:
//! which metadata fields hold the owner, kind, importance, time and text.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::traits::ForeignRecord;
use crate::{EngineConfig, Error, MemoryKind, MemoryRecord, Result, Scope};

/// What a metadata field of a foreign record means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The user the memory is about.
    UserId,
    /// The agent (seed 003's `character_name`).
    AgentId,
    /// The session.
    SessionId,
    /// The kind (`fact`, `preference`, …).
    Kind,
    /// Importance, 1 to 10.
    Importance,
    /// When it was written: RFC 3339, or seconds or milliseconds since the epoch.
    CreatedAt,
    /// The text, for stores that keep no document apart (Qdrant payloads).
    Content,
}

impl Target {
    /// Parses a target name as `--map FIELD=TARGET` spells it.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "user_id" => Self::UserId,
            "agent_id" => Self::AgentId,
            "session_id" => Self::SessionId,
            "kind" => Self::Kind,
            "importance" => Self::Importance,
            "created_at" => Self::CreatedAt,
            "content" => Self::Content,
            other => {
                return Err(Error::invalid(format!(
                    "map: unknown target {other:?} (expected user_id, agent_id, session_id, kind, importance, created_at or content)"
                )));
            }
        })
    }
}

/// How the records of one foreign collection become memories.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignMapping {
    /// Tenant of every memory.
    pub tenant: String,
    /// The user of every memory, whatever the records say (`--user-id`).
    pub user_id: Option<String>,
    /// Metadata field → what it means; the first field present wins per
    /// target. By default `user_id`, `agent_id`, `session_id`, `kind`,
    /// `importance`, `created_at` mean themselves, `run_id` (mem0's) is the
    /// session and `document`, `text`, `content`, `memory`, `page_content`
    /// or `data` (mem0's) hold the text.
    pub fields: Vec<(String, Target)>,
    /// Keep the records' vectors (made by the model this engine uses)
    /// instead of embedding the text again.
    pub keep_embeddings: bool,
}

impl Default for ForeignMapping {
    fn default() -> Self {
        let mut fields: Vec<(String, Target)> = [
            ("user_id", Target::UserId),
            ("agent_id", Target::AgentId),
            ("session_id", Target::SessionId),
            ("run_id", Target::SessionId),
            ("kind", Target::Kind),
            ("importance", Target::Importance),
            ("created_at", Target::CreatedAt),
        ]
        .into_iter()
        .map(|(f, t)| (f.to_owned(), t))
        .collect();
        for f in [
            "document",
            "text",
            "content",
            "memory",
            "page_content",
            "data",
        ] {
            fields.push((f.to_owned(), Target::Content));
        }
        Self {
            tenant: crate::DEFAULT_TENANT.to_owned(),
            user_id: None,
            fields,
            keep_embeddings: false,
        }
    }
}

/// Why a record was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// No text.
    NoContent,
    /// No user, agent or session to own it.
    NoOwner,
    /// A value the engine refuses, with why.
    Invalid(String),
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn time_of(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        // Seconds until the year 5138; milliseconds past that.
        Value::Number(n) => match n.as_i64() {
            Some(i) if i.abs() < 100_000_000_000 => DateTime::from_timestamp_millis(i * 1000),
            Some(i) => DateTime::from_timestamp_millis(i),
            None => {
                let secs = n.as_f64()?;
                DateTime::from_timestamp_micros(format!("{:.0}", secs * 1e6).parse().ok()?)
            }
        },
        _ => None,
    }
}

impl ForeignMapping {
    /// Adds `--map FIELD=TARGET` pairs ahead of the defaults.
    pub fn with_maps(mut self, maps: &[String]) -> Result<Self> {
        let mut given = Vec::new();
        for m in maps {
            let (field, target) = m.split_once('=').ok_or_else(|| {
                Error::invalid(format!("map: {m:?} is not FIELD=TARGET (e.g. type=kind)"))
            })?;
            given.push((field.trim().to_owned(), Target::parse(target.trim())?));
        }
        given.extend(self.fields);
        self.fields = given;
        Ok(self)
    }

    /// The memory id a foreign record gets: derived from where it comes
    /// from, so a second run finds what the first one wrote.
    pub fn memory_id(source: &str, record_id: &str) -> Uuid {
        let namespace = Uuid::new_v5(&Uuid::NAMESPACE_URL, source.as_bytes());
        Uuid::new_v5(&namespace, record_id.as_bytes())
    }

    fn first<'r>(&self, r: &'r ForeignRecord, target: Target) -> Option<(&'r str, &'r Value)> {
        self.fields
            .iter()
            .filter(|(_, t)| *t == target)
            .find_map(|(f, _)| r.metadata.get_key_value(f).map(|(k, v)| (k.as_str(), v)))
    }

    /// The memory `r` becomes, or why it is skipped.
    pub fn map(
        &self,
        source: &str,
        r: &ForeignRecord,
        config: &EngineConfig,
    ) -> std::result::Result<MemoryRecord, Skip> {
        let mut used: Vec<&str> = Vec::new();
        let mut take = |target| {
            self.first(r, target).map(|(f, v)| {
                used.push(f);
                v
            })
        };
        let content = match &r.document {
            Some(d) if !d.trim().is_empty() => Some(d.clone()),
            _ => take(Target::Content).and_then(text_of),
        }
        .ok_or(Skip::NoContent)?;
        let user = match &self.user_id {
            Some(u) => Some(u.clone()),
            None => take(Target::UserId).and_then(text_of),
        };
        let scope = Scope {
            tenant: self.tenant.clone(),
            user_id: user,
            agent_id: take(Target::AgentId).and_then(text_of),
            session_id: take(Target::SessionId).and_then(text_of),
        };
        if scope.user_id.is_none() && scope.agent_id.is_none() && scope.session_id.is_none() {
            return Err(Skip::NoOwner);
        }
        let kind = take(Target::Kind).and_then(text_of);
        let importance = take(Target::Importance)
            .and_then(Value::as_f64)
            .and_then(|i| format!("{i}").parse::<f32>().ok())
            .filter(|i| (1.0..=10.0).contains(i));
        let created = take(Target::CreatedAt).and_then(time_of);
        let mut record = MemoryRecord::new(scope, content);
        record.id = Self::memory_id(source, &r.id);
        if let Some(k) = kind {
            record.kind = MemoryKind::parse(&k.to_lowercase());
        }
        if let Some(i) = importance {
            record.importance = i;
        }
        if let Some(t) = created {
            let t = crate::truncate_ms(t);
            record.created_at = t;
            record.updated_at = t;
            record.last_accessed_at = t;
        }
        for (k, v) in &r.metadata {
            if !used.contains(&k.as_str()) {
                record.metadata.insert(k.clone(), v.clone());
            }
        }
        record
            .metadata
            .insert("source_id".into(), Value::from(r.id.clone()));
        crate::engine::check_record(&record, config)
            .map_err(|e| Skip::Invalid(e.message().to_owned()))?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn record(metadata: Value, document: Option<&str>) -> ForeignRecord {
        ForeignRecord {
            id: "r1".into(),
            document: document.map(str::to_owned),
            metadata: metadata.as_object().cloned().unwrap(),
            embedding: None,
        }
    }

    #[test]
    fn fields_map_onto_the_memory() {
        let m = ForeignMapping::default()
            .with_maps(&[
                "type=kind".into(),
                "character_name=agent_id".into(),
                "ts=created_at".into(),
            ])
            .unwrap();
        let cfg = EngineConfig::default();
        let r = m
            .map(
                "chroma://h/c",
                &record(
                    json!({"user_id": 7, "character_name": "luna", "type": "Preference",
                           "ts": 1_740_822_000.5, "importance": 8, "extra": "kept"}),
                    Some("likes tea"),
                ),
                &cfg,
            )
            .unwrap();
        assert_eq!(r.scope.user_id.as_deref(), Some("7"));
        assert_eq!(r.scope.agent_id.as_deref(), Some("luna"));
        assert_eq!(r.kind, MemoryKind::Preference);
        assert!((r.importance - 8.0).abs() < f32::EPSILON);
        assert_eq!(r.created_at.timestamp_millis(), 1_740_822_000_500);
        assert_eq!(r.metadata.get("extra"), Some(&json!("kept")));
        assert!(!r.metadata.contains_key("type") && !r.metadata.contains_key("user_id"));
        assert_eq!(r.id, ForeignMapping::memory_id("chroma://h/c", "r1"));
        // Payload text when there is no document; milliseconds past 1e11.
        let r = m
            .map(
                "q",
                &record(
                    json!({"user_id": "u", "text": "from payload", "ts": 1_740_822_000_123_i64}),
                    None,
                ),
                &cfg,
            )
            .unwrap();
        assert_eq!(r.content, "from payload");
        assert_eq!(r.created_at.timestamp_millis(), 1_740_822_000_123);
        assert_eq!(
            m.map("q", &record(json!({"user_id": "u"}), None), &cfg),
            Err(Skip::NoContent)
        );
        assert_eq!(
            m.map("q", &record(json!({}), Some("x")), &cfg),
            Err(Skip::NoOwner)
        );
        assert!(matches!(
            m.map(
                "q",
                &record(json!({"user_id": "u", "bad key!": 1}), Some("x")),
                &cfg
            ),
            Err(Skip::Invalid(_))
        ));
        assert!(
            ForeignMapping::default()
                .with_maps(&["type=colour".into()])
                .is_err()
        );
        assert!(
            ForeignMapping::default()
                .with_maps(&["nothing".into()])
                .is_err()
        );
    }
}
