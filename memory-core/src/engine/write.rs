//! Writes: add, update, delete, forget, and pushing vectors through the outbox.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::Memory;
use super::requests::{AddEvent, AddOutcome, AddRequest, UpdateRequest};
use crate::filter::{Condition, Field, Op};
use crate::hash::content_hash;
use crate::traits::{
    ChangeSet, EmbedderExt, ForgetReport, ListQuery, VectorOp, VectorPayload, VectorQuery,
    VectorRecord, VersionedUpdate,
};
use crate::vector_check::check_embeddings;
use crate::{
    Error, ErrorKind, Filter, HistoryEvent, HistoryOp, MemoryRecord, Page, Result, Scope,
    StoredMemory, VectorState,
};

/// The filter selecting exactly the owner of `scope` (unset fields must be absent).
pub(crate) fn owner_filter(scope: &Scope) -> Filter {
    let part = |field: Field, v: &Option<String>| {
        Filter::Cond(match v {
            Some(v) => Condition {
                field,
                op: Op::Eq,
                value: v.clone().into(),
            },
            None => Condition {
                field,
                op: Op::Exists,
                value: false.into(),
            },
        })
    };
    Filter::And(vec![
        part(Field::UserId, &scope.user_id),
        part(Field::AgentId, &scope.agent_id),
        part(Field::SessionId, &scope.session_id),
    ])
}

/// The filter selecting everything under `scope`: only the fields it sets are tested.
pub(crate) fn scope_filter(scope: &Scope) -> Option<Filter> {
    let parts: Vec<Filter> = [
        (Field::UserId, &scope.user_id),
        (Field::AgentId, &scope.agent_id),
        (Field::SessionId, &scope.session_id),
    ]
    .into_iter()
    .filter_map(|(f, v)| v.as_ref().map(|v| Filter::eq(f, v.clone())))
    .collect();
    (!parts.is_empty()).then_some(Filter::And(parts))
}

/// Counts of one outbox flush.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FlushCounts {
    pub(crate) upserted: u64,
    pub(crate) deleted: u64,
    pub(crate) failed: u64,
}

impl Memory {
    /// Adds one memory. Exact duplicates in the scope are a no-op; near
    /// duplicates (above `dedup_threshold`) update the existing memory.
    pub async fn add(&self, request: AddRequest) -> Result<AddOutcome> {
        let mut out = self.add_inner(vec![request], false).await?;
        out.pop()
            .ok_or_else(|| Error::internal("add returned nothing"))
    }

    /// Adds many memories at once: validated as a whole (an invalid item
    /// fails the batch and names its index), embedded in batches and written in one transaction.
    pub async fn add_batch(&self, requests: Vec<AddRequest>) -> Result<Vec<AddOutcome>> {
        if requests.len() > self.inner.config.max_batch {
            return Err(Error::invalid(format!(
                "batch: {} items, the maximum is {}",
                requests.len(),
                self.inner.config.max_batch
            )));
        }
        self.add_inner(requests, true).await
    }

    async fn add_inner(&self, requests: Vec<AddRequest>, batch: bool) -> Result<Vec<AddOutcome>> {
        for (i, r) in requests.iter().enumerate() {
            r.validate(&self.inner.config)
                .and_then(|()| self.check_window(&r.content))
                .map_err(|e| {
                    if batch {
                        Error::new(e.kind(), format!("items[{i}].{}", e.message()))
                    } else {
                        e
                    }
                })?;
        }
        // A concurrent writer may insert the same content between our hash
        // check and our insert; the unique index turns that into Conflict,
        // and a second pass then finds the winner's row.
        match self.add_attempt(&requests).await {
            Err(e) if e.kind() == ErrorKind::Conflict => self.add_attempt(&requests).await,
            other => other,
        }
    }

