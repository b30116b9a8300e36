/*
 * store_notify.c: notifications (event digests and incident notices), their
 * outbox, and the per-contact watermark of digests (migration 0007).
 *
 * Watermark. notify_cursors holds, per organisation and e-mail address (as
 * the registry stores it), the newest event id sent to that address in a
 * digest; no row means 0 and never. Queueing a digest moves it from after_id
 * to upto_id in the same transaction that inserts the notification, and only
 * if it is still after_id: for after_id 0 an upsert whose DO UPDATE has
 * WHERE last_event_id = 0 (a missing row is inserted), otherwise a plain
 * UPDATE ... WHERE last_event_id = after_id (a missing row is not made up).
 * Either changes one row exactly when the watermark was after_id, so the
 * changed-row count decides between "queued" and "conflict" on both
 * backends, whichever node gets there first (every write holds the writers'
 * lock, and the statement re-checks its WHERE on the row it locks anyway).
 *
 * Outbox. The row is its own outbox entry. A claim is its own short
 * transaction outside the group-commit writer and without the writers' lock,
 * as store_jobs.c claims jobs: first "sending" rows whose lease ran out or
 * whose holder is dead go back to "queued" (due now, in_doubt = 1: an
 * attempt may have reached the relay), then up to max due queued rows,
 * oldest first, become "sending" for the claimant. On PostgreSQL both pick
 * their rows in a sub-select with FOR UPDATE SKIP LOCKED, so concurrent
 * claimants never take (nor wait for) the same row; on SQLite the
 * transaction is IMMEDIATE. Outcomes are recorded through store_write and
 * only while the node still holds the row.
 *
 * Audit: one entry per store_notify_queue call ("notify.queue" for digests,
 * "incident.notify" per incident for notices) and one per acknowledgement;
 * claims and outcomes are the sender's machinery and write none (the row
 * keeps attempts, codes and errors).
 */
#include "store/store_incidents_internal.h"
#include "lib/event_doc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTIFY_LIMIT_DEFAULT 100
#define NOTIFY_LIMIT_MAX 1000
#define EVENT_PAGE 500 /* rows per page while streaming events (the PostgreSQL driver fetches a result whole) */

static const char *opt(const char *s)
{
    return s && *s ? s : NULL;
}

/* ---- contacts due a digest ---- */

/*
 * One row per contact that is due (interval passed, events waiting); the
 * EXISTS probes events_by_constituent (constituent_id, id) over the range
 * (watermark, upto]. Ordered in C (bytewise, as on both backends), where the
 * rows of one address listed twice in an organisation become one.
 */
#define DUE_SQL                                                                                                    \
    "SELECT c.id, c.short_name, c.name, k.email, k.name, k.language, k.notify_interval, k.notify_format, "        \
    "k.max_tlp, k.pgp, COALESCE(w.last_event_id, 0), COALESCE(w.last_digest_at, 0), k.position "                 \
    "FROM constituent_contacts k JOIN constituents c ON c.id = k.constituent_id "                                 \
    "LEFT JOIN notify_cursors w ON w.org_id = k.constituent_id AND w.email = k.email "                            \
    "WHERE k.notify_interval IN ('immediate', 'hourly', 'daily', 'weekly') "                                      \
    "AND COALESCE(w.last_digest_at, 0) + CASE k.notify_interval WHEN 'immediate' THEN 0 WHEN 'hourly' THEN 3600 " \
    "WHEN 'daily' THEN 86400 ELSE 604800 END <= ? "                                                               \
    "AND EXISTS (SELECT 1 FROM events e WHERE e.constituent_id = k.constituent_id "                               \
    "AND e.id > COALESCE(w.last_event_id, 0) AND e.id <= ?)"

static int interval_rank(notify_interval i)
{
    return (int)i; /* immediate < hourly < daily < weekly */
}

typedef struct due_row {
    notify_due_contact c;
    int64_t position;
} due_row;

static int due_cmp(const void *a, const void *b)
{
    const due_row *x = a, *y = b;
    int r = strcmp(x->c.short_name, y->c.short_name);
    if (!r)
        r = strcmp(x->c.email, y->c.email);
    if (!r) /* the same address twice: the most frequent interval first, then the record's order */
        r = interval_rank(x->c.interval) - interval_rank(y->c.interval);
    if (!r)
        r = x->position < y->position ? -1 : x->position > y->position;
    return r;
}

