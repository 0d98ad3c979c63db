-- Validity: a superseded memory stays, with valid_until and superseded_by,
-- for history and as-of reads. Only current memories must have distinct
-- content per owner, so a fact that becomes true again can be added anew.
ALTER TABLE memories ADD COLUMN valid_from INTEGER;
ALTER TABLE memories ADD COLUMN valid_until INTEGER;
ALTER TABLE memories ADD COLUMN superseded_by TEXT;
ALTER TABLE memories ADD COLUMN supersedes TEXT;
DROP INDEX IF EXISTS memories_owner_hash;
CREATE UNIQUE INDEX IF NOT EXISTS memories_owner_hash_current
    ON memories (tenant, owner_key, content_hash) WHERE valid_until IS NULL;
