//! The windows of memories longer than the embedder's window: their spans
//! and vectors beside the memory, and the outbox rows that remove a
//! window's vector when its memory no longer has it.

use std::collections::HashMap;

use memory_core::{ChunkRef, ChunkSpan, Result, StoredChunk, StoredMemory, VectorOp, chunk_id};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::queue_outbox;
use crate::error::map;
use crate::rows::get;

fn u32_of(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Queues deletes for the vectors of `memory`'s windows from `keep` on
/// (window 0 is the memory's own vector, never retired here) and removes
/// their rows.
pub(super) async fn retire(conn: &mut PgConnection, memory: Uuid, keep: usize) -> Result<()> {
    let keep = i32::try_from(keep).unwrap_or(i32::MAX).max(1);
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "DELETE FROM memory_chunks WHERE memory_id = $1 RETURNING chunk_id, tenant, idx",
    )
    .bind(memory)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| map(e, "retire chunks"))?
    .into_iter()
    .filter(|(_, _, idx): &(Uuid, String, i32)| *idx >= keep)
    .map(|(id, tenant, _)| (id, tenant))
    .collect();
    queue_deletes(conn, rows).await
}

/// Queues deletes for every window vector of memories about to be deleted.
pub(super) async fn retire_all(conn: &mut PgConnection, memories: &[Uuid]) -> Result<()> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT chunk_id, tenant FROM memory_chunks WHERE idx > 0 AND memory_id = ANY($1)",
    )
    .bind(memories)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| map(e, "retire chunks"))?;
    queue_deletes(conn, rows).await
}

async fn queue_deletes(conn: &mut PgConnection, rows: Vec<(Uuid, String)>) -> Result<()> {
    let rows: Vec<(Uuid, Option<String>, VectorOp)> = rows
        .into_iter()
        .map(|(id, tenant)| (id, Some(tenant), VectorOp::Delete))
        .collect();
    queue_outbox(conn, &rows).await
}

/// Writes the window rows of these memories. A pending delete of a window
/// vector the memory has again is dropped: its upsert writes it anew.
pub(super) async fn write(conn: &mut PgConnection, memories: &[&StoredMemory]) -> Result<()> {
    for m in memories.iter().filter(|m| !m.chunks.is_empty()) {
        let id = m.record.id;
        let mut qb = QueryBuilder::<Postgres>::new(
            "INSERT INTO memory_chunks (memory_id, idx, chunk_id, tenant, start_byte, end_byte, embedding) ",
        );
        qb.push_values(&m.chunks, |mut b, c: &StoredChunk| {
            b.push_bind(id)
                .push_bind(i32_of(c.index))
                .push_bind(chunk_id(id, c.index))
                .push_bind(m.record.scope.tenant.clone())
                .push_bind(i32_of(c.start))
                .push_bind(i32_of(c.end))
                .push_bind(c.embedding.clone());
        });
        qb.build()
            .execute(&mut *conn)
            .await
            .map_err(|e| map(e, "write chunks"))?;
        let ids: Vec<Uuid> = m.vector_ids().into_iter().skip(1).collect();
        sqlx::query("DELETE FROM outbox WHERE op = 'delete' AND memory_id = ANY($1)")
            .bind(&ids)
            .execute(&mut *conn)
            .await
            .map_err(|e| map(e, "write chunks"))?;
    }
    Ok(())
}

pub(crate) fn span(r: &sqlx::postgres::PgRow) -> Result<ChunkSpan> {
    Ok(ChunkSpan {
        index: u32_of(get(r, "idx")?),
        start: u32_of(get(r, "start_byte")?),
        end: u32_of(get(r, "end_byte")?),
    })
}

/// Attaches their windows, in order, to stored memories.
pub(super) async fn attach(pool: &PgPool, memories: &mut [StoredMemory]) -> Result<()> {
    let ids: Vec<Uuid> = memories.iter().map(|m| m.record.id).collect();
    let rows = sqlx::query(
        "SELECT memory_id, idx, start_byte, end_byte, embedding FROM memory_chunks
         WHERE memory_id = ANY($1) ORDER BY memory_id, idx",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await
    .map_err(|e| map(e, "load chunks"))?;
    let mut found: HashMap<Uuid, Vec<StoredChunk>> = HashMap::new();
    for r in &rows {
        let s = span(r)?;
        found
            .entry(get(r, "memory_id")?)
            .or_default()
            .push(StoredChunk {
                index: s.index,
                start: s.start,
                end: s.end,
                embedding: get(r, "embedding")?,
            });
    }
    for m in memories {
        if let Some(c) = found.remove(&m.record.id) {
            m.chunks = c;
        }
    }
    Ok(())
}

/// Which of `ids` are windows of the tenant's memories.
pub(super) async fn refs(pool: &PgPool, tenant: &str, ids: &[Uuid]) -> Result<Vec<ChunkRef>> {
    let rows = sqlx::query(
        "SELECT chunk_id, memory_id, idx, start_byte, end_byte FROM memory_chunks
         WHERE tenant = $1 AND chunk_id = ANY($2)",
    )
    .bind(tenant)
    .bind(ids)
    .fetch_all(pool)
    .await
    .map_err(|e| map(e, "chunk refs"))?;
    rows.iter()
        .map(|r| {
            Ok(ChunkRef {
                chunk_id: get(r, "chunk_id")?,
                memory_id: get(r, "memory_id")?,
                span: span(r)?,
            })
        })
        .collect()
}
