/*
 * store_events.c: feed events, ingests, the quarantine and the dedup window.
 *
 * Ingests. A row per input, unique by its key. A claim is one write: an
 * INSERT ... ON CONFLICT (key) DO NOTHING makes a new ingest; when the key
 * exists, one conditional UPDATE takes it over only if it failed, or its
 * lease ran out, or the claimant already is (or may replace) the holder.
 * The UPDATE re-checks its condition on the row it locks, and every write
 * transaction holds the writers' lock (store.c), so of two nodes claiming
 * the same key at once exactly one gets NEW or RESUME. Claim and finish each
 * append one audit entry ("ingest.start", "ingest.finish"); batches append
 * none (feed data is not a person's action, and a chained entry per batch
 * would cost more than it tells).
 *
 * Dedup, in two levels (migration 0008). A batch only appends: each stored
 * event's hash, time and address go to event_recent, a table without
 * secondary indexes, so a batch of random hashes dirties no B-tree page but
 * the last. Every process keeps event_recent's hashes in memory (the
 * store's event_window), brought up to date at the start of each commit by
 * reading the rows past the newest it holds. Once event_recent holds
 * FOLD_ROWS rows, the commit that sees it folds them, sorted, into the
 * indexed tables event_dedup (hash -> first_seen) and event_ip4/event_ip6
 * (address -> event) and empties it: those B-trees then take each page once
 * per fold instead of once per batch (a batch of 20,000 random keys used to
 * rewrite most of both trees' pages, and the ingest ran at a quarter of the
 * speed it has without them).
 *
 * A hash is a duplicate when either level has it with first_seen inside the
 * window. The check and the appends happen in one write transaction, and
 * every write transaction holds the writers' lock (store.c), so of two
 * nodes or processes with the same hash the second sees the first's row.
 * Exact (no false positives) and persistent. What the memory holds may lag
 * the table (rows folded by another process stay in memory: the same facts
 * as the folded table) but never lead it: a rolled-back callback makes the
 * next commit load the level again (store_rollbacks). Repeats inside one
 * batch are found first (only a hash's first row may be fresh).
 *
 * A batch is one transaction (store_write): the claim is checked (node and
 * status), the hashes are looked up, the fresh events inserted with ids
 * taken in one block (ids only grow, which event_recent relies on), refused
 * rows quarantined, the day's counts (event_daily, aggregated in memory)
 * added, and the ingest's checkpoint, counters and lease moved on.
 *   SQLite: prepared statements, a row at a time (no round trips).
 *   PostgreSQL: one lookup of all the batch's distinct hashes (an array
 *   parameter), then COPY of the fresh events, their event_recent rows and
 *   the refused rows; a handful of round trips per batch whatever its size.
 *
 * Text from feeds is made valid UTF-8 without NUL bytes before it is stored
 * (each bad byte becomes U+FFFD): PostgreSQL refuses anything else, and
 * both backends then hold the same text.
 */
#include "store/store_internal.h"
#include "lib/constituent.h"
#include "lib/event_doc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#define LEASE_DEFAULT_S 120
#define WINDOW_DEFAULT_S 86400
#define EVENT_LIMIT_DEFAULT 100
#define EVENT_LIMIT_MAX 1000
#define INGEST_LIMIT_DEFAULT 50
#define INGEST_LIMIT_MAX 500
#define PURGE_SLICES 16 /* the purge runs as this many short writes, each over a range of hashes */
/* event_recent is folded at this many rows: its hashes in memory then take at most 16 MiB */
#define FOLD_ROWS (1 << 19)

static int64_t window_of(store *s)
{
    int64_t w = store_get_settings(s)->dedup_window_s;
    return w > 0 ? w : WINDOW_DEFAULT_S;
}

/* uint64 <-> int64 by two's complement, spelled out (the conversion to int64 is implementation-defined). */
static int64_t hash_to_db(uint64_t h)
{
    return h <= (uint64_t)INT64_MAX ? (int64_t)h : -(int64_t)(~h) - 1;
}

static uint64_t hash_from_db(int64_t v)
{
    return (uint64_t)v;
}

static int64_t u64_to_db(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

static void day_of(int64_t t, char out[11])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, 11, "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100);
}

/* ---- UTF-8 ---- */

/* Bytes of the valid UTF-8 sequence at p (RFC 3629: no overlongs, surrogates or > U+10FFFF), 0 if none; NUL is bad. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c >= 0x01 && c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0))
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

/*
 * s (len bytes) as valid UTF-8 without NUL: s itself when it is (the usual
 * case, checked in one pass), else a copy in tmp with U+FFFD for each bad
 * byte. *out_len: the result's length. NULL when tmp ran out of memory.
 */
