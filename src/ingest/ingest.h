/*
 * ingest: one input through the whole pipeline into the store.
 *
 *   read -> parse (lib/feed_*.c) -> classify, enrich, key (lib/pipeline.c)
 *        -> batch -> store_events_commit (dedup, store, quarantine, checkpoint)
 *
 * The parser and the pipeline run in the calling thread; a committer thread
 * writes the previous batch meanwhile (two batches in flight at most, so
 * memory stays bounded whatever the input's size). Batches end between
 * positions, so a checkpoint never splits a row's events.
 *
 * Used by `dzong ingest`, the spool watcher and the fetcher (jobs/), and
 * POST /api/v1/events (server/). Layer: above store, below cli/server/jobs.
 */
#ifndef DZ_INGEST_H
#define DZ_INGEST_H
#include <stdbool.h>
#include <stdint.h>
#include "lib/csv.h"
#include "lib/dz_err.h"
#include "lib/feed.h"
#include "lib/pipeline.h"
#include "store/store.h"

typedef struct ingest_progress {
    uint64_t bytes_read;          /* of the input, so far */
    uint64_t bytes_total;         /* 0: unknown (a pipe) */
    uint64_t lines;               /* the last position parsed */
    int64_t events, duplicates, quarantined, matched;   /* committed, this run */
    double seconds;
} ingest_progress;

typedef struct ingest_request {
    const feed_parser *parser;
    feed_options opt;
    int fd;                        /* the input, read from its current offset; or, when read is set: */
    csv_read_fn read;              /* the input as a callback (a request body: csv_read_memory) */
    void *read_arg;
    uint64_t size;                 /* the input's bytes when known (progress), else 0 */
    const char *kind;              /* "file", "spool", "fetch", "api" */
    const char *source;            /* path, URL or batch id, for people */
    const char *key;               /* the input's identity; NULL: ingest_fingerprint(fd) (required with read) */
    const char *node;              /* NULL: "host:pid" */
    int64_t org_id;                /* who sent it (API), 0 none */
    const char *take_over;         /* see ingest_claim */
    size_t batch_events;           /* 0: 20000 */
    const pipeline_config *pipeline; /* NULL: defaults */
    void (*progress)(void *arg, const ingest_progress *p);  /* after each commit; may be NULL */
    void *progress_arg;
} ingest_request;

typedef struct ingest_summary {
    int64_t ingest_id;
    ingest_claim_state claim;      /* NEW, RESUME, DONE (nothing done) or BUSY (nothing done; holder) */
    char holder[64];
    uint64_t lines;                /* the last position */
    uint64_t skipped;              /* events and refused rows skipped on resume */
    int64_t events, duplicates, quarantined, matched;   /* this run */
    double seconds;
    bool refused;                  /* failed because the parser refused the input (it is not that feed): the
                                    * ingest is marked failed; other failures leave it to be resumed */
} ingest_summary;

/*
 * Runs the input to its end (or resumes it) and marks the ingest done.
 * A parser failure (the input is not that feed) marks it failed with the
 * parser's message and returns it. The store must be open; the registry
 * snapshot is refreshed first when the store has none.
 */
dz_code ingest_run(store *s, const ingest_request *r, ingest_summary *out, dz_err *e);

/* The longest key ingest_run takes. */
#define INGEST_KEY_MAX 255

/* An input's identity: "sha256:<hex of its first MiB>:<size>". The fd's offset is left where it was. */
dz_code ingest_fingerprint(int fd, char out[96], dz_err *e);
/* "host:pid" of this process. */
void ingest_node_name(char out[64]);

#endif
