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

use super::partition::PartKey;

/// `hits` (best first) each with its window and its memory in `tenant`.
pub(super) async fn attach(
    pool: &SqlitePool,
    tenant: &str,
    hits: Vec<ScoredId>,
) -> Result<Vec<JoinedHit>> {
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    read(pool, tenant, hits, None)
        .await
        .map(|(joined, _)| joined)
}

/// As [`attach`], for hits of the partition `key`, with the partition's
/// epoch read in the same statement (so as of the same snapshot as the
/// memories): `None` if the partition has none.
pub(super) async fn attach_checked(
    pool: &SqlitePool,
    key: &PartKey,
    hits: Vec<ScoredId>,
) -> Result<(Vec<JoinedHit>, Option<i64>)> {
    read(pool, &key.1, hits, Some(key)).await
}

async fn read(
    pool: &SqlitePool,
    tenant: &str,
    hits: Vec<ScoredId>,
    check: Option<&PartKey>,
) -> Result<(Vec<JoinedHit>, Option<i64>)> {
    let ids: Vec<String> = hits.iter().map(|h| h.id.to_string()).collect();
    let mut qb = QueryBuilder::<Sqlite>::new("SELECT ");
    match check {
        Some((collection, tenant, part)) => {
            qb.push("(SELECT epoch FROM vec_epochs WHERE collection = ")
                .push_bind(collection.clone())
                .push(" AND tenant = ")
                .push_bind(tenant.clone())
                .push(" AND part = ")
                .push_bind(part.clone())
                .push(")");
        }
        None => {
            qb.push("NULL");
        }
    }
    // Led by a one-row table, so the epoch comes back even with no hits.
    qb.push(format!(
        " AS current_epoch, h.value AS hit, ch.memory_id AS window_of, ch.idx, ch.start_byte, ch.end_byte, {MEMORY_COLUMNS} \
         FROM (SELECT 1) one LEFT JOIN json_each("
    ));
    qb.push_bind(serde_json::Value::from(ids).to_string())
        .push(") h ON 1 LEFT JOIN memory_chunks ch ON ch.tenant = ")
        .push_bind(tenant.to_owned())
        .push(" AND ch.chunk_id = h.value LEFT JOIN memories m ON m.tenant = ")
        .push_bind(tenant.to_owned())
        .push(" AND m.id = COALESCE(ch.memory_id, h.value)");
    let rows = qb
        .build()
        .fetch_all(pool)
        .await
        .map_err(|e| map(e, "query joined"))?;
    let current = match rows.first() {
        Some(r) => get::<Option<i64>>(r, "current_epoch")?,
        None => None,
    };
    let mut found: HashMap<Uuid, (Option<ChunkRef>, Option<memory_core::MemoryRecord>)> =
        HashMap::with_capacity(rows.len());
    for r in &rows {
        let Some(hit) = get::<Option<String>>(r, "hit")? else {
            continue;
        };
        let id = rows::uuid(&hit)?;
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
    let joined = hits
        .into_iter()
        .map(|hit| {
            let (chunk, record) = found.remove(&hit.id).unwrap_or_default();
            JoinedHit { hit, chunk, record }
        })
        .collect();
    Ok((joined, current))
}
