//! One TOML file plus environment variables; every backend is a URL.

use std::path::Path;

use memory_core::{BackendUrl, EngineConfig, Error, Result, encode_query};
use serde::{Deserialize, Serialize};

/// A URL or an ordered list of URLs, the first reachable of which is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Urls {
    /// One backend.
    One(String),
    /// Fallbacks, in order of preference.
    Many(Vec<String>),
}

impl Urls {
    /// The URLs in order.
    pub fn list(&self) -> Vec<String> {
        match self {
            Self::One(u) => vec![u.clone()],
            Self::Many(v) => v.clone(),
        }
    }

    /// A comma-separated list (as environment variables give one).
    pub fn parse_list(s: &str) -> Self {
        let mut v: Vec<String> = s
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if v.len() == 1 {
            Self::One(v.remove(0))
        } else {
            Self::Many(v)
        }
    }

    /// The URLs, passwords redacted, joined by commas.
    pub fn redacted(&self) -> String {
        self.list()
            .iter()
            .map(|u| redact(u))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl From<String> for Urls {
    fn from(url: String) -> Self {
        Self::One(url)
    }
}

impl From<&str> for Urls {
    fn from(url: &str) -> Self {
        Self::One(url.to_owned())
    }
}

/// The whole configuration. Unknown keys are errors.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Source of truth: `sqlite://./memory.db`, `sqlite::memory:`,
    /// `postgres://…`; or a list, of which the first reachable at start is used.
    pub store: Urls,
    /// Vector index; defaults to the store's own database when it has one.
    pub vectors: Option<Urls>,
    /// Short-term tier: `memory://` (in-process) or `redis://…`.
    pub short_term: String,
    /// Embedder: `local:multilingual-e5-small?quant=int8` (the default),
    /// `local:all-MiniLM-L6-v2` (English, faster) or
    /// `openai:text-embedding-3-small`.
    pub embedder: String,
    /// Language model for extraction (`openai:gpt-4o-mini`); none by default.
    pub language_model: Option<String>,
    /// Cross-encoder that re-orders each search's best hits
    /// (`local:/path/to/ms-marco-MiniLM-L-6-v2` or a Hugging Face cache
    /// repository id); none by default.
    pub reranker: Option<String>,
    /// Engine tunables.
    pub engine: EngineConfig,
    /// The HTTP server (`memory serve`).
    pub server: ServerConfig,
    /// The background worker (inside `memory serve`, or `memory worker`).
    pub worker: memory_core::WorkerConfig,
}

/// Settings of `memory serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// API keys, each bound to a tenant and optionally to one user.
    pub api_keys: Vec<ApiKey>,
    /// More keys, from a TOML file of `[[api_keys]]` tables (kept apart from
    /// the configuration so secrets can live elsewhere); also `MEMORY_API_KEYS_FILE`.
    pub api_keys_file: Option<std::path::PathBuf>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
}

/// The shape of an API keys file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    api_keys: Vec<ApiKey>,
}

impl ServerConfig {
    /// Every key: those in the configuration, then those in `api_keys_file`.
    /// A key given twice with different bindings is an error.
    pub fn keys(&self) -> Result<Vec<ApiKey>> {
        let mut keys = self.api_keys.clone();
        if let Some(path) = &self.api_keys_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::config(format!("server.api_keys_file {}: {e}", path.display()))
            })?;
            let file: KeysFile = toml::from_str(&text).map_err(|e| {
                Error::config(format!(
                    "server.api_keys_file {}: {}",
                    path.display(),
                    e.message()
                ))
            })?;
            keys.extend(file.api_keys);
        }
        for (i, k) in keys.iter().enumerate() {
            if k.key.trim().is_empty() {
                return Err(Error::config(format!("api key #{}: empty key", i + 1)));
            }
            if keys[..i].iter().any(|o| o.key == k.key && o != k) {
                return Err(Error::config(format!(
                    "api key #{}: the same key is bound twice, to different tenants or users",
                    i + 1
                )));
            }
        }
        Ok(keys)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            api_keys: Vec::new(),
            api_keys_file: None,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// An API key and what it may touch. `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// The secret the client sends (`Authorization: Bearer …` or `x-api-key`).
    pub key: String,
    /// The only tenant it reads and writes.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// If set, the only user it reads and writes.
    #[serde(default)]
    pub user_id: Option<String>,
}

