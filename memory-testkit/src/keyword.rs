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
    case!(r, matches_across_languages(&store, &kw));
    r
}
