//! One partition's vectors in memory, searched by an exact top-k scan or,
//! once large, on an HNSW graph; and the part of a filter a partition
//! leaves to check.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use memory_core::filter::{Field, Filter};
use memory_core::{Metric, Op, ScoredId, VectorPayload, vecmath};
use uuid::Uuid;

use super::graph::Graph;
use super::saved::{GraphFile, row_sum};
use crate::topk::TopK;

/// Below this share of a partition passing the filter, a graph search would
/// wander through mostly rejected nodes: the exact scan is cheaper.
const GRAPH_MIN_PASS_RATE: f32 = 0.05;

pub(super) type PartKey = (String, String, String);

#[derive(Debug, Default)]
pub(super) struct Partition {
    pub(super) epoch: i64,
    pub(super) dimension: usize,
    /// The collection's metric when the partition was loaded.
    pub(super) metric: Metric,
    pub(super) ids: Vec<Uuid>,
    pub(super) payloads: Vec<VectorPayload>,
    pub(super) data: Vec<f32>,
    pub(super) slots: HashMap<Uuid, usize>,
    /// The graph over `data`, once built.
    pub(super) graph: Option<Arc<Graph>>,
    /// While a graph is being built: the slots changed since its snapshot.
    building: Option<HashSet<usize>>,
    /// Where its graph is saved once built (none for an in-memory database).
    pub(super) file: Option<GraphFile>,
}

impl crate::bounded::Weighed for Partition {
    /// Its vectors, ids, payloads and slot map (the strings in a payload
    /// counted at a typical size), and its graph.
    fn bytes(&self) -> usize {
        /// An id, its slot entry and a payload with its strings.
        const PER_ROW: usize = 16 + 40 + std::mem::size_of::<VectorPayload>() + 96;
        self.data.capacity() * std::mem::size_of::<f32>()
            + self.ids.capacity() * PER_ROW
            + self.graph.as_ref().map_or(0, |g| g.bytes(self.dimension))
    }
}

impl Partition {
    pub(super) fn new(epoch: i64, dimension: usize, metric: Metric) -> Self {
        Self {
            epoch,
            dimension,
            metric,
            ..Self::default()
        }
    }

    /// Whether it is searched on a graph.
    pub(super) fn has_graph(&self) -> bool {
        self.graph.is_some()
    }

    pub(super) fn upsert(&mut self, id: Uuid, vector: &[f32], payload: VectorPayload) {
        let slot = match self.slots.get(&id) {
            Some(&i) => {
                self.data[i * self.dimension..(i + 1) * self.dimension].copy_from_slice(vector);
                self.payloads[i] = payload;
                i
            }
            None => {
                // Doubling would leave a freshly loaded partition (read in
                // at its exact size) with as much again reserved after one
                // add: 150 MB over 100k memories. An eighth keeps appends
                // amortised constant.
                if self.data.len() + vector.len() > self.data.capacity() {
                    let more = (self.ids.len() / 8).max(64);
                    self.data.reserve_exact(more * self.dimension.max(1));
                    self.ids.reserve_exact(more);
                    self.payloads.reserve_exact(more);
                }
                self.slots.insert(id, self.ids.len());
                self.ids.push(id);
                self.payloads.push(payload);
                self.data.extend_from_slice(vector);
                self.ids.len() - 1
            }
        };
        self.touched(slot);
    }

    pub(super) fn remove(&mut self, id: &Uuid) {
        let Some(i) = self.slots.remove(id) else {
            return;
        };
        let last = self.ids.len() - 1;
        if i != last {
            let moved = self.ids[last];
            self.ids.swap(i, last);
            self.payloads.swap(i, last);
            let d = self.dimension;
            self.data.copy_within(last * d..(last + 1) * d, i * d);
            self.slots.insert(moved, i);
        }
        self.ids.pop();
        self.payloads.pop();
        self.data.truncate(last * self.dimension);
        self.touched(i);
        self.touched(last);
    }

