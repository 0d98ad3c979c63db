//! Users, sessions and messages for `export`, `import` and `migrate`: read
//! in key order, written back exactly, and safe to write twice (a resumed
//! run rewrites what an interrupted one already wrote, to the same values).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::traits::TopicQuery;
use crate::{ErrorKind, Message, Result, Session, Store, Topic, User};

/// One exported line that is not a memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConversationItem {
    /// A user's profile.
    User {
        /// The user.
        user: User,
    },
    /// A session (written before its messages, which refer to it).
    Session {
        /// The session.
        session: Session,
    },
    /// A topic of a session (written after its session).
    Topic {
        /// The topic.
        topic: Topic,
    },
    /// A message.
    Message {
        /// The message.
        message: Message,
    },
}

/// How many of each were read or written.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct ConversationCounts {
    /// Users.
    pub users: u64,
    /// Sessions.
    pub sessions: u64,
    /// Topics.
    #[serde(default)]
    pub topics: u64,
    /// Messages.
    pub messages: u64,
}

impl ConversationCounts {
    fn add(&mut self, item: &ConversationItem) {
        match item {
            ConversationItem::User { .. } => self.users += 1,
            ConversationItem::Session { .. } => self.sessions += 1,
            ConversationItem::Topic { .. } => self.topics += 1,
            ConversationItem::Message { .. } => self.messages += 1,
        }
    }

    /// How many users, sessions and messages `store` holds, from its own counts.
    pub(crate) async fn of(store: &dyn Store) -> Result<Self> {
        let s = store.stats(None).await?;
        Ok(Self {
            users: s.users,
            sessions: s.sessions,
            topics: s.topics,
            messages: s.messages,
        })
    }
}

fn key(k: &Option<(String, String)>) -> Option<(&str, &str)> {
    k.as_ref().map(|(a, b)| (a.as_str(), b.as_str()))
}

/// The topics of `sessions`, each session's oldest first.
async fn topics_of(store: &dyn Store, sessions: &[Session]) -> Result<Vec<ConversationItem>> {
    let mut items = Vec::new();
    for s in sessions {
        let mut query = TopicQuery {
            session_id: Some(s.id.clone()),
            limit: 1000,
            ..TopicQuery::default()
        };
        loop {
            let page = store.list_topics(&s.tenant, &query).await?;
            let full = page.len() == query.limit;
            query.after = page.last().map(|t| t.id);
            items.extend(
                page.into_iter()
                    .map(|topic| ConversationItem::Topic { topic }),
            );
            if !full {
                break;
            }
        }
    }
    Ok(items)
}

/// Hands every user, then session (each page followed by its sessions'
/// topics), then message of `tenant` (or of every
/// tenant) to `each`, `batch` at a time; returns how many there were.
pub(crate) async fn scan(
    store: &dyn Store,
    tenant: Option<&str>,
    batch: usize,
    mut each: impl AsyncFnMut(Vec<ConversationItem>) -> Result<()>,
) -> Result<ConversationCounts> {
    let mine = |t: &str| tenant.is_none_or(|w| w == t);
    let mut counts = ConversationCounts::default();
    let mut emit = async |items: Vec<ConversationItem>, counts: &mut ConversationCounts| {
        items.iter().for_each(|i| counts.add(i));
        if items.is_empty() {
            Ok(())
        } else {
            each(items).await
        }
    };
    let mut after: Option<(String, String)> = None;
    loop {
        let page = store.scan_users(key(&after), batch).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.tenant.clone(), last.id.clone()));
        let items = page
            .into_iter()
            .filter(|u| mine(&u.tenant))
            .map(|user| ConversationItem::User { user })
            .collect();
        emit(items, &mut counts).await?;
    }
    let mut after: Option<(String, String)> = None;
    loop {
        let page = store.scan_sessions(key(&after), batch).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.tenant.clone(), last.id.clone()));
        let page: Vec<Session> = page.into_iter().filter(|s| mine(&s.tenant)).collect();
        let topics = topics_of(store, &page).await?;
        let items = page
            .into_iter()
            .map(|session| ConversationItem::Session { session })
            .collect();
        emit(items, &mut counts).await?;
        emit(topics, &mut counts).await?;
    }
    let mut after: Option<Uuid> = None;
    loop {
        let page = store.scan_messages(after, batch).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let items = page
            .into_iter()
            .filter(|m| mine(&m.tenant))
            .map(|message| ConversationItem::Message { message })
            .collect();
        emit(items, &mut counts).await?;
    }
    Ok(counts)
}

/// Writes `items` to `dst` exactly; messages already there are left alone.
pub(crate) async fn write(
    dst: &dyn Store,
    items: Vec<ConversationItem>,
) -> Result<ConversationCounts> {
    let mut counts = ConversationCounts::default();
    let mut messages = Vec::new();
    for item in items {
        counts.add(&item);
        match item {
            ConversationItem::User { user } => dst.put_user(&user).await?,
            ConversationItem::Session { session } => dst.upsert_session(&session).await?,
            // A resumed run finds the topic written: it is rewritten instead.
            ConversationItem::Topic { topic } => match dst.create_topic(&topic).await {
                Err(e) if e.kind() == ErrorKind::Conflict => dst.replace_topic(&topic).await?,
                other => other?,
            },
            ConversationItem::Message { message } => messages.push(message),
        }
    }
    dst.insert_messages(&messages).await?;
    Ok(counts)
}
