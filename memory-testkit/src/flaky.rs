use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use memory_core::{
    BackendInfo, CollectionSpec, Error, ErrorKind, JoinedHit, Result, ScoredId, VectorCapabilities,
    VectorIndex, VectorQuery, VectorRecord,
};
use uuid::Uuid;

/// Wraps a vector index and fails every call while switched down, as an
/// unreachable server would, or refuses the upserts that carry a marked
/// record, as a server refusing one record's payload would: for testing
/// the outbox and degraded search.
pub struct FlakyIndex {
    inner: Arc<dyn VectorIndex>,
    down: AtomicBool,
    refused: AtomicU64,
    poison: Mutex<Option<String>>,
    before_upsert: Mutex<Option<Hook>>,
}

impl std::fmt::Debug for FlakyIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlakyIndex")
            .field("inner", &self.inner)
            .field("down", &self.down)
            .field("refused", &self.refused)
            .finish_non_exhaustive()
    }
}

/// Work run inside an index call, before the call reaches the index.
pub type Hook = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

impl FlakyIndex {
    /// Wraps `inner`, up.
    pub fn new(inner: Arc<dyn VectorIndex>) -> Self {
        Self {
            inner,
            down: AtomicBool::new(false),
            refused: AtomicU64::new(0),
            poison: Mutex::new(None),
            before_upsert: Mutex::new(None),
        }
    }

    /// Runs `hook` inside the next upsert, before it reaches the index: a
    /// write that another one overtakes while its request is on the way.
    pub fn before_next_upsert(&self, hook: Hook) {
        if let Ok(mut slot) = self.before_upsert.lock() {
            *slot = Some(hook);
        }
    }

    /// Refuses, as invalid, every upsert holding a record whose metadata
    /// has `key` (`None`: refuses none). The rest of the call is refused
    /// with it, as a server refuses a whole request.
    pub fn refuse_metadata(&self, key: Option<&str>) {
        if let Ok(mut poison) = self.poison.lock() {
            *poison = key.map(str::to_owned);
        }
    }

    fn refuses(&self, records: &[VectorRecord]) -> Result<()> {
        let poison = self.poison.lock().ok().and_then(|p| p.clone());
        match poison {
            Some(key)
                if records
                    .iter()
                    .any(|r| r.payload.metadata.contains_key(&key)) =>
            {
                Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("a record has `{key}` (test)"),
                )
                .with_backend("flaky"))
            }
            _ => Ok(()),
        }
    }

    /// Switches failures on or off.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Vectors whose upsert was refused while down, so far: how often
    /// callers tried to write them.
    pub fn refused_upserts(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }

    fn check(&self) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(
                Error::new(ErrorKind::Unavailable, "vector index is down (test)")
                    .with_backend("flaky"),
            )
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl VectorIndex for FlakyIndex {
    fn info(&self) -> BackendInfo {
        self.inner.info()
    }
    fn capabilities(&self) -> VectorCapabilities {
        self.inner.capabilities()
    }
    async fn create_collection(&self, spec: &CollectionSpec) -> Result<CollectionSpec> {
        self.check()?;
        self.inner.create_collection(spec).await
    }
    async fn describe(&self, name: &str) -> Result<Option<CollectionSpec>> {
        self.check()?;
        self.inner.describe(name).await
    }
    async fn drop_collection(&self, name: &str) -> Result<()> {
        self.check()?;
        self.inner.drop_collection(name).await
    }
    async fn upsert(&self, collection: &str, records: &[VectorRecord]) -> Result<()> {
        if let Err(e) = self.check() {
            self.refused
                .fetch_add(records.len() as u64, Ordering::SeqCst);
            return Err(e);
        }
        self.refuses(records)?;
        let hook = self.before_upsert.lock().ok().and_then(|mut h| h.take());
        if let Some(hook) = hook {
            hook.await;
        }
        self.inner.upsert(collection, records).await
    }
    async fn delete(&self, collection: &str, ids: &[Uuid]) -> Result<()> {
        self.check()?;
        self.inner.delete(collection, ids).await
    }
    async fn query(&self, collection: &str, query: &VectorQuery) -> Result<Vec<ScoredId>> {
        self.check()?;
        self.inner.query(collection, query).await
    }
    // Forwarded so the engine cases run the joined read a store's own
    // index answers with, as the engine does in use.
    async fn query_joined(
        &self,
        collection: &str,
        query: &VectorQuery,
    ) -> Result<Option<Vec<JoinedHit>>> {
        self.check()?;
        self.inner.query_joined(collection, query).await
    }
    async fn count(&self, collection: &str, tenant: Option<&str>) -> Result<u64> {
        self.check()?;
        self.inner.count(collection, tenant).await
    }
    async fn list_ids(
        &self,
        collection: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Uuid>> {
        self.check()?;
        self.inner.list_ids(collection, after, limit).await
    }
}
