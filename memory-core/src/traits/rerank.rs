use async_trait::async_trait;

use crate::Result;

/// Scores how well each text answers a query by reading both together (a
/// cross-encoder), which ranks more finely than comparing their vectors.
///
/// # Behavior
///
/// - `score` returns one finite score per text, in input order; higher is
///   more relevant. Scores of one `model_id` are comparable within a call.
/// - An empty input returns an empty output.
/// - Texts longer than the model's window are truncated, never dropped.
#[async_trait]
pub trait Reranker: Send + Sync + std::fmt::Debug {
    /// A stable id of the model, shown in status and score explanations.
    fn model_id(&self) -> &str;
    /// Scores each of `texts` against `query`.
    async fn score(&self, query: &str, texts: &[String]) -> Result<Vec<f32>>;
}
