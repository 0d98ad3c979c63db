//! Conformance of [`VectorIndex`] implementations.

use std::collections::BTreeSet;
use std::sync::Arc;

use memory_core::{
    CollectionSpec, ErrorKind, Filter, Metric, VectorIndex, VectorPayload, VectorQuery,
    VectorRecord, vecmath,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{CaseResult, OrFail, Report, case, ensure, unique};

const DIM: usize = 16;

/// A random unit vector.
pub fn random_vector(rng: &mut StdRng, dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
    vecmath::normalize(&mut v);
    v
}

/// A unit vector of its own for every `seed`, the same on every call.
pub fn seeded_vector(seed: u64, dim: usize) -> Vec<f32> {
    random_vector(&mut StdRng::seed_from_u64(seed), dim)
}

/// A plain payload: `tenant`'s memory of `user`, of `kind`, no metadata.
pub fn payload(tenant: &str, user: &str, kind: &str) -> VectorPayload {
    VectorPayload {
        tenant: tenant.to_owned(),
        user_id: Some(user.to_owned()),
        agent_id: None,
        session_id: None,
        kind: kind.to_owned(),
        importance: 5.0,
        confidence: 1.0,
        created_at: 0,
        updated_at: 0,
        expires_at: None,
        valid_from: None,
        valid_until: None,
        metadata: serde_json::Map::new(),
    }
}

/// A payload with varied fields, for filter tests.
pub fn random_payload(rng: &mut StdRng, tenant: &str, i: usize) -> VectorPayload {
    let kinds = ["fact", "preference", "event"];
    let topics = [Some("pets"), Some("food"), None];
    let mut metadata = serde_json::Map::new();
    if let Some(t) = topics[i % 3] {
        metadata.insert("topic".into(), json!(t));
    }
    metadata.insert("n".into(), json!(i % 7));
    if i.is_multiple_of(2) {
        metadata.insert(
            "tags".into(),
            json!(["a", if i.is_multiple_of(4) { "b" } else { "c" }]),
        );
    }
    if i.is_multiple_of(5) {
        metadata.insert("nested".into(), json!({"flag": i.is_multiple_of(10)}));
    }
    VectorPayload {
        tenant: tenant.to_owned(),
        user_id: Some(format!("u{}", i % 4)),
        agent_id: i.is_multiple_of(3).then(|| "agent".to_owned()),
        session_id: None,
        kind: kinds[i % 3].to_owned(),
        importance: f32::from(u8::try_from(1 + i % 10).unwrap_or(1)),
        confidence: rng.random_range(0.0..1.0),
        created_at: 1_700_000_000_000 + i64::try_from(i).unwrap_or(0) * 1000,
        updated_at: 1_700_000_000_000,
        expires_at: None,
        valid_from: None,
        valid_until: None,
        metadata,
    }
}

/// Filters exercising every operator and combinator, as JSON.
pub fn sample_filters() -> Vec<Value> {
    vec![
        json!({"kind": "fact"}),
        json!({"kind": {"ne": "fact"}}),
        json!({"importance": {"gte": 5}}),
        json!({"importance": {"gt": 3, "lte": 7}}),
        json!({"importance": {"lt": 2}}),
        json!({"kind": {"in": ["fact", "event"]}}),
        json!({"kind": {"nin": ["fact"]}}),
        json!({"metadata.topic": "pets"}),
        json!({"metadata.topic": {"ne": "pets"}}),
        json!({"metadata.topic": {"exists": false}}),
        json!({"metadata.topic": {"in": ["pets", "food"]}}),
        json!({"metadata.topic": {"nin": ["pets"]}}),
        json!({"metadata.n": {"gte": 3}}),
        json!({"metadata.n": {"eq": 4}}),
        json!({"metadata.tags": {"contains": "b"}}),
        json!({"metadata.topic": {"contains": "et"}}),
        json!({"metadata.nested.flag": true}),
        json!({"agent_id": {"exists": true}}),
        json!({"agent_id": {"exists": false}}),
        json!({"user_id": "u1"}),
        json!({"and": [{"user_id": "u2"}, {"kind": "preference"}]}),
        json!({"or": [{"metadata.topic": "food"}, {"importance": {"gte": 9}}]}),
        json!({"not": {"metadata.topic": "pets"}}),
        json!({"not": {"or": [{"kind": "fact"}, {"metadata.n": {"lt": 2}}]}}),
        json!({"created_at": {"gte": 1_700_000_100_000_i64}}),
        json!({"created_at": {"lt": "2023-11-14T22:14:00Z"}}),
        json!({"user_id": "u1", "metadata.topic": {"exists": true}}),
    ]
}

async fn fresh(index: &Arc<dyn VectorIndex>, metric: Metric) -> Result<CollectionSpec, String> {
    let spec = CollectionSpec {
        name: unique("conf"),
        dimension: DIM,
        metric,
    };
    index
        .create_collection(&spec)
        .await
        .or_fail("create_collection")
}

fn records(n: usize, tenant: &str, seed: u64) -> Vec<VectorRecord> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| VectorRecord {
            id: Uuid::now_v7(),
            vector: random_vector(&mut rng, DIM),
            payload: random_payload(&mut rng, tenant, i),
        })
        .collect()
}

