//! Text helpers shared by keyword backends.

/// Common English words that carry no meaning for keyword search.
pub const STOPWORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have",
    "he", "her", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "me",
    "my", "no", "not", "of", "on", "or", "our", "she", "should", "so", "that", "the", "their",
    "them", "there", "they", "this", "to", "was", "we", "were", "what", "when", "where", "which",
    "who", "why", "will", "with", "would", "you", "your",
];

/// The words of a query worth searching: lower-cased alphanumeric runs,
/// stopwords dropped unless nothing else is left, at most `max` words.
pub fn keywords(text: &str, max: usize) -> Vec<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let content: Vec<String> = words
        .iter()
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .cloned()
        .collect();
    let mut out = if content.is_empty() { words } else { content };
    out.dedup();
    out.truncate(max);
    out
}

#[cfg(test)]
mod tests {
    use super::keywords;

    #[test]
    fn drops_stopwords_unless_nothing_is_left() {
        assert_eq!(keywords("What should I not cook for her?", 10), ["cook"]);
        assert_eq!(keywords("who is it", 10), ["who", "is", "it"]);
        assert!(keywords("?!", 10).is_empty());
    }
}
