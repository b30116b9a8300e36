/*
 * store.c: opening, migrations, per-thread readers, and the group-commit writer.
 *
 * Why a writer thread: SQLite allows one writer at a time and a durable
 * commit costs an fsync (~0.2 ms here). Requests that want to write queue a
 * closure; the writer takes everything queued, runs each in its own SAVEPOINT
 * inside one transaction, commits once, and wakes them all. One failing item
 * rolls back to its savepoint and fails alone. Under load a batch holds tens
 * of requests, so durable writes scale past the disk's fsync rate.
 */
#include "store/store_internal.h"
#include "lib/embedded.h"
#include "lib/timeutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct embedded_file migrations_sqlite[], migrations_pg[];

#define WRITE_BATCH_MAX 256

typedef struct write_req {
    store_write_fn fn;
    void *ctx;
    dz_err err;
    dz_code rc;
    bool done;
    pthread_cond_t done_cond; /* its own, so a finished batch wakes only its callers */
    struct write_req *next;
} write_req;

typedef struct reader_conn {
    db *d;
    store *owner;
    struct reader_conn *next;
} reader_conn;

struct store {
    char *url;
    store_settings settings;
    db *wdb;
    pthread_mutex_t inline_lock; /* serialises writes before the writer thread runs */
    pthread_key_t reader_key;
    pthread_mutex_t readers_lock;
    reader_conn *readers;

    pthread_mutex_t qlock;
    pthread_cond_t qcond;    /* work queued, or stop */
    write_req *head, *tail;
    bool writer_running, stopping;
    pthread_t writer;
    pthread_t checkpointer; /* SQLite: keeps the WAL short without stalling the writer */
    pthread_cond_t ckcond;  /* wakes the checkpointer early, to stop */
    bool checkpointer_running;
    db *cdb;
    int64_t fixed_now;

    /* The constituency index: loaded by store_registry_refresh, read without locks. */
    registry_cell registry;
    pthread_mutex_t registry_refresh_lock; /* one load at a time, so versions only go up */
    pthread_t registry_watcher;            /* picks up other processes' changes */
    bool registry_watcher_running;

    event_window window;
    uint64_t rollbacks; /* write callbacks undone: see store_rollbacks() */
};

int64_t store_now(store *s)
{
    return s->fixed_now ? s->fixed_now : (int64_t)time(NULL);
}

void store_set_clock(store *s, int64_t fixed_now)
{
    s->fixed_now = fixed_now;
}

const store_settings *store_get_settings(store *s)
{
    return &s->settings;
}

uint64_t store_rollbacks(store *s)
{
    return s->rollbacks;
}

event_window *store_event_window(store *s)
{
    return &s->window;
}

const sector_list *store_sectors(store *s)
{
    return &s->settings.sectors;
}

static void reader_destroy(void *p)
{
    reader_conn *rc = p;
    store *s = rc->owner;
    pthread_mutex_lock(&s->readers_lock);
    for (reader_conn **pp = &s->readers; *pp; pp = &(*pp)->next)
        if (*pp == rc) {
            *pp = rc->next;
            break;
        }
    pthread_mutex_unlock(&s->readers_lock);
    db_close(rc->d);
    free(rc);
}

dz_code store_open(const char *url, const store_settings *settings, store **out, dz_err *e)
{
    store *s = calloc(1, sizeof *s);
    if (!s)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    s->url = strdup(url);
    s->settings = *settings;
    if (s->settings.sectors.n == 0)
        sector_list_default(&s->settings.sectors);
    if (s->settings.dedup_window_s <= 0)
        s->settings.dedup_window_s = 86400; /* feed events: 24 h */
    pthread_mutex_init(&s->inline_lock, NULL);
    pthread_mutex_init(&s->readers_lock, NULL);
    pthread_mutex_init(&s->qlock, NULL);
    pthread_cond_init(&s->qcond, NULL);
    pthread_cond_init(&s->ckcond, NULL);
    pthread_key_create(&s->reader_key, reader_destroy);
    registry_cell_init(&s->registry);
    pthread_mutex_init(&s->registry_refresh_lock, NULL);
    if (db_open(url, &s->wdb, e) != DZ_OK) {
        store_close(s);
        return e->code;
    }
    *out = s;
    return DZ_OK;
}

