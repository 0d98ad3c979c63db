//! Writes: add, update, delete and forget.

use std::collections::{HashMap, HashSet};

use futures::{StreamExt as _, TryStreamExt as _};
use uuid::Uuid;

use super::Memory;
use super::chunking::{EmbedInput, Windows};
use super::requests::{AddEvent, AddOutcome, AddRequest, UpdateRequest};
use super::topics::TOPIC_KEY;
use crate::hash::content_hash;
use crate::traits::{ChangeSet, ForgetReport, VectorOp};
use crate::{
    Error, ErrorKind, HistoryEvent, HistoryOp, MemoryRecord, Result, Scope, StoredMemory,
    VectorState,
};

/// Exact-duplicate lookups of one batch in flight at once.
const HASH_LOOKUPS: usize = 8;

/// Passes an add makes when concurrent writers keep inserting its texts first.
const ADD_ATTEMPTS: u32 = 4;

impl Memory {
    /// Adds one memory. Exact duplicates in the scope are a no-op; near
    /// duplicates update the existing memory only when the request or the
    /// engine sets a `dedup_threshold`.
    pub async fn add(&self, request: AddRequest) -> Result<AddOutcome> {
        let mut out = self
            .add_inner(vec![request], false, &ChangeSet::default())
            .await?;
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
        self.add_inner(requests, true, &ChangeSet::default()).await
    }

    /// Adds memories and writes `extra` (messages to mark, jobs) in the same
    /// transaction, even when every memory already exists.
    pub(crate) async fn add_with(
        &self,
        requests: Vec<AddRequest>,
        extra: &ChangeSet,
    ) -> Result<Vec<AddOutcome>> {
        self.add_inner(requests, true, extra).await
    }

