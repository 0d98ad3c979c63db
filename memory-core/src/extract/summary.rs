//! The rolling summary of a session: one memory of kind `summary`, written
//! with the first extraction and rewritten by each later one.

use super::Rewrite;
use super::consolidate::Plan;
use crate::filter::Field;
use crate::{AddRequest, Filter, Memory, MemoryKind, MemoryRecord, Result, Scope, Validity};

impl Memory {
    /// The session's current summary, if one was written.
    pub async fn session_summary(
        &self,
        tenant: &str,
        session_id: &str,
    ) -> Result<Option<MemoryRecord>> {
        let scope = Scope {
            tenant: tenant.to_owned(),
            user_id: None,
            agent_id: None,
            session_id: Some(session_id.to_owned()),
        };
        let page = self
            .list(
                &scope,
                Some(Filter::eq(Field::Kind, MemoryKind::Summary.as_str())),
                Validity::Current,
                1,
                None,
            )
            .await?;
        Ok(page.items.into_iter().next())
    }
}

/// Adds the summary's new text to `plan`: a rewrite of the current summary,
/// or a new summary memory owned by the session (and its user).
pub(super) fn plan_summary(
    plan: &mut Plan,
    current: Option<&MemoryRecord>,
    scope: Scope,
    text: &str,
    provenance: &[(&str, &str)],
) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    match current {
        Some(old) if old.content == text => {}
        Some(old) => plan
            .rewrites
            .push(Rewrite::new(old, text.to_owned(), "summary updated")),
        None => {
            let mut r = AddRequest::new(scope, text)
                .kind(MemoryKind::Summary)
                .importance(3.0);
            for (k, v) in provenance {
                r.metadata.insert((*k).into(), (*v).into());
            }
            plan.summary = Some(r);
        }
    }
}
