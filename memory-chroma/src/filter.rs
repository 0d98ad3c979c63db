//! The filter language in Chroma's `where`, and the metadata it runs on.
//!
//! Each vector's metadata holds its payload twice: flattened into scalar
//! keys that `where` can test, and whole as JSON under [`PAYLOAD_KEY`].
//! A filter becomes a `where` that matches at least every matching vector
//! (parts Chroma cannot express are left out); the index then checks the
//! whole filter on the JSON payload, so results are always exact and only
//! their number can fall short when the `where` was relaxed.

use memory_core::filter::{Condition, Spelling};
use memory_core::{Field, Filter, Op, VectorPayload};
use serde_json::{Map, Value, json};

/// The payload as JSON, for exact checks and reconstruction.
pub const PAYLOAD_KEY: &str = "_payload";

/// Stored for an absent user, agent or session, so `$ne` and `$eq` treat
/// absence as our filters do. Ids cannot contain control characters.
const ABSENT: &str = "\u{1}";

/// Operators a `where` expresses exactly on every field.
pub const EXACT_OPS: &[Op] = &[Op::Eq, Op::Gt, Op::Gte, Op::Lt, Op::Lte, Op::In];

fn metadata_key(path: &[String]) -> Option<String> {
    let ok = path.iter().all(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    ok.then(|| format!("m.{}", path.join(".")))
}

fn flatten(prefix: &mut Vec<String>, v: &Value, out: &mut Map<String, Value>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                prefix.push(k.clone());
                flatten(prefix, v, out);
                prefix.pop();
            }
        }
        // Numbers are stored as floats: Chroma compares them by value, and
        // filters send floats too.
        Value::Number(n) => {
            if let (Some(key), Some(f)) = (metadata_key(prefix), n.as_f64()) {
                out.insert(key, json!(f));
            }
        }
        Value::String(_) | Value::Bool(_) => {
            if let Some(key) = metadata_key(prefix) {
                out.insert(key, v.clone());
            }
        }
        // Arrays and nulls are left to the exact check.
        Value::Array(_) | Value::Null => {}
    }
}

/// Chroma metadata for a payload.
pub fn metadata(p: &VectorPayload) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("tenant".into(), json!(p.tenant));
    for (k, v) in [
        ("user_id", &p.user_id),
        ("agent_id", &p.agent_id),
        ("session_id", &p.session_id),
    ] {
        m.insert(k.into(), json!(v.as_deref().unwrap_or(ABSENT)));
    }
    m.insert("kind".into(), json!(p.kind));
    m.insert("importance".into(), json!(f64::from(p.importance)));
    m.insert("confidence".into(), json!(f64::from(p.confidence)));
    #[allow(clippy::cast_precision_loss)]
    {
        m.insert("created_at".into(), json!(p.created_at as f64));
        m.insert("updated_at".into(), json!(p.updated_at as f64));
        for (k, v) in [
            ("expires_at", p.expires_at),
            ("valid_from", p.valid_from),
            ("valid_until", p.valid_until),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v as f64));
            }
        }
    }
    flatten(&mut Vec::new(), &Value::Object(p.metadata.clone()), &mut m);
    m.insert(
        PAYLOAD_KEY.into(),
        json!(serde_json::to_string(p).unwrap_or_default()),
    );
    m
}

/// The payload stored in Chroma metadata.
pub fn payload(meta: &Map<String, Value>) -> Option<VectorPayload> {
    meta.get(PAYLOAD_KEY)
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok())
}

/// A `where` clause, and whether it is exactly the filter (not a superset).
#[derive(Debug, Clone, PartialEq)]
pub struct Where {
    /// The clause; `None` matches everything.
    pub clause: Option<Value>,
    /// Whether every vector it matches also matches the filter.
    pub exact: bool,
}

fn scalar_key(field: &Field) -> Option<(String, bool)> {
    // (key, whether absence is stored explicitly)
    Some(match field {
        Field::UserId => ("user_id".into(), true),
        Field::AgentId => ("agent_id".into(), true),
        Field::SessionId => ("session_id".into(), true),
        Field::Kind => ("kind".into(), true),
        Field::Importance => ("importance".into(), true),
        Field::Confidence => ("confidence".into(), true),
        Field::CreatedAt => ("created_at".into(), true),
        Field::UpdatedAt => ("updated_at".into(), true),
        Field::ExpiresAt => ("expires_at".into(), false),
        Field::ValidFrom => ("valid_from".into(), false),
        Field::ValidUntil => ("valid_until".into(), false),
        Field::LastAccessedAt => return None,
        Field::Metadata(p) => (metadata_key(p)?, false),
    })
}

fn operand(v: &Value) -> Option<Value> {
    match v {
        Value::String(_) | Value::Bool(_) => Some(v.clone()),
        Value::Number(n) => n.as_f64().map(|f| json!(f)),
        _ => None,
    }
}

