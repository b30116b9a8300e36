/*
 * Notifications in the store (store_notify.c, migration 0007) on a real
 * database: contacts due a digest per interval with their watermark, events
 * streamed in order and bounded, queueing that moves the watermark exactly
 * once (a second queue from the same watermark is a conflict and writes
 * nothing), ticket reservation, incident notices only to affected
 * constituents with their shared note, the outbox (claim, sent, retry,
 * failed, lease expiry and dead holders, concurrent claimants never sharing
 * a row), acknowledgements, list filters, and the refusal to delete an
 * organisation that has notifications.
 *
 * The database is a temporary SQLite file per test, or, when DZONG_TEST_DB is
 * a postgres:// URL, that PostgreSQL database, emptied before each test
 * (DROP SCHEMA public CASCADE). With --postgres (meson test `store-notify-pg`,
 * suite 'pg') the program fails at once unless DZONG_TEST_DB is set.
 */
#include "unit.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "lib/pipeline.h"
#include "lib/request_decode.h"
#include "lib/timeutil.h"
#include "store/db.h"
#include "store/store.h"

#define T0 1772323200LL /* 2026-03-01T00:00:00Z */

static const char *pg_url;

typedef struct fx {
    char dir[64], path[128], url[600];
    store *s;
    principal sys, tashi, dorji, sonam;
    int64_t druk, telecom, tiny;
    int64_t ingest;
    uint64_t next_hash, next_line;
} fx;

static const store_scope ALL = {0, -1, false};

/* ---- database plumbing (as test_store.c) ---- */

