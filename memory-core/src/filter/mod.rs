//! The filter language shared by every backend.
//!
//! The JSON form: `{"kind": "fact"}` (equality), `{"importance": {"gte": 5}}`
//! (operators), `{"and": [...]}`, `{"or": [...]}`, `{"not": {...}}`; several
//! keys in one object are and-ed. Operators: `eq ne gt gte lt lte in nin
//! contains exists` (a leading `$` is accepted too). Fields: `user_id`,
//! `agent_id`, `session_id`, `kind`, `importance`, `confidence`, `created_at`,
//! `updated_at`, `last_accessed_at`, `expires_at` and `metadata.<key>[.<key>…]`.
//! Timestamps take RFC 3339 strings or milliseconds since the epoch.
//!
//! Semantics every backend must match (the conformance suite checks them
//! against [`Filter::matches`]): `ne` and `nin` match a missing field; `gt`,
//! `gte`, `lt`, `lte` compare numbers with numbers and strings with strings
//! and never match across types; `contains` is a substring test on a string
//! and a membership test on an array; `exists: true` matches a present,
//! non-null field.

mod eval;
mod field;
mod parse;
mod spell;

pub use eval::{FieldValue, Filterable, metadata_path, opt};
pub use field::{Field, Op, is_valid_key};
pub use spell::Spelling;

use serde_json::{Map, Value};

use crate::{Error, Result};

/// The most conditions one filter may hold, so a filter cannot be a denial of service.
pub const MAX_FILTER_NODES: usize = 256;
/// The deepest nesting of and/or/not.
pub const MAX_FILTER_DEPTH: usize = 16;

/// One test of one field.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The field.
    pub field: Field,
    /// The operator.
    pub op: Op,
    /// The operand; timestamps are already milliseconds, `in`/`nin` an array.
    pub value: Value,
}

/// A parsed, validated filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// All must match (an empty list matches everything).
    And(Vec<Filter>),
    /// One must match (an empty list matches nothing).
    Or(Vec<Filter>),
    /// Must not match.
    Not(Box<Filter>),
    /// A single test.
    Cond(Condition),
}

impl Filter {
    /// Parses and validates the JSON form; the error names the bad key or operator.
    pub fn parse(value: &Value) -> Result<Self> {
        let mut nodes = 0;
        let f = parse::parse_node(value, 0, &mut nodes)?;
        Ok(f.simplify())
    }

    /// Parses the JSON form from a string.
    pub fn parse_str(s: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(s)
            .map_err(|e| Error::invalid(format!("filter: not valid JSON: {e}")))?;
        Self::parse(&v)
    }

    /// Equality on one field.
    pub fn eq(field: Field, value: impl Into<Value>) -> Self {
        Self::Cond(Condition {
            field,
            op: Op::Eq,
            value: value.into(),
        })
    }

    /// `self AND other`.
    pub fn and(self, other: Filter) -> Self {
        match (self, other) {
            (Filter::And(mut a), Filter::And(b)) => {
                a.extend(b);
                Filter::And(a)
            }
            (Filter::And(mut a), b) => {
                a.push(b);
                Filter::And(a)
            }
            (a, Filter::And(mut b)) => {
                b.insert(0, a);
                Filter::And(b)
            }
            (a, b) => Filter::And(vec![a, b]),
        }
    }

    fn simplify(self) -> Self {
        match self {
            Filter::And(mut v) if v.len() == 1 => v.remove(0).simplify(),
            Filter::Or(mut v) if v.len() == 1 => v.remove(0).simplify(),
            Filter::And(v) => Filter::And(v.into_iter().map(Filter::simplify).collect()),
            Filter::Or(v) => Filter::Or(v.into_iter().map(Filter::simplify).collect()),
            Filter::Not(f) => Filter::Not(Box::new(f.simplify())),
            c => c,
        }
    }

