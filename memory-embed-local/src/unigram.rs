//! A Unigram (SentencePiece) vocabulary held in a few flat arrays.
//!
//! The `tokenizers` crate's Unigram model finds the pieces a text starts
//! with in a byte trie whose every node owns a hash map: for the
//! multilingual model's 250,002 pieces that is about 250 MB resident, more
//! than the int8 graph itself. This model keeps the pieces in one string in
//! byte order and walks that order the way the trie is walked, in about
//! 8 MB. The search over a text is the crate's own — the same best-path
//! recurrence, the same tie-breaking, the same handling of characters no
//! piece covers — so ids and offsets come out identical to it.

use std::ops::Range;

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use tokenizers::{Result, Token};

/// What a character no piece covers costs below the cheapest piece, as in
/// SentencePiece and the `tokenizers` crate.
const UNKNOWN_PENALTY: f64 = 10.0;

/// Pieces and their scores in id order, as `tokenizer.json` lists them;
/// read one at a time, so loading holds no string per piece.
#[derive(Default)]
pub(crate) struct Pieces {
    text: String,
    /// Where each piece starts in `text`, and where the last one ends.
    starts: Vec<u32>,
    scores: Vec<f64>,
}

impl Pieces {
    fn push(&mut self, piece: &str, score: f64) -> Result<()> {
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        self.text.push_str(piece);
        self.starts.push(offset(self.text.len())?);
        self.scores.push(score);
        Ok(())
    }

    fn get(&self, i: usize) -> &str {
        &self.text[self.starts[i] as usize..self.starts[i + 1] as usize]
    }
}

#[cfg(test)]
impl TryFrom<Vec<(String, f64)>> for Pieces {
    type Error = tokenizers::Error;

    fn try_from(vocab: Vec<(String, f64)>) -> Result<Self> {
        let mut pieces = Pieces::default();
        for (piece, score) in &vocab {
            pieces.push(piece, *score)?;
        }
        Ok(pieces)
    }
}

impl<'de> Deserialize<'de> for Pieces {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = Pieces;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of [piece, score] pairs")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Pieces, A::Error> {
                let mut pieces = Pieces::default();
                while let Some((piece, score)) = seq.next_element::<(String, f64)>()? {
                    pieces
                        .push(&piece, score)
                        .map_err(serde::de::Error::custom)?;
                }
                Ok(pieces)
            }
        }
        d.deserialize_seq(List)
    }
}

fn offset(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| "Unigram: the vocabulary is too large".into())
}

/// A Unigram vocabulary: its distinct pieces in byte order, and scores.
#[derive(Clone)]
pub(crate) struct Unigram {
    /// The distinct pieces in byte order, one after another; a search's
    /// neighbouring candidates are neighbours in memory.
    text: String,
    /// Where entry `e` starts in `text`; one more entry closes the last.
    starts: Vec<u32>,
    /// The id entry `e` stands for: of equal pieces the highest, the one
    /// the crate's map from pieces to ids keeps.
    ids: Vec<u32>,
    /// The entry holding each id's piece.
    entries: Vec<u32>,
    /// Each id's score.
    scores: Vec<f64>,
    /// Entries `by_first[b]..by_first[b + 1]` start with byte `b`, so a
    /// search starts without a binary search of all of them.
    by_first: Vec<u32>,
    min_score: f64,
    unk_id: Option<u32>,
    byte_fallback: bool,
}

/// One step of a best path: the piece ending at a position.
#[derive(Clone, Copy)]
struct Step {
    id: u32,
    score: f64,
    /// Where the piece starts; `None` while no path reaches here.
    from: Option<usize>,
}

