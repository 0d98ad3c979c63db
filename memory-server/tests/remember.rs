//! A remembered message whose embedding fails is still recorded; the worker
//! keeps it as a memory once the embedder answers again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use memory::{
    Embedder, EngineConfig, Error, ErrorKind, Memory, MemoryKind, RecordMessage, Scope, Validity,
    WorkerConfig,
};
use memory_testkit::DeterministicEmbedder;

/// Fails every call while `down` is set.
#[derive(Debug)]
struct Outage {
    inner: DeterministicEmbedder,
    down: AtomicBool,
}

#[async_trait]
impl Embedder for Outage {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }
    fn max_batch(&self) -> usize {
        self.inner.max_batch()
    }
    async fn embed(
        &self,
        texts: &[String],
        kind: memory::EmbedKind,
    ) -> memory::Result<Vec<Vec<f32>>> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Unavailable, "embedder down"));
        }
        self.inner.embed(texts, kind).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_embedder_missed_is_remembered_by_the_worker() {
    let db = memory::sqlite::SqliteDb::connect("sqlite::memory:")
        .await
        .unwrap();
    let store = db.store();
    let embedder = Arc::new(Outage {
        inner: DeterministicEmbedder::new(32),
        down: AtomicBool::new(true),
    });
    let m = Memory::builder()
        .store(store.clone())
        .keywords(store)
        .vectors(db.vector_index())
        .embedder(embedder.clone())
        .config(EngineConfig {
            remember_messages: true,
            ..EngineConfig::default()
        })
        .build()
        .await
        .unwrap();
    let o = m
        .record_message(RecordMessage::user(
            "s1",
            "alice",
            "my sister Ana lives in Porto",
        ))
        .await
        .unwrap();
    assert!(o.memory_id.is_none(), "{o:?}");
    assert_eq!(m.recent("default", "s1", 5).await.unwrap().len(), 1);
    let w = m.worker(WorkerConfig::default()).unwrap();
    let r = w.tick().await.unwrap();
    assert!(
        r.retried >= 1,
        "the remember job ran while the embedder was down: {r:?}"
    );
    embedder.down.store(false, Ordering::SeqCst);
    m.retry_jobs(&[]).await.unwrap();
    let mut kept = Vec::new();
    for _ in 0..50 {
        w.tick().await.unwrap();
        kept = m
            .list(&Scope::user("alice"), None, Validity::Current, 10, None)
            .await
            .unwrap()
            .items;
        if !kept.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].kind, MemoryKind::Message);
    assert_eq!(kept[0].source_message_ids, [o.message.id]);
}