    async fn add_inner(
        &self,
        mut requests: Vec<AddRequest>,
        batch: bool,
        extra: &ChangeSet,
    ) -> Result<Vec<AddOutcome>> {
        let mut topics_seen = HashSet::new();
        let mut plans = Vec::with_capacity(requests.len());
        for (i, r) in requests.iter_mut().enumerate() {
            let named = |e: Error| {
                if batch {
                    Error::new(e.kind(), format!("items[{i}].{}", e.message()))
                } else {
                    e
                }
            };
            r.validate(&self.inner.config).map_err(named)?;
            plans.push(self.windows(&r.content).map_err(named)?);
            if let Some(t) = r.topic_id.take() {
                if topics_seen.insert((r.scope.tenant.clone(), t)) {
                    self.check_topic("topic_id", &r.scope.tenant, t, None)
                        .await
                        .map_err(named)?;
                }
                r.metadata.insert(TOPIC_KEY.into(), t.to_string().into());
            }
        }
        // A concurrent writer may insert the same content between our hash
        // check and our insert; the unique index turns that into Conflict,
        // and the next pass finds the winner's row. Another writer may win
        // the next race too (batches of a pipeline overlap in turn), so a
        // few passes are allowed; the embedding cache serves their texts.
        let mut attempt = 1;
        loop {
            match self.add_attempt(&requests, &plans, extra).await {
                Err(e) if e.kind() == ErrorKind::Conflict && attempt < ADD_ATTEMPTS => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// One try at writing `requests`, whose windows are `plans`.
    async fn add_attempt(
        &self,
        requests: &[AddRequest],
        plans: &[Windows],
        extra: &ChangeSet,
    ) -> Result<Vec<AddOutcome>> {
        let now = crate::now();
        let mut outcomes: Vec<Option<AddOutcome>> = vec![None; requests.len()];
        let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
        let mut hashes = Vec::with_capacity(requests.len());
        let mut dup_of: Vec<Option<usize>> = vec![None; requests.len()];
        for (i, r) in requests.iter().enumerate() {
            let hash = content_hash(&r.content);
            let key = (r.scope.tenant.clone(), r.scope.owner_key(), hash.clone());
            match seen.get(&key) {
                Some(&first) => dup_of[i] = Some(first),
                None => {
                    seen.insert(key, i);
                }
            }
            hashes.push(hash);
        }
        // One lookup per distinct text, several in flight: a batch pays
        // for a few round trips to the store, not one per item.
        let mut found = futures::stream::iter(
            (0..requests.len())
                .filter(|&i| dup_of[i].is_none())
                .map(|i| {
                    self.inner
                        .store
                        .find_by_hash(&requests[i].scope, &hashes[i])
                }),
        )
        .buffered(HASH_LOOKUPS)
        .try_collect::<Vec<_>>()
        .await?
        .into_iter();
        let mut changes = ChangeSet::default();
        let mut todo = Vec::new();
        for (i, hash) in hashes.into_iter().enumerate() {
            if let Some(first) = dup_of[i] {
                // Its outcome is its first occurrence's, copied once that is known.
                todo.push((i, hash, Some(first)));
                continue;
            }
            match found.next().flatten() {
                // A fact told again after it expired is current again: the
                // unique index holds one current row per text, so the expired
                // row is revived rather than a new one added beside it.
                Some(existing) if existing.is_expired(now) => {
                    let mut next = existing.clone();
                    next.expires_at = requests[i].expires_at.map(crate::truncate_ms);
                    next.importance = next.importance.max(requests[i].importance);
                    next.updated_at = now;
                    next.version = existing.version + 1;
                    next.vector_state = VectorState::Pending;
                    changes.rewrite(
                        StoredMemory::new(next, None),
                        existing.version,
                        HistoryEvent::new(
                            &existing,
                            HistoryOp::Merge,
                            Some(existing.content.clone()),
                            Some(requests[i].content.clone()),
                            "restated after it expired",
                        ),
                    );
                    outcomes[i] = Some(AddOutcome {
                        id: existing.id,
                        event: AddEvent::Merged,
                        vector_state: VectorState::Pending,
                        similarity: Some(1.0),
                    });
                }
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
        let inputs: Vec<EmbedInput<'_>> = fresh
            .iter()
            .map(|(i, _, _)| {
                EmbedInput::of(&requests[*i].content, &requests[*i].metadata).planned(&plans[*i])
            })
            .collect();
        let embeddings = self.embed_inputs(&inputs).await?;

        let mut merged_into: HashSet<Uuid> = HashSet::new();
        let mut new_ids: HashMap<usize, Uuid> = HashMap::new();
        for ((i, hash, _), embedded) in fresh.into_iter().zip(embeddings) {
            let r = &requests[*i];
            if r.supersedes.is_none()
                && let Some((target, similarity)) = self
                    .near_duplicates(r, &embedded)
                    .await
                    .into_iter()
                    .find(|(m, _)| !merged_into.contains(&m.id))
            {
                merged_into.insert(target.id);
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
                changes.rewrite(
                    StoredMemory {
                        record: next,
                        embedding: Some(embedded.vector),
                        chunks: embedded.chunks,
                    },
                    target.version,
                    HistoryEvent::new(
                        &target,
                        HistoryOp::Merge,
                        Some(target.content.clone()),
                        Some(r.content.clone()),
                        format!("near-duplicate added (similarity {similarity:.3})"),
                    ),
                );
                outcomes[*i] = Some(AddOutcome {
                    id: target.id,
                    event: AddEvent::Merged,
                    vector_state: VectorState::Pending,
                    similarity: Some(similarity),
                });
                continue;
            }
            let mut record = MemoryRecord {
                kind: r.kind.clone(),
                importance: r.importance,
                confidence: r.confidence,
                metadata: r.metadata.clone(),
                source_message_ids: r.source_message_ids.clone(),
                created_at: now,
                updated_at: now,
                last_accessed_at: now,
                expires_at: r.expires_at.map(crate::truncate_ms),
                valid_from: r.valid_from.map(crate::truncate_ms),
                embedding_model: Some(self.inner.embedder.model_id().to_owned()),
                ..MemoryRecord::new(r.scope.clone(), r.content.clone())
            };
            if let Some(old) = r.supersedes {
                if !merged_into.insert(old) {
                    return Err(Error::invalid(format!(
                        "items[{i}].supersedes: memory {old} is superseded by another item of this batch"
                    )));
                }
                self.supersede(r, old, &mut record, &mut changes).await?;
            }
            changes.history.push(HistoryEvent::new(
                &record,
                HistoryOp::Add,
                None,
                Some(record.content.clone()),
                match record.supersedes {
                    Some(old) => format!("supersedes {old}"),
                    None => "added".to_owned(),
                },
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
                embedding: Some(embedded.vector),
                chunks: embedded.chunks,
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
        changes.extend(extra.clone());
        if !changes.is_empty() {
            // A supersede rewrites no vector: the flush reads it whole.
            let counts = self.apply_and_flush(changes).await?;
            let failed: HashSet<Uuid> = counts.failed_ids.into_iter().collect();
            for o in outcomes.iter_mut().flatten() {
                if o.event != AddEvent::Unchanged {
                    o.vector_state = if failed.contains(&o.id) {
                        VectorState::Pending
                    } else {
                        VectorState::Synced
                    };
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

    /// Changes a memory. A content change is re-embedded; every change gets a history row.
    pub async fn update(
        &self,
        tenant: &str,
        id: Uuid,
        request: UpdateRequest,
    ) -> Result<MemoryRecord> {
        request.validate(&self.inner.config)?;
        let plan = request
            .content
            .as_deref()
            .map(|c| self.windows(c))
            .transpose()?
            .flatten();
        // One read gives the record and its windows' vector ids.
        let stored = self.stored_current(tenant, id).await?;
        let current = stored.record.clone();
        if let Some(v) = request.expected_version
            && v != current.version
        {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("memory {id} is at version {}, not {v}", current.version),
            ));
        }
        let mut next = current.clone();
        let mut embedded = None;
        // Vectors of windows the new content no longer has: the store queues
        // their deletes with the write, and this call flushes them at once.
        let mut retired = Vec::new();
        if let Some(c) = &request.content
            && c != &current.content
        {
            retired = stored.vector_ids();
            next.content = c.clone();
            next.content_hash = content_hash(c);
            let metadata = request.metadata.as_ref().unwrap_or(&current.metadata);
            embedded = self
                .embed_inputs(&[EmbedInput::of(c, metadata).planned(&plan)])
                .await?
                .pop();
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
        changes.rewrite(
            match embedded {
                Some(e) => StoredMemory {
                    record: next.clone(),
                    embedding: Some(e.vector),
                    chunks: e.chunks,
                },
                None => StoredMemory::new(next.clone(), None),
            },
            current.version,
            HistoryEvent::new(
                &current,
                HistoryOp::Update,
                Some(current.content.clone()),
                Some(next.content.clone()),
                request.reason.clone().unwrap_or_else(|| "updated".into()),
            ),
        );
        let kept: HashSet<Uuid> = changes
            .update
            .iter()
            .flat_map(|u| u.memory.vector_ids())
            .collect();
        let mut ops = changes.outbox.clone();
        ops.extend(
            retired
                .into_iter()
                .filter(|v| !kept.contains(v))
                .map(|v| (v, VectorOp::Delete)),
        );
        self.inner.store.apply(changes).await?;
        let counts = self.flush(&ops, Vec::new()).await;
        if counts.failed == 0 {
            next.vector_state = VectorState::Synced;
        }
        Ok(next)
    }

    /// Deletes a memory and its vector.
    pub async fn delete(&self, tenant: &str, id: Uuid) -> Result<()> {
        let stored = self.stored_current(tenant, id).await?;
        // The store queues the deletes of its windows' vectors with the
        // delete; this call flushes them at once.
        let ops: Vec<(Uuid, VectorOp)> = stored
            .vector_ids()
            .into_iter()
            .map(|v| (v, VectorOp::Delete))
            .collect();
        let current = stored.record;
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
        self.flush(&ops, Vec::new()).await;
        Ok(())
    }

    /// The tenant's memory with its vector and windows, or `NotFound`.
    async fn stored_current(&self, tenant: &str, id: Uuid) -> Result<StoredMemory> {
        self.inner
            .store
            .get_stored(&[id])
            .await?
            .pop()
            .filter(|m| m.record.scope.tenant == tenant)
            .ok_or_else(|| Error::not_found(format!("memory {id} not found")))
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
}
