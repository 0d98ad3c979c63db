//! Graphs saved beside the database file, so a large partition that loads
//! again (a restart, a reload after the cache dropped it) takes its graph
//! from disk in a fraction of a second instead of rebuilding it for tens of
//! seconds.
//!
//! A graph's nodes are the partition's slots, and slots follow the order the
//! partition was built in, so the file also keeps the id at every slot and a
//! checksum of its vector. A partition that loads again is laid out in the
//! saved order, and whatever changed since the save (vectors updated,
//! removed or added, by this process or another) is applied to the graph as
//! the writes themselves would have been. Past a small share of changes a
//! fresh build is cheaper and gives a better graph, so the file is left and
//! the partition builds (and saves) again. A partition's file goes with its
//! last vector, and a collection's files with the collection.
//!
//! Files live in `<database>-graphs/`, one per partition, named by hashes of
//! the collection and of the tenant and user; each is written whole to a
//! temporary file and renamed, so a reader never sees half of one.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use memory_core::naming::parts_digest;
use memory_core::{Error, Metric, Result, VectorPayload};
use uuid::Uuid;

use super::graph::Graph;
use super::partition::{PartKey, Partition};

const MAGIC: &[u8; 8] = b"MEMGRAPH";
const VERSION: u32 = 1;

/// Where one database's graphs are saved.
#[derive(Debug, Clone)]
pub(super) struct GraphFiles {
    dir: Arc<PathBuf>,
}

/// One partition's graph file.
#[derive(Debug, Clone)]
pub(super) struct GraphFile {
    path: PathBuf,
    key: PartKey,
}

/// What a file holds: the partition's layout when its graph was saved.
pub(super) struct Saved {
    /// The id at each slot.
    pub(super) ids: Vec<Uuid>,
    /// Each slot's vector checksum (`row_sum`).
    pub(super) sums: Vec<u64>,
    pub(super) graph: Graph,
}

/// A checksum of one vector, stable across builds and platforms: a change
/// to any of its floats changes it.
pub(super) fn row_sum(row: &[f32]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for x in row {
        h = (h ^ u64::from(x.to_bits()))
            .wrapping_mul(0x0100_0000_01B3)
            .rotate_left(23);
    }
    h
}

fn io_err(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("{what} {}: {e}", path.display())).with_backend("sqlite")
}

impl GraphFiles {
    /// The graphs of the database at `path` (none for an in-memory one).
    pub(super) fn beside(path: Option<&str>) -> Option<Self> {
        path.map(|p| Self {
            dir: Arc::new(PathBuf::from(format!("{p}-graphs"))),
        })
    }

    /// The directory the graphs are saved in.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    fn prefix(collection: &str) -> String {
        format!("{}-", parts_digest(&[collection], 8))
    }

    /// The file of the partition under `key`.
    pub(super) fn file(&self, key: &PartKey) -> GraphFile {
        let name = format!(
            "{}{}.graph",
            Self::prefix(&key.0),
            parts_digest(&[&key.1, &key.2], 8)
        );
        GraphFile {
            path: self.dir.join(name),
            key: key.clone(),
        }
    }

    /// Removes the graphs of a dropped collection.
    pub(super) fn remove_collection(&self, collection: &str) {
        let prefix = Self::prefix(collection);
        let Ok(entries) = std::fs::read_dir(&*self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                remove(&entry.path());
            }
        }
    }
}

/// Removes the file at `path`, if there is one.
fn remove(path: &Path) {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            tracing::warn!(error = %e, path = %path.display(), "could not remove a graph file");
        }
        _ => {}
    }
}

