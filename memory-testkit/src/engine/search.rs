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
    // What the budget leaves out of the text is left out of the lists, and
    // only memories put in a prompt count as accessed.
    ensure!(
        small.profile.len() == 1 && small.memories.is_empty() && small.recent.is_empty(),
        "lists hold what the text left out: {} profile, {} memories, {} messages",
        small.profile.len(),
        small.memories.len(),
        small.recent.len()
    );
    let shown: Vec<uuid::Uuid> = ctx.memories.iter().map(|h| h.memory.id).collect();
    accessed_as_served(m, &s, &shown).await?;
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

/// A reranker re-orders the best hits by its own reading (recency and
/// importance still weighed), says so in each hit's explanation, and a
/// reranker that fails leaves the fused order, reported as degraded.
pub(super) async fn a_reranker_reorders_the_best_hits(b: &Backends) -> CaseResult {
    let scope = Scope::user("alice").with_tenant(unique("tenant"));
    let embedder = DeterministicEmbedder::new(64);
    let texts = [
        "Alice grows tomatoes in her garden",
        "Alice waters the garden every morning",
        "Alice planted sunflowers along the garden fence",
    ];
    let plain = super::builder_on(b, &unique("rr"), &embedder)
        .build()
        .await
        .or_fail("build")?;
    for t in texts {
        plain
            .add(AddRequest::new(scope.clone(), t))
            .await
            .or_fail("add")?;
    }
    let query = "garden";
    let fused = plain
        .search(SearchRequest::new(scope.clone(), query).k(3))
        .await
        .or_fail("search")?;
    ensure!(fused.hits.len() == 3, "fused: {} hits", fused.hits.len());
    ensure!(
        fused.hits.iter().all(|h| h.explain.rerank.is_none()),
        "a hit was reranked without a reranker"
    );
    let collection = plain.config().collection.clone();
    let reranked = super::builder_on(b, &collection, &embedder)
        .reranker(Arc::new(WordReranker::new("sunflowers")))
        .build()
        .await
        .or_fail("build with reranker")?;
    let res = reranked
        .search(SearchRequest::new(scope.clone(), query).k(3))
        .await
        .or_fail("reranked search")?;
    let top = res.hits.first().ok_or("no reranked hits")?;
    ensure!(
        top.memory.content.contains("sunflowers"),
        "reranked top hit: {}",
        top.memory.content
    );
    ensure!(
        res.hits.iter().all(|h| h.explain.rerank.is_some()),
        "a reranked hit has no rerank score"
    );
    ensure!(
        top.explain.relevance > 0.9 && res.hits[1].explain.relevance < 0.1,
        "relevance does not follow the reranker: {:?}",
        res.hits
            .iter()
            .map(|h| h.explain.relevance)
            .collect::<Vec<_>>()
    );
    ensure!(
        res.hits.windows(2).all(|w| w[0].score >= w[1].score),
        "reranked hits not sorted"
    );
    let down = super::builder_on(b, &collection, &embedder)
        .reranker(Arc::new(WordReranker::failing()))
        .build()
        .await
        .or_fail("build with failing reranker")?;
    let res = down
        .search(SearchRequest::new(scope, query).k(3))
        .await
        .or_fail("search with a failing reranker")?;
    ensure!(res.degraded == ["rerank"], "degraded: {:?}", res.degraded);
    let ids = |hits: &[SearchHit]| hits.iter().map(|h| h.memory.id).collect::<Vec<_>>();
    ensure!(
        res.hits.iter().all(|h| h.explain.rerank.is_none()) && ids(&res.hits).len() == 3,
        "a failed rerank changed the hits"
    );
    Ok(())
}

/// A query naming a time ranks what happened then first (event time is
/// `valid_from`), explains it as `time_match`, and leaves queries that name
/// no time, or an engine with `event_time` off, as they were.
pub(super) async fn a_query_naming_a_time_favours_what_happened_then(b: &Backends) -> CaseResult {
    use chrono::TimeZone;
    let at = |m: u32| {
        chrono::Utc
            .with_ymd_and_hms(2023, m, 10, 12, 0, 0)
            .single()
            .ok_or("date")
    };
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let hikes = [
        ("Maya went hiking in the mountains", 3),
        ("Maya went hiking along the sea cliffs", 6),
    ];
    let mut ids = Vec::new();
    for (text, month) in hikes {
        let added = m
            .add(AddRequest::new(r.scope.clone(), text).valid_from(at(month)?))
            .await
            .or_fail("add")?;
        ids.push(added.id);
    }
    for (query, want) in [
        ("Where did Maya go hiking in March 2023?", ids[0]),
        ("Where did Maya go hiking in June 2023?", ids[1]),
    ] {
        let res = m
            .search(SearchRequest::new(r.scope.clone(), query).k(2))
            .await
            .or_fail("search")?;
        let top = res.hits.first().ok_or("no hits")?;
        ensure!(
            top.memory.id == want && top.explain.time_match == Some(1.0),
            "{query:?}: top {:?} explained {:?}",
            top.memory.content,
            top.explain
        );
        ensure!(
            res.hits
                .get(1)
                .is_some_and(|h| h.explain.time_match.is_some_and(|t| t < 0.5)),
            "{query:?}: the other hike is not marked far in time"
        );
    }
    let plain = m
        .search(SearchRequest::new(r.scope.clone(), "Where did Maya go hiking?").k(2))
        .await
        .or_fail("search")?;
    ensure!(
        plain.hits.iter().all(|h| h.explain.time_match.is_none()),
        "a query naming no time was time-matched"
    );
    let off = super::builder_on(
        b,
        &m.config().collection,
        &DeterministicEmbedder::new(64).with_max_words(200),
    )
    .config(EngineConfig {
        collection: m.config().collection.clone(),
        event_time: false,
        ..EngineConfig::default()
    })
    .build()
    .await
    .or_fail("build without event time")?;
    let res = off
        .search(SearchRequest::new(r.scope.clone(), "Where did Maya go hiking in June 2023?").k(2))
        .await
        .or_fail("search without event time")?;
    ensure!(
        res.hits.iter().all(|h| h.explain.time_match.is_none()),
        "event_time = false still matched times"
    );
    Ok(())
}

