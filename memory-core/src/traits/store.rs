use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{BackendInfo, ConversationStore, JobStore, NewJob, VectorIndex, VectorRecord};
use crate::{
    ChunkRef, Filter, HistoryEvent, MemoryRecord, Message, Op, Page, Result, Scope, Session,
    StoredMemory, User,
};

/// What a pending vector write must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VectorOp {
    /// Write the memory's current vector and payload.
    Upsert,
    /// Remove the memory's vector.
    Delete,
}

impl VectorOp {
    /// The op's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upsert => "upsert",
            Self::Delete => "delete",
        }
    }
}

/// A vector write the index has confirmed, to be marked done in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxAck {
    /// The memory (or window) written.
    pub memory_id: Uuid,
    /// What was written.
    pub op: VectorOp,
    /// For an upsert, the memory's version whose vectors were written: the
    /// row is done only while the store still holds that version, so a
    /// newer version's upsert queued meanwhile stays queued. `None` marks
    /// the row done whatever the version.
    pub version: Option<u64>,
}

impl OutboxAck {
    /// The acknowledgement of `op` on `memory_id`, whatever its version.
    pub fn of(memory_id: Uuid, op: VectorOp) -> Self {
        Self {
            memory_id,
            op,
            version: None,
        }
    }
}

/// A row of the vector outbox: a vector write not yet confirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutboxEntry {
    /// The memory.
    pub memory_id: Uuid,
    /// Its tenant.
    pub tenant: String,
    /// What to do.
    pub op: VectorOp,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
}

/// An update that only applies if the stored version is still `expected_version`.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionedUpdate {
    /// The new state (its `record.version` is the new version).
    pub memory: StoredMemory,
    /// The version the writer read.
    pub expected_version: u64,
    /// Whether the new embedding replaces the stored one.
    pub replace_embedding: bool,
}

/// Everything one engine operation writes, applied in one transaction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangeSet {
    /// New memories.
    pub insert: Vec<StoredMemory>,
    /// Changed memories.
    pub update: Vec<VersionedUpdate>,
    /// Deleted memory ids.
    pub delete: Vec<Uuid>,
    /// History rows.
    pub history: Vec<HistoryEvent>,
    /// Outbox rows: one per memory id, the newest op wins.
    pub outbox: Vec<(Uuid, VectorOp)>,
    /// Jobs the write causes, enqueued in its transaction.
    pub jobs: Vec<NewJob>,
    /// Messages these memories were extracted from, marked extracted in the
    /// same transaction (so a retried extraction never writes twice).
    pub mark_extracted: Vec<Uuid>,
}

impl ChangeSet {
    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.insert.is_empty()
            && self.update.is_empty()
            && self.delete.is_empty()
            && self.history.is_empty()
            && self.outbox.is_empty()
            && self.jobs.is_empty()
            && self.mark_extracted.is_empty()
    }

    /// Rewrites a stored memory: the new state if the stored version is
    /// still `expected_version` (its embedding replaced when given), its
    /// history row, and its vector upsert.
    pub fn rewrite(&mut self, memory: StoredMemory, expected_version: u64, history: HistoryEvent) {
        self.history.push(history);
        self.outbox.push((memory.record.id, VectorOp::Upsert));
        self.update.push(VersionedUpdate {
            replace_embedding: memory.embedding.is_some(),
            memory,
            expected_version,
        });
    }

    /// The memories whose vectors this set writes: new ones, and updates
    /// that replace the embedding.
    pub fn vectors_written(&self) -> Vec<&StoredMemory> {
        self.insert
            .iter()
            .chain(
                self.update
                    .iter()
                    .filter(|u| u.replace_embedding)
                    .map(|u| &u.memory),
            )
            .collect()
    }

    /// Adds everything `other` writes.
    pub fn extend(&mut self, other: ChangeSet) {
        self.insert.extend(other.insert);
        self.update.extend(other.update);
        self.delete.extend(other.delete);
        self.history.extend(other.history);
        self.outbox.extend(other.outbox);
        self.jobs.extend(other.jobs);
        self.mark_extracted.extend(other.mark_extracted);
    }
}

