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

mod spell;
pub use spell::Spelling;

use std::fmt;

use chrono::DateTime;
use serde_json::{Map, Value};

use crate::{Error, Result};

/// The most conditions one filter may hold, so a filter cannot be a denial of service.
pub const MAX_FILTER_NODES: usize = 256;
/// The deepest nesting of and/or/not.
pub const MAX_FILTER_DEPTH: usize = 16;

/// A field a filter can test.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// `user_id`.
    UserId,
    /// `agent_id`.
    AgentId,
    /// `session_id`.
    SessionId,
    /// `kind`.
    Kind,
    /// `importance`.
    Importance,
    /// `confidence`.
    Confidence,
    /// `created_at`, compared as milliseconds.
    CreatedAt,
    /// `updated_at`, compared as milliseconds.
    UpdatedAt,
    /// `last_accessed_at`, compared as milliseconds.
    LastAccessedAt,
    /// `expires_at`, compared as milliseconds.
    ExpiresAt,
    /// `metadata.<path>`: the path's segments.
    Metadata(Vec<String>),
}

impl Field {
    /// The names of the fixed fields, for error messages.
    pub const NAMES: &'static [&'static str] = &[
        "user_id",
        "agent_id",
        "session_id",
        "kind",
        "importance",
        "confidence",
        "created_at",
        "updated_at",
        "last_accessed_at",
        "expires_at",
    ];

    /// Parses a field name, validating metadata paths.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "user_id" => Self::UserId,
            "agent_id" => Self::AgentId,
            "session_id" => Self::SessionId,
            "kind" => Self::Kind,
            "importance" => Self::Importance,
            "confidence" => Self::Confidence,
            "created_at" => Self::CreatedAt,
            "updated_at" => Self::UpdatedAt,
            "last_accessed_at" => Self::LastAccessedAt,
            "expires_at" => Self::ExpiresAt,
            other => {
                let Some(path) = other.strip_prefix("metadata.") else {
                    return Err(Error::invalid(format!(
                        "filter: unknown field {other:?} (expected one of {}, or metadata.<key>)",
                        Self::NAMES.join(", ")
                    )));
                };
                let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
                for s in &segments {
                    if !is_valid_key(s) {
                        return Err(Error::invalid(format!(
                            "filter: invalid metadata key {other:?} (segments use letters, digits, _ and -, at most 64 bytes)"
                        )));
                    }
                }
                Self::Metadata(segments)
            }
        })
    }

    /// Whether the field holds a timestamp.
    pub fn is_time(&self) -> bool {
        matches!(
            self,
            Self::CreatedAt | Self::UpdatedAt | Self::LastAccessedAt | Self::ExpiresAt
        )
    }

    /// Whether the field holds a number.
    pub fn is_numeric(&self) -> bool {
        self.is_time() || matches!(self, Self::Importance | Self::Confidence)
    }

    /// Whether the field holds text.
    pub fn is_text(&self) -> bool {
        matches!(
            self,
            Self::UserId | Self::AgentId | Self::SessionId | Self::Kind
        )
    }
}

/// Whether `s` is a valid metadata key segment.
pub fn is_valid_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UserId => f.write_str("user_id"),
            Self::AgentId => f.write_str("agent_id"),
            Self::SessionId => f.write_str("session_id"),
            Self::Kind => f.write_str("kind"),
            Self::Importance => f.write_str("importance"),
            Self::Confidence => f.write_str("confidence"),
            Self::CreatedAt => f.write_str("created_at"),
            Self::UpdatedAt => f.write_str("updated_at"),
            Self::LastAccessedAt => f.write_str("last_accessed_at"),
            Self::ExpiresAt => f.write_str("expires_at"),
            Self::Metadata(p) => write!(f, "metadata.{}", p.join(".")),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal, or missing.
    Ne,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Equal to one of a list.
    In,
    /// Equal to none of a list, or missing.
    Nin,
    /// Substring of a string, or element of an array.
    Contains,
    /// Present (true) or absent (false).
    Exists,
}

impl Op {
    /// Every operator, for capabilities.
    pub const ALL: &'static [Op] = &[
        Op::Eq,
        Op::Ne,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::In,
        Op::Nin,
        Op::Contains,
        Op::Exists,
    ];

    fn parse(name: &str) -> Option<Self> {
        Some(match name.strip_prefix('$').unwrap_or(name) {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "in" => Self::In,
            "nin" => Self::Nin,
            "contains" => Self::Contains,
            "exists" => Self::Exists,
            _ => return None,
        })
    }

    /// The operator's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Gte => "gte",
            Self::Lt => "lt",
            Self::Lte => "lte",
            Self::In => "in",
            Self::Nin => "nin",
            Self::Contains => "contains",
            Self::Exists => "exists",
        }
    }
}

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
        let f = parse_node(value, 0, &mut nodes)?;
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

