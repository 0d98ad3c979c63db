//! Conformance of the engine on a backend: dual write, dedup, versions,
//! search, decay, forget, messages. Uses the deterministic embedder.

use std::sync::Arc;

use memory_core::{
    AddEvent, AddRequest, BackendDescriptor, BackendUrl, EngineConfig, ErrorKind, HistoryOp,
    KeywordIndex, Memory, MemoryKind, RecordMessage, Scope, SearchHit, SearchMode, SearchRequest,
    Store, UpdateRequest, VectorIndex, VectorState,
};
use serde_json::json;

use crate::{
    CannedModel, CaseResult, DeterministicEmbedder, FlakyIndex, OrFail, Report, WordReranker, case,
    ensure, unique,
};

mod chunking;
mod consistency;
mod conversation;
mod directory;
mod pipeline;
mod reindex;
mod search;
mod validity;
mod worker;
mod write;

use chunking::*;
use consistency::*;
use conversation::*;
use directory::*;
use pipeline::*;
use reindex::*;
use search::*;
use validity::*;
use worker::*;
use write::*;

/// The backends an engine runs on.
#[derive(Clone)]
pub struct Backends {
    /// Source of truth.
    pub store: Arc<dyn Store>,
    /// Vector index.
    pub vectors: Arc<dyn VectorIndex>,
    /// Keyword index, if the backend has one.
    pub keywords: Option<Arc<dyn KeywordIndex>>,
}

struct Rig {
    memory: Memory,
    flaky: Arc<FlakyIndex>,
    scope: Scope,
}

async fn rig(b: &Backends, config: EngineConfig) -> Result<Rig, String> {
    let flaky = Arc::new(FlakyIndex::new(b.vectors.clone()));
    let mut builder = Memory::builder()
        .store(b.store.clone())
        .vectors(flaky.clone())
        .embedder(Arc::new(DeterministicEmbedder::new(64).with_max_words(200)))
        .config(EngineConfig {
            collection: unique("eng"),
            ..config
        });
    if let Some(k) = &b.keywords {
        builder = builder.keywords(k.clone());
    }
    let memory = builder.build().await.or_fail("build")?;
    Ok(Rig {
        memory,
        flaky,
        scope: Scope::user("alice").with_tenant(unique("tenant")),
    })
}

/// An engine on the backends' store and index with `embedder`, over
/// `collection`.
fn builder_on(
    b: &Backends,
    collection: &str,
    embedder: &DeterministicEmbedder,
) -> memory_core::MemoryBuilder {
    let mut builder = Memory::builder()
        .store(b.store.clone())
        .vectors(b.vectors.clone())
        .embedder(Arc::new(embedder.clone()))
        .config(EngineConfig {
            collection: collection.to_owned(),
            ..EngineConfig::default()
        });
    if let Some(k) = &b.keywords {
        builder = builder.keywords(k.clone());
    }
    builder
}

/// Fails unless each text's nearest vector in `collection` is its memory's,
/// embedded by `embedder` from that text.
async fn has_current_vectors(
    b: &Backends,
    collection: &str,
    embedder: &DeterministicEmbedder,
    tenant: &str,
    current: &[(&str, uuid::Uuid)],
) -> CaseResult {
    for (text, id) in current {
        let q = memory_core::VectorQuery {
            tenant: tenant.to_owned(),
            vector: embedder.vector(text),
            k: 1,
            filter: None,
        };
        let hits = b.vectors.query(collection, &q).await.or_fail("query")?;
        ensure!(
            hits.first().is_some_and(|h| h.id == *id && h.score > 0.99),
            "{text:?} has not its current vector: {hits:?}"
        );
    }
    Ok(())
}

