-- Records, messages, sessions, users, history and the vector outbox.
-- Vectors live in one table per collection (see vector.rs), created on demand.
CREATE TABLE IF NOT EXISTS memories (
    id uuid PRIMARY KEY,
    tenant text NOT NULL,
    user_id text,
    agent_id text,
    session_id text,
    owner_key text NOT NULL,
    content text NOT NULL,
    kind text NOT NULL,
    importance real NOT NULL,
    confidence real NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    source_message_ids jsonb NOT NULL DEFAULT '[]',
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    last_accessed_at bigint NOT NULL,
    access_count bigint NOT NULL DEFAULT 0,
    expires_at bigint,
    content_hash text NOT NULL,
    embedding_model text,
    embedding real[],
    vector_state text NOT NULL DEFAULT 'pending',
    vector_attempts integer NOT NULL DEFAULT 0,
    version bigint NOT NULL DEFAULT 1,
    tsv tsvector NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS memories_owner_hash ON memories (tenant, owner_key, content_hash);
CREATE INDEX IF NOT EXISTS memories_tenant_id ON memories (tenant, id);
CREATE INDEX IF NOT EXISTS memories_tenant_user ON memories (tenant, user_id, id);
CREATE INDEX IF NOT EXISTS memories_tsv ON memories USING gin (tsv);

CREATE TABLE IF NOT EXISTS history (
    id uuid PRIMARY KEY,
    memory_id uuid NOT NULL,
    tenant text NOT NULL,
    op text NOT NULL,
    old_content text,
    new_content text,
    reason text NOT NULL,
    created_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS history_memory ON history (tenant, memory_id, id);

CREATE TABLE IF NOT EXISTS outbox (
    memory_id uuid PRIMARY KEY,
    tenant text NOT NULL,
    op text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    seq bigserial NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_seq ON outbox (attempts, seq);

CREATE TABLE IF NOT EXISTS sessions (
    tenant text NOT NULL,
    id text NOT NULL,
    user_id text,
    agent_id text,
    title text,
    platform text,
    started_at bigint NOT NULL,
    ended_at bigint,
    metadata jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (tenant, user_id);

CREATE TABLE IF NOT EXISTS messages (
    id uuid PRIMARY KEY,
    tenant text NOT NULL,
    session_id text NOT NULL,
    user_id text,
    agent_id text,
    role text NOT NULL,
    author_name text,
    content text NOT NULL,
    created_at bigint NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    extracted boolean NOT NULL DEFAULT false,
    answered boolean NOT NULL DEFAULT false,
    FOREIGN KEY (tenant, session_id) REFERENCES sessions (tenant, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS messages_session ON messages (tenant, session_id, id);
CREATE INDEX IF NOT EXISTS messages_unextracted ON messages (tenant, session_id) WHERE NOT extracted;

CREATE TABLE IF NOT EXISTS users (
    tenant text NOT NULL,
    id text NOT NULL,
    external_id text,
    platform text,
    display_name text,
    first_seen_at bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    message_count bigint NOT NULL DEFAULT 0,
    metadata jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS users_external ON users (tenant, platform, external_id);

CREATE TABLE IF NOT EXISTS vec_collections (
    name text PRIMARY KEY,
    dimension integer NOT NULL,
    metric text NOT NULL,
    tbl text NOT NULL
);