/// With rewriting, the language model's rephrasings are searched too and
/// the lists fused: a memory worded unlike the question is found, the
/// rephrasings are reported, and a model that fails leaves the plain
/// search, reported as degraded.
pub(super) async fn rewritten_queries_find_what_the_question_misses(b: &Backends) -> CaseResult {
    let scope = Scope::user("alice").with_tenant(unique("tenant"));
    let embedder = DeterministicEmbedder::new(64);
    let collection = unique("rw");
    let with = |model: CannedModel| {
        super::builder_on(b, &collection, &embedder)
            .language_model(Arc::new(model))
            .build()
    };
    let m = with(CannedModel::new(
        json!({"queries": ["lawnmower", "garden", "  ", "lawnmower"]}),
    ))
    .await
    .or_fail("build")?;
    for t in [
        "Alice grows tomatoes in her garden",
        "Alice waters the garden every morning",
        "Alice bought a new lawnmower",
    ] {
        m.add(AddRequest::new(scope.clone(), t))
            .await
            .or_fail("add")?;
    }
    let contents = |r: &memory_core::SearchResponse| {
        r.hits
            .iter()
            .map(|h| h.memory.content.clone())
            .collect::<Vec<_>>()
    };
    let plain = m
        .search(SearchRequest::new(scope.clone(), "garden").k(2))
        .await
        .or_fail("plain search")?;
    ensure!(
        plain.rewrites.is_empty() && !contents(&plain).iter().any(|c| c.contains("lawnmower")),
        "plain search: {:?}",
        contents(&plain)
    );
    let res = m
        .search(
            SearchRequest::new(scope.clone(), "garden")
                .k(2)
                .rewrite(true),
        )
        .await
        .or_fail("rewritten search")?;
    ensure!(
        res.rewrites == ["lawnmower"],
        "rewrites searched: {:?} (the question itself, blanks and repeats are dropped)",
        res.rewrites
    );
    ensure!(
        contents(&res).iter().any(|c| c.contains("lawnmower")),
        "rewritten search: {:?}",
        contents(&res)
    );
    ensure!(
        res.hits.windows(2).all(|w| w[0].score >= w[1].score),
        "fused hits not sorted"
    );
    // Access is recorded for the page served, not for the deeper lists
    // fused to make it.
    let mut accessed: Vec<_> = plain.hits.iter().map(|h| h.memory.id).collect();
    let page = m
        .search(
            SearchRequest::new(scope.clone(), "garden")
                .k(1)
                .rewrite(true),
        )
        .await
        .or_fail("rewritten search of one hit")?;
    accessed.extend(res.hits.iter().chain(&page.hits).map(|h| h.memory.id));
    ensure!(
        accessed_as_served(&m, &scope, &accessed).await? == 3,
        "not every memory checked"
    );
    let down = with(CannedModel::failing()).await.or_fail("build")?;
    let res = down
        .search(
            SearchRequest::new(scope.clone(), "garden")
                .k(2)
                .rewrite(true),
        )
        .await
        .or_fail("search with a failing model")?;
    ensure!(
        res.degraded == ["rewrite"]
            && res.rewrites.is_empty()
            && contents(&res) == contents(&plain),
        "failing model: degraded {:?}, hits {:?}",
        res.degraded,
        contents(&res)
    );
    let none = super::builder_on(b, &collection, &embedder)
        .build()
        .await
        .or_fail("build without a model")?;
    let e = none
        .search(SearchRequest::new(scope, "garden").rewrite(true))
        .await;
    ensure!(
        matches!(&e, Err(e) if e.kind() == ErrorKind::InvalidInput && e.message().contains("language model")),
        "rewrite without a model: {e:?}"
    );
    Ok(())
}

/// Checks that each current memory of `scope` counts as many accesses as
/// it was served in `served`; returns how many memories it checked. Each
/// is read once, after the check (a `get` counts one more).
async fn accessed_as_served(
    m: &Memory,
    scope: &Scope,
    served: &[uuid::Uuid],
) -> Result<usize, String> {
    let listed = m
        .list(scope, None, memory_core::Validity::Current, 10, None)
        .await
        .or_fail("list")?;
    for r in &listed.items {
        let expected = served.iter().filter(|id| **id == r.id).count();
        let got = m.get(&scope.tenant, r.id).await.or_fail("get")?;
        ensure!(
            got.access_count == expected as u64,
            "{:?}: accessed {} times, served {expected} times",
            got.content,
            got.access_count
        );
    }
    Ok(listed.items.len())
}