/// A listing of memories.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    /// Only memories matching this (scope conditions included).
    pub filter: Option<Filter>,
    /// Page size.
    pub limit: usize,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// What `forget` removed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ForgetReport {
    /// Memories removed (their vectors are queued for deletion).
    pub memories: Vec<Uuid>,
    /// Messages removed.
    pub messages: u64,
    /// Sessions removed.
    pub sessions: u64,
    /// Users removed.
    pub users: u64,
}

/// Counts of what a store holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StoreStats {
    /// Memories.
    pub memories: u64,
    /// Messages.
    pub messages: u64,
    /// Sessions.
    pub sessions: u64,
    /// Users.
    pub users: u64,
    /// Topics.
    #[serde(default)]
    pub topics: u64,
    /// History rows.
    pub history: u64,
    /// Outbox rows still to write.
    pub outbox_pending: u64,
    /// Outbox rows that failed at least once.
    pub outbox_failed: u64,
}

/// Counts for one user, one agent, or one user with one agent (seed 003's
/// per-user, per-character statistics).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScopeStats {
    /// Current memories (superseded and expired ones excluded).
    pub memories: u64,
    /// Current memories per kind.
    pub memories_by_kind: std::collections::BTreeMap<String, u64>,
    /// Memories kept only as history (superseded).
    pub superseded: u64,
    /// Messages recorded.
    pub messages: u64,
    /// Messages not yet extracted into memories.
    pub unextracted_messages: u64,
    /// Sessions owned.
    pub sessions: u64,
    /// The first message.
    pub first_message_at: Option<DateTime<Utc>>,
    /// The last message.
    pub last_message_at: Option<DateTime<Utc>>,
}

/// What a store can do natively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct StoreCapabilities {
    /// Filter operators translated into the backend's query language.
    pub filter_ops: Vec<Op>,
    /// Whether `ChangeSet`s are atomic.
    pub transactions: bool,
}

/// The source of truth: memories, messages, sessions, users, history and
/// the vector outbox. A store implements the three role traits; `Store` is
/// all of them, held as `Arc<dyn Store>`.
///
/// # Behavior
///
/// - Every read takes a tenant and never returns another tenant's rows.
/// - `apply` is atomic: all of a [`ChangeSet`] is written or none of it. An
///   update whose stored version differs from `expected_version`, or a
///   missing row, fails the whole set with `Conflict`. An insert whose
///   (tenant, owner, content hash) already exists fails with `Conflict`.
/// - `apply` with an outbox op sets the memory's `vector_state` to pending;
///   `outbox_done` sets it to synced and removes the row only if its op is
///   still the acknowledged one (a newer op is never lost).
/// - `get_memories` returns the found ids in the order asked; missing ids are skipped.
/// - `list_memories` returns memories newest first; following `next_cursor`
///   visits every matching memory exactly once.
/// - `scan_memories` visits every memory of every tenant in ascending id order.
/// - `recent_messages` returns the newest `limit` messages in chronological order.
/// - `forget` removes everything of the scope and queues vector deletes in the
///   same transaction.
pub trait Store: MemoryStore + ConversationStore + MaintenanceStore + JobStore {}

impl<T> Store for T where T: MemoryStore + ConversationStore + MaintenanceStore + JobStore + ?Sized {}

/// Memories, their history and the vector outbox: what every engine
/// operation reads and writes.
#[async_trait]
pub trait MemoryStore: Send + Sync + std::fmt::Debug {
    /// What this store is.
    fn info(&self) -> BackendInfo;
    /// What it does natively.
    fn capabilities(&self) -> StoreCapabilities;

