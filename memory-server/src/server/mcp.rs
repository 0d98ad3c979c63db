//! The MCP server: six tools over the same engine and the same access rules
//! as the REST routes. Served on stdio by `memory mcp` and as streamable HTTP
//! at `/mcp` by `memory serve`, where the API key of each HTTP request binds
//! the caller.

use std::sync::Arc;

use memory::{
    AddOutcome, AddRequest, Context, Filter, Memory, MemoryKind, MemoryRecord, Metadata, Page,
    Scope, SearchMode, SearchRequest, SearchResponse, Validity,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::access::{self, DEFAULT_BUDGET};
use super::auth::Caller;

/// Whose memories a tool call reads or writes.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct Owner {
    /// The user the memories belong to.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The agent they belong to.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The session they belong to.
    #[serde(default)]
    pub session_id: Option<String>,
}

impl Owner {
    fn scope(self) -> Scope {
        Scope {
            tenant: String::new(),
            user_id: self.user_id,
            agent_id: self.agent_id,
            session_id: self.session_id,
        }
    }
}

/// Which memories a read sees in time.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct InTime {
    /// Also return memories a newer one superseded.
    #[serde(default)]
    pub include_superseded: bool,
    /// What was believed at this time (RFC 3339), instead of now.
    #[serde(default)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
}

impl InTime {
    fn validity(&self) -> memory::Result<Validity> {
        Validity::from_options(self.include_superseded, self.as_of)
    }
}

/// `add_memory` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AddMemoryArgs {
    /// The text to remember, e.g. "prefers tea to coffee".
    pub content: String,
    /// Whose memory it is; needs a user, agent or session.
    #[serde(flatten)]
    pub owner: Owner,
    /// fact (default), preference, event, summary or profile.
    #[serde(default)]
    pub kind: Option<MemoryKind>,
    /// 1–10, 5 by default.
    #[serde(default)]
    pub importance: Option<f32>,
    /// A JSON object stored with the memory and usable in filters.
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// Id of a current memory this one contradicts (e.g. a new address):
    /// that one is kept as superseded, out of default searches.
    #[serde(default)]
    pub supersedes: Option<Uuid>,
    /// Id of the session topic it is about (filter with `topic_id`).
    #[serde(default)]
    pub topic_id: Option<Uuid>,
}

/// `search_memory` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchMemoryArgs {
    /// What to look for.
    pub query: String,
    /// Whose memories; unset fields match any value.
    #[serde(flatten)]
    pub owner: Owner,
    /// How many results (10 by default).
    #[serde(default)]
    pub k: Option<usize>,
    /// hybrid (default), semantic or keyword.
    #[serde(default)]
    pub mode: Option<SearchMode>,
    /// A filter in the JSON filter language, e.g. {"kind": "preference"}.
    #[serde(default)]
    pub filter: Option<serde_json::Value>,
    /// Current memories (default), all, or those of a past moment.
    #[serde(flatten)]
    pub time: InTime,
}

/// `list_memories` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListMemoriesArgs {
    /// Whose memories; unset fields match any value.
    #[serde(flatten)]
    pub owner: Owner,
    /// Page size (20 by default).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// A filter in the JSON filter language.
    #[serde(default)]
    pub filter: Option<serde_json::Value>,
    /// Current memories (default), all, or those of a past moment.
    #[serde(flatten)]
    pub time: InTime,
}

/// `delete_memory` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteMemoryArgs {
    /// The memory's id.
    pub id: Uuid,
}

/// What `delete_memory` did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Deleted {
    /// The id that was deleted.
    pub deleted: Uuid,
}

/// `get_context` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetContextArgs {
    /// The conversation whose recent messages to include.
    pub session_id: String,
    /// What the next answer is about; selects relevant memories.
    #[serde(default)]
    pub query: Option<String>,
    /// Whose memories to draw on.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The agent whose memories to draw on.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// Token budget of the rendered text (1000 by default).
    #[serde(default)]
    pub budget: Option<usize>,
}

