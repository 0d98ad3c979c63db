use async_trait::async_trait;

use crate::{Error, ErrorKind, Result};

/// What a text is embedded for. Some models embed a search query and the
/// passage that answers it differently (e5's `query: ` and `passage: `
/// prefixes, a server's `input_type`); the others ignore the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbedKind {
    /// A search query.
    Query,
    /// A text to be found: a memory, a message, a window of either.
    Document,
}

impl EmbedKind {
    /// `query` or `document`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Document => "document",
        }
    }
}

/// The prompt scheme of an embedder that embeds both kinds alike.
pub const NO_PROMPT_SCHEME: &str = "none";

/// Turns text into vectors.
///
/// # Behavior
///
/// - `embed` returns one vector per input, in input order, each of
///   `dimension()` finite values.
/// - An empty input returns an empty output.
/// - Vectors of one `model_id` and `prompt_scheme` are comparable; the engine
///   records both with the collection and refuses to mix vectors of another.
/// - Inputs longer than the model's window (`max_tokens`) are truncated; the
///   engine never stores such a text under one vector: it splits it into
///   overlapping windows (from `token_spans`), each embedded on its own.
///   Inputs are never silently dropped.
#[async_trait]
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// A stable id of the model, recorded on every memory it embeds.
    fn model_id(&self) -> &str;
    /// How queries and documents are told apart (`none` when they are not):
    /// recorded with the collection beside the model id.
    fn prompt_scheme(&self) -> &str {
        NO_PROMPT_SCHEME
    }
    /// Vector length.
    fn dimension(&self) -> usize;
    /// Most texts per call the backend takes; callers split larger batches.
    fn max_batch(&self) -> usize;
    /// The tokens the model reads per text, if it has such a window.
    fn max_tokens(&self) -> Option<usize> {
        None
    }
    /// How many tokens `text` takes, if the embedder can count them
    /// (special tokens the model adds included).
    fn count_tokens(&self, _text: &str) -> Option<usize> {
        None
    }
    /// The byte span of each token of `text` (special tokens excluded), if
    /// the embedder can tell; windows are cut on these boundaries.
    fn token_spans(&self, _text: &str) -> Option<Vec<std::ops::Range<usize>>> {
        None
    }
    /// Embeds texts of one kind, keeping order.
    async fn embed(&self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>>;
}

/// Conveniences on top of [`Embedder`].
#[async_trait]
pub trait EmbedderExt: Embedder {
    /// Embeds one text.
    async fn embed_one(&self, text: &str, kind: EmbedKind) -> Result<Vec<f32>> {
        let mut v = self.embed(&[text.to_owned()], kind).await?;
        v.pop()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "embedder returned no vector"))
    }

    /// Embeds any number of texts in batches of `max_batch`, keeping order.
    async fn embed_all(&self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.max_batch().max(1)) {
            let v = self.embed(chunk, kind).await?;
            if v.len() != chunk.len() {
                return Err(Error::internal(format!(
                    "embedder returned {} vectors for {} texts",
                    v.len(),
                    chunk.len()
                )));
            }
            out.extend(v);
        }
        Ok(out)
    }
}

impl<T: Embedder + ?Sized> EmbedderExt for T {}