static const char *clean_text(const char *s, size_t len, strbuf *tmp, size_t *out_len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) { /* eight ASCII bytes at once: no high bit, no zero byte */
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & 0x8080808080808080ULL) && !((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        if (p[i] >= 0x01 && p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(p + i, len - i);
        if (!k)
            break;
        i += k;
    }
    if (i == len && s[len] == '\0') {
        *out_len = len;
        return s;
    }
    strbuf_reset(tmp);
    strbuf_append(tmp, s, i);
    while (i < len) {
        size_t k = utf8_seq(p + i, len - i);
        if (k) {
            strbuf_append(tmp, s + i, k);
            i += k;
        } else {
            strbuf_append(tmp, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    if (tmp->oom)
        return NULL;
    *out_len = tmp->len;
    return tmp->buf ? tmp->buf : "";
}

/* ---- small hash tables for one batch ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t str_hash(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (h ^ 0xff) * 0x100000001b3ULL; /* a separator, so ("ab","c") and ("a","bc") differ */
}

typedef struct daily_cell {
    const char *feed, *taxonomy, *type;
    int64_t constituent_id, count;
    uint64_t h;
} daily_cell;

typedef struct daily_map {
    daily_cell *cells;
    size_t n, cap; /* cap: a power of two; a cell is used when its count > 0 */
} daily_map;

static bool daily_add(daily_map *m, const char *feed, const char *taxonomy, const char *type, int64_t cid)
{
    if (2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        daily_cell *c = calloc(cap, sizeof *c);
        if (!c)
            return false;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->cells[i].count)
                continue;
            size_t j = m->cells[i].h & (cap - 1);
            while (c[j].count)
                j = (j + 1) & (cap - 1);
            c[j] = m->cells[i];
        }
        free(m->cells);
        m->cells = c;
        m->cap = cap;
    }
    uint64_t h = mix64(str_hash(str_hash(str_hash(0xcbf29ce484222325ULL, feed), taxonomy), type) ^ (uint64_t)cid);
    size_t j = h & (m->cap - 1);
    for (;; j = (j + 1) & (m->cap - 1)) {
        daily_cell *c = &m->cells[j];
        if (!c->count) {
            *c = (daily_cell){feed, taxonomy, type, cid, 1, h};
            m->n++;
            return true;
        }
        if (c->h == h && c->constituent_id == cid && strcmp(c->feed, feed) == 0 && strcmp(c->taxonomy, taxonomy) == 0 &&
            strcmp(c->type, type) == 0) {
            c->count++;
            return true;
        }
    }
}

/* Row indexes by dedup hash: the first row of the batch with each hash. */
typedef struct hash_index {
    uint32_t *slot; /* row + 1; 0 empty */
    size_t cap;
} hash_index;

static bool hash_index_init(hash_index *x, size_t n)
{
    x->cap = 16;
    while (x->cap < 2 * n)
        x->cap *= 2;
    x->slot = calloc(x->cap, sizeof *x->slot);
    return x->slot != NULL;
}

/* The first row with hash h, or -1; with add, records row when h is new. */
static int64_t hash_index_find(hash_index *x, const event_batch_row *rows, uint64_t h, size_t row, bool add)
{
    size_t j = mix64(h) & (x->cap - 1);
    for (;; j = (j + 1) & (x->cap - 1)) {
        uint32_t v = x->slot[j];
        if (!v) {
            if (add)
                x->slot[j] = (uint32_t)row + 1;
            return -1;
        }
        if (rows[v - 1].dedup_hash == h)
            return (int64_t)v - 1;
    }
}

/* ---- claims ---- */

typedef struct {
    const ingest_claim *c;
    ingest_state *out;
} claim_ctx;

static void state_from_row(db_stmt *st, int col, ingest_state *out)
{
    out->lines_done = (uint64_t)db_col_int(st, col);
    out->events = db_col_int(st, col + 1);
    out->duplicates = db_col_int(st, col + 2);
    out->quarantined = db_col_int(st, col + 3);
}

static dz_code claim_tx(store *s, db *d, void *arg, dz_err *e)
{
    claim_ctx *x = arg;
    const ingest_claim *c = x->c;
    ingest_state *out = x->out;
    int64_t now = store_now(s), lease = c->lease_s > 0 ? c->lease_s : LEASE_DEFAULT_S;
    db_stmt *st;
    int r;
    memset(out, 0, sizeof *out);

    if (db_prepare(d, "INSERT INTO ingests(kind, source, key, feed, report, org_id, status, node, lease_s, "
                      "lease_until, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?) "
                      "ON CONFLICT (key) DO NOTHING RETURNING id",
                   &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, c->kind);
    db_bind_text(st, 2, c->source);
    db_bind_text(st, 3, c->key);
    db_bind_text(st, 4, c->feed);
    db_bind_text(st, 5, c->report);
    db_bind_int_or_null(st, 6, c->org_id, 0);
    db_bind_text(st, 7, c->node);
    db_bind_int(st, 8, lease);
    db_bind_int(st, 9, now + lease);
    db_bind_int(st, 10, now);
    db_bind_int(st, 11, now);
    if ((r = db_step(st, e)) == DB_ROW)
        out->id = db_col_int(st, 0);
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    if (out->id) {
        out->state = INGEST_NEW;
        snprintf(out->status, sizeof out->status, "running");
    } else {
        /* It exists: take it over if it failed, its lease ran out, or the claimant holds or may replace it. */
        if (db_prepare(d, "UPDATE ingests SET node = ?, status = 'running', lease_s = ?, lease_until = ?, "
                          "updated_at = ?, error = NULL, finished_at = NULL WHERE key = ? AND (status = 'failed' "
                          "OR (status = 'running' AND (lease_until <= ? OR node = ? OR node = CAST(? AS TEXT)))) "
                          "RETURNING id, lines_done, events, duplicates, quarantined",
                       &st, e) != DZ_OK)
            return e->code;
        db_bind_text(st, 1, c->node);
        db_bind_int(st, 2, lease);
        db_bind_int(st, 3, now + lease);
        db_bind_int(st, 4, now);
        db_bind_text(st, 5, c->key);
        db_bind_int(st, 6, now);
        db_bind_text(st, 7, c->node);
        db_bind_text(st, 8, c->take_over && *c->take_over ? c->take_over : NULL);
        if ((r = db_step(st, e)) == DB_ROW) {
            out->id = db_col_int(st, 0);
            state_from_row(st, 1, out);
        }
        db_reset(st);
        if (r == DB_ERROR)
            return e->code;
        if (out->id) {
            out->state = INGEST_RESUME;
            snprintf(out->status, sizeof out->status, "running");
        }
    }
    if (!out->id) { /* done, or held by someone else */
        if (db_prepare(d, "SELECT id, status, node, lines_done, events, duplicates, quarantined FROM ingests "
                          "WHERE key = ?", &st, e) != DZ_OK)
            return e->code;
        db_bind_text(st, 1, c->key);
        if ((r = db_step(st, e)) == DB_ROW) {
            out->id = db_col_int(st, 0);
            snprintf(out->status, sizeof out->status, "%s", db_col_text(st, 1));
            snprintf(out->holder, sizeof out->holder, "%s", db_col_text(st, 2));
            state_from_row(st, 3, out);
        }
        db_reset(st);
        if (r == DB_ERROR)
            return e->code;
        if (r != DB_ROW)
            return dz_fail(e, DZ_EDB, "ingest '%.80s' neither inserted nor found", c->key);
        out->state = strcmp(out->status, "done") == 0 ? INGEST_DONE : INGEST_BUSY;
        if (out->state == INGEST_DONE)
            out->holder[0] = '\0';
        return DZ_OK;
    }
    char object[32];
    snprintf(object, sizeof object, "ingest:%" PRId64, out->id);
    json_t *detail = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", c->kind ? c->kind : "", "source",
                               c->source ? c->source : "", "feed", c->feed ? c->feed : "", "key", c->key, "node",
                               c->node ? c->node : "");
    if (detail && out->state == INGEST_RESUME)
        json_object_set_new(detail, "resume_after", json_integer(u64_to_db(out->lines_done)));
    return store_audit_append(d, now, "system", "ingest.start", object, detail, e);
}

dz_code store_ingest_claim(store *s, const ingest_claim *c, ingest_state *out, dz_err *e)
{
    if (!c || !c->key || !*c->key || !c->node || !*c->node || !c->kind || !c->source || !c->feed)
        return dz_fail(e, DZ_EINVAL, "ingest claim: kind, source, key, feed and node are required");
    claim_ctx x = {c, out};
    return store_write(s, claim_tx, &x, e);
}

/* Why node cannot write to ingest id: DZ_ENOTFOUND or DZ_ECONFLICT. */
static dz_code not_held(db *d, int64_t id, const char *node, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, "SELECT status, node FROM ingests WHERE id = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, id);
    int r = db_step(st, e);
    dz_code rc;
    if (r == DB_ERROR)
        rc = e->code;
    else if (r != DB_ROW)
        rc = dz_fail(e, DZ_ENOTFOUND, "no ingest %" PRId64, id);
    else if (strcmp(db_col_text(st, 0), "running") != 0)
        rc = dz_fail(e, DZ_ECONFLICT, "ingest %" PRId64 " is %s", id, db_col_text(st, 0));
    else
        rc = dz_fail(e, DZ_ECONFLICT, "ingest %" PRId64 " is held by %.64s now, not %.64s", id, db_col_text(st, 1),
                     node);
    db_reset(st);
    return rc;
}

typedef struct {
    int64_t id;
    const char *node, *error;
} finish_ctx;

static dz_code finish_tx(store *s, db *d, void *arg, dz_err *e)
{
    finish_ctx *x = arg;
    int64_t now = store_now(s);
    db_stmt *st;
    if (db_prepare(d, "UPDATE ingests SET status = ?, error = ?, finished_at = ?, updated_at = ?, lease_until = ? "
                      "WHERE id = ? AND node = ? AND status = 'running' "
                      "RETURNING lines_done, events, duplicates, quarantined",
                   &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, x->error ? "failed" : "done");
    db_bind_text(st, 2, x->error);
    db_bind_int(st, 3, now);
    db_bind_int(st, 4, now);
    db_bind_int(st, 5, now);
    db_bind_int(st, 6, x->id);
    db_bind_text(st, 7, x->node);
    ingest_state t = {0};
    int r = db_step(st, e);
    if (r == DB_ROW)
        state_from_row(st, 0, &t);
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    if (r != DB_ROW)
        return not_held(d, x->id, x->node, e);
    char object[32];
    snprintf(object, sizeof object, "ingest:%" PRId64, x->id);
    json_t *detail = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s?}", "status", x->error ? "failed" : "done", "lines_done",
                               (json_int_t)u64_to_db(t.lines_done), "events", (json_int_t)t.events, "duplicates",
                               (json_int_t)t.duplicates, "quarantined", (json_int_t)t.quarantined, "error", x->error);
    return store_audit_append(d, now, "system", "ingest.finish", object, detail, e);
}

dz_code store_ingest_finish(store *s, int64_t ingest_id, const char *node, const char *error, dz_err *e)
{
    finish_ctx x = {ingest_id, node, error};
    return store_write(s, finish_tx, &x, e);
}

