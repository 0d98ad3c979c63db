//! A user's vector hits with the windows and memories they belong to, read
//! in one statement: what the engine would otherwise fetch in two more
//! round trips. Only for the store's own index, whose `memories` and
//! `memory_chunks` tables live in the same database.

use std::collections::HashMap;
use std::sync::LazyLock;

use memory_core::{ChunkRef, JoinedHit, MemoryRecord, Result, ScoredId};
use serde_json::Value;
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use uuid::Uuid;

use crate::error::{corrupt, map};
use crate::rows::{self, Cols, MEMORY_COLUMNS, get};
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

/// The columns of one hit in the aggregated statement, in order, before
/// the memory's.
const HIT_COLUMNS: [&str; 5] = ["hit", "window_of", "idx", "start_byte", "end_byte"];

/// Each column's position in a hit's array, worked out once.
static POSITIONS: LazyLock<HashMap<&'static str, usize>> = LazyLock::new(|| {
    HIT_COLUMNS
        .into_iter()
        .chain(rows::memory_column_names())
        .enumerate()
        .map(|(i, name)| (name, i))
        .collect()
});

/// Reads the hits' windows and memories as one row holding a JSON array
/// (one array of values per hit): the driver hands rows over one by one
/// between threads, and for a handful of hits that costs more than the
/// statement.
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
    qb.push(format!(
        " AS current_epoch, (SELECT json_group_array(json_array(h.value, ch.memory_id, ch.idx, \
         ch.start_byte, ch.end_byte, {MEMORY_COLUMNS})) FROM json_each("
    ));
    qb.push_bind(serde_json::Value::from(ids).to_string())
        .push(") h LEFT JOIN memory_chunks ch ON ch.tenant = ")
        .push_bind(tenant.to_owned())
        .push(" AND ch.chunk_id = h.value LEFT JOIN memories m ON m.tenant = ")
        .push_bind(tenant.to_owned())
        .push(" AND m.id = COALESCE(ch.memory_id, h.value)) AS hits");
    let row = qb
        .build()
        .fetch_one(pool)
        .await
        .map_err(|e| map(e, "query joined"))?;
    let current = get::<Option<i64>>(&row, "current_epoch")?;
    let values: Vec<Vec<Value>> = serde_json::from_str(&get::<String>(&row, "hits")?)
        .map_err(|e| corrupt("joined hits", e))?;
    let mut found: HashMap<Uuid, (Option<ChunkRef>, Option<MemoryRecord>)> =
        HashMap::with_capacity(values.len());
    for values in &values {
        let r = JsonRow(values);
        let id = rows::uuid(&r.text("hit")?)?;
        let chunk = match r.opt_text("window_of")? {
            Some(memory) => Some(ChunkRef {
                chunk_id: id,
                memory_id: rows::uuid(&memory)?,
                span: span(&r)?,
            }),
            None => None,
        };
        let record = match r.opt_text("id")? {
            Some(_) => Some(rows::memory(&r)?),
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

/// One hit of the aggregated statement: its values, in [`POSITIONS`]' order.
struct JsonRow<'a>(&'a [Value]);

impl JsonRow<'_> {
    fn value(&self, col: &str) -> Result<&Value> {
        POSITIONS
            .get(col)
            .and_then(|&i| self.0.get(i))
            .ok_or_else(|| corrupt(col, "missing from the joined row"))
    }
}

impl Cols for JsonRow<'_> {
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        match self.value(col)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            v => Err(corrupt(col, format!("expected text, found {v}"))),
        }
    }

    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        match self.value(col)? {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| corrupt(col, format!("expected an integer, found {n}"))),
            v => Err(corrupt(col, format!("expected an integer, found {v}"))),
        }
    }

    fn real(&self, col: &str) -> Result<f64> {
        match self.value(col)? {
            Value::Number(n) => n
                .as_f64()
                .ok_or_else(|| corrupt(col, format!("expected a number, found {n}"))),
            v => Err(corrupt(col, format!("expected a number, found {v}"))),
        }
    }
}