void store_close(store *s)
{
    if (!s)
        return;
    store_stop_writer(s);
    reader_conn *mine = pthread_getspecific(s->reader_key);
    if (mine)
        pthread_setspecific(s->reader_key, NULL);
    pthread_mutex_lock(&s->readers_lock);
    reader_conn *r = s->readers;
    s->readers = NULL;
    pthread_mutex_unlock(&s->readers_lock);
    while (r) {
        reader_conn *next = r->next;
        db_close(r->d);
        free(r);
        r = next;
    }
    pthread_key_delete(s->reader_key);
    db_close(s->wdb);
    registry_cell_destroy(&s->registry);
    pthread_mutex_destroy(&s->registry_refresh_lock);
    event_window_free(&s->window);
    free(s->url);
    free(s);
}

dz_code store_reader(store *s, db **out, dz_err *e)
{
    reader_conn *rc = pthread_getspecific(s->reader_key);
    if (!rc) {
        rc = calloc(1, sizeof *rc);
        if (!rc)
            return dz_fail(e, DZ_ENOMEM, "out of memory");
        if (db_open(s->url, &rc->d, e) != DZ_OK) {
            free(rc);
            return e->code;
        }
        rc->owner = s;
        pthread_mutex_lock(&s->readers_lock);
        rc->next = s->readers;
        s->readers = rc;
        pthread_mutex_unlock(&s->readers_lock);
        pthread_setspecific(s->reader_key, rc);
    }
    *out = rc->d;
    return DZ_OK;
}

/* ---- migrations ---- */

/* Reads the schema version; with create, first makes the table (migrate only: a hot standby is read-only). */
static dz_code schema_version(db *d, bool create, int *version, dz_err *e)
{
    db_stmt *st;
    *version = 0;
    if (create && db_exec(d, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                             "applied_at BIGINT NOT NULL)", e) != DZ_OK)
        return e->code;
    if (db_prepare(d, "SELECT COALESCE(MAX(version), 0) FROM schema_version", &st, e) != DZ_OK) {
        if (create)
            return e->code;
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        return dz_fail(e, DZ_ECONFLICT, "no dzong schema in this database (%.200s): run `dzong migrate` "
                                        "(or `dzong init`)", why);
    }
    int r = db_step(st, e);
    if (r == DB_ROW)
        *version = (int)db_col_int(st, 0);
    db_reset(st);
    return r == DB_ERROR ? e->code : DZ_OK;
}

/* The numbered list is one; each backend has its own DDL for each number. */
static const struct embedded_file *migrations_of(db *d)
{
    return strcmp(db_backend(d), "postgres") == 0 ? migrations_pg : migrations_sqlite;
}

static int latest_migration(db *d)
{
    int latest = 0;
    for (const struct embedded_file *m = migrations_of(d); m->name; m++)
        if (atoi(m->name) > latest)
            latest = atoi(m->name);
    return latest;
}

dz_code store_migrate(store *s, int *applied, int *version, dz_err *e)
{
    int current;
    *applied = 0;
    pthread_mutex_lock(&s->inline_lock);
    dz_code rc = schema_version(s->wdb, true, &current, e);
    for (int want = current + 1; rc == DZ_OK && want <= latest_migration(s->wdb); want++) {
        const struct embedded_file *m = migrations_of(s->wdb);
        while (m->name && atoi(m->name) != want)
            m++;
        if (!m->name) {
            rc = dz_fail(e, DZ_EINTERNAL, "migration %04d is missing from the build", want);
            break;
        }
        db_stmt *st;
        if ((rc = db_begin(s->wdb, true, e)) != DZ_OK)
            break;
        if ((rc = db_exec(s->wdb, m->data, e)) == DZ_OK &&
            (rc = db_prepare(s->wdb, "INSERT INTO schema_version(version, applied_at) VALUES (?, ?)", &st, e)) == DZ_OK) {
            db_bind_int(st, 1, want);
            db_bind_int(st, 2, store_now(s));
            rc = db_run(st, e);
        }
        if (rc == DZ_OK)
            rc = db_commit(s->wdb, e);
        if (rc != DZ_OK) {
            db_rollback(s->wdb);
            dz_wrap(e, "migration %s", m->name);
            break;
        }
        current = want;
        (*applied)++;
    }
    pthread_mutex_unlock(&s->inline_lock);
    *version = current;
    return rc;
}

