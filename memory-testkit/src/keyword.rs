//! Conformance of [`KeywordIndex`] implementations (over the store that feeds them).

use std::sync::Arc;

use memory_core::{ChangeSet, Filter, KeywordIndex, KeywordQuery, Scope, Store, StoredMemory};
use serde_json::json;

use crate::store::record;
use crate::{CaseResult, OrFail, Report, case, ensure, unique};

async fn seed(
    store: &Arc<dyn Store>,
    scope: &Scope,
    texts: &[&str],
) -> Result<Vec<uuid::Uuid>, String> {
    let records: Vec<_> = texts.iter().map(|t| record(scope, t)).collect();
    let ids = records.iter().map(|r| r.id).collect();
    let changes = ChangeSet {
        insert: records
            .into_iter()
            .map(|record| StoredMemory::new(record, None))
            .collect(),
        ..ChangeSet::default()
    };
    store.apply(changes).await.or_fail("seed")?;
    Ok(ids)
}

async fn ranks_by_words(store: &Arc<dyn Store>, kw: &Arc<dyn KeywordIndex>) -> CaseResult {
    let s = Scope::user("u").with_tenant(unique("t"));
    let ids = seed(
        store,
        &s,
        &[
            "Alice loves cats and dogs",
            "Bob likes cats",
            "The weather is sunny",
            "Carol plays chess",
        ],
    )
    .await?;
    let q = |text: &str, k| KeywordQuery {
        tenant: s.tenant.clone(),
        text: text.to_owned(),
        k,
        filter: None,
    };
    let hits = kw.search(&q("cats dogs", 10)).await.or_fail("search")?;
    ensure!(hits.len() == 2, "expected 2 hits, got {}", hits.len());
    ensure!(
        hits[0].id == ids[0],
        "the memory with both words is not first"
    );
    ensure!(hits[0].score >= hits[1].score, "scores not descending");
    let hits = kw.search(&q("CHESS!", 10)).await.or_fail("search")?;
    ensure!(
        hits.len() == 1 && hits[0].id == ids[3],
        "case and punctuation not ignored"
    );
    let hits = kw.search(&q("cats", 1)).await.or_fail("search")?;
    ensure!(hits.len() == 1, "k not respected");
    Ok(())
}

async fn syntax_is_never_interpreted(
    store: &Arc<dyn Store>,
    kw: &Arc<dyn KeywordIndex>,
) -> CaseResult {
    let s = Scope::user("u").with_tenant(unique("t"));
    seed(store, &s, &["plain text memory"]).await?;
    for text in [
        "\"unbalanced",
        "text AND NOT",
        "NEAR(text memory)",
        "*",
        "col:text",
        "?!...",
        "'; DROP TABLE memories; --",
    ] {
        let hits = kw
            .search(&KeywordQuery {
                tenant: s.tenant.clone(),
                text: text.into(),
                k: 5,
                filter: None,
            })
            .await
            .or_fail(&format!("search {text:?}"))?;
        ensure!(
            hits.len() <= 1,
            "query {text:?} returned {} hits",
            hits.len()
        );
    }
    let hits = kw
        .search(&KeywordQuery {
            tenant: s.tenant.clone(),
            text: "?!".into(),
            k: 5,
            filter: None,
        })
        .await
        .or_fail("punctuation")?;
    ensure!(hits.is_empty(), "a punctuation-only query matched");
    Ok(())
}

async fn filters_and_tenants(store: &Arc<dyn Store>, kw: &Arc<dyn KeywordIndex>) -> CaseResult {
    let tenant = unique("t");
    let a = Scope::user("alice").with_tenant(tenant.clone());
    let b = Scope::user("bob").with_tenant(tenant.clone());
    let ia = seed(store, &a, &["coffee in the morning"]).await?;
    seed(store, &b, &["coffee at night"]).await?;
    let f = Filter::parse(&json!({"user_id": "alice"})).or_fail("filter")?;
    let hits = kw
        .search(&KeywordQuery {
            tenant: tenant.clone(),
            text: "coffee".into(),
            k: 10,
            filter: Some(f),
        })
        .await
        .or_fail("search")?;
    ensure!(
        hits.len() == 1 && hits[0].id == ia[0],
        "filter not applied: {hits:?}"
    );
    let hits = kw
        .search(&KeywordQuery {
            tenant: unique("other"),
            text: "coffee".into(),
            k: 10,
            filter: None,
        })
        .await
        .or_fail("search")?;
    ensure!(hits.is_empty(), "another tenant's memories were found");
    Ok(())
}

