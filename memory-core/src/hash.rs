//! Content normalisation and hashing for exact de-duplication.

use sha2::{Digest, Sha256};

/// Trims and collapses runs of white space, so re-typed duplicates hash alike.
pub fn normalize_content(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Hex SHA-256 of the normalised content.
pub fn content_hash(s: &str) -> String {
    hex::encode(Sha256::digest(normalize_content(s).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_does_not_change_the_hash() {
        assert_eq!(content_hash(" likes  tea\n"), content_hash("likes tea"));
        assert_ne!(content_hash("likes tea"), content_hash("Likes tea"));
    }
}
