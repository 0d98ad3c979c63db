//! One structured call to the language model: the answer must follow the
//! schema of `T`; an answer that does not is asked for once more.

use serde::de::DeserializeOwned;

use super::ExtractReport;
use crate::traits::{ChatMessage, ChatRequest, LanguageModel, OutputSchema, RateLimit, TokenUsage};
use crate::{Error, ErrorKind, Memory, Result, Role};

/// What to ask.
pub(crate) struct Ask<'a> {
    /// The schema's name in the request.
    pub name: &'a str,
    /// The system prompt.
    pub system: &'a str,
    /// The user message.
    pub input: String,
    /// The longest answer, in tokens.
    pub max_tokens: u32,
}

impl Memory {
    /// Asks `llm` and parses its answer as `T`, counting tokens into `report`
    /// and the per-tenant metrics. Each call counts against the tenant's daily
    /// budget; past it, the call fails with `RateLimited` and when to retry.
    pub(crate) async fn ask<T: DeserializeOwned + schemars::JsonSchema>(
        &self,
        llm: &dyn LanguageModel,
        tenant: &str,
        a: Ask<'_>,
        report: &mut ExtractReport,
    ) -> Result<T> {
        let request = ChatRequest {
            messages: vec![
                ChatMessage {
                    role: Role::System,
                    content: a.system.to_owned(),
                },
                ChatMessage {
                    role: Role::User,
                    content: a.input,
                },
            ],
            temperature: 0.0,
            max_tokens: a.max_tokens,
            schema: Some(OutputSchema::of::<T>(a.name)),
        };
        let mut last_error = None;
        for _ in 0..2 {
            self.spend_call(tenant).await?;
            let answer = llm.complete_json(&request).await?;
            report.calls += 1;
            report.input_tokens += answer.usage.input;
            report.output_tokens += answer.usage.output;
            count_usage(tenant, llm.model_id(), answer.usage);
            if let Ok(mut usage) = self.inner.llm_usage.lock() {
                let u = usage.entry(tenant.to_owned()).or_insert_with(|| LlmUsage {
                    tenant: tenant.to_owned(),
                    ..LlmUsage::default()
                });
                u.calls += 1;
                u.input_tokens += answer.usage.input;
                u.output_tokens += answer.usage.output;
            }
            match serde_json::from_value::<T>(answer.value) {
                Ok(v) => return Ok(v),
                Err(e) => last_error = Some(e),
            }
        }
        Err(Error::internal(format!(
            "{}: the model's answer does not follow the schema twice in a row ({})",
            a.name,
            last_error.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    /// Counts one call against the tenant's daily budget. A short-term tier
    /// that is down lets calls through, as for the request rate limits.
    async fn spend_call(&self, tenant: &str) -> Result<()> {
        let max = self.inner.config.extraction.daily_calls_per_tenant;
        if max == 0 {
            return Ok(());
        }
        let limit = RateLimit {
            max,
            window: std::time::Duration::from_secs(24 * 3600),
        };
        match self.inner.short_term.check_rate(tenant, "llm", limit).await {
            Ok(d) if d.allowed => Ok(()),
            Ok(d) => Err(Error::new(
                ErrorKind::RateLimited,
                format!(
                    "the daily budget of {max} language-model calls of tenant {tenant:?} is spent"
                ),
            )
            .with_retry_after(d.retry_after)),
            Err(e) => {
                self.short_term_failed("llm budget", &e);
                Ok(())
            }
        }
    }
}

/// A tenant's language-model use since start.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct LlmUsage {
    /// The tenant.
    pub tenant: String,
    /// Calls made.
    pub calls: u64,
    /// Tokens the model read.
    pub input_tokens: u64,
    /// Tokens the model wrote.
    pub output_tokens: u64,
}

impl Memory {
    /// Language-model use per tenant since start (one tenant's, if given).
    pub fn llm_usage(&self, tenant: Option<&str>) -> Vec<LlmUsage> {
        self.inner.llm_usage.lock().map_or_else(
            |_| Vec::new(),
            |u| {
                u.values()
                    .filter(|x| tenant.is_none_or(|t| t == x.tenant))
                    .cloned()
                    .collect()
            },
        )
    }
}

/// Calls and tokens per tenant and model, for `/metrics`.
fn count_usage(tenant: &str, model: &str, usage: TokenUsage) {
    let labels = [("tenant", tenant.to_owned()), ("model", model.to_owned())];
    metrics::counter!("memory_llm_calls_total", &labels).increment(1);
    metrics::counter!("memory_llm_input_tokens_total", &labels).increment(usage.input);
    metrics::counter!("memory_llm_output_tokens_total", &labels).increment(usage.output);
}