fn default_tenant() -> String {
    memory_core::DEFAULT_TENANT.to_owned()
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("key", &"***")
            .field("tenant", &self.tenant)
            .field("user_id", &self.user_id)
            .finish()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("store", &self.store.redacted())
            .field(
                "vectors",
                &self
                    .vectors
                    .as_ref()
                    .map(|v| v.list().iter().map(|u| redact(u)).collect::<Vec<_>>()),
            )
            .field("short_term", &redact(&self.short_term))
            .field("embedder", &self.embedder)
            .finish_non_exhaustive()
    }
}

use crate::registry::redact;

impl Default for Config {
    fn default() -> Self {
        Self {
            store: "sqlite://./memory.db".into(),
            vectors: None,
            short_term: "memory://".into(),
            embedder: "local:multilingual-e5-small?quant=int8".into(),
            language_model: None,
            reranker: None,
            engine: EngineConfig::default(),
            server: ServerConfig::default(),
            worker: memory_core::WorkerConfig::default(),
        }
    }
}

/// Every environment variable [`Config::load`] reads.
pub const CONFIG_ENV: &[&str] = &[
    "MEMORY_CONFIG",
    "MEMORY_STORE",
    "DATABASE_URL",
    "MEMORY_VECTORS",
    "QDRANT_URL",
    "QDRANT_API_KEY",
    "QDRANT_CONNECTION_TIMEOUT",
    "QDRANT_COLLECTION_NAME",
    "CHROMA_URL",
    "MEMORY_SHORT_TERM",
    "REDIS_URL",
    "MEMORY_EMBEDDER",
    "MEMORY_LANGUAGE_MODEL",
    "MEMORY_API_KEYS_FILE",
];

impl Config {
    /// Parses TOML; unknown keys name themselves.
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::config(format!("configuration: {}", e.message())))
    }

    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("configuration file {}: {e}", path.display())))?;
        Self::from_toml(&text)
            .map_err(|e| Error::config(format!("{}: {}", path.display(), e.message())))
    }

    /// Loads the file named by `path`, else `MEMORY_CONFIG`, else `./memory.toml`
    /// if present, else the defaults; then applies the environment.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let from_env = std::env::var_os("MEMORY_CONFIG").map(std::path::PathBuf::from);
        let mut cfg = match path.map(Path::to_path_buf).or(from_env) {
            Some(p) => Self::from_file(&p)?,
            None if Path::new("memory.toml").is_file() => {
                Self::from_file(Path::new("memory.toml"))?
            }
            None => Self::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
        Ok(cfg)
    }

    /// Applies the variables of [`CONFIG_ENV`]: `MEMORY_STORE`, `DATABASE_URL`,
    /// `MEMORY_VECTORS`, Qdrant's own `QDRANT_URL`, `QDRANT_API_KEY`,
    /// `QDRANT_CONNECTION_TIMEOUT` and `QDRANT_COLLECTION_NAME` (as Qdrant's own clients read them),
    /// `CHROMA_URL`, `MEMORY_SHORT_TERM`, `REDIS_URL`, `MEMORY_EMBEDDER`,
    /// `MEMORY_LANGUAGE_MODEL`, `MEMORY_API_KEYS_FILE`. The `MEMORY_*` names
    /// win over the generic ones.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("MEMORY_STORE").or_else(|| get("DATABASE_URL")) {
            self.store = Urls::parse_list(&v);
        }
        if let Some(v) = get("MEMORY_VECTORS") {
            self.vectors = Some(Urls::Many(Urls::parse_list(&v).list()));
        } else if let Some(v) = qdrant_env(&get) {
            self.vectors = Some(Urls::One(v));
            if let Some(c) = get("QDRANT_COLLECTION_NAME") {
                self.engine.collection = c;
            }
        } else if let Some(v) = get("CHROMA_URL").map(|u| u.replacen("http://", "chroma://", 1)) {
            self.vectors = Some(Urls::One(v));
        }
        if let Some(v) = get("MEMORY_SHORT_TERM").or_else(|| get("REDIS_URL")) {
            self.short_term = v;
        }
        if let Some(v) = get("MEMORY_EMBEDDER") {
            self.embedder = v;
        }
        if let Some(v) = get("MEMORY_LANGUAGE_MODEL") {
            self.language_model = Some(v);
        }
        if let Some(v) = get("MEMORY_RERANKER") {
            self.reranker = Some(v);
        }
        if let Some(v) = get("MEMORY_API_KEYS_FILE") {
            self.server.api_keys_file = Some(v.into());
        }
    }
}

