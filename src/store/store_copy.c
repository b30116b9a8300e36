/*
 * store_copy.c: `dzong db copy SRC DST`, a whole deployment from one database
 * to another (SQLite -> PostgreSQL, PostgreSQL -> SQLite, SQLite -> SQLite).
 *
 * The destination is migrated and must be empty. Every table is copied in
 * foreign-key order in ONE destination transaction (all or nothing), from one
 * read snapshot of the source, by generic row transfer through db.h: each
 * value travels as text or NULL, which both drivers take for every column
 * type of the schema (integers and text). After the commit every table is
 * read back from the destination and compared with what was read from the
 * source: row count and SHA-256 over the rows in key order.
 *
 * The SQL here is generated from the constant table list below, so it is
 * constant text like every other statement of the store: identifiers come
 * only from COPY_TABLES, values are always bound.
 */
#include "store/store_internal.h"
#include "lib/strbuf.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_ROWS 500 /* rows per keyset page: the PostgreSQL driver fetches a result whole */
#define MAX_COLS 40
#define MAX_KEYS 5

typedef struct copy_table {
    const char *name;
    const char *cols[MAX_COLS]; /* every column, NULL-terminated; must match the migrations */
    const char *keys[MAX_KEYS]; /* the primary key in ORDER BY order; NULL-terminated */
    unsigned text_keys;         /* bit i: keys[i] is text (ordered bytewise on both backends) */
    bool identity;              /* PostgreSQL: `id` is an identity column whose sequence must move on */
    const char *deferred;       /* a column referring to the same table: inserted NULL, set afterwards */
    bool seeded;                /* the migrations insert rows: update those, insert the rest */
} copy_table;

/*
 * Every table of the schema (migrations 0001..0008), parents before children.
 * schema_version is not copied: the destination has its own, from migrating.
 * copy checks that each database holds exactly these tables with exactly
 * these many columns, so a migration that adds a table or a column and
 * forgets this list makes the copy refuse, not lose data.
 */
