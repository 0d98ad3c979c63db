//! A reranker for tests: it favours texts holding one word, or fails.

use async_trait::async_trait;
use memory_core::{Error, Reranker, Result};

/// Scores a text 4 when it holds `word` (case-insensitive) and −4 when not;
/// [`WordReranker::failing`] answers every call with an outage.
#[derive(Debug, Clone)]
pub struct WordReranker {
    word: String,
    fail: bool,
}

impl WordReranker {
    /// A reranker that favours texts holding `word`.
    pub fn new(word: &str) -> Self {
        Self {
            word: word.to_lowercase(),
            fail: false,
        }
    }

    /// A reranker whose every call fails as unavailable.
    pub fn failing() -> Self {
        Self {
            word: String::new(),
            fail: true,
        }
    }
}

#[async_trait]
impl Reranker for WordReranker {
    fn model_id(&self) -> &str {
        "test:word"
    }

    async fn score(&self, _query: &str, texts: &[String]) -> Result<Vec<f32>> {
        if self.fail {
            return Err(Error::new(
                memory_core::ErrorKind::Unavailable,
                "test reranker is down",
            ));
        }
        Ok(texts
            .iter()
            .map(|t| {
                if t.to_lowercase().contains(&self.word) {
                    4.0
                } else {
                    -4.0
                }
            })
            .collect())
    }
}
