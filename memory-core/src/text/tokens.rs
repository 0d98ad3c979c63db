//! Splitting text into words and CJK runs, and folding a word for matching.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// One piece of text worth indexing.
pub(super) enum Token {
    /// A run of letters, digits and marks in a script that spaces its words,
    /// NFKC-normalised and lower-cased, diacritics kept (stemmers need them).
    Word(String),
    /// A run of Chinese, Japanese or Korean characters.
    Cjk(Vec<char>),
}

/// Whether `c` belongs to a script written without spaces between words
/// (Han, kana), or to Hangul, whose particles attach to words.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3005}' | '\u{3007}'
        | '\u{3040}'..='\u{30FF}'
        | '\u{31F0}'..='\u{31FF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{1100}'..='\u{11FF}'
        | '\u{3130}'..='\u{318F}'
        | '\u{AC00}'..='\u{D7AF}'
        | '\u{20000}'..='\u{2FA1F}')
}

/// The words and CJK runs of `text`, after NFKC (so full-width Latin and
/// half-width kana read as their usual forms) and lower-casing.
pub(super) fn tokens(text: &str) -> impl Iterator<Item = Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    for c in text.nfkc().flat_map(char::to_lowercase) {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(Token::Word(std::mem::take(&mut word)));
            }
            run.push(c);
        } else {
            if !run.is_empty() {
                out.push(Token::Cjk(std::mem::take(&mut run)));
            }
            if c.is_alphanumeric() || (is_combining_mark(c) && !word.is_empty()) {
                word.push(c);
            } else if !word.is_empty() {
                out.push(Token::Word(std::mem::take(&mut word)));
            }
        }
    }
    if !word.is_empty() {
        out.push(Token::Word(word));
    }
    if !run.is_empty() {
        out.push(Token::Cjk(run));
    }
    out.into_iter()
}

/// `word` as it is matched: without the Latin diacritics (so `não` and
/// `nao` agree, as people type both); other scripts' marks are kept, since
/// they change the letter.
pub(super) fn fold(word: &str) -> String {
    if word.is_ascii() {
        return word.to_owned();
    }
    word.nfd()
        .filter(|c| !matches!(c, '\u{0300}'..='\u{036F}'))
        .nfc()
        .collect()
}
