-- Keyword search on one user's memories runs on an in-memory inverted index
-- per (tenant, user) partition (src/keyword/). Every change a search could
-- see is logged here in the transaction that makes it, so each process
-- applies other writers' changes to its cached partitions incrementally
-- instead of reloading them. Access-time updates are not logged: no filter
-- the index evaluates reads them.
CREATE TABLE IF NOT EXISTS kw_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    row INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS kw_log_owner ON kw_log (owner, seq);

CREATE TRIGGER kw_log_ai AFTER INSERT ON memories BEGIN
    INSERT INTO kw_log (owner, row) VALUES (new.fts_owner, new.rowid);
END;
CREATE TRIGGER kw_log_ad AFTER DELETE ON memories BEGIN
    INSERT INTO kw_log (owner, row) VALUES (old.fts_owner, old.rowid);
END;
CREATE TRIGGER kw_log_au AFTER UPDATE OF user_id, agent_id, session_id, fts_owner, fts_terms,
    kind, importance, confidence, metadata, created_at, updated_at, expires_at, valid_from,
    valid_until ON memories BEGIN
    INSERT INTO kw_log (owner, row) VALUES (old.fts_owner, old.rowid);
    INSERT INTO kw_log (owner, row) SELECT new.fts_owner, new.rowid WHERE new.fts_owner <> old.fts_owner;
END;
-- The log keeps the latest entries only; a cache older than the oldest kept
-- entry reloads its partition.
CREATE TRIGGER kw_log_trim AFTER INSERT ON kw_log WHEN new.seq % 1000 = 0 BEGIN
    DELETE FROM kw_log WHERE seq <= new.seq - 100000;
END;