    /// Writes a change set atomically.
    async fn apply(&self, changes: ChangeSet) -> Result<()>;
    /// Memories by id, in the order asked.
    async fn get_memories(&self, tenant: &str, ids: &[Uuid]) -> Result<Vec<MemoryRecord>>;
    /// Memories with embeddings and windows by id, any tenant (for the
    /// outbox and reindexing).
    async fn get_stored(&self, ids: &[Uuid]) -> Result<Vec<StoredMemory>>;
    /// Which of `ids` (vector ids an index returned) are windows of the
    /// tenant's memories, with the memory and span of each.
    async fn chunk_refs(&self, tenant: &str, ids: &[Uuid]) -> Result<Vec<ChunkRef>>;
    /// The memory of `scope`'s owner whose content hash is `hash`.
    async fn find_by_hash(&self, scope: &Scope, hash: &str) -> Result<Option<MemoryRecord>>;
    /// A page of memories, newest first.
    async fn list_memories(&self, tenant: &str, query: &ListQuery) -> Result<Page<MemoryRecord>>;
    /// Records that these memories were returned to a caller.
    async fn touch_memories(&self, tenant: &str, ids: &[Uuid], at: DateTime<Utc>) -> Result<()>;
    /// A memory's history, oldest first.
    async fn history(&self, tenant: &str, memory_id: Uuid) -> Result<Vec<HistoryEvent>>;

    /// Outbox rows to work on, oldest first, skipping rows with `max_attempts` or more failures.
    async fn outbox_pending(&self, limit: usize, max_attempts: u32) -> Result<Vec<OutboxEntry>>;
    /// Marks these outbox rows done, each only while its op is still the
    /// one queued and, for an upsert with a version, the memory is still at
    /// that version (a newer op for the same memory stays). Answers the
    /// memories whose upsert was still queued, now marked synced.
    async fn outbox_done(&self, done: &[OutboxAck]) -> Result<Vec<Uuid>>;
    /// Records a failed attempt on these outbox rows, and on the state of
    /// their memories; a memory with no row left (another writer's flush
    /// acknowledged its op meanwhile) keeps its state.
    async fn outbox_failed(&self, ids: &[Uuid], error: &str, max_attempts: u32) -> Result<()>;

    /// Applies `changes` and writes `vectors` into `collection` of `index`
    /// in the same transaction, when `index` is the vector index this store
    /// keeps in its own database: the upserts `changes.outbox` queues for
    /// the memories among `vectors` are then done, their memories synced,
    /// and nothing is left for a flush. `Ok(false)`, with nothing applied,
    /// when `index` is any other: apply and flush instead.
    async fn apply_with_own_vectors(
        &self,
        changes: &ChangeSet,
        index: &dyn VectorIndex,
        collection: &str,
        vectors: &[VectorRecord],
    ) -> Result<bool> {
        let _ = (changes, index, collection, vectors);
        Ok(false)
    }
}

/// Whole-store work: scans in key order for export and migration, exact
/// restores, forgetting a scope, and counts.
#[async_trait]
pub trait MaintenanceStore: Send + Sync + std::fmt::Debug {
    /// Every memory of every tenant with ids above `after`, ascending, with
    /// its windows.
    async fn scan_memories(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<StoredMemory>>;
    /// Messages of every tenant in id order, after `after`.
    async fn scan_messages(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<Message>>;
    /// Sessions of every tenant in (tenant, id) order, after `after`.
    async fn scan_sessions(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Session>>;
    /// Users of every tenant in (tenant, id) order, after `after`.
    async fn scan_users(&self, after: Option<(&str, &str)>, limit: usize) -> Result<Vec<User>>;
    /// Writes a user exactly as given, replacing one with the same id; for
    /// restoring an export or a migration.
    async fn put_user(&self, user: &User) -> Result<()>;

    /// Removes everything of a scope (its owner fields are and-ed).
    async fn forget(&self, scope: &Scope) -> Result<ForgetReport>;
    /// Counts, for one tenant or all.
    async fn stats(&self, tenant: Option<&str>) -> Result<StoreStats>;
    /// Counts for a scope's user and/or agent (and-ed), at `now`.
    async fn scope_stats(&self, scope: &Scope, now: DateTime<Utc>) -> Result<ScopeStats>;

    /// A store-wide setting, if set.
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    /// Sets a store-wide setting, replacing its value.
    async fn put_setting(&self, key: &str, value: &str) -> Result<()>;
    /// The embedding model of any one memory that has one: what a store
    /// written before settings were kept was embedded with.
    async fn any_embedding_model(&self) -> Result<Option<String>>;
}