/// Reads what `bytes` holds from `at` on, advancing it.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(out)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }

    fn str(&mut self) -> Option<&'a str> {
        let n = usize::try_from(self.u32()?).ok()?;
        std::str::from_utf8(self.take(n)?).ok()
    }
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl GraphFile {
    /// Writes a partition's layout and graph, replacing the file whole.
    pub(super) fn save(
        &self,
        dimension: usize,
        metric: Metric,
        ids: &[Uuid],
        sums: &[u64],
        graph: &[u8],
    ) -> Result<()> {
        let mut out = Vec::with_capacity(64 + ids.len() * 24);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&u32::try_from(dimension).unwrap_or(u32::MAX).to_le_bytes());
        for s in [metric.as_str(), &self.key.0, &self.key.1, &self.key.2] {
            push_str(&mut out, s);
        }
        out.extend_from_slice(&(ids.len() as u64).to_le_bytes());
        ids.iter()
            .for_each(|id| out.extend_from_slice(id.as_bytes()));
        sums.iter()
            .for_each(|s| out.extend_from_slice(&s.to_le_bytes()));
        out.extend_from_slice(&(graph.len() as u64).to_le_bytes());
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| io_err("creating", dir, e))?;
        // Unique per process and save, so two writers never share one.
        static SAVES: AtomicU64 = AtomicU64::new(0);
        let tmp = self.path.with_extension(format!(
            "tmp.{}.{}",
            std::process::id(),
            SAVES.fetch_add(1, Ordering::Relaxed)
        ));
        // The graph is written after the head rather than copied behind
        // it: at 100k vectors it is about 100 MB.
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(&out)?;
            f.write_all(graph)?;
            f.sync_all()
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err("writing", &tmp, e));
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_err("renaming", &tmp, e)
        })
    }

    /// Where the file is.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file, if there is one.
    pub(super) fn remove(&self) {
        remove(&self.path);
    }

    /// The saved layout and graph, if the file exists and belongs to this
    /// partition as it is now shaped (dimension and metric); a file that
    /// cannot be read is reported and skipped, never an error: the graph is
    /// built again instead.
    pub(super) fn load(&self, dimension: usize, metric: Metric) -> Option<Saved> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(error = %e, path = %self.path.display(), "could not read a saved graph; building it again");
                return None;
            }
        };
        let saved = self.parse(&bytes, dimension, metric);
        if saved.is_none() {
            tracing::warn!(path = %self.path.display(), "a saved graph does not match its partition or is damaged; building it again");
        }
        saved
    }

    fn parse(&self, bytes: &[u8], dimension: usize, metric: Metric) -> Option<Saved> {
        let mut c = Cursor { bytes, at: 0 };
        let head = Head::read(&mut c)?;
        if head.dimension != dimension || head.metric != metric.as_str() {
            return None;
        }
        if head.key != (&*self.key.0, &*self.key.1, &*self.key.2) {
            return None;
        }
        let graph_len = c.len()?;
        let graph = Graph::from_bytes(c.take(graph_len)?, dimension, metric).ok()?;
        (graph.size() == head.ids.len()).then_some(Saved {
            ids: head.ids,
            sums: head.sums,
            graph,
        })
    }
}

/// What a file says before its graph: the partition's shape, key and
/// layout.
pub(super) struct Head<'a> {
    dimension: usize,
    metric: &'a str,
    /// Collection, tenant and partition.
    pub(super) key: (&'a str, &'a str, &'a str),
    /// The id at each slot, each once.
    pub(super) ids: Vec<Uuid>,
    /// Each slot's vector checksum.
    pub(super) sums: Vec<u64>,
}

impl<'a> Head<'a> {
    /// The head of the file `bytes` holds, if it is a graph file of this
    /// version and whole up to its graph.
    pub(super) fn of(bytes: &'a [u8]) -> Option<Self> {
        Self::read(&mut Cursor { bytes, at: 0 })
    }

    fn read(c: &mut Cursor<'a>) -> Option<Self> {
        if c.take(MAGIC.len())? != MAGIC || c.u32()? != VERSION {
            return None;
        }
        let dimension = usize::try_from(c.u32()?).ok()?;
        let metric = c.str()?;
        let key = (c.str()?, c.str()?, c.str()?);
        let n = c.len()?;
        let ids = c
            .take(n.checked_mul(16)?)?
            .chunks_exact(16)
            .map(|b| Uuid::from_slice(b).ok())
            .collect::<Option<Vec<_>>>()?;
        let sums = c
            .take(n.checked_mul(8)?)?
            .chunks_exact(8)
            .map(|b| Some(u64::from_le_bytes(b.try_into().ok()?)))
            .collect::<Option<Vec<_>>>()?;
        // An id twice would leave a slot no write can reach.
        if ids.iter().collect::<HashSet<_>>().len() != n {
            return None;
        }
        Some(Self {
            dimension,
            metric,
            key,
            ids,
            sums,
        })
    }
}

