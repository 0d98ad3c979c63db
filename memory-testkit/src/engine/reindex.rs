//! Engine cases on reindexing: a new model or prompt scheme, and writes
//! that race a reindex.

use super::*;

pub(super) async fn reindex_after_model_change(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let collection = r.memory.collection().name.clone();
    for t in ["one fact", "two facts", "three facts"] {
        r.memory
            .add(AddRequest::new(r.scope.clone(), t))
            .await
            .or_fail("add")?;
    }
    let new_model = || builder_on(b, &collection, &DeterministicEmbedder::new(32));
    let e = new_model().build().await.err();
    ensure!(
        e.as_ref().map(|e| e.kind()) == Some(ErrorKind::DimensionMismatch),
        "a new dimension was accepted silently: {e:?}"
    );
    let m2 = new_model()
        .allow_dimension_change(true)
        .build()
        .await
        .or_fail("build for reindex")?;
    let n = m2.reindex().await.or_fail("reindex")?;
    ensure!(n == 3, "reindexed {n} of 3");
    let spec = b.vectors.describe(&collection).await.or_fail("describe")?;
    ensure!(
        spec.map(|s| s.dimension) == Some(32),
        "collection dimension not changed"
    );
    let again = new_model().build().await.or_fail("build after reindex")?;
    let hits = again
        .search(
            SearchRequest::new(r.scope.clone(), "two facts")
                .mode(SearchMode::Semantic)
                .k(1),
        )
        .await
        .or_fail("search")?;
    ensure!(
        hits.hits.first().map(|h| h.memory.content.as_str()) == Some("two facts"),
        "search after reindex: {:?}",
        hits.hits.first().map(|h| &h.memory.content)
    );
    let c = again.check(false).await.or_fail("check")?;
    ensure!(c.is_consistent() && c.pending == 0, "after reindex: {c:?}");
    Ok(())
}

/// Vectors of another model or prompt scheme are refused until `reindex`
/// re-embeds everything; searches embed queries, writes embed documents.
pub(super) async fn prompt_scheme_change_needs_reindex(b: &Backends) -> CaseResult {
    let collection = crate::unique("scheme");
    let engine = |e: &DeterministicEmbedder| builder_on(b, &collection, e);
    let old = DeterministicEmbedder::new(64);
    let m = engine(&old).build().await.or_fail("build")?;
    let scope = Scope::user(crate::unique("scheme"));
    for t in ["likes green tea", "plays the cello"] {
        m.add(AddRequest::new(scope.clone(), t))
            .await
            .or_fail("add")?;
    }
    let (queries, documents) = old.kind_counts();
    ensure!(
        queries == 0 && documents >= 2,
        "adds embedded {queries} queries and {documents} documents"
    );
    m.search(SearchRequest::new(scope.clone(), "tea").mode(SearchMode::Semantic))
        .await
        .or_fail("search")?;
    ensure!(
        old.kind_counts().0 == 1,
        "a search embedded {:?} (queries, documents)",
        old.kind_counts()
    );
    engine(&old)
        .build()
        .await
        .or_fail("reopen with the same embedder")?;

    let new = DeterministicEmbedder::new(64).with_prompt_scheme("test-prefixes");
    let e = engine(&new).build().await.err();
    ensure!(
        e.as_ref().map(|e| e.kind()) == Some(ErrorKind::Config)
            && e.as_ref()
                .is_some_and(|e| e.message().contains("test-prefixes")),
        "another prompt scheme was accepted or not named: {e:?}"
    );
    let m2 = engine(&new)
        .allow_dimension_change(true)
        .build()
        .await
        .or_fail("build for reindex")?;
    let n = m2.reindex().await.or_fail("reindex")?;
    ensure!(n == 2, "reindexed {n} of 2");
    engine(&new).build().await.or_fail("build after reindex")?;
    let back = engine(&old).build().await.err();
    ensure!(
        back.as_ref().map(|e| e.kind()) == Some(ErrorKind::Config),
        "the old scheme was accepted after the reindex: {back:?}"
    );
    Ok(())
}

/// A memory changed while `reindex` embeds its page: the page's versioned
/// write is refused whole, so the page is read and embedded again; none of
/// its memories is left without a vector in the new collection.
pub(super) async fn reindex_redoes_a_page_changed_meanwhile(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let collection = r.memory.collection().name.clone();
    let texts = ["likes green tea", "plays the cello", "walks the dog daily"];
    let mut ids = Vec::new();
    for t in texts {
        let o = r
            .memory
            .add(AddRequest::new(r.scope.clone(), t))
            .await
            .or_fail("add")?;
        ids.push(o.id);
    }
    let new = DeterministicEmbedder::new(32);
    let m2 = builder_on(b, &collection, &new)
        .allow_dimension_change(true)
        .build()
        .await
        .or_fail("build for reindex")?;
    let (other, tenant, changed) = (m2.clone(), r.scope.tenant.clone(), ids[0]);
    new.before_next_documents(Box::pin(async move {
        let edit = UpdateRequest {
            content: Some("likes strong black coffee".into()),
            ..Default::default()
        };
        let _ = other.update(&tenant, changed, edit).await;
    }));
    let n = m2.reindex().await.or_fail("reindex")?;
    ensure!(n == 3, "reindexed {n} of 3");
    let current = [
        ("likes strong black coffee", ids[0]),
        (texts[1], ids[1]),
        (texts[2], ids[2]),
    ];
    has_current_vectors(b, &collection, &new, &r.scope.tenant, &current).await?;
    let c = m2.check(false).await.or_fail("check")?;
    ensure!(c.is_consistent() && c.pending == 0, "after reindex: {c:?}");
    Ok(())
}
