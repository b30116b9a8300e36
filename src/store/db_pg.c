/*
 * db_pg.c: the PostgreSQL driver behind db.h (libpq).
 *
 * The store's SQL uses `?` placeholders; they are rewritten to $1..$n once,
 * when a statement is first prepared on a connection (PQprepare), and the
 * prepared statement is cached by its SQL text like the SQLite driver does.
 * Values travel as text and PostgreSQL converts them to the column types; the
 * few places where a parameter's type cannot be inferred carry a CAST in the
 * SQL itself (valid in both dialects).
 *
 * A query's rows are fetched whole on the first db_step and then walked; the
 * store's result sets are pages (<= 501 rows), not tables.
 */
#include "store/db_driver.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE_SLOTS 256
#define MAX_PARAMS 64

typedef struct pg_stmt {
    struct db_stmt base;
    char *sql; /* as the store wrote it; the cache key */
    char name[16];
    int nparams;
    char *vals[MAX_PARAMS];
    PGresult *res;
    int row, nrows;
} pg_stmt;

typedef struct pg_db {
    struct db base;
    PGconn *c;
    int next_name;
    int64_t changes;
    pg_stmt cache[STMT_CACHE_SLOTS];
} pg_db;

#define PG(d) ((pg_db *)(d))
#define PS(s) ((pg_stmt *)(s))

static dz_code pg_code(const char *sqlstate)
{
    if (!sqlstate)
        return DZ_EDB;
    if (strcmp(sqlstate, "23505") == 0)
        return DZ_ECONFLICT; /* unique_violation */
    if (strncmp(sqlstate, "23", 2) == 0 || strncmp(sqlstate, "22", 2) == 0 || strcmp(sqlstate, "P0001") == 0)
        return DZ_EINVAL; /* integrity, data exception, RAISE from a trigger */
    return DZ_EDB;
}

/* Sets e from a failed result (or the connection) and returns its code. */
static dz_code pg_fail(pg_db *q, PGresult *res, dz_err *e, const char *what)
{
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(q->c);
    char clean[400];
    snprintf(clean, sizeof clean, "%s", msg && *msg ? msg : "unknown error");
    clean[strcspn(clean, "\n")] = '\0';
    return dz_fail(e, pg_code(res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL), "%s: %s", what, clean);
}

static dz_code pg_exec(db *d, const char *sql, dz_err *e)
{
    PGresult *res = PQexec(PG(d)->c, sql);
    ExecStatusType s = PQresultStatus(res);
    dz_code rc = (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) ? DZ_OK : pg_fail(PG(d), res, e, "SQL");
    PQclear(res);
    return rc;
}

static void pg_reset(db_stmt *st)
{
    pg_stmt *p = PS(st);
    PQclear(p->res);
    p->res = NULL;
    p->row = p->nrows = 0;
    for (int i = 0; i < p->nparams; i++) {
        free(p->vals[i]);
        p->vals[i] = NULL;
    }
}

static void pg_close(db *d)
{
    pg_db *q = PG(d);
    for (int i = 0; i < STMT_CACHE_SLOTS; i++) {
        if (q->cache[i].sql)
            pg_reset(&q->cache[i].base);
        free(q->cache[i].sql);
    }
    PQfinish(q->c);
    free(q);
}

static dz_code pg_open(const char *url, db **out, dz_err *e)
{
    pg_db *q = calloc(1, sizeof *q);
    if (!q)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    q->base.drv = &db_pg_driver;
    q->c = PQconnectdb(url);
    if (PQstatus(q->c) != CONNECTION_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(q->c));
        msg[strcspn(msg, "\n")] = '\0';
        PQfinish(q->c);
        free(q);
        return dz_fail(e, DZ_EDB, "cannot connect to PostgreSQL: %s", msg);
    }
    /* Quiet NOTICEs (CREATE ... IF NOT EXISTS) and pin what the SQL assumes. */
    if (pg_exec(&q->base, "SET client_min_messages = warning; SET synchronous_commit = on; "
                          "SET standard_conforming_strings = on", e) != DZ_OK) {
        pg_close(&q->base);
        return e->code;
    }
    *out = &q->base;
    return DZ_OK;
}

/* Rewrites ? to $n outside quoted text; returns the parameter count or -1. */
static int rewrite_placeholders(const char *in, char *out, size_t n)
{
    size_t j = 0;
    int count = 0;
    char quote = 0;
    for (const char *p = in; *p; p++) {
        if (j + 8 >= n)
            return -1;
        if (quote) {
            if (*p == quote)
                quote = 0;
            out[j++] = *p;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
            out[j++] = *p;
        } else if (*p == '?') {
            j += (size_t)snprintf(out + j, n - j, "$%d", ++count);
        } else {
            out[j++] = *p;
        }
    }
    out[j] = '\0';
    return count;
}

