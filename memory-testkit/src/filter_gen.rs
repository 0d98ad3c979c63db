//! Generated filters for the conformance suites: every field the sample
//! records carry, every operator, operands of the right type and of the
//! wrong one, nested in `and`, `or` and `not`. Each backend must select
//! exactly what [`memory_core::Filter::matches`] selects.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

/// How many generated filters a suite runs: `MEMORY_FUZZ_FILTERS`, else 200.
pub fn count() -> usize {
    std::env::var("MEMORY_FUZZ_FILTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// A value of the type the field holds, or of another.
fn operand() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-2i64..12).prop_map(Value::from),
        (-1.0f64..11.0).prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "fact",
            "event",
            "preference",
            "pets",
            "food",
            "u1",
            "u3",
            "agent",
            "a",
            "b",
            "et",
            "",
            "5",
            "2023-11-14T22:14:00Z",
        ])
        .prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(json!(1_700_000_030_000_i64)),
    ]
}

fn condition() -> impl Strategy<Value = Value> {
    let field = prop::sample::select(vec![
        "kind",
        "importance",
        "user_id",
        "agent_id",
        "created_at",
        "metadata.topic",
        "metadata.n",
        "metadata.tags",
        "metadata.nested.flag",
        "metadata.missing",
    ]);
    let op = prop::sample::select(vec![
        "eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains", "exists",
    ]);
    (field, op, operand(), prop::collection::vec(operand(), 0..3)).prop_map(|(f, op, v, list)| {
        match op {
            "in" | "nin" => json!({ f: { op: list } }),
            "exists" => json!({ f: { op: v.as_bool().unwrap_or(true) } }),
            _ => json!({ f: { op: v } }),
        }
    })
}

fn filter() -> impl Strategy<Value = Value> {
    condition().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| json!({ "and": v })),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| json!({ "or": v })),
            inner.prop_map(|v| json!({ "not": v })),
        ]
    })
}

/// `n` filters in the JSON form, the same on every run.
pub fn generated(n: usize) -> Vec<Value> {
    let mut runner = TestRunner::deterministic();
    let strategy = filter();
    (0..n)
        .filter_map(|_| strategy.new_tree(&mut runner).ok().map(|t| t.current()))
        .collect()
}
