//! Pushing vectors through the outbox: each op written to the index and
//! acknowledged, or left pending with its failure recorded.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::Memory;
use super::chunking::EmbedInput;
use crate::traits::{ChangeSet, OutboxAck, VectorOp, VectorRecord, VersionedUpdate};
use crate::{Error, ErrorKind, Result, StoredMemory};

/// Counts of one outbox flush.
#[derive(Debug, Default, Clone)]
pub(crate) struct FlushCounts {
    pub(crate) upserted: u64,
    pub(crate) deleted: u64,
    pub(crate) failed: u64,
    /// The memories whose vector write failed and stays queued.
    pub(crate) failed_ids: Vec<Uuid>,
    /// Whether the index failed a call for another reason than refusing
    /// its content: unreachable, overloaded, an unexpected answer.
    pub(crate) index_failed: bool,
}

impl FlushCounts {
    fn fail(&mut self, ids: &[Uuid]) {
        self.failed += ids.len() as u64;
        self.failed_ids.extend_from_slice(ids);
    }
}

/// A page of outbox ops made ready for the index: its deletes, and the
/// memories to upsert read from the store with their vectors (embedded
/// when they had none); what failed on the way is counted already.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    deletes: Vec<Uuid>,
    upserts: Vec<StoredMemory>,
    counts: FlushCounts,
}

impl Memory {
    /// Applies `changes` and writes the vectors its outbox queues. When the
    /// index is the store's own and every op is an upsert of a memory
    /// written with its vector, both go in one transaction of the store
    /// (one commit instead of three); otherwise the change set is applied,
    /// then flushed. Fails only when nothing was applied.
    pub(crate) async fn apply_and_flush(&self, changes: ChangeSet) -> Result<FlushCounts> {
        let written: Vec<StoredMemory> = changes.vectors_written().into_iter().cloned().collect();
        let ops = changes.outbox.clone();
        let with_vector: HashSet<Uuid> = written
            .iter()
            .filter(|m| m.embedding.is_some())
            .map(|m| m.record.id)
            .collect();
        let together = !ops.is_empty()
            && ops
                .iter()
                .all(|(id, op)| *op == VectorOp::Upsert && with_vector.contains(id));
        if together {
            let records: Vec<VectorRecord> =
                written.iter().flat_map(VectorRecord::all_of).collect();
            let store = &self.inner.store;
            let index = self.inner.vectors.as_ref();
            let collection = &self.inner.collection.name;
            match store
                .apply_with_own_vectors(&changes, index, collection, &records)
                .await
            {
                Ok(true) => {
                    return Ok(FlushCounts {
                        upserted: ops.len() as u64,
                        ..FlushCounts::default()
                    });
                }
                Ok(false) => {}
                // Another writer's row first: writing apart would meet it
                // again; the caller reads the winner and tries once more.
                Err(e) if e.kind() == ErrorKind::Conflict => return Err(e),
                // A vector the index refuses, say: the memories are
                // written apart, their vectors left to the flush.
                Err(e) => {
                    tracing::debug!(error = %e, "memories and vectors not written together; writing them apart");
                }
            }
        }
        self.inner.store.apply(changes).await?;
        Ok(self.flush(&ops, written).await)
    }

    /// Pushes outbox ops to the vector index, acknowledging or failing each.
    /// Never fails: what did not go through stays pending for `sync`.
    pub(crate) async fn flush(
        &self,
        ops: &[(Uuid, VectorOp)],
        known: Vec<StoredMemory>,
    ) -> FlushCounts {
        let ready = self.prepare(ops, known).await;
        self.commit(ready).await
    }

