-- Keyword search indexes terms analysed by memory_core::text (folded words,
-- their stems in the text's language, CJK character pairs), the same on every
-- backend, instead of FTS5's English-only stemming of the raw content. The
-- store fills `fts_terms` for existing rows when it opens (it records the
-- analyser it used in `settings`), through the update trigger below.
ALTER TABLE memories ADD COLUMN fts_terms TEXT NOT NULL DEFAULT '';

DROP TRIGGER IF EXISTS memories_fts_ai;
DROP TRIGGER IF EXISTS memories_fts_ad;
DROP TRIGGER IF EXISTS memories_fts_au;
DROP TABLE IF EXISTS memories_fts;

CREATE VIRTUAL TABLE memories_fts USING fts5 (
    fts_terms, fts_owner, content = 'memories', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 0'
);
-- Every row is in the index from the start, so the update trigger's
-- 'delete' always removes exactly what was inserted.
INSERT INTO memories_fts (memories_fts) VALUES ('rebuild');

CREATE TRIGGER memories_fts_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, fts_terms, fts_owner) VALUES (new.rowid, new.fts_terms, new.fts_owner);
END;
CREATE TRIGGER memories_fts_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, fts_terms, fts_owner) VALUES ('delete', old.rowid, old.fts_terms, old.fts_owner);
END;
CREATE TRIGGER memories_fts_au AFTER UPDATE OF fts_terms, fts_owner ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, fts_terms, fts_owner) VALUES ('delete', old.rowid, old.fts_terms, old.fts_owner);
    INSERT INTO memories_fts (rowid, fts_terms, fts_owner) VALUES (new.rowid, new.fts_terms, new.fts_owner);
END;