impl Unigram {
    /// Builds the vocabulary; `unk_id` must index a piece when given.
    pub(crate) fn new(pieces: Pieces, unk_id: Option<usize>, byte_fallback: bool) -> Result<Self> {
        let n = pieces.scores.len();
        if unk_id.is_some() && n == 0 {
            return Err("Unigram: the vocabulary is empty but <unk> is needed".into());
        }
        if unk_id.is_some_and(|u| u >= n) {
            return Err("Unigram: unk_id is past the end of the vocabulary".into());
        }
        let unk_id = unk_id.map(offset).transpose()?;
        let mut order: Vec<u32> = (0..offset(n)?).collect();
        order.sort_unstable_by(|&a, &b| {
            let key = |i: u32| (pieces.get(i as usize).as_bytes(), i);
            key(a).cmp(&key(b))
        });
        let mut model = Self {
            text: String::with_capacity(pieces.text.len()),
            starts: vec![0],
            ids: Vec::with_capacity(n),
            entries: vec![0; n],
            min_score: pieces.scores.iter().copied().fold(f64::INFINITY, f64::min),
            scores: Vec::new(),
            by_first: vec![0; 257],
            unk_id,
            byte_fallback,
        };
        for id in order {
            let piece = pieces.get(id as usize);
            let last = model.ids.len().checked_sub(1);
            match last {
                // Equal pieces are adjacent, the highest id last.
                Some(e) if model.entry(e) == piece => model.ids[e] = id,
                _ => {
                    model.text.push_str(piece);
                    model.starts.push(offset(model.text.len())?);
                    model.ids.push(id);
                    // An empty piece sorts first and starts with no byte.
                    match piece.as_bytes().first() {
                        Some(&b) => model.by_first[usize::from(b) + 1] += 1,
                        None => model.by_first[0] += 1,
                    }
                }
            }
            model.entries[id as usize] = offset(model.ids.len() - 1)?;
        }
        for b in 1..model.by_first.len() {
            model.by_first[b] += model.by_first[b - 1];
        }
        model.scores = pieces.scores;
        Ok(model)
    }

    /// How many pieces there are (ids run from 0 to one less).
    pub(crate) fn len(&self) -> usize {
        self.scores.len()
    }

    fn entry(&self, e: usize) -> &str {
        &self.text[self.starts[e] as usize..self.starts[e + 1] as usize]
    }

    /// The piece with `id`, if there is one.
    pub(crate) fn piece(&self, id: u32) -> Option<&str> {
        let e = *self.entries.get(id as usize)?;
        Some(self.entry(e as usize))
    }

    /// The id of `piece`, as the crate's map from pieces to ids gives it.
    pub(crate) fn id(&self, piece: &str) -> Option<u32> {
        let e = self.first(0, self.ids.len(), |e| self.entry(e) < piece);
        (e < self.ids.len() && self.entry(e) == piece).then(|| self.ids[e])
    }

