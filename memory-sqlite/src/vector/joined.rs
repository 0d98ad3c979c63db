//! A user's vector hits with the windows and memories they belong to, read
//! in one statement: what the engine would otherwise fetch in two more
//! round trips. Only for the store's own index, whose `memories` and
//! `memory_chunks` tables live in the same database.

use std::collections::HashMap;

use memory_core::{ChunkRef, JoinedHit, Result, ScoredId};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use uuid::Uuid;

use crate::error::map;
use crate::rows::{self, MEMORY_COLUMNS, get};
use crate::store::chunks::span;

/// `hits` (best first) each with its window and its memory in `tenant`.
pub(super) async fn attach(
    pool: &SqlitePool,
    tenant: &str,
    hits: Vec<ScoredId>,
) -> Result<Vec<JoinedHit>> {
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = hits.iter().map(|h| h.id.to_string()).collect();
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT h.value AS hit, ch.memory_id AS window_of, ch.idx, ch.start_byte, ch.end_byte, {MEMORY_COLUMNS} \
         FROM json_each("
    ));
    qb.push_bind(serde_json::Value::from(ids).to_string())
        .push(") h LEFT JOIN memory_chunks ch ON ch.tenant = ")
        .push_bind(tenant.to_owned())
        .push(" AND ch.chunk_id = h.value LEFT JOIN memories m ON m.tenant = ")
        .push_bind(tenant.to_owned())
        .push(" AND m.id = COALESCE(ch.memory_id, h.value)");
    let rows = qb
        .build()
        .fetch_all(pool)
        .await
        .map_err(|e| map(e, "query joined"))?;
    let mut found: HashMap<Uuid, (Option<ChunkRef>, Option<memory_core::MemoryRecord>)> =
        HashMap::with_capacity(rows.len());
    for r in &rows {
        let id = rows::uuid(&get::<String>(r, "hit")?)?;
        let chunk = match get::<Option<String>>(r, "window_of")? {
            Some(memory) => Some(ChunkRef {
                chunk_id: id,
                memory_id: rows::uuid(&memory)?,
                span: span(r)?,
            }),
            None => None,
        };
        let record = match get::<Option<String>>(r, "id")? {
            Some(_) => Some(rows::memory(r)?),
            None => None,
        };
        found.insert(id, (chunk, record));
    }
    Ok(hits
        .into_iter()
        .map(|hit| {
            let (chunk, record) = found.remove(&hit.id).unwrap_or_default();
            JoinedHit { hit, chunk, record }
        })
        .collect())
}