fn parse_node(value: &Value, depth: usize, nodes: &mut usize) -> Result<Filter> {
    if depth > MAX_FILTER_DEPTH {
        return Err(Error::invalid(format!(
            "filter: nested deeper than {MAX_FILTER_DEPTH} levels"
        )));
    }
    let Value::Object(map) = value else {
        return Err(Error::invalid(format!(
            "filter: expected a JSON object, got {}",
            type_name(value)
        )));
    };
    let mut parts = Vec::with_capacity(map.len());
    for (key, v) in map {
        *nodes += 1;
        if *nodes > MAX_FILTER_NODES {
            return Err(Error::invalid(format!(
                "filter: more than {MAX_FILTER_NODES} conditions"
            )));
        }
        match key.strip_prefix('$').unwrap_or(key) {
            k @ ("and" | "or") => {
                let Value::Array(items) = v else {
                    return Err(Error::invalid(format!(
                        "filter: {k:?} takes an array of filters"
                    )));
                };
                let subs = items
                    .iter()
                    .map(|i| parse_node(i, depth + 1, nodes))
                    .collect::<Result<Vec<_>>>()?;
                parts.push(if k == "and" {
                    Filter::And(subs)
                } else {
                    Filter::Or(subs)
                });
            }
            "not" => parts.push(Filter::Not(Box::new(parse_node(v, depth + 1, nodes)?))),
            _ => {
                let field = Field::parse(key)?;
                match v {
                    Value::Object(ops)
                        if ops.keys().all(|k| Op::parse(k).is_some()) && !ops.is_empty() =>
                    {
                        for (op_name, operand) in ops {
                            if let Some(op) = Op::parse(op_name) {
                                parts.push(Filter::Cond(condition(field.clone(), op, operand)?));
                            }
                        }
                    }
                    Value::Object(ops) => {
                        let bad = ops.keys().find(|k| Op::parse(k).is_none());
                        return Err(Error::invalid(format!(
                            "filter: unknown operator {:?} on {key:?} (expected one of eq, ne, gt, gte, lt, lte, in, nin, contains, exists)",
                            bad.map(String::as_str).unwrap_or("")
                        )));
                    }
                    other => parts.push(Filter::Cond(condition(field, Op::Eq, other)?)),
                }
            }
        }
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Filter::And(parts)
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn condition(field: Field, op: Op, operand: &Value) -> Result<Condition> {
    let bad = |why: &str| {
        Err(Error::invalid(format!(
            "filter: {field} {}: {why}",
            op.as_str()
        )))
    };
    let value = match op {
        Op::Exists => match operand {
            Value::Bool(_) => operand.clone(),
            _ => return bad("takes true or false"),
        },
        Op::In | Op::Nin => {
            let Value::Array(items) = operand else {
                return bad("takes an array");
            };
            if items.len() > MAX_FILTER_NODES {
                return bad("list is too long");
            }
            Value::Array(
                items
                    .iter()
                    .map(|i| scalar(&field, op, i))
                    .collect::<Result<_>>()?,
            )
        }
        Op::Contains => match operand {
            Value::String(_) | Value::Number(_) | Value::Bool(_) if !field.is_numeric() => {
                operand.clone()
            }
            _ if field.is_numeric() => return bad("applies to text and arrays only"),
            _ => return bad("takes a string, number or boolean"),
        },
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            let v = scalar(&field, op, operand)?;
            match (&v, field.is_text()) {
                (Value::Number(_), false) | (Value::String(_), _) => v,
                _ => return bad("takes a number or a string"),
            }
        }
        Op::Eq | Op::Ne => scalar(&field, op, operand)?,
    };
    Ok(Condition { field, op, value })
}

/// Validates one scalar operand, converting timestamps to milliseconds.
fn scalar(field: &Field, op: Op, v: &Value) -> Result<Value> {
    let bad = |why: String| {
        Err(Error::invalid(format!(
            "filter: {field} {}: {why}",
            op.as_str()
        )))
    };
    match v {
        Value::Null | Value::Array(_) | Value::Object(_) => {
            bad(format!("takes a scalar, got {}", type_name(v)))
        }
        Value::Number(n) if n.as_f64().is_none_or(|f| !f.is_finite()) => {
            bad("number is not finite".into())
        }
        _ if field.is_time() => match v {
            Value::Number(_) => Ok(v.clone()),
            Value::String(s) => match DateTime::parse_from_rfc3339(s) {
                Ok(t) => Ok(Value::from(t.timestamp_millis())),
                Err(_) => bad(format!("{s:?} is not an RFC 3339 timestamp")),
            },
            _ => bad("takes a timestamp".into()),
        },
        Value::String(_) if field.is_numeric() => bad("takes a number".into()),
        Value::Number(_) | Value::Bool(_) if field.is_text() => bad("takes a string".into()),
        _ => Ok(v.clone()),
    }
}

/// A field's value as a target exposes it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// Absent or null.
    Missing,
    /// Text.
    Str(&'a str),
    /// A number (timestamps in milliseconds).
    Num(f64),
    /// Any JSON (metadata).
    Json(&'a Value),
}

/// An optional text field as a [`FieldValue`].
pub fn opt(o: &Option<String>) -> FieldValue<'_> {
    match o {
        Some(s) => FieldValue::Str(s.as_str()),
        None => FieldValue::Missing,
    }
}

/// Something a filter can be evaluated against.
pub trait Filterable {
    /// The value of `field`.
    fn field(&self, field: &Field) -> FieldValue<'_>;
}

/// Looks up a metadata path in a JSON object.
pub fn metadata_path<'a>(meta: &'a Map<String, Value>, path: &[String]) -> FieldValue<'a> {
    let mut cur: Option<&Value> = None;
    for (i, seg) in path.iter().enumerate() {
        cur = if i == 0 {
            meta.get(seg)
        } else {
            cur.and_then(|v| v.as_object()).and_then(|o| o.get(seg))
        };
    }
    match cur {
        None | Some(Value::Null) => FieldValue::Missing,
        Some(v) => FieldValue::Json(v),
    }
}

