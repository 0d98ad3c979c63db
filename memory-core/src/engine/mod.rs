//! The engine: [`Memory`] ties a store, a vector index, a keyword index, a
//! short-term tier and an embedder together behind one API.

mod access;
mod chunking;
mod context;
mod jobs;
mod limits;
mod lists;
mod maintenance;
mod messages;
mod neighbours;
mod outbox;
mod pipeline;
mod read;
mod remember;
mod requests;
mod rerank;
mod rewrite;
mod scheme;
mod scope;
mod score;
mod search;
mod sessions;
mod supersede;
mod topics;
mod validity;
mod write;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::in_process::InProcessShortTerm;
use crate::traits::{
    CollectionSpec, Embedder, KeywordIndex, LanguageModel, Metric, Reranker, ShortTerm, Store,
    VectorIndex,
};
use crate::{Error, Result};

pub use chunking::{ChunkingConfig, EMBED_CONTEXT_KEY, word_spans};
pub use context::Context;
pub use limits::RateLimits;
pub use maintenance::{CheckReport, DecayReport, EngineStats, SyncReport};
pub use messages::{MessageOutcome, RecordMessage};
pub use pipeline::AddPipeline;
pub(crate) use remember::REMEMBER;
pub(crate) use requests::check_record;
pub use requests::{AddEvent, AddOutcome, AddRequest, UpdateRequest};
pub use score::{ScoreParts, Weights};
pub use search::{SearchHit, SearchMode, SearchRequest, SearchResponse};
pub use sessions::{DEFAULT_PLATFORM, NewSession, SessionPatch};
pub use topics::{NewTopic, TOPIC_KEY, TopicPatch};
pub use validity::Validity;

/// Tunables of the engine; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Vector collection name.
    pub collection: String,
    /// Largest content accepted, in bytes.
    pub max_content_bytes: usize,
    /// Largest batch accepted by `add_batch`.
    pub max_batch: usize,
    /// Largest `k` (and page size) accepted.
    pub max_k: usize,
    /// `k` when none is given.
    pub default_k: usize,
    /// Cosine similarity above which an added memory updates its neighbour
    /// instead of being added. `None` (the default) keeps distinct texts
    /// apart: two facts that differ in one number are both kept, and
    /// contradictions are left to extraction's consolidation.
    pub dedup_threshold: Option<f32>,
    /// Score weights of hybrid search.
    pub weights: Weights,
    /// Reciprocal-rank-fusion constant; smaller values make rank matter more
    /// against recency and importance (10: rank 1 scores 1.0, rank 5 0.73).
    pub rrf_k: f32,
    /// Weight of the keyword list in hybrid fusion, the vector list's being 1
    /// (0 ranks by meaning alone while still reporting keyword matches).
    pub keyword_weight: f32,
    /// Candidates fetched per list, as a multiple of `k`.
    pub candidate_factor: usize,
    /// How many of a search's best hits a configured reranker re-orders.
    pub rerank_depth: usize,
    /// Whether every search also searches the language model's
    /// rephrasings of its query (a request can say otherwise); needs a
    /// language model.
    pub query_rewrite: bool,
    /// Whether a query that names a time ("last week", "in May 2023",
    /// "昨日") favours memories of things that happened then (their
    /// `valid_from`, else when they were stored).
    pub event_time: bool,
    /// Half-life of the recency score, in days.
    pub recency_half_life_days: f32,
    /// Half-life of importance decay, in days since last access.
    pub decay_half_life_days: f32,
    /// Memories whose decayed importance falls below this are pruned.
    pub prune_below: f32,
    /// Messages kept in a session's short-term window.
    pub window: usize,
    /// Unextracted messages of a session that trigger extraction.
    pub extract_batch: usize,
    /// Whether search and get record access (count and time).
    pub track_access: bool,
    /// Failed vector writes after which an outbox row stops being retried automatically.
    pub max_vector_attempts: u32,
    /// Entries of the query-embedding cache (0 turns it off).
    pub embed_cache: usize,
    /// Query embeddings running at once before further concurrent queries
    /// queue and are embedded together as one batch (0 embeds each query
    /// on its own call).
    pub query_batch_lanes: usize,
    /// Rate limits checked by [`Memory::check_rate`].
    pub rate_limits: RateLimits,
    /// When conversations are extracted into memories.
    pub extraction: crate::extract::ExtractionConfig,
    /// Whether every recorded message is also kept as a searchable memory
    /// of kind `message` (a request can say otherwise).
    pub remember_messages: bool,
    /// How texts longer than the embedder's window are split.
    pub chunking: ChunkingConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            collection: "memories".into(),
            max_content_bytes: 32 * 1024,
            max_batch: 1000,
            max_k: 100,
            default_k: 10,
            dedup_threshold: None,
            weights: Weights::default(),
            rrf_k: 10.0,
            keyword_weight: 1.0,
            candidate_factor: 3,
            rerank_depth: 20,
            event_time: true,
            query_rewrite: false,
            recency_half_life_days: 30.0,
            decay_half_life_days: 30.0,
            prune_below: 0.5,
            window: 100,
            extract_batch: 25,
            track_access: true,
            max_vector_attempts: 10,
            embed_cache: 1024,
            query_batch_lanes: std::thread::available_parallelism().map_or(2, usize::from),
            rate_limits: RateLimits::default(),
            extraction: crate::extract::ExtractionConfig::default(),
            remember_messages: false,
            chunking: ChunkingConfig::default(),
        }
    }
}

