-- The durable job queue. A completed job is deleted; a dead one stays
-- (finished_at set) until it is retried or purged.
CREATE TABLE IF NOT EXISTS jobs (
    id uuid PRIMARY KEY,
    kind text NOT NULL,
    tenant text NOT NULL,
    key text,
    payload jsonb NOT NULL DEFAULT '{}',
    due_at bigint NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    lease_owner text,
    lease_until bigint,
    last_error text,
    created_at bigint NOT NULL,
    finished_at bigint,
    dead boolean NOT NULL DEFAULT false
);
-- At most one live job per key (schedules rely on it).
CREATE UNIQUE INDEX IF NOT EXISTS jobs_live_key ON jobs (key) WHERE key IS NOT NULL AND NOT dead;
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (dead, due_at);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;
