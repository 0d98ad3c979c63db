//! A large partition's HNSW graph is saved beside the database once built,
//! and a partition that loads again (another process, a restart) takes it
//! from there with the writes made since applied, instead of rebuilding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use memory_core::{Filter, VectorIndex, VectorQuery, VectorRecord};
use memory_sqlite::{SqliteDb, SqliteVectorIndex};
use memory_testkit::vector::{payload, random_vector};
use rand::SeedableRng;
use rand::rngs::StdRng;
use uuid::Uuid;

mod common;

const DIMENSION: usize = 32;
const ROWS: usize = 3000;
const THRESHOLD: usize = 1000;

async fn open(db: &Path, threshold: usize) -> Arc<SqliteVectorIndex> {
    let url = format!("sqlite://{}?hnsw_threshold={threshold}", db.display());
    SqliteDb::connect(&url).await.unwrap().vector_index()
}

fn record(id: Uuid, vector: Vec<f32>) -> VectorRecord {
    users_record("u", id, vector)
}

/// A vector of `user`'s, in that user's partition.
fn users_record(user: &str, id: Uuid, vector: Vec<f32>) -> VectorRecord {
    VectorRecord {
        id,
        vector,
        payload: payload("t", user, "fact"),
    }
}

fn query(vector: &[f32], k: usize) -> VectorQuery {
    users_query("u", vector, k)
}

fn users_query(user: &str, vector: &[f32], k: usize) -> VectorQuery {
    VectorQuery {
        tenant: "t".into(),
        vector: vector.to_vec(),
        k,
        filter: Some(Filter::parse(&serde_json::json!({"user_id": user})).unwrap()),
    }
}

async fn top(index: &SqliteVectorIndex, vector: &[f32], k: usize) -> Vec<Uuid> {
    users_top(index, "u", vector, k).await
}

/// The ids of `user`'s `k` vectors nearest `vector`.
async fn users_top(index: &SqliteVectorIndex, user: &str, vector: &[f32], k: usize) -> Vec<Uuid> {
    index
        .query("c", &users_query(user, vector, k))
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect()
}

/// The saved graph files beside `db`.
fn graph_files(db: &Path) -> Vec<PathBuf> {
    let dir = PathBuf::from(format!("{}-graphs", db.display()));
    std::fs::read_dir(dir).map_or_else(
        |_| Vec::new(),
        |entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "graph"))
                .collect()
        },
    )
}