async fn follows_updates_and_deletes(
    store: &Arc<dyn Store>,
    kw: &Arc<dyn KeywordIndex>,
) -> CaseResult {
    let s = Scope::user("u").with_tenant(unique("t"));
    let ids = seed(store, &s, &["violin lessons on tuesday"]).await?;
    let mut r = store
        .get_memories(&s.tenant, &ids)
        .await
        .or_fail("get")?
        .remove(0);
    let old_version = r.version;
    r.content = "piano lessons on friday".into();
    r.content_hash = memory_core::content_hash(&r.content);
    r.version += 1;
    store
        .apply(ChangeSet {
            update: vec![memory_core::VersionedUpdate {
                memory: StoredMemory::new(r, None),
                expected_version: old_version,
                replace_embedding: false,
            }],
            ..ChangeSet::default()
        })
        .await
        .or_fail("update")?;
    let q = |t: &str| KeywordQuery {
        tenant: s.tenant.clone(),
        text: t.into(),
        k: 5,
        filter: None,
    };
    ensure!(
        kw.search(&q("violin")).await.or_fail("search")?.is_empty(),
        "old content still indexed"
    );
    ensure!(
        kw.search(&q("piano")).await.or_fail("search")?.len() == 1,
        "new content not indexed"
    );
    store
        .apply(ChangeSet {
            delete: ids,
            ..ChangeSet::default()
        })
        .await
        .or_fail("delete")?;
    ensure!(
        kw.search(&q("piano")).await.or_fail("search")?.is_empty(),
        "deleted memory still indexed"
    );
    Ok(())
}

/// Applies `change` to a stored memory as a versioned update.
async fn edit(
    store: &Arc<dyn Store>,
    tenant: &str,
    id: uuid::Uuid,
    change: impl FnOnce(&mut memory_core::MemoryRecord),
) -> CaseResult {
    let mut r = store
        .get_memories(tenant, &[id])
        .await
        .or_fail("get")?
        .pop()
        .ok_or("memory to edit not found")?;
    let expected_version = r.version;
    change(&mut r);
    r.content_hash = memory_core::content_hash(&r.content);
    r.version += 1;
    store
        .apply(ChangeSet {
            update: vec![memory_core::VersionedUpdate {
                memory: StoredMemory::new(r, None),
                expected_version,
                replace_embedding: false,
            }],
            ..ChangeSet::default()
        })
        .await
        .or_fail("update")
}