    /// Mirrors a changed slot in the graph, or notes it for the graph
    /// being built. A graph that fails to follow is dropped (searches scan
    /// exactly) and built again.
    pub(super) fn touched(&mut self, slot: usize) {
        if let Some(dirty) = &mut self.building {
            dirty.insert(slot);
        }
        if let Some(graph) = &self.graph
            && let Err(e) = self.refresh(graph, slot)
        {
            tracing::warn!(error = %e, "vector graph dropped; scanning exactly until rebuilt");
            self.graph = None;
        }
    }

    fn refresh(&self, graph: &Graph, slot: usize) -> memory_core::Result<()> {
        let d = self.dimension;
        match self.data.get(slot * d..(slot + 1) * d) {
            Some(row) => graph.set(slot, row),
            None => graph.remove(slot),
        }
    }

    /// Builds this partition's graph in the background when it has grown
    /// (or was loaded) to `threshold` vectors; searches scan exactly until
    /// it is ready, which costs them milliseconds where waiting for the
    /// build would cost seconds.
    pub(super) fn build_graph_if_due(this: &Arc<RwLock<Self>>, threshold: usize, metric: Metric) {
        let due = |part: &Self| {
            threshold > 0
                && part.ids.len() >= threshold
                && part.graph.is_none()
                && part.building.is_none()
        };
        // Most queries find nothing due: a read lock tells without
        // blocking other searches.
        if !this.read().is_ok_and(|part| due(&part)) {
            return;
        }
        let snapshot = {
            let Ok(mut part) = this.write() else { return };
            if !due(&part) {
                return;
            }
            part.building = Some(HashSet::new());
            (part.data.clone(), part.dimension)
        };
        let this = this.clone();
        tokio::task::spawn_blocking(move || {
            let built = Graph::build(&snapshot.0, snapshot.1, metric);
            if let Ok(mut part) = this.write() {
                part.install(built);
            }
            if let Err(e) = Self::save_graph(&this) {
                tracing::warn!(error = %e, "could not save a vector graph; it is built again on the next load");
            }
        });
    }

    /// Saves the partition's graph with its layout, when it has a graph
    /// and a file. Writes wait meanwhile (the layout must be the graph's);
    /// searches go on.
    fn save_graph(this: &Arc<RwLock<Self>>) -> memory_core::Result<()> {
        let Ok(part) = this.read() else {
            return Ok(());
        };
        let (Some(file), Some(graph)) = (part.file.clone(), part.graph.clone()) else {
            return Ok(());
        };
        // Its last vector was deleted during the build, and its file with it.
        if part.ids.is_empty() {
            return Ok(());
        }
        let sums: Vec<u64> = part
            .data
            .chunks_exact(part.dimension.max(1))
            .map(row_sum)
            .collect();
        let (dimension, metric, ids) = (part.dimension, part.metric, part.ids.clone());
        let bytes = graph.to_bytes()?;
        drop(part);
        file.save(dimension, metric, &ids, &sums, &bytes)?;
        // A delete of the last vector that emptied the partition while the
        // file was written removed the file before this put it back, and
        // it would keep copies of deleted vectors: it goes again.
        if this.read().is_ok_and(|part| part.ids.is_empty()) {
            file.remove();
        }
        Ok(())
    }

    /// Takes a graph built from a snapshot, after bringing the slots
    /// changed since into it.
    fn install(&mut self, built: memory_core::Result<Graph>) {
        let Some(dirty) = self.building.take() else {
            return;
        };
        let graph = built.and_then(|graph| {
            dirty
                .into_iter()
                .try_for_each(|slot| self.refresh(&graph, slot))
                .map(|()| graph)
        });
        match graph {
            Ok(graph) => self.graph = Some(Arc::new(graph)),
            Err(e) => tracing::warn!(error = %e, "vector graph build failed; scanning exactly"),
        }
    }

    fn score(&self, metric: Metric, query: &[f32], slot: usize) -> f32 {
        let row = &self.data[slot * self.dimension..(slot + 1) * self.dimension];
        match metric {
            Metric::Cosine | Metric::Dot => vecmath::dot(query, row),
            Metric::L2 => vecmath::neg_l2(query, row),
        }
    }

