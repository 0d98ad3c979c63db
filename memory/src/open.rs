//! Builds the engine from a [`Config`]: every role opened through the
//! registry, a vector fallback list tried in order.

use std::sync::Arc;

use memory_core::{Embedder, Error, ErrorKind, Memory, Result, SkippedBackend, VectorIndex};

use crate::config::Config;
use crate::registry::{
    open_embedder, open_language_model, open_reranker, open_short_term, open_store_backends,
    open_vectors_url, redact,
};

/// Opens every backend of `config` and builds the engine. A store list and a
/// vector list are each tried in order; the first reachable backend is used
/// (`Memory::status` says which, and why the others were skipped).
pub async fn open(config: &Config) -> Result<Memory> {
    open_with(config, None).await
}

/// Like [`open`], with an embedder given by the caller (tests, custom models).
pub async fn open_with(config: &Config, embedder: Option<Arc<dyn Embedder>>) -> Result<Memory> {
    open_inner(config, embedder, false).await
}

/// Like [`open`], accepting a vector collection of another dimension so that
/// `Memory::reindex` can rebuild it for a new embedder.
pub async fn open_for_reindex(config: &Config) -> Result<Memory> {
    open_inner(config, None, true).await
}

async fn open_inner(
    config: &Config,
    embedder: Option<Arc<dyn Embedder>>,
    reindex: bool,
) -> Result<Memory> {
    config.engine.validate()?;
    config.worker.validate()?;
    let (store_url, store, skipped_stores) =
        first_reachable(&config.store.list(), "store", async |url| {
            open_store_backends(url).await
        })
        .await?;
    let mut skipped = Vec::new();
    let vectors: Arc<dyn VectorIndex> = match &config.vectors {
        None => store.vectors.clone().ok_or_else(|| {
            Error::config(format!(
                "vectors: the store {} holds no vectors; configure `vectors`",
                redact(&store_url)
            ))
        })?,
        Some(list) => {
            // The store's own database serves its vectors without a second pool.
            let own = |url: &str| url == store_url;
            let (_, v, skips) = first_reachable(&list.list(), "vector", async |url| {
                match (&store.vectors, own(url)) {
                    (Some(v), true) => Ok(v.clone()),
                    _ => open_vectors_url(url).await,
                }
            })
            .await?;
            skipped = skips;
            v
        }
    };
    let embedder = match embedder {
        Some(e) => e,
        None => open_embedder(&config.embedder).await?,
    };
    let short_term = open_short_term(&config.short_term).await?;
    let mut builder = Memory::builder()
        .store(store.store.clone())
        .vectors(vectors)
        .short_term(short_term)
        .embedder(embedder)
        .config(config.engine.clone())
        .allow_dimension_change(reindex)
        .skipped_vectors(skipped)
        .skipped_stores(skipped_stores);
    if let Some(k) = store.keywords {
        builder = builder.keywords(k);
    }
    if let Some(spec) = &config.language_model {
        builder = builder.language_model(open_language_model(spec)?);
    }
    if let Some(spec) = &config.reranker {
        builder = builder.reranker(open_reranker(spec).await?);
    }
    builder.build().await
}

/// Opens the first URL of `urls` that is reachable: an unreachable one
/// (`Unavailable`) is skipped and reported, any other error stops.
async fn first_reachable<T>(
    urls: &[String],
    role: &str,
    open: impl AsyncFn(&str) -> Result<T>,
) -> Result<(String, T, Vec<SkippedBackend>)> {
    let mut skipped = Vec::new();
    let mut last = None;
    for url in urls {
        match open(url).await {
            Ok(v) => return Ok((url.clone(), v, skipped)),
            Err(e) if e.kind() == ErrorKind::Unavailable => {
                tracing::warn!(url = %redact(url), error = %e, "{role} backend unreachable; trying the next");
                skipped.push(SkippedBackend {
                    url: redact(url),
                    error: e.to_string(),
                });
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::config(format!("the {role} fallback list is empty"))))
}
