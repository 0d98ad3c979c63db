//! Engine cases on search and prompt context.

use super::*;

pub(super) async fn hybrid_search_explains_filters_and_pages(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let facts = [
        ("Alice has two cats named Tom and Luna", "pets", 7.0),
        ("Alice prefers coffee over tea", "food", 6.0),
        ("Alice is allergic to peanuts", "food", 9.0),
        ("Alice's dog is called Rex", "pets", 5.0),
        ("Alice plays tennis on Sundays", "sport", 4.0),
    ];
    for (text, topic, imp) in facts {
        let meta = json!({"topic": topic})
            .as_object()
            .cloned()
            .unwrap_or_default();
        m.add(
            AddRequest::new(r.scope.clone(), text)
                .importance(imp)
                .metadata(meta),
        )
        .await
        .or_fail("add")?;
    }
    m.add(AddRequest::new(
        Scope::user("bob").with_tenant(r.scope.tenant.clone()),
        "Bob has cats too",
    ))
    .await
    .or_fail("add bob")?;
    let res = m
        .search(SearchRequest::new(r.scope.clone(), "cats").k(3))
        .await
        .or_fail("search")?;
    let top = res.hits.first().ok_or("no hits")?;
    ensure!(
        top.memory.content.contains("cats"),
        "top hit: {}",
        top.memory.content
    );
    ensure!(
        top.explain.keyword_rank == Some(1) && top.explain.vector_rank.is_some(),
        "explain: {:?}",
        top.explain
    );
    ensure!(
        res.hits
            .iter()
            .all(|h| h.memory.scope.user_id.as_deref() == Some("alice")),
        "another user's memory returned"
    );
    ensure!(
        res.hits.windows(2).all(|w| w[0].score >= w[1].score),
        "hits not sorted"
    );
    let f = m
        .search(
            SearchRequest::new(r.scope.clone(), "Alice")
                .filter(json!({"and": [{"metadata.topic": "food"}, {"importance": {"gte": 7}}]})),
        )
        .await
        .or_fail("filtered")?;
    ensure!(
        f.hits.len() == 1 && f.hits[0].memory.content.contains("peanuts"),
        "filtered: {:?}",
        f.hits.iter().map(|h| &h.memory.content).collect::<Vec<_>>()
    );
    let mut seen = std::collections::BTreeSet::new();
    let mut req = SearchRequest::new(r.scope.clone(), "Alice").k(2);
    let mut pages = 0;
    loop {
        let page = m.search(req.clone()).await.or_fail("page")?;
        pages += 1;
        for h in &page.hits {
            ensure!(seen.insert(h.memory.id), "a hit repeated across pages");
        }
        match page.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => break,
        }
        ensure!(pages < 10, "pagination does not end");
    }
    ensure!(
        seen.len() == 5,
        "pages visited {} of 5 memories",
        seen.len()
    );
    let got = m
        .get(&r.scope.tenant, *seen.iter().next().ok_or("empty")?)
        .await
        .or_fail("get")?;
    ensure!(got.access_count >= 1, "search did not record access");
    Ok(())
}

pub(super) async fn context_respects_priority_and_budget(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let s = r.scope.clone();
    m.add(AddRequest::new(s.clone(), "Alice is a nurse").kind(MemoryKind::Profile))
        .await
        .or_fail("add")?;
    m.add(AddRequest::new(s.clone(), "Alice is allergic to peanuts"))
        .await
        .or_fail("add")?;
    m.add(AddRequest::new(s.clone(), "Alice climbs on weekends"))
        .await
        .or_fail("add")?;
    for text in [
        "what should I cook tonight?",
        "something with peanuts maybe",
    ] {
        let mut msg = RecordMessage::user("chat", "alice", text);
        msg.tenant = s.tenant.clone();
        m.record_message(msg).await.or_fail("message")?;
    }
    let ctx = m
        .context(&s, Some("chat"), "peanuts", 1000)
        .await
        .or_fail("context")?;
    ensure!(
        ctx.text.contains("## About the user\n- Alice is a nurse"),
        "profile missing: {}",
        ctx.text
    );
    ensure!(
        ctx.text.contains("allergic to peanuts"),
        "relevant memory missing: {}",
        ctx.text
    );
    ensure!(
        ctx.text.contains("user: something with peanuts maybe"),
        "recent window missing: {}",
        ctx.text
    );
    ensure!(
        ctx.memories
            .iter()
            .all(|h| h.memory.kind != MemoryKind::Profile),
        "profile repeated among memories"
    );
    let small = m
        .context(&s, Some("chat"), "peanuts", 12)
        .await
        .or_fail("small context")?;
    ensure!(
        small.tokens <= 12 && small.text.contains("nurse") && !small.text.contains("cook"),
        "budget not respected: {:?}",
        small.text
    );
    ensure!(
        ctx.enhance("You are helpful.")
            .starts_with("You are helpful.\n\n## About"),
        "enhance"
    );
    Ok(())
}

/// `metadata.embed_context` shapes a memory's vector and nothing else: a
/// search by meaning finds it through its context, a keyword search does
/// not, the content is returned as written, and a reindex keeps it so.
pub(super) async fn embed_context_situates_the_vector_only(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let reply = "yes it was wonderful";
    let context = json!({ memory_core::EMBED_CONTEXT_KEY: "how was the violin concert" })
        .as_object()
        .cloned()
        .unwrap_or_default();
    let situated = m
        .add(AddRequest::new(r.scope.clone(), reply).metadata(context))
        .await
        .or_fail("add situated")?;
    m.add(AddRequest::new(
        r.scope.clone(),
        "the weather was wonderful too",
    ))
    .await
    .or_fail("add plain")?;
    let by_meaning = || async {
        m.search(
            SearchRequest::new(r.scope.clone(), "violin concert")
                .mode(SearchMode::Semantic)
                .k(2),
        )
        .await
        .or_fail("semantic search")
    };
    let hits = by_meaning().await?;
    let top = hits.hits.first().ok_or("no semantic hits")?;
    ensure!(
        top.memory.id == situated.id && top.memory.content == reply,
        "the context did not lead to the memory, or changed its content: {:?}",
        top.memory
    );
    let words = m
        .search(
            SearchRequest::new(r.scope.clone(), "violin")
                .mode(SearchMode::Keyword)
                .k(2),
        )
        .await
        .or_fail("keyword search")?;
    ensure!(
        words.hits.is_empty(),
        "the context reached the keyword index: {:?}",
        words.hits.first().map(|h| &h.memory.content)
    );
    m.reindex().await.or_fail("reindex")?;
    let again = by_meaning().await?;
    ensure!(
        again.hits.first().map(|h| h.memory.id) == Some(situated.id),
        "reindex embedded the memory without its context"
    );
    Ok(())
}
