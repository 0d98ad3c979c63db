//! The in-memory keyword partitions of one process, kept in step with the
//! table through `kw_log`: each partition remembers the last log entry it
//! has applied, and a search first applies the entries after it, so writes
//! by this process or any other on the same file are never missed.

use std::sync::{Arc, RwLock};

use memory_core::{Error, Result, VectorPayload};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::postings::{Entry, Postings};
use crate::bounded::{Bounded, Budget, Weighed};
use crate::error::map;
use crate::rows::{self, MEMORY_COLUMNS, get};

/// Reads what a partition holds of each memory.
fn select() -> QueryBuilder<Sqlite> {
    QueryBuilder::new(format!(
        "SELECT m.rowid AS kw_row, m.fts_terms, m.fts_owner, {MEMORY_COLUMNS} FROM memories m"
    ))
}

/// One (tenant, user)'s index and the last log entry applied to it.
#[derive(Debug, Default)]
pub(crate) struct Partition {
    /// The last `kw_log` entry applied.
    pub(super) seen: i64,
    pub(super) postings: Postings,
}

impl Weighed for Partition {
    fn bytes(&self) -> usize {
        self.postings.bytes()
    }
}

/// The cached partitions, by owner token, the least recently searched
/// dropped past the budget.
#[derive(Debug)]
pub(crate) struct KeywordCache {
    parts: Bounded<String, Partition>,
}

pub(super) fn lock_err() -> Error {
    Error::internal("keyword cache lock poisoned").with_backend("sqlite")
}

fn entry(row: &SqliteRow) -> Result<Entry> {
    let record = rows::memory(row)?;
    Ok(Entry {
        rowid: get(row, "kw_row")?,
        id: record.id,
        terms: get(row, "fts_terms")?,
        payload: VectorPayload::from(&record),
    })
}

async fn entries(rows: Vec<SqliteRow>) -> Result<Vec<(i64, String, Entry)>> {
    tokio::task::spawn_blocking(move || {
        rows.iter()
            .map(|r| Ok((get(r, "kw_row")?, get(r, "fts_owner")?, entry(r)?)))
            .collect()
    })
    .await
    .map_err(|e| Error::internal(format!("keyword load task failed: {e}")))?
}

impl KeywordCache {
    /// An empty cache whose partitions count against `budget`.
    pub(crate) fn new(budget: Arc<Budget>) -> Self {
        Self {
            parts: Bounded::new(budget),
        }
    }

    /// How many partitions are cached and about how many bytes they take.
    pub(crate) fn usage(&self) -> Result<(usize, usize)> {
        self.parts.usage()
    }

    /// The partition of `owner` if cached, as it is: perhaps behind the log.
    pub(crate) fn cached(&self, owner: &str) -> Result<Option<Arc<RwLock<Partition>>>> {
        self.parts.get(owner)
    }

    /// The partition of `owner` (the token of `tenant` and `user`), current
    /// as of this call.
    pub(crate) async fn partition(
        &self,
        pool: &SqlitePool,
        owner: &str,
        tenant: &str,
        user: &str,
    ) -> Result<Arc<RwLock<Partition>>> {
        let cached = self.parts.get(owner)?;
        if let Some(part) = cached {
            let seen = part.read().map_err(|_| lock_err())?.seen;
            if self.catch_up(pool, owner, &part, seen).await? {
                return Ok(part);
            }
        }
        let part = Arc::new(RwLock::new(Self::load(pool, tenant, user).await?));
        self.parts.insert(owner.to_owned(), part.clone())?;
        Ok(part)
    }

    /// Applies the log entries after `seen`; false when some were trimmed
    /// from the log before this process read them, so only a reload is safe.
    async fn catch_up(
        &self,
        pool: &SqlitePool,
        owner: &str,
        part: &RwLock<Partition>,
        seen: i64,
    ) -> Result<bool> {
        // One statement, led by a one-row table so the log's oldest entry
        // comes back with no changes too.
        let rows: Vec<(Option<i64>, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT (SELECT MIN(seq) FROM kw_log) AS oldest, l.seq, l.row FROM (SELECT 1) one \
             LEFT JOIN kw_log l ON l.owner = ? AND l.seq > ? ORDER BY l.seq",
        )
        .bind(owner)
        .bind(seen)
        .fetch_all(pool)
        .await
        .map_err(|e| map(e, "read the keyword log"))?;
        let oldest = rows.first().and_then(|r| r.0);
        if oldest.is_some_and(|o| o > seen + 1) {
            return Ok(false);
        }
        let changes: Vec<(i64, i64)> = rows
            .into_iter()
            .filter_map(|(_, seq, row)| Some((seq?, row?)))
            .collect();
        let Some(&(last, _)) = changes.last() else {
            return Ok(true);
        };
        let mut wanted: Vec<i64> = changes.iter().map(|c| c.1).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut current = Vec::new();
        for chunk in wanted.chunks(500) {
            let mut qb = select();
            qb.push(" WHERE m.rowid IN (");
            let mut s = qb.separated(", ");
            for r in chunk {
                s.push_bind(r);
            }
            qb.push(")");
            current.extend(
                qb.build()
                    .fetch_all(pool)
                    .await
                    .map_err(|e| map(e, "read changed memories"))?,
            );
        }
        let current = entries(current).await?;
        let mut part = part.write().map_err(|_| lock_err())?;
        // Another search may have applied these (or later) entries meanwhile.
        if part.seen >= last {
            return Ok(true);
        }
        for &row in &wanted {
            part.postings.remove(row);
        }
        for (_, row_owner, e) in current {
            if row_owner == owner {
                part.postings.upsert(e);
            }
        }
        part.seen = last;
        Ok(true)
    }

    /// Reads the partition whole, with the log position it is current at.
    async fn load(pool: &SqlitePool, tenant: &str, user: &str) -> Result<Partition> {
        // One read transaction: the rows are exactly those as of `seen`.
        let mut tx = pool.begin().await.map_err(|e| map(e, "begin"))?;
        let seen: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM kw_log")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| map(e, "read the keyword log"))?;
        let mut qb = select();
        qb.push(" WHERE m.tenant = ")
            .push_bind(tenant)
            .push(" AND m.user_id = ")
            .push_bind(user);
        let found = qb
            .build()
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| map(e, "load keyword partition"))?;
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        let postings = tokio::task::spawn_blocking(move || -> Result<Postings> {
            let mut postings = Postings::default();
            for r in &found {
                postings.upsert(entry(r)?);
            }
            Ok(postings)
        })
        .await
        .map_err(|e| Error::internal(format!("keyword load task failed: {e}")))??;
        Ok(Partition { seen, postings })
    }
}