static const copy_table COPY_TABLES[] = {
    /* parent_id refers to the same table: a member may come before its parent */
    {"constituents",
     {"id", "short_name", "name", "created_at", "kind", "sector", "cii", "cii_tier", "parent_id", "tags",
      "updated_at"},
     {"id"}, 0, true, "parent_id", false},
    {"constituent_networks", {"constituent_id", "network"}, {"constituent_id", "network"}, 2, false, NULL, false},
    {"constituent_asns", {"constituent_id", "asn"}, {"constituent_id", "asn"}, 0, false, NULL, false},
    {"constituent_domains", {"constituent_id", "domain"}, {"constituent_id", "domain"}, 2, false, NULL, false},
    {"constituent_contacts",
     {"id", "constituent_id", "position", "name", "email", "phone", "pgp", "language", "role", "notify_interval",
      "notify_format", "max_tlp"},
     {"id"}, 0, true, NULL, false},
    {"users", {"id", "username", "role", "constituent_id", "password_hash", "disabled", "created_at"}, {"id"}, 0,
     true, NULL, false},
    {"api_tokens", {"id", "user_id", "label", "token_hash", "created_at", "revoked"}, {"id"}, 0, true, NULL, false},
    {"sessions", {"id_hash", "user_id", "csrf_token", "created_at", "expires_at"}, {"id_hash"}, 1, false, NULL,
     false},
    {"id_sequences", {"kind", "year", "last"}, {"kind", "year"}, 1, false, NULL, false},
    {"incidents",
     {"id", "public_id", "title", "description", "taxonomy", "type", "tlp", "pap", "severity", "status",
      "assignee_id", "duplicate_of", "due_at", "due_manual", "created_by", "created_at", "updated_at"},
     {"id"}, 0, true, "duplicate_of", false},
    {"incident_constituents", {"incident_id", "constituent_id"}, {"incident_id", "constituent_id"}, 0, false, NULL,
     false},
    {"incident_tags", {"incident_id", "tag"}, {"incident_id", "tag"}, 2, false, NULL, false},
    {"incident_timeline", {"id", "incident_id", "at", "actor", "kind", "field", "old_value", "new_value"}, {"id"},
     0, true, NULL, false},
    {"incident_notes", {"id", "incident_id", "author", "body", "shared", "created_at"}, {"id"}, 0, true, NULL, false},
    {"incident_tasks", {"id", "incident_id", "title", "status", "assignee_id", "due_at", "created_at", "updated_at"},
     {"id"}, 0, true, NULL, false},
    {"reports",
     {"id", "public_id", "source", "source_ref", "title", "body", "reporter_name", "reporter_email",
      "reporter_phone", "constituent_id", "incident_id", "created_by", "created_by_org", "created_at"},
     {"id"}, 0, true, NULL, false},
    /* the append-only triggers refuse UPDATE and DELETE, not INSERT */
    {"audit_log", {"seq", "at", "actor", "action", "object", "detail", "prev_hash", "hash"}, {"seq"}, 0, false,
     NULL, false},
    /* a fresh database has the genesis row already: it is updated to the source's head */
    {"audit_head", {"id", "seq", "hash"}, {"id"}, 0, false, NULL, true},
    /* the migrations seed the schedule; the source's state of each job replaces it */
    {"jobs", {"name", "interval_s", "next_run_at", "last_run_at", "last_node", "last_error", "runs"}, {"name"}, 1,
     false, NULL, true},
    /* seeded with version 0; the source's version replaces it */
    {"registry_state", {"id", "version"}, {"id"}, 0, false, NULL, true},
    /* feed events (0005) */
    {"ingests",
     {"id", "kind", "source", "key", "feed", "report", "org_id", "status", "node", "lease_s", "lease_until",
      "lines_done", "events", "duplicates", "quarantined", "error", "started_at", "updated_at", "finished_at"},
     {"id"}, 0, true, NULL, false},
    {"events",
     {"id", "ingest_id", "line", "stored_at", "time_source", "feed", "taxonomy", "type", "identifier", "ip4", "ip6",
      "asn", "constituent_id", "doc", "dedup_hash"},
     {"id"}, 0, true, NULL, false},
    {"event_dedup", {"hash", "first_seen"}, {"hash"}, 0, false, NULL, false},
    /* the recent level of the dedup window and the folded addresses (0008) */
    {"event_recent", {"event_id", "hash", "first_seen", "ip4", "ip6"}, {"event_id"}, 0, false, NULL, false},
    {"event_ip4", {"ip4", "event_id"}, {"ip4", "event_id"}, 0, false, NULL, false},
    {"event_ip6", {"ip6", "event_id"}, {"ip6", "event_id"}, 1, false, NULL, false},
    {"event_quarantine", {"id", "ingest_id", "line", "reason", "raw", "created_at"}, {"id"}, 0, true, NULL, false},
    {"event_daily", {"day", "feed", "taxonomy", "type", "constituent_id", "count"},
     {"day", "feed", "taxonomy", "type", "constituent_id"}, 0xf, false, NULL, false},
    /* the validators and last outcome of each scheduled download (0006) */
    {"feed_fetch",
     {"name", "url", "etag", "last_modified", "last_status", "last_fetched_at", "last_error", "last_ingest_id"},
     {"name"}, 1, false, NULL, false},
    /* notifications and their outbox, and the digest watermark per contact (0007) */
    {"notifications",
     {"id", "ticket", "kind", "org_id", "recipient", "recipient_name", "subject", "message", "message_id",
      "language", "format", "tlp", "is_signed", "is_encrypted", "incident_id", "after_id", "upto_id", "events",
      "withheld", "period_from", "period_to", "summary", "status", "attempts", "next_attempt_at", "node",
      "lease_until", "smtp_code", "last_error", "in_doubt", "created_at", "sent_at", "acknowledged_at",
      "acknowledged_by"},
     {"id"}, 0, true, NULL, false},
    {"notify_cursors", {"org_id", "email", "last_event_id", "last_digest_at"}, {"org_id", "email"}, 2, false, NULL,
     false},
};
#define N_TABLES (sizeof COPY_TABLES / sizeof COPY_TABLES[0])
_Static_assert(N_TABLES <= STORE_COPY_MAX_TABLES, "raise STORE_COPY_MAX_TABLES");

