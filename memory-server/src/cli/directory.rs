//! `memory sessions|topics|users`: sessions, topics and viewers managed
//! by hand, as seed 000's Prisma Studio would.

use anyhow::{Result, anyhow};
use clap::Subcommand;
use memory::{
    Memory, NewSession, NewTopic, Scope, SessionPatch, SessionQuery, TopicPatch, TopicQuery,
    UserPatch, UserQuery,
};
use uuid::Uuid;

use super::memories::parse_object;
use super::output::Out;

/// What to do with sessions.
#[derive(Subcommand, Debug)]
pub(crate) enum SessionsAction {
    /// Create a session (platform `youtube` unless given).
    Create {
        /// Its id; a UUIDv7 when omitted.
        #[arg(long)]
        id: Option<String>,
        /// The user it belongs to.
        #[arg(long)]
        user: Option<String>,
        /// The agent in it.
        #[arg(long)]
        agent: Option<String>,
        /// Title.
        #[arg(long)]
        title: Option<String>,
        /// Platform.
        #[arg(long)]
        platform: Option<String>,
        /// Its id on the platform (a video id).
        #[arg(long)]
        external_id: Option<String>,
        /// JSON object.
        #[arg(long)]
        metadata: Option<String>,
    },
    /// Show a session.
    Get {
        /// Session id.
        id: String,
    },
    /// Change a session.
    Update {
        /// Session id.
        id: String,
        /// New title.
        #[arg(long)]
        title: Option<String>,
        /// New platform.
        #[arg(long)]
        platform: Option<String>,
        /// New id on the platform.
        #[arg(long)]
        external_id: Option<String>,
        /// New metadata (JSON object, replaces the old).
        #[arg(long)]
        metadata: Option<String>,
    },
    /// List sessions, newest first.
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        /// Only with this agent.
        #[arg(long)]
        agent: Option<String>,
        /// Only on this platform.
        #[arg(long)]
        platform: Option<String>,
        /// Only the one with this id on the platform.
        #[arg(long)]
        external_id: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Page cursor from a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
}

