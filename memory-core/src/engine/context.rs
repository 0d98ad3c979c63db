//! Prompt context: profile facts, the session's summary, relevant memories
//! and the recent window, rendered within a token budget (what a system
//! prompt is enhanced with).

use serde::{Deserialize, Serialize};

use super::Memory;
use super::search::{SearchHit, SearchRequest};
use crate::{Error, Filter, MemoryKind, MemoryRecord, Message, Result, Scope};

/// What goes into a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Context {
    /// Profile memories of the scope (always included first).
    pub profile: Vec<MemoryRecord>,
    /// The session's rolling summary, if extraction wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<MemoryRecord>,
    /// Memories relevant to the query.
    pub memories: Vec<SearchHit>,
    /// The session's recent messages, oldest first.
    pub recent: Vec<Message>,
    /// Everything above rendered as prompt text, within the budget.
    pub text: String,
    /// Estimated tokens of `text` (4 characters a token).
    pub tokens: usize,
}

impl Context {
    /// The base system prompt followed by the context.
    pub fn enhance(&self, base_prompt: &str) -> String {
        if self.text.is_empty() {
            base_prompt.to_owned()
        } else {
            format!("{base_prompt}\n\n{}", self.text)
        }
    }
}

fn tokens(s: &str) -> usize {
    s.chars().count().div_ceil(4)
}

/// Appends lines under a heading while the budget lasts; returns how many
/// fit.
fn section(
    out: &mut String,
    used: &mut usize,
    budget: usize,
    heading: &str,
    lines: impl IntoIterator<Item = String>,
) -> usize {
    let mut body = String::new();
    let mut cost = tokens(heading) + 1;
    let mut kept = 0;
    for line in lines {
        let c = tokens(&line) + 1;
        if *used + cost + c > budget {
            break;
        }
        cost += c;
        kept += 1;
        body.push_str(&line);
        body.push('\n');
    }
    if !body.is_empty() {
        out.push_str(heading);
        out.push('\n');
        out.push_str(&body);
        *used += cost;
    }
    kept
}

impl Memory {
    /// Builds prompt context for `scope`: profile facts, `session_id`'s
    /// summary, the memories most relevant to `query`, and the session's
    /// recent window, in that order of
    /// priority, within `token_budget` (estimated at 4 characters a token).
    /// What the budget leaves out is left out of the returned lists too,
    /// and only the memories that made it into the text count as accessed.
    pub async fn context(
        &self,
        scope: &Scope,
        session_id: Option<&str>,
        query: &str,
        token_budget: usize,
    ) -> Result<Context> {
        if token_budget == 0 {
            return Err(Error::invalid("token_budget: must be at least 1"));
        }
        // The four reads are independent: a prompt waits for the slowest
        // (the search, which embeds the query), not for their sum.
        let profile = async {
            let page = self
                .list(
                    scope,
                    Some(Filter::eq(crate::Field::Kind, "profile")),
                    super::Validity::Current,
                    50,
                    None,
                )
                .await?;
            Ok(page.items)
        };
        let memories = async {
            if query.trim().is_empty() {
                return Ok(Vec::new());
            }
            let res = self
                .search_unnoted(SearchRequest::new(scope.clone(), query).k(10))
                .await?;
            Ok(res
                .hits
                .into_iter()
                .filter(|h| !matches!(h.memory.kind, MemoryKind::Profile | MemoryKind::Summary))
                .collect())
        };
        let summary = async {
            match session_id {
                Some(s) => self.session_summary(&scope.tenant, s).await,
                None => Ok(None),
            }
        };
        let recent = async {
            match session_id {
                Some(s) => {
                    self.recent(&scope.tenant, s, self.inner.config.window.min(20))
                        .await
                }
                None => Ok(Vec::new()),
            }
        };
        let (mut profile, mut memories, summary, mut recent): (
            Vec<MemoryRecord>,
            Vec<SearchHit>,
            _,
            Vec<Message>,
        ) = futures::try_join!(profile, memories, summary, recent)?;
        let mut text = String::new();
        let mut used = 0;
        let n = section(
            &mut text,
            &mut used,
            token_budget,
            "## About the user",
            profile.iter().map(|m| format!("- {}", m.content)),
        );
        profile.truncate(n);
        let n = section(
            &mut text,
            &mut used,
            token_budget,
            "## Conversation so far",
            summary.iter().map(|m| m.content.clone()),
        );
        let summary = summary.filter(|_| n > 0);
        let n = section(
            &mut text,
            &mut used,
            token_budget,
            "## Relevant memories",
            memories.iter().map(|h| {
                format!(
                    "- {} ({}, {})",
                    h.memory.content,
                    h.memory.kind,
                    h.memory.created_at.format("%Y-%m-%d")
                )
            }),
        );
        memories.truncate(n);
        self.note_served(&memories);
        // The newest messages matter most: fill from the end, print in order.
        let mut kept: Vec<String> = Vec::new();
        let mut recent_used = tokens("## Recent conversation") + 1;
        for m in recent.iter().rev() {
            let who = m
                .author_name
                .clone()
                .unwrap_or_else(|| m.role.as_str().to_owned());
            let line = format!("{who}: {}", m.content);
            let c = tokens(&line) + 1;
            if used + recent_used + c > token_budget {
                break;
            }
            recent_used += c;
            kept.push(line);
        }
        kept.reverse();
        let n = section(
            &mut text,
            &mut used,
            token_budget,
            "## Recent conversation",
            kept,
        );
        recent.drain(..recent.len() - n);
        let text = text.trim_end().to_owned();
        Ok(Context {
            tokens: tokens(&text),
            profile,
            summary,
            memories,
            recent,
            text,
        })
    }
}
