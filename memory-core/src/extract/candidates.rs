//! The extraction call's input and answer: the transcript with its context,
//! and the candidate memories checked against the batch they came from.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{AddRequest, MemoryKind, MemoryRecord, Message, Role, Scope};

/// The answer the model must give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Extraction {
    /// What is worth remembering.
    pub memories: Vec<Candidate>,
    /// The session's summary so far, updated with these messages.
    pub summary: Option<String>,
}

/// One candidate memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Candidate {
    /// One sentence about the person.
    pub content: String,
    /// fact, preference, event or profile.
    pub kind: String,
    /// 1 to 10.
    pub importance: f32,
    /// 0 to 1.
    pub confidence: Option<f32>,
    /// YYYY-MM-DD when the conversation says when it happened or became true.
    pub happened_at: Option<String>,
    /// The bracketed ids of the messages it comes from.
    pub source_ids: Vec<String>,
}

/// The conversation as the prompt shows it: `[m1] date author (role): text`.
fn transcript(messages: &[Message]) -> String {
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let who = if m.role == Role::Assistant {
                "assistant".to_owned()
            } else {
                let name = m
                    .author_name
                    .clone()
                    .or_else(|| m.user_id.clone())
                    .unwrap_or_else(|| m.role.as_str().to_owned());
                let role = if m.role == Role::User { " (user)" } else { "" };
                format!("{name}{role}")
            };
            format!(
                "[m{}] {} {}: {}",
                i + 1,
                m.created_at.format("%Y-%m-%d"),
                who,
                m.content
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The extraction call's user message: the summary so far, what is already
/// known about the speakers, and the batch.
pub(super) fn input(summary: Option<&str>, known: &[MemoryRecord], messages: &[Message]) -> String {
    let known = if known.is_empty() {
        "(nothing)".to_owned()
    } else {
        known
            .iter()
            .map(|m| format!("\n- {}", m.content))
            .collect::<String>()
    };
    format!(
        "Summary so far: {}\nAlready known: {known}\nConversation:\n{}",
        summary.unwrap_or("(none)"),
        transcript(messages)
    )
}

/// The candidates as add requests, each owned by the speaker of its source
/// messages; candidates with no valid source or no content are dropped
/// (the second value counts them).
pub(super) fn requests(
    tenant: &str,
    session_id: &str,
    messages: &[Message],
    candidates: Vec<Candidate>,
    provenance: &[(&str, &str)],
) -> (Vec<AddRequest>, u64) {
    let by_id: HashMap<String, &Message> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("m{}", i + 1), m))
        .collect();
    let mut out = Vec::new();
    let mut rejected = 0;
    for c in candidates {
        let sources: Vec<&Message> = c
            .source_ids
            .iter()
            .filter_map(|s| by_id.get(s.trim()).copied())
            .collect();
        let content = c.content.trim();
        let Some(said_at) = sources.iter().map(|m| m.created_at).max() else {
            rejected += 1;
            continue;
        };
        if content.is_empty() {
            rejected += 1;
            continue;
        }
        // A shared session (a live chat) has many speakers: a memory
        // belongs to the user who said what it comes from.
        let speaker = sources
            .iter()
            .find(|m| m.user_id.is_some())
            .unwrap_or(&sources[0]);
        let scope = Scope {
            tenant: tenant.to_owned(),
            user_id: speaker.user_id.clone(),
            agent_id: speaker.agent_id.clone(),
            session_id: speaker.user_id.is_none().then(|| session_id.to_owned()),
        };
        let mut r = AddRequest::new(scope, content)
            .kind(MemoryKind::parse(c.kind.trim()))
            .importance(finite_or(c.importance, 5.0).clamp(1.0, 10.0))
            .valid_from(happened_at(c.happened_at.as_deref(), said_at));
        r.confidence = finite_or(c.confidence.unwrap_or(1.0), 1.0).clamp(0.0, 1.0);
        r.source_message_ids = sources.iter().map(|m| m.id).collect();
        for (k, v) in provenance {
            r.metadata.insert((*k).into(), (*v).into());
        }
        out.push(r);
    }
    (out, rejected)
}

fn finite_or(v: f32, default: f32) -> f32 {
    if v.is_finite() { v } else { default }
}

/// When a memory became true: the date the model resolved, if it is a date
/// no later than the messages; else when it was said.
fn happened_at(date: Option<&str>, said_at: DateTime<Utc>) -> DateTime<Utc> {
    date.and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .filter(|t| *t <= said_at)
        .unwrap_or(said_at)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn event_dates_resolve_only_to_the_past_of_the_message() {
        let said = "2026-03-02T10:00:00Z".parse().unwrap();
        let at = |d| happened_at(Some(d), said).to_rfc3339();
        assert_eq!(at("2026-02-23"), "2026-02-23T00:00:00+00:00");
        // A date after the message, or not a date, falls back to when it was said.
        assert_eq!(at("2026-04-01"), said.to_rfc3339());
        assert_eq!(at("last week"), said.to_rfc3339());
        assert_eq!(happened_at(None, said), said);
    }
}
