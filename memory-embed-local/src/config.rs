//! Where the model and ONNX Runtime live, and how to run them.

use std::path::{Path, PathBuf};

use memory_core::{Error, Result};

/// The model this crate serves.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// The command that prepares the model and runtime.
pub const PREPARE_COMMAND: &str = "scripts/prepare-model";

/// The ONNX Runtime shared library file name the preparation step installs.
const ORT_LIBRARY: &str = "libonnxruntime.so";

/// Settings of the local embedder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnnxConfig {
    /// Folder with `model.onnx` and `tokenizer.json`.
    pub model_dir: PathBuf,
    /// The ONNX Runtime shared library.
    pub ort_library: PathBuf,
    /// Intra-op threads of ONNX Runtime (1 is fastest on a busy 2-core machine).
    pub threads: usize,
    /// Texts per inference call.
    pub batch: usize,
    /// Tokens per text; longer texts are truncated.
    pub max_tokens: usize,
}

/// The cache folder: `$MEMORY_HOME`, else `$XDG_CACHE_HOME/memory`, else `~/.cache/memory`.
pub fn cache_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("MEMORY_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("memory")
}

impl OnnxConfig {
    /// The prepared files: `MEMORY_MODEL_DIR` and `ORT_DYLIB_PATH` override the cache folder;
    /// `MEMORY_EMBED_THREADS` sets the thread count.
    pub fn discover() -> Result<Self> {
        let cache = cache_dir();
        let model_dir = std::env::var_os("MEMORY_MODEL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| cache.join("models").join(MODEL_NAME));
        let ort_library = std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| cache.join("onnxruntime").join(ORT_LIBRARY));
        let threads = match std::env::var("MEMORY_EMBED_THREADS") {
            Ok(v) => v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                Error::config(format!(
                    "MEMORY_EMBED_THREADS={v:?} is not a whole number ≥ 1"
                ))
            })?,
            Err(_) => 1,
        };
        let cfg = Self {
            model_dir,
            ort_library,
            threads,
            batch: 32,
            max_tokens: 256,
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
                    "local embedder: {what} not found at {} — run `{PREPARE_COMMAND}` (or `memory model install`) to prepare it offline, or set MEMORY_MODEL_DIR / ORT_DYLIB_PATH",
                    p.display()
                )))
            }
        };
        need(&self.model_dir.join("model.onnx"), "the ONNX model")?;
        need(&self.model_dir.join("tokenizer.json"), "the tokenizer")?;
        need(&self.ort_library, "the ONNX Runtime library")?;
        if self.threads == 0 || self.batch == 0 || self.max_tokens == 0 {
            return Err(Error::config(
                "local embedder: threads, batch and max_tokens must be at least 1",
            ));
        }
        Ok(())
    }
}
