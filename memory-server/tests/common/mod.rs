//! A server on loopback over an in-memory SQLite engine, for the HTTP tests.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

pub(crate) mod chat;
pub(crate) mod cli;

use std::sync::Arc;

use memory::{ApiKey, EngineConfig, Memory, RateLimits};
use memory_server::server::{AppState, router};
use memory_testkit::DeterministicEmbedder;
use reqwest::StatusCode;
use serde_json::Value;

/// The `memory` binary in `dir`, with none of the configuration the
/// environment running the tests may carry (`scripts/test` exports service
/// URLs, and a developer may have `QDRANT_URL` set).
pub(crate) fn memory_cmd(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_memory"));
    cmd.current_dir(dir);
    for name in memory::CONFIG_ENV {
        cmd.env_remove(name);
    }
    cmd
}

/// Limits no test reaches unless it means to.
pub(crate) fn roomy() -> RateLimits {
    RateLimits {
        per_user_per_minute: 10_000,
        per_key_per_minute: 10_000,
        global_per_minute: 100_000,
        window_secs: 60,
    }
}

/// An API key of `tenant`, bound to `user` if given.
pub(crate) fn key(key: &str, tenant: &str, user: Option<&str>) -> ApiKey {
    ApiKey {
        key: key.into(),
        tenant: tenant.into(),
        user_id: user.map(str::to_owned),
    }
}

/// Serves a fresh engine with these keys and limits; returns `http://addr`.
pub(crate) async fn start(keys: &[ApiKey], limits: RateLimits) -> String {
    serve(keys, limits, false).await
}

/// Serves a fresh engine without API keys (`--no-auth`).
pub(crate) async fn start_open() -> String {
    serve(&[], roomy(), true).await
}

async fn serve(keys: &[ApiKey], limits: RateLimits, open: bool) -> String {
    let db = memory::sqlite::SqliteDb::connect("sqlite::memory:")
        .await
        .unwrap();
    let store = db.store();
    let m = Memory::builder()
        .store(store.clone())
        .keywords(store)
        .vectors(db.vector_index())
        .embedder(Arc::new(DeterministicEmbedder::new(32)))
        .config(EngineConfig {
            rate_limits: limits,
            ..EngineConfig::default()
        })
        .build()
        .await
        .unwrap();
    let app = router(AppState::new(m, keys, open), 64 * 1024);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// One request with an optional bearer key and JSON body: its status and
/// JSON answer (or the text, when it is not JSON).
pub(crate) async fn call(
    method: reqwest::Method,
    url: String,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}
