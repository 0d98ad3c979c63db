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
    /// The JSON Schema the answer must follow, if any: requested as
    /// structured output where the server supports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<OutputSchema>,
}

/// A named JSON Schema for structured output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutputSchema {
    /// Its name (letters, digits, `_` and `-`).
    pub name: String,
    /// The schema.
    pub schema: serde_json::Value,
}

impl OutputSchema {
    /// The schema of `T` as strict structured output wants it: every
    /// property required (optional ones are nullable instead), no others,
    /// and no `format` annotations (`float`, `uint`), which strict mode refuses.
    pub fn of<T: schemars::JsonSchema>(name: &str) -> Self {
        let mut schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
        require_all(&mut schema);
        Self {
            name: name.to_owned(),
            schema,
        }
    }
}

fn require_all(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(o) => {
            o.remove("format");
            o.remove("$schema");
            if let Some(serde_json::Value::Object(props)) = o.get("properties") {
                let names: Vec<serde_json::Value> = props
                    .keys()
                    .cloned()
                    .map(serde_json::Value::String)
                    .collect();
                o.insert("required".into(), serde_json::Value::Array(names));
                o.insert("additionalProperties".into(), false.into());
            }
            o.values_mut().for_each(require_all);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(require_all),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A struct with an optional number.
    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Answer {
        /// Required.
        name: String,
        /// Optional.
        score: Option<f32>,
    }

    #[test]
    fn strict_schemas_require_every_property() {
        let s = OutputSchema::of::<Answer>("answer").schema;
        assert_eq!(s["required"], serde_json::json!(["name", "score"]));
        assert_eq!(s["additionalProperties"], false);
        assert!(s["properties"]["score"].get("format").is_none(), "{s}");
        assert!(s.get("$schema").is_none());
    }
}

/// Tokens one call used, as the server counted them.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct TokenUsage {
    /// Tokens read (the prompt).
    pub input: u64,
    /// Tokens written (the answer).
    pub output: u64,
}

/// A chat answer: a JSON object, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatAnswer {
    /// The answer, parsed.
    pub value: serde_json::Value,
    /// Tokens used.
    pub usage: TokenUsage,
}

/// A chat model used for extraction and summaries.
///
/// # Behavior
///
/// - `complete_json` returns the model's answer parsed as a JSON object, or an
///   `Internal` error naming the problem when the answer is not one.
/// - With a `schema`, the model is asked for structured output following it
///   (a backend that cannot ask for it asks for any JSON object instead);
///   checking the answer against the schema is the caller's.
#[async_trait]
pub trait LanguageModel: Send + Sync + std::fmt::Debug {
    /// The model's id.
    fn model_id(&self) -> &str;
    /// Completes a chat and parses the answer as JSON.
    async fn complete_json(&self, request: &ChatRequest) -> Result<ChatAnswer>;
}
