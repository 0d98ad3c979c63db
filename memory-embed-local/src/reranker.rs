//! A cross-encoder on ONNX Runtime: the query and each text read together
//! as one pair, the model's logit the score.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use memory_core::{Error, ErrorKind, Reranker, Result};
use ort::session::Session;
use ort::value::Tensor;
use tokenizers::{
    EncodeInput, PaddingParams, PaddingStrategy, TruncationParams, TruncationStrategy,
};

use crate::config::{hf_snapshots, ort_library};
use crate::embedder::{ort_err, runtime, session};
use crate::tokenizer::{self, Tokenizer};

/// Where a cross-encoder's files are, and how to run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RerankerConfig {
    /// The ONNX graph (inputs `input_ids`, `attention_mask` and optionally
    /// `token_type_ids`; output `logits`, `[batch, 1]` or `[batch, labels]`).
    pub model_file: PathBuf,
    /// The tokenizer (`tokenizer.json`), which encodes the pair.
    pub tokenizer_file: PathBuf,
    /// The ONNX Runtime shared library.
    pub ort_library: PathBuf,
    /// Tokens per pair; the text is cut to fit, never the query.
    pub max_tokens: usize,
    /// Pairs per inference call.
    pub batch: usize,
    /// Intra-op threads.
    pub threads: usize,
}

/// The graph files looked for in a model directory, in order: Hugging Face
/// cross-encoder repositories keep theirs under `onnx/`.
const GRAPHS: &[&str] = &["model.onnx", "onnx/model.onnx"];

impl RerankerConfig {
    /// Finds a cross-encoder: `spec` is a directory holding `tokenizer.json`
    /// and `model.onnx` (or `onnx/model.onnx`, or the graph `file` names),
    /// or a Hugging Face repository id found in the local Hugging Face cache
    /// (`cross-encoder/ms-marco-MiniLM-L-6-v2`). Nothing is downloaded.
    pub fn find(spec: &str, file: Option<&str>) -> Result<Self> {
        Self::find_with(spec, file, &|k| {
            std::env::var(k).ok().filter(|v| !v.is_empty())
        })
    }

    /// [`Self::find`] with the environment read through `get`.
    pub fn find_with(
        spec: &str,
        file: Option<&str>,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let graphs: Vec<&str> = file.map_or_else(|| GRAPHS.to_vec(), |f| vec![f]);
        let complete = |dir: &Path| -> Option<(PathBuf, PathBuf)> {
            let tokenizer = dir.join("tokenizer.json");
            let graph = graphs.iter().map(|g| dir.join(g)).find(|p| p.is_file())?;
            tokenizer.is_file().then_some((graph, tokenizer))
        };
        let dir = Path::new(spec);
        let found = if dir.is_dir() {
            complete(dir)
        } else {
            hf_snapshots(get, spec).iter().find_map(|d| complete(d))
        };
        let (model_file, tokenizer_file) = found.ok_or_else(|| {
            Error::config(format!(
                "reranker {spec:?}: no directory with tokenizer.json and {} there or in the Hugging Face cache under that repository id",
                graphs.join(" or ")
            ))
        })?;
        let cfg = Self {
            model_file,
            tokenizer_file,
            ort_library: ort_library(get),
            max_tokens: 512,
            batch: 32,
            threads: 1,
        };
        if !cfg.ort_library.is_file() {
            return Err(Error::config(format!(
                "reranker: the ONNX Runtime library is not at {} — run `{}` or set ORT_DYLIB_PATH",
                cfg.ort_library.display(),
                crate::PREPARE_COMMAND
            )));
        }
        Ok(cfg)
    }
}

/// A cross-encoder (ms-marco-MiniLM-L-6-v2 and its kind) on ONNX Runtime.
/// Runs on the blocking pool.
pub struct OnnxReranker {
    inner: Arc<Inner>,
    model_id: String,
}

struct Inner {
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    /// Whether the graph reads `token_type_ids` (BERT does, XLM-R does not).
    token_types: bool,
    batch: usize,
}

