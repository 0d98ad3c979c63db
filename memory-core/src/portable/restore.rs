//! Exact restores of memories (ids, embeddings, history), shared by
//! `import` of an export and `migrate`, and the fingerprint that verifies them.

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{ChangeSet, HistoryEvent, Result, Store, StoredMemory, VectorOp};

/// Writes memories (with their ids, embeddings and history) that `dst` does
/// not hold yet and queues their vectors; returns (written, already there).
/// Rows already present were written by an earlier, interrupted run.
pub(crate) async fn restore(
    dst: &dyn Store,
    items: Vec<(StoredMemory, Vec<HistoryEvent>)>,
) -> Result<(u64, u64)> {
    let (changes, present) = restoring(dst, items, false).await?;
    let written = changes.insert.len() as u64;
    if written > 0 {
        dst.apply(changes).await?;
    }
    Ok((written, present))
}

/// What restoring `items` into `dst` writes: the memories it does not hold
/// yet, with their history and queued vectors (without the embeddings when
/// `re_embed`); and how many it holds already.
pub(crate) async fn restoring(
    dst: &dyn Store,
    items: Vec<(StoredMemory, Vec<HistoryEvent>)>,
    re_embed: bool,
) -> Result<(ChangeSet, u64)> {
    let ids: Vec<Uuid> = items.iter().map(|(m, _)| m.record.id).collect();
    let present: HashSet<Uuid> = dst
        .get_stored(&ids)
        .await?
        .into_iter()
        .map(|m| m.record.id)
        .collect();
    let mut changes = ChangeSet::default();
    for (m, history) in items
        .into_iter()
        .filter(|(m, _)| !present.contains(&m.record.id))
    {
        let mut record = m.record;
        let (embedding, chunks) = if re_embed {
            record.embedding_model = None;
            (None, Vec::new())
        } else {
            (m.embedding, m.chunks)
        };
        changes.history.extend(history);
        changes.outbox.push((record.id, VectorOp::Upsert));
        changes.insert.push(StoredMemory {
            record,
            embedding,
            chunks,
        });
    }
    Ok((changes, present.len() as u64))
}

/// Count and SHA-256 over (id, content hash, version) of every memory of
/// `store`, in id order: equal fingerprints mean equal memories.
pub async fn fingerprint(store: &dyn Store) -> Result<(u64, String)> {
    let mut h = Sha256::new();
    let (mut n, mut after) = (0u64, None);
    loop {
        let page = store.scan_memories(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.record.id);
        for m in &page {
            h.update(m.record.id.as_bytes());
            h.update(m.record.content_hash.as_bytes());
            h.update(m.record.version.to_le_bytes());
            n += 1;
        }
    }
    Ok((n, hex::encode(h.finalize())))
}
