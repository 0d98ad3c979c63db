//! The windows of memories longer than the embedder's window: their spans
//! and vectors beside the memory, and the outbox rows that remove a
//! window's vector when its memory no longer has it.

use std::collections::HashMap;

use memory_core::{ChunkRef, ChunkSpan, Result, StoredChunk, StoredMemory, VectorOp, chunk_id};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::{push_ids, queue_outbox};
use crate::batch::Batch;
use crate::error::map;
use crate::rows::{self, Cols, blob_to_vec, get, vec_to_blob};

/// Queues deletes for the vectors of `memory`'s windows from `keep` on
/// (window 0 is the memory's own vector, never retired here) and removes
/// their rows.
pub(super) async fn retire(conn: &mut SqliteConnection, memory: Uuid, keep: usize) -> Result<()> {
    let keep = i64::try_from(keep).unwrap_or(i64::MAX).max(1);
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT chunk_id, tenant FROM memory_chunks WHERE memory_id = ? AND idx >= ?",
    )
    .bind(memory.to_string())
    .bind(keep)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| map(e, "retire chunks"))?;
    queue_deletes(conn, rows).await?;
    sqlx::query("DELETE FROM memory_chunks WHERE memory_id = ?")
        .bind(memory.to_string())
        .execute(&mut *conn)
        .await
        .map_err(|e| map(e, "retire chunks"))?;
    Ok(())
}

/// Queues deletes for every window vector of memories about to be deleted.
pub(super) async fn retire_all(conn: &mut SqliteConnection, memories: &[Uuid]) -> Result<()> {
    let mut qb = QueryBuilder::<Sqlite>::new(
        "SELECT chunk_id, tenant FROM memory_chunks WHERE idx > 0 AND memory_id IN ",
    );
    push_ids(&mut qb, memories);
    let rows: Vec<(String, String)> = qb
        .build_query_as()
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| map(e, "retire chunks"))?;
    queue_deletes(conn, rows).await
}

async fn queue_deletes(conn: &mut SqliteConnection, rows: Vec<(String, String)>) -> Result<()> {
    let rows = rows
        .into_iter()
        .map(|(id, tenant)| Ok((rows::uuid(&id)?, Some(tenant), VectorOp::Delete)))
        .collect::<Result<Vec<_>>>()?;
    queue_outbox(conn, &rows).await
}

/// Writes the window rows of these memories. A pending delete of a window
/// vector the memory has again is dropped: its upsert writes it anew.
pub(super) fn write(batch: &mut Batch, memories: &[&StoredMemory]) {
    for m in memories.iter().filter(|m| !m.chunks.is_empty()) {
        let id = m.record.id;
        let qb = batch.statement();
        qb.push(
            "INSERT INTO memory_chunks (memory_id, idx, chunk_id, tenant, start_byte, end_byte, embedding) ",
        );
        qb.push_values(&m.chunks, |mut b, c: &StoredChunk| {
            b.push_bind(id.to_string())
                .push_bind(i64::from(c.index))
                .push_bind(chunk_id(id, c.index).to_string())
                .push_bind(m.record.scope.tenant.clone())
                .push_bind(i64::from(c.start))
                .push_bind(i64::from(c.end))
                .push_bind(c.embedding.as_deref().map(vec_to_blob));
        });
        let ids: Vec<Uuid> = m.vector_ids().into_iter().skip(1).collect();
        let qb = batch.statement();
        qb.push("DELETE FROM outbox WHERE op = 'delete' AND memory_id IN ");
        push_ids(qb, &ids);
    }
}

/// The windows of these memories, each memory's in order.
pub(super) async fn load(
    pool: &SqlitePool,
    memories: &[Uuid],
) -> Result<HashMap<Uuid, Vec<StoredChunk>>> {
    let mut out: HashMap<Uuid, Vec<StoredChunk>> = HashMap::new();
    for part in memories.chunks(500) {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT * FROM memory_chunks WHERE memory_id IN ");
        push_ids(&mut qb, part);
        qb.push(" ORDER BY memory_id, idx");
        let found = qb
            .build()
            .fetch_all(pool)
            .await
            .map_err(|e| map(e, "load chunks"))?;
        for r in &found {
            let memory = rows::uuid(&get::<String>(r, "memory_id")?)?;
            out.entry(memory).or_default().push(StoredChunk {
                index: u32::try_from(get::<i64>(r, "idx")?).unwrap_or(0),
                start: u32::try_from(get::<i64>(r, "start_byte")?).unwrap_or(0),
                end: u32::try_from(get::<i64>(r, "end_byte")?).unwrap_or(0),
                embedding: get::<Option<Vec<u8>>>(r, "embedding")?
                    .as_deref()
                    .map(blob_to_vec),
            });
        }
    }
    Ok(out)
}

/// Attaches their windows to stored memories.
pub(super) async fn attach(pool: &SqlitePool, memories: &mut [StoredMemory]) -> Result<()> {
    let ids: Vec<Uuid> = memories.iter().map(|m| m.record.id).collect();
    let mut found = load(pool, &ids).await?;
    for m in memories {
        if let Some(c) = found.remove(&m.record.id) {
            m.chunks = c;
        }
    }
    Ok(())
}

/// A window's span from a row with `idx`, `start_byte` and `end_byte`.
pub(crate) fn span<R: Cols + ?Sized>(r: &R) -> Result<ChunkSpan> {
    let at = |col: &str| r.int(col).map(|v| u32::try_from(v).unwrap_or(0));
    Ok(ChunkSpan {
        index: at("idx")?,
        start: at("start_byte")?,
        end: at("end_byte")?,
    })
}

/// Which of `ids` are windows of the tenant's memories.
pub(super) async fn refs(pool: &SqlitePool, tenant: &str, ids: &[Uuid]) -> Result<Vec<ChunkRef>> {
    let mut out = Vec::new();
    for part in ids.chunks(500) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT chunk_id, memory_id, idx, start_byte, end_byte FROM memory_chunks WHERE tenant = ",
        );
        qb.push_bind(tenant.to_owned()).push(" AND chunk_id IN ");
        push_ids(&mut qb, part);
        let found = qb
            .build()
            .fetch_all(pool)
            .await
            .map_err(|e| map(e, "chunk refs"))?;
        for r in &found {
            out.push(ChunkRef {
                chunk_id: rows::uuid(&get::<String>(r, "chunk_id")?)?,
                memory_id: rows::uuid(&get::<String>(r, "memory_id")?)?,
                span: span(r)?,
            });
        }
    }
    Ok(out)
}
