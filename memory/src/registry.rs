//! Opens backends from URLs: the schemes compiled into this build.

use std::sync::Arc;

use memory_core::{
    Embedder, Error, ErrorKind, InProcessShortTerm, KeywordIndex, LanguageModel, Memory, Result,
    ShortTerm, SkippedBackend, Store, VectorIndex,
};

use memory_core::retry::{RetryPolicy, Retrying};

use crate::config::{Config, redact};

/// A backend scheme, the role it serves and the cargo feature that adds it.
struct Scheme {
    name: &'static str,
    roles: &'static [BackendRole],
    feature: &'static str,
    compiled: bool,
}

/// What a URL is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendRole {
    /// The source of truth.
    Store,
    /// The vector index.
    Vectors,
    /// The short-term tier.
    ShortTerm,
    /// The embedder.
    Embedder,
}

impl BackendRole {
    fn as_str(self) -> &'static str {
        match self {
            Self::Store => "store",
            Self::Vectors => "vectors",
            Self::ShortTerm => "short_term",
            Self::Embedder => "embedder",
        }
    }
}

const SCHEMES: &[Scheme] = &[
    Scheme {
        name: "sqlite",
        roles: &[BackendRole::Store, BackendRole::Vectors],
        feature: "sqlite",
        compiled: cfg!(feature = "sqlite"),
    },
    Scheme {
        name: "postgres",
        roles: &[BackendRole::Store, BackendRole::Vectors],
        feature: "postgres",
        compiled: cfg!(feature = "postgres"),
    },
    Scheme {
        name: "chroma",
        roles: &[BackendRole::Vectors],
        feature: "chroma",
        compiled: cfg!(feature = "chroma"),
    },
    Scheme {
        name: "qdrant",
        roles: &[BackendRole::Vectors],
        feature: "qdrant",
        compiled: cfg!(feature = "qdrant"),
    },
    Scheme {
        name: "memory",
        roles: &[BackendRole::ShortTerm],
        feature: "(always)",
        compiled: true,
    },
    Scheme {
        name: "redis",
        roles: &[BackendRole::ShortTerm],
        feature: "redis",
        compiled: cfg!(feature = "redis"),
    },
    Scheme {
        name: "local",
        roles: &[BackendRole::Embedder],
        feature: "embed-local",
        compiled: cfg!(feature = "embed-local"),
    },
    Scheme {
        name: "openai",
        roles: &[BackendRole::Embedder],
        feature: "embed-openai",
        compiled: cfg!(feature = "embed-openai"),
    },
];

/// The schemes compiled into this build for `role`.
pub fn compiled_schemes(role: BackendRole) -> Vec<&'static str> {
    SCHEMES
        .iter()
        .filter(|s| s.compiled && s.roles.contains(&role))
        .map(|s| s.name)
        .collect()
}

fn scheme_of(url: &str) -> &str {
    match url.split(':').next().unwrap_or("") {
        "postgresql" => "postgres",
        "rediss" => "redis",
        "chromas" => "chroma",
        "qdrants" => "qdrant",
        s => s,
    }
}

/// Checks that `url`'s scheme is compiled in and serves `role`.
fn resolve(role: BackendRole, url: &str) -> Result<&'static str> {
    let name = scheme_of(url);
    let available = compiled_schemes(role).join(", ");
    match SCHEMES.iter().find(|s| s.name == name) {
        Some(s) if !s.roles.contains(&role) => Err(Error::config(format!(
            "{}: {name}:// cannot serve as {} (schemes for it: {available})",
            role.as_str(),
            role.as_str()
        ))),
        Some(s) if !s.compiled => Err(Error::config(format!(
            "{}: {name}:// is not compiled into this build (compiled in: {available}); enable the cargo feature `{}` of the `memory` crate",
            role.as_str(),
            s.feature
        ))),
        Some(s) => Ok(s.name),
        None => Err(Error::config(format!(
            "{}: unknown scheme in {:?} (compiled in: {available})",
            role.as_str(),
            redact(url)
        ))),
    }
}

/// Wraps a backend so temporary errors (busy, serialization failure,
/// dropped connection) are retried before they reach the engine.
fn retrying<T: ?Sized>(inner: Arc<T>) -> Arc<Retrying<T>> {
    Arc::new(Retrying::new(inner, RetryPolicy::default()))
}

/// A store and what else its database provides.
struct OpenedStore {
    store: Arc<dyn Store>,
    keywords: Option<Arc<dyn KeywordIndex>>,
    vectors: Option<Arc<dyn VectorIndex>>,
    url: String,
}

