/*
 * store_fetch.c: the scheduled feed downloads (see store.h, "feed downloads").
 *
 * The schedule itself is the jobs table (store_jobs.c claims and records
 * rounds); this file keeps it in step with dzong.conf and keeps each
 * download's validators and last outcome in feed_fetch.
 */
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_PREFIX "fetch."

typedef struct {
    const store_fetch_def *defs;
    size_t n;
    int removed;
} sync_ctx;

static bool configured(const sync_ctx *c, const char *job_name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(job_name + strlen(JOB_PREFIX), c->defs[i].name) == 0)
            return true;
    return false;
}

static dz_code sync_tx(store *s, db *d, void *arg, dz_err *e)
{
    sync_ctx *c = arg;
    int64_t now = store_now(s);
    db_stmt *st;
    c->removed = 0;
    for (size_t i = 0; i < c->n; i++) {
        char job[64];
        snprintf(job, sizeof job, JOB_PREFIX "%s", c->defs[i].name);
        /* A new job is due at once; a changed interval counts from now when that is sooner. */
        if (db_prepare(d,
                       "INSERT INTO jobs (name, interval_s, next_run_at) VALUES (?, CAST(? AS BIGINT), 0) "
                       "ON CONFLICT (name) DO UPDATE SET interval_s = excluded.interval_s, "
                       "next_run_at = CASE WHEN jobs.next_run_at > CAST(? AS BIGINT) "
                       "THEN CAST(? AS BIGINT) ELSE jobs.next_run_at END",
                       &st, e) != DZ_OK)
            return e->code;
        db_bind_text(st, 1, job);
        db_bind_int(st, 2, c->defs[i].interval_s);
        db_bind_int(st, 3, now + c->defs[i].interval_s);
        db_bind_int(st, 4, now + c->defs[i].interval_s);
        if (db_run(st, e) != DZ_OK)
            return e->code;
        /* Validators belong to a URL: another URL starts without them. */
        if (db_prepare(d,
                       "INSERT INTO feed_fetch (name, url) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET "
                       "etag = CASE WHEN feed_fetch.url = excluded.url THEN feed_fetch.etag ELSE NULL END, "
                       "last_modified = CASE WHEN feed_fetch.url = excluded.url THEN feed_fetch.last_modified "
                       "ELSE NULL END, url = excluded.url",
                       &st, e) != DZ_OK)
            return e->code;
        db_bind_text(st, 1, c->defs[i].name);
        db_bind_text(st, 2, c->defs[i].url);
        if (db_run(st, e) != DZ_OK)
            return e->code;
    }
    /* What is no longer configured: collect first (one statement at a time per connection). */
    if (db_prepare(d, "SELECT name FROM jobs WHERE name LIKE 'fetch.%' ORDER BY name", &st, e) != DZ_OK)
        return e->code;
    char (*gone)[64] = NULL;
    size_t ngone = 0, cap = 0;
    dz_code rc = DZ_OK;
    int r;
    while ((r = db_step(st, e)) == DB_ROW) {
        const char *name = db_col_text(st, 0);
        if (!name || strncmp(name, JOB_PREFIX, strlen(JOB_PREFIX)) != 0 || configured(c, name))
            continue;
        if (ngone == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char (*g)[64] = realloc(gone, ncap * sizeof *gone);
            if (!g) {
                rc = dz_fail(e, DZ_ENOMEM, "out of memory");
                break;
            }
            gone = g;
            cap = ncap;
        }
        snprintf(gone[ngone++], 64, "%s", name);
    }
    if (r == DB_ERROR)
        rc = e->code;
    db_reset(st);
    for (size_t i = 0; rc == DZ_OK && i < ngone; i++) {
        if ((rc = db_prepare(d, "DELETE FROM jobs WHERE name = ?", &st, e)) != DZ_OK)
            break;
        db_bind_text(st, 1, gone[i]);
        if ((rc = db_run(st, e)) != DZ_OK)
            break;
        if ((rc = db_prepare(d, "DELETE FROM feed_fetch WHERE name = ?", &st, e)) != DZ_OK)
            break;
        db_bind_text(st, 1, gone[i] + strlen(JOB_PREFIX));
        if ((rc = db_run(st, e)) != DZ_OK)
            break;
        c->removed++;
    }
    free(gone);
    if (rc != DZ_OK)
        return rc;
    /* feed_fetch rows without a job (left by an interrupted change): gone too. */
    if (db_prepare(d, "DELETE FROM feed_fetch WHERE NOT EXISTS "
                      "(SELECT 1 FROM jobs WHERE jobs.name = 'fetch.' || feed_fetch.name)", &st, e) != DZ_OK)
        return e->code;
    return db_run(st, e);
}

dz_code store_fetch_sync(store *s, const store_fetch_def *defs, size_t n, int *removed, dz_err *e)
{
    for (size_t i = 0; i < n; i++) {
        if (!defs[i].name || !*defs[i].name || strlen(defs[i].name) + strlen(JOB_PREFIX) >= 64)
            return dz_fail(e, DZ_EINVAL, "fetch name '%.80s' must be 1 to %d characters", defs[i].name ? defs[i].name : "",
                           (int)(63 - strlen(JOB_PREFIX)));
        if (!defs[i].url || !*defs[i].url || strlen(defs[i].url) >= sizeof ((store_fetch_state *)0)->url)
            return dz_fail(e, DZ_EINVAL, "fetch %s: the URL is empty or too long", defs[i].name);
        if (defs[i].interval_s <= 0)
            return dz_fail(e, DZ_EINVAL, "fetch %s: the interval must be positive", defs[i].name);
    }
    sync_ctx c = {defs, n, 0};
    dz_code rc = store_write(s, sync_tx, &c, e);
    if (removed)
        *removed = rc == DZ_OK ? c.removed : 0;
    return rc;
}

