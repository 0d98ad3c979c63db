//! Texts longer than the embedder's window (seed 002: 512-token chunks with
//! 50 of overlap): split on token boundaries into overlapping windows, each
//! embedded on its own and stored as its own vector of the one memory.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::Memory;
use crate::{Error, Result, StoredChunk};

/// The metadata key whose string value a memory is embedded after (the
/// turns before a message, say), to situate a short text: it shapes the
/// vector only, never the content or the keyword index.
pub const EMBED_CONTEXT_KEY: &str = "embed_context";

/// The windows a content is split into ([`Memory::windows`]); `None`
/// when it fits the embedder's window whole.
pub(crate) type Windows = Option<Vec<Range<usize>>>;

/// What one memory's vectors are made from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbedInput<'a> {
    /// The memory's content: what windows are cut from.
    pub(crate) content: &'a str,
    /// Text embedded before a content that fits one window.
    pub(crate) context: Option<&'a str>,
    /// The content's windows when the caller has already worked them out
    /// (validating a request does): tokenising is a noticeable share of a
    /// bulk add, so it is not done twice.
    pub(crate) planned: Option<&'a Windows>,
}

impl<'a> EmbedInput<'a> {
    /// The content and the context its metadata names.
    pub(crate) fn of(content: &'a str, metadata: &'a crate::Metadata) -> Self {
        Self {
            content,
            context: metadata
                .get(EMBED_CONTEXT_KEY)
                .and_then(serde_json::Value::as_str),
            planned: None,
        }
    }

    /// Sets the content's windows, as [`Memory::windows`] gave them.
    pub(crate) fn planned(mut self, windows: &'a Windows) -> Self {
        self.planned = Some(windows);
        self
    }
}

/// How texts longer than the embedder's window are split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkingConfig {
    /// Tokens per window, at most the embedder's own window (all-MiniLM-L6-v2
    /// reads 256 tokens, so its windows hold 254 once its two special tokens
    /// are counted).
    pub window_tokens: usize,
    /// Tokens two neighbouring windows share, at most half a window.
    pub overlap_tokens: usize,
    /// Most windows one memory may have; longer content is refused.
    pub max_chunks: usize,
}

impl Default for ChunkingConfig {
    fn default() -> Self {
        Self {
            window_tokens: 512,
            overlap_tokens: 50,
            max_chunks: 64,
        }
    }
}

impl ChunkingConfig {
    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<()> {
        if self.window_tokens < 2 {
            return Err(Error::config("chunking.window_tokens: must be at least 2"));
        }
        if self.max_chunks == 0 {
            return Err(Error::config("chunking.max_chunks: must be at least 1"));
        }
        Ok(())
    }
}

/// The byte spans of the whitespace-separated words of `text`: the tokens
/// of an embedder that cannot tell its own.
pub fn word_spans(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    out
}

/// A text embedded: its vector (the first window's, when split) and, when
/// it needed several windows, all of them with their vectors.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Embedded {
    pub(crate) vector: Vec<f32>,
    pub(crate) chunks: Vec<StoredChunk>,
}

fn offset(v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::invalid("content: too long to split"))
}

impl Memory {
    /// [`Self::windows`] for a stored memory being embedded again: a text
    /// this model cannot take (`InvalidInput`, past `chunking.max_chunks`)
    /// comes back as the inner error, to be refused alone while the texts
    /// beside it are embedded; any other failure is the outer one.
    pub(crate) fn windows_or_refused(
        &self,
        content: &str,
    ) -> Result<std::result::Result<Windows, Error>> {
        match self.windows(content) {
            Ok(windows) => Ok(Ok(windows)),
            Err(e) if e.kind() == crate::ErrorKind::InvalidInput => Ok(Err(e)),
            Err(e) => Err(e),
        }
    }

