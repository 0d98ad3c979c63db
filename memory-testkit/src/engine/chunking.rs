//! Engine cases on texts longer than the embedder's window: split into
//! overlapping windows, found once by their best window, kept whole through
//! updates, deletes, outages, checks and reindexing.

use memory_core::{ChunkingConfig, VectorQuery, chunk_id};

use super::*;

/// `n` filler words. One word repeated keeps a window's bag of words
/// plain, so the words a query shares with one window decide its score.
fn filler(word: &str, n: usize) -> String {
    vec![word; n].join(" ")
}

async fn index_count(r: &Rig) -> Result<u64, String> {
    r.flaky
        .count(&r.memory_collection(), Some(&r.scope.tenant))
        .await
        .or_fail("count")
}

impl Rig {
    fn memory_collection(&self) -> String {
        self.memory.collection().name.clone()
    }
}

/// A 500-word text under a 200-word window: windows of 200 with 50 shared,
/// one vector each; a search for words only the last window holds finds
/// the memory once with that window's span; shrinking and deleting retire
/// the windows' vectors; the store and index agree throughout.
pub(super) async fn long_texts_are_split_into_windows(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let text = format!(
        "{} zebra quantum lighthouse {}",
        filler("alpha", 420),
        filler("omega", 77)
    );
    let added = m
        .add(AddRequest::new(r.scope.clone(), text.clone()))
        .await
        .or_fail("add long")?;
    m.add(AddRequest::new(r.scope.clone(), "a short note about tea"))
        .await
        .or_fail("add short")?;
    let stored = m
        .store()
        .get_stored(&[added.id])
        .await
        .or_fail("stored")?
        .pop()
        .ok_or("no stored memory")?;
    // 500 words, windows of 200 every 150: [0,200) [150,350) [300,500).
    ensure!(stored.chunks.len() == 3, "windows: {:?}", stored.chunks);
    let last = &stored.chunks[2];
    ensure!(
        text[last.start as usize..last.end as usize].contains("zebra quantum lighthouse"),
        "the last window does not hold the phrase"
    );
    ensure!(
        index_count(&r).await? == 4,
        "vectors: one per window plus the short memory"
    );
    let found = m
        .search(
            SearchRequest::new(r.scope.clone(), "zebra quantum lighthouse")
                .mode(SearchMode::Semantic)
                .k(5),
        )
        .await
        .or_fail("search")?;
    let ids: Vec<uuid::Uuid> = found.hits.iter().map(|h| h.memory.id).collect();
    ensure!(
        ids.first() == Some(&added.id) && ids.iter().filter(|i| **i == added.id).count() == 1,
        "the long memory first and once: {found:?}"
    );
    let span = found.hits[0].chunk.ok_or("no window on the hit")?;
    ensure!(
        span.index == 2 && text[span.start as usize..span.end as usize].contains("zebra"),
        "span of the best window: {span:?}"
    );
    let short = found
        .hits
        .iter()
        .find(|h| h.memory.id != added.id)
        .ok_or("the short memory is missing")?;
    ensure!(
        short.chunk.is_none(),
        "a one-window memory has a span: {short:?}"
    );
    let check = m.check(false).await.or_fail("check")?;
    ensure!(
        check.is_consistent() && check.index_count >= check.store_count,
        "{check:?}"
    );

    // Shrinking to one window retires the other two at once.
    m.update(
        &r.scope.tenant,
        added.id,
        memory_core::UpdateRequest {
            content: Some(filler("beta", 120)),
            ..Default::default()
        },
    )
    .await
    .or_fail("shrink")?;
    ensure!(
        index_count(&r).await? == 2,
        "stale windows stayed in the index"
    );
    let q = VectorQuery {
        tenant: r.scope.tenant.clone(),
        vector: DeterministicEmbedder::new(64).vector("zebra quantum lighthouse"),
        k: 10,
        filter: None,
    };
    let raw = r
        .flaky
        .query(&r.memory_collection(), &q)
        .await
        .or_fail("raw")?;
    ensure!(
        raw.iter().all(|h| h.id != chunk_id(added.id, 2)),
        "window 2's vector is still searchable"
    );
    // Growing again while the index is down: the windows arrive with the sync.
    r.flaky.set_down(true);
    m.update(
        &r.scope.tenant,
        added.id,
        memory_core::UpdateRequest {
            content: Some(text.clone()),
            ..Default::default()
        },
    )
    .await
    .or_fail("grow while down")?;
    r.flaky.set_down(false);
    m.sync(false).await.or_fail("sync")?;
    ensure!(index_count(&r).await? == 4, "windows lost in the outage");
    ensure!(
        m.check(false).await.or_fail("check")?.is_consistent(),
        "after the outage"
    );
    m.delete(&r.scope.tenant, added.id)
        .await
        .or_fail("delete")?;
    ensure!(index_count(&r).await? == 1, "windows outlived their memory");
    ensure!(
        m.check(false).await.or_fail("check")?.is_consistent(),
        "after delete"
    );
    Ok(())
}

