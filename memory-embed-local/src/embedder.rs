//! The ONNX Runtime session, tokenisation, mean pooling and normalisation.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use memory_core::{EmbedKind, Embedder, Error, ErrorKind, Result, vecmath};
use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;

use crate::config::OnnxConfig;
use crate::models::{LocalModel, Quant};
use crate::pool::Pool;
use crate::tokenizer::{self, Tokenizer};

/// Output width of the default model.
pub const DIMENSION: usize = crate::models::DEFAULT_MODEL.dimension;

static RUNTIME: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();

/// Loads the ONNX Runtime library and builds its environment, once per
/// process (ONNX Runtime allows one environment).
pub(crate) fn runtime(ort_library: &std::path::Path) -> Result<Environment> {
    RUNTIME
        .get_or_init(|| {
            ort::init_from(ort_library)
                .map_err(|e| format!("cannot load {}: {e}", ort_library.display()))?
                .with_name("memory")
                .build()
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| Error::config(format!("local embedder: {e}")))
}

pub(crate) fn ort_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("ONNX Runtime: {e}")).with_backend("local")
}

/// A BERT-family model on ONNX Runtime (all-MiniLM-L6-v2 or
/// multilingual-e5-small): mean pooling, unit length, the model's query or
/// document prefix put before each text.
///
/// Runs on the blocking pool. Texts longer than the model's window are
/// truncated: the model was trained on that window.
pub struct OnnxEmbedder {
    inner: Arc<Inner>,
    model_id: String,
    batch: usize,
}

/// Most bytes of text (the longest times the count) one model batch takes.
/// Activations grow with the batch's tokens and attention with their
/// square: 32 texts of 500 tokens would reserve about 1 GB in the session's
/// arena for good, where a few at a time run as fast per token.
const BATCH_BYTES: usize = 8 * 1024;

/// Texts one call takes: enough batches for every session.
const TEXTS_PER_CALL: usize = 1024;

struct Inner {
    sessions: Pool,
    /// Without truncation or padding: counting needs every token, and
    /// `run` truncates and pads itself.
    tokenizer: Tokenizer,
    /// The model's window, special tokens included.
    window: usize,
    /// The id padding positions carry (masked out, so any valid id works).
    pad_id: u32,
    model: LocalModel,
    /// The window left for a text once the longer prefix is in.
    max_tokens: usize,
}

impl std::fmt::Debug for OnnxEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxEmbedder")
            .field("model", &self.model_id)
            .finish()
    }
}

impl OnnxEmbedder {
    /// Loads the prepared model found by [`OnnxConfig::discover`].
    pub fn load_default() -> Result<Self> {
        Self::load(&OnnxConfig::discover()?)
    }

    /// Loads the model and tokenizer in `cfg`.
    pub fn load(cfg: &OnnxConfig) -> Result<Self> {
        cfg.check()?;
        let env = runtime(&cfg.ort_library)?;
        let mut tokenizer = tokenizer::load(&cfg.tokenizer_file).map_err(|e| {
            Error::config(format!("local embedder: tokenizer.json unreadable: {e}"))
        })?;
        let pad_id = tokenizer.get_padding().map_or(0, |p| p.pad_id);
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::config(format!("local embedder: truncation: {e}")))?;
        let prefix_tokens = [EmbedKind::Query, EmbedKind::Document]
            .iter()
            .map(|&k| {
                tokenizer
                    .encode(cfg.model.prefix(k), false)
                    .map(|e| e.get_ids().len())
                    .map_err(|e| Error::config(format!("local embedder: tokenizer: {e}")))
            })
            .try_fold(0, |most, n| n.map(|n| most.max(n)))?;
        let mut sessions = Vec::with_capacity(cfg.sessions);
        for _ in 0..cfg.sessions {
            sessions.push(session(&env, &cfg.model_file, cfg.threads)?);
        }
        let wide = match cfg.alone_threads {
            0 => None,
            n => Some(session(&env, &cfg.model_file, n)?),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                sessions: Pool::new(sessions, wide),
                tokenizer,
                window: cfg.max_tokens.max(2),
                pad_id,
                model: cfg.model,
                max_tokens: cfg.max_tokens.saturating_sub(prefix_tokens).max(1),
            }),
            model_id: match cfg.quant {
                Quant::Fp32 => format!("local:{}", cfg.model.name),
                q => format!("local:{}?quant={}", cfg.model.name, q.as_str()),
            },
            batch: cfg.batch,
        })
    }
}

