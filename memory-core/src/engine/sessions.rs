//! Sessions and users managed explicitly (seed 000's streams and viewers):
//! create, change, look up by platform id, list.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Memory;
use super::requests::validate_metadata;
use crate::traits::{SessionQuery, TimeKey, UserPatch, UserQuery};
use crate::{Error, Metadata, Page, Result, Session, User, validate_id};

/// The platform of a session created without one: seed 000's streams are
/// on YouTube.
pub const DEFAULT_PLATFORM: &str = "youtube";

/// A session to create explicitly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewSession {
    /// Tenant.
    #[serde(default)]
    pub tenant: String,
    /// Its id; a UUIDv7 when omitted.
    #[serde(default)]
    pub id: Option<String>,
    /// The human, if one.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The agent, if one.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Platform; `youtube` when omitted.
    #[serde(default)]
    pub platform: Option<String>,
    /// Its id on the platform, unique per platform.
    #[serde(default)]
    pub external_id: Option<String>,
    /// When it started; now when omitted.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: Metadata,
}

/// Changes to a session: each field given replaces the stored one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionPatch {
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New platform.
    #[serde(default)]
    pub platform: Option<String>,
    /// New id on the platform.
    #[serde(default)]
    pub external_id: Option<String>,
    /// New metadata (replaces the object; extraction's `extract` switch is kept).
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

/// Checks a page size the way every listing does.
pub(crate) fn validate_limit(limit: usize) -> Result<()> {
    if limit == 0 || limit > 1000 {
        return Err(Error::invalid(format!(
            "limit: must be within 1 and 1000, got {limit}"
        )));
    }
    Ok(())
}

/// Where a newest-first page of `limit` starts and how many rows to read:
/// one past the page, which only says that another page follows.
fn newest_first_page(limit: usize, cursor: Option<&str>) -> Result<(Option<TimeKey>, usize)> {
    validate_limit(limit)?;
    Ok((cursor.map(TimeKey::decode).transpose()?, limit + 1))
}

/// Reads a cursor that is a page's last UUID.
pub(crate) fn uuid_cursor(cursor: Option<&str>) -> Result<Option<uuid::Uuid>> {
    cursor
        .map(|c| {
            uuid::Uuid::parse_str(c)
                .map_err(|_| Error::invalid("cursor: not a cursor this listing returned"))
        })
        .transpose()
}

fn validate_optional(fields: &[(&str, &Option<String>)]) -> Result<()> {
    for (name, v) in fields {
        if let Some(v) = v {
            validate_id(name, v)?;
        }
    }
    Ok(())
}

impl Memory {
    /// Creates a session; `Conflict` if its id, or its external id on its
    /// platform, is taken.
    pub async fn create_session(&self, new: NewSession) -> Result<Session> {
        validate_id("tenant", &new.tenant)?;
        let id = new.id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        validate_id("id", &id)?;
        let platform = new.platform.unwrap_or_else(|| DEFAULT_PLATFORM.to_owned());
        validate_id("platform", &platform)?;
        validate_optional(&[
            ("user_id", &new.user_id),
            ("agent_id", &new.agent_id),
            ("external_id", &new.external_id),
        ])?;
        validate_metadata(&new.metadata)?;
        let session = Session {
            id,
            tenant: new.tenant,
            user_id: new.user_id,
            agent_id: new.agent_id,
            title: new.title,
            platform: Some(platform),
            external_id: new.external_id,
            started_at: new.started_at.unwrap_or_else(crate::now),
            ended_at: None,
            metadata: new.metadata,
        };
        self.inner.store.create_session(&session).await?;
        Ok(session)
    }

    /// Changes a session's title, platform, external id or metadata.
    pub async fn update_session(
        &self,
        tenant: &str,
        id: &str,
        patch: SessionPatch,
    ) -> Result<Session> {
        validate_optional(&[
            ("platform", &patch.platform),
            ("external_id", &patch.external_id),
        ])?;
        let mut session = self
            .session(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("session {id:?}")))?;
        if let Some(t) = patch.title {
            session.title = Some(t);
        }
        if let Some(p) = patch.platform {
            session.platform = Some(p);
        }
        if let Some(e) = patch.external_id {
            session.external_id = Some(e);
        }
        if let Some(mut m) = patch.metadata {
            validate_metadata(&m)?;
            if let Some(switch) = session.metadata.get("extract") {
                m.entry("extract").or_insert_with(|| switch.clone());
            }
            session.metadata = m;
        }
        self.inner.store.replace_session(&session).await?;
        Ok(session)
    }

    /// A page of sessions matching `query` (its `after` is set from
    /// `cursor`), newest started first.
    pub async fn list_sessions(
        &self,
        tenant: &str,
        mut query: SessionQuery,
        cursor: Option<&str>,
    ) -> Result<Page<Session>> {
        let limit = query.limit;
        (query.after, query.limit) = newest_first_page(limit, cursor)?;
        let items = self.inner.store.list_sessions(tenant, &query).await?;
        Ok(Page::from_overfetch(items, limit, |s| {
            TimeKey::of(s.started_at, &s.id).encode()
        }))
    }

    /// The session with this id on `platform`.
    pub async fn session_by_external(
        &self,
        tenant: &str,
        platform: &str,
        external_id: &str,
    ) -> Result<Option<Session>> {
        let query = SessionQuery {
            platform: Some(platform.to_owned()),
            external_id: Some(external_id.to_owned()),
            limit: 1,
            ..SessionQuery::default()
        };
        Ok(self.inner.store.list_sessions(tenant, &query).await?.pop())
    }

    /// Changes a user's display name, platform id or metadata; creates the
    /// user (seen now, no messages) if new. Counts and times are untouched.
    pub async fn update_user(&self, tenant: &str, id: &str, patch: UserPatch) -> Result<User> {
        validate_id("tenant", tenant)?;
        validate_id("user_id", id)?;
        validate_optional(&[
            ("platform", &patch.platform),
            ("external_id", &patch.external_id),
        ])?;
        if let Some(m) = &patch.metadata {
            validate_metadata(m)?;
        }
        self.inner
            .store
            .patch_user(tenant, id, &patch, crate::now())
            .await
    }

    /// A page of users matching `query` (its `after` is set from
    /// `cursor`), most recently seen first.
    pub async fn list_users(
        &self,
        tenant: &str,
        mut query: UserQuery,
        cursor: Option<&str>,
    ) -> Result<Page<User>> {
        let limit = query.limit;
        (query.after, query.limit) = newest_first_page(limit, cursor)?;
        let items = self.inner.store.list_users(tenant, &query).await?;
        Ok(Page::from_overfetch(items, limit, |u| {
            TimeKey::of(u.last_seen_at, &u.id).encode()
        }))
    }

    /// The user with this id on `platform` (a chat viewer's channel id).
    pub async fn user_by_external(
        &self,
        tenant: &str,
        platform: &str,
        external_id: &str,
    ) -> Result<Option<User>> {
        let query = UserQuery {
            platform: Some(platform.to_owned()),
            external_id: Some(external_id.to_owned()),
            limit: 1,
            ..UserQuery::default()
        };
        Ok(self.inner.store.list_users(tenant, &query).await?.pop())
    }
}
