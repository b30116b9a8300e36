-- dzong schema 7: notifications (issue 6), see store_notify.c.
-- A notification is one message to one recipient (an event digest for one
-- contact, or an incident notice); its row is also its outbox entry
-- (queued -> sending -> sent | failed) and holds the finished message, so
-- every attempt sends the same bytes under the same Message-ID.
-- Booleans are 0/1. Digest-only columns (after_id, upto_id, period_*) are
-- NULL for incident notices; incident_id is NULL for digests.
CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY,
    ticket           TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL CHECK (kind IN ('digest','incident')),
    org_id           INTEGER NOT NULL REFERENCES constituents(id),
    recipient        TEXT NOT NULL,
    recipient_name   TEXT,
    subject          TEXT NOT NULL,
    message          TEXT NOT NULL,
    message_id       TEXT NOT NULL UNIQUE,
    language         TEXT,
    format           TEXT,
    tlp              TEXT,
    is_signed        INTEGER NOT NULL DEFAULT 0 CHECK (is_signed IN (0, 1)),
    is_encrypted     INTEGER NOT NULL DEFAULT 0 CHECK (is_encrypted IN (0, 1)),
    incident_id      INTEGER REFERENCES incidents(id),
    after_id         INTEGER,
    upto_id          INTEGER,
    events           INTEGER NOT NULL DEFAULT 0,
    withheld         INTEGER NOT NULL DEFAULT 0,
    period_from      INTEGER,
    period_to        INTEGER,
    summary          TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL CHECK (status IN ('queued','sending','sent','failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    node             TEXT,
    lease_until      INTEGER,
    smtp_code        INTEGER,
    last_error       TEXT,
    in_doubt         INTEGER NOT NULL DEFAULT 0 CHECK (in_doubt IN (0, 1)),
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    acknowledged_at  INTEGER,
    acknowledged_by  INTEGER REFERENCES users(id),
    CHECK ((kind = 'incident') = (incident_id IS NOT NULL)),
    CHECK (kind = 'incident' OR (after_id IS NOT NULL AND upto_id IS NOT NULL AND after_id < upto_id))
);
-- The outbox: only rows still to send (or being sent) are indexed.
CREATE INDEX notifications_outbox ON notifications(status, next_attempt_at, id) WHERE status IN ('queued','sending');
CREATE INDEX notifications_by_org ON notifications(org_id, id);
CREATE INDEX notifications_by_incident ON notifications(incident_id) WHERE incident_id IS NOT NULL;

-- The watermark per contact (organisation and e-mail as the registry stores
-- it): the newest event id that address has been sent in a digest. No row:
-- 0 and never. The transaction that queues a digest moves it (store_notify.c).
CREATE TABLE notify_cursors (
    org_id          INTEGER NOT NULL REFERENCES constituents(id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    last_event_id   INTEGER NOT NULL,
    last_digest_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, email)
) WITHOUT ROWID;

INSERT INTO jobs (name, interval_s, next_run_at) VALUES ('notify.digest', 60, 0);

-- The watermark replaces the per-event mark.
ALTER TABLE events DROP COLUMN notified_at;
