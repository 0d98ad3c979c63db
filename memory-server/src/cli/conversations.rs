//! `message`, `recent`, `context`.

use anyhow::Result;
use clap::Args;
use memory::{Memory, RecordMessage, Role};

use super::memories::ScopeArgs;
use super::output::Out;

/// Record a conversation message.
#[derive(Args, Debug)]
pub(crate) struct MessageArgs {
    /// The text.
    content: String,
    /// Session id.
    #[arg(long)]
    session: String,
    /// User id.
    #[arg(long)]
    user: Option<String>,
    /// Agent id.
    #[arg(long)]
    agent: Option<String>,
    /// user, assistant, system or tool.
    #[arg(long, default_value = "user")]
    role: String,
    /// Also keep it as a searchable memory of kind `message`.
    #[arg(long)]
    remember: bool,
    /// The sender's own id for it: recording the same id again is a no-op.
    #[arg(long)]
    client_id: Option<String>,
    /// Id of the session's topic it is about.
    #[arg(long)]
    topic: Option<uuid::Uuid>,
}

/// Prompt context: profile facts, relevant memories, recent messages.
#[derive(Args, Debug)]
pub(crate) struct ContextArgs {
    /// What the prompt is about.
    query: String,
    #[command(flatten)]
    scope: ScopeArgs,
    /// Token budget (about 4 characters a token).
    #[arg(long, default_value_t = 1000)]
    budget: usize,
}

pub(crate) async fn message(m: &Memory, t: &str, a: &MessageArgs, out: &Out) -> Result<()> {
    let req = RecordMessage {
        tenant: t.to_owned(),
        agent_id: a.agent.clone(),
        user_id: a.user.clone(),
        role: Role::parse(&a.role)?,
        remember: a.remember.then_some(true),
        client_id: a.client_id.clone(),
        topic_id: a.topic,
        ..RecordMessage::user(a.session.clone(), String::new(), a.content.clone())
    };
    out.value(&m.record_message(req).await?)
}

pub(crate) async fn context(m: &Memory, t: &str, a: &ContextArgs, out: &Out) -> Result<()> {
    let ctx = m
        .context(
            &a.scope.scope(t),
            a.scope.session.as_deref(),
            &a.query,
            a.budget,
        )
        .await?;
    if out.json {
        out.value(&ctx)
    } else {
        out.line(&ctx.text)
    }
}
