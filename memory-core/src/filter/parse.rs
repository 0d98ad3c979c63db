//! The JSON form read into a [`Filter`], every key, operator and operand
//! checked, with errors that name what is wrong.

use chrono::DateTime;
use serde_json::Value;

use super::{Condition, Field, Filter, MAX_FILTER_DEPTH, MAX_FILTER_NODES, Op};
use crate::{Error, Result};

pub(super) fn parse_node(value: &Value, depth: usize, nodes: &mut usize) -> Result<Filter> {
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
