//! `Store` on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use memory_core::{
    BackendInfo, ChangeSet, Error, ErrorKind, ForgetReport, HistoryEvent, ListQuery, MemoryRecord,
    Message, Op, OutboxEntry, Page, Result, Scope, Session, Store, StoreCapabilities, StoreStats,
    StoredMemory, User, UserTouch, VectorOp,
};
use sha2::Digest;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use uuid::Uuid;

use crate::SqliteDb;
use crate::error::map;
use crate::filter_sql::push_and;
use crate::rows::{self, MEMORY_COLUMNS, get, i64_of, ms, vec_to_blob};

/// Records, messages, sessions, users, history and the outbox in SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) db: SqliteDb,
}

impl SqliteStore {
    pub(crate) fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

/// Binds a memory's columns in the order of `INSERT_COLUMNS`.
fn push_memory_values(qb: &mut QueryBuilder<Sqlite>, m: &StoredMemory) {
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
        .push_bind(r.vector_state.as_str())
        .push_bind(i64::from(r.vector_attempts))
        .push_bind(i64_of(r.version))
        .push_bind(owner_token(&r.scope.tenant, r.scope.user_id.as_deref()));
}

const INSERT_COLUMNS: &str = "INSERT INTO memories (id, tenant, user_id, agent_id, session_id, owner_key, content, kind, importance, confidence, metadata, source_message_ids, created_at, updated_at, last_accessed_at, access_count, expires_at, content_hash, embedding_model, embedding, vector_state, vector_attempts, version, fts_owner) ";

async fn apply_in(conn: &mut SqliteConnection, changes: &ChangeSet) -> Result<()> {
    if !changes.insert.is_empty() {
        for chunk in changes.insert.chunks(400) {
            let mut qb = QueryBuilder::<Sqlite>::new(INSERT_COLUMNS);
            qb.push("VALUES ");
            for (i, m) in chunk.iter().enumerate() {
                if i > 0 {
                    qb.push(", ");
                }
                qb.push("(");
                push_memory_values(&mut qb, m);
                qb.push(")");
            }
            qb.build()
                .execute(&mut *conn)
                .await
                .map_err(|e| map(e, "insert memories"))?;
        }
    }
    for u in &changes.update {
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
    }
    for chunk in changes.history.chunks(400) {
        let mut qb = QueryBuilder::<Sqlite>::new(
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
        qb.build()
            .execute(&mut *conn)
            .await
            .map_err(|e| map(e, "insert history"))?;
    }
    if !changes.outbox.is_empty() {
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
        let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM outbox")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| map(e, "outbox"))?;
        for (i, (id, op)) in changes.outbox.iter().enumerate() {
            let tenant = match tenants.get(id) {
                Some(t) => t.clone(),
                None => sqlx::query_scalar::<_, String>("SELECT tenant FROM memories WHERE id = ?")
                    .bind(id.to_string())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(|e| map(e, "outbox"))?
                    .unwrap_or_default(),
            };
            sqlx::query(
                "INSERT INTO outbox (memory_id, tenant, op, attempts, last_error, seq) VALUES (?, ?, ?, 0, NULL, ?)
                 ON CONFLICT (memory_id) DO UPDATE SET op = excluded.op, attempts = 0, last_error = NULL, seq = excluded.seq",
            )
            .bind(id.to_string())
            .bind(tenant)
            .bind(op.as_str())
            .bind(seq + 1 + i64::try_from(i).unwrap_or(0))
            .execute(&mut *conn)
            .await
            .map_err(|e| map(e, "outbox"))?;
            if *op == VectorOp::Upsert {
                sqlx::query("UPDATE memories SET vector_state = 'pending', vector_attempts = 0 WHERE id = ?")
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| map(e, "outbox"))?;
            }
        }
    }
    for chunk in changes.delete.chunks(400) {
        let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM memories WHERE id IN ");
        push_ids(&mut qb, chunk);
        qb.build()
            .execute(&mut *conn)
            .await
            .map_err(|e| map(e, "delete memories"))?;
    }
    Ok(())
}

/// Appends `(SELECT value FROM json_each(?))` binding the ids as one JSON
/// array, so the statement text (and its cached prepared form) does not
/// change with the number of ids.
pub(crate) fn push_ids(qb: &mut QueryBuilder<Sqlite>, ids: &[Uuid]) {
    let list: Vec<String> = ids.iter().map(Uuid::to_string).collect();
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

#[async_trait]
impl Store for SqliteStore {
    fn info(&self) -> BackendInfo {
        self.db.info()
    }

    fn capabilities(&self) -> StoreCapabilities {
        StoreCapabilities {
            filter_ops: Op::ALL.to_vec(),
            transactions: true,
        }
    }

    async fn apply(&self, changes: ChangeSet) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .db
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| map(e, "begin"))?;
        apply_in(&mut tx, &changes).await?;
        tx.commit().await.map_err(|e| map(e, "commit"))
    }