/// A search pinned to one user (what the engine sends) sees every write
/// made after that user was first searched: edits, additions, a memory
/// superseded, moved to another user, or deleted. A joined search, where
/// the index offers one, finds the same hits with the memories as stored.
async fn a_users_search_follows_every_write(
    store: &Arc<dyn Store>,
    kw: &Arc<dyn KeywordIndex>,
) -> CaseResult {
    let tenant = unique("t");
    let u = Scope::user("u").with_tenant(tenant.clone());
    let v = Scope::user("v").with_tenant(tenant.clone());
    let ids = seed(
        store,
        &u,
        &["violin lessons on tuesday", "my cat is called Tom"],
    )
    .await?;
    seed(store, &v, &["violin practice"]).await?;
    let found = |user: &'static str, text: &'static str, current: bool| {
        let mut f = json!({"user_id": user});
        if current {
            f = json!({"and": [f, {"valid_until": {"exists": false}}]});
        }
        let q = Filter::parse(&f).map(|filter| KeywordQuery {
            tenant: tenant.clone(),
            text: text.into(),
            k: 10,
            filter: Some(filter),
        });
        async move {
            let q = q.or_fail("filter")?;
            // Asked first, a joined search finds the user's index behind
            // the write; asked again, current.
            let behind = kw.search_joined(&q).await.or_fail("joined search")?;
            let hits = kw.search(&q).await.or_fail("search")?;
            let current = kw.search_joined(&q).await.or_fail("joined search")?;
            let ids: Vec<_> = hits.into_iter().map(|h| h.id).collect();
            for joined in [behind, current].into_iter().flatten() {
                let joined_ids: Vec<_> = joined.iter().map(|j| j.hit.id).collect();
                ensure!(
                    joined_ids == ids,
                    "joined search found {joined_ids:?}, search {ids:?}"
                );
                let stored = store
                    .get_memories(&q.tenant, &ids)
                    .await
                    .or_fail("get memories")?;
                for j in joined {
                    ensure!(
                        j.chunk.is_none() && stored.iter().any(|r| Some(r) == j.record.as_ref()),
                        "joined search read {:?} for {}, the store holds another",
                        j.record,
                        j.hit.id
                    );
                }
            }
            Ok::<_, String>(ids)
        }
    };
    ensure!(
        found("u", "violin", true).await? == vec![ids[0]],
        "u's violin not found alone"
    );
    edit(store, &tenant, ids[0], |r| {
        r.content = "piano lessons on friday".into()
    })
    .await?;
    ensure!(
        found("u", "violin", true).await?.is_empty(),
        "old content still found"
    );
    ensure!(
        found("u", "piano", true).await? == vec![ids[0]],
        "new content not found"
    );
    let added = seed(store, &u, &["a piano concert"]).await?;
    ensure!(
        found("u", "piano", true).await?.len() == 2,
        "an added memory was not found"
    );
    edit(store, &tenant, added[0], |r| {
        r.valid_until = Some(memory_core::now())
    })
    .await?;
    ensure!(
        found("u", "piano", true).await? == vec![ids[0]],
        "a superseded memory passed the current-only filter"
    );
    ensure!(
        found("u", "piano", false).await?.len() == 2,
        "a superseded memory was lost"
    );
    ensure!(found("v", "cat", true).await?.is_empty(), "v found u's cat");
    edit(store, &tenant, ids[1], |r| {
        r.scope.user_id = Some("v".into())
    })
    .await?;
    ensure!(
        found("u", "cat", true).await?.is_empty(),
        "a moved memory stayed with u"
    );
    ensure!(
        found("v", "cat", true).await? == vec![ids[1]],
        "a moved memory did not reach v"
    );
    store
        .apply(ChangeSet {
            delete: vec![ids[0]],
            ..ChangeSet::default()
        })
        .await
        .or_fail("delete")?;
    ensure!(
        found("u", "piano", false).await? == added,
        "a deleted memory was found"
    );
    Ok(())
}

/// Words match across inflections in English and Portuguese, accents or
/// not, and Japanese (written without spaces) matches by its words.
async fn matches_across_languages(
    store: &Arc<dyn Store>,
    kw: &Arc<dyn KeywordIndex>,
) -> CaseResult {
    let s = Scope::user("u").with_tenant(unique("t"));
    let ids = seed(
        store,
        &s,
        &[
            "昨日の配信でラーメンを食べました",
            "A Ana contou que a viagem para Lisboa no verão foi ótima",
            "She runs every morning before work",
            "Carol plays chess on Sundays",
        ],
    )
    .await?;
    for (query, want) in [
        ("ラーメン", 0),
        ("配信を見た", 0),
        ("viagens", 1),
        ("verao", 1),
        ("running", 2),
        ("played chess", 3),
    ] {
        let hits = kw
            .search(&KeywordQuery {
                tenant: s.tenant.clone(),
                text: query.into(),
                k: 5,
                filter: None,
            })
            .await
            .or_fail(&format!("search {query:?}"))?;
        ensure!(
            hits.first().map(|h| h.id) == Some(ids[want]),
            "{query:?} did not find {want} first: {hits:?}"
        );
    }
    Ok(())
}

/// Runs every keyword case; `kw` must index what `store` holds.
pub async fn run(store: Arc<dyn Store>, kw: Arc<dyn KeywordIndex>) -> Report {
    let mut r = Report::new(format!("keyword[{}]", kw.info().scheme));
    case!(r, ranks_by_words(&store, &kw));
    case!(r, syntax_is_never_interpreted(&store, &kw));
    case!(r, filters_and_tenants(&store, &kw));
    case!(r, follows_updates_and_deletes(&store, &kw));
    case!(r, a_users_search_follows_every_write(&store, &kw));
    case!(r, matches_across_languages(&store, &kw));
    r
}
