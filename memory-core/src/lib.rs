#![doc = include_str!("../README.md")]

pub mod backend;
mod batched;
mod cached;
mod engine;
mod error;
pub mod extract;
pub mod filter;
mod hash;
mod in_process;
pub mod naming;
pub mod portable;
pub mod retry;
pub mod text;
mod timed;
pub mod traits;
mod types;
mod url;
pub mod vecmath;
mod vector_check;
pub mod worker;

pub use backend::{BackendDescriptor, BackendRole, OpenedStore, Opening};
pub use batched::BatchingEmbedder;
pub use cached::CachedEmbedder;
pub use engine::{
    AddEvent, AddOutcome, AddPipeline, AddRequest, CheckReport, ChunkingConfig, Context,
    DEFAULT_PLATFORM, DecayReport, EMBED_CONTEXT_KEY, EngineConfig, EngineStats, Memory,
    MemoryBuilder, MessageOutcome, NewSession, NewTopic, RateLimits, RecordMessage, ScoreParts,
    SearchHit, SearchMode, SearchRequest, SearchResponse, SessionPatch, SkippedBackend, SyncReport,
    TOPIC_KEY, TopicPatch, UpdateRequest, Validity, Weights, word_spans,
};
pub use error::{Error, ErrorKind, Result};
pub use extract::{ExtractReport, ExtractionConfig, LlmUsage};
pub use filter::{Field, Filter, Op};
pub use hash::{content_hash, normalize_content};
pub use in_process::{InProcessShortTerm, TtlTiers};
pub use portable::{
    ConversationCounts, ConversationItem, ExportReport, ForeignMapping, ForeignReport,
    ImportReport, Importer, MigrateOptions, MigrateReport, Target as ForeignTarget, survey_foreign,
};
pub use timed::TimedEmbedder;
pub use traits::*;
pub use types::*;
pub use url::{BackendUrl, Params, encode_query, is_secret_key, redact_url};
pub use worker::{Clock, TickReport, Worker, WorkerConfig, WorkerHandle};