    async fn add_attempt(&self, requests: &[AddRequest]) -> Result<Vec<AddOutcome>> {
        let now = crate::now();
        let mut outcomes: Vec<Option<AddOutcome>> = vec![None; requests.len()];
        let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
        let mut todo = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            let hash = content_hash(&r.content);
            let key = (r.scope.tenant.clone(), r.scope.owner_key(), hash.clone());
            if let Some(&first) = seen.get(&key) {
                outcomes[i] = outcomes[first].clone();
                if outcomes[i].is_none() {
                    todo.push((i, hash, Some(first)));
                }
                continue;
            }
            seen.insert(key, i);
            match self.inner.store.find_by_hash(&r.scope, &hash).await? {
                Some(existing) => {
                    outcomes[i] = Some(AddOutcome {
                        id: existing.id,
                        event: AddEvent::Unchanged,
                        vector_state: existing.vector_state,
                        similarity: None,
                    })
                }
                None => todo.push((i, hash, None)),
            }
        }
        let fresh: Vec<&(usize, String, Option<usize>)> =
            todo.iter().filter(|(_, _, dup)| dup.is_none()).collect();
        let texts: Vec<String> = fresh
            .iter()
            .map(|(i, _, _)| requests[*i].content.clone())
            .collect();
        let embeddings = self.inner.embedder.embed_all(&texts).await?;
        check_embeddings(
            &embeddings,
            self.inner.collection.dimension,
            self.inner.embedder.model_id(),
        )?;

