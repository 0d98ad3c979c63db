//! Query rewriting by the language model: a question is searched as itself
//! and as a few rephrasings the model proposes, and the result lists are
//! fused by reciprocal rank, so a memory worded unlike the question can
//! still be found.

use std::collections::HashMap;

use serde::Deserialize;
use uuid::Uuid;

use super::Memory;
use super::search::{SearchHit, SearchRequest, SearchResponse};
use crate::extract::{Ask, ExtractReport};
use crate::{Error, Result};

/// The most rephrasings searched besides the question itself.
pub(crate) const MAX_REWRITES: usize = 3;

const SYSTEM: &str = "You turn a question into search queries for a memory store that holds \
facts about people and what they said in conversations. Answer with up to 3 short queries \
that would find the memory answering it: a paraphrase, the key names and terms, the words \
the answer would likely use. Write them in the question's language. Do not answer the \
question and do not invent facts.";

/// The model's answer.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct Rewrites {
    /// Up to three short search queries, best first.
    queries: Vec<String>,
}

impl Memory {
    /// Searches `request.query` and the model's rephrasings of it, fusing
    /// the lists; a model that fails leaves the plain search, reported as
    /// degraded.
    pub(super) async fn search_rewritten(&self, request: SearchRequest) -> Result<SearchResponse> {
        let Some(llm) = self.inner.llm.clone() else {
            return Err(Error::invalid(
                "rewrite: no language model is configured to rewrite queries (set language_model)",
            ));
        };
        let cfg = &self.inner.config;
        let k = request.k.unwrap_or(cfg.default_k);
        if k == 0 || k > cfg.max_k {
            return Err(Error::invalid(format!(
                "k: must be within 1 and {}, got {k}",
                cfg.max_k
            )));
        }
        let offset = match request.cursor.as_deref() {
            Some(c) => super::search::decode_cursor(c)?,
            None => 0,
        };
        let want = offset + k;
        let sub = |query: String| {
            let mut r = request.clone();
            r.query = query;
            r.cursor = None;
            // Deeper than the page, so a hit one list ranks low still
            // counts in the fusion.
            r.k = Some((want * cfg.candidate_factor).min(cfg.max_k));
            self.search_inner(r)
        };
        // The question's own search first: it checks the request before
        // the model is paid for, and its failure fails the request.
        let original = sub(request.query.clone()).await?;
        let asked = self
            .ask::<Rewrites>(
                llm.as_ref(),
                &request.scope.tenant,
                Ask {
                    name: "rewrites",
                    system: SYSTEM,
                    input: request.query.clone(),
                    max_tokens: 200,
                },
                &mut ExtractReport::default(),
            )
            .await;
        let rewrites: Vec<String> = match asked {
            Ok(r) => {
                let mut seen = vec![request.query.trim().to_lowercase()];
                r.queries
                    .into_iter()
                    .map(|q| q.trim().to_owned())
                    .filter(|q| !q.is_empty() && q.len() <= cfg.max_content_bytes)
                    .filter(|q| {
                        let key = q.to_lowercase();
                        let new = !seen.contains(&key);
                        seen.push(key);
                        new
                    })
                    .take(MAX_REWRITES)
                    .collect()
            }
            Err(e) if e.kind() == crate::ErrorKind::InvalidInput => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "query rewriting failed; searching the question alone");
                let mut plain = self.search_inner(request).await?;
                plain.degraded.push("rewrite".to_owned());
                return Ok(plain);
            }
        };
        let answers = futures::future::join_all(rewrites.iter().cloned().map(sub)).await;
        let mut degraded = original.degraded;
        let mut lists = vec![original.hits];
        for answer in answers {
            match answer {
                Ok(r) => {
                    degraded.extend(r.degraded);
                    lists.push(r.hits);
                }
                Err(e) => tracing::warn!(error = %e, "a rewritten query's search failed"),
            }
        }
        degraded.sort();
        degraded.dedup();
        let mut hits = fuse(lists, cfg.rrf_k);
        let more = hits.len() > want;
        hits.truncate(want);
        Ok(SearchResponse {
            hits: hits.into_iter().skip(offset).collect(),
            next_cursor: more.then(|| super::search::encode_cursor(want)),
            degraded,
            rewrites,
        })
    }
}

/// Reciprocal-rank fusion of result lists, normalised so that being first
/// in every list scores 1. A hit keeps the explanation of the first list it
/// appears in (the question's own, when it is there).
fn fuse(lists: Vec<Vec<SearchHit>>, rrf_k: f32) -> Vec<SearchHit> {
    let n = lists.len().max(1);
    let mut fused: HashMap<Uuid, (f32, SearchHit)> = HashMap::new();
    for list in lists {
        for (rank, hit) in list.into_iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let part = (rrf_k + 1.0) / (rrf_k + (rank + 1) as f32);
            fused
                .entry(hit.memory.id)
                .and_modify(|(s, _)| *s += part)
                .or_insert((part, hit));
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let lists = n as f32;
    let mut out: Vec<SearchHit> = fused
        .into_values()
        .map(|(s, mut hit)| {
            hit.score = s / lists;
            hit
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| b.memory.id.cmp(&a.memory.id))
    });
    out
}
