use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Result, Role};

/// One message of a chat request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatMessage {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

/// A chat completion request whose answer must be a JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatRequest {
    /// The conversation, system prompt first.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature.
    pub temperature: f32,
    /// Longest answer, in tokens.
    pub max_tokens: u32,
}

/// A chat model used for extraction and summaries.
///
/// # Behavior
///
/// - `complete_json` returns the model's answer parsed as a JSON object, or an
///   `Internal` error naming the problem when the answer is not one.
#[async_trait]
pub trait LanguageModel: Send + Sync + std::fmt::Debug {
    /// The model's id.
    fn model_id(&self) -> &str;
    /// Completes a chat and parses the answer as JSON.
    async fn complete_json(&self, request: &ChatRequest) -> Result<serde_json::Value>;
}
