//! Authentication, rate limits, request ids and timings around every route.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::server::AppState;
use crate::server::error::{ApiError, denied};

/// Resolves the caller from its key and applies the rate limits.
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
    let subject = caller.user_id.clone().unwrap_or_else(|| caller.id.clone());
    if let Err(e) = state.memory.check_rate(&caller.tenant, &subject).await {
        return ApiError(e).into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
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