enum Scalar<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
}

fn as_scalar<'a>(v: &'a FieldValue<'a>) -> Option<Scalar<'a>> {
    match v {
        FieldValue::Missing => None,
        FieldValue::Str(s) => Some(Scalar::Str(s)),
        FieldValue::Num(n) => Some(Scalar::Num(*n)),
        FieldValue::Json(Value::String(s)) => Some(Scalar::Str(s)),
        FieldValue::Json(Value::Number(n)) => n.as_f64().map(Scalar::Num),
        FieldValue::Json(Value::Bool(b)) => Some(Scalar::Bool(*b)),
        FieldValue::Json(_) => None,
    }
}

fn scalar_eq(a: &Scalar<'_>, b: &Value) -> bool {
    match (a, b) {
        (Scalar::Str(x), Value::String(y)) => *x == y,
        (Scalar::Num(x), Value::Number(y)) => y.as_f64().is_some_and(|y| *x == y),
        (Scalar::Bool(x), Value::Bool(y)) => x == y,
        _ => false,
    }
}

fn compare(a: &Scalar<'_>, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Scalar::Str(x), Value::String(y)) => Some((*x).cmp(y.as_str())),
        (Scalar::Num(x), Value::Number(y)) => y.as_f64().and_then(|y| x.partial_cmp(&y)),
        _ => None,
    }
}

impl Condition {
    /// Evaluates this condition on one field value.
    pub fn matches(&self, v: &FieldValue<'_>) -> bool {
        use std::cmp::Ordering::*;
        let s = as_scalar(v);
        match self.op {
            Op::Exists => self.value.as_bool() == Some(!matches!(v, FieldValue::Missing)),
            Op::Eq => s.is_some_and(|s| scalar_eq(&s, &self.value)),
            Op::Ne => !s.is_some_and(|s| scalar_eq(&s, &self.value)),
            Op::In => s.is_some_and(|s| {
                self.value
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| scalar_eq(&s, x)))
            }),
            Op::Nin => !s.is_some_and(|s| {
                self.value
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| scalar_eq(&s, x)))
            }),
            Op::Gt => s.and_then(|s| compare(&s, &self.value)) == Some(Greater),
            Op::Gte => matches!(
                s.and_then(|s| compare(&s, &self.value)),
                Some(Greater | Equal)
            ),
            Op::Lt => s.and_then(|s| compare(&s, &self.value)) == Some(Less),
            Op::Lte => matches!(s.and_then(|s| compare(&s, &self.value)), Some(Less | Equal)),
            Op::Contains => match v {
                FieldValue::Json(Value::Array(items)) => items.iter().any(|i| i == &self.value),
                _ => match (s, &self.value) {
                    (Some(Scalar::Str(h)), Value::String(n)) => h.contains(n.as_str()),
                    _ => false,
                },
            },
        }
    }
}

impl Filterable for crate::MemoryRecord {
    fn field(&self, field: &Field) -> FieldValue<'_> {
        #[allow(clippy::cast_precision_loss)]
        let ms = |t: chrono::DateTime<chrono::Utc>| FieldValue::Num(t.timestamp_millis() as f64);
        match field {
            Field::UserId => opt(&self.scope.user_id),
            Field::AgentId => opt(&self.scope.agent_id),
            Field::SessionId => opt(&self.scope.session_id),
            Field::Kind => FieldValue::Str(self.kind.as_str()),
            Field::Importance => FieldValue::Num(f64::from(self.importance)),
            Field::Confidence => FieldValue::Num(f64::from(self.confidence)),
            Field::CreatedAt => ms(self.created_at),
            Field::UpdatedAt => ms(self.updated_at),
            Field::LastAccessedAt => ms(self.last_accessed_at),
            Field::ExpiresAt => self.expires_at.map_or(FieldValue::Missing, ms),
            Field::Metadata(p) => metadata_path(&self.metadata, p),
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