    /// The `k` best vectors passing `filter`, best first: on the graph when
    /// there is one and the filter lets enough through, else exactly.
    pub(super) fn top(
        &self,
        metric: Metric,
        query: &[f32],
        k: usize,
        filter: Option<&Filter>,
    ) -> Vec<ScoredId> {
        if let Some(graph) = &self.graph
            && filter.is_none_or(|f| self.pass_rate(f) >= GRAPH_MIN_PASS_RATE)
        {
            let keep = |slot: usize| {
                self.payloads
                    .get(slot)
                    .is_some_and(|p| filter.is_none_or(|f| f.matches(p)))
            };
            // More candidates than k from the graph, rescored exactly:
            // its half-precision distances misorder close neighbours.
            match graph.search(query, k * 3 + 30, Some(&keep)) {
                Ok(slots) if slots.len() >= k.min(self.ids.len()) => {
                    let mut hits: Vec<ScoredId> = slots
                        .into_iter()
                        .filter(|&s| s < self.ids.len())
                        .map(|s| ScoredId {
                            id: self.ids[s],
                            score: self.score(metric, query, s),
                        })
                        .collect();
                    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
                    hits.truncate(k);
                    return hits;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "vector graph search failed; scanning exactly")
                }
            }
        }
        self.scan(metric, query, k, filter)
    }

    /// The share of an even sample of the partition that passes `filter`.
    fn pass_rate(&self, filter: &Filter) -> f32 {
        let step = (self.payloads.len() / 256).max(1);
        let sample = self.payloads.iter().step_by(step);
        let (mut seen, mut passed) = (0_u32, 0_u32);
        for p in sample {
            seen += 1;
            passed += u32::from(filter.matches(p));
        }
        #[allow(clippy::cast_precision_loss)]
        let rate = passed as f32 / seen.max(1) as f32;
        rate
    }

    /// The exact top `k`: every vector scored.
    fn scan(
        &self,
        metric: Metric,
        query: &[f32],
        k: usize,
        filter: Option<&Filter>,
    ) -> Vec<ScoredId> {
        let mut top = TopK::new(k);
        for i in 0..self.ids.len() {
            let score = self.score(metric, query, i);
            if top.would_keep(score) && filter.is_none_or(|f| f.matches(&self.payloads[i])) {
                top.push(score, i);
            }
        }
        top.into_hits()
            .map(|(score, i)| ScoredId {
                id: self.ids[i],
                score,
            })
            .collect()
    }
}

/// The partition a payload belongs to.
pub(super) fn part_of(p: &VectorPayload) -> String {
    part_of_user(p.user_id.as_deref())
}

/// The partition holding `user`'s vectors (`-` for vectors of no user).
pub(super) fn part_of_user(user: Option<&str>) -> String {
    match user {
        Some(u) => format!("u:{u}"),
        None => "-".to_owned(),
    }
}

