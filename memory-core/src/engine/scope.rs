//! The filters that select a scope's owner or everything under a scope.

use crate::filter::{Condition, Field, Op};
use crate::{Filter, Scope};

/// The filter selecting exactly the owner of `scope` (unset fields must be absent).
pub(crate) fn owner_filter(scope: &Scope) -> Filter {
    let part = |field: Field, v: &Option<String>| {
        Filter::Cond(match v {
            Some(v) => Condition {
                field,
                op: Op::Eq,
                value: v.clone().into(),
            },
            None => Condition {
                field,
                op: Op::Exists,
                value: false.into(),
            },
        })
    };
    Filter::And(vec![
        part(Field::UserId, &scope.user_id),
        part(Field::AgentId, &scope.agent_id),
        part(Field::SessionId, &scope.session_id),
    ])
}

/// The filter selecting everything under `scope`: only the fields it sets are tested.
pub(crate) fn scope_filter(scope: &Scope) -> Option<Filter> {
    let parts: Vec<Filter> = [
        (Field::UserId, &scope.user_id),
        (Field::AgentId, &scope.agent_id),
        (Field::SessionId, &scope.session_id),
    ]
    .into_iter()
    .filter_map(|(f, v)| v.as_ref().map(|v| Filter::eq(f, v.clone())))
    .collect();
    (!parts.is_empty()).then_some(Filter::And(parts))
}
