#![doc = include_str!("../README.md")]

mod batch;
mod bounded;
mod checkpoint;
mod compact;
mod config;
mod error;
mod filter_sql;
mod joined;
mod keyword;
mod keyword_terms;
mod rows;
mod store;
mod topk;
mod vector;

use std::str::FromStr;
use std::sync::Arc;

use memory_core::{
    BackendDescriptor, BackendUrl, Error, OpenedStore, Opening, Result, VectorIndex,
};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use compact::{CompactReport, compact};
pub use config::SqliteConfig;
pub use store::SqliteStore;
pub use vector::SqliteVectorIndex;

/// The URL schemes this crate serves: `file:` is Prisma's form of a SQLite
/// `DATABASE_URL` (seed 000's `file:./dev.db`).
pub const SCHEMES: &[&str] = &["sqlite", "file"];

/// This backend, for the `memory` facade's registry: a store with its own
/// keyword and vector indexes.
pub const BACKEND: BackendDescriptor = BackendDescriptor {
    name: "sqlite",
    schemes: SCHEMES,
    store: Some(open_store),
    vectors: Some(open_vectors),
    probe: Some(probe),
    ..BackendDescriptor::EMPTY
};

fn open_store(url: BackendUrl) -> Opening<OpenedStore> {
    Box::pin(async move {
        let (store, vectors) = SqliteDb::connect(url.as_str()).await?.store_with_vectors();
        Ok(OpenedStore::with_indexes(store, vectors))
    })
}

fn open_vectors(url: BackendUrl) -> Opening<Arc<dyn VectorIndex>> {
    Box::pin(async move {
        let db = SqliteDb::connect(url.as_str()).await?;
        Ok(db.vector_index() as Arc<dyn VectorIndex>)
    })
}

fn probe(url: BackendUrl) -> Opening<String> {
    Box::pin(async move {
        SqliteDb::connect(url.as_str())
            .await?
            .server_version()
            .await
    })
}

/// An open SQLite database: one pool shared by the store, the keyword index
/// and the vector index.
#[derive(Clone)]
pub struct SqliteDb {
    pool: SqlitePool,
    /// The one connection every write goes through. SQLite runs one
    /// writer at a time anyway; on one connection, writers queue here
    /// instead of sleeping in SQLite's busy handler, and the writer's page
    /// cache survives from write to write: a connection that sees another
    /// one changed the file drops its cache and memory map on its next
    /// transaction, which on a pool handing connections out in turn made
    /// most statements of an add start cold.
    writer: SqlitePool,
    /// Checkpoints the log in the background after writes.
    checkpoints: Arc<checkpoint::Checkpoints>,
    location: String,
    hnsw_threshold: usize,
    /// The bytes of partitions its vector indexes and its store's keyword
    /// indexes keep loaded, together.
    partitions: Arc<bounded::Budget>,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDb")
            .field("location", &self.location)
            .finish()
    }
}

