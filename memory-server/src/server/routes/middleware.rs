//! Authentication, rate limits, request ids and timings around every route.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::server::AppState;
use crate::server::error::{ApiError, denied};

/// Resolves the caller from its key and applies its per-key limit.
pub(super) async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(caller) = state.auth.caller(req.headers()) else {
        return denied(
            StatusCode::UNAUTHORIZED,
            "missing or unknown API key (Authorization: Bearer KEY or x-api-key)",
        );
    };
    // Per key and global here; per end user where a route learns whom it acts on.
    if let Err(e) = state
        .memory
        .check_key_rate(&caller.tenant, &caller.id)
        .await
    {
        return ApiError(e).into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// Without API keys (`--no-auth`, loopback only), refuses requests whose
/// `Host` is not a loopback name, as `/mcp` does: a web page the user opens
/// cannot reach the server through DNS rebinding.
pub(super) async fn loopback_host(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if state.auth.is_open() {
        let host = req
            .headers()
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !is_loopback_host(host) {
            return denied(
                StatusCode::FORBIDDEN,
                &format!(
                    "Host {host:?} is not a loopback name: without API keys only localhost, 127.0.0.1 and [::1] are served"
                ),
            );
        }
    }
    next.run(req).await
}

/// Whether `host` (with or without a port) names this machine's loopback.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Counts and times each request, and gives it an id: the caller's
/// `x-request-id` if it sent a usable one, else a new one. The id is on every
/// log line of the request and echoed in the response.
pub(super) async fn measure(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
    let span = tracing::info_span!("request", id = %id, method = %req.method(), route = %route);
    let start = Instant::now();
    let mut resp = tracing::Instrument::instrument(next.run(req), span).await;
    state.metrics.record(
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

const REQUEST_ID: &str = "x-request-id";

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_names_pass() {
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:80",
            "127.0.0.2",
            "[::1]:8080",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:8080",
            "10.0.0.1",
            "localhost.evil.example",
            "[::2]:80",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