impl EngineConfig {
    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<()> {
        let positive = |name: &str, v: f32| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::config(format!(
                    "{name}: must be a positive number, got {v}"
                )))
            }
        };
        positive("rrf_k", self.rrf_k)?;
        if !(self.keyword_weight.is_finite() && self.keyword_weight >= 0.0) {
            return Err(Error::config(format!(
                "engine.keyword_weight: {} is not a number ≥ 0",
                self.keyword_weight
            )));
        }
        positive("recency_half_life_days", self.recency_half_life_days)?;
        positive("decay_half_life_days", self.decay_half_life_days)?;
        if let Some(t) = self.dedup_threshold
            && !(t.is_finite() && (0.0..=1.0).contains(&t))
        {
            return Err(Error::config(format!(
                "dedup_threshold: must be within 0 and 1, got {t}"
            )));
        }
        for (name, v) in [
            ("max_content_bytes", self.max_content_bytes),
            ("max_batch", self.max_batch),
            ("max_k", self.max_k),
            ("default_k", self.default_k),
            ("candidate_factor", self.candidate_factor),
            ("rerank_depth", self.rerank_depth),
            ("window", self.window),
            ("extract_batch", self.extract_batch),
        ] {
            if v == 0 {
                return Err(Error::config(format!("{name}: must be at least 1")));
            }
        }
        self.chunking.validate()?;
        if self.default_k > self.max_k {
            return Err(Error::config("default_k: must not exceed max_k"));
        }
        crate::types::validate_id("collection", &self.collection)
            .map_err(|e| Error::config(e.message()))?;
        self.weights.validate()
    }
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) vectors: Arc<dyn VectorIndex>,
    pub(crate) keywords: Option<Arc<dyn KeywordIndex>>,
    pub(crate) short_term: Arc<dyn ShortTerm>,
    pub(crate) embedder: Arc<dyn Embedder>,
    pub(crate) llm: Option<Arc<dyn LanguageModel>>,
    pub(crate) reranker: Option<Arc<dyn Reranker>>,
    pub(crate) config: EngineConfig,
    pub(crate) collection: CollectionSpec,
    /// Vector backends of a fallback list passed over at start.
    pub(crate) skipped_vectors: Vec<SkippedBackend>,
    /// Stores of a fallback list passed over at start.
    pub(crate) skipped_stores: Vec<SkippedBackend>,
    /// Short-term calls that failed and were survived, for `stats`.
    pub(crate) short_term_failures: std::sync::atomic::AtomicU64,
    /// Language-model use per tenant since start, for `stats`.
    pub(crate) llm_usage:
        std::sync::Mutex<std::collections::BTreeMap<String, crate::extract::LlmUsage>>,
    /// Searches' hits whose access is yet to be written.
    pub(crate) access: Arc<access::AccessLog>,
}

