//! The embedding model and prompt scheme each collection was built with,
//! kept in the store so that vectors of two schemes never mix.

use serde::{Deserialize, Serialize};

use crate::traits::{Embedder, MaintenanceStore, NO_PROMPT_SCHEME};
use crate::{Error, Result};

/// What a collection's vectors were made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EmbeddingScheme {
    model: String,
    prompt_scheme: String,
}

impl EmbeddingScheme {
    fn of(embedder: &dyn Embedder) -> Self {
        Self {
            model: embedder.model_id().to_owned(),
            prompt_scheme: embedder.prompt_scheme().to_owned(),
        }
    }
}

fn key(collection: &str) -> String {
    format!("embedding:{collection}")
}

/// Refuses an embedder other than the one `collection` was built with,
/// unless `changing` (the engine is opened to re-embed everything); records
/// the embedder when the collection has no record yet. A collection that
/// `existed` without a record was made before records were kept: its
/// memories tell what embedded them.
pub(crate) async fn check(
    store: &dyn MaintenanceStore,
    collection: &str,
    embedder: &dyn Embedder,
    existed: bool,
    changing: bool,
) -> Result<()> {
    let want = EmbeddingScheme::of(embedder);
    let recorded = match store.setting(&key(collection)).await? {
        Some(v) => {
            let have = serde_json::from_str::<EmbeddingScheme>(&v).map_err(|e| {
                Error::internal(format!(
                    "the recorded embedding scheme of {collection:?} is unreadable: {e}"
                ))
            })?;
            if have == want {
                return Ok(());
            }
            Some(have)
        }
        None if existed => store
            .any_embedding_model()
            .await?
            .map(|model| EmbeddingScheme {
                model,
                prompt_scheme: NO_PROMPT_SCHEME.to_owned(),
            }),
        None => None,
    };
    match recorded {
        Some(have) if have == want => {}
        Some(have) if !changing => {
            return Err(Error::config(format!(
                "collection {collection:?} holds vectors of {} (prompt scheme {}) but the embedder is {} (prompt scheme {}); vectors of the two do not compare: run `memory reindex` to re-embed everything with the new one, `memory migrate --re-embed` to copy into a new store, or configure the embedder the collection was built with",
                have.model, have.prompt_scheme, want.model, want.prompt_scheme
            )));
        }
        // Recorded once every vector is re-embedded (`record`).
        Some(_) => return Ok(()),
        None => {}
    }
    record(store, collection, embedder).await
}

/// Records `embedder` as what `collection`'s vectors are made with.
pub(crate) async fn record(
    store: &dyn MaintenanceStore,
    collection: &str,
    embedder: &dyn Embedder,
) -> Result<()> {
    let value = serde_json::to_string(&EmbeddingScheme::of(embedder))
        .map_err(|e| Error::internal(format!("encoding the embedding scheme: {e}")))?;
    store.put_setting(&key(collection), &value).await
}