void notify_due_list_free(notify_due_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].pgp);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static void copy_text(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

dz_code store_notify_due(store *s, int64_t now, notify_due_list *out, dz_err *e)
{
    db *d;
    db_stmt *st;
    memset(out, 0, sizeof *out);
    if (store_reader(s, &d, e) != DZ_OK || db_begin_snapshot(d, e) != DZ_OK)
        return e->code;
    due_row *rows = NULL;
    size_t n = 0, cap = 0;
    int64_t upto = 0;
    dz_code rc = db_prepare(d, "SELECT COALESCE(MAX(id), 0) FROM events", &st, e);
    if (rc == DZ_OK) {
        int r = db_step(st, e);
        if (r == DB_ROW)
            upto = db_col_int(st, 0);
        db_reset(st);
        if (r == DB_ERROR)
            rc = e->code;
    }
    if (rc == DZ_OK && upto > 0 && (rc = db_prepare(d, DUE_SQL, &st, e)) == DZ_OK) {
        db_bind_int(st, 1, now);
        db_bind_int(st, 2, upto);
        int r;
        while ((r = db_step(st, e)) == DB_ROW) {
            if (n == cap) {
                size_t nc = cap ? 2 * cap : 64;
                due_row *p = realloc(rows, nc * sizeof *p);
                if (!p) {
                    rc = dz_fail(e, DZ_ENOMEM, "out of memory");
                    break;
                }
                rows = p;
                cap = nc;
            }
            due_row *x = &rows[n];
            memset(x, 0, sizeof *x);
            x->c.org_id = db_col_int(st, 0);
            copy_text(x->c.short_name, sizeof x->c.short_name, db_col_text(st, 1));
            copy_text(x->c.org_name, sizeof x->c.org_name, db_col_text(st, 2));
            copy_text(x->c.email, sizeof x->c.email, db_col_text(st, 3));
            copy_text(x->c.name, sizeof x->c.name, db_col_text(st, 4));
            copy_text(x->c.language, sizeof x->c.language, db_col_text(st, 5) ? db_col_text(st, 5) : "en");
            dz_err ignore;
            if (notify_interval_parse(db_col_text(st, 6), &x->c.interval, &ignore) != DZ_OK)
                x->c.interval = NOTIFY_DAILY;
            if (notify_format_parse(db_col_text(st, 7), &x->c.format, &ignore) != DZ_OK)
                x->c.format = NOTIFY_FORMAT_CSV;
            if (tlp_parse(db_col_text(st, 8), &x->c.max_tlp, &ignore) != DZ_OK)
                x->c.max_tlp = TLP_AMBER;
            if (db_col_text(st, 9) && !(x->c.pgp = strdup(db_col_text(st, 9)))) {
                rc = dz_fail(e, DZ_ENOMEM, "out of memory");
                break;
            }
            x->c.after_id = db_col_int(st, 10);
            x->c.last_digest_at = db_col_int(st, 11);
            x->position = db_col_int(st, 12);
            n++;
        }
        db_reset(st);
        if (r == DB_ERROR && rc == DZ_OK)
            rc = e->code;
    }
    db_rollback(d);
    if (rc == DZ_OK && n) {
        qsort(rows, n, sizeof *rows, due_cmp);
        out->items = malloc(n * sizeof *out->items);
        if (!out->items)
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        bool repeat = i > 0 && rows[i].c.org_id == rows[i - 1].c.org_id && strcmp(rows[i].c.email, rows[i - 1].c.email) == 0;
        if (rc == DZ_OK && !repeat)
            out->items[out->n++] = rows[i].c; /* takes pgp */
        else
            free(rows[i].c.pgp);
    }
    free(rows);
    if (rc != DZ_OK) {
        notify_due_list_free(out);
        return rc;
    }
    out->upto_id = upto;
    return DZ_OK;
}

/* ---- events of a range, streamed ---- */

/* Calls fn for org's events after_id < id <= upto_id in pages, inside the caller's read transaction. */
static dz_code walk_events(db *d, int64_t org_id, int64_t after_id, int64_t upto_id, store_event_doc_fn fn, void *arg,
                           dz_err *e)
{
    int64_t last = after_id;
    strbuf json;
    strbuf_init(&json);
    dz_code rc = DZ_OK;
    while (rc == DZ_OK) {
        db_stmt *st;
        if (db_prepare(d, "SELECT id, doc FROM events WHERE constituent_id = ? AND id > ? AND id <= ? "
                          "ORDER BY id LIMIT ?", &st, e) != DZ_OK) {
            rc = e->code;
            break;
        }
        db_bind_int(st, 1, org_id);
        db_bind_int(st, 2, last);
        db_bind_int(st, 3, upto_id);
        db_bind_int(st, 4, EVENT_PAGE);
        int r, rows = 0;
        while ((r = db_step(st, e)) == DB_ROW) {
            rows++;
            last = db_col_int(st, 0);
            const char *doc = db_col_text(st, 1);
            strbuf_reset(&json);
            if (event_doc_to_json(doc ? doc : "", doc ? strlen(doc) : 0, &json, e) != DZ_OK) {
                e->code = DZ_EINTERNAL; /* the store's own data, not the caller's */
                rc = dz_wrap(e, "event %lld", (long long)last);
                break;
            }
            if (json.oom) {
                rc = dz_fail(e, DZ_ENOMEM, "out of memory");
                break;
            }
            if ((rc = fn(arg, last, json.buf ? json.buf : "", json.len, e)) != DZ_OK)
                break;
        }
        db_reset(st);
        if (rc == DZ_OK && r == DB_ERROR)
            rc = e->code;
        if (rc == DZ_OK && rows < EVENT_PAGE)
            break;
    }
    strbuf_free(&json);
    return rc;
}

dz_code store_notify_events(store *s, int64_t org_id, int64_t after_id, int64_t upto_id, store_event_doc_fn fn,
                            void *arg, dz_err *e)
{
    db *d;
    if (!fn)
        return dz_fail(e, DZ_EINVAL, "no callback for the events");
    if (upto_id <= after_id)
        return DZ_OK;
    if (store_reader(s, &d, e) != DZ_OK || db_begin_snapshot(d, e) != DZ_OK)
        return e->code;
    dz_code rc = walk_events(d, org_id, after_id, upto_id, fn, arg, e);
    db_rollback(d);
    return rc;
}

/* ---- tickets ---- */

typedef struct {
    int year;
    int64_t n, last;
} reserve_ctx;

static dz_code reserve_tx(store *s, db *d, void *arg, dz_err *e)
{
    (void)s;
    reserve_ctx *c = arg;
    return store_next_seq_n(d, "N", c->year, c->n, &c->last, e);
}

dz_code store_notify_reserve_tickets(store *s, int year, size_t n, int64_t *first, dz_err *e)
{
    if (n < 1 || n > 1000000)
        return dz_fail(e, DZ_EINVAL, "tickets: between 1 and 1000000 at once, not %zu", n);
    if (year < 1970 || year > 9999)
        return dz_fail(e, DZ_EINVAL, "tickets: year %d is out of range", year);
    reserve_ctx c = {year, (int64_t)n, 0};
    if (store_write(s, reserve_tx, &c, e) != DZ_OK)
        return e->code;
    *first = c.last - (int64_t)n + 1;
    return DZ_OK;
}

/* ---- queueing ---- */

typedef struct {
    const principal *who;
    const notify_new *items;
    size_t n;
    const notify_incident_note *note;
    notify_queue_result res;
} queue_ctx;

static dz_code check_item(const notify_new *it, size_t i, dz_err *e)
{
    bool digest = it->kind && strcmp(it->kind, "digest") == 0;
    bool notice = it->kind && strcmp(it->kind, "incident") == 0;
    if (!digest && !notice)
        return dz_fail(e, DZ_EINVAL, "notification %zu: kind must be 'digest' or 'incident'", i);
    if (!opt(it->ticket) || strlen(it->ticket) >= sizeof ((outbox_item *)0)->ticket)
        return dz_fail(e, DZ_EINVAL, "notification %zu: a ticket of 1..%zu bytes is required", i,
                       sizeof ((outbox_item *)0)->ticket - 1);
    if (!opt(it->message_id) || strlen(it->message_id) >= sizeof ((outbox_item *)0)->message_id)
        return dz_fail(e, DZ_EINVAL, "notification %s: a message_id of 1..255 bytes is required", it->ticket);
    if (!opt(it->recipient) || strlen(it->recipient) >= sizeof ((outbox_item *)0)->recipient)
        return dz_fail(e, DZ_EINVAL, "notification %s: a recipient of 1..255 bytes is required", it->ticket);
    if (!it->subject)
        return dz_fail(e, DZ_EINVAL, "notification %s: a subject is required", it->ticket);
    if (!it->message || it->message_len == 0)
        return dz_fail(e, DZ_EINVAL, "notification %s: the message is empty", it->ticket);
    if (memchr(it->message, '\0', it->message_len))
        return dz_fail(e, DZ_EINVAL, "notification %s: the message holds a NUL byte", it->ticket);
    if (it->org_id <= 0)
        return dz_fail(e, DZ_EINVAL, "notification %s: no organisation", it->ticket);
    if (it->format && strcmp(it->format, "csv") != 0 && strcmp(it->format, "json") != 0)
        return dz_fail(e, DZ_EINVAL, "notification %s: format must be 'csv' or 'json'", it->ticket);
    if (digest) {
        if (it->after_id < 0 || it->upto_id <= it->after_id)
            return dz_fail(e, DZ_EINVAL, "notification %s: a digest covers after_id < id <= upto_id (%" PRId64
                                         ", %" PRId64 ")", it->ticket, it->after_id, it->upto_id);
        if (it->summary_json) {
            json_error_t je;
            json_t *sj = json_loads(it->summary_json, 0, &je);
            bool ok = json_is_object(sj);
            json_decref(sj);
            if (!ok)
                return dz_fail(e, DZ_EINVAL, "notification %s: summary is not a JSON object", it->ticket);
        }
    } else if (!opt(it->incident)) {
        return dz_fail(e, DZ_EINVAL, "notification %s: an incident notice names its incident", it->ticket);
    }
    return DZ_OK;
}

/* Moves the watermark of (org, email) from after_id to upto_id; *moved false when it was not after_id. */
static dz_code move_watermark(db *d, const notify_new *it, int64_t now, bool *moved, dz_err *e)
{
    db_stmt *st;
    *moved = false;
    if (it->after_id == 0) {
        if (db_prepare(d, "INSERT INTO notify_cursors(org_id, email, last_event_id, last_digest_at) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT (org_id, email) DO UPDATE SET last_event_id = excluded.last_event_id, "
                          "last_digest_at = excluded.last_digest_at WHERE notify_cursors.last_event_id = 0",
                       &st, e) != DZ_OK)
            return e->code;
        db_bind_int(st, 1, it->org_id);
        db_bind_text(st, 2, it->recipient);
        db_bind_int(st, 3, it->upto_id);
        db_bind_int(st, 4, now);
    } else {
        if (db_prepare(d, "UPDATE notify_cursors SET last_event_id = ?, last_digest_at = ? "
                          "WHERE org_id = ? AND email = ? AND last_event_id = ?", &st, e) != DZ_OK)
            return e->code;
        db_bind_int(st, 1, it->upto_id);
        db_bind_int(st, 2, now);
        db_bind_int(st, 3, it->org_id);
        db_bind_text(st, 4, it->recipient);
        db_bind_int(st, 5, it->after_id);
    }
    if (db_run(st, e) != DZ_OK)
        return e->code;
    *moved = db_changes(d) == 1;
    return DZ_OK;
}

/* The incident's row id; DZ_ENOTFOUND naming it. */
static dz_code incident_id_of(db *d, const char *public_id, int64_t *id, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, "SELECT id FROM incidents WHERE public_id = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, public_id);
    int r = db_step(st, e);
    *id = r == DB_ROW ? db_col_int(st, 0) : 0;
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    return r == DB_ROW ? DZ_OK : dz_fail(e, DZ_ENOTFOUND, "no incident '%.48s'", public_id);
}

/* org must be an affected constituent of the incident: DZ_EINVAL naming it otherwise. */
static dz_code check_affected(db *d, int64_t incident_id, const char *public_id, int64_t org_id, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, "SELECT COUNT(*) FROM incident_constituents WHERE incident_id = ? AND constituent_id = ?", &st,
                   e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, incident_id);
    db_bind_int(st, 2, org_id);
    int r = db_step(st, e);
    int64_t n = r == DB_ROW ? db_col_int(st, 0) : 0;
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    if (n)
        return DZ_OK;
    char name[80] = "";
    if (db_prepare(d, "SELECT short_name FROM constituents WHERE id = ?", &st, e) == DZ_OK) {
        db_bind_int(st, 1, org_id);
        if (db_step(st, e) == DB_ROW)
            snprintf(name, sizeof name, "%s", db_col_text(st, 0));
        db_reset(st);
    }
    if (!name[0])
        snprintf(name, sizeof name, "#%" PRId64, org_id);
    return dz_fail(e, DZ_EINVAL, "constituent '%s' is not affected by incident %.48s: notices go to affected "
                                 "constituents only", name, public_id);
}

