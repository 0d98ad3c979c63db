//! Backend descriptors: each backend crate exports one constant value saying
//! which URL schemes it answers, which roles it serves and how to open each,
//! which query keys are secrets, and which environment variables it reads.
//! The `memory` facade lists the descriptors compiled in and opens URLs
//! through them (sqlx's `AnyDriver`, OpenDAL's service registration).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;

use crate::{
    BackendUrl, Embedder, InProcessShortTerm, KeywordIndex, LanguageModel, Reranker, Result,
    ShortTerm, Store, VectorIndex,
};

/// A boxed future of a backend opener.
pub type Opening<T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>;

/// A function that opens a backend of type `T` from its URL.
pub type Opener<T> = fn(BackendUrl) -> Opening<T>;

/// A shared language model, as its opener returns it.
pub type LanguageModelRef = Arc<dyn LanguageModel>;

/// What a URL is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackendRole {
    /// The source of truth.
    Store,
    /// The vector index.
    Vectors,
    /// The keyword index (served by a store's own database).
    Keywords,
    /// The short-term tier.
    ShortTerm,
    /// The embedder.
    Embedder,
    /// The language model for extraction and summaries.
    LanguageModel,
    /// The cross-encoder that re-orders search results.
    Reranker,
}

impl BackendRole {
    /// The role's name as configured (`store`, `vectors`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Store => "store",
            Self::Vectors => "vectors",
            Self::Keywords => "keywords",
            Self::ShortTerm => "short_term",
            Self::Embedder => "embedder",
            Self::LanguageModel => "language_model",
            Self::Reranker => "reranker",
        }
    }
}

/// A store and what else its database provides.
#[derive(Clone)]
pub struct OpenedStore {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Its keyword index, if the database has one.
    pub keywords: Option<Arc<dyn KeywordIndex>>,
    /// Its vector index, if the database has one.
    pub vectors: Option<Arc<dyn VectorIndex>>,
}

impl OpenedStore {
    /// A store whose own database also serves keyword search and vectors.
    pub fn with_indexes<S>(store: Arc<S>, vectors: Arc<dyn VectorIndex>) -> Self
    where
        S: Store + KeywordIndex + 'static,
    {
        Self {
            store: store.clone(),
            keywords: Some(store),
            vectors: Some(vectors),
        }
    }
}

/// One backend: its schemes, the roles it serves and how to open each.
#[derive(Debug, Clone, Copy)]
pub struct BackendDescriptor {
    /// The backend's name (`sqlite`, `qdrant`, …).
    pub name: &'static str,
    /// URL schemes it answers; the first is the canonical one.
    pub schemes: &'static [&'static str],
    /// Query keys whose values are secrets, hidden whenever a URL is shown
    /// (on top of the names every backend treats as secret, see
    /// [`crate::is_secret_key`]).
    pub secret_keys: &'static [&'static str],
    /// Environment variables it reads.
    pub env: &'static [&'static str],
    /// Opens a store (with the keyword and vector indexes of its database).
    pub store: Option<Opener<OpenedStore>>,
    /// Opens a vector index on its own.
    pub vectors: Option<Opener<Arc<dyn VectorIndex>>>,
    /// Opens a short-term tier.
    pub short_term: Option<Opener<Arc<dyn ShortTerm>>>,
    /// Opens an embedder.
    pub embedder: Option<Opener<Arc<dyn Embedder>>>,
    /// Opens a language model.
    pub language_model: Option<fn(BackendUrl) -> Result<LanguageModelRef>>,
    /// Opens a reranker.
    pub reranker: Option<Opener<Arc<dyn Reranker>>>,
    /// Connects and names the server's version, for `memory doctor`.
    pub probe: Option<Opener<String>>,
}

impl BackendDescriptor {
    /// A descriptor that serves nothing yet, for `..BackendDescriptor::EMPTY`.
    pub const EMPTY: Self = Self {
        name: "",
        schemes: &[],
        secret_keys: &[],
        env: &[],
        store: None,
        vectors: None,
        short_term: None,
        embedder: None,
        language_model: None,
        reranker: None,
        probe: None,
    };

    /// The roles it serves.
    pub fn roles(&self) -> Vec<BackendRole> {
        [
            (self.store.is_some(), BackendRole::Store),
            (self.store.is_some(), BackendRole::Keywords),
            (self.vectors.is_some(), BackendRole::Vectors),
            (self.short_term.is_some(), BackendRole::ShortTerm),
            (self.embedder.is_some(), BackendRole::Embedder),
            (self.language_model.is_some(), BackendRole::LanguageModel),
            (self.reranker.is_some(), BackendRole::Reranker),
        ]
        .into_iter()
        .filter_map(|(on, role)| on.then_some(role))
        .collect()
    }

    /// Whether it serves `role`.
    pub fn serves(&self, role: BackendRole) -> bool {
        self.roles().contains(&role)
    }
}

fn open_in_process(_: BackendUrl) -> Opening<Arc<dyn ShortTerm>> {
    Box::pin(async { Ok(Arc::new(InProcessShortTerm::default()) as Arc<dyn ShortTerm>) })
}

fn probe_in_process(_: BackendUrl) -> Opening<String> {
    Box::pin(async { Ok("in-process".to_owned()) })
}

/// The in-process short-term tier, `memory://`, always compiled in.
pub const IN_PROCESS: BackendDescriptor = BackendDescriptor {
    name: "memory",
    schemes: &["memory"],
    short_term: Some(open_in_process),
    probe: Some(probe_in_process),
    ..BackendDescriptor::EMPTY
};
