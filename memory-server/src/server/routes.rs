//! Routes and handlers. Every handler works inside the caller's binding:
//! its tenant always, and its user when the key is bound to one.

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use memory::{
    AddRequest, Filter, Metadata, RecordMessage, Role, Scope, SearchRequest, UpdateRequest,
};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, denied};

pub(super) fn router(state: AppState, max_body_bytes: usize) -> Router {
    let api = Router::new()
        .route("/v1/memories", post(add).get(list))
        .route("/v1/memories/batch", post(add_batch))
        .route("/v1/memories/search", post(search))
        .route(
            "/v1/memories/{id}",
            get(get_memory).patch(update).delete(delete),
        )
        .route("/v1/memories/{id}/history", get(history))
        .route(
            "/v1/sessions/{id}/messages",
            post(record_message).get(recent),
        )
        .route("/v1/sessions/{id}/context", get(context))
        .route("/v1/users/{id}", get(get_user).delete(forget_user))
        .route("/v1/status", get(status))
        .route("/v1/stats", get(stats))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .merge(api)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
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

async fn measure(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let start = Instant::now();
    let resp = next.run(req).await;
    state.metrics.record(
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

fn forbidden() -> ApiError {
    ApiError(memory::Error::new(memory::ErrorKind::NotFound, "not found"))
}

fn scoped(caller: &Caller, scope: Scope) -> ApiResult<Scope> {
    caller.scope(scope).ok_or_else(|| {
        ApiError(memory::Error::invalid(
            "scope: this API key is bound to another user",
        ))
    })
}

async fn add(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(mut req): Json<AddRequest>,
) -> ApiResult<impl IntoResponse> {
    req.scope = scoped(&c, req.scope)?;
    Ok((StatusCode::CREATED, Json(s.memory.add(req).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    items: Vec<AddRequest>,
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
        Json(serde_json::json!({ "items": s.memory.add_batch(items).await? })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    user_id: Option<String>,
    agent_id: Option<String>,
    session_id: Option<String>,
    filter: Option<String>,
    limit: Option<usize>,
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

/// The memory if the caller may see it; otherwise `NotFound`, so ids of
/// other users are not revealed.
async fn owned(s: &AppState, c: &Caller, id: Uuid) -> ApiResult<memory::MemoryRecord> {
    let found = s.memory.store().get_memories(&c.tenant, &[id]).await?.pop();
    match found {
        Some(m) if c.may_touch(m.scope.user_id.as_deref()) => Ok(m),
        _ => Err(forbidden()),
    }
}

async fn get_memory(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    owned(&s, &c, id).await?;
    Ok(Json(s.memory.get(&c.tenant, id).await?))
}

async fn update(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateRequest>,
) -> ApiResult<impl IntoResponse> {
    owned(&s, &c, id).await?;
    Ok(Json(s.memory.update(&c.tenant, id, req).await?))
}

async fn delete(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    owned(&s, &c, id).await?;
    s.memory.delete(&c.tenant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn history(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    owned(&s, &c, id).await?;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default)]
    role: Role,
    #[serde(default)]
    author_name: Option<String>,
    content: String,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    answered: bool,
}

/// A session the caller may touch: one bound to its user, or any when unbound.
async fn session_allowed(s: &AppState, c: &Caller, session: &str) -> ApiResult<()> {
    if c.user_id.is_none() {
        return Ok(());
    }
    match s.memory.store().get_session(&c.tenant, session).await? {
        Some(sess) if c.may_touch(sess.user_id.as_deref()) => Ok(()),
        None => Ok(()),
        Some(_) => Err(forbidden()),
    }
}

async fn record_message(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(session): Path<String>,
    Json(b): Json<MessageBody>,
) -> ApiResult<impl IntoResponse> {
    session_allowed(&s, &c, &session).await?;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecentParams {
    limit: Option<usize>,
}

async fn recent(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(session): Path<String>,
    Query(p): Query<RecentParams>,
) -> ApiResult<impl IntoResponse> {
    session_allowed(&s, &c, &session).await?;
    Ok(Json(
        s.memory
            .recent(&c.tenant, &session, p.limit.unwrap_or(20))
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextParams {
    query: Option<String>,
    budget: Option<usize>,
    user_id: Option<String>,
    agent_id: Option<String>,
}

async fn context(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(session): Path<String>,
    Query(p): Query<ContextParams>,
) -> ApiResult<impl IntoResponse> {
    session_allowed(&s, &c, &session).await?;
    let scope = scoped(
        &c,
        Scope {
            tenant: String::new(),
            user_id: p.user_id,
            agent_id: p.agent_id,
            session_id: None,
        },
    )?;
    let ctx = s
        .memory
        .context(
            &scope,
            Some(&session),
            p.query.as_deref().unwrap_or(""),
            p.budget.unwrap_or(1000),
        )
        .await?;
    Ok(Json(ctx))
}

async fn get_user(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    if !c.may_touch(Some(&id)) {
        return Err(forbidden());
    }
    let user = s
        .memory
        .store()
        .get_user(&c.tenant, &id)
        .await?
        .ok_or_else(forbidden)?;
    Ok(Json(user))
}

async fn forget_user(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    if !c.may_touch(Some(&id)) {
        return Err(forbidden());
    }
    Ok(Json(
        s.memory
            .forget(&Scope::user(id).with_tenant(c.tenant.clone()))
            .await?,
    ))
}

async fn status(State(s): State<AppState>) -> impl IntoResponse {
    Json(s.memory.status())
}

async fn stats(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.memory.stats(Some(&c.tenant)).await?))
}

async fn ready(State(s): State<AppState>) -> Response {
    match s.memory.store().stats(Some(memory::DEFAULT_TENANT)).await {
        Ok(_) => "ready".into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let outbox = s
        .memory
        .store()
        .stats(None)
        .await
        .map(|st| st.outbox_pending)
        .unwrap_or(0);
    let failures = s
        .memory
        .stats(None)
        .await
        .map(|st| st.short_term_failures)
        .unwrap_or(0);
    (
        [("content-type", "text/plain; version=0.0.4")],
        s.metrics.render(failures, outbox),
    )
}
