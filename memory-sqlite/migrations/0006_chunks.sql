-- The windows of memories longer than the embedder's window: window 0's
-- vector is the memory's own, every other window is its own vector in the
-- index under `chunk_id`.
CREATE TABLE IF NOT EXISTS memory_chunks (
    memory_id TEXT NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    chunk_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    start_byte INTEGER NOT NULL,
    end_byte INTEGER NOT NULL,
    embedding BLOB,
    PRIMARY KEY (memory_id, idx)
);
CREATE UNIQUE INDEX IF NOT EXISTS memory_chunks_id ON memory_chunks (chunk_id);
