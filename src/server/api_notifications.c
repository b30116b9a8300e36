/*
 * api_notifications.c: what the CIRT sent its constituents (event digests
 * and incident notices), and a handler's notice of an incident.
 *
 * Reading: every role; constituent and partner users see only their own
 * organisation's notifications (policy_org_filter), which the store applies
 * in SQL, so another organisation's ticket is the same 404 as a missing one.
 * A digest's events can be pulled as CSV or JSON instead of read from the
 * mail; they are handed out whole (no TLP ceiling: the organisation's users
 * see all its events through the events API anyway). The message as queued
 * (signed, encrypted) is for staff only.
 *
 * Acknowledging: a user of the notification's organisation says "we have
 * it". Staff cannot: the CIRT does not acknowledge on a constituent's behalf.
 *
 * Notifying: POST /api/v1/incidents/{id}/notify renders one message per
 * contact of the chosen affected constituents and queues them with the text
 * as a shared note, in one transaction (notify_incident); the sender thread
 * of `dzong serve` is woken to send them. Without mail_from in dzong.conf
 * there is no notifier and the route answers 409.
 */
#include "server/api.h"
#include "server/policy.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/event_export.h"
#include "lib/request_decode.h"

#define NOTIFICATION_LIMIT_MAX 1000 /* the store's limit (store_notify.c) */
#define NOTIFY_CONSTITUENTS_MAX 100
#define NOTIFY_TEXT_MAX 20000
#define NOTIFY_SUBJECT_MAX 200

static const char *ticket_param(http_request *req)
{
    return route_param(req, 0);
}

/* A store error; bad input (a bad filter, a stale or forged cursor) is a 400 that says so. */
static void respond_store_error(http_request *req, const dz_err *e)
{
    if (e->code == DZ_EINVAL)
        respond_problem(req, 400, NULL, "%s", e->msg);
    else
        respond_error(req, e);
}

/* ---------------------------------------------------------------- reading */

/* name= must be one of the values (NULL-terminated); *out stays NULL when absent. */
static bool parse_enum_param(http_request *req, const char *name, const char *const *values, const char **out)
{
    const char *v = http_query(req, name);
    *out = NULL;
    if (!v || !*v)
        return true;
    char list[128] = "";
    size_t off = 0;
    for (const char *const *k = values; *k; k++) {
        if (strcmp(v, *k) == 0) {
            *out = *k;
            return true;
        }
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? ", " : "", *k);
        if (off >= sizeof list)
            break;
    }
    respond_problem(req, 400, NULL, "parameter '%s' must be one of %s, not '%.40s'", name, list, v);
    return false;
}

static bool parse_limit(http_request *req, int *limit)
{
    const char *v = http_query(req, "limit");
    *limit = 0;
    if (!v || !*v)
        return true;
    char *end;
    long l = strtol(v, &end, 10);
    if (*end || l < 1 || l > NOTIFICATION_LIMIT_MAX) {
        respond_problem(req, 400, NULL, "parameter 'limit' must be a whole number from 1 to %d",
                        NOTIFICATION_LIMIT_MAX);
        return false;
    }
    *limit = (int)l;
    return true;
}

