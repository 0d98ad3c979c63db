//! The loaded vector partitions stay within `partitions_mb`, shared with
//! the keyword indexes: the least recently searched are dropped, and load
//! again, correct, when searched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use memory_core::{
    ChangeSet, Filter, KeywordIndex, KeywordQuery, MemoryStore, Scope, StoredMemory, VectorIndex,
    VectorQuery, VectorRecord,
};
use memory_sqlite::SqliteDb;
use uuid::Uuid;

mod common;

const DIMENSION: usize = 256;
const PER_USER: usize = 300;
const USERS: usize = 5;
const BUDGET: usize = 1 << 20;

/// A unit vector that differs for every `seed`.
fn vector(seed: u64) -> Vec<f32> {
    memory_testkit::vector::seeded_vector(seed, DIMENSION)
}

fn pinned(user: usize, seed: u64) -> VectorQuery {
    VectorQuery {
        tenant: "t".into(),
        vector: vector(seed),
        k: 3,
        filter: Some(Filter::parse(&serde_json::json!({"user_id": format!("u{user}")})).unwrap()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_stay_within_their_budget() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/p.db?partitions_mb=1", dir.path().display());
    let db = SqliteDb::connect(&url).await.unwrap();
    let index = db.vector_index();
    common::create_collection(&*index, "c", DIMENSION).await;
    let mut ids = vec![Vec::new(); USERS];
    for (user, ids) in ids.iter_mut().enumerate() {
        let records: Vec<VectorRecord> = (0..PER_USER)
            .map(|i| {
                let id = Uuid::now_v7();
                ids.push(id);
                VectorRecord {
                    id,
                    vector: vector((user * PER_USER + i) as u64),
                    payload: memory_testkit::vector::payload("t", &format!("u{user}"), "fact"),
                }
            })
            .collect();
        index.upsert("c", &records).await.unwrap();
    }
    let first_hit = |user: usize, i: usize| {
        let (index, want) = (index.clone(), ids[user][i]);
        async move {
            let hits = index
                .query("c", &pinned(user, (user * PER_USER + i) as u64))
                .await
                .unwrap();
            assert_eq!(
                hits.first().map(|h| h.id),
                Some(want),
                "user {user}'s own vector {i} is not its nearest"
            );
        }
    };
    let mut most = 0;
    for user in 0..USERS {
        first_hit(user, 7).await;
        let (parts, bytes) = index.cached().unwrap();
        assert!(parts >= 1, "the partition just searched is not cached");
        assert!(
            bytes <= BUDGET,
            "{parts} partitions take {bytes} bytes, over the budget of {BUDGET}"
        );
        most = most.max(parts);
    }
    let (parts, _) = index.cached().unwrap();
    assert!(
        parts < USERS,
        "all {USERS} partitions are still loaded; none was dropped"
    );
    assert!(
        most >= 2,
        "the budget holds two partitions, at most {most} were"
    );
    // The first user's partition was dropped first; it loads again whole.
    first_hit(0, 299).await;
    // A write to a loaded partition is applied to it and measured.
    let added = Uuid::now_v7();
    index
        .upsert(
            "c",
            &[VectorRecord {
                id: added,
                vector: vector(1 << 40),
                payload: memory_testkit::vector::payload("t", "u0", "fact"),
            }],
        )
        .await
        .unwrap();
    let hits = index.query("c", &pinned(0, 1 << 40)).await.unwrap();
    assert_eq!(hits.first().map(|h| h.id), Some(added));
    let (_, bytes) = index.cached().unwrap();
    assert!(
        bytes <= BUDGET,
        "{bytes} bytes after a write, over {BUDGET}"
    );
    // A partition larger than the whole budget stays while it is searched.
    let big: Vec<VectorRecord> = (0..3 * PER_USER)
        .map(|i| VectorRecord {
            id: Uuid::now_v7(),
            vector: vector((1 << 41) + i as u64),
            payload: memory_testkit::vector::payload("t", "big", "fact"),
        })
        .collect();
    index.upsert("c", &big).await.unwrap();
    let mut q = pinned(0, (1 << 41) + 5);
    q.filter = Some(Filter::parse(&serde_json::json!({"user_id": "big"})).unwrap());
    let hits = index.query("c", &q).await.unwrap();
    assert_eq!(hits.first().map(|h| h.id), Some(big[5].id));
    let (parts, bytes) = index.cached().unwrap();
    assert!(
        parts == 1 && bytes > BUDGET,
        "the large partition just searched was dropped: {parts} partitions, {bytes} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_and_keyword_partitions_share_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/s.db?partitions_mb=1", dir.path().display());
    let db = SqliteDb::connect(&url).await.unwrap();
    let (store, index) = (db.store(), db.store_vector_index());
    common::create_collection(&*index, "c", DIMENSION).await;
    for user in 0..USERS {
        let scope = Scope::user(format!("u{user}"));
        let records: Vec<VectorRecord> = (0..PER_USER)
            .map(|i| VectorRecord {
                id: Uuid::now_v7(),
                vector: vector((user * PER_USER + i) as u64),
                payload: memory_testkit::vector::payload("t", &format!("u{user}"), "fact"),
            })
            .collect();
        index.upsert("c", &records).await.unwrap();
        let memories = (0..400)
            .map(|i| {
                let text = format!("note{i} about garden{user} plans");
                StoredMemory::new(memory_testkit::store::record(&scope, &text), None)
            })
            .collect();
        store
            .apply(ChangeSet {
                insert: memories,
                ..ChangeSet::default()
            })
            .await
            .unwrap();
    }
    // Each kind alone fits the budget twice over; together they must not
    // take much more than it (the partition being searched always stays,
    // while the other cache drops its own on its next search).
    let mut most = 0;
    for user in 0..USERS {
        let hits = index.query("c", &pinned(user, 1)).await.unwrap();
        assert!(!hits.is_empty());
        let scope = Scope::user(format!("u{user}"));
        let filter = Filter::parse(&serde_json::json!({"user_id": scope.user_id})).unwrap();
        let hits = store
            .search(&KeywordQuery {
                tenant: scope.tenant.clone(),
                text: "note7".into(),
                k: 10,
                filter: Some(filter),
            })
            .await
            .unwrap();
        assert_eq!(hits.len(), 1, "user {user}'s note7");
        let (vectors, keywords) = (
            index.cached().unwrap().1,
            store.keyword_partitions_cached().unwrap().1,
        );
        most = most.max(vectors + keywords);
    }
    assert!(
        most <= BUDGET + BUDGET / 2,
        "vector and keyword partitions together took {most} bytes, budget {BUDGET}"
    );
}