static int ncols(const copy_table *t)
{
    int n = 0;
    while (n < MAX_COLS && t->cols[n])
        n++;
    return n;
}

static int nkeys(const copy_table *t)
{
    int n = 0;
    while (n < MAX_KEYS && t->keys[n])
        n++;
    return n;
}

static int col_index(const copy_table *t, const char *name)
{
    for (int i = 0; i < ncols(t); i++)
        if (strcmp(t->cols[i], name) == 0)
            return i;
    return -1;
}

/*
 * A key column in ORDER BY and comparisons. Text keys are compared bytewise
 * on both backends, so both read rows in the same order and the checksums
 * can agree: SQLite's default collation is BINARY already; PostgreSQL's is
 * the database's locale (en_US sorts "a" < "B", bytes "B" < "a"), hence
 * COLLATE "C" there.
 */
static void put_key(strbuf *sb, const copy_table *t, int k, bool pg)
{
    strbuf_puts(sb, t->keys[k]);
    if (pg && (t->text_keys & (1u << k)))
        strbuf_puts(sb, " COLLATE \"C\"");
}

static void put_cols(strbuf *sb, const copy_table *t)
{
    for (int i = 0; i < ncols(t); i++) {
        if (i)
            strbuf_puts(sb, ", ");
        strbuf_puts(sb, t->cols[i]);
    }
}

/* SELECT every column, a page in key order; after: the page after the bound key (binds nkeys or nkeys+1). */
static char *sql_select_page(const copy_table *t, bool pg, bool after)
{
    strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "SELECT ");
    put_cols(&sb, t);
    strbuf_printf(&sb, " FROM %s", t->name);
    int nk = nkeys(t);
    if (after && nk == 1) {
        strbuf_puts(&sb, " WHERE ");
        put_key(&sb, t, 0, pg);
        strbuf_puts(&sb, " > ?");
    } else if (after) {
        /* first_key >= ? lets both planners range-scan the primary key; the row comparison does the rest */
        strbuf_puts(&sb, " WHERE ");
        put_key(&sb, t, 0, pg);
        strbuf_puts(&sb, " >= ? AND (");
        for (int k = 0; k < nk; k++) {
            if (k)
                strbuf_puts(&sb, ", ");
            put_key(&sb, t, k, pg);
        }
        strbuf_puts(&sb, ") > (");
        for (int k = 0; k < nk; k++)
            strbuf_puts(&sb, k ? ", ?" : "?");
        strbuf_puts(&sb, ")");
    }
    strbuf_puts(&sb, " ORDER BY ");
    for (int k = 0; k < nk; k++) {
        if (k)
            strbuf_puts(&sb, ", ");
        put_key(&sb, t, k, pg);
    }
    strbuf_printf(&sb, " LIMIT %d", PAGE_ROWS);
    return strbuf_steal(&sb);
}

static char *sql_insert(const copy_table *t)
{
    strbuf sb;
    strbuf_init(&sb);
    strbuf_printf(&sb, "INSERT INTO %s (", t->name);
    put_cols(&sb, t);
    strbuf_puts(&sb, ") VALUES (");
    for (int i = 0; i < ncols(t); i++)
        strbuf_puts(&sb, i ? ", ?" : "?");
    strbuf_puts(&sb, ")");
    return strbuf_steal(&sb);
}