/// Runs every engine case, each on fresh backends from `factory` (a store
/// serves one vector collection, so cases must not share a store).
pub async fn run<F, Fut>(factory: F) -> Report
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Backends>,
{
    let first = factory().await;
    let mut r = Report::new(format!("engine[{}]", first.store.info().scheme));
    drop(first);
    case!(r, add_dedups_exactly_and_nearly(&factory().await));
    case!(r, dedup_merges_only_into_live_memories(&factory().await));
    case!(r, bad_input_is_named_and_stores_nothing(&factory().await));
    case!(r, update_versions_and_reembeds(&factory().await));
    case!(
        r,
        hybrid_search_explains_filters_and_pages(&factory().await)
    );
    case!(r, vector_outage_queues_and_degrades(&factory().await));
    case!(
        r,
        one_refused_vector_does_not_hold_back_its_page(&factory().await)
    );
    case!(r, an_overtaken_vector_write_is_mended(&factory().await));
    case!(r, long_texts_are_split_into_windows(&factory().await));
    case!(r, windows_follow_the_configuration(&factory().await));
    case!(r, check_finds_and_repairs_orphans(&factory().await));
    case!(
        r,
        supersede_keeps_history_and_answers_as_of(&factory().await)
    );
    case!(
        r,
        decay_lowers_prunes_and_does_not_compound(&factory().await)
    );
    case!(r, forget_and_concurrent_adds(&factory().await));
    case!(r, pipelined_batches_store_each_text_once(&factory().await));
    case!(r, a_sync_drains_many_pages(&factory().await));
    case!(
        r,
        migrate_embeds_while_it_copies(&factory().await, &factory().await, &factory().await)
    );
    case!(r, messages_window_and_recovery(&factory().await));
    case!(r, messages_can_be_remembered_and_searched(&factory().await));
    case!(r, embed_context_situates_the_vector_only(&factory().await));
    case!(r, a_reranker_reorders_the_best_hits(&factory().await));
    case!(
        r,
        rewritten_queries_find_what_the_question_misses(&factory().await)
    );
    case!(
        r,
        a_query_naming_a_time_favours_what_happened_then(&factory().await)
    );
    case!(r, a_retried_message_is_recorded_once(&factory().await));
    case!(r, sessions_and_viewers_are_managed(&factory().await));
    case!(r, topics_tag_messages_and_memories(&factory().await));
    case!(r, context_respects_priority_and_budget(&factory().await));
    case!(r, reindex_after_model_change(&factory().await));
    case!(r, prompt_scheme_change_needs_reindex(&factory().await));
    case!(r, reindex_redoes_a_page_changed_meanwhile(&factory().await));
    case!(r, a_cancelled_sync_stops_preparing_pages(&factory().await));
    case!(
        r,
        a_memory_changed_while_sync_embeds_it_keeps_its_new_vector(&factory().await)
    );
    case!(
        r,
        a_text_the_model_refuses_does_not_hold_back_its_page(&factory().await)
    );
    case!(r, rate_limits_per_user_and_global(&factory().await));
    case!(
        r,
        worker_drains_the_outbox_after_an_outage(&factory().await)
    );
    case!(
        r,
        worker_runs_decay_and_expiry_on_schedule(&factory().await)
    );
    case!(r, job_handlers_are_idempotent(&factory().await));
    case!(r, worker_shutdown_releases_its_jobs(&factory().await));
    r
}

impl Backends {
    /// Opens a store backend from its URL through its descriptor, exactly as
    /// the `memory` facade opens it for users: the store with its own
    /// keyword and vector indexes.
    pub async fn open(backend: &BackendDescriptor, url: &str) -> Result<Self, String> {
        let open = backend
            .store
            .ok_or_else(|| format!("{} opens no store", backend.name))?;
        let parsed = BackendUrl::parse(url).map_err(|e| e.to_string())?;
        let opened = open(parsed).await.map_err(|e| e.to_string())?;
        Ok(Self {
            vectors: opened
                .vectors
                .ok_or_else(|| format!("{} holds no vectors", backend.name))?,
            keywords: opened.keywords,
            store: opened.store,
        })
    }

    /// These backends with the vector index at `url`, opened through its
    /// descriptor as the facade opens it.
    pub async fn with_vectors(
        self,
        backend: &BackendDescriptor,
        url: &str,
    ) -> Result<Self, String> {
        Ok(Self {
            vectors: open_vectors(backend, url).await?,
            ..self
        })
    }
}

/// Opens a vector index from its URL through its backend's descriptor.
pub async fn open_vectors(
    backend: &BackendDescriptor,
    url: &str,
) -> Result<Arc<dyn VectorIndex>, String> {
    let open = backend
        .vectors
        .ok_or_else(|| format!("{} opens no vector index", backend.name))?;
    let parsed = BackendUrl::parse(url).map_err(|e| e.to_string())?;
    open(parsed).await.map_err(|e| e.to_string())
}