/// Waits until `ready` holds (a background build and save take a moment).
async fn eventually(what: &str, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(30), "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_graph_is_taken_up_again_with_the_writes_made_since() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let first = open(&db, THRESHOLD).await;
    common::create_collection(&*first, "c", DIMENSION).await;
    let mut rng = StdRng::seed_from_u64(7);
    let ids: Vec<Uuid> = (0..ROWS).map(|_| Uuid::now_v7()).collect();
    let mut vectors: Vec<Vec<f32>> = (0..ROWS)
        .map(|_| random_vector(&mut rng, DIMENSION))
        .collect();
    let records: Vec<VectorRecord> = ids
        .iter()
        .zip(&vectors)
        .map(|(id, v)| record(*id, v.clone()))
        .collect();
    first.upsert("c", &records).await.unwrap();

    // The first search builds the graph in the background, then saves it.
    top(&first, &vectors[0], 10).await;
    eventually("the graph is built and saved", || {
        first.graphs_loaded().unwrap() == 1 && graph_files(&db).len() == 1
    })
    .await;
    let file = graph_files(&db).remove(0);

    // Writes after the save: updated, removed and added vectors.
    let updated: Vec<usize> = (0..10).collect();
    for &i in &updated {
        vectors[i] = random_vector(&mut rng, DIMENSION);
    }
    let update: Vec<VectorRecord> = updated
        .iter()
        .map(|&i| record(ids[i], vectors[i].clone()))
        .collect();
    first.upsert("c", &update).await.unwrap();
    let removed: Vec<Uuid> = ids[10..20].to_vec();
    first.delete("c", &removed).await.unwrap();
    let added: Vec<(Uuid, Vec<f32>)> = (0..10)
        .map(|_| (Uuid::now_v7(), random_vector(&mut rng, DIMENSION)))
        .collect();
    let add: Vec<VectorRecord> = added.iter().map(|(id, v)| record(*id, v.clone())).collect();
    first.upsert("c", &add).await.unwrap();
    let saved_bytes = std::fs::read(&file).unwrap();

    // Another process's index takes the saved graph up as it loads.
    let second = open(&db, THRESHOLD).await;
    assert_eq!(top(&second, &vectors[0], 1).await, vec![ids[0]]);
    assert_eq!(
        second.graphs_loaded().unwrap(),
        1,
        "the partition loaded without its saved graph"
    );
    for &i in &updated {
        assert_eq!(
            top(&second, &vectors[i], 1).await,
            vec![ids[i]],
            "updated {i}"
        );
    }
    for (id, v) in &added {
        assert_eq!(top(&second, v, 1).await, vec![*id], "added");
    }
    let all: HashSet<Uuid> = top(&second, &vectors[0], ROWS * 2)
        .await
        .into_iter()
        .collect();
    assert_eq!(all.len(), ROWS, "every vector but the removed, once");
    assert!(
        removed.iter().all(|id| !all.contains(id)),
        "a removed vector"
    );

    // As good as the graph built here: recall against the exact scan.
    let exact = open(&db, 0).await;
    let (mut found, mut wanted) = (0, 0);
    for _ in 0..40 {
        let q = random_vector(&mut rng, DIMENSION);
        let truth: HashSet<Uuid> = top(&exact, &q, 10).await.into_iter().collect();
        found += top(&second, &q, 10)
            .await
            .iter()
            .filter(|id| truth.contains(id))
            .count();
        wanted += truth.len();
    }
    assert!(found * 100 >= wanted * 95, "recall {found}/{wanted}");
    assert_eq!(exact.graphs_loaded().unwrap(), 0);

    // Taking it up neither rebuilt nor saved it again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        std::fs::read(&file).unwrap() == saved_bytes,
        "the graph was saved again"
    );

    // Past a small share of changes the graph is built afresh and saved.
    let changed: Vec<VectorRecord> = ids[100..500]
        .iter()
        .map(|id| record(*id, random_vector(&mut rng, DIMENSION)))
        .collect();
    first.upsert("c", &changed).await.unwrap();
    let third = open(&db, THRESHOLD).await;
    assert_eq!(top(&third, &changed[0].vector, 1).await, vec![ids[100]]);
    eventually("the graph is built again and saved", || {
        third.graphs_loaded().unwrap() == 1 && std::fs::read(&file).is_ok_and(|b| b != saved_bytes)
    })
    .await;
    assert_eq!(top(&third, &changed[1].vector, 1).await, vec![ids[101]]);

    // A damaged file is passed over: the graph is built again.
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let fourth = open(&db, THRESHOLD).await;
    assert_eq!(top(&fourth, &changed[2].vector, 1).await, vec![ids[102]]);
    eventually("a damaged graph is built again", || {
        fourth.graphs_loaded().unwrap() == 1
            && std::fs::read(&file).is_ok_and(|b| b.len() > bytes.len() / 2)
    })
    .await;

    // Deleting some of a user's vectors keeps the file; deleting the last
    // one removes it, so no copy of them stays behind.
    fourth.delete("c", &ids[..100]).await.unwrap();
    assert!(file.exists(), "the file went with only some vectors");
    let rest: Vec<Uuid> = ids[100..]
        .iter()
        .copied()
        .chain(added.iter().map(|(id, _)| *id))
        .collect();
    fourth.delete("c", &rest).await.unwrap();
    assert!(!file.exists(), "the file stayed after the last vector");

    // Dropping a collection removes its graphs.
    common::create_collection(&*fourth, "d", DIMENSION).await;
    fourth.upsert("d", &records[..THRESHOLD]).await.unwrap();
    fourth.query("d", &query(&vectors[0], 1)).await.unwrap();
    eventually("the second collection's graph is saved", || {
        graph_files(&db).len() == 1
    })
    .await;
    // A partition that loads below the threshold is scanned exactly, and
    // its file, holding ids and vectors it no longer has, goes.
    fourth.delete("d", &ids[..1]).await.unwrap();
    assert_eq!(graph_files(&db).len(), 1, "the file went with one vector");
    let fifth = open(&db, THRESHOLD).await;
    fifth.query("d", &query(&vectors[1], 1)).await.unwrap();
    assert!(
        graph_files(&db).is_empty(),
        "a partition below the threshold kept its file"
    );
    assert_eq!(fifth.graphs_loaded().unwrap(), 0);
    fourth.drop_collection("d").await.unwrap();
    assert!(graph_files(&db).is_empty(), "{:?}", graph_files(&db));
}

