-- dzong schema 5: feed events (issue 5), see store_events.c.
-- An ingest is one input (a file, a spool file, a download, a POST's batch),
-- identified by its key; a node holds it by a lease that every commit renews,
-- and lines_done is the checkpoint committed with the events it covers.
CREATE TABLE ingests (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('file','spool','fetch','api')),
    source       TEXT NOT NULL,
    key          TEXT NOT NULL UNIQUE,
    feed         TEXT NOT NULL,
    report       TEXT,
    org_id       INTEGER REFERENCES constituents(id) ON DELETE SET NULL,
    status       TEXT NOT NULL CHECK (status IN ('running','done','failed')),
    node         TEXT NOT NULL,
    lease_s      INTEGER NOT NULL CHECK (lease_s > 0),
    lease_until  INTEGER NOT NULL,
    lines_done   INTEGER NOT NULL DEFAULT 0,
    events       INTEGER NOT NULL DEFAULT 0,
    duplicates   INTEGER NOT NULL DEFAULT 0,
    quarantined  INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    started_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX ingests_by_org ON ingests(org_id);

-- One row per stored event: the IntelMQ JSON (doc) and the few values lists
-- filter on. source.ip as an integer (ip4) or as 32 lower-case hex digits
-- (ip6), so a network is a range; IPv4's small keys keep its index (the one
-- with random inserts) small. notified_at NULL with a
-- constituent: still to notify. Few indexes on purpose: ingest speed.
-- ingest_id has no foreign key (ingests are never deleted; a check per row costs).
CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    ingest_id       INTEGER NOT NULL,
    line            INTEGER NOT NULL,
    stored_at       INTEGER NOT NULL,
    time_source     INTEGER,
    feed            TEXT NOT NULL,
    taxonomy        TEXT NOT NULL,
    type            TEXT NOT NULL,
    identifier      TEXT,
    ip4             INTEGER,
    ip6             TEXT,
    asn             INTEGER,
    constituent_id  INTEGER REFERENCES constituents(id) ON DELETE SET NULL,
    notified_at     INTEGER,
    doc             TEXT NOT NULL
);
-- Partial: events nobody owns, or without an address, cost no index entry.
CREATE INDEX events_by_constituent ON events(constituent_id, id) WHERE constituent_id IS NOT NULL;
CREATE INDEX events_by_ip4 ON events(ip4) WHERE ip4 IS NOT NULL;
CREATE INDEX events_by_ip6 ON events(ip6) WHERE ip6 IS NOT NULL;

-- The dedup window's state: an event's dedup hash (uint64 stored as int64)
-- and when it was first stored. An upsert per event decides (store_events.c).
CREATE TABLE event_dedup (
    hash        INTEGER PRIMARY KEY,
    first_seen  INTEGER NOT NULL
);

-- Rows a parser or the pipeline refused, with the reason and the row's bytes.
CREATE TABLE event_quarantine (
    id          INTEGER PRIMARY KEY,
    ingest_id   INTEGER NOT NULL,
    line        INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    raw         TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX event_quarantine_by_ingest ON event_quarantine(ingest_id, id);

-- Stored events per UTC day of stored_at, feed, classification and
-- constituent (0: none): the dashboard's counts without scanning events.
CREATE TABLE event_daily (
    day             TEXT NOT NULL,
    feed            TEXT NOT NULL,
    taxonomy        TEXT NOT NULL,
    type            TEXT NOT NULL,
    constituent_id  INTEGER NOT NULL,
    count           INTEGER NOT NULL,
    PRIMARY KEY (day, feed, taxonomy, type, constituent_id)
) WITHOUT ROWID;

INSERT INTO jobs (name, interval_s, next_run_at) VALUES ('events.dedup_purge', 3600, 0);
