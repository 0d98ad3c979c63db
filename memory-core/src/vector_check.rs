//! Checks on what an embedder returned, before anything is written.

use crate::traits::{EmbedKind, check_vector};
use crate::{Error, Result};

/// Every vector must have the collection's dimension and finite values.
pub(crate) fn check_embeddings(vectors: &[Vec<f32>], dimension: usize, model: &str) -> Result<()> {
    for v in vectors {
        check_vector(v, dimension)
            .map_err(|e| Error::new(e.kind(), format!("embedder {model}: {}", e.message())))?;
    }
    Ok(())
}

impl crate::Memory {
    /// Embeds `texts` as documents with the engine's embedder and checks
    /// every vector against the collection.
    pub(crate) async fn embed_checked(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.embed_kind_checked(texts, EmbedKind::Document).await
    }

    async fn embed_kind_checked(&self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
        use crate::traits::EmbedderExt as _;
        let e = &self.inner.embedder;
        let vectors = e.embed_all(texts, kind).await?;
        check_embeddings(&vectors, self.inner.collection.dimension, e.model_id())?;
        Ok(vectors)
    }

    /// Embeds one search query, checked like [`Self::embed_checked`].
    pub(crate) async fn embed_query_checked(&self, text: &str) -> Result<Vec<f32>> {
        self.embed_kind_checked(&[text.to_owned()], EmbedKind::Query)
            .await?
            .pop()
            .ok_or_else(|| Error::internal("the embedder returned no vector"))
    }
}
