/*
 * db_sqlite.c: the SQLite driver behind db.h.
 *
 * Every connection runs in WAL mode with foreign keys on and synchronous=FULL,
 * so a COMMIT that returned is on disk (it survives kill -9 and power loss).
 * The cost of that fsync per commit is paid once per batch by the group-commit
 * writer in store.c, not once per request. The log's writes go through
 * db_sqlite_vfs.c, which gathers them into large ones.
 */
#include "store/db_driver.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE_SLOTS 256 /* power of two; distinct SQL texts per connection */

typedef struct sq_stmt {
    struct db_stmt base;
    sqlite3_stmt *st;
    char *sql;
} sq_stmt;

typedef struct sq_db {
    struct db base;
    sqlite3 *h;
    sq_stmt cache[STMT_CACHE_SLOTS];
} sq_db;

#define SQ(d) ((sq_db *)(d))
#define ST(s) (((sq_stmt *)(s))->st)

static dz_code sq_fail(sqlite3 *h, dz_err *e, const char *what)
{
    int ext = sqlite3_extended_errcode(h);
    dz_code code = DZ_EDB;
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        code = DZ_ECONFLICT;
    else if (ext == SQLITE_CONSTRAINT_CHECK || ext == SQLITE_CONSTRAINT_FOREIGNKEY ||
             ext == SQLITE_CONSTRAINT_NOTNULL || ext == SQLITE_CONSTRAINT_TRIGGER)
        code = DZ_EINVAL;
    return dz_fail(e, code, "%s: %s", what, sqlite3_errmsg(h));
}

