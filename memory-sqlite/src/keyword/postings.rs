//! One partition's inverted index in memory, ranked by BM25 with FTS5's
//! constants, so a top-k search scores only the postings of the query's
//! terms instead of having SQLite rank every matching row.

use std::collections::HashMap;

use memory_core::{Filter, VectorPayload};
use uuid::Uuid;

use crate::topk::TopK;

/// BM25's term-frequency saturation (FTS5's value).
const K1: f32 = 1.2;
/// BM25's length normalisation (FTS5's value).
const B: f32 = 0.75;

/// One memory in a partition.
#[derive(Debug)]
struct Doc {
    id: Uuid,
    rowid: i64,
    /// (term id, occurrences), one entry per distinct term.
    terms: Vec<(u32, u16)>,
    payload: VectorPayload,
}

/// A memory to index: its row, id, analysed terms and filterable fields.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) rowid: i64,
    pub(super) id: Uuid,
    pub(super) terms: String,
    pub(super) payload: VectorPayload,
}

/// The inverted index of one partition. Replaced or deleted memories leave
/// dead postings behind, skipped when scoring, until they outnumber the
/// live ones a quarter over and the lists are rebuilt.
#[derive(Debug, Default)]
pub(super) struct Postings {
    term_ids: HashMap<Box<str>, u32>,
    /// Per term: (slot, occurrences), slots ascending.
    lists: Vec<Vec<(u32, u16)>>,
    /// Per term: live memories holding it.
    df: Vec<u32>,
    /// Per slot; `None` once deleted or replaced.
    docs: Vec<Option<Doc>>,
    /// Per slot: its length in terms (0 for a dead slot).
    lens: Vec<u32>,
    slots: HashMap<i64, u32>,
    live: u32,
    live_len: u64,
}

impl Postings {
    /// About how much memory it holds: each slot's memory (a payload with
    /// its strings counted at a typical size, its distinct terms), each
    /// posting, and each term's name and lists.
    pub(super) fn bytes(&self) -> usize {
        const PER_SLOT: usize =
            std::mem::size_of::<Option<Doc>>() + 96 + std::mem::size_of::<u32>() + 24;
        const PER_TERM: usize = 24 + 12 + std::mem::size_of::<Vec<(u32, u16)>>() + 4;
        let postings = usize::try_from(self.live_len).unwrap_or(usize::MAX);
        // A term's posting and its entry in the memory's term list: 8 bytes
        // each, at most one pair per term occurrence.
        self.docs.capacity() * PER_SLOT + postings.saturating_mul(16) + self.lists.len() * PER_TERM
    }

