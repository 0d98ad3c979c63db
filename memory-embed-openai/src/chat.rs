//! `LanguageModel` over `POST /chat/completions` with JSON output.

use async_trait::async_trait;
use memory_core::{ChatRequest, Error, LanguageModel, Result};
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::config::OpenAiConfig;

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    temperature: f32,
    max_tokens: u32,
    response_format: serde_json::Value,
}

#[derive(Deserialize)]
struct Response {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Answer,
}

#[derive(Deserialize)]
struct Answer {
    content: Option<String>,
}

/// Chat completions from the OpenAI API or a compatible server, answers
/// parsed as JSON objects.
#[derive(Clone)]
pub struct OpenAiChat {
    client: Client,
    model_id: String,
}

impl std::fmt::Debug for OpenAiChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiChat")
            .field("model", &self.model_id)
            .finish()
    }
}

impl OpenAiChat {
    /// A chat model client (no request is made until used).
    pub fn new(cfg: OpenAiConfig) -> Result<Self> {
        let model_id = cfg.model.clone();
        Ok(Self {
            client: Client::new(cfg)?,
            model_id,
        })
    }
}

#[async_trait]
impl LanguageModel for OpenAiChat {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    async fn complete_json(&self, request: &ChatRequest) -> Result<serde_json::Value> {
        let body = Request {
            model: &self.model_id,
            messages: request
                .messages
                .iter()
                .map(|m| Message {
                    role: m.role.as_str(),
                    content: &m.content,
                })
                .collect(),
            temperature: request.temperature,
            max_tokens: request.max_tokens,
            response_format: serde_json::json!({ "type": "json_object" }),
        };
        let resp: Response = self.client.post("/chat/completions", &body, "chat").await?;
        let content = resp
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| {
                Error::internal("openai chat: the answer has no content").with_backend("openai")
            })?;
        match serde_json::from_str::<serde_json::Value>(&content) {
            Ok(v @ serde_json::Value::Object(_)) => Ok(v),
            _ => Err(Error::internal(format!(
                "openai chat: the answer is not a JSON object: {}",
                content.chars().take(120).collect::<String>()
            ))
            .with_backend("openai")),
        }
    }
}
