//! Checks on what an embedder returned, before anything is written.

use crate::traits::check_vector;
use crate::{Error, Result};

/// Every vector must have the collection's dimension and finite values.
pub(crate) fn check_embeddings(vectors: &[Vec<f32>], dimension: usize, model: &str) -> Result<()> {
    for v in vectors {
        check_vector(v, dimension)
            .map_err(|e| Error::new(e.kind(), format!("embedder {model}: {}", e.message())))?;
    }
    Ok(())
}