    async fn get_memories(&self, tenant: &str, ids: &[Uuid]) -> Result<Vec<MemoryRecord>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.tenant = "
            ));
            qb.push_bind(tenant.to_owned()).push(" AND m.id IN ");
            push_ids(&mut qb, chunk);
            let rows = qb
                .build()
                .fetch_all(&self.db.pool)
                .await
                .map_err(|e| map(e, "get memories"))?;
            out.extend(rows.iter().map(rows::memory).collect::<Result<Vec<_>>>()?);
        }
        let pos: std::collections::HashMap<Uuid, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        out.sort_by_key(|m| pos.get(&m.id).copied().unwrap_or(usize::MAX));
        Ok(out)
    }

    async fn get_stored(&self, ids: &[Uuid]) -> Result<Vec<StoredMemory>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {MEMORY_COLUMNS}, m.embedding FROM memories m WHERE m.id IN "
            ));
            push_ids(&mut qb, chunk);
            let rows = qb
                .build()
                .fetch_all(&self.db.pool)
                .await
                .map_err(|e| map(e, "get memories"))?;
            out.extend(rows.iter().map(rows::stored).collect::<Result<Vec<_>>>()?);
        }
        Ok(out)
    }

    async fn find_by_hash(&self, scope: &Scope, hash: &str) -> Result<Option<MemoryRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.tenant = ? AND m.owner_key = ? AND m.content_hash = ?"
        )))
        .bind(&scope.tenant)
        .bind(scope.owner_key())
        .bind(hash)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(|e| map(e, "find by hash"))?;
        row.as_ref().map(rows::memory).transpose()
    }

    async fn list_memories(&self, tenant: &str, query: &ListQuery) -> Result<Page<MemoryRecord>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.tenant = "
        ));
        qb.push_bind(tenant.to_owned());
        if let Some(c) = &query.cursor {
            let id = Uuid::parse_str(c)
                .map_err(|_| Error::invalid("cursor: not a cursor this listing returned"))?;
            qb.push(" AND m.id < ").push_bind(id.to_string());
        }
        push_and(&mut qb, query.filter.as_ref());
        let limit = query.limit.max(1);
        qb.push(" ORDER BY m.id DESC LIMIT ")
            .push_bind(i64::try_from(limit + 1).unwrap_or(i64::MAX));
        let rows = qb
            .build()
            .fetch_all(&self.db.pool)
            .await
            .map_err(|e| map(e, "list memories"))?;
        let mut items = rows.iter().map(rows::memory).collect::<Result<Vec<_>>>()?;
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more {
            items.last().map(|m| m.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn scan_memories(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<StoredMemory>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMORY_COLUMNS}, m.embedding FROM memories m WHERE m.id > ? ORDER BY m.id LIMIT ?"
        )))
        .bind(after.map(|u| u.to_string()).unwrap_or_default())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| map(e, "scan memories"))?;
        rows.iter().map(rows::stored).collect()
    }

    async fn touch_memories(&self, tenant: &str, ids: &[Uuid], at: DateTime<Utc>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut qb = QueryBuilder::<Sqlite>::new(
            "UPDATE memories SET access_count = access_count + 1, last_accessed_at = ",
        );
        qb.push_bind(ms(at))
            .push(" WHERE tenant = ")
            .push_bind(tenant.to_owned())
            .push(" AND id IN ");
        push_ids(&mut qb, ids);
        qb.build()
            .execute(&self.db.pool)
            .await
            .map_err(|e| map(e, "touch memories"))?;
        Ok(())
    }

    async fn history(&self, tenant: &str, memory_id: Uuid) -> Result<Vec<HistoryEvent>> {
        let rows =
            sqlx::query("SELECT * FROM history WHERE tenant = ? AND memory_id = ? ORDER BY id")
                .bind(tenant)
                .bind(memory_id.to_string())
                .fetch_all(&self.db.pool)
                .await
                .map_err(|e| map(e, "history"))?;
        rows.iter().map(rows::history).collect()
    }

    async fn outbox_pending(&self, limit: usize, max_attempts: u32) -> Result<Vec<OutboxEntry>> {
        let rows = sqlx::query("SELECT * FROM outbox WHERE attempts < ? ORDER BY seq LIMIT ?")
            .bind(i64::from(max_attempts))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.db.pool)
            .await
            .map_err(|e| map(e, "outbox pending"))?;
        rows.iter()
            .map(|r| {
                Ok(OutboxEntry {
                    memory_id: rows::uuid(&get::<String>(r, "memory_id")?)?,
                    tenant: get(r, "tenant")?,
                    op: match get::<String>(r, "op")?.as_str() {
                        "delete" => VectorOp::Delete,
                        _ => VectorOp::Upsert,
                    },
                    attempts: u32::try_from(get::<i64>(r, "attempts")?).unwrap_or(u32::MAX),
                    last_error: get(r, "last_error")?,
                })
            })
            .collect()
    }

    async fn outbox_done(&self, done: &[(Uuid, VectorOp)]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .db
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| map(e, "begin"))?;
        for (id, op) in done {
            let removed = sqlx::query("DELETE FROM outbox WHERE memory_id = ? AND op = ?")
                .bind(id.to_string())
                .bind(op.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| map(e, "outbox done"))?;
            if removed.rows_affected() > 0 && *op == VectorOp::Upsert {
                sqlx::query(
                    "UPDATE memories SET vector_state = 'synced', vector_attempts = 0 WHERE id = ?",
                )
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| map(e, "outbox done"))?;
            }
        }
        tx.commit().await.map_err(|e| map(e, "commit"))
    }

    async fn outbox_failed(&self, ids: &[Uuid], error: &str, max_attempts: u32) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .db
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| map(e, "begin"))?;
        for id in ids {
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE memory_id = ?",
            )
            .bind(error)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "outbox failed"))?;
            sqlx::query(
                "UPDATE memories SET vector_attempts = vector_attempts + 1,
                 vector_state = CASE WHEN vector_attempts + 1 >= ? THEN 'failed' ELSE 'pending' END WHERE id = ?",
            )
            .bind(i64::from(max_attempts))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "outbox failed"))?;
        }
        tx.commit().await.map_err(|e| map(e, "commit"))
    }

    async fn insert_messages(&self, messages: &[Message]) -> Result<()> {
        for chunk in messages.chunks(400) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO messages (id, tenant, session_id, user_id, agent_id, role, author_name, content, created_at, metadata, extracted, answered) ",
            );
            qb.push_values(chunk, |mut b, m: &Message| {
                b.push_bind(m.id.to_string())
                    .push_bind(m.tenant.clone())
                    .push_bind(m.session_id.clone())
                    .push_bind(m.user_id.clone())
                    .push_bind(m.agent_id.clone())
                    .push_bind(m.role.as_str())
                    .push_bind(m.author_name.clone())
                    .push_bind(m.content.clone())
                    .push_bind(ms(m.created_at))
                    .push_bind(serde_json::Value::Object(m.metadata.clone()).to_string())
                    .push_bind(i64::from(m.extracted))
                    .push_bind(i64::from(m.answered));
            });
            qb.push(" ON CONFLICT (id) DO NOTHING");
            qb.build().execute(&self.db.pool).await.map_err(|e| {
                let e = map(e, "insert messages");
                if e.kind() == ErrorKind::InvalidInput {
                    Error::invalid("message: its session does not exist").with_backend("sqlite")
                } else {
                    e
                }
            })?;
        }
        Ok(())
    }

    async fn recent_messages(
        &self,
        tenant: &str,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query(
            "SELECT * FROM messages WHERE tenant = ? AND session_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(tenant)
        .bind(session_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| map(e, "recent messages"))?;
        let mut v = rows.iter().map(rows::message).collect::<Result<Vec<_>>>()?;
        v.reverse();
        Ok(v)
    }

    async fn unextracted_messages(
        &self,
        tenant: &str,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query("SELECT * FROM messages WHERE tenant = ? AND session_id = ? AND extracted = 0 ORDER BY id LIMIT ?")
            .bind(tenant)
            .bind(session_id)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.db.pool)
            .await
            .map_err(|e| map(e, "unextracted messages"))?;
        rows.iter().map(rows::message).collect()
    }

    async fn count_unextracted(&self, tenant: &str, session_id: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE tenant = ? AND session_id = ? AND extracted = 0",
        )
        .bind(tenant)
        .bind(session_id)
        .fetch_one(&self.db.pool)
        .await
        .map_err(|e| map(e, "count unextracted"))?;
        Ok(rows::u64_of(n))
    }

    async fn mark_extracted(&self, tenant: &str, ids: &[Uuid]) -> Result<()> {
        for chunk in ids.chunks(500) {
            let mut qb =
                QueryBuilder::<Sqlite>::new("UPDATE messages SET extracted = 1 WHERE tenant = ");
            qb.push_bind(tenant.to_owned()).push(" AND id IN ");
            push_ids(&mut qb, chunk);
            qb.build()
                .execute(&self.db.pool)
                .await
                .map_err(|e| map(e, "mark extracted"))?;
        }
        Ok(())
    }

    async fn upsert_session(&self, s: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (tenant, id, user_id, agent_id, title, platform, started_at, ended_at, metadata)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (tenant, id) DO UPDATE SET user_id = COALESCE(excluded.user_id, user_id),
             agent_id = COALESCE(excluded.agent_id, agent_id), title = COALESCE(excluded.title, title),
             platform = COALESCE(excluded.platform, platform), ended_at = COALESCE(excluded.ended_at, ended_at),
             metadata = excluded.metadata",
        )
        .bind(&s.tenant)
        .bind(&s.id)
        .bind(&s.user_id)
        .bind(&s.agent_id)
        .bind(&s.title)
        .bind(&s.platform)
        .bind(ms(s.started_at))
        .bind(s.ended_at.map(ms))
        .bind(serde_json::Value::Object(s.metadata.clone()).to_string())
        .execute(&self.db.pool)
        .await
        .map_err(|e| map(e, "upsert session"))?;
        Ok(())
    }

    async fn get_session(&self, tenant: &str, id: &str) -> Result<Option<Session>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE tenant = ? AND id = ?")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(|e| map(e, "get session"))?;
        row.as_ref().map(rows::session).transpose()
    }

    async fn touch_user(
        &self,
        tenant: &str,
        user_id: &str,
        t: &UserTouch,
        at: DateTime<Utc>,
    ) -> Result<User> {
        let row = sqlx::query(
            "INSERT INTO users (tenant, id, external_id, platform, display_name, first_seen_at, last_seen_at, message_count, metadata)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}')
             ON CONFLICT (tenant, id) DO UPDATE SET
               external_id = COALESCE(excluded.external_id, external_id),
               platform = COALESCE(excluded.platform, platform),
               display_name = COALESCE(excluded.display_name, display_name),
               last_seen_at = MAX(last_seen_at, excluded.last_seen_at),
               message_count = message_count + excluded.message_count
             RETURNING *",
        )
        .bind(tenant)
        .bind(user_id)
        .bind(&t.external_id)
        .bind(&t.platform)
        .bind(&t.display_name)
        .bind(ms(at))
        .bind(ms(at))
        .bind(i64_of(t.messages))
        .fetch_one(&self.db.pool)
        .await
        .map_err(|e| {
            let e = map(e, "touch user");
            if e.kind() == ErrorKind::Conflict {
                Error::new(ErrorKind::Conflict, "user: another user already has this external id on this platform").with_backend("sqlite")
            } else {
                e
            }
        })?;
        rows::user(&row)
    }

    async fn get_user(&self, tenant: &str, user_id: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE tenant = ? AND id = ?")
            .bind(tenant)
            .bind(user_id)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(|e| map(e, "get user"))?;
        row.as_ref().map(rows::user).transpose()
    }

    async fn scan_messages(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<Message>> {
        let rows = sqlx::query("SELECT * FROM messages WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after.map(|u| u.to_string()).unwrap_or_default())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.db.pool)
            .await
            .map_err(|e| map(e, "scan messages"))?;
        rows.iter().map(rows::message).collect()
    }

    async fn scan_sessions(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Session>> {
        let rows = self
            .scan_keyed("sessions", "scan sessions", after, limit)
            .await?;
        rows.iter().map(rows::session).collect()
    }

    async fn scan_users(&self, after: Option<(&str, &str)>, limit: usize) -> Result<Vec<User>> {
        let rows = self.scan_keyed("users", "scan users", after, limit).await?;
        rows.iter().map(rows::user).collect()
    }

    async fn put_user(&self, u: &User) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (tenant, id, external_id, platform, display_name, first_seen_at, last_seen_at, message_count, metadata)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}')
             ON CONFLICT (tenant, id) DO UPDATE SET external_id = excluded.external_id,
               platform = excluded.platform, display_name = excluded.display_name,
               first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at,
               message_count = excluded.message_count",
        )
        .bind(&u.tenant)
        .bind(&u.id)
        .bind(&u.external_id)
        .bind(&u.platform)
        .bind(&u.display_name)
        .bind(ms(u.first_seen_at))
        .bind(ms(u.last_seen_at))
        .bind(i64_of(u.message_count))
        .execute(&self.db.pool)
        .await
        .map_err(|e| map(e, "put user"))?;
        Ok(())
    }

    async fn forget(&self, scope: &Scope) -> Result<ForgetReport> {
        let mut tx = self
            .db
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| map(e, "begin"))?;
        let owner = |qb: &mut QueryBuilder<Sqlite>| {
            qb.push(" WHERE tenant = ").push_bind(scope.tenant.clone());
            for (col, v) in [
                ("user_id", &scope.user_id),
                ("agent_id", &scope.agent_id),
                ("session_id", &scope.session_id),
            ] {
                if let Some(v) = v {
                    qb.push(format_args!(" AND {col} = ")).push_bind(v.clone());
                }
            }
        };
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT id FROM memories");
        owner(&mut qb);
        let ids: Vec<String> = qb
            .build_query_scalar()
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| map(e, "forget"))?;
        let ids: Vec<Uuid> = ids.iter().map(|s| rows::uuid(s)).collect::<Result<_>>()?;
        let mut changes = ChangeSet {
            delete: ids.clone(),
            ..ChangeSet::default()
        };
        // The outbox rows are written before the deletes, while each row's tenant can still be read.
        changes.outbox = ids.iter().map(|id| (*id, VectorOp::Delete)).collect();
        apply_in(&mut tx, &changes).await?;
        let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM messages");
        owner(&mut qb);
        let messages = qb
            .build()
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "forget"))?
            .rows_affected();
        let sessions =
            if scope.session_id.is_some() || scope.user_id.is_some() || scope.agent_id.is_some() {
                let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM sessions WHERE tenant = ");
                qb.push_bind(scope.tenant.clone());
                for (col, v) in [
                    ("user_id", &scope.user_id),
                    ("agent_id", &scope.agent_id),
                    ("id", &scope.session_id),
                ] {
                    if let Some(v) = v {
                        qb.push(format_args!(" AND {col} = ")).push_bind(v.clone());
                    }
                }
                qb.build()
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map(e, "forget"))?
                    .rows_affected()
            } else {
                0
            };
        let users = match (&scope.user_id, &scope.agent_id, &scope.session_id) {
            (Some(u), None, None) => sqlx::query("DELETE FROM users WHERE tenant = ? AND id = ?")
                .bind(&scope.tenant)
                .bind(u)
                .execute(&mut *tx)
                .await
                .map_err(|e| map(e, "forget"))?
                .rows_affected(),
            _ => 0,
        };
        // History of forgotten memories goes too: it holds their content.
        for chunk in ids.chunks(500) {
            let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM history WHERE memory_id IN ");
            push_ids(&mut qb, chunk);
            qb.build()
                .execute(&mut *tx)
                .await
                .map_err(|e| map(e, "forget"))?;
        }
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        Ok(ForgetReport {
            memories: ids,
            messages,
            sessions,
            users,
        })
    }

    async fn stats(&self, tenant: Option<&str>) -> Result<StoreStats> {
        let count = |table: &'static str| {
            let pool = self.db.pool.clone();
            let tenant = tenant.map(str::to_owned);
            async move {
                let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT COUNT(*) FROM {table}"));
                if let Some(t) = tenant {
                    qb.push(" WHERE tenant = ").push_bind(t);
                }
                qb.build_query_scalar::<i64>()
                    .fetch_one(&pool)
                    .await
                    .map(rows::u64_of)
                    .map_err(|e| map(e, "stats"))
            }
        };
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM outbox WHERE attempts > 0");
        if let Some(t) = tenant {
            qb.push(" AND tenant = ").push_bind(t.to_owned());
        }
        let failed: i64 = qb
            .build_query_scalar()
            .fetch_one(&self.db.pool)
            .await
            .map_err(|e| map(e, "stats"))?;
        Ok(StoreStats {
            memories: count("memories").await?,
            messages: count("messages").await?,
            sessions: count("sessions").await?,
            users: count("users").await?,
            history: count("history").await?,
            outbox_pending: count("outbox").await?,
            outbox_failed: rows::u64_of(failed),
        })
    }
}
