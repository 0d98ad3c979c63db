//! A [`memory_core::VectorIndex`] on a Qdrant server over gRPC
//! (`qdrant-client`): one collection per memory collection with the tenant
//! as an indexed tenant field, payload indexes on the scope fields, the
//! whole filter language translated to Qdrant filters (checked exactly on
//! the payload where Qdrant cannot express a part), and writes that wait
//! until Qdrant has applied them.

mod config;
pub mod filter;
mod foreign;
mod index;

pub use config::QdrantConfig;
pub use foreign::QdrantCollection;
pub use index::QdrantIndex;

use std::sync::Arc;

use memory_core::{BackendDescriptor, BackendUrl, Opening, VectorIndex};

/// URL schemes this crate opens.
pub const SCHEMES: &[&str] = &["qdrant", "qdrants"];

/// This backend, for the `memory` facade's registry: a vector index.
pub const BACKEND: BackendDescriptor = BackendDescriptor {
    name: "qdrant",
    schemes: SCHEMES,
    secret_keys: &["api_key"],
    env: &[
        "QDRANT_URL",
        "QDRANT_API_KEY",
        "QDRANT_CONNECTION_TIMEOUT",
        "QDRANT_COLLECTION_NAME",
    ],
    vectors: Some(open_vectors),
    probe: Some(probe),
    ..BackendDescriptor::EMPTY
};

fn open_vectors(url: BackendUrl) -> Opening<Arc<dyn VectorIndex>> {
    Box::pin(async move {
        Ok(Arc::new(QdrantIndex::connect(url.as_str()).await?) as Arc<dyn VectorIndex>)
    })
}

fn probe(url: BackendUrl) -> Opening<String> {
    Box::pin(async move {
        QdrantIndex::connect(url.as_str())
            .await?
            .server_version()
            .await
    })
}
