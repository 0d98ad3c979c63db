//! `LanguageModel` over `POST /chat/completions` with JSON output.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use memory_core::{
    ChatAnswer, ChatRequest, Error, ErrorKind, LanguageModel, OutputSchema, Result, TokenUsage,
};
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
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
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
/// parsed as JSON objects. A request with a schema asks for structured
/// output (`response_format` `json_schema`); a server that refuses that
/// (older Ollama, llama.cpp builds) is asked for `json_object` from then on.
#[derive(Clone)]
pub struct OpenAiChat {
    client: Client,
    model_id: String,
    schema_unsupported: Arc<AtomicBool>,
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
            schema_unsupported: Arc::default(),
        })
    }

    /// The `response_format` for `schema`, if the server takes schemas.
    fn format(&self, schema: Option<&OutputSchema>) -> serde_json::Value {
        match schema {
            Some(s) if !self.schema_unsupported.load(Ordering::Relaxed) => serde_json::json!({
                "type": "json_schema",
                "json_schema": { "name": s.name, "schema": s.schema, "strict": true },
            }),
            _ => serde_json::json!({ "type": "json_object" }),
        }
    }
}

/// Whether a 400 says the server does not take `json_schema` output.
fn refuses_schemas(e: &Error) -> bool {
    let m = e.message().to_ascii_lowercase();
    e.kind() == ErrorKind::InvalidInput
        && (m.contains("response_format") || m.contains("json_schema"))
}

#[async_trait]
impl LanguageModel for OpenAiChat {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    async fn complete_json(&self, request: &ChatRequest) -> Result<ChatAnswer> {
        let mut body = Request {
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
            response_format: self.format(request.schema.as_ref()),
        };
        let resp: Response = match self.client.post("/chat/completions", &body, "chat").await {
            Err(e) if request.schema.is_some() && refuses_schemas(&e) => {
                tracing::info!(model = %self.model_id, "the server takes no json_schema output; asking for json_object");
                self.schema_unsupported.store(true, Ordering::Relaxed);
                body.response_format = self.format(None);
                self.client.post("/chat/completions", &body, "chat").await?
            }
            other => other?,
        };
        let usage = resp.usage.map_or_else(TokenUsage::default, |u| TokenUsage {
            input: u.prompt_tokens,
            output: u.completion_tokens,
        });
        let content = resp
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| {
                Error::internal("openai chat: the answer has no content").with_backend("openai")
            })?;
        match serde_json::from_str::<serde_json::Value>(&content) {
            Ok(value @ serde_json::Value::Object(_)) => Ok(ChatAnswer { value, usage }),
            _ => Err(Error::internal(format!(
                "openai chat: the answer is not a JSON object: {}",
                content.chars().take(120).collect::<String>()
            ))
            .with_backend("openai")),
        }
    }
}
