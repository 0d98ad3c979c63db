//! The filter language as Qdrant filters, and the payload they run on.
//!
//! The payload is stored as the JSON of [`memory_core::VectorPayload`], so metadata paths
//! are Qdrant keys as they are (`metadata.topic`). Qdrant's `must_not`
//! matches points where a field is missing, as our `$ne`, `$nin` and `$not`
//! do, so almost the whole language translates exactly. What does not
//! (substring `$contains`, string ranges, a `$not` over a relaxed part) is
//! relaxed to a superset, and the index checks every hit against the whole
//! filter on the returned payload, so results are always exact.

use memory_core::filter::{Condition as Cond, Spelling};
use memory_core::{Field, Filter, Op};
use qdrant_client::qdrant::r#match::MatchValue;
use qdrant_client::qdrant::{
    Condition, FieldCondition, Filter as QFilter, Match, Range, RepeatedStrings,
};
use serde_json::Value;

/// Operators translated exactly on every field.
pub const EXACT_OPS: &[Op] = &[
    Op::Eq,
    Op::Ne,
    Op::Gt,
    Op::Gte,
    Op::Lt,
    Op::Lte,
    Op::In,
    Op::Nin,
];

/// A Qdrant filter, and whether it is exactly the filter (not a superset).
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    /// The filter (always pins the tenant).
    pub filter: QFilter,
    /// Whether every point it matches also matches our filter.
    pub exact: bool,
}

/// The payload key of a field.
pub fn key(field: &Field) -> Option<String> {
    Some(match field {
        Field::UserId => "user_id".into(),
        Field::AgentId => "agent_id".into(),
        Field::SessionId => "session_id".into(),
        Field::Kind => "kind".into(),
        Field::Importance => "importance".into(),
        Field::Confidence => "confidence".into(),
        Field::CreatedAt => "created_at".into(),
        Field::UpdatedAt => "updated_at".into(),
        Field::ExpiresAt => "expires_at".into(),
        Field::ValidFrom => "valid_from".into(),
        Field::ValidUntil => "valid_until".into(),
        // Not copied to the index: it changes on every read.
        Field::LastAccessedAt => return None,
        Field::Metadata(path) => {
            // Qdrant reads `.` and `[]` in keys as path syntax.
            if path
                .iter()
                .any(|s| s.is_empty() || s.contains(['.', '[', ']', '"']))
            {
                return None;
            }
            format!("metadata.{}", path.join("."))
        }
    })
}

fn field_match(key: String, m: MatchValue) -> Condition {
    Condition::from(FieldCondition {
        key,
        r#match: Some(Match {
            match_value: Some(m),
        }),
        ..FieldCondition::default()
    })
}

fn range(key: String, r: Range) -> Condition {
    Condition::range(key, r)
}

/// Equality with one JSON value: keywords, booleans, and numbers (as a
/// closed range, since stored numbers may be integers or floats).
fn equals(key: String, v: &Value) -> Option<Condition> {
    match v {
        Value::String(s) => Some(field_match(key, MatchValue::Keyword(s.clone()))),
        Value::Bool(b) => Some(field_match(key, MatchValue::Boolean(*b))),
        Value::Number(n) => {
            let x = n.as_f64()?;
            Some(range(
                key,
                Range {
                    gte: Some(x),
                    lte: Some(x),
                    ..Range::default()
                },
            ))
        }
        _ => None,
    }
}

fn one_of(key: &str, values: &[Value]) -> Option<Condition> {
    if values.is_empty() {
        return None;
    }
    if let Some(strings) = values
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()
    {
        return Some(field_match(
            key.to_owned(),
            MatchValue::Keywords(RepeatedStrings { strings }),
        ));
    }
    let each: Option<Vec<Condition>> = values.iter().map(|v| equals(key.to_owned(), v)).collect();
    Some(Condition::from(QFilter::should(each?)))
}

fn not(c: Condition) -> Condition {
    Condition::from(QFilter::must_not([c]))
}

fn condition(c: &Cond) -> Option<Condition> {
    let key = key(&c.field)?;
    match c.op {
        Op::Eq => equals(key, &c.value),
        Op::Ne => equals(key, &c.value).map(not),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            let x = c.value.as_f64()?;
            let mut r = Range::default();
            match c.op {
                Op::Gt => r.gt = Some(x),
                Op::Gte => r.gte = Some(x),
                Op::Lt => r.lt = Some(x),
                _ => r.lte = Some(x),
            }
            Some(range(key, r))
        }
        Op::In => one_of(&key, c.value.as_array()?),
        Op::Nin => one_of(&key, c.value.as_array()?).map(not),
        // Qdrant's `is_empty` also holds for `[]`, and `is_null` not for a
        // missing key: neither is our "present", so the exact check decides.
        Op::Exists => None,
        Op::Contains => None,
    }
}

