//! A language model for tests: it answers one fixed JSON object, or fails.

use async_trait::async_trait;
use memory_core::{ChatAnswer, ChatRequest, Error, LanguageModel, Result, TokenUsage};

/// Answers every request with `answer`; [`CannedModel::failing`] answers
/// every call with an outage.
#[derive(Debug, Clone)]
pub struct CannedModel {
    answer: Option<serde_json::Value>,
}

impl CannedModel {
    /// A model that always answers `answer`.
    pub fn new(answer: serde_json::Value) -> Self {
        Self {
            answer: Some(answer),
        }
    }

    /// A model whose every call fails as unavailable.
    pub fn failing() -> Self {
        Self { answer: None }
    }
}

#[async_trait]
impl LanguageModel for CannedModel {
    fn model_id(&self) -> &str {
        "test:canned"
    }

    async fn complete_json(&self, _request: &ChatRequest) -> Result<ChatAnswer> {
        let value = self
            .answer
            .clone()
            .ok_or_else(|| Error::new(memory_core::ErrorKind::Unavailable, "test model is down"))?;
        Ok(ChatAnswer {
            value,
            usage: TokenUsage {
                input: 10,
                output: 5,
            },
        })
    }
}
