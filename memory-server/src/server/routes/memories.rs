//! Memories: add, batch, list, get, update, delete, history and search.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use memory::{AddRequest, Filter, Scope, SearchRequest, UpdateRequest, Validity};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::scoped;
use crate::server::AppState;
use crate::server::access;
use crate::server::auth::Caller;
use crate::server::error::{ApiError, ApiResult};

pub(super) async fn add(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(mut req): Json<AddRequest>,
) -> ApiResult<impl IntoResponse> {
    req.scope = access::limited(&s.memory, &c, req.scope).await?;
    Ok((StatusCode::CREATED, Json(s.memory.add(req).await?)))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Batch {
    /// The memories, at most the engine's `max_batch`.
    items: Vec<AddRequest>,
}

/// What a batch add did, item by item in request order.
#[derive(Serialize, JsonSchema)]
pub(super) struct BatchOutcome {
    /// One outcome per requested item.
    items: Vec<memory::AddOutcome>,
}

pub(super) async fn add_batch(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(batch): Json<Batch>,
) -> ApiResult<impl IntoResponse> {
    let mut items = Vec::with_capacity(batch.items.len());
    for (i, mut r) in batch.items.into_iter().enumerate() {
        r.scope = scoped(&c, r.scope).map_err(|e| {
            ApiError(memory::Error::invalid(format!(
                "items[{i}].{}",
                e.0.message()
            )))
        })?;
        items.push(r);
    }
    // A batch counts once for each user it writes for.
    let mut users: Vec<&str> = items
        .iter()
        .filter_map(|r| r.scope.user_id.as_deref())
        .collect();
    users.sort_unstable();
    users.dedup();
    for u in users {
        s.memory.check_user_rate(&c.tenant, u).await?;
    }
    Ok((
        StatusCode::CREATED,
        Json(BatchOutcome {
            items: s.memory.add_batch(items).await?,
        }),
    ))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    /// Only this user's memories.
    user_id: Option<String>,
    /// Only this agent's memories.
    agent_id: Option<String>,
    /// Only this session's memories.
    session_id: Option<String>,
    /// A filter in the JSON filter language, e.g. `{"kind":"preference"}`.
    filter: Option<String>,
    /// Page size (20 by default).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Also list memories a newer one superseded.
    include_superseded: Option<bool>,
    /// What was believed at this time (RFC 3339), instead of now.
    as_of: Option<chrono::DateTime<chrono::Utc>>,
}

pub(super) async fn list(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> ApiResult<impl IntoResponse> {
    let scope = access::limited(
        &s.memory,
        &c,
        Scope {
            tenant: String::new(),
            user_id: p.user_id,
            agent_id: p.agent_id,
            session_id: p.session_id,
        },
    )
    .await?;
    let filter = p.filter.as_deref().map(Filter::parse_str).transpose()?;
    let validity = Validity::from_options(p.include_superseded.unwrap_or(false), p.as_of)?;
    Ok(Json(
        s.memory
            .list(&scope, filter, validity, p.limit.unwrap_or(20), p.cursor)
            .await?,
    ))
}

pub(super) async fn get_memory(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(access::read(&s.memory, &c, id).await?))
}

pub(super) async fn update(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateRequest>,
) -> ApiResult<impl IntoResponse> {
    access::owned(&s.memory, &c, id).await?;
    Ok(Json(s.memory.update(&c.tenant, id, req).await?))
}

pub(super) async fn delete_memory(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    access::delete(&s.memory, &c, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn history(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    access::owned(&s.memory, &c, id).await?;
    Ok(Json(s.memory.history(&c.tenant, id).await?))
}

pub(super) async fn search(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(mut req): Json<SearchRequest>,
) -> ApiResult<impl IntoResponse> {
    req.scope = access::limited(&s.memory, &c, req.scope).await?;
    Ok(Json(s.memory.search(req).await?))
}