/// The MCP tool server.
#[derive(Clone)]
pub struct MemoryMcp {
    memory: Memory,
    /// The caller on stdio; over HTTP each request's API key decides.
    fixed: Option<Caller>,
    tool_router: ToolRouter<Self>,
}

type ToolResult<T> = Result<Json<T>, String>;

fn failed(e: memory::Error) -> String {
    format!("{}: {}", e.kind(), e.message())
}

#[tool_router]
impl MemoryMcp {
    /// A server whose every call acts as `caller` (stdio).
    pub fn for_caller(memory: Memory, caller: Caller) -> Self {
        Self {
            memory,
            fixed: Some(caller),
            tool_router: Self::tool_router(),
        }
    }

    /// A server that takes the caller from each HTTP request.
    fn per_request(memory: Memory) -> Self {
        Self {
            memory,
            fixed: None,
            tool_router: Self::tool_router(),
        }
    }

    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Result<Caller, String> {
        if let Some(c) = &self.fixed {
            return Ok(c.clone());
        }
        ctx.extensions
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<Caller>())
            .cloned()
            .ok_or_else(|| "unauthorized: no API key on this request".to_owned())
    }

    #[tool(
        description = "Remember something about a user, agent or session. Exact duplicates are ignored and near-duplicates merged."
    )]
    async fn add_memory(
        &self,
        ctx: RequestContext<RoleServer>,
        Parameters(a): Parameters<AddMemoryArgs>,
    ) -> ToolResult<AddOutcome> {
        let caller = self.caller(&ctx)?;
        let mut req = AddRequest::new(
            access::limited(&self.memory, &caller, a.owner.scope())
                .await
                .map_err(failed)?,
            a.content,
        );
        if let Some(k) = a.kind {
            req = req.kind(k);
        }
        if let Some(i) = a.importance {
            req = req.importance(i);
        }
        if let Some(m) = a.metadata {
            req = req.metadata(m);
        }
        req.supersedes = a.supersedes;
        req.topic_id = a.topic_id;
        self.memory.add(req).await.map(Json).map_err(failed)
    }

    #[tool(description = "Find memories by meaning and keywords, best first, with scores.")]
    async fn search_memory(
        &self,
        ctx: RequestContext<RoleServer>,
        Parameters(a): Parameters<SearchMemoryArgs>,
    ) -> ToolResult<SearchResponse> {
        let caller = self.caller(&ctx)?;
        let mut req = SearchRequest::new(
            access::limited(&self.memory, &caller, a.owner.scope())
                .await
                .map_err(failed)?,
            a.query,
        );
        req.k = a.k;
        if let Some(m) = a.mode {
            req = req.mode(m);
        }
        req.filter = a.filter;
        req = req.validity(a.time.validity().map_err(failed)?);
        self.memory.search(req).await.map(Json).map_err(failed)
    }

    #[tool(description = "List memories, newest first, a page at a time.")]
    async fn list_memories(
        &self,
        ctx: RequestContext<RoleServer>,
        Parameters(a): Parameters<ListMemoriesArgs>,
    ) -> ToolResult<Page<MemoryRecord>> {
        let caller = self.caller(&ctx)?;
        let scope = access::limited(&self.memory, &caller, a.owner.scope())
            .await
            .map_err(failed)?;
        let filter = a
            .filter
            .as_ref()
            .map(Filter::parse)
            .transpose()
            .map_err(failed)?;
        self.memory
            .list(
                &scope,
                filter,
                a.time.validity().map_err(failed)?,
                a.limit.unwrap_or(20),
                a.cursor,
            )
            .await
            .map(Json)
            .map_err(failed)
    }

    #[tool(description = "Delete one memory by id.")]
    async fn delete_memory(
        &self,
        ctx: RequestContext<RoleServer>,
        Parameters(a): Parameters<DeleteMemoryArgs>,
    ) -> ToolResult<Deleted> {
        let caller = self.caller(&ctx)?;
        access::delete(&self.memory, &caller, a.id)
            .await
            .map_err(failed)?;
        Ok(Json(Deleted { deleted: a.id }))
    }

    #[tool(
        description = "The context for the next answer in a session: profile, relevant memories and recent messages, rendered as prompt text within a token budget."
    )]
    async fn get_context(
        &self,
        ctx: RequestContext<RoleServer>,
        Parameters(a): Parameters<GetContextArgs>,
    ) -> ToolResult<Context> {
        let caller = self.caller(&ctx)?;
        let scope = Scope {
            tenant: String::new(),
            user_id: a.user_id,
            agent_id: a.agent_id,
            session_id: None,
        };
        access::context(
            &self.memory,
            &caller,
            &a.session_id,
            scope,
            a.query.as_deref().unwrap_or(""),
            a.budget.unwrap_or(DEFAULT_BUDGET),
        )
        .await
        .map(Json)
        .map_err(failed)
    }

    #[tool(
        description = "Queue the extraction of a session's unrecorded facts into memories (the background worker runs it); with end, also end the session, which finishes its summary."
    )]
    async fn extract_session(
        &self,
        ctx: RequestContext<RoleServer>,
        Parameters(a): Parameters<ExtractSessionArgs>,
    ) -> ToolResult<ExtractQueued> {
        let caller = self.caller(&ctx)?;
        let m = &self.memory;
        access::session_allowed(m, &caller, &a.session_id)
            .await
            .map_err(failed)?;
        if a.end {
            m.end_session(&caller.tenant, &a.session_id)
                .await
                .map_err(failed)?;
        }
        m.queue_extraction(&caller.tenant, &a.session_id)
            .await
            .map_err(failed)?;
        Ok(Json(ExtractQueued {
            queued: true,
            session_id: a.session_id,
        }))
    }

    #[tool(
        description = "Counts for a user, or for a user with an agent (a character): memories by kind, superseded ones, messages, unextracted messages, sessions, first and last message."
    )]
    async fn memory_stats(
        &self,
        ctx: RequestContext<RoleServer>,
        Parameters(a): Parameters<Owner>,
    ) -> ToolResult<memory::ScopeStats> {
        let caller = self.caller(&ctx)?;
        let scope = access::scoped(&caller, a.scope()).map_err(failed)?;
        self.memory
            .scope_stats(&scope)
            .await
            .map(Json)
            .map_err(failed)
    }
}