/// An optimised session on `model_file` with `threads` intra-op threads.
pub(crate) fn session(
    env: &Environment,
    model_file: &std::path::Path,
    threads: usize,
) -> Result<Session> {
    Session::builder(env)
        .map_err(ort_err)?
        // Every batch has its own shape (texts are padded to the batch's
        // longest): a memory pattern is planned and kept per shape, which
        // costs memory for good and time on each new shape.
        .with_memory_pattern(false)
        .map_err(ort_err)?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(ort_err)?
        // ONNX Runtime's fused SkipLayerNormalization kernel is slower on
        // CPU than the Add and LayerNormalization it replaces: without the
        // fusion the int8 encoders run 15-45 % faster (fp32 as fast), with
        // the same vectors.
        .with_config_entry(
            "optimization.disable_specified_optimizers",
            "SkipLayerNormFusion",
        )
        .map_err(ort_err)?
        .with_intra_threads(threads)
        .map_err(ort_err)?
        .with_inter_threads(1)
        .map_err(ort_err)?
        .commit_from_file(model_file)
        .map_err(ort_err)
}

impl Inner {
    /// Embeds one batch; `alone` when it is its call's only one.
    fn run(&self, texts: &[String], kind: EmbedKind, alone: bool) -> Result<Vec<Vec<f32>>> {
        let prefix = self.model.prefix(kind);
        let inputs: Vec<String> = if prefix.is_empty() {
            texts.to_vec()
        } else {
            texts.iter().map(|t| format!("{prefix}{t}")).collect()
        };
        let enc = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| Error::internal(format!("tokenizer: {e}")))?;
        let batch = enc.len();
        // Padded to the batch's longest text, not the tokenizer's fixed 128:
        // several times faster on short texts.
        let seq = enc
            .iter()
            .map(|e| e.get_ids().len().min(self.window))
            .max()
            .unwrap_or(0);
        let mut ids = Vec::with_capacity(batch * seq);
        let mut mask = Vec::with_capacity(batch * seq);
        for e in &enc {
            let kept = truncated(e.get_ids(), self.window);
            ids.extend(kept.map(i64::from));
            let n = e.get_ids().len().min(self.window);
            ids.extend(std::iter::repeat_n(i64::from(self.pad_id), seq - n));
            mask.extend(std::iter::repeat_n(1i64, n));
            mask.extend(std::iter::repeat_n(0i64, seq - n));
        }
        let shape = [batch, seq];
        let types = vec![0i64; batch * seq];
        let input_ids = Tensor::from_array((shape, ids)).map_err(ort_err)?;
        let attention = Tensor::from_array((shape, mask.clone())).map_err(ort_err)?;
        let token_types = Tensor::from_array((shape, types)).map_err(ort_err)?;
        let mut taken = self.sessions.take(alone)?;
        let outputs = taken
            .session()?
            .run(ort::inputs!["input_ids" => input_ids, "attention_mask" => attention, "token_type_ids" => token_types])
            .map_err(ort_err)?;
        let (out_shape, hidden) = outputs
            .get("last_hidden_state")
            .ok_or_else(|| Error::internal("the ONNX model has no output named last_hidden_state"))?
            .try_extract_tensor::<f32>()
            .map_err(ort_err)?;
        let dim = usize::try_from(out_shape.last().copied().unwrap_or(0)).unwrap_or(0);
        let want = self.model.dimension;
        if dim != want || hidden.len() != batch * seq * dim {
            return Err(Error::internal(format!(
                "model output has shape {out_shape:?}, expected [{batch}, {seq}, {want}]"
            )));
        }
        let mut out = Vec::with_capacity(batch);
        for b in 0..batch {
            let mut v = vec![0.0f32; dim];
            let mut count = 0.0f32;
            for t in 0..seq {
                if mask[b * seq + t] == 0 {
                    continue;
                }
                count += 1.0;
                let row = &hidden[(b * seq + t) * dim..(b * seq + t + 1) * dim];
                v.iter_mut().zip(row).for_each(|(a, x)| *a += x);
            }
            if count > 0.0 {
                v.iter_mut().for_each(|a| *a /= count);
            }
            vecmath::normalize(&mut v);
            out.push(v);
        }
        Ok(out)
    }
}

