//! The optional cross-encoder stage of search: the best hits re-ordered by
//! a model that reads the query and each memory together.

use super::Memory;
use super::score::Ranker;
use super::search::SearchHit;
use crate::{Reranker, Result};

impl Memory {
    /// Re-orders `hits` (the first `rerank_depth` of a search, best first)
    /// by the reranker: its score, squashed to 0–1, becomes each hit's
    /// relevance, still weighted with recency and importance. A memory
    /// found by one of its windows is read as that window.
    pub(super) async fn rerank(
        &self,
        reranker: &dyn Reranker,
        query: &str,
        hits: &mut [SearchHit],
        ranker: &Ranker,
    ) -> Result<()> {
        let texts: Vec<String> = hits
            .iter()
            .map(|h| {
                let content = &h.memory.content;
                h.chunk
                    .and_then(|c| content.get(c.start as usize..c.end as usize))
                    .unwrap_or(content)
                    .to_owned()
            })
            .collect();
        let scores = reranker.score(query, &texts).await?;
        if scores.len() != hits.len() || scores.iter().any(|s| !s.is_finite()) {
            return Err(crate::Error::internal(format!(
                "reranker {} answered {} scores for {} texts (or a score that is not a number)",
                reranker.model_id(),
                scores.len(),
                hits.len()
            )));
        }
        for (hit, score) in hits.iter_mut().zip(scores) {
            hit.explain.rerank = Some(score);
            hit.explain = ranker.with_relevance(hit.explain, sigmoid(score));
            hit.score = hit.explain.total;
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| b.memory.id.cmp(&a.memory.id))
        });
        Ok(())
    }
}

/// Maps a cross-encoder's logit to 0–1 (its trained reading: the
/// probability that the text answers the query).
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}
