//! Filters in a backend's own language, relaxed where it cannot say them.
//!
//! A backend that filters natively spells each condition it can, and the
//! rest is relaxed to a superset: the index then fetches more candidates
//! and checks every hit against the whole filter. The relaxation rules are
//! the same for every backend, so they live here once.

use super::{Condition, Filter};

/// How a backend spells filters.
pub trait Spelling {
    /// A spelled filter.
    type Out;
    /// One condition, or `None` when the backend cannot say it.
    fn condition(&self, c: &Condition) -> Option<Self::Out>;
    /// All of `parts` (never empty).
    fn all(&self, parts: Vec<Self::Out>) -> Self::Out;
    /// Any of `parts` (never empty).
    fn any(&self, parts: Vec<Self::Out>) -> Self::Out;
    /// The negation of an exact part, or `None` when the backend's negation
    /// differs from ours (how it treats absent fields, say).
    fn not(&self, inner: Self::Out) -> Option<Self::Out>;
}

impl Filter {
    /// This filter in `s`'s spelling, and whether the spelling is exact.
    /// `None` matches everything; an inexact spelling is a superset of the
    /// filter, never a subset, so checking hits afterwards makes it exact.
    pub fn spell<S: Spelling>(&self, s: &S) -> (Option<S::Out>, bool) {
        match self {
            Self::Cond(c) => match s.condition(c) {
                Some(v) => (Some(v), true),
                None => (None, false),
            },
            Self::And(items) => {
                let (mut parts, mut exact) = (Vec::new(), true);
                for i in items {
                    // Dropping a part of an `and` only widens it.
                    let (c, e) = i.spell(s);
                    exact &= e;
                    parts.extend(c);
                }
                if parts.is_empty() {
                    (None, exact)
                } else {
                    (Some(s.all(parts)), exact)
                }
            }
            Self::Or(items) => {
                if items.is_empty() {
                    // Matches nothing: the check afterwards drops every hit.
                    return (None, false);
                }
                let (mut parts, mut exact) = (Vec::new(), true);
                for i in items {
                    match i.spell(s) {
                        // A branch that matches everything makes the `or` do so.
                        (None, _) => return (None, false),
                        (Some(c), e) => {
                            exact &= e;
                            parts.push(c);
                        }
                    }
                }
                (Some(s.any(parts)), exact)
            }
            Self::Not(inner) => match inner.spell(s) {
                // The negation of a superset would drop matches: relax instead.
                (Some(c), true) => match s.not(c) {
                    Some(n) => (Some(n), true),
                    None => (None, false),
                },
                _ => (None, false),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;
    use crate::Op;

    /// Spells as text; cannot say `$contains`, and negates only when asked.
    struct Text {
        negates: bool,
    }

    impl Spelling for Text {
        type Out = String;
        fn condition(&self, c: &Condition) -> Option<String> {
            (c.op != Op::Contains).then(|| format!("{}", c.field))
        }
        fn all(&self, parts: Vec<String>) -> String {
            format!("all({})", parts.join(","))
        }
        fn any(&self, parts: Vec<String>) -> String {
            format!("any({})", parts.join(","))
        }
        fn not(&self, inner: String) -> Option<String> {
            self.negates.then(|| format!("not({inner})"))
        }
    }

    fn spell(f: serde_json::Value, negates: bool) -> (Option<String>, bool) {
        Filter::parse(&f).unwrap().spell(&Text { negates })
    }

    #[test]
    fn relaxes_to_a_superset_never_a_subset() {
        let both = json!({"user_id": "a", "kind": "fact"});
        assert_eq!(spell(both, true), (Some("all(kind,user_id)".into()), true));
        // An unsayable part of an `and` is dropped; of an `or`, it widens all.
        let and = json!({"user_id": "a", "metadata.tags": {"$contains": "x"}});
        assert_eq!(spell(and, true), (Some("all(user_id)".into()), false));
        let or = json!({"$or": [{"user_id": "a"}, {"metadata.tags": {"$contains": "x"}}]});
        assert_eq!(spell(or, true), (None, false));
        // Negation only of exact parts, and only where the backend agrees.
        let not = json!({"$not": {"user_id": "a"}});
        assert_eq!(
            spell(not.clone(), true),
            (Some("not(user_id)".into()), true)
        );
        assert_eq!(spell(not, false), (None, false));
        let not_inexact = json!({"$not": {"metadata.tags": {"$contains": "x"}}});
        assert_eq!(spell(not_inexact, true), (None, false));
    }
}
