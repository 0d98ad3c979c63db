//! Conversations: recording messages, the short-term window, recovery.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Memory;
use crate::traits::{MessageQuery, SessionKey, UserTouch};
use crate::types::validate_id;
use crate::{Error, Message, Metadata, Result, Role, Session};

fn default_tenant() -> String {
    crate::DEFAULT_TENANT.to_owned()
}

/// A message to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordMessage {
    /// Tenant.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The conversation; created on its first message.
    pub session_id: String,
    /// The human.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The agent.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// Who wrote it.
    #[serde(default)]
    pub role: Role,
    /// Display name of the author.
    #[serde(default)]
    pub author_name: Option<String>,
    /// The text.
    pub content: String,
    /// Free-form metadata (e.g. a comment type).
    #[serde(default)]
    pub metadata: Metadata,
    /// The user's id on an external platform.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The platform (session and user).
    #[serde(default)]
    pub platform: Option<String>,
    /// Whether the agent answered it.
    #[serde(default)]
    pub answered: bool,
    /// Also keep it as a searchable memory of kind `message`; the engine's
    /// `remember_messages` when omitted.
    #[serde(default)]
    pub remember: Option<bool>,
    /// The sender's own id for the message, unique in the session: a retry
    /// with an id already recorded is a no-op that answers the first message.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The topic of the session it is about.
    #[serde(default)]
    pub topic_id: Option<Uuid>,
    /// When it was said, for importing a past conversation; now when
    /// omitted. At most a minute ahead of the server's clock.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}

impl RecordMessage {
    /// A user's message in a session.
    pub fn user(
        session_id: impl Into<String>,
        user_id: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Self {
            tenant: default_tenant(),
            session_id: session_id.into(),
            user_id: Some(user_id.into()),
            agent_id: None,
            role: Role::User,
            author_name: None,
            content: content.into(),
            metadata: Metadata::new(),
            external_id: None,
            platform: None,
            answered: false,
            remember: None,
            client_id: None,
            topic_id: None,
            created_at: None,
        }
    }
}

/// What recording a message did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageOutcome {
    /// The stored message.
    pub message: Message,
    /// Unextracted messages in the session, this one included.
    pub unextracted: u64,
    /// Whether the batch threshold was reached and extraction runs for this
    /// session (a language model is configured and extraction is not off).
    pub extraction_due: bool,
    /// Whether the short-term tier took the message.
    pub short_term_ok: bool,
    /// The memory that keeps the message searchable, when it is remembered
    /// (absent while a failed write waits for the worker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_id: Option<Uuid>,
    /// Whether its `client_id` was recorded before: `message` is the first
    /// one, and nothing was written.
    #[serde(default)]
    pub duplicate: bool,
}

impl Memory {
    /// Stores a message, updates its session and user, and pushes it to the
    /// short-term window. A short-term failure is logged, never returned.
    pub async fn record_message(&self, request: RecordMessage) -> Result<MessageOutcome> {
        let cfg = &self.inner.config;
        validate_id("tenant", &request.tenant)?;
        validate_id("session_id", &request.session_id)?;
        for (n, v) in [
            ("user_id", &request.user_id),
            ("agent_id", &request.agent_id),
        ] {
            if let Some(v) = v {
                validate_id(n, v)?;
            }
        }
        super::requests::validate_content(&request.content, cfg)?;
        super::requests::validate_metadata(&request.metadata)?;
        if let Some(c) = &request.client_id {
            validate_id("client_id", c)?;
        }
        if let Some(t) = request.topic_id {
            self.check_topic("topic_id", &request.tenant, t, Some(&request.session_id))
                .await?;
        }
        let now = crate::now();
        let said_at = match request.created_at {
            Some(t) if t > now + chrono::Duration::seconds(60) => {
                return Err(Error::invalid(format!(
                    "created_at: {} is in the future (the server's clock says {})",
                    t.to_rfc3339(),
                    now.to_rfc3339()
                )));
            }
            Some(t) => t,
            None => now,
        };
        let store = &self.inner.store;
        let session = store
            .get_session(&request.tenant, &request.session_id)
            .await?;
        if session.is_none() {
            store
                .upsert_session(&Session {
                    id: request.session_id.clone(),
                    tenant: request.tenant.clone(),
                    user_id: request.user_id.clone(),
                    agent_id: request.agent_id.clone(),
                    title: None,
                    platform: request.platform.clone(),
                    external_id: None,
                    started_at: said_at,
                    ended_at: None,
                    metadata: Metadata::new(),
                })
                .await?;
        }
        let message = Message {
            id: Uuid::now_v7(),
            tenant: request.tenant.clone(),
            session_id: request.session_id.clone(),
            user_id: request.user_id.clone(),
            agent_id: request.agent_id.clone(),
            role: request.role,
            author_name: request.author_name.clone(),
            content: request.content.clone(),
            created_at: said_at,
            metadata: request.metadata.clone(),
            extracted: false,
            answered: request.answered,
            client_id: request.client_id.clone(),
            topic_id: request.topic_id,
        };
        // With a language model, the extraction job is enqueued in the
        // message's own transaction once the batch is full: it exists exactly
        // when the message that filled the batch does.
        let extracts = self.inner.llm.is_some()
            && cfg.extraction.allows(&request.tenant)
            && !session.is_some_and(|s| s.metadata.get("extract") == Some(&false.into()));
        if extracts {
            // At most one live idle check per session: while one waits, this
            // is a no-op, and the check itself looks at the newest message.
            let idle = (cfg.extraction.idle_secs > 0).then(|| {
                let after = i64::try_from(cfg.extraction.idle_secs).unwrap_or(i64::MAX);
                crate::extract::idle_job(
                    &request.tenant,
                    &request.session_id,
                    now + chrono::Duration::seconds(after),
                )
            });
            let trigger = crate::traits::ExtractTrigger {
                job: crate::extract::extract_job(&request.tenant, &request.session_id, now, false),
                threshold: cfg.extract_batch as u64,
                always: idle.into_iter().collect(),
            };
            store
                .insert_messages_triggering(std::slice::from_ref(&message), &trigger)
                .await?;
        } else {
            store
                .insert_messages(std::slice::from_ref(&message))
                .await?;
        }
        if let Some(first) = self.first_with_client_id(&message).await?
            && first.id != message.id
        {
            let unextracted = store
                .count_unextracted(&request.tenant, &request.session_id)
                .await?;
            return Ok(MessageOutcome {
                message: first,
                unextracted,
                extraction_due: false,
                short_term_ok: true,
                memory_id: None,
                duplicate: true,
            });
        }
        if let (Some(user), Role::User) = (&request.user_id, request.role) {
            let touch = UserTouch {
                display_name: request.author_name.clone(),
                external_id: request.external_id.clone(),
                platform: request.platform.clone(),
                messages: 1,
            };
            store.touch_user(&request.tenant, user, &touch, now).await?;
        }
        let short_term_ok = match self.inner.short_term.push(&message, cfg.window).await {
            Ok(()) => true,
            Err(e) => {
                self.short_term_failed("push", &e);
                false
            }
        };
        let unextracted = store
            .count_unextracted(&request.tenant, &request.session_id)
            .await?;
        let extraction_due = extracts && unextracted >= cfg.extract_batch as u64;
        let memory_id = if request.remember.unwrap_or(cfg.remember_messages) {
            self.remember_message(&message).await?
        } else {
            None
        };
        Ok(MessageOutcome {
            message,
            unextracted,
            extraction_due,
            short_term_ok,
            memory_id,
            duplicate: false,
        })
    }