static dz_code renew_tx(store *s, db *d, void *arg, dz_err *e)
{
    finish_ctx *x = arg;
    int64_t now = store_now(s);
    db_stmt *st;
    if (db_prepare(d, "UPDATE ingests SET lease_until = ? + lease_s, updated_at = ? "
                      "WHERE id = ? AND node = ? AND status = 'running'",
                   &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, now);
    db_bind_int(st, 2, now);
    db_bind_int(st, 3, x->id);
    db_bind_text(st, 4, x->node);
    if (db_run(st, e) != DZ_OK)
        return e->code;
    return db_changes(d) == 1 ? DZ_OK : not_held(d, x->id, x->node, e);
}

dz_code store_ingest_renew(store *s, int64_t ingest_id, const char *node, dz_err *e)
{
    finish_ctx x = {ingest_id, node, NULL};
    return store_write(s, renew_tx, &x, e);
}

/* ---- committing a batch ---- */

typedef struct {
    int64_t ingest_id;
    const char *node;
    const event_batch *b;
    store_batch_result res;
    /* work memory */
    unsigned char *fresh; /* per row: 1 = store it */
    hash_index hx;
    daily_map daily;
    strbuf tmp, sql;
    char feed[256]; /* the ingest's feed: for events without feed.name */
    int64_t *orgs;  /* the batch's organisations that exist, sorted */
    size_t n_orgs;
    int64_t first_id; /* the fresh events' ids are first_id, first_id + 1, ... in row order */
} commit_ctx;

static const char *text_or(const event_batch *b, size_t off, const char *dflt)
{
    const char *t = event_batch_text(b, off);
    return t && *t ? t : dflt;
}

/* The ingest must be running and held by node. */
static dz_code check_claim(db *d, commit_ctx *x, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, "SELECT feed FROM ingests WHERE id = ? AND node = ? AND status = 'running'", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, x->ingest_id);
    db_bind_text(st, 2, x->node);
    int r = db_step(st, e);
    if (r == DB_ROW)
        snprintf(x->feed, sizeof x->feed, "%s", db_col_text(st, 0));
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    return r == DB_ROW ? DZ_OK : not_held(d, x->ingest_id, x->node, e);
}

static int i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * The batch's organisations that still exist. The pipeline matched events
 * against a snapshot of the registry; an organisation deleted since then
 * would fail the whole batch on the foreign key, so its events are stored as
 * nobody's instead.
 */
static dz_code known_orgs(db *d, commit_ctx *x, dz_err *e)
{
    const event_batch *b = x->b;
    size_t n = 0;
    x->n_orgs = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->rows[i].constituent_id > 0)
            x->orgs[n++] = b->rows[i].constituent_id;
    qsort(x->orgs, n, sizeof *x->orgs, i64_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (!u || x->orgs[u - 1] != x->orgs[i])
            x->orgs[u++] = x->orgs[i];
    db_stmt *st;
    if (!u)
        return DZ_OK;
    if (db_is_pg(d)) { /* one round trip: the ids as an array */
        strbuf *a = &x->sql;
        strbuf_reset(a);
        for (size_t i = 0; i < u; i++)
            strbuf_printf(a, "%c%" PRId64, i ? ',' : '{', x->orgs[i]);
        strbuf_append(a, "}", 1);
        if (a->oom)
            return dz_fail(e, DZ_ENOMEM, "out of memory");
        if (db_prepare(d, "SELECT id FROM constituents WHERE id = ANY(CAST(? AS BIGINT[])) ORDER BY id", &st, e) !=
            DZ_OK)
            return e->code;
        db_bind_text(st, 1, a->buf);
        int r;
        while ((r = db_step(st, e)) == DB_ROW)
            x->orgs[x->n_orgs++] = db_col_int(st, 0); /* ascending, and at most u of them */
        db_reset(st);
        return r == DB_ERROR ? e->code : DZ_OK;
    }
    if (db_prepare(d, "SELECT 1 FROM constituents WHERE id = ?", &st, e) != DZ_OK)
        return e->code;
    for (size_t i = 0; i < u; i++) {
        db_bind_int(st, 1, x->orgs[i]);
        int r = db_step(st, e);
        db_reset(st);
        if (r == DB_ERROR)
            return e->code;
        if (r == DB_ROW)
            x->orgs[x->n_orgs++] = x->orgs[i];
    }
    return DZ_OK;
}

