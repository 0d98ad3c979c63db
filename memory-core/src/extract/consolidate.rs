//! Consolidation: each candidate is compared with its owner's most similar
//! current memories, and one call decides for the whole batch whether it is
//! new (add), refines one (update), contradicts one (supersede) or is
//! already known (noop). The model never deletes: a superseded memory stays.

use std::collections::{HashMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ask::Ask;
use super::{ExtractReport, Rewrite};
use crate::traits::LanguageModel;
use crate::{AddRequest, Memory, MemoryRecord, Result};

/// The prompt's version.
pub(super) const PROMPT_VERSION: &str = "consolidate_v1";
const PROMPT: &str = include_str!("../../prompts/consolidate_v1.txt");

/// Existing memories shown per candidate.
const NEIGHBOURS: usize = 4;
/// Cosine similarity below which an existing memory is not worth showing.
const MIN_SIMILARITY: f32 = 0.5;

/// The answer the model must give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Decisions {
    /// One per candidate shown.
    decisions: Vec<Decision>,
}

/// What to do with one candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Decision {
    /// The candidate's id, like "c1".
    candidate: String,
    /// add, update, supersede or noop.
    action: Action,
    /// The existing memory's id, like "e2", for update, supersede and noop.
    target: Option<String>,
    /// The merged sentence, for update.
    content: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Action {
    Add,
    Update,
    Supersede,
    Noop,
}

/// What a batch of candidates becomes.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// New memories (some superseding old ones).
    pub adds: Vec<AddRequest>,
    /// Existing memories to rewrite.
    pub rewrites: Vec<Rewrite>,
    /// A new session summary.
    pub summary: Option<AddRequest>,
}

impl Memory {
    /// Decides what each candidate does to its owner's memories.
    pub(super) async fn consolidate(
        &self,
        llm: &dyn LanguageModel,
        tenant: &str,
        candidates: Vec<AddRequest>,
        report: &mut ExtractReport,
    ) -> Result<Plan> {
        if candidates.is_empty() {
            return Ok(Plan::default());
        }
        let shown = self.neighbours(&candidates).await?;
        if shown.iter().all(Vec::is_empty) {
            return Ok(Plan {
                adds: candidates,
                ..Plan::default()
            });
        }
        // Each existing memory gets one id, however many candidates it is shown for.
        let mut ids: HashMap<Uuid, usize> = HashMap::new();
        let mut existing: Vec<&MemoryRecord> = Vec::new();
        let mut input = String::new();
        for (i, (c, near)) in candidates.iter().zip(&shown).enumerate() {
            if near.is_empty() {
                continue;
            }
            input.push_str(&format!("[c{}] {}\n", i + 1, c.content));
            for m in near {
                let n = *ids.entry(m.id).or_insert_with(|| {
                    existing.push(m);
                    existing.len()
                });
                input.push_str(&format!("  [e{n}] {}\n", m.content));
            }
        }
        let answer: Decisions = self
            .ask(
                llm,
                tenant,
                Ask {
                    name: "consolidation",
                    system: PROMPT,
                    input,
                    max_tokens: 2000,
                },
                report,
            )
            .await?;
        let mut by_candidate: HashMap<String, Decision> = HashMap::new();
        for d in answer.decisions {
            by_candidate
                .entry(d.candidate.trim().to_owned())
                .or_insert(d);
        }
        let mut plan = Plan::default();
        let mut touched: HashSet<Uuid> = HashSet::new();
        for (i, (mut c, near)) in candidates.into_iter().zip(&shown).enumerate() {
            let decision = by_candidate.remove(&format!("c{}", i + 1));
            // A target must be one of the memories shown for this candidate.
            let target = decision
                .as_ref()
                .and_then(|d| d.target.as_deref())
                .and_then(|t| t.trim().strip_prefix('e')?.parse::<usize>().ok())
                .and_then(|n| existing.get(n.checked_sub(1)?).copied())
                .filter(|m| near.iter().any(|x| x.id == m.id));
            let action = decision.as_ref().map_or(Action::Add, |d| d.action);
            match (action, target) {
                (Action::Noop, _) if !near.is_empty() => report.unchanged += 1,
                (Action::Supersede, Some(t)) if touched.insert(t.id) => {
                    report.superseded += 1;
                    c.metadata
                        .insert("consolidation".into(), PROMPT_VERSION.into());
                    plan.adds.push(c.supersedes(t.id));
                }
                (Action::Update, Some(t)) if touched.insert(t.id) => {
                    let merged = decision
                        .and_then(|d| d.content)
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| c.content.clone());
                    if merged == t.content {
                        report.unchanged += 1;
                        continue;
                    }
                    report.updated += 1;
                    c.metadata
                        .insert("consolidation".into(), PROMPT_VERSION.into());
                    plan.rewrites.push(Rewrite::merge(t, merged, &c));
                }
                // Anything unclear keeps the information as a new memory.
                _ => plan.adds.push(c),
            }
        }
        Ok(plan)
    }

    /// For each candidate, its owner's live memories most like it.
    async fn neighbours(&self, candidates: &[AddRequest]) -> Result<Vec<Vec<MemoryRecord>>> {
        let texts: Vec<String> = candidates.iter().map(|c| c.content.clone()).collect();
        let vectors = self.embed_checked(&texts).await?;
        let mut out = Vec::with_capacity(candidates.len());
        for (c, vector) in candidates.iter().zip(vectors) {
            let near = self
                .live_neighbours(&c.scope, vector, NEIGHBOURS, MIN_SIMILARITY)
                .await?;
            out.push(near.into_iter().map(|(m, _)| m).collect());
        }
        Ok(out)
    }
}
