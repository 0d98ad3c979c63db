//! Search: semantic, keyword, or hybrid (reciprocal rank fusion), then
//! weighted by recency and importance.

use std::collections::HashMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Memory;
use super::lists::Folded;
use super::scope::scope_filter;
use super::score::{Ranker, ScoreParts, Weights};
use super::validity::Validity;
use crate::traits::{KeywordQuery, VectorQuery};
use crate::{ChunkSpan, Error, Filter, MemoryRecord, Result, Scope};

/// Which lists a search consults.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Vector and keyword, fused.
    #[default]
    Hybrid,
    /// Vector only.
    Semantic,
    /// Keyword only (no embedding needed).
    Keyword,
}

impl SearchMode {
    /// The mode's name as serialized (`hybrid`, `semantic`, `keyword`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hybrid => "hybrid",
            Self::Semantic => "semantic",
            Self::Keyword => "keyword",
        }
    }
}

/// A search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Whose memories; unset owner fields match any value.
    #[serde(flatten)]
    pub scope: Scope,
    /// What to look for.
    pub query: String,
    /// How many hits per page.
    #[serde(default)]
    pub k: Option<usize>,
    /// Which lists to consult.
    #[serde(default)]
    pub mode: SearchMode,
    /// Only memories matching this filter (JSON form).
    #[serde(default)]
    pub filter: Option<serde_json::Value>,
    /// From a previous response's `next_cursor`.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Drop vector candidates below this cosine similarity.
    #[serde(default)]
    pub min_similarity: Option<f32>,
    /// Override the engine's weights for this search.
    #[serde(default)]
    pub weights: Option<Weights>,
    /// Include memories a newer one superseded.
    #[serde(default)]
    pub include_superseded: bool,
    /// Search what was believed at this time instead of now.
    #[serde(default)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// Also search the language model's rephrasings of the query and fuse
    /// the lists (default: the engine's `query_rewrite`).
    #[serde(default)]
    pub rewrite: Option<bool>,
}

impl SearchRequest {
    /// A hybrid search in `scope`.
    pub fn new(scope: Scope, query: impl Into<String>) -> Self {
        Self {
            scope,
            query: query.into(),
            k: None,
            mode: SearchMode::Hybrid,
            filter: None,
            cursor: None,
            min_similarity: None,
            weights: None,
            include_superseded: false,
            as_of: None,
            rewrite: None,
        }
    }

    /// Sets `k`.
    pub fn k(mut self, k: usize) -> Self {
        self.k = Some(k);
        self
    }

    /// Sets the mode.
    pub fn mode(mut self, mode: SearchMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the filter (JSON form).
    pub fn filter(mut self, filter: serde_json::Value) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Sets whether the language model's rephrasings are searched too.
    pub fn rewrite(mut self, rewrite: bool) -> Self {
        self.rewrite = Some(rewrite);
        self
    }

    /// Sets which memories it sees in time.
    pub fn validity(mut self, validity: Validity) -> Self {
        (self.include_superseded, self.as_of) = match validity {
            Validity::Current => (false, None),
            Validity::All => (true, None),
            Validity::AsOf(t) => (false, Some(t)),
        };
        self
    }
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SearchHit {
    /// The memory.
    pub memory: MemoryRecord,
    /// The score it was ranked by.
    pub score: f32,
    /// How the score was made.
    pub explain: ScoreParts,
    /// For a memory longer than the embedder's window, the window its
    /// similarity comes from (byte offsets in its content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<ChunkSpan>,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SearchResponse {
    /// Best first.
    pub hits: Vec<SearchHit>,
    /// Pass back for the next page.
    pub next_cursor: Option<String>,
    /// Lists that failed and were left out (e.g. `["vector"]` when the index is down).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub degraded: Vec<String>,
    /// The language model's rephrasings searched besides the query, when
    /// the search was rewritten.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrites: Vec<String>,
}

/// The most candidates one search ranks; deep pages past this are refused.
const MAX_CANDIDATES: usize = 2000;

pub(super) fn decode_cursor(c: &str) -> Result<usize> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| Error::invalid("cursor: not a cursor this search returned"))
}

pub(super) fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

impl Memory {
    /// Finds memories by meaning and by keyword.
    pub async fn search(&self, request: SearchRequest) -> Result<SearchResponse> {
        let start = std::time::Instant::now();
        let mode = request.mode.as_str();
        let result = self.search_unnoted(request).await;
        if let Ok(r) = &result {
            self.note_served(&r.hits);
        }
        metrics::histogram!("memory_search_seconds", "mode" => mode)
            .record(start.elapsed().as_secs_f64());
        result
    }

