//! The `k` best of a stream of scored slots, as the exact vector scan and
//! the keyword index rank them: a bounded heap whose top is the worst kept.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(PartialEq)]
struct Hit(f32, usize);
impl Eq for Hit {}
impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Hit {
    // Reversed, so the heap's top is the worst kept hit.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .total_cmp(&self.0)
            .then_with(|| self.1.cmp(&other.1))
    }
}

/// The best `k` (score, slot) pairs pushed so far.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Hit>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Whether a hit of this score would be kept (checked before the
    /// costlier test of whether it passes the filter).
    pub(crate) fn would_keep(&self, score: f32) -> bool {
        self.k > 0 && (self.heap.len() < self.k || self.heap.peek().is_some_and(|w| score > w.0))
    }

    pub(crate) fn push(&mut self, score: f32, slot: usize) {
        self.heap.push(Hit(score, slot));
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }

    /// The kept hits, in no particular order.
    pub(crate) fn into_hits(self) -> impl Iterator<Item = (f32, usize)> {
        self.heap.into_iter().map(|Hit(s, i)| (s, i))
    }
}