/// Window and overlap come from the configuration; a lost window vector is
/// found by `check` and restored by `--repair`.
pub(super) async fn windows_follow_the_configuration(b: &Backends) -> CaseResult {
    let config = EngineConfig {
        chunking: ChunkingConfig {
            window_tokens: 100,
            overlap_tokens: 20,
            max_chunks: 64,
        },
        ..EngineConfig::default()
    };
    let r = rig(b, config).await?;
    let m = &r.memory;
    // Still one window: the embedder reads 200 words.
    let one = m
        .add(AddRequest::new(r.scope.clone(), filler("a", 180)))
        .await
        .or_fail("add")?;
    let long = m
        .add(AddRequest::new(r.scope.clone(), filler("b", 260)))
        .await
        .or_fail("add long")?;
    let stored = m
        .store()
        .get_stored(&[one.id, long.id])
        .await
        .or_fail("stored")?;
    let windows: Vec<(u32, u32)> = stored
        .iter()
        .find(|s| s.record.id == long.id)
        .ok_or("long memory missing")?
        .chunks
        .iter()
        .map(|c| (c.start, c.end))
        .collect();
    // 260 words in windows of 100 every 80: [0,100) [80,180) [160,260).
    ensure!(windows.len() == 3, "windows: {windows:?}");
    ensure!(
        stored
            .iter()
            .find(|s| s.record.id == one.id)
            .is_some_and(|s| s.chunks.is_empty()),
        "a text the embedder reads whole was split"
    );
    r.flaky
        .delete(&r.memory_collection(), &[chunk_id(long.id, 1)])
        .await
        .or_fail("lose a window")?;
    let check = m.check(false).await.or_fail("check")?;
    ensure!(
        check.missing_vectors == vec![chunk_id(long.id, 1)],
        "the lost window: {check:?}"
    );
    m.check(true).await.or_fail("repair")?;
    ensure!(
        m.check(false).await.or_fail("check")?.is_consistent(),
        "repair did not restore the window"
    );
    let n = m.reindex().await.or_fail("reindex")?;
    ensure!(n == 2, "reindexed {n}");
    ensure!(
        m.check(false).await.or_fail("check")?.is_consistent() && index_count(&r).await? == 4,
        "after reindex"
    );

    // A short text just like the long memory's first window is not a
    // restatement of all of it: merging would replace the long text.
    let like_window = m
        .add(AddRequest::new(r.scope.clone(), filler("b", 90)).dedup_threshold(0.9))
        .await
        .or_fail("add like a window")?;
    ensure!(
        like_window.event == AddEvent::Added && like_window.id != long.id,
        "a text like one window was merged into the long memory: {like_window:?}"
    );
    let kept = m.get(&r.scope.tenant, long.id).await.or_fail("get long")?;
    ensure!(
        kept.content == filler("b", 260),
        "the long memory's text was replaced by {} bytes",
        kept.content.len()
    );
    Ok(())
}
