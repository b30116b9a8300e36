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
 *
 * A lost connection (the server restarted, a failover, a terminated backend)
 * is re-established by the next statement issued outside a transaction, and
 * the cached statements are prepared again on the new session; a statement
 * outside a transaction that failed only because the connection was lost is
 * retried once on the new one (the store writes only inside transactions, so
 * what is retried is a read, a BEGIN or a ROLLBACK). Inside a transaction
 * nothing is retried or reconnected: the statements fail, COMMIT fails, and
 * only after the caller's ROLLBACK (or its next BEGIN) does the driver
 * reconnect, so the work of a transaction is never split across two sessions.
 */
#include "store/db_driver.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE_SLOTS 256
#define MAX_PARAMS 64
#define COPY_CHUNK (1u << 20) /* bytes of COPY data sent at once */

typedef struct pg_stmt {
    struct db_stmt base;
    char *sql; /* as the store wrote it; the cache key */
    char name[16];
    unsigned gen; /* the session it was prepared on (pg_db.gen) */
    int nparams;
    char *vals[MAX_PARAMS];
    PGresult *res;
    int row, nrows;
} pg_stmt;

typedef struct pg_db {
    struct db base;
    PGconn *c;
    unsigned gen;  /* bumped by every reconnect: statements prepared before must be prepared again */
    bool in_tx;    /* between a successful BEGIN and COMMIT/ROLLBACK, whatever the connection's state */
    int next_name;
    int64_t changes;
    /* COPY FROM STDIN: rows are built here and sent in chunks of COPY_CHUNK */
    char *cbuf;
    size_t clen, ccap;
    size_t row_start; /* where the open row's field count goes */
    unsigned row_fields;
    bool in_copy, row_open, coom;
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

/* Quiet NOTICEs (CREATE ... IF NOT EXISTS) and pin what the SQL assumes; on every new session. */
static dz_code pg_session_setup(pg_db *q, dz_err *e)
{
    PGresult *res = PQexec(q->c, "SET client_min_messages = warning; SET synchronous_commit = on; "
                                 "SET standard_conforming_strings = on");
    dz_code rc = PQresultStatus(res) == PGRES_COMMAND_OK ? DZ_OK : pg_fail(q, res, e, "SQL");
    PQclear(res);
    return rc;
}

/* Reconnects a lost connection, but never inside a transaction. A failed attempt is retried by the next call. */
static void pg_revive(pg_db *q)
{
    if (PQstatus(q->c) != CONNECTION_BAD || q->in_tx)
        return;
    PQreset(q->c);
    q->gen++; /* the old session's prepared statements are gone in any case */
    if (PQstatus(q->c) == CONNECTION_OK)
        pg_session_setup(q, NULL);
}

/* After a failure: may the statement run again on a new connection? Only outside a transaction. */
static bool pg_retryable(pg_db *q, int attempt)
{
    return attempt == 0 && !q->in_tx && PQstatus(q->c) == CONNECTION_BAD;
}

static dz_code pg_exec(db *d, const char *sql, dz_err *e)
{
    pg_db *q = PG(d);
    bool begin = strcmp(sql, "BEGIN") == 0, commit = strcmp(sql, "COMMIT") == 0;
    if (begin)
        q->in_tx = false; /* a new transaction: whatever came before is over for the caller */
    pg_revive(q);
    if (commit && PQtransactionStatus(q->c) == PQTRANS_IDLE) { /* PostgreSQL would only warn */
        q->in_tx = false;
        return dz_fail(e, DZ_EDB, "COMMIT: no transaction is open on this connection");
    }
    PGresult *res = PQexec(q->c, sql);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && pg_retryable(q, 0)) {
        PQclear(res);
        pg_revive(q);
        res = PQexec(q->c, sql);
        s = PQresultStatus(res);
    }
    dz_code rc = (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) ? DZ_OK : pg_fail(q, res, e, "SQL");
    /* COMMIT of a transaction that had failed rolls it back and says so only in the command tag. */
    if (rc == DZ_OK && commit && strcmp(PQcmdStatus(res), "COMMIT") != 0)
        rc = dz_fail(e, DZ_EDB, "COMMIT: the transaction had failed and was rolled back (%s)", PQcmdStatus(res));
    PQclear(res);
    if (begin)
        q->in_tx = rc == DZ_OK;
    else if (commit || strcmp(sql, "ROLLBACK") == 0)
        q->in_tx = false; /* ended, committed or not */
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
    free(q->cbuf);
    free(q);
}

