//! Where the model and ONNX Runtime live, and how to run them.

use std::path::{Path, PathBuf};

use memory_core::{Error, Result};

use crate::models::{DEFAULT_MODEL, DEFAULT_QUANT, LocalModel, MINILM, Quant};

/// The default model's name.
pub const MODEL_NAME: &str = DEFAULT_MODEL.name;

/// The command that prepares the model and runtime.
pub const PREPARE_COMMAND: &str = "scripts/prepare-model";

/// The ONNX Runtime shared library file name the preparation step installs.
const ORT_LIBRARY: &str = "libonnxruntime.so";

/// Settings of the local embedder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnnxConfig {
    /// The model the files hold.
    pub model: LocalModel,
    /// The precision of the graph.
    pub quant: Quant,
    /// The ONNX graph (inputs `input_ids`, `attention_mask`, `token_type_ids`;
    /// output `last_hidden_state`).
    pub model_file: PathBuf,
    /// The tokenizer (`tokenizer.json`).
    pub tokenizer_file: PathBuf,
    /// The ONNX Runtime shared library.
    pub ort_library: PathBuf,
    /// Intra-op threads of ONNX Runtime (1 is fastest on a busy 2-core machine).
    pub threads: usize,
    /// Sessions that run at once (each holds its own copy of the weights,
    /// about 90 MB): concurrent requests embed in parallel up to this many.
    pub sessions: usize,
    /// Intra-op threads of one more session, used by a call of one batch
    /// that arrives while no other session is in use (0, the default: no
    /// such session). It holds its own copy of the weights too.
    pub alone_threads: usize,
    /// Texts per inference call.
    pub batch: usize,
    /// Tokens per text, prefix and special tokens included; longer texts
    /// are truncated.
    pub max_tokens: usize,
}

/// Hugging Face repositories holding the same model as ONNX, and the graph's path in each.
const HF_REPOS: &[(&str, &str)] = &[
    ("sentence-transformers/all-MiniLM-L6-v2", "onnx/model.onnx"),
    ("Qdrant/all-MiniLM-L6-v2-onnx", "model.onnx"),
];

