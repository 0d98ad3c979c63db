//! Collection names for vector databases, from any collection, tenant and
//! user string.
//!
//! The names use only `[a-zA-Z0-9_-]`, start with a letter and end with a
//! digit or letter, and stay under 200 bytes, which every supported server
//! accepts (Chroma's rules are the strictest: 3–512 characters, no `..`, not
//! an IPv4 address). They keep a readable, sanitised prefix of each part and
//! end with a hash of the exact parts, so distinct owners never share a
//! collection even when their sanitised forms agree.

use sha2::{Digest, Sha256};

/// Longest sanitised part kept in a name.
const PART_CHARS: usize = 40;

fn sanitise(part: &str) -> String {
    let s: String = part
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(PART_CHARS)
        .collect();
    if s.is_empty() { "x".into() } else { s }
}

/// The first `bytes` bytes (at most 32) of a SHA-256 of `parts`, in hex.
/// Each part is hashed after its length, so no two lists of parts share a
/// digest by where their boundaries fall.
pub fn parts_digest(parts: &[&str], bytes: usize) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    hex::encode(&digest[..bytes.min(digest.len())])
}

/// The backend name for `parts` (a collection, then any owner parts).
pub fn collection_name(parts: &[&str]) -> String {
    let digest = parts_digest(parts, 6);
    let readable: Vec<String> = parts.iter().map(|p| sanitise(p)).collect();
    // Starts with a letter, so never an IPv4 address; "_" separates parts and
    // there are no periods at all.
    format!("m-{}_{digest}", readable.join("_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(name: &str) -> bool {
        let chars_ok = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        let ends_ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && name
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric());
        chars_ok && ends_ok && (3..=512).contains(&name.len()) && !name.contains("..")
    }

    #[test]
    fn any_string_gives_a_valid_distinct_name() {
        let nasty = [
            "",
            "a",
            "..",
            "192.168.0.1",
            "Ünïcödé user",
            "x/y\\z",
            "emoji 🎉",
            &"long".repeat(300),
            "a b",
            "a-b",
        ];
        let mut seen = std::collections::HashSet::new();
        for t in nasty {
            for u in nasty {
                let n = collection_name(&["memories", t, u]);
                assert!(valid(&n), "invalid name {n:?} for {t:?}/{u:?}");
                assert!(seen.insert(n.clone()), "collision on {n:?}");
            }
        }
        // Parts whose sanitised forms agree still differ.
        assert_ne!(collection_name(&["a b"]), collection_name(&["a-b"]));
        // Part boundaries count.
        assert_ne!(collection_name(&["ab", "c"]), collection_name(&["a", "bc"]));
        assert_eq!(
            collection_name(&["memories"]),
            collection_name(&["memories"])
        );
    }
}
