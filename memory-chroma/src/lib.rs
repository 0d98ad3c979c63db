//! A [`memory_core::VectorIndex`] on a Chroma server (API v2), over its REST
//! API: explicit embeddings always, cosine (or ip, l2) set on each collection,
//! dimension and metric recorded in the collection's metadata and checked,
//! the filter language translated to `where` and checked exactly on the
//! stored payload. See [`Layout`] for shared versus per-user collections.

mod client;
mod config;
pub mod filter;
mod index;
pub mod naming;

pub use config::{ChromaConfig, Layout};
pub use index::ChromaIndex;

/// URL schemes this crate opens.
pub const SCHEMES: &[&str] = &["chroma", "chromas"];
