//! Memories from conversations: a session's unextracted messages are given
//! to the language model, which answers candidate memories with the ids of
//! the messages they come from; the candidates are checked and written with
//! the messages marked extracted in one transaction, so a retried or
//! repeated extraction never writes a memory twice and never skips a message.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::traits::{ChangeSet, ChatMessage, ChatRequest, NewJob, OutputSchema};
use crate::{AddRequest, Error, ErrorKind, Memory, MemoryKind, Message, Result, Role, Scope};

/// The prompt's version, recorded in each memory's metadata.
pub const PROMPT_VERSION: &str = "extract_v1";
const PROMPT: &str = include_str!("../../prompts/extract_v1.txt");

/// The job kind that extracts a session.
pub const EXTRACT: &str = "extract";

/// The answer the model must give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Extraction {
    /// What is worth remembering.
    memories: Vec<Candidate>,
}

/// One candidate memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Candidate {
    /// One sentence about the person.
    content: String,
    /// fact, preference, event or profile.
    kind: String,
    /// 1 to 10.
    importance: f32,
    /// The bracketed ids of the messages it comes from.
    source_ids: Vec<String>,
}

/// What one extraction did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtractReport {
    /// Messages read (and marked extracted).
    pub messages: u64,
    /// Memories written.
    pub added: u64,
    /// Candidates that were already remembered.
    pub unchanged: u64,
    /// Candidates dropped: no valid source message, or empty.
    pub rejected: u64,
    /// Tokens the model read.
    pub input_tokens: u64,
    /// Tokens the model wrote.
    pub output_tokens: u64,
}

/// The job that extracts `session` of `tenant`, keyed so one is live at a time.
pub fn extract_job(tenant: &str, session: &str, due: chrono::DateTime<chrono::Utc>) -> NewJob {
    NewJob::new(EXTRACT, tenant, due)
        .keyed(format!("{EXTRACT}:{tenant}:{session}"))
        .payload(serde_json::json!({ "session_id": session }))
}

/// The conversation as the prompt shows it: `[m1] date author (role): text`.
fn transcript(messages: &[Message]) -> String {
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let who = m
                .author_name
                .clone()
                .or_else(|| m.user_id.clone())
                .unwrap_or_else(|| m.role.as_str().to_owned());
            let role = if m.role == Role::User { " (user)" } else { "" };
            let who = if m.role == Role::Assistant {
                "assistant".to_owned()
            } else {
                format!("{who}{role}")
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

impl Memory {
    /// Queues the extraction of a session's unextracted messages for the
    /// worker (one job per session however often it is asked).
    pub async fn queue_extraction(&self, tenant: &str, session_id: &str) -> Result<()> {
        if self.inner.llm.is_none() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "extraction needs a language_model in the configuration",
            ));
        }
        self.inner
            .store
            .enqueue(&[extract_job(tenant, session_id, crate::now())])
            .await
    }

    /// Extracts memories from up to `extract_batch` unextracted messages of
    /// a session, oldest first. Without a language model it fails with
    /// `Unsupported`; an answer that does not follow the schema is asked for
    /// once more, then the call fails and the messages stay unextracted.
    pub async fn extract_session(&self, tenant: &str, session_id: &str) -> Result<ExtractReport> {
        let llm = self.inner.llm.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                "extraction needs a language_model in the configuration",
            )
        })?;
        let messages = self
            .inner
            .store
            .unextracted_messages(tenant, session_id, self.inner.config.extract_batch)
            .await?;
        let mut report = ExtractReport {
            messages: messages.len() as u64,
            ..ExtractReport::default()
        };
        if messages.is_empty() {
            return Ok(report);
        }
        let schema = serde_json::to_value(schemars::schema_for!(Extraction))?;
        let request = ChatRequest {
            messages: vec![
                ChatMessage {
                    role: Role::System,
                    content: PROMPT.to_owned(),
                },
                ChatMessage {
                    role: Role::User,
                    content: transcript(&messages),
                },
            ],
            temperature: 0.0,
            max_tokens: 2000,
            schema: Some(OutputSchema {
                name: "extraction".into(),
                schema,
            }),
        };
        let mut extraction = None;
        let mut last_error = None;
        for _ in 0..2 {
            let answer = llm.complete_json(&request).await?;
            report.input_tokens += answer.usage.input;
            report.output_tokens += answer.usage.output;
            count_usage(tenant, llm.model_id(), answer.usage);
            match serde_json::from_value::<Extraction>(answer.value) {
                Ok(e) => {
                    extraction = Some(e);
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        let extraction = extraction.ok_or_else(|| {
            Error::internal(format!(
                "extraction: the model's answer does not follow the schema twice in a row ({})",
                last_error.map(|e| e.to_string()).unwrap_or_default()
            ))
        })?;
        let by_id: HashMap<String, &Message> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("m{}", i + 1), m))
            .collect();
        let mut requests = Vec::new();
        for c in extraction.memories {
            let sources: Vec<&Message> = c
                .source_ids
                .iter()
                .filter_map(|s| by_id.get(s.trim()).copied())
                .collect();
            if sources.is_empty() || c.content.trim().is_empty() {
                report.rejected += 1;
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
            let mut r = AddRequest::new(scope, c.content.trim())
                .kind(MemoryKind::parse(&c.kind))
                .importance(c.importance.clamp(1.0, 10.0));
            r.source_message_ids = sources.iter().map(|m| m.id).collect();
            r.metadata
                .insert("extracted_by".into(), llm.model_id().into());
            r.metadata.insert("prompt".into(), PROMPT_VERSION.into());
            requests.push(r);
        }
        let extra = ChangeSet {
            mark_extracted: messages.iter().map(|m| m.id).collect(),
            ..ChangeSet::default()
        };
        if requests.is_empty() {
            self.inner.store.apply(extra).await?;
            return Ok(report);
        }
        for o in self.add_with(requests, &extra).await? {
            match o.event {
                crate::AddEvent::Unchanged => report.unchanged += 1,
                _ => report.added += 1,
            }
        }
        Ok(report)
    }
}

/// Calls and tokens per tenant and model, for `/metrics`.
fn count_usage(tenant: &str, model: &str, usage: crate::traits::TokenUsage) {
    let labels = [("tenant", tenant.to_owned()), ("model", model.to_owned())];
    metrics::counter!("memory_llm_calls_total", &labels).increment(1);
    metrics::counter!("memory_llm_input_tokens_total", &labels).increment(usage.input);
    metrics::counter!("memory_llm_output_tokens_total", &labels).increment(usage.output);
}
