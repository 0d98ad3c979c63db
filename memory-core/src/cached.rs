//! A bounded cache in front of any [`Embedder`]: queries repeat.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::{EmbedKind, Embedder, Error, Result};

/// Wraps an embedder and remembers the vectors of recent texts.
///
/// Eviction is by insertion generation: when full, the older half is
/// dropped, which keeps lookups O(1) without a linked list.
#[derive(Debug)]
pub struct CachedEmbedder {
    inner: Arc<dyn Embedder>,
    capacity: usize,
    cache: Mutex<Cache>,
}

/// The generation an entry was stored in, and its vector.
type Entry = (u64, Arc<Vec<f32>>);

#[derive(Debug, Default)]
struct Cache {
    /// By text, one map per kind (queries, documents), so a lookup
    /// borrows the text.
    maps: [HashMap<String, Entry>; 2],
    generation: u64,
    hits: u64,
    misses: u64,
}

impl Cache {
    /// Entries of both kinds.
    fn len(&self) -> usize {
        self.maps.iter().map(HashMap::len).sum()
    }
}

impl CachedEmbedder {
    /// Caches up to `capacity` texts in front of `inner`.
    pub fn new(inner: Arc<dyn Embedder>, capacity: usize) -> Self {
        Self {
            inner,
            capacity: capacity.max(1),
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Cache hits and misses so far.
    pub fn hit_miss(&self) -> (u64, u64) {
        self.cache
            .lock()
            .map(|c| (c.hits, c.misses))
            .unwrap_or((0, 0))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Cache>> {
        self.cache
            .lock()
            .map_err(|_| Error::internal("embedding cache lock poisoned"))
    }
}

#[async_trait]
impl Embedder for CachedEmbedder {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn prompt_scheme(&self) -> &str {
        self.inner.prompt_scheme()
    }

    fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    fn max_batch(&self) -> usize {
        self.inner.max_batch()
    }

    fn max_tokens(&self) -> Option<usize> {
        self.inner.max_tokens()
    }

    fn count_tokens(&self, text: &str) -> Option<usize> {
        self.inner.count_tokens(text)
    }

    fn token_spans(&self, text: &str) -> Option<Vec<std::ops::Range<usize>>> {
        self.inner.token_spans(text)
    }

    async fn embed(&self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
        let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        let slot = usize::from(kind == EmbedKind::Document);
        let mut missing = Vec::new();
        {
            let mut c = self.lock()?;
            for (i, t) in texts.iter().enumerate() {
                match c.maps[slot].get(t) {
                    Some((_, v)) => out[i] = Some(v.as_ref().clone()),
                    None => missing.push(i),
                }
            }
            c.hits += (texts.len() - missing.len()) as u64;
            c.misses += missing.len() as u64;
        }
        if !missing.is_empty() {
            let todo: Vec<String> = missing.iter().map(|&i| texts[i].clone()).collect();
            let fresh = self.inner.embed(&todo, kind).await?;
            let mut c = self.lock()?;
            if c.len() + fresh.len() > self.capacity {
                let cut = c.generation.saturating_sub(self.capacity as u64 / 2);
                c.maps
                    .iter_mut()
                    .for_each(|m| m.retain(|_, (g, _)| *g >= cut));
                if c.len() + fresh.len() > self.capacity {
                    c.maps.iter_mut().for_each(HashMap::clear);
                }
            }
            for (&i, v) in missing.iter().zip(fresh) {
                c.generation += 1;
                let g = c.generation;
                c.maps[slot].insert(texts[i].clone(), (g, Arc::new(v.clone())));
                out[i] = Some(v);
            }
        }
        out.into_iter()
            .map(|v| v.ok_or_else(|| Error::internal("embedder returned too few vectors")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Vectors that tell the kind apart, and a count of texts embedded.
    #[derive(Debug, Default)]
    struct Counting(std::sync::atomic::AtomicUsize);

    #[async_trait]
    impl Embedder for Counting {
        fn model_id(&self) -> &str {
            "test:counting"
        }
        fn dimension(&self) -> usize {
            1
        }
        fn max_batch(&self) -> usize {
            8
        }
        async fn embed(&self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
            self.0
                .fetch_add(texts.len(), std::sync::atomic::Ordering::SeqCst);
            let v = if kind == EmbedKind::Query { 1.0 } else { 2.0 };
            Ok(texts.iter().map(|_| vec![v]).collect())
        }
    }

    #[tokio::test]
    async fn queries_and_documents_are_cached_apart() {
        let inner = Arc::new(Counting::default());
        let c = CachedEmbedder::new(inner.clone(), 4);
        let t = vec!["same text".to_owned()];
        assert_eq!(
            c.embed(&t, EmbedKind::Query).await.unwrap(),
            vec![vec![1.0]]
        );
        assert_eq!(
            c.embed(&t, EmbedKind::Document).await.unwrap(),
            vec![vec![2.0]]
        );
        assert_eq!(
            c.embed(&t, EmbedKind::Query).await.unwrap(),
            vec![vec![1.0]]
        );
        assert_eq!(inner.0.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(c.hit_miss(), (1, 2));
        // Past capacity the older half goes; answers stay right.
        let many: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
        let out = c.embed(&many, EmbedKind::Document).await.unwrap();
        assert!(out.iter().all(|v| v == &vec![2.0]));
        assert!(c.lock().unwrap().len() <= 6);
    }
}
