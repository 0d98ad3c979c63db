//! Conformance of [`Store`] implementations.

use std::collections::BTreeSet;
use std::sync::Arc;

use memory_core::{
    ChangeSet, ErrorKind, Filter, HistoryEvent, HistoryOp, ListQuery, MemoryKind, MemoryRecord,
    Message, MessageQuery, OutboxAck, OutboxEntry, Role, Scope, Session, Store, StoredMemory,
    UserTouch, VectorOp, VectorState, VersionedUpdate, content_hash, now,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use uuid::Uuid;

use crate::vector::{random_payload, sample_filters};
use crate::{CaseResult, OrFail, Report, case, ensure, unique};

mod chunks;
mod conversations;
mod directory;
mod jobs;
mod maintenance;
mod memories;

use chunks::*;
use conversations::*;
use directory::*;
use jobs::*;
use maintenance::*;
use memories::*;

/// A new memory record for `scope`.
pub fn record(scope: &Scope, content: &str) -> MemoryRecord {
    MemoryRecord {
        embedding_model: Some("test".into()),
        ..MemoryRecord::new(scope.clone(), content)
    }
}

/// A change set inserting `records` with no vector and queuing nothing.
pub fn without_vectors(records: impl IntoIterator<Item = MemoryRecord>) -> ChangeSet {
    ChangeSet {
        insert: records
            .into_iter()
            .map(|r| StoredMemory::new(r, None))
            .collect(),
        ..ChangeSet::default()
    }
}

fn insert(records: &[MemoryRecord]) -> ChangeSet {
    ChangeSet {
        insert: records
            .iter()
            .map(|r| StoredMemory::new(r.clone(), Some(vec![0.5, 0.25])))
            .collect(),
        outbox: records.iter().map(|r| (r.id, VectorOp::Upsert)).collect(),
        history: records
            .iter()
            .map(|r| HistoryEvent::new(r, HistoryOp::Add, None, Some(r.content.clone()), "added"))
            .collect(),
        ..ChangeSet::default()
    }
}

fn scope() -> Scope {
    Scope::user(unique("user")).with_tenant(unique("tenant"))
}

/// Alice's untitled session `id` in `tenant`, started now.
fn session(tenant: &str, id: &str) -> Session {
    Session {
        id: id.into(),
        tenant: tenant.to_owned(),
        user_id: Some("alice".into()),
        agent_id: None,
        title: None,
        platform: None,
        external_id: None,
        started_at: now(),
        ended_at: None,
        metadata: serde_json::Map::new(),
    }
}

fn message(tenant: &str, session: &str, user: &str, text: &str) -> Message {
    Message {
        id: Uuid::now_v7(),
        tenant: tenant.to_owned(),
        session_id: session.to_owned(),
        user_id: Some(user.to_owned()),
        agent_id: None,
        role: Role::User,
        author_name: Some("Alice".into()),
        content: text.to_owned(),
        created_at: now(),
        metadata: serde_json::Map::new(),
        extracted: false,
        answered: false,
        client_id: None,
        topic_id: None,
    }
}

/// Runs every store case.
pub async fn run(store: Arc<dyn Store>) -> Report {
    let mut r = Report::new(format!("store[{}]", store.info().scheme));
    case!(r, insert_get_round_trip(&store));
    case!(r, change_sets_are_atomic(&store));
    case!(r, outbox_never_loses_a_newer_op(&store));
    case!(r, outbox_keeps_the_order_ops_were_queued(&store));
    case!(r, chunks_follow_their_memory(&store));
    case!(r, list_pages_and_filters(&store));
    case!(r, history_and_touch(&store));
    case!(r, messages_sessions_users(&store));
    case!(r, messages_client_ids_pages_and_answers(&store));
    case!(r, sessions_created_listed_and_found(&store));
    case!(r, users_patched_listed_and_found(&store));
    case!(r, topics_and_their_messages(&store));
    case!(r, scope_stats_count(&store));
    case!(r, scans_and_restores(&store));
    case!(r, forget_removes_everything(&store));
    case!(r, forget_spares_shared_sessions(&store));
    case!(r, stats_count(&store));
    case!(r, jobs_lease_retry_and_dead_letters(&store));
    case!(r, jobs_ride_with_their_write(&store));
    case!(r, concurrent_claims_never_overlap(&store));
    case!(r, message_inserts_trigger_their_job(&store));
    r
}
