-- dzong schema 8: the dedup window and the address index in two levels (see
-- store_events.c). A batch only appends: its events' hashes and addresses go
-- to event_recent, a table without secondary indexes, and each process keeps
-- the recent hashes in memory. When event_recent holds enough rows, one
-- transaction folds them, sorted, into event_dedup and the address tables,
-- so those B-trees take each page once per fold instead of once per batch.
CREATE TABLE event_recent (
    event_id    INTEGER PRIMARY KEY,   -- events.id; ids only grow (writes hold the writers' lock)
    hash        INTEGER NOT NULL,      -- the dedup hash (uint64 as int64)
    first_seen  INTEGER NOT NULL,
    ip4         INTEGER,
    ip6         TEXT
);

-- Each event's dedup hash, so a batch's event_recent rows are one INSERT ... SELECT.
ALTER TABLE events ADD COLUMN dedup_hash INTEGER;

-- Folded addresses: a network's events are a key range.
CREATE TABLE event_ip4 (
    ip4         INTEGER NOT NULL,
    event_id    INTEGER NOT NULL,
    PRIMARY KEY (ip4, event_id)
) WITHOUT ROWID;
CREATE TABLE event_ip6 (
    ip6         TEXT NOT NULL,
    event_id    INTEGER NOT NULL,
    PRIMARY KEY (ip6, event_id)
) WITHOUT ROWID;

INSERT INTO event_ip4(ip4, event_id) SELECT ip4, id FROM events WHERE ip4 IS NOT NULL ORDER BY ip4, id;
INSERT INTO event_ip6(ip6, event_id) SELECT ip6, id FROM events WHERE ip6 IS NOT NULL ORDER BY ip6, id;
DROP INDEX events_by_ip4;
DROP INDEX events_by_ip6;
