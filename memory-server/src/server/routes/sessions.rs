//! Sessions: record a message, the recent window, prompt context.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use memory::{Metadata, RecordMessage, Role, Scope};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::server::AppState;
use crate::server::access::{self, DEFAULT_BUDGET};
use crate::server::auth::Caller;
use crate::server::error::ApiResult;

/// A message to record.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MessageBody {
    /// The user who takes part in the session.
    #[serde(default)]
    user_id: Option<String>,
    /// The agent that takes part in the session.
    #[serde(default)]
    agent_id: Option<String>,
    /// user (default), assistant, system or tool.
    #[serde(default)]
    role: Role,
    /// A display name for the author.
    #[serde(default)]
    author_name: Option<String>,
    /// The message text.
    content: String,
    /// A JSON object kept with the message.
    #[serde(default)]
    metadata: Metadata,
    /// The author's id on the platform (a chat viewer's channel id), unique
    /// per platform.
    #[serde(default)]
    external_id: Option<String>,
    /// The sender's own id for the message, unique in the session: a retry
    /// with an id already recorded is a no-op answering the first message
    /// (`duplicate: true`).
    #[serde(default)]
    client_id: Option<String>,
    /// Where the message came from (discord, web, …).
    #[serde(default)]
    platform: Option<String>,
    /// Whether the agent has already answered it.
    #[serde(default)]
    answered: bool,
    /// Also keep it as a searchable memory of kind `message` (the server's
    /// `remember_messages` when omitted).
    #[serde(default)]
    remember: Option<bool>,
    /// The topic of the session it is about.
    #[serde(default)]
    topic_id: Option<uuid::Uuid>,
    /// When it was said (RFC 3339), for importing a past conversation; now
    /// when omitted; at most a minute ahead of the server's clock.
    #[serde(default)]
    created_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub(super) async fn record_message(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(session): Path<String>,
    Json(b): Json<MessageBody>,
) -> ApiResult<impl IntoResponse> {
    access::session_allowed(&s.memory, &c, &session).await?;
    let scope = access::limited(
        &s.memory,
        &c,
        Scope {
            tenant: String::new(),
            user_id: b.user_id,
            agent_id: b.agent_id.clone(),
            session_id: None,
        },
    )
    .await?;
    let req = RecordMessage {
        tenant: scope.tenant,
        session_id: session,
        user_id: scope.user_id,
        agent_id: b.agent_id,
        role: b.role,
        author_name: b.author_name,
        content: b.content,
        metadata: b.metadata,
        external_id: b.external_id,
        platform: b.platform,
        answered: b.answered,
        remember: b.remember,
        client_id: b.client_id,
        topic_id: b.topic_id,
        created_at: b.created_at,
    };
    Ok((
        StatusCode::CREATED,
        Json(s.memory.record_message(req).await?),
    ))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RecentParams {
    /// How many messages, newest last (20 by default).
    limit: Option<usize>,
}

pub(super) async fn recent(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(session): Path<String>,
    Query(p): Query<RecentParams>,
) -> ApiResult<impl IntoResponse> {
    access::session_allowed(&s.memory, &c, &session).await?;
    Ok(Json(
        s.memory
            .recent(&c.tenant, &session, p.limit.unwrap_or(20))
            .await?,
    ))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ContextParams {
    /// What the next answer is about; selects relevant memories.
    query: Option<String>,
    /// Token budget of the rendered text (1000 by default).
    budget: Option<usize>,
    /// Whose memories to draw on.
    user_id: Option<String>,
    /// The agent whose memories to draw on.
    agent_id: Option<String>,
}

pub(super) async fn context(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(session): Path<String>,
    Query(p): Query<ContextParams>,
) -> ApiResult<impl IntoResponse> {
    let scope = Scope {
        tenant: String::new(),
        user_id: p.user_id,
        agent_id: p.agent_id,
        session_id: None,
    };
    let query = p.query.as_deref().unwrap_or("");
    let budget = p.budget.unwrap_or(DEFAULT_BUDGET);
    Ok(Json(
        access::context(&s.memory, &c, &session, scope, query, budget).await?,
    ))
}

/// That an extraction was queued.
#[derive(serde::Serialize, JsonSchema)]
pub(super) struct Queued {
    /// Always true: the worker runs the job.
    queued: bool,
    /// The session.
    session_id: String,
}

pub(super) async fn extract(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(session): Path<String>,
) -> ApiResult<impl IntoResponse> {
    access::session_allowed(&s.memory, &c, &session).await?;
    s.memory.queue_extraction(&c.tenant, &session).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            queued: true,
            session_id: session,
        }),
    ))
}

pub(super) async fn end(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(session): Path<String>,
) -> ApiResult<impl IntoResponse> {
    access::session_allowed(&s.memory, &c, &session).await?;
    Ok(Json(s.memory.end_session(&c.tenant, &session).await?))
}

/// Whether a session's messages are extracted into memories.
#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ExtractionBody {
    /// False leaves the session's messages unextracted until turned back on.
    enabled: bool,
}

pub(super) async fn set_extraction(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(session): Path<String>,
    Json(b): Json<ExtractionBody>,
) -> ApiResult<impl IntoResponse> {
    access::session_allowed(&s.memory, &c, &session).await?;
    Ok(Json(
        s.memory
            .set_session_extraction(&c.tenant, &session, b.enabled)
            .await?,
    ))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TranscriptParams {
    /// Page size (100 by default).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only the messages about this topic.
    topic_id: Option<uuid::Uuid>,
}

pub(super) async fn transcript(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(session): Path<String>,
    Query(p): Query<TranscriptParams>,
) -> ApiResult<impl IntoResponse> {
    access::session_allowed(&s.memory, &c, &session).await?;
    Ok(Json(
        s.memory
            .transcript(
                &c.tenant,
                &session,
                p.topic_id,
                p.limit.unwrap_or(100),
                p.cursor.as_deref(),
            )
            .await?,
    ))
}

/// That a message was marked answered.
#[derive(serde::Serialize, JsonSchema)]
pub(super) struct Answered {
    /// The message.
    id: uuid::Uuid,
    /// Always true.
    answered: bool,
}

pub(super) async fn answered(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((session, id)): Path<(String, uuid::Uuid)>,
) -> ApiResult<impl IntoResponse> {
    access::session_allowed(&s.memory, &c, &session).await?;
    s.memory.mark_answered(&c.tenant, &session, id).await?;
    Ok(Json(Answered { id, answered: true }))
}
