//! HTTP with timeouts and retries: the one place requests are sent.

use std::time::Duration;

use memory_core::{Error, ErrorKind, Result};
use rand::Rng;
use reqwest::{Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::OpenAiConfig;

/// A client for one base URL and key.
#[derive(Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    cfg: OpenAiConfig,
}

/// The wait a server asks for: `retry-after-ms`, else `retry-after` seconds
/// (reported whole, so a caller can postpone work by that long).
fn retry_after(resp: &Response) -> Option<Duration> {
    let h = resp.headers();
    let ms = h
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    let secs = h
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    ms.map(|m| m / 1000.0)
        .or(secs)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(7.0 * 86400.0)))
}

fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base
        .saturating_mul(2u32.saturating_pow(attempt))
        .min(Duration::from_secs(20));
    // Full jitter keeps many clients from retrying in lockstep.
    exp.mul_f64(rand::rng().random_range(0.5..1.0))
}

/// The `error.message` of an OpenAI error body, if it has one.
fn api_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| body.chars().take(200).collect())
}

impl Client {
    pub(crate) fn new(cfg: OpenAiConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| Error::config(format!("openai: cannot build the HTTP client: {e}")))?;
        Ok(Self { http, cfg })
    }

    pub(crate) fn config(&self) -> &OpenAiConfig {
        &self.cfg
    }

    /// POSTs JSON to `path`, retrying 429, 5xx, timeouts and refused connections.
    pub(crate) async fn post<B: Serialize + Sync, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        operation: &'static str,
    ) -> Result<R> {
        let url = format!("{}{path}", self.cfg.base_url);
        let mut attempt = 0;
        loop {
            let mut req = self.http.post(&url).json(body);
            if let Some(key) = &self.cfg.api_key {
                req = req.bearer_auth(key);
            }
            let (error, wait) = match req.send().await {
                Ok(resp) if resp.status().is_success() => {
                    let text = resp.text().await.map_err(|e| transport(e, operation))?;
                    return serde_json::from_str(&text).map_err(|e| {
                        Error::internal(format!("openai {operation}: malformed response: {e}"))
                            .with_backend("openai")
                    });
                }
                Ok(resp) => {
                    let status = resp.status();
                    let wait = retry_after(&resp);
                    let message = api_message(&resp.text().await.unwrap_or_default());
                    let error = status_error(status, &message, operation, wait);
                    if !error.is_temporary() {
                        return Err(error);
                    }
                    (error, wait)
                }
                Err(e) => (transport(e, operation), None),
            };
            if attempt >= self.cfg.max_retries {
                return Err(error);
            }
            // A retry here holds the caller: never for more than a minute.
            let pause = wait
                .map(|w| w.min(Duration::from_secs(60)))
                .unwrap_or_else(|| backoff(self.cfg.backoff, attempt));
            tracing::warn!(operation, attempt, wait_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX), error = %error, "openai: retrying");
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }
}

fn transport(e: reqwest::Error, operation: &'static str) -> Error {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // reqwest errors name the URL, never the headers, so the key stays out of messages.
    Error::new(
        ErrorKind::Unavailable,
        format!("openai {operation}: {what}"),
    )
    .with_backend("openai")
    .with_temporary(true)
    .with_source(e.without_url())
}

fn status_error(
    status: StatusCode,
    message: &str,
    operation: &'static str,
    wait: Option<Duration>,
) -> Error {
    let (kind, temporary) = match status.as_u16() {
        401 | 403 => (ErrorKind::Config, false),
        404 => (ErrorKind::NotFound, false),
        400 | 413 | 422 => (ErrorKind::InvalidInput, false),
        429 => (ErrorKind::RateLimited, true),
        408 | 409 | 500..=599 => (ErrorKind::Unavailable, true),
        _ => (ErrorKind::Internal, false),
    };
    let mut e = Error::new(
        kind,
        format!("openai {operation}: HTTP {}: {message}", status.as_u16()),
    )
    .with_backend("openai")
    .with_temporary(temporary);
    if let Some(w) = wait {
        e = e.with_retry_after(w);
    }
    e
}