#define INSERT_NOTIFICATION                                                                                        \
    "INSERT INTO notifications(ticket, kind, org_id, recipient, recipient_name, subject, message, message_id, "    \
    "language, format, tlp, is_signed, is_encrypted, incident_id, after_id, upto_id, events, withheld, "           \
    "period_from, period_to, summary, status, attempts, next_attempt_at, in_doubt, created_at) "                   \
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, 0, ?)"

static dz_code insert_notification(db *d, const notify_new *it, int64_t incident_id, int64_t now, dz_err *e)
{
    db_stmt *st;
    bool digest = strcmp(it->kind, "digest") == 0;
    char *message = strndup(it->message, it->message_len);
    if (!message)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    if (db_prepare(d, INSERT_NOTIFICATION, &st, e) != DZ_OK) {
        free(message);
        return e->code;
    }
    int i = 1;
    db_bind_text(st, i++, it->ticket);
    db_bind_text(st, i++, it->kind);
    db_bind_int(st, i++, it->org_id);
    db_bind_text(st, i++, it->recipient);
    db_bind_text(st, i++, opt(it->recipient_name));
    db_bind_text(st, i++, it->subject);
    db_bind_text(st, i++, message);
    db_bind_text(st, i++, it->message_id);
    db_bind_text(st, i++, opt(it->language));
    db_bind_text(st, i++, opt(it->format));
    db_bind_text(st, i++, opt(it->tlp));
    db_bind_int(st, i++, it->is_signed);
    db_bind_int(st, i++, it->is_encrypted);
    if (digest) {
        db_bind_null(st, i++);
        db_bind_int(st, i++, it->after_id);
        db_bind_int(st, i++, it->upto_id);
        db_bind_int(st, i++, it->events);
        db_bind_int(st, i++, it->withheld);
        db_bind_int_or_null(st, i++, it->period_from, 0);
        db_bind_int_or_null(st, i++, it->period_to, 0);
        db_bind_text(st, i++, it->summary_json ? it->summary_json : "{}");
    } else {
        db_bind_int(st, i++, incident_id);
        db_bind_null(st, i++); /* after_id */
        db_bind_null(st, i++); /* upto_id */
        db_bind_int(st, i++, 0); /* events */
        db_bind_int(st, i++, 0); /* withheld */
        db_bind_null(st, i++); /* period_from */
        db_bind_null(st, i++); /* period_to */
        db_bind_text(st, i++, "{}");
    }
    db_bind_int(st, i++, now);
    db_bind_int(st, i, now);
    dz_code rc = db_run(st, e);
    free(message);
    if (rc != DZ_OK)
        dz_wrap(e, "notification %s", it->ticket);
    return rc;
}