/* UPDATE t SET <non-key columns, or only `only`> = ? ... WHERE <keys> = ? ... */
static char *sql_update(const copy_table *t, const char *only)
{
    strbuf sb;
    strbuf_init(&sb);
    strbuf_printf(&sb, "UPDATE %s SET ", t->name);
    bool first = true;
    for (int i = 0; i < ncols(t); i++) {
        bool key = false;
        for (int k = 0; k < nkeys(t); k++)
            key |= strcmp(t->keys[k], t->cols[i]) == 0;
        if (key || (only && strcmp(only, t->cols[i]) != 0))
            continue;
        strbuf_printf(&sb, "%s%s = ?", first ? "" : ", ", t->cols[i]);
        first = false;
    }
    strbuf_puts(&sb, " WHERE ");
    for (int k = 0; k < nkeys(t); k++)
        strbuf_printf(&sb, "%s%s = ?", k ? " AND " : "", t->keys[k]);
    return strbuf_steal(&sb);
}

static char *sql_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sql_printf(const char *fmt, ...)
{
    char *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&out, fmt, ap) < 0)
        out = NULL;
    va_end(ap);
    return out;
}

/* Runs one constant statement that returns one integer. */
static dz_code query_int(db *d, const char *sql, int64_t *out, dz_err *e)
{
    db_stmt *st;
    if (!sql)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    if (db_prepare(d, sql, &st, e) != DZ_OK)
        return e->code;
    int r = db_step(st, e);
    if (r == DB_ROW)
        *out = db_col_int(st, 0);
    db_reset(st);
    return r == DB_ROW ? DZ_OK : r == DB_ERROR ? e->code : dz_fail(e, DZ_EDB, "no result from: %.100s", sql);
}

/* ---- checksums ---- */

/*
 * The canonical text of a row: per column, NULL is the byte 0x00; a value is
 * 0x01, its length as 8 bytes big-endian, and its bytes. Both drivers give an
 * integer column's value as its decimal text ("123", "-5"), so integers
 * compare equal across backends; the copy binds exactly those texts.
 */
static void hash_value(crypto_hash_sha256_state *h, const char *v)
{
    unsigned char tag = v ? 1 : 0;
    crypto_hash_sha256_update(h, &tag, 1);
    if (!v)
        return;
    uint64_t n = strlen(v);
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(n >> (56 - 8 * i));
    crypto_hash_sha256_update(h, len, sizeof len);
    crypto_hash_sha256_update(h, (const unsigned char *)v, n);
}

static void hash_hex(crypto_hash_sha256_state *h, char hex[65])
{
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(h, out);
    sodium_bin2hex(hex, 65, out, sizeof out);
}

/* ---- scanning a table in key order, a page at a time ---- */

typedef dz_code (*row_fn)(db_stmt *st, void *arg, dz_err *e);

typedef struct scan {
    const copy_table *t;
    char *first_sql, *next_sql;
    char *last[MAX_KEYS]; /* the last row's key values */
    int key_col[MAX_KEYS];
} scan;

static void scan_free(scan *sc)
{
    free(sc->first_sql);
    free(sc->next_sql);
    for (int k = 0; k < MAX_KEYS; k++)
        free(sc->last[k]);
}

static void bind_key(db_stmt *st, int idx, const copy_table *t, int k, const char *v)
{
    if (t->text_keys & (1u << k))
        db_bind_text(st, idx, v);
    else
        db_bind_int(st, idx, strtoll(v, NULL, 10)); /* SQLite compares an integer key with an integer */
}

