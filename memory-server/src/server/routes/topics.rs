//! Topics of a session (seed 000): create, list, get, change, delete.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use memory::{Metadata, NewTopic, Topic, TopicPatch, TopicQuery};
use schemars::JsonSchema;
use serde::Deserialize;
use uuid::Uuid;

use crate::server::AppState;
use crate::server::access;
use crate::server::auth::Caller;
use crate::server::error::ApiResult;

/// A topic to create in the session.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    /// Title.
    title: String,
    /// Any JSON: the planned points, usually a list.
    #[serde(default)]
    outline: serde_json::Value,
    /// Whether it was covered.
    #[serde(default)]
    completed: bool,
    /// A JSON object kept with it.
    #[serde(default)]
    metadata: Metadata,
}

pub(super) async fn create(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(session): Path<String>,
    Json(b): Json<CreateBody>,
) -> ApiResult<impl IntoResponse> {
    access::session_allowed(&s.memory, &c, &session).await?;
    let new = NewTopic {
        tenant: c.tenant.clone(),
        session_id: session,
        title: b.title,
        outline: b.outline,
        completed: b.completed,
        metadata: b.metadata,
    };
    Ok((StatusCode::CREATED, Json(s.memory.create_topic(new).await?)))
}

/// Which topics of the session to list, oldest first.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    /// Only covered (true) or open (false) ones.
    completed: Option<bool>,
    /// Page size (100 by default).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

pub(super) async fn list(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(session): Path<String>,
    Query(p): Query<ListParams>,
) -> ApiResult<impl IntoResponse> {
    access::session_allowed(&s.memory, &c, &session).await?;
    let query = TopicQuery {
        session_id: Some(session),
        completed: p.completed,
        after: None,
        limit: p.limit.unwrap_or(100),
    };
    Ok(Json(
        s.memory
            .list_topics(&c.tenant, query, p.cursor.as_deref())
            .await?,
    ))
}

/// The topic if the caller may touch its session.
async fn visible(s: &AppState, c: &Caller, id: Uuid) -> memory::Result<Topic> {
    let topic = s.memory.topic(&c.tenant, id).await?;
    access::session_allowed(&s.memory, c, &topic.session_id).await?;
    Ok(topic)
}

pub(super) async fn get_one(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(visible(&s, &c, id).await?))
}

pub(super) async fn update(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
    Json(patch): Json<TopicPatch>,
) -> ApiResult<impl IntoResponse> {
    visible(&s, &c, id).await?;
    Ok(Json(s.memory.update_topic(&c.tenant, id, patch).await?))
}

pub(super) async fn delete(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    visible(&s, &c, id).await?;
    s.memory.delete_topic(&c.tenant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
