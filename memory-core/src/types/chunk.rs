//! Memories longer than the embedder's window (seed 002's 512-token chunks
//! with 50 of overlap): overlapping windows of the content, each its own
//! vector in the index, all pointing at the one memory.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One window of a memory's content and its vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StoredChunk {
    /// Its place among the memory's windows, from 0.
    pub index: u32,
    /// Where it starts in the content, in bytes.
    pub start: u32,
    /// Where it ends in the content, in bytes (exclusive).
    pub end: u32,
    /// Its vector; `None` for window 0, whose vector is the memory's own
    /// `embedding`, and for memories restored without vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
}

impl StoredChunk {
    /// Its span.
    pub fn span(&self) -> ChunkSpan {
        ChunkSpan {
            index: self.index,
            start: self.start,
            end: self.end,
        }
    }
}

/// Which window of a memory matched a search, in bytes of its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChunkSpan {
    /// The window's place, from 0.
    pub index: u32,
    /// Where it starts, in bytes.
    pub start: u32,
    /// Where it ends, in bytes (exclusive).
    pub end: u32,
}

/// A vector id of the index that is a window of a memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRef {
    /// The vector's id.
    pub chunk_id: Uuid,
    /// The memory it belongs to.
    pub memory_id: Uuid,
    /// The window.
    pub span: ChunkSpan,
}

/// The index id of a memory's window `index`: the memory's own id for
/// window 0, else a name-based UUID derived from both, so every writer
/// derives the same id and a rewrite replaces the same vectors.
pub fn chunk_id(memory_id: Uuid, index: u32) -> Uuid {
    if index == 0 {
        memory_id
    } else {
        Uuid::new_v5(&memory_id, &index.to_be_bytes())
    }
}
