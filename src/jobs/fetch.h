/*
 * fetch: scheduled downloads of feeds (libcurl), taken in by `dzong serve`.
 *
 * Each configured download (dzong.conf `fetch = NAME FEED URL [every=D]
 * [report=R] [mapping=FILE] [feed_name=N]`) is the job "fetch.NAME" of the
 * shared schedule, so with several nodes on one PostgreSQL each round runs
 * on one node. A round sends the validators of the last download
 * (If-None-Match, If-Modified-Since): 304 means nothing to do. A body goes
 * to a temporary file in the data directory (size limit, timeouts, at most
 * 5 redirects, HTTPS only unless http is allowed) and through ingest_run
 * (kind "fetch", key: the content's fingerprint, so an unchanged body is
 * never taken in twice, validators or not). The outcome is kept in
 * feed_fetch (store_fetch_*).
 */
#ifndef DZ_FETCH_H
#define DZ_FETCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/dz_err.h"
#include "lib/feed.h"
#include "lib/pipeline.h"
#include "store/store.h"

#define FETCH_MAX 32                           /* downloads per configuration */
#define FETCH_MAX_BYTES (2ULL << 30)           /* a body larger than 2 GiB is refused */

/* One `fetch` line of dzong.conf. */
typedef struct fetch_def {
    char name[48];        /* [a-z0-9_-], the job is "fetch.<name>" */
    char feed[32];        /* a parser of lib/feed.h */
    char url[2048];
    int64_t every_s;      /* default 3600 */
    char report[64];      /* shadowserver: the report type; "": from the URL's file name */
    char feed_name[64];   /* feed.name of every event; "": the parser's */
    char mapping[512];    /* csv: the column mapping file */
    int line;             /* of dzong.conf, for messages */
} fetch_def;

/* Parses the value of a `fetch` line into d (line is not set). */
dz_code fetch_def_parse(const char *value, fetch_def *d, dz_err *e);
/* https://, or http:// to 127.0.0.1, [::1] or localhost, or any http:// with allow_http. */
dz_code fetch_check_url(const char *url, bool allow_http, dz_err *e);

typedef struct fetch_setup {
    const fetch_def *defs;
    size_t n;
    const struct csv_mapping *const *mappings;   /* per def, NULL where none; may be NULL */
    const char *tmp_dir;              /* downloads go here (created 0700 if missing) */
    bool allow_http;
    feed_options opt;                 /* template: the Shadowserver schema */
    const pipeline_config *pipeline;  /* NULL: defaults */
    const char *node;                 /* NULL: "host:pid" */
} fetch_setup;

/*
 * Makes this process's downloads those of fs (copied; the schema and
 * mappings must outlive fetch_unconfigure) and initialises libcurl. Call
 * before any thread runs jobs.
 */
dz_code fetch_configure(const fetch_setup *fs, dz_err *e);
void fetch_unconfigure(void);
/* Makes a download in progress give up now, and later ones fail at once (at shutdown, before scheduler_stop). */
void fetch_abort(void);
/* store_fetch_sync with the configured downloads: the schedule follows dzong.conf. */
dz_code fetch_sync(store *st, dz_err *e);
/* The smallest interval configured, 0 when none. */
int64_t fetch_min_interval(void);
/* One round of the download called name (the job "fetch.<name>"; scheduler.c calls it). */
dz_code fetch_run_job(store *st, const char *name, dz_err *e);

#endif