    /// The windows `content` is split into, or `None` when the embedder's
    /// window covers it; `InvalidInput` past `chunking.max_chunks`.
    pub(crate) fn windows(&self, content: &str) -> Result<Windows> {
        let e = &self.inner.embedder;
        let (Some(max), Some(n)) = (e.max_tokens(), e.count_tokens(content)) else {
            return Ok(None);
        };
        if n <= max {
            return Ok(None);
        }
        let cfg = &self.inner.config.chunking;
        let specials = e.count_tokens("").unwrap_or(0);
        let mut window = cfg.window_tokens.min(max.saturating_sub(specials)).max(1);
        let tokens = match e.token_spans(content) {
            Some(t) => t,
            None => {
                // Words stand in for tokens: about three words to four tokens.
                window = (window * 3 / 4).max(1);
                word_spans(content)
            }
        };
        if tokens.len() <= window {
            return Ok(None);
        }
        let overlap = cfg.overlap_tokens.min(window / 2);
        let stride = window - overlap;
        let mut spans = Vec::new();
        let mut first = 0;
        loop {
            let last = (first + window).min(tokens.len());
            spans.push(tokens[first].start..tokens[last - 1].end);
            if last == tokens.len() {
                break;
            }
            first += stride;
        }
        if spans.len() > cfg.max_chunks {
            return Err(Error::invalid(format!(
                "content: {n} tokens make {} windows of {window} tokens for the embedder {}, and one memory may have at most {} (chunking.max_chunks); split it into several memories",
                spans.len(),
                e.model_id(),
                cfg.max_chunks
            )));
        }
        Ok(Some(spans))
    }

    /// The text one window's worth of content is embedded as: after its
    /// context when the two fit the embedder's window together.
    fn situated(&self, input: &EmbedInput<'_>) -> String {
        if let Some(ctx) = input.context.filter(|c| !c.trim().is_empty()) {
            let both = format!("{ctx}\n{}", input.content);
            if matches!(self.windows(&both), Ok(None)) {
                return both;
            }
        }
        input.content.to_owned()
    }

    /// Embeds each content whole, or window by window when it is longer
    /// than the embedder's window; all texts go to the embedder together.
    pub(crate) async fn embed_contents(&self, contents: &[String]) -> Result<Vec<Embedded>> {
        let inputs: Vec<EmbedInput<'_>> = contents
            .iter()
            .map(|c| EmbedInput {
                content: c,
                context: None,
                planned: None,
            })
            .collect();
        self.embed_inputs(&inputs).await
    }

    /// [`Self::embed_contents`] with each content's context: a content
    /// that fits one window is embedded after its context when both fit
    /// together; windows are cut from the content alone.
    pub(crate) async fn embed_inputs(&self, inputs: &[EmbedInput<'_>]) -> Result<Vec<Embedded>> {
        let mut texts = Vec::new();
        let mut plans = Vec::with_capacity(inputs.len());
        for input in inputs {
            let c = input.content;
            let spans = match input.planned {
                Some(w) => w.clone(),
                None => self.windows(c)?,
            };
            match &spans {
                None => texts.push(self.situated(input)),
                Some(spans) => {
                    for s in spans {
                        let part = c.get(s.clone()).ok_or_else(|| {
                            Error::internal("the embedder's token offsets are not on characters")
                        })?;
                        texts.push(part.to_owned());
                    }
                }
            }
            plans.push(spans);
        }
        let mut vectors = self.embed_checked(&texts).await?.into_iter();
        let mut out = Vec::with_capacity(inputs.len());
        for spans in plans {
            let missing = || Error::internal("the embedder returned too few vectors");
            let Some(spans) = spans else {
                out.push(Embedded {
                    vector: vectors.next().ok_or_else(missing)?,
                    chunks: Vec::new(),
                });
                continue;
            };
            let mut chunks = Vec::with_capacity(spans.len());
            let mut first = None;
            for (i, s) in spans.into_iter().enumerate() {
                let v = vectors.next().ok_or_else(missing)?;
                let index = offset(i)?;
                let embedding = if index == 0 {
                    first = Some(v);
                    None
                } else {
                    Some(v)
                };
                chunks.push(StoredChunk {
                    index,
                    start: offset(s.start)?,
                    end: offset(s.end)?,
                    embedding,
                });
            }
            out.push(Embedded {
                vector: first.ok_or_else(missing)?,
                chunks,
            });
        }
        Ok(out)
    }
}
