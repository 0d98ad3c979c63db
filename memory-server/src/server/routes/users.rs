//! Users (seed 000's viewers): a profile, changing it, listing and
//! looking up by platform id, counts with an agent, and forgetting one.

use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use memory::{Scope, ScopeStats, UserPatch, UserQuery};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::server::AppState;
use crate::server::access;
use crate::server::auth::Caller;
use crate::server::error::ApiResult;

pub(super) async fn get_user(
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

pub(super) async fn forget_user(
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

/// Which users to list, most recently seen first.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    /// Only on this platform.
    platform: Option<String>,
    /// Only the one with this id on the platform (a viewer's channel id).
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
    // A key bound to a user lists that user alone, if it matches.
    if let Some(me) = &c.user_id {
        let items = s
            .memory
            .user(&c.tenant, me)
            .await?
            .filter(|u| {
                p.platform
                    .as_ref()
                    .is_none_or(|x| u.platform.as_ref() == Some(x))
                    && p.external_id
                        .as_ref()
                        .is_none_or(|x| u.external_id.as_ref() == Some(x))
            })
            .into_iter()
            .collect();
        return Ok(Json(memory::Page {
            items,
            next_cursor: None,
        }));
    }
    let query = UserQuery {
        platform: p.platform,
        external_id: p.external_id,
        after: None,
        limit: p.limit.unwrap_or(50),
    };
    Ok(Json(
        s.memory
            .list_users(&c.tenant, query, p.cursor.as_deref())
            .await?,
    ))
}

pub(super) async fn update(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(patch): Json<UserPatch>,
) -> ApiResult<impl IntoResponse> {
    if !c.may_touch(Some(&id)) {
        return Err(access::hidden().into());
    }
    Ok(Json(s.memory.update_user(&c.tenant, &id, patch).await?))
}

/// Whose counts, with the user.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StatsParams {
    /// Only what the user shares with this agent.
    agent_id: Option<String>,
}

pub(super) async fn stats(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Query(p): Query<StatsParams>,
) -> ApiResult<impl IntoResponse> {
    pair_stats(s, c, id, p.agent_id).await
}

/// Seed 003's `/memory/stats/{user_id}/{character_name}`: the character
/// is the agent.
pub(super) async fn stats_with_agent(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((user, agent)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    pair_stats(s, c, user, Some(agent)).await
}

async fn pair_stats(
    s: AppState,
    c: Caller,
    user: String,
    agent: Option<String>,
) -> ApiResult<Json<ScopeStats>> {
    if !c.may_touch(Some(&user)) {
        return Err(access::hidden().into());
    }
    let scope = Scope {
        tenant: c.tenant.clone(),
        user_id: Some(user),
        agent_id: agent,
        session_id: None,
    };
    Ok(Json(s.memory.scope_stats(&scope).await?))
}