fn condition(c: &Condition) -> Option<Value> {
    let (key, absence_stored) = scalar_key(&c.field)?;
    let (op, value) = match c.op {
        Op::Eq => ("$eq", operand(&c.value)?),
        // "Not equal, or missing": exact only where absence is stored.
        Op::Ne if absence_stored => ("$ne", operand(&c.value)?),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            // Chroma orders numbers only.
            let n = c.value.as_f64()?;
            let op = match c.op {
                Op::Gt => "$gt",
                Op::Gte => "$gte",
                Op::Lt => "$lt",
                _ => "$lte",
            };
            (op, json!(n))
        }
        Op::In | Op::Nin if c.op == Op::In || absence_stored => {
            let items: Option<Vec<Value>> = c.value.as_array()?.iter().map(operand).collect();
            let items = items?;
            // Chroma refuses an empty list and one mixing types.
            let kind = |v: &Value| std::mem::discriminant(v);
            if items.is_empty() || items.iter().any(|v| kind(v) != kind(&items[0])) {
                return None;
            }
            (if c.op == Op::In { "$in" } else { "$nin" }, json!(items))
        }
        _ => return None,
    };
    Some(json!({ key: { op: value } }))
}

fn combine(op: &str, mut parts: Vec<Value>) -> Option<Value> {
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(json!({ op: parts })),
    }
}

/// Translates `filter` (if any) for `tenant`.
pub fn translate(tenant: &str, filter: Option<&Filter>) -> Where {
    let (clause, exact) = filter.map_or((None, true), |f| f.spell(&WhereSpelling));
    let mut parts = vec![json!({ "tenant": { "$eq": tenant } })];
    match clause {
        Some(Value::Object(mut o)) if o.len() == 1 && o.contains_key("$and") => {
            if let Some(Value::Array(items)) = o.remove("$and") {
                parts.extend(items);
            }
        }
        other => parts.extend(other),
    }
    Where {
        clause: combine("$and", parts),
        exact,
    }
}

/// Chroma's `where`: it has no negation that treats absent fields as ours
/// does, so negations are left to the exact check.
struct WhereSpelling;

impl Spelling for WhereSpelling {
    type Out = Value;
    fn condition(&self, c: &Condition) -> Option<Value> {
        condition(c)
    }
    fn all(&self, parts: Vec<Value>) -> Value {
        combine("$and", parts).unwrap_or(Value::Null)
    }
    fn any(&self, parts: Vec<Value>) -> Value {
        combine("$or", parts).unwrap_or(Value::Null)
    }
    fn not(&self, _: Value) -> Option<Value> {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn w(f: Value) -> Where {
        translate("t", Some(&Filter::parse(&f).unwrap()))
    }

    #[test]
    fn exact_translations() {
        let got = w(json!({"user_id": "alice", "importance": {"$gte": 7}}));
        assert!(got.exact);
        assert_eq!(
            got.clause.unwrap(),
            json!({"$and": [
                {"tenant": {"$eq": "t"}},
                {"importance": {"$gte": 7.0}},
                {"user_id": {"$eq": "alice"}}
            ]})
        );
        let got = w(json!({"$or": [{"kind": "fact"}, {"metadata.topic": {"$in": ["a", "b"]}}]}));
        assert!(got.exact, "{got:?}");
        assert!(
            got.clause
                .unwrap()
                .to_string()
                .contains(r#""m.topic":{"$in":["a","b"]}"#)
        );
        // Absence of a user is stored, so "not alice" is exact.
        assert!(w(json!({"user_id": {"$ne": "alice"}})).exact);
    }

    #[test]
    fn inexpressible_parts_are_relaxed_not_dropped_silently() {
        for f in [
            json!({"metadata.tags": {"$contains": "x"}}),
            json!({"metadata.topic": {"$ne": "a"}}),
            json!({"$not": {"kind": "fact"}}),
            json!({"metadata.name": {"$gt": "m"}}),
            json!({"expires_at": {"$exists": false}}),
            json!({"$or": [{"kind": "fact"}, {"metadata.x": {"$exists": true}}]}),
        ] {
            let got = w(f.clone());
            assert!(!got.exact, "{f} claimed exact");
            // The tenant is always enforced.
            assert!(
                got.clause
                    .unwrap()
                    .to_string()
                    .contains(r#""tenant":{"$eq":"t"}"#)
            );
        }
        // An `and` keeps the parts it can express.
        let got = w(json!({"kind": "fact", "metadata.tags": {"$contains": "x"}}));
        assert!(!got.exact);
        assert!(
            got.clause
                .unwrap()
                .to_string()
                .contains(r#""kind":{"$eq":"fact"}"#)
        );
    }

    #[test]
    fn metadata_round_trips_and_flattens() {
        let p = VectorPayload {
            tenant: "t".into(),
            user_id: None,
            agent_id: Some("bot".into()),
            session_id: None,
            kind: "fact".into(),
            importance: 5.0,
            confidence: 1.0,
            created_at: 1_700_000_000_123,
            updated_at: 1_700_000_000_456,
            expires_at: None,
            valid_from: None,
            valid_until: None,
            metadata: serde_json::from_value(
                json!({"topic": "tea", "n": 3, "deep": {"x": true}, "tags": ["a"], "bad key": 1}),
            )
            .unwrap(),
        };
        let m = metadata(&p);
        assert_eq!(m["user_id"], json!(ABSENT));
        assert_eq!(m["m.topic"], json!("tea"));
        assert_eq!(m["m.n"], json!(3.0));
        assert_eq!(m["m.deep.x"], json!(true));
        assert!(!m.contains_key("m.tags") && !m.contains_key("m.bad key"));
        assert_eq!(m["created_at"], json!(1_700_000_000_123.0));
        assert_eq!(payload(&m).unwrap(), p);
    }
}
