//! Evaluating a filter in process, with the semantics every backend matches.

use serde_json::{Map, Value};

use super::{Condition, Field, Op};

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
            Field::ValidFrom => self.valid_from.map_or(FieldValue::Missing, ms),
            Field::ValidUntil => self.valid_until.map_or(FieldValue::Missing, ms),
            Field::Metadata(p) => metadata_path(&self.metadata, p),
        }
    }
}