/// `extract_session` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ExtractSessionArgs {
    /// The session whose messages to extract.
    pub session_id: String,
    /// Also end the session.
    #[serde(default)]
    pub end: bool,
}

/// What `extract_session` did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExtractQueued {
    /// Always true: the worker runs the job.
    pub queued: bool,
    /// The session.
    pub session_id: String,
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for MemoryMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("memory", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Long-term memory for this conversation's user: search_memory before answering, \
                 add_memory when the user states a fact or preference worth keeping, \
                 get_context for a ready-made prompt section, extract_session when a \
                 conversation ends, memory_stats for what is kept about a user.",
            )
    }
}

/// The streamable HTTP endpoint. Stateless: no MCP session lives in the
/// server, so any instance can answer any request.
pub(super) fn http_service(
    memory: Memory,
    no_auth: bool,
    max_body_bytes: usize,
) -> StreamableHttpService<MemoryMcp, NeverSessionManager> {
    let mut config = StreamableHttpServerConfig::default()
        .with_sse_keep_alive(None)
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_max_request_body_bytes(max_body_bytes);
    // With API keys the Host check adds nothing and would refuse a server
    // reached by its real hostname; without them (loopback only) it keeps
    // web pages from reaching the server through DNS rebinding.
    if !no_auth {
        config = config.disable_allowed_hosts();
    }
    StreamableHttpService::new(
        move || Ok(MemoryMcp::per_request(memory.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// Serves the tools on stdin/stdout as `caller` until the client hangs up,
/// then drains the vector outbox.
pub async fn serve_stdio(memory: Memory, caller: Caller) -> anyhow::Result<()> {
    use rmcp::ServiceExt;
    let running = MemoryMcp::for_caller(memory.clone(), caller)
        .serve(rmcp::transport::stdio())
        .await?;
    running.waiting().await?;
    memory.sync(false).await?;
    Ok(())
}
