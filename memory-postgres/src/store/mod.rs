//! `Store` on PostgreSQL.

use chrono::{DateTime, Utc};
use memory_core::{
    BackendInfo, ChangeSet, Error, ErrorKind, ForgetReport, HistoryEvent, ListQuery, MemoryRecord,
    Message, Op, OutboxEntry, Page, Result, Scope, ScopeStats, Session, StoreCapabilities,
    StoreStats, StoredMemory, User, UserTouch, VectorOp,
};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::PgDb;
use crate::error::map;
use crate::filter_sql::{MemoryColumns, push_and};
use crate::rows::{self, MEMORY_COLUMNS, get, i64_of, ms};

/// Records, messages, sessions, users, history and the outbox in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) db: PgDb,
}

impl PgStore {
    pub(crate) fn new(db: PgDb) -> Self {
        Self { db }
    }
}

/// Locks memory rows in id order. Every transaction that touches both
/// memories and outbox rows calls this first, so all take their locks in the
/// order memories → outbox; the reverse deadlocks against a concurrent merge.
async fn lock_memories(conn: &mut PgConnection, ids: &[Uuid]) -> Result<()> {
    sqlx::query("SELECT 1 FROM memories WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(ids)
        .execute(&mut *conn)
        .await
        .map_err(|e| map(e, "lock memories"))?;
    Ok(())
}

fn json(m: &memory_core::Metadata) -> serde_json::Value {
    serde_json::Value::Object(m.clone())
}

async fn apply_in(conn: &mut PgConnection, changes: &ChangeSet, lang: &str) -> Result<()> {
    for chunk in changes.insert.chunks(500) {
        let mut qb = QueryBuilder::<Postgres>::new(
            "INSERT INTO memories (id, tenant, user_id, agent_id, session_id, owner_key, content, kind, importance, confidence, metadata, source_message_ids, created_at, updated_at, last_accessed_at, access_count, expires_at, content_hash, embedding_model, embedding, vector_state, vector_attempts, version, valid_from, valid_until, superseded_by, supersedes, tsv) ",
        );
        qb.push_values(chunk, |mut b, m: &StoredMemory| {
            let r = &m.record;
            b.push_bind(r.id)
                .push_bind(r.scope.tenant.clone())
                .push_bind(r.scope.user_id.clone())
                .push_bind(r.scope.agent_id.clone())
                .push_bind(r.scope.session_id.clone())
                .push_bind(r.scope.owner_key())
                .push_bind(r.content.clone())
                .push_bind(r.kind.as_str().to_owned())
                .push_bind(r.importance)
                .push_bind(r.confidence)
                .push_bind(json(&r.metadata))
                .push_bind(serde_json::json!(r.source_message_ids))
                .push_bind(ms(r.created_at))
                .push_bind(ms(r.updated_at))
                .push_bind(ms(r.last_accessed_at))
                .push_bind(i64_of(r.access_count))
                .push_bind(r.expires_at.map(ms))
                .push_bind(r.content_hash.clone())
                .push_bind(r.embedding_model.clone())
                .push_bind(m.embedding.clone())
                .push_bind(r.vector_state.as_str())
                .push_bind(i32::try_from(r.vector_attempts).unwrap_or(i32::MAX))
                .push_bind(i64_of(r.version))
                .push_bind(r.valid_from.map(ms))
                .push_bind(r.valid_until.map(ms))
                .push_bind(r.superseded_by)
                .push_bind(r.supersedes)
                .push("to_tsvector(")
                .push_bind_unseparated(lang.to_owned())
                .push_unseparated("::regconfig, ")
                .push_bind_unseparated(memory_core::text::index_terms(&r.content))
                .push_unseparated(")");
        });
        qb.build()
            .execute(&mut *conn)
            .await
            .map_err(|e| map(e, "insert memories"))?;
    }
    for u in &changes.update {
        let r = &u.memory.record;
        let mut qb = QueryBuilder::<Postgres>::new("UPDATE memories SET user_id = ");
        qb.push_bind(r.scope.user_id.clone())
            .push(", agent_id = ")
            .push_bind(r.scope.agent_id.clone())
            .push(", session_id = ")
            .push_bind(r.scope.session_id.clone())
            .push(", owner_key = ")
            .push_bind(r.scope.owner_key())
            .push(", content = ")
            .push_bind(r.content.clone())
            .push(", tsv = to_tsvector(")
            .push_bind(lang.to_owned())
            .push("::regconfig, ")
            .push_bind(memory_core::text::index_terms(&r.content))
            .push("), kind = ")
            .push_bind(r.kind.as_str().to_owned())
            .push(", importance = ")
            .push_bind(r.importance)
            .push(", confidence = ")
            .push_bind(r.confidence)
            .push(", metadata = ")
            .push_bind(json(&r.metadata))
            .push(", source_message_ids = ")
            .push_bind(serde_json::json!(r.source_message_ids))
            .push(", updated_at = ")
            .push_bind(ms(r.updated_at))
            .push(", expires_at = ")
            .push_bind(r.expires_at.map(ms))
            .push(", content_hash = ")
            .push_bind(r.content_hash.clone())
            .push(", embedding_model = ")
            .push_bind(r.embedding_model.clone())
            .push(", version = ")
            .push_bind(i64_of(r.version))
            .push(", valid_from = ")
            .push_bind(r.valid_from.map(ms))
            .push(", valid_until = ")
            .push_bind(r.valid_until.map(ms))
            .push(", superseded_by = ")
            .push_bind(r.superseded_by)
            .push(", supersedes = ")
            .push_bind(r.supersedes);
        if u.replace_embedding {
            qb.push(", embedding = ")
                .push_bind(u.memory.embedding.clone());
        }
        qb.push(" WHERE id = ")
            .push_bind(r.id)
            .push(" AND tenant = ")
            .push_bind(r.scope.tenant.clone());
        qb.push(" AND version = ")
            .push_bind(i64_of(u.expected_version));
        let done = qb
            .build()
            .execute(&mut *conn)
            .await
            .map_err(|e| map(e, "update memory"))?;
        if done.rows_affected() != 1 {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "memory {} changed or vanished since version {} was read",
                    r.id, u.expected_version
                ),
            )
            .with_backend("postgres"));
        }
    }
    if !changes.outbox.is_empty() {
        let ids: Vec<Uuid> = changes.outbox.iter().map(|(id, _)| *id).collect();
        lock_memories(conn, &ids).await?;
        let known: std::collections::HashMap<Uuid, String> = changes
            .insert
            .iter()
            .map(|m| &m.record)
            .chain(changes.update.iter().map(|u| &u.memory.record))
            .map(|r| (r.id, r.scope.tenant.clone()))
            .chain(
                changes
                    .history
                    .iter()
                    .map(|h| (h.memory_id, h.tenant.clone())),
            )
            .collect();
        // A memory's tenant comes from this change set, else from its row
        // (still present: deletes run last).
        let rows: Vec<(Uuid, Option<String>, VectorOp)> = changes
            .outbox
            .iter()
            .map(|(id, op)| (*id, known.get(id).cloned(), *op))
            .collect();
        queue_outbox(conn, &rows).await?;
    }
    // A rewritten vector retires the windows the new content no longer has;
    // a deleted memory retires all of them (their rows go by cascade).
    for u in changes.update.iter().filter(|u| u.replace_embedding) {
        chunks::retire(conn, u.memory.record.id, u.memory.chunks.len()).await?;
    }
    if !changes.delete.is_empty() {
        chunks::retire_all(conn, &changes.delete).await?;
    }
    chunks::write(conn, &changes.vectors_written()).await?;
    for chunk in changes.history.chunks(500) {
        let mut qb = QueryBuilder::<Postgres>::new(
            "INSERT INTO history (id, memory_id, tenant, op, old_content, new_content, reason, created_at) ",
        );
        qb.push_values(chunk, |mut b, h: &HistoryEvent| {
            b.push_bind(h.id)
                .push_bind(h.memory_id)
                .push_bind(h.tenant.clone())
                .push_bind(h.op.as_str())
                .push_bind(h.old_content.clone())
                .push_bind(h.new_content.clone())
                .push_bind(h.reason.clone())
                .push_bind(ms(h.created_at));
        });
        qb.build()
            .execute(&mut *conn)
            .await
            .map_err(|e| map(e, "insert history"))?;
    }
    if !changes.delete.is_empty() {
        sqlx::query("DELETE FROM memories WHERE id = ANY($1)")
            .bind(&changes.delete)
            .execute(&mut *conn)
            .await
            .map_err(|e| map(e, "delete memories"))?;
    }
    if !changes.mark_extracted.is_empty() {
        sqlx::query("UPDATE messages SET extracted = true WHERE id = ANY($1)")
            .bind(&changes.mark_extracted)
            .execute(&mut *conn)
            .await
            .map_err(|e| map(e, "mark extracted"))?;
    }
    jobs::insert_jobs(conn, &changes.jobs).await?;
    Ok(())
}

