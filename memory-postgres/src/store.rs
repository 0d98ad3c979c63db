//! `Store` on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use memory_core::{
    BackendInfo, ChangeSet, Error, ErrorKind, ForgetReport, HistoryEvent, ListQuery, MemoryRecord,
    Message, Op, OutboxEntry, Page, Result, Scope, Session, Store, StoreCapabilities, StoreStats,
    StoredMemory, User, UserTouch, VectorOp,
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
            "INSERT INTO memories (id, tenant, user_id, agent_id, session_id, owner_key, content, kind, importance, confidence, metadata, source_message_ids, created_at, updated_at, last_accessed_at, access_count, expires_at, content_hash, embedding_model, embedding, vector_state, vector_attempts, version, tsv) ",
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
                .push("to_tsvector(")
                .push_bind_unseparated(lang.to_owned())
                .push_unseparated("::regconfig, ")
                .push_bind_unseparated(r.content.clone())
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
            .push_bind(r.content.clone())
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
            .push_bind(i64_of(r.version));
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
        for (id, op) in &changes.outbox {
            // A memory's tenant comes from this change set, else from its row (still present: deletes run last).
            let tenant: Option<String> = match known.get(id) {
                Some(t) => Some(t.clone()),
                None => sqlx::query_scalar("SELECT tenant FROM memories WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(|e| map(e, "outbox"))?,
            };
            sqlx::query(
                "INSERT INTO outbox (memory_id, tenant, op, attempts, last_error) VALUES ($1, $2, $3, 0, NULL)
                 ON CONFLICT (memory_id) DO UPDATE SET op = excluded.op, attempts = 0, last_error = NULL, seq = nextval(pg_get_serial_sequence('outbox', 'seq'))",
            )
            .bind(id)
            .bind(tenant.unwrap_or_default())
            .bind(op.as_str())
            .execute(&mut *conn)
            .await
            .map_err(|e| map(e, "outbox"))?;
            if *op == VectorOp::Upsert {
                sqlx::query("UPDATE memories SET vector_state = 'pending', vector_attempts = 0 WHERE id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| map(e, "outbox"))?;
            }
        }
    }
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

#[async_trait]
impl Store for PgStore {
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
        let mut tx = self.db.pool.begin().await.map_err(|e| map(e, "begin"))?;
        apply_in(&mut tx, &changes, &self.db.cfg.ts_config).await?;
        tx.commit().await.map_err(|e| map(e, "commit"))
    }

    async fn get_memories(&self, tenant: &str, ids: &[Uuid]) -> Result<Vec<MemoryRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.tenant = $1 AND m.id = ANY($2)"
        )))
        .bind(tenant)
        .bind(ids)
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| map(e, "get memories"))?;
        let mut out = rows.iter().map(rows::memory).collect::<Result<Vec<_>>>()?;
        let pos: std::collections::HashMap<Uuid, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        out.sort_by_key(|m| pos.get(&m.id).copied().unwrap_or(usize::MAX));
        Ok(out)
    }

    async fn get_stored(&self, ids: &[Uuid]) -> Result<Vec<StoredMemory>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMORY_COLUMNS}, m.embedding FROM memories m WHERE m.id = ANY($1)"
        )))
        .bind(ids)
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| map(e, "get memories"))?;
        rows.iter().map(rows::stored).collect()
    }

    async fn find_by_hash(&self, scope: &Scope, hash: &str) -> Result<Option<MemoryRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.tenant = $1 AND m.owner_key = $2 AND m.content_hash = $3"
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
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.tenant = "
        ));
        qb.push_bind(tenant.to_owned());
        if let Some(c) = &query.cursor {
            let id = Uuid::parse_str(c)
                .map_err(|_| Error::invalid("cursor: not a cursor this listing returned"))?;
            qb.push(" AND m.id < ").push_bind(id);
        }
        push_and(&mut qb, &MemoryColumns, query.filter.as_ref());
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
            "SELECT {MEMORY_COLUMNS}, m.embedding FROM memories m WHERE m.id > $1 ORDER BY m.id LIMIT $2"
        )))
        .bind(after.unwrap_or(Uuid::nil()))
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
        sqlx::query("UPDATE memories SET access_count = access_count + 1, last_accessed_at = $1 WHERE tenant = $2 AND id = ANY($3)")
            .bind(ms(at))
            .bind(tenant)
            .bind(ids)
            .execute(&self.db.pool)
            .await
            .map_err(|e| map(e, "touch memories"))?;
        Ok(())
    }

    async fn history(&self, tenant: &str, memory_id: Uuid) -> Result<Vec<HistoryEvent>> {
        let rows =
            sqlx::query("SELECT * FROM history WHERE tenant = $1 AND memory_id = $2 ORDER BY id")
                .bind(tenant)
                .bind(memory_id)
                .fetch_all(&self.db.pool)
                .await
                .map_err(|e| map(e, "history"))?;
        rows.iter().map(rows::history).collect()
    }

    async fn outbox_pending(&self, limit: usize, max_attempts: u32) -> Result<Vec<OutboxEntry>> {
        let rows = sqlx::query("SELECT * FROM outbox WHERE attempts < $1 ORDER BY seq LIMIT $2")
            .bind(i64::from(max_attempts))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.db.pool)
            .await
            .map_err(|e| map(e, "outbox pending"))?;
        rows.iter()
            .map(|r| {
                Ok(OutboxEntry {
                    memory_id: get(r, "memory_id")?,
                    tenant: get(r, "tenant")?,
                    op: if get::<String>(r, "op")? == "delete" {
                        VectorOp::Delete
                    } else {
                        VectorOp::Upsert
                    },
                    attempts: u32::try_from(get::<i32>(r, "attempts")?).unwrap_or(0),
                    last_error: get(r, "last_error")?,
                })
            })
            .collect()
    }

    async fn outbox_done(&self, done: &[(Uuid, VectorOp)]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let (ids, ops): (Vec<Uuid>, Vec<&str>) =
            done.iter().map(|(id, op)| (*id, op.as_str())).unzip();
        let mut tx = self.db.pool.begin().await.map_err(|e| map(e, "begin"))?;
        lock_memories(&mut tx, &ids).await?;
        let removed: Vec<Option<Uuid>> = sqlx::query_scalar(
            "DELETE FROM outbox o USING UNNEST($1::uuid[], $2::text[]) AS d(id, op)
             WHERE o.memory_id = d.id AND o.op = d.op RETURNING CASE WHEN o.op = 'upsert' THEN o.memory_id END",
        )
        .bind(&ids)
        .bind(&ops)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| map(e, "outbox done"))?;
        let removed: Vec<Uuid> = removed.into_iter().flatten().collect();
        if !removed.is_empty() {
            sqlx::query("UPDATE memories SET vector_state = 'synced', vector_attempts = 0 WHERE id = ANY($1)")
                .bind(&removed)
                .execute(&mut *tx)
                .await
                .map_err(|e| map(e, "outbox done"))?;
        }
        tx.commit().await.map_err(|e| map(e, "commit"))
    }

    async fn outbox_failed(&self, ids: &[Uuid], error: &str, max_attempts: u32) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.pool.begin().await.map_err(|e| map(e, "begin"))?;
        lock_memories(&mut tx, ids).await?;
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1 WHERE memory_id = ANY($2)",
        )
        .bind(error)
        .bind(ids)
        .execute(&mut *tx)
        .await
        .map_err(|e| map(e, "outbox failed"))?;
        sqlx::query(
            "UPDATE memories SET vector_attempts = vector_attempts + 1,
             vector_state = CASE WHEN vector_attempts + 1 >= $1 THEN 'failed' ELSE 'pending' END WHERE id = ANY($2)",
        )
        .bind(i64::from(max_attempts))
        .bind(ids)
        .execute(&mut *tx)
        .await
        .map_err(|e| map(e, "outbox failed"))?;
        tx.commit().await.map_err(|e| map(e, "commit"))
    }

    async fn insert_messages(&self, messages: &[Message]) -> Result<()> {
        for chunk in messages.chunks(500) {
            let mut qb = QueryBuilder::<Postgres>::new(
                "INSERT INTO messages (id, tenant, session_id, user_id, agent_id, role, author_name, content, created_at, metadata, extracted, answered) ",
            );
            qb.push_values(chunk, |mut b, m: &Message| {
                b.push_bind(m.id)
                    .push_bind(m.tenant.clone())
                    .push_bind(m.session_id.clone())
                    .push_bind(m.user_id.clone())
                    .push_bind(m.agent_id.clone())
                    .push_bind(m.role.as_str())
                    .push_bind(m.author_name.clone())
                    .push_bind(m.content.clone())
                    .push_bind(ms(m.created_at))
                    .push_bind(json(&m.metadata))
                    .push_bind(m.extracted)
                    .push_bind(m.answered);
            });
            qb.push(" ON CONFLICT (id) DO NOTHING");
            qb.build().execute(&self.db.pool).await.map_err(|e| {
                let e = map(e, "insert messages");
                if e.kind() == ErrorKind::InvalidInput {
                    Error::invalid("message: its session does not exist").with_backend("postgres")
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
        let rows = sqlx::query("SELECT * FROM messages WHERE tenant = $1 AND session_id = $2 ORDER BY id DESC LIMIT $3")
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
        let rows = sqlx::query("SELECT * FROM messages WHERE tenant = $1 AND session_id = $2 AND NOT extracted ORDER BY id LIMIT $3")
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
            "SELECT COUNT(*) FROM messages WHERE tenant = $1 AND session_id = $2 AND NOT extracted",
        )
        .bind(tenant)
        .bind(session_id)
        .fetch_one(&self.db.pool)
        .await
        .map_err(|e| map(e, "count unextracted"))?;
        Ok(rows::u64_of(n))
    }

    async fn mark_extracted(&self, tenant: &str, ids: &[Uuid]) -> Result<()> {
        sqlx::query("UPDATE messages SET extracted = true WHERE tenant = $1 AND id = ANY($2)")
            .bind(tenant)
            .bind(ids)
            .execute(&self.db.pool)
            .await
            .map_err(|e| map(e, "mark extracted"))?;
        Ok(())
    }

    async fn upsert_session(&self, s: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (tenant, id, user_id, agent_id, title, platform, started_at, ended_at, metadata)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (tenant, id) DO UPDATE SET user_id = COALESCE(excluded.user_id, sessions.user_id),
             agent_id = COALESCE(excluded.agent_id, sessions.agent_id), title = COALESCE(excluded.title, sessions.title),
             platform = COALESCE(excluded.platform, sessions.platform), ended_at = COALESCE(excluded.ended_at, sessions.ended_at),
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
        .bind(json(&s.metadata))
        .execute(&self.db.pool)
        .await
        .map_err(|e| map(e, "upsert session"))?;
        Ok(())
    }

    async fn get_session(&self, tenant: &str, id: &str) -> Result<Option<Session>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE tenant = $1 AND id = $2")
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
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, '{}')
             ON CONFLICT (tenant, id) DO UPDATE SET
               external_id = COALESCE(excluded.external_id, users.external_id),
               platform = COALESCE(excluded.platform, users.platform),
               display_name = COALESCE(excluded.display_name, users.display_name),
               last_seen_at = GREATEST(users.last_seen_at, excluded.last_seen_at),
               message_count = users.message_count + excluded.message_count
             RETURNING *",
        )
        .bind(tenant)
        .bind(user_id)
        .bind(&t.external_id)
        .bind(&t.platform)
        .bind(&t.display_name)
        .bind(ms(at))
        .bind(i64_of(t.messages))
        .fetch_one(&self.db.pool)
        .await
        .map_err(|e| {
            let e = map(e, "touch user");
            if e.kind() == ErrorKind::Conflict {
                Error::new(ErrorKind::Conflict, "user: another user already has this external id on this platform").with_backend("postgres")
            } else {
                e
            }
        })?;
        rows::user(&row)
    }

    async fn get_user(&self, tenant: &str, user_id: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(user_id)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(|e| map(e, "get user"))?;
        row.as_ref().map(rows::user).transpose()
    }

    async fn scan_messages(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<Message>> {
        let rows = sqlx::query("SELECT * FROM messages WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after.unwrap_or(Uuid::nil()))
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{}')
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
        let mut tx = self.db.pool.begin().await.map_err(|e| map(e, "begin"))?;
        let owner = |qb: &mut QueryBuilder<Postgres>, session_col: &'static str| {
            qb.push(" WHERE tenant = ").push_bind(scope.tenant.clone());
            for (col, v) in [
                ("user_id", &scope.user_id),
                ("agent_id", &scope.agent_id),
                (session_col, &scope.session_id),
            ] {
                if let Some(v) = v {
                    qb.push(format_args!(" AND {col} = ")).push_bind(v.clone());
                }
            }
        };
        let mut qb = QueryBuilder::<Postgres>::new("SELECT id FROM memories");
        owner(&mut qb, "session_id");
        let ids: Vec<Uuid> = qb
            .build_query_scalar()
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| map(e, "forget"))?;
        let changes = ChangeSet {
            delete: ids.clone(),
            // Written before the deletes, while each row's tenant can still be read.
            outbox: ids.iter().map(|id| (*id, VectorOp::Delete)).collect(),
            ..ChangeSet::default()
        };
        apply_in(&mut tx, &changes, &self.db.cfg.ts_config).await?;
        let mut qb = QueryBuilder::<Postgres>::new("DELETE FROM messages");
        owner(&mut qb, "session_id");
        let messages = qb
            .build()
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "forget"))?
            .rows_affected();
        let mut qb = QueryBuilder::<Postgres>::new("DELETE FROM sessions");
        owner(&mut qb, "id");
        let sessions = qb
            .build()
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "forget"))?
            .rows_affected();
        let users = match (&scope.user_id, &scope.agent_id, &scope.session_id) {
            (Some(u), None, None) => sqlx::query("DELETE FROM users WHERE tenant = $1 AND id = $2")
                .bind(&scope.tenant)
                .bind(u)
                .execute(&mut *tx)
                .await
                .map_err(|e| map(e, "forget"))?
                .rows_affected(),
            _ => 0,
        };
        // History of forgotten memories goes too: it holds their content.
        sqlx::query("DELETE FROM history WHERE memory_id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "forget"))?;
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        Ok(ForgetReport {
            memories: ids,
            messages,
            sessions,
            users,
        })
    }

    async fn stats(&self, tenant: Option<&str>) -> Result<StoreStats> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM memories WHERE $1::text IS NULL OR tenant = $1) AS memories,
                    (SELECT COUNT(*) FROM messages WHERE $1::text IS NULL OR tenant = $1) AS messages,
                    (SELECT COUNT(*) FROM sessions WHERE $1::text IS NULL OR tenant = $1) AS sessions,
                    (SELECT COUNT(*) FROM users WHERE $1::text IS NULL OR tenant = $1) AS users,
                    (SELECT COUNT(*) FROM history WHERE $1::text IS NULL OR tenant = $1) AS history,
                    (SELECT COUNT(*) FROM outbox WHERE $1::text IS NULL OR tenant = $1) AS outbox_pending,
                    (SELECT COUNT(*) FROM outbox WHERE attempts > 0 AND ($1::text IS NULL OR tenant = $1)) AS outbox_failed",
        )
        .bind(tenant)
        .fetch_one(&self.db.pool)
        .await
        .map_err(|e| map(e, "stats"))?;
        let n = |c: &str| get::<i64>(&row, c).map(rows::u64_of);
        Ok(StoreStats {
            memories: n("memories")?,
            messages: n("messages")?,
            sessions: n("sessions")?,
            users: n("users")?,
            history: n("history")?,
            outbox_pending: n("outbox_pending")?,
            outbox_failed: n("outbox_failed")?,
        })
    }
}