/// The cache folder: `$MEMORY_HOME`, else `$XDG_CACHE_HOME/memory`, else `~/.cache/memory`.
pub fn cache_dir() -> PathBuf {
    cache_dir_with(&env)
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn cache_dir_with(get: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(h) = get("MEMORY_HOME") {
        return PathBuf::from(h);
    }
    let base = get("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| get("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("memory")
}

/// The snapshots of Hugging Face repository `repo` in the local cache
/// (`$HF_HUB_CACHE`, `$HF_HOME/hub` or `~/.cache/huggingface/hub`), newest
/// first.
pub(crate) fn hf_snapshots(get: &dyn Fn(&str) -> Option<String>, repo: &str) -> Vec<PathBuf> {
    let Some(hub) = get("HF_HUB_CACHE")
        .map(PathBuf::from)
        .or_else(|| get("HF_HOME").map(|h| PathBuf::from(h).join("hub")))
        .or_else(|| {
            get("HOME").map(|h| {
                PathBuf::from(h)
                    .join(".cache")
                    .join("huggingface")
                    .join("hub")
            })
        })
    else {
        return Vec::new();
    };
    let snapshots = hub
        .join(format!("models--{}", repo.replace('/', "--")))
        .join("snapshots");
    let Ok(entries) = std::fs::read_dir(&snapshots) else {
        return Vec::new();
    };
    let mut dirs: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .map(|e| {
            (
                e.metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH),
                e.path(),
            )
        })
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    dirs.into_iter().map(|(_, d)| d).collect()
}

/// The model's files in a Hugging Face cache, newest snapshot first.
fn from_hf_cache(get: &dyn Fn(&str) -> Option<String>) -> Option<(PathBuf, PathBuf)> {
    HF_REPOS.iter().find_map(|(repo, graph)| {
        hf_snapshots(get, repo).into_iter().find_map(|dir| {
            let (model, tokenizer) = (dir.join(graph), dir.join("tokenizer.json"));
            (model.is_file() && tokenizer.is_file()).then_some((model, tokenizer))
        })
    })
}

/// The ONNX Runtime library: `ORT_DYLIB_PATH`, else the prepared cache's.
pub(crate) fn ort_library(get: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    get("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir_with(get).join("onnxruntime").join(ORT_LIBRARY))
}

/// Downloads the model's files into the Hugging Face cache (feature `hf-hub`).
#[cfg(feature = "hf-hub")]
fn from_hf_download() -> Result<(PathBuf, PathBuf)> {
    let (repo, graph) = HF_REPOS[0];
    let api = hf_hub::api::sync::Api::new()
        .map_err(|e| Error::config(format!("local embedder: Hugging Face client: {e}")))?;
    let model = api.model(repo.to_owned());
    let fetch = |f: &str| {
        model.get(f).map_err(|e| {
            Error::new(
                memory_core::ErrorKind::Unavailable,
                format!("local embedder: downloading {repo}/{f}: {e}"),
            )
        })
    };
    Ok((fetch(graph)?, fetch("tokenizer.json")?))
}

impl OnnxConfig {
    /// Finds the default model (multilingual-e5-small, int8) and the
    /// runtime; see [`Self::discover_model`].
    pub fn discover() -> Result<Self> {
        Self::discover_with(&env)
    }

    /// [`Self::discover`] with the environment read through `get`.
    pub fn discover_with(get: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        Self::discover_model_with(DEFAULT_MODEL, DEFAULT_QUANT, get)
    }

    /// Finds `model` in precision `quant` and the runtime from the
    /// environment, in order: `MEMORY_MODEL_DIR`; the prepared cache
    /// (`scripts/prepare-model NAME`); for all-MiniLM-L6-v2 in fp32, a Hugging
    /// Face cache and, with feature `hf-hub`, a download. The runtime library
    /// is `ORT_DYLIB_PATH` or the prepared cache's. `MEMORY_EMBED_THREADS`,
    /// `MEMORY_EMBED_SESSIONS` and `MEMORY_EMBED_ALONE_THREADS` set the
    /// threads per session, the sessions, and the lone-call session's threads.
    pub fn discover_model(model: LocalModel, quant: Quant) -> Result<Self> {
        Self::discover_model_with(model, quant, &env)
    }

    /// [`Self::discover_model`] with the environment read through `get`.
    pub fn discover_model_with(
        model: LocalModel,
        quant: Quant,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let cache = cache_dir_with(get);
        let prepared = cache.join("models").join(model.name);
        let graph = quant.file_name();
        let from_dir = |d: PathBuf| (d.join(graph), d.join("tokenizer.json"));
        let hub_has_it = model == MINILM && quant == Quant::Fp32;
        let (model_file, tokenizer_file) = match get("MEMORY_MODEL_DIR") {
            Some(d) => from_dir(PathBuf::from(d)),
            None if prepared.join(graph).is_file() || !hub_has_it => from_dir(prepared),
            None => match from_hf_cache(get) {
                Some(found) => found,
                #[cfg(feature = "hf-hub")]
                None => from_hf_download()?,
                #[cfg(not(feature = "hf-hub"))]
                None => from_dir(prepared),
            },
        };
        let ort_library = ort_library(get);
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let threads = match get("MEMORY_EMBED_THREADS") {
            Some(v) => v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                Error::config(format!(
                    "MEMORY_EMBED_THREADS={v:?} is not a whole number ≥ 1"
                ))
            })?,
            None => 1,
        };
        let sessions = match get("MEMORY_EMBED_SESSIONS") {
            Some(v) => v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                Error::config(format!(
                    "MEMORY_EMBED_SESSIONS={v:?} is not a whole number ≥ 1"
                ))
            })?,
            // One per core left after each session's intra-op threads.
            None => cores.div_ceil(threads).clamp(1, 4),
        };
        let alone_threads = match get("MEMORY_EMBED_ALONE_THREADS") {
            Some(v) => v.parse::<usize>().map_err(|_| {
                Error::config(format!(
                    "MEMORY_EMBED_ALONE_THREADS={v:?} is not a whole number (0 for none)"
                ))
            })?,
            // Off by default: a lone query embeds about 40 % faster on it,
            // but a second one arriving meanwhile shares a core with it,
            // which costs more under light load than it saves.
            None => 0,
        };
        let cfg = Self {
            model,
            quant,
            model_file,
            tokenizer_file,
            ort_library,
            threads,
            sessions,
            alone_threads,
            batch: 32,
            max_tokens: model.max_tokens,
        };
        cfg.check()?;
        Ok(cfg)
    }

    /// Checks that every file is there; the error says which command prepares them.
    pub fn check(&self) -> Result<()> {
        let need = |p: &Path, what: &str| {
            if p.is_file() {
                Ok(())
            } else {
                Err(Error::config(format!(
                    "local embedder: {what} not found at {} — run `{PREPARE_COMMAND} {name}` (or `memory model install {name}`) to prepare it offline, or set MEMORY_MODEL_DIR / ORT_DYLIB_PATH",
                    p.display(),
                    name = self.model.name
                )))
            }
        };
        need(&self.model_file, "the ONNX model")?;
        need(&self.tokenizer_file, "the tokenizer")?;
        need(&self.ort_library, "the ONNX Runtime library")?;
        if self.threads == 0 || self.sessions == 0 || self.batch == 0 || self.max_tokens == 0 {
            return Err(Error::config(
                "local embedder: threads, sessions, batch and max_tokens must be at least 1",
            ));
        }
        Ok(())
    }
}
