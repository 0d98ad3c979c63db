//! Criterion: add and search on the SQLite embedded default at 1k, 10k and
//! 100k memories, search split by partition size (one user holding every
//! memory, or 100 users). Sizes: `MEMORY_BENCH_SIZES` (default 1000,10000,100000).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use memory::{AddRequest, Scope, SearchMode, SearchRequest};
use memory_benches::{engine, seed, sentences};

fn sizes() -> Vec<usize> {
    std::env::var("MEMORY_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let queries = sentences(64, 99);
    let mut group = c.benchmark_group("sqlite");
    group.sample_size(30);
    for n in sizes() {
        for users in [1usize, 100] {
            let m = rt.block_on(async {
                let m = engine(dir.path(), &format!("b{n}_{users}"), None).await;
                seed(&m, n, users).await;
                m
            });
            let partition = n / users;
            for mode in [
                SearchMode::Hybrid,
                SearchMode::Semantic,
                SearchMode::Keyword,
            ] {
                let id = BenchmarkId::new(
                    format!("search_{mode:?}_partition_{partition}").to_lowercase(),
                    n,
                );
                let mut i = 0;
                group.bench_function(id, |b| {
                    b.to_async(&rt).iter(|| {
                        i += 1;
                        let req = SearchRequest::new(
                            Scope::user("u0"),
                            queries[i % queries.len()].clone(),
                        )
                        .k(10)
                        .mode(mode);
                        let m = m.clone();
                        async move { m.search(req).await.unwrap() }
                    })
                });
            }
            if users == 100 {
                let mut i = 0;
                group.bench_function(BenchmarkId::new("add", n), |b| {
                    b.to_async(&rt).iter(|| {
                        i += 1;
                        let m = m.clone();
                        async move {
                            m.add(AddRequest::new(
                                Scope::user("u1"),
                                format!("bench add number {i} of {n}"),
                            ))
                            .await
                            .unwrap()
                        }
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