static dz_code sq_exec(db *d, const char *sql, dz_err *e)
{
    if (sqlite3_exec(SQ(d)->h, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(SQ(d)->h, e, "SQL");
    return DZ_OK;
}

static void sq_close(db *d)
{
    sq_db *q = SQ(d);
    for (int i = 0; i < STMT_CACHE_SLOTS; i++) {
        sqlite3_finalize(q->cache[i].st);
        free(q->cache[i].sql);
    }
    sqlite3_close(q->h);
    free(q);
}

/*
 * SQLite counts every allocation under one process-wide mutex unless
 * SQLITE_CONFIG_MEMSTATUS is off. dzong never reads those counters, and with a
 * reader connection per worker thread that mutex is taken on every malloc of
 * every request (futex waits under sqlite3Malloc in perf). It can only be
 * changed before SQLite initialises, hence once, before the first open.
 */
static pthread_once_t sq_config_once = PTHREAD_ONCE_INIT;
static void sq_configure(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); /* SQLITE_MISUSE if already initialised: harmless */
}

static void sq_rolled_back(void *h)
{
    db_sqlite_vfs_rolled_back(h);
}

static dz_code sq_open(const char *url, db **out, dz_err *e)
{
    const char *path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
    pthread_once(&sq_config_once, sq_configure);
    sq_db *q = calloc(1, sizeof *q);
    if (!q)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    q->base.drv = &db_sqlite_driver;
    /* without the gathering VFS (it could not register) the default one does the same, slower */
    const char *vfs = db_sqlite_vfs_register() == SQLITE_OK ? DB_SQLITE_VFS : NULL;
    int rc = sqlite3_open_v2(path, &q->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs);
    if (rc != SQLITE_OK) {
        dz_fail(e, DZ_EDB, "cannot open database '%.200s': %s", path, q->h ? sqlite3_errmsg(q->h) : sqlite3_errstr(rc));
        sqlite3_close(q->h);
        free(q);
        return DZ_EDB;
    }
    sqlite3_busy_timeout(q->h, 10000);
    if (vfs)
        sqlite3_rollback_hook(q->h, sq_rolled_back, q->h);
    sqlite3_extended_result_codes(q->h, 1);
    /* temp_store=FILE: a statement's journal and a large sort spill to a temp file past a few pages;
     * in memory, one INSERT ... SELECT over a big index (the dedup fold) kept every page it touched */
    if (sq_exec(&q->base,
                "PRAGMA journal_mode=WAL; PRAGMA journal_size_limit=67108864; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                "PRAGMA temp_store=FILE; PRAGMA cache_size=-16000;",
                e) != DZ_OK) {
        sq_close(&q->base);
        return dz_wrap(e, "database '%.200s'", path);
    }
    *out = &q->base;
    return DZ_OK;
}

static uint32_t hash_text(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static dz_code sq_prepare(db *d, const char *sql, db_stmt **out, dz_err *e)
{
    sq_db *q = SQ(d);
    uint32_t h = hash_text(sql);
    for (int probe = 0; probe < STMT_CACHE_SLOTS; probe++) {
        sq_stmt *slot = &q->cache[(h + (uint32_t)probe) & (STMT_CACHE_SLOTS - 1)];
        if (slot->sql && strcmp(slot->sql, sql) == 0) {
            *out = &slot->base;
            return DZ_OK;
        }
        if (!slot->sql) {
            if (sqlite3_prepare_v3(q->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &slot->st, NULL) != SQLITE_OK) {
                slot->st = NULL;
                return sq_fail(q->h, e, "prepare");
            }
            slot->sql = strdup(sql);
            slot->base.owner = d;
            *out = &slot->base;
            return DZ_OK;
        }
    }
    return dz_fail(e, DZ_EINTERNAL, "statement cache full (%d distinct statements)", STMT_CACHE_SLOTS);
}

static void sq_bind_int(db_stmt *st, int idx, int64_t v)
{
    sqlite3_bind_int64(ST(st), idx, v);
}

static void sq_bind_text(db_stmt *st, int idx, const char *s)
{
    if (s)
        sqlite3_bind_text(ST(st), idx, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(ST(st), idx);
}

static int sq_step(db_stmt *st, dz_err *e)
{
    int rc = sqlite3_step(ST(st));
    if (rc == SQLITE_ROW)
        return DB_ROW;
    if (rc == SQLITE_DONE)
        return DB_DONE;
    sq_fail(SQ(st->owner)->h, e, "query");
    sqlite3_reset(ST(st));
    return DB_ERROR;
}

static int sq_col_count(db_stmt *st) { return sqlite3_column_count(ST(st)); }
static int64_t sq_col_int(db_stmt *st, int col) { return sqlite3_column_int64(ST(st), col); }
static const char *sq_col_text(db_stmt *st, int col) { return (const char *)sqlite3_column_text(ST(st), col); }
static bool sq_col_null(db_stmt *st, int col) { return sqlite3_column_type(ST(st), col) == SQLITE_NULL; }
static int64_t sq_changes(db *d) { return sqlite3_changes64(SQ(d)->h); }
static bool sq_in_transaction(db *d) { return !sqlite3_get_autocommit(SQ(d)->h); }

static void sq_reset(db_stmt *st)
{
    sqlite3_reset(ST(st));
    sqlite3_clear_bindings(ST(st));
}

/* 64 MiB of 4 KiB pages. */
#define LOG_RESTART_FRAMES 16384

/*
 * After each of the writer's commits (it replaces SQLite's own
 * auto-checkpoint). A thread of its own runs PASSIVE checkpoints, which
 * never block the writer, so COMMIT never copies the log. But SQLite starts
 * the log file over only after a checkpoint has caught up, which a writer
 * that never pauses (a feed ingest) prevents: the file grew without end
 * (52 GB in a 10-million-row ingest). Past 64 MiB the writer itself, between
 * two transactions, finishes the checkpoint (little is left to copy) and
 * starts the log over from its beginning (RESTART: the file's blocks are
 * reused, which made a 1M-event ingest 8-10% faster than truncating and
 * growing it again; journal_size_limit keeps the file itself at 64 MiB).
 */
static int sq_wal_hook(void *arg, sqlite3 *h, const char *dbname, int frames)
{
    (void)arg;
    /* SQLITE_BUSY when the background checkpoint is running: the next commit tries again */
    if (frames > LOG_RESTART_FRAMES)
        sqlite3_wal_checkpoint_v2(h, dbname, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    return SQLITE_OK;
}

static dz_code sq_writer_setup(db *d, dz_err *e)
{
    (void)e;
    sqlite3_wal_hook(SQ(d)->h, sq_wal_hook, NULL);
    return DZ_OK;
}

const db_driver db_sqlite_driver = {
    .name = "sqlite",
    .begin_write_sql = "BEGIN IMMEDIATE",
    /* The writer never checkpoints inside a COMMIT (a large WAL made that a stall of up to a
     * second): see sq_wal_hook. */
    .writer_setup = sq_writer_setup,
    .checkpoint_sql = "PRAGMA wal_checkpoint(PASSIVE)",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .bind_int = sq_bind_int,
    .bind_text = sq_bind_text,
    .step = sq_step,
    .col_count = sq_col_count,
    .col_int = sq_col_int,
    .col_text = sq_col_text,
    .col_null = sq_col_null,
    .reset = sq_reset,
    .changes = sq_changes,
    .in_transaction = sq_in_transaction,
};
