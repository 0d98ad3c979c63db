//! The filter language as PostgreSQL SQL. Every condition yields true or
//! false, never NULL (so `not` is exact); values are bound parameters;
//! metadata comparisons check the JSON type inside a CASE, so a string is
//! never cast to a number.

use memory_core::filter::{Condition, Field, Filter, Op};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};

/// Column names of the table the filter runs on (alias included).
pub(crate) trait Columns {
    /// The column of a fixed field, or `None` when the table does not hold it.
    fn column(&self, field: &Field) -> Option<&'static str>;
    /// The jsonb metadata column.
    fn metadata(&self) -> &'static str;
}

/// The `memories` table, alias `m`.
pub(crate) struct MemoryColumns;

impl Columns for MemoryColumns {
    fn column(&self, field: &Field) -> Option<&'static str> {
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
    fn metadata(&self) -> &'static str {
        "m.metadata"
    }
}

/// A collection's vector table, alias `v` (no access time: it changes on every read).
pub(crate) struct VectorColumns;

impl Columns for VectorColumns {
    fn column(&self, field: &Field) -> Option<&'static str> {
        Some(match field {
            Field::UserId => "v.user_id",
            Field::AgentId => "v.agent_id",
            Field::SessionId => "v.session_id",
            Field::Kind => "v.kind",
            Field::Importance => "v.importance",
            Field::Confidence => "v.confidence",
            Field::CreatedAt => "v.created_at",
            Field::UpdatedAt => "v.updated_at",
            Field::ExpiresAt => "v.expires_at",
            Field::ValidFrom => "v.valid_from",
            Field::ValidUntil => "v.valid_until",
            Field::LastAccessedAt | Field::Metadata(_) => return None,
        })
    }
    fn metadata(&self) -> &'static str {
        "v.metadata"
    }
}

/// Appends ` AND <condition>` for each part of the filter's top-level `and`.
/// Those are never negated, so NULL already means false there and a column
/// equality can be a plain comparison the planner can use an index for;
/// nested conditions keep their NULL-proof form so `not` stays exact.
pub(crate) fn push_and(
    qb: &mut QueryBuilder<Postgres>,
    cols: &dyn Columns,
    filter: Option<&Filter>,
) {
    let parts: Vec<&Filter> = match filter {
        None => Vec::new(),
        Some(Filter::And(v)) => v.iter().collect(),
        Some(other) => vec![other],
    };
    for part in parts {
        qb.push(" AND ");
        match (part, part_column(cols, part)) {
            (Filter::Cond(c), Some(col)) => {
                qb.push(col).push(" = ");
                bind_col_value(qb, &c.value);
            }
            _ => push(qb, cols, part),
        }
    }
}

/// The column of a top-level text equality, which can be compared plainly.
fn part_column(cols: &dyn Columns, part: &Filter) -> Option<&'static str> {
    match part {
        Filter::Cond(c) if c.op == Op::Eq && c.value.is_string() => cols.column(&c.field),
        _ => None,
    }
}

fn push(qb: &mut QueryBuilder<Postgres>, cols: &dyn Columns, filter: &Filter) {
    match filter {
        Filter::And(v) if v.is_empty() => {
            qb.push("true");
        }
        Filter::Or(v) if v.is_empty() => {
            qb.push("false");
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
                push(qb, cols, f);
            }
            qb.push(")");
        }
        Filter::Not(f) => {
            qb.push("(NOT ");
            push(qb, cols, f);
            qb.push(")");
        }
        Filter::Cond(c) => condition(qb, cols, c),
    }
}

fn bind_col_value(qb: &mut QueryBuilder<Postgres>, v: &Value) {
    match v {
        Value::String(s) => {
            qb.push_bind(s.clone());
        }
        Value::Number(n) => {
            qb.push_bind(n.as_f64().unwrap_or(f64::NAN))
                .push("::float8");
        }
        _ => {
            qb.push("NULL");
        }
    }
}

fn path(p: &[String]) -> Vec<String> {
    p.to_vec()
}

fn eq(qb: &mut QueryBuilder<Postgres>, cols: &dyn Columns, field: &Field, v: &Value) {
    match (cols.column(field), field) {
        (Some(col), _) => {
            qb.push("COALESCE(").push(col).push(" = ");
            bind_col_value(qb, v);
            qb.push(", false)");
        }
        (None, Field::Metadata(p)) => {
            // jsonb equality compares numbers numerically and never across types.
            qb.push("COALESCE(")
                .push(cols.metadata())
                .push(" #> ")
                .push_bind(path(p))
                .push(" = ")
                .push_bind(v.to_string())
                .push("::jsonb, false)");
        }
        _ => {
            qb.push("false");
        }
    }
}

