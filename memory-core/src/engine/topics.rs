//! Topics of a session (seed 000's stream topics): what it covers, what
//! was covered; messages and memories point at them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Memory;
use super::requests::validate_metadata;
use super::sessions::{uuid_cursor, validate_limit};
use crate::traits::TopicQuery;
use crate::{Error, Metadata, Page, Result, Topic, validate_id};

/// The metadata key a memory names its topic with; the filter field
/// `topic_id` reads it.
pub const TOPIC_KEY: &str = "topic_id";

/// A topic to create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewTopic {
    /// Tenant.
    #[serde(default)]
    pub tenant: String,
    /// The session it belongs to; it must exist.
    pub session_id: String,
    /// Title.
    pub title: String,
    /// Any JSON: the planned points, usually a list.
    #[serde(default)]
    pub outline: serde_json::Value,
    /// Whether it was covered.
    #[serde(default)]
    pub completed: bool,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: Metadata,
}

/// Changes to a topic: each field given replaces the stored one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicPatch {
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New outline.
    #[serde(default)]
    pub outline: Option<serde_json::Value>,
    /// Covered or not.
    #[serde(default)]
    pub completed: Option<bool>,
    /// New metadata (replaces the object).
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

fn validate_title(title: &str) -> Result<()> {
    if title.trim().is_empty() {
        return Err(Error::invalid("title: must not be empty"));
    }
    if title.len() > 1000 {
        return Err(Error::invalid(format!(
            "title: {} bytes, the maximum is 1000",
            title.len()
        )));
    }
    Ok(())
}

fn validate_outline(outline: &serde_json::Value) -> Result<()> {
    let size = outline.to_string().len();
    if size > 64 * 1024 {
        return Err(Error::invalid(format!(
            "outline: {size} bytes of JSON, the maximum is 65536"
        )));
    }
    Ok(())
}

impl Memory {
    /// Creates a topic in an existing session.
    pub async fn create_topic(&self, new: NewTopic) -> Result<Topic> {
        validate_id("tenant", &new.tenant)?;
        validate_id("session_id", &new.session_id)?;
        validate_title(&new.title)?;
        validate_outline(&new.outline)?;
        validate_metadata(&new.metadata)?;
        let now = crate::now();
        let topic = Topic {
            id: Uuid::now_v7(),
            tenant: new.tenant,
            session_id: new.session_id,
            title: new.title,
            outline: new.outline,
            completed: new.completed,
            metadata: new.metadata,
            created_at: now,
            updated_at: now,
        };
        self.inner.store.create_topic(&topic).await?;
        Ok(topic)
    }

    /// A topic, or `NotFound`.
    pub async fn topic(&self, tenant: &str, id: Uuid) -> Result<Topic> {
        self.inner
            .store
            .get_topic(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("topic {id} not found")))
    }

    /// Changes a topic's title, outline, completion or metadata.
    pub async fn update_topic(&self, tenant: &str, id: Uuid, patch: TopicPatch) -> Result<Topic> {
        let mut topic = self.topic(tenant, id).await?;
        if let Some(t) = patch.title {
            validate_title(&t)?;
            topic.title = t;
        }
        if let Some(o) = patch.outline {
            validate_outline(&o)?;
            topic.outline = o;
        }
        if let Some(c) = patch.completed {
            topic.completed = c;
        }
        if let Some(m) = patch.metadata {
            validate_metadata(&m)?;
            topic.metadata = m;
        }
        topic.updated_at = crate::now();
        self.inner.store.replace_topic(&topic).await?;
        Ok(topic)
    }

    /// A page of topics matching `query`, oldest first; `cursor` is a
    /// previous page's `next_cursor`.
    pub async fn list_topics(
        &self,
        tenant: &str,
        mut query: TopicQuery,
        cursor: Option<&str>,
    ) -> Result<Page<Topic>> {
        validate_limit(query.limit)?;
        query.after = uuid_cursor(cursor)?;
        let limit = query.limit;
        query.limit += 1;
        let items = self.inner.store.list_topics(tenant, &query).await?;
        Ok(Page::from_overfetch(items, limit, |t| t.id.to_string()))
    }

    /// Deletes a topic; its messages stay, unlinked. Memories keep the id
    /// in their metadata as a record of what they were about.
    pub async fn delete_topic(&self, tenant: &str, id: Uuid) -> Result<()> {
        if self.inner.store.delete_topic(tenant, id).await? {
            Ok(())
        } else {
            Err(Error::not_found(format!("topic {id} not found")))
        }
    }

    /// Checks that `topic` exists in the tenant (and in `session`, when
    /// given), naming `field` when it does not.
    pub(crate) async fn check_topic(
        &self,
        field: &str,
        tenant: &str,
        topic: Uuid,
        session: Option<&str>,
    ) -> Result<()> {
        match self.inner.store.get_topic(tenant, topic).await? {
            None => Err(Error::invalid(format!("{field}: no topic {topic}"))),
            Some(t) if session.is_some_and(|s| s != t.session_id) => Err(Error::invalid(format!(
                "{field}: topic {topic} belongs to session {:?}",
                t.session_id
            ))),
            Some(_) => Ok(()),
        }
    }
}
