//! The backends compiled into this build, and URLs opened through them.
//!
//! Each backend crate exports one [`BackendDescriptor`]; this file only
//! lists them. Adding a backend is its crate, a cargo feature and one line
//! in [`BACKENDS`].

use std::sync::Arc;

use memory_core::backend::IN_PROCESS;
use memory_core::retry::{RetryPolicy, Retrying};
use memory_core::{
    BackendDescriptor, BackendRole, BackendUrl, Embedder, Error, LanguageModel, OpenedStore,
    Reranker, Result, ShortTerm, VectorIndex,
};

/// One known backend: compiled in, or the feature that would add it.
pub struct Entry {
    /// The cargo feature of the `memory` crate that compiles it in.
    pub feature: &'static str,
    /// Its URL schemes (known even when it is not compiled in).
    pub schemes: &'static [&'static str],
    /// The descriptor, when compiled in.
    pub backend: Option<&'static BackendDescriptor>,
}

macro_rules! entry {
    ($feature:literal, $schemes:expr, $descriptor:path) => {
        Entry {
            feature: $feature,
            schemes: &$schemes,
            #[cfg(feature = $feature)]
            backend: Some(&$descriptor),
            #[cfg(not(feature = $feature))]
            backend: None,
        }
    };
}

/// Every backend this crate knows, compiled in or not.
pub const BACKENDS: &[Entry] = &[
    Entry {
        feature: "(always)",
        schemes: &["memory"],
        backend: Some(&IN_PROCESS),
    },
    entry!("sqlite", ["sqlite", "file"], memory_sqlite::BACKEND),
    entry!(
        "postgres",
        ["postgres", "postgresql"],
        memory_postgres::BACKEND
    ),
    entry!("chroma", ["chroma", "chromas"], memory_chroma::BACKEND),
    entry!("qdrant", ["qdrant", "qdrants"], memory_qdrant::BACKEND),
    entry!("redis", ["redis", "rediss"], memory_redis::BACKEND),
    entry!("embed-local", ["local"], memory_embed_local::BACKEND),
    entry!("embed-openai", ["openai"], memory_embed_openai::BACKEND),
];

/// The descriptors compiled into this build.
pub fn backends() -> impl Iterator<Item = &'static BackendDescriptor> {
    BACKENDS.iter().filter_map(|e| e.backend)
}

/// The schemes compiled into this build for `role`, each backend's
/// canonical one (`postgres`, not also `postgresql`).
pub fn compiled_schemes(role: BackendRole) -> Vec<&'static str> {
    backends()
        .filter(|b| b.serves(role))
        .filter_map(|b| b.schemes.first().copied())
        .collect()
}

fn scheme_of(url: &str) -> String {
    url.split(':').next().unwrap_or("").to_ascii_lowercase()
}

fn descriptor_for(url: &str) -> Option<&'static BackendDescriptor> {
    let scheme = scheme_of(url);
    backends().find(|b| b.schemes.contains(&scheme.as_str()))
}

/// `url` with its password, the secret keys every backend hides and those
/// its own backend marks secret replaced by `***`.
pub fn redact(url: &str) -> String {
    match (BackendUrl::parse(url), descriptor_for(url)) {
        (Ok(u), Some(b)) => u.redacted_with(b.secret_keys),
        _ => memory_core::redact_url(url),
    }
}

/// The descriptor serving `role` for `url`, and the URL parsed; the error
/// names the schemes compiled in, or the feature that adds a missing one.
fn resolve(role: BackendRole, url: &str) -> Result<(&'static BackendDescriptor, BackendUrl)> {
    let name = scheme_of(url);
    let available = compiled_schemes(role).join(", ");
    let role_name = role.as_str();
    let known = BACKENDS.iter().find(|e| e.schemes.contains(&name.as_str()));
    let backend = match known {
        None => {
            return Err(Error::config(format!(
                "{role_name}: unknown scheme in {:?} (compiled in: {available})",
                redact(url)
            )));
        }
        Some(Entry {
            backend: None,
            feature,
            ..
        }) => {
            return Err(Error::config(format!(
                "{role_name}: {name}:// is not compiled into this build (compiled in: {available}); enable the cargo feature `{feature}` of the `memory` crate"
            )));
        }
        Some(Entry {
            backend: Some(b), ..
        }) => *b,
    };
    if !backend.serves(role) {
        return Err(Error::config(format!(
            "{role_name}: {name}:// cannot serve as {role_name} (schemes for it: {available})"
        )));
    }
    let parsed = BackendUrl::parse(url)
        .map_err(|e| Error::config(format!("{role_name}: {}", e.message())))?;
    Ok((backend, parsed))
}

/// Wraps a backend so temporary errors (busy, serialization failure,
/// dropped connection) are retried before they reach the engine.
fn retrying<T: ?Sized>(inner: Arc<T>) -> Arc<Retrying<T>> {
    Arc::new(Retrying::new(inner, RetryPolicy::default()))
}

