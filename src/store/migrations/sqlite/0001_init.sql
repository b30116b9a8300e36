-- dzong schema 1: identity, constituents (minimal), the incident desk, audit.
-- Times are INTEGER seconds since the epoch (UTC). Booleans are 0/1.
-- Each numbered file runs in one transaction and is recorded in schema_version.

CREATE TABLE constituents (
    id          INTEGER PRIMARY KEY,
    short_name  TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL CHECK (role IN ('admin','coordinator','handler','analyst','constituent','partner')),
    constituent_id  INTEGER REFERENCES constituents(id),
    password_hash   TEXT,
    disabled        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    CHECK ((role IN ('constituent','partner')) = (constituent_id IS NOT NULL))
);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    label       TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    csrf_token  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_at);

-- Per-year sequences for public ids (PREFIX-YYYY-NNNNN, PREFIX-R-YYYY-NNNNN).
CREATE TABLE id_sequences (
    kind   TEXT NOT NULL,
    year   INTEGER NOT NULL,
    last   INTEGER NOT NULL,
    PRIMARY KEY (kind, year)
);

CREATE TABLE incidents (
    id            INTEGER PRIMARY KEY,
    public_id     TEXT NOT NULL UNIQUE,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    taxonomy      TEXT NOT NULL,
    type          TEXT NOT NULL,
    tlp           TEXT NOT NULL,
    pap           TEXT NOT NULL,
    severity      INTEGER NOT NULL,       -- 0 low .. 3 critical, so it sorts
    status        TEXT NOT NULL,
    assignee_id   INTEGER REFERENCES users(id),
    duplicate_of  INTEGER REFERENCES incidents(id),
    due_at        INTEGER,
    due_manual    INTEGER NOT NULL DEFAULT 0,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX incidents_created ON incidents(created_at, id);
CREATE INDEX incidents_updated ON incidents(updated_at, id);
CREATE INDEX incidents_status ON incidents(status);
CREATE INDEX incidents_assignee ON incidents(assignee_id);

CREATE TABLE incident_constituents (
    incident_id     INTEGER NOT NULL REFERENCES incidents(id),
    constituent_id  INTEGER NOT NULL REFERENCES constituents(id),
    PRIMARY KEY (incident_id, constituent_id)
);
CREATE INDEX incident_constituents_by_constituent ON incident_constituents(constituent_id, incident_id);

CREATE TABLE incident_tags (
    incident_id  INTEGER NOT NULL REFERENCES incidents(id),
    tag          TEXT NOT NULL,
    PRIMARY KEY (incident_id, tag)
);
CREATE INDEX incident_tags_by_tag ON incident_tags(tag);

-- Every change: status, owner, severity, TLP, fields, notes, tasks, links, merges.
CREATE TABLE incident_timeline (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents(id),
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    kind         TEXT NOT NULL,   -- created, status, assignee, severity, tlp, field, note, task, report, merged_from, merged_into
    field        TEXT,
    old_value    TEXT,
    new_value    TEXT
);
CREATE INDEX incident_timeline_by_incident ON incident_timeline(incident_id, id);

CREATE TABLE incident_notes (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents(id),
    author       TEXT NOT NULL,
    body         TEXT NOT NULL,
    shared       INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX incident_notes_by_incident ON incident_notes(incident_id, id);

CREATE TABLE incident_tasks (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents(id),
    title        TEXT NOT NULL,
    status       TEXT NOT NULL,
    assignee_id  INTEGER REFERENCES users(id),
    due_at       INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX incident_tasks_by_incident ON incident_tasks(incident_id, id);

CREATE TABLE reports (
    id              INTEGER PRIMARY KEY,
    public_id       TEXT NOT NULL UNIQUE,
    source          TEXT NOT NULL,
    source_ref      TEXT NOT NULL,
    title           TEXT,
    body            TEXT,
    reporter_name   TEXT,
    reporter_email  TEXT,
    reporter_phone  TEXT,
    constituent_id  INTEGER REFERENCES constituents(id),
    incident_id     INTEGER REFERENCES incidents(id),
    created_by      TEXT NOT NULL,
    created_by_org  INTEGER REFERENCES constituents(id),
    created_at      INTEGER NOT NULL,
    UNIQUE (source, source_ref)
);
CREATE INDEX reports_by_incident ON reports(incident_id);
CREATE INDEX reports_created ON reports(created_at, id);

-- Append-only; each row's hash chains to the previous row's (lib/audit_chain.c).
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    object     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
