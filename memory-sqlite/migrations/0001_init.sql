-- Records, messages, sessions, users, history and the vector outbox.
CREATE TABLE IF NOT EXISTS memories (
    id TEXT PRIMARY KEY NOT NULL,
    tenant TEXT NOT NULL,
    user_id TEXT,
    agent_id TEXT,
    session_id TEXT,
    owner_key TEXT NOT NULL,
    content TEXT NOT NULL,
    kind TEXT NOT NULL,
    importance REAL NOT NULL,
    confidence REAL NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    source_message_ids TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_accessed_at INTEGER NOT NULL,
    access_count INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER,
    content_hash TEXT NOT NULL,
    embedding_model TEXT,
    embedding BLOB,
    vector_state TEXT NOT NULL DEFAULT 'pending',
    vector_attempts INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    -- A single token naming (tenant, user), indexed by FTS so a user's keyword
    -- search intersects posting lists instead of filtering every match.
    fts_owner TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS memories_owner_hash ON memories (tenant, owner_key, content_hash);
CREATE INDEX IF NOT EXISTS memories_tenant_id ON memories (tenant, id);
CREATE INDEX IF NOT EXISTS memories_tenant_user ON memories (tenant, user_id, id);

CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5 (
    content, fts_owner, content = 'memories', content_rowid = 'rowid', tokenize = 'porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS memories_fts_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, content, fts_owner) VALUES (new.rowid, new.content, new.fts_owner);
END;
CREATE TRIGGER IF NOT EXISTS memories_fts_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, fts_owner) VALUES ('delete', old.rowid, old.content, old.fts_owner);
END;
CREATE TRIGGER IF NOT EXISTS memories_fts_au AFTER UPDATE OF content, fts_owner ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, fts_owner) VALUES ('delete', old.rowid, old.content, old.fts_owner);
    INSERT INTO memories_fts (rowid, content, fts_owner) VALUES (new.rowid, new.content, new.fts_owner);
END;

CREATE TABLE IF NOT EXISTS history (
    id TEXT PRIMARY KEY NOT NULL,
    memory_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    op TEXT NOT NULL,
    old_content TEXT,
    new_content TEXT,
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS history_memory ON history (tenant, memory_id, id);

CREATE TABLE IF NOT EXISTS outbox (
    memory_id TEXT PRIMARY KEY NOT NULL,
    tenant TEXT NOT NULL,
    op TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_seq ON outbox (attempts, seq);

CREATE TABLE IF NOT EXISTS sessions (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT,
    agent_id TEXT,
    title TEXT,
    platform TEXT,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    metadata TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (tenant, user_id);

CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY NOT NULL,
    tenant TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_id TEXT,
    agent_id TEXT,
    role TEXT NOT NULL,
    author_name TEXT,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    extracted INTEGER NOT NULL DEFAULT 0,
    answered INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (tenant, session_id) REFERENCES sessions (tenant, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS messages_session ON messages (tenant, session_id, id);
CREATE INDEX IF NOT EXISTS messages_unextracted ON messages (tenant, session_id, extracted);
CREATE INDEX IF NOT EXISTS messages_user ON messages (tenant, user_id);

CREATE TABLE IF NOT EXISTS users (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    external_id TEXT,
    platform TEXT,
    display_name TEXT,
    first_seen_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS users_external ON users (tenant, platform, external_id);

-- The vector index: collections with their recorded shape, vectors
-- partitioned by (tenant, user), and a per-partition epoch that lets every
-- process tell whether its in-memory copy of a partition is current.
CREATE TABLE IF NOT EXISTS vec_collections (
    name TEXT PRIMARY KEY NOT NULL,
    dimension INTEGER NOT NULL,
    metric TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS vec_items (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    part TEXT NOT NULL,
    payload TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (collection, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vec_items_part ON vec_items (collection, tenant, part);
CREATE TABLE IF NOT EXISTS vec_epochs (
    collection TEXT NOT NULL,
    tenant TEXT NOT NULL,
    part TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    PRIMARY KEY (collection, tenant, part)
) WITHOUT ROWID;
