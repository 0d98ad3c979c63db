//! Retrying temporary backend errors, as a wrapper implementing the same
//! traits (a tower-style layer), not code repeated inside each backend.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::traits::*;
use crate::{
    ChunkRef, ErrorKind, HistoryEvent, MemoryRecord, Message, Page, Result, Scope, ScoredId,
    Session, StoredMemory, Topic, User,
};

/// How temporary errors are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First pause; doubled each retry, with jitter.
    pub base: Duration,
    /// Longest pause.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base: Duration::from_millis(25),
            max: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// Runs `f` until it succeeds, fails permanently, or retries run out.
    /// Rate limits are not retried here: the caller decides how to wait.
    pub async fn run<T, F, Fut>(&self, mut f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            match f().await {
                Err(e)
                    if e.is_temporary()
                        && e.kind() != ErrorKind::RateLimited
                        && attempt < self.max_retries =>
                {
                    let exp = self
                        .base
                        .saturating_mul(2u32.saturating_pow(attempt))
                        .min(self.max);
                    // Jitter without a random source: spread by the sub-second clock.
                    let jitter =
                        f64::from(crate::now().timestamp_subsec_nanos() % 500) / 1000.0 + 0.5;
                    tracing::debug!(error = %e, attempt, "retrying a temporary error");
                    tokio::time::sleep(exp.mul_f64(jitter)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// A backend wrapped so temporary errors are retried by [`RetryPolicy`].
#[derive(Debug)]
pub struct Retrying<T: ?Sized> {
    inner: Arc<T>,
    policy: RetryPolicy,
}

impl<T: ?Sized> Retrying<T> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<T>, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }
}

/// Implements a backend trait for `Retrying<T>`: `info` and `capabilities`
/// delegate, every async method runs through the retry policy. The whole
/// impl is generated so `#[async_trait]` sees the expanded methods.
macro_rules! retrying {
    ($trait:ident, $caps:ty, { $($methods:tt)* }) => {
        retrying!($trait, {
            fn info(&self) -> BackendInfo {
                self.inner.info()
            }
            fn capabilities(&self) -> $caps {
                self.inner.capabilities()
            }
        }, { $($methods)* });
    };
    ($trait:ident, { $($sync:tt)* }, { $( fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty; )* }) => {
        #[async_trait]
        impl<T: $trait + ?Sized> $trait for Retrying<T> {
            $($sync)*
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.policy.run(|| self.inner.$name($(Clone::clone(&$arg)),*)).await
                }
            )*
        }
    };
}

retrying!(MemoryStore, StoreCapabilities, {
    fn apply(&self, changes: ChangeSet) -> Result<()>;
    fn get_memories(&self, tenant: &str, ids: &[Uuid]) -> Result<Vec<MemoryRecord>>;
    fn get_stored(&self, ids: &[Uuid]) -> Result<Vec<StoredMemory>>;
    fn chunk_refs(&self, tenant: &str, ids: &[Uuid]) -> Result<Vec<ChunkRef>>;
    fn find_by_hash(&self, scope: &Scope, hash: &str) -> Result<Option<MemoryRecord>>;
    fn list_memories(&self, tenant: &str, query: &ListQuery) -> Result<Page<MemoryRecord>>;
    fn touch_memories(&self, tenant: &str, ids: &[Uuid], at: DateTime<Utc>) -> Result<()>;
    fn history(&self, tenant: &str, memory_id: Uuid) -> Result<Vec<HistoryEvent>>;
    fn outbox_pending(&self, limit: usize, max_attempts: u32) -> Result<Vec<OutboxEntry>>;
    fn outbox_done(&self, done: &[OutboxAck]) -> Result<Vec<Uuid>>;
    fn outbox_failed(&self, ids: &[Uuid], error: &str, max_attempts: u32) -> Result<()>;
    fn apply_with_own_vectors(
        &self,
        changes: &ChangeSet,
        index: &dyn VectorIndex,
        collection: &str,
        vectors: &[VectorRecord],
    ) -> Result<bool>;
});