    /// How many memories it holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.live as usize
    }

    /// Adds a memory, replacing the one at the same row.
    pub(super) fn upsert(&mut self, entry: Entry) {
        self.remove(entry.rowid);
        let slot = u32::try_from(self.docs.len()).unwrap_or(u32::MAX);
        let mut counts: HashMap<u32, u16> = HashMap::new();
        let mut len = 0_u32;
        for word in entry.terms.split_whitespace() {
            let next = u32::try_from(self.lists.len()).unwrap_or(u32::MAX);
            let term = *self.term_ids.entry(word.into()).or_insert(next);
            if term == next {
                self.lists.push(Vec::new());
                self.df.push(0);
            }
            let n = counts.entry(term).or_default();
            *n = n.saturating_add(1);
            len += 1;
        }
        let mut terms: Vec<(u32, u16)> = counts.into_iter().collect();
        terms.sort_unstable();
        for &(term, n) in &terms {
            self.lists[term as usize].push((slot, n));
            self.df[term as usize] += 1;
        }
        self.slots.insert(entry.rowid, slot);
        self.docs.push(Some(Doc {
            id: entry.id,
            rowid: entry.rowid,
            terms,
            payload: entry.payload,
        }));
        self.lens.push(len);
        self.live += 1;
        self.live_len += u64::from(len);
    }

    /// Removes the memory at this row, if held.
    pub(super) fn remove(&mut self, rowid: i64) {
        let Some(slot) = self.slots.remove(&rowid) else {
            return;
        };
        let Some(doc) = self.docs[slot as usize].take() else {
            return;
        };
        for &(term, _) in &doc.terms {
            self.df[term as usize] -= 1;
        }
        self.live -= 1;
        self.live_len -= u64::from(self.lens[slot as usize]);
        self.lens[slot as usize] = 0;
        if self.docs.len() > 64 && self.docs.len() - self.live as usize > self.live as usize / 4 {
            self.compact();
        }
    }

    /// Rebuilds the lists from the live memories alone.
    fn compact(&mut self) {
        let docs = std::mem::take(&mut self.docs);
        let lens = std::mem::take(&mut self.lens);
        self.lists.iter_mut().for_each(Vec::clear);
        self.slots.clear();
        for (doc, len) in docs
            .into_iter()
            .zip(lens)
            .filter_map(|(d, l)| Some((d?, l)))
        {
            let slot = u32::try_from(self.docs.len()).unwrap_or(u32::MAX);
            for &(term, n) in &doc.terms {
                self.lists[term as usize].push((slot, n));
            }
            self.slots.insert(doc.rowid, slot);
            self.docs.push(Some(doc));
            self.lens.push(len);
        }
    }

    /// About how many steps [`Self::top`] takes for these terms: a
    /// posting per memory holding each, and a look at every slot.
    pub(super) fn work(&self, terms: &[String]) -> usize {
        let postings: usize = terms
            .iter()
            .filter_map(|t| self.term_ids.get(t.as_str()))
            .map(|&id| self.lists[id as usize].len())
            .sum();
        postings + self.docs.len()
    }

    /// The `k` best memories for these query terms (any may match) that
    /// pass `filter`, best first, scored by BM25 (higher is better).
    pub(super) fn top(
        &self,
        terms: &[String],
        k: usize,
        filter: Option<&Filter>,
    ) -> Vec<(Uuid, f32)> {
        if self.live == 0 || k == 0 {
            return Vec::new();
        }
        let mut ids: Vec<u32> = terms
            .iter()
            .filter_map(|t| self.term_ids.get(t.as_str()).copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        #[allow(clippy::cast_precision_loss)]
        let (n, avg) = (
            self.live as f32,
            (self.live_len as f32 / self.live as f32).max(1.0),
        );
        let mut acc = vec![0.0_f32; self.docs.len()];
        for term in ids {
            #[allow(clippy::cast_precision_loss)]
            let df = self.df[term as usize] as f32;
            if df == 0.0 {
                continue;
            }
            // FTS5 floors the IDF of terms in over half the rows just above zero.
            let idf = ((n - df + 0.5) / (df + 0.5)).ln().max(1e-6);
            for &(slot, tf) in &self.lists[term as usize] {
                let len = self.lens[slot as usize];
                if len == 0 {
                    continue;
                }
                let tf = f32::from(tf);
                #[allow(clippy::cast_precision_loss)]
                let dl = len as f32;
                acc[slot as usize] += idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * dl / avg));
            }
        }
        let mut top = TopK::new(k);
        for (slot, &score) in acc.iter().enumerate() {
            if score <= 0.0 || !top.would_keep(score) {
                continue;
            }
            if let Some(doc) = &self.docs[slot]
                && filter.is_none_or(|f| f.matches(&doc.payload))
            {
                top.push(score, slot);
            }
        }
        let mut hits: Vec<(Uuid, f32)> = top
            .into_hits()
            .filter_map(|(s, slot)| Some((self.docs[slot].as_ref()?.id, s)))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        hits
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn payload(kind: &str) -> VectorPayload {
        memory_testkit::vector::payload("t", "u", kind)
    }

    fn entry(rowid: i64, terms: &str) -> Entry {
        Entry {
            rowid,
            id: Uuid::from_u128(u128::try_from(rowid).unwrap()),
            terms: terms.into(),
            payload: payload(if rowid % 2 == 0 { "fact" } else { "event" }),
        }
    }

    fn words(q: &str) -> Vec<String> {
        q.split_whitespace().map(str::to_owned).collect()
    }

    fn ids(hits: &[(Uuid, f32)]) -> Vec<u128> {
        hits.iter().map(|h| h.0.as_u128()).collect()
    }

    #[test]
    fn ranks_rare_and_repeated_terms_first() {
        let mut p = Postings::default();
        p.upsert(entry(1, "cat dog"));
        p.upsert(entry(2, "cat cat fish"));
        p.upsert(entry(3, "bird"));
        p.upsert(entry(4, "cat"));
        let hits = p.top(&words("fish cat"), 10, None);
        assert_eq!(ids(&hits)[0], 2, "{hits:?}");
        assert!(!ids(&hits).contains(&3));
        assert_eq!(p.top(&words("fish"), 10, None).len(), 1);
        assert!(p.top(&words("whale"), 10, None).is_empty());
    }

    #[test]
    fn replaced_and_removed_memories_are_not_found() {
        let mut p = Postings::default();
        for i in 0..200 {
            p.upsert(entry(i, "common"));
        }
        p.upsert(entry(7, "changed"));
        assert!(!ids(&p.top(&words("common"), 500, None)).contains(&7));
        assert_eq!(ids(&p.top(&words("changed"), 5, None)), vec![7]);
        for i in 0..150 {
            p.remove(i);
        }
        assert_eq!(p.len(), 50);
        let hits = p.top(&words("common changed"), 500, None);
        assert_eq!(hits.len(), 50);
        assert!(ids(&hits).iter().all(|&i| i >= 150));
    }

    #[test]
    fn the_filter_is_checked_and_k_respected() {
        let mut p = Postings::default();
        for i in 0..20 {
            p.upsert(entry(i, "tea"));
        }
        let only_facts = Filter::parse(&serde_json::json!({"kind": "fact"})).unwrap();
        let hits = p.top(&words("tea"), 5, Some(&only_facts));
        assert_eq!(hits.len(), 5);
        assert!(ids(&hits).iter().all(|i| i % 2 == 0));
    }
}
