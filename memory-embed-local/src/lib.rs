#![doc = include_str!("../README.md")]

mod config;
mod embedder;

pub use config::{MODEL_NAME, OnnxConfig, PREPARE_COMMAND, cache_dir};
pub use embedder::{DIMENSION, OnnxEmbedder};

use std::sync::Arc;

use memory_core::{BackendDescriptor, BackendUrl, Embedder, Error, Opening};

/// The embedder schemes this crate serves (`local:all-MiniLM-L6-v2`).
pub const SCHEMES: &[&str] = &["local"];

/// This backend, for the `memory` facade's registry: an embedder.
pub const BACKEND: BackendDescriptor = BackendDescriptor {
    name: "local",
    schemes: SCHEMES,
    env: &[
        "MEMORY_HOME",
        "MEMORY_MODEL_DIR",
        "ORT_DYLIB_PATH",
        "MEMORY_EMBED_THREADS",
        "MEMORY_EMBED_SESSIONS",
        "HF_HOME",
        "HF_HUB_CACHE",
    ],
    embedder: Some(open_embedder),
    ..BackendDescriptor::EMPTY
};

fn open_embedder(url: BackendUrl) -> Opening<Arc<dyn Embedder>> {
    Box::pin(async move {
        url.params("local embedder").finish()?;
        if url.path() != MODEL_NAME {
            return Err(Error::config(format!(
                "embedder: local model {:?} is not available (available: {MODEL_NAME})",
                url.path()
            )));
        }
        let e = tokio::task::spawn_blocking(OnnxEmbedder::load_default)
            .await
            .map_err(|e| Error::internal(format!("loading the embedder failed: {e}")))??;
        Ok(Arc::new(e) as Arc<dyn Embedder>)
    })
}
