//! The loaded partitions of one process (vector or keyword), held within a
//! byte budget: when a load, a write or a graph takes the caches past it,
//! the partitions searched least recently are dropped (they load again on
//! their next search), so a server that sees many users over its life does
//! not keep every one of them. The caches of one database handle (its
//! vector indexes and its store's keyword indexes) share one budget; each
//! drops its own partitions when they are over it together.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use memory_core::{Error, Result};

/// A partition that can tell about how much memory it holds.
pub(crate) trait Weighed {
    /// About how many bytes it holds.
    fn bytes(&self) -> usize;
}

fn lock_err() -> Error {
    Error::internal("partition cache lock poisoned").with_backend("sqlite")
}

/// A cached partition, when it was last used, and its size when last measured.
#[derive(Debug)]
struct Cached<V> {
    part: Arc<RwLock<V>>,
    used: u64,
    bytes: usize,
}

#[derive(Debug)]
struct Inner<K, V> {
    parts: HashMap<K, Cached<V>>,
    /// Counts uses, to order them.
    clock: u64,
    /// The sum of the entries' `bytes`.
    bytes: usize,
}

/// The bytes the caches sharing it may hold, and hold now.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    used: AtomicUsize,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    fn over(&self) -> bool {
        self.used.load(Ordering::Relaxed) > self.limit
    }

    /// Notes that a cache's partitions went from `was` to `now` bytes.
    fn change(&self, was: usize, now: usize) {
        // Most searches find their partition's size unchanged.
        if was == now {
            return;
        }
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(was).saturating_add(now))
            });
    }
}

/// Loaded partitions by key, least recently used dropped past the budget.
#[derive(Debug)]
pub(crate) struct Bounded<K, V> {
    budget: Arc<Budget>,
    inner: Mutex<Inner<K, V>>,
}

impl<K, V> Drop for Bounded<K, V> {
    fn drop(&mut self) {
        if let Ok(inner) = self.inner.get_mut() {
            self.budget.change(inner.bytes, 0);
        }
    }
}

impl<K, V> Inner<K, V> {
    /// Notes that one entry went from `was` to `now` bytes, here and in
    /// the shared budget.
    fn resize(&mut self, budget: &Budget, was: usize, now: usize) {
        self.bytes = self.bytes.saturating_sub(was).saturating_add(now);
        budget.change(was, now);
    }
}

impl<K: Eq + Hash + Clone + Ord, V: Weighed> Bounded<K, V> {
    pub(crate) fn new(budget: Arc<Budget>) -> Self {
        Self {
            budget,
            inner: Mutex::new(Inner {
                parts: HashMap::new(),
                clock: 0,
                bytes: 0,
            }),
        }
    }

    /// The cached partition under `key`, marked as used now and measured
    /// again (a graph is built, and a keyword partition catches up, after
    /// it is cached).
    pub(crate) fn get<Q>(&self, key: &Q) -> Result<Option<Arc<RwLock<V>>>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = self.inner.lock().map_err(|_| lock_err())?;
        inner.clock += 1;
        let now = inner.clock;
        let Some(c) = inner.parts.get_mut(key) else {
            return Ok(None);
        };
        c.used = now;
        let part = c.part.clone();
        let was = c.bytes;
        // A partition being written is measured at its next use instead.
        if let Ok(p) = part.try_read() {
            c.bytes = p.bytes();
        }
        let measured = c.bytes;
        inner.resize(&self.budget, was, measured);
        self.shrink(&mut inner, Some(key));
        Ok(Some(part))
    }

    /// Caches `part` under `key`, then drops the least recently used others
    /// while the cache is over its budget. The partition just loaded stays
    /// even when it alone is larger: its search needs it.
    pub(crate) fn insert(&self, key: K, part: Arc<RwLock<V>>) -> Result<()> {
        let bytes = part.read().map_err(|_| lock_err())?.bytes();
        let mut inner = self.inner.lock().map_err(|_| lock_err())?;
        inner.clock += 1;
        let used = inner.clock;
        let was = inner
            .parts
            .insert(key.clone(), Cached { part, used, bytes })
            .map_or(0, |old| old.bytes);
        inner.resize(&self.budget, was, bytes);
        self.shrink(&mut inner, Some(&key));
        Ok(())
    }

    /// Runs `apply` on each of these partitions that is cached (with its
    /// item), under the cache's lock so no load replaces it meanwhile;
    /// drops the ones `apply` answers false for.
    pub(crate) fn patch<T>(
        &self,
        items: &[(K, T)],
        apply: impl Fn(&K, &T, &mut V) -> bool,
    ) -> Result<()> {
        let mut inner = self.inner.lock().map_err(|_| lock_err())?;
        for (key, item) in items {
            let Some(c) = inner.parts.get_mut(key) else {
                continue;
            };
            let mut part = c.part.write().map_err(|_| lock_err())?;
            let keep = apply(key, item, &mut part);
            let (was, now) = (c.bytes, part.bytes());
            drop(part);
            if keep {
                c.bytes = now;
                inner.resize(&self.budget, was, now);
            } else if let Some(c) = inner.parts.remove(key) {
                inner.resize(&self.budget, c.bytes, 0);
            }
        }
        self.shrink::<K>(&mut inner, None);
        Ok(())
    }

    /// Drops every partition whose key fails `keep`.
    pub(crate) fn retain(&self, keep: impl Fn(&K) -> bool) -> Result<()> {
        let mut inner = self.inner.lock().map_err(|_| lock_err())?;
        let gone: usize = inner
            .parts
            .iter()
            .filter(|(k, _)| !keep(k))
            .map(|(_, c)| c.bytes)
            .sum();
        inner.parts.retain(|k, _| keep(k));
        inner.resize(&self.budget, gone, 0);
        Ok(())
    }

    /// How many partitions are cached and their bytes, as last measured.
    pub(crate) fn usage(&self) -> Result<(usize, usize)> {
        let inner = self.inner.lock().map_err(|_| lock_err())?;
        Ok((inner.parts.len(), inner.bytes))
    }

    /// How many cached partitions satisfy `test` (those locked for a
    /// write at the moment are not counted).
    pub(crate) fn count(&self, test: impl Fn(&V) -> bool) -> Result<usize> {
        let inner = self.inner.lock().map_err(|_| lock_err())?;
        Ok(inner
            .parts
            .values()
            .filter(|c| c.part.try_read().is_ok_and(|p| test(&p)))
            .count())
    }

    /// Drops the least recently used partitions but `keep` while the
    /// caches sharing the budget are over it.
    fn shrink<Q>(&self, inner: &mut Inner<K, V>, keep: Option<&Q>)
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if !self.budget.over() {
            return;
        }
        let mut by_age: Vec<(u64, K)> = inner
            .parts
            .iter()
            .filter(|(k, _)| keep != Some((*k).borrow()))
            .map(|(k, c)| (c.used, k.clone()))
            .collect();
        by_age.sort_unstable();
        for (_, old) in by_age {
            if !self.budget.over() {
                break;
            }
            if let Some(c) = inner.parts.remove::<K>(&old) {
                inner.resize(&self.budget, c.bytes, 0);
            }
        }
    }
}
