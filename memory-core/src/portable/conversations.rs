//! Users, sessions and messages for `export`, `import` and `migrate`: read
//! in key order, written back exactly, and safe to write twice (a resumed
//! run rewrites what an interrupted one already wrote, to the same values).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Message, Result, Session, Store, User};

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
    /// Messages.
    pub messages: u64,
}

impl ConversationCounts {
    fn add(&mut self, item: &ConversationItem) {
        match item {
            ConversationItem::User { .. } => self.users += 1,
            ConversationItem::Session { .. } => self.sessions += 1,
            ConversationItem::Message { .. } => self.messages += 1,
        }
    }

    /// How many users, sessions and messages `store` holds, from its own counts.
    pub(crate) async fn of(store: &dyn Store) -> Result<Self> {
        let s = store.stats(None).await?;
        Ok(Self {
            users: s.users,
            sessions: s.sessions,
            messages: s.messages,
        })
    }
}

fn key(k: &Option<(String, String)>) -> Option<(&str, &str)> {
    k.as_ref().map(|(a, b)| (a.as_str(), b.as_str()))
}

/// Hands every user, then session, then message of `tenant` (or of every
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
        let items = page
            .into_iter()
            .filter(|s| mine(&s.tenant))
            .map(|session| ConversationItem::Session { session })
            .collect();
        emit(items, &mut counts).await?;
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
            ConversationItem::Message { message } => messages.push(message),
        }
    }
    dst.insert_messages(&messages).await?;
    Ok(counts)
}