/// Qdrant's filters: its `must_not` matches points where a field is absent,
/// as our negations do, so negation translates exactly.
struct QdrantSpelling;

impl Spelling for QdrantSpelling {
    type Out = Condition;
    fn condition(&self, c: &Cond) -> Option<Condition> {
        condition(c)
    }
    fn all(&self, parts: Vec<Condition>) -> Condition {
        Condition::from(QFilter::must(parts))
    }
    fn any(&self, parts: Vec<Condition>) -> Condition {
        Condition::from(QFilter::should(parts))
    }
    fn not(&self, inner: Condition) -> Option<Condition> {
        Some(not(inner))
    }
}

/// Translates `filter` (if any) for `tenant`.
pub fn translate(tenant: &str, filter: Option<&Filter>) -> Translated {
    let (cond, exact) = filter.map_or((None, true), |f| f.spell(&QdrantSpelling));
    let mut must = vec![field_match(
        "tenant".into(),
        MatchValue::Keyword(tenant.to_owned()),
    )];
    must.extend(cond);
    Translated {
        filter: QFilter::must(must),
        exact,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn t(f: Value) -> Translated {
        translate("t", Some(&Filter::parse(&f).unwrap()))
    }

    fn debug(t: &Translated) -> String {
        format!("{:?}", t.filter)
    }

    #[test]
    fn the_whole_language_translates_exactly_where_qdrant_can() {
        for f in [
            json!({"user_id": "alice"}),
            json!({"user_id": {"$ne": "alice"}}),
            json!({"importance": {"$gte": 7}, "created_at": {"$lt": "2026-01-01T00:00:00Z"}}),
            json!({"kind": {"$in": ["fact", "preference"]}}),
            json!({"kind": {"$nin": ["event"]}}),
            json!({"metadata.topic": "tea"}),
            json!({"metadata.score": 3}),
            json!({"metadata.flag": true}),
            json!({"$or": [{"kind": "fact"}, {"metadata.topic": {"$in": ["a", "b"]}}]}),
            json!({"$not": {"user_id": "bob"}}),
            json!({"$and": [{"$or": [{"kind": "fact"}, {"importance": {"$gt": 2}}]}, {"$not": {"metadata.a.b": 1}}]}),
        ] {
            let got = t(f.clone());
            assert!(got.exact, "{f} should be exact: {got:?}");
            assert!(debug(&got).contains("\"t\""), "tenant not pinned for {f}");
        }
    }

    #[test]
    fn keywords_with_spaces_stay_keywords() {
        // qdrant-client turns a String with whitespace into a full-text match.
        let got = t(json!({"metadata.topic": "green tea"}));
        let d = debug(&got);
        assert!(
            d.contains("Keyword(\"green tea\")") && !d.contains("Text("),
            "{d}"
        );
    }

    #[test]
    fn numbers_compare_by_value() {
        let d = debug(&t(json!({"importance": 5})));
        assert!(
            d.contains("gte: Some(5.0)") && d.contains("lte: Some(5.0)"),
            "{d}"
        );
        let d = debug(&t(json!({"importance": {"$in": [5, 7]}})));
        assert!(d.contains("should") && d.contains("gte: Some(7.0)"), "{d}");
    }

    #[test]
    fn what_qdrant_cannot_say_is_relaxed_never_narrowed() {
        for f in [
            json!({"metadata.tags": {"$contains": "x"}}),
            json!({"metadata.name": {"$gt": "m"}}),
            json!({"expires_at": {"$exists": false}}),
            json!({"metadata.x": {"$exists": true}}),
            json!({"$not": {"metadata.tags": {"$contains": "x"}}}),
            json!({"$or": [{"kind": "fact"}, {"metadata.t": {"$contains": "y"}}]}),
            json!({"last_accessed_at": {"$gt": 0}}),
        ] {
            let got = t(f.clone());
            assert!(!got.exact, "{f} claimed exact");
            // Only the tenant (and exact siblings) remain.
            assert!(debug(&got).contains("\"t\""));
        }
        let got = t(json!({"kind": "fact", "metadata.tags": {"$contains": "x"}}));
        assert!(!got.exact);
        assert!(debug(&got).contains("Keyword(\"fact\")"));
    }

    #[test]
    fn odd_metadata_keys_are_not_paths() {
        assert_eq!(key(&Field::Metadata(vec!["a.b".into()])), None);
        assert_eq!(
            key(&Field::Metadata(vec!["a".into(), "b".into()])).as_deref(),
            Some("metadata.a.b")
        );
    }
}
