//! Retrieval metrics over ranked ids: recall@k, reciprocal rank, nDCG@10,
//! and their averages per category.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

/// One question's scores.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scored {
    /// Recall at each cut-off asked for, in order.
    pub(crate) recall: Vec<f64>,
    /// 1 / rank of the first relevant hit, 0 without one.
    pub(crate) reciprocal_rank: f64,
    /// nDCG over the first ten hits with binary relevance.
    pub(crate) ndcg10: f64,
}

/// Scores a ranking against the relevant ids, each hit covering the ids it
/// lists (one turn, or the source turns of an extracted memory): the share
/// of them covered by the first `k` hits for each `k`, the first hit that
/// covers one, and nDCG@10 with a hit relevant when it covers a new one.
/// `None` when nothing is relevant (the question is skipped).
pub(crate) fn score(
    ranked: &[Vec<String>],
    relevant: &HashSet<String>,
    ks: &[usize],
) -> Option<Scored> {
    if relevant.is_empty() {
        return None;
    }
    let total = relevant.len() as f64;
    // A relevant id counts once, however many hits carry it.
    let mut seen = HashSet::new();
    let covered: Vec<usize> = ranked
        .iter()
        .map(|ids| {
            ids.iter()
                .filter(|id| relevant.contains(*id) && seen.insert((*id).clone()))
                .count()
        })
        .collect();
    let gains: Vec<bool> = covered.iter().map(|c| *c > 0).collect();
    let found_by = |k: usize| covered.iter().take(k).sum::<usize>() as f64;
    let recall = ks.iter().map(|&k| found_by(k) / total).collect();
    let reciprocal_rank = gains
        .iter()
        .position(|g| *g)
        .map_or(0.0, |i| 1.0 / (i + 1) as f64);
    let dcg: f64 = gains
        .iter()
        .take(10)
        .enumerate()
        .filter(|(_, g)| **g)
        .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
        .sum();
    let ideal: f64 = (0..relevant.len().min(10))
        .map(|i| 1.0 / ((i + 2) as f64).log2())
        .sum();
    Some(Scored {
        recall,
        reciprocal_rank,
        ndcg10: dcg / ideal,
    })
}

/// Averages of a group of questions.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Summary {
    /// Questions scored.
    pub(crate) questions: usize,
    /// Mean recall at each cut-off, keyed `recall@k`.
    #[serde(flatten)]
    pub(crate) recall: BTreeMap<String, f64>,
    /// Mean reciprocal rank.
    pub(crate) mrr: f64,
    /// Mean nDCG@10.
    pub(crate) ndcg10: f64,
}

/// Averages per category and over all questions.
pub(crate) fn summarize(
    scored: &[(String, Scored)],
    ks: &[usize],
) -> (BTreeMap<String, Summary>, Summary) {
    let mean = |items: &[&Scored]| {
        let n = items.len().max(1) as f64;
        Summary {
            questions: items.len(),
            recall: ks
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    (
                        format!("recall@{k}"),
                        items
                            .iter()
                            .map(|s| s.recall.get(i).copied().unwrap_or(0.0))
                            .sum::<f64>()
                            / n,
                    )
                })
                .collect(),
            mrr: items.iter().map(|s| s.reciprocal_rank).sum::<f64>() / n,
            ndcg10: items.iter().map(|s| s.ndcg10).sum::<f64>() / n,
        }
    };
    let mut by: BTreeMap<String, Vec<&Scored>> = BTreeMap::new();
    for (category, s) in scored {
        by.entry(category.clone()).or_default().push(s);
    }
    let all: Vec<&Scored> = scored.iter().map(|(_, s)| s).collect();
    (
        by.iter().map(|(c, v)| (c.clone(), mean(v))).collect(),
        mean(&all),
    )
}

/// The `p`-th percentile (0–100) of durations in milliseconds.
pub(crate) fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    if sorted_ms.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * (sorted_ms.len() - 1) as f64).round();
    let i = format!("{rank:.0}").parse::<usize>().unwrap_or(0);
    sorted_ms[i.min(sorted_ms.len() - 1)]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ids(v: &[&str]) -> Vec<Vec<String>> {
        v.iter().map(|s| vec![(*s).to_owned()]).collect()
    }

    /// Worked by hand: relevant {D1:3, D2:7}; ranking D5, D1:3, D9, D1:3,
    /// D2:7. recall@1 = 0, @2 = 1/2, @5 = 2/2; first relevant at rank 2,
    /// so RR = 0.5; DCG@10 = 1/log2(3) + 1/log2(6) (the repeated D1:3 at
    /// rank 4 gains nothing) = 0.63093 + 0.38685 = 1.01778; ideal DCG =
    /// 1/log2(2) + 1/log2(3) = 1.63093; nDCG = 0.62405.
    #[test]
    fn metrics_match_a_hand_computed_case() {
        let relevant: HashSet<String> = ids(&["D1:3", "D2:7"]).into_iter().flatten().collect();
        let s = score(
            &ids(&["D5", "D1:3", "D9", "D1:3", "D2:7"]),
            &relevant,
            &[1, 2, 5],
        )
        .unwrap();
        assert_eq!(s.recall, vec![0.0, 0.5, 1.0]);
        assert!((s.reciprocal_rank - 0.5).abs() < 1e-12);
        assert!((s.ndcg10 - 0.624_05).abs() < 1e-4, "{}", s.ndcg10);
        assert!(score(&ids(&["x"]), &HashSet::new(), &[1]).is_none());
        let miss = score(&ids(&["x"]), &relevant, &[10]).unwrap();
        assert_eq!(
            (miss.recall[0], miss.reciprocal_rank, miss.ndcg10),
            (0.0, 0.0, 0.0)
        );

        let (by, all) = summarize(
            &[
                ("1".into(), s.clone()),
                ("2".into(), miss.clone()),
                ("1".into(), s),
            ],
            &[1, 2, 5],
        );
        assert_eq!(all.questions, 3);
        assert!((all.recall["recall@5"] - 2.0 / 3.0).abs() < 1e-12);
        assert!((all.mrr - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(by["1"].questions, 2);
        assert!((by["1"].recall["recall@2"] - 0.5).abs() < 1e-12);
        assert!((by["2"].ndcg10).abs() < 1e-12);
        // An extracted memory covering both turns finds them at once.
        let both = vec![
            vec!["D9".to_owned()],
            vec!["D2:7".to_owned(), "D1:3".to_owned()],
        ];
        let m = score(&both, &relevant, &[1, 2]).unwrap();
        assert_eq!(m.recall, vec![0.0, 1.0]);
        assert!((m.reciprocal_rank - 0.5).abs() < 1e-12);
        assert!((percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 50.0) - 3.0).abs() < 1e-12);
        assert!((percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 99.0) - 5.0).abs() < 1e-12);
    }
}
