/*
 * api_events.c: feed events, the ingests that brought them, the quarantine.
 *
 * Reading: every role; constituent and partner users see only the events
 * matched to their own organisation. The store applies that filter in SQL,
 * so lists never page over invisible rows and an invisible event is the
 * same 404 as a missing one. Ingests and the quarantine (raw input rows,
 * anyone's) are for staff only.
 *
 * Submitting: staff POST a batch in a feed's format and it goes through the
 * same pipeline as `dzong ingest` (ingest_run), keyed by the caller and the
 * batch id. So a batch sent again (a retry after a lost answer) is never
 * stored twice: a finished one is answered with its stored totals, one
 * still running elsewhere with 409, an interrupted one is resumed.
 * Shadowserver reports are read with the schema serve loaded (dzong.conf's
 * shadowserver_schema, else the built-in one) and need report= (the report
 * type), since a body has no file name to tell it. The generic CSV parser
 * is refused: it needs a column mapping file, which only `dzong ingest`
 * and the spool take. A batch may be up to
 * server_config.events_body_limit (64 MiB) from a caller who may submit;
 * http.c checks that before it reads the body.
 */
#include "server/api.h"
#include "server/policy.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "lib/constituent.h"
#include "lib/feed.h"
#include "lib/feed_shadowserver.h"
#include "lib/taxonomy.h"
#include "lib/timeutil.h"

#define EVENT_LIMIT_MAX 1000 /* the store's limits (store_events.c); 0 asks for its default */
#define INGEST_LIMIT_MAX 500
#define BATCH_ID_MAX 128

/* ---------------------------------------------------------------- parameters */

/* limit=1..max; *limit stays 0 (the store's default) when absent. */
static bool parse_limit(http_request *req, int max, int *limit)
{
    const char *v = http_query(req, "limit");
    *limit = 0;
    if (!v || !*v)
        return true;
    char *end;
    long l = strtol(v, &end, 10);
    if (*end || l < 1 || l > max) {
        respond_problem(req, 400, NULL, "parameter 'limit' must be a whole number from 1 to %d", max);
        return false;
    }
    *limit = (int)l;
    return true;
}