/// What one model call costs besides its texts, in bytes of text: about a
/// dozen tokens' work (multilingual-e5-small int8, one thread: a call of b
/// texts padded to n tokens takes about 1.75 ms + 0.17 ms × b × n).
const CALL_BYTES: usize = 48;

/// What each text adds besides its own bytes: the special tokens and the
/// prompt prefix, in bytes of text.
const TEXT_BYTES: usize = 16;

/// `sorted` (shortest first) cut into model batches of at most `most`
/// texts and [`BATCH_BYTES`] of padded text, at the least cost: every text
/// in a batch is padded to its longest, so a batch of mixed lengths spends
/// most of its work on padding, while many small batches each pay a call's
/// fixed cost. Past about 128 tokens a batch runs no faster per token, so
/// cutting where lengths jump loses nothing to batch efficiency.
fn batches(sorted: &[String], most: usize) -> Vec<Range<usize>> {
    let n = sorted.len();
    // best[j]: the least cost of sorted[..j]; start[j]: where its last
    // batch starts.
    let mut best = vec![usize::MAX; n + 1];
    let mut start = vec![0; n + 1];
    best[0] = 0;
    for j in 1..=n {
        // Sorted, so this text is the longest of any batch ending here.
        let longest = sorted[j - 1].len();
        for i in (0..j).rev() {
            let count = j - i;
            if count > 1 && (count > most || count * longest > BATCH_BYTES) {
                break;
            }
            let cost = best[i].saturating_add(CALL_BYTES + count * (longest + TEXT_BYTES));
            if cost < best[j] {
                best[j] = cost;
                start[j] = i;
            }
        }
    }
    let mut out = Vec::new();
    let mut end = n;
    while end > 0 {
        out.push(start[end]..end);
        end = start[end];
    }
    out.reverse();
    out
}

/// A text's ids cut to `window` as the tokenizer's own truncation would:
/// the first `window - 1`, then the closing special token both models'
/// post-processors add (`</s>`, `[SEP]`).
fn truncated(ids: &[u32], window: usize) -> impl Iterator<Item = u32> + '_ {
    let (head, last) = if ids.len() > window {
        (&ids[..window - 1], ids.last())
    } else {
        (ids, None)
    };
    head.iter().copied().chain(last.copied())
}

