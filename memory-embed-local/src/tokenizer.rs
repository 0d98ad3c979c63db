//! The tokenizer both local models use: the `tokenizers` crate's pipeline
//! (normalizer, pre-tokenizer, special tokens, offsets, truncation) around
//! a vocabulary that is the crate's own model, except for Unigram
//! vocabularies, which are held compactly (see [`Unigram`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, de::Error as _};
use serde_json::value::RawValue;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::unigram::UnigramTrainer;
use tokenizers::models::{ModelWrapper, TrainerWrapper};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{Model, Result, Token, TokenizerImpl};

use crate::unigram::{Pieces, Unigram};

/// A `tokenizer.json` loaded with its vocabulary as [`Vocab`].
pub(crate) type Tokenizer = TokenizerImpl<
    Vocab,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

/// Reads a `tokenizer.json`.
pub(crate) fn load(path: &Path) -> std::result::Result<Tokenizer, String> {
    let json = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&json).map_err(|e| format!("{}: {e}", path.display()))
}

/// A tokenizer's vocabulary: a compact Unigram one, or any other model.
#[derive(Clone)]
pub(crate) enum Vocab {
    /// SentencePiece pieces with scores (the multilingual model's).
    Unigram(Unigram),
    /// WordPiece, BPE or WordLevel, as the crate holds them.
    Other(Box<ModelWrapper>),
}

impl<'de> Deserialize<'de> for Vocab {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        /// The model's kind, read before the model itself.
        #[derive(Deserialize)]
        struct Kind {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        /// The fields of the crate's Unigram model that tokenizing uses.
        #[derive(Deserialize)]
        struct Fields {
            unk_id: Option<usize>,
            vocab: Pieces,
            #[serde(default)]
            byte_fallback: bool,
        }
        // Kept as text until its kind is known, so a Unigram vocabulary
        // is read straight into its arrays.
        let json = Box::<RawValue>::deserialize(d)?;
        let kind: Kind = serde_json::from_str(json.get()).map_err(D::Error::custom)?;
        if kind.kind.as_deref() == Some("Unigram") {
            let f: Fields = serde_json::from_str(json.get()).map_err(D::Error::custom)?;
            Unigram::new(f.vocab, f.unk_id, f.byte_fallback)
                .map(Vocab::Unigram)
                .map_err(D::Error::custom)
        } else {
            serde_json::from_str(json.get())
                .map(|m| Vocab::Other(Box::new(m)))
                .map_err(D::Error::custom)
        }
    }
}

impl Model for Vocab {
    type Trainer = TrainerWrapper;

    fn tokenize(&self, sequence: &str) -> Result<Vec<Token>> {
        match self {
            Vocab::Unigram(u) => u.tokenize(sequence),
            Vocab::Other(m) => m.tokenize(sequence),
        }
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        match self {
            Vocab::Unigram(u) => u.id(token),
            Vocab::Other(m) => m.token_to_id(token),
        }
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        match self {
            Vocab::Unigram(u) => u.piece(id).map(str::to_owned),
            Vocab::Other(m) => m.id_to_token(id),
        }
    }

    fn get_vocab(&self) -> HashMap<String, u32> {
        match self {
            Vocab::Unigram(u) => u.pieces().map(|(p, id)| (p.to_owned(), id)).collect(),
            Vocab::Other(m) => m.get_vocab(),
        }
    }

    fn get_vocab_size(&self) -> usize {
        match self {
            Vocab::Unigram(u) => u.len(),
            Vocab::Other(m) => m.get_vocab_size(),
        }
    }

    /// Writes the model as the crate's `unigram.json` (or the other
    /// model's own files), which the crate reads back.
    fn save(&self, folder: &Path, prefix: Option<&str>) -> Result<Vec<PathBuf>> {
        match self {
            Vocab::Unigram(u) => {
                let name =
                    prefix.map_or("unigram.json".to_owned(), |p| format!("{p}-unigram.json"));
                let path = folder.join(name);
                let (unk_id, byte_fallback) = u.unknown();
                let vocab: Vec<(&str, f64)> = u.scored().collect();
                let json = serde_json::json!({
                    "type": "Unigram",
                    "unk_id": unk_id,
                    "vocab": vocab,
                    "byte_fallback": byte_fallback,
                });
                std::fs::write(&path, serde_json::to_vec(&json)?)?;
                Ok(vec![path])
            }
            Vocab::Other(m) => m.save(folder, prefix),
        }
    }

