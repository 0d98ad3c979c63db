//! The REST server: routes, authentication, errors, metrics.

mod access;
mod auth;
mod error;
pub mod mcp;
mod metrics;
mod openapi;
mod routes;
mod ui;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use memory::{ApiKey, Memory};

pub use auth::{Auth, Caller};
pub use routes::openapi;

/// Everything a request handler needs; the server keeps no other state, so
/// any number of instances can share the same backends.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub memory: Memory,
    /// Who may call and what they may touch.
    pub auth: Arc<Auth>,
    /// Request counters for `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
}

impl AppState {
    /// State for `memory` with these API keys; `no_auth` admits every
    /// request to the default tenant.
    pub fn new(memory: Memory, keys: &[ApiKey], no_auth: bool) -> Self {
        Self {
            memory,
            auth: Arc::new(Auth::new(keys, no_auth)),
            metrics: Arc::default(),
        }
    }
}

/// The router with every route, a body limit and request metrics.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    routes::router(state, max_body_bytes)
}

/// Serves until Ctrl-C or SIGTERM (with a background worker when `worker`
/// is given), then drains in-flight requests, stops the worker (its jobs in
/// hand finish, the rest are released) and drains the vector outbox.
pub async fn serve(
    state: AppState,
    listen: SocketAddr,
    max_body_bytes: usize,
    worker: Option<memory::Worker>,
) -> anyhow::Result<()> {
    let memory = state.memory.clone();
    let worker = worker.map(memory::Worker::spawn);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, "memory server listening");
    eprintln!(
        "memory server listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, router(state, max_body_bytes))
        .with_graceful_shutdown(shutdown())
        .await?;
    if let Some(w) = worker {
        w.shutdown(std::time::Duration::from_secs(30)).await;
    }
    let drained = memory.sync(false).await?;
    tracing::info!(?drained, "outbox drained on shutdown");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