/// The memory layer: long-term memories with hybrid search, messages,
/// short-term windows, and the plumbing that keeps store and index consistent.
///
/// Cheap to clone; clones share backends.
#[derive(Clone)]
pub struct Memory {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("store", &self.inner.store.info())
            .field("vectors", &self.inner.vectors.info())
            .field("embedder", &self.inner.embedder.model_id())
            .finish()
    }
}

impl Memory {
    /// Starts building an engine.
    pub fn builder() -> MemoryBuilder {
        MemoryBuilder::default()
    }

    /// Whether a language model is configured (extraction runs only then).
    pub fn has_language_model(&self) -> bool {
        self.inner.llm.is_some()
    }

    /// The reranker's model id, when one re-orders search results.
    pub fn reranker_id(&self) -> Option<&str> {
        self.inner.reranker.as_deref().map(|r| r.model_id())
    }

    /// The engine's tunables.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The vector index.
    pub fn vectors(&self) -> &Arc<dyn VectorIndex> {
        &self.inner.vectors
    }

    /// The short-term tier.
    pub fn short_term(&self) -> &Arc<dyn ShortTerm> {
        &self.inner.short_term
    }

    /// The embedder.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.inner.embedder
    }

    /// Short-term calls that failed and were survived since start.
    pub fn short_term_failures(&self) -> u64 {
        self.inner
            .short_term_failures
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Logs a short-term failure and counts it; long-term work goes on.
    pub(crate) fn short_term_failed(&self, what: &str, e: &crate::Error) {
        self.inner
            .short_term_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(error = %e, "short-term {what} failed; long-term memory carries on");
    }

    /// The vector collection in use.
    pub fn collection(&self) -> &CollectionSpec {
        &self.inner.collection
    }
}

/// Builds a [`Memory`].
#[derive(Default)]
pub struct MemoryBuilder {
    store: Option<Arc<dyn Store>>,
    vectors: Option<Arc<dyn VectorIndex>>,
    keywords: Option<Arc<dyn KeywordIndex>>,
    short_term: Option<Arc<dyn ShortTerm>>,
    embedder: Option<Arc<dyn Embedder>>,
    llm: Option<Arc<dyn LanguageModel>>,
    reranker: Option<Arc<dyn Reranker>>,
    config: EngineConfig,
    allow_dimension_change: bool,
    skipped_vectors: Vec<SkippedBackend>,
    skipped_stores: Vec<SkippedBackend>,
}

/// A backend of a fallback list that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SkippedBackend {
    /// Its URL, with any password redacted.
    pub url: String,
    /// Why it was passed over.
    pub error: String,
}

impl MemoryBuilder {
    /// Records stores of a fallback list that were unreachable when this
    /// engine was opened, so `status` can say why the one in use was chosen.
    pub fn skipped_stores(mut self, skipped: Vec<SkippedBackend>) -> Self {
        self.skipped_stores = skipped;
        self
    }

    /// Records vector backends of a fallback list that were unreachable when
    /// this engine was opened, so `status` can say why the one in use was chosen.
    pub fn skipped_vectors(mut self, skipped: Vec<SkippedBackend>) -> Self {
        self.skipped_vectors = skipped;
        self
    }

    /// Accepts a vector collection whose dimension, model or prompt scheme
    /// differs from the embedder's, so `reindex` can rebuild it after a model
    /// change (and record the new one). Searches fail with
    /// `DimensionMismatch`, or compare vectors of two models, until it has.
    pub fn allow_dimension_change(mut self, allow: bool) -> Self {
        self.allow_dimension_change = allow;
        self
    }

