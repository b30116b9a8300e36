-- dzong schema 8: the dedup window and the address index in two levels (see
-- store_events.c). A batch only appends: its events' hashes and addresses go
-- to event_recent, and each process keeps the recent hashes in memory. When
-- event_recent holds enough rows, one transaction folds them, sorted, into
-- event_dedup and the address tables, so those B-trees take each page once
-- per fold instead of once per batch.
CREATE TABLE event_recent (
    event_id    BIGINT PRIMARY KEY,    -- events.id; ids only grow (writes hold the writers' lock)
    hash        BIGINT NOT NULL,       -- the dedup hash (uint64 as int64)
    first_seen  BIGINT NOT NULL,
    ip4         BIGINT,
    ip6         TEXT COLLATE "C"
);

-- Each event's dedup hash (SQLite fills a batch's event_recent rows from it; kept here too, so `db copy` carries it).
ALTER TABLE events ADD COLUMN dedup_hash BIGINT;

-- Folded addresses: a network's events are a key range.
CREATE TABLE event_ip4 (
    ip4         BIGINT NOT NULL,
    event_id    BIGINT NOT NULL,
    PRIMARY KEY (ip4, event_id)
);
CREATE TABLE event_ip6 (
    ip6         TEXT COLLATE "C" NOT NULL,
    event_id    BIGINT NOT NULL,
    PRIMARY KEY (ip6, event_id)
);

INSERT INTO event_ip4(ip4, event_id) SELECT ip4, id FROM events WHERE ip4 IS NOT NULL ORDER BY ip4, id;
INSERT INTO event_ip6(ip6, event_id) SELECT ip6, id FROM events WHERE ip6 IS NOT NULL ORDER BY ip6, id;
DROP INDEX events_by_ip4;
DROP INDEX events_by_ip6;

-- The events' owner is checked by the commit, which stores only constituents
-- that exist, under the writers' lock; deleting a constituent clears its
-- events' owner (store_constituents.c). The foreign key's trigger cost each
-- owned event a query (13% of a 1M-event ingest). SQLite keeps its key: there
-- the check is one lookup in the parent's primary key.
ALTER TABLE events DROP CONSTRAINT events_constituent_id_fkey;
