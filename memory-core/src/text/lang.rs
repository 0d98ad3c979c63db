//! A text's language, as far as keyword matching needs it: a stemmer and a
//! stopword list.

use rust_stemmers::{Algorithm, Stemmer};
use whatlang::{Lang, Script};

/// What matching knows about one text's language.
pub(super) struct Language {
    /// The stemmer a stored text's words are indexed under.
    primary: Option<Stemmer>,
    /// Further stemmers a query's words are also searched under, for
    /// stored texts whose language was told apart where the query's was not.
    others: Vec<Stemmer>,
    stopwords: &'static [&'static str],
}

/// Latin-script languages a short query is also stemmed in (the first of
/// [`STEMMED`]): chat turns and queries are often too short to detect, and
/// an alternative stem that is wrong only adds a term nothing else shares.
const LATIN_GUESSES: &[Lang] = STEMMED.split_at(6).0;

/// Languages with a stemmer, the only ones worth telling apart here; the
/// most written Latin-script ones first.
const STEMMED: [Lang; 18] = [
    Lang::Eng,
    Lang::Por,
    Lang::Spa,
    Lang::Fra,
    Lang::Deu,
    Lang::Ita,
    Lang::Nld,
    Lang::Swe,
    Lang::Dan,
    Lang::Nob,
    Lang::Fin,
    Lang::Hun,
    Lang::Ron,
    Lang::Rus,
    Lang::Tur,
    Lang::Ara,
    Lang::Ell,
    Lang::Tam,
];

/// Detection confidence taken as an answer even when whatlang does not
/// call it reliable: short sentences (`A viagem para Lisboa foi ótima`,
/// 0.50) rarely are, and below this it guesses Norwegian for English.
const CONFIDENT: f64 = 0.4;

/// A detector choosing among [`STEMMED`], built once.
fn detector() -> &'static whatlang::Detector {
    static DETECTOR: std::sync::OnceLock<whatlang::Detector> = std::sync::OnceLock::new();
    DETECTOR.get_or_init(|| whatlang::Detector::with_allowlist(STEMMED.to_vec()))
}

/// The Snowball stemmer and NLTK stopword list code for a language, where
/// both exist.
fn tools(lang: Lang) -> Option<(Algorithm, &'static str)> {
    Some(match lang {
        Lang::Eng => (Algorithm::English, "en"),
        Lang::Por => (Algorithm::Portuguese, "pt"),
        Lang::Spa => (Algorithm::Spanish, "es"),
        Lang::Fra => (Algorithm::French, "fr"),
        Lang::Deu => (Algorithm::German, "de"),
        Lang::Ita => (Algorithm::Italian, "it"),
        Lang::Nld => (Algorithm::Dutch, "nl"),
        Lang::Swe => (Algorithm::Swedish, "sv"),
        Lang::Dan => (Algorithm::Danish, "da"),
        Lang::Nob => (Algorithm::Norwegian, "no"),
        Lang::Fin => (Algorithm::Finnish, "fi"),
        Lang::Hun => (Algorithm::Hungarian, "hu"),
        Lang::Ron => (Algorithm::Romanian, "ro"),
        Lang::Rus => (Algorithm::Russian, "ru"),
        Lang::Tur => (Algorithm::Turkish, "tr"),
        Lang::Ara => (Algorithm::Arabic, "ar"),
        Lang::Ell => (Algorithm::Greek, "el"),
        Lang::Tam => (Algorithm::Tamil, "ta"),
        _ => return None,
    })
}

impl Language {
    /// The language of `text`: the detected one when detection is confident,
    /// else the usual one of its script (English for Latin letters), with
    /// [`LATIN_GUESSES`] as the alternatives of Latin text.
    pub(super) fn of(text: &str) -> Self {
        let detected = detector()
            .detect(text)
            .filter(|info| info.is_reliable() || info.confidence() >= CONFIDENT)
            .map(|info| info.lang());
        let script = whatlang::detect_script(text);
        let primary = detected.or(match script {
            Some(Script::Latin) => Some(Lang::Eng),
            Some(Script::Cyrillic) => Some(Lang::Rus),
            Some(Script::Greek) => Some(Lang::Ell),
            Some(Script::Arabic) => Some(Lang::Ara),
            _ => None,
        });
        let others = match script {
            Some(Script::Latin) => LATIN_GUESSES
                .iter()
                .copied()
                .filter(|l| Some(*l) != primary)
                .collect(),
            _ => Vec::new(),
        };
        let stemmer = |lang: Lang| tools(lang).map(|(algorithm, _)| Stemmer::create(algorithm));
        Self {
            primary: primary.and_then(stemmer),
            others: others.into_iter().filter_map(stemmer).collect(),
            stopwords: detected
                .and_then(tools)
                .and_then(|(_, code)| stop_words::lookup(code))
                .unwrap_or_default(),
        }
    }

    /// The one term a stored word is indexed under: its stem in the text's
    /// language, or the word itself where there is no stemmer. One term per
    /// word keeps every word's weight in the ranking equal.
    pub(super) fn index_term(&self, word: &str) -> String {
        self.primary
            .as_ref()
            .map_or_else(|| word.to_owned(), |s| s.stem(word).into_owned())
    }

    /// The terms a query word is searched under: the word itself (a stored
    /// text without a stemmer keeps it), its stem in the query's language
    /// and in the alternatives, each once.
    pub(super) fn query_terms(&self, word: &str) -> Vec<String> {
        let mut out = vec![word.to_owned()];
        for stemmer in self.primary.iter().chain(&self.others) {
            let stem = stemmer.stem(word);
            if !out.iter().any(|s| *s == stem) {
                out.push(stem.into_owned());
            }
        }
        out
    }

    /// Whether `word` carries no meaning for search, in English (questions
    /// to a mostly English store mix it in) or in the detected language.
    pub(super) fn is_stopword(&self, word: &str) -> bool {
        let english = stop_words::lookup("en").unwrap_or_default();
        english.contains(&word) || self.stopwords.contains(&word)
    }
}
