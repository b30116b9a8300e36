-- Scheduled jobs. A node claims a due job by moving its next_run_at forward in
-- a short transaction; on PostgreSQL the claim reads with FOR UPDATE SKIP
-- LOCKED, so nodes never run the same round of a job twice.
CREATE TABLE jobs (
    name         TEXT PRIMARY KEY,
    interval_s   BIGINT NOT NULL CHECK (interval_s > 0),
    next_run_at  BIGINT NOT NULL,
    last_run_at  BIGINT,
    last_node    TEXT,
    last_error   TEXT,
    runs         BIGINT NOT NULL DEFAULT 0
);
INSERT INTO jobs (name, interval_s, next_run_at) VALUES ('sessions.purge', 3600, 0);
INSERT INTO jobs (name, interval_s, next_run_at) VALUES ('audit.verify', 86400, 0);