    /// A search, rewritten when asked, its access not noted: the caller
    /// notes what it serves (a rewritten search's lists run deeper than
    /// the page, and context keeps what its budget allows).
    pub(super) async fn search_unnoted(&self, request: SearchRequest) -> Result<SearchResponse> {
        if request.rewrite.unwrap_or(self.inner.config.query_rewrite) {
            self.search_rewritten(request).await
        } else {
            self.search_inner(request).await
        }
    }

    /// Notes access for the hits served, when access is tracked.
    pub(super) fn note_served(&self, hits: &[SearchHit]) {
        if self.inner.config.track_access
            && let Some(first) = hits.first()
        {
            let ids: Vec<Uuid> = hits.iter().map(|h| h.memory.id).collect();
            self.note_access(&first.memory.scope.tenant, &ids, crate::now());
        }
    }

    /// One search, its access not noted (the caller notes the page it
    /// serves).
    pub(super) async fn search_inner(&self, request: SearchRequest) -> Result<SearchResponse> {
        let cfg = &self.inner.config;
        request.scope.validate(false)?;
        let k = request.k.unwrap_or(cfg.default_k);
        if k == 0 || k > cfg.max_k {
            return Err(Error::invalid(format!(
                "k: must be within 1 and {}, got {k}",
                cfg.max_k
            )));
        }
        if request.query.trim().is_empty() {
            return Err(Error::invalid("query: must not be empty"));
        }
        super::requests::validate_content(&request.query, cfg)
            .map_err(|e| Error::invalid(e.message().replacen("content", "query", 1)))?;
        if let Some(m) = request.min_similarity
            && (!m.is_finite() || !(-1.0..=1.0).contains(&m))
        {
            return Err(Error::invalid(format!(
                "min_similarity: must be within -1 and 1, got {m}"
            )));
        }
        let weights = request.weights.unwrap_or(cfg.weights);
        weights.validate()?;
        let offset = request
            .cursor
            .as_deref()
            .map(decode_cursor)
            .transpose()?
            .unwrap_or(0);
        let user_filter = request.filter.as_ref().map(Filter::parse).transpose()?;
        let filter = match (scope_filter(&request.scope), user_filter) {
            (Some(a), Some(b)) => Some(a.and(b)),
            (a, b) => a.or(b),
        };
        let filter = Validity::from_options(request.include_superseded, request.as_of)?.and(filter);
        let want = offset + k;
        if want > MAX_CANDIDATES {
            return Err(Error::invalid(format!(
                "cursor: pages past {MAX_CANDIDATES} results are not served; narrow the filter"
            )));
        }
        // A single list whose index evaluates the filter itself needs one
        // candidate past the page (to know whether another page exists);
        // fusion needs a deeper pool from each list.
        let native = |ops: &[crate::Op]| filter.as_ref().is_none_or(|f| f.uses_only(ops));
        let single = match request.mode {
            SearchMode::Semantic => self
                .inner
                .vectors
                .capabilities()
                .supports_filter_opt(filter.as_ref()),
            SearchMode::Keyword => self
                .inner
                .keywords
                .as_ref()
                .is_some_and(|k| native(&k.capabilities().filter_ops)),
            SearchMode::Hybrid => false,
        };
        let candidates = if single {
            want + 1
        } else {
            (want * cfg.candidate_factor).clamp(want + 1, MAX_CANDIDATES)
        };
        let tenant = request.scope.tenant.clone();

        let use_vector = request.mode != SearchMode::Keyword;
        let use_keyword = request.mode != SearchMode::Semantic && self.inner.keywords.is_some();
        let mut degraded = Vec::new();

        let vector_fut = async {
            if !use_vector {
                return Result::<Folded>::Ok((Vec::new(), HashMap::new(), HashMap::new()));
            }
            let vector = self.embed_query_checked(&request.query).await?;
            // Windows of one memory count once: when folding them leaves
            // too few candidates from a full list, the list is deepened.
            let mut k = candidates;
            loop {
                let q = VectorQuery {
                    tenant: tenant.clone(),
                    vector: vector.clone(),
                    k,
                    filter: filter.clone(),
                };
                let (full, folded) = self.vector_list(&q).await?;
                if !full || folded.0.len() >= candidates || k >= MAX_CANDIDATES {
                    return Ok(folded);
                }
                k = (k * 2).min(MAX_CANDIDATES);
            }
        };
        let keyword_fut = async {
            match (&self.inner.keywords, use_keyword) {
                (Some(kw), true) => {
                    let q = KeywordQuery {
                        tenant: tenant.clone(),
                        text: request.query.clone(),
                        k: candidates,
                        filter: filter.clone(),
                    };
                    self.keyword_list(kw.as_ref(), &q).await
                }
                _ => Ok((Vec::new(), HashMap::new())),
            }
        };
        let (vector_hits, keyword_hits) = futures::join!(vector_fut, keyword_fut);
        let (mut vector_hits, spans, mut held) = match vector_hits {
            Ok(h) => h,
            // Invalid input is the caller's to fix; an outage degrades to keyword search.
            Err(e) if use_keyword && e.kind() != crate::ErrorKind::InvalidInput => {
                tracing::warn!(error = %e, "vector search failed; serving keyword results");
                degraded.push("vector".to_owned());
                (Vec::new(), HashMap::new(), HashMap::new())
            }
            Err(e) => return Err(e),
        };
        let keyword_hits = match keyword_hits {
            Ok((hits, records)) => {
                held.extend(records);
                hits
            }
            Err(e) if use_vector && degraded.is_empty() => {
                tracing::warn!(error = %e, "keyword search failed; serving vector results");
                degraded.push("keyword".to_owned());
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        if let Some(m) = request.min_similarity {
            vector_hits.retain(|h| h.score >= m);
        }
        let answered = |used: bool, list: &str| used && !degraded.iter().any(|d| d == list);
        let answered = f32::from(u8::from(answered(use_vector, "vector")))
            + if answered(use_keyword, "keyword") {
                cfg.keyword_weight
            } else {
                0.0
            };

        let mut parts: HashMap<Uuid, ScoreParts> = HashMap::new();
        for (rank, h) in vector_hits.iter().enumerate() {
            let p = parts.entry(h.id).or_default();
            p.similarity = Some(h.score);
            p.vector_rank = Some(rank + 1);
        }
        for (rank, h) in keyword_hits.iter().enumerate() {
            let p = parts.entry(h.id).or_default();
            p.keyword_score = Some(h.score);
            p.keyword_rank = Some(rank + 1);
        }
        // Records a list brought along are not asked for again.
        let ids: Vec<Uuid> = parts
            .keys()
            .filter(|id| !held.contains_key(id))
            .copied()
            .collect();
        let mut records = if ids.is_empty() {
            Vec::new()
        } else {
            self.inner.store.get_memories(&tenant, &ids).await?
        };
        records.extend(held.into_values().filter(|r| parts.contains_key(&r.id)));
        let now = crate::now();
        let ranker = Ranker {
            mode: request.mode,
            answered,
            keyword_weight: cfg.keyword_weight,
            rrf_k: cfg.rrf_k,
            recency_half_life_days: cfg.recency_half_life_days,
            weights,
            best_keyword: keyword_hits.first().map_or(0.0, |h| h.score),
            now,
            asks_about: cfg
                .event_time
                .then(|| crate::text::time_window(&request.query, request.as_of.unwrap_or(now)))
                .flatten(),
        };
        let mut hits: Vec<SearchHit> = records
            .into_iter()
            // The store is authoritative: an index may hold a stale payload.
            .filter(|r| !r.is_expired(now) && filter.as_ref().is_none_or(|f| f.matches(r)))
            .filter_map(|r| {
                let p = ranker.score(parts.remove(&r.id)?, &r);
                Some(SearchHit {
                    score: p.total,
                    explain: p,
                    chunk: spans.get(&r.id).copied(),
                    memory: r,
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| b.memory.id.cmp(&a.memory.id))
        });
        if let Some(reranker) = &self.inner.reranker
            && offset < cfg.rerank_depth
        {
            let depth = cfg.rerank_depth.min(hits.len());
            if let Err(e) = self
                .rerank(
                    reranker.as_ref(),
                    &request.query,
                    &mut hits[..depth],
                    &ranker,
                )
                .await
            {
                tracing::warn!(error = %e, "rerank failed; serving the fused order");
                degraded.push("rerank".to_owned());
            }
        }
        let more = hits.len() > want;
        let page: Vec<SearchHit> = hits.into_iter().skip(offset).take(k).collect();
        Ok(SearchResponse {
            next_cursor: more.then(|| encode_cursor(want)),
            hits: page,
            degraded,
            rewrites: Vec::new(),
        })
    }
}
