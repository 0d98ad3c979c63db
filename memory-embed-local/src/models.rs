//! The models this crate runs, and the precisions each is prepared in.

use memory_core::{EmbedKind, Error, NO_PROMPT_SCHEME, Result};

/// A model `scripts/prepare-model` (or `memory model install NAME`) prepares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalModel {
    /// The name in `local:NAME` and the folder under `models/`.
    pub name: &'static str,
    /// Output width.
    pub dimension: usize,
    /// Tokens per text the model was trained on, special tokens and prefix included.
    pub max_tokens: usize,
    /// Put before a search query.
    pub query_prefix: &'static str,
    /// Put before a text to be found.
    pub document_prefix: &'static str,
    /// Recorded with the collection: vectors of two schemes never mix.
    pub prompt_scheme: &'static str,
}

impl LocalModel {
    /// The prefix for texts of `kind`.
    pub fn prefix(&self, kind: EmbedKind) -> &'static str {
        match kind {
            EmbedKind::Query => self.query_prefix,
            EmbedKind::Document => self.document_prefix,
        }
    }
}

/// sentence-transformers' all-MiniLM-L6-v2: English, 22M parameters.
pub const MINILM: LocalModel = LocalModel {
    name: "all-MiniLM-L6-v2",
    dimension: 384,
    max_tokens: 256,
    query_prefix: "",
    document_prefix: "",
    prompt_scheme: NO_PROMPT_SCHEME,
};

/// intfloat's multilingual-e5-small: about 100 languages, 118M parameters
/// (most of them the 250k-piece vocabulary), `query: ` / `passage: ` prefixes.
pub const E5_SMALL: LocalModel = LocalModel {
    name: "multilingual-e5-small",
    dimension: 384,
    max_tokens: 512,
    query_prefix: "query: ",
    document_prefix: "passage: ",
    prompt_scheme: "e5",
};

/// The model `local:` embeds with by default: the best measured by `memory
/// eval` on the committed English and multilingual conversations.
pub const DEFAULT_MODEL: LocalModel = E5_SMALL;

/// The default precision: int8 measured as good as fp32 and about twice as fast.
pub const DEFAULT_QUANT: Quant = Quant::Int8;

/// Every model this crate runs.
pub const MODELS: &[LocalModel] = &[MINILM, E5_SMALL];

/// The model named `name`.
pub fn model(name: &str) -> Result<LocalModel> {
    MODELS
        .iter()
        .find(|m| m.name == name)
        .copied()
        .ok_or_else(|| {
            let names: Vec<&str> = MODELS.iter().map(|m| m.name).collect();
            Error::config(format!(
                "embedder: local model {name:?} is not available (available: {})",
                names.join(", ")
            ))
        })
}

/// The precision of the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quant {
    /// The model as trained (`model.onnx`).
    #[default]
    Fp32,
    /// Weights of the dense layers as int8, per output channel, activations
    /// quantised on the fly (`model.int8.onnx`): several times faster on one
    /// core, vectors at cosine ≈ 0.99 to fp32's.
    Int8,
}

impl Quant {
    /// The graph's file name in the model's folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Fp32 => "model.onnx",
            Self::Int8 => "model.int8.onnx",
        }
    }

    /// `fp32` or `int8`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Int8 => "int8",
        }
    }

    /// Parses `fp32` or `int8`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "fp32" => Ok(Self::Fp32),
            "int8" => Ok(Self::Int8),
            other => Err(Error::config(format!(
                "embedder: quant={other:?} is not one of fp32, int8"
            ))),
        }
    }
}
