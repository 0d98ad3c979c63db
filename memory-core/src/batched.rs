//! Query texts that arrive together are embedded together, as a layer
//! implementing [`Embedder`]. A query is embedded at once, in its caller's
//! task, while fewer batches than `lanes` are running and none is queued,
//! so a lone search waits for nothing and changes no thread;
//! under load, queries queue while every lane is busy and the next lane to
//! free up embeds all of them in one call, where the model runs at batch
//! efficiency instead of once per query.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::oneshot;

use crate::traits::{EmbedKind, Embedder};
use crate::{Error, Result};

type Reply = oneshot::Sender<Result<Vec<f32>>>;

#[derive(Default)]
struct Queue {
    waiting: Vec<(String, Reply)>,
    busy: usize,
}

struct Shared {
    inner: Arc<dyn Embedder>,
    lanes: usize,
    queue: Mutex<Queue>,
}

/// An embedder that batches concurrent single-text query embeddings.
pub struct BatchingEmbedder {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BatchingEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchingEmbedder")
            .field("model", &self.shared.inner.model_id())
            .field("lanes", &self.shared.lanes)
            .finish()
    }
}

impl BatchingEmbedder {
    /// Batches `inner`'s query embeddings, with up to `lanes` calls to it
    /// running at once (at least one).
    pub fn new(inner: Arc<dyn Embedder>, lanes: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                inner,
                lanes: lanes.max(1),
                queue: Mutex::new(Queue::default()),
            }),
        }
    }
}

fn lock_err() -> Error {
    Error::internal("query batch lock poisoned")
}

/// A running lane. Dropped without finishing (the embedder panicked, the
/// runtime shut down), it frees its lane and, if no lane is left to serve
/// them, fails the queued queries instead of leaving them waiting forever.
struct Lane {
    shared: Arc<Shared>,
    finished: bool,
}

impl Drop for Lane {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Ok(mut q) = self.shared.queue.lock() {
            q.free_lane();
        }
    }
}

impl Queue {
    /// Frees a lane that stops without a successor; with no lane left to
    /// serve them, the queued queries fail ("abandoned", as dropping a
    /// reply does) instead of waiting forever.
    fn free_lane(&mut self) {
        self.busy -= 1;
        if self.busy == 0 {
            self.waiting.clear();
        }
    }
}

impl Shared {
    /// Embeds what is queued, batch after batch, until the queue is empty;
    /// then frees its lane.
    async fn drain(self: Arc<Self>) {
        let mut lane = Lane {
            shared: self,
            finished: false,
        };
        loop {
            let batch = match lane.shared.queue.lock() {
                Ok(mut q) => {
                    let n = q.waiting.len().min(lane.shared.inner.max_batch().max(1));
                    if n == 0 {
                        q.busy -= 1;
                        drop(q);
                        lane.finished = true;
                        return;
                    }
                    q.waiting.drain(..n).collect::<Vec<_>>()
                }
                Err(_) => return,
            };
            let (texts, replies): (Vec<String>, Vec<Reply>) = batch.into_iter().unzip();
            #[allow(clippy::cast_precision_loss)]
            metrics::histogram!("memory_query_batch_size").record(texts.len() as f64);
            match lane.shared.inner.embed(&texts, EmbedKind::Query).await {
                Ok(vectors) if vectors.len() == replies.len() => {
                    for (reply, v) in replies.into_iter().zip(vectors) {
                        let _ = reply.send(Ok(v));
                    }
                }
                Ok(_) => {
                    for reply in replies {
                        let _ = reply.send(Err(Error::internal(
                            "the embedder returned a different number of vectors",
                        )));
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(Error::new(e.kind(), e.message().to_owned())));
                    }
                }
            }
        }
    }
}

#[async_trait]
impl Embedder for BatchingEmbedder {
    fn model_id(&self) -> &str {
        self.shared.inner.model_id()
    }
    fn prompt_scheme(&self) -> &str {
        self.shared.inner.prompt_scheme()
    }
    fn dimension(&self) -> usize {
        self.shared.inner.dimension()
    }
    fn max_batch(&self) -> usize {
        self.shared.inner.max_batch()
    }
    fn max_tokens(&self) -> Option<usize> {
        self.shared.inner.max_tokens()
    }
    fn count_tokens(&self, text: &str) -> Option<usize> {
        self.shared.inner.count_tokens(text)
    }
    fn token_spans(&self, text: &str) -> Option<Vec<std::ops::Range<usize>>> {
        self.shared.inner.token_spans(text)
    }
    async fn embed(&self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
        let [text] = texts else {
            return self.shared.inner.embed(texts, kind).await;
        };
        if kind != EmbedKind::Query {
            return self.shared.inner.embed(texts, kind).await;
        }
        let inline = {
            let mut q = self.shared.queue.lock().map_err(|_| lock_err())?;
            let free = q.busy < self.shared.lanes && q.waiting.is_empty();
            if free {
                q.busy += 1;
            }
            free
        };
        if inline {
            // Nothing to batch with: embed right here, without handing the
            // query to another task and back.
            let _lane = InlineLane {
                shared: self.shared.clone(),
            };
            metrics::histogram!("memory_query_batch_size").record(1.0);
            return self.shared.inner.embed(texts, kind).await;
        }
        let (tx, rx) = oneshot::channel();
        let start_lane = {
            let mut q = self.shared.queue.lock().map_err(|_| lock_err())?;
            q.waiting.push((text.clone(), tx));
            let free = q.busy < self.shared.lanes;
            if free {
                q.busy += 1;
            }
            free
        };
        // The lane runs on its own task, so a caller that goes away (a
        // closed connection) never strands the others in its batch.
        if start_lane {
            tokio::spawn(self.shared.clone().drain());
        }
        let v = rx
            .await
            .map_err(|_| Error::internal("query embedding was abandoned"))??;
        Ok(vec![v])
    }
}

