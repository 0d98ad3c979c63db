//! `Store` on SQLite.

use chrono::{DateTime, Utc};
use memory_core::{
    BackendInfo, ChangeSet, Error, ErrorKind, ForgetReport, HistoryEvent, ListQuery, MemoryRecord,
    Message, Op, OutboxEntry, Page, Result, Scope, ScopeStats, Session, StoreCapabilities,
    StoreStats, StoredMemory, User, UserTouch, VectorOp,
};
use sha2::Digest;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::HashSet;
use uuid::Uuid;

use crate::SqliteDb;
use crate::batch::Batch;
use crate::error::map;
use crate::filter_sql::push_and;
use crate::rows::{self, MEMORY_COLUMNS, get, i64_of, ms, vec_to_blob};

/// Records, messages, sessions, users, history and the outbox in SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) db: SqliteDb,
    /// Users' keyword indexes, loaded on their first search.
    pub(crate) keywords: std::sync::Arc<crate::keyword::KeywordCache>,
    /// The vector index of this database that writes of memories may
    /// carry their vectors into (`apply_with_own_vectors`).
    pub(crate) own_vectors: Option<std::sync::Arc<crate::SqliteVectorIndex>>,
}

impl SqliteStore {
    pub(crate) fn new(db: SqliteDb) -> Self {
        Self {
            keywords: std::sync::Arc::new(crate::keyword::KeywordCache::new(db.partitions.clone())),
            own_vectors: None,
            db,
        }
    }

    /// How many users' keyword indexes this store holds loaded, and about
    /// how many bytes they take (`partitions_mb` bounds it).
    pub fn keyword_partitions_cached(&self) -> memory_core::Result<(usize, usize)> {
        self.keywords.usage()
    }
}

/// Binds a memory's columns in the order of `INSERT_COLUMNS`; `synced`
/// when its vector is written in the same transaction.
fn push_memory_values(qb: &mut QueryBuilder<Sqlite>, m: &StoredMemory, synced: bool) {
    let (state, attempts) = if synced {
        (memory_core::VectorState::Synced, 0)
    } else {
        (m.record.vector_state, m.record.vector_attempts)
    };
    let r = &m.record;
    let mut s = qb.separated(", ");
    s.push_bind(r.id.to_string())
        .push_bind(r.scope.tenant.clone())
        .push_bind(r.scope.user_id.clone())
        .push_bind(r.scope.agent_id.clone())
        .push_bind(r.scope.session_id.clone())
        .push_bind(r.scope.owner_key())
        .push_bind(r.content.clone())
        .push_bind(r.kind.as_str().to_owned())
        .push_bind(f64::from(r.importance))
        .push_bind(f64::from(r.confidence))
        .push_bind(serde_json::Value::Object(r.metadata.clone()).to_string())
        .push_bind(serde_json::to_string(&r.source_message_ids).unwrap_or_else(|_| "[]".into()))
        .push_bind(ms(r.created_at))
        .push_bind(ms(r.updated_at))
        .push_bind(ms(r.last_accessed_at))
        .push_bind(i64_of(r.access_count))
        .push_bind(r.expires_at.map(ms))
        .push_bind(r.content_hash.clone())
        .push_bind(r.embedding_model.clone())
        .push_bind(m.embedding.as_deref().map(vec_to_blob))
        .push_bind(state.as_str())
        .push_bind(i64::from(attempts))
        .push_bind(i64_of(r.version))
        .push_bind(owner_token(&r.scope.tenant, r.scope.user_id.as_deref()))
        .push_bind(r.valid_from.map(ms))
        .push_bind(r.valid_until.map(ms))
        .push_bind(r.superseded_by.map(|u| u.to_string()))
        .push_bind(r.supersedes.map(|u| u.to_string()))
        .push_bind(memory_core::text::index_terms(&r.content));
}

const INSERT_COLUMNS: &str = "INSERT INTO memories (id, tenant, user_id, agent_id, session_id, owner_key, content, kind, importance, confidence, metadata, source_message_ids, created_at, updated_at, last_accessed_at, access_count, expires_at, content_hash, embedding_model, embedding, vector_state, vector_attempts, version, fts_owner, valid_from, valid_until, superseded_by, supersedes, fts_terms) ";

async fn apply_in(conn: &mut SqliteConnection, changes: &ChangeSet) -> Result<()> {
    let mut batch = Batch::default();
    stage(conn, changes, &HashSet::new(), &mut batch).await?;
    batch.run(conn, "write memories").await
}

