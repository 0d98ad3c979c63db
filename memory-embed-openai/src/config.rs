//! `openai:` specs, environment, and the settings of one client.

use std::time::Duration;

use memory_core::{Error, Result};

/// The official API.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// Settings of the OpenAI client. `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenAiConfig {
    /// API key; optional for compatible servers that need none.
    pub api_key: Option<String>,
    /// Base URL, ending in `/v1` (Ollama: `http://localhost:11434/v1`).
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// Requested output dimension (`dimensions` parameter), if any.
    pub dimensions: Option<usize>,
    /// Texts per embeddings request.
    pub batch: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries after a 429, a 5xx or a timeout.
    pub max_retries: u32,
    /// First backoff; doubled each retry, with jitter, capped at 20 s.
    pub backoff: Duration,
}

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

impl OpenAiConfig {
    /// A config for `model` with the key and base URL from
    /// `OPENAI_API_KEY` and `OPENAI_BASE_URL`.
    pub fn from_env(model: &str) -> Result<Self> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self::new(model, get("OPENAI_API_KEY"), get("OPENAI_BASE_URL"))
    }

    /// A config for `model`; the key is required for the official API.
    pub fn new(model: &str, api_key: Option<String>, base_url: Option<String>) -> Result<Self> {
        if model.trim().is_empty() {
            return Err(Error::config(
                "openai: no model named (e.g. openai:text-embedding-3-small)",
            ));
        }
        let base_url = base_url
            .unwrap_or_else(|| OPENAI_BASE_URL.to_owned())
            .trim_end_matches('/')
            .to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(Error::config(format!(
                "openai: base URL {base_url:?} must start with http:// or https://"
            )));
        }
        if api_key.is_none() && base_url == OPENAI_BASE_URL {
            return Err(Error::config(
                "openai: OPENAI_API_KEY is not set (a key is needed for api.openai.com; set OPENAI_BASE_URL for a server that needs none)",
            ));
        }
        Ok(Self {
            api_key,
            base_url,
            model: model.to_owned(),
            dimensions: None,
            batch: 512,
            timeout: Duration::from_secs(30),
            max_retries: 5,
            backoff: Duration::from_millis(500),
        })
    }

    /// Applies `?key=value` options of a spec: `dimensions`, `batch`,
    /// `timeout_ms`, `max_retries`. Unknown keys are errors.
    pub fn with_options(mut self, query: &str) -> Result<Self> {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let num = || {
                v.parse::<u64>()
                    .map_err(|_| Error::config(format!("openai: {k}={v:?} is not a whole number")))
            };
            match k {
                "dimensions" => {
                    self.dimensions = Some(usize::try_from(num()?).unwrap_or(usize::MAX))
                }
                "batch" => self.batch = usize::try_from(num()?.max(1)).unwrap_or(1),
                "timeout_ms" => self.timeout = Duration::from_millis(num()?),
                "max_retries" => self.max_retries = u32::try_from(num()?).unwrap_or(u32::MAX),
                other => {
                    return Err(Error::config(format!(
                        "openai: unknown option {other:?} (expected dimensions, batch, timeout_ms, max_retries)"
                    )));
                }
            }
        }
        Ok(self)
    }

    /// Parses `openai:MODEL[?options]` with the environment's key and base URL.
    pub fn from_spec(spec: &str) -> Result<Self> {
        let rest = spec.strip_prefix("openai:").ok_or_else(|| {
            Error::config(format!(
                "not an openai spec: {spec:?} (expected openai:MODEL)"
            ))
        })?;
        let (model, query) = rest.split_once('?').unwrap_or((rest, ""));
        Self::from_env(model)?.with_options(query)
    }
}