        let mut changes = ChangeSet::default();
        let mut merged_into: HashSet<Uuid> = HashSet::new();
        let mut new_ids: HashMap<usize, Uuid> = HashMap::new();
        for ((i, hash, _), embedding) in fresh.into_iter().zip(embeddings) {
            let r = &requests[*i];
            if let Some((target, similarity)) = self.near_duplicate(r, &embedding).await
                && merged_into.insert(target.id)
            {
                let mut next = target.clone();
                next.content = r.content.clone();
                next.content_hash = hash.clone();
                next.importance = next.importance.max(r.importance);
                next.confidence = r.confidence;
                next.kind = r.kind.clone();
                for (k, v) in &r.metadata {
                    next.metadata.insert(k.clone(), v.clone());
                }
                next.source_message_ids
                    .extend(r.source_message_ids.iter().copied());
                next.expires_at = r.expires_at.map(crate::truncate_ms).or(target.expires_at);
                next.updated_at = now;
                next.version = target.version + 1;
                next.vector_state = VectorState::Pending;
                next.embedding_model = Some(self.inner.embedder.model_id().to_owned());
                changes.history.push(HistoryEvent::new(
                    &target,
                    HistoryOp::Merge,
                    Some(target.content.clone()),
                    Some(r.content.clone()),
                    format!("near-duplicate added (similarity {similarity:.3})"),
                ));
                changes.outbox.push((target.id, VectorOp::Upsert));
                changes.update.push(VersionedUpdate {
                    memory: StoredMemory {
                        record: next,
                        embedding: Some(embedding),
                    },
                    expected_version: target.version,
                    replace_embedding: true,
                });
                outcomes[*i] = Some(AddOutcome {
                    id: target.id,
                    event: AddEvent::Merged,
                    vector_state: VectorState::Pending,
                    similarity: Some(similarity),
                });
                continue;
            }
            let record = MemoryRecord {
                id: Uuid::now_v7(),
                scope: r.scope.clone(),
                content: r.content.clone(),
                kind: r.kind.clone(),
                importance: r.importance,
                confidence: r.confidence,
                metadata: r.metadata.clone(),
                source_message_ids: r.source_message_ids.clone(),
                created_at: now,
                updated_at: now,
                last_accessed_at: now,
                access_count: 0,
                expires_at: r.expires_at.map(crate::truncate_ms),
                content_hash: hash.clone(),
                embedding_model: Some(self.inner.embedder.model_id().to_owned()),
                vector_state: VectorState::Pending,
                vector_attempts: 0,
                version: 1,
            };
            changes.history.push(HistoryEvent::new(
                &record,
                HistoryOp::Add,
                None,
                Some(record.content.clone()),
                "added",
            ));
            changes.outbox.push((record.id, VectorOp::Upsert));
            new_ids.insert(*i, record.id);
            outcomes[*i] = Some(AddOutcome {
                id: record.id,
                event: AddEvent::Added,
                vector_state: VectorState::Pending,
                similarity: None,
            });
            changes.insert.push(StoredMemory {
                record,
                embedding: Some(embedding),
            });
        }
        for (i, _, dup) in &todo {
            if let Some(first) = dup {
                outcomes[*i] = outcomes[*first].clone().map(|mut o| {
                    o.event = AddEvent::Unchanged;
                    o
                });
            }
        }
        if !changes.is_empty() {
            let written: Vec<StoredMemory> = changes
                .insert
                .iter()
                .cloned()
                .chain(changes.update.iter().map(|u| u.memory.clone()))
                .collect();
            let ops = changes.outbox.clone();
            self.inner.store.apply(changes).await?;
            let counts = self.flush(&ops, written).await;
            let state = if counts.failed == 0 {
                VectorState::Synced
            } else {
                VectorState::Pending
            };
            for o in outcomes.iter_mut().flatten() {
                if o.event != AddEvent::Unchanged {
                    o.vector_state = state;
                }
            }
            for (i, _, dup) in &todo {
                if let Some(first) = dup {
                    let state = outcomes[*first].as_ref().map(|o| o.vector_state);
                    if let (Some(state), Some(o)) = (state, outcomes[*i].as_mut()) {
                        o.vector_state = state;
                    }
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.ok_or_else(|| Error::internal("add: an item has no outcome")))
            .collect()
    }

    /// The most similar memory of the same owner above the threshold.
    async fn near_duplicate(
        &self,
        r: &AddRequest,
        embedding: &[f32],
    ) -> Option<(MemoryRecord, f32)> {
        let threshold = self.inner.config.dedup_threshold?;
        let query = VectorQuery {
            tenant: r.scope.tenant.clone(),
            vector: embedding.to_vec(),
            k: 1,
            filter: Some(owner_filter(&r.scope)),
        };
        let hits = match self
            .inner
            .vectors
            .query(&self.inner.collection.name, &query)
            .await
        {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "near-duplicate check skipped: vector index failed");
                return None;
            }
        };
        let best = hits.into_iter().find(|h| h.score >= threshold)?;
        let record = self
            .inner
            .store
            .get_memories(&r.scope.tenant, &[best.id])
            .await
            .ok()?
            .pop()?;
        (record.scope == r.scope).then_some((record, best.score))
    }

    /// Refuses content longer than the embedder's window: its vector would
    /// silently cover only the beginning.
    fn check_window(&self, content: &str) -> Result<()> {
        let e = &self.inner.embedder;
        match (e.max_tokens(), e.count_tokens(content)) {
            (Some(max), Some(n)) if n > max => Err(Error::invalid(format!(
                "content: {n} tokens, but the embedder {} reads at most {max} (about {} characters); split it into several memories",
                e.model_id(),
                max * 4
            ))),
            _ => Ok(()),
        }
    }

    /// The stored memory, or `NotFound`.
    async fn current(&self, tenant: &str, id: Uuid) -> Result<MemoryRecord> {
        self.inner
            .store
            .get_memories(tenant, &[id])
            .await?
            .pop()
            .ok_or_else(|| Error::not_found(format!("memory {id} not found")))
    }

    /// A memory by id; touches its access time.
    pub async fn get(&self, tenant: &str, id: Uuid) -> Result<MemoryRecord> {
        self.get_visible(tenant, id, |_| true).await
    }

    /// Like [`Memory::get`], for a caller who may see only some memories:
    /// one that `visible` rejects is `NotFound` and its access is not recorded.
    pub async fn get_visible(
        &self,
        tenant: &str,
        id: Uuid,
        visible: impl FnOnce(&MemoryRecord) -> bool,
    ) -> Result<MemoryRecord> {
        let mut found = self.inner.store.get_memories(tenant, &[id]).await?;
        let record = found
            .pop()
            .filter(visible)
            .ok_or_else(|| Error::not_found(format!("memory {id} not found")))?;
        if self.inner.config.track_access {
            self.inner
                .store
                .touch_memories(tenant, &[id], crate::now())
                .await?;
        }
        Ok(record)
    }

    /// Changes a memory. A content change is re-embedded; every change gets a history row.
    pub async fn update(
        &self,
        tenant: &str,
        id: Uuid,
        request: UpdateRequest,
    ) -> Result<MemoryRecord> {
        request.validate(&self.inner.config)?;
        if let Some(c) = &request.content {
            self.check_window(c)?;
        }
        let current = self.current(tenant, id).await?;
        if let Some(v) = request.expected_version
            && v != current.version
        {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("memory {id} is at version {}, not {v}", current.version),
            ));
        }
        let mut next = current.clone();
        let mut embedding = None;
        if let Some(c) = &request.content
            && c != &current.content
        {
            next.content = c.clone();
            next.content_hash = content_hash(c);
            embedding = Some(self.inner.embedder.embed_one(c).await?);
            check_embeddings(
                std::slice::from_ref(
                    embedding
                        .as_ref()
                        .ok_or_else(|| Error::internal("no embedding"))?,
                ),
                self.inner.collection.dimension,
                self.inner.embedder.model_id(),
            )?;
            next.embedding_model = Some(self.inner.embedder.model_id().to_owned());
        }
        if let Some(k) = &request.kind {
            next.kind = k.clone();
        }
        if let Some(i) = request.importance {
            next.importance = i;
        }
        if let Some(c) = request.confidence {
            next.confidence = c;
        }
        if let Some(m) = &request.metadata {
            next.metadata = m.clone();
        }
        if request.expires_at.is_some() {
            next.expires_at = request.expires_at.map(crate::truncate_ms);
        }
        if next == current {
            return Ok(current);
        }
        next.version = current.version + 1;
        next.updated_at = crate::now();
        next.vector_state = VectorState::Pending;
        let mut changes = ChangeSet::default();
        changes.history.push(HistoryEvent::new(
            &current,
            HistoryOp::Update,
            Some(current.content.clone()),
            Some(next.content.clone()),
            request.reason.clone().unwrap_or_else(|| "updated".into()),
        ));
        changes.outbox.push((id, VectorOp::Upsert));
        let replace_embedding = embedding.is_some();
        changes.update.push(VersionedUpdate {
            memory: StoredMemory {
                record: next.clone(),
                embedding,
            },
            expected_version: current.version,
            replace_embedding,
        });
        let ops = changes.outbox.clone();
        self.inner.store.apply(changes).await?;
        let counts = self.flush(&ops, Vec::new()).await;
        if counts.failed == 0 {
            next.vector_state = VectorState::Synced;
        }
        Ok(next)
    }

    /// Deletes a memory and its vector.
    pub async fn delete(&self, tenant: &str, id: Uuid) -> Result<()> {
        let current = self.current(tenant, id).await?;
        let changes = ChangeSet {
            delete: vec![id],
            history: vec![HistoryEvent::new(
                &current,
                HistoryOp::Delete,
                Some(current.content.clone()),
                None,
                "deleted",
            )],
            outbox: vec![(id, VectorOp::Delete)],
            ..ChangeSet::default()
        };
        self.inner.store.apply(changes).await?;
        self.flush(&[(id, VectorOp::Delete)], Vec::new()).await;
        Ok(())
    }

    /// Removes everything about a scope's owner: memories and their vectors,
    /// messages, sessions, the user row, and short-term keys.
    pub async fn forget(&self, scope: &Scope) -> Result<ForgetReport> {
        scope.validate(true)?;
        let report = self.inner.store.forget(scope).await?;
        let ops: Vec<(Uuid, VectorOp)> = report
            .memories
            .iter()
            .map(|id| (*id, VectorOp::Delete))
            .collect();
        for chunk in ops.chunks(500) {
            self.flush(chunk, Vec::new()).await;
        }
        if let Err(e) = self.inner.short_term.clear(scope).await {
            self.short_term_failed("clear", &e);
        }
        Ok(report)
    }

    /// A page of memories, newest first.
    pub async fn list(
        &self,
        scope: &Scope,
        filter: Option<Filter>,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<MemoryRecord>> {
        scope.validate(false)?;
        if limit == 0 || limit > 1000 {
            return Err(Error::invalid(format!(
                "limit: must be within 1 and 1000, got {limit}"
            )));
        }
        let filter = match (scope_filter(scope), filter) {
            (Some(a), Some(b)) => Some(a.and(b)),
            (a, b) => a.or(b),
        };
        self.inner
            .store
            .list_memories(
                &scope.tenant,
                &ListQuery {
                    filter,
                    limit,
                    cursor,
                },
            )
            .await
    }

    /// A memory's history, oldest first.
    pub async fn history(&self, tenant: &str, id: Uuid) -> Result<Vec<HistoryEvent>> {
        self.inner.store.history(tenant, id).await
    }

    /// Pushes outbox ops to the vector index, acknowledging or failing each.
    /// Never fails: what did not go through stays pending for `sync`.
    pub(crate) async fn flush(
        &self,
        ops: &[(Uuid, VectorOp)],
        known: Vec<StoredMemory>,
    ) -> FlushCounts {
        let mut counts = FlushCounts::default();
        let store = &self.inner.store;
        let collection = &self.inner.collection.name;
        let max = self.inner.config.max_vector_attempts;
        let deletes: Vec<Uuid> = ops
            .iter()
            .filter(|(_, o)| *o == VectorOp::Delete)
            .map(|(id, _)| *id)
            .collect();
        let upserts: Vec<Uuid> = ops
            .iter()
            .filter(|(_, o)| *o == VectorOp::Upsert)
            .map(|(id, _)| *id)
            .collect();
        if !deletes.is_empty() {
            let result = self.inner.vectors.delete(collection, &deletes).await;
            counts.deleted += self.ack(&deletes, VectorOp::Delete, result, max).await;
        }
        if upserts.is_empty() {
            return counts;
        }
        let mut by_id: HashMap<Uuid, StoredMemory> =
            known.into_iter().map(|m| (m.record.id, m)).collect();
        let unknown: Vec<Uuid> = upserts
            .iter()
            .filter(|id| !by_id.contains_key(id))
            .copied()
            .collect();
        if !unknown.is_empty() {
            match store.get_stored(&unknown).await {
                Ok(found) => by_id.extend(found.into_iter().map(|m| (m.record.id, m))),
                Err(e) => {
                    tracing::warn!(error = %e, "vector flush: store read failed");
                    counts.failed += upserts.len() as u64;
                    return counts;
                }
            }
        }
        // A row deleted since its upsert was queued has a newer delete op; acknowledging
        // the stale upsert is safe because `outbox_done` only removes matching ops.
        let gone: Vec<Uuid> = upserts
            .iter()
            .filter(|id| !by_id.contains_key(id))
            .copied()
            .collect();
        if !gone.is_empty() {
            let _ = store
                .outbox_done(
                    &gone
                        .iter()
                        .map(|id| (*id, VectorOp::Upsert))
                        .collect::<Vec<_>>(),
                )
                .await;
        }
        let mut present: Vec<StoredMemory> =
            upserts.iter().filter_map(|id| by_id.remove(id)).collect();
        if let Err(e) = self.fill_missing_embeddings(&mut present).await {
            let ids: Vec<Uuid> = present.iter().map(|m| m.record.id).collect();
            let _ = store.outbox_failed(&ids, &e.to_string(), max).await;
            counts.failed += ids.len() as u64;
            return counts;
        }
        let records: Vec<VectorRecord> = present
            .iter()
            .filter_map(|m| {
                m.embedding.as_ref().map(|v| VectorRecord {
                    id: m.record.id,
                    vector: v.clone(),
                    payload: VectorPayload::from(&m.record),
                })
            })
            .collect();
        let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
        let result = self.inner.vectors.upsert(collection, &records).await;
        let ok = self.ack(&ids, VectorOp::Upsert, result, max).await;
        counts.upserted += ok;
        counts.failed += ids.len() as u64 - ok;
        counts
    }

    async fn ack(&self, ids: &[Uuid], op: VectorOp, result: Result<()>, max: u32) -> u64 {
        match result {
            Ok(()) => {
                let done: Vec<(Uuid, VectorOp)> = ids.iter().map(|id| (*id, op)).collect();
                match self.inner.store.outbox_done(&done).await {
                    Ok(()) => ids.len() as u64,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox acknowledgement failed; sync will redo it");
                        0
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, op = op.as_str(), n = ids.len(), "vector write failed; left in the outbox");
                if let Err(e2) = self
                    .inner
                    .store
                    .outbox_failed(ids, &e.to_string(), max)
                    .await
                {
                    tracing::warn!(error = %e2, "recording the outbox failure failed");
                }
                0
            }
        }
    }

    /// Embeds memories that have no stored vector (imported without one) or one
    /// from another model.
    async fn fill_missing_embeddings(&self, memories: &mut [StoredMemory]) -> Result<()> {
        let model = self.inner.embedder.model_id();
        let dim = self.inner.collection.dimension;
        let need: Vec<usize> = memories
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                m.embedding.as_ref().is_none_or(|e| e.len() != dim)
                    || m.record.embedding_model.as_deref() != Some(model)
            })
            .map(|(i, _)| i)
            .collect();
        if need.is_empty() {
            return Ok(());
        }
        let texts: Vec<String> = need
            .iter()
            .map(|&i| memories[i].record.content.clone())
            .collect();
        let vectors = self.inner.embedder.embed_all(&texts).await?;
        check_embeddings(&vectors, dim, model)?;
        let mut changes = ChangeSet::default();
        for (&i, v) in need.iter().zip(vectors) {
            let m = &mut memories[i];
            let mut next = m.record.clone();
            next.embedding_model = Some(model.to_owned());
            changes.update.push(VersionedUpdate {
                memory: StoredMemory {
                    record: next.clone(),
                    embedding: Some(v.clone()),
                },
                expected_version: m.record.version,
                replace_embedding: true,
            });
            m.record = next;
            m.embedding = Some(v);
        }
        self.inner.store.apply(changes).await
    }
}
