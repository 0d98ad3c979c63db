-- An update that rewrites a memory's row with the same terms and owner (a
-- re-embedding, which sets only the vector and the model's name) leaves
-- its FTS5 entry and every cached keyword index as they are: `UPDATE OF`
-- fires when a column is set, changed or not, and the engine's versioned
-- update sets every column.
DROP TRIGGER IF EXISTS memories_fts_au;
CREATE TRIGGER memories_fts_au AFTER UPDATE OF fts_terms, fts_owner ON memories
    WHEN old.fts_terms IS NOT new.fts_terms OR old.fts_owner IS NOT new.fts_owner BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, fts_terms, fts_owner) VALUES ('delete', old.rowid, old.fts_terms, old.fts_owner);
    INSERT INTO memories_fts (rowid, fts_terms, fts_owner) VALUES (new.rowid, new.fts_terms, new.fts_owner);
END;

DROP TRIGGER IF EXISTS kw_log_au;
CREATE TRIGGER kw_log_au AFTER UPDATE OF user_id, agent_id, session_id, fts_owner, fts_terms,
    kind, importance, confidence, metadata, created_at, updated_at, expires_at, valid_from,
    valid_until ON memories
    WHEN old.user_id IS NOT new.user_id OR old.agent_id IS NOT new.agent_id
      OR old.session_id IS NOT new.session_id OR old.fts_owner IS NOT new.fts_owner
      OR old.fts_terms IS NOT new.fts_terms OR old.kind IS NOT new.kind
      OR old.importance IS NOT new.importance OR old.confidence IS NOT new.confidence
      OR old.metadata IS NOT new.metadata OR old.created_at IS NOT new.created_at
      OR old.updated_at IS NOT new.updated_at OR old.expires_at IS NOT new.expires_at
      OR old.valid_from IS NOT new.valid_from OR old.valid_until IS NOT new.valid_until BEGIN
    INSERT INTO kw_log (owner, row) VALUES (old.fts_owner, old.rowid);
    INSERT INTO kw_log (owner, row) SELECT new.fts_owner, new.rowid WHERE new.fts_owner <> old.fts_owner;
END;
