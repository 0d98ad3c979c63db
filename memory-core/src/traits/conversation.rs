//! The conversation side of the store: messages, sessions, users, topics,
//! and the queries that list them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ExtractTrigger;
use crate::{Error, Message, Metadata, Result, Session, Topic, User};

/// Which messages of a session [`ConversationStore::list_messages`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageQuery {
    /// Only messages with a greater id (a page's last id).
    pub after: Option<Uuid>,
    /// Only the message the sender recorded with this id.
    pub client_id: Option<String>,
    /// Only messages about this topic.
    pub topic_id: Option<Uuid>,
    /// At most this many.
    pub limit: usize,
}

/// A change to a user's bookkeeping when a message arrives.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserTouch {
    /// Display name, if known.
    pub display_name: Option<String>,
    /// External id, if known.
    pub external_id: Option<String>,
    /// Platform of the external id.
    pub platform: Option<String>,
    /// Messages to add to the count.
    pub messages: u64,
}

/// Changes to a user: each field given replaces the stored one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// New platform.
    #[serde(default)]
    pub platform: Option<String>,
    /// New id on the platform, unique per platform.
    #[serde(default)]
    pub external_id: Option<String>,
    /// New metadata (replaces the object).
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

/// A place in a listing ordered newest first by a time, ties by id
/// descending: the last item of a page, and the cursor of the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeKey {
    /// The time, in milliseconds since the epoch.
    pub at_ms: i64,
    /// The item's id.
    pub id: String,
}

impl TimeKey {
    /// The key of an item.
    pub fn of(at: DateTime<Utc>, id: &str) -> Self {
        Self {
            at_ms: at.timestamp_millis(),
            id: id.to_owned(),
        }
    }

    /// The key as a cursor string.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.at_ms, self.id)
    }

    /// Reads a cursor `encode` made.
    pub fn decode(cursor: &str) -> Result<Self> {
        cursor
            .split_once('.')
            .and_then(|(at, id)| {
                Some(Self {
                    at_ms: at.parse().ok()?,
                    id: id.to_owned(),
                })
            })
            .filter(|k| !k.id.is_empty())
            .ok_or_else(|| Error::invalid("cursor: not a cursor this listing returned"))
    }
}

/// Which sessions [`ConversationStore::list_sessions`] returns, newest
/// started first; every condition given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionQuery {
    /// Owned by this user.
    pub user_id: Option<String>,
    /// With this agent.
    pub agent_id: Option<String>,
    /// On this platform.
    pub platform: Option<String>,
    /// With this id on its platform.
    pub external_id: Option<String>,
    /// Only sessions after this one in the order.
    pub after: Option<TimeKey>,
    /// At most this many.
    pub limit: usize,
}

/// Which users [`ConversationStore::list_users`] returns, most recently
/// seen first; every condition given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserQuery {
    /// On this platform.
    pub platform: Option<String>,
    /// With this id on the platform.
    pub external_id: Option<String>,
    /// Only users after this one in the order.
    pub after: Option<TimeKey>,
    /// At most this many.
    pub limit: usize,
}

/// Which topics [`ConversationStore::list_topics`] returns, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicQuery {
    /// Of this session.
    pub session_id: Option<String>,
    /// Covered or not.
    pub completed: Option<bool>,
    /// Only topics with a greater id (a page's last id).
    pub after: Option<Uuid>,
    /// At most this many.
    pub limit: usize,
}

/// Messages, sessions and users: the conversation side of the store.
#[async_trait]
pub trait ConversationStore: Send + Sync + std::fmt::Debug {
    /// Stores messages; one whose id is already stored is left as it is.
    async fn insert_messages(&self, messages: &[Message]) -> Result<()>;
    /// Stores messages of one session and, in the same transaction, enqueues
    /// `trigger`'s job if the session now holds at least its threshold of
    /// unextracted messages: the job exists exactly when the message does.
    async fn insert_messages_triggering(
        &self,
        messages: &[Message],
        trigger: &ExtractTrigger,
    ) -> Result<()>;
    /// The newest `limit` messages of a session, oldest first.
    async fn recent_messages(
        &self,
        tenant: &str,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<Message>>;
    /// Up to `limit` messages of a session not yet extracted, oldest first.
    async fn unextracted_messages(
        &self,
        tenant: &str,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<Message>>;
    /// How many messages of a session are not yet extracted.
    async fn count_unextracted(&self, tenant: &str, session_id: &str) -> Result<u64>;
    /// Marks messages as extracted.
    async fn mark_extracted(&self, tenant: &str, ids: &[Uuid]) -> Result<()>;
    /// Messages of a session oldest first: after `query.after`, or the one
    /// carrying `query.client_id`; at most `query.limit`.
    async fn list_messages(
        &self,
        tenant: &str,
        session_id: &str,
        query: &MessageQuery,
    ) -> Result<Vec<Message>>;
    /// Marks messages of a session answered; answers how many exist.
    async fn mark_answered(&self, tenant: &str, session_id: &str, ids: &[Uuid]) -> Result<u64>;

    /// Creates a session or updates its fields.
    async fn upsert_session(&self, session: &Session) -> Result<()>;
    /// A session.
    async fn get_session(&self, tenant: &str, id: &str) -> Result<Option<Session>>;
    /// Creates the user if new, then updates names, last seen and count.
    async fn touch_user(
        &self,
        tenant: &str,
        user_id: &str,
        touch: &UserTouch,
        at: DateTime<Utc>,
    ) -> Result<User>;
    /// Applies a patch to a user, creating it (seen at `at`, no messages)
    /// if new, in one statement; counts and times of a stored user stay.
    async fn patch_user(
        &self,
        tenant: &str,
        user_id: &str,
        patch: &UserPatch,
        at: DateTime<Utc>,
    ) -> Result<User>;
    /// A user.
    async fn get_user(&self, tenant: &str, user_id: &str) -> Result<Option<User>>;

    /// Creates a session; `Conflict` if its id, or its external id on its
    /// platform, is taken.
    async fn create_session(&self, session: &Session) -> Result<()>;
    /// Replaces a stored session's fields (its start stays); `NotFound` if
    /// there is none, `Conflict` if its external id is another's.
    async fn replace_session(&self, session: &Session) -> Result<()>;
    /// Sessions matching `query`, newest started first.
    async fn list_sessions(&self, tenant: &str, query: &SessionQuery) -> Result<Vec<Session>>;
    /// Users matching `query`, most recently seen first.
    async fn list_users(&self, tenant: &str, query: &UserQuery) -> Result<Vec<User>>;

    /// Creates a topic; its session must exist.
    async fn create_topic(&self, topic: &Topic) -> Result<()>;
    /// Replaces a stored topic; `NotFound` if there is none.
    async fn replace_topic(&self, topic: &Topic) -> Result<()>;
    /// A topic.
    async fn get_topic(&self, tenant: &str, id: Uuid) -> Result<Option<Topic>>;
    /// Topics matching `query`, oldest first.
    async fn list_topics(&self, tenant: &str, query: &TopicQuery) -> Result<Vec<Topic>>;
    /// Deletes a topic and unlinks its messages in one transaction; answers
    /// whether it existed.
    async fn delete_topic(&self, tenant: &str, id: Uuid) -> Result<bool>;
}
