//! Conversions between rows and domain types.

use chrono::{DateTime, Utc};
use memory_core::{
    HistoryEvent, HistoryOp, MemoryKind, MemoryRecord, Message, Metadata, Result, Role, Scope,
    Session, StoredMemory, Topic, User, VectorState,
};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::error::{corrupt, map};

pub(crate) const MEMORY_COLUMNS: &str = "m.id, m.tenant, m.user_id, m.agent_id, m.session_id, m.content, m.kind, m.importance, m.confidence, m.metadata, m.source_message_ids, m.created_at, m.updated_at, m.last_accessed_at, m.access_count, m.expires_at, m.content_hash, m.embedding_model, m.vector_state, m.vector_attempts, m.version, m.valid_from, m.valid_until, m.superseded_by, m.supersedes";

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn time(v: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(v).ok_or_else(|| corrupt("timestamp", v))
}

pub(crate) fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r PgRow,
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

fn object(v: serde_json::Value, what: &str) -> Result<Metadata> {
    match v {
        serde_json::Value::Object(m) => Ok(m),
        other => Err(corrupt(what, format!("expected an object, got {other}"))),
    }
}

pub(crate) fn memory(row: &PgRow) -> Result<MemoryRecord> {
    let sources: serde_json::Value = get(row, "source_message_ids")?;
    Ok(MemoryRecord {
        id: get(row, "id")?,
        scope: Scope {
            tenant: get(row, "tenant")?,
            user_id: get(row, "user_id")?,
            agent_id: get(row, "agent_id")?,
            session_id: get(row, "session_id")?,
        },
        content: get(row, "content")?,
        kind: MemoryKind::parse(&get::<String>(row, "kind")?),
        importance: get(row, "importance")?,
        confidence: get(row, "confidence")?,
        metadata: object(get(row, "metadata")?, "metadata")?,
        source_message_ids: serde_json::from_value(sources)
            .map_err(|e| corrupt("source_message_ids", e))?,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
        last_accessed_at: time(get(row, "last_accessed_at")?)?,
        access_count: u64_of(get(row, "access_count")?),
        expires_at: get::<Option<i64>>(row, "expires_at")?
            .map(time)
            .transpose()?,
        valid_from: get::<Option<i64>>(row, "valid_from")?
            .map(time)
            .transpose()?,
        valid_until: get::<Option<i64>>(row, "valid_until")?
            .map(time)
            .transpose()?,
        superseded_by: get(row, "superseded_by")?,
        supersedes: get(row, "supersedes")?,
        content_hash: get(row, "content_hash")?,
        embedding_model: get(row, "embedding_model")?,
        vector_state: VectorState::parse(&get::<String>(row, "vector_state")?)?,
        vector_attempts: u32::try_from(get::<i32>(row, "vector_attempts")?).unwrap_or(0),
        version: u64_of(get(row, "version")?),
    })
}

pub(crate) fn stored(row: &PgRow) -> Result<StoredMemory> {
    Ok(StoredMemory::new(memory(row)?, get(row, "embedding")?))
}

pub(crate) fn history(row: &PgRow) -> Result<HistoryEvent> {
    Ok(HistoryEvent {
        id: get(row, "id")?,
        memory_id: get(row, "memory_id")?,
        tenant: get(row, "tenant")?,
        op: HistoryOp::parse(&get::<String>(row, "op")?)?,
        old_content: get(row, "old_content")?,
        new_content: get(row, "new_content")?,
        reason: get(row, "reason")?,
        created_at: time(get(row, "created_at")?)?,
    })
}

pub(crate) fn message(row: &PgRow) -> Result<Message> {
    Ok(Message {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        session_id: get(row, "session_id")?,
        user_id: get(row, "user_id")?,
        agent_id: get(row, "agent_id")?,
        role: Role::parse(&get::<String>(row, "role")?)?,
        author_name: get(row, "author_name")?,
        content: get(row, "content")?,
        created_at: time(get(row, "created_at")?)?,
        metadata: object(get(row, "metadata")?, "metadata")?,
        extracted: get(row, "extracted")?,
        answered: get(row, "answered")?,
        client_id: get(row, "client_id")?,
        topic_id: get(row, "topic_id")?,
    })
}

pub(crate) fn session(row: &PgRow) -> Result<Session> {
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
        metadata: object(get(row, "metadata")?, "metadata")?,
    })
}

pub(crate) fn user(row: &PgRow) -> Result<User> {
    Ok(User {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        external_id: get(row, "external_id")?,
        platform: get(row, "platform")?,
        display_name: get(row, "display_name")?,
        first_seen_at: time(get(row, "first_seen_at")?)?,
        last_seen_at: time(get(row, "last_seen_at")?)?,
        message_count: u64_of(get(row, "message_count")?),
        metadata: object(get(row, "metadata")?, "metadata")?,
    })
}

pub(crate) fn topic(row: &PgRow) -> Result<Topic> {
    Ok(Topic {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        session_id: get(row, "session_id")?,
        title: get(row, "title")?,
        outline: get(row, "outline")?,
        completed: get(row, "completed")?,
        metadata: object(get(row, "metadata")?, "metadata")?,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
    })
}
