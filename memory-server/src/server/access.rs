//! What a caller may touch, shared by the REST routes and the MCP tools so
//! both enforce one binding.

use memory::{Error, ErrorKind, Memory, MemoryRecord, Result, Scope};
use uuid::Uuid;

use super::auth::Caller;

/// Tokens of context when the caller names no budget.
pub(super) const DEFAULT_BUDGET: usize = 1000;

/// The answer for anything outside the caller's binding: `NotFound`, so ids
/// belonging to other users are not revealed.
pub(super) fn hidden() -> Error {
    Error::new(ErrorKind::NotFound, "not found")
}

/// `scope` forced into the caller's binding.
pub(super) fn scoped(caller: &Caller, scope: Scope) -> Result<Scope> {
    caller
        .scope(scope)
        .ok_or_else(|| Error::invalid("scope: this API key is bound to another user"))
}

/// `scope` forced into the caller's binding, counted against the per-user
/// limit of the user it acts on: one service key serving many users limits
/// each of them apart.
pub(super) async fn limited(memory: &Memory, caller: &Caller, scope: Scope) -> Result<Scope> {
    let scope = scoped(caller, scope)?;
    if let Some(user) = &scope.user_id {
        memory.check_user_rate(&scope.tenant, user).await?;
    }
    Ok(scope)
}

/// The memory if the caller may see it.
pub(super) async fn owned(memory: &Memory, caller: &Caller, id: Uuid) -> Result<MemoryRecord> {
    match memory.find(&caller.tenant, id).await? {
        Some(m) if caller.may_touch(m.scope.user_id.as_deref()) => Ok(m),
        _ => Err(hidden()),
    }
}

/// The memory if the caller may see it, recording the access.
pub(super) async fn read(memory: &Memory, caller: &Caller, id: Uuid) -> Result<MemoryRecord> {
    memory
        .get_visible(&caller.tenant, id, |m| {
            caller.may_touch(m.scope.user_id.as_deref())
        })
        .await
        .map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                hidden()
            } else {
                e
            }
        })
}

/// Deletes the memory if the caller may see it.
pub(super) async fn delete(memory: &Memory, caller: &Caller, id: Uuid) -> Result<()> {
    owned(memory, caller, id).await?;
    memory.delete(&caller.tenant, id).await
}

/// A session the caller may touch: one bound to its user (or new), or any
/// when the key is bound to no user.
pub(super) async fn session_allowed(memory: &Memory, caller: &Caller, session: &str) -> Result<()> {
    if caller.user_id.is_none() {
        return Ok(());
    }
    match memory.session(&caller.tenant, session).await? {
        Some(s) if !caller.may_touch(s.user_id.as_deref()) => Err(hidden()),
        _ => Ok(()),
    }
}

/// Prompt context for a session, inside the caller's binding.
pub(super) async fn context(
    memory: &Memory,
    caller: &Caller,
    session: &str,
    scope: Scope,
    query: &str,
    budget: usize,
) -> Result<memory::Context> {
    session_allowed(memory, caller, session).await?;
    let scope = limited(memory, caller, scope).await?;
    memory.context(&scope, Some(session), query, budget).await
}