static uint32_t hash_text(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static dz_code pg_prepare(db *d, const char *sql, db_stmt **out, dz_err *e)
{
    pg_db *q = PG(d);
    uint32_t h = hash_text(sql);
    for (int probe = 0; probe < STMT_CACHE_SLOTS; probe++) {
        pg_stmt *slot = &q->cache[(h + (uint32_t)probe) & (STMT_CACHE_SLOTS - 1)];
        if (slot->sql && strcmp(slot->sql, sql) == 0) {
            *out = &slot->base;
            return DZ_OK;
        }
        if (slot->sql)
            continue;
        size_t len = strlen(sql) * 2 + 64;
        char *pg_sql = malloc(len);
        if (!pg_sql)
            return dz_fail(e, DZ_ENOMEM, "out of memory");
        int np = rewrite_placeholders(sql, pg_sql, len);
        if (np < 0 || np > MAX_PARAMS) {
            free(pg_sql);
            return dz_fail(e, DZ_EINTERNAL, "statement has too many parameters");
        }
        snprintf(slot->name, sizeof slot->name, "s%d", ++q->next_name);
        PGresult *res = PQprepare(q->c, slot->name, pg_sql, 0, NULL);
        free(pg_sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            dz_code rc = pg_fail(q, res, e, "prepare");
            PQclear(res);
            return rc;
        }
        PQclear(res);
        slot->sql = strdup(sql);
        slot->nparams = np;
        slot->base.owner = d;
        *out = &slot->base;
        return DZ_OK;
    }
    return dz_fail(e, DZ_EINTERNAL, "statement cache full (%d distinct statements)", STMT_CACHE_SLOTS);
}

static void set_param(pg_stmt *p, int idx, char *v)
{
    if (idx < 1 || idx > p->nparams) {
        free(v);
        return;
    }
    free(p->vals[idx - 1]);
    p->vals[idx - 1] = v;
}

static void pg_bind_int(db_stmt *st, int idx, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    set_param(PS(st), idx, strdup(buf));
}

static void pg_bind_text(db_stmt *st, int idx, const char *s)
{
    set_param(PS(st), idx, s ? strdup(s) : NULL);
}

static int pg_step(db_stmt *st, dz_err *e)
{
    pg_stmt *p = PS(st);
    pg_db *q = PG(st->owner);
    if (!p->res) {
        p->res = PQexecPrepared(q->c, p->name, p->nparams, (const char *const *)p->vals, NULL, NULL, 0);
        ExecStatusType s = PQresultStatus(p->res);
        if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
            pg_fail(q, p->res, e, "query");
            PQclear(p->res);
            p->res = NULL;
            return DB_ERROR;
        }
        const char *ct = PQcmdTuples(p->res);
        q->changes = ct && *ct ? atoll(ct) : 0;
        p->nrows = s == PGRES_TUPLES_OK ? PQntuples(p->res) : 0;
        p->row = -1;
    }
    return ++p->row < p->nrows ? DB_ROW : DB_DONE;
}

static bool pg_col_null(db_stmt *st, int col)
{
    pg_stmt *p = PS(st);
    return !p->res || p->row < 0 || p->row >= p->nrows || PQgetisnull(p->res, p->row, col);
}

static const char *pg_col_text(db_stmt *st, int col)
{
    return pg_col_null(st, col) ? NULL : PQgetvalue(PS(st)->res, PS(st)->row, col);
}

static int64_t pg_col_int(db_stmt *st, int col)
{
    const char *v = pg_col_text(st, col);
    return v ? atoll(v) : 0;
}

static int pg_col_count(db_stmt *st) { return PS(st)->res ? PQnfields(PS(st)->res) : 0; }
static int64_t pg_changes(db *d) { return PG(d)->changes; }
static bool pg_in_transaction(db *d) { return PQtransactionStatus(PG(d)->c) != PQTRANS_IDLE; }

const db_driver db_pg_driver = {
    .name = "postgres",
    .begin_write_sql = "BEGIN", /* writers serialise on the audit_head row lock (store.c) */
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .bind_int = pg_bind_int,
    .bind_text = pg_bind_text,
    .step = pg_step,
    .col_count = pg_col_count,
    .col_int = pg_col_int,
    .col_text = pg_col_text,
    .col_null = pg_col_null,
    .reset = pg_reset,
    .changes = pg_changes,
    .in_transaction = pg_in_transaction,
};