    /// The first entry of `lo..hi` for which `before` is false, where it is
    /// true of a leading run of them (a binary search).
    fn first(&self, mut lo: usize, mut hi: usize, before: impl Fn(usize) -> bool) -> usize {
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if before(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Every distinct piece with its id, for the tokenizer's vocabulary.
    pub(crate) fn pieces(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        (0..self.ids.len()).map(|e| (self.entry(e), self.ids[e]))
    }

    /// The unknown piece's id and whether unknown bytes become `<0xXX>`.
    pub(crate) fn unknown(&self) -> (Option<u32>, bool) {
        (self.unk_id, self.byte_fallback)
    }

    /// Every piece with its score, in id order.
    pub(crate) fn scored(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        self.entries
            .iter()
            .zip(&self.scores)
            .map(|(&e, &score)| (self.entry(e as usize), score))
    }

    /// Calls `found(length, id)` for every piece `bytes` starts with,
    /// shortest first — the order the crate's trie yields them in.
    fn prefixes(&self, bytes: &[u8], mut found: impl FnMut(usize, u32)) {
        let Some(&first) = bytes.first() else {
            return;
        };
        let first = usize::from(first);
        let (mut lo, mut hi) = (
            self.by_first[first] as usize,
            self.by_first[first + 1] as usize,
        );
        let mut depth = 1;
        while lo < hi {
            // Every entry in lo..hi starts with bytes[..depth]; one equal
            // to it would sort first.
            if (self.starts[lo + 1] - self.starts[lo]) as usize == depth {
                found(depth, self.ids[lo]);
                lo += 1;
            }
            let Some(&next) = bytes.get(depth) else {
                return;
            };
            // The rest are longer than `depth`, so each has this byte.
            let byte = |e: usize| self.text.as_bytes()[self.starts[e] as usize + depth];
            lo = self.first(lo, hi, |e| byte(e) < next);
            hi = self.first(lo, hi, |e| byte(e) <= next);
            depth += 1;
        }
    }

    /// The best-scoring cut of `sentence` into pieces, as byte ranges with
    /// their ids; neighbouring unknown characters are fused into one.
    fn cut(&self, sentence: &str) -> Result<Vec<(Range<usize>, u32)>> {
        let size = sentence.len();
        let unk_score = self.min_score - UNKNOWN_PENALTY;
        let unset = Step {
            id: 0,
            score: 0.0,
            from: None,
        };
        let mut best = vec![unset; size + 1];
        let better = |step: &Step, score: f64| step.from.is_none() || score > step.score;
        let mut at = 0;
        while at < size {
            let here = best[at].score;
            let char_len = sentence[at..].chars().next().map_or(1, char::len_utf8);
            let mut whole_char = false;
            self.prefixes(&sentence.as_bytes()[at..], |len, id| {
                let score = self.scores[id as usize] + here;
                let end = &mut best[at + len];
                if better(end, score) {
                    *end = Step {
                        id,
                        score,
                        from: Some(at),
                    };
                }
                whole_char |= len == char_len;
            });
            if !whole_char {
                let unk = self
                    .unk_id
                    .ok_or("Unigram: a character no piece covers and no unk_id")?;
                let score = unk_score + here;
                let end = &mut best[at + char_len];
                if better(end, score) {
                    *end = Step {
                        id: unk,
                        score,
                        from: Some(at),
                    };
                }
            }
            at += char_len;
        }
        let mut cut: Vec<(Range<usize>, u32)> = Vec::new();
        let mut end = size;
        while end > 0 {
            let step = best[end];
            let from = step
                .from
                .ok_or("Unigram: the best path has a gap (not a character boundary)")?;
            match cut.last_mut() {
                Some((span, id)) if Some(step.id) == self.unk_id && Some(*id) == self.unk_id => {
                    span.start = from;
                }
                _ => cut.push((from..end, step.id)),
            }
            end = from;
        }
        cut.reverse();
        Ok(cut)
    }

    /// The tokens of `sentence`, as the crate's `Unigram::tokenize` gives
    /// them: it looks each cut piece's id up by its text, which for a piece
    /// of the vocabulary is the id the cut found, so only an unknown span
    /// (a fused run of characters no piece covers) is looked up: it may be
    /// a piece after all, else its bytes' `<0xXX>` pieces, else `<unk>`.
    pub(crate) fn tokenize(&self, sentence: &str) -> Result<Vec<Token>> {
        let mut tokens = Vec::new();
        for (span, found) in self.cut(sentence)? {
            let value = &sentence[span.clone()];
            let offsets = (span.start, span.end);
            let id = if Some(found) == self.unk_id {
                self.id(value)
            } else {
                Some(found)
            };
            if let Some(id) = id {
                tokens.push(Token::new(id, value.to_owned(), offsets));
                continue;
            }
            if self.byte_fallback {
                let bytes: Option<Vec<Token>> = value
                    .bytes()
                    .map(|b| {
                        let piece = format!("<0x{b:02X}>");
                        self.id(&piece).map(|id| Token::new(id, piece, offsets))
                    })
                    .collect();
                if let Some(bytes) = bytes {
                    tokens.extend(bytes);
                    continue;
                }
            }
            let unk = self
                .unk_id
                .ok_or("Unigram: an unknown piece and no unk_id")?;
            tokens.push(Token::new(unk, value.to_owned(), offsets));
        }
        Ok(tokens)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use tokenizers::Model;
    use tokenizers::models::unigram::Unigram as CrateUnigram;

    /// Characters of one to four bytes, and `z`, which only some
    /// vocabularies have a piece for.
    const CHARS: &[char] = &['a', 'b', 'c', 'é', '日', '▁', ' ', '😀', 'z'];

    /// A small deterministic generator (xorshift), so a failure replays.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            usize::try_from(self.0 % n as u64).unwrap()
        }

        fn text(&mut self, chars: &[char], most: usize) -> String {
            let n = self.below(most + 1);
            (0..n).map(|_| chars[self.below(chars.len())]).collect()
        }
    }

    /// A random vocabulary: scores from a short list so that paths tie,
    /// some pieces twice, `<unk>` somewhere, and sometimes byte pieces.
    fn vocabulary(rng: &mut Rng) -> (Vec<(String, f64)>, usize, bool) {
        let known = &CHARS[..CHARS.len() - rng.below(2)];
        let mut vocab: Vec<(String, f64)> = Vec::new();
        for _ in 0..rng.below(60) + 1 {
            let piece = rng.text(known, 4);
            let score = [-0.5, -1.0, -1.0, -2.0, -3.5][rng.below(5)];
            vocab.push((piece, score));
        }
        for _ in 0..rng.below(4) {
            let again = vocab[rng.below(vocab.len())].0.clone();
            vocab.push((again, -1.5));
        }
        let byte_fallback = rng.below(2) == 0;
        if byte_fallback {
            for b in "z😀".bytes() {
                vocab.push((format!("<0x{b:02X}>"), -4.0));
            }
        }
        let unk = rng.below(vocab.len() + 1);
        vocab.insert(unk, ("<unk>".to_owned(), 0.0));
        (vocab, unk, byte_fallback)
    }

    #[test]
    fn cuts_texts_as_the_tokenizers_crate_does() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut fused = 0;
        for _ in 0..400 {
            let (vocab, unk, byte_fallback) = vocabulary(&mut rng);
            let theirs = CrateUnigram::from(vocab.clone(), Some(unk), byte_fallback).unwrap();
            let ours =
                Unigram::new(vocab.clone().try_into().unwrap(), Some(unk), byte_fallback).unwrap();
            for _ in 0..25 {
                let text = rng.text(CHARS, 24);
                let want = theirs.tokenize(&text).unwrap();
                let got = ours.tokenize(&text).unwrap();
                assert_eq!(got, want, "{text:?} with {vocab:?}");
                fused += want
                    .iter()
                    .filter(|t| t.value.chars().count() > 1 && u64::from(t.id) == unk as u64)
                    .count();
            }
            for (piece, _) in &vocab {
                assert_eq!(ours.id(piece), theirs.token_to_id(piece), "{piece:?}");
            }
            assert_eq!(ours.id("not a piece"), None);
        }
        assert!(fused > 0, "no run of unknown characters was fused");
    }