async fn collection_records_dimension(index: &Arc<dyn VectorIndex>) -> CaseResult {
    let spec = fresh(index, Metric::Cosine).await?;
    let again = index
        .create_collection(&spec)
        .await
        .or_fail("create again")?;
    ensure!(
        again == spec,
        "re-creating returned {again:?}, not {spec:?}"
    );
    let described = index.describe(&spec.name).await.or_fail("describe")?;
    ensure!(
        described.as_ref() == Some(&spec),
        "describe returned {described:?}"
    );
    let other = CollectionSpec {
        dimension: DIM + 1,
        ..spec.clone()
    };
    let err = index.create_collection(&other).await.err();
    ensure!(
        err.as_ref().map(|e| e.kind()) == Some(ErrorKind::DimensionMismatch),
        "other dimension gave {err:?}"
    );
    ensure!(
        index
            .describe(&unique("missing"))
            .await
            .or_fail("describe missing")?
            .is_none(),
        "missing collection described"
    );
    index.drop_collection(&spec.name).await.or_fail("drop")?;
    index
        .drop_collection(&spec.name)
        .await
        .or_fail("drop missing")?;
    ensure!(
        index
            .describe(&spec.name)
            .await
            .or_fail("describe dropped")?
            .is_none(),
        "dropped collection still described"
    );
    Ok(())
}

async fn bad_vectors_write_nothing(index: &Arc<dyn VectorIndex>) -> CaseResult {
    let spec = fresh(index, Metric::Cosine).await?;
    let t = unique("t");
    let mut batch = records(3, &t, 1);
    batch[2].vector.push(0.5);
    let e = index.upsert(&spec.name, &batch).await.err();
    ensure!(
        e.as_ref().map(|e| e.kind()) == Some(ErrorKind::DimensionMismatch),
        "wrong dimension gave {e:?}"
    );
    let mut batch = records(3, &t, 2);
    batch[1].vector[0] = f32::NAN;
    let e = index.upsert(&spec.name, &batch).await.err();
    ensure!(
        e.as_ref().map(|e| e.kind()) == Some(ErrorKind::InvalidInput),
        "NaN gave {e:?}"
    );
    let n = index.count(&spec.name, None).await.or_fail("count")?;
    ensure!(n == 0, "a rejected batch wrote {n} vectors");
    let q = VectorQuery {
        tenant: t,
        vector: vec![0.1; DIM - 1],
        k: 3,
        filter: None,
    };
    let e = index.query(&spec.name, &q).await.err();
    ensure!(
        e.as_ref().map(|e| e.kind()) == Some(ErrorKind::DimensionMismatch),
        "query of wrong dimension gave {e:?}"
    );
    let e = index
        .upsert(&unique("missing"), &records(1, "t", 3))
        .await
        .err();
    ensure!(
        e.as_ref().map(|e| e.kind()) == Some(ErrorKind::NotFound),
        "missing collection gave {e:?}"
    );
    index.drop_collection(&spec.name).await.or_fail("drop")
}

async fn query_returns_nearest_best_first(index: &Arc<dyn VectorIndex>) -> CaseResult {
    let spec = fresh(index, Metric::Cosine).await?;
    let t = unique("t");
    let batch = records(300, &t, 4);
    index.upsert(&spec.name, &batch).await.or_fail("upsert")?;
    for probe in batch.iter().step_by(37) {
        let q = VectorQuery {
            tenant: t.clone(),
            vector: probe.vector.clone(),
            k: 10,
            filter: None,
        };
        let hits = index.query(&spec.name, &q).await.or_fail("query")?;
        ensure!(hits.len() == 10, "asked 10, got {}", hits.len());
        ensure!(hits[0].id == probe.id, "the vector itself is not first");
        ensure!(
            (hits[0].score - 1.0).abs() < 1e-3,
            "self-similarity {} is not 1",
            hits[0].score
        );
        ensure!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "hits are not best first"
        );
        if index.capabilities().exact {
            let mut brute: Vec<(f32, Uuid)> = batch
                .iter()
                .map(|r| (vecmath::cosine(&probe.vector, &r.vector), r.id))
                .collect();
            brute.sort_by(|a, b| b.0.total_cmp(&a.0));
            let want: BTreeSet<Uuid> = brute.iter().take(10).map(|x| x.1).collect();
            let got: BTreeSet<Uuid> = hits.iter().map(|h| h.id).collect();
            ensure!(want == got, "exact index did not return the exact top 10");
        }
    }
    index.drop_collection(&spec.name).await.or_fail("drop")
}