impl SqliteDb {
    /// Opens (creating if needed) and migrates the database at `url`.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open(SqliteConfig::from_url(url)?).await
    }

    /// Opens (creating if needed) and migrates the database.
    pub async fn open(cfg: SqliteConfig) -> Result<Self> {
        let location = cfg.path.clone().unwrap_or_else(|| ":memory:".into());
        let base = match &cfg.path {
            Some(p) => SqliteConnectOptions::new()
                .filename(p)
                .create_if_missing(true),
            None => SqliteConnectOptions::from_str("sqlite::memory:")
                .map_err(|e| error::map(e, "connect"))?,
        };
        let synchronous = match cfg.synchronous.as_str() {
            "full" => SqliteSynchronous::Full,
            "off" => SqliteSynchronous::Off,
            _ => SqliteSynchronous::Normal,
        };
        let opts = base
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(cfg.busy_timeout)
            .pragma("cache_size", format!("-{}", u64::from(cfg.cache_mb) * 1024))
            // A vector row (1.5 KiB at 384 dimensions, 6 KiB at 1536, with
            // its payload) is more than a 4 KiB page of a WITHOUT ROWID
            // table holds in place, so each spilled into an overflow page
            // of its own. 32 KiB pages keep rows of up to about 8 KiB whole:
            // at 384 dimensions 2.2× less disk, 3.9× faster vector writes
            // and faster partition loads, and about as much disk as 4 KiB
            // pages or less up to 1536 dimensions, where 16 KiB pages spill
            // again, into pages of 16 KiB (README, Bulk ingest). It applies
            // when a file is created; an existing file keeps its page size.
            .page_size(compact::PAGE_SIZE)
            .pragma("temp_store", "memory")
            .pragma("mmap_size", (u64::from(cfg.mmap_mb) << 20).to_string());
        let pools = SqlitePoolOptions::new()
            .max_connections(cfg.max_connections)
            // sqlx would ping a connection's worker thread before handing
            // it out: a second round trip between threads for every
            // statement, checking nothing a local file can lose. Without
            // the ping, an acquire cancelled midway also cannot drop the
            // one connection that holds an in-memory database.
            .test_before_acquire(false)
            .min_connections(if cfg.path.is_none() { 1 } else { 0 })
            // An in-memory database lives only as long as its one connection.
            .idle_timeout(if cfg.path.is_none() {
                None
            } else {
                Some(std::time::Duration::from_secs(600))
            })
            .max_lifetime(if cfg.path.is_none() {
                None
            } else {
                Some(std::time::Duration::from_secs(3600))
            });
        // The first connection to a fresh file switches it to WAL, which
        // needs the file alone: another process doing the same at that
        // moment makes it fail as locked, and trying again succeeds.
        let mut attempt = 0;
        let pool = loop {
            match pools.clone().connect_with(opts.clone()).await {
                Err(e) if attempt < 4 && e.to_string().contains("database is locked") => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                }
                other => break other,
            }
        }
        .map_err(|e| {
            let path = cfg.path.as_deref().unwrap_or(":memory:");
            Error::new(
                memory_core::ErrorKind::Unavailable,
                format!("cannot open SQLite database {path:?}"),
            )
            .with_backend("sqlite")
            .with_source(e)
        })?;
        // Two processes opening a fresh file at once both see a migration
        // as pending; the loser's attempt fails (a column already added, a
        // busy lock) and rolls back, and running again finds it applied.
        let mut attempt = 0;
        loop {
            match sqlx::migrate!("./migrations").run(&pool).await {
                Ok(()) => break,
                Err(e) if attempt < 4 => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "SQLite migration raced another process; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => {
                    return Err(Error::internal("migrating the SQLite schema failed")
                        .with_backend("sqlite")
                        .with_source(e));
                }
            }
        }
        keyword_terms::refresh(&pool).await?;
        // An in-memory database is its one connection: it writes there too.
        let writer = if cfg.path.is_none() {
            pool.clone()
        } else {
            pools
                .max_connections(1)
                .connect_with(opts.pragma(
                    "wal_autocheckpoint",
                    checkpoint::WRITER_AUTOCHECKPOINT_PAGES.to_string(),
                ))
                .await
                .map_err(|e| error::map(e, "connect"))?
        };
        Ok(Self {
            pool,
            writer,
            checkpoints: Arc::default(),
            location,
            hnsw_threshold: cfg.hnsw_threshold,
            partitions: bounded::Budget::new(
                usize::try_from(cfg.partitions_mb)
                    .unwrap_or(usize::MAX)
                    .saturating_mul(1 << 20),
            ),
        })
    }

    /// The database file's path (none in memory).
    fn path(&self) -> Option<&str> {
        (self.location != ":memory:").then_some(self.location.as_str())
    }

    /// The store (and keyword index) on this database.
    pub fn store(&self) -> Arc<SqliteStore> {
        Arc::new(SqliteStore::new(self.clone()))
    }

    /// The vector index on this database.
    pub fn vector_index(&self) -> Arc<SqliteVectorIndex> {
        Arc::new(SqliteVectorIndex::new(self.clone(), false))
    }

    /// The vector index of this database's own store: a search reads its
    /// hits with their windows and memories in one statement.
    pub fn store_vector_index(&self) -> Arc<SqliteVectorIndex> {
        Arc::new(SqliteVectorIndex::new(self.clone(), true))
    }

    /// The store with the vector index of its own database
    /// ([`Self::store_vector_index`]), which it writes in the transaction
    /// of the memories the vectors belong to when the engine asks
    /// (`MemoryStore::apply_with_own_vectors`).
    pub fn store_with_vectors(&self) -> (Arc<SqliteStore>, Arc<SqliteVectorIndex>) {
        let index = self.store_vector_index();
        let mut store = SqliteStore::new(self.clone());
        store.own_vectors = Some(index.clone());
        (Arc::new(store), index)
    }

    /// The SQLite library's version and, for a file, its page size and
    /// free space, naming `memory compact` when it would help; for
    /// `memory doctor`.
    pub async fn server_version(&self) -> Result<String> {
        let (v, page, pages, free): (String, i64, i64, i64) = sqlx::query_as(
            "SELECT sqlite_version(), (SELECT page_size FROM pragma_page_size), \
             (SELECT page_count FROM pragma_page_count), (SELECT freelist_count FROM pragma_freelist_count)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| error::map(e, "version"))?;
        if self.path().is_none() {
            return Ok(format!("SQLite {v}"));
        }
        let mib = |n: i64| (n * page) as f64 / f64::from(1 << 20);
        let hint = if page < i64::from(compact::PAGE_SIZE) {
            "; `memory compact` brings it to 32 KiB pages"
        } else if free * 4 > pages {
            "; `memory compact` gives the free space back"
        } else {
            ""
        };
        Ok(format!(
            "SQLite {v}; {} KiB pages, {:.1} MiB of {:.1} MiB free{hint}",
            page / 1024,
            mib(free),
            mib(pages)
        ))
    }

    /// A write transaction that takes SQLite's write lock at once, so two
    /// writers queue on `busy_timeout` instead of failing at commit.
    pub(crate) async fn begin_immediate(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.writer()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| error::map(e, "begin"))
    }

    /// The connection to write through; the log is checkpointed shortly
    /// after.
    pub(crate) fn writer(&self) -> &SqlitePool {
        self.wrote();
        &self.writer
    }

    /// The connection to write through, for a statement that most often
    /// changes nothing (a poll): its caller calls [`Self::wrote`] when it
    /// did, so an idle poller schedules no checkpoint.
    pub(crate) fn writer_for_poll(&self) -> &SqlitePool {
        &self.writer
    }

    /// Notes a write through [`Self::writer_for_poll`]: the log is
    /// checkpointed shortly after.
    pub(crate) fn wrote(&self) {
        if self.path().is_some() {
            self.checkpoints.after_write(&self.pool);
        }
    }

    /// How many background checkpoints of the write-ahead log were
    /// scheduled since the database was opened (one per burst of writes).
    pub fn checkpoints_scheduled(&self) -> u64 {
        self.checkpoints.scheduled()
    }

    /// The underlying pool, for tests and benches that compare raw queries.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection (readers and the writer), waiting for those
    /// in use to come back; the file is then free for `compact`.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    fn info(&self) -> memory_core::BackendInfo {
        memory_core::BackendInfo {
            scheme: "sqlite",
            location: self.location.clone(),
        }
    }
}
