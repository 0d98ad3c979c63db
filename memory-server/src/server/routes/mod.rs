//! Routes and handlers, one module per resource. Every handler works inside
//! the caller's binding: its tenant always, and its user when the key is
//! bound to one. The route table below builds both the router and the
//! OpenAPI document, so neither can name a route the other lacks.

mod jobs;
mod memories;
mod middleware;
mod ops;
mod rejections;
mod sessions;
mod sessions_crud;
mod topics;
mod users;

use std::sync::OnceLock;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use memory::{AddRequest, Scope, SearchRequest, UpdateRequest};
use serde_json::Value;

use super::access;
use super::auth::Caller;
use super::error::ApiResult;
use super::openapi::{self, Op};
use super::{AppState, mcp};

/// Every route, in the order the document lists them. The router and the
/// OpenAPI document are both built from this table, so neither can name a
/// route the other lacks.
pub(super) fn operations() -> Vec<Op> {
    use memory::{
        AddOutcome, EngineStats, ForgetReport, HistoryEvent, MemoryRecord, Message, MessageOutcome,
        Page, ScopeStats, SearchResponse, Session, SessionPatch, Topic, TopicPatch, User,
        UserPatch,
    };
    vec![
        Op::new("post", "/v1/memories", "Remember one memory", || {
            post(memories::add)
        })
        .body::<AddRequest>()
        .returns::<AddOutcome>(201),
        Op::new("get", "/v1/memories", "List memories, newest first", || {
            get(memories::list)
        })
        .query::<memories::ListParams>()
        .returns::<Page<MemoryRecord>>(200),
        Op::new(
            "post",
            "/v1/memories/batch",
            "Remember several memories",
            || post(memories::add_batch),
        )
        .body::<memories::Batch>()
        .returns::<memories::BatchOutcome>(201),
        Op::new(
            "post",
            "/v1/memories/search",
            "Hybrid, semantic or keyword search",
            || post(memories::search),
        )
        .body::<SearchRequest>()
        .returns::<SearchResponse>(200),
        Op::new(
            "get",
            "/v1/memories/{id}",
            "One memory (records the access)",
            || get(memories::get_memory),
        )
        .returns::<MemoryRecord>(200),
        Op::new("patch", "/v1/memories/{id}", "Change a memory", || {
            patch(memories::update)
        })
        .body::<UpdateRequest>()
        .returns::<MemoryRecord>(200),
        Op::new("delete", "/v1/memories/{id}", "Delete a memory", || {
            delete(memories::delete_memory)
        })
        .returns_nothing(204),
        Op::new(
            "get",
            "/v1/memories/{id}/history",
            "A memory's changes, oldest first",
            || get(memories::history),
        )
        .returns::<Vec<HistoryEvent>>(200),
        Op::new("post", "/v1/sessions", "Create a session", || {
            post(sessions_crud::create)
        })
        .body::<sessions_crud::CreateBody>()
        .returns::<Session>(201),
        Op::new(
            "get",
            "/v1/sessions",
            "List sessions (a user's, or by platform id), newest first",
            || get(sessions_crud::list),
        )
        .query::<sessions_crud::ListParams>()
        .returns::<Page<Session>>(200),
        Op::new("get", "/v1/sessions/{id}", "A session", || {
            get(sessions_crud::get_one)
        })
        .returns::<Session>(200),
        Op::new(
            "patch",
            "/v1/sessions/{id}",
            "Change a session's title, platform, platform id or metadata",
            || patch(sessions_crud::update),
        )
        .body::<SessionPatch>()
        .returns::<Session>(200),
        Op::new(
            "post",
            "/v1/sessions/{id}/topics",
            "Create a topic of the session",
            || post(topics::create),
        )
        .body::<topics::CreateBody>()
        .returns::<Topic>(201),
        Op::new(
            "get",
            "/v1/sessions/{id}/topics",
            "The session's topics, oldest first",
            || get(topics::list),
        )
        .query::<topics::ListParams>()
        .returns::<Page<Topic>>(200),
        Op::new("get", "/v1/topics/{id}", "A topic", || get(topics::get_one)).returns::<Topic>(200),
        Op::new(
            "patch",
            "/v1/topics/{id}",
            "Change a topic (title, outline, completed, metadata)",
            || patch(topics::update),
        )
        .body::<TopicPatch>()
        .returns::<Topic>(200),
        Op::new(
            "delete",
            "/v1/topics/{id}",
            "Delete a topic; its messages stay, unlinked",
            || delete(topics::delete),
        )
        .returns_nothing(204),
        Op::new(
            "post",
            "/v1/sessions/{id}/messages",
            "Record a message of a session",
            || post(sessions::record_message),
        )
        .body::<sessions::MessageBody>()
        .returns::<MessageOutcome>(201),
        Op::new(
            "get",
            "/v1/sessions/{id}/messages",
            "The session's recent window",
            || get(sessions::recent),
        )
        .query::<sessions::RecentParams>()
        .returns::<Vec<Message>>(200),
        Op::new(
            "post",
            "/v1/sessions/{id}/extract",
            "Queue the extraction of the session's unextracted messages",
            || post(sessions::extract),
        )
        .returns::<sessions::Queued>(202),
        Op::new(
            "get",
            "/v1/sessions/{id}/transcript",
            "Every message of the session, oldest first, a page at a time",
            || get(sessions::transcript),
        )
        .query::<sessions::TranscriptParams>()
        .returns::<memory::Page<Message>>(200),
        Op::new(
            "post",
            "/v1/sessions/{id}/messages/{message_id}/answered",
            "Mark a message answered",
            || post(sessions::answered),
        )
        .returns::<sessions::Answered>(200),
        Op::new(
            "post",
            "/v1/sessions/{id}/end",
            "End the session; its remaining messages are extracted and its summary finished",
            || post(sessions::end),
        )
        .returns::<memory::Session>(200),
        Op::new(
            "put",
            "/v1/sessions/{id}/extraction",
            "Turn extraction off or on for the session",
            || put(sessions::set_extraction),
        )
        .body::<sessions::ExtractionBody>()
        .returns::<memory::Session>(200),
        Op::new(
            "get",
            "/v1/sessions/{id}/context",
            "Prompt context for the next answer",
            || get(sessions::context),
        )
        .query::<sessions::ContextParams>()
        .returns::<memory::Context>(200),
        Op::new(
            "get",
            "/v1/users",
            "List users (or find one by platform id), most recently seen first",
            || get(users::list),
        )
        .query::<users::ListParams>()
        .returns::<Page<User>>(200),
        Op::new(
            "patch",
            "/v1/users/{id}",
            "Change a user's display name, platform id or metadata (creates the user if new)",
            || patch(users::update),
        )
        .body::<UserPatch>()
        .returns::<User>(200),
        Op::new(
            "get",
            "/v1/users/{id}/stats",
            "Counts for a user, or for a user with an agent",
            || get(users::stats),
        )
        .query::<users::StatsParams>()
        .returns::<ScopeStats>(200),
        Op::new(
            "get",
            "/v1/stats/{user_id}/{agent_id}",
            "Counts for a user with an agent (a character)",
            || get(users::stats_with_agent),
        )
        .returns::<ScopeStats>(200),
        Op::new("get", "/v1/users/{id}", "A user's profile", || {
            get(users::get_user)
        })
        .returns::<User>(200),
        Op::new("delete", "/v1/users/{id}", "Forget a user entirely", || {
            delete(users::forget_user)
        })
        .returns::<ForgetReport>(200),
        Op::new("get", "/v1/status", "Which backend serves what", || {
            get(ops::status)
        })
        .returns::<serde_json::Map<String, serde_json::Value>>(200),
        Op::new("get", "/v1/stats", "Counts for the caller's tenant", || {
            get(ops::stats)
        })
        .returns::<EngineStats>(200),
        Op::new(
            "get",
            "/v1/jobs",
            "The job queue: counts, the tenant's jobs or dead letters",
            || get(jobs::list),
        )
        .query::<jobs::JobsParams>()
        .returns::<jobs::JobsView>(200),
        Op::new(
            "post",
            "/v1/jobs/retry",
            "Make dead letters due again",
            || post(jobs::retry),
        )
        .body::<jobs::DeadLetters>()
        .returns::<jobs::Changed>(200),
        Op::new("post", "/v1/jobs/purge", "Delete dead letters", || {
            post(jobs::purge)
        })
        .body::<jobs::DeadLetters>()
        .returns::<jobs::Changed>(200),
        Op::new("get", "/healthz", "Liveness", || get(|| async { "ok" }))
            .public()
            .returns_text(200),
        Op::new("get", "/readyz", "Readiness: the store answers", || {
            get(ops::ready)
        })
        .public()
        .returns_text(200),
        Op::new("get", "/metrics", "Prometheus metrics", || {
            get(ops::metrics)
        })
        .public()
        .returns_text(200),
        Op::new("get", "/openapi.json", "This document", || {
            get(serve_openapi)
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
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::authenticate,
        ));
    public
        .merge(super::ui::routes())
        .merge(api)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::measure,
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::loopback_host,
        ))
        .layer(axum::middleware::from_fn(rejections::json_errors))
        .with_state(state)
}

/// `scope` forced into the caller's binding.
fn scoped(caller: &Caller, scope: Scope) -> ApiResult<Scope> {
    Ok(access::scoped(caller, scope)?)
}

/// The OpenAPI document of this build, rendered once.
pub fn openapi() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| openapi::document(&operations()))
}

async fn serve_openapi() -> Json<Value> {
    Json(openapi().clone())
}
