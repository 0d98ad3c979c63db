//! Memories, history and the vector outbox of [`PgStore`].

use async_trait::async_trait;
use memory_core::{MemoryStore, OutboxAck};

use super::*;

#[async_trait]
impl MemoryStore for PgStore {
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
        let mut out = rows.iter().map(rows::stored).collect::<Result<Vec<_>>>()?;
        super::chunks::attach(&self.db.pool, &mut out).await?;
        Ok(out)
    }

    async fn chunk_refs(&self, tenant: &str, ids: &[Uuid]) -> Result<Vec<memory_core::ChunkRef>> {
        super::chunks::refs(&self.db.pool, tenant, ids).await
    }

    async fn find_by_hash(&self, scope: &Scope, hash: &str) -> Result<Option<MemoryRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.tenant = $1 AND m.owner_key = $2 AND m.content_hash = $3 AND m.valid_until IS NULL"
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
        let items = rows.iter().map(rows::memory).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |m| m.id.to_string()))
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

    async fn outbox_done(&self, done: &[OutboxAck]) -> Result<Vec<Uuid>> {
        if done.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = done.iter().map(|a| a.memory_id).collect();
        let ops: Vec<&str> = done.iter().map(|a| a.op.as_str()).collect();
        let versions: Vec<Option<i64>> = done
            .iter()
            .map(|a| a.version.map(crate::rows::i64_of))
            .collect();
        let mut tx = self.db.pool.begin().await.map_err(|e| map(e, "begin"))?;
        lock_memories(&mut tx, &ids).await?;
        let removed: Vec<Option<Uuid>> = sqlx::query_scalar(
            "DELETE FROM outbox o USING UNNEST($1::uuid[], $2::text[], $3::bigint[]) AS d(id, op, version)
             WHERE o.memory_id = d.id AND o.op = d.op
               AND (d.version IS NULL OR EXISTS (SELECT 1 FROM memories m WHERE m.id = d.id AND m.version = d.version))
             RETURNING CASE WHEN o.op = 'upsert' THEN o.memory_id END",
        )
        .bind(&ids)
        .bind(&ops)
        .bind(&versions)
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
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        Ok(removed)
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
             vector_state = CASE WHEN vector_attempts + 1 >= $1 THEN 'failed' ELSE 'pending' END
             WHERE id = ANY($2)
             -- A memory whose op another writer has meanwhile acknowledged
             -- (an update flushed its own vector) keeps its state.
             AND EXISTS (SELECT 1 FROM outbox o WHERE o.memory_id = memories.id)",
        )
        .bind(i64::from(max_attempts))
        .bind(ids)
        .execute(&mut *tx)
        .await
        .map_err(|e| map(e, "outbox failed"))?;
        tx.commit().await.map_err(|e| map(e, "commit"))
    }
}
