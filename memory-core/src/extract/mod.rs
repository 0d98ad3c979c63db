//! Memories from conversations. A session's unextracted messages go to the
//! language model with the session's summary and the speakers' profile
//! memories; it answers candidate memories (with the ids of the messages
//! they come from) and the summary updated. Each candidate is then
//! consolidated against its owner's similar memories (add, update,
//! supersede or noop). Everything is written with the messages marked
//! extracted in one transaction, so a retried or repeated extraction never
//! writes a memory twice and never skips a message.

mod ask;
mod candidates;
mod config;
mod consolidate;
mod summary;
mod triggers;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub(crate) use ask::Ask;
pub use ask::LlmUsage;
pub use config::ExtractionConfig;

use self::candidates::Extraction;
use crate::filter::Field;
use crate::traits::{ChangeSet, LanguageModel, NewJob};
use crate::{
    AddEvent, Error, ErrorKind, Filter, HistoryEvent, HistoryOp, Memory, MemoryKind, MemoryRecord,
    Result, Scope, StoredMemory, Validity, VectorState,
};

/// The extraction prompt's version, recorded in each memory's metadata.
pub const PROMPT_VERSION: &str = "extract_v2";
const PROMPT: &str = include_str!("../../prompts/extract_v2.txt");

/// The job kind that extracts a session.
pub const EXTRACT: &str = "extract";
/// The job kind that extracts a session once it has been quiet for a while.
pub const EXTRACT_IDLE: &str = "extract_idle";

/// Profile memories per speaker given to the model as what is already known.
const KNOWN_PER_USER: usize = 20;

/// What one extraction did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExtractReport {
    /// Messages read (and marked extracted).
    pub messages: u64,
    /// New memories written.
    pub added: u64,
    /// Existing memories refined with new detail.
    pub updated: u64,
    /// New memories that superseded a contradicted one.
    pub superseded: u64,
    /// Candidates that were already remembered.
    pub unchanged: u64,
    /// Candidates dropped: no valid source message, or empty.
    pub rejected: u64,
    /// Whether the session's summary was written.
    pub summarized: bool,
    /// Language-model calls made.
    pub calls: u64,
    /// Tokens the model read.
    pub input_tokens: u64,
    /// Tokens the model wrote.
    pub output_tokens: u64,
}

/// A new state of an existing memory, whose content is re-embedded.
#[derive(Debug, Clone)]
pub(crate) struct Rewrite {
    record: MemoryRecord,
    expected_version: u64,
    history: HistoryEvent,
}

impl Rewrite {
    /// `old` with new content, and a history row saying why.
    fn new(old: &MemoryRecord, content: String, reason: &str) -> Self {
        let mut record = old.clone();
        record.content_hash = crate::hash::content_hash(&content);
        record.content = content;
        record.updated_at = crate::now();
        record.version = old.version + 1;
        let history = HistoryEvent::new(
            old,
            HistoryOp::Update,
            Some(old.content.clone()),
            Some(record.content.clone()),
            reason,
        );
        Self {
            record,
            expected_version: old.version,
            history,
        }
    }

    /// `old` merged with candidate `c` into `content`.
    fn merge(old: &MemoryRecord, content: String, c: &crate::AddRequest) -> Self {
        let mut w = Self::new(old, content, &format!("extraction merged {:?}", c.content));
        let r = &mut w.record;
        r.importance = r.importance.max(c.importance);
        r.confidence = c.confidence;
        r.source_message_ids
            .extend(c.source_message_ids.iter().copied());
        for (k, v) in &c.metadata {
            r.metadata.insert(k.clone(), v.clone());
        }
        w
    }
}

/// The job that extracts `session` of `tenant`, keyed so one is live at a
/// time; `drain` extracts every remaining message, not only full batches.
pub fn extract_job(
    tenant: &str,
    session: &str,
    due: chrono::DateTime<chrono::Utc>,
    drain: bool,
) -> NewJob {
    NewJob::new(EXTRACT, tenant, due)
        .keyed(format!("{EXTRACT}:{tenant}:{session}"))
        .payload(serde_json::json!({ "session_id": session, "drain": drain }))
}

/// The job that checks, `idle_secs` after a message, whether the session
/// has gone quiet.
pub(crate) fn idle_job(tenant: &str, session: &str, due: chrono::DateTime<chrono::Utc>) -> NewJob {
    NewJob::new(EXTRACT_IDLE, tenant, due)
        .keyed(format!("{EXTRACT_IDLE}:{tenant}:{session}"))
        .payload(serde_json::json!({ "session_id": session }))
}

impl Memory {
    /// The language model, if extraction may run for this session: fails
    /// with `Unsupported` without a model, `InvalidInput` when extraction is
    /// turned off for the tenant or the session.
    pub(crate) async fn extractor(
        &self,
        tenant: &str,
        session_id: &str,
    ) -> Result<std::sync::Arc<dyn LanguageModel>> {
        let llm = self.model()?;
        if let Some(why) = self.extraction_off(tenant, session_id).await? {
            return Err(Error::invalid(why));
        }
        Ok(llm)
    }