dz_code store_fetch_get(store *s, const char *name, store_fetch_state *out, dz_err *e)
{
    db *d;
    db_stmt *st;
    memset(out, 0, sizeof *out);
    if (store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, "SELECT url, etag, last_modified, COALESCE(last_status, 0), COALESCE(last_fetched_at, 0), "
                      "COALESCE(last_ingest_id, 0) FROM feed_fetch WHERE name = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, name);
    int r = db_step(st, e);
    if (r == DB_ROW) {
        const char *v;
        snprintf(out->url, sizeof out->url, "%s", (v = db_col_text(st, 0)) ? v : "");
        snprintf(out->etag, sizeof out->etag, "%s", (v = db_col_text(st, 1)) ? v : "");
        snprintf(out->last_modified, sizeof out->last_modified, "%s", (v = db_col_text(st, 2)) ? v : "");
        out->last_status = (int)db_col_int(st, 3);
        out->last_fetched_at = db_col_int(st, 4);
        out->last_ingest_id = db_col_int(st, 5);
    }
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    if (r == DB_DONE)
        return dz_fail(e, DZ_ENOTFOUND, "no download called '%s' is configured", name);
    return DZ_OK;
}

typedef struct {
    const char *name;
    const store_fetch_result *r;
    int64_t changed;
} record_ctx;

static dz_code record_tx(store *s, db *d, void *arg, dz_err *e)
{
    record_ctx *c = arg;
    const store_fetch_result *r = c->r;
    db_stmt *st;
    if (r->new_validators) {
        if (db_prepare(d, "UPDATE feed_fetch SET last_status = CAST(? AS INTEGER), last_fetched_at = CAST(? AS BIGINT), "
                          "last_error = ?, etag = ?, last_modified = ?, "
                          "last_ingest_id = COALESCE(CAST(? AS BIGINT), last_ingest_id) WHERE name = ?",
                       &st, e) != DZ_OK)
            return e->code;
        db_bind_int(st, 1, r->status);
        db_bind_int(st, 2, store_now(s));
        db_bind_text(st, 3, r->error);
        db_bind_text(st, 4, r->etag && *r->etag ? r->etag : NULL);
        db_bind_text(st, 5, r->last_modified && *r->last_modified ? r->last_modified : NULL);
        db_bind_int_or_null(st, 6, r->ingest_id, 0);
        db_bind_text(st, 7, c->name);
    } else {
        if (db_prepare(d, "UPDATE feed_fetch SET last_status = CAST(? AS INTEGER), last_fetched_at = CAST(? AS BIGINT), "
                          "last_error = ?, last_ingest_id = COALESCE(CAST(? AS BIGINT), last_ingest_id) WHERE name = ?",
                       &st, e) != DZ_OK)
            return e->code;
        db_bind_int(st, 1, r->status);
        db_bind_int(st, 2, store_now(s));
        db_bind_text(st, 3, r->error);
        db_bind_int_or_null(st, 4, r->ingest_id, 0);
        db_bind_text(st, 5, c->name);
    }
    if (db_run(st, e) != DZ_OK)
        return e->code;
    c->changed = db_changes(d);
    return DZ_OK;
}

dz_code store_fetch_record(store *s, const char *name, const store_fetch_result *r, dz_err *e)
{
    record_ctx c = {name, r, 0};
    if (store_write(s, record_tx, &c, e) != DZ_OK)
        return e->code;
    if (c.changed == 0)
        return dz_fail(e, DZ_ENOTFOUND, "no download called '%s' is configured", name);
    return DZ_OK;
}

static json_t *fetch_row(db_stmt *st)
{
    json_t *o = json_object();
    json_set_text(o, "name", db_col_text(st, 0));
    json_set_text(o, "url", db_col_text(st, 1));
    json_set_text(o, "etag", db_col_text(st, 2));
    json_set_text(o, "last_modified", db_col_text(st, 3));
    json_object_set_new(o, "last_status", db_col_null(st, 4) ? json_null() : json_integer(db_col_int(st, 4)));
    json_set_time(o, "last_fetched_at", db_col_null(st, 5) ? 0 : db_col_int(st, 5), true);
    json_set_text(o, "last_error", db_col_text(st, 6));
    json_object_set_new(o, "last_ingest_id", db_col_null(st, 7) ? json_null() : json_integer(db_col_int(st, 7)));
    return o;
}

dz_code store_fetch_list(store *s, json_t **out, dz_err *e)
{
    db *d;
    db_stmt *st;
    if (store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, "SELECT name, url, etag, last_modified, last_status, last_fetched_at, last_error, last_ingest_id "
                      "FROM feed_fetch ORDER BY name", &st, e) != DZ_OK)
        return e->code;
    return store_rows_json(st, fetch_row, out, e);
}