fn any_eq(qb: &mut QueryBuilder<Postgres>, cols: &dyn Columns, field: &Field, list: &Value) {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        qb.push("false");
        return;
    }
    qb.push("(");
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            qb.push(" OR ");
        }
        eq(qb, cols, field, v);
    }
    qb.push(")");
}

fn condition(qb: &mut QueryBuilder<Postgres>, cols: &dyn Columns, c: &Condition) {
    let sql_op = match c.op {
        Op::Gt => ">",
        Op::Gte => ">=",
        Op::Lt => "<",
        Op::Lte => "<=",
        _ => "=",
    };
    match c.op {
        Op::Eq => eq(qb, cols, &c.field, &c.value),
        Op::Ne => {
            qb.push("(NOT ");
            eq(qb, cols, &c.field, &c.value);
            qb.push(")");
        }
        Op::In => any_eq(qb, cols, &c.field, &c.value),
        Op::Nin => {
            qb.push("(NOT ");
            any_eq(qb, cols, &c.field, &c.value);
            qb.push(")");
        }
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => match (cols.column(&c.field), &c.field) {
            (Some(col), _) => {
                qb.push("COALESCE(")
                    .push(col)
                    .push(" ")
                    .push(sql_op)
                    .push(" ");
                bind_col_value(qb, &c.value);
                if c.value.is_string() {
                    qb.push(" COLLATE \"C\"");
                }
                qb.push(", false)");
            }
            (None, Field::Metadata(p)) => {
                let m = cols.metadata();
                let (ty, cast) = match &c.value {
                    Value::Number(_) => ("number", "::float8"),
                    _ => ("string", ""),
                };
                qb.push("(CASE WHEN jsonb_typeof(")
                    .push(m)
                    .push(" #> ")
                    .push_bind(path(p))
                    .push(") = '")
                    .push(ty)
                    .push("' THEN (");
                qb.push(m)
                    .push(" #>> ")
                    .push_bind(path(p))
                    .push(")")
                    .push(cast)
                    .push(" ")
                    .push(sql_op)
                    .push(" ");
                match &c.value {
                    Value::Number(n) => {
                        qb.push_bind(n.as_f64().unwrap_or(f64::NAN));
                    }
                    Value::String(s) => {
                        qb.push_bind(s.clone()).push(" COLLATE \"C\"");
                    }
                    _ => {
                        qb.push("NULL");
                    }
                }
                qb.push(" ELSE false END)");
            }
            _ => {
                qb.push("false");
            }
        },
        Op::Exists => {
            let want = c.value.as_bool().unwrap_or(true);
            match (cols.column(&c.field), &c.field) {
                (Some(col), _) => {
                    qb.push("(")
                        .push(col)
                        .push(if want { " IS NOT NULL)" } else { " IS NULL)" });
                }
                (None, Field::Metadata(p)) => {
                    qb.push("(COALESCE(jsonb_typeof(")
                        .push(cols.metadata())
                        .push(" #> ")
                        .push_bind(path(p))
                        .push("), 'null') ")
                        .push(if want { "<>" } else { "=" })
                        .push(" 'null')");
                }
                _ => {
                    qb.push(if want { "false" } else { "true" });
                }
            }
        }
        Op::Contains => match (cols.column(&c.field), &c.field) {
            (Some(col), _) => match &c.value {
                Value::String(s) => {
                    qb.push("COALESCE(strpos(")
                        .push(col)
                        .push(", ")
                        .push_bind(s.clone())
                        .push(") > 0, false)");
                }
                _ => {
                    qb.push("false");
                }
            },
            (None, Field::Metadata(p)) => {
                let m = cols.metadata();
                qb.push("(CASE jsonb_typeof(")
                    .push(m)
                    .push(" #> ")
                    .push_bind(path(p))
                    .push(") WHEN 'array' THEN ");
                qb.push(m)
                    .push(" #> ")
                    .push_bind(path(p))
                    .push(" @> jsonb_build_array(")
                    .push_bind(c.value.to_string())
                    .push("::jsonb)");
                if let Value::String(s) = &c.value {
                    qb.push(" WHEN 'string' THEN strpos(")
                        .push(m)
                        .push(" #>> ")
                        .push_bind(path(p))
                        .push(", ")
                        .push_bind(s.clone())
                        .push(") > 0");
                }
                qb.push(" ELSE false END)");
            }
            _ => {
                qb.push("false");
            }
        },
    }
}
