-- The sender's own id for a message, unique in its session, so a client's
-- retry records nothing twice.
ALTER TABLE messages ADD COLUMN client_id TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS messages_client
    ON messages (tenant, session_id, client_id) WHERE client_id IS NOT NULL;
