use async_trait::async_trait;
use serde::Serialize;

use super::{BackendInfo, JoinedHit};
use crate::{Filter, Op, Result, ScoredId};

/// A full-text query.
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordQuery {
    /// Only this tenant's memories.
    pub tenant: String,
    /// Words to look for; any of them may match.
    pub text: String,
    /// How many to return at most.
    pub k: usize,
    /// Only memories matching this.
    pub filter: Option<Filter>,
}

/// What a keyword index can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct KeywordCapabilities {
    /// How scores are computed (`bm25`, `ts_rank_cd`).
    pub ranking: &'static str,
    /// Filter operators evaluated natively.
    pub filter_ops: Vec<Op>,
}

/// Full-text search over the memories a [`super::Store`] holds.
///
/// The index is maintained by the store's own writes (FTS5 triggers in
/// SQLite, a generated `tsvector` in PostgreSQL): it has no write methods.
///
/// # Behavior
///
/// - Any query word may match; memories holding more and rarer words rank higher.
/// - Query text is never interpreted as syntax: quotes, operators and
///   punctuation are treated as plain words, and a query of only punctuation returns nothing.
/// - Results are the tenant's memories matching the filter, best first, at most `k`.
#[async_trait]
pub trait KeywordIndex: Send + Sync + std::fmt::Debug {
    /// What this index is.
    fn info(&self) -> BackendInfo;
    /// What it can do.
    fn capabilities(&self) -> KeywordCapabilities;
    /// Best matches for the query.
    async fn search(&self, query: &KeywordQuery) -> Result<Vec<ScoredId>>;
    /// [`Self::search`]'s hits with their memories, read in the same round
    /// trip, for an index that lives in the store's own database (the
    /// engine then need not fetch them); `Ok(None)` when it cannot answer
    /// so, the default, and the engine searches the usual way.
    async fn search_joined(&self, _query: &KeywordQuery) -> Result<Option<Vec<JoinedHit>>> {
        Ok(None)
    }
}
