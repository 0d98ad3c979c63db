//! Conversions between rows and domain types.

use chrono::{DateTime, Utc};
use memory_core::{
    HistoryEvent, HistoryOp, MemoryKind, MemoryRecord, Message, Metadata, Result, Role, Scope,
    Session, StoredMemory, Topic, User, VectorState,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::error::{corrupt, map};

pub(crate) const MEMORY_COLUMNS: &str = "m.id, m.tenant, m.user_id, m.agent_id, m.session_id, m.content, m.kind, m.importance, m.confidence, m.metadata, m.source_message_ids, m.created_at, m.updated_at, m.last_accessed_at, m.access_count, m.expires_at, m.content_hash, m.embedding_model, m.vector_state, m.vector_attempts, m.version, m.valid_from, m.valid_until, m.superseded_by, m.supersedes";

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn time(v: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(v).ok_or_else(|| corrupt("timestamp", v))
}

pub(crate) fn uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| corrupt("id", e))
}

pub(crate) fn json_map(s: &str) -> Result<Metadata> {
    serde_json::from_str(s).map_err(|e| corrupt("metadata", e))
}

pub(crate) fn get<'r, T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>>(
    row: &'r SqliteRow,
    col: &str,
) -> Result<T> {
    row.try_get(col).map_err(|e| map(e, "decode"))
}

pub(crate) fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Named columns of one row: a row as the driver returns it, or one a
/// statement aggregated into JSON (see `joined.rs`), so both are
/// read by the same decoders.
pub(crate) trait Cols {
    /// The text in `col`; `None` when NULL.
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    /// The integer in `col`; `None` when NULL.
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    /// The real number in `col`.
    fn real(&self, col: &str) -> Result<f64>;

    /// The text in `col`, which must not be NULL.
    fn text(&self, col: &str) -> Result<String> {
        self.opt_text(col)?
            .ok_or_else(|| corrupt(col, "unexpected NULL"))
    }

    /// The integer in `col`, which must not be NULL.
    fn int(&self, col: &str) -> Result<i64> {
        self.opt_int(col)?
            .ok_or_else(|| corrupt(col, "unexpected NULL"))
    }
}

impl Cols for SqliteRow {
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        get(self, col)
    }

    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        get(self, col)
    }

    fn real(&self, col: &str) -> Result<f64> {
        get(self, col)
    }
}

/// The names of [`MEMORY_COLUMNS`] as a row reports them.
pub(crate) fn memory_column_names() -> impl Iterator<Item = &'static str> {
    MEMORY_COLUMNS
        .split(", ")
        .map(|c| c.strip_prefix("m.").unwrap_or(c))
}

pub(crate) fn memory<R: Cols + ?Sized>(row: &R) -> Result<MemoryRecord> {
    let sources: Vec<Uuid> = serde_json::from_str(&row.text("source_message_ids")?)
        .map_err(|e| corrupt("source_message_ids", e))?;
    let opt_time = |col: &str| row.opt_int(col)?.map(time).transpose();
    let opt_uuid = |col: &str| row.opt_text(col)?.as_deref().map(uuid).transpose();
    #[allow(clippy::cast_possible_truncation)]
    Ok(MemoryRecord {
        id: uuid(&row.text("id")?)?,
        scope: Scope {
            tenant: row.text("tenant")?,
            user_id: row.opt_text("user_id")?,
            agent_id: row.opt_text("agent_id")?,
            session_id: row.opt_text("session_id")?,
        },
        content: row.text("content")?,
        kind: MemoryKind::parse(&row.text("kind")?),
        importance: row.real("importance")? as f32,
        confidence: row.real("confidence")? as f32,
        metadata: json_map(&row.text("metadata")?)?,
        source_message_ids: sources,
        created_at: time(row.int("created_at")?)?,
        updated_at: time(row.int("updated_at")?)?,
        last_accessed_at: time(row.int("last_accessed_at")?)?,
        access_count: u64_of(row.int("access_count")?),
        expires_at: opt_time("expires_at")?,
        valid_from: opt_time("valid_from")?,
        valid_until: opt_time("valid_until")?,
        superseded_by: opt_uuid("superseded_by")?,
        supersedes: opt_uuid("supersedes")?,
        content_hash: row.text("content_hash")?,
        embedding_model: row.opt_text("embedding_model")?,
        vector_state: VectorState::parse(&row.text("vector_state")?)?,
        vector_attempts: u32::try_from(row.int("vector_attempts")?).unwrap_or(u32::MAX),
        version: u64_of(row.int("version")?),
    })
}