/// Writes `changes` on `conn`, leaving its last statements in `batch` for
/// the caller to run (with more of its own). Statements whose results
/// nobody reads one by one go out together; the batch runs early only
/// before a statement that must see them.
pub(super) async fn stage(
    conn: &mut SqliteConnection,
    changes: &ChangeSet,
    synced: &HashSet<Uuid>,
    batch: &mut Batch,
) -> Result<()> {
    for chunk in changes.insert.chunks(400) {
        let qb = batch.statement();
        qb.push(INSERT_COLUMNS).push("VALUES ");
        for (i, m) in chunk.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            qb.push("(");
            push_memory_values(qb, m, synced.contains(&m.record.id));
            qb.push(")");
        }
    }
    if !changes.update.is_empty() {
        batch.run(conn, "insert memories").await?;
    }
    for u in &changes.update {
        update(conn, u).await?;
    }
    for chunk in changes.history.chunks(400) {
        let qb = batch.statement();
        qb.push(
            "INSERT INTO history (id, memory_id, tenant, op, old_content, new_content, reason, created_at) ",
        );
        qb.push_values(chunk, |mut b, h: &HistoryEvent| {
            b.push_bind(h.id.to_string())
                .push_bind(h.memory_id.to_string())
                .push_bind(h.tenant.clone())
                .push_bind(h.op.as_str())
                .push_bind(h.old_content.clone())
                .push_bind(h.new_content.clone())
                .push_bind(h.reason.clone())
                .push_bind(ms(h.created_at));
        });
    }
    // A memory inserted synced needs no upsert queued, and an op left
    // queued for an earlier memory of the same id (a delete, before an
    // import wrote it again) would undo its vector when drained.
    if !synced.is_empty() {
        let qb = batch.statement();
        qb.push("DELETE FROM outbox WHERE memory_id IN ");
        push_ids(qb, &synced.iter().collect::<Vec<_>>());
    }
    let outbox: Vec<(Uuid, VectorOp)> = changes
        .outbox
        .iter()
        .filter(|(id, op)| !(*op == VectorOp::Upsert && synced.contains(id)))
        .copied()
        .collect();
    if !outbox.is_empty() {
        let tenants: std::collections::HashMap<Uuid, String> = changes
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
        let rows: Vec<(Uuid, Option<String>, VectorOp)> = outbox
            .iter()
            .map(|(id, op)| (*id, tenants.get(id).cloned(), *op))
            .collect();
        // A row this change set inserts is already pending as written.
        let fresh: HashSet<Uuid> = changes
            .insert
            .iter()
            .map(|m| &m.record)
            .filter(|r| {
                r.vector_state == memory_core::VectorState::Pending && r.vector_attempts == 0
            })
            .map(|r| r.id)
            .collect();
        push_outbox(batch, &rows, &fresh);
    }
    // A rewritten vector retires the windows the new content no longer has;
    // a deleted memory retires all of them (their rows go by cascade).
    let retiring = changes.update.iter().filter(|u| u.replace_embedding);
    if retiring.clone().next().is_some() || !changes.delete.is_empty() {
        batch.run(conn, "write memories").await?;
    }
    for u in retiring {
        chunks::retire(conn, u.memory.record.id, u.memory.chunks.len()).await?;
    }
    for chunk in changes.delete.chunks(400) {
        chunks::retire_all(conn, chunk).await?;
    }
    chunks::write(batch, &changes.vectors_written());
    for chunk in changes.delete.chunks(400) {
        let qb = batch.statement();
        qb.push("DELETE FROM memories WHERE id IN ");
        push_ids(qb, chunk);
    }
    for chunk in changes.mark_extracted.chunks(400) {
        let qb = batch.statement();
        qb.push("UPDATE messages SET extracted = 1 WHERE id IN ");
        push_ids(qb, chunk);
    }
    jobs::insert_jobs(batch, &changes.jobs);
    Ok(())
}

/// Rewrites one memory if it is still at the version the change was made
/// from; otherwise a conflict, for the caller to read again.
async fn update(conn: &mut SqliteConnection, u: &memory_core::VersionedUpdate) -> Result<()> {
    let r = &u.memory.record;
    let mut qb = QueryBuilder::<Sqlite>::new("UPDATE memories SET ");
    let mut s = qb.separated(", ");
    s.push("user_id = ")
        .push_bind_unseparated(r.scope.user_id.clone());
    s.push("agent_id = ")
        .push_bind_unseparated(r.scope.agent_id.clone());
    s.push("session_id = ")
        .push_bind_unseparated(r.scope.session_id.clone());
    s.push("owner_key = ")
        .push_bind_unseparated(r.scope.owner_key());
    s.push("fts_owner = ")
        .push_bind_unseparated(owner_token(&r.scope.tenant, r.scope.user_id.as_deref()));
    s.push("content = ")
        .push_bind_unseparated(r.content.clone());
    s.push("fts_terms = ")
        .push_bind_unseparated(memory_core::text::index_terms(&r.content));
    s.push("kind = ")
        .push_bind_unseparated(r.kind.as_str().to_owned());
    s.push("importance = ")
        .push_bind_unseparated(f64::from(r.importance));
    s.push("confidence = ")
        .push_bind_unseparated(f64::from(r.confidence));
    s.push("metadata = ")
        .push_bind_unseparated(serde_json::Value::Object(r.metadata.clone()).to_string());
    s.push("source_message_ids = ").push_bind_unseparated(
        serde_json::to_string(&r.source_message_ids).unwrap_or_else(|_| "[]".into()),
    );
    s.push("updated_at = ")
        .push_bind_unseparated(ms(r.updated_at));
    s.push("expires_at = ")
        .push_bind_unseparated(r.expires_at.map(ms));
    s.push("content_hash = ")
        .push_bind_unseparated(r.content_hash.clone());
    s.push("embedding_model = ")
        .push_bind_unseparated(r.embedding_model.clone());
    s.push("version = ")
        .push_bind_unseparated(i64_of(r.version));
    s.push("valid_from = ")
        .push_bind_unseparated(r.valid_from.map(ms));
    s.push("valid_until = ")
        .push_bind_unseparated(r.valid_until.map(ms));
    s.push("superseded_by = ")
        .push_bind_unseparated(r.superseded_by.map(|u| u.to_string()));
    s.push("supersedes = ")
        .push_bind_unseparated(r.supersedes.map(|u| u.to_string()));
    if u.replace_embedding {
        s.push("embedding = ")
            .push_bind_unseparated(u.memory.embedding.as_deref().map(vec_to_blob));
    }
    qb.push(" WHERE id = ").push_bind(r.id.to_string());
    qb.push(" AND tenant = ").push_bind(r.scope.tenant.clone());
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
        .with_backend("sqlite"));
    }
    Ok(())
}

