-- Scheduled feed downloads (issue 5). One row per configured `fetch` of
-- dzong.conf (jobs/fetch.c; its schedule is the jobs row 'fetch.<name>'):
-- the URL and the validators of the last good download, sent back as
-- If-None-Match / If-Modified-Since, and how the last round went.
CREATE TABLE feed_fetch (
    name             TEXT PRIMARY KEY,
    url              TEXT NOT NULL,
    etag             TEXT,
    last_modified    TEXT,
    last_status      INTEGER,          -- HTTP status of the last round; 0: no answer (see last_error)
    last_fetched_at  INTEGER,
    last_error       TEXT,
    last_ingest_id   INTEGER           -- ingests.id of the last body taken in
);
