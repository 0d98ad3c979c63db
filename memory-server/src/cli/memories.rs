//! `add`, `search`, `list`, `get`, `update`, `delete`, `history`, `forget`.

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use memory::{
    AddRequest, Filter, Memory, MemoryKind, Scope, SearchMode, SearchRequest, UpdateRequest,
    Validity,
};
use uuid::Uuid;

use super::output::Out;

/// Whose memories: any of user, agent and session.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ScopeArgs {
    /// User id.
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// Agent id.
    #[arg(long)]
    pub(crate) agent: Option<String>,
    /// Session id.
    #[arg(long)]
    pub(crate) session: Option<String>,
}

impl ScopeArgs {
    pub(crate) fn scope(&self, tenant: &str) -> Scope {
        Scope {
            tenant: tenant.to_owned(),
            user_id: self.user.clone(),
            agent_id: self.agent.clone(),
            session_id: self.session.clone(),
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub(crate) enum ModeArg {
    Hybrid,
    Semantic,
    Keyword,
}

impl ModeArg {
    /// The engine's search mode.
    pub(crate) fn mode(self) -> SearchMode {
        match self {
            Self::Hybrid => SearchMode::Hybrid,
            Self::Semantic => SearchMode::Semantic,
            Self::Keyword => SearchMode::Keyword,
        }
    }
}

/// Remember something.
#[derive(Args, Debug)]
pub(crate) struct AddArgs {
    /// The text to remember.
    content: String,
    #[command(flatten)]
    scope: ScopeArgs,
    /// fact, preference, event, summary, profile or any other word.
    #[arg(long, default_value = "fact")]
    kind: String,
    /// 1–10.
    #[arg(long, default_value_t = 5.0)]
    importance: f32,
    /// JSON object.
    #[arg(long)]
    metadata: Option<String>,
    /// RFC 3339 time after which it is forgotten.
    #[arg(long)]
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// RFC 3339 time it became true or happened, if not now.
    #[arg(long)]
    valid_from: Option<chrono::DateTime<chrono::Utc>>,
    /// Id of a current memory this one contradicts; that one is kept as superseded.
    #[arg(long)]
    supersedes: Option<Uuid>,
    /// Id of the topic it is about (filter with `topic_id`).
    #[arg(long)]
    topic: Option<Uuid>,
}

/// Find memories by meaning and keyword.
#[derive(Args, Debug)]
pub(crate) struct SearchArgs {
    /// What to look for.
    query: String,
    #[command(flatten)]
    scope: ScopeArgs,
    /// How many hits.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Which lists to consult.
    #[arg(long, value_enum, default_value = "hybrid")]
    mode: ModeArg,
    /// Filter, JSON form (see README).
    #[arg(long)]
    filter: Option<String>,
    /// Page cursor from a previous search.
    #[arg(long)]
    cursor: Option<String>,
    /// Also search the language model's rephrasings of the query.
    #[arg(long)]
    rewrite: bool,
    #[command(flatten)]
    time: TimeArgs,
}

/// Which memories a read sees in time.
#[derive(Args, Debug)]
pub(crate) struct TimeArgs {
    /// Also return memories a newer one superseded.
    #[arg(long)]
    include_superseded: bool,
    /// What was believed at this time (RFC 3339), instead of now.
    #[arg(long)]
    as_of: Option<chrono::DateTime<chrono::Utc>>,
}

impl TimeArgs {
    fn validity(&self) -> memory::Result<Validity> {
        Validity::from_options(self.include_superseded, self.as_of)
    }
}

/// List memories, newest first.
#[derive(Args, Debug)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// Filter, JSON form.
    #[arg(long)]
    filter: Option<String>,
    /// Page size.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Page cursor from a previous listing.
    #[arg(long)]
    cursor: Option<String>,
    #[command(flatten)]
    time: TimeArgs,
}

/// Change a memory (re-embedded when the content changes).
#[derive(Args, Debug)]
pub(crate) struct UpdateArgs {
    /// Memory id.
    id: Uuid,
    /// New content.
    #[arg(long)]
    content: Option<String>,
    /// New importance.
    #[arg(long)]
    importance: Option<f32>,
    /// New metadata (JSON object, replaces the old).
    #[arg(long)]
    metadata: Option<String>,
    /// Fail unless the memory is still at this version.
    #[arg(long)]
    expected_version: Option<u64>,
}

fn parse_filter(f: Option<&String>) -> Result<Option<serde_json::Value>> {
    f.map(|s| serde_json::from_str(s).with_context(|| format!("--filter is not JSON: {s}")))
        .transpose()
}

pub(super) fn parse_object(
    s: Option<&String>,
    name: &str,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>> {
    match s {
        None => Ok(None),
        Some(s) => {
            match serde_json::from_str(s).with_context(|| format!("--{name} is not JSON: {s}"))? {
                serde_json::Value::Object(m) => Ok(Some(m)),
                _ => bail!("--{name} must be a JSON object"),
            }
        }
    }
}

pub(crate) async fn add(m: &Memory, t: &str, a: &AddArgs, out: &Out) -> Result<()> {
    let req = AddRequest {
        kind: MemoryKind::parse(&a.kind),
        importance: a.importance,
        metadata: parse_object(a.metadata.as_ref(), "metadata")?.unwrap_or_default(),
        expires_at: a.expires_at,
        valid_from: a.valid_from,
        supersedes: a.supersedes,
        topic_id: a.topic,
        ..AddRequest::new(a.scope.scope(t), a.content.clone())
    };
    out.value(&m.add(req).await?)
}

pub(crate) async fn search(m: &Memory, t: &str, a: &SearchArgs, out: &Out) -> Result<()> {
    let mut req = SearchRequest::new(a.scope.scope(t), a.query.clone())
        .k(a.k)
        .mode(a.mode.mode());
    req.filter = parse_filter(a.filter.as_ref())?;
    req.cursor = a.cursor.clone();
    if a.rewrite {
        req = req.rewrite(true);
    }
    req = req.validity(a.time.validity()?);
    out.search(&m.search(req).await?)
}

pub(crate) async fn list(m: &Memory, t: &str, a: &ListArgs, out: &Out) -> Result<()> {
    let f = parse_filter(a.filter.as_ref())?
        .map(|v| Filter::parse(&v))
        .transpose()?;
    out.page(
        &m.list(
            &a.scope.scope(t),
            f,
            a.time.validity()?,
            a.limit,
            a.cursor.clone(),
        )
        .await?,
    )
}

pub(crate) async fn update(m: &Memory, t: &str, a: &UpdateArgs, out: &Out) -> Result<()> {
    let req = UpdateRequest {
        content: a.content.clone(),
        importance: a.importance,
        metadata: parse_object(a.metadata.as_ref(), "metadata")?,
        expected_version: a.expected_version,
        ..UpdateRequest::default()
    };
    out.memory(&m.update(t, a.id, req).await?)
}

pub(crate) async fn delete(m: &Memory, t: &str, id: Uuid, out: &Out) -> Result<()> {
    m.delete(t, id).await?;
    out.line(&format!("deleted {id}"))
}
