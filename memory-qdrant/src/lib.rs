//! A [`memory_core::VectorIndex`] on a Qdrant server over gRPC
//! (`qdrant-client`): one collection per memory collection with the tenant
//! as an indexed tenant field, payload indexes on the scope fields, the
//! whole filter language translated to Qdrant filters (checked exactly on
//! the payload where Qdrant cannot express a part), and writes that wait
//! until Qdrant has applied them.

mod config;
pub mod filter;
mod index;

pub use config::QdrantConfig;
pub use index::QdrantIndex;

/// URL schemes this crate opens.
pub const SCHEMES: &[&str] = &["qdrant", "qdrants"];
