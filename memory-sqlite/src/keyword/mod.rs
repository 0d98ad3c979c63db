//! `KeywordIndex` on SQLite: a search pinned to one user ranks that user's
//! in-memory inverted index ([`cache`]), scoring only the postings of the
//! query's terms; other searches (a whole tenant, an agent) go to FTS5,
//! which ranks every matching row before `LIMIT`.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use memory_core::{
    BackendInfo, Filter, JoinedHit, KeywordCapabilities, KeywordIndex, KeywordQuery, Op, Result,
    ScoredId,
};
use sqlx::{QueryBuilder, Sqlite};

use crate::SqliteStore;
use crate::error::map;
use crate::filter_sql::push_and;
use crate::joined::{self, Check};
use crate::rows;
use crate::store::owner_token;

mod cache;
mod postings;

pub(crate) use cache::KeywordCache;
use cache::Partition;

/// The most words of a query that are searched.
const MAX_TERMS: usize = 64;

/// Turns free text into an FTS5 query on the analysed terms column: each
/// term quoted, any may match.
/// Quoting makes every term a literal, so no input is FTS5 syntax.
pub(crate) fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = memory_core::text::query_terms(text, MAX_TERMS)
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect();
    (!terms.is_empty()).then(|| format!("fts_terms : ({})", terms.join(" OR ")))
}

#[async_trait]
impl KeywordIndex for SqliteStore {
    fn info(&self) -> BackendInfo {
        self.db.info()
    }

    fn capabilities(&self) -> KeywordCapabilities {
        KeywordCapabilities {
            ranking: "bm25",
            filter_ops: Op::ALL.to_vec(),
        }
    }

    async fn search(&self, query: &KeywordQuery) -> Result<Vec<ScoredId>> {
        if let Some(user) = in_memory_user(query) {
            let terms = memory_core::text::query_terms(&query.text, MAX_TERMS);
            if terms.is_empty() {
                return Ok(Vec::new());
            }
            return self.search_partition(query, user, terms).await;
        }
        let pinned = query
            .filter
            .as_ref()
            .and_then(|f| f.pinned(&memory_core::Field::UserId))
            .and_then(|v| v.as_str());
        let Some(mut fts) = fts_query(&query.text) else {
            return Ok(Vec::new());
        };
        if let Some(user) = pinned {
            fts = format!(
                "fts_owner : \"{}\" AND {fts}",
                owner_token(&query.tenant, Some(user))
            );
        }
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT m.id AS id, bm25(memories_fts) AS rank FROM memories_fts CROSS JOIN memories m ON m.rowid = memories_fts.rowid WHERE memories_fts MATCH ",
        );
        qb.push_bind(fts)
            .push(" AND m.tenant = ")
            .push_bind(query.tenant.clone());
        push_and(&mut qb, query.filter.as_ref());
        qb.push(" ORDER BY rank LIMIT ")
            .push_bind(i64::try_from(query.k).unwrap_or(i64::MAX));
        let rows = qb
            .build()
            .fetch_all(&self.db.pool)
            .await
            .map_err(|e| map(e, "keyword search"))?;
        rows.iter()
            .map(|r| {
                #[allow(clippy::cast_possible_truncation)]
                let score = -(rows::get::<f64>(r, "rank")? as f32);
                Ok(ScoredId {
                    id: rows::uuid(&rows::get::<String>(r, "id")?)?,
                    score,
                })
            })
            .collect()
    }

    /// A search pinned to one user is ranked on the user's cached index
    /// first and its memories read in the statement that checks the index
    /// was current, so it costs one round trip; if the log moved on
    /// meanwhile it is answered again the long way.
    async fn search_joined(&self, query: &KeywordQuery) -> Result<Option<Vec<JoinedHit>>> {
        let Some(user) = in_memory_user(query) else {
            return Ok(None);
        };
        let terms = memory_core::text::query_terms(&query.text, MAX_TERMS);
        if terms.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let owner = owner_token(&query.tenant, Some(user));
        if let Some(part) = self.keywords.cached(&owner)? {
            let (hits, seen) = rank(part, terms.clone(), query.k, query.filter.clone()).await?;
            let check = Check::KeywordLog {
                owner: &owner,
                seen,
            };
            let (joined, moved) =
                joined::memories(&self.db.pool, &query.tenant, hits, check).await?;
            if moved == Some(0) {
                return Ok(Some(joined));
            }
        }
        let hits = self.search_partition(query, user, terms).await?;
        let (joined, _) = joined::memories(&self.db.pool, &query.tenant, hits, Check::None).await?;
        Ok(Some(joined))
    }
}

/// The user whose cached index answers the query: a filter pinning one
/// user and not asking about access times (which change on every read and
/// are not cached).
fn in_memory_user(query: &KeywordQuery) -> Option<&str> {
    let filter = query.filter.as_ref()?;
    let user = filter.pinned(&memory_core::Field::UserId)?.as_str()?;
    filter
        .conditions()
        .iter()
        .all(|c| c.field != memory_core::Field::LastAccessedAt)
        .then_some(user)
}

/// Up to this many postings and slots, a partition is ranked in the
/// caller's task: handing it to the blocking pool and back costs more.
const INLINE_RANK_STEPS: usize = 1 << 14;

/// The partition's `k` best for `terms`, with the log entry it was current
/// at when ranked.
async fn rank(
    part: Arc<RwLock<Partition>>,
    terms: Vec<String>,
    k: usize,
    filter: Option<Filter>,
) -> Result<(Vec<ScoredId>, i64)> {
    {
        let p = part.read().map_err(|_| cache::lock_err())?;
        if p.postings.work(&terms) <= INLINE_RANK_STEPS {
            return Ok(ranked(&p, &terms, k, filter.as_ref()));
        }
    }
    tokio::task::spawn_blocking(move || {
        let p = part.read().map_err(|_| cache::lock_err())?;
        Ok(ranked(&p, &terms, k, filter.as_ref()))
    })
    .await
    .map_err(|e| memory_core::Error::internal(format!("keyword search task failed: {e}")))?
}

/// The postings' top hits as scored ids, with the log entry the partition is at.
fn ranked(
    part: &Partition,
    terms: &[String],
    k: usize,
    filter: Option<&Filter>,
) -> (Vec<ScoredId>, i64) {
    let hits = part
        .postings
        .top(terms, k, filter)
        .into_iter()
        .map(|(id, score)| ScoredId { id, score })
        .collect();
    (hits, part.seen)
}

impl SqliteStore {
    /// Ranks one user's memories for `terms` (the query's, not empty) on
    /// their cached inverted index, brought up to date with the log first.
    async fn search_partition(
        &self,
        query: &KeywordQuery,
        user: &str,
        terms: Vec<String>,
    ) -> Result<Vec<ScoredId>> {
        let owner = owner_token(&query.tenant, Some(user));
        let part = self
            .keywords
            .partition(&self.db.pool, &owner, &query.tenant, user)
            .await?;
        rank(part, terms, query.k, query.filter.clone())
            .await
            .map(|(hits, _)| hits)
    }
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn queries_are_quoted_words() {
        assert_eq!(
            fts_query("cats AND \"dogs\"*").as_deref(),
            Some("fts_terms : (\"cats\" OR \"cat\" OR \"dogs\" OR \"dog\")")
        );
        assert_eq!(fts_query("?!"), None);
    }
}
