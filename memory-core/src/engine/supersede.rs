//! Contradictions: a new memory supersedes an old one, which stays with
//! `valid_until` and `superseded_by` for history and `as_of` reads; and the
//! history of a whole chain of such memories.

use std::collections::HashSet;

use uuid::Uuid;

use super::Memory;
use super::requests::AddRequest;
use crate::traits::ChangeSet;
use crate::{
    Error, ErrorKind, HistoryEvent, HistoryOp, MemoryRecord, Result, StoredMemory, VectorState,
};

/// The longest chain `history` follows in each direction.
const MAX_CHAIN: usize = 100;

impl Memory {
    /// Adds to `changes` the end of `old`'s validity in favour of `new`
    /// (which `r` asks for): the old memory gets `valid_until` (when the new
    /// one became true, never before the old one did) and `superseded_by`,
    /// a history row, and a vector upsert so the index's payload knows.
    pub(super) async fn supersede(
        &self,
        r: &AddRequest,
        old_id: Uuid,
        new: &mut MemoryRecord,
        changes: &mut ChangeSet,
    ) -> Result<()> {
        let old = self
            .current(&r.scope.tenant, old_id)
            .await
            .map_err(|e| Error::new(e.kind(), format!("supersedes: {}", e.message())))?;
        if old.scope != r.scope {
            return Err(Error::invalid(format!(
                "supersedes: memory {old_id} belongs to another owner"
            )));
        }
        if let Some(by) = old.superseded_by {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("supersedes: memory {old_id} is already superseded by {by}"),
            ));
        }
        let from = new.valid_from.unwrap_or(new.created_at);
        let until = from.max(old.valid_from.unwrap_or(old.created_at));
        new.valid_from = Some(from);
        new.supersedes = Some(old_id);
        let mut next = old.clone();
        next.valid_until = Some(until);
        next.superseded_by = Some(new.id);
        next.updated_at = new.created_at;
        next.version = old.version + 1;
        next.vector_state = VectorState::Pending;
        let history = HistoryEvent::new(
            &old,
            HistoryOp::Supersede,
            Some(old.content.clone()),
            Some(new.content.clone()),
            format!("superseded by {}", new.id),
        );
        let kept = StoredMemory::new(next, None);
        changes.rewrite(kept, old.version, history);
        Ok(())
    }

    /// A memory's history with that of the memories it superseded and that
    /// superseded it, oldest first: the whole chain of what was believed.
    pub async fn history(&self, tenant: &str, id: Uuid) -> Result<Vec<HistoryEvent>> {
        let store = &self.inner.store;
        let mut chain = vec![id];
        let mut seen: HashSet<Uuid> = chain.iter().copied().collect();
        if let Some(start) = store.get_memories(tenant, &[id]).await?.pop() {
            for forward in [false, true] {
                let mut at = start.clone();
                for _ in 0..MAX_CHAIN {
                    let next = if forward {
                        at.superseded_by
                    } else {
                        at.supersedes
                    };
                    let Some(next) = next.filter(|n| seen.insert(*n)) else {
                        break;
                    };
                    chain.push(next);
                    match store.get_memories(tenant, &[next]).await?.pop() {
                        Some(m) => at = m,
                        None => break,
                    }
                }
            }
        }
        let mut events = Vec::new();
        for m in chain {
            events.extend(store.history(tenant, m).await?);
        }
        events.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(events)
    }
}