/* Calls fn for every row of t on d (in the caller's transaction), in key order; counts them. */
static dz_code scan_table(db *d, const copy_table *t, row_fn fn, void *arg, int64_t *rows, dz_err *e)
{
    scan sc = {.t = t};
    bool pg = db_is_pg(d);
    int nk = nkeys(t);
    dz_code rc = DZ_OK;
    *rows = 0;
    sc.first_sql = sql_select_page(t, pg, false);
    sc.next_sql = sql_select_page(t, pg, true);
    if (!sc.first_sql || !sc.next_sql) {
        scan_free(&sc);
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    for (int k = 0; k < nk; k++)
        sc.key_col[k] = col_index(t, t->keys[k]);
    for (bool first = true;; first = false) {
        db_stmt *st;
        if ((rc = db_prepare(d, first ? sc.first_sql : sc.next_sql, &st, e)) != DZ_OK)
            break;
        if (!first) {
            int idx = 1;
            if (nk > 1)
                bind_key(st, idx++, t, 0, sc.last[0]);
            for (int k = 0; k < nk; k++)
                bind_key(st, idx++, t, k, sc.last[k]);
        }
        int r, n = 0;
        while ((r = db_step(st, e)) == DB_ROW) {
            n++;
            (*rows)++;
            for (int k = 0; k < nk; k++) {
                const char *v = db_col_text(st, sc.key_col[k]);
                free(sc.last[k]);
                sc.last[k] = strdup(v ? v : "");
                if (!sc.last[k]) {
                    r = DB_ERROR;
                    dz_fail(e, DZ_ENOMEM, "out of memory");
                    break;
                }
            }
            if (r == DB_ERROR || (rc = fn(st, arg, e)) != DZ_OK)
                break;
        }
        db_reset(st);
        if (r == DB_ERROR)
            rc = e->code;
        if (rc != DZ_OK || n < PAGE_ROWS)
            break;
    }
    scan_free(&sc);
    return rc;
}

/* ---- the copy ---- */

typedef struct pending { /* a deferred self-reference: set after the table's rows are in */
    char *keys[MAX_KEYS];
    char *value;
} pending;

typedef struct copy_ctx {
    db *src;
    store_copy_report *out;
    store_copy_progress progress;
    void *progress_arg;
    /* per table */
    const copy_table *t;
    crypto_hash_sha256_state h;
    char *insert_sql, *update_sql;
    int deferred_col;
    pending *pend;
    size_t npend, cappend;
    db *dst;
} copy_ctx;

static void pending_free(copy_ctx *c)
{
    for (size_t i = 0; i < c->npend; i++) {
        for (int k = 0; k < MAX_KEYS; k++)
            free(c->pend[i].keys[k]);
        free(c->pend[i].value);
    }
    free(c->pend);
    c->pend = NULL;
    c->npend = c->cappend = 0;
}

static dz_code remember_deferred(copy_ctx *c, db_stmt *st, dz_err *e)
{
    const copy_table *t = c->t;
    if (c->npend == c->cappend) {
        size_t cap = c->cappend ? c->cappend * 2 : 64;
        pending *p = realloc(c->pend, cap * sizeof *p);
        if (!p)
            return dz_fail(e, DZ_ENOMEM, "out of memory");
        c->pend = p;
        c->cappend = cap;
    }
    pending *p = &c->pend[c->npend++];
    memset(p, 0, sizeof *p);
    p->value = strdup(db_col_text(st, c->deferred_col));
    bool ok = p->value != NULL;
    for (int k = 0; k < nkeys(t); k++)
        ok &= (p->keys[k] = strdup(db_col_text(st, col_index(t, t->keys[k])))) != NULL;
    return ok ? DZ_OK : dz_fail(e, DZ_ENOMEM, "out of memory");
}

/* Binds row (from the source) to an UPDATE of the seeded row with the same key. */
static void bind_update(db_stmt *up, const copy_table *t, db_stmt *row)
{
    int idx = 1;
    for (int i = 0; i < ncols(t); i++) {
        bool key = false;
        for (int k = 0; k < nkeys(t); k++)
            key |= strcmp(t->keys[k], t->cols[i]) == 0;
        if (!key)
            db_bind_text(up, idx++, db_col_text(row, i));
    }
    for (int k = 0; k < nkeys(t); k++)
        bind_key(up, idx++, t, k, db_col_text(row, col_index(t, t->keys[k])));
}

/* One source row: into the checksum, then into the destination. */
static dz_code copy_row(db_stmt *row, void *arg, dz_err *e)
{
    copy_ctx *c = arg;
    const copy_table *t = c->t;
    db_stmt *st;
    int n = ncols(t);
    for (int i = 0; i < n; i++)
        hash_value(&c->h, db_col_text(row, i));
    if (t->seeded) {
        if (db_prepare(c->dst, c->update_sql, &st, e) != DZ_OK)
            return e->code;
        bind_update(st, t, row);
        if (db_run(st, e) != DZ_OK)
            return e->code;
        if (db_changes(c->dst) == 1)
            return DZ_OK;
        /* not seeded in the destination: insert it */
    }
    if (db_prepare(c->dst, c->insert_sql, &st, e) != DZ_OK)
        return e->code;
    for (int i = 0; i < n; i++)
        db_bind_text(st, i + 1, i == c->deferred_col ? NULL : db_col_text(row, i));
    if (db_run(st, e) != DZ_OK)
        return e->code;
    if (c->deferred_col >= 0 && !db_col_null(row, c->deferred_col))
        return remember_deferred(c, row, e);
    return DZ_OK;
}

static dz_code set_deferred(copy_ctx *c, dz_err *e)
{
    const copy_table *t = c->t;
    char *sql = sql_update(t, t->deferred);
    db_stmt *st;
    dz_code rc = sql ? DZ_OK : dz_fail(e, DZ_ENOMEM, "out of memory");
    for (size_t i = 0; rc == DZ_OK && i < c->npend; i++) {
        if ((rc = db_prepare(c->dst, sql, &st, e)) != DZ_OK)
            break;
        db_bind_text(st, 1, c->pend[i].value);
        for (int k = 0; k < nkeys(t); k++)
            bind_key(st, k + 2, t, k, c->pend[i].keys[k]);
        rc = db_run(st, e);
    }
    free(sql);
    return rc;
}

/*
 * PostgreSQL only: an identity column's sequence does not see explicit ids,
 * so after the copy it would hand out 1, 2, ... again. Move each past the
 * largest copied id (next value MAX(id) + 1, or 1 for an empty table).
 * setval is not undone by a rollback; a failed copy leaves an empty table
 * whose sequence starts higher, which is harmless.
 */
static dz_code move_sequences(db *d, dz_err *e)
{
    if (!db_is_pg(d))
        return DZ_OK; /* SQLite: an INTEGER PRIMARY KEY takes MAX(id) + 1 by itself */
    for (size_t i = 0; i < N_TABLES; i++) {
        if (!COPY_TABLES[i].identity)
            continue;
        int64_t v;
        char *sql = sql_printf("SELECT setval(pg_get_serial_sequence('%s', 'id'), COALESCE(MAX(id), 0) + 1, false) "
                               "FROM %s", COPY_TABLES[i].name, COPY_TABLES[i].name);
        dz_code rc = query_int(d, sql, &v, e);
        free(sql);
        if (rc != DZ_OK)
            return dz_wrap(e, "moving the id sequence of %s", COPY_TABLES[i].name);
    }
    return DZ_OK;
}

/* The destination transaction (store_write): refuse unless empty, copy every table, move sequences. */
static dz_code copy_tx(store *s, db *dst, void *arg, dz_err *e)
{
    (void)s;
    copy_ctx *c = arg;
    c->dst = dst;
    for (size_t i = 0; i < N_TABLES; i++) {
        int64_t n = 0;
        char *sql;
        if (COPY_TABLES[i].seeded)
            continue;
        sql = sql_printf("SELECT COUNT(*) FROM %s", COPY_TABLES[i].name);
        dz_code rc = query_int(dst, sql, &n, e);
        free(sql);
        if (rc != DZ_OK)
            return dz_wrap(e, "destination table %s", COPY_TABLES[i].name);
        if (n)
            return dz_fail(e, DZ_ECONFLICT, "the destination is not empty (table %s has %lld rows): "
                                            "copy into a new, empty database", COPY_TABLES[i].name, (long long)n);
    }
    for (size_t i = 0; i < N_TABLES; i++) {
        const copy_table *t = &COPY_TABLES[i];
        store_copy_table *r = &c->out->t[i];
        c->t = t;
        c->deferred_col = t->deferred ? col_index(t, t->deferred) : -1;
        c->insert_sql = sql_insert(t);
        c->update_sql = sql_update(t, NULL);
        crypto_hash_sha256_init(&c->h);
        dz_code rc = c->insert_sql && c->update_sql ? DZ_OK : dz_fail(e, DZ_ENOMEM, "out of memory");
        if (rc == DZ_OK)
            rc = scan_table(c->src, t, copy_row, c, &r->src_rows, e);
        if (rc == DZ_OK && c->npend)
            rc = set_deferred(c, e);
        hash_hex(&c->h, r->src_sha256);
        free(c->insert_sql);
        free(c->update_sql);
        c->insert_sql = c->update_sql = NULL;
        pending_free(c);
        if (rc != DZ_OK)
            return dz_wrap(e, "copying %s (after %lld rows)", t->name, (long long)r->src_rows);
        if (c->progress)
            c->progress(t->name, r->src_rows, c->progress_arg);
    }
    return move_sequences(dst, e);
}

/* ---- checks before the copy ---- */

static dz_code version_of(db *d, const char *which, int *out, dz_err *e)
{
    int64_t v = 0;
    if (query_int(d, "SELECT COALESCE(MAX(version), 0) FROM schema_version", &v, e) != DZ_OK)
        return dz_wrap(e, "%s has no dzong schema", which);
    *out = (int)v;
    return DZ_OK;
}

/* d holds exactly the tables of COPY_TABLES (and schema_version), each with the listed number of columns. */
static dz_code check_tables(db *d, const char *which, dz_err *e)
{
    db_stmt *st;
    const char *list = db_is_pg(d) ? "SELECT table_name FROM information_schema.tables "
                                  "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                                : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'";
    if (db_prepare(d, list, &st, e) != DZ_OK)
        return e->code;
    int r = DB_DONE;
    dz_code rc = DZ_OK;
    while (rc == DZ_OK && (r = db_step(st, e)) == DB_ROW) {
        const char *name = db_col_text(st, 0);
        bool known = strcmp(name, "schema_version") == 0;
        for (size_t i = 0; i < N_TABLES && !known; i++)
            known = strcmp(name, COPY_TABLES[i].name) == 0;
        if (!known)
            rc = dz_fail(e, DZ_ECONFLICT, "%s has a table '%.60s' this dzong does not know how to copy", which, name);
    }
    db_reset(st);
    if (rc != DZ_OK || r == DB_ERROR)
        return rc != DZ_OK ? rc : e->code;
    for (size_t i = 0; i < N_TABLES; i++) {
        char *sql = sql_printf("SELECT * FROM %s LIMIT 1", COPY_TABLES[i].name);
        if (!sql)
            return dz_fail(e, DZ_ENOMEM, "out of memory");
        rc = db_prepare(d, sql, &st, e);
        free(sql);
        if (rc != DZ_OK)
            return dz_wrap(e, "%s, table %s", which, COPY_TABLES[i].name);
        r = db_step(st, e);
        int have = r == DB_ERROR ? -1 : db_col_count(st); /* after a step: PostgreSQL knows it only then */
        db_reset(st);
        if (r == DB_ERROR)
            return dz_wrap(e, "%s, table %s", which, COPY_TABLES[i].name);
        if (have != ncols(&COPY_TABLES[i]))
            return dz_fail(e, DZ_ECONFLICT, "%s: table %s has %d columns, this dzong copies %d", which,
                           COPY_TABLES[i].name, have, ncols(&COPY_TABLES[i]));
    }
    return DZ_OK;
}

static dz_code hash_row(db_stmt *row, void *arg, dz_err *e)
{
    (void)e;
    copy_ctx *c = arg;
    for (int i = 0; i < ncols(c->t); i++)
        hash_value(&c->h, db_col_text(row, i));
    return DZ_OK;
}

/* Reads every table back from the destination after the commit. */
static dz_code verify(db *d, store_copy_report *out, dz_err *e)
{
    copy_ctx c = {.out = out};
    if (db_begin_snapshot(d, e) != DZ_OK)
        return e->code;
    dz_code rc = DZ_OK;
    for (size_t i = 0; rc == DZ_OK && i < N_TABLES; i++) {
        store_copy_table *r = &out->t[i];
        c.t = &COPY_TABLES[i];
        crypto_hash_sha256_init(&c.h);
        rc = scan_table(d, c.t, hash_row, &c, &r->dst_rows, e);
        hash_hex(&c.h, r->dst_sha256);
        r->ok = rc == DZ_OK && r->dst_rows == r->src_rows && strcmp(r->dst_sha256, r->src_sha256) == 0;
        if (rc == DZ_OK && !r->ok)
            out->mismatches++;
    }
    db_rollback(d);
    return rc;
}

dz_code store_copy(const char *src_url, const char *dst_url, const store_settings *settings,
                   store_copy_progress progress, void *progress_arg, store_copy_report *out, dz_err *e)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < N_TABLES; i++)
        snprintf(out->t[i].name, sizeof out->t[i].name, "%s", COPY_TABLES[i].name);
    if (strcmp(src_url, dst_url) == 0)
        return dz_fail(e, DZ_EINVAL, "source and destination are the same database");
    store *src = NULL, *dst = NULL;
    db *sd, *dd;
    int sv = 0, dv = 0, applied;
    dz_code rc;
    if ((rc = store_open(src_url, settings, &src, e)) != DZ_OK) {
        dz_wrap(e, "source");
        goto done;
    }
    if ((rc = store_open(dst_url, settings, &dst, e)) != DZ_OK) {
        dz_wrap(e, "destination");
        goto done;
    }
    /* the source is only read: no migration, not even schema_version is created there */
    if ((rc = store_reader(src, &sd, e)) != DZ_OK || (rc = version_of(sd, "the source", &sv, e)) != DZ_OK)
        goto done;
    if ((rc = store_migrate(dst, &applied, &dv, e)) != DZ_OK) {
        dz_wrap(e, "destination");
        goto done;
    }
    out->schema_version = dv;
    if (sv != dv) {
        rc = dz_fail(e, DZ_ECONFLICT, "the source is at schema version %d, the destination at %d: %s", sv, dv,
                     sv < dv ? "run `dzong --db SRC migrate` on the source first"
                             : "the source is newer than this dzong; use the dzong that wrote it");
        goto done;
    }
    if ((rc = store_reader(dst, &dd, e)) != DZ_OK || (rc = check_tables(sd, "the source", e)) != DZ_OK ||
        (rc = check_tables(dd, "the destination", e)) != DZ_OK)
        goto done;

    copy_ctx c = {.src = sd, .out = out, .progress = progress, .progress_arg = progress_arg};
    if ((rc = db_begin_snapshot(sd, e)) != DZ_OK)
        goto done;
    rc = store_write(dst, copy_tx, &c, e); /* one transaction: committed whole or not at all */
    db_rollback(sd);
    if (rc != DZ_OK)
        goto done;
    out->n = N_TABLES;
    out->copied = true;
    if ((rc = verify(dd, out, e)) != DZ_OK) {
        dz_wrap(e, "copied, but reading the destination back failed");
        goto done;
    }
    if (out->mismatches)
        rc = dz_fail(e, DZ_EDB, "copied, but %zu table%s of the destination differ from the source", out->mismatches,
                     out->mismatches == 1 ? "" : "s");
done:
    store_close(src);
    store_close(dst);
    return rc;
}
