//! Hits with the memories (and, for vectors, the windows) they belong to,
//! read in one statement: what the engine would otherwise fetch in more
//! round trips. Only for the store's own indexes, whose `memories` and
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

/// What the statement reads besides the hits, as of the same snapshot.
pub(crate) enum Check<'a> {
    /// Nothing: the hits are read as they are.
    None,
    /// A vector partition's epoch, by (collection, tenant, part); `None`
    /// when the partition has none.
    Epoch(&'a (String, String, String)),
    /// Whether the keyword log moved past `seen` for `owner` (or dropped
    /// entries after it): 1 when it did, else 0.
    KeywordLog {
        /// The partition's owner token.
        owner: &'a str,
        /// The last log entry the partition applied.
        seen: i64,
    },
}

/// `hits` (best first) of vectors, each with its window and its memory in
/// `tenant`, and what `check` reads.
pub(crate) async fn windows(
    pool: &SqlitePool,
    tenant: &str,
    hits: Vec<ScoredId>,
    check: Check<'_>,
) -> Result<(Vec<JoinedHit>, Option<i64>)> {
    read(pool, tenant, hits, check, true).await
}

/// `hits` (best first) of memories, each with its memory in `tenant`, and
/// what `check` reads.
pub(crate) async fn memories(
    pool: &SqlitePool,
    tenant: &str,
    hits: Vec<ScoredId>,
    check: Check<'_>,
) -> Result<(Vec<JoinedHit>, Option<i64>)> {
    read(pool, tenant, hits, check, false).await
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

/// Reads the hits' windows (when `windows`) and memories as one row
/// holding a JSON array (one array of values per hit): the driver hands
/// rows over one by one between threads, and for a handful of hits that
/// costs more than the statement.
async fn read(
    pool: &SqlitePool,
    tenant: &str,
    hits: Vec<ScoredId>,
    check: Check<'_>,
    windows: bool,
) -> Result<(Vec<JoinedHit>, Option<i64>)> {
    if hits.is_empty() && matches!(check, Check::None) {
        return Ok((Vec::new(), None));
    }
    let ids: Vec<String> = hits.iter().map(|h| h.id.to_string()).collect();
    let mut qb = QueryBuilder::<Sqlite>::new("SELECT ");
    match check {
        Check::None => {
            qb.push("NULL");
        }
        Check::Epoch((collection, tenant, part)) => {
            qb.push("(SELECT epoch FROM vec_epochs WHERE collection = ")
                .push_bind(collection.clone())
                .push(" AND tenant = ")
                .push_bind(tenant.clone())
                .push(" AND part = ")
                .push_bind(part.clone())
                .push(")");
        }
        Check::KeywordLog { owner, seen } => {
            qb.push("(EXISTS (SELECT 1 FROM kw_log WHERE owner = ")
                .push_bind(owner.to_owned())
                .push(" AND seq > ")
                .push_bind(seen)
                .push(") OR COALESCE((SELECT MIN(seq) FROM kw_log), 0) > ")
                .push_bind(seen.saturating_add(1))
                .push(")");
        }
    }
    let (window_cols, memory_id) = if windows {
        (
            "ch.memory_id, ch.idx, ch.start_byte, ch.end_byte",
            "COALESCE(ch.memory_id, h.value)",
        )
    } else {
        ("NULL, NULL, NULL, NULL", "h.value")
    };
    qb.push(format!(
        " AS checked, (SELECT json_group_array(json_array(h.value, {window_cols}, \
         {MEMORY_COLUMNS})) FROM json_each("
    ));
    qb.push_bind(serde_json::Value::from(ids).to_string())
        .push(") h");
    if windows {
        qb.push(" LEFT JOIN memory_chunks ch ON ch.tenant = ")
            .push_bind(tenant.to_owned())
            .push(" AND ch.chunk_id = h.value");
    }
    qb.push(" LEFT JOIN memories m ON m.tenant = ")
        .push_bind(tenant.to_owned())
        .push(format!(" AND m.id = {memory_id}) AS hits"));
    let row = qb
        .build()
        .fetch_one(pool)
        .await
        .map_err(|e| map(e, "query joined"))?;
    let checked = get::<Option<i64>>(&row, "checked")?;
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
    Ok((joined, checked))
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
