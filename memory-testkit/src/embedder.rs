use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use memory_core::{EmbedKind, Embedder, NO_PROMPT_SCHEME, Result, vecmath};
use sha2::{Digest, Sha256};

/// A deterministic bag-of-words embedder for tests: texts sharing words are
/// similar, identical word sets are identical vectors. Not a language model.
#[derive(Clone)]
pub struct DeterministicEmbedder {
    dimension: usize,
    model: String,
    max_words: Option<usize>,
    prompt_scheme: String,
    /// Texts embedded as queries and as documents, shared by clones.
    counts: Arc<[AtomicU64; 2]>,
    /// Work to run inside the next call embedding documents, shared by clones.
    before_documents: Arc<Mutex<Option<crate::Hook>>>,
}

impl std::fmt::Debug for DeterministicEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeterministicEmbedder")
            .field("model", &self.model)
            .field("max_words", &self.max_words)
            .field("prompt_scheme", &self.prompt_scheme)
            .finish_non_exhaustive()
    }
}

impl DeterministicEmbedder {
    /// An embedder making `dimension`-long vectors.
    pub fn new(dimension: usize) -> Self {
        Self {
            dimension,
            model: format!("test:bag-of-words-{dimension}"),
            max_words: None,
            prompt_scheme: NO_PROMPT_SCHEME.to_owned(),
            counts: Arc::new([AtomicU64::new(0), AtomicU64::new(0)]),
            before_documents: Arc::default(),
        }
    }

    /// Runs `hook` inside the next call that embeds documents (on this
    /// embedder or a clone), before it embeds them: for testing writes that
    /// land while a caller waits for its vectors.
    pub fn before_next_documents(&self, hook: crate::Hook) {
        if let Ok(mut slot) = self.before_documents.lock() {
            *slot = Some(hook);
        }
    }

    /// Declares a prompt scheme; the vectors stay the same, so only the
    /// recorded scheme tells them apart.
    pub fn with_prompt_scheme(mut self, scheme: &str) -> Self {
        self.prompt_scheme = scheme.to_owned();
        self
    }

    /// How many texts were embedded as queries and as documents so far.
    pub fn kind_counts(&self) -> (u64, u64) {
        (
            self.counts[0].load(Ordering::Relaxed),
            self.counts[1].load(Ordering::Relaxed),
        )
    }

    /// Declares a window of `max` words (one word, one token), as real models have.
    pub fn with_max_words(mut self, max: usize) -> Self {
        self.max_words = Some(max);
        self
    }

    /// Embeds one text synchronously.
    pub fn vector(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dimension];
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let w = word.to_lowercase();
            let stem = w.strip_suffix('s').filter(|s| s.len() > 2).unwrap_or(&w);
            let h = Sha256::digest(stem.as_bytes());
            let i = usize::from(u16::from_le_bytes([h[0], h[1]])) % self.dimension;
            v[i] += if h[2] & 1 == 0 { 1.0 } else { -1.0 };
        }
        vecmath::normalize(&mut v);
        v
    }
}

#[async_trait]
impl Embedder for DeterministicEmbedder {
    fn model_id(&self) -> &str {
        &self.model
    }

    fn prompt_scheme(&self) -> &str {
        &self.prompt_scheme
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn max_batch(&self) -> usize {
        64
    }

    fn max_tokens(&self) -> Option<usize> {
        self.max_words
    }

    fn count_tokens(&self, text: &str) -> Option<usize> {
        self.max_words.map(|_| text.split_whitespace().count())
    }

    fn token_spans(&self, text: &str) -> Option<Vec<std::ops::Range<usize>>> {
        self.max_words.map(|_| memory_core::word_spans(text))
    }

    async fn embed(&self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
        let slot = usize::from(kind == EmbedKind::Document);
        self.counts[slot].fetch_add(texts.len() as u64, Ordering::Relaxed);
        if kind == EmbedKind::Document {
            let hook = self.before_documents.lock().ok().and_then(|mut h| h.take());
            if let Some(hook) = hook {
                hook.await;
            }
        }
        Ok(texts.iter().map(|t| self.vector(t)).collect())
    }
}