retrying!(ConversationStore, {}, {
    fn insert_messages(&self, messages: &[Message]) -> Result<()>;
    fn insert_messages_triggering(
        &self,
        messages: &[Message],
        trigger: &ExtractTrigger,
    ) -> Result<()>;
    fn recent_messages(&self, tenant: &str, session_id: &str, limit: usize)
    -> Result<Vec<Message>>;
    fn unextracted_messages(
        &self,
        tenant: &str,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<Message>>;
    fn count_unextracted(&self, tenant: &str, session_id: &str) -> Result<u64>;
    fn mark_extracted(&self, tenant: &str, ids: &[Uuid]) -> Result<()>;
    fn list_messages(
        &self,
        tenant: &str,
        session_id: &str,
        query: &MessageQuery,
    ) -> Result<Vec<Message>>;
    fn mark_answered(&self, tenant: &str, session_id: &str, ids: &[Uuid]) -> Result<u64>;
    fn upsert_session(&self, session: &Session) -> Result<()>;
    fn get_session(&self, tenant: &str, id: &str) -> Result<Option<Session>>;
    fn touch_user(
        &self,
        tenant: &str,
        user_id: &str,
        touch: &UserTouch,
        at: DateTime<Utc>,
    ) -> Result<User>;
    fn patch_user(
        &self,
        tenant: &str,
        user_id: &str,
        patch: &UserPatch,
        at: DateTime<Utc>,
    ) -> Result<User>;
    fn get_user(&self, tenant: &str, user_id: &str) -> Result<Option<User>>;
    fn create_session(&self, session: &Session) -> Result<()>;
    fn replace_session(&self, session: &Session) -> Result<()>;
    fn list_sessions(&self, tenant: &str, query: &SessionQuery) -> Result<Vec<Session>>;
    fn list_users(&self, tenant: &str, query: &UserQuery) -> Result<Vec<User>>;
    fn create_topic(&self, topic: &Topic) -> Result<()>;
    fn replace_topic(&self, topic: &Topic) -> Result<()>;
    fn get_topic(&self, tenant: &str, id: Uuid) -> Result<Option<Topic>>;
    fn list_topics(&self, tenant: &str, query: &TopicQuery) -> Result<Vec<Topic>>;
    fn delete_topic(&self, tenant: &str, id: Uuid) -> Result<bool>;
});

retrying!(JobStore, {}, {
    fn enqueue(&self, jobs: &[NewJob]) -> Result<()>;
    fn claim(
        &self,
        owner: &str,
        limit: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Job>>;
    fn complete(&self, id: Uuid, owner: &str, next: Option<NewJob>) -> Result<bool>;
    fn fail(
        &self,
        id: Uuid,
        owner: &str,
        error: &str,
        retry: JobRetry,
        now: DateTime<Utc>,
    ) -> Result<()>;
    fn release(&self, owner: &str) -> Result<u64>;
    fn list_jobs(&self, tenant: Option<&str>, dead: bool, limit: usize) -> Result<Vec<Job>>;
    fn retry_dead(&self, ids: &[Uuid], now: DateTime<Utc>) -> Result<u64>;
    fn purge_dead(&self, ids: &[Uuid]) -> Result<u64>;
    fn job_counts(&self, now: DateTime<Utc>) -> Result<Vec<JobCounts>>;
});

retrying!(MaintenanceStore, {}, {
    fn scan_memories(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<StoredMemory>>;
    fn scan_messages(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<Message>>;
    fn scan_sessions(&self, after: Option<(&str, &str)>, limit: usize) -> Result<Vec<Session>>;
    fn scan_users(&self, after: Option<(&str, &str)>, limit: usize) -> Result<Vec<User>>;
    fn put_user(&self, user: &User) -> Result<()>;
    fn forget(&self, scope: &Scope) -> Result<ForgetReport>;
    fn stats(&self, tenant: Option<&str>) -> Result<StoreStats>;
    fn scope_stats(&self, scope: &Scope, now: DateTime<Utc>) -> Result<ScopeStats>;
    fn setting(&self, key: &str) -> Result<Option<String>>;
    fn put_setting(&self, key: &str, value: &str) -> Result<()>;
    fn any_embedding_model(&self) -> Result<Option<String>>;
});

retrying!(
    VectorIndex,
    {
        fn info(&self) -> BackendInfo {
            self.inner.info()
        }
        fn capabilities(&self) -> VectorCapabilities {
            self.inner.capabilities()
        }
        fn instance(&self) -> *const () {
            self.inner.instance()
        }
    },
    {
        fn create_collection(&self, spec: &CollectionSpec) -> Result<CollectionSpec>;
        fn describe(&self, name: &str) -> Result<Option<CollectionSpec>>;
        fn drop_collection(&self, name: &str) -> Result<()>;
        fn upsert(&self, collection: &str, records: &[VectorRecord]) -> Result<()>;
        fn delete(&self, collection: &str, ids: &[Uuid]) -> Result<()>;
        fn query(&self, collection: &str, query: &VectorQuery) -> Result<Vec<ScoredId>>;
        fn query_joined(
            &self,
            collection: &str,
            query: &VectorQuery,
        ) -> Result<Option<Vec<JoinedHit>>>;
        fn count(&self, collection: &str, tenant: Option<&str>) -> Result<u64>;
        fn list_ids(
            &self,
            collection: &str,
            after: Option<Uuid>,
            limit: usize,
        ) -> Result<Vec<Uuid>>;
    }
);

retrying!(KeywordIndex, KeywordCapabilities, {
    fn search(&self, query: &KeywordQuery) -> Result<Vec<ScoredId>>;
    fn search_joined(&self, query: &KeywordQuery) -> Result<Option<Vec<JoinedHit>>>;
});

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::Error;

    /// An index that only answers joined queries, each after one
    /// temporary failure.
    #[derive(Debug, Default)]
    struct JoinedOnly {
        calls: AtomicU32,
    }

    fn absent<T>() -> Result<T> {
        Err(Error::internal("not part of this test"))
    }

    #[async_trait]
    impl VectorIndex for JoinedOnly {
        fn info(&self) -> BackendInfo {
            BackendInfo {
                scheme: "joined",
                location: String::new(),
            }
        }
        fn capabilities(&self) -> VectorCapabilities {
            VectorCapabilities {
                max_dimension: 1,
                metrics: Vec::new(),
                filter_ops: Vec::new(),
                nested_filters: false,
                exact: true,
            }
        }
        async fn create_collection(&self, _: &CollectionSpec) -> Result<CollectionSpec> {
            absent()
        }
        async fn describe(&self, _: &str) -> Result<Option<CollectionSpec>> {
            absent()
        }
        async fn drop_collection(&self, _: &str) -> Result<()> {
            absent()
        }
        async fn upsert(&self, _: &str, _: &[VectorRecord]) -> Result<()> {
            absent()
        }
        async fn delete(&self, _: &str, _: &[Uuid]) -> Result<()> {
            absent()
        }
        async fn query(&self, _: &str, _: &VectorQuery) -> Result<Vec<ScoredId>> {
            absent()
        }
        async fn query_joined(&self, _: &str, _: &VectorQuery) -> Result<Option<Vec<JoinedHit>>> {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(Error::new(ErrorKind::Unavailable, "busy"));
            }
            Ok(Some(Vec::new()))
        }
        async fn count(&self, _: &str, _: Option<&str>) -> Result<u64> {
            absent()
        }
        async fn list_ids(&self, _: &str, _: Option<Uuid>, _: usize) -> Result<Vec<Uuid>> {
            absent()
        }
    }

    /// The engine reaches an index through this layer: an index's joined
    /// answer must come through it (retried), not the trait's `None`.
    #[tokio::test(start_paused = true)]
    async fn joined_queries_reach_the_index() {
        let index = Arc::new(JoinedOnly::default());
        let layered = Retrying::new(index.clone(), RetryPolicy::default());
        let q = VectorQuery {
            tenant: "t".into(),
            vector: vec![1.0],
            k: 1,
            filter: None,
        };
        let joined = layered.query_joined("c", &q).await.unwrap();
        assert_eq!(joined, Some(Vec::new()));
        assert_eq!(index.calls.load(Ordering::SeqCst), 2, "not retried");
        // A store that keeps this index as its own knows it through the layer.
        assert_eq!(layered.instance(), Arc::as_ptr(&index).cast::<()>());
    }

    #[tokio::test(start_paused = true)]
    async fn retries_temporary_errors_only() {
        let p = RetryPolicy::default();
        let calls = AtomicU32::new(0);
        let r: Result<u32> = p
            .run(|| async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 2 {
                    Err(Error::new(ErrorKind::Unavailable, "busy"))
                } else {
                    Ok(n)
                }
            })
            .await;
        assert_eq!(r.unwrap(), 2);
        let calls = AtomicU32::new(0);
        let r: Result<()> = p
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::invalid("bad"))
            })
            .await;
        assert!(
            r.is_err() && calls.load(Ordering::SeqCst) == 1,
            "a permanent error was retried"
        );
        let calls = AtomicU32::new(0);
        let r: Result<()> = p
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::new(ErrorKind::Unavailable, "down"))
            })
            .await;
        assert!(
            r.is_err() && calls.load(Ordering::SeqCst) == 4,
            "retries not bounded"
        );
    }
}