dz_code store_check_schema(store *s, dz_err *e)
{
    int v;
    pthread_mutex_lock(&s->inline_lock);
    dz_code rc = schema_version(s->wdb, false, &v, e);
    pthread_mutex_unlock(&s->inline_lock);
    if (rc != DZ_OK)
        return rc;
    int want = latest_migration(s->wdb);
    if (v < want)
        return dz_fail(e, DZ_ECONFLICT, "database schema is at version %d, this dzong needs %d: run `dzong migrate`",
                       v, want);
    if (v > want)
        return dz_fail(e, DZ_ECONFLICT, "database schema version %d is newer than this dzong (%d): upgrade dzong", v,
                       want);
    return DZ_OK;
}

/* ---- writes ---- */

/*
 * Begins a write transaction and takes the writers' lock: the audit_head row.
 * On PostgreSQL this serialises writers of every node, so each write sees all
 * earlier ones (ids, the audit chain, uniqueness checks) and no two
 * transactions can deadlock on rows taken in different orders.
 */
static dz_code begin_write(db *d, dz_err *e)
{
    db_stmt *st;
    if (db_begin(d, true, e) != DZ_OK)
        return e->code;
    if (db_prepare(d, "UPDATE audit_head SET seq = seq WHERE id = 1", &st, e) == DZ_OK && db_run(st, e) == DZ_OK)
        return DZ_OK;
    db_rollback(d);
    return e->code;
}

static dz_code write_inline(store *s, store_write_fn fn, void *ctx, dz_err *e)
{
    pthread_mutex_lock(&s->inline_lock);
    dz_code rc = begin_write(s->wdb, e);
    if (rc == DZ_OK)
        rc = fn(s, s->wdb, ctx, e);
    if (rc == DZ_OK)
        rc = db_commit(s->wdb, e);
    if (rc != DZ_OK) {
        db_rollback(s->wdb);
        s->rollbacks++;
    }
    pthread_mutex_unlock(&s->inline_lock);
    return rc;
}

static void run_batch(store *s, write_req *batch)
{
    dz_err e;
    dz_code rc = begin_write(s->wdb, &e);
    for (write_req *r = batch; r; r = r->next) {
        if (rc != DZ_OK) {
            r->rc = rc;
            r->err = e;
            continue;
        }
        if ((r->rc = db_savepoint(s->wdb, &r->err)) != DZ_OK)
            continue;
        r->rc = r->fn(s, s->wdb, r->ctx, &r->err);
        if (r->rc == DZ_OK)
            r->rc = db_release(s->wdb, &r->err);
        if (r->rc != DZ_OK) { /* also when the release failed: the savepoint is still there to undo it */
            db_rollback_to(s->wdb);
            s->rollbacks++;
        }
    }
    if (rc == DZ_OK && (rc = db_commit(s->wdb, &e)) != DZ_OK) {
        db_rollback(s->wdb);
        s->rollbacks++;
        for (write_req *r = batch; r; r = r->next)
            if (r->rc == DZ_OK) {
                r->rc = rc;
                r->err = e;
            }
    }
}

static void *writer_main(void *arg)
{
    store *s = arg;
    pthread_mutex_lock(&s->qlock);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->qcond, &s->qlock);
        if (!s->head && s->stopping)
            break;
        write_req *batch = s->head, *last = batch;
        for (int n = 1; n < WRITE_BATCH_MAX && last->next; n++)
            last = last->next;
        s->head = last->next;
        if (!s->head)
            s->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&s->qlock);

        run_batch(s, batch);

        pthread_mutex_lock(&s->qlock);
        for (write_req *r = batch, *next; r; r = next) {
            next = r->next; /* r lives on its caller's stack: do not touch it once signalled */
            r->done = true;
            pthread_cond_signal(&r->done_cond);
        }
    }
    pthread_mutex_unlock(&s->qlock);
    return NULL;
}

