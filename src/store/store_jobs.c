/*
 * store_jobs.c: the schedule of recurring jobs, shared by every node.
 *
 * A claim is its own short transaction, outside the group-commit writer and
 * without the writers' lock: it picks the earliest due job, moves its
 * next_run_at one interval on, and commits. On PostgreSQL the pick reads with
 * FOR UPDATE SKIP LOCKED, so two nodes claiming at once take different jobs
 * (or one takes it and the other finds nothing); on SQLite the transaction
 * is IMMEDIATE, which is the same guarantee for one file.
 */
#include "store/store_internal.h"

#include <stdio.h>
#include <string.h>

#define PICK_DUE "SELECT name FROM jobs WHERE next_run_at <= ? ORDER BY next_run_at, name LIMIT 1"

dz_code store_job_claim(store *s, const char *node, char name[64], bool *claimed, dz_err *e)
{
    db *d;
    db_stmt *st;
    int64_t now = store_now(s);
    bool pg = false;
    *claimed = false;
    if (store_reader(s, &d, e) != DZ_OK)
        return e->code;
    pg = strcmp(db_backend(d), "postgres") == 0;
    if (db_begin(d, true, e) != DZ_OK)
        return e->code;
    dz_code rc = db_prepare(d, pg ? PICK_DUE " FOR UPDATE SKIP LOCKED" : PICK_DUE, &st, e);
    if (rc == DZ_OK) {
        db_bind_int(st, 1, now);
        int r = db_step(st, e);
        if (r == DB_ROW) {
            snprintf(name, 64, "%s", db_col_text(st, 0));
            *claimed = true;
        } else if (r == DB_ERROR) {
            rc = e->code;
        }
        db_reset(st);
    }
    if (rc == DZ_OK && *claimed &&
        (rc = db_prepare(d, "UPDATE jobs SET next_run_at = ? + interval_s, last_node = ? WHERE name = ?", &st, e)) ==
            DZ_OK) {
        db_bind_int(st, 1, now);
        db_bind_text(st, 2, node);
        db_bind_text(st, 3, name);
        rc = db_run(st, e);
    }
    if (rc == DZ_OK)
        rc = db_commit(d, e);
    if (rc != DZ_OK) {
        db_rollback(d);
        *claimed = false;
    }
    return rc;
}

typedef struct {
    const char *name, *error;
} job_finish_ctx;

static dz_code job_finish_tx(store *s, db *d, void *arg, dz_err *e)
{
    job_finish_ctx *c = arg;
    db_stmt *st;
    if (db_prepare(d, "UPDATE jobs SET last_run_at = ?, last_error = ?, runs = runs + 1 WHERE name = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, store_now(s));
    db_bind_text(st, 2, c->error);
    db_bind_text(st, 3, c->name);
    return db_run(st, e);
}

dz_code store_job_finish(store *s, const char *name, const char *error, dz_err *e)
{
    job_finish_ctx c = {name, error};
    return store_write(s, job_finish_tx, &c, e);
}

static json_t *job_row(db_stmt *st)
{
    json_t *o = json_object();
    json_set_text(o, "name", db_col_text(st, 0));
    json_object_set_new(o, "interval_s", json_integer(db_col_int(st, 1)));
    json_set_time(o, "next_run_at", db_col_int(st, 2), false);
    json_set_time(o, "last_run_at", db_col_int(st, 3), true);
    json_set_text(o, "last_node", db_col_text(st, 4));
    json_set_text(o, "last_error", db_col_text(st, 5));
    json_object_set_new(o, "runs", json_integer(db_col_int(st, 6)));
    return o;
}

dz_code store_job_list(store *s, json_t **out, dz_err *e)
{
    db *d;
    db_stmt *st;
    if (store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, "SELECT name, interval_s, next_run_at, COALESCE(last_run_at, 0), last_node, last_error, runs "
                      "FROM jobs ORDER BY name", &st, e) != DZ_OK)
        return e->code;
    return store_rows_json(st, job_row, out, e);
}

typedef struct {
    int64_t purged;
} purge_ctx;

static dz_code session_purge_tx(store *s, db *d, void *arg, dz_err *e)
{
    purge_ctx *c = arg;
    db_stmt *st;
    if (db_prepare(d, "DELETE FROM sessions WHERE expires_at <= ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, store_now(s));
    if (db_run(st, e) != DZ_OK)
        return e->code;
    c->purged = db_changes(d);
    return DZ_OK;
}

dz_code store_session_purge(store *s, int64_t *purged, dz_err *e)
{
    purge_ctx c = {0};
    dz_code rc = store_write(s, session_purge_tx, &c, e);
    *purged = c.purged;
    return rc;
}