/// The filter left to evaluate once the partition already pins the user.
pub(super) fn residual(filter: &Filter, pinned: bool) -> Option<Filter> {
    let is_pin = |f: &Filter| matches!(f, Filter::Cond(c) if pinned && c.field == Field::UserId && c.op == Op::Eq);
    match filter {
        Filter::And(v) => {
            let rest: Vec<Filter> = v.iter().filter(|f| !is_pin(f)).cloned().collect();
            (!rest.is_empty()).then_some(Filter::And(rest))
        }
        f if is_pin(f) => None,
        f => Some(f.clone()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const DIM: usize = 16;

    fn vector(seed: u64) -> Vec<f32> {
        // A small deterministic generator: no test depends on rand here.
        let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut v: Vec<f32> = (0..DIM)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                #[allow(clippy::cast_precision_loss)]
                let r = (x >> 40) as f32 / (1u64 << 24) as f32;
                r - 0.5
            })
            .collect();
        vecmath::normalize(&mut v);
        v
    }

    fn payload(kind: &str) -> VectorPayload {
        memory_testkit::vector::payload("t", "u", kind)
    }

    fn id(i: u64) -> Uuid {
        Uuid::from_u128(u128::from(i) + 1)
    }

    /// The share of the exact top 10 the graph path finds, over queries.
    fn recall(part: &Partition, filter: Option<&Filter>) -> f32 {
        let (mut found, mut wanted) = (0, 0);
        for q in 0..40 {
            let query = vector(10_000 + q);
            let exact: HashSet<Uuid> = part
                .scan(Metric::Cosine, &query, 10, filter)
                .iter()
                .map(|h| h.id)
                .collect();
            let got = part.top(Metric::Cosine, &query, 10, filter);
            assert!(got.windows(2).all(|w| w[0].score >= w[1].score));
            found += got.iter().filter(|h| exact.contains(&h.id)).count();
            wanted += exact.len();
        }
        #[allow(clippy::cast_precision_loss)]
        let r = found as f32 / wanted as f32;
        r
    }

    #[test]
    fn the_graph_follows_writes_made_during_and_after_its_build() {
        let mut part = Partition::new(1, DIM, Metric::Cosine);
        for i in 0..600 {
            part.upsert(
                id(i),
                &vector(i),
                payload(if i % 3 == 0 { "fact" } else { "event" }),
            );
        }
        // Built from a snapshot while writes continue.
        part.building = Some(HashSet::new());
        let built = Graph::build(&part.data.clone(), DIM, Metric::Cosine);
        for i in 0..100 {
            part.upsert(id(i), &vector(i + 5_000), payload("fact"));
        }
        for i in 100..150 {
            part.remove(&id(i));
        }
        part.install(built);
        assert!(part.graph.is_some());
        // And after it.
        for i in 600..700 {
            part.upsert(id(i), &vector(i), payload("event"));
        }
        for i in 150..200 {
            part.remove(&id(i));
        }
        let graph = part.graph.clone().unwrap();
        assert_eq!(
            graph.size(),
            part.ids.len(),
            "graph and partition disagree on size"
        );
        // A graph built by several threads at once may leave a node or two
        // unreachable (recall below is what matters), never many.
        let every: Vec<usize> = graph.search(&vector(1), part.ids.len() + 50, None).unwrap();
        assert!(every.len() * 100 >= part.ids.len() * 98, "{}", every.len());
        let r = recall(&part, None);
        assert!(r >= 0.95, "recall {r}");
        let facts = Filter::parse(&serde_json::json!({"kind": "fact"})).unwrap();
        let r = recall(&part, Some(&facts));
        assert!(r >= 0.95, "filtered recall {r}");
        // A removed vector is never returned.
        let gone = part.top(Metric::Cosine, &vector(120), 10, None);
        assert!(gone.iter().all(|h| h.id != id(120)));
    }

    #[test]
    fn a_graph_whose_vectors_all_went_during_its_build_is_not_saved() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("g.db");
        let files = super::super::saved::GraphFiles::beside(db.to_str()).unwrap();
        let file = files.file(&("c".into(), "t".into(), "u".into()));
        let mut part = Partition::new(1, DIM, Metric::Cosine);
        part.file = Some(file.clone());
        for i in 0..600 {
            part.upsert(id(i), &vector(i), payload("fact"));
        }
        part.building = Some(HashSet::new());
        let built = Graph::build(&part.data.clone(), DIM, Metric::Cosine);
        for i in 0..600 {
            part.remove(&id(i));
        }
        part.install(built);
        let part = Arc::new(RwLock::new(part));
        Partition::save_graph(&part).unwrap();
        assert!(
            !file.path().exists(),
            "an emptied partition saved its graph"
        );
        part.write()
            .unwrap()
            .upsert(id(1), &vector(1), payload("fact"));
        Partition::save_graph(&part).unwrap();
        assert!(
            file.path().exists(),
            "a partition with a vector did not save"
        );
    }
}
