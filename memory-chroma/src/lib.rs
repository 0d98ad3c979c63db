//! A [`memory_core::VectorIndex`] on a Chroma server (API v2), over its REST
//! API: explicit embeddings always, cosine (or ip, l2) set on each collection,
//! dimension and metric recorded in the collection's metadata and checked,
//! the filter language translated to `where` and checked exactly on the
//! stored payload. See [`Layout`] for shared versus per-user collections.

mod client;
mod config;
pub mod filter;
mod foreign;
mod index;
pub mod naming;

pub use config::{ChromaConfig, Layout};
pub use foreign::ChromaCollection;
pub use index::ChromaIndex;

use std::sync::Arc;

use memory_core::{BackendDescriptor, BackendUrl, Opening, VectorIndex};

/// URL schemes this crate opens.
pub const SCHEMES: &[&str] = &["chroma", "chromas"];

/// This backend, for the `memory` facade's registry: a vector index.
pub const BACKEND: BackendDescriptor = BackendDescriptor {
    name: "chroma",
    schemes: SCHEMES,
    secret_keys: &["token"],
    env: &["CHROMA_URL"],
    vectors: Some(open_vectors),
    probe: Some(probe),
    ..BackendDescriptor::EMPTY
};

fn open_vectors(url: BackendUrl) -> Opening<Arc<dyn VectorIndex>> {
    Box::pin(async move {
        Ok(Arc::new(ChromaIndex::connect(url.as_str()).await?) as Arc<dyn VectorIndex>)
    })
}

fn probe(url: BackendUrl) -> Opening<String> {
    Box::pin(async move {
        ChromaIndex::connect(url.as_str())
            .await?
            .server_version()
            .await
    })
}