/// Writes outbox rows after every row already queued, in one statement;
/// a row for an id already queued (or queued again later in `rows`) takes
/// the later place with the later op. A row without a tenant takes its
/// memory's. An upsert marks its memory's vector pending.
pub(crate) async fn queue_outbox(
    conn: &mut PgConnection,
    rows: &[(Uuid, Option<String>, VectorOp)],
) -> Result<()> {
    // One INSERT cannot update the row it inserted: an id's last op alone
    // is written, at its own place.
    let last: std::collections::HashMap<Uuid, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, (id, _, _))| (*id, i))
        .collect();
    let kept = rows
        .iter()
        .enumerate()
        .filter(|(i, (id, _, _))| last.get(id) == Some(i))
        .map(|(_, row)| row);
    let (mut ids, mut tenants, mut ops, mut upserts) = (vec![], vec![], vec![], vec![]);
    for (id, tenant, op) in kept {
        ids.push(*id);
        tenants.push(tenant.clone());
        ops.push(op.as_str());
        if *op == VectorOp::Upsert {
            upserts.push(*id);
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO outbox (memory_id, tenant, op, attempts, last_error) \
         SELECT q.id, COALESCE(q.tenant, (SELECT m.tenant FROM memories m WHERE m.id = q.id), ''), q.op, 0, NULL \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS q(id, tenant, op, pos) \
         ORDER BY q.pos \
         ON CONFLICT (memory_id) DO UPDATE SET op = excluded.op, attempts = 0, last_error = NULL, \
         seq = nextval(pg_get_serial_sequence('outbox', 'seq'))",
    )
    .bind(&ids)
    .bind(&tenants)
    .bind(&ops)
    .execute(&mut *conn)
    .await
    .map_err(|e| map(e, "outbox"))?;
    if !upserts.is_empty() {
        sqlx::query(
            "UPDATE memories SET vector_state = 'pending', vector_attempts = 0 WHERE id = ANY($1)",
        )
        .bind(&upserts)
        .execute(&mut *conn)
        .await
        .map_err(|e| map(e, "outbox"))?;
    }
    Ok(())
}

/// Rows of a table keyed by (tenant, id), in key order, after a key.
impl PgStore {
    async fn scan_keyed(
        &self,
        table: &'static str,
        operation: &'static str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<sqlx::postgres::PgRow>> {
        let (t, i) = after.unwrap_or(("", ""));
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM {table} WHERE (tenant, id) > ($1, $2) ORDER BY tenant, id LIMIT $3"
        )))
        .bind(t)
        .bind(i)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| map(e, operation))
    }
}

pub(crate) mod chunks;
mod conversations;
mod directory;
mod jobs;
mod maintenance;
mod memories;
