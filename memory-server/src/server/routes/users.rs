//! Users: a profile, and forgetting everything about one.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use memory::Scope;

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
