#![doc = include_str!("../README.md")]

mod config;
mod open;
pub mod registry;

pub use config::{ApiKey, CONFIG_ENV, Config, ServerConfig, Urls};
pub use memory_core::*;
pub use open::{open, open_for_reindex, open_with};
pub use registry::{
    compiled_schemes, open_embedder, open_language_model, open_reranker, open_short_term,
    open_store_backends, open_store_url, open_vectors_url, redact, server_version,
};

/// The SQLite backend (feature `sqlite`).
#[cfg(feature = "sqlite")]
pub mod sqlite {
    pub use memory_sqlite::*;
}

/// The OpenAI embedder and chat model (feature `embed-openai`).
#[cfg(feature = "embed-openai")]
pub mod embed_openai {
    pub use memory_embed_openai::*;
}

/// The Qdrant vector index (feature `qdrant`).
#[cfg(feature = "qdrant")]
pub mod qdrant {
    pub use memory_qdrant::*;
}

/// The Chroma vector index (feature `chroma`).
#[cfg(feature = "chroma")]
pub mod chroma {
    pub use memory_chroma::*;
}

/// The PostgreSQL + pgvector backend (feature `postgres`).
#[cfg(feature = "postgres")]
pub mod postgres {
    pub use memory_postgres::*;
}

/// The Redis short-term tier (feature `redis`).
#[cfg(feature = "redis")]
pub mod redis {
    pub use memory_redis::*;
}

/// The local ONNX embedder (feature `embed-local`).
#[cfg(feature = "embed-local")]
pub mod embed_local {
    pub use memory_embed_local::*;
}
