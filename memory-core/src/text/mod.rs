//! Keyword analysis shared by every keyword backend: the terms a text is
//! indexed under and the terms a query searches for.
//!
//! Backends index the output of [`index_terms`] with a plain whitespace
//! tokenizer and search for [`query_terms`], so every backend matches the
//! same way whatever its own text search does: words folded to lower case
//! without Latin diacritics and indexed under their Snowball stem in the
//! text's language, queries searched under the stems of a few likely
//! languages when a short text does not tell, and Chinese, Japanese and
//! Korean runs (which have no spaces between words) as overlapping
//! character pairs.

mod lang;
mod tokens;
mod when;

use std::collections::HashSet;

use lang::Language;
use tokens::{Token, fold, tokens};
pub use when::{TimeWindow, time_window};

/// Names the analysis below. Stores record it, and re-analyse what they hold
/// when it changes, so indexed terms and query terms always agree.
pub const ANALYZER: &str = "terms-v1";

/// The terms `text` is indexed under, separated by spaces: each word's
/// stem, and each CJK run's characters and character pairs.
pub fn index_terms(text: &str) -> String {
    let language = Language::of(text);
    let mut out = String::with_capacity(text.len() * 2);
    let mut push = |term: &str| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(term);
    };
    for token in tokens(text) {
        match token {
            Token::Word(word) => push(&fold(&language.index_term(&word))),
            Token::Cjk(run) => {
                // Characters alone let one-character queries match; pairs
                // make longer queries match words rather than characters.
                for c in &run {
                    push(c.encode_utf8(&mut [0; 4]));
                }
                for pair in run.windows(2) {
                    push(&pair.iter().collect::<String>());
                }
            }
        }
    }
    out
}

/// The terms a query searches for, at most `max`: words that are not
/// stopwords of English or the query's language (all words when nothing else
/// is left), each as written and under its possible stems, and CJK runs as
/// character pairs (a lone character as itself).
pub fn query_terms(text: &str, max: usize) -> Vec<String> {
    let language = Language::of(text);
    let all: Vec<Token> = tokens(text).collect();
    let content: Vec<&Token> = all
        .iter()
        .filter(|t| match t {
            Token::Word(w) => !language.is_stopword(w),
            Token::Cjk(_) => true,
        })
        .collect();
    let chosen: Vec<&Token> = if content.is_empty() {
        all.iter().collect()
    } else {
        content
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut push = |term: String| {
        if seen.insert(term.clone()) {
            out.push(term);
        }
    };
    for token in chosen {
        match token {
            Token::Word(word) => {
                for term in language.query_terms(word) {
                    push(fold(&term));
                }
            }
            Token::Cjk(run) if run.len() == 1 => push(run.iter().collect()),
            Token::Cjk(run) => {
                for pair in run.windows(2) {
                    push(pair.iter().collect());
                }
            }
        }
    }
    out.truncate(max);
    out
}

#[cfg(test)]
mod tests {
    use super::{index_terms, query_terms};

    fn matches(query: &str, text: &str) -> bool {
        let indexed = index_terms(text);
        let terms: Vec<&str> = indexed.split(' ').collect();
        query_terms(query, 64)
            .iter()
            .any(|q| terms.contains(&q.as_str()))
    }

    #[test]
    fn english_words_match_across_inflections() {
        assert_eq!(query_terms("What should I not cook for her?", 10), ["cook"]);
        assert!(matches("running shoes", "She runs every morning"));
        assert!(!matches("running shoes", "She walks every morning"));
    }

    #[test]
    fn stopwords_stay_when_nothing_else_is_left() {
        assert_eq!(query_terms("who is it", 10), ["who", "is", "it"]);
        assert!(query_terms("?!", 10).is_empty());
    }

    #[test]
    fn portuguese_stems_and_diacritics_match() {
        let text = "A Ana contou que a viagem para Lisboa no verao foi ótima.";
        assert!(matches("viagens", text));
        assert!(matches("verão", text));
        assert!(!matches("trabalho", text));
        assert!(matches("informação", "pedi mais informações sobre o curso"));
    }

    #[test]
    fn japanese_runs_match_by_character_pairs() {
        let text = "昨日の配信でラーメンを食べました";
        assert!(matches("ラーメンが好き", text));
        assert!(matches("配信", text));
        assert!(!matches("寿司", text));
        // A lone character is searched as itself.
        assert!(matches("猫", "うちの猫はかわいい"));
    }

    #[test]
    fn width_variants_fold_together() {
        assert!(matches("ＡＢＣ", "abc news"));
        assert!(matches("ｶﾀｶﾅ", "カタカナ"));
    }

    #[test]
    fn terms_hold_no_query_syntax() {
        for term in query_terms("cats AND \"dogs\"* OR (birds) -fish NEAR/2 x:y", 64) {
            assert!(term.chars().all(char::is_alphanumeric), "{term}");
        }
    }
}
