//! An HNSW graph (usearch) over a large partition's vectors, keyed by the
//! partition's slots. It stores the vectors in half precision to halve its
//! memory; the candidates it returns are rescored exactly from the
//! partition's own f32 copy, so scores never carry its rounding.

use memory_core::{Error, Metric, Result};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

/// Neighbours kept per node (usearch's default is 16).
const CONNECTIVITY: usize = 16;
/// Candidate list while inserting.
const EXPANSION_ADD: usize = 128;
/// Candidate list while searching (at least the number asked for).
const EXPANSION_SEARCH: usize = 160;

/// The graph of one partition.
pub(super) struct Graph {
    index: Index,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("size", &self.index.size())
            .finish()
    }
}

fn graph_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("vector graph: {e}")).with_backend("sqlite")
}

fn key(slot: usize) -> u64 {
    slot as u64
}

impl Graph {
    /// Builds the graph of `data` (rows of `dimension` floats, normalised
    /// already when the metric is cosine).
    fn empty(dimension: usize, metric: Metric) -> Result<Index> {
        Index::new(&IndexOptions {
            dimensions: dimension,
            metric: match metric {
                Metric::Cosine | Metric::Dot => MetricKind::IP,
                Metric::L2 => MetricKind::L2sq,
            },
            quantization: ScalarKind::F16,
            connectivity: CONNECTIVITY,
            expansion_add: EXPANSION_ADD,
            expansion_search: EXPANSION_SEARCH,
            multi: false,
        })
        .map_err(graph_err)
    }

    pub(super) fn build(data: &[f32], dimension: usize, metric: Metric) -> Result<Self> {
        let index = Self::empty(dimension, metric)?;
        let rows = data.len() / dimension.max(1);
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(rows.div_ceil(256).max(1));
        // Reserving also sizes usearch's per-thread contexts: one per core.
        index.reserve(rows.max(64)).map_err(graph_err)?;
        let graph = Self { index };
        // usearch inserts from several threads at once into a reserved
        // index; slots are striped so each thread's share spreads over the
        // whole partition.
        std::thread::scope(|scope| {
            let graph = &graph;
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        data.chunks_exact(dimension)
                            .enumerate()
                            .skip(t)
                            .step_by(threads)
                            .try_for_each(|(slot, row)| graph.index.add(key(slot), row))
                            .map_err(graph_err)
                    })
                })
                .collect();
            workers
                .into_iter()
                .try_for_each(|w| w.join().map_err(|_| graph_err("a build thread panicked"))?)
        })?;
        Ok(graph)
    }

    fn add(&self, slot: usize, vector: &[f32]) -> Result<()> {
        if self.index.size() + 1 > self.index.capacity() {
            let grown = (self.index.capacity() * 2).max(64);
            self.index.reserve(grown).map_err(graph_err)?;
        }
        self.index.add(key(slot), vector).map_err(graph_err)
    }

    /// About how much memory it holds: each node's half-precision vector,
    /// its links on the base layer and the bookkeeping around them.
    pub(super) fn bytes(&self, dimension: usize) -> usize {
        self.index.capacity() * (dimension * 2 + CONNECTIVITY * 2 * 4 + 48)
    }

    /// How many slots it holds.
    pub(super) fn size(&self) -> usize {
        self.index.size()
    }

    /// The graph as bytes, for `saved.rs`.
    pub(super) fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = vec![0; self.index.serialized_length()];
        self.index.save_to_buffer(&mut out).map_err(graph_err)?;
        Ok(out)
    }

    /// A graph from `to_bytes`, checked to have `dimension`.
    pub(super) fn from_bytes(bytes: &[u8], dimension: usize, metric: Metric) -> Result<Self> {
        let index = Self::empty(dimension, metric)?;
        index.load_from_buffer(bytes).map_err(graph_err)?;
        if index.dimensions() != dimension {
            return Err(graph_err(format!(
                "saved with {} dimensions, expected {dimension}",
                index.dimensions()
            )));
        }
        // Reserving again sizes its per-thread contexts and leaves room
        // for the writes that follow.
        let size = index.size();
        index
            .reserve(size + (size / 8).max(64))
            .map_err(graph_err)?;
        Ok(Self { index })
    }

    /// Puts `vector` at `slot`, replacing what was there.
    pub(super) fn set(&self, slot: usize, vector: &[f32]) -> Result<()> {
        self.remove(slot)?;
        self.add(slot, vector)
    }

    /// Empties `slot`.
    pub(super) fn remove(&self, slot: usize) -> Result<()> {
        if self.index.contains(key(slot)) {
            self.index.remove(key(slot)).map_err(graph_err)?;
        }
        Ok(())
    }

    /// Up to `n` slots near `query` that pass `keep`, nearest first.
    pub(super) fn search(
        &self,
        query: &[f32],
        n: usize,
        keep: Option<&dyn Fn(usize) -> bool>,
    ) -> Result<Vec<usize>> {
        // usearch widens its candidate list to `n` when `n` is larger.
        let found = match keep {
            None => self.index.search(query, n),
            Some(keep) => self
                .index
                .filtered_search(query, n, |k| usize::try_from(k).is_ok_and(keep)),
        };
        Ok(found
            .map_err(graph_err)?
            .keys
            .into_iter()
            .filter_map(|k| usize::try_from(k).ok())
            .collect())
    }
}