    /// The configured language model, or `Unsupported`.
    pub(crate) fn model(&self) -> Result<std::sync::Arc<dyn LanguageModel>> {
        self.inner.llm.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                "extraction needs a language_model in the configuration",
            )
        })
    }

    /// Why extraction may not run for this session, if it may not.
    pub(crate) async fn extraction_off(
        &self,
        tenant: &str,
        session_id: &str,
    ) -> Result<Option<String>> {
        if !self.inner.config.extraction.allows(tenant) {
            return Ok(Some(format!(
                "extraction is turned off for tenant {tenant:?}"
            )));
        }
        let session = self.inner.store.get_session(tenant, session_id).await?;
        Ok(session
            .is_some_and(|s| s.metadata.get("extract") == Some(&false.into()))
            .then(|| format!("extraction is turned off for session {session_id:?}")))
    }

    /// Queues the extraction of all of a session's unextracted messages for
    /// the worker (one job per session however often it is asked).
    pub async fn queue_extraction(&self, tenant: &str, session_id: &str) -> Result<()> {
        self.extractor(tenant, session_id).await?;
        self.inner
            .store
            .enqueue(&[extract_job(tenant, session_id, crate::now(), true)])
            .await
    }

    /// Extracts memories from up to `extract_batch` unextracted messages of
    /// a session, oldest first, and updates its summary. An answer that
    /// does not follow the schema is asked for once more, then the call
    /// fails and the messages stay unextracted.
    pub async fn extract_session(&self, tenant: &str, session_id: &str) -> Result<ExtractReport> {
        let llm = self.extractor(tenant, session_id).await?;
        self.extract_with(llm, tenant, session_id).await
    }

    /// [`Memory::extract_session`] once the caller has checked that
    /// extraction may run.
    pub(crate) async fn extract_with(
        &self,
        llm: std::sync::Arc<dyn LanguageModel>,
        tenant: &str,
        session_id: &str,
    ) -> Result<ExtractReport> {
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
        let summary = self.session_summary(tenant, session_id).await?;
        let mut users: Vec<&str> = messages
            .iter()
            .filter_map(|m| m.user_id.as_deref())
            .collect();
        users.sort_unstable();
        users.dedup();
        let mut known = Vec::new();
        for u in &users {
            let scope = Scope::user(*u).with_tenant(tenant.to_owned());
            let profile = Some(Filter::eq(Field::Kind, MemoryKind::Profile.as_str()));
            let page = self
                .list(&scope, profile, Validity::Current, KNOWN_PER_USER, None)
                .await?;
            known.extend(page.items);
        }
        let extraction: Extraction = self
            .ask(
                llm.as_ref(),
                tenant,
                Ask {
                    name: "extraction",
                    system: PROMPT,
                    input: candidates::input(
                        summary.as_ref().map(|s| s.content.as_str()),
                        &known,
                        &messages,
                    ),
                    max_tokens: 2000,
                },
                &mut report,
            )
            .await?;
        let provenance = [("extracted_by", llm.model_id()), ("prompt", PROMPT_VERSION)];
        let (requests, rejected) = candidates::requests(
            tenant,
            session_id,
            &messages,
            extraction.memories,
            &provenance,
        );
        report.rejected = rejected;
        // A candidate the engine would refuse (too long, say) must not fail
        // the batch forever: it is dropped like one without a source.
        let (requests, invalid): (Vec<_>, Vec<_>) = requests.into_iter().partition(|r| {
            r.validate(&self.inner.config)
                .and_then(|()| self.windows(&r.content).map(drop))
                .is_ok()
        });
        report.rejected += invalid.len() as u64;
        let mut plan = self
            .consolidate(llm.as_ref(), tenant, requests, &mut report)
            .await?;
        let owner = Scope {
            tenant: tenant.to_owned(),
            user_id: users.first().map(|u| (*u).to_owned()),
            agent_id: None,
            session_id: Some(session_id.to_owned()),
        };
        if let Some(text) = &extraction.summary {
            summary::plan_summary(&mut plan, summary.as_ref(), owner, text, &provenance);
        }
        let done: Vec<Uuid> = messages.iter().map(|m| m.id).collect();
        self.write_plan(plan, done, &mut report).await?;
        Ok(report)
    }

    /// Writes a plan and marks `done` extracted, all in one transaction.
    async fn write_plan(
        &self,
        plan: consolidate::Plan,
        done: Vec<Uuid>,
        report: &mut ExtractReport,
    ) -> Result<()> {
        let summarized = plan
            .rewrites
            .iter()
            .any(|r| r.record.kind == MemoryKind::Summary);
        report.summarized = summarized || plan.summary.is_some();
        let mut extra = ChangeSet {
            mark_extracted: done,
            ..ChangeSet::default()
        };
        let texts: Vec<String> = plan
            .rewrites
            .iter()
            .map(|w| w.record.content.clone())
            .collect();
        let vectors = self.embed_contents(&texts).await?;
        for (w, embedded) in plan.rewrites.into_iter().zip(vectors) {
            let mut record = w.record;
            record.vector_state = VectorState::Pending;
            record.embedding_model = Some(self.inner.embedder.model_id().to_owned());
            let memory = StoredMemory {
                record,
                embedding: Some(embedded.vector),
                chunks: embedded.chunks,
            };
            extra.rewrite(memory, w.expected_version, w.history);
        }
        // Superseding adds are counted by consolidation, the summary apart.
        let counted: Vec<bool> = plan.adds.iter().map(|r| r.supersedes.is_none()).collect();
        let mut adds = plan.adds;
        adds.extend(plan.summary);
        let outcomes = self.add_with(adds, &extra).await?;
        for (o, counted) in outcomes.iter().zip(counted) {
            match (counted, o.event) {
                (false, _) => {}
                (true, AddEvent::Unchanged) => report.unchanged += 1,
                (true, _) => report.added += 1,
            }
        }
        Ok(())
    }
}
