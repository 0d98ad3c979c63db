//! The filter language as SQLite SQL over the `memories` table (alias `m`).
//!
//! Every condition is wrapped so it yields 0 or 1, never NULL, which keeps
//! `not` exact; every value is a bound parameter; metadata comparisons check
//! the JSON type first so numbers never compare with strings.

use memory_core::filter::{Condition, Field, Filter, Op};
use serde_json::Value;
use sqlx::{QueryBuilder, Sqlite};

fn column(field: &Field) -> Option<&'static str> {
    Some(match field {
        Field::UserId => "m.user_id",
        Field::AgentId => "m.agent_id",
        Field::SessionId => "m.session_id",
        Field::Kind => "m.kind",
        Field::Importance => "m.importance",
        Field::Confidence => "m.confidence",
        Field::CreatedAt => "m.created_at",
        Field::UpdatedAt => "m.updated_at",
        Field::LastAccessedAt => "m.last_accessed_at",
        Field::ExpiresAt => "m.expires_at",
        Field::ValidFrom => "m.valid_from",
        Field::ValidUntil => "m.valid_until",
        Field::Metadata(_) => return None,
    })
}

/// Whether a column comparison with `v` can hold: text columns hold
/// strings, the others numbers, and no column holds a boolean. SQLite would
/// otherwise convert (`importance = '5'`, `importance IN (true)` both hold).
fn fits(field: &Field, v: &Value) -> bool {
    match field {
        Field::UserId | Field::AgentId | Field::SessionId | Field::Kind => v.is_string(),
        Field::Metadata(_) => true,
        _ => v.is_number(),
    }
}

fn json_path(path: &[String]) -> String {
    let mut s = String::from("$");
    for p in path {
        s.push_str(".\"");
        s.push_str(p);
        s.push('"');
    }
    s
}

/// Appends ` AND <condition>` for each part of the filter's top-level `and`.
/// Those are never negated, so NULL already means false there and a column
/// equality can be a plain comparison SQLite can use an index for; nested
/// conditions keep their NULL-proof form so `not` stays exact.
pub(crate) fn push_and(qb: &mut QueryBuilder<Sqlite>, filter: Option<&Filter>) {
    let parts: Vec<&Filter> = match filter {
        None => Vec::new(),
        Some(Filter::And(v)) => v.iter().collect(),
        Some(other) => vec![other],
    };
    for part in parts {
        qb.push(" AND ");
        match part {
            Filter::Cond(c)
                if c.op == Op::Eq
                    && c.value.is_string()
                    && fits(&c.field, &c.value)
                    && column(&c.field).is_some() =>
            {
                qb.push(column(&c.field).unwrap_or("NULL")).push(" = ");
                bind_scalar(qb, &c.value);
            }
            _ => push(qb, part),
        }
    }
}

/// Appends the filter as a 0/1 expression.
pub(crate) fn push(qb: &mut QueryBuilder<Sqlite>, filter: &Filter) {
    match filter {
        Filter::And(v) | Filter::Or(v) if v.is_empty() => {
            qb.push(if matches!(filter, Filter::And(_)) {
                "1"
            } else {
                "0"
            });
        }
        Filter::And(v) | Filter::Or(v) => {
            let sep = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            qb.push("(");
            for (i, f) in v.iter().enumerate() {
                if i > 0 {
                    qb.push(sep);
                }
                push(qb, f);
            }
            qb.push(")");
        }
        Filter::Not(f) => {
            qb.push("(NOT ");
            push(qb, f);
            qb.push(")");
        }
        Filter::Cond(c) => condition(qb, c),
    }
}

fn bind_scalar(qb: &mut QueryBuilder<Sqlite>, v: &Value) {
    match v {
        Value::String(s) => {
            qb.push_bind(s.clone());
        }
        Value::Number(n) => match n.as_i64() {
            Some(i) => {
                qb.push_bind(i);
            }
            None => {
                qb.push_bind(n.as_f64().unwrap_or(f64::NAN));
            }
        },
        Value::Bool(b) => {
            qb.push_bind(i64::from(*b));
        }
        _ => {
            qb.push("NULL");
        }
    }
}

/// `type-check AND <expr> <op> ?` for a metadata value, by the operand's JSON type.
fn meta_typed(qb: &mut QueryBuilder<Sqlite>, path: &str, sql_op: &str, v: &Value) {
    let types = match v {
        Value::String(_) => "('text')",
        Value::Number(_) => "('integer','real')",
        Value::Bool(true) => "('true')",
        Value::Bool(false) => "('false')",
        _ => "()",
    };
    qb.push("(json_type(m.metadata, ")
        .push_bind(path.to_owned())
        .push(") IN ")
        .push(types);
    if !matches!(v, Value::Bool(_)) {
        qb.push(" AND json_extract(m.metadata, ")
            .push_bind(path.to_owned())
            .push(") ")
            .push(sql_op)
            .push(" ");
        bind_scalar(qb, v);
    }
    qb.push(")");
}