impl std::fmt::Debug for OnnxReranker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxReranker")
            .field("model", &self.model_id)
            .finish()
    }
}

impl OnnxReranker {
    /// Loads the cross-encoder in `cfg`; its id is `model_id`.
    pub fn load(cfg: &RerankerConfig, model_id: impl Into<String>) -> Result<Self> {
        let env = runtime(&cfg.ort_library)?;
        let mut tokenizer = tokenizer::load(&cfg.tokenizer_file)
            .map_err(|e| Error::config(format!("reranker: tokenizer.json unreadable: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: cfg.max_tokens,
                strategy: TruncationStrategy::OnlySecond,
                ..TruncationParams::default()
            }))
            .map_err(|e| Error::config(format!("reranker: truncation: {e}")))?;
        let session = session(&env, &cfg.model_file, cfg.threads)?;
        let token_types = session
            .inputs()
            .iter()
            .any(|i| i.name() == "token_type_ids");
        Ok(Self {
            inner: Arc::new(Inner {
                session: Mutex::new(session),
                tokenizer,
                token_types,
                batch: cfg.batch.max(1),
            }),
            model_id: model_id.into(),
        })
    }
}

impl Inner {
    fn run(&self, query: &str, texts: &[String]) -> Result<Vec<f32>> {
        let pairs: Vec<EncodeInput> = texts
            .iter()
            .map(|t| (query.to_owned(), t.clone()).into())
            .collect();
        let enc = self
            .tokenizer
            .encode_batch(pairs, true)
            .map_err(|e| Error::internal(format!("reranker tokenizer: {e}")))?;
        let batch = enc.len();
        let seq = enc.first().map_or(0, |e| e.get_ids().len());
        let (mut ids, mut mask, mut types) = (
            Vec::with_capacity(batch * seq),
            Vec::with_capacity(batch * seq),
            Vec::with_capacity(batch * seq),
        );
        for e in &enc {
            ids.extend(e.get_ids().iter().map(|&x| i64::from(x)));
            mask.extend(e.get_attention_mask().iter().map(|&x| i64::from(x)));
            types.extend(e.get_type_ids().iter().map(|&x| i64::from(x)));
        }
        let shape = [batch, seq];
        let mut inputs = ort::inputs![
            "input_ids" => Tensor::from_array((shape, ids)).map_err(ort_err)?,
            "attention_mask" => Tensor::from_array((shape, mask)).map_err(ort_err)?,
        ];
        if self.token_types {
            inputs.push((
                "token_type_ids".into(),
                Tensor::from_array((shape, types)).map_err(ort_err)?.into(),
            ));
        }
        let mut session = self
            .session
            .lock()
            .map_err(|_| Error::internal("reranker session lock poisoned"))?;
        let outputs = session.run(inputs).map_err(ort_err)?;
        let (out_shape, logits) = outputs
            .get("logits")
            .ok_or_else(|| Error::internal("the reranker's ONNX graph has no output named logits"))?
            .try_extract_tensor::<f32>()
            .map_err(ort_err)?;
        let labels = usize::try_from(out_shape.last().copied().unwrap_or(0)).unwrap_or(0);
        if labels == 0 || logits.len() != batch * labels {
            return Err(Error::internal(format!(
                "reranker output has shape {out_shape:?}, expected [{batch}, labels]"
            )));
        }
        // One label is the relevance logit; with several, the last is
        // "relevant" (the usual order of a two-label classifier head).
        Ok(logits.chunks(labels).map(|row| row[labels - 1]).collect())
    }
}

#[async_trait]
impl Reranker for OnnxReranker {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    async fn score(&self, query: &str, texts: &[String]) -> Result<Vec<f32>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inner = self.inner.clone();
        let query = query.to_owned();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::with_capacity(texts.len());
            for chunk in texts.chunks(inner.batch) {
                out.extend(inner.run(&query, chunk)?);
            }
            Ok(out)
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Internal, format!("rerank task failed: {e}")))?
    }
}