#[async_trait]
impl Embedder for OnnxEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn prompt_scheme(&self) -> &str {
        self.inner.model.prompt_scheme
    }

    fn dimension(&self) -> usize {
        self.inner.model.dimension
    }

    // One call runs its texts in model batches of `batch` spread over the
    // sessions, so callers should hand over many at once.
    fn max_batch(&self) -> usize {
        self.batch.max(TEXTS_PER_CALL)
    }

    fn max_tokens(&self) -> Option<usize> {
        Some(self.inner.max_tokens)
    }

    fn count_tokens(&self, text: &str) -> Option<usize> {
        self.inner
            .tokenizer
            .encode(text, true)
            .ok()
            .map(|e| e.get_ids().len())
    }

    fn token_spans(&self, text: &str) -> Option<Vec<std::ops::Range<usize>>> {
        let e = self.inner.tokenizer.encode(text, false).ok()?;
        Some(e.get_offsets().iter().map(|&(a, b)| a..b).collect())
    }

    async fn embed(&self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // Texts of similar length share a batch, so little of it is
        // padding. One blocking task per session pulls batches, longest
        // work first, until none is left, so the sessions finish together
        // whatever the batches' sizes.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let sorted: Arc<Vec<String>> = Arc::new(order.iter().map(|&i| texts[i].clone()).collect());
        let mut chunks = batches(&sorted, self.batch);
        let work = |r: &Range<usize>| r.len() * sorted[r.end - 1].len();
        chunks.sort_by_key(|r| std::cmp::Reverse(work(r)));
        let chunks = Arc::new(chunks);
        let next = Arc::new(AtomicUsize::new(0));
        let lanes = self.inner.sessions.size().clamp(1, chunks.len());
        let alone = chunks.len() == 1;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..lanes {
            let (inner, sorted, chunks, next) = (
                self.inner.clone(),
                sorted.clone(),
                chunks.clone(),
                next.clone(),
            );
            tasks.spawn_blocking(move || -> Result<Vec<(usize, Vec<Vec<f32>>)>> {
                let mut done = Vec::new();
                loop {
                    let c = next.fetch_add(1, Ordering::Relaxed);
                    let Some(range) = chunks.get(c) else {
                        return Ok(done);
                    };
                    done.push((range.start, inner.run(&sorted[range.clone()], kind, alone)?));
                }
            });
        }
        // Each batch's vectors, by where the batch starts in `sorted`.
        let mut done: Vec<Vec<Vec<f32>>> = vec![Vec::new(); sorted.len()];
        while let Some(lane) = tasks.join_next().await {
            let lane = lane.map_err(|e| {
                Error::new(ErrorKind::Internal, format!("embedding task failed: {e}"))
            })??;
            for (start, vectors) in lane {
                done[start] = vectors;
            }
        }
        let mut out = vec![Vec::new(); texts.len()];
        for (&i, v) in order.iter().zip(done.into_iter().flatten()) {
            out[i] = v;
        }
        if out.iter().any(Vec::is_empty) {
            return Err(Error::internal("the model returned too few vectors"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_many_short_texts_and_few_long_ones() {
        let mut texts: Vec<String> = (0..100).map(|i| "a".repeat(10 + i)).collect();
        texts.extend((0..10).map(|i| "b".repeat(3000 + i)));
        let cut = batches(&texts, 32);
        assert_eq!(cut.iter().map(|b| b.len()).sum::<usize>(), texts.len());
        for r in &cut {
            let b = &texts[r.clone()];
            let longest = b.iter().map(String::len).max().unwrap_or(0);
            assert!(b.len() <= 32);
            assert!(
                b.len() == 1 || b.len() * longest <= BATCH_BYTES,
                "{}",
                b.len()
            );
        }
        // Texts of one length fill whole batches.
        let same = vec!["a".repeat(40); 100];
        let lens: Vec<usize> = batches(&same, 32).iter().map(|b| b.len()).collect();
        assert_eq!(lens, [32, 32, 32, 4]);
        // A text over the budget still gets a batch of its own.
        assert_eq!(batches(&["x".repeat(20_000)], 32).len(), 1);
        assert!(batches(&[], 32).is_empty());
    }

    #[test]
    fn batches_are_cut_where_lengths_jump() {
        // Query-like texts: two lengths far apart are two batches, not one
        // padded to the longer; close lengths stay together.
        let mut texts = vec!["a".repeat(20); 16];
        texts.extend(vec!["b".repeat(200); 16]);
        let lens: Vec<usize> = batches(&texts, 32).iter().map(|b| b.len()).collect();
        assert_eq!(lens, [16, 16]);
        let close: Vec<String> = (0..32).map(|i| "c".repeat(40 + i / 8)).collect();
        assert_eq!(batches(&close, 32).len(), 1);
    }

    #[test]
    fn truncation_keeps_the_head_and_the_closing_token() {
        let ids = [0, 5, 6, 7, 8, 2];
        assert_eq!(truncated(&ids, 4).collect::<Vec<_>>(), [0, 5, 6, 2]);
        assert_eq!(truncated(&ids, 6).collect::<Vec<_>>(), ids);
        assert_eq!(truncated(&ids, 10).collect::<Vec<_>>(), ids);
    }
}
