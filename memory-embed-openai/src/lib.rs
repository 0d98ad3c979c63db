#![doc = include_str!("../README.md")]

mod chat;
mod client;
mod config;
mod embedder;

pub use chat::OpenAiChat;
pub use config::{OPENAI_BASE_URL, OpenAiConfig};
pub use embedder::OpenAiEmbedder;

use std::sync::Arc;

use memory_core::{BackendDescriptor, BackendUrl, Embedder, LanguageModel, Opening, Result};

/// The embedder and language-model scheme this crate serves (`openai:MODEL`).
pub const SCHEMES: &[&str] = &["openai"];

/// This backend, for the `memory` facade's registry: an embedder and a
/// language model over the OpenAI wire format.
pub const BACKEND: BackendDescriptor = BackendDescriptor {
    name: "openai",
    schemes: SCHEMES,
    env: &["OPENAI_API_KEY", "OPENAI_BASE_URL"],
    embedder: Some(open_embedder),
    language_model: Some(open_language_model),
    ..BackendDescriptor::EMPTY
};

fn open_embedder(url: BackendUrl) -> Opening<Arc<dyn Embedder>> {
    Box::pin(async move {
        let cfg = OpenAiConfig::from_spec(url.as_str())?;
        Ok(Arc::new(OpenAiEmbedder::connect(cfg).await?) as Arc<dyn Embedder>)
    })
}

fn open_language_model(url: BackendUrl) -> Result<Arc<dyn LanguageModel>> {
    let cfg = OpenAiConfig::from_spec(url.as_str())?;
    Ok(Arc::new(OpenAiChat::new(cfg)?))
}