static PGconn *pg_connect(void)
{
    PGconn *c = PQconnectdb(pg_url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("DZONG_TEST_DB: cannot connect: %s", PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

static void pg_wipe(void)
{
    PGconn *c = pg_connect();
    PGresult *r = PQexec(c, "SELECT count(*), count(*) FILTER (WHERE table_name = 'schema_version') "
                            "FROM information_schema.tables WHERE table_schema = 'public'");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("DZONG_TEST_DB: %s", PQresultErrorMessage(r));
    long tables = atol(PQgetvalue(r, 0, 0)), marker = atol(PQgetvalue(r, 0, 1));
    PQclear(r);
    if (tables > 0 && marker == 0) {
        PQfinish(c);
        fail_msg("DZONG_TEST_DB: schema public holds %ld tables but no schema_version: not a dzong test database",
                 tables);
    }
    r = PQexec(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("DZONG_TEST_DB: emptying the database: %s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

static void unlink_db(const char *path)
{
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* One number from the database, past the store. */
static int64_t db_int(fx *f, const char *sql)
{
    db *d;
    dz_err e = {0};
    assert_dz_ok(db_open(f->url, &d, &e), e);
    db_stmt *st;
    assert_dz_ok(db_prepare(d, sql, &st, &e), e);
    assert_int_equal(db_step(st, &e), DB_ROW);
    int64_t n = db_col_int(st, 0);
    db_reset(st);
    db_close(d);
    return n;
}

static const char *S(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int64_t JI(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("'%s' is not an integer", key);
    return json_integer_value(v);
}

static void get_user(fx *f, const char *name, principal *p)
{
    user_record u;
    dz_err e = {0};
    assert_dz_ok(store_user_get(f->s, name, &u, &e), e);
    *p = u.p;
}

static void put_org(fx *f, const char *json)
{
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    if (!o)
        fail_msg("bad JSON %s: %s", json, je.text);
    constituent_record r;
    dz_err e = {0};
    assert_dz_ok(constituent_from_json(o, store_sectors(f->s), &r, &e), e);
    json_decref(o);
    assert_dz_ok(store_constituent_put(f->s, &f->sys, &r, STORE_PUT_UPSERT, NULL, NULL, &e), e);
    constituent_record_free(&r);
}

static size_t audit_actions(fx *f, const char *action)
{
    json_t *a;
    dz_err e = {0};
    assert_dz_ok(store_audit_list(f->s, 0, 1000000, &a, &e), e);
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        const char *x = S(v, "action");
        n += x && strcmp(x, action) == 0;
    }
    json_decref(a);
    return n;
}

/* ---- events: committed through the store, n of them for org (0: nobody's) ---- */

static size_t eb_text(event_batch *b, const char *s, size_t n)
{
    size_t off = b->text.len;
    strbuf_append(&b->text, s, n);
    strbuf_append(&b->text, "", 1);
    return off;
}

static int64_t add_events(fx *f, int64_t org, int n)
{
    event_batch b;
    memset(&b, 0, sizeof b);
    strbuf_init(&b.text);
    b.rows = xmalloc((size_t)n * sizeof *b.rows);
    b.cap = (size_t)n;
    for (int i = 0; i < n; i++) {
        event_batch_row *r = &b.rows[b.n++];
        memset(r, 0, sizeof *r);
        r->line = ++f->next_line;
        r->dedup_hash = ++f->next_hash;
        r->constituent_id = org;
        r->time_source = INT64_MIN;
        char doc[128];
        int len = snprintf(doc, sizeof doc, "{\"feed.name\":\"scan-ssh\",\"extra.n\":%llu,\"extra.org\":%lld}",
                           (unsigned long long)r->line, (long long)org);
        r->doc = eb_text(&b, doc, (size_t)len);
        r->doc_len = (size_t)len;
        r->feed_name = eb_text(&b, "scan-ssh", 8);
        r->taxonomy = eb_text(&b, "vulnerable", 10);
        r->type = eb_text(&b, "vulnerable-system", 17);
        r->identifier = EB_NONE;
    }
    b.checkpoint = f->next_line;
    store_batch_result res;
    dz_err e = {0};
    assert_dz_ok(store_events_commit(f->s, f->ingest, "host:1", &b, &res, &e), e);
    assert_int_equal(res.stored, n);
    free(b.rows);
    strbuf_free(&b.text);
    return db_int(f, "SELECT COALESCE(MAX(id), 0) FROM events");
}

/* ---- fixture ---- */

static int setup(void **state)
{
    dz_err e = {0};
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    if (pg_url) {
        pg_wipe();
        snprintf(f->url, sizeof f->url, "%s", pg_url);
    } else {
        snprintf(f->dir, sizeof f->dir, "/tmp/dzong-notify-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof f->path, "%s/x.db", f->dir);
        snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
    }
    store_settings st;
    memset(&st, 0, sizeof st);
    snprintf(st.id_prefix, sizeof st.id_prefix, "BTCIRT");
    due_policy_default(&st.due);
    assert_dz_ok(store_open(f->url, &st, &f->s, &e), e);
    int applied = -1, version = -1;
    assert_dz_ok(store_migrate(f->s, &applied, &version, &e), e);
    assert_true(version >= 7);
    store_set_clock(f->s, T0);
    f->sys.role = ROLE_ADMIN;
    snprintf(f->sys.username, sizeof f->sys.username, "system");

    /* druk-bank: one address of each interval, one address twice (daily and hourly), one never */
    put_org(f, "{\"short_name\":\"druk-bank\",\"name\":\"Druk Bank\",\"contacts\":["
               "{\"name\":\"Imm\",\"email\":\"imm@druk.example.bt\",\"notify_interval\":\"immediate\"},"
               "{\"name\":\"Hour\",\"email\":\"hour@druk.example.bt\",\"notify_interval\":\"hourly\","
               "\"notify_format\":\"json\",\"max_tlp\":\"GREEN\",\"language\":\"dz\"},"
               "{\"name\":\"Never\",\"email\":\"never@druk.example.bt\",\"notify_interval\":\"never\"},"
               "{\"name\":\"Twice daily\",\"email\":\"twice@druk.example.bt\",\"notify_interval\":\"daily\"},"
               "{\"name\":\"Twice hourly\",\"email\":\"twice@druk.example.bt\",\"notify_interval\":\"hourly\","
               "\"pgp\":\"0123456789ABCDEF0123456789ABCDEF01234567\"}]}");
    put_org(f, "{\"short_name\":\"bhutan-telecom\",\"name\":\"Bhutan Telecom\",\"contacts\":["
               "{\"name\":\"Week\",\"email\":\"week@telecom.example.bt\",\"notify_interval\":\"weekly\"}]}");
    put_org(f, "{\"short_name\":\"tiny-org\",\"name\":\"Tiny\"}");
    assert_dz_ok(store_constituent_id(f->s, "druk-bank", &f->druk, &e), e);
    assert_dz_ok(store_constituent_id(f->s, "bhutan-telecom", &f->telecom, &e), e);
    assert_dz_ok(store_constituent_id(f->s, "tiny-org", &f->tiny, &e), e);
    assert_dz_ok(store_user_create(f->s, &f->sys, "tashi", ROLE_HANDLER, NULL, NULL, &e), e);
    assert_dz_ok(store_user_create(f->s, &f->sys, "dorji", ROLE_CONSTITUENT, "druk-bank", NULL, &e), e);
    assert_dz_ok(store_user_create(f->s, &f->sys, "sonam", ROLE_CONSTITUENT, "bhutan-telecom", NULL, &e), e);
    get_user(f, "tashi", &f->tashi);
    get_user(f, "dorji", &f->dorji);
    get_user(f, "sonam", &f->sonam);

    ingest_claim c = {.kind = "file", .source = "/srv/feeds/x.csv", .key = "sha256:notify", .feed = "shadowserver",
                      .node = "host:1", .lease_s = 100000};
    ingest_state is;
    assert_dz_ok(store_ingest_claim(f->s, &c, &is, &e), e);
    f->ingest = is.id;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    store_close(f->s);
    if (!pg_url) {
        unlink_db(f->path);
        rmdir(f->dir);
    }
    free(f);
    return 0;
}

/* ---- helpers ---- */

static const char MSG[] = "From: cirt@example.bt\r\nTo: x@example.bt\r\nSubject: digest\r\n\r\nbody\r\n";

static notify_new digest(const char *ticket, int64_t org, const char *to, int64_t after, int64_t upto)
{
    static char mids[64][64];
    static unsigned k;
    char *mid = mids[k++ % 64];
    snprintf(mid, 64, "<%s@cirt.example.bt>", ticket);
    notify_new n = {.kind = "digest", .ticket = ticket, .message_id = mid, .org_id = org, .recipient = to,
                    .recipient_name = "A contact", .subject = "[BTCIRT] events", .message = MSG,
                    .message_len = sizeof MSG - 1, .language = "en", .format = "csv", .tlp = "AMBER",
                    .is_signed = true, .after_id = after, .upto_id = upto, .events = upto - after,
                    .period_from = T0 - 86400, .period_to = T0,
                    .summary_json = "{\"by_type\":[{\"taxonomy\":\"vulnerable\",\"type\":\"vulnerable-system\","
                                    "\"count\":1}]}"};
    return n;
}

static notify_new notice(const char *ticket, int64_t org, const char *to, const char *incident)
{
    static char mids[64][64];
    static unsigned k;
    char *mid = mids[k++ % 64];
    snprintf(mid, 64, "<%s@cirt.example.bt>", ticket);
    notify_new n = {.kind = "incident", .ticket = ticket, .message_id = mid, .org_id = org, .recipient = to,
                    .subject = "[BTCIRT] incident", .message = MSG, .message_len = sizeof MSG - 1,
                    .language = "en", .tlp = "AMBER", .is_encrypted = true, .incident = incident};
    return n;
}

static notify_queue_result queue_ok(fx *f, const notify_new *items, size_t n, const notify_incident_note *note)
{
    notify_queue_result r;
    dz_err e = {0};
    assert_dz_ok(store_notify_queue(f->s, &f->sys, items, n, note, &r, &e), e);
    return r;
}

static char *mk_incident(fx *f, const char *body)
{
    incident_fields fl;
    dz_err e = {0};
    json_t *o;
    assert_dz_ok(decode_incident(body, strlen(body), true, &fl, &e), e);
    assert_dz_ok(store_incident_create(f->s, &f->tashi, &fl, &o, &e), e);
    incident_fields_free(&fl);
    char *id = strdup(S(o, "id"));
    json_decref(o);
    return id;
}

static const notify_due_contact *find_due(const notify_due_list *l, const char *email)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].email, email) == 0)
            return &l->items[i];
    return NULL;
}

typedef struct collected {
    int64_t ids[4096];
    size_t n;
    int stop_after; /* 0: never */
    bool docs_ok;
} collected;

static dz_code collect(void *arg, int64_t id, const char *doc, size_t len, dz_err *e)
{
    collected *c = arg;
    if (c->n < 4096)
        c->ids[c->n] = id;
    c->n++;
    c->docs_ok &= len == strlen(doc) && len > 2 && doc[0] == '{';
    if (c->stop_after && (int)c->n == c->stop_after)
        return dz_fail(e, DZ_ELIMIT, "enough");
    return DZ_OK;
}

/* ---- tests ---- */

/* Due per interval, the watermark starting at 0, events streamed in order and bounded by upto. */
static void test_due_and_events(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    notify_due_list l;
    assert_dz_ok(store_notify_due(f->s, T0, &l, &e), e);
    assert_int_equal(l.n, 0); /* no events at all */
    assert_int_equal(l.upto_id, 0);
    notify_due_list_free(&l);

    add_events(f, 0, 2); /* nobody's */
    int64_t upto = add_events(f, f->druk, 3);
    assert_dz_ok(store_notify_due(f->s, T0, &l, &e), e);
    assert_int_equal(l.upto_id, upto);
    assert_int_equal(l.n, 3); /* imm, hour, twice once; never is not due; telecom has no events */
    assert_string_equal(l.items[0].email, "hour@druk.example.bt"); /* by short name, then e-mail */
    assert_string_equal(l.items[1].email, "imm@druk.example.bt");
    assert_string_equal(l.items[2].email, "twice@druk.example.bt");
    const notify_due_contact *h = &l.items[0];
    assert_int_equal(h->org_id, f->druk);
    assert_string_equal(h->short_name, "druk-bank");
    assert_string_equal(h->org_name, "Druk Bank");
    assert_string_equal(h->name, "Hour");
    assert_string_equal(h->language, "dz");
    assert_int_equal(h->interval, NOTIFY_HOURLY);
    assert_int_equal(h->format, NOTIFY_FORMAT_JSON);
    assert_int_equal(h->max_tlp, TLP_GREEN);
    assert_null(h->pgp);
    assert_int_equal(h->after_id, 0);
    assert_int_equal(h->last_digest_at, 0);
    /* the address listed twice: once, with its most frequent interval (and that contact's key) */
    assert_int_equal(l.items[2].interval, NOTIFY_HOURLY);
    assert_string_equal(l.items[2].pgp, "0123456789ABCDEF0123456789ABCDEF01234567");
    notify_due_list_free(&l);

    /* telecom's weekly contact, once it has events */
    add_events(f, f->telecom, 1200); /* more than two pages when streamed */
    assert_dz_ok(store_notify_due(f->s, T0, &l, &e), e);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.items[0].short_name, "bhutan-telecom");
    assert_int_equal(l.items[0].interval, NOTIFY_WEEKLY);
    int64_t upto2 = l.upto_id;
    notify_due_list_free(&l);

    /* events: in id order, only the organisation's, bounded by upto even when more arrive */
    collected *c = calloc(1, sizeof *c);
    c->docs_ok = true;
    assert_dz_ok(store_notify_events(f->s, f->druk, 0, upto, collect, c, &e), e);
    assert_int_equal(c->n, 3);
    assert_true(c->docs_ok);
    assert_true(c->ids[0] < c->ids[1] && c->ids[1] < c->ids[2]);
    assert_int_equal(c->ids[2], upto);
    int64_t first = c->ids[0];
    memset(c, 0, sizeof *c);
    assert_dz_ok(store_notify_events(f->s, f->druk, first, upto, collect, c, &e), e);
    assert_int_equal(c->n, 2);
    add_events(f, f->telecom, 5);
    memset(c, 0, sizeof *c);
    c->docs_ok = true;
    assert_dz_ok(store_notify_events(f->s, f->telecom, 0, upto2, collect, c, &e), e);
    assert_int_equal(c->n, 1200);
    assert_true(c->docs_ok);
    for (size_t i = 1; i < c->n; i++)
        assert_true(c->ids[i - 1] < c->ids[i]);
    assert_int_equal(c->ids[1199], upto2);
    /* a callback's error stops the walk and comes back */
    memset(c, 0, sizeof *c);
    c->stop_after = 700;
    assert_dz_fails(store_notify_events(f->s, f->telecom, 0, upto2, collect, c, &e), DZ_ELIMIT, e);
    assert_int_equal(c->n, 700);
    free(c);

    /* never: not even with events waiting; hourly/daily/weekly wait for their interval after a digest */
    assert_dz_ok(store_notify_due(f->s, T0, &l, &e), e);
    assert_null(find_due(&l, "never@druk.example.bt"));
    notify_due_list_free(&l);
}

/* Queueing moves the watermark; a second queue from the same watermark is a conflict and writes nothing. */
static void test_queue_watermark(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    notify_due_list l;
    int64_t upto = add_events(f, f->druk, 3);
    size_t audits = audit_actions(f, "notify.queue");
    notify_new a = digest("BTCIRT-N-2026-000001", f->druk, "hour@druk.example.bt", 0, upto);
    notify_queue_result r = queue_ok(f, &a, 1, NULL);
    assert_int_equal(r.queued, 1);
    assert_int_equal(r.conflicts, 0);
    assert_int_equal(audit_actions(f, "notify.queue"), audits + 1);
    assert_int_equal(db_int(f, "SELECT last_event_id FROM notify_cursors WHERE email = 'hour@druk.example.bt'"), upto);
    assert_int_equal(db_int(f, "SELECT last_digest_at FROM notify_cursors WHERE email = 'hour@druk.example.bt'"), T0);

    /* the same watermark again (another node's round): a conflict, nothing written, no audit entry */
    notify_new again = digest("BTCIRT-N-2026-000002", f->druk, "hour@druk.example.bt", 0, upto);
    r = queue_ok(f, &again, 1, NULL);
    assert_int_equal(r.queued, 0);
    assert_int_equal(r.conflicts, 1);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM notifications"), 1);
    assert_int_equal(audit_actions(f, "notify.queue"), audits + 1);
    /* a watermark that is not there yet cannot be moved from anything but 0 */
    notify_new ghost = digest("BTCIRT-N-2026-000003", f->druk, "imm@druk.example.bt", 1, upto);
    r = queue_ok(f, &ghost, 1, NULL);
    assert_int_equal(r.conflicts, 1);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM notify_cursors"), 1);

    /* hourly: not due before an hour has passed, even with new events; due after, from the watermark */
    int64_t upto2 = add_events(f, f->druk, 2);
    store_set_clock(f->s, T0 + 1800);
    assert_dz_ok(store_notify_due(f->s, T0 + 1800, &l, &e), e);
    assert_null(find_due(&l, "hour@druk.example.bt"));
    assert_non_null(find_due(&l, "imm@druk.example.bt"));
    notify_due_list_free(&l);
    assert_dz_ok(store_notify_due(f->s, T0 + 3600, &l, &e), e);
    const notify_due_contact *h = find_due(&l, "hour@druk.example.bt");
    assert_non_null(h);
    assert_int_equal(h->after_id, upto);
    assert_int_equal(h->last_digest_at, T0);
    assert_int_equal(l.upto_id, upto2);
    notify_due_list_free(&l);

    /* one call, a mix of a move and a conflict; the watermark moves on from upto */
    store_set_clock(f->s, T0 + 3600);
    notify_new two[2] = {digest("BTCIRT-N-2026-000004", f->druk, "hour@druk.example.bt", upto, upto2),
                         digest("BTCIRT-N-2026-000005", f->druk, "hour@druk.example.bt", upto, upto2)};
    r = queue_ok(f, two, 2, NULL);
    assert_int_equal(r.queued, 1);
    assert_int_equal(r.conflicts, 1);
    assert_int_equal(db_int(f, "SELECT last_event_id FROM notify_cursors WHERE email = 'hour@druk.example.bt'"),
                     upto2);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM notifications WHERE ticket = 'BTCIRT-N-2026-000005'"), 0);
    /* nothing new: not due */
    assert_dz_ok(store_notify_due(f->s, T0 + 7200, &l, &e), e);
    assert_null(find_due(&l, "hour@druk.example.bt"));
    notify_due_list_free(&l);

    /* bad items are refused before anything is written */
    notify_new bad = digest("BTCIRT-N-2026-000006", f->druk, "imm@druk.example.bt", 5, 5);
    assert_dz_fails(store_notify_queue(f->s, &f->sys, &bad, 1, NULL, &r, &e), DZ_EINVAL, e);
    bad = digest("BTCIRT-N-2026-000006", f->druk, "imm@druk.example.bt", 0, 5);
    bad.kind = "sms";
    assert_dz_fails(store_notify_queue(f->s, &f->sys, &bad, 1, NULL, &r, &e), DZ_EINVAL, e);
    /* a duplicate ticket fails the whole call */
    notify_new dup[2] = {digest("BTCIRT-N-2026-000007", f->druk, "imm@druk.example.bt", 0, upto2),
                         digest("BTCIRT-N-2026-000001", f->druk, "twice@druk.example.bt", 0, upto2)};
    assert_dz_fails(store_notify_queue(f->s, &f->sys, dup, 2, NULL, &r, &e), DZ_ECONFLICT, e);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM notify_cursors WHERE email = 'imm@druk.example.bt'"), 0);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM notifications"), 2);
}

/* 200 digests in one call: one transaction, one audit entry, quick. */
static void test_queue_batch(void **state)
{
    fx *f = *state;
    int64_t upto = add_events(f, f->druk, 1);
    enum { N = 200 };
    notify_new *items = xmalloc(N * sizeof *items);
    char (*tickets)[32] = xmalloc(N * sizeof *tickets), (*to)[64] = xmalloc(N * sizeof *to),
         (*mids)[64] = xmalloc(N * sizeof *mids);
    for (int i = 0; i < N; i++) {
        snprintf(tickets[i], sizeof tickets[i], "BTCIRT-N-2026-%06d", i + 1);
        snprintf(to[i], sizeof to[i], "c%03d@druk.example.bt", i);
        snprintf(mids[i], sizeof mids[i], "<%d@cirt>", i);
        items[i] = digest(tickets[i], f->druk, to[i], 0, upto);
        items[i].message_id = mids[i];
    }
    size_t audits = audit_actions(f, "notify.queue");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    notify_queue_result r = queue_ok(f, items, N, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    fprintf(stderr, "test_store_notify: %s: %d digests queued in one call in %.1f ms\n",
            pg_url ? "PostgreSQL" : "SQLite", N, ms);
    assert_int_equal(r.queued, N);
    assert_int_equal(audit_actions(f, "notify.queue"), audits + 1);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM notify_cursors"), N);
    assert_true(ms < 5000);
    free(items);
    free(tickets);
    free(to);
    free(mids);
}

static void test_reserve_tickets(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    int64_t first;
    assert_dz_ok(store_notify_reserve_tickets(f->s, 2026, 5, &first, &e), e);
    assert_int_equal(first, 1);
    assert_dz_ok(store_notify_reserve_tickets(f->s, 2026, 3, &first, &e), e);
    assert_int_equal(first, 6);
    assert_dz_ok(store_notify_reserve_tickets(f->s, 2026, 1, &first, &e), e);
    assert_int_equal(first, 9);
    assert_dz_ok(store_notify_reserve_tickets(f->s, 2027, 2, &first, &e), e);
    assert_int_equal(first, 1);
    assert_dz_fails(store_notify_reserve_tickets(f->s, 2026, 0, &first, &e), DZ_EINVAL, e);
    /* incidents' numbers are their own sequence */
    char *id = mk_incident(f, "{\"title\":\"x\"}");
    assert_string_equal(id, "BTCIRT-2026-00001");
    free(id);
}

/* Incident notices go to affected constituents only, with the shared note in the same transaction. */
static void test_incident_notice(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    char *inc = mk_incident(f, "{\"title\":\"Phishing\",\"constituents\":[\"druk-bank\"]}");
    json_t *notes;
    assert_dz_ok(store_note_list(f->s, &ALL, inc, &notes, &e), e);
    size_t notes0 = json_array_size(notes);
    json_decref(notes);
    size_t audits = audit_actions(f, "incident.notify");
    notify_incident_note note = {.incident = inc, .text = "We told the bank.", .scope = &ALL};

    /* one of them not affected: refused, naming it, and nothing written (not the note either) */
    notify_new two[2] = {notice("BTCIRT-N-2026-000001", f->druk, "imm@druk.example.bt", inc),
                         notice("BTCIRT-N-2026-000002", f->telecom, "week@telecom.example.bt", inc)};
    notify_queue_result r;
    assert_dz_fails(store_notify_queue(f->s, &f->tashi, two, 2, &note, &r, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "bhutan-telecom");
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM notifications"), 0);
    assert_dz_ok(store_note_list(f->s, &ALL, inc, &notes, &e), e);
    assert_int_equal(json_array_size(notes), notes0);
    json_decref(notes);
    assert_int_equal(audit_actions(f, "incident.notify"), audits);
    /* an unknown incident */
    notify_new ghost = notice("BTCIRT-N-2026-000003", f->druk, "imm@druk.example.bt", "BTCIRT-2026-99999");
    assert_dz_fails(store_notify_queue(f->s, &f->tashi, &ghost, 1, NULL, &r, &e), DZ_ENOTFOUND, e);

    /* the affected one: queued, and the note is on the timeline, shared */
    assert_dz_ok(store_notify_queue(f->s, &f->tashi, two, 1, &note, &r, &e), e);
    assert_int_equal(r.queued, 1);
    assert_dz_ok(store_note_list(f->s, &ALL, inc, &notes, &e), e);
    assert_int_equal(json_array_size(notes), notes0 + 1);
    json_t *last = json_array_get(notes, json_array_size(notes) - 1);
    assert_string_equal(S(last, "body"), "We told the bank.");
    assert_string_equal(S(last, "author"), "tashi");
    assert_true(json_is_true(json_object_get(last, "shared")));
    json_decref(notes);
    store_scope bank = {f->druk, -1, true};
    assert_dz_ok(store_note_list(f->s, &bank, inc, &notes, &e), e); /* the constituent sees it */
    assert_int_equal(json_array_size(notes), 1);
    json_decref(notes);
    assert_int_equal(audit_actions(f, "incident.notify"), audits + 1);
    assert_int_equal(audit_actions(f, "incident.note"), 0);

    json_t *o;
    assert_dz_ok(store_notification_get(f->s, 0, "BTCIRT-N-2026-000001", &o, &e), e);
    assert_string_equal(S(o, "kind"), "incident");
    assert_string_equal(S(o, "incident"), inc);
    assert_string_equal(S(o, "constituent"), "druk-bank");
    assert_string_equal(S(o, "status"), "queued");
    assert_true(json_is_true(json_object_get(o, "encrypted")));
    assert_true(json_is_false(json_object_get(o, "signed")));
    assert_true(json_is_null(json_object_get(o, "events")));
    assert_true(json_is_null(json_object_get(o, "recipient_name")));
    json_decref(o);
    /* an incident notice has no events */
    collected *c = calloc(1, sizeof *c);
    assert_dz_ok(store_notification_events(f->s, 0, "BTCIRT-N-2026-000001", collect, c, &e), e);
    assert_int_equal(c->n, 0);
    free(c);
    free(inc);
}

static outbox_item *claim(fx *f, const char *node, size_t max, int lease, const char *const *dead, size_t n_dead,
                          size_t *n)
{
    outbox_item *items;
    dz_err e = {0};
    assert_dz_ok(store_outbox_claim(f->s, node, max, lease, dead, n_dead, &items, n, &e), e);
    return items;
}

static json_t *nget(fx *f, const char *ticket)
{
    json_t *o;
    dz_err e = {0};
    assert_dz_ok(store_notification_get(f->s, 0, ticket, &o, &e), e);
    return o;
}

/* claim -> sent, retry (not claimable before retry_at), failed; only the holder records. */
static void test_outbox_cycle(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    int64_t upto = add_events(f, f->druk, 1);
    notify_new d[3] = {digest("BTCIRT-N-2026-000001", f->druk, "imm@druk.example.bt", 0, upto),
                       digest("BTCIRT-N-2026-000002", f->druk, "hour@druk.example.bt", 0, upto),
                       digest("BTCIRT-N-2026-000003", f->druk, "twice@druk.example.bt", 0, upto)};
    queue_ok(f, d, 3, NULL);
    size_t n;
    outbox_item *it = claim(f, "host:1", 2, 60, NULL, 0, &n);
    assert_int_equal(n, 2);
    assert_string_equal(it[0].ticket, "BTCIRT-N-2026-000001");
    assert_string_equal(it[1].ticket, "BTCIRT-N-2026-000002");
    assert_string_equal(it[0].recipient, "imm@druk.example.bt");
    assert_string_equal(it[0].message_id, "<BTCIRT-N-2026-000001@cirt.example.bt>");
    assert_int_equal(it[0].message_len, sizeof MSG - 1);
    assert_memory_equal(it[0].message, MSG, sizeof MSG - 1);
    assert_int_equal(it[0].attempts, 1);
    assert_false(it[0].in_doubt);
    int64_t sent_id = it[0].id, retry_id = it[1].id;
    outbox_items_free(it, n);
    json_t *h;
    assert_dz_ok(store_outbox_holders(f->s, &h, &e), e);
    assert_int_equal(json_array_size(h), 1);
    assert_string_equal(json_string_value(json_array_get(h, 0)), "host:1");
    json_decref(h);
    json_t *o = nget(f, "BTCIRT-N-2026-000001");
    assert_string_equal(S(o, "status"), "sending");
    assert_int_equal(JI(o, "attempts"), 1);
    json_decref(o);

    /* another node may not record, nor an unknown id */
    assert_dz_fails(store_outbox_record(f->s, sent_id, "host:2", OUTBOX_SENT, 250, NULL, 0, &e), DZ_ECONFLICT, e);
    assert_dz_fails(store_outbox_record(f->s, 999999, "host:1", OUTBOX_SENT, 250, NULL, 0, &e), DZ_ECONFLICT, e);
    store_set_clock(f->s, T0 + 5);
    assert_dz_ok(store_outbox_record(f->s, sent_id, "host:1", OUTBOX_SENT, 250, NULL, 0, &e), e);
    assert_dz_fails(store_outbox_record(f->s, sent_id, "host:1", OUTBOX_SENT, 250, NULL, 0, &e), DZ_ECONFLICT, e);
    o = nget(f, "BTCIRT-N-2026-000001");
    assert_string_equal(S(o, "status"), "sent");
    assert_string_equal(S(o, "sent_at"), "2026-03-01T00:00:05Z");
    assert_int_equal(JI(o, "smtp_code"), 250);
    assert_true(json_is_null(json_object_get(o, "last_error")));
    assert_true(json_is_null(json_object_get(o, "next_attempt_at")));
    json_decref(o);

    assert_dz_ok(store_outbox_record(f->s, retry_id, "host:1", OUTBOX_RETRY, 451, "451 4.7.1 try later", T0 + 300, &e),
                 e);
    o = nget(f, "BTCIRT-N-2026-000002");
    assert_string_equal(S(o, "status"), "queued");
    assert_string_equal(S(o, "last_error"), "451 4.7.1 try later");
    assert_int_equal(JI(o, "smtp_code"), 451);
    assert_string_equal(S(o, "next_attempt_at"), "2026-03-01T00:05:00Z");
    json_decref(o);

    /* the third is due, the retried one not yet */
    it = claim(f, "host:1", 10, 3600, NULL, 0, &n);
    assert_int_equal(n, 1);
    assert_string_equal(it[0].ticket, "BTCIRT-N-2026-000003");
    int64_t failed_id = it[0].id;
    outbox_items_free(it, n);
    store_set_clock(f->s, T0 + 299);
    it = claim(f, "host:1", 10, 3600, NULL, 0, &n);
    assert_int_equal(n, 0);
    outbox_items_free(it, n);
    store_set_clock(f->s, T0 + 300);
    assert_dz_ok(store_outbox_record(f->s, failed_id, "host:1", OUTBOX_FAILED, 550, "550 5.1.1 no such user", 0, &e),
                 e);
    it = claim(f, "host:1", 10, 3600, NULL, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(it[0].id, retry_id);
    assert_int_equal(it[0].attempts, 2);
    assert_false(it[0].in_doubt);
    outbox_items_free(it, n);
    assert_dz_ok(store_outbox_record(f->s, retry_id, "host:1", OUTBOX_SENT, 0, NULL, 0, &e), e);
    o = nget(f, "BTCIRT-N-2026-000002");
    assert_string_equal(S(o, "status"), "sent");
    assert_true(json_is_null(json_object_get(o, "smtp_code"))); /* 0: no answer */
    assert_true(json_is_null(json_object_get(o, "last_error")));
    assert_int_equal(JI(o, "attempts"), 2);
    json_decref(o);
    o = nget(f, "BTCIRT-N-2026-000003");
    assert_string_equal(S(o, "status"), "failed");
    assert_string_equal(S(o, "last_error"), "550 5.1.1 no such user");
    assert_int_equal(JI(o, "smtp_code"), 550);
    json_decref(o);
    assert_dz_ok(store_outbox_holders(f->s, &h, &e), e);
    assert_int_equal(json_array_size(h), 0);
    json_decref(h);
    it = claim(f, "host:1", 10, 3600, NULL, 0, &n);
    assert_int_equal(n, 0);
    outbox_items_free(it, n);

    char *msg;
    size_t len;
    assert_dz_ok(store_notification_message(f->s, "BTCIRT-N-2026-000003", &msg, &len, &e), e);
    assert_int_equal(len, sizeof MSG - 1);
    assert_memory_equal(msg, MSG, len);
    free(msg);
    assert_dz_fails(store_notification_message(f->s, "BTCIRT-N-2026-999999", &msg, &len, &e), DZ_ENOTFOUND, e);
}

/* A holder whose lease ran out, or who is dead, loses its rows: due now, in doubt. */
static void test_outbox_takeover(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    int64_t upto = add_events(f, f->druk, 1);
    notify_new d[2] = {digest("BTCIRT-N-2026-000001", f->druk, "imm@druk.example.bt", 0, upto),
                       digest("BTCIRT-N-2026-000002", f->druk, "hour@druk.example.bt", 0, upto)};
    queue_ok(f, d, 2, NULL);
    size_t n;
    outbox_item *it = claim(f, "host:1", 1, 60, NULL, 0, &n);
    assert_int_equal(n, 1);
    int64_t a = it[0].id;
    outbox_items_free(it, n);
    it = claim(f, "host:2", 1, 60, NULL, 0, &n);
    assert_int_equal(n, 1);
    int64_t b = it[0].id;
    outbox_items_free(it, n);

    /* live holders keep their rows */
    store_set_clock(f->s, T0 + 30);
    it = claim(f, "host:3", 10, 60, NULL, 0, &n);
    assert_int_equal(n, 0);
    outbox_items_free(it, n);
    /* host:1 is dead: its row is taken over at once */
    static const char *const dead[] = {"host:9", "host:1"};
    it = claim(f, "host:3", 10, 60, dead, 2, &n);
    assert_int_equal(n, 1);
    assert_int_equal(it[0].id, a);
    assert_true(it[0].in_doubt);
    assert_int_equal(it[0].attempts, 2);
    outbox_items_free(it, n);
    assert_dz_fails(store_outbox_record(f->s, a, "host:1", OUTBOX_SENT, 250, NULL, 0, &e), DZ_ECONFLICT, e);
    json_t *o = nget(f, "BTCIRT-N-2026-000001");
    assert_true(json_is_true(json_object_get(o, "in_doubt")));
    assert_string_equal(S(o, "status"), "sending");
    json_decref(o);

    /* host:2's lease runs out at T0 + 60 */
    store_set_clock(f->s, T0 + 59);
    it = claim(f, "host:4", 10, 60, NULL, 0, &n);
    assert_int_equal(n, 0);
    outbox_items_free(it, n);
    store_set_clock(f->s, T0 + 60);
    it = claim(f, "host:4", 10, 60, NULL, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(it[0].id, b);
    assert_true(it[0].in_doubt);
    outbox_items_free(it, n);
    assert_dz_fails(store_outbox_record(f->s, b, "host:2", OUTBOX_SENT, 250, NULL, 0, &e), DZ_ECONFLICT, e);
    assert_dz_ok(store_outbox_record(f->s, b, "host:4", OUTBOX_SENT, 250, NULL, 0, &e), e);
    o = nget(f, "BTCIRT-N-2026-000002");
    assert_true(json_is_true(json_object_get(o, "in_doubt"))); /* stays: a copy may have gone out */
    assert_string_equal(S(o, "status"), "sent");
    json_decref(o);
    json_t *h;
    assert_dz_ok(store_outbox_holders(f->s, &h, &e), e);
    assert_int_equal(json_array_size(h), 1);
    assert_string_equal(json_string_value(json_array_get(h, 0)), "host:3");
    json_decref(h);
}

/* Two claimants never get the same row: one after the other, and at the same time from two threads. */
typedef struct claimer {
    fx *f;
    const char *node;
    int64_t ids[200];
    size_t n;
    dz_code rc;
} claimer;

static pthread_barrier_t claim_start;

static void *claim_loop(void *arg)
{
    claimer *c = arg;
    dz_err e = {0};
    pthread_barrier_wait(&claim_start);
    for (;;) {
        outbox_item *items;
        size_t n;
        c->rc = store_outbox_claim(c->f->s, c->node, 1, 600, NULL, 0, &items, &n, &e);
        if (c->rc != DZ_OK || n == 0)
            break;
        for (size_t i = 0; i < n && c->n < 200; i++)
            c->ids[c->n++] = items[i].id;
        outbox_items_free(items, n);
    }
    return NULL;
}

static void test_outbox_claimants(void **state)
{
    fx *f = *state;
    int64_t upto = add_events(f, f->druk, 1);
    enum { N = 60 };
    notify_new items[N];
    char tickets[N][32], to[N][64], mids[N][64];
    for (int i = 0; i < N; i++) {
        snprintf(tickets[i], sizeof tickets[i], "BTCIRT-N-2026-%06d", i + 1);
        snprintf(to[i], sizeof to[i], "c%03d@druk.example.bt", i);
        snprintf(mids[i], sizeof mids[i], "<%d@cirt>", i);
        items[i] = digest(tickets[i], f->druk, to[i], 0, upto);
        items[i].message_id = mids[i];
    }
    queue_ok(f, items, 10, NULL);
    size_t na, nb;
    outbox_item *a = claim(f, "host:a", 6, 60, NULL, 0, &na), *b = claim(f, "host:b", 6, 60, NULL, 0, &nb);
    assert_int_equal(na, 6);
    assert_int_equal(nb, 4);
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            assert_int_not_equal(a[i].id, b[j].id);
    assert_true(a[5].id < b[0].id); /* oldest first */
    outbox_items_free(a, na);
    outbox_items_free(b, nb);

    queue_ok(f, items + 10, N - 10, NULL);
    claimer c1 = {.f = f, .node = "host:t1"}, c2 = {.f = f, .node = "host:t2"};
    pthread_t t1, t2;
    pthread_barrier_init(&claim_start, NULL, 2);
    assert_int_equal(pthread_create(&t1, NULL, claim_loop, &c1), 0);
    assert_int_equal(pthread_create(&t2, NULL, claim_loop, &c2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_barrier_destroy(&claim_start);
    assert_int_equal(c1.rc, DZ_OK);
    assert_int_equal(c2.rc, DZ_OK);
    assert_int_equal(c1.n + c2.n, N - 10);
    for (size_t i = 0; i < c1.n; i++)
        for (size_t j = 0; j < c2.n; j++)
            assert_int_not_equal(c1.ids[i], c2.ids[j]);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM notifications WHERE status = 'sending' AND attempts = 1"), N);
    fprintf(stderr, "test_store_notify: two threads claimed %zu and %zu\n", c1.n, c2.n);
}

/* Acknowledgements by the organisation's users, list filters, visibility, paging. */
static void test_ack_and_list(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    int64_t upto = add_events(f, f->druk, 2);
    add_events(f, f->telecom, 1);
    int64_t upto_t = db_int(f, "SELECT MAX(id) FROM events");
    char *inc = mk_incident(f, "{\"title\":\"Phishing\",\"constituents\":[\"druk-bank\",\"bhutan-telecom\"]}");
    notify_new d[4] = {digest("BTCIRT-N-2026-000001", f->druk, "imm@druk.example.bt", 0, upto),
                       digest("BTCIRT-N-2026-000002", f->telecom, "week@telecom.example.bt", 0, upto_t),
                       notice("BTCIRT-N-2026-000003", f->druk, "imm@druk.example.bt", inc),
                       notice("BTCIRT-N-2026-000004", f->telecom, "week@telecom.example.bt", inc)};
    queue_ok(f, d, 4, NULL);

    /* ack: another organisation's user, staff: not found; the own organisation's: yes, once */
    json_t *o;
    assert_dz_fails(store_notification_ack(f->s, &f->sonam, "BTCIRT-N-2026-000001", &o, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(store_notification_ack(f->s, &f->tashi, "BTCIRT-N-2026-000001", &o, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(store_notification_ack(f->s, &f->dorji, "BTCIRT-N-2026-999999", &o, &e), DZ_ENOTFOUND, e);
    store_set_clock(f->s, T0 + 100);
    size_t audits = audit_actions(f, "notification.ack");
    assert_dz_ok(store_notification_ack(f->s, &f->dorji, "BTCIRT-N-2026-000001", &o, &e), e);
    assert_string_equal(S(o, "acknowledged_by"), "dorji");
    assert_string_equal(S(o, "acknowledged_at"), "2026-03-01T00:01:40Z");
    json_decref(o);
    store_set_clock(f->s, T0 + 200);
    assert_dz_ok(store_notification_ack(f->s, &f->dorji, "BTCIRT-N-2026-000001", &o, &e), e);
    assert_string_equal(S(o, "acknowledged_at"), "2026-03-01T00:01:40Z"); /* unchanged */
    json_decref(o);
    assert_dz_ok(store_notification_ack(f->s, &f->dorji, "BTCIRT-N-2026-000001", NULL, &e), e);
    assert_int_equal(audit_actions(f, "notification.ack"), audits + 1);
    assert_dz_ok(store_notification_ack(f->s, &f->sonam, "BTCIRT-N-2026-000004", NULL, &e), e);

    /* the digest's fields */
    o = nget(f, "BTCIRT-N-2026-000001");
    assert_string_equal(S(o, "kind"), "digest");
    assert_string_equal(S(o, "recipient"), "imm@druk.example.bt");
    assert_string_equal(S(o, "recipient_name"), "A contact");
    assert_string_equal(S(o, "subject"), "[BTCIRT] events");
    assert_string_equal(S(o, "message_id"), "<BTCIRT-N-2026-000001@cirt.example.bt>");
    assert_string_equal(S(o, "format"), "csv");
    assert_string_equal(S(o, "language"), "en");
    assert_string_equal(S(o, "tlp"), "AMBER");
    assert_string_equal(S(o, "created_at"), "2026-03-01T00:00:00Z");
    assert_string_equal(S(o, "period_from"), "2026-02-28T00:00:00Z");
    assert_string_equal(S(o, "period_to"), "2026-03-01T00:00:00Z");
    assert_true(json_is_true(json_object_get(o, "signed")));
    assert_true(json_is_false(json_object_get(o, "in_doubt")));
    assert_int_equal(JI(o, "events"), upto);
    assert_int_equal(JI(o, "withheld"), 0);
    assert_int_equal(JI(o, "attempts"), 0);
    assert_true(json_is_null(json_object_get(o, "incident")));
    assert_true(json_is_null(json_object_get(o, "sent_at")));
    json_t *by = json_object_get(json_object_get(o, "summary"), "by_type");
    assert_int_equal(json_array_size(by), 1);
    assert_int_equal(json_object_size(o), 28);
    json_decref(o);
    /* its events; only_org hides another organisation's */
    collected *c = calloc(1, sizeof *c);
    assert_dz_ok(store_notification_events(f->s, f->druk, "BTCIRT-N-2026-000001", collect, c, &e), e);
    assert_int_equal(c->n, 2);
    assert_dz_fails(store_notification_events(f->s, f->telecom, "BTCIRT-N-2026-000001", collect, c, &e),
                    DZ_ENOTFOUND, e);
    free(c);
    assert_dz_fails(store_notification_get(f->s, f->telecom, "BTCIRT-N-2026-000001", &o, &e), DZ_ENOTFOUND, e);

    struct {
        notification_filter fl;
        int64_t only_org;
        const char *want; /* tickets' last digits, newest first */
    } cases[] = {
        {{.acknowledged = -1}, 0, "4321"},
        {{.acknowledged = -1}, f->druk, "31"},
        {{.acknowledged = -1, .constituent = "bhutan-telecom"}, 0, "42"},
        {{.acknowledged = -1, .constituent = "bhutan-telecom"}, f->druk, ""},
        {{.acknowledged = -1, .constituent = "no-such-org"}, 0, ""},
        {{.acknowledged = -1, .kind = "digest"}, 0, "21"},
        {{.acknowledged = -1, .kind = "incident"}, f->telecom, "4"},
        {{.acknowledged = -1, .status = "queued"}, 0, "4321"},
        {{.acknowledged = -1, .status = "sent"}, 0, ""},
        {{.acknowledged = -1, .incident = inc}, 0, "43"},
        {{.acknowledged = -1, .incident = "BTCIRT-2026-99999"}, 0, ""},
        {{.acknowledged = 1}, 0, "41"},
        {{.acknowledged = 0}, 0, "32"},
        {{.acknowledged = 0}, f->druk, "3"},
        {{.acknowledged = 1, .kind = "incident", .incident = inc}, 0, "4"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        assert_dz_ok(store_notification_list(f->s, cases[k].only_org, &cases[k].fl, &o, &e), e);
        char got[16] = "";
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(o, "items"), i, v)
        {
            const char *t = S(v, "ticket");
            got[i] = t[strlen(t) - 1];
        }
        if (strcmp(got, cases[k].want) != 0)
            fail_msg("case %zu: got '%s', want '%s'", k, got, cases[k].want);
        assert_true(json_is_null(json_object_get(o, "next_cursor")));
        json_decref(o);
    }
    /* paging */
    notification_filter pf = {.acknowledged = -1, .limit = 3};
    assert_dz_ok(store_notification_list(f->s, 0, &pf, &o, &e), e);
    assert_int_equal(json_array_size(json_object_get(o, "items")), 3);
    char cursor[32];
    snprintf(cursor, sizeof cursor, "%s", S(o, "next_cursor"));
    json_decref(o);
    pf.cursor = cursor;
    assert_dz_ok(store_notification_list(f->s, 0, &pf, &o, &e), e);
    assert_int_equal(json_array_size(json_object_get(o, "items")), 1);
    assert_string_equal(S(json_array_get(json_object_get(o, "items"), 0), "ticket"), "BTCIRT-N-2026-000001");
    assert_true(json_is_null(json_object_get(o, "next_cursor")));
    json_decref(o);
    /* bad values */
    notification_filter bad[] = {{.acknowledged = -1, .status = "lost"}, {.acknowledged = -1, .kind = "sms"},
                                 {.acknowledged = 2}, {.acknowledged = -1, .limit = 1001},
                                 {.acknowledged = -1, .cursor = "abc"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        assert_dz_fails(store_notification_list(f->s, 0, &bad[k], &o, &e), DZ_EINVAL, e);
    assert_dz_ok(store_notification_list(f->s, 0, NULL, &o, &e), e);
    assert_int_equal(json_array_size(json_object_get(o, "items")), 4);
    json_decref(o);
    free(inc);
}

/* An organisation with notifications cannot be deleted; its watermarks go with it otherwise. */
static void test_delete_refused(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    int64_t upto = add_events(f, f->tiny, 1);
    notify_new d = digest("BTCIRT-N-2026-000001", f->tiny, "x@tiny.example.bt", 0, upto);
    queue_ok(f, &d, 1, NULL);
    assert_dz_fails(store_constituent_delete(f->s, &f->sys, "tiny-org", &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "1 notification");
    assert_dz_fails(store_constituent_delete(f->s, &f->sys, "druk-bank", &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "1 user");
    /* without notifications: the watermark goes with the organisation */
    put_org(f, "{\"short_name\":\"gone-org\",\"name\":\"Gone\"}");
    int64_t gone;
    assert_dz_ok(store_constituent_id(f->s, "gone-org", &gone, &e), e);
    db *dd;
    db_stmt *st;
    assert_dz_ok(db_open(f->url, &dd, &e), e);
    assert_dz_ok(db_prepare(dd, "INSERT INTO notify_cursors(org_id, email, last_event_id, last_digest_at) "
                                "VALUES (?, 'x@gone.example.bt', 7, 0)", &st, &e), e);
    db_bind_int(st, 1, gone);
    assert_dz_ok(db_run(st, &e), e);
    db_close(dd);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM notify_cursors"), 2);
    assert_dz_ok(store_constituent_delete(f->s, &f->sys, "gone-org", &e), e);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM notify_cursors"), 1);
}

int main(int argc, char **argv)
{
    const char *url = getenv("DZONG_TEST_DB");
    bool want_pg = argc > 1 && strcmp(argv[1], "--postgres") == 0;
    if (url && *url) {
        if (strncmp(url, "postgres://", 11) != 0 && strncmp(url, "postgresql://", 13) != 0) {
            fprintf(stderr, "test_store_notify: DZONG_TEST_DB must be a postgres:// URL (unset: SQLite files)\n");
            return 1;
        }
        pg_url = url;
    } else if (want_pg) {
        fprintf(stderr, "test_store_notify --postgres: DZONG_TEST_DB is not set; give it the URL of an empty "
                        "PostgreSQL database the tests may wipe\n");
        return 1;
    }
    fprintf(stderr, "test_store_notify: database %s\n", pg_url ? "PostgreSQL (DZONG_TEST_DB)" : "SQLite");
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_due_and_events),  TEST(test_queue_watermark),  TEST(test_queue_batch),
        TEST(test_reserve_tickets), TEST(test_incident_notice),  TEST(test_outbox_cycle),
        TEST(test_outbox_takeover), TEST(test_outbox_claimants), TEST(test_ack_and_list),
        TEST(test_delete_refused),
    };
#undef TEST
    return cmocka_run_group_tests(tests, NULL, NULL);
}
