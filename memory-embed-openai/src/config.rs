//! `openai:` specs, environment, and the settings of one client.

use std::time::Duration;

use memory_core::{BackendUrl, Error, Params, Result};

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
    /// Values of the request's `input_type` for a query and for a document,
    /// for servers that embed the two differently (option
    /// `input_type=query,passage`); not sent when unset, as OpenAI's API
    /// refuses the field.
    pub input_types: Option<(String, String)>,
    /// Put before every query (option `query_prefix`), for models served
    /// without their prompts (e5: `query: `; nomic: `search_query: `).
    pub query_prefix: String,
    /// Put before every document (option `document_prefix`).
    pub document_prefix: String,
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
            input_types: None,
            query_prefix: String::new(),
            document_prefix: String::new(),
            batch: 512,
            timeout: Duration::from_secs(30),
            max_retries: 5,
            backoff: Duration::from_millis(500),
        })
    }

    /// Applies the `?key=value` options of a spec: `dimensions`,
    /// `input_type`, `query_prefix`, `document_prefix`, `batch`, `timeout_ms`,
    /// `max_retries`. Unknown keys are errors.
    pub fn with_options(self, query: &str) -> Result<Self> {
        let parsed = BackendUrl::parse(&format!("openai:?{query}"))?;
        self.with_params(parsed.params("openai"))
    }

    fn with_params(mut self, mut q: Params) -> Result<Self> {
        if let Some(d) = q.parse::<usize>("dimensions", "a whole number")? {
            self.dimensions = Some(d);
        }
        if let Some(v) = q.non_empty("input_type")? {
            let (query, document) = v
                .split_once(',')
                .filter(|(a, b)| !a.trim().is_empty() && !b.trim().is_empty())
                .ok_or_else(|| {
                    q.error(format!(
                        "input_type={v:?} must name the query's and the document's type, as in input_type=query,passage"
                    ))
                })?;
            self.input_types = Some((query.trim().to_owned(), document.trim().to_owned()));
        }
        if let Some(p) = q.str("query_prefix") {
            self.query_prefix = p;
        }
        if let Some(p) = q.str("document_prefix") {
            self.document_prefix = p;
        }
        if let Some(b) = q.parse::<usize>("batch", "a whole number")? {
            self.batch = b.max(1);
        }
        if let Some(t) = q.millis("timeout_ms")? {
            self.timeout = t;
        }
        if let Some(n) = q.u32("max_retries")? {
            self.max_retries = n;
        }
        q.finish()?;
        Ok(self)
    }

    /// How queries and documents are told apart, recorded with the
    /// collection: `none`, or the input types and prefixes in use.
    pub fn prompt_scheme(&self) -> String {
        let mut parts = Vec::new();
        if let Some((q, d)) = &self.input_types {
            parts.push(format!("input_type={q},{d}"));
        }
        if !self.query_prefix.is_empty() || !self.document_prefix.is_empty() {
            parts.push(format!(
                "prefix={:?},{:?}",
                self.query_prefix, self.document_prefix
            ));
        }
        if parts.is_empty() {
            memory_core::NO_PROMPT_SCHEME.to_owned()
        } else {
            parts.join(";")
        }
    }

    /// Parses `openai:MODEL[?options]` with the environment's key and base URL.
    pub fn from_spec(spec: &str) -> Result<Self> {
        let rest = spec.strip_prefix("openai:").ok_or_else(|| {
            Error::config(format!(
                "not an openai spec: {spec:?} (expected openai:MODEL)"
            ))
        })?;
        let parsed = BackendUrl::parse(spec)?;
        let model = rest.split_once('?').map_or(rest, |(m, _)| m);
        Self::from_env(model)?.with_params(parsed.params("openai"))
    }
}
