//! Collections another program wrote (seed 004's ChromaDB data, seed 003's
//! Qdrant points): read page by page for `memory migrate --from`.

use async_trait::async_trait;

use crate::{Metadata, Result};

/// One record of a foreign collection, as its writer left it.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignRecord {
    /// Its id in the collection.
    pub id: String,
    /// Its document text, where the store keeps one apart (Chroma).
    pub document: Option<String>,
    /// Its metadata or payload.
    pub metadata: Metadata,
    /// Its vector.
    pub embedding: Option<Vec<f32>>,
}

/// A page of records and where the next one starts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ForeignPage {
    /// The records.
    pub records: Vec<ForeignRecord>,
    /// Pass back for the next page; `None` after the last.
    pub next: Option<String>,
}

/// Reads a collection memory did not create.
#[async_trait]
pub trait ForeignReader: Send + Sync + std::fmt::Debug {
    /// Where it is, without secrets (`chroma://host:port/collection`).
    fn describe(&self) -> String;
    /// How many records it holds.
    async fn count(&self) -> Result<u64>;
    /// Up to `limit` records from `from` (a previous page's `next`).
    async fn page(&self, from: Option<&str>, limit: usize) -> Result<ForeignPage>;
}
