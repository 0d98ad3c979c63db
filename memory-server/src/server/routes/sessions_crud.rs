//! Sessions managed explicitly (seed 000's streams): create, get, change,
//! list a user's, look up by platform id.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use memory::{Metadata, NewSession, SessionPatch, SessionQuery};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::server::AppState;
use crate::server::access;
use crate::server::auth::Caller;
use crate::server::error::ApiResult;

/// A session to create.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    /// Its id; a UUIDv7 when omitted.
    #[serde(default)]
    id: Option<String>,
    /// The user it belongs to (a key bound to a user: that user).
    #[serde(default)]
    user_id: Option<String>,
    /// The agent in it.
    #[serde(default)]
    agent_id: Option<String>,
    /// Title.
    #[serde(default)]
    title: Option<String>,
    /// Platform; `youtube` when omitted.
    #[serde(default)]
    platform: Option<String>,
    /// Its id on the platform (a video id), unique per platform.
    #[serde(default)]
    external_id: Option<String>,
    /// When it started; now when omitted.
    #[serde(default)]
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A JSON object kept with it.
    #[serde(default)]
    metadata: Metadata,
}

pub(super) async fn create(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(b): Json<CreateBody>,
) -> ApiResult<impl IntoResponse> {
    let user_id = match (&c.user_id, b.user_id) {
        (Some(bound), Some(asked)) if *bound != asked => {
            return Err(
                memory::Error::invalid("user_id: this API key is bound to another user").into(),
            );
        }
        (Some(bound), _) => Some(bound.clone()),
        (None, asked) => asked,
    };
    let new = NewSession {
        tenant: c.tenant.clone(),
        id: b.id,
        user_id,
        agent_id: b.agent_id,
        title: b.title,
        platform: b.platform,
        external_id: b.external_id,
        started_at: b.started_at,
        metadata: b.metadata,
    };
    Ok((
        StatusCode::CREATED,
        Json(s.memory.create_session(new).await?),
    ))
}

pub(super) async fn get_one(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    match s.memory.session(&c.tenant, &id).await? {
        Some(session) if c.may_touch(session.user_id.as_deref()) => Ok(Json(session)),
        _ => Err(access::hidden().into()),
    }
}

pub(super) async fn update(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(patch): Json<SessionPatch>,
) -> ApiResult<impl IntoResponse> {
    match s.memory.session(&c.tenant, &id).await? {
        Some(session) if c.may_touch(session.user_id.as_deref()) => {}
        _ => return Err(access::hidden().into()),
    }
    Ok(Json(s.memory.update_session(&c.tenant, &id, patch).await?))
}

/// Which sessions to list, newest started first.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    /// Only this user's (a key bound to a user: always that user's).
    user_id: Option<String>,
    /// Only with this agent.
    agent_id: Option<String>,
    /// Only on this platform.
    platform: Option<String>,
    /// Only the one with this id on the platform.
    external_id: Option<String>,
    /// Page size (50 by default).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

pub(super) async fn list(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> ApiResult<impl IntoResponse> {
    if p.user_id.is_some() && !c.may_touch(p.user_id.as_deref()) {
        return Err(access::hidden().into());
    }
    let query = SessionQuery {
        user_id: c.user_id.clone().or(p.user_id),
        agent_id: p.agent_id,
        platform: p.platform,
        external_id: p.external_id,
        after: None,
        limit: p.limit.unwrap_or(50),
    };
    Ok(Json(
        s.memory
            .list_sessions(&c.tenant, query, p.cursor.as_deref())
            .await?,
    ))
}