/* The incident notices of one incident in this call: for its audit entry. */
typedef struct notice_group {
    const char *incident;
    json_t *tickets;
} notice_group;

static dz_code queue_tx(store *s, db *d, void *arg, dz_err *e)
{
    queue_ctx *c = arg;
    int64_t now = store_now(s);
    const char *actor = c->who && c->who->username[0] ? c->who->username : "system";
    size_t digests = 0;
    notice_group *groups = calloc(c->n + 1, sizeof *groups);
    size_t ngroups = 0;
    dz_code rc = groups ? DZ_OK : dz_fail(e, DZ_ENOMEM, "out of memory");
    int64_t last_incident_id = 0;
    const char *last_incident = NULL;
    c->res.queued = c->res.conflicts = 0;
    for (size_t i = 0; rc == DZ_OK && i < c->n; i++) {
        const notify_new *it = &c->items[i];
        if (strcmp(it->kind, "digest") == 0) {
            bool moved;
            if ((rc = move_watermark(d, it, now, &moved, e)) != DZ_OK)
                break;
            if (!moved) {
                c->res.conflicts++;
                continue;
            }
            if ((rc = insert_notification(d, it, 0, now, e)) != DZ_OK)
                break;
            digests++;
        } else {
            if (!last_incident || strcmp(last_incident, it->incident) != 0) {
                if ((rc = incident_id_of(d, it->incident, &last_incident_id, e)) != DZ_OK)
                    break;
                last_incident = it->incident;
            }
            if ((rc = check_affected(d, last_incident_id, it->incident, it->org_id, e)) != DZ_OK ||
                (rc = insert_notification(d, it, last_incident_id, now, e)) != DZ_OK)
                break;
            size_t g = 0;
            while (g < ngroups && strcmp(groups[g].incident, it->incident) != 0)
                g++;
            if (g == ngroups) {
                groups[ngroups].incident = it->incident;
                groups[ngroups++].tickets = json_array();
            }
            json_array_append_new(groups[g].tickets, json_string(it->ticket));
        }
        c->res.queued++;
    }
    /* the shared note, on the incident's timeline, as the handler's scope sees it */
    int64_t note_id = 0;
    incident_row r;
    bool have_row = false;
    if (rc == DZ_OK && c->note) {
        static const store_scope everything = {0, -1, false};
        if ((rc = incident_row_load(d, c->note->scope ? c->note->scope : &everything, c->note->incident, &r, e)) ==
            DZ_OK) {
            have_row = true;
            rc = incident_note_insert(d, &r, now, actor, c->note->text ? c->note->text : "", true, &note_id, e);
        }
    }
    if (rc == DZ_OK && digests)
        rc = store_audit_append(d, now, actor, "notify.queue", "notifications",
                                json_pack("{s:I, s:I}", "count", (json_int_t)digests, "conflicts",
                                          (json_int_t)c->res.conflicts), e);
    bool note_logged = false;
    for (size_t g = 0; rc == DZ_OK && g < ngroups; g++) {
        json_t *detail = json_pack("{s:O, s:I}", "tickets", groups[g].tickets, "count",
                                   (json_int_t)json_array_size(groups[g].tickets));
        if (have_row && strcmp(r.public_id, groups[g].incident) == 0) {
            json_object_set_new(detail, "note", json_integer(note_id));
            note_logged = true;
        }
        rc = store_audit_append(d, now, actor, "incident.notify", groups[g].incident, detail, e);
    }
    if (rc == DZ_OK && have_row && !note_logged)
        rc = store_audit_append(d, now, actor, "incident.notify", r.public_id,
                                json_pack("{s:[], s:i, s:I}", "tickets", "count", 0, "note", (json_int_t)note_id), e);
    if (have_row)
        incident_row_free(&r);
    for (size_t g = 0; g < ngroups; g++)
        json_decref(groups[g].tickets);
    free(groups);
    return rc;
}

