//! The backend traits. Each is object-safe and held as `Arc<dyn …>`, so
//! backends are chosen from configuration at run time.

mod conversation;
mod embedder;
mod foreign;
mod jobs;
mod keyword;
mod llm;
mod rerank;
mod short_term;
mod store;
mod vector;

pub use conversation::{
    ConversationStore, MessageQuery, SessionQuery, TimeKey, TopicQuery, UserPatch, UserQuery,
    UserTouch,
};
pub use embedder::{EmbedKind, Embedder, EmbedderExt, NO_PROMPT_SCHEME};
pub use foreign::{ForeignPage, ForeignReader, ForeignRecord};
pub use jobs::{ExtractTrigger, Job, JobCounts, JobRetry, JobStore, NewJob};
pub use keyword::{KeywordCapabilities, KeywordIndex, KeywordQuery};
pub use llm::{ChatAnswer, ChatMessage, ChatRequest, LanguageModel, OutputSchema, TokenUsage};
pub use rerank::Reranker;
pub use short_term::{
    RateDecision, RateLimit, SessionKey, ShortTerm, ShortTermCapabilities, ShortTermStats,
};
pub use store::{
    ChangeSet, ForgetReport, ListQuery, MaintenanceStore, MemoryStore, OutboxAck, OutboxEntry,
    ScopeStats, Store, StoreCapabilities, StoreStats, VectorOp, VersionedUpdate,
};
pub use vector::{
    CollectionSpec, JoinedHit, Metric, VectorCapabilities, VectorIndex, VectorPayload, VectorQuery,
    VectorRecord, check_vector,
};

/// What a backend is, for `status`, `doctor` and error messages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct BackendInfo {
    /// The scheme (`sqlite`, `postgres`, `memory`, `local`, …).
    pub scheme: &'static str,
    /// Where it is, with passwords and keys removed.
    pub location: String,
}