async fn upsert_replaces_and_delete_is_idempotent(index: &Arc<dyn VectorIndex>) -> CaseResult {
    let spec = fresh(index, Metric::Cosine).await?;
    let t = unique("t");
    let mut batch = records(5, &t, 5);
    index.upsert(&spec.name, &batch).await.or_fail("upsert")?;
    let mut rng = StdRng::seed_from_u64(99);
    batch[0].vector = random_vector(&mut rng, DIM);
    batch[0].payload.kind = "summary".into();
    index
        .upsert(&spec.name, &batch[..1])
        .await
        .or_fail("upsert again")?;
    ensure!(
        index.count(&spec.name, None).await.or_fail("count")? == 5,
        "re-upsert changed the count"
    );
    let q = VectorQuery {
        tenant: t.clone(),
        vector: batch[0].vector.clone(),
        k: 1,
        filter: Some(Filter::parse(&json!({"kind": "summary"})).or_fail("filter")?),
    };
    let hits = index.query(&spec.name, &q).await.or_fail("query")?;
    ensure!(
        hits.first().map(|h| h.id) == Some(batch[0].id),
        "the replaced vector and payload are not served"
    );
    index
        .delete(&spec.name, &[batch[1].id, Uuid::now_v7()])
        .await
        .or_fail("delete with a missing id")?;
    index
        .delete(&spec.name, &[batch[1].id])
        .await
        .or_fail("delete again")?;
    ensure!(
        index.count(&spec.name, None).await.or_fail("count")? == 4,
        "delete did not remove exactly one"
    );
    let q = VectorQuery {
        tenant: t,
        vector: batch[1].vector.clone(),
        k: 5,
        filter: None,
    };
    let hits = index.query(&spec.name, &q).await.or_fail("query")?;
    ensure!(
        hits.iter().all(|h| h.id != batch[1].id),
        "a deleted vector was returned"
    );
    index.drop_collection(&spec.name).await.or_fail("drop")
}

async fn concurrent_upserts_keep_one_record(index: &Arc<dyn VectorIndex>) -> CaseResult {
    let spec = fresh(index, Metric::Cosine).await?;
    let t = unique("t");
    let base = records(1, &t, 6).remove(0);
    let mut tasks = Vec::new();
    for i in 0..16u64 {
        let index = index.clone();
        let name = spec.name.clone();
        let mut r = base.clone();
        let mut rng = StdRng::seed_from_u64(i);
        r.vector = random_vector(&mut rng, DIM);
        tasks.push(tokio::spawn(async move { index.upsert(&name, &[r]).await }));
    }
    for task in tasks {
        task.await.or_fail("join")?.or_fail("concurrent upsert")?;
    }
    let n = index.count(&spec.name, None).await.or_fail("count")?;
    ensure!(n == 1, "16 upserts of one id left {n} records");
    let ids = index
        .list_ids(&spec.name, None, 10)
        .await
        .or_fail("list_ids")?;
    ensure!(ids == vec![base.id], "list_ids gave {ids:?}");
    index.drop_collection(&spec.name).await.or_fail("drop")
}

async fn tenants_are_isolated(index: &Arc<dyn VectorIndex>) -> CaseResult {
    let spec = fresh(index, Metric::Cosine).await?;
    let (a, b) = (unique("a"), unique("b"));
    let ra = records(20, &a, 7);
    let rb = records(20, &b, 8);
    index.upsert(&spec.name, &ra).await.or_fail("upsert a")?;
    index.upsert(&spec.name, &rb).await.or_fail("upsert b")?;
    let q = VectorQuery {
        tenant: b.clone(),
        vector: ra[0].vector.clone(),
        k: 40,
        filter: None,
    };
    let hits = index.query(&spec.name, &q).await.or_fail("query")?;
    let bs: BTreeSet<Uuid> = rb.iter().map(|r| r.id).collect();
    ensure!(
        hits.len() == 20 && hits.iter().all(|h| bs.contains(&h.id)),
        "tenant b saw tenant a's vectors"
    );
    ensure!(
        index.count(&spec.name, Some(&a)).await.or_fail("count a")? == 20,
        "count per tenant is wrong"
    );
    index.drop_collection(&spec.name).await.or_fail("drop")
}