/// Writes outbox rows after every row already queued; a row for an id
/// already queued takes its place with the new op. An upsert marks its
/// memory's vector pending.
pub(crate) async fn queue_outbox(
    conn: &mut SqliteConnection,
    rows: &[(Uuid, Option<String>, VectorOp)],
) -> Result<()> {
    let mut batch = Batch::default();
    push_outbox(&mut batch, rows, &HashSet::new());
    batch.run(conn, "outbox").await
}

/// [`queue_outbox`]'s statements, for a batch. A row without a tenant
/// takes its memory's; the memories of `pending` are left as they are.
/// Each statement numbers its rows after the largest `seq` queued when it
/// runs, so rows keep the order given.
fn push_outbox(
    batch: &mut Batch,
    rows: &[(Uuid, Option<String>, VectorOp)],
    pending: &HashSet<Uuid>,
) {
    // SQLite applies the conflict clause row by row, in the order of the
    // `seq` column, so of two ops for one memory the later one stays.
    for chunk in rows.chunks(400) {
        let qb = batch.statement();
        qb.push(
            "INSERT INTO outbox (memory_id, tenant, op, attempts, last_error, seq) \
             SELECT v.column1, COALESCE(v.column2, (SELECT tenant FROM memories WHERE id = v.column1), ''), \
             v.column3, 0, NULL, (SELECT COALESCE(MAX(seq), 0) FROM outbox) + v.column4 FROM (",
        );
        let mut n = 0i64;
        qb.push_values(chunk, |mut b, (id, tenant, op)| {
            n += 1;
            b.push_bind(id.to_string())
                .push_bind(tenant.clone())
                .push_bind(op.as_str())
                .push_bind(n);
        });
        qb.push(
            ") AS v WHERE true ORDER BY v.column4 \
             ON CONFLICT (memory_id) DO UPDATE SET op = excluded.op, attempts = 0, last_error = NULL, seq = excluded.seq",
        );
    }
    let upserts: Vec<Uuid> = rows
        .iter()
        .filter(|(id, _, op)| *op == VectorOp::Upsert && !pending.contains(id))
        .map(|(id, _, _)| *id)
        .collect();
    if !upserts.is_empty() {
        let qb = batch.statement();
        qb.push("UPDATE memories SET vector_state = 'pending', vector_attempts = 0 WHERE id IN ");
        push_ids(qb, &upserts);
    }
}

/// Appends `(SELECT value FROM json_each(?))` binding the ids as one JSON
/// array, so the statement text (and its cached prepared form) does not
/// change with the number of ids.
pub(crate) fn push_ids<T: ToString>(qb: &mut QueryBuilder<Sqlite>, ids: &[T]) {
    let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
    qb.push("(SELECT value FROM json_each(")
        .push_bind(serde_json::Value::from(list).to_string())
        .push("))");
}

/// The FTS token naming a (tenant, user): letters and digits only, so the
/// tokenizer keeps it whole, whatever characters the ids hold.
pub(crate) fn owner_token(tenant: &str, user_id: Option<&str>) -> String {
    let digest =
        sha2::Sha256::digest(format!("{tenant}\u{1f}{}", user_id.unwrap_or("")).as_bytes());
    let hex: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
    format!("own{hex}")
}

/// Rows of a table keyed by (tenant, id), in key order, after a key.
impl SqliteStore {
    async fn scan_keyed(
        &self,
        table: &'static str,
        operation: &'static str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<sqlx::sqlite::SqliteRow>> {
        let (t, i) = after.unwrap_or(("", ""));
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM {table} WHERE (tenant, id) > (?, ?) ORDER BY tenant, id LIMIT ?"
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