    /// The stored message carrying `m`'s client id, if it has one.
    async fn first_with_client_id(&self, m: &Message) -> Result<Option<Message>> {
        let Some(client_id) = &m.client_id else {
            return Ok(None);
        };
        let query = MessageQuery {
            client_id: Some(client_id.clone()),
            limit: 1,
            ..MessageQuery::default()
        };
        Ok(self
            .inner
            .store
            .list_messages(&m.tenant, &m.session_id, &query)
            .await?
            .pop())
    }

    /// A page of a session's whole transcript (only the messages about
    /// `topic_id`, when given), oldest first, from the store.
    pub async fn transcript(
        &self,
        tenant: &str,
        session_id: &str,
        topic_id: Option<Uuid>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<crate::Page<Message>> {
        super::sessions::validate_limit(limit)?;
        let query = MessageQuery {
            after: super::sessions::uuid_cursor(cursor)?,
            client_id: None,
            topic_id,
            limit: limit + 1,
        };
        let items = self
            .inner
            .store
            .list_messages(tenant, session_id, &query)
            .await?;
        Ok(crate::Page::from_overfetch(items, limit, |m| {
            m.id.to_string()
        }))
    }

    /// Marks a message of a session answered after the fact (seed 000's
    /// `wasAnswered`); `NotFound` if the session holds no such message.
    pub async fn mark_answered(&self, tenant: &str, session_id: &str, id: Uuid) -> Result<()> {
        match self
            .inner
            .store
            .mark_answered(tenant, session_id, &[id])
            .await?
        {
            0 => Err(Error::not_found(format!(
                "message {id} not found in session {session_id:?}"
            ))),
            _ => Ok(()),
        }
    }

    /// The newest `limit` messages of a session, oldest first. Served from the
    /// short-term tier; rebuilt from the store when that is empty or down.
    pub async fn recent(
        &self,
        tenant: &str,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<Message>> {
        if limit == 0 || limit > self.inner.config.window {
            return Err(Error::invalid(format!(
                "limit: must be within 1 and {}, got {limit}",
                self.inner.config.window
            )));
        }
        let key = SessionKey {
            tenant: tenant.to_owned(),
            session_id: session_id.to_owned(),
        };
        match self.inner.short_term.recent(&key, limit).await {
            Ok(v) if !v.is_empty() => return Ok(v),
            Ok(_) => {}
            Err(e) => self.short_term_failed("read", &e),
        }
        let restored = self.recover(tenant, session_id).await?;
        let skip = restored.len().saturating_sub(limit);
        Ok(restored.into_iter().skip(skip).collect())
    }

    /// Rebuilds a session's short-term window from the store (after the
    /// short-term tier lost it) and returns it.
    pub async fn recover(&self, tenant: &str, session_id: &str) -> Result<Vec<Message>> {
        let window = self.inner.config.window;
        let messages = self
            .inner
            .store
            .recent_messages(tenant, session_id, window)
            .await?;
        if !messages.is_empty() {
            let key = SessionKey {
                tenant: tenant.to_owned(),
                session_id: session_id.to_owned(),
            };
            if let Err(e) = self.inner.short_term.restore(&key, &messages, window).await {
                self.short_term_failed("restore", &e);
            }
        }
        Ok(messages)
    }
}
