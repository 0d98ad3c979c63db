//! Memories, history and the vector outbox of [`SqliteStore`].

use async_trait::async_trait;
use std::collections::HashSet;

use memory_core::{MemoryStore, OutboxAck, VectorIndex, VectorRecord};

use super::*;
use crate::batch::Batch;

/// Marks the memories of the ids that follow synced.
const SYNCED: &str =
    "UPDATE memories SET vector_state = 'synced', vector_attempts = 0 WHERE id IN ";

/// Appends the ids of the memories still at the version their
/// acknowledgement names (`acks`: a JSON array of `[id, version]`).
fn push_at_version(qb: &mut QueryBuilder<Sqlite>, acks: &str) {
    qb.push("(SELECT m.id FROM memories m JOIN json_each(")
        .push_bind(acks.to_owned())
        .push(") d ON m.id = json_extract(d.value, '$[0]') AND m.version = json_extract(d.value, '$[1]'))");
}

/// Appends the statements marking `done` done (see `outbox_done`); with
/// `returning`, the synced memories' ids are the rows they return.
fn push_done(batch: &mut Batch, done: &[OutboxAck], returning: bool) {
    let returned = if returning { ") RETURNING id" } else { ")" };
    // Each acknowledged upsert still queued marks its memory synced
    // before its outbox row goes.
    for op in [VectorOp::Upsert, VectorOp::Delete] {
        let ids: Vec<Uuid> = done
            .iter()
            .filter(|a| a.op == op && a.version.is_none())
            .map(|a| a.memory_id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        // Only the ops still queued as acknowledged go: a newer op
        // for the same memory stays for the next flush.
        if op == VectorOp::Upsert {
            let qb = batch.statement();
            qb.push(SYNCED)
                .push("(SELECT memory_id FROM outbox WHERE op = 'upsert' AND memory_id IN ");
            push_ids(qb, &ids);
            qb.push(returned);
        }
        let qb = batch.statement();
        qb.push("DELETE FROM outbox WHERE op = ")
            .push_bind(op.as_str())
            .push(" AND memory_id IN ");
        push_ids(qb, &ids);
    }
    // Upserts of a version: done only while the memory is still at it.
    let versioned: Vec<serde_json::Value> = done
        .iter()
        .filter(|a| a.op == VectorOp::Upsert)
        .filter_map(|a| {
            a.version
                .map(|v| serde_json::json!([a.memory_id.to_string(), v]))
        })
        .collect();
    if !versioned.is_empty() {
        let acks = serde_json::Value::from(versioned).to_string();
        let qb = batch.statement();
        qb.push(SYNCED)
            .push("(SELECT memory_id FROM outbox WHERE op = 'upsert' AND memory_id IN ");
        push_at_version(qb, &acks);
        qb.push(returned);
        let qb = batch.statement();
        qb.push("DELETE FROM outbox WHERE op = 'upsert' AND memory_id IN ");
        push_at_version(qb, &acks);
    }
}

#[async_trait]
impl MemoryStore for SqliteStore {
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
        let mut tx = self.db.begin_immediate().await?;
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
        super::chunks::attach(&self.db.pool, &mut out).await?;
        Ok(out)
    }

    async fn chunk_refs(&self, tenant: &str, ids: &[Uuid]) -> Result<Vec<memory_core::ChunkRef>> {
        super::chunks::refs(&self.db.pool, tenant, ids).await
    }

    async fn find_by_hash(&self, scope: &Scope, hash: &str) -> Result<Option<MemoryRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.tenant = ? AND m.owner_key = ? AND m.content_hash = ? AND m.valid_until IS NULL"
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
        let items = rows.iter().map(rows::memory).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |m| m.id.to_string()))
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
            .execute(self.db.writer())
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

    async fn outbox_done(&self, done: &[OutboxAck]) -> Result<Vec<Uuid>> {
        if done.is_empty() {
            return Ok(Vec::new());
        }
        let mut batch = Batch::default();
        push_done(&mut batch, done, true);
        let mut tx = self.db.begin_immediate().await?;
        let rows = batch.fetch(&mut tx, "outbox done").await?;
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        rows.iter()
            .map(|r| crate::rows::uuid(&get::<String>(r, "id")?))
            .collect()
    }

    async fn outbox_failed(&self, ids: &[Uuid], error: &str, max_attempts: u32) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::default();
        let qb = batch.statement();
        qb.push("UPDATE outbox SET attempts = attempts + 1, last_error = ")
            .push_bind(error.to_owned())
            .push(" WHERE memory_id IN ");
        push_ids(qb, ids);
        let qb = batch.statement();
        qb.push(
            "UPDATE memories SET vector_attempts = vector_attempts + 1, vector_state = CASE WHEN vector_attempts + 1 >= ",
        )
        .push_bind(i64::from(max_attempts))
        .push(" THEN 'failed' ELSE 'pending' END WHERE id IN ");
        push_ids(qb, ids);
        // A memory whose op another writer has meanwhile acknowledged (an
        // update flushed its own vector) keeps its state.
        qb.push(" AND EXISTS (SELECT 1 FROM outbox WHERE outbox.memory_id = memories.id)");
        let mut tx = self.db.begin_immediate().await?;
        batch.run(&mut tx, "outbox failed").await?;
        tx.commit().await.map_err(|e| map(e, "commit"))
    }

    async fn apply_with_own_vectors(
        &self,
        changes: &ChangeSet,
        index: &dyn VectorIndex,
        collection: &str,
        vectors: &[VectorRecord],
    ) -> Result<bool> {
        let Some(own) = &self.own_vectors else {
            return Ok(false);
        };
        if index.instance() != std::sync::Arc::as_ptr(own).cast::<()>() {
            return Ok(false);
        }
        let with_vector: HashSet<Uuid> = vectors.iter().map(|v| v.id).collect();
        let written =
            |id: &Uuid, op: &VectorOp| *op == VectorOp::Upsert && with_vector.contains(id);
        // A memory inserted here with its vector is inserted synced: it
        // needs no outbox row to be queued and then marked done.
        let fresh: HashSet<Uuid> = changes
            .insert
            .iter()
            .map(|m| m.record.id)
            .filter(|id| written(id, &VectorOp::Upsert))
            .collect();
        let done: Vec<OutboxAck> = changes
            .outbox
            .iter()
            .filter(|(id, op)| written(id, op) && !fresh.contains(id))
            .map(|(id, _)| OutboxAck::of(*id, VectorOp::Upsert))
            .collect();
        // One transaction and, past the reads a write needs first, one
        // command: the memories, their vectors, and their outbox rows
        // marked done; the vector bumps' epochs are the only rows returned.
        let mut tx = self.db.begin_immediate().await?;
        let mut batch = Batch::default();
        super::stage(&mut tx, changes, &fresh, &mut batch).await?;
        let staged = if vectors.is_empty() {
            None
        } else {
            Some(
                crate::SqliteVectorIndex::stage_upsert(&mut tx, collection, vectors, &mut batch)
                    .await?,
            )
        };
        push_done(&mut batch, &done, false);
        let rows = batch.fetch(&mut tx, "write memories and vectors").await?;
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        // Committed: a cached partition the patch misses is behind the
        // stored epoch and reloads on its next search.
        if let Some(staged) = staged
            && let Err(e) = own.finish_upsert(staged, &rows)
        {
            tracing::warn!(error = %e, "vector cache not patched after a write; it reloads");
        }
        Ok(true)
    }
}
