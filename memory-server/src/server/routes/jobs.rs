//! The job queue over HTTP, for keys bound to a tenant only: counts, the
//! tenant's jobs and dead letters, retry and purge.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use memory::{Job, JobCounts};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::{ApiResult, denied};

/// Dead letters one call may retry or purge.
const MAX_DEAD: usize = 10_000;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct JobsParams {
    /// Dead letters instead of waiting jobs.
    dead: Option<bool>,
    /// How many (50 by default).
    limit: Option<usize>,
}

/// The queue as the caller's tenant sees it.
#[derive(Serialize, JsonSchema)]
pub(super) struct JobsView {
    /// Every kind, by state.
    counts: Vec<JobCounts>,
    /// The tenant's jobs and those serving every tenant.
    jobs: Vec<Job>,
}

/// Which dead letters: the ids given, or all of the tenant's.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DeadLetters {
    /// Their ids.
    #[serde(default)]
    ids: Vec<Uuid>,
    /// Every dead letter of the tenant.
    #[serde(default)]
    all: bool,
}

/// How many dead letters a call changed.
#[derive(Serialize, JsonSchema)]
pub(super) struct Changed {
    /// Jobs retried or purged.
    changed: u64,
}

/// The refusal for a key bound to one user: the queue is the tenant's.
fn refused(c: &Caller) -> Option<Response> {
    c.user_id.as_ref().map(|_| {
        denied(
            StatusCode::FORBIDDEN,
            "the job queue needs an API key bound to a tenant, not to one user",
        )
    })
}

pub(super) async fn list(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(p): Query<JobsParams>,
) -> ApiResult<Response> {
    if let Some(r) = refused(&c) {
        return Ok(r);
    }
    let limit = p.limit.unwrap_or(50).clamp(1, 1000);
    let view = JobsView {
        counts: s.memory.job_counts().await?,
        jobs: s
            .memory
            .jobs(Some(&c.tenant), p.dead.unwrap_or(false), limit)
            .await?,
    };
    Ok(Json(view).into_response())
}

/// The caller's dead letters among `req` (all of them with `all`).
async fn chosen(s: &AppState, c: &Caller, req: &DeadLetters) -> ApiResult<Vec<Uuid>> {
    if req.all != req.ids.is_empty() {
        return Err(
            memory::Error::invalid("name the jobs in \"ids\", or pass \"all\": true").into(),
        );
    }
    let mine = s.memory.jobs(Some(&c.tenant), true, MAX_DEAD).await?;
    Ok(mine
        .into_iter()
        .map(|j| j.id)
        .filter(|id| req.all || req.ids.contains(id))
        .collect())
}

/// Retries (or with `purge`, deletes) the caller's chosen dead letters.
async fn change_dead(
    s: &AppState,
    c: &Caller,
    req: &DeadLetters,
    purge: bool,
) -> ApiResult<Response> {
    if let Some(r) = refused(c) {
        return Ok(r);
    }
    let ids = chosen(s, c, req).await?;
    let changed = match (ids.is_empty(), purge) {
        (true, _) => 0,
        (false, true) => s.memory.purge_jobs(&ids).await?,
        (false, false) => s.memory.retry_jobs(&ids).await?,
    };
    Ok(Json(Changed { changed }).into_response())
}

pub(super) async fn retry(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(req): Json<DeadLetters>,
) -> ApiResult<Response> {
    change_dead(&s, &c, &req, false).await
}

pub(super) async fn purge(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(req): Json<DeadLetters>,
) -> ApiResult<Response> {
    change_dead(&s, &c, &req, true).await
}
