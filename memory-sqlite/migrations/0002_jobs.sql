-- The durable job queue. A completed job is deleted; a dead one stays
-- (finished_at set) until it is retried or purged.
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    tenant TEXT NOT NULL,
    key TEXT,
    payload TEXT NOT NULL DEFAULT '{}',
    due_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    dead INTEGER NOT NULL DEFAULT 0
);
-- At most one live job per key (schedules rely on it).
CREATE UNIQUE INDEX IF NOT EXISTS jobs_live_key ON jobs (key) WHERE key IS NOT NULL AND dead = 0;
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (dead, due_at);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;