impl Partition {
    /// Lays this freshly loaded partition out in `saved`'s order and takes
    /// its graph, then brings into the graph what changed since the save.
    /// When more changed than a small share of the partition, it leaves the
    /// partition as it was and the graph is built afresh.
    pub(super) fn adopt(&mut self, saved: Saved) {
        let d = self.dimension.max(1);
        let n = self.ids.len();
        // Where each saved id is now, and which saved slots changed.
        let now: Vec<Option<usize>> = saved
            .ids
            .iter()
            .map(|id| self.slots.get(id).copied())
            .collect();
        let changed: Vec<usize> = now
            .iter()
            .zip(&saved.sums)
            .enumerate()
            .filter(|(_, (at, sum))| {
                at.is_some_and(|i| row_sum(&self.data[i * d..(i + 1) * d]) != **sum)
            })
            .map(|(slot, _)| slot)
            .collect();
        let kept = now.iter().flatten().count();
        let gone = saved.ids.len() - kept;
        let added = n - kept;
        if changed.len() + gone + added > (n / 100).max(256) {
            return;
        }
        let Some(filler) = self.payloads.first().cloned() else {
            return;
        };
        let mut data = Vec::with_capacity(saved.ids.len().max(n) * d);
        let mut ids = Vec::with_capacity(saved.ids.len().max(n));
        let mut payloads = Vec::with_capacity(ids.capacity());
        let mut slots = HashMap::with_capacity(ids.capacity());
        let mut old_payloads: Vec<Option<VectorPayload>> = std::mem::take(&mut self.payloads)
            .into_iter()
            .map(Some)
            .collect();
        for (slot, (id, at)) in saved.ids.iter().zip(&now).enumerate() {
            // A vector removed since keeps its slot until it is removed
            // below, as its removal would have found it.
            let payload = match *at {
                Some(i) => {
                    data.extend_from_slice(&self.data[i * d..(i + 1) * d]);
                    old_payloads[i].take()
                }
                None => {
                    data.resize(data.len() + d, 0.0);
                    None
                }
            };
            payloads.push(payload.unwrap_or_else(|| filler.clone()));
            ids.push(*id);
            slots.insert(*id, slot);
        }
        let old_data = std::mem::replace(&mut self.data, data);
        let old_ids = std::mem::replace(&mut self.ids, ids);
        self.payloads = payloads;
        self.slots = slots;
        self.graph = Some(Arc::new(saved.graph));
        for slot in changed {
            self.touched(slot);
        }
        for (id, at) in saved.ids.iter().zip(&now) {
            if at.is_none() {
                self.remove(id);
            }
        }
        for (i, payload) in old_payloads.iter_mut().enumerate() {
            if let Some(payload) = payload.take() {
                self.upsert(old_ids[i], &old_data[i * d..(i + 1) * d], payload);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_file_is_taken_only_by_its_own_partition_and_shape() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let files = GraphFiles::beside(db.to_str()).unwrap();
        let key: PartKey = ("c".into(), "t".into(), "u:a".into());
        let file = files.file(&key);
        #[allow(clippy::cast_precision_loss)]
        let data: Vec<f32> = (0..256)
            .map(|i| ((i * 7919) % 101) as f32 / 101.0)
            .collect();
        let graph = Graph::build(&data, 4, Metric::Dot)
            .unwrap()
            .to_bytes()
            .unwrap();
        let mut ids: Vec<Uuid> = (1..=64).map(Uuid::from_u128).collect();
        let sums: Vec<u64> = data.chunks_exact(4).map(row_sum).collect();
        file.save(4, Metric::Dot, &ids, &sums, &graph).unwrap();
        let saved = file.load(4, Metric::Dot).unwrap();
        assert_eq!((saved.ids, saved.sums), (ids.clone(), sums.clone()));
        assert!(file.load(8, Metric::Dot).is_none(), "another dimension");
        assert!(file.load(4, Metric::L2).is_none(), "another metric");
        let other = GraphFile {
            path: file.path.clone(),
            key: ("c".into(), "t".into(), "u:b".into()),
        };
        assert!(other.load(4, Metric::Dot).is_none(), "another partition");
        ids[5] = ids[6];
        file.save(4, Metric::Dot, &ids, &sums, &graph).unwrap();
        assert!(file.load(4, Metric::Dot).is_none(), "an id twice");
        files.remove_collection("c");
        assert!(file.load(4, Metric::Dot).is_none(), "a dropped collection");
    }
}