/// What to do with topics.
#[derive(Subcommand, Debug)]
pub(crate) enum TopicsAction {
    /// Create a topic in a session.
    Create {
        /// Session id.
        #[arg(long)]
        session: String,
        /// Title.
        title: String,
        /// Outline (any JSON, usually a list).
        #[arg(long)]
        outline: Option<String>,
    },
    /// A session's topics, oldest first.
    List {
        /// Session id.
        #[arg(long)]
        session: String,
        /// Only covered (true) or open (false) ones.
        #[arg(long)]
        completed: Option<bool>,
        /// Page size.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Page cursor from a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show a topic.
    Get {
        /// Topic id.
        id: Uuid,
    },
    /// Change a topic.
    Update {
        /// Topic id.
        id: Uuid,
        /// New title.
        #[arg(long)]
        title: Option<String>,
        /// New outline (JSON).
        #[arg(long)]
        outline: Option<String>,
        /// Covered or not.
        #[arg(long)]
        completed: Option<bool>,
    },
    /// Delete a topic; its messages stay, unlinked.
    Delete {
        /// Topic id.
        id: Uuid,
    },
}

/// What to do with users.
#[derive(Subcommand, Debug)]
pub(crate) enum UsersAction {
    /// List users, most recently seen first (or find one by platform id).
    List {
        /// Only on this platform.
        #[arg(long)]
        platform: Option<String>,
        /// Only the one with this id on the platform.
        #[arg(long)]
        external_id: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Page cursor from a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show a user.
    Get {
        /// User id.
        id: String,
    },
    /// Change a user (created if new).
    Update {
        /// User id.
        id: String,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        /// New platform.
        #[arg(long)]
        platform: Option<String>,
        /// New id on the platform.
        #[arg(long)]
        external_id: Option<String>,
        /// New metadata (JSON object, replaces the old).
        #[arg(long)]
        metadata: Option<String>,
    },
    /// Counts for a user, or a user with an agent.
    Stats {
        /// User id.
        id: String,
        /// Only what the user shares with this agent.
        #[arg(long)]
        agent: Option<String>,
    },
}

fn parse_json(s: Option<&String>, name: &str) -> Result<Option<serde_json::Value>> {
    s.map(|s| serde_json::from_str(s).map_err(|e| anyhow!("{name}: not JSON: {e}")))
        .transpose()
}

pub(crate) async fn sessions(m: &Memory, t: &str, a: &SessionsAction, out: &Out) -> Result<()> {
    match a {
        SessionsAction::Create {
            id,
            user,
            agent,
            title,
            platform,
            external_id,
            metadata,
        } => {
            let new = NewSession {
                tenant: t.to_owned(),
                id: id.clone(),
                user_id: user.clone(),
                agent_id: agent.clone(),
                title: title.clone(),
                platform: platform.clone(),
                external_id: external_id.clone(),
                started_at: None,
                metadata: parse_object(metadata.as_ref(), "metadata")?.unwrap_or_default(),
            };
            out.value(&m.create_session(new).await?)
        }
        SessionsAction::Get { id } => out.value(
            &m.session(t, id)
                .await?
                .ok_or_else(|| anyhow!("session {id:?} not found"))?,
        ),
        SessionsAction::Update {
            id,
            title,
            platform,
            external_id,
            metadata,
        } => {
            let patch = SessionPatch {
                title: title.clone(),
                platform: platform.clone(),
                external_id: external_id.clone(),
                metadata: parse_object(metadata.as_ref(), "metadata")?,
            };
            out.value(&m.update_session(t, id, patch).await?)
        }
        SessionsAction::List {
            user,
            agent,
            platform,
            external_id,
            limit,
            cursor,
        } => {
            let q = SessionQuery {
                user_id: user.clone(),
                agent_id: agent.clone(),
                platform: platform.clone(),
                external_id: external_id.clone(),
                after: None,
                limit: *limit,
            };
            out.value(&m.list_sessions(t, q, cursor.as_deref()).await?)
        }
    }
}

pub(crate) async fn topics(m: &Memory, t: &str, a: &TopicsAction, out: &Out) -> Result<()> {
    match a {
        TopicsAction::Create {
            session,
            title,
            outline,
        } => {
            let new = NewTopic {
                tenant: t.to_owned(),
                session_id: session.clone(),
                title: title.clone(),
                outline: parse_json(outline.as_ref(), "outline")?.unwrap_or_default(),
                ..NewTopic::default()
            };
            out.value(&m.create_topic(new).await?)
        }
        TopicsAction::List {
            session,
            completed,
            limit,
            cursor,
        } => {
            let q = TopicQuery {
                session_id: Some(session.clone()),
                completed: *completed,
                after: None,
                limit: *limit,
            };
            out.value(&m.list_topics(t, q, cursor.as_deref()).await?)
        }
        TopicsAction::Get { id } => out.value(&m.topic(t, *id).await?),
        TopicsAction::Update {
            id,
            title,
            outline,
            completed,
        } => {
            let patch = TopicPatch {
                title: title.clone(),
                outline: parse_json(outline.as_ref(), "outline")?,
                completed: *completed,
                metadata: None,
            };
            out.value(&m.update_topic(t, *id, patch).await?)
        }
        TopicsAction::Delete { id } => {
            m.delete_topic(t, *id).await?;
            out.value(&serde_json::json!({ "id": id, "deleted": true }))
        }
    }
}

pub(crate) async fn users(m: &Memory, t: &str, a: &UsersAction, out: &Out) -> Result<()> {
    match a {
        UsersAction::List {
            platform,
            external_id,
            limit,
            cursor,
        } => {
            let q = UserQuery {
                platform: platform.clone(),
                external_id: external_id.clone(),
                after: None,
                limit: *limit,
            };
            out.value(&m.list_users(t, q, cursor.as_deref()).await?)
        }
        UsersAction::Get { id } => out.value(
            &m.user(t, id)
                .await?
                .ok_or_else(|| anyhow!("user {id:?} not found"))?,
        ),
        UsersAction::Update {
            id,
            name,
            platform,
            external_id,
            metadata,
        } => {
            let patch = UserPatch {
                display_name: name.clone(),
                platform: platform.clone(),
                external_id: external_id.clone(),
                metadata: parse_object(metadata.as_ref(), "metadata")?,
            };
            out.value(&m.update_user(t, id, patch).await?)
        }
        UsersAction::Stats { id, agent } => {
            let scope = Scope {
                agent_id: agent.clone(),
                ..Scope::user(id.clone()).with_tenant(t.to_owned())
            };
            out.value(&m.scope_stats(&scope).await?)
        }
    }
}