async fn filters_match_brute_force(index: &Arc<dyn VectorIndex>) -> CaseResult {
    let spec = fresh(index, Metric::Cosine).await?;
    let t = unique("t");
    let batch = records(240, &t, 9);
    index.upsert(&spec.name, &batch).await.or_fail("upsert")?;
    let caps = index.capabilities();
    let generated = crate::filter_gen::generated(crate::filter_gen::count());
    for fj in sample_filters().into_iter().chain(generated) {
        // A generated filter may be invalid; the parser's errors are tested apart.
        let Ok(f) = Filter::parse(&fj) else { continue };
        if !caps.supports_filter(&f) {
            continue;
        }
        let want: BTreeSet<Uuid> = batch
            .iter()
            .filter(|r| f.matches(&r.payload))
            .map(|r| r.id)
            .collect();
        let q = VectorQuery {
            tenant: t.clone(),
            vector: batch[0].vector.clone(),
            k: 1000,
            filter: Some(f),
        };
        let got: BTreeSet<Uuid> = index
            .query(&spec.name, &q)
            .await
            .or_fail(&format!("filtered query {fj}"))?
            .iter()
            .map(|h| h.id)
            .collect();
        ensure!(
            got == want,
            "filter {fj} returned {} ids, brute force {} (missing {}, extra {})",
            got.len(),
            want.len(),
            want.difference(&got).count(),
            got.difference(&want).count()
        );
    }
    index.drop_collection(&spec.name).await.or_fail("drop")
}

async fn list_ids_visits_each_once(index: &Arc<dyn VectorIndex>) -> CaseResult {
    let spec = fresh(index, Metric::Cosine).await?;
    let batch = records(57, &unique("t"), 10);
    index.upsert(&spec.name, &batch).await.or_fail("upsert")?;
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = index
            .list_ids(&spec.name, after, 10)
            .await
            .or_fail("list_ids")?;
        let Some(last) = page.last() else { break };
        ensure!(page.windows(2).all(|w| w[0] < w[1]), "ids not ascending");
        after = Some(*last);
        seen.extend(page);
    }
    let want: BTreeSet<Uuid> = batch.iter().map(|r| r.id).collect();
    ensure!(
        seen.len() == want.len() && seen.iter().copied().collect::<BTreeSet<_>>() == want,
        "paging visited {} ids, want {}",
        seen.len(),
        want.len()
    );
    index.drop_collection(&spec.name).await.or_fail("drop")
}

async fn other_metrics(index: &Arc<dyn VectorIndex>, metric: Metric) -> CaseResult {
    let spec = fresh(index, metric).await?;
    let t = unique("t");
    let batch = records(50, &t, 11);
    index.upsert(&spec.name, &batch).await.or_fail("upsert")?;
    let q = VectorQuery {
        tenant: t,
        vector: batch[3].vector.clone(),
        k: 3,
        filter: None,
    };
    let hits = index.query(&spec.name, &q).await.or_fail("query")?;
    ensure!(
        hits.first().map(|h| h.id) == Some(batch[3].id),
        "{} query did not rank the vector itself first",
        metric.as_str()
    );
    index.drop_collection(&spec.name).await.or_fail("drop")
}

/// Runs every case the index's capabilities allow.
pub async fn run(index: Arc<dyn VectorIndex>) -> Report {
    let mut r = Report::new(format!("vector[{}]", index.info().scheme));
    case!(r, collection_records_dimension(&index));
    case!(r, bad_vectors_write_nothing(&index));
    case!(r, query_returns_nearest_best_first(&index));
    case!(r, upsert_replaces_and_delete_is_idempotent(&index));
    case!(r, concurrent_upserts_keep_one_record(&index));
    case!(r, tenants_are_isolated(&index));
    case!(r, filters_match_brute_force(&index));
    case!(r, list_ids_visits_each_once(&index));
    for m in [Metric::Dot, Metric::L2] {
        if index.capabilities().metrics.contains(&m) {
            r.record(
                if m == Metric::Dot {
                    "metric_dot"
                } else {
                    "metric_l2"
                },
                other_metrics(&index, m).await,
            );
        } else {
            r.skip(
                if m == Metric::Dot {
                    "metric_dot"
                } else {
                    "metric_l2"
                },
                "metric not offered",
            );
        }
    }
    r
}