    /// A trainer for a new vocabulary of the same kind; this crate only
    /// tokenizes, so nothing here calls it.
    fn get_trainer(&self) -> TrainerWrapper {
        match self {
            Vocab::Unigram(_) => UnigramTrainer::default().into(),
            Vocab::Other(m) => m.get_trainer(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::{E5_SMALL, MINILM, OnnxConfig, Quant};

    /// Every string in the committed evaluation data (English, Japanese,
    /// Portuguese conversations and questions).
    fn eval_texts() -> Vec<String> {
        fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::String(s) => out.push(s.clone()),
                serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
                serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
                _ => {}
            }
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/eval");
        let mut out = Vec::new();
        for name in ["small.json", "multilingual.json", "temporal.json"] {
            let json = std::fs::read(dir.join(name)).unwrap();
            strings(&serde_json::from_slice(&json).unwrap(), &mut out);
        }
        out
    }

    /// Texts that reach the normalizer's and the vocabulary's corners:
    /// compatibility forms, combining marks, scripts, emoji, the special
    /// pieces written out, control characters, unassigned code points.
    fn odd_texts() -> Vec<String> {
        let mut out: Vec<String> = [
            "",
            " ",
            "  leading and trailing  ",
            "ﬁne ① ＡＢＣ ｶﾀｶﾅ Å café cafe\u{301}",
            "<s> written </s> out <unk> and <mask> <pad>",
            "مرحبا بالعالم — Привет, мир! Γειά σου κόσμε. नमस्ते दुनिया",
            "👩‍👩‍👧‍👦 🏳️‍🌈 🤖🧠💾 ✓✗ ∀x∃y",
            "tab\there\nnew line\r\nand\u{0}nul \u{200b}zero width",
            "\u{e000}\u{f8ff}\u{10ffff}\u{3400}\u{20000}\u{1d11e}",
            "query: what did I say about my cat?",
            "passage: 北海道から見てます。Je suis à Paris aujourd'hui.",
        ]
        .map(str::to_owned)
        .to_vec();
        // A long text crosses the crate's cache limit and the model window.
        out.push("The quick brown fox jumps over the lazy dog. ".repeat(80));
        // Every code point from a spread of blocks, in runs.
        for start in (0x20u32..0x3_0000).step_by(0x1d3) {
            out.push((start..start + 40).filter_map(char::from_u32).collect());
        }
        out
    }

    fn assert_same(file: &Path, texts: &[String]) {
        let theirs = tokenizers::Tokenizer::from_file(file).unwrap();
        let ours = load(file).unwrap();
        assert_eq!(ours.get_vocab_size(true), theirs.get_vocab_size(true));
        for text in texts {
            for specials in [true, false] {
                let want = theirs.encode(text.as_str(), specials).unwrap();
                let got = ours.encode(text.as_str(), specials).unwrap();
                assert_eq!(got.get_ids(), want.get_ids(), "{text:?}");
                assert_eq!(got.get_offsets(), want.get_offsets(), "{text:?}");
                assert_eq!(got.get_tokens(), want.get_tokens(), "{text:?}");
            }
        }
        let pair = ("a question?", "a passage that answers it.");
        let want = theirs.encode(pair, true).unwrap();
        assert_eq!(ours.encode(pair, true).unwrap().get_ids(), want.get_ids());
    }

    #[test]
    fn the_multilingual_tokenizer_encodes_as_the_tokenizers_crate_does() {
        let cfg = OnnxConfig::discover_model(E5_SMALL, Quant::Int8)
            .expect("model prepared by scripts/prepare-model");
        let ours = load(&cfg.tokenizer_file).unwrap();
        assert!(matches!(ours.get_model(), Vocab::Unigram(_)));
        let mut texts = eval_texts();
        assert!(texts.len() > 300, "{} texts", texts.len());
        texts.extend(odd_texts());
        assert_same(&cfg.tokenizer_file, &texts);
    }

    #[test]
    fn a_wordpiece_tokenizer_is_the_crates_own() {
        let cfg = OnnxConfig::discover_model(MINILM, Quant::Fp32)
            .expect("model prepared by scripts/prepare-model all-MiniLM-L6-v2");
        assert!(matches!(
            load(&cfg.tokenizer_file).unwrap().get_model(),
            Vocab::Other(_)
        ));
        assert_same(&cfg.tokenizer_file, &odd_texts()[..11]);
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let err = load(Path::new("/nonexistent/tokenizer.json"))
            .err()
            .unwrap();
        assert!(err.contains("/nonexistent/tokenizer.json"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("tokenizer.json");
        std::fs::write(
            &bad,
            r#"{"model": {"type": "Unigram", "unk_id": 5, "vocab": [["a", -1.0]]}}"#,
        )
        .unwrap();
        let err = load(&bad).err().unwrap();
        assert!(err.contains("unk_id"), "{err}");
    }
}
