//! The store's own vector index, when it answers a user's search with the
//! hits' memories and windows in one statement, must say exactly what the
//! separate query, window lookup and record fetch say.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use memory_core::filter::Filter;
use memory_core::{
    AddRequest, EngineConfig, KeywordIndex, Memory, MemoryKind, Scope, SearchMode, SearchRequest,
    Store, VectorIndex, VectorQuery,
};

use crate::DeterministicEmbedder;

/// Runs the check on `store` and its own index `vectors`; `beside_other` is
/// the same database's index opened as if for another store, which must
/// not join.
pub async fn joined_hits_match_the_separate_lookups<S>(
    store: Arc<S>,
    vectors: Arc<dyn VectorIndex>,
    beside_other: Arc<dyn VectorIndex>,
) where
    S: Store + KeywordIndex + 'static,
{
    let embedder = Arc::new(DeterministicEmbedder::new(32).with_max_words(20));
    let m = Memory::builder()
        .store(store.clone())
        .keywords(store.clone())
        .vectors(vectors.clone())
        .embedder(embedder.clone())
        .config(EngineConfig::default())
        .build()
        .await
        .unwrap();
    // Every column a record has, filled, so each one's decoding is compared.
    let now = chrono::Utc::now();
    let mut previous = None;
    for i in 0..30u16 {
        let mut add = AddRequest::new(Scope::user("ann"), format!("ann likes tea number {i}"))
            .kind(MemoryKind::Preference)
            .importance(1.1 + f32::from(i) * 0.29)
            .metadata(
                serde_json::json!({"n": i, "quote": "say \"hi\" ünï", "nested": {"x": [1.5, null]}})
                    .as_object()
                    .cloned()
                    .unwrap(),
            )
            .expires_at(now + chrono::Duration::days(1))
            .valid_from(now - chrono::Duration::hours(1));
        add.confidence = 0.3 + f32::from(i) * 0.017;
        if let Some(id) = previous.filter(|_| i % 2 == 1) {
            add = add.supersedes(id);
        }
        previous = Some(m.add(add).await.unwrap().id);
        m.add(AddRequest::new(
            Scope::user("bob"),
            format!("bob likes tea number {i}"),
        ))
        .await
        .unwrap();
    }
    // Longer than the window: several vectors, one memory.
    let long: String = (0..90).map(|i| format!("tea{i} ")).collect();
    let long_id = m
        .add(AddRequest::new(Scope::user("ann"), long))
        .await
        .unwrap()
        .id;

    let name = m.collection().name.clone();
    let q = VectorQuery {
        tenant: "default".into(),
        vector: embedder.vector("tea45 tea46 tea47"),
        k: 12,
        filter: Some(Filter::parse(&serde_json::json!({"user_id": "ann"})).unwrap()),
    };
    let joined = vectors
        .query_joined(&name, &q)
        .await
        .unwrap()
        .expect("joined");
    let plain = vectors.query(&name, &q).await.unwrap();
    assert_eq!(joined.iter().map(|j| j.hit).collect::<Vec<_>>(), plain);
    let ids: Vec<_> = plain.iter().map(|h| h.id).collect();
    let refs: HashMap<_, _> = store
        .chunk_refs("default", &ids)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.chunk_id, r))
        .collect();
    assert!(
        joined
            .iter()
            .any(|j| j.chunk.is_some_and(|c| c.memory_id == long_id)),
        "a window of the long memory is among the hits"
    );
    assert!(
        joined.iter().any(|j| j
            .record
            .as_ref()
            .is_some_and(|r| r.supersedes.is_some() && !r.metadata.is_empty())),
        "the filled records are among the hits"
    );
    for j in &joined {
        assert_eq!(j.chunk, refs.get(&j.hit.id).copied());
        let memory = j.chunk.map_or(j.hit.id, |c| c.memory_id);
        let stored = store.get_memories("default", &[memory]).await.unwrap();
        assert_eq!(j.record.as_ref(), stored.first());
        assert_eq!(
            j.record.as_ref().unwrap().scope.user_id.as_deref(),
            Some("ann")
        );
    }

    // Not pinned to a user, or an index beside another store: no join.
    let unpinned = VectorQuery {
        filter: None,
        ..q.clone()
    };
    assert!(
        vectors
            .query_joined(&name, &unpinned)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        beside_other
            .query_joined(&name, &q)
            .await
            .unwrap()
            .is_none()
    );

    // And the engine's answer through it names the window.
    let hits = m
        .search(
            SearchRequest::new(Scope::user("ann"), "tea45 tea46 tea47")
                .mode(SearchMode::Semantic)
                .k(5),
        )
        .await
        .unwrap()
        .hits;
    let long_hit = hits
        .iter()
        .find(|h| h.memory.id == long_id)
        .expect("the long memory is found");
    assert!(long_hit.chunk.is_some_and(|c| c.index > 0));
}
