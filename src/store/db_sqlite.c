/*
 * db_sqlite.c: the SQLite driver behind db.h.
 *
 * Every connection runs in WAL mode with foreign keys on and synchronous=FULL,
 * so a COMMIT that returned is on disk (it survives kill -9 and power loss).
 * The cost of that fsync per commit is paid once per batch by the group-commit
 * writer in store.c, not once per request.
 */
#include "store/db.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE_SLOTS 256 /* power of two; distinct SQL texts per connection */

struct db_stmt {
    sqlite3_stmt *st;
    char *sql;
    db *owner;
};

struct db {
    sqlite3 *h;
    db_stmt cache[STMT_CACHE_SLOTS];
};

static dz_code sqlite_fail(db *d, dz_err *e, const char *what)
{
    int ext = sqlite3_extended_errcode(d->h);
    dz_code code = DZ_EDB;
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        code = DZ_ECONFLICT;
    else if (ext == SQLITE_CONSTRAINT_CHECK || ext == SQLITE_CONSTRAINT_FOREIGNKEY ||
             ext == SQLITE_CONSTRAINT_NOTNULL || ext == SQLITE_CONSTRAINT_TRIGGER)
        code = DZ_EINVAL;
    return dz_fail(e, code, "%s: %s", what, sqlite3_errmsg(d->h));
}

dz_code db_open(const char *url, db **out, dz_err *e)
{
    const char *path = url;
    if (strncmp(url, "sqlite:", 7) == 0)
        path = url + 7;
    else if (strstr(url, "://"))
        return dz_fail(e, DZ_EINVAL, "database URL '%.100s': only sqlite:PATH is supported by this build "
                                     "(PostgreSQL arrives with issue 3)", url);
    db *d = calloc(1, sizeof *d);
    if (!d)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    int rc = sqlite3_open_v2(path, &d->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        dz_fail(e, DZ_EDB, "cannot open database '%.200s': %s", path,
                d->h ? sqlite3_errmsg(d->h) : sqlite3_errstr(rc));
        sqlite3_close(d->h);
        free(d);
        return DZ_EDB;
    }
    sqlite3_busy_timeout(d->h, 10000);
    sqlite3_extended_result_codes(d->h, 1);
    dz_code c = db_exec(d,
                        "PRAGMA journal_mode=WAL;"
                        "PRAGMA synchronous=FULL;"
                        "PRAGMA foreign_keys=ON;"
                        "PRAGMA temp_store=MEMORY;"
                        "PRAGMA cache_size=-16000;",
                        e);
    if (c != DZ_OK) {
        db_close(d);
        return dz_wrap(e, "database '%.200s'", path);
    }
    *out = d;
    return DZ_OK;
}

void db_close(db *d)
{
    if (!d)
        return;
    for (int i = 0; i < STMT_CACHE_SLOTS; i++) {
        sqlite3_finalize(d->cache[i].st);
        free(d->cache[i].sql);
    }
    sqlite3_close(d->h);
    free(d);
}

dz_code db_exec(db *d, const char *sql, dz_err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        dz_code rc = sqlite_fail(d, e, "SQL");
        sqlite3_free(msg);
        return rc;
    }
    return DZ_OK;
}

static uint32_t hash_text(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

dz_code db_prepare(db *d, const char *sql, db_stmt **out, dz_err *e)
{
    uint32_t h = hash_text(sql);
    for (int probe = 0; probe < STMT_CACHE_SLOTS; probe++) {
        db_stmt *slot = &d->cache[(h + (uint32_t)probe) & (STMT_CACHE_SLOTS - 1)];
        if (slot->sql && strcmp(slot->sql, sql) == 0) {
            *out = slot;
            return DZ_OK;
        }
        if (!slot->sql) {
            if (sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &slot->st, NULL) != SQLITE_OK) {
                slot->st = NULL;
                return sqlite_fail(d, e, "prepare");
            }
            slot->sql = strdup(sql);
            slot->owner = d;
            *out = slot;
            return DZ_OK;
        }
    }
    return dz_fail(e, DZ_EINTERNAL, "statement cache full (%d distinct statements)", STMT_CACHE_SLOTS);
}

void db_bind_int(db_stmt *st, int idx, int64_t v)
{
    sqlite3_bind_int64(st->st, idx, v);
}

void db_bind_text(db_stmt *st, int idx, const char *s)
{
    if (s)
        sqlite3_bind_text(st->st, idx, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st->st, idx);
}

void db_bind_null(db_stmt *st, int idx)
{
    sqlite3_bind_null(st->st, idx);
}

void db_bind_int_or_null(db_stmt *st, int idx, int64_t v, int64_t null_value)
{
    if (v == null_value)
        sqlite3_bind_null(st->st, idx);
    else
        sqlite3_bind_int64(st->st, idx, v);
}

int db_step(db_stmt *st, dz_err *e)
{
    int rc = sqlite3_step(st->st);
    if (rc == SQLITE_ROW)
        return DB_ROW;
    if (rc == SQLITE_DONE)
        return DB_DONE;
    sqlite_fail(st->owner, e, "query");
    sqlite3_reset(st->st);
    return DB_ERROR;
}

dz_code db_run(db_stmt *st, dz_err *e)
{
    int rc = db_step(st, e);
    db_reset(st);
    return rc == DB_ERROR ? e->code : DZ_OK;
}

int64_t db_col_int(db_stmt *st, int col)
{
    return sqlite3_column_int64(st->st, col);
}

const char *db_col_text(db_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st->st, col);
}

bool db_col_null(db_stmt *st, int col)
{
    return sqlite3_column_type(st->st, col) == SQLITE_NULL;
}

void db_reset(db_stmt *st)
{
    sqlite3_reset(st->st);
    sqlite3_clear_bindings(st->st);
}

int64_t db_changes(db *d)
{
    return sqlite3_changes64(d->h);
}

dz_code db_begin(db *d, bool write, dz_err *e)
{
    return db_exec(d, write ? "BEGIN IMMEDIATE" : "BEGIN", e);
}

dz_code db_commit(db *d, dz_err *e)
{
    return db_exec(d, "COMMIT", e);
}

void db_rollback(db *d)
{
    if (!sqlite3_get_autocommit(d->h))
        db_exec(d, "ROLLBACK", NULL);
}

dz_code db_savepoint(db *d, dz_err *e)
{
    return db_exec(d, "SAVEPOINT item", e);
}

dz_code db_release(db *d, dz_err *e)
{
    return db_exec(d, "RELEASE item", e);
}

void db_rollback_to(db *d)
{
    db_exec(d, "ROLLBACK TO item; RELEASE item", NULL);
}