/* GET /api/v1/notifications?constituent=&status=&kind=&incident=&acknowledged=&cursor=&limit= */
void api_notification_list(http_request *req)
{
    static const char *const statuses[] = {"queued", "sending", "sent", "failed", NULL};
    static const char *const kinds[] = {"digest", "incident", NULL};
    if (!require(req, ACT_NOTIFICATION_READ))
        return;
    notification_filter f = {.acknowledged = -1};
    const char *v;
    if (!parse_enum_param(req, "status", statuses, &f.status) || !parse_enum_param(req, "kind", kinds, &f.kind) ||
        !parse_limit(req, &f.limit))
        return;
    if ((v = http_query(req, "acknowledged")) && *v) {
        if (strcmp(v, "true") == 0)
            f.acknowledged = 1;
        else if (strcmp(v, "false") == 0)
            f.acknowledged = 0;
        else {
            respond_problem(req, 400, NULL, "parameter 'acknowledged' must be true or false, not '%.40s'", v);
            return;
        }
    }
    if ((v = http_query(req, "incident")) && *v) {
        if (strlen(v) > 64) {
            respond_problem(req, 400, NULL, "parameter 'incident' is longer than 64 bytes");
            return;
        }
        f.incident = v;
    }
    if ((v = http_query(req, "cursor")) && *v)
        f.cursor = v;
    if (!api_query_constituent(req, &f.constituent))
        return;
    json_t *out;
    dz_err e = {0};
    if (store_notification_list(req->srv->st, policy_org_filter(&req->who), &f, &out, &e) != DZ_OK) {
        respond_store_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

/* GET /api/v1/notifications/{ticket} */
void api_notification_get(http_request *req)
{
    if (!require(req, ACT_NOTIFICATION_READ))
        return;
    json_t *out;
    dz_err e = {0};
    if (store_notification_get(req->srv->st, policy_org_filter(&req->who), ticket_param(req), &out, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

static dz_code export_event(void *arg, int64_t id, const char *doc, size_t len, dz_err *e)
{
    (void)id;
    /* TLP:RED ceiling: the API withholds nothing from the organisation the events belong to */
    if (event_export_add(arg, doc, len, TLP_RED, TLP_AMBER, NULL, e) != DZ_OK) {
        e->code = DZ_EINTERNAL; /* a stored event the exporter cannot read is our fault, not the caller's */
        return dz_wrap(e, "event %lld", (long long)id);
    }
    return DZ_OK;
}

/* JSON lines (one compact object per line) as one JSON array: no string holds a raw newline. */
static void jsonl_to_array(const strbuf *lines, strbuf *out)
{
    strbuf_puts(out, "[");
    if (!strbuf_reserve(out, lines->len + 2))
        return;
    size_t n = out->len;
    for (size_t i = 0; i < lines->len; i++) {
        char c = lines->buf[i];
        if (c == '\n') {
            if (i + 1 == lines->len)
                continue;
            c = ',';
        }
        out->buf[n++] = c;
    }
    out->len = n;
    out->buf[n] = '\0';
    strbuf_puts(out, "]");
}

/* GET /api/v1/notifications/{ticket}/events?format=csv|json */
void api_notification_events(http_request *req)
{
    static const char *const formats[] = {"json", "csv", NULL};
    if (!require(req, ACT_NOTIFICATION_READ))
        return;
    const char *format;
    if (!parse_enum_param(req, "format", formats, &format))
        return;
    bool csv = format && strcmp(format, "csv") == 0;
    event_export *x;
    dz_err e = {0};
    if (event_export_new(&x, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    if (store_notification_events(req->srv->st, policy_org_filter(&req->who), ticket_param(req), export_event, x,
                                  &e) != DZ_OK) {
        event_export_free(x);
        respond_error(req, &e);
        return;
    }
    strbuf out;
    strbuf_init(&out);
    if (csv) {
        event_export_csv(x, &out);
    } else {
        strbuf lines;
        strbuf_init(&lines);
        event_export_jsonl(x, &lines);
        if (lines.oom)
            out.oom = true;
        else
            jsonl_to_array(&lines, &out);
        strbuf_free(&lines);
    }
    event_export_free(x);
    if (out.oom) {
        strbuf_free(&out);
        dz_fail(&e, DZ_ENOMEM, "out of memory exporting the events of %.60s", ticket_param(req));
        respond_error(req, &e);
        return;
    }
    if (csv) {
        /* a ticket is [A-Z0-9-] (it matched a stored one), so it needs no quoting in the file name */
        snprintf(req->disposition, sizeof req->disposition, "attachment; filename=\"events-%.60s.csv\"",
                 ticket_param(req));
    }
    respond_bytes(req, 200, csv ? "text/csv; charset=utf-8" : "application/json", out.buf ? out.buf : "", out.len);
    strbuf_free(&out);
}

/* GET /api/v1/notifications/{ticket}/message: the RFC 5322 message as queued (staff). */
void api_notification_message(http_request *req)
{
    if (!require(req, ACT_NOTIFICATION_MESSAGE))
        return;
    char *msg = NULL;
    size_t len = 0;
    dz_err e = {0};
    if (store_notification_message(req->srv->st, ticket_param(req), &msg, &len, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_bytes(req, 200, "message/rfc822", msg ? msg : "", msg ? len : 0);
    free(msg);
}

/* ---------------------------------------------------------------- acknowledging */

/* POST /api/v1/notifications/{ticket}/ack (no body) */
void api_notification_ack(http_request *req)
{
    if (!require(req, ACT_NOTIFICATION_ACK))
        return;
    json_t *out = NULL;
    dz_err e = {0};
    if (store_notification_ack(req->srv->st, &req->who, ticket_param(req), &out, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    if (!out && store_notification_get(req->srv->st, policy_org_filter(&req->who), ticket_param(req), &out, &e) !=
                    DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

/* ---------------------------------------------------------------- notifying */

typedef struct notify_input {
    char **constituents;
    size_t n_constituents;
    char *text;
    char *subject; /* NULL: the template's */
} notify_input;

static void notify_input_free(notify_input *in)
{
    for (size_t i = 0; i < in->n_constituents; i++)
        free(in->constituents[i]);
    free(in->constituents);
    free(in->text);
    free(in->subject);
    memset(in, 0, sizeof *in);
}

/* Control characters other than newlines and tabs (allowed only where multiline) and DEL. */
static bool has_control(const char *s, size_t n, bool multiline)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0x7f || (c < 0x20 && !(multiline && (c == '\n' || c == '\r' || c == '\t'))))
            return true;
    }
    return false;
}

static bool all_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return false;
    return true;
}

/*
 * {"constituents": ["short", ...] (1..100), "text": "..." (1..20000 bytes), "subject": "..." (optional)}:
 * strict in the way of lib/request_decode.c (JSON object, no unknown or duplicate fields, every refusal names
 * its field). Repeated names count once.
 */
static dz_code decode_notify(const char *body, size_t len, notify_input *out, dz_err *e)
{
    static const char *const known[] = {"constituents", "text", "subject", NULL};
    memset(out, 0, sizeof *out);
    if (len == 0)
        return dz_fail(e, DZ_EINVAL, "request body is empty; expected a JSON object");
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return dz_fail(e, DZ_EINVAL, "request body is not valid JSON: %s (line %d, column %d)", je.text, je.line,
                       je.column);
    dz_code rc = DZ_OK;
    const char *key;
    json_t *v;
    if (!json_is_object(root)) {
        rc = dz_fail(e, DZ_EINVAL, "request body must be a JSON object");
        goto done;
    }
    json_object_foreach(root, key, v) {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(key, *k) == 0;
        if (!ok) {
            rc = dz_fail(e, DZ_EINVAL, "unknown field '%.60s' (known: constituents, text, subject)", key);
            goto done;
        }
    }

    json_t *arr = json_object_get(root, "constituents");
    if (!arr || json_is_null(arr)) {
        rc = dz_fail(e, DZ_EINVAL, "field 'constituents' is required: the short names of the affected "
                                   "constituents to notify");
        goto done;
    }
    if (!json_is_array(arr)) {
        rc = dz_fail(e, DZ_EINVAL, "field 'constituents' must be an array of short names");
        goto done;
    }
    size_t n = json_array_size(arr);
    if (n < 1 || n > NOTIFY_CONSTITUENTS_MAX) {
        rc = dz_fail(e, DZ_EINVAL, "field 'constituents' must name 1 to %d constituents (it has %zu)",
                     NOTIFY_CONSTITUENTS_MAX, n);
        goto done;
    }
    out->constituents = calloc(n, sizeof *out->constituents);
    if (!out->constituents) {
        rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s || strlen(s) != json_string_length(json_array_get(arr, i)) || !name_valid(s)) {
            rc = dz_fail(e, DZ_EINVAL, "field 'constituents' item %zu must be a constituent's short name "
                                       "(1 to 64 of A-Z a-z 0-9 . _ @ -)", i);
            goto done;
        }
        bool dup = false;
        for (size_t j = 0; j < out->n_constituents && !dup; j++)
            dup = strcmp(out->constituents[j], s) == 0;
        if (dup)
            continue;
        if (!(out->constituents[out->n_constituents] = strdup(s))) {
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
            goto done;
        }
        out->n_constituents++;
    }

    json_t *text = json_object_get(root, "text");
    if (!text || json_is_null(text)) {
        rc = dz_fail(e, DZ_EINVAL, "field 'text' is required: the notice to the constituents");
        goto done;
    }
    if (!json_is_string(text)) {
        rc = dz_fail(e, DZ_EINVAL, "field 'text' must be a string");
        goto done;
    }
    size_t tn = json_string_length(text);
    const char *ts = json_string_value(text);
    if (memchr(ts, '\0', tn) || has_control(ts, tn, true)) {
        rc = dz_fail(e, DZ_EINVAL, "field 'text' contains control characters");
        goto done;
    }
    if (all_blank(ts, tn)) {
        rc = dz_fail(e, DZ_EINVAL, "field 'text' must not be empty");
        goto done;
    }
    if (tn > NOTIFY_TEXT_MAX) {
        rc = dz_fail(e, DZ_EINVAL, "field 'text' is too long (%zu bytes; at most %d)", tn, NOTIFY_TEXT_MAX);
        goto done;
    }
    if (!(out->text = strndup(ts, tn))) {
        rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        goto done;
    }

    json_t *subject = json_object_get(root, "subject");
    if (subject && !json_is_null(subject)) {
        if (!json_is_string(subject)) {
            rc = dz_fail(e, DZ_EINVAL, "field 'subject' must be a string");
            goto done;
        }
        size_t sn = json_string_length(subject);
        const char *ss = json_string_value(subject);
        if (memchr(ss, '\0', sn) || has_control(ss, sn, false)) {
            rc = dz_fail(e, DZ_EINVAL, "field 'subject' contains control characters (it is one line)");
            goto done;
        }
        size_t a = 0, b = sn;
        while (a < b && isspace((unsigned char)ss[a]))
            a++;
        while (b > a && isspace((unsigned char)ss[b - 1]))
            b--;
        if (b - a > NOTIFY_SUBJECT_MAX) {
            rc = dz_fail(e, DZ_EINVAL, "field 'subject' is too long (%zu bytes; at most %d)", b - a,
                         NOTIFY_SUBJECT_MAX);
            goto done;
        }
        if (b > a && !(out->subject = strndup(ss + a, b - a))) {
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
            goto done;
        }
    }
done:
    json_decref(root);
    if (rc != DZ_OK)
        notify_input_free(out);
    return rc;
}

/*
 * The incident must be visible (else 404, as everywhere) and every name one of its affected constituents
 * (else 400 naming it): an unknown organisation reads like one that is not affected, so names cannot be probed.
 * notify_incident checks the same inside its transaction; this answers first, with the incident's list.
 */
static bool check_affected(http_request *req, const store_scope *sc, const notify_input *in)
{
    json_t *inc;
    dz_err e = {0};
    if (store_incident_get(req->srv->st, sc, route_param(req, 0), &inc, &e) != DZ_OK) {
        respond_error(req, &e);
        return false;
    }
    json_t *affected = json_object_get(inc, "constituents");
    for (size_t i = 0; i < in->n_constituents; i++) {
        bool found = false;
        size_t k;
        json_t *v;
        json_array_foreach(affected, k, v) {
            const char *name = json_string_value(v);
            if (name && strcmp(name, in->constituents[i]) == 0) {
                found = true;
                break;
            }
        }
        if (!found) {
            strbuf list;
            strbuf_init(&list);
            json_array_foreach(affected, k, v)
                strbuf_printf(&list, "%s%s", k ? ", " : "", json_string_value(v) ? json_string_value(v) : "?");
            respond_problem(req, 400, NULL, "field 'constituents': '%s' is not an affected constituent of %s (%s%s)",
                            in->constituents[i], route_param(req, 0), list.len ? "affected: " : "none is affected",
                            list.buf && !list.oom ? list.buf : "");
            strbuf_free(&list);
            json_decref(inc);
            return false;
        }
    }
    json_decref(inc);
    return true;
}

/* POST /api/v1/incidents/{id}/notify */
void api_incident_notify(http_request *req)
{
    if (!require(req, ACT_INCIDENT_NOTIFY))
        return;
    notifier *n = req->srv->cfg.notifier;
    if (!n) {
        respond_problem(req, 409, NULL, "notifications are not configured: set mail_from in dzong.conf");
        return;
    }
    notify_input in;
    dz_err e = {0};
    if (decode_notify(body_text(req), req->body.len, &in, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    store_scope sc = policy_incident_scope(&req->who);
    if (!check_affected(req, &sc, &in)) {
        notify_input_free(&in);
        return;
    }
    json_t *out = NULL;
    dz_code rc = notify_incident(n, req->srv->st, &req->who, &sc, route_param(req, 0),
                                 (const char *const *)in.constituents, in.n_constituents, in.subject, in.text, &out,
                                 &e);
    notify_input_free(&in);
    if (rc != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    if (req->srv->cfg.notify_sender)
        notify_sender_wake(req->srv->cfg.notify_sender);
    respond_json(req, 201, out ? out : json_pack("{s:[],s:[]}", "queued", "skipped"));
}
