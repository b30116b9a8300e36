-- dzong schema 4: the constituency registry.
-- The minimal constituents row grows into the full record (lib/constituent.h);
-- what an organisation owns and whom to tell live in child tables keyed by
-- constituent_id. Booleans are 0/1. registry_state.version is bumped by every
-- change of the registry in the same transaction, so each node can tell when
-- to rebuild its in-memory index.

ALTER TABLE constituents ADD COLUMN kind TEXT NOT NULL DEFAULT 'other';
ALTER TABLE constituents ADD COLUMN sector TEXT;
ALTER TABLE constituents ADD COLUMN cii INTEGER NOT NULL DEFAULT 0 CHECK (cii IN (0, 1));
ALTER TABLE constituents ADD COLUMN cii_tier INTEGER NOT NULL DEFAULT 0 CHECK (cii_tier BETWEEN 0 AND 3);
ALTER TABLE constituents ADD COLUMN parent_id INTEGER REFERENCES constituents(id);
-- A JSON array of tags, sorted; tags are [a-z0-9._:-], so LIKE '%"tag"%' finds one exactly.
ALTER TABLE constituents ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE constituents ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE constituents SET updated_at = created_at;
CREATE INDEX constituents_by_parent ON constituents(parent_id);

-- Canonical CIDR text (net_prefix_format).
CREATE TABLE constituent_networks (
    constituent_id  INTEGER NOT NULL REFERENCES constituents(id),
    network         TEXT NOT NULL,
    PRIMARY KEY (constituent_id, network)
);

CREATE TABLE constituent_asns (
    constituent_id  INTEGER NOT NULL REFERENCES constituents(id),
    asn             INTEGER NOT NULL CHECK (asn BETWEEN 1 AND 4294967295),
    PRIMARY KEY (constituent_id, asn)
);

-- A-labels (domain_normalize).
CREATE TABLE constituent_domains (
    constituent_id  INTEGER NOT NULL REFERENCES constituents(id),
    domain          TEXT NOT NULL,
    PRIMARY KEY (constituent_id, domain)
);

-- In the record's order (position). Enumerations as their wire names.
CREATE TABLE constituent_contacts (
    id               INTEGER PRIMARY KEY,
    constituent_id   INTEGER NOT NULL REFERENCES constituents(id),
    position         INTEGER NOT NULL,
    name             TEXT NOT NULL,
    email            TEXT NOT NULL,
    phone            TEXT,
    pgp              TEXT,
    language         TEXT,
    role             TEXT NOT NULL,
    notify_interval  TEXT NOT NULL,
    notify_format    TEXT NOT NULL,
    max_tlp          TEXT NOT NULL,
    UNIQUE (constituent_id, position)
);

CREATE TABLE registry_state (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL
);
INSERT INTO registry_state (id, version) VALUES (1, 0);

-- Deleting an organisation checks what still refers to it (and so do the foreign keys).
CREATE INDEX users_by_constituent ON users(constituent_id);
CREATE INDEX reports_by_constituent ON reports(constituent_id);
CREATE INDEX reports_by_org ON reports(created_by_org);
