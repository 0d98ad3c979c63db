//! Engine cases on validity: a contradicted memory is superseded, kept for
//! history and `as_of` reads, and out of default searches and listings.

use memory_core::Validity;

use super::*;

pub(super) async fn supersede_keeps_history_and_answers_as_of(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let t = &r.scope.tenant;
    let lisbon = m
        .add(AddRequest::new(r.scope.clone(), "Alice lives in Lisbon"))
        .await
        .or_fail("add Lisbon")?;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let before_move = memory_core::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let berlin = m
        .add(AddRequest::new(r.scope.clone(), "Alice lives in Berlin").supersedes(lisbon.id))
        .await
        .or_fail("add Berlin")?;
    let old = m
        .find(t, lisbon.id)
        .await
        .or_fail("find")?
        .ok_or("Lisbon gone")?;
    ensure!(
        old.superseded_by == Some(berlin.id) && old.valid_until.is_some() && !old.is_current(),
        "the old memory is not marked superseded: {old:?}"
    );
    let new = m
        .find(t, berlin.id)
        .await
        .or_fail("find")?
        .ok_or("Berlin gone")?;
    ensure!(
        new.supersedes == Some(lisbon.id) && new.valid_from == old.valid_until,
        "the new memory does not continue the old: {new:?}"
    );
    let search = |validity| {
        m.search(
            SearchRequest::new(r.scope.clone(), "where does Alice live")
                .k(10)
                .validity(validity),
        )
    };
    let ids = |res: memory_core::SearchResponse| -> Vec<uuid::Uuid> {
        res.hits.iter().map(|h| h.memory.id).collect()
    };
    let current = ids(search(Validity::Current).await.or_fail("search")?);
    ensure!(current == [berlin.id], "current search: {current:?}");
    let all = ids(search(Validity::All).await.or_fail("search all")?);
    ensure!(
        all.len() == 2 && all.contains(&lisbon.id),
        "include_superseded: {all:?}"
    );
    let then = ids(search(Validity::AsOf(before_move)).await.or_fail("as_of")?);
    ensure!(then == [lisbon.id], "as_of before the move: {then:?}");
    for mode in [SearchMode::Semantic, SearchMode::Keyword] {
        let res = m
            .search(
                SearchRequest::new(r.scope.clone(), "Alice lives in Lisbon")
                    .mode(mode)
                    .k(10),
            )
            .await
            .or_fail("search by mode")?;
        ensure!(
            res.hits.iter().all(|h| h.memory.id != lisbon.id),
            "{mode:?} search returned a superseded memory"
        );
    }
    let listed = m
        .list(&r.scope, None, Validity::Current, 10, None)
        .await
        .or_fail("list")?;
    ensure!(
        listed.items.iter().map(|x| x.id).collect::<Vec<_>>() == [berlin.id],
        "list: {listed:?}"
    );
    let listed = m
        .list(&r.scope, None, Validity::AsOf(before_move), 10, None)
        .await
        .or_fail("list as_of")?;
    ensure!(
        listed.items.iter().map(|x| x.id).collect::<Vec<_>>() == [lisbon.id],
        "list as_of: {listed:?}"
    );
    // The chain's history from either end: added, superseded, added.
    for id in [lisbon.id, berlin.id] {
        let h = m.history(t, id).await.or_fail("history")?;
        let ops: Vec<HistoryOp> = h.iter().map(|e| e.op).collect();
        ensure!(
            ops == [HistoryOp::Add, HistoryOp::Supersede, HistoryOp::Add]
                || ops == [HistoryOp::Add, HistoryOp::Add, HistoryOp::Supersede],
            "history of {id}: {ops:?}"
        );
    }
    // Superseding twice, or another owner's memory, is refused and writes nothing.
    let again = m
        .add(AddRequest::new(r.scope.clone(), "Alice lives in Paris").supersedes(lisbon.id))
        .await;
    ensure!(
        again
            .as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::Conflict),
        "superseding a superseded memory: {again:?}"
    );
    let bob = Scope::user("bob").with_tenant(t.clone());
    let foreign = m
        .add(AddRequest::new(bob, "Bob lives in Rome").supersedes(berlin.id))
        .await;
    ensure!(
        foreign
            .as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::InvalidInput),
        "superseding another owner's memory: {foreign:?}"
    );
    // A fact that becomes true again is added anew beside its superseded copy.
    let back = m
        .add(AddRequest::new(r.scope.clone(), "Alice lives in Lisbon").supersedes(berlin.id))
        .await
        .or_fail("move back")?;
    ensure!(
        back.event == AddEvent::Added && back.id != lisbon.id,
        "moving back: {back:?}"
    );
    // The index's payload knows: a semantic search pinned to the user sees one current memory.
    m.sync(false).await.or_fail("sync")?;
    let current = ids(search(Validity::Current).await.or_fail("search")?);
    ensure!(current == [back.id], "after moving back: {current:?}");
    let check = m.check(false).await.or_fail("check")?;
    ensure!(check.is_consistent(), "check: {check:?}");
    Ok(())
}