    /// The source of truth (required).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The vector index (required).
    pub fn vectors(mut self, vectors: Arc<dyn VectorIndex>) -> Self {
        self.vectors = Some(vectors);
        self
    }

    /// The keyword index; without one, hybrid search is semantic only.
    pub fn keywords(mut self, keywords: Arc<dyn KeywordIndex>) -> Self {
        self.keywords = Some(keywords);
        self
    }

    /// The short-term tier; in-process by default.
    pub fn short_term(mut self, short_term: Arc<dyn ShortTerm>) -> Self {
        self.short_term = Some(short_term);
        self
    }

    /// The embedder (required).
    pub fn embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    /// The language model for extraction; without one nothing is extracted.
    pub fn language_model(mut self, llm: Arc<dyn LanguageModel>) -> Self {
        self.llm = Some(llm);
        self
    }

    /// A cross-encoder that re-orders the best hits of every search
    /// (`rerank_depth` of them); without one the fused order stands.
    pub fn reranker(mut self, reranker: Arc<dyn Reranker>) -> Self {
        self.reranker = Some(reranker);
        self
    }

    /// Engine tunables.
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// Validates, creates the vector collection (or checks the existing one
    /// against the embedder's dimension) and returns the engine.
    pub async fn build(self) -> Result<Memory> {
        let missing = |what: &str| Error::config(format!("Memory::builder: no {what} given"));
        let store = self.store.ok_or_else(|| missing("store"))?;
        let vectors = self.vectors.ok_or_else(|| missing("vector index"))?;
        let mut embedder = self.embedder.ok_or_else(|| missing("embedder"))?;
        self.config.validate()?;
        if self.config.query_rewrite && self.llm.is_none() {
            return Err(Error::config(
                "engine.query_rewrite: rewriting queries needs a language_model",
            ));
        }
        embedder = Arc::new(crate::timed::TimedEmbedder::new(embedder));
        if self.config.query_batch_lanes > 0 {
            embedder = Arc::new(crate::batched::BatchingEmbedder::new(
                embedder,
                self.config.query_batch_lanes,
            ));
        }
        if self.config.embed_cache > 0 {
            embedder = Arc::new(crate::CachedEmbedder::new(
                embedder,
                self.config.embed_cache,
            ));
        }
        let wanted = CollectionSpec {
            name: self.config.collection.clone(),
            dimension: embedder.dimension(),
            metric: Metric::Cosine,
        };
        let described = vectors.describe(&wanted.name).await?;
        let existed = described.is_some();
        let collection = match described {
            Some(existing)
                if existing.dimension != wanted.dimension && self.allow_dimension_change =>
            {
                tracing::warn!(collection = %existing.name, from = existing.dimension, to = wanted.dimension, "collection dimension will change on reindex");
                wanted
            }
            Some(existing) if existing.dimension != wanted.dimension => {
                return Err(Error::new(
                    crate::ErrorKind::DimensionMismatch,
                    format!(
                        "collection {:?} holds {}-dimensional vectors but embedder {} makes {}; run `memory reindex` or choose another collection",
                        existing.name,
                        existing.dimension,
                        embedder.model_id(),
                        wanted.dimension
                    ),
                ));
            }
            Some(existing) => existing,
            None => vectors.create_collection(&wanted).await?,
        };
        scheme::check(
            store.as_ref(),
            &collection.name,
            embedder.as_ref(),
            existed,
            self.allow_dimension_change,
        )
        .await?;
        Ok(Memory {
            inner: Arc::new(Inner {
                store,
                vectors,
                keywords: self.keywords,
                short_term: self
                    .short_term
                    .unwrap_or_else(|| Arc::new(InProcessShortTerm::default())),
                embedder,
                llm: self.llm,
                reranker: self.reranker,
                config: self.config,
                collection,
                skipped_vectors: self.skipped_vectors,
                skipped_stores: self.skipped_stores,
                short_term_failures: std::sync::atomic::AtomicU64::new(0),
                llm_usage: std::sync::Mutex::default(),
                access: Arc::default(),
            }),
        })
    }
}