pub(crate) fn stored(row: &SqliteRow) -> Result<StoredMemory> {
    let blob: Option<Vec<u8>> = get(row, "embedding")?;
    Ok(StoredMemory::new(
        memory(row)?,
        blob.map(|b| blob_to_vec(&b)),
    ))
}

pub(crate) fn vec_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn blob_to_vec(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

pub(crate) fn history(row: &SqliteRow) -> Result<HistoryEvent> {
    Ok(HistoryEvent {
        id: uuid(&get::<String>(row, "id")?)?,
        memory_id: uuid(&get::<String>(row, "memory_id")?)?,
        tenant: get(row, "tenant")?,
        op: HistoryOp::parse(&get::<String>(row, "op")?)?,
        old_content: get(row, "old_content")?,
        new_content: get(row, "new_content")?,
        reason: get(row, "reason")?,
        created_at: time(get(row, "created_at")?)?,
    })
}

pub(crate) fn message(row: &SqliteRow) -> Result<Message> {
    Ok(Message {
        id: uuid(&get::<String>(row, "id")?)?,
        tenant: get(row, "tenant")?,
        session_id: get(row, "session_id")?,
        user_id: get(row, "user_id")?,
        agent_id: get(row, "agent_id")?,
        role: Role::parse(&get::<String>(row, "role")?)?,
        author_name: get(row, "author_name")?,
        content: get(row, "content")?,
        created_at: time(get(row, "created_at")?)?,
        metadata: json_map(&get::<String>(row, "metadata")?)?,
        extracted: get::<i64>(row, "extracted")? != 0,
        answered: get::<i64>(row, "answered")? != 0,
        client_id: get(row, "client_id")?,
        topic_id: get::<Option<String>>(row, "topic_id")?
            .as_deref()
            .map(uuid)
            .transpose()?,
    })
}

pub(crate) fn session(row: &SqliteRow) -> Result<Session> {
    Ok(Session {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        user_id: get(row, "user_id")?,
        agent_id: get(row, "agent_id")?,
        title: get(row, "title")?,
        platform: get(row, "platform")?,
        external_id: get(row, "external_id")?,
        started_at: time(get(row, "started_at")?)?,
        ended_at: get::<Option<i64>>(row, "ended_at")?.map(time).transpose()?,
        metadata: json_map(&get::<String>(row, "metadata")?)?,
    })
}

pub(crate) fn user(row: &SqliteRow) -> Result<User> {
    Ok(User {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        external_id: get(row, "external_id")?,
        platform: get(row, "platform")?,
        display_name: get(row, "display_name")?,
        first_seen_at: time(get(row, "first_seen_at")?)?,
        last_seen_at: time(get(row, "last_seen_at")?)?,
        message_count: u64_of(get(row, "message_count")?),
        metadata: json_map(&get::<String>(row, "metadata")?)?,
    })
}

pub(crate) fn topic(row: &SqliteRow) -> Result<Topic> {
    Ok(Topic {
        id: uuid(&get::<String>(row, "id")?)?,
        tenant: get(row, "tenant")?,
        session_id: get(row, "session_id")?,
        title: get(row, "title")?,
        outline: serde_json::from_str(&get::<String>(row, "outline")?)
            .map_err(|e| corrupt("outline", e))?,
        completed: get::<i64>(row, "completed")? != 0,
        metadata: json_map(&get::<String>(row, "metadata")?)?,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
    })
}
