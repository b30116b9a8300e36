/*
 * db_driver.h: what a backend implements for db.h. Internal to store/.
 * Every driver's connection struct starts with `struct db` and every
 * statement struct with `struct db_stmt`, so db.c can dispatch on them.
 */
#ifndef DZ_DB_DRIVER_H
#define DZ_DB_DRIVER_H
#include "store/db.h"

typedef struct db_driver {
    const char *name;            /* "sqlite", "postgres" */
    const char *begin_write_sql; /* SQLite takes the write lock at BEGIN IMMEDIATE */
    dz_code (*writer_setup)(db *d, dz_err *e); /* once, on the group-commit writer's connection, or NULL */
    const char *checkpoint_sql;   /* run by a background thread, or NULL when the backend needs none */
    dz_code (*open)(const char *url, db **out, dz_err *e);
    void (*close)(db *d);
    dz_code (*exec)(db *d, const char *sql, dz_err *e);
    dz_code (*prepare)(db *d, const char *sql, db_stmt **out, dz_err *e);
    void (*bind_int)(db_stmt *st, int idx, int64_t v);
    void (*bind_text)(db_stmt *st, int idx, const char *s);
    int (*step)(db_stmt *st, dz_err *e);
    int (*col_count)(db_stmt *st);
    int64_t (*col_int)(db_stmt *st, int col);
    const char *(*col_text)(db_stmt *st, int col);
    bool (*col_null)(db_stmt *st, int col);
    void (*reset)(db_stmt *st);
    int64_t (*changes)(db *d);
    bool (*in_transaction)(db *d);
    /* COPY FROM STDIN (db.h); NULL when the backend has none */
    dz_code (*copy_begin)(db *d, const char *sql, dz_err *e);
    void (*copy_text)(db *d, const char *s, size_t len); /* s NULL: SQL NULL */
    void (*copy_int)(db *d, int64_t v);
    dz_code (*copy_end_row)(db *d, dz_err *e);
    /* abort_reason non-NULL: end without loading */
    dz_code (*copy_end)(db *d, const char *abort_reason, int64_t *rows, dz_err *e);
} db_driver;

struct db {
    const db_driver *drv;
};

struct db_stmt {
    db *owner;
};

extern const db_driver db_sqlite_driver;
extern const db_driver db_pg_driver;

/* db_sqlite_vfs.c: SQLite's default VFS with the log's writes gathered. Registers it once (SQLITE_OK), by this name. */
#define DB_SQLITE_VFS "dzong-gather"
int db_sqlite_vfs_register(void);
/* Drops what the connection's log holds unwritten: its rollback hook calls this (synchronous=FULL is required). */
struct sqlite3;
void db_sqlite_vfs_rolled_back(struct sqlite3 *h);

#endif
