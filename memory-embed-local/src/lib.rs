#![doc = include_str!("../README.md")]

mod config;
mod embedder;
mod models;
mod pool;
mod reranker;
mod tokenizer;
mod unigram;

pub use config::{MODEL_NAME, OnnxConfig, PREPARE_COMMAND, cache_dir};
pub use embedder::{DIMENSION, OnnxEmbedder};
pub use reranker::{OnnxReranker, RerankerConfig};

/// The default embedder spec: `local:multilingual-e5-small?quant=int8`.
pub const DEFAULT_EMBEDDER: &str = "local:multilingual-e5-small?quant=int8";
pub use models::{
    DEFAULT_MODEL, DEFAULT_QUANT, E5_SMALL, LocalModel, MINILM, MODELS, Quant, model,
};

use std::sync::Arc;

use memory_core::{BackendDescriptor, BackendUrl, Embedder, Error, Opening, Reranker};

/// The embedder schemes this crate serves (`local:all-MiniLM-L6-v2`,
/// `local:multilingual-e5-small?quant=int8`).
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
        "MEMORY_EMBED_ALONE_THREADS",
        "HF_HOME",
        "HF_HUB_CACHE",
    ],
    embedder: Some(open_embedder),
    reranker: Some(open_reranker),
    ..BackendDescriptor::EMPTY
};

fn open_embedder(url: BackendUrl) -> Opening<Arc<dyn Embedder>> {
    Box::pin(async move {
        let mut params = url.params("local embedder");
        let quant = match params.choice("quant", &["fp32", "int8"])? {
            Some(q) => Quant::parse(&q)?,
            None => Quant::Fp32,
        };
        params.finish()?;
        let model = model(url.path())?;
        let e = tokio::task::spawn_blocking(move || {
            OnnxEmbedder::load(&OnnxConfig::discover_model(model, quant)?)
        })
        .await
        .map_err(|e| Error::internal(format!("loading the embedder failed: {e}")))??;
        Ok(Arc::new(e) as Arc<dyn Embedder>)
    })
}

/// Opens `local:DIR` or `local:OWNER/REPO` (a Hugging Face cache entry) as a
/// cross-encoder; `?file=onnx/model_quint8_avx2.onnx` picks another graph
/// of the directory.
fn open_reranker(url: BackendUrl) -> Opening<Arc<dyn Reranker>> {
    Box::pin(async move {
        let mut params = url.params("local reranker");
        let file = params.str("file");
        params.finish()?;
        let spec = url.target().to_owned();
        let id = format!("local:{spec}");
        let r = tokio::task::spawn_blocking(move || {
            OnnxReranker::load(&RerankerConfig::find(&spec, file.as_deref())?, id)
        })
        .await
        .map_err(|e| Error::internal(format!("loading the reranker failed: {e}")))??;
        Ok(Arc::new(r) as Arc<dyn Reranker>)
    })
}
