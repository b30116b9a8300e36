/*
 * db: the thin driver interface every store query goes through.
 *
 * Store code is written once against this interface with portable SQL and
 * `?` placeholders; a driver per backend (db_sqlite.c, db_pg.c) executes it. Statements are prepared once per connection
 * and cached by their text, so SQL is always constant text and values are
 * always bound, never spliced in.
 *
 * A connection belongs to one thread at a time.
 */
#ifndef DZ_DB_H
#define DZ_DB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/dz_err.h"

typedef struct db db;
typedef struct db_stmt db_stmt;

enum { DB_DONE = 0, DB_ROW = 1, DB_ERROR = -1 };

/* sqlite:PATH (or a bare path) or postgres://...; the driver is chosen by the URL. */
dz_code db_open(const char *url, db **out, dz_err *e);
void db_close(db *d);
/* "sqlite" or "postgres". */
const char *db_backend(db *d);
/* db_backend(d) is "postgres". */
bool db_is_pg(db *d);

/* Runs SQL text without parameters (may hold several statements). */
dz_code db_exec(db *d, const char *sql, dz_err *e);
/* Returns the cached, reset statement for sql. Do not free it; db_reset() when done. */
dz_code db_prepare(db *d, const char *sql, db_stmt **out, dz_err *e);

/* Bind indices start at 1. A NULL string binds SQL NULL. */
void db_bind_int(db_stmt *st, int idx, int64_t v);
void db_bind_text(db_stmt *st, int idx, const char *s);
void db_bind_null(db_stmt *st, int idx);
/* Binds NULL when v == null_value, else v. */
void db_bind_int_or_null(db_stmt *st, int idx, int64_t v, int64_t null_value);

/* DB_ROW, DB_DONE or DB_ERROR (e filled; a unique violation is DZ_ECONFLICT). */
int db_step(db_stmt *st, dz_err *e);
/* Steps a statement that returns no rows and resets it. */
dz_code db_run(db_stmt *st, dz_err *e);

int db_col_count(db_stmt *st);
int64_t db_col_int(db_stmt *st, int col);
/* NULL for SQL NULL; valid until the next step or reset. */
const char *db_col_text(db_stmt *st, int col);
bool db_col_null(db_stmt *st, int col);
void db_reset(db_stmt *st);

int64_t db_changes(db *d);

/* Background maintenance: whether this backend wants a checkpoint thread, and one round of it. */
bool db_needs_checkpointer(db *d);
dz_code db_checkpoint(db *d, dz_err *e);
/* Prepares the connection that the group-commit writer uses. */
dz_code db_writer_setup(db *d, dz_err *e);

/*
 * Bulk loading: PostgreSQL's COPY ... FROM STDIN in binary format. SQLite has
 * no such thing (db_can_copy false; db_copy_begin fails): use prepared
 * INSERTs there. sql is "COPY table(columns) FROM STDIN" without options (the
 * driver adds the format). Between db_copy_begin and db_copy_end (or
 * db_copy_abort) the connection runs nothing else. Fields go in the
 * statement's column order and are sent in large chunks. db_copy_int fills
 * BIGINT columns only (it sends 8 bytes; the server refuses them for INTEGER);
 * text must be valid UTF-8 without NUL bytes (the server checks).
 * A failed row or end leaves the COPY over (the transaction has failed).
 */
bool db_can_copy(db *d);
dz_code db_copy_begin(db *d, const char *sql, dz_err *e);
/* One field of the current row: len bytes of s, or NULL when s is NULL. */
void db_copy_text(db *d, const char *s, size_t len);
void db_copy_int(db *d, int64_t v);
void db_copy_null(db *d);
/* Ends the current row (may send data to the server). */
dz_code db_copy_end_row(db *d, dz_err *e);
/* Sends the rest and ends the COPY; *rows (may be NULL): the rows the server took. */
dz_code db_copy_end(db *d, int64_t *rows, dz_err *e);
/* Ends a COPY without loading it (the server rejects it, so the transaction fails). */
void db_copy_abort(db *d);

/* Transactions. begin_write takes the write lock at once (SQLite: BEGIN IMMEDIATE). */
dz_code db_begin(db *d, bool write, dz_err *e);
/*
 * A read-only transaction in which every statement sees one moment. SQLite's
 * deferred BEGIN takes the snapshot at the first read (WAL); PostgreSQL's
 * READ COMMITTED would take one per statement, hence REPEATABLE READ.
 */
dz_code db_begin_snapshot(db *d, dz_err *e);
dz_code db_commit(db *d, dz_err *e);
void db_rollback(db *d);
dz_code db_savepoint(db *d, dz_err *e);
dz_code db_release(db *d, dz_err *e);
void db_rollback_to(db *d);

#endif
