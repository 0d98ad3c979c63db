//! Ranking: reciprocal rank fusion, recency and importance.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::search::SearchMode;
use crate::{Error, MemoryRecord, Result};

/// How the parts of a hit's score are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// Weight of relevance (fused rank).
    pub relevance: f32,
    /// Weight of recency of access.
    pub recency: f32,
    /// Weight of importance.
    pub importance: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            relevance: 0.8,
            recency: 0.1,
            importance: 0.1,
        }
    }
}

impl Weights {
    pub(crate) fn validate(&self) -> Result<()> {
        let all = [self.relevance, self.recency, self.importance];
        if all.iter().any(|w| !w.is_finite() || *w < 0.0) || all.iter().sum::<f32>() <= 0.0 {
            return Err(Error::invalid(
                "weights: relevance, recency and importance must be non-negative and not all zero",
            ));
        }
        Ok(())
    }
}

/// Why a hit scored what it did.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScoreParts {
    /// Cosine similarity to the query, if the vector search found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    /// Rank in the vector list (1 = best).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_rank: Option<usize>,
    /// Keyword score, if the keyword search found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword_score: Option<f32>,
    /// Rank in the keyword list (1 = best).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword_rank: Option<usize>,
    /// Relevance, 0–1: in hybrid mode the fused rank (1 = first in both
    /// lists); in semantic mode the cosine similarity; in keyword mode the
    /// keyword score relative to the best hit.
    pub relevance: f32,
    /// 0.5^(days since last access / half-life), 0–1.
    pub recency: f32,
    /// Importance / 10.
    pub importance: f32,
    /// How close the memory's event time (`valid_from`, else when it was
    /// stored) is to the time the query names ("last week", "in May
    /// 2023"), 0–1; relevance is scaled by `(1 + time_match) / 2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_match: Option<f32>,
    /// The reranker's raw score, when a cross-encoder re-ordered this hit
    /// (its relevance is then this score squashed to 0–1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerank: Option<f32>,
    /// The weighted sum the hits are sorted by.
    pub total: f32,
}

/// The hybrid ranking formula: relevance (fused ranks, similarity or
/// keyword score by mode), recency of access and importance, weighted. A new
/// ranking signal is a field of [`ScoreParts`] and a term here.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ranker {
    /// Which lists the relevance comes from.
    pub(crate) mode: SearchMode,
    /// The summed weights of the lists that answered (a degraded list is not
    /// counted), which being first in every list scores.
    pub(crate) answered: f32,
    /// The keyword list's weight in the fusion; the vector list's is 1.
    pub(crate) keyword_weight: f32,
    /// The reciprocal-rank-fusion constant.
    pub(crate) rrf_k: f32,
    /// Half-life of the recency score, in days.
    pub(crate) recency_half_life_days: f32,
    /// How the parts are weighted.
    pub(crate) weights: Weights,
    /// The best keyword score of this search, which keyword mode scales by.
    pub(crate) best_keyword: f32,
    /// The time recency is measured from.
    pub(crate) now: DateTime<Utc>,
    /// The time the query asks about, if it names one.
    pub(crate) asks_about: Option<crate::text::TimeWindow>,
}

impl Ranker {
    /// Completes a hit's parts (ranks and raw scores already set) with
    /// relevance, recency, importance and the weighted total.
    pub(crate) fn score(&self, mut p: ScoreParts, r: &MemoryRecord) -> ScoreParts {
        p.relevance = match self.mode {
            SearchMode::Hybrid => rrf(
                &[(p.vector_rank, 1.0), (p.keyword_rank, self.keyword_weight)],
                self.answered,
                self.rrf_k,
            ),
            SearchMode::Semantic => p.similarity.unwrap_or(0.0).clamp(0.0, 1.0),
            SearchMode::Keyword => p.keyword_score.map_or(0.0, |s| {
                if self.best_keyword > 0.0 {
                    (s / self.best_keyword).clamp(0.0, 1.0)
                } else {
                    1.0
                }
            }),
        };
        #[allow(clippy::cast_precision_loss)]
        let age_days = (self.now - r.last_accessed_at).num_milliseconds() as f64 / 86_400_000.0;
        p.recency = half_life(age_days, self.recency_half_life_days);
        p.importance = (r.importance / 10.0).clamp(0.0, 1.0);
        p.time_match = self
            .asks_about
            .map(|w| w.closeness(r.valid_from.unwrap_or(r.created_at)));
        self.with_relevance(p, p.relevance)
    }

    /// Parts already scored, with another relevance (scaled by the time
    /// match) and the total it makes.
    pub(crate) fn with_relevance(&self, mut p: ScoreParts, relevance: f32) -> ScoreParts {
        p.relevance = relevance * p.time_match.map_or(1.0, |m| 0.5 + 0.5 * m);
        let w = self.weights;
        p.total = (w.relevance * p.relevance + w.recency * p.recency + w.importance * p.importance)
            / (w.relevance + w.recency + w.importance);
        p
    }
}

/// Weighted reciprocal-rank fusion of ranked lists (each rank with its
/// list's weight), normalised so that being first in every list that
/// answered (their weights summing to `answered`) scores 1.
pub(crate) fn rrf(ranks: &[(Option<usize>, f32)], answered: f32, k: f32) -> f32 {
    if answered <= 0.0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let sum: f32 = ranks
        .iter()
        .filter_map(|&(r, w)| r.map(|r| w / (k + r as f32)))
        .sum();
    sum * (k + 1.0) / answered
}

/// Exponential decay with a half-life.
pub(crate) fn half_life(elapsed_days: f64, half_life_days: f32) -> f32 {
    #[allow(clippy::cast_possible_truncation)]
    let v = 0.5f64.powf(elapsed_days.max(0.0) / f64::from(half_life_days)) as f32;
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_is_normalised_and_monotone() {
        let both = |v, k| [(v, 1.0), (k, 1.0)];
        assert!((rrf(&both(Some(1), Some(1)), 2.0, 60.0) - 1.0).abs() < 1e-6);
        assert!((rrf(&[(Some(1), 1.0)], 1.0, 60.0) - 1.0).abs() < 1e-6);
        assert!(rrf(&both(Some(1), None), 2.0, 60.0) < rrf(&both(Some(2), Some(2)), 2.0, 60.0));
        assert!(rrf(&[(Some(2), 1.0)], 1.0, 60.0) < rrf(&[(Some(1), 1.0)], 1.0, 60.0));
        // A lighter keyword list: first by vector beats first by keyword.
        let light = |v, k| [(v, 1.0), (k, 0.5)];
        assert!(rrf(&light(Some(1), None), 1.5, 10.0) > rrf(&light(None, Some(1)), 1.5, 10.0));
        assert!((rrf(&light(Some(1), Some(1)), 1.5, 10.0) - 1.0).abs() < 1e-6);
        assert!(rrf(&[(Some(1), 1.0)], 0.0, 10.0).abs() < f32::EPSILON);
    }

    #[test]
    fn half_life_halves() {
        assert!((half_life(30.0, 30.0) - 0.5).abs() < 1e-6);
        assert!((half_life(0.0, 30.0) - 1.0).abs() < 1e-6);
    }
}