/// The error for an opener a descriptor lacks although it claims the role.
fn no_opener(role: BackendRole, b: &BackendDescriptor) -> Error {
    Error::config(format!("{}: {} has no opener", role.as_str(), b.name))
}

/// Opens the store at `url` with the keyword and vector indexes of its
/// database, each behind the retry layer.
pub async fn open_store_backends(url: &str) -> Result<OpenedStore> {
    let (b, parsed) = resolve(BackendRole::Store, url)?;
    let open = b.store.ok_or_else(|| no_opener(BackendRole::Store, b))?;
    let opened = open(parsed).await?;
    let store = retrying(opened.store);
    Ok(OpenedStore {
        store: store.clone(),
        keywords: opened.keywords.map(|k| retrying(k) as _),
        vectors: opened.vectors.map(|v| retrying(v) as _),
    })
}

/// Opens only the store at `url` (for operator tools such as `migrate`).
pub async fn open_store_url(url: &str) -> Result<Arc<dyn memory_core::Store>> {
    Ok(open_store_backends(url).await?.store)
}

/// Opens only the vector index at `url`.
pub async fn open_vectors_url(url: &str) -> Result<Arc<dyn VectorIndex>> {
    let (b, parsed) = resolve(BackendRole::Vectors, url)?;
    let open = b
        .vectors
        .ok_or_else(|| no_opener(BackendRole::Vectors, b))?;
    Ok(retrying(open(parsed).await?))
}

/// Opens the short-term tier at `url`.
pub async fn open_short_term(url: &str) -> Result<Arc<dyn ShortTerm>> {
    let (b, parsed) = resolve(BackendRole::ShortTerm, url)?;
    let open = b
        .short_term
        .ok_or_else(|| no_opener(BackendRole::ShortTerm, b))?;
    open(parsed).await
}

/// Opens the embedder named by `spec` (`local:all-MiniLM-L6-v2`).
pub async fn open_embedder(spec: &str) -> Result<Arc<dyn Embedder>> {
    let (b, parsed) = resolve(BackendRole::Embedder, spec)?;
    let open = b
        .embedder
        .ok_or_else(|| no_opener(BackendRole::Embedder, b))?;
    open(parsed).await
}

/// Opens the language model named by `spec` (`openai:gpt-4o-mini`).
pub fn open_language_model(spec: &str) -> Result<Arc<dyn LanguageModel>> {
    let (b, parsed) = resolve(BackendRole::LanguageModel, spec)?;
    let open = b
        .language_model
        .ok_or_else(|| no_opener(BackendRole::LanguageModel, b))?;
    open(parsed)
}

/// Opens the reranker named by `spec` (`local:/path/to/cross-encoder`).
pub async fn open_reranker(spec: &str) -> Result<Arc<dyn Reranker>> {
    let (b, parsed) = resolve(BackendRole::Reranker, spec)?;
    let open = b
        .reranker
        .ok_or_else(|| no_opener(BackendRole::Reranker, b))?;
    open(parsed).await
}

/// Connects to the backend at `url` and names its server's version (and,
/// for PostgreSQL, pgvector's), for `memory doctor`.
pub async fn server_version(url: &str) -> Result<String> {
    let b = descriptor_for(url).ok_or_else(|| {
        Error::config(format!(
            "{}:// is not a backend of this build",
            scheme_of(url)
        ))
    })?;
    let probe = b
        .probe
        .ok_or_else(|| Error::config(format!("{} has no version probe", b.name)))?;
    probe(BackendUrl::parse(url)?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<impl Sized>) -> String {
        r.err().map(|e| e.message().to_owned()).unwrap_or_default()
    }

    #[test]
    fn unknown_and_missing_schemes_say_what_exists() {
        let e = message(resolve(BackendRole::Store, "mysql://x"));
        assert!(e.contains("unknown scheme") && e.contains("sqlite"), "{e}");
        // Workspace builds may unify features; test any backend that is off.
        if let Some(off) = BACKENDS.iter().find(|e| e.backend.is_none()) {
            let e = message(resolve(
                BackendRole::Vectors,
                &format!("{}://h:8000/c", off.schemes[0]),
            ));
            assert!(e.contains(&format!("feature `{}`", off.feature)), "{e}");
        }
        let e = message(resolve(BackendRole::Store, "memory://"));
        assert!(e.contains("cannot serve as store"), "{e}");
        assert!(resolve(BackendRole::Store, "sqlite::memory:").is_ok());
    }

    /// The schemes written beside each feature (known even when the crate is
    /// not compiled in) are the ones the crate itself declares.
    #[test]
    fn listed_schemes_match_the_descriptors() {
        for e in BACKENDS {
            if let Some(b) = e.backend {
                assert_eq!(e.schemes, b.schemes, "{}", b.name);
            }
        }
    }

    #[test]
    fn redaction_uses_each_backends_secret_keys() {
        let shown = redact("postgres://u:SECRET1@h/db?sslpassword=SECRET2&application_name=x");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("application_name=x"), "{shown}");
    }
}