    #[test]
    fn the_crates_own_example_cuts_the_same() {
        let pieces: Vec<(String, f64)> = [
            ("<unk>", 0.0),
            ("a", 0.0),
            ("b", 0.0),
            ("c", 0.0),
            ("d", 0.0),
        ]
        .into_iter()
        .chain([("cd", 1.0), ("ab", 2.0), ("abc", 5.0), ("abcd", 10.0)])
        .map(|(p, s)| (p.to_owned(), s))
        .collect();
        let model = Unigram::new(pieces.try_into().unwrap(), Some(0), false).unwrap();
        let cut: Vec<String> = model
            .tokenize("abcdacdxx")
            .unwrap()
            .into_iter()
            .map(|t| t.value)
            .collect();
        assert_eq!(cut, ["abcd", "a", "cd", "xx"]);
    }

    #[test]
    fn without_unk_an_uncovered_character_is_an_error() {
        let model = Unigram::new(
            vec![("a".to_owned(), -1.0)].try_into().unwrap(),
            None,
            false,
        )
        .unwrap();
        assert_eq!(model.tokenize("aa").unwrap().len(), 2);
        assert!(model.tokenize("ab").is_err());
        assert!(Unigram::new(Pieces::default(), Some(0), false).is_err());
        assert!(
            Unigram::new(
                vec![("a".to_owned(), -1.0)].try_into().unwrap(),
                Some(1),
                false
            )
            .is_err()
        );
    }
}
