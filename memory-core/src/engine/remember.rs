//! Messages as long-term memory (seed 001): a recorded message also kept as
//! a memory of kind `message`, embedded and searchable, linked to it.

use uuid::Uuid;

use super::Memory;
use super::requests::AddRequest;
use crate::traits::NewJob;
use crate::{ErrorKind, MemoryKind, Message, Result, Role, Scope};

/// The job kind that remembers a message whose first write failed.
pub(crate) const REMEMBER: &str = "remember_message";

/// The memory that keeps `m`: owned by its author within its session, with
/// its role and author as metadata.
fn memory_of(m: &Message) -> AddRequest {
    let scope = Scope {
        tenant: m.tenant.clone(),
        user_id: m.user_id.clone(),
        agent_id: m.agent_id.clone(),
        session_id: Some(m.session_id.clone()),
    };
    let mut r = AddRequest::new(scope, m.content.clone()).kind(MemoryKind::Message);
    r.importance = if m.role == Role::User { 3.0 } else { 2.0 };
    r.source_message_ids = vec![m.id];
    r.valid_from = Some(m.created_at);
    r.metadata.insert("role".into(), m.role.as_str().into());
    if let Some(a) = &m.author_name {
        r.metadata.insert("author".into(), a.clone().into());
    }
    r
}

impl Memory {
    /// Keeps `m` as a memory. The message is already stored, so a failure
    /// here never fails the recording: a message too long for the embedder
    /// is left out (logged), and any other failure is queued for the worker.
    pub(super) async fn remember_message(&self, m: &Message) -> Result<Option<Uuid>> {
        let request = memory_of(m);
        match self.add(request.clone()).await {
            Ok(o) => Ok(Some(o.id)),
            Err(e) if e.kind() == ErrorKind::InvalidInput => {
                tracing::warn!(message = %m.id, error = %e, "message not kept as a memory");
                Ok(None)
            }
            Err(e) => {
                tracing::warn!(message = %m.id, error = %e, "keeping the message as a memory failed; the worker will retry");
                let job = NewJob::new(REMEMBER, &m.tenant, crate::now())
                    .payload(serde_json::to_value(&request)?);
                self.inner.store.enqueue(&[job]).await?;
                Ok(None)
            }
        }
    }

    /// Runs a queued remember job (idempotent: the same content of the same
    /// owner is one memory).
    pub(crate) async fn run_remember_job(&self, payload: &serde_json::Value) -> Result<()> {
        let request: AddRequest = serde_json::from_value(payload.clone())?;
        self.add(request).await.map(|_| ())
    }
}
