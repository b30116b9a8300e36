/* db.c: picks the driver by URL and dispatches db.h to it. */
#include "store/db_driver.h"

#include <stdio.h>
#include <string.h>

dz_code db_open(const char *url, db **out, dz_err *e)
{
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return db_pg_driver.open(url, out, e);
    if (strncmp(url, "sqlite:", 7) == 0 || !strstr(url, "://"))
        return db_sqlite_driver.open(url, out, e);
    return dz_fail(e, DZ_EINVAL, "database URL '%.100s': use sqlite:PATH or postgres://USER@HOST:PORT/DB", url);
}

const char *db_backend(db *d) { return d->drv->name; }
bool db_is_pg(db *d) { return strcmp(d->drv->name, "postgres") == 0; }
void db_close(db *d) { if (d) d->drv->close(d); }
dz_code db_exec(db *d, const char *sql, dz_err *e) { return d->drv->exec(d, sql, e); }
dz_code db_prepare(db *d, const char *sql, db_stmt **out, dz_err *e) { return d->drv->prepare(d, sql, out, e); }
void db_bind_int(db_stmt *st, int idx, int64_t v) { st->owner->drv->bind_int(st, idx, v); }
void db_bind_text(db_stmt *st, int idx, const char *s) { st->owner->drv->bind_text(st, idx, s); }
void db_bind_null(db_stmt *st, int idx) { st->owner->drv->bind_text(st, idx, NULL); }
int db_step(db_stmt *st, dz_err *e) { return st->owner->drv->step(st, e); }
int db_col_count(db_stmt *st) { return st->owner->drv->col_count(st); }
int64_t db_col_int(db_stmt *st, int col) { return st->owner->drv->col_int(st, col); }
const char *db_col_text(db_stmt *st, int col) { return st->owner->drv->col_text(st, col); }
bool db_col_null(db_stmt *st, int col) { return st->owner->drv->col_null(st, col); }
void db_reset(db_stmt *st) { st->owner->drv->reset(st); }
int64_t db_changes(db *d) { return d->drv->changes(d); }

void db_bind_int_or_null(db_stmt *st, int idx, int64_t v, int64_t null_value)
{
    if (v == null_value)
        db_bind_null(st, idx);
    else
        db_bind_int(st, idx, v);
}

dz_code db_run(db_stmt *st, dz_err *e)
{
    int rc = db_step(st, e);
    db_reset(st);
    return rc == DB_ERROR ? e->code : DZ_OK;
}

bool db_needs_checkpointer(db *d)
{
    return d->drv->checkpoint_sql != NULL;
}

dz_code db_checkpoint(db *d, dz_err *e)
{
    return d->drv->checkpoint_sql ? db_exec(d, d->drv->checkpoint_sql, e) : DZ_OK;
}

dz_code db_writer_setup(db *d, dz_err *e)
{
    return d->drv->writer_setup ? d->drv->writer_setup(d, e) : DZ_OK;
}

dz_code db_begin(db *d, bool write, dz_err *e)
{
    return db_exec(d, write ? d->drv->begin_write_sql : "BEGIN", e);
}

dz_code db_begin_snapshot(db *d, dz_err *e)
{
    if (db_begin(d, false, e) != DZ_OK)
        return e->code;
    if (db_is_pg(d) && db_exec(d, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", e) != DZ_OK) {
        db_rollback(d);
        return e->code;
    }
    return DZ_OK;
}

dz_code db_commit(db *d, dz_err *e)
{
    return db_exec(d, "COMMIT", e);
}

void db_rollback(db *d)
{
    if (d->drv->in_transaction(d))
        db_exec(d, "ROLLBACK", NULL);
}

dz_code db_savepoint(db *d, dz_err *e)
{
    return db_exec(d, "SAVEPOINT item", e);
}

dz_code db_release(db *d, dz_err *e)
{
    return db_exec(d, "RELEASE SAVEPOINT item", e);
}

void db_rollback_to(db *d)
{
    db_exec(d, "ROLLBACK TO SAVEPOINT item", NULL);
    db_exec(d, "RELEASE SAVEPOINT item", NULL);
}

/* ---- COPY (PostgreSQL) ---- */

bool db_can_copy(db *d)
{
    return d->drv->copy_begin != NULL;
}

dz_code db_copy_begin(db *d, const char *sql, dz_err *e)
{
    if (!d->drv->copy_begin)
        return dz_fail(e, DZ_EINTERNAL, "the %s driver has no COPY", d->drv->name);
    return d->drv->copy_begin(d, sql, e);
}

void db_copy_text(db *d, const char *s, size_t len) { d->drv->copy_text(d, s, len); }
void db_copy_null(db *d) { d->drv->copy_text(d, NULL, 0); }
void db_copy_int(db *d, int64_t v) { d->drv->copy_int(d, v); }

dz_code db_copy_end_row(db *d, dz_err *e) { return d->drv->copy_end_row(d, e); }
dz_code db_copy_end(db *d, int64_t *rows, dz_err *e) { return d->drv->copy_end(d, NULL, rows, e); }

void db_copy_abort(db *d)
{
    if (d->drv->copy_end)
        d->drv->copy_end(d, "aborted by dzong", NULL, NULL);
}
