//! Reads: one memory, a page of memories, history, sessions and users.

use uuid::Uuid;

use super::Memory;
use super::scope::scope_filter;
use super::validity::Validity;
use crate::traits::{ListQuery, ScopeStats, StoreStats};
use crate::{Error, Filter, MemoryRecord, Page, Result, Scope, Session, User};

impl Memory {
    /// The stored memory, or `NotFound`.
    pub(super) async fn current(&self, tenant: &str, id: Uuid) -> Result<MemoryRecord> {
        self.inner
            .store
            .get_memories(tenant, &[id])
            .await?
            .pop()
            .ok_or_else(|| Error::not_found(format!("memory {id} not found")))
    }

    /// A memory by id; touches its access time.
    pub async fn get(&self, tenant: &str, id: Uuid) -> Result<MemoryRecord> {
        self.get_visible(tenant, id, |_| true).await
    }

    /// Like [`Memory::get`], for a caller who may see only some memories:
    /// one that `visible` rejects is `NotFound` and its access is not recorded.
    pub async fn get_visible(
        &self,
        tenant: &str,
        id: Uuid,
        visible: impl FnOnce(&MemoryRecord) -> bool,
    ) -> Result<MemoryRecord> {
        // The record shows every access searches have noted before this.
        self.access_written().await;
        let mut found = self.inner.store.get_memories(tenant, &[id]).await?;
        let record = found
            .pop()
            .filter(visible)
            .ok_or_else(|| Error::not_found(format!("memory {id} not found")))?;
        if self.inner.config.track_access {
            self.inner
                .store
                .touch_memories(tenant, &[id], crate::now())
                .await?;
        }
        Ok(record)
    }

    /// A page of memories under `scope`, newest first: those `filter` and
    /// `validity` select.
    pub async fn list(
        &self,
        scope: &Scope,
        filter: Option<Filter>,
        validity: Validity,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<MemoryRecord>> {
        scope.validate(false)?;
        super::sessions::validate_limit(limit)?;
        let filter = match (scope_filter(scope), filter) {
            (Some(a), Some(b)) => Some(a.and(b)),
            (a, b) => a.or(b),
        };
        let filter = validity.and(filter);
        self.inner
            .store
            .list_memories(
                &scope.tenant,
                &ListQuery {
                    filter,
                    limit,
                    cursor,
                },
            )
            .await
    }

    /// A memory by id without recording an access, or `None`.
    pub async fn find(&self, tenant: &str, id: Uuid) -> Result<Option<MemoryRecord>> {
        Ok(self.inner.store.get_memories(tenant, &[id]).await?.pop())
    }

    /// A session, if recorded.
    pub async fn session(&self, tenant: &str, id: &str) -> Result<Option<Session>> {
        self.inner.store.get_session(tenant, id).await
    }

    /// A user, if seen.
    pub async fn user(&self, tenant: &str, id: &str) -> Result<Option<User>> {
        self.inner.store.get_user(tenant, id).await
    }

    /// Counts of the store alone (no call to the other backends), for one
    /// tenant or all: cheap enough for readiness probes and metrics.
    pub async fn store_stats(&self, tenant: Option<&str>) -> Result<StoreStats> {
        self.inner.store.stats(tenant).await
    }

    /// Counts for a user, an agent, or a user with an agent (seed 003's
    /// statistics per user and character): memories by kind, messages,
    /// sessions, first and last message.
    pub async fn scope_stats(&self, scope: &Scope) -> Result<ScopeStats> {
        crate::validate_id("tenant", &scope.tenant)?;
        if scope.user_id.is_none() && scope.agent_id.is_none() {
            return Err(Error::invalid(
                "scope: statistics need a user_id, an agent_id or both",
            ));
        }
        self.inner.store.scope_stats(scope, crate::now()).await
    }
}