static void *checkpointer_main(void *arg)
{
    store *s = arg;
    struct timespec until;
    pthread_mutex_lock(&s->qlock);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->qlock);
        dz_err e;
        if (db_checkpoint(s->cdb, &e) != DZ_OK)
            fprintf(stderr, "dzong: checkpoint: %s\n", e.msg);
        pthread_mutex_lock(&s->qlock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (!s->stopping)
            pthread_cond_timedwait(&s->ckcond, &s->qlock, &until);
    }
    pthread_mutex_unlock(&s->qlock);
    return NULL;
}

/* ---- the registry index ---- */

dz_code store_registry_refresh(store *s, bool force, dz_err *e)
{
    pthread_mutex_lock(&s->registry_refresh_lock);
    int64_t stored;
    dz_code rc = store_registry_version(s, &stored, e);
    if (rc == DZ_OK && (force || stored != registry_cell_version(&s->registry))) {
        registry_index *fresh;
        rc = store_registry_load(s, &fresh, e);
        if (rc == DZ_OK)
            registry_cell_publish(&s->registry, fresh);
    }
    pthread_mutex_unlock(&s->registry_refresh_lock);
    return rc;
}

void store_registry_changed(store *s)
{
    dz_err e;
    /* Only where someone uses the index (a CLI import does not build one for nothing). */
    if (registry_cell_version(&s->registry) >= 0 && store_registry_refresh(s, false, &e) != DZ_OK)
        fprintf(stderr, "dzong: registry index not rebuilt (the previous one stays in use): %s\n", e.msg);
}

const registry_index *store_registry_enter(store *s, registry_ticket *t)
{
    return registry_cell_enter(&s->registry, t);
}

void store_registry_leave(store *s, registry_ticket t)
{
    registry_cell_leave(&s->registry, t);
}

/* Changes made by another node, or by a CLI import next to this server, appear within a second. */
static void *registry_watcher_main(void *arg)
{
    store *s = arg;
    struct timespec until;
    pthread_mutex_lock(&s->qlock);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->qlock);
        if (registry_cell_version(&s->registry) >= 0)
            store_registry_changed(s);
        pthread_mutex_lock(&s->qlock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        if (!s->stopping)
            pthread_cond_timedwait(&s->ckcond, &s->qlock, &until);
    }
    pthread_mutex_unlock(&s->qlock);
    return NULL;
}

dz_code store_start_writer(store *s, dz_err *e)
{
    if (s->writer_running)
        return DZ_OK;
    s->stopping = false;
    if (db_needs_checkpointer(s->wdb)) {
        if (db_writer_setup(s->wdb, e) != DZ_OK || db_open(s->url, &s->cdb, e) != DZ_OK)
            return e->code;
        if (pthread_create(&s->checkpointer, NULL, checkpointer_main, s) != 0) {
            db_close(s->cdb);
            s->cdb = NULL;
            return dz_fail(e, DZ_EINTERNAL, "cannot start the checkpoint thread");
        }
        s->checkpointer_running = true;
    }
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
        return dz_fail(e, DZ_EINTERNAL, "cannot start the writer thread");
    s->writer_running = true;
    if (pthread_create(&s->registry_watcher, NULL, registry_watcher_main, s) != 0)
        return dz_fail(e, DZ_EINTERNAL, "cannot start the registry watcher thread");
    s->registry_watcher_running = true;
    return DZ_OK;
}

void store_stop_writer(store *s)
{
    if (!s->writer_running)
        return;
    pthread_mutex_lock(&s->qlock);
    s->stopping = true;
    pthread_cond_signal(&s->qcond);
    pthread_cond_broadcast(&s->ckcond);
    pthread_mutex_unlock(&s->qlock);
    pthread_join(s->writer, NULL);
    s->writer_running = false;
    if (s->registry_watcher_running) {
        pthread_join(s->registry_watcher, NULL);
        s->registry_watcher_running = false;
    }
    if (s->checkpointer_running) {
        pthread_join(s->checkpointer, NULL);
        s->checkpointer_running = false;
        db_close(s->cdb);
        s->cdb = NULL;
    }
}