    /// Every condition, depth first.
    pub fn conditions(&self) -> Vec<&Condition> {
        let mut out = Vec::new();
        self.walk(&mut |c| out.push(c));
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Condition)) {
        match self {
            Filter::And(v) | Filter::Or(v) => v.iter().for_each(|x| x.walk(f)),
            Filter::Not(x) => x.walk(f),
            Filter::Cond(c) => f(c),
        }
    }

    /// Whether every operator used is in `ops` and every nesting is supported.
    pub fn uses_only(&self, ops: &[Op]) -> bool {
        self.conditions().iter().all(|c| ops.contains(&c.op))
    }

    /// The value a top-level `and` pins `field` to with `eq`, if any.
    pub fn pinned(&self, field: &Field) -> Option<&Value> {
        match self {
            Filter::Cond(c) if &c.field == field && c.op == Op::Eq => Some(&c.value),
            Filter::And(v) => v.iter().find_map(|f| f.pinned(field)),
            _ => None,
        }
    }

    /// Evaluates the filter against a target, in process.
    pub fn matches(&self, target: &impl Filterable) -> bool {
        match self {
            Filter::And(v) => v.iter().all(|f| f.matches(target)),
            Filter::Or(v) => v.iter().any(|f| f.matches(target)),
            Filter::Not(f) => !f.matches(target),
            Filter::Cond(c) => c.matches(&target.field(&c.field)),
        }
    }

    /// The JSON form, which [`Filter::parse`] reads back to an equal filter.
    pub fn to_json(&self) -> Value {
        match self {
            Filter::And(v) => {
                serde_json::json!({ "and": v.iter().map(Filter::to_json).collect::<Vec<_>>() })
            }
            Filter::Or(v) => {
                serde_json::json!({ "or": v.iter().map(Filter::to_json).collect::<Vec<_>>() })
            }
            Filter::Not(f) => serde_json::json!({ "not": f.to_json() }),
            Filter::Cond(c) => {
                let mut inner = Map::new();
                inner.insert(c.op.as_str().to_owned(), c.value.clone());
                let mut outer = Map::new();
                outer.insert(c.field.to_string(), Value::Object(inner));
                Value::Object(outer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_spec_example() {
        let f = Filter::parse(&json!({"and":[{"kind":"fact"},{"importance":{"gte":5}},{"metadata.topic":{"in":["pets"]}}]})).unwrap();
        let Filter::And(parts) = &f else {
            unreachable!()
        };
        assert_eq!(parts.len(), 3);
        assert_eq!(Filter::parse(&f.to_json()).unwrap(), f);
    }

    #[test]
    fn errors_name_the_problem() {
        let e = Filter::parse(&json!({"colour": "red"})).unwrap_err();
        assert!(e.message().contains("\"colour\""), "{e}");
        let e = Filter::parse(&json!({"importance": {"between": [1, 2]}})).unwrap_err();
        assert!(e.message().contains("\"between\""), "{e}");
        let e = Filter::parse(&json!({"importance": "high"})).unwrap_err();
        assert!(e.message().contains("importance"), "{e}");
        let e = Filter::parse(&json!({"metadata.a b": 1})).unwrap_err();
        assert!(e.message().contains("metadata.a b"), "{e}");
        let e = Filter::parse(&json!({"created_at": {"gt": "yesterday"}})).unwrap_err();
        assert!(e.message().contains("RFC 3339"), "{e}");
        assert!(Filter::parse(&json!([1])).is_err());
        assert!(Filter::parse(&json!({"kind": {"in": "fact"}})).is_err());
    }

    #[test]
    fn timestamps_become_millis() {
        let f = Filter::parse(&json!({"created_at": {"gte": "1970-01-01T00:00:01Z"}})).unwrap();
        assert_eq!(f.conditions()[0].value, json!(1000));
    }

    #[test]
    fn pinned_finds_top_level_equality() {
        let f = Filter::parse(&json!({"user_id": "u1", "kind": "fact"})).unwrap();
        assert_eq!(f.pinned(&Field::UserId), Some(&json!("u1")));
        let f = Filter::parse(&json!({"or": [{"user_id": "u1"}, {"user_id": "u2"}]})).unwrap();
        assert_eq!(f.pinned(&Field::UserId), None);
    }

    #[test]
    fn semantics_of_missing_and_types() {
        let meta = json!({"n": 5, "s": "abc", "tags": ["a", "b"], "deep": {"x": true}});
        let meta = meta.as_object().unwrap().clone();
        struct T(Map<String, Value>);
        impl Filterable for T {
            fn field(&self, f: &Field) -> FieldValue<'_> {
                match f {
                    Field::Metadata(p) => metadata_path(&self.0, p),
                    _ => FieldValue::Missing,
                }
            }
        }
        let t = T(meta);
        let m = |j: Value| Filter::parse(&j).unwrap().matches(&t);
        assert!(m(json!({"metadata.n": {"gt": 4}})));
        assert!(
            !m(json!({"metadata.s": {"gt": 4}})),
            "no cross-type comparison"
        );
        assert!(
            m(json!({"metadata.missing": {"ne": 1}})),
            "ne matches missing"
        );
        assert!(m(json!({"metadata.missing": {"nin": [1]}})));
        assert!(!m(json!({"metadata.missing": {"eq": 1}})));
        assert!(m(json!({"metadata.tags": {"contains": "a"}})));
        assert!(m(json!({"metadata.s": {"contains": "bc"}})));
        assert!(m(json!({"metadata.deep.x": true})));
        assert!(m(json!({"metadata.deep": {"exists": true}})));
        assert!(m(json!({"metadata.nope": {"exists": false}})));
        assert!(m(json!({"not": {"metadata.n": 6}})));
        assert!(m(json!({"or": [{"metadata.n": 6}, {"metadata.s": "abc"}]})));
    }
}