async fn open_store(url: &str) -> Result<OpenedStore> {
    match resolve(BackendRole::Store, url)? {
        #[cfg(feature = "sqlite")]
        "sqlite" => {
            let db = memory_sqlite::SqliteDb::connect(url).await?;
            let store = retrying(db.store());
            Ok(OpenedStore {
                store: store.clone(),
                keywords: Some(store),
                vectors: Some(retrying(db.vector_index())),
                url: url.to_owned(),
            })
        }
        #[cfg(feature = "postgres")]
        "postgres" => {
            let db = memory_postgres::PgDb::connect(url).await?;
            let store = retrying(db.store());
            Ok(OpenedStore {
                store: store.clone(),
                keywords: Some(store),
                vectors: Some(retrying(db.vector_index())),
                url: url.to_owned(),
            })
        }
        other => Err(Error::config(format!(
            "store: {other}:// has no opener in this build"
        ))),
    }
}

async fn open_vectors(url: &str, store: &OpenedStore) -> Result<Arc<dyn VectorIndex>> {
    if url == store.url
        && let Some(v) = &store.vectors
    {
        return Ok(v.clone());
    }
    open_vectors_url(url).await
}

/// Opens only the vector index at `url` (for `memory doctor`).
pub async fn open_vectors_url(url: &str) -> Result<Arc<dyn VectorIndex>> {
    match resolve(BackendRole::Vectors, url)? {
        #[cfg(feature = "qdrant")]
        "qdrant" => Ok(retrying(Arc::new(
            memory_qdrant::QdrantIndex::connect(url).await?,
        ))),
        #[cfg(feature = "chroma")]
        "chroma" => Ok(retrying(Arc::new(
            memory_chroma::ChromaIndex::connect(url).await?,
        ))),
        #[cfg(feature = "sqlite")]
        "sqlite" => Ok(retrying(
            memory_sqlite::SqliteDb::connect(url).await?.vector_index(),
        )),
        #[cfg(feature = "postgres")]
        "postgres" => Ok(retrying(
            memory_postgres::PgDb::connect(url).await?.vector_index(),
        )),
        other => Err(Error::config(format!(
            "vectors: {other}:// has no opener in this build"
        ))),
    }
}

/// Opens only the store at `url` (for operator tools such as `migrate`).
pub async fn open_store_url(url: &str) -> Result<Arc<dyn Store>> {
    Ok(open_store(url).await?.store)
}

/// Connects to the backend at `url` and names its server's version (and,
/// for PostgreSQL, pgvector's), for `memory doctor`.
pub async fn server_version(url: &str) -> Result<String> {
    match scheme_of(url) {
        #[cfg(feature = "sqlite")]
        "sqlite" => {
            memory_sqlite::SqliteDb::connect(url)
                .await?
                .server_version()
                .await
        }
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            memory_postgres::PgDb::connect(url)
                .await?
                .server_version()
                .await
        }
        #[cfg(feature = "redis")]
        "redis" | "rediss" => {
            memory_redis::RedisShortTerm::from_url(url)?
                .server_version()
                .await
        }
        #[cfg(feature = "chroma")]
        "chroma" | "chromas" => {
            memory_chroma::ChromaIndex::connect(url)
                .await?
                .server_version()
                .await
        }
        #[cfg(feature = "qdrant")]
        "qdrant" | "qdrants" => {
            memory_qdrant::QdrantIndex::connect(url)
                .await?
                .server_version()
                .await
        }
        "memory" => Ok("in-process".into()),
        other => Err(Error::config(format!(
            "{other}:// has no version probe in this build"
        ))),
    }
}

/// Opens the short-term tier at `url`.
pub async fn open_short_term(url: &str) -> Result<Arc<dyn ShortTerm>> {
    match resolve(BackendRole::ShortTerm, url)? {
        "memory" => Ok(Arc::new(InProcessShortTerm::default())),
        #[cfg(feature = "redis")]
        "redis" => Ok(Arc::new(memory_redis::RedisShortTerm::from_url(url)?)),
        other => Err(Error::config(format!(
            "short_term: {other}:// has no opener in this build"
        ))),
    }
}

/// Opens the embedder named by `spec` (`local:all-MiniLM-L6-v2`).
pub async fn open_embedder(spec: &str) -> Result<Arc<dyn Embedder>> {
    match resolve(BackendRole::Embedder, spec)? {
        #[cfg(feature = "embed-local")]
        "local" => {
            let model = spec.strip_prefix("local:").unwrap_or("");
            if model != memory_embed_local::MODEL_NAME {
                return Err(Error::config(format!(
                    "embedder: local model {model:?} is not available (available: {})",
                    memory_embed_local::MODEL_NAME
                )));
            }
            let e = tokio::task::spawn_blocking(memory_embed_local::OnnxEmbedder::load_default)
                .await
                .map_err(|e| Error::internal(format!("loading the embedder failed: {e}")))??;
            Ok(Arc::new(e))
        }
        #[cfg(feature = "embed-openai")]
        "openai" => {
            let cfg = memory_embed_openai::OpenAiConfig::from_spec(spec)?;
            Ok(Arc::new(
                memory_embed_openai::OpenAiEmbedder::connect(cfg).await?,
            ))
        }
        other => Err(Error::config(format!(
            "embedder: {other}: has no opener in this build"
        ))),
    }
}