/// The lane a query embedded in its caller's task holds. When the call
/// ends — answered, failed, cancelled or unwinding from a panic — the lane
/// goes to a task that embeds what queued meanwhile, or is freed.
struct InlineLane {
    shared: Arc<Shared>,
}

impl Drop for InlineLane {
    fn drop(&mut self) {
        let Ok(mut q) = self.shared.queue.lock() else {
            return;
        };
        if q.waiting.is_empty() {
            q.busy -= 1;
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                drop(q);
                runtime.spawn(self.shared.clone().drain());
            }
            // No runtime to serve them on.
            Err(_) => q.free_lane(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Embeds a text as its length, slowly, counting calls and texts.
    #[derive(Debug, Default)]
    struct Slow {
        calls: AtomicUsize,
        largest: AtomicUsize,
    }

    #[async_trait]
    impl Embedder for Slow {
        fn model_id(&self) -> &str {
            "slow"
        }
        fn dimension(&self) -> usize {
            1
        }
        fn max_batch(&self) -> usize {
            64
        }
        #[allow(clippy::cast_precision_loss)]
        async fn embed(&self, texts: &[String], _kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.largest.fetch_max(texts.len(), Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_queries_share_calls_and_each_gets_its_own_vector() {
        let slow = Arc::new(Slow::default());
        let b = Arc::new(BatchingEmbedder::new(slow.clone(), 1));
        let tasks: Vec<_> = (1..=20)
            .map(|n| {
                let b = b.clone();
                tokio::spawn(async move {
                    let v = b.embed(&["x".repeat(n)], EmbedKind::Query).await.unwrap();
                    (n, v)
                })
            })
            .collect();
        for t in tasks {
            let (n, v) = t.await.unwrap();
            #[allow(clippy::cast_precision_loss)]
            let want = n as f32;
            assert_eq!(v, vec![vec![want]]);
        }
        let calls = slow.calls.load(Ordering::SeqCst);
        assert!(calls < 20, "{calls} calls for 20 concurrent queries");
        assert!(slow.largest.load(Ordering::SeqCst) > 1);
        // Documents and multi-text calls pass straight through.
        let docs = b
            .embed(&["ab".into(), "c".into()], EmbedKind::Document)
            .await
            .unwrap();
        assert_eq!(docs, vec![vec![2.0], vec![1.0]]);
    }

    /// Panics on the text "boom"; embeds others as their length.
    #[derive(Debug)]
    struct Fragile;

    #[async_trait]
    impl Embedder for Fragile {
        fn model_id(&self) -> &str {
            "fragile"
        }
        fn dimension(&self) -> usize {
            1
        }
        fn max_batch(&self) -> usize {
            64
        }
        #[allow(clippy::panic, clippy::cast_precision_loss)]
        async fn embed(&self, texts: &[String], _kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            assert!(texts.iter().all(|t| t != "boom"), "the model crashed");
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crashing_model_fails_its_batch_and_frees_the_lane() {
        let b = Arc::new(BatchingEmbedder::new(Arc::new(Fragile), 1));
        let tasks: Vec<_> = ["boom", "a", "bb", "ccc"]
            .into_iter()
            .map(|t| {
                let b = b.clone();
                tokio::spawn(async move { b.embed(&[t.to_owned()], EmbedKind::Query).await })
            })
            .collect();
        let mut failed = 0;
        for t in tasks {
            // A query embedded in its own task panics with the model.
            let out = tokio::time::timeout(std::time::Duration::from_secs(5), t)
                .await
                .unwrap();
            failed += usize::from(!matches!(out, Ok(Ok(_))));
        }
        assert!(failed >= 1, "the crashed batch did not fail");
        // The lane is free again: a later query is served.
        let v = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            b.embed(&["dddd".to_owned()], EmbedKind::Query),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(v, vec![vec![4.0]]);
    }

    /// Remembers the task each call ran on.
    #[derive(Debug, Default)]
    struct Where(Mutex<Vec<Option<tokio::task::Id>>>);

    #[async_trait]
    impl Embedder for Where {
        fn model_id(&self) -> &str {
            "where"
        }
        fn dimension(&self) -> usize {
            1
        }
        fn max_batch(&self) -> usize {
            64
        }
        async fn embed(&self, texts: &[String], _kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
            self.0.lock().unwrap().push(tokio::task::try_id());
            Ok(texts.iter().map(|_| vec![0.0]).collect())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lone_query_is_embedded_in_its_callers_task() {
        let seen = Arc::new(Where::default());
        let b = Arc::new(BatchingEmbedder::new(seen.clone(), 2));
        let caller = tokio::spawn({
            let b = b.clone();
            async move {
                b.embed(&["x".into()], EmbedKind::Query).await.unwrap();
                tokio::task::id()
            }
        })
        .await
        .unwrap();
        assert_eq!(*seen.0.lock().unwrap(), vec![Some(caller)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queries_queued_behind_a_cancelled_caller_are_served() {
        let slow = Arc::new(Slow::default());
        let b = Arc::new(BatchingEmbedder::new(slow.clone(), 1));
        let first = tokio::spawn({
            let b = b.clone();
            async move { b.embed(&["a".into()], EmbedKind::Query).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let queued: Vec<_> = ["bb", "ccc"]
            .into_iter()
            .map(|t| {
                let b = b.clone();
                tokio::spawn(async move { b.embed(&[t.to_owned()], EmbedKind::Query).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        first.abort();
        for (t, want) in queued.into_iter().zip([2.0, 3.0]) {
            let v = tokio::time::timeout(std::time::Duration::from_secs(5), t)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(v, vec![vec![want]]);
        }
    }
}