fn eq(qb: &mut QueryBuilder<Sqlite>, field: &Field, v: &Value) {
    match (column(field), field) {
        (Some(_), _) if !fits(field, v) => {
            qb.push("0");
        }
        (Some(col), _) => {
            qb.push("COALESCE(").push(col).push(" = ");
            bind_scalar(qb, v);
            qb.push(", 0)");
        }
        (None, Field::Metadata(p)) => {
            qb.push("COALESCE(");
            meta_typed(qb, &json_path(p), "=", v);
            qb.push(", 0)");
        }
        _ => {
            qb.push("0");
        }
    }
}

fn any_eq(qb: &mut QueryBuilder<Sqlite>, field: &Field, list: &Value) {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        qb.push("0");
        return;
    }
    qb.push("(");
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            qb.push(" OR ");
        }
        eq(qb, field, v);
    }
    qb.push(")");
}

fn condition(qb: &mut QueryBuilder<Sqlite>, c: &Condition) {
    let sql_op = match c.op {
        Op::Gt => ">",
        Op::Gte => ">=",
        Op::Lt => "<",
        Op::Lte => "<=",
        _ => "=",
    };
    match c.op {
        Op::Eq => eq(qb, &c.field, &c.value),
        Op::Ne => {
            qb.push("(NOT ");
            eq(qb, &c.field, &c.value);
            qb.push(")");
        }
        Op::In => any_eq(qb, &c.field, &c.value),
        Op::Nin => {
            qb.push("(NOT ");
            any_eq(qb, &c.field, &c.value);
            qb.push(")");
        }
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => match (column(&c.field), &c.field) {
            (Some(_), _) if !fits(&c.field, &c.value) => {
                qb.push("0");
            }
            (Some(col), _) => {
                qb.push("COALESCE(")
                    .push(col)
                    .push(" ")
                    .push(sql_op)
                    .push(" ");
                bind_scalar(qb, &c.value);
                qb.push(", 0)");
            }
            (None, Field::Metadata(p)) => {
                qb.push("COALESCE(");
                meta_typed(qb, &json_path(p), sql_op, &c.value);
                qb.push(", 0)");
            }
            _ => {
                qb.push("0");
            }
        },
        Op::Exists => {
            let want = c.value.as_bool().unwrap_or(true);
            match (column(&c.field), &c.field) {
                (Some(col), _) => {
                    qb.push("(")
                        .push(col)
                        .push(if want { " IS NOT NULL)" } else { " IS NULL)" });
                }
                (None, Field::Metadata(p)) => {
                    qb.push("(COALESCE(json_type(m.metadata, ")
                        .push_bind(json_path(p))
                        .push("), 'null') ")
                        .push(if want { "!=" } else { "=" })
                        .push(" 'null')");
                }
                _ => {
                    qb.push("0");
                }
            }
        }
        Op::Contains => match (column(&c.field), &c.field) {
            (Some(col), _) => match &c.value {
                Value::String(s) => {
                    qb.push("COALESCE(instr(")
                        .push(col)
                        .push(", ")
                        .push_bind(s.clone())
                        .push(") > 0, 0)");
                }
                _ => {
                    qb.push("0");
                }
            },
            (None, Field::Metadata(p)) => {
                let path = json_path(p);
                qb.push("COALESCE(");
                if let Value::String(s) = &c.value {
                    qb.push("(json_type(m.metadata, ")
                        .push_bind(path.clone())
                        .push(") = 'text' AND instr(json_extract(m.metadata, ")
                        .push_bind(path.clone())
                        .push("), ")
                        .push_bind(s.clone())
                        .push(") > 0) OR ");
                }
                let types = match &c.value {
                    Value::String(_) => "('text')",
                    Value::Number(_) => "('integer','real')",
                    Value::Bool(true) => "('true')",
                    Value::Bool(false) => "('false')",
                    _ => "()",
                };
                qb.push("(json_type(m.metadata, ")
                    .push_bind(path.clone())
                    .push(") = 'array' AND EXISTS (SELECT 1 FROM json_each(m.metadata, ")
                    .push_bind(path)
                    .push(") je WHERE je.type IN ")
                    .push(types);
                if !matches!(c.value, Value::Bool(_)) {
                    qb.push(" AND je.value = ");
                    bind_scalar(qb, &c.value);
                }
                qb.push(")), 0)");
            }
            _ => {
                qb.push("0");
            }
        },
    }
}