/* The row's organisation as stored: 0 for none or one that no longer exists. */
static int64_t org_of(const commit_ctx *x, int64_t cid)
{
    if (cid <= 0)
        return 0;
    size_t lo = 0, hi = x->n_orgs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->orgs[mid] == cid)
            return cid;
        if (x->orgs[mid] < cid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

typedef struct {
    int64_t key;
    uint32_t row;
} keyed_row;

static int keyed_cmp(const void *a, const void *b)
{
    int64_t x = ((const keyed_row *)a)->key, y = ((const keyed_row *)b)->key;
    return x < y ? -1 : x > y;
}

/* ---- the dedup window's recent level in memory ---- */

void event_window_free(event_window *w)
{
    free(w->slot);
    *w = (event_window){0};
}

static void window_clear(event_window *w)
{
    if (w->n) /* an empty table needs no wiping (a fold clears it, then the next sync again) */
        memset(w->slot, 0, w->cap * sizeof *w->slot);
    w->n = 0;
    w->loaded = false;
}

/* The slot of h: where it is, or the empty one where it would go. */
static window_slot *window_slot_of(const event_window *w, uint64_t h)
{
    size_t j = mix64(h) & (w->cap - 1);
    while (w->slot[j].first_seen && w->slot[j].hash != h)
        j = (j + 1) & (w->cap - 1);
    return &w->slot[j];
}

/* When h was first seen as far as memory knows, or 0. */
static int64_t window_first_seen(const event_window *w, uint64_t h)
{
    return w->cap ? window_slot_of(w, h)->first_seen : 0;
}

static bool window_put(event_window *w, uint64_t h, int64_t first_seen)
{
    /* at most 3/4 full: the first size then holds FOLD_ROWS and the batches that reach it, without growing */
    if (4 * (w->n + 1) > 3 * w->cap) {
        event_window bigger = *w;
        bigger.cap = w->cap ? 2 * w->cap : 2 * FOLD_ROWS;
        bigger.n = 0;
        if (!(bigger.slot = calloc(bigger.cap, sizeof *bigger.slot)))
            return false;
        for (size_t i = 0; i < w->cap; i++)
            if (w->slot[i].first_seen) {
                *window_slot_of(&bigger, w->slot[i].hash) = w->slot[i];
                bigger.n++;
            }
        free(w->slot);
        *w = bigger;
    }
    window_slot *sl = window_slot_of(w, h);
    if (!sl->first_seen)
        w->n++;
    if (sl->first_seen < first_seen) /* a hash seen again after its window ran out: the later time counts */
        *sl = (window_slot){h, first_seen};
    return true;
}

/*
 * Brings memory up to event_recent inside the caller's write transaction:
 * the rows past the newest held, or all of them when memory may hold rows
 * that were rolled back, or when another process folded (then what memory
 * holds is in event_dedup and only takes room).
 */
static dz_code window_sync(store *s, db *d, dz_err *e)
{
    event_window *w = store_event_window(s);
    db_stmt *st;
    if (db_prepare(d, "SELECT (SELECT MIN(event_id) FROM event_recent), (SELECT MAX(event_id) FROM event_recent)", &st, e) != DZ_OK)
        return e->code;
    int r = db_step(st, e);
    int64_t lo = r == DB_ROW && !db_col_null(st, 0) ? db_col_int(st, 0) : 0;
    int64_t hi = r == DB_ROW && !db_col_null(st, 1) ? db_col_int(st, 1) : 0;
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    if (w->rollbacks != store_rollbacks(s) || (w->n && (!lo || lo > w->floor_id)) || hi < w->last_id)
        window_clear(w);
    if (!w->loaded) {
        w->loaded = true;
        w->floor_id = lo;
        w->last_id = 0;
        w->rollbacks = store_rollbacks(s);
    }
    if (hi <= w->last_id)
        return DZ_OK;
    if (db_prepare(d, "SELECT event_id, hash, first_seen FROM event_recent WHERE event_id > ? ORDER BY event_id", &st,
                   e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, w->last_id);
    while ((r = db_step(st, e)) == DB_ROW) {
        if (!window_put(w, hash_from_db(db_col_int(st, 1)), db_col_int(st, 2))) {
            db_reset(st);
            window_clear(w);
            return dz_fail(e, DZ_ENOMEM, "out of memory");
        }
        w->last_id = db_col_int(st, 0);
    }
    db_reset(st);
    if (r == DB_ERROR)
        window_clear(w);
    return r == DB_ERROR ? e->code : DZ_OK;
}

/*
 * Moves event_recent into the indexed level, sorted, and empties it. The
 * caller's transaction holds the writers' lock; memory is emptied too (the
 * next sync loads what event_recent holds then).
 */
static dz_code fold_recent(store *s, db *d, dz_err *e)
{
    static const char *const sql[] = {
        /* WHERE true: SQLite's parser needs it before an upsert's ON CONFLICT */
        "INSERT INTO event_dedup(hash, first_seen) SELECT hash, MAX(first_seen) FROM event_recent WHERE true "
        "GROUP BY hash ORDER BY hash ON CONFLICT (hash) DO UPDATE SET first_seen = excluded.first_seen "
        "WHERE event_dedup.first_seen < excluded.first_seen",
        "INSERT INTO event_ip4(ip4, event_id) SELECT ip4, event_id FROM event_recent WHERE ip4 IS NOT NULL "
        "ORDER BY ip4, event_id",
        "INSERT INTO event_ip6(ip6, event_id) SELECT ip6, event_id FROM event_recent WHERE ip6 IS NOT NULL "
        "ORDER BY ip6, event_id",
        "DELETE FROM event_recent",
    };
    for (size_t i = 0; i < sizeof sql / sizeof *sql; i++)
        if (db_exec(d, sql[i], e) != DZ_OK)
            return dz_wrap(e, "folding the recent dedup hashes");
    window_clear(store_event_window(s));
    return DZ_OK;
}

/*
 * Which of the batch's first occurrences are new: memory answers for the
 * recent level; the rest are looked up in event_dedup, in key order (each
 * lookup then lands next to the previous one). SQLite: one lookup a hash;
 * PostgreSQL: one query with the hashes as an array.
 */
static dz_code dedup_lookup(store *s, db *d, commit_ctx *x, int64_t cut, dz_err *e)
{
    const event_batch *b = x->b;
    const event_window *w = store_event_window(s);
    keyed_row *keys = malloc((b->n ? b->n : 1) * sizeof *keys);
    if (!keys)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (!x->fresh[i])
            continue;
        if (window_first_seen(w, b->rows[i].dedup_hash) > cut)
            x->fresh[i] = 0;
        else
            keys[k++] = (keyed_row){hash_to_db(b->rows[i].dedup_hash), (uint32_t)i};
    }
    qsort(keys, k, sizeof *keys, keyed_cmp);
    db_stmt *st;
    dz_code rc = DZ_OK;
    if (!k) {
        /* nothing to look up */
    } else if (!db_is_pg(d)) {
        rc = db_prepare(d, "SELECT 1 FROM event_dedup WHERE hash = ? AND first_seen > ?", &st, e);
        for (size_t j = 0; rc == DZ_OK && j < k; j++) {
            db_bind_int(st, 1, keys[j].key);
            db_bind_int(st, 2, cut);
            int r = db_step(st, e);
            db_reset(st);
            if (r == DB_ERROR)
                rc = e->code;
            else if (r == DB_ROW)
                x->fresh[keys[j].row] = 0;
        }
    } else {
        strbuf *a = &x->sql;
        strbuf_reset(a);
        for (size_t j = 0; j < k; j++)
            strbuf_printf(a, "%c%" PRId64, j ? ',' : '{', keys[j].key);
        strbuf_append(a, "}", 1);
        if (a->oom)
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        else
            rc = db_prepare(d, "SELECT hash FROM event_dedup WHERE hash = ANY(CAST(? AS BIGINT[])) AND first_seen > ?",
                            &st, e);
        if (rc == DZ_OK) {
            db_bind_text(st, 1, a->buf);
            db_bind_int(st, 2, cut);
            int r;
            while ((r = db_step(st, e)) == DB_ROW) {
                int64_t row = hash_index_find(&x->hx, b->rows, hash_from_db(db_col_int(st, 0)), 0, false);
                if (row >= 0)
                    x->fresh[row] = 0;
            }
            db_reset(st);
            if (r == DB_ERROR)
                rc = e->code;
        }
    }
    free(keys);
    return rc;
}

/* n (>= 1) new event ids: *first .. *first + n - 1. */
static dz_code reserve_event_ids(db *d, int64_t n, int64_t *first, dz_err *e)
{
    db_stmt *st;
    bool pg = db_is_pg(d);
    if (db_prepare(d,
                   pg ? "SELECT setval(pg_get_serial_sequence('events', 'id'), "
                        "nextval(pg_get_serial_sequence('events', 'id')) + ? - 1)"
                      : "SELECT COALESCE(MAX(id), 0) + 1 FROM events",
                   &st, e) != DZ_OK)
        return e->code;
    if (pg)
        db_bind_int(st, 1, n);
    int r = db_step(st, e);
    if (r == DB_ROW)
        *first = pg ? db_col_int(st, 0) - n + 1 : db_col_int(st, 0);
    db_reset(st);
    return r == DB_ROW ? DZ_OK : r == DB_ERROR ? e->code : dz_fail(e, DZ_EDB, "no event id");
}

/* The values of one event row, cleaned; text pointers valid until the next row. */
typedef struct {
    const char *feed, *taxonomy, *type, *identifier, *ip6, *doc;
    int64_t ip4;   /* -1: none */
    size_t doc_len;
} row_text;

/* IPv4 keys are ::ffff:a.b.c.d: stored as the integer. */
static const char V4_MAPPED[] = "00000000000000000000ffff";

/* The row's address as stored: *ip4 (-1: none) or *ip6 (NULL: none). */
static void row_ip(const event_batch_row *r, int64_t *ip4, const char **ip6)
{
    *ip4 = -1;
    *ip6 = NULL;
    if (r->ip_key[0] && strncmp(r->ip_key, V4_MAPPED, 24) == 0)
        *ip4 = (int64_t)strtoull(r->ip_key + 24, NULL, 16);
    else if (r->ip_key[0])
        *ip6 = r->ip_key;
}

static dz_code row_values(commit_ctx *x, const event_batch_row *r, row_text *t, dz_err *e)
{
    const event_batch *b = x->b;
    t->feed = text_or(b, r->feed_name, x->feed);
    t->taxonomy = text_or(b, r->taxonomy, "other");
    t->type = text_or(b, r->type, "undetermined");
    t->identifier = event_batch_text(b, r->identifier);
    row_ip(r, &t->ip4, &t->ip6);
    /* the short values come from validated event fields; the document is checked whole */
    t->doc = clean_text(event_batch_text(b, r->doc), r->doc_len, &x->tmp, &t->doc_len);
    if (!t->doc)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    return DZ_OK;
}

/* The fresh rows' memory and daily counts; ids from x->first_id on, in row order. */
static dz_code note_fresh(store *s, commit_ctx *x, const row_text *t, const event_batch_row *r, int64_t org, int64_t now,
                          dz_err *e)
{
    if (!daily_add(&x->daily, t->feed, t->taxonomy, t->type, org) ||
        !window_put(store_event_window(s), r->dedup_hash, now))
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    return DZ_OK;
}

static dz_code insert_rows(store *s, db *d, commit_ctx *x, int64_t now, dz_err *e)
{
    const event_batch *b = x->b;
    db_stmt *st;
    if (db_prepare(d, "INSERT INTO events(id, ingest_id, line, stored_at, time_source, feed, taxonomy, type, identifier, "
                      "ip4, ip6, asn, constituent_id, doc, dedup_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   &st, e) != DZ_OK)
        return e->code;
    int64_t id = x->first_id;
    for (size_t i = 0; i < b->n; i++) {
        if (!x->fresh[i])
            continue;
        const event_batch_row *r = &b->rows[i];
        row_text t;
        if (row_values(x, r, &t, e) != DZ_OK)
            return e->code;
        int64_t org = org_of(x, r->constituent_id);
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, x->ingest_id);
        db_bind_int(st, 3, u64_to_db(r->line));
        db_bind_int(st, 4, now);
        db_bind_int_or_null(st, 5, r->time_source, INT64_MIN);
        db_bind_text(st, 6, t.feed);
        db_bind_text(st, 7, t.taxonomy);
        db_bind_text(st, 8, t.type);
        db_bind_text(st, 9, t.identifier);
        db_bind_int_or_null(st, 10, t.ip4, -1);
        db_bind_text(st, 11, t.ip6);
        db_bind_int_or_null(st, 12, r->asn, 0);
        db_bind_int_or_null(st, 13, org, 0);
        db_bind_text(st, 14, t.doc);
        db_bind_int(st, 15, hash_to_db(r->dedup_hash));
        if (db_run(st, e) != DZ_OK || note_fresh(s, x, &t, r, org, now, e) != DZ_OK)
            return e->code;
        id++;
    }
    return DZ_OK;
}

static void copy_int_or_null(db *d, int64_t v, int64_t null_value)
{
    if (v == null_value)
        db_copy_null(d);
    else
        db_copy_int(d, v);
}

static void copy_str(db *d, const char *s)
{
    db_copy_text(d, s, s ? strlen(s) : 0);
}

/* Ends a COPY that should have stored want rows. */
static dz_code copy_finish(db *d, const char *table, int64_t want, dz_err *e)
{
    int64_t copied = 0;
    if (db_copy_end(d, &copied, e) != DZ_OK)
        return e->code;
    return copied == want ? DZ_OK
                          : dz_fail(e, DZ_EDB, "COPY %s: %" PRId64 " of %" PRId64 " rows stored", table, copied, want);
}

/* PostgreSQL: the fresh events as one COPY. */
static dz_code copy_rows(store *s, db *d, commit_ctx *x, int64_t now, dz_err *e)
{
    const event_batch *b = x->b;
    if (db_copy_begin(d, "COPY events(id, ingest_id, line, stored_at, time_source, feed, taxonomy, type, identifier, "
                         "ip4, ip6, asn, constituent_id, doc, dedup_hash) FROM STDIN",
                      e) != DZ_OK)
        return e->code;
    int64_t id = x->first_id;
    for (size_t i = 0; i < b->n; i++) {
        if (!x->fresh[i])
            continue;
        const event_batch_row *r = &b->rows[i];
        row_text t;
        int64_t org = org_of(x, r->constituent_id);
        if (row_values(x, r, &t, e) != DZ_OK || note_fresh(s, x, &t, r, org, now, e) != DZ_OK) {
            db_copy_abort(d);
            return e->code;
        }
        db_copy_int(d, id++);
        db_copy_int(d, x->ingest_id);
        db_copy_int(d, u64_to_db(r->line));
        db_copy_int(d, now);
        copy_int_or_null(d, r->time_source, INT64_MIN);
        copy_str(d, t.feed);
        copy_str(d, t.taxonomy);
        copy_str(d, t.type);
        copy_str(d, t.identifier);
        copy_int_or_null(d, t.ip4, -1);
        copy_str(d, t.ip6);
        copy_int_or_null(d, r->asn, 0);
        copy_int_or_null(d, org, 0);
        db_copy_text(d, t.doc, t.doc_len);
        db_copy_int(d, hash_to_db(r->dedup_hash));
        if (db_copy_end_row(d, e) != DZ_OK) {
            db_copy_abort(d);
            return e->code;
        }
    }
    return copy_finish(d, "events", id - x->first_id, e);
}

/*
 * The fresh events' rows of the recent level. PostgreSQL: one more COPY
 * (reading them back from events cost twice as much on the server);
 * SQLite: one INSERT ... SELECT of the events just stored.
 */
static dz_code recent_rows(db *d, const commit_ctx *x, int64_t fresh, int64_t now, dz_err *e)
{
    const event_batch *b = x->b;
    if (db_is_pg(d)) {
        if (db_copy_begin(d, "COPY event_recent(event_id, hash, first_seen, ip4, ip6) FROM STDIN", e) != DZ_OK)
            return e->code;
        int64_t id = x->first_id;
        for (size_t i = 0; i < b->n; i++) {
            if (!x->fresh[i])
                continue;
            int64_t ip4;
            const char *ip6;
            row_ip(&b->rows[i], &ip4, &ip6);
            db_copy_int(d, id++);
            db_copy_int(d, hash_to_db(b->rows[i].dedup_hash));
            db_copy_int(d, now);
            copy_int_or_null(d, ip4, -1);
            copy_str(d, ip6);
            if (db_copy_end_row(d, e) != DZ_OK) {
                db_copy_abort(d);
                return e->code;
            }
        }
        return copy_finish(d, "event_recent", fresh, e);
    }
    db_stmt *st;
    if (db_prepare(d, "INSERT INTO event_recent(event_id, hash, first_seen, ip4, ip6) "
                      "SELECT id, dedup_hash, stored_at, ip4, ip6 FROM events WHERE id >= ? AND id <= ?",
                   &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, x->first_id);
    db_bind_int(st, 2, x->first_id + fresh - 1);
    return db_run(st, e);
}

static dz_code quarantine_rows(db *d, commit_ctx *x, int64_t now, dz_err *e)
{
    const event_batch *b = x->b;
    if (!b->n_bad)
        return DZ_OK;
    bool copy = db_can_copy(d);
    db_stmt *st = NULL;
    dz_code rc = copy ? db_copy_begin(d, "COPY event_quarantine(ingest_id, line, reason, raw, created_at) "
                                         "FROM STDIN", e)
                      : db_prepare(d, "INSERT INTO event_quarantine(ingest_id, line, reason, raw, created_at) "
                                      "VALUES (?, ?, ?, ?, ?)", &st, e);
    if (rc != DZ_OK)
        return rc;
    strbuf reason;
    strbuf_init(&reason);
    for (size_t i = 0; rc == DZ_OK && i < b->n_bad; i++) {
        const event_batch_bad *q = &b->bad[i];
        const char *why = text_or(b, q->reason, "refused");
        size_t why_len, raw_len = 0;
        why = clean_text(why, strlen(why), &reason, &why_len);
        const char *raw = event_batch_text(b, q->raw);
        if (raw)
            raw = clean_text(raw, q->raw_len, &x->tmp, &raw_len);
        if (!why || (event_batch_text(b, q->raw) && !raw)) {
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
            break;
        }
        if (copy) {
            db_copy_int(d, x->ingest_id);
            db_copy_int(d, u64_to_db(q->line));
            db_copy_text(d, why, why_len);
            db_copy_text(d, raw, raw_len);
            db_copy_int(d, now);
            rc = db_copy_end_row(d, e);
        } else {
            db_bind_int(st, 1, x->ingest_id);
            db_bind_int(st, 2, u64_to_db(q->line));
            db_bind_text(st, 3, why);
            db_bind_text(st, 4, raw);
            db_bind_int(st, 5, now);
            rc = db_run(st, e);
        }
    }
    strbuf_free(&reason);
    if (copy) {
        if (rc == DZ_OK)
            rc = db_copy_end(d, NULL, e);
        else
            db_copy_abort(d);
    }
    return rc;
}

static dz_code daily_rows(db *d, commit_ctx *x, int64_t now, dz_err *e)
{
    if (!x->daily.n)
        return DZ_OK;
    char day[11];
    day_of(now, day);
    db_stmt *st;
    if (db_prepare(d, "INSERT INTO event_daily(day, feed, taxonomy, type, constituent_id, count) "
                      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (day, feed, taxonomy, type, constituent_id) "
                      "DO UPDATE SET count = event_daily.count + excluded.count",
                   &st, e) != DZ_OK)
        return e->code;
    for (size_t i = 0; i < x->daily.cap; i++) {
        const daily_cell *c = &x->daily.cells[i];
        if (!c->count)
            continue;
        db_bind_text(st, 1, day);
        db_bind_text(st, 2, c->feed);
        db_bind_text(st, 3, c->taxonomy);
        db_bind_text(st, 4, c->type);
        db_bind_int(st, 5, c->constituent_id);
        db_bind_int(st, 6, c->count);
        if (db_run(st, e) != DZ_OK)
            return e->code;
    }
    return DZ_OK;
}

static dz_code commit_tx(store *s, db *d, void *arg, dz_err *e)
{
    commit_ctx *x = arg;
    const event_batch *b = x->b;
    int64_t now = store_now(s), cut = now - window_of(s);
    bool pg = db_can_copy(d);
    x->res = (store_batch_result){0};
    if (check_claim(d, x, e) != DZ_OK || known_orgs(d, x, e) != DZ_OK)
        return e->code;

    /* repeats inside the batch: only each hash's first row may be fresh */
    memset(x->fresh, 0, b->n);
    memset(x->hx.slot, 0, x->hx.cap * sizeof *x->hx.slot);
    for (size_t i = 0; i < b->n; i++)
        x->fresh[i] = hash_index_find(&x->hx, b->rows, b->rows[i].dedup_hash, i, true) < 0;
    free(x->daily.cells);
    x->daily = (daily_map){0};

    int64_t fresh = 0;
    dz_code rc = window_sync(s, d, e);
    if (rc == DZ_OK)
        rc = dedup_lookup(s, d, x, cut, e);
    for (size_t i = 0; i < b->n; i++)
        fresh += x->fresh[i];
    if (rc == DZ_OK && fresh) {
        event_window *w = store_event_window(s);
        if ((rc = reserve_event_ids(d, fresh, &x->first_id, e)) == DZ_OK)
            rc = pg ? copy_rows(s, d, x, now, e) : insert_rows(s, d, x, now, e);
        if (rc == DZ_OK)
            rc = recent_rows(d, x, fresh, now, e);
        if (rc == DZ_OK) {
            if (!w->floor_id)
                w->floor_id = x->first_id;
            w->last_id = x->first_id + fresh - 1;
            if (w->last_id - w->floor_id + 1 >= FOLD_ROWS)
                rc = fold_recent(s, d, e);
        }
    }
    if (rc == DZ_OK)
        rc = quarantine_rows(d, x, now, e);
    if (rc == DZ_OK)
        rc = daily_rows(d, x, now, e);
    if (rc != DZ_OK)
        return rc;
    for (size_t i = 0; i < b->n; i++)
        x->res.stored += x->fresh[i];
    x->res.duplicates = (int64_t)b->n - x->res.stored;
    x->res.quarantined = (int64_t)b->n_bad;

    db_stmt *st;
    if (db_prepare(d, "UPDATE ingests SET lines_done = CASE WHEN lines_done < ? THEN ? ELSE lines_done END, "
                      "events = events + ?, duplicates = duplicates + ?, quarantined = quarantined + ?, "
                      "lease_until = ? + lease_s, updated_at = ? WHERE id = ?",
                   &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, u64_to_db(b->checkpoint));
    db_bind_int(st, 2, u64_to_db(b->checkpoint));
    db_bind_int(st, 3, x->res.stored);
    db_bind_int(st, 4, x->res.duplicates);
    db_bind_int(st, 5, x->res.quarantined);
    db_bind_int(st, 6, now);
    db_bind_int(st, 7, now);
    db_bind_int(st, 8, x->ingest_id);
    return db_run(st, e);
}

dz_code store_events_commit(store *s, int64_t ingest_id, const char *node, const event_batch *b,
                            store_batch_result *out, dz_err *e)
{
    if (out)
        *out = (store_batch_result){0};
    if (!b || b->oom || b->text.oom)
        return dz_fail(e, DZ_ENOMEM, "the batch is incomplete (out of memory while it was built)");
    if (b->n > UINT32_MAX - 1)
        return dz_fail(e, DZ_ELIMIT, "a batch holds at most %u events", UINT32_MAX - 1);
    commit_ctx x = {.ingest_id = ingest_id, .node = node, .b = b};
    strbuf_init(&x.tmp);
    strbuf_init(&x.sql);
    dz_code rc;
    x.fresh = malloc(b->n ? b->n : 1);
    x.orgs = malloc((b->n ? b->n : 1) * sizeof *x.orgs);
    if (!x.fresh || !x.orgs || !hash_index_init(&x.hx, b->n))
        rc = dz_fail(e, DZ_ENOMEM, "out of memory");
    else
        rc = store_write(s, commit_tx, &x, e);
    if (rc == DZ_OK && out)
        *out = x.res;
    free(x.fresh);
    free(x.orgs);
    free(x.hx.slot);
    free(x.daily.cells);
    strbuf_free(&x.tmp);
    strbuf_free(&x.sql);
    return rc;
}

/* ---- reading events ---- */

/* An address or network as the range it covers: IPv4 as integers (*v4 true), IPv6 as 32-hex keys. */
typedef struct ip_span {
    bool v4;
    bool all_v4;   /* an IPv6 network that holds ::ffff:0:0/96 (::/0, say): every IPv4 address too */
    int64_t lo4, hi4;
    char lo6[33], hi6[33];
} ip_span;

static dz_code ip_range(const char *text, ip_span *out, dz_err *e)
{
    net_prefix p;
    dz_err pe = {0};
    dz_code rc = strchr(text, '/') ? net_prefix_parse(text, &p, &pe) : ip_address_parse(text, &p, &pe);
    if (rc != DZ_OK)
        return dz_fail(e, DZ_EINVAL, "parameter 'ip': %s", pe.msg);
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (p.family == 6 && p.len >= 96 && memcmp(p.addr, mapped, 12) == 0) { /* ::ffff:a.b.c.d/len: IPv4 */
        memmove(p.addr, p.addr + 12, 4);
        p.family = 4;
        p.len = (uint8_t)(p.len - 96);
    }
    out->v4 = p.family == 4;
    if (out->v4) {
        uint32_t a = net_prefix_v4(&p), mask = p.len ? ~(uint32_t)0 << (32 - p.len) : 0;
        out->lo4 = a & mask;
        out->hi4 = (a & mask) | ~mask;
        return DZ_OK;
    }
    uint8_t lo[16], hi[16];
    for (unsigned i = 0; i < 16; i++) {
        unsigned bits = p.len >= 8 * (i + 1) ? 8 : p.len > 8 * i ? p.len - 8 * i : 0; /* network bits here */
        uint8_t mask = (uint8_t)(bits ? 0xff << (8 - bits) : 0);
        lo[i] = p.addr[i] & mask;
        hi[i] = (uint8_t)(p.addr[i] | (uint8_t)~mask);
    }
    sodium_bin2hex(out->lo6, sizeof out->lo6, lo, 16);
    sodium_bin2hex(out->hi6, sizeof out->hi6, hi, 16);
    out->all_v4 = strcmp(out->lo6, "00000000000000000000ffff00000000") <= 0 &&
                  strcmp(out->hi6, "00000000000000000000ffffffffffff") >= 0;
    return DZ_OK;
}

#define EVENT_SELECT                                                                                                   \
    "SELECT e.id, e.stored_at, c.short_name, e.ingest_id, e.doc FROM events e "                                        \
    "LEFT JOIN constituents c ON c.id = e.constituent_id WHERE "
/* The same filters after each variant's leading condition; unset ones are NULL or 0. */
#define EVENT_FILTERS                                                                                                  \
    "e.id < ? AND (CAST(? AS BIGINT) = 0 OR e.constituent_id = ?) "                                                   \
    "AND (CAST(? AS BIGINT) = 0 OR e.time_source >= ?) AND (CAST(? AS BIGINT) = 0 OR e.time_source < ?) "              \
    "AND (CAST(? AS TEXT) IS NULL OR e.taxonomy = ?) AND (CAST(? AS TEXT) IS NULL OR e.type = ?) "                     \
    "AND (CAST(? AS TEXT) IS NULL OR e.feed = ?) "                                                                     \
    "AND (CAST(? AS BIGINT) = 0 OR e.ingest_id = ?) ORDER BY e.id DESC LIMIT ?"

/*
 * One constant statement per access path, so each can use its index (a
 * filter written as `? IS NULL OR ...` cannot): a network's range of addresses;
 * one organisation's events newest first; else the newest events.
 */
enum { EV_BY_IP4, EV_BY_IP6, EV_BY_ORG, EV_ALL };
static const char *const event_list_sql[] = {
    [EV_BY_IP4] = EVENT_SELECT "e.id IN (SELECT event_id FROM event_ip4 WHERE ip4 >= ? AND ip4 <= ? UNION ALL "
                               "SELECT event_id FROM event_recent WHERE ip4 >= ? AND ip4 <= ?) AND " EVENT_FILTERS,
    [EV_BY_IP6] = EVENT_SELECT "(e.id IN (SELECT event_id FROM event_ip6 WHERE ip6 >= ? AND ip6 <= ? UNION ALL "
                               "SELECT event_id FROM event_recent WHERE ip6 >= ? AND ip6 <= ?) "
                               "OR ? = 1 AND e.ip4 IS NOT NULL) AND " EVENT_FILTERS,
    [EV_BY_ORG] = EVENT_SELECT "e.constituent_id = ? AND " EVENT_FILTERS,
    [EV_ALL] = EVENT_SELECT EVENT_FILTERS,
};

static json_t *event_row(db_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(db_col_int(st, 0)));
    json_set_time(o, "stored_at", db_col_int(st, 1), false);
    json_set_text(o, "constituent", db_col_text(st, 2));
    json_object_set_new(o, "ingest_id", json_integer(db_col_int(st, 3)));
    const char *doc = db_col_text(st, 4);
    json_t *ev = NULL;
    strbuf json;
    strbuf_init(&json);
    dz_err ign;
    if (doc && event_doc_to_json(doc, strlen(doc), &json, &ign) == DZ_OK && !json.oom)
        ev = json_loadb(json.buf, json.len, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
    strbuf_free(&json);
    json_object_set_new(o, "event", ev ? ev : json_null()); /* null: a damaged document */
    return o;
}

static const char *opt(const char *s)
{
    return s && *s ? s : NULL;
}

dz_code store_event_list(store *s, int64_t only_org, const event_filter *f, json_t **out, dz_err *e)
{
    static const event_filter everything = {0};
    if (!f)
        f = &everything;
    *out = NULL;
    int limit = f->limit;
    int64_t before = INT64_MAX;
    if (store_page_args(f->cursor, &limit, EVENT_LIMIT_DEFAULT, EVENT_LIMIT_MAX, &before, e) != DZ_OK)
        return e->code;
    if (f->from < 0 || f->to < 0 || (f->from && f->to && f->to <= f->from))
        return dz_fail(e, DZ_EINVAL, "parameters 'from' and 'to': an empty or negative time range");
    ip_span span;
    bool by_ip = opt(f->ip) != NULL;
    if (by_ip && ip_range(f->ip, &span, e) != DZ_OK)
        return e->code;

    db *d;
    db_stmt *st;
    if (store_reader(s, &d, e) != DZ_OK)
        return e->code;
    int64_t org = only_org;
    bool none = false;
    if (opt(f->constituent)) {
        int64_t id;
        if (store_constituent_id_in(d, f->constituent, &id, e) != DZ_OK)
            return e->code;
        if (!id || (org && id != org))
            none = true; /* no such organisation, or one the caller may not see */
        org = id;
    }
    if (none) {
        *out = json_pack("{s:[], s:n}", "items", "next_cursor");
        return DZ_OK;
    }
    int variant = by_ip ? (span.v4 ? EV_BY_IP4 : EV_BY_IP6) : org ? EV_BY_ORG : EV_ALL;
    if (db_prepare(d, event_list_sql[variant], &st, e) != DZ_OK)
        return e->code;
    int i = 1;
    for (int level = 0; level < 2; level++) { /* the folded addresses, then event_recent's */
        if (variant == EV_BY_IP4) {
            db_bind_int(st, i++, span.lo4);
            db_bind_int(st, i++, span.hi4);
        } else if (variant == EV_BY_IP6) {
            db_bind_text(st, i++, span.lo6);
            db_bind_text(st, i++, span.hi6);
        }
    }
    if (variant == EV_BY_IP6) {
        db_bind_int(st, i++, span.all_v4);
    } else if (variant == EV_BY_ORG) {
        db_bind_int(st, i++, org);
    }
    db_bind_int(st, i++, before);
    db_bind_int(st, i++, org);
    db_bind_int(st, i++, org);
    db_bind_int(st, i++, f->from);
    db_bind_int(st, i++, f->from);
    db_bind_int(st, i++, f->to);
    db_bind_int(st, i++, f->to);
    const char *texts[] = {opt(f->taxonomy), opt(f->type), opt(f->feed)};
    for (int k = 0; k < 3; k++) {
        db_bind_text(st, i++, texts[k]);
        db_bind_text(st, i++, texts[k]);
    }
    db_bind_int(st, i++, f->ingest_id);
    db_bind_int(st, i++, f->ingest_id);
    db_bind_int(st, i, limit + 1);
    return store_page_json(st, limit, event_row, out, e);
}

dz_code store_event_get(store *s, int64_t only_org, int64_t id, json_t **out, dz_err *e)
{
    db *d;
    db_stmt *st;
    *out = NULL;
    if (store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, EVENT_SELECT "e.id = ? AND (CAST(? AS BIGINT) = 0 OR e.constituent_id = ?)", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, id);
    db_bind_int(st, 2, only_org);
    db_bind_int(st, 3, only_org);
    int r = db_step(st, e);
    if (r == DB_ROW)
        *out = event_row(st);
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    return r == DB_ROW ? DZ_OK : dz_fail(e, DZ_ENOTFOUND, "no event %" PRId64, id);
}

/* ---- statistics (event_daily) ---- */

#define DAILY_WHERE                                                                                                    \
    " WHERE (CAST(? AS TEXT) IS NULL OR d.day >= ?) AND (CAST(? AS TEXT) IS NULL OR d.day <= ?) "                      \
    "AND (CAST(? AS BIGINT) = 0 OR d.constituent_id = ?)"

static const struct {
    const char *key, *sql;
    const char *cols[3]; /* names of the text columns before the count */
} stats_parts[] = {
    {"by_day", "SELECT d.day, SUM(d.count) AS n FROM event_daily d" DAILY_WHERE " GROUP BY d.day ORDER BY d.day",
     {"day"}},
    {"by_type",
     "SELECT d.taxonomy, d.type, SUM(d.count) AS n FROM event_daily d" DAILY_WHERE
     " GROUP BY d.taxonomy, d.type ORDER BY n DESC, d.taxonomy, d.type",
     {"taxonomy", "type"}},
    {"by_feed",
     "SELECT d.feed, SUM(d.count) AS n FROM event_daily d" DAILY_WHERE " GROUP BY d.feed ORDER BY n DESC, d.feed",
     {"feed"}},
    {"by_sector",
     "SELECT c.sector, SUM(d.count) AS n FROM event_daily d LEFT JOIN constituents c ON c.id = d.constituent_id"
     DAILY_WHERE " GROUP BY c.sector ORDER BY n DESC, COALESCE(c.sector, '')",
     {"sector"}},
    {"by_constituent",
     "SELECT c.short_name, SUM(d.count) AS n FROM event_daily d JOIN constituents c ON c.id = d.constituent_id"
     DAILY_WHERE " GROUP BY c.short_name ORDER BY n DESC, c.short_name LIMIT 20",
     {"constituent"}},
};

static bool day_valid(const char *d)
{
    if (strlen(d) != 10 || d[4] != '-' || d[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9'))
            return false;
    int month = (d[5] - '0') * 10 + d[6] - '0', day = (d[8] - '0') * 10 + d[9] - '0';
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

static void bind_daily(db_stmt *st, const char *from, const char *to, int64_t org)
{
    db_bind_text(st, 1, from);
    db_bind_text(st, 2, from);
    db_bind_text(st, 3, to);
    db_bind_text(st, 4, to);
    db_bind_int(st, 5, org);
    db_bind_int(st, 6, org);
}

dz_code store_event_stats(store *s, int64_t only_org, const char *from_day, const char *to_day, json_t **out,
                          dz_err *e)
{
    *out = NULL;
    from_day = opt(from_day);
    to_day = opt(to_day);
    if ((from_day && !day_valid(from_day)) || (to_day && !day_valid(to_day)))
        return dz_fail(e, DZ_EINVAL, "days are YYYY-MM-DD");
    db *d;
    db_stmt *st;
    if (store_reader(s, &d, e) != DZ_OK || db_begin_snapshot(d, e) != DZ_OK)
        return e->code;
    json_t *res = json_object();
    dz_code rc = db_prepare(d, "SELECT COALESCE(SUM(d.count), 0) FROM event_daily d" DAILY_WHERE, &st, e);
    if (rc == DZ_OK) {
        bind_daily(st, from_day, to_day, only_org);
        int r = db_step(st, e);
        json_object_set_new(res, "total", json_integer(r == DB_ROW ? db_col_int(st, 0) : 0));
        db_reset(st);
        if (r == DB_ERROR)
            rc = e->code;
    }
    for (size_t p = 0; rc == DZ_OK && p < sizeof stats_parts / sizeof *stats_parts; p++) {
        if ((rc = db_prepare(d, stats_parts[p].sql, &st, e)) != DZ_OK)
            break;
        bind_daily(st, from_day, to_day, only_org);
        json_t *arr = json_array();
        int r, ncols = 0;
        while (ncols < 3 && stats_parts[p].cols[ncols])
            ncols++;
        while ((r = db_step(st, e)) == DB_ROW) {
            json_t *o = json_object();
            for (int c = 0; c < ncols; c++)
                json_set_text(o, stats_parts[p].cols[c], db_col_text(st, c));
            json_object_set_new(o, "count", json_integer(db_col_int(st, ncols)));
            json_array_append_new(arr, o);
        }
        db_reset(st);
        json_object_set_new(res, stats_parts[p].key, arr);
        if (r == DB_ERROR)
            rc = e->code;
    }
    db_rollback(d);
    if (rc != DZ_OK) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return DZ_OK;
}

/* ---- ingests and the quarantine ---- */

#define INGEST_SELECT                                                                                                  \
    "SELECT id, kind, source, feed, report, status, node, lines_done, events, duplicates, quarantined, started_at, "   \
    "updated_at, COALESCE(finished_at, 0), error FROM ingests "

static json_t *ingest_row(db_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(db_col_int(st, 0)));
    json_set_text(o, "kind", db_col_text(st, 1));
    json_set_text(o, "source", db_col_text(st, 2));
    json_set_text(o, "feed", db_col_text(st, 3));
    json_set_text(o, "report", db_col_text(st, 4));
    json_set_text(o, "status", db_col_text(st, 5));
    json_set_text(o, "node", db_col_text(st, 6));
    json_object_set_new(o, "lines_done", json_integer(db_col_int(st, 7)));
    json_object_set_new(o, "events", json_integer(db_col_int(st, 8)));
    json_object_set_new(o, "duplicates", json_integer(db_col_int(st, 9)));
    json_object_set_new(o, "quarantined", json_integer(db_col_int(st, 10)));
    json_set_time(o, "started_at", db_col_int(st, 11), false);
    json_set_time(o, "updated_at", db_col_int(st, 12), false);
    json_set_time(o, "finished_at", db_col_int(st, 13), true);
    json_set_text(o, "error", db_col_text(st, 14));
    return o;
}

dz_code store_ingest_list(store *s, const char *cursor, int limit, json_t **out, dz_err *e)
{
    int64_t before = INT64_MAX;
    db *d;
    db_stmt *st;
    *out = NULL;
    if (store_page_args(cursor, &limit, INGEST_LIMIT_DEFAULT, INGEST_LIMIT_MAX, &before, e) != DZ_OK ||
        store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, INGEST_SELECT "WHERE id < ? ORDER BY id DESC LIMIT ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, before);
    db_bind_int(st, 2, limit + 1);
    return store_page_json(st, limit, ingest_row, out, e);
}

dz_code store_ingest_get(store *s, int64_t id, json_t **out, dz_err *e)
{
    db *d;
    db_stmt *st;
    *out = NULL;
    if (store_reader(s, &d, e) != DZ_OK || db_prepare(d, INGEST_SELECT "WHERE id = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, id);
    int r = db_step(st, e);
    if (r == DB_ROW)
        *out = ingest_row(st);
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    return r == DB_ROW ? DZ_OK : dz_fail(e, DZ_ENOTFOUND, "no ingest %" PRId64, id);
}

static json_t *quarantine_row(db_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(db_col_int(st, 0)));
    json_object_set_new(o, "ingest_id", json_integer(db_col_int(st, 1)));
    json_object_set_new(o, "line", json_integer(db_col_int(st, 2)));
    json_set_text(o, "reason", db_col_text(st, 3));
    json_set_text(o, "raw", db_col_text(st, 4));
    return o;
}

dz_code store_quarantine_list(store *s, int64_t ingest_id, const char *cursor, int limit, json_t **out, dz_err *e)
{
    int64_t after = 0;
    db *d;
    db_stmt *st;
    *out = NULL;
    if (store_page_args(cursor, &limit, EVENT_LIMIT_DEFAULT, EVENT_LIMIT_MAX, &after, e) != DZ_OK ||
        store_reader(s, &d, e) != DZ_OK)
        return e->code;
    if (ingest_id) {
        if (db_prepare(d, "SELECT id, ingest_id, line, reason, raw FROM event_quarantine "
                          "WHERE ingest_id = ? AND id > ? ORDER BY id LIMIT ?", &st, e) != DZ_OK)
            return e->code;
        db_bind_int(st, 1, ingest_id);
        db_bind_int(st, 2, after);
        db_bind_int(st, 3, limit + 1);
    } else {
        if (db_prepare(d, "SELECT id, ingest_id, line, reason, raw FROM event_quarantine WHERE id > ? "
                          "ORDER BY id LIMIT ?", &st, e) != DZ_OK)
            return e->code;
        db_bind_int(st, 1, after);
        db_bind_int(st, 2, limit + 1);
    }
    return store_page_json(st, limit, quarantine_row, out, e);
}

/* ---- forgetting old hashes ---- */

typedef struct {
    int64_t lo, hi, cut, purged;
} purge_ctx;

static dz_code purge_tx(store *s, db *d, void *arg, dz_err *e)
{
    (void)s;
    purge_ctx *x = arg;
    db_stmt *st;
    if (db_prepare(d, "DELETE FROM event_dedup WHERE hash >= ? AND hash <= ? AND first_seen <= ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, x->lo);
    db_bind_int(st, 2, x->hi);
    db_bind_int(st, 3, x->cut);
    if (db_run(st, e) != DZ_OK)
        return e->code;
    x->purged = db_changes(d);
    return DZ_OK;
}

static dz_code fold_tx(store *s, db *d, void *arg, dz_err *e)
{
    (void)arg;
    return fold_recent(s, d, e);
}

/*
 * A hash older than the window is treated as new by the next commit anyway;
 * forgetting it only keeps the table small. The recent level is folded first
 * (it may never fill on a quiet day). No index on first_seen (it would cost
 * every fold): the purge walks the table by hash instead, in PURGE_SLICES
 * short writes, so ingests are never held up for long.
 */
dz_code store_dedup_purge(store *s, int64_t *purged, dz_err *e)
{
    int64_t cut = store_now(s) - window_of(s), total = 0;
    if (purged)
        *purged = 0;
    if (store_write(s, fold_tx, NULL, e) != DZ_OK) /* then every hash is where the purge looks */
        return e->code;
    for (uint64_t k = 0; k < PURGE_SLICES; k++) {
        uint64_t span = UINT64_MAX / PURGE_SLICES + 1;
        purge_ctx x = {hash_to_db(k * span), hash_to_db(k * span + (span - 1)), cut, 0};
        if (store_write(s, purge_tx, &x, e) != DZ_OK) {
            if (purged)
                *purged = total;
            return e->code;
        }
        total += x.purged;
    }
    if (purged)
        *purged = total;
    return DZ_OK;
}