/// Compaction removes the graph files that still hold a vector their
/// partition no longer has (a removed one, an updated one's old value), so
/// nothing of it is left on disk; files a save cut short left, and files
/// no partition would take, go too. A file that matches its partition
/// stays as it is, and the others' partitions save theirs afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_removes_graph_files_holding_vectors_the_database_no_longer_has() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let url = format!("sqlite://{}?hnsw_threshold={THRESHOLD}", db.display());
    let handle = SqliteDb::connect(&url).await.unwrap();
    let index = handle.vector_index();
    common::create_collection(&*index, "c", DIMENSION).await;
    let mut rng = StdRng::seed_from_u64(11);
    let users = ["removed", "kept", "updated"];
    let mut vectors: Vec<Vec<(Uuid, Vec<f32>)>> = Vec::new();
    for user in users {
        let rows: Vec<(Uuid, Vec<f32>)> = (0..THRESHOLD + 200)
            .map(|_| (Uuid::now_v7(), random_vector(&mut rng, DIMENSION)))
            .collect();
        let records: Vec<VectorRecord> = rows
            .iter()
            .map(|(id, v)| users_record(user, *id, v.clone()))
            .collect();
        index.upsert("c", &records).await.unwrap();
        users_top(&index, user, &rows[0].1, 1).await;
        vectors.push(rows);
    }
    eventually("every partition's graph is saved", || {
        graph_files(&db).len() == users.len()
    })
    .await;
    let before: Vec<(PathBuf, Vec<u8>)> = graph_files(&db)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();

    // Few enough changes that a partition loading would keep its file.
    let removed: Vec<Uuid> = vectors[0][..5].iter().map(|(id, _)| *id).collect();
    index.delete("c", &removed).await.unwrap();
    let (updated, _) = vectors[2][0];
    let fresh = random_vector(&mut rng, DIMENSION);
    index
        .upsert("c", &[users_record("updated", updated, fresh.clone())])
        .await
        .unwrap();
    // What a crash mid-save leaves, and a copy under a name of its own.
    let graphs = before[0].0.parent().unwrap().to_path_buf();
    std::fs::write(graphs.join("x.graph.tmp.1.0"), &before[0].1[..100]).unwrap();
    std::fs::write(graphs.join("copy.graph"), &before[0].1).unwrap();
    handle.close().await;
    drop(index);

    let report = memory_sqlite::compact(&url).await.unwrap();
    assert_eq!(report.graphs_removed, 4, "{report:?}");
    let left: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&graphs)
        .unwrap()
        .flatten()
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
        .collect();
    assert_eq!(
        left.len(),
        1,
        "{:?}",
        left.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(before.contains(&left[0]), "the matching file was changed");

    // The kept file is taken up; the others are built and saved afresh.
    let reopened = open(&db, THRESHOLD).await;
    let kept = &vectors[1];
    assert_eq!(
        users_top(&reopened, "kept", &kept[7].1, 1).await,
        vec![kept[7].0]
    );
    assert_eq!(
        users_top(&reopened, "updated", &fresh, 1).await,
        vec![updated]
    );
    let all: HashSet<Uuid> = users_top(&reopened, "removed", &vectors[0][9].1, THRESHOLD * 2)
        .await
        .into_iter()
        .collect();
    assert_eq!(all.len(), THRESHOLD + 195);
    assert!(
        removed.iter().all(|id| !all.contains(id)),
        "a removed vector"
    );
    eventually(
        "the removed files' partitions save their graphs again",
        || graph_files(&db).len() == users.len(),
    )
    .await;
}
