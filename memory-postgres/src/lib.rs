#![doc = include_str!("../README.md")]

mod config;
mod error;
mod filter_sql;
mod joined;
mod keyword;
mod keyword_terms;
mod rows;
mod store;
mod vector;

use std::sync::Arc;

use memory_core::{
    BackendDescriptor, BackendUrl, Error, OpenedStore, Opening, Result, VectorIndex,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

pub use config::PgConfig;
pub use store::PgStore;
pub use vector::PgVectorIndex;

/// The URL schemes this crate serves.
pub const SCHEMES: &[&str] = &["postgres", "postgresql"];

/// This backend, for the `memory` facade's registry: a store with its own
/// tsvector keyword index and pgvector index.
pub const BACKEND: BackendDescriptor = BackendDescriptor {
    name: "postgres",
    schemes: SCHEMES,
    secret_keys: &["password", "sslpassword"],
    env: &["DATABASE_URL"],
    store: Some(open_store),
    vectors: Some(open_vectors),
    probe: Some(probe),
    ..BackendDescriptor::EMPTY
};

fn open_store(url: BackendUrl) -> Opening<OpenedStore> {
    Box::pin(async move {
        let db = PgDb::connect(url.as_str()).await?;
        Ok(OpenedStore::with_indexes(
            db.store(),
            db.store_vector_index(),
        ))
    })
}

fn open_vectors(url: BackendUrl) -> Opening<Arc<dyn VectorIndex>> {
    Box::pin(async move {
        let db = PgDb::connect(url.as_str()).await?;
        Ok(db.vector_index() as Arc<dyn VectorIndex>)
    })
}

fn probe(url: BackendUrl) -> Opening<String> {
    Box::pin(async move { PgDb::connect(url.as_str()).await?.server_version().await })
}

/// An open PostgreSQL database: one pool shared by store, keyword index and vector index.
#[derive(Clone)]
pub struct PgDb {
    pool: PgPool,
    cfg: PgConfig,
}

impl std::fmt::Debug for PgDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDb").field("cfg", &self.cfg).finish()
    }
}

impl PgDb {
    /// Connects and migrates (`postgres://…`, see [`PgConfig::from_url`]).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open(PgConfig::from_url(url)?).await
    }

    /// Connects and migrates. Migrations hold a PostgreSQL advisory lock, so
    /// several server instances may start at once.
    pub async fn open(cfg: PgConfig) -> Result<Self> {
        let unavailable = |e: sqlx::Error| {
            Error::new(
                memory_core::ErrorKind::Unavailable,
                format!(
                    "cannot connect to PostgreSQL at {}",
                    config::redact(&cfg.url)
                ),
            )
            .with_backend("postgres")
            .with_temporary(true)
            .with_source(e)
        };
        let mut opts: PgConnectOptions = cfg
            .url
            .parse()
            .map_err(|e| Error::config(format!("postgres URL: {e}")))?;
        // One direct attempt first: the pool would retry an unreachable
        // server until its acquire timeout, and a fallback list should move
        // on at once.
        {
            use sqlx::Connection;
            sqlx::PgConnection::connect_with(&opts)
                .await
                .map_err(unavailable)?
                .close()
                .await
                .map_err(unavailable)?;
        }
        if let Some(schema) = &cfg.schema {
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone())
                .await
                .map_err(unavailable)?;
            // The schema name is a checked identifier (PgConfig::from_url).
            let created = sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}"
            )))
            .execute(&admin)
            .await
            .map_err(|e| error::map(e, "create schema"));
            // Two connections creating the same schema at once can still clash
            // on the catalog's unique index; either way the schema now exists.
            match created {
                Err(e) if e.kind() != memory_core::ErrorKind::Conflict => return Err(e),
                _ => {}
            }
            admin.close().await;
            opts = opts.options([("search_path", format!("{schema},public"))]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(cfg.max_connections)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(unavailable)?;
        let ext = sqlx::query("CREATE EXTENSION IF NOT EXISTS vector")
            .execute(&pool)
            .await;
        // A concurrent creator clashing on the catalog means it exists too.
        let clash =
            matches!(&ext, Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("23505"));
        if !clash {
            ext.map_err(|e| {
            Error::config("postgres: the pgvector extension is not available (CREATE EXTENSION vector failed)").with_backend("postgres").with_source(e)
        })?;
        }
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| {
                Error::internal("migrating the PostgreSQL schema failed")
                    .with_backend("postgres")
                    .with_source(e)
            })?;
        keyword_terms::refresh(&pool, &cfg.ts_config).await?;
        Ok(Self { pool, cfg })
    }

    /// The store (and keyword index).
    pub fn store(&self) -> Arc<PgStore> {
        Arc::new(PgStore::new(self.clone()))
    }

    /// The pgvector index.
    pub fn vector_index(&self) -> Arc<PgVectorIndex> {
        Arc::new(PgVectorIndex::new(self.clone(), false))
    }

    /// The pgvector index of this database's own store: a search reads its
    /// hits and their memories in one statement.
    pub fn store_vector_index(&self) -> Arc<PgVectorIndex> {
        Arc::new(PgVectorIndex::new(self.clone(), true))
    }

    /// The server's and pgvector's versions, for `memory doctor`.
    pub async fn server_version(&self) -> Result<String> {
        let (server, vector): (String, Option<String>) = sqlx::query_as(
            "SELECT current_setting('server_version'), \
             (SELECT extversion FROM pg_extension WHERE extname = 'vector')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| error::map(e, "version"))?;
        Ok(format!(
            "PostgreSQL {server}, pgvector {}",
            vector.as_deref().unwrap_or("missing")
        ))
    }

    /// The pool, for benches comparing raw queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn info(&self) -> memory_core::BackendInfo {
        memory_core::BackendInfo {
            scheme: "postgres",
            location: config::redact(&self.cfg.url),
        }
    }
}