/* A positive decimal id ("17"); false for anything else. */
static bool parse_id(const char *s, int64_t *out)
{
    if (!s || *s < '1' || *s > '9' || strlen(s) > 18)
        return false;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

/* An ISO 8601 time parameter; *t stays 0 (open) when absent. */
static bool parse_time_param(http_request *req, const char *name, int64_t *t)
{
    const char *v = http_query(req, name);
    if (!v || !*v)
        return true;
    dz_err e = {0};
    if (time_parse_iso(v, t, &e) != DZ_OK) {
        respond_problem(req, 400, NULL, "parameter '%s': %s", name, e.msg);
        return false;
    }
    return true;
}

/* A day "YYYY-MM-DD" (checked as a date); *out stays NULL when absent. */
static bool parse_day_param(http_request *req, const char *name, const char **out)
{
    const char *v = http_query(req, name);
    if (!v || !*v)
        return true;
    int64_t t;
    dz_err e = {0};
    bool shape = strlen(v) == 10 && v[4] == '-' && v[7] == '-';
    for (size_t i = 0; shape && i < 10; i++)
        if (i != 4 && i != 7 && (v[i] < '0' || v[i] > '9'))
            shape = false;
    if (!shape || time_parse_iso(v, &t, &e) != DZ_OK) {
        respond_problem(req, 400, NULL, "parameter '%s' must be a day YYYY-MM-DD, not '%.40s'", name, v);
        return false;
    }
    *out = v;
    return true;
}

/* ip=: an address or a network in CIDR notation, handed to the store in canonical form. */
static bool parse_ip_param(http_request *req, char out[NET_PREFIX_TEXT_MAX])
{
    const char *v = http_query(req, "ip");
    out[0] = '\0';
    if (!v || !*v)
        return true;
    net_prefix p;
    dz_err e = {0};
    if (strchr(v, '/')) {
        if (net_prefix_parse(v, &p, &e) != DZ_OK) {
            respond_problem(req, 400, NULL, "parameter 'ip': %s", e.msg);
            return false;
        }
        net_prefix_format(&p, out);
        return true;
    }
    if (ip_address_parse(v, &p, &e) != DZ_OK) {
        respond_problem(req, 400, NULL, "parameter 'ip': '%.60s' is neither an IP address nor a network (CIDR)", v);
        return false;
    }
    net_prefix_format(&p, out);
    *strchr(out, '/') = '\0'; /* an address, not a /32 or /128 */
    return true;
}

/* taxonomy= and/or type=, in any spelling rsit_resolve accepts; the store gets the canonical one. */
static bool parse_classification(http_request *req, event_filter *f)
{
    const char *tax = http_query(req, "taxonomy"), *type = http_query(req, "type");
    rsit_class cls;
    dz_err e = {0};
    if (type && *type) {
        if (rsit_resolve(tax, type, &cls, &e) != DZ_OK) {
            respond_problem(req, 400, NULL, "parameter '%s': %s", tax && *tax ? "taxonomy'/'type" : "type", e.msg);
            return false;
        }
        f->type = cls.type;
        f->taxonomy = tax && *tax ? cls.taxonomy : NULL;
        return true;
    }
    if (tax && *tax && rsit_taxonomy_resolve(tax, &f->taxonomy, &e) != DZ_OK) {
        respond_problem(req, 400, NULL, "parameter 'taxonomy': %s", e.msg);
        return false;
    }
    return true;
}

/* A store error; bad input (a stale or forged cursor) is a 400 that says so. */
static void respond_store_error(http_request *req, const dz_err *e)
{
    if (e->code == DZ_EINVAL)
        respond_problem(req, 400, NULL, "%s", e->msg);
    else
        respond_error(req, e);
}

/* ---------------------------------------------------------------- reading */

/* GET /api/v1/events?constituent=&from=&to=&taxonomy=&type=&feed=&ip=&ingest=&cursor=&limit= */
void api_event_list(http_request *req)
{
    if (!require(req, ACT_EVENT_READ))
        return;
    event_filter f = {0};
    char ip[NET_PREFIX_TEXT_MAX];
    const char *v;
    if (!parse_time_param(req, "from", &f.from) || !parse_time_param(req, "to", &f.to))
        return;
    if (f.from && f.to && f.to <= f.from) {
        respond_problem(req, 400, NULL, "parameter 'to' must be later than 'from' (the range is [from, to))");
        return;
    }
    if (!parse_classification(req, &f) || !parse_ip_param(req, ip) || !parse_limit(req, EVENT_LIMIT_MAX, &f.limit))
        return;
    f.ip = ip[0] ? ip : NULL;
    if ((v = http_query(req, "feed")) && *v) {
        if (strlen(v) > 200) {
            respond_problem(req, 400, NULL, "parameter 'feed' is longer than 200 bytes");
            return;
        }
        f.feed = v;
    }
    if ((v = http_query(req, "ingest")) && *v && !parse_id(v, &f.ingest_id)) {
        respond_problem(req, 400, NULL, "parameter 'ingest' must be an ingest id (a positive whole number)");
        return;
    }
    if ((v = http_query(req, "cursor")) && *v)
        f.cursor = v;
    if (!api_query_constituent(req, &f.constituent))
        return;
    json_t *out;
    dz_err e = {0};
    if (store_event_list(req->srv->st, policy_org_filter(&req->who), &f, &out, &e) != DZ_OK) {
        respond_store_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

/* GET /api/v1/events/{id} */
void api_event_get(http_request *req)
{
    if (!require(req, ACT_EVENT_READ))
        return;
    int64_t id;
    if (!parse_id(route_param(req, 0), &id)) {
        respond_problem(req, 404, NULL, "no event '%.40s'", route_param(req, 0));
        return;
    }
    json_t *out;
    dz_err e = {0};
    if (store_event_get(req->srv->st, policy_org_filter(&req->who), id, &out, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

/* GET /api/v1/events/stats?from=YYYY-MM-DD&to=YYYY-MM-DD (both days included) */
void api_event_stats(http_request *req)
{
    if (!require(req, ACT_EVENT_READ))
        return;
    const char *from = NULL, *to = NULL;
    if (!parse_day_param(req, "from", &from) || !parse_day_param(req, "to", &to))
        return;
    if (from && to && strcmp(from, to) > 0) {
        respond_problem(req, 400, NULL, "parameter 'to' (%s) is before 'from' (%s)", to, from);
        return;
    }
    json_t *out;
    dz_err e = {0};
    if (store_event_stats(req->srv->st, policy_org_filter(&req->who), from, to, &out, &e) != DZ_OK) {
        respond_store_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

/* GET /api/v1/ingests?cursor=&limit= */
void api_ingest_list(http_request *req)
{
    if (!require(req, ACT_INGEST_READ))
        return;
    int limit;
    if (!parse_limit(req, INGEST_LIMIT_MAX, &limit))
        return;
    const char *cursor = http_query(req, "cursor");
    json_t *out;
    dz_err e = {0};
    if (store_ingest_list(req->srv->st, cursor && *cursor ? cursor : NULL, limit, &out, &e) != DZ_OK) {
        respond_store_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

/* The ingest of the path's {id}, or a 404 (answered). */
static json_t *path_ingest(http_request *req, int64_t *id)
{
    json_t *out;
    dz_err e = {0};
    if (!parse_id(route_param(req, 0), id)) {
        respond_problem(req, 404, NULL, "no ingest '%.40s'", route_param(req, 0));
        return NULL;
    }
    if (store_ingest_get(req->srv->st, *id, &out, &e) != DZ_OK) {
        respond_error(req, &e);
        return NULL;
    }
    return out;
}

/* GET /api/v1/ingests/{id} */
void api_ingest_get(http_request *req)
{
    if (!require(req, ACT_INGEST_READ))
        return;
    int64_t id;
    json_t *out = path_ingest(req, &id);
    if (out)
        respond_json(req, 200, out);
}

/* GET /api/v1/ingests/{id}/quarantine?cursor=&limit= */
void api_quarantine_list(http_request *req)
{
    if (!require(req, ACT_INGEST_READ))
        return;
    int limit;
    int64_t id;
    if (!parse_limit(req, EVENT_LIMIT_MAX, &limit))
        return;
    json_t *ingest = path_ingest(req, &id);
    if (!ingest)
        return;
    json_decref(ingest);
    const char *cursor = http_query(req, "cursor");
    json_t *out;
    dz_err e = {0};
    if (store_quarantine_list(req->srv->st, id, cursor && *cursor ? cursor : NULL, limit, &out, &e) != DZ_OK) {
        respond_store_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

/* ---------------------------------------------------------------- submitting */

/* Parsers the API cannot run: they need a file the server does not have. */
static const struct {
    const char *feed, *why;
} FILE_FEEDS[] = {
    {"csv", "the generic CSV parser needs a column mapping file: ingest with `dzong ingest --feed csv --mapping "
            "FILE` or through the spool"},
};

static const char *file_feed_reason(const char *name)
{
    for (size_t i = 0; i < sizeof FILE_FEEDS / sizeof FILE_FEEDS[0]; i++)
        if (strcmp(FILE_FEEDS[i].feed, name) == 0)
            return FILE_FEEDS[i].why;
    return NULL;
}

/* dzong's Shadowserver schema, when serve gave none: parsed once and kept for the life of the process. */
static pthread_once_t schema_once = PTHREAD_ONCE_INIT;
static shadowserver_schema *builtin_schema;
static dz_err schema_err;

static void schema_load(void)
{
    if (feed_builtin_schema(&builtin_schema, &schema_err) != DZ_OK)
        builtin_schema = NULL;
}

/* Shadowserver: the schema and report= into opt; false when answered (400, or 500 without a schema). */
static bool shadowserver_options(http_request *req, feed_options *opt)
{
    const shadowserver_schema *schema = req->srv->cfg.feed_schema;
    if (!schema) {
        pthread_once(&schema_once, schema_load);
        schema = builtin_schema;
    }
    if (!schema) {
        respond_error(req, &schema_err);
        return false;
    }
    const char *report = http_query(req, "report");
    if (!report || !*report) {
        respond_problem(req, 400, NULL, "parameter 'report' is required with feed=shadowserver: the report type, "
                                        "e.g. scan_adb (a body has no file name to tell it)");
        return false;
    }
    if (!shadowserver_has_report(schema, report)) {
        respond_problem(req, 400, NULL, "parameter 'report': unknown Shadowserver report '%.60s'", report);
        return false;
    }
    opt->schema = schema;
    opt->report = report;
    return true;
}

/* "intelmq, feodo, ..." : the feeds a POST takes. */
static void postable_feed_names(char *out, size_t n)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; feed_parser_at(i); i++) {
        const char *name = feed_parser_at(i)->name;
        if (file_feed_reason(name))
            continue;
        int w = snprintf(out + off, n - off, "%s%s", off ? ", " : "", name);
        if (w < 0 || (size_t)w >= n - off)
            break;
        off += (size_t)w;
    }
}

/* Printable ASCII without spaces, 1..128 bytes: a UUID, a file name, a sequence number. */
static bool batch_id_acceptable(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > BATCH_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/*
 * The batches this process is ingesting right now. The store's lease
 * keeps other nodes off a batch, but the requests of one process share its
 * node name; this keeps two of them (a client retrying before its first
 * attempt was answered) from running the same batch at once.
 */
typedef struct running_batch {
    struct running_batch *next;
    char key[sizeof "batch:staff::" + 20 + sizeof(((principal *)0)->username) + BATCH_ID_MAX];
} running_batch;

static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static running_batch *running_head;

static bool running_enter(running_batch *me)
{
    pthread_mutex_lock(&running_lock);
    for (running_batch *r = running_head; r; r = r->next)
        if (strcmp(r->key, me->key) == 0) {
            pthread_mutex_unlock(&running_lock);
            return false;
        }
    me->next = running_head;
    running_head = me;
    pthread_mutex_unlock(&running_lock);
    return true;
}

static void running_leave(running_batch *me)
{
    pthread_mutex_lock(&running_lock);
    for (running_batch **p = &running_head; *p; p = &(*p)->next)
        if (*p == me) {
            *p = me->next;
            break;
        }
    pthread_mutex_unlock(&running_lock);
}

/* The batch's answer: its stored totals. */
static void respond_batch(http_request *req, unsigned status, int64_t ingest_id)
{
    json_t *ing;
    dz_err e = {0};
    if (store_ingest_get(req->srv->st, ingest_id, &ing, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    json_t *out = json_object();
    json_object_set_new(out, "ingest_id", json_integer(ingest_id));
    static const char *const copied[] = {"events", "duplicates", "quarantined"};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++)
        json_object_set(out, copied[i], json_object_get(ing, copied[i]));
    json_object_set(out, "lines", json_object_get(ing, "lines_done"));
    json_object_set(out, "status", json_object_get(ing, "status"));
    json_decref(ing);
    snprintf(req->location, sizeof req->location, "/api/v1/ingests/%" PRId64, ingest_id);
    respond_json(req, status, out);
}

/* POST /api/v1/events?feed=NAME&batch=ID (or the header Idempotency-Key: ID); the body is the feed's input. */
void api_event_create(http_request *req)
{
    if (!require(req, ACT_EVENT_WRITE))
        return;
    const char *feed = http_query(req, "feed");
    if (!feed || !*feed)
        feed = "intelmq";
    const feed_parser *parser = feed_parser_find(feed);
    const char *why = parser ? file_feed_reason(parser->name) : NULL;
    if (!parser || why) {
        char names[256];
        postable_feed_names(names, sizeof names);
        if (why)
            respond_problem(req, 400, NULL, "parameter 'feed': %s (a POST takes: %s)", why, names);
        else
            respond_problem(req, 400, NULL, "parameter 'feed': unknown feed '%.60s' (a POST takes: %s)", feed, names);
        return;
    }

    const char *q = http_query(req, "batch"), *h = http_header(req, "Idempotency-Key");
    q = q && *q ? q : NULL;
    h = h && *h ? h : NULL;
    if (q && h && strcmp(q, h) != 0) {
        respond_problem(req, 400, NULL, "parameter 'batch' and the Idempotency-Key header name different batches");
        return;
    }
    const char *batch = q ? q : h;
    if (!batch) {
        respond_problem(req, 400, NULL, "parameter 'batch' is required (or send the batch id as the "
                                        "Idempotency-Key header): it makes a resent batch count once");
        return;
    }
    if (!batch_id_acceptable(batch)) {
        respond_problem(req, 400, NULL, "parameter 'batch' must be 1 to %d printable ASCII characters without "
                                        "spaces", BATCH_ID_MAX);
        return;
    }
    feed_options opt = {0};
    if (strcmp(parser->name, "shadowserver") == 0 && !shadowserver_options(req, &opt))
        return;
    if (req->body.len == 0) {
        respond_problem(req, 400, NULL, "the body is empty: send the batch in the '%s' feed's format", parser->name);
        return;
    }

    /* the caller is part of the key: two users' batch ids never meet */
    running_batch me = {0};
    int prefix;
    if (req->who.org_id)
        prefix = snprintf(me.key, sizeof me.key, "batch:%" PRId64 ":%s:", req->who.org_id, req->who.username);
    else
        prefix = snprintf(me.key, sizeof me.key, "batch:staff:%s:", req->who.username);
    if (prefix < 0 || (size_t)prefix + strlen(batch) > INGEST_KEY_MAX) {
        respond_problem(req, 400, NULL, "parameter 'batch' is too long: at most %d characters for user '%s'",
                        prefix < 0 ? 0 : INGEST_KEY_MAX - prefix, req->who.username);
        return;
    }
    snprintf(me.key + prefix, sizeof me.key - (size_t)prefix, "%s", batch);
    if (!running_enter(&me)) {
        req->retry_after = 5;
        respond_problem(req, 409, NULL, "batch '%s' is being ingested by another request; ask again later", batch);
        return;
    }

    csv_memory input = {.data = body_text(req), .len = req->body.len, .pos = 0};
    ingest_request r = {
        .parser = parser,
        .opt = opt,
        .fd = -1,
        .read = csv_read_memory,
        .read_arg = &input,
        .size = req->body.len,
        .kind = "api",
        .source = batch,
        .key = me.key,
        .node = NULL,
        .org_id = req->who.org_id,
        .pipeline = req->srv->cfg.feed_pipeline,
    };
    ingest_summary sum;
    memset(&sum, 0, sizeof sum);
    dz_err e = {0};
    dz_code rc = ingest_run(req->srv->st, &r, &sum, &e);
    running_leave(&me);
    if (rc != DZ_OK) {
        /* DZ_EINVAL: the body is not that feed at all (the ingest is marked failed, and may be sent again) */
        if (rc == DZ_EINVAL)
            respond_problem(req, 400, NULL, "the body is not a '%s' feed: %s", parser->name, e.msg);
        else
            respond_error(req, &e);
        return;
    }
    switch (sum.claim) {
    case INGEST_BUSY:
        req->retry_after = 5;
        respond_problem(req, 409, NULL, "batch '%s' is being ingested by %s; ask again later", batch,
                        sum.holder[0] ? sum.holder : "another node");
        return;
    case INGEST_DONE:
        respond_batch(req, 200, sum.ingest_id);
        return;
    case INGEST_NEW:
    case INGEST_RESUME:
        respond_batch(req, 201, sum.ingest_id);
        return;
    }
    respond_problem(req, 500, NULL, "the ingest ended in an unknown state");
}
