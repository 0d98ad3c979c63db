//! Operations: status, stats, readiness and metrics.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::{ApiError, ApiResult};

pub(super) async fn status(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> impl IntoResponse {
    Json(backends_for(&c, s.memory.status_with_jobs().await))
}

/// Which backends serve, as a caller may see it: where they are (hosts,
/// databases, skipped fallbacks) only for keys not bound to one user.
pub(super) fn backends_for(caller: &Caller, mut status: serde_json::Value) -> serde_json::Value {
    if caller.user_id.is_some()
        && let Some(roles) = status.as_object_mut()
    {
        roles.remove("vectors_skipped");
        roles.remove("store_skipped");
        roles.remove("jobs");
        for role in roles.values_mut() {
            if let Some(r) = role.as_object_mut() {
                r.remove("location");
            }
        }
    }
    status
}

pub(super) async fn stats(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> ApiResult<impl IntoResponse> {
    let mut stats = s.memory.stats(Some(&c.tenant)).await?;
    stats.backends = backends_for(&c, stats.backends);
    Ok(Json(stats))
}

pub(super) async fn ready(State(s): State<AppState>) -> Response {
    match s.memory.store_stats(Some(memory::DEFAULT_TENANT)).await {
        Ok(_) => "ready".into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

pub(super) async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let outbox = s
        .memory
        .store_stats(None)
        .await
        .map(|st| st.outbox_pending)
        .unwrap_or(0);
    let failures = s.memory.short_term_failures();
    let jobs = s.memory.job_counts().await.unwrap_or_default();
    (
        [("content-type", "text/plain; version=0.0.4")],
        s.metrics.render(failures, outbox, &jobs),
    )
}
