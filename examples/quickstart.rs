//! Remember a few facts about a user, recall them by meaning and by keyword,
//! update one, and show its history. Runs on the embedded default: SQLite and
//! the local multilingual-e5-small embedder, nothing to install but the model
//! (`scripts/prepare-model`).

use memory::{AddRequest, Config, MemoryKind, Scope, SearchMode, SearchRequest, UpdateRequest};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("memory-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = Config {
        store: format!("sqlite://{}/memory.db", dir.display()).into(),
        ..Config::default()
    };
    let memory = memory::open(&config).await?;
    let alice = Scope::user("alice");

    let facts = [
        ("Alice has two cats, Tom and Luna", MemoryKind::Fact, 7.0),
        (
            "Alice prefers green tea to coffee",
            MemoryKind::Preference,
            6.0,
        ),
        ("Alice is allergic to peanuts", MemoryKind::Fact, 9.0),
        ("Alice works as a nurse in Lyon", MemoryKind::Profile, 8.0),
        (
            "Alice ran her first marathon in April",
            MemoryKind::Event,
            5.0,
        ),
    ];
    for (text, kind, importance) in facts {
        let outcome = memory
            .add(
                AddRequest::new(alice.clone(), text)
                    .kind(kind)
                    .importance(importance),
            )
            .await?;
        println!("{}: {text}", outcome.event.as_str());
    }
    let again = memory
        .add(AddRequest::new(
            alice.clone(),
            "Alice is allergic to peanuts",
        ))
        .await?;
    println!("the same fact again: {}", again.event.as_str());

    for (mode, query) in [
        (SearchMode::Semantic, "does she have any pets?"),
        (SearchMode::Keyword, "peanuts"),
        (SearchMode::Hybrid, "what should I not cook for her"),
    ] {
        let res = memory
            .search(SearchRequest::new(alice.clone(), query).k(2).mode(mode))
            .await?;
        println!("\n{} search: {query}", mode.as_str());
        for hit in &res.hits {
            let similarity = hit
                .explain
                .similarity
                .map_or_else(|| "-".to_owned(), |s| format!("{s:.3}"));
            let rank = hit
                .explain
                .keyword_rank
                .map_or_else(|| "-".to_owned(), |r| r.to_string());
            println!(
                "  {:.3}  {}  (similarity {similarity}, keyword rank {rank})",
                hit.score, hit.memory.content
            );
        }
    }

    let job = memory
        .search(SearchRequest::new(alice.clone(), "where does she work").k(1))
        .await?;
    let id = job
        .hits
        .first()
        .map(|h| h.memory.id)
        .ok_or_else(|| anyhow::anyhow!("no memory about work"))?;
    let updated = memory
        .update(
            &alice.tenant,
            id,
            UpdateRequest {
                content: Some("Alice works as a teacher in Paris".into()),
                reason: Some("she changed jobs".into()),
                ..UpdateRequest::default()
            },
        )
        .await?;
    println!(
        "\nupdated to version {}: {}",
        updated.version, updated.content
    );
    let res = memory
        .search(SearchRequest::new(alice.clone(), "which city does she live in").k(1))
        .await?;
    println!(
        "recall after update: {}",
        res.hits
            .first()
            .map(|h| h.memory.content.as_str())
            .unwrap_or("-")
    );

    println!("\nhistory of {id}:");
    for event in memory.history(&alice.tenant, id).await? {
        println!(
            "  {}  {:<6} {} -> {} ({})",
            event.created_at.format("%Y-%m-%d %H:%M:%S"),
            event.op.as_str(),
            event.old_content.as_deref().unwrap_or("-"),
            event.new_content.as_deref().unwrap_or("-"),
            event.reason
        );
    }
    let check = memory.check(false).await?;
    println!(
        "\nstore {} memories, index {} vectors, consistent: {}",
        check.store_count,
        check.index_count,
        check.is_consistent()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
