-- Explicit sessions carry an id on their platform (a stream's video id),
-- unique per platform; topics belong to a session, and messages may point
-- at one (unlinked, not deleted, when the topic goes).
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS external_id text;
CREATE UNIQUE INDEX IF NOT EXISTS sessions_external
    ON sessions (tenant, platform, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_started ON sessions (tenant, started_at, id);
CREATE INDEX IF NOT EXISTS users_last_seen ON users (tenant, last_seen_at, id);

CREATE TABLE IF NOT EXISTS topics (
    tenant text NOT NULL,
    id uuid NOT NULL,
    session_id text NOT NULL,
    title text NOT NULL,
    outline jsonb NOT NULL DEFAULT 'null',
    completed boolean NOT NULL DEFAULT false,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, session_id) REFERENCES sessions (tenant, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS topics_session ON topics (tenant, session_id, id);

ALTER TABLE messages ADD COLUMN IF NOT EXISTS topic_id uuid;
CREATE INDEX IF NOT EXISTS messages_topic ON messages (tenant, topic_id) WHERE topic_id IS NOT NULL;