dz_code store_notify_queue(store *s, const principal *who, const notify_new *items, size_t n,
                           const notify_incident_note *note, notify_queue_result *out, dz_err *e)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (n && !items)
        return dz_fail(e, DZ_EINVAL, "no notifications");
    for (size_t i = 0; i < n; i++)
        if (check_item(&items[i], i, e) != DZ_OK)
            return e->code;
    if (note && !opt(note->incident))
        return dz_fail(e, DZ_EINVAL, "the note names no incident");
    if (!n && !note)
        return DZ_OK;
    queue_ctx c = {.who = who, .items = items, .n = n, .note = note};
    if (store_write(s, queue_tx, &c, e) != DZ_OK)
        return e->code;
    if (out)
        *out = c.res;
    return DZ_OK;
}

/* ---- the outbox ---- */

/*
 * Each statement picks its rows in a materialised CTE (PostgreSQL: FOR UPDATE
 * SKIP LOCKED there), then updates exactly those. Not `id IN (SELECT ...
 * LIMIT n FOR UPDATE SKIP LOCKED)`: PostgreSQL may rescan such a sub-select
 * per outer row, and a rescan skips the rows this statement has just
 * updated, so fewer (or other) rows than picked would be claimed.
 */
/* The partial index's own condition, spelled out: SQLite uses a partial index only when the query repeats it. */
#define OUTBOX_ROWS "status IN ('queued', 'sending')"
/* "sending" rows back to "queued": lease run out, or held by node (a dead one; NULL: none). */
#define REQUEUE_PICK                                                                                   \
    "WITH picked AS MATERIALIZED (SELECT id FROM notifications WHERE " OUTBOX_ROWS " AND status = 'sending' " \
    "AND (lease_until <= ? OR node = ?)"
#define REQUEUE_TAIL                                                                                   \
    ") UPDATE notifications SET status = 'queued', in_doubt = 1, next_attempt_at = ?, node = NULL, "  \
    "lease_until = NULL WHERE status = 'sending' AND id IN (SELECT id FROM picked)"
#define CLAIM_PICK                                                                                     \
    "WITH picked AS MATERIALIZED (SELECT id FROM notifications WHERE " OUTBOX_ROWS " AND status = 'queued' " \
    "AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?"
#define CLAIM_TAIL                                                                                     \
    ") UPDATE notifications SET status = 'sending', node = ?, lease_until = ?, attempts = attempts + 1 " \
    "WHERE status = 'queued' AND id IN (SELECT id FROM picked) "                                      \
    "RETURNING id, ticket, recipient, message_id, message, attempts, in_doubt, next_attempt_at"

static const char *const requeue_sql[2] = {REQUEUE_PICK REQUEUE_TAIL,
                                           REQUEUE_PICK " FOR UPDATE SKIP LOCKED" REQUEUE_TAIL};
static const char *const claim_sql[2] = {CLAIM_PICK CLAIM_TAIL, CLAIM_PICK " FOR UPDATE SKIP LOCKED" CLAIM_TAIL};

typedef struct {
    outbox_item item;
    int64_t due;
} claimed;

static int claimed_cmp(const void *a, const void *b)
{
    const claimed *x = a, *y = b;
    if (x->due != y->due)
        return x->due < y->due ? -1 : 1;
    return x->item.id < y->item.id ? -1 : x->item.id > y->item.id;
}

void outbox_items_free(outbox_item *items, size_t n)
{
    if (!items)
        return;
    for (size_t i = 0; i < n; i++)
        free(items[i].message);
    free(items);
}

dz_code store_outbox_claim(store *s, const char *node, size_t max, int lease_s, const char *const *dead,
                           size_t n_dead, outbox_item **items, size_t *n, dz_err *e)
{
    db *d;
    db_stmt *st;
    int64_t now = store_now(s);
    *items = NULL;
    *n = 0;
    if (!opt(node))
        return dz_fail(e, DZ_EINVAL, "a claim names its node");
    if (lease_s <= 0)
        return dz_fail(e, DZ_EINVAL, "the lease must be at least a second");
    if (store_reader(s, &d, e) != DZ_OK)
        return e->code;
    int pg = db_is_pg(d) ? 1 : 0;
    if (db_begin(d, true, e) != DZ_OK)
        return e->code;
    dz_code rc = DZ_OK;
    for (size_t k = 0; rc == DZ_OK && k < (n_dead ? n_dead : 1); k++) {
        if ((rc = db_prepare(d, requeue_sql[pg], &st, e)) != DZ_OK)
            break;
        db_bind_int(st, 1, now);
        db_bind_text(st, 2, n_dead ? dead[k] : NULL);
        db_bind_int(st, 3, now);
        rc = db_run(st, e);
    }
    claimed *got = NULL;
    size_t ngot = 0;
    if (rc == DZ_OK && max > 0 && (rc = db_prepare(d, claim_sql[pg], &st, e)) == DZ_OK) {
        size_t cap = max > 100000 ? 100000 : max; /* one claim hands out at most this many */
        db_bind_int(st, 1, now);
        db_bind_int(st, 2, (int64_t)cap);
        db_bind_text(st, 3, node);
        db_bind_int(st, 4, now + lease_s);
        got = calloc(cap, sizeof *got);
        if (!got)
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        int r = DB_DONE;
        while (rc == DZ_OK && ngot < cap && (r = db_step(st, e)) == DB_ROW) {
            claimed *c = &got[ngot];
            c->item.id = db_col_int(st, 0);
            copy_text(c->item.ticket, sizeof c->item.ticket, db_col_text(st, 1));
            copy_text(c->item.recipient, sizeof c->item.recipient, db_col_text(st, 2));
            copy_text(c->item.message_id, sizeof c->item.message_id, db_col_text(st, 3));
            const char *m = db_col_text(st, 4);
            c->item.message = strdup(m ? m : "");
            c->item.message_len = m ? strlen(m) : 0;
            c->item.attempts = (int)db_col_int(st, 5);
            c->item.in_doubt = db_col_int(st, 6) != 0;
            c->due = db_col_int(st, 7);
            ngot++;
            if (!c->item.message)
                rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        }
        db_reset(st);
        if (rc == DZ_OK && r == DB_ERROR)
            rc = e->code;
    }
    if (rc == DZ_OK)
        rc = db_commit(d, e);
    if (rc != DZ_OK) {
        db_rollback(d);
        for (size_t i = 0; i < ngot; i++)
            free(got[i].item.message);
        free(got);
        return rc;
    }
    if (!ngot) {
        free(got);
        return DZ_OK;
    }
    qsort(got, ngot, sizeof *got, claimed_cmp); /* RETURNING comes in no promised order */
    outbox_item *res = malloc(ngot * sizeof *res);
    if (!res) { /* claimed but not handed out: the lease brings them back */
        for (size_t i = 0; i < ngot; i++)
            free(got[i].item.message);
        free(got);
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ngot; i++)
        res[i] = got[i].item;
    free(got);
    *items = res;
    *n = ngot;
    return DZ_OK;
}

