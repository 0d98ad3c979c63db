//! Routes and handlers. Every handler works inside the caller's binding:
//! its tenant always, and its user when the key is bound to one.

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Extension, Json, Router};
use memory::{
    AddRequest, Filter, Metadata, RecordMessage, Role, Scope, SearchRequest, UpdateRequest,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::access::{self, DEFAULT_BUDGET};
use super::auth::Caller;
use super::error::{ApiError, ApiResult, denied};
use super::openapi::{self, Op};
use super::{AppState, mcp};

/// Every route, in the order the document lists them. The router and the
/// OpenAPI document are both built from this table, so neither can name a
/// route the other lacks.
pub(super) fn operations() -> Vec<Op> {
    use memory::{
        AddOutcome, EngineStats, ForgetReport, HistoryEvent, MemoryRecord, Message, MessageOutcome,
        Page, SearchResponse, User,
    };
    vec![
        Op::new("post", "/v1/memories", "Remember one memory", || post(add))
            .body::<AddRequest>()
            .returns::<AddOutcome>(201),
        Op::new("get", "/v1/memories", "List memories, newest first", || {
            get(list)
        })
        .query::<ListParams>()
        .returns::<Page<MemoryRecord>>(200),
        Op::new(
            "post",
            "/v1/memories/batch",
            "Remember several memories",
            || post(add_batch),
        )
        .body::<Batch>()
        .returns::<BatchOutcome>(201),
        Op::new(
            "post",
            "/v1/memories/search",
            "Hybrid, semantic or keyword search",
            || post(search),
        )
        .body::<SearchRequest>()
        .returns::<SearchResponse>(200),
        Op::new(
            "get",
            "/v1/memories/{id}",
            "One memory (records the access)",
            || get(get_memory),
        )
        .returns::<MemoryRecord>(200),
        Op::new("patch", "/v1/memories/{id}", "Change a memory", || {
            patch(update)
        })
        .body::<UpdateRequest>()
        .returns::<MemoryRecord>(200),
        Op::new("delete", "/v1/memories/{id}", "Delete a memory", || {
            delete(delete_memory)
        })
        .returns_nothing(204),
        Op::new(
            "get",
            "/v1/memories/{id}/history",
            "A memory's changes, oldest first",
            || get(history),
        )
        .returns::<Vec<HistoryEvent>>(200),
        Op::new(
            "post",
            "/v1/sessions/{id}/messages",
            "Record a message of a session",
            || post(record_message),
        )
        .body::<MessageBody>()
        .returns::<MessageOutcome>(201),
        Op::new(
            "get",
            "/v1/sessions/{id}/messages",
            "The session's recent window",
            || get(recent),
        )
        .query::<RecentParams>()
        .returns::<Vec<Message>>(200),
        Op::new(
            "get",
            "/v1/sessions/{id}/context",
            "Prompt context for the next answer",
            || get(context),
        )
        .query::<ContextParams>()
        .returns::<memory::Context>(200),
        Op::new("get", "/v1/users/{id}", "A user's profile", || {
            get(get_user)
        })
        .returns::<User>(200),
        Op::new("delete", "/v1/users/{id}", "Forget a user entirely", || {
            delete(forget_user)
        })
        .returns::<ForgetReport>(200),
        Op::new("get", "/v1/status", "Which backend serves what", || {
            get(status)
        })
        .returns::<serde_json::Map<String, serde_json::Value>>(200),
        Op::new("get", "/v1/stats", "Counts for the caller's tenant", || {
            get(stats)
        })
        .returns::<EngineStats>(200),
        Op::new("get", "/healthz", "Liveness", || get(|| async { "ok" }))
            .public()
            .returns_text(200),
        Op::new("get", "/readyz", "Readiness: the store answers", || {
            get(ready)
        })
        .public()
        .returns_text(200),
        Op::new("get", "/metrics", "Prometheus metrics", || get(metrics))
            .public()
            .returns_text(200),
        Op::new("get", "/openapi.json", "This document", || {
            get(openapi::serve)
        })
        .public()
        .returns::<serde_json::Map<String, serde_json::Value>>(200),
    ]
}

pub(super) fn router(state: AppState, max_body_bytes: usize) -> Router {
    let mut api = Router::new();
    let mut public = Router::new();
    for (path, authenticated, route) in openapi::routes(operations()) {
        if authenticated {
            api = api.route(path, route);
        } else {
            public = public.route(path, route);
        }
    }
    let api = api
        .nest_service(
            openapi::MCP_PATH,
            mcp::http_service(state.memory.clone(), state.auth.is_open(), max_body_bytes),
        )
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    public
        .merge(api)
        .layer(middleware::from_fn_with_state(state.clone(), measure))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// Resolves the caller from its key and applies the rate limits.
async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
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
async fn measure(State(state): State<AppState>, req: Request, next: Next) -> Response {
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

fn scoped(caller: &Caller, scope: Scope) -> ApiResult<Scope> {
    Ok(access::scoped(caller, scope)?)
}

async fn add(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(mut req): Json<AddRequest>,
) -> ApiResult<impl IntoResponse> {
    req.scope = scoped(&c, req.scope)?;
    Ok((StatusCode::CREATED, Json(s.memory.add(req).await?)))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Batch {
    /// The memories, at most the engine's `max_batch`.
    items: Vec<AddRequest>,
}

/// What a batch add did, item by item in request order.
#[derive(Serialize, JsonSchema)]
struct BatchOutcome {
    /// One outcome per requested item.
    items: Vec<memory::AddOutcome>,
}

async fn add_batch(
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
    Ok((
        StatusCode::CREATED,
        Json(BatchOutcome {
            items: s.memory.add_batch(items).await?,
        }),
    ))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListParams {
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
}

async fn list(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> ApiResult<impl IntoResponse> {
    let scope = scoped(
        &c,
        Scope {
            tenant: String::new(),
            user_id: p.user_id,
            agent_id: p.agent_id,
            session_id: p.session_id,
        },
    )?;
    let filter = p.filter.as_deref().map(Filter::parse_str).transpose()?;
    Ok(Json(
        s.memory
            .list(&scope, filter, p.limit.unwrap_or(20), p.cursor)
            .await?,
    ))
}

async fn get_memory(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(access::read(&s.memory, &c, id).await?))
}

async fn update(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateRequest>,
) -> ApiResult<impl IntoResponse> {
    access::owned(&s.memory, &c, id).await?;
    Ok(Json(s.memory.update(&c.tenant, id, req).await?))
}

async fn delete_memory(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    access::delete(&s.memory, &c, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn history(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    access::owned(&s.memory, &c, id).await?;
    Ok(Json(s.memory.history(&c.tenant, id).await?))
}

async fn search(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(mut req): Json<SearchRequest>,
) -> ApiResult<impl IntoResponse> {
    req.scope = scoped(&c, req.scope)?;
    Ok(Json(s.memory.search(req).await?))
}

/// A message to record.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MessageBody {
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
    /// The message's id on its platform (a retry with the same id is ignored).
    #[serde(default)]
    external_id: Option<String>,
    /// Where the message came from (discord, web, …).
    #[serde(default)]
    platform: Option<String>,
    /// Whether the agent has already answered it.
    #[serde(default)]
    answered: bool,
}

async fn record_message(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(session): Path<String>,
    Json(b): Json<MessageBody>,
) -> ApiResult<impl IntoResponse> {
    access::session_allowed(&s.memory, &c, &session).await?;
    let scope = scoped(
        &c,
        Scope {
            tenant: String::new(),
            user_id: b.user_id,
            agent_id: b.agent_id.clone(),
            session_id: None,
        },
    )?;
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
    };
    Ok((
        StatusCode::CREATED,
        Json(s.memory.record_message(req).await?),
    ))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RecentParams {
    /// How many messages, newest last (20 by default).
    limit: Option<usize>,
}

async fn recent(
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
struct ContextParams {
    /// What the next answer is about; selects relevant memories.
    query: Option<String>,
    /// Token budget of the rendered text (1000 by default).
    budget: Option<usize>,
    /// Whose memories to draw on.
    user_id: Option<String>,
    /// The agent whose memories to draw on.
    agent_id: Option<String>,
}

async fn context(
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

async fn get_user(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    if !c.may_touch(Some(&id)) {
        return Err(access::hidden().into());
    }
    let user = s
        .memory
        .user(&c.tenant, &id)
        .await?
        .ok_or_else(access::hidden)?;
    Ok(Json(user))
}

async fn forget_user(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    if !c.may_touch(Some(&id)) {
        return Err(access::hidden().into());
    }
    Ok(Json(
        s.memory
            .forget(&Scope::user(id).with_tenant(c.tenant.clone()))
            .await?,
    ))
}

async fn status(State(s): State<AppState>, Extension(c): Extension<Caller>) -> impl IntoResponse {
    Json(backends_for(&c, s.memory.status()))
}

/// Which backends serve, as a caller may see it: where they are (hosts,
/// databases, skipped fallbacks) only for keys not bound to one user.
fn backends_for(caller: &Caller, mut status: serde_json::Value) -> serde_json::Value {
    if caller.user_id.is_some()
        && let Some(roles) = status.as_object_mut()
    {
        roles.remove("vectors_skipped");
        for role in roles.values_mut() {
            if let Some(r) = role.as_object_mut() {
                r.remove("location");
            }
        }
    }
    status
}

async fn stats(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> ApiResult<impl IntoResponse> {
    let mut stats = s.memory.stats(Some(&c.tenant)).await?;
    stats.backends = backends_for(&c, stats.backends);
    Ok(Json(stats))
}

async fn ready(State(s): State<AppState>) -> Response {
    match s.memory.store_stats(Some(memory::DEFAULT_TENANT)).await {
        Ok(_) => "ready".into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let outbox = s
        .memory
        .store_stats(None)
        .await
        .map(|st| st.outbox_pending)
        .unwrap_or(0);
    let failures = s.memory.short_term_failures();
    (
        [("content-type", "text/plain; version=0.0.4")],
        s.metrics.render(failures, outbox),
    )
}
