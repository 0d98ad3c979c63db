//! Store cases on the windows of long memories: kept with their memory,
//! found by vector id, and their vectors' deletes queued in the write that
//! retires them.

use memory_core::{ChunkSpan, StoredChunk, chunk_id};

use super::*;

fn windows(n: u32) -> Vec<StoredChunk> {
    (0..n)
        .map(|i| StoredChunk {
            index: i,
            start: i * 10,
            end: i * 10 + 15,
            embedding: (i > 0).then(|| vec![0.1 * i as f32, 0.5]),
        })
        .collect()
}

fn queued(entries: &[OutboxEntry], id: Uuid) -> Option<VectorOp> {
    entries.iter().find(|e| e.memory_id == id).map(|e| e.op)
}

/// Windows round-trip with their memory, map back from vector ids within
/// the tenant, and shrinking, growing and deleting queue exactly the
/// window deletes still due.
pub(super) async fn chunks_follow_their_memory(store: &Arc<dyn Store>) -> CaseResult {
    let scope = scope();
    let rec = record(&scope, "a long text about bees and honey");
    let id = rec.id;
    let mut stored = StoredMemory::new(rec.clone(), Some(vec![0.5, 0.25]));
    stored.chunks = windows(3);
    let mut changes = insert(std::slice::from_ref(&rec));
    changes.insert = vec![stored.clone()];
    store.apply(changes).await.or_fail("insert")?;
    let got = store.get_stored(&[id]).await.or_fail("get stored")?;
    ensure!(
        got.first().map(|m| &m.chunks) == Some(&stored.chunks),
        "windows round trip: {got:?}"
    );
    ensure!(
        got[0].vector_ids() == vec![id, chunk_id(id, 1), chunk_id(id, 2)],
        "vector ids: {:?}",
        got[0].vector_ids()
    );
    let scanned = store.scan_memories(None, 100_000).await.or_fail("scan")?;
    ensure!(
        scanned
            .iter()
            .any(|m| m.record.id == id && m.chunks.len() == 3),
        "scan lost the windows"
    );
    let asked = [chunk_id(id, 2), id, Uuid::now_v7()];
    let mut refs = store
        .chunk_refs(&scope.tenant, &asked)
        .await
        .or_fail("refs")?;
    refs.sort_by_key(|r| r.span.index);
    ensure!(
        refs.len() == 2
            && refs.iter().all(|r| r.memory_id == id)
            && refs[1].chunk_id == chunk_id(id, 2)
            && refs[1].span
                == ChunkSpan {
                    index: 2,
                    start: 20,
                    end: 35
                },
        "refs: {refs:?}"
    );
    ensure!(
        store
            .chunk_refs("another-tenant", &asked)
            .await
            .or_fail("refs elsewhere")?
            .is_empty(),
        "another tenant sees the windows"
    );

    // Shrink to two windows: window 2's vector is queued for deletion.
    let rewrite = |n: u32, version: u64| {
        let mut next = rec.clone();
        next.version = version + 1;
        let mut m = StoredMemory::new(next, Some(vec![0.25, 0.5]));
        m.chunks = windows(n);
        ChangeSet {
            update: vec![VersionedUpdate {
                memory: m,
                expected_version: version,
                replace_embedding: true,
            }],
            outbox: vec![(id, VectorOp::Upsert)],
            ..ChangeSet::default()
        }
    };
    store.apply(rewrite(2, 1)).await.or_fail("shrink")?;
    let pending = store
        .outbox_pending(100_000, 100)
        .await
        .or_fail("pending")?;
    ensure!(
        queued(&pending, chunk_id(id, 2)) == Some(VectorOp::Delete)
            && queued(&pending, chunk_id(id, 1)).is_none(),
        "shrinking queued: {pending:?}"
    );
    // Grow back: the queued delete would remove the window written anew.
    store.apply(rewrite(3, 2)).await.or_fail("grow")?;
    let pending = store
        .outbox_pending(100_000, 100)
        .await
        .or_fail("pending")?;
    ensure!(
        queued(&pending, chunk_id(id, 2)).is_none(),
        "a delete of a window written again is still queued: {pending:?}"
    );
    let got = store.get_stored(&[id]).await.or_fail("get")?;
    ensure!(got[0].chunks.len() == 3, "windows after growing: {got:?}");

    let delete = ChangeSet {
        delete: vec![id],
        outbox: vec![(id, VectorOp::Delete)],
        ..ChangeSet::default()
    };
    store.apply(delete).await.or_fail("delete")?;
    let pending = store
        .outbox_pending(100_000, 100)
        .await
        .or_fail("pending")?;
    ensure!(
        [id, chunk_id(id, 1), chunk_id(id, 2)]
            .iter()
            .all(|v| queued(&pending, *v) == Some(VectorOp::Delete)),
        "deleting did not queue every vector's delete: {pending:?}"
    );
    ensure!(
        store
            .chunk_refs(&scope.tenant, &asked)
            .await
            .or_fail("refs after delete")?
            .is_empty(),
        "windows outlived their memory"
    );
    let done: Vec<OutboxAck> = pending
        .iter()
        .filter(|e| e.tenant == scope.tenant)
        .map(|e| OutboxAck::of(e.memory_id, e.op))
        .collect();
    store.outbox_done(&done).await.or_fail("done")?;
    Ok(())
}