static json_t *first_column_string(db_stmt *st)
{
    return json_string(db_col_text(st, 0));
}

dz_code store_outbox_holders(store *s, json_t **out, dz_err *e)
{
    db *d;
    db_stmt *st;
    *out = NULL;
    if (store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, "SELECT DISTINCT node FROM notifications WHERE status = 'sending' AND node IS NOT NULL "
                      "ORDER BY node", &st, e) != DZ_OK)
        return e->code;
    return store_rows_json(st, first_column_string, out, e);
}

typedef struct {
    int64_t id;
    const char *node;
    outbox_outcome o;
    int smtp_code;
    const char *error;
    int64_t retry_at;
} record_ctx;

static dz_code record_tx(store *s, db *d, void *arg, dz_err *e)
{
    record_ctx *c = arg;
    int64_t now = store_now(s);
    db_stmt *st;
    static const char *const sql[] = {
        [OUTBOX_SENT] = "UPDATE notifications SET status = 'sent', sent_at = ?, smtp_code = ?, last_error = NULL, "
                        "lease_until = NULL WHERE id = ? AND status = 'sending' AND node = ?",
        [OUTBOX_RETRY] = "UPDATE notifications SET status = 'queued', next_attempt_at = ?, smtp_code = ?, "
                         "last_error = ?, node = NULL, lease_until = NULL "
                         "WHERE id = ? AND status = 'sending' AND node = ?",
        [OUTBOX_FAILED] = "UPDATE notifications SET status = 'failed', smtp_code = ?, last_error = ?, "
                          "lease_until = NULL WHERE id = ? AND status = 'sending' AND node = ?",
    };
    if (db_prepare(d, sql[c->o], &st, e) != DZ_OK)
        return e->code;
    int i = 1;
    if (c->o == OUTBOX_SENT) {
        db_bind_int(st, i++, now);
        db_bind_int_or_null(st, i++, c->smtp_code, 0);
    } else if (c->o == OUTBOX_RETRY) {
        db_bind_int(st, i++, c->retry_at > 0 ? c->retry_at : now);
        db_bind_int_or_null(st, i++, c->smtp_code, 0);
        db_bind_text(st, i++, c->error ? c->error : "temporary failure");
    } else {
        db_bind_int_or_null(st, i++, c->smtp_code, 0);
        db_bind_text(st, i++, c->error ? c->error : "permanent failure");
    }
    db_bind_int(st, i++, c->id);
    db_bind_text(st, i, c->node);
    if (db_run(st, e) != DZ_OK)
        return e->code;
    if (db_changes(d) == 1)
        return DZ_OK;
    return dz_fail(e, DZ_ECONFLICT, "notification %" PRId64 " is not held by %.64s (its lease ran out, or another "
                                    "node took it over)", c->id, c->node);
}

dz_code store_outbox_record(store *s, int64_t id, const char *node, outbox_outcome o, int smtp_code,
                            const char *error, int64_t retry_at, dz_err *e)
{
    if (o != OUTBOX_SENT && o != OUTBOX_RETRY && o != OUTBOX_FAILED)
        return dz_fail(e, DZ_EINVAL, "unknown outcome %d", (int)o);
    if (!opt(node))
        return dz_fail(e, DZ_EINVAL, "an outcome names its node");
    record_ctx c = {id, node, o, smtp_code, error, retry_at};
    return store_write(s, record_tx, &c, e);
}

/* ---- reading notifications ---- */

#define NOTIF_SELECT                                                                                               \
    "SELECT n.id, n.ticket, n.kind, c.short_name, n.recipient, n.recipient_name, n.subject, n.status, n.attempts, " \
    "n.smtp_code, n.last_error, n.in_doubt, n.created_at, n.next_attempt_at, COALESCE(n.sent_at, 0), "             \
    "n.message_id, n.is_signed, n.is_encrypted, n.tlp, n.format, n.language, n.events, n.withheld, "               \
    "COALESCE(n.period_from, 0), COALESCE(n.period_to, 0), n.summary, i.public_id, "                               \
    "COALESCE(n.acknowledged_at, 0), u.username "                                                                  \
    "FROM notifications n JOIN constituents c ON c.id = n.org_id "                                                 \
    "LEFT JOIN incidents i ON i.id = n.incident_id LEFT JOIN users u ON u.id = n.acknowledged_by "