/// The vector URL from Qdrant's own client variables: `QDRANT_URL` (Qdrant's clients take its REST URL, port 6333;
/// memory speaks gRPC, so 6333 becomes 6334), `QDRANT_API_KEY`, and
/// `QDRANT_CONNECTION_TIMEOUT` in seconds.
fn qdrant_env(get: &impl Fn(&str) -> Option<String>) -> Option<String> {
    let raw = get("QDRANT_URL")?;
    let with_scheme = if raw.contains("://") {
        raw.clone()
    } else {
        format!("http://{raw}")
    };
    // A URL that does not parse goes on as given, for the opener to name.
    let Ok(url) = BackendUrl::parse(&with_scheme) else {
        return Some(raw);
    };
    let scheme = if matches!(url.scheme(), "https" | "qdrants") {
        "qdrants"
    } else {
        "qdrant"
    };
    let port = match url.port() {
        Some(6333) | None => 6334,
        Some(p) => p,
    };
    let authority = url.host_with_port(port).unwrap_or_default();
    let mut params = url.query_pairs().to_vec();
    if let Some(key) = get("QDRANT_API_KEY") {
        params.push(("api_key".into(), key));
    }
    if let Some(t) = get("QDRANT_CONNECTION_TIMEOUT") {
        // An unreadable value is passed on for the URL parser to name.
        let ms = match t.trim().parse::<f64>() {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(secs) if secs > 0.0 => ((secs * 1000.0) as u64).to_string(),
            _ => t,
        };
        params.push(("timeout_ms".into(), ms));
    }
    Some(if params.is_empty() {
        format!("{scheme}://{authority}")
    } else {
        format!("{scheme}://{authority}?{}", encode_query(&params))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn api_keys_come_from_the_config_and_a_file() {
        let dir = std::env::temp_dir().join(format!("memory-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let file = dir.join("keys.toml");
        std::fs::write(
            &file,
            "[[api_keys]]\nkey = \"from-file\"\ntenant = \"acme\"\nuser_id = \"bob\"\n",
        )
        .unwrap();
        let mut cfg =
            Config::from_toml("[[server.api_keys]]\nkey = \"inline\"\ntenant = \"acme\"\n")
                .unwrap_or_default();
        cfg.apply_env(|k| (k == "MEMORY_API_KEYS_FILE").then(|| file.display().to_string()));
        let keys = cfg.server.keys().unwrap_or_default();
        assert_eq!(
            keys.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(),
            ["inline", "from-file"]
        );
        assert_eq!(keys[1].user_id.as_deref(), Some("bob"));
        // The error loading `keys` from the file gives.
        let error_with = |keys: &str| {
            std::fs::write(&file, keys).unwrap_or_default();
            cfg.server
                .keys()
                .err()
                .map(|e| e.message().to_owned())
                .unwrap_or_default()
        };
        let e = error_with("[[api_keys]]\nkey = \"inline\"\ntenant = \"other\"\n");
        assert!(e.contains("bound twice"), "{e}");
        let e = error_with("[[api_keys]]\nkey = \"x\"\nscope = \"all\"\n");
        assert!(e.contains("scope"), "unknown key not named: {e}");
        std::fs::remove_dir_all(&dir).unwrap_or_default();
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::from_toml("stroe = \"sqlite::memory:\"").unwrap_err();
        assert!(e.message().contains("stroe"), "{e}");
        let e = Config::from_toml("[engine]\ndedup = 0.9").unwrap_err();
        assert!(e.message().contains("dedup"), "{e}");
    }

    #[test]
    fn env_overrides_and_fallbacks() {
        let mut c = Config::from_toml(
            "store = \"sqlite::memory:\"\nvectors = [\"chroma://h:8000/m\", \"sqlite::memory:\"]",
        )
        .unwrap();
        assert_eq!(c.vectors.as_ref().unwrap().list().len(), 2);
        c.apply_env(|k| (k == "DATABASE_URL").then(|| "postgres://u:secret@h/db".to_owned()));
        assert_eq!(c.store, Urls::from("postgres://u:secret@h/db"));
        assert!(!format!("{c:?}").contains("secret"));
        let c = Config::from_toml("store = [\"postgres://u:pw@h/db\", \"sqlite://./local.db\"]")
            .unwrap();
        assert_eq!(c.store.list().len(), 2);
        let mut c = Config::default();
        c.apply_env(|k| (k == "MEMORY_STORE").then(|| "postgres://h/db, sqlite://./x.db".into()));
        assert_eq!(
            c.store,
            Urls::Many(vec!["postgres://h/db".into(), "sqlite://./x.db".into()])
        );
    }

    /// `scripts/test` clears these before the tests run; the two lists must
    /// not drift apart.
    #[test]
    fn scripts_test_clears_every_config_variable() {
        let script =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/test"))
                .unwrap_or_default();
        let unset: Vec<&str> = script
            .split("\nunset ")
            .nth(1)
            .and_then(|rest| rest.split("\n#").next())
            .unwrap_or_default()
            .split_whitespace()
            .filter(|w| *w != "\\")
            .collect();
        for name in CONFIG_ENV {
            assert!(unset.contains(name), "scripts/test does not unset {name}");
        }
    }

    #[test]
    fn qdrants_own_variables_configure_the_index() {
        let seed_003 = |k: &str| {
            let v = match k {
                "QDRANT_URL" => "http://localhost:6333",
                "QDRANT_API_KEY" => "k3y",
                "QDRANT_CONNECTION_TIMEOUT" => "30",
                "QDRANT_COLLECTION_NAME" => "chat_memory",
                _ => return None,
            };
            Some(v.to_owned())
        };
        let mut c = Config::default();
        c.apply_env(seed_003);
        assert_eq!(
            c.vectors.as_ref().unwrap().list(),
            ["qdrant://localhost:6334?api_key=k3y&timeout_ms=30000"]
        );
        assert_eq!(c.engine.collection, "chat_memory");

        let mut c = Config::default();
        c.apply_env(|k| (k == "QDRANT_URL").then(|| "https://q.example:7334/".to_owned()));
        assert_eq!(c.vectors.unwrap().list(), ["qdrants://q.example:7334"]);
        assert_eq!(c.engine.collection, Config::default().engine.collection);

        // MEMORY_VECTORS wins, and the collection stays.
        let mut c = Config::default();
        c.apply_env(|k| match k {
            "MEMORY_VECTORS" => Some("sqlite::memory:".to_owned()),
            _ => seed_003(k),
        });
        assert_eq!(c.vectors.unwrap().list(), ["sqlite::memory:"]);
        assert_eq!(c.engine.collection, Config::default().engine.collection);
    }
}
