-- The head of the audit chain in one row. Every write transaction updates it
-- first (store.c), so its row lock serialises writers: across nodes on
-- PostgreSQL, and it is free on SQLite, where BEGIN IMMEDIATE already does.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
SELECT 1, COALESCE(MAX(seq), 0),
       COALESCE((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1),
                '0000000000000000000000000000000000000000000000000000000000000000')
FROM audit_log;