/// Opens the language model named by `spec` (`openai:gpt-4o-mini`).
pub fn open_language_model(spec: &str) -> Result<Arc<dyn LanguageModel>> {
    match resolve(BackendRole::Embedder, spec)? {
        #[cfg(feature = "embed-openai")]
        "openai" => {
            let cfg = memory_embed_openai::OpenAiConfig::from_spec(spec)?;
            Ok(Arc::new(memory_embed_openai::OpenAiChat::new(cfg)?))
        }
        other => Err(Error::config(format!(
            "language_model: {other}: is not a language model scheme (compiled in: openai with feature `embed-openai`)"
        ))),
    }
}

/// Opens every backend of `config` and builds the engine. A vector list is
/// tried in order; the first reachable backend is used (`Memory::status` says which).
pub async fn open(config: &Config) -> Result<Memory> {
    open_with(config, None).await
}

/// Like [`open`], with an embedder given by the caller (tests, custom models).
pub async fn open_with(config: &Config, embedder: Option<Arc<dyn Embedder>>) -> Result<Memory> {
    open_inner(config, embedder, false).await
}

/// Like [`open`], accepting a vector collection of another dimension so that
/// `Memory::reindex` can rebuild it for a new embedder.
pub async fn open_for_reindex(config: &Config) -> Result<Memory> {
    open_inner(config, None, true).await
}

async fn open_inner(
    config: &Config,
    embedder: Option<Arc<dyn Embedder>>,
    reindex: bool,
) -> Result<Memory> {
    config.engine.validate()?;
    let store = open_store(&config.store).await?;
    let mut skipped = Vec::new();
    let vectors = match &config.vectors {
        None => store.vectors.clone().ok_or_else(|| {
            Error::config(format!(
                "vectors: the store {} holds no vectors; configure `vectors`",
                scheme_of(&config.store)
            ))
        })?,
        Some(list) => {
            let mut last = None;
            let mut chosen = None;
            for url in list.list() {
                match open_vectors(&url, &store).await {
                    Ok(v) => {
                        chosen = Some(v);
                        break;
                    }
                    Err(e) if e.kind() == ErrorKind::Unavailable => {
                        tracing::warn!(url = %redact(&url), error = %e, "vector backend unreachable; trying the next");
                        skipped.push(SkippedBackend {
                            url: redact(&url),
                            error: e.to_string(),
                        });
                        last = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
            chosen.ok_or_else(|| {
                last.unwrap_or_else(|| Error::config("vectors: the list is empty"))
            })?
        }
    };
    let embedder = match embedder {
        Some(e) => e,
        None => open_embedder(&config.embedder).await?,
    };
    let short_term = open_short_term(&config.short_term).await?;
    let mut builder = Memory::builder()
        .store(store.store.clone())
        .vectors(vectors)
        .short_term(short_term)
        .embedder(embedder)
        .config(config.engine.clone())
        .allow_dimension_change(reindex)
        .skipped_vectors(skipped);
    if let Some(k) = store.keywords {
        builder = builder.keywords(k);
    }
    if let Some(spec) = &config.language_model {
        builder = builder.language_model(open_language_model(spec)?);
    }
    builder.build().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_missing_schemes_say_what_exists() {
        let e = resolve(BackendRole::Store, "mysql://x")
            .err()
            .map(|e| e.message().to_owned())
            .unwrap_or_default();
        assert!(e.contains("unknown scheme") && e.contains("sqlite"), "{e}");
        // Workspace builds may unify features; test any scheme that is off.
        if let Some(off) = SCHEMES.iter().find(|s| !s.compiled) {
            let e = resolve(off.roles[0], &format!("{}://h:8000/c", off.name))
                .err()
                .map(|e| e.message().to_owned())
                .unwrap_or_default();
            assert!(e.contains(&format!("feature `{}`", off.feature)), "{e}");
        }
        let e = resolve(BackendRole::Store, "redis://h")
            .err()
            .map(|e| e.message().to_owned())
            .unwrap_or_default();
        assert!(e.contains("cannot serve as store"), "{e}");
        assert_eq!(
            resolve(BackendRole::Store, "sqlite::memory:").ok(),
            Some("sqlite")
        );
    }
}
