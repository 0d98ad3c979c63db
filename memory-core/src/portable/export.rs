//! `Memory::export`: everything of a tenant as JSON lines — users,
//! sessions, messages, then memories with ids, history and optionally
//! vectors — in the form `Memory::importer` restores exactly.

use serde::Serialize;

use super::conversations::{self, ConversationCounts};
use crate::{Memory, Result};

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// Memories.
    pub exported: u64,
    /// Users, sessions and messages.
    #[serde(flatten)]
    pub conversations: ConversationCounts,
    /// Whether embeddings were included.
    pub vectors: bool,
}

/// Lines read from the store per page.
const PAGE: usize = 500;

impl Memory {
    /// Hands every line of `tenant`'s export to `line`, in the order an
    /// import needs them (users and sessions before the messages that name
    /// them, messages before the memories that cite them). With `vectors`,
    /// memories carry their embeddings, restored without re-embedding.
    pub async fn export(
        &self,
        tenant: &str,
        vectors: bool,
        mut line: impl AsyncFnMut(serde_json::Value) -> Result<()>,
    ) -> Result<ExportReport> {
        let store = self.store().as_ref();
        let conversations = conversations::scan(store, Some(tenant), PAGE, async |items| {
            for item in items {
                line(serde_json::to_value(&item)?).await?;
            }
            Ok(())
        })
        .await?;
        let (mut after, mut exported) = (None, 0u64);
        loop {
            let page = store.scan_memories(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.record.id);
            for mut stored in page.into_iter().filter(|s| s.record.scope.tenant == tenant) {
                if !vectors {
                    // Windows are cut again when the vectors are made again.
                    stored.embedding = None;
                    stored.chunks.clear();
                }
                let history = store.history(tenant, stored.record.id).await?;
                line(serde_json::json!({ "type": "memory", "memory": stored, "history": history }))
                    .await?;
                exported += 1;
            }
        }
        Ok(ExportReport {
            exported,
            conversations,
            vectors,
        })
    }
}