dz_code store_write(store *s, store_write_fn fn, void *ctx, dz_err *e)
{
    if (!s->writer_running)
        return write_inline(s, fn, ctx, e);
    write_req r = {.fn = fn, .ctx = ctx};
    pthread_cond_init(&r.done_cond, NULL);
    pthread_mutex_lock(&s->qlock);
    if (s->tail)
        s->tail->next = &r;
    else
        s->head = &r;
    s->tail = &r;
    pthread_cond_signal(&s->qcond);
    while (!r.done)
        pthread_cond_wait(&r.done_cond, &s->qlock);
    pthread_mutex_unlock(&s->qlock);
    pthread_cond_destroy(&r.done_cond);
    if (r.rc != DZ_OK && e)
        *e = r.err;
    return r.rc;
}

/* ---- helpers shared by the store files ---- */

dz_code store_next_seq(db *d, const char *kind, int year, int64_t *out, dz_err *e)
{
    return store_next_seq_n(d, kind, year, 1, out, e);
}

dz_code store_next_seq_n(db *d, const char *kind, int year, int64_t n, int64_t *last, dz_err *e)
{
    db_stmt *st;
    if (n < 1)
        return dz_fail(e, DZ_EINVAL, "sequence %s: at least one number must be taken", kind);
    if (db_prepare(d, "INSERT INTO id_sequences(kind, year, last) VALUES (?, ?, ?) "
                      "ON CONFLICT (kind, year) DO UPDATE SET last = id_sequences.last + CAST(? AS BIGINT) "
                      "RETURNING last",
                   &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, kind);
    db_bind_int(st, 2, year);
    db_bind_int(st, 3, n);
    db_bind_int(st, 4, n);
    int rc = db_step(st, e);
    if (rc == DB_ROW)
        *last = db_col_int(st, 0);
    db_reset(st);
    return rc == DB_ROW ? DZ_OK : rc == DB_ERROR ? e->code : dz_fail(e, DZ_EDB, "sequence %s gave no value", kind);
}

dz_code store_rows_json(db_stmt *st, json_t *(*row)(db_stmt *st), json_t **out, dz_err *e)
{
    json_t *arr = json_array();
    int r;
    while ((r = db_step(st, e)) == DB_ROW)
        json_array_append_new(arr, row(st));
    db_reset(st);
    if (r == DB_ERROR) {
        json_decref(arr);
        return e->code;
    }
    *out = arr;
    return DZ_OK;
}

void json_set_text(json_t *o, const char *key, const char *v)
{
    json_object_set_new(o, key, v ? json_string(v) : json_null());
}

json_t *json_time(int64_t t)
{
    char buf[32];
    time_format_iso(t, buf, sizeof buf);
    return json_string(buf);
}

void json_set_time(json_t *o, const char *key, int64_t t, bool null_if_zero)
{
    json_object_set_new(o, key, (null_if_zero && t == 0) ? json_null() : json_time(t));
}

/* ---- cursor paging by id ---- */

dz_code store_page_args(const char *cursor, int *limit, int dflt, int max, int64_t *id, dz_err *e)
{
    if (*limit == 0)
        *limit = dflt;
    if (*limit < 1 || *limit > max)
        return dz_fail(e, DZ_EINVAL, "parameter 'limit' must be between 1 and %d", max);
    if (!cursor || !*cursor)
        return DZ_OK;
    char *end;
    long long v = *cursor >= '0' && *cursor <= '9' ? strtoll(cursor, &end, 10) : 0;
    if (v <= 0 || *end)
        return dz_fail(e, DZ_EINVAL, "parameter 'cursor' is not a cursor this server gave out");
    *id = v;
    return DZ_OK;
}

dz_code store_page_json(db_stmt *st, int limit, json_t *(*row)(db_stmt *st), json_t **out, dz_err *e)
{
    json_t *items = json_array();
    int64_t last_id = 0;
    int r, n = 0;
    while ((r = db_step(st, e)) == DB_ROW) {
        if (n++ == limit)
            break;
        last_id = db_col_int(st, 0);
        json_array_append_new(items, row(st));
    }
    db_reset(st);
    if (r == DB_ERROR) {
        json_decref(items);
        return e->code;
    }
    json_t *res = json_pack("{s:o}", "items", items);
    if (n > limit) {
        char c[24];
        snprintf(c, sizeof c, "%" PRId64, last_id);
        json_object_set_new(res, "next_cursor", json_string(c));
    } else {
        json_object_set_new(res, "next_cursor", json_null());
    }
    *out = res;
    return DZ_OK;
}