static json_t *notification_row(db_stmt *st)
{
    json_t *o = json_object();
    const char *kind = db_col_text(st, 2), *status = db_col_text(st, 7);
    bool digest = kind && strcmp(kind, "digest") == 0;
    bool pending = status && (strcmp(status, "queued") == 0 || strcmp(status, "sending") == 0);
    json_set_text(o, "ticket", db_col_text(st, 1));
    json_set_text(o, "kind", kind);
    json_set_text(o, "constituent", db_col_text(st, 3));
    json_set_text(o, "recipient", db_col_text(st, 4));
    json_set_text(o, "recipient_name", db_col_text(st, 5));
    json_set_text(o, "subject", db_col_text(st, 6));
    json_set_text(o, "status", status);
    json_object_set_new(o, "attempts", json_integer(db_col_int(st, 8)));
    json_object_set_new(o, "smtp_code", db_col_null(st, 9) ? json_null() : json_integer(db_col_int(st, 9)));
    json_set_text(o, "last_error", db_col_text(st, 10));
    json_object_set_new(o, "in_doubt", json_boolean(db_col_int(st, 11)));
    json_set_time(o, "created_at", db_col_int(st, 12), false);
    if (pending)
        json_set_time(o, "next_attempt_at", db_col_int(st, 13), false);
    else
        json_object_set_new(o, "next_attempt_at", json_null());
    json_set_time(o, "sent_at", db_col_int(st, 14), true);
    json_set_text(o, "message_id", db_col_text(st, 15));
    json_object_set_new(o, "signed", json_boolean(db_col_int(st, 16)));
    json_object_set_new(o, "encrypted", json_boolean(db_col_int(st, 17)));
    json_set_text(o, "tlp", db_col_text(st, 18));
    json_set_text(o, "format", db_col_text(st, 19));
    json_set_text(o, "language", db_col_text(st, 20));
    if (digest) {
        json_object_set_new(o, "events", json_integer(db_col_int(st, 21)));
        json_object_set_new(o, "withheld", json_integer(db_col_int(st, 22)));
        json_set_time(o, "period_from", db_col_int(st, 23), true);
        json_set_time(o, "period_to", db_col_int(st, 24), true);
        json_t *sum = db_col_text(st, 25) ? json_loads(db_col_text(st, 25), 0, NULL) : NULL;
        json_object_set_new(o, "summary", json_is_object(sum) ? sum : json_object());
        if (sum && !json_is_object(sum))
            json_decref(sum);
    } else {
        static const char *const none[] = {"events", "withheld", "period_from", "period_to", "summary"};
        for (size_t k = 0; k < sizeof none / sizeof *none; k++)
            json_object_set_new(o, none[k], json_null());
    }
    json_set_text(o, "incident", db_col_text(st, 26));
    json_set_time(o, "acknowledged_at", db_col_int(st, 27), true);
    json_set_text(o, "acknowledged_by", db_col_text(st, 28));
    return o;
}

/*
 * The list, newest first, in three forms so that each can use its index:
 * by organisation (org_id, id), by incident (incident_id), or all (id).
 */
#define LIST_FILTERS                                                                                         \
    "n.id < ? AND (CAST(? AS BIGINT) = 0 OR n.org_id = ?) AND (CAST(? AS TEXT) IS NULL OR n.status = ?) "    \
    "AND (CAST(? AS TEXT) IS NULL OR n.kind = ?) AND (CAST(? AS BIGINT) = 0 OR n.incident_id = ?) "          \
    "AND (CAST(? AS BIGINT) < 0 OR (CAST(? AS BIGINT) = 1 AND n.acknowledged_at IS NOT NULL) "               \
    "OR (CAST(? AS BIGINT) = 0 AND n.acknowledged_at IS NULL)) ORDER BY n.id DESC LIMIT ?"

enum { NL_ALL, NL_BY_ORG, NL_BY_INCIDENT };
static const char *const list_sql[] = {
    [NL_ALL] = NOTIF_SELECT "WHERE " LIST_FILTERS,
    [NL_BY_ORG] = NOTIF_SELECT "WHERE n.org_id = ? AND " LIST_FILTERS,
    [NL_BY_INCIDENT] = NOTIF_SELECT "WHERE n.incident_id = ? AND " LIST_FILTERS,
};

static bool one_of(const char *v, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, set[i]) == 0)
            return true;
    return false;
}

dz_code store_notification_list(store *s, int64_t only_org, const notification_filter *f, json_t **out, dz_err *e)
{
    static const notification_filter everything = {.acknowledged = -1};
    static const char *const statuses[] = {"queued", "sending", "sent", "failed"};
    static const char *const kinds[] = {"digest", "incident"};
    if (!f)
        f = &everything;
    *out = NULL;
    int limit = f->limit;
    int64_t before = INT64_MAX;
    if (store_page_args(f->cursor, &limit, NOTIFY_LIMIT_DEFAULT, NOTIFY_LIMIT_MAX, &before, e) != DZ_OK)
        return e->code;
    const char *status = opt(f->status), *kind = opt(f->kind);
    if (status && !one_of(status, statuses, 4))
        return dz_fail(e, DZ_EINVAL, "parameter 'status' must be queued, sending, sent or failed");
    if (kind && !one_of(kind, kinds, 2))
        return dz_fail(e, DZ_EINVAL, "parameter 'kind' must be digest or incident");
    if (f->acknowledged < -1 || f->acknowledged > 1)
        return dz_fail(e, DZ_EINVAL, "parameter 'acknowledged' must be true or false");
    db *d;
    db_stmt *st;
    if (store_reader(s, &d, e) != DZ_OK)
        return e->code;
    int64_t org = only_org, incident = 0;
    bool none = false;
    if (opt(f->constituent)) {
        int64_t id;
        if (store_constituent_id_in(d, f->constituent, &id, e) != DZ_OK)
            return e->code;
        if (!id || (org && id != org))
            none = true;
        org = id;
    }
    if (!none && opt(f->incident)) {
        dz_err ignore;
        if (incident_id_of(d, f->incident, &incident, &ignore) != DZ_OK) {
            if (ignore.code != DZ_ENOTFOUND) {
                *e = ignore;
                return e->code;
            }
            none = true;
        }
    }
    if (none) {
        *out = json_pack("{s:[], s:n}", "items", "next_cursor");
        return DZ_OK;
    }
    int variant = incident ? NL_BY_INCIDENT : org ? NL_BY_ORG : NL_ALL;
    if (db_prepare(d, list_sql[variant], &st, e) != DZ_OK)
        return e->code;
    int i = 1;
    if (variant == NL_BY_INCIDENT)
        db_bind_int(st, i++, incident);
    else if (variant == NL_BY_ORG)
        db_bind_int(st, i++, org);
    db_bind_int(st, i++, before);
    db_bind_int(st, i++, org);
    db_bind_int(st, i++, org);
    db_bind_text(st, i++, status);
    db_bind_text(st, i++, status);
    db_bind_text(st, i++, kind);
    db_bind_text(st, i++, kind);
    db_bind_int(st, i++, incident);
    db_bind_int(st, i++, incident);
    for (int k = 0; k < 3; k++)
        db_bind_int(st, i++, f->acknowledged);
    db_bind_int(st, i, limit + 1);
    return store_page_json(st, limit, notification_row, out, e);
}

