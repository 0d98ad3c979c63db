//! Timing of every embedding call, as a layer implementing [`Embedder`]:
//! a `memory_embed_seconds{model}` histogram and a debug log line per call,
//! whichever model runs underneath (local ONNX, OpenAI, a test embedder).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use crate::Result;
use crate::traits::{EmbedKind, Embedder};

/// An embedder whose calls are timed.
#[derive(Debug)]
pub struct TimedEmbedder {
    inner: Arc<dyn Embedder>,
}

impl TimedEmbedder {
    /// Times `inner`'s calls.
    pub fn new(inner: Arc<dyn Embedder>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl Embedder for TimedEmbedder {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }
    fn prompt_scheme(&self) -> &str {
        self.inner.prompt_scheme()
    }
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }
    fn max_batch(&self) -> usize {
        self.inner.max_batch()
    }
    fn max_tokens(&self) -> Option<usize> {
        self.inner.max_tokens()
    }
    fn count_tokens(&self, text: &str) -> Option<usize> {
        self.inner.count_tokens(text)
    }
    fn token_spans(&self, text: &str) -> Option<Vec<std::ops::Range<usize>>> {
        self.inner.token_spans(text)
    }
    async fn embed(&self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
        let start = Instant::now();
        let out = self.inner.embed(texts, kind).await;
        let seconds = start.elapsed().as_secs_f64();
        metrics::histogram!("memory_embed_seconds", "model" => self.inner.model_id().to_owned())
            .record(seconds);
        tracing::debug!(
            model = self.inner.model_id(),
            texts = texts.len(),
            ms = seconds * 1000.0,
            ok = out.is_ok(),
            "embedding generated"
        );
        out
    }
}