static dz_code pg_open(const char *url, db **out, dz_err *e)
{
    pg_db *q = calloc(1, sizeof *q);
    if (!q)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    q->base.drv = &db_pg_driver;
    /* A default connect timeout, so an unreachable host fails in seconds; the URL's own wins. */
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *const vals[] = {"10", url, NULL};
    q->c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(q->c) != CONNECTION_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(q->c));
        msg[strcspn(msg, "\n")] = '\0';
        PQfinish(q->c);
        free(q);
        return dz_fail(e, DZ_EDB, "cannot connect to PostgreSQL: %s", msg);
    }
    if (pg_session_setup(q, e) != DZ_OK) {
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

/* PQprepare of the statement's SQL on the current session. */
static dz_code pg_prepare_on_server(pg_db *q, const char *name, const char *sql, int *nparams, dz_err *e)
{
    size_t len = strlen(sql) * 2 + 64;
    char *pg_sql = malloc(len);
    if (!pg_sql)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    int np = rewrite_placeholders(sql, pg_sql, len);
    if (np < 0 || np > MAX_PARAMS) {
        free(pg_sql);
        return dz_fail(e, DZ_EINTERNAL, "statement has too many parameters");
    }
    PGresult *res = PQprepare(q->c, name, pg_sql, 0, NULL);
    free(pg_sql);
    dz_code rc = PQresultStatus(res) == PGRES_COMMAND_OK ? DZ_OK : pg_fail(q, res, e, "prepare");
    PQclear(res);
    if (rc == DZ_OK)
        *nparams = np;
    return rc;
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
        int np = 0;
        dz_code rc;
        snprintf(slot->name, sizeof slot->name, "s%d", ++q->next_name);
        for (int attempt = 0;; attempt++) {
            pg_revive(q);
            if ((rc = pg_prepare_on_server(q, slot->name, sql, &np, e)) == DZ_OK || !pg_retryable(q, attempt))
                break;
        }
        if (rc != DZ_OK)
            return rc;
        slot->sql = strdup(sql);
        if (!slot->sql)
            return dz_fail(e, DZ_ENOMEM, "out of memory");
        slot->gen = q->gen;
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
        ExecStatusType s;
        for (int attempt = 0;; attempt++) {
            pg_revive(q);
            if (p->gen != q->gen) { /* prepared on a session that is gone */
                int np;
                if (pg_prepare_on_server(q, p->name, p->sql, &np, e) != DZ_OK) {
                    if (pg_retryable(q, attempt))
                        continue;
                    return DB_ERROR;
                }
                p->gen = q->gen;
            }
            p->res = PQexecPrepared(q->c, p->name, p->nparams, (const char *const *)p->vals, NULL, NULL, 0);
            s = PQresultStatus(p->res);
            if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)
                break;
            if (!pg_retryable(q, attempt)) {
                pg_fail(q, p->res, e, "query");
                PQclear(p->res);
                p->res = NULL;
                return DB_ERROR;
            }
            PQclear(p->res);
            p->res = NULL;
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
/* On a lost connection libpq cannot tell (PQTRANS_UNKNOWN): then it is whether this driver began one. */
static bool pg_in_transaction(db *d)
{
    PGTransactionStatusType t = PQtransactionStatus(PG(d)->c);
    return t == PQTRANS_UNKNOWN ? PG(d)->in_tx : t != PQTRANS_IDLE;
}

/*
 * ---- COPY FROM STDIN, binary format ----
 * Binary, not text: the server then neither scans for escapes nor parses
 * numbers (a bare COPY of 1M events: 4.9 s instead of 7.4 s of its time).
 * Each row is a 16-bit field count (patched in when the row ends), then per
 * field a 32-bit length (-1: NULL) and the bytes; integers go as 8 bytes,
 * so every integer column a COPY fills must be BIGINT (db.h).
 */

static const char COPY_SIGNATURE[11] = "PGCOPY\n\377\r\n";

static void put_be16(char *o, uint16_t v)
{
    o[0] = (char)(v >> 8);
    o[1] = (char)v;
}

static void put_be32(char *o, uint32_t v)
{
    put_be16(o, (uint16_t)(v >> 16));
    put_be16(o + 2, (uint16_t)v);
}

static bool copy_reserve(pg_db *q, size_t more)
{
    if (q->coom)
        return false;
    if (q->clen + more <= q->ccap)
        return true;
    size_t cap = q->ccap ? q->ccap : COPY_CHUNK + 4096;
    while (cap < q->clen + more)
        cap *= 2;
    char *b = realloc(q->cbuf, cap);
    if (!b) {
        q->coom = true;
        return false;
    }
    q->cbuf = b;
    q->ccap = cap;
    return true;
}

static dz_code pg_copy_begin(db *d, const char *sql, dz_err *e)
{
    pg_db *q = PG(d);
    if (q->in_copy)
        return dz_fail(e, DZ_EINTERNAL, "COPY: one is under way on this connection");
    pg_revive(q);
    char *full = NULL;
    if (asprintf(&full, "%s (FORMAT binary)", sql) < 0)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    PGresult *res = PQexec(q->c, full);
    free(full);
    dz_code rc = PQresultStatus(res) == PGRES_COPY_IN ? DZ_OK : pg_fail(q, res, e, "COPY");
    PQclear(res);
    if (rc != DZ_OK)
        return rc;
    q->in_copy = true;
    q->row_open = q->coom = false;
    q->clen = 0;
    if (copy_reserve(q, sizeof COPY_SIGNATURE + 8)) { /* the signature, no flags, no header extension */
        memcpy(q->cbuf, COPY_SIGNATURE, sizeof COPY_SIGNATURE);
        memset(q->cbuf + sizeof COPY_SIGNATURE, 0, 8);
        q->clen = sizeof COPY_SIGNATURE + 8;
    }
    return DZ_OK;
}

/* Starts the row on its first field: room for the field count, filled in by pg_copy_end_row. */
static char *copy_field_start(pg_db *q, size_t len)
{
    if (!copy_reserve(q, 2 + 4 + len))
        return NULL;
    if (!q->row_open) {
        q->row_start = q->clen;
        q->row_fields = 0;
        q->clen += 2;
        q->row_open = true;
    }
    q->row_fields++;
    return q->cbuf + q->clen;
}

static void pg_copy_text(db *d, const char *s, size_t len)
{
    pg_db *q = PG(d);
    if (len > INT32_MAX) {
        q->coom = true; /* the format cannot say it; the COPY fails as out of memory */
        return;
    }
    char *o = copy_field_start(q, s ? len : 0);
    if (!o)
        return;
    put_be32(o, s ? (uint32_t)len : UINT32_MAX);
    if (s)
        memcpy(o + 4, s, len);
    q->clen += 4 + (s ? len : 0);
}

static void pg_copy_int(db *d, int64_t v)
{
    pg_db *q = PG(d);
    char *o = copy_field_start(q, 8);
    if (!o)
        return;
    put_be32(o, 8);
    put_be32(o + 4, (uint32_t)((uint64_t)v >> 32));
    put_be32(o + 8, (uint32_t)v);
    q->clen += 12;
}

static dz_code copy_flush(pg_db *q, dz_err *e)
{
    if (q->clen && PQputCopyData(q->c, q->cbuf, (int)q->clen) != 1)
        return pg_fail(q, NULL, e, "COPY");
    q->clen = 0;
    return DZ_OK;
}

static dz_code pg_copy_end_row(db *d, dz_err *e)
{
    pg_db *q = PG(d);
    if (q->coom)
        return dz_fail(e, DZ_ENOMEM, "COPY: out of memory");
    if (!q->row_open)
        return dz_fail(e, DZ_EINTERNAL, "COPY: a row without fields");
    put_be16(q->cbuf + q->row_start, (uint16_t)q->row_fields);
    q->row_open = false;
    return q->clen >= COPY_CHUNK ? copy_flush(q, e) : DZ_OK;
}

static dz_code pg_copy_end(db *d, const char *abort_reason, int64_t *rows, dz_err *e)
{
    pg_db *q = PG(d);
    if (!q->in_copy)
        return dz_fail(e, DZ_EINTERNAL, "COPY: none is under way");
    q->in_copy = false;
    dz_code rc = DZ_OK;
    if (!abort_reason && !q->row_open && copy_reserve(q, 2)) {
        put_be16(q->cbuf + q->clen, UINT16_MAX); /* the trailer: a field count of -1 */
        q->clen += 2;
    }
    if (!abort_reason && q->coom) { /* also when the trailer found no room */
        abort_reason = "out of memory";
        rc = dz_fail(e, DZ_ENOMEM, "COPY: out of memory");
    }
    if (!abort_reason && q->row_open)
        rc = dz_fail(e, DZ_EINTERNAL, "COPY: a row was not ended");
    if (rc == DZ_OK && !abort_reason)
        rc = copy_flush(q, e);
    if (rc != DZ_OK && !abort_reason)
        abort_reason = "failed";
    q->clen = 0;
    q->row_open = false;
    if (PQputCopyEnd(q->c, abort_reason) != 1 && rc == DZ_OK)
        rc = pg_fail(q, NULL, e, "COPY");
    PGresult *res;
    bool first = true;
    while ((res = PQgetResult(q->c)) != NULL) {
        if (first && rc == DZ_OK && !abort_reason) {
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                rc = pg_fail(q, res, e, "COPY");
            else if (rows)
                *rows = atoll(PQcmdTuples(res));
        }
        first = false;
        PQclear(res);
    }
    if (rc == DZ_OK && abort_reason)
        rc = dz_fail(e, DZ_EDB, "COPY: %s", abort_reason);
    /* a big buffer is kept for the next COPY, but not one grown far past the chunk */
    if (q->ccap > 4 * COPY_CHUNK) {
        free(q->cbuf);
        q->cbuf = NULL;
        q->ccap = 0;
    }
    return rc;
}

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
    .copy_begin = pg_copy_begin,
    .copy_text = pg_copy_text,
    .copy_int = pg_copy_int,
    .copy_end_row = pg_copy_end_row,
    .copy_end = pg_copy_end,
};