    /// The store's half of a flush: reads the memories to upsert (those in
    /// `known` are not read again) and embeds those without a vector.
    /// Nothing reaches the index yet, so the next page can be prepared
    /// while this one is committed.
    pub(crate) async fn prepare(
        &self,
        ops: &[(Uuid, VectorOp)],
        known: Vec<StoredMemory>,
    ) -> Prepared {
        let store = &self.inner.store;
        let max = self.inner.config.max_vector_attempts;
        let of = |op: VectorOp| -> Vec<Uuid> {
            ops.iter()
                .filter(|(_, o)| *o == op)
                .map(|(id, _)| *id)
                .collect()
        };
        let mut ready = Prepared {
            deletes: of(VectorOp::Delete),
            ..Prepared::default()
        };
        let upserts = of(VectorOp::Upsert);
        if upserts.is_empty() {
            return ready;
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
                    ready.counts.fail(&upserts);
                    return ready;
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
                        .map(|id| OutboxAck::of(*id, VectorOp::Upsert))
                        .collect::<Vec<_>>(),
                )
                .await;
        }
        let mut present: Vec<StoredMemory> =
            upserts.iter().filter_map(|id| by_id.remove(id)).collect();
        match self.fill_missing_embeddings(&mut present).await {
            Ok(refused) => {
                // Each keeps its own reason; the rest of the page goes on.
                for (i, e) in &refused {
                    let id = present[*i].record.id;
                    let _ = store.outbox_failed(&[id], &e.to_string(), max).await;
                    ready.counts.fail(&[id]);
                }
                let refused: HashSet<usize> = refused.into_iter().map(|(i, _)| i).collect();
                ready.upserts = present
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| !refused.contains(i))
                    .map(|(_, m)| m)
                    .collect();
            }
            Err(e) => {
                let ids: Vec<Uuid> = present.iter().map(|m| m.record.id).collect();
                let _ = store.outbox_failed(&ids, &e.to_string(), max).await;
                ready.counts.fail(&ids);
            }
        }
        ready
    }

    /// The index's half of a flush: the deletes, then the upserts, each
    /// acknowledged in the outbox or left there with its failure.
    pub(crate) async fn commit(&self, ready: Prepared) -> FlushCounts {
        let Prepared {
            deletes,
            upserts,
            mut counts,
        } = ready;
        let collection = &self.inner.collection.name;
        let max = self.inner.config.max_vector_attempts;
        if !deletes.is_empty() {
            let result = self.inner.vectors.delete(collection, &deletes).await;
            counts.index_failed |= result.is_err();
            let n = deletes.len() as u64;
            let done: Vec<OutboxAck> = deletes
                .iter()
                .map(|id| OutboxAck::of(*id, VectorOp::Delete))
                .collect();
            match self.ack(&done, result, max).await {
                Some(_) => counts.deleted += n,
                None => counts.failed += n,
            }
        }
        // A page is written in one call. When the index refuses its content
        // (invalid input, a wrong dimension), the page is split in halves
        // until the refused memories stand alone, so one record it cannot
        // take does not hold back the rest until `max_vector_attempts`. Any
        // other failure (unreachable, overloaded, an unexpected answer) would
        // fail every part alike, so the page fails whole and is not split.
        let mut parts = vec![&upserts[..]];
        while let Some(part) = parts.pop() {
            // A memory's windows are written with it and acknowledged with it.
            let records: Vec<VectorRecord> = part.iter().flat_map(VectorRecord::all_of).collect();
            // Done only while the store holds the version written: an update
            // queued meanwhile keeps its own upsert queued.
            let done: Vec<OutboxAck> = part
                .iter()
                .filter(|m| m.embedding.is_some())
                .map(|m| OutboxAck {
                    version: Some(m.record.version),
                    ..OutboxAck::of(m.record.id, VectorOp::Upsert)
                })
                .collect();
            let ids: Vec<Uuid> = done.iter().map(|a| a.memory_id).collect();
            if ids.is_empty() {
                continue;
            }
            let result = self.inner.vectors.upsert(collection, &records).await;
            if let Err(e) = &result {
                let refused = matches!(
                    e.kind(),
                    ErrorKind::InvalidInput | ErrorKind::DimensionMismatch
                );
                if refused && ids.len() > 1 {
                    let (first, second) = part.split_at(part.len() / 2);
                    parts.push(second);
                    parts.push(first);
                    continue;
                }
                counts.index_failed |= !refused;
            }
            match self.ack(&done, result, max).await {
                Some(acked) => {
                    counts.upserted += ids.len() as u64;
                    if acked.len() < ids.len() {
                        self.mend_overtaken(part, &acked).await;
                    }
                }
                None => counts.fail(&ids),
            }
        }
        counts
    }

    /// Mends the vectors of `written` whose upsert was no longer queued when
    /// acknowledged: a delete or an update of the memory overtook this
    /// write, flushed its own and then saw its vector overwritten by this
    /// older one. A memory now gone loses its vectors again; one changed
    /// since gets its current vectors again. One written twice at once (an
    /// add's flush beside a sync) is as the store has it and stays.
    async fn mend_overtaken(&self, written: &[StoredMemory], acked: &[Uuid]) {
        let acked: HashSet<Uuid> = acked.iter().copied().collect();
        let overtaken: Vec<&StoredMemory> = written
            .iter()
            .filter(|m| m.embedding.is_some() && !acked.contains(&m.record.id))
            .collect();
        let ids: Vec<Uuid> = overtaken.iter().map(|m| m.record.id).collect();
        let now: HashMap<Uuid, StoredMemory> = match self.inner.store.get_stored(&ids).await {
            Ok(found) => found.into_iter().map(|m| (m.record.id, m)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "re-reading overtaken vector writes failed; `check --repair` mends what they left");
                return;
            }
        };
        let mut stale: Vec<Uuid> = Vec::new();
        let mut current: Vec<VectorRecord> = Vec::new();
        for m in overtaken {
            match now.get(&m.record.id) {
                None => stale.extend(m.vector_ids()),
                Some(n)
                    if n.embedding.is_some()
                        && (n.record.version != m.record.version || n.embedding != m.embedding) =>
                {
                    let keep: HashSet<Uuid> = n.vector_ids().into_iter().collect();
                    stale.extend(m.vector_ids().into_iter().filter(|id| !keep.contains(id)));
                    current.extend(VectorRecord::all_of(n));
                }
                Some(_) => {}
            }
        }
        let collection = &self.inner.collection.name;
        if !current.is_empty()
            && let Err(e) = self.inner.vectors.upsert(collection, &current).await
        {
            tracing::warn!(error = %e, "rewriting overtaken vectors failed; `check --repair` mends them");
        }
        if !stale.is_empty()
            && let Err(e) = self.inner.vectors.delete(collection, &stale).await
        {
            tracing::warn!(error = %e, "deleting overtaken vectors failed; `check --repair` removes them");
        }
    }

    /// Acknowledges the written ops in the outbox, or records their failure.
    /// `None` when the write or the acknowledgement failed, else the
    /// upserts that were still queued (see `outbox_done`).
    async fn ack(&self, done: &[OutboxAck], result: Result<()>, max: u32) -> Option<Vec<Uuid>> {
        match result {
            Ok(()) => match self.inner.store.outbox_done(done).await {
                Ok(acked) => Some(acked),
                Err(e) => {
                    tracing::warn!(error = %e, "outbox acknowledgement failed; sync will redo it");
                    None
                }
            },
            Err(e) => {
                let ids: Vec<Uuid> = done.iter().map(|a| a.memory_id).collect();
                let op = done.first().map_or("", |a| a.op.as_str());
                tracing::warn!(error = %e, op, n = ids.len(), "vector write failed; left in the outbox");
                if let Err(e2) = self
                    .inner
                    .store
                    .outbox_failed(&ids, &e.to_string(), max)
                    .await
                {
                    tracing::warn!(error = %e2, "recording the outbox failure failed");
                }
                None
            }
        }
    }

    /// Embeds memories that have no stored vector (imported without one), one
    /// from another model, or windows without theirs, and stores the
    /// vectors with them; returns those the model refused, with why.
    async fn fill_missing_embeddings(
        &self,
        memories: &mut [StoredMemory],
    ) -> Result<Vec<(usize, Error)>> {
        let Embedded { done, refused } = self.embed_missing(memories).await?;
        if done.is_empty() {
            return Ok(refused);
        }
        let mut changes = ChangeSet::default();
        for i in done {
            let m = &memories[i];
            changes.update.push(VersionedUpdate {
                memory: m.clone(),
                expected_version: m.record.version,
                replace_embedding: true,
            });
        }
        self.inner.store.apply(changes).await?;
        Ok(refused)
    }

    /// Embeds, in place and in one call to the model, those of `memories`
    /// without a current vector of this engine's model (none, another
    /// model's or dimension's, a window without its own). A text the
    /// model cannot take (more windows than `chunking.max_chunks`, as
    /// after a change to a model with a smaller window) is refused alone
    /// rather than failing the others.
    pub(crate) async fn embed_missing(&self, memories: &mut [StoredMemory]) -> Result<Embedded> {
        let model = self.inner.embedder.model_id();
        let dim = self.inner.collection.dimension;
        let mut planned = Vec::new();
        let mut refused = Vec::new();
        for (i, m) in memories.iter().enumerate() {
            let current = m.embedding.as_ref().is_some_and(|e| e.len() == dim)
                && m.record.embedding_model.as_deref() == Some(model)
                && m.chunks
                    .iter()
                    .all(|c| c.index == 0 || c.embedding.is_some());
            if current {
                continue;
            }
            match self.windows_or_refused(&m.record.content)? {
                Ok(windows) => planned.push((i, windows)),
                Err(why) => refused.push((i, why)),
            }
        }
        if planned.is_empty() {
            return Ok(Embedded {
                done: Vec::new(),
                refused,
            });
        }
        let inputs: Vec<EmbedInput<'_>> = planned
            .iter()
            .map(|(i, windows)| {
                let r = &memories[*i].record;
                EmbedInput::of(&r.content, &r.metadata).planned(windows)
            })
            .collect();
        let vectors = self.embed_inputs(&inputs).await?;
        let done: Vec<usize> = planned.iter().map(|(i, _)| *i).collect();
        for (&i, v) in done.iter().zip(vectors) {
            let m = &mut memories[i];
            m.record.embedding_model = Some(model.to_owned());
            m.embedding = Some(v.vector);
            m.chunks = v.chunks;
        }
        Ok(Embedded { done, refused })
    }
}

/// What [`Memory::embed_missing`] did, by position.
#[derive(Debug, Default)]
pub(crate) struct Embedded {
    /// Embedded now.
    pub(crate) done: Vec<usize>,
    /// Refused by the model, with why.
    pub(crate) refused: Vec<(usize, Error)>,
}
