-- Store-wide settings, such as the embedding model and prompt scheme each
-- vector collection was built with.
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