static dz_code get_in(db *d, int64_t only_org, const char *ticket, json_t **out, dz_err *e)
{
    db_stmt *st;
    *out = NULL;
    if (db_prepare(d, NOTIF_SELECT "WHERE n.ticket = ? AND (CAST(? AS BIGINT) = 0 OR n.org_id = ?)", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, ticket);
    db_bind_int(st, 2, only_org);
    db_bind_int(st, 3, only_org);
    int r = db_step(st, e);
    if (r == DB_ROW)
        *out = notification_row(st);
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    return *out ? DZ_OK : dz_fail(e, DZ_ENOTFOUND, "no notification '%.48s'", ticket);
}

dz_code store_notification_get(store *s, int64_t only_org, const char *ticket, json_t **out, dz_err *e)
{
    db *d;
    *out = NULL;
    if (!opt(ticket))
        return dz_fail(e, DZ_ENOTFOUND, "no notification ''");
    if (store_reader(s, &d, e) != DZ_OK)
        return e->code;
    return get_in(d, only_org, ticket, out, e);
}

dz_code store_notification_events(store *s, int64_t only_org, const char *ticket, store_event_doc_fn fn, void *arg,
                                  dz_err *e)
{
    db *d;
    db_stmt *st;
    if (!fn)
        return dz_fail(e, DZ_EINVAL, "no callback for the events");
    if (!opt(ticket))
        return dz_fail(e, DZ_ENOTFOUND, "no notification ''");
    if (store_reader(s, &d, e) != DZ_OK || db_begin_snapshot(d, e) != DZ_OK)
        return e->code;
    dz_code rc = db_prepare(d, "SELECT org_id, kind, COALESCE(after_id, 0), COALESCE(upto_id, 0) FROM notifications "
                               "WHERE ticket = ? AND (CAST(? AS BIGINT) = 0 OR org_id = ?)", &st, e);
    int64_t org = 0, after = 0, upto = 0;
    bool digest = false;
    if (rc == DZ_OK) {
        db_bind_text(st, 1, ticket);
        db_bind_int(st, 2, only_org);
        db_bind_int(st, 3, only_org);
        int r = db_step(st, e);
        if (r == DB_ROW) {
            org = db_col_int(st, 0);
            digest = strcmp(db_col_text(st, 1), "digest") == 0;
            after = db_col_int(st, 2);
            upto = db_col_int(st, 3);
        }
        db_reset(st);
        rc = r == DB_ROW ? DZ_OK : r == DB_ERROR ? e->code : dz_fail(e, DZ_ENOTFOUND, "no notification '%.48s'", ticket);
    }
    if (rc == DZ_OK && digest && upto > after)
        rc = walk_events(d, org, after, upto, fn, arg, e);
    db_rollback(d);
    return rc;
}

dz_code store_notification_message(store *s, const char *ticket, char **msg, size_t *len, dz_err *e)
{
    db *d;
    db_stmt *st;
    *msg = NULL;
    *len = 0;
    if (!opt(ticket))
        return dz_fail(e, DZ_ENOTFOUND, "no notification ''");
    if (store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, "SELECT message FROM notifications WHERE ticket = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, ticket);
    int r = db_step(st, e);
    dz_code rc = DZ_OK;
    if (r == DB_ROW) {
        const char *m = db_col_text(st, 0);
        *msg = strdup(m ? m : "");
        *len = m ? strlen(m) : 0;
        if (!*msg)
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    if (r != DB_ROW)
        return dz_fail(e, DZ_ENOTFOUND, "no notification '%.48s'", ticket);
    return rc;
}

typedef struct {
    const principal *who;
    const char *ticket;
} ack_ctx;

static dz_code ack_tx(store *s, db *d, void *arg, dz_err *e)
{
    ack_ctx *c = arg;
    int64_t now = store_now(s);
    db_stmt *st;
    if (db_prepare(d, "SELECT COALESCE(acknowledged_at, 0) FROM notifications WHERE ticket = ? AND org_id = ?", &st,
                   e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, c->ticket);
    db_bind_int(st, 2, c->who->org_id);
    int r = db_step(st, e);
    int64_t acked = r == DB_ROW ? db_col_int(st, 0) : 0;
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    if (r != DB_ROW)
        return dz_fail(e, DZ_ENOTFOUND, "no notification '%.48s'", c->ticket);
    if (acked)
        return DZ_OK; /* again: no change */
    if (db_prepare(d, "UPDATE notifications SET acknowledged_at = ?, acknowledged_by = ? "
                      "WHERE ticket = ? AND org_id = ? AND acknowledged_at IS NULL", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, now);
    db_bind_int_or_null(st, 2, c->who->user_id, 0);
    db_bind_text(st, 3, c->ticket);
    db_bind_int(st, 4, c->who->org_id);
    if (db_run(st, e) != DZ_OK)
        return e->code;
    return store_audit_append(d, now, c->who->username[0] ? c->who->username : "system", "notification.ack",
                              c->ticket, NULL, e);
}

dz_code store_notification_ack(store *s, const principal *who, const char *ticket, json_t **out, dz_err *e)
{
    if (out)
        *out = NULL;
    if (!who || who->org_id <= 0 || !opt(ticket))
        return dz_fail(e, DZ_ENOTFOUND, "no notification '%.48s'", ticket ? ticket : "");
    ack_ctx c = {who, ticket};
    if (store_write(s, ack_tx, &c, e) != DZ_OK)
        return e->code;
    if (!out)
        return DZ_OK;
    return store_notification_get(s, who->org_id, ticket, out, e);
}
