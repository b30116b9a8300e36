/*
 * `dzong db copy` (store_copy): a store populated through the store API
 * (users, a token, sessions, incidents through phases, merges with an
 * incident pointing at a later one, notes, tasks, reports, the audit chain,
 * registry records with networks, AS numbers, domains and contacts, a member
 * organisation older than its parent, an upper-case short name that a
 * locale would sort elsewhere, an ingest of feed events with text that
 * COPY must escape, a repeat, a refused row)
 * plus bulk rows written straight into SQLite (so every table with a
 * composite or text key is read over several keyset pages) is copied, and
 *   - every table's row count and checksum agree, and so does what the API
 *     shows of the copy: every incident, note, task, timeline, report, user,
 *     constituent and audit entry, byte for byte;
 *   - the audit chain verifies on the copy and new writes continue its ids
 *     (and the registry's version, the events' ids and the dedup window),
 *     and the copy's registry index answers;
 *   - a second copy into the now non-empty destination is refused, as are
 *     sources at another schema version or with tables or columns the copy
 *     does not know; a row the destination rejects leaves it empty; a
 *     destination that alters rows fails the verification, naming the table.
 * Without arguments: SQLite -> SQLite (suite 'unit'). With --postgres (meson
 * test `copy-pg`, suite 'pg'): SQLite -> PostgreSQL -> SQLite, in a database
 * of its own created next to DZONG_TEST_DB (or DZONG_TEST_DB itself, which
 * must then be empty, when the role may not create databases).
 */
#include "unit.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include "lib/credentials.h"
#include "lib/pipeline.h"
#include "lib/request_decode.h"
#include "store/store.h"

#define T0 1772323200LL /* 2026-03-01T00:00:00Z */
#define BULK_TAGS 2500  /* > 2 pages of store_copy.c's PAGE_ROWS */
#define BULK_SESSIONS 1200

#define BULK_DAILY 1200 /* > 2 pages of event_daily's five-column key */
#define BULK_NETWORKS 1100 /* one organisation's networks: > 2 pages of a composite key with a text part */

static const store_scope ALL = {0, -1, false};

typedef struct fx {
    char dir[64], src_path[128], src_url[160], dst_path[128], dst_url[160], back_path[128], back_url[160];
    char pg_url[700], pg_db[64];
    PGconn *pg_admin; /* the connection that created pg_db, to drop it */
} fx;

static store_settings settings(void)
{
    store_settings st;
    memset(&st, 0, sizeof st);
    snprintf(st.id_prefix, sizeof st.id_prefix, "BTCIRT");
    due_policy_default(&st.due);
    return st;
}

static store *open_store(const char *url, bool migrate)
{
    store_settings st = settings();
    store *s;
    dz_err e = {0};
    assert_dz_ok(store_open(url, &st, &s, &e), e);
    if (migrate) {
        int applied, version;
        assert_dz_ok(store_migrate(s, &applied, &version, &e), e);
    }
    store_set_clock(s, T0);
    return s;
}

static principal user(store *s, const char *name)
{
    user_record u;
    dz_err e = {0};
    assert_dz_ok(store_user_get(s, name, &u, &e), e);
    return u.p;
}

static char *incident(store *s, const principal *who, const char *body)
{
    incident_fields f;
    dz_err e = {0};
    json_t *o;
    assert_dz_ok(decode_incident(body, strlen(body), true, &f, &e), e);
    assert_dz_ok(store_incident_create(s, who, &f, &o, &e), e);
    incident_fields_free(&f);
    char *id = strdup(json_string_value(json_object_get(o, "id")));
    json_decref(o);
    return id;
}

static void update(store *s, const principal *who, const char *id, const char *body)
{
    incident_fields f;
    dz_err e = {0};
    json_t *o;
    assert_dz_ok(decode_incident(body, strlen(body), false, &f, &e), e);
    assert_dz_ok(store_incident_update(s, who, &ALL, id, &f, &o, &e), e);
    incident_fields_free(&f);
    json_decref(o);
}

static void note(store *s, const principal *who, const char *id, const char *body, bool shared)
{
    note_input n = {.body = (char *)body, .shared = shared};
    dz_err e = {0};
    json_t *o;
    assert_dz_ok(store_note_add(s, who, &ALL, id, &n, &o, &e), e);
    json_decref(o);
}

static int64_t task(store *s, const principal *who, const char *id, const char *body)
{
    task_input t;
    dz_err e = {0};
    json_t *o;
    assert_dz_ok(decode_task(body, strlen(body), true, &t, &e), e);
    assert_dz_ok(store_task_add(s, who, &ALL, id, &t, &o, &e), e);
    task_input_free(&t);
    int64_t tid = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    return tid;
}

static char *report(store *s, const principal *who, const char *body)
{
    report_input r;
    dz_err e = {0};
    json_t *o;
    bool created;
    assert_dz_ok(decode_report(body, strlen(body), &r, &e), e);
    assert_dz_ok(store_report_create(s, who, &r, &o, &created, &e), e);
    report_input_free(&r);
    char *id = strdup(json_string_value(json_object_get(o, "id")));
    json_decref(o);
    return id;
}

static void merge(store *s, const principal *who, const char *survivor, const char *dup)
{
    dz_err e = {0};
    json_t *o;
    assert_dz_ok(store_incident_merge(s, who, &ALL, survivor, dup, &o, &e), e);
    json_decref(o);
}

/* A registry record from JSON through the real decoder, stored with put. */
static void put(store *s, const principal *who, store_put_mode mode, const char *body)
{
    json_error_t je;
    json_t *o = json_loads(body, 0, &je);
    if (!o)
        fail_msg("test JSON %s: %s", body, je.text);
    constituent_record r;
    dz_err e = {0};
    assert_dz_ok(constituent_from_json(o, NULL, &r, &e), e);
    json_decref(o);
    assert_dz_ok(store_constituent_put(s, who, &r, mode, NULL, NULL, &e), e);
    constituent_record_free(&r);
}

/* The registry's side of a deployment: full records, a member older than its parent, a big network list. */
static void populate_registry(store *s, const principal *sys)
{
    put(s, sys, STORE_PUT_CREATE, "{\"short_name\":\"fin-member\",\"name\":\"A member, made first\"}");
    put(s, sys, STORE_PUT_CREATE,
        "{\"short_name\":\"fin-cirt\",\"name\":\"Finance CIRT\",\"kind\":\"partner-cert\","
        "\"sector\":\"banking-finance\",\"tags\":[\"sectoral\",\"a_b\"],\"domains\":[\"fin.example.bt\"],"
        "\"contacts\":[{\"name\":\"D\\u00fcty 'desk'\",\"email\":\"desk@fin.example.bt\",\"role\":\"24x7\","
        "\"phone\":\"+975 2 123456\",\"language\":\"dz\",\"notify_interval\":\"hourly\",\"notify_format\":\"json\","
        "\"max_tlp\":\"AMBER+STRICT\"}]}");
    /* the member refers to a later row: the copy must set it after the parent's row is in */
    put(s, sys, STORE_PUT_REPLACE,
        "{\"short_name\":\"fin-member\",\"name\":\"A member, made first\",\"parent\":\"fin-cirt\","
        "\"cii\":true,\"cii_tier\":3}");
    /* an upper-case short name sorts first bytewise, not in a locale's order */
    char *body = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&body, &n);
    fprintf(m, "{\"short_name\":\"BT-Broadband\",\"name\":\"Broadband \\\"BT\\\"\",\"kind\":\"isp\","
               "\"sector\":\"ict-telecom\",\"cii\":true,\"cii_tier\":1,\"parent\":\"bhutan-telecom\","
               "\"asns\":[64512,\"AS4200000000\"],\"domains\":[\"bt.example.bt\",\"B\\u00fccher.example\"],"
               "\"contacts\":[{\"name\":\"NOC\",\"email\":\"noc@bt.example.bt\"},"
               "{\"name\":\"CISO\",\"email\":\"ciso@bt.example.bt\",\"role\":\"management\",\"pgp\":"
               "\"0123456789ABCDEF0123456789ABCDEF01234567\"}],\"networks\":[\"2001:db8::/32\"");
    for (int i = 0; i < BULK_NETWORKS; i++)
        fprintf(m, ",\"10.%d.%d.0/24\"", i / 256, i % 256);
    fprintf(m, "]}");
    fclose(m);
    put(s, sys, STORE_PUT_CREATE, body);
    free(body);
}

static void sql(const char *path, const char *text)
{
    sqlite3 *h;
    char *err = NULL;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    if (sqlite3_exec(h, text, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", text, err);
    sqlite3_close(h);
}

/* ---- feed events: a batch built by hand (the plain structs of lib/pipeline.h) ---- */

static size_t eb_text(event_batch *b, const char *s, size_t n)
{
    if (!s)
        return EB_NONE;
    size_t off = b->text.len;
    strbuf_append(&b->text, s, n);
    strbuf_append(&b->text, "", 1);
    return off;
}

static void eb_add(event_batch *b, uint64_t line, uint64_t hash, int64_t cid, const char *ip_key, const char *doc)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->rows = realloc(b->rows, b->cap * sizeof *b->rows);
        assert_non_null(b->rows);
    }
    event_batch_row *r = &b->rows[b->n++];
    memset(r, 0, sizeof *r);
    r->line = line;
    r->dedup_hash = hash;
    r->constituent_id = cid;
    r->time_source = line % 2 ? T0 - 60 : INT64_MIN;
    r->asn = line % 2 ? 64500 : 0;
    snprintf(r->ip_key, sizeof r->ip_key, "%s", ip_key ? ip_key : "");
    r->doc = eb_text(b, doc, strlen(doc));
    r->doc_len = strlen(doc);
    r->feed_name = eb_text(b, "scan-ssh", 8);
    r->taxonomy = eb_text(b, "vulnerable", 10);
    r->type = eb_text(b, "vulnerable-system", 17);
    r->identifier = line % 2 ? eb_text(b, "ssh", 3) : EB_NONE;
}

/* An ingest with events of two organisations and of nobody, a repeat, refused rows; on store s. */
static void populate_events(store *s)
{
    dz_err e = {0};
    int64_t druk;
    assert_dz_ok(store_constituent_id(s, "druk-bank", &druk, &e), e);
    ingest_claim c = {.kind = "file", .source = "/srv/feeds/2026-03-01-scan_ssh.csv", .key = "sha256:copy-test",
                      .feed = "shadowserver", .report = "scan_ssh", .node = "host:1"};
    ingest_state st;
    assert_dz_ok(store_ingest_claim(s, &c, &st, &e), e);
    event_batch b;
    memset(&b, 0, sizeof b);
    strbuf_init(&b.text);
    eb_add(&b, 1, 1, druk, "00000000000000000000ffffc0000201",
           "{\"extra.note\":\"tab\\there, newline\\nand \\\\ back\\u00fcber\",\"source.ip\":\"192.0.2.1\"}");
    eb_add(&b, 2, 0xfedcba9876543210ULL, 0, "20010db8000000000000000000000001", "{\"source.ip\":\"2001:db8::1\"}");
    eb_add(&b, 3, 1, druk, NULL, "{\"a repeat\":true}");
    eb_add(&b, 4, 4, druk, NULL, "{\"source.fqdn\":\"bank.example.bt\"}");
    const char raw[] = "x\t\"y\"\r\n\\z";
    b.bad = calloc(1, sizeof *b.bad);
    assert_non_null(b.bad);
    b.n_bad = b.cap_bad = 1;
    b.bad[0] = (event_batch_bad){5, eb_text(&b, "bad row", 7), eb_text(&b, raw, sizeof raw - 1), sizeof raw - 1};
    b.checkpoint = 5;
    store_batch_result r;
    assert_dz_ok(store_events_commit(s, st.id, "host:1", &b, &r, &e), e);
    assert_int_equal(r.stored, 3);
    assert_int_equal(r.duplicates, 1);
    assert_dz_ok(store_ingest_finish(s, st.id, "host:1", NULL, &e), e);
    free(b.rows);
    free(b.bad);
    strbuf_free(&b.text);
}

/* Notifications: a digest (its watermark) that was sent, an incident notice acknowledged, one still queued. */
static const char NOTE_MSG[] = "From: cirt@example.bt\r\nSubject: =?UTF-8?Q?=C3=BC?=\r\n\r\ntab\there \\ \"q\" \u00fcber\r\n";

static notify_new copy_notice(const char *kind, const char *ticket, int64_t org, const char *incident)
{
    static char mid[4][64];
    static int k;
    char *m = mid[k++ % 4];
    snprintf(m, 64, "<%s@cirt.example.bt>", ticket);
    notify_new n = {.kind = kind, .ticket = ticket, .message_id = m, .org_id = org, .recipient = "soc@bank.example.bt",
                    .subject = "Druk \u00fcber \"digest\"", .message = NOTE_MSG, .message_len = sizeof NOTE_MSG - 1,
                    .language = "en", .format = "csv", .tlp = "AMBER+STRICT", .is_signed = true, .incident = incident};
    if (strcmp(kind, "digest") == 0) {
        n.after_id = 0;
        n.upto_id = 3;
        n.events = 2;
        n.withheld = 1;
        n.period_from = T0 - 3600;
        n.period_to = T0;
        n.summary_json = "{\"by_type\":[{\"taxonomy\":\"vulnerable\",\"type\":\"vulnerable-system\",\"count\":2}]}";
    }
    return n;
}

static void populate_notifications(store *s, const char *incident, const principal *handler, const principal *dorji)
{
    dz_err e = {0};
    int64_t druk;
    assert_dz_ok(store_constituent_id(s, "druk-bank", &druk, &e), e);
    notify_new d = copy_notice("digest", "BTCIRT-N-2026-000001", druk, NULL);
    notify_queue_result r;
    assert_dz_ok(store_notify_queue(s, handler, &d, 1, NULL, &r, &e), e);
    assert_int_equal(r.queued, 1);
    notify_new two[2] = {copy_notice("incident", "BTCIRT-N-2026-000002", druk, incident),
                         copy_notice("incident", "BTCIRT-N-2026-000003", druk, incident)};
    two[1].recipient_name = "Second \u00fc";
    notify_incident_note note = {.incident = incident, .text = "notified the bank", .scope = &ALL};
    assert_dz_ok(store_notify_queue(s, handler, two, 2, &note, &r, &e), e);
    outbox_item *items;
    size_t n;
    assert_dz_ok(store_outbox_claim(s, "host:1", 2, 60, NULL, 0, &items, &n, &e), e);
    assert_int_equal(n, 2);
    assert_dz_ok(store_outbox_record(s, items[0].id, "host:1", OUTBOX_SENT, 250, NULL, 0, &e), e);
    assert_dz_ok(store_outbox_record(s, items[1].id, "host:1", OUTBOX_RETRY, 421, "421 busy", T0 + 900, &e), e);
    outbox_items_free(items, n);
    assert_dz_ok(store_notification_ack(s, dorji, "BTCIRT-N-2026-000002", NULL, &e), e);
}

/* A deployment with something in every table, through the store API, then bulk rows straight into SQLite. */
static void populate(const char *url, const char *path)
{
    dz_err e = {0};
    store *s = open_store(url, true);
    principal sys = {.role = ROLE_ADMIN};
    snprintf(sys.username, sizeof sys.username, "system");
    assert_dz_ok(store_constituent_create(s, &sys, "druk-bank", "Druk Bank", NULL, &e), e);
    assert_dz_ok(store_constituent_create(s, &sys, "bhutan-telecom", "Bhutan Telecom \"BT\"", NULL, &e), e);
    assert_dz_ok(store_constituent_create(s, &sys, "partner-cert", "A partner CERT", NULL, &e), e);
    populate_registry(s, &sys);
    char hash[PASSWORD_HASH_LEN];
    assert_dz_ok(password_hash("correct horse battery staple", hash, &e), e);
    assert_dz_ok(store_user_create(s, &sys, "admin", ROLE_ADMIN, NULL, hash, &e), e);
    assert_dz_ok(store_user_create(s, &sys, "tashi", ROLE_HANDLER, NULL, NULL, &e), e);
    assert_dz_ok(store_user_create(s, &sys, "pema", ROLE_ANALYST, NULL, NULL, &e), e);
    assert_dz_ok(store_user_create(s, &sys, "dorji", ROLE_CONSTITUENT, "druk-bank", NULL, &e), e);
    assert_dz_ok(store_user_create(s, &sys, "pcert", ROLE_PARTNER, "partner-cert", NULL, &e), e);
    principal admin = user(s, "admin"), tashi = user(s, "tashi"), dorji = user(s, "dorji");
    assert_dz_ok(store_user_set_disabled(s, &admin, "pema", true, &e), e);
    char secret[SECRET_TEXT_LEN], th[SECRET_HASH_HEX_LEN + 1];
    secret_generate("dzt_", secret);
    secret_hash(secret, th);
    assert_dz_ok(store_token_create(s, &admin, "tashi", "ci", th, &e), e);
    secret_generate("dzs_", secret);
    secret_hash(secret, th);
    assert_dz_ok(store_session_create(s, th, tashi.user_id, "csrf-token-1", T0 + 3600, &e), e);

    char *a = incident(s, &tashi, "{\"title\":\"Phishing: 'quotes' and \\\"more\\\"\",\"description\":\"line 1\\nline 2 "
                                  "\\u00fcber \\u0f56\\u0f7c\\u0f51\",\"classification\":{\"type\":\"phishing\"},"
                                  "\"severity\":\"high\",\"constituents\":[\"druk-bank\",\"bhutan-telecom\"],"
                                  "\"assignee\":\"tashi\",\"tags\":[\"Zeta\",\"alpha\",\"\\u00fcnicode\"]}");
    char *b = incident(s, &admin, "{\"title\":\"RED one\",\"tlp\":\"RED\",\"assignee\":\"tashi\"}");
    char *c = incident(s, &tashi, "{\"title\":\"the duplicate, older\"}");
    char *d = incident(s, &tashi, "{\"title\":\"another duplicate\",\"constituents\":[\"druk-bank\"]}");
    store_set_clock(s, T0 + 600);
    char *f = incident(s, &tashi, "{\"title\":\"the survivor, newer\",\"tags\":[\"b\"]}");
    update(s, &tashi, a, "{\"status\":\"triage\"}");
    update(s, &tashi, a, "{\"status\":\"analysis\",\"severity\":\"critical\",\"due_at\":\"2026-03-09T00:00:00Z\"}");
    note(s, &tashi, a, "internal: '; DROP TABLE incidents; --", false);
    note(s, &tashi, a, "shared with the bank", true);
    note(s, &tashi, c, "", false);
    int64_t t1 = task(s, &tashi, a, "{\"title\":\"Block the domain\",\"assignee\":\"tashi\",\"due_at\":\"2026-03-05T00:00:00Z\"}");
    task(s, &tashi, d, "{\"title\":\"moves with the merge\"}");
    task_input tu;
    const char *tb = "{\"status\":\"done\",\"due_at\":null}";
    assert_dz_ok(decode_task(tb, strlen(tb), false, &tu, &e), e);
    json_t *o;
    assert_dz_ok(store_task_update(s, &tashi, &ALL, a, t1, &tu, &o, &e), e);
    task_input_free(&tu);
    json_decref(o);
    char rb[300];
    snprintf(rb, sizeof rb, "{\"source\":\"web\",\"source_ref\":\"form-1\",\"title\":\"SMS\",\"body\":\"\","
                            "\"reporter\":{\"name\":\"A citizen\",\"email\":\"c@example.bt\"},\"incident\":\"%s\"}", a);
    free(report(s, &admin, rb));
    char *r2 = report(s, &dorji, "{\"source\":\"api\",\"source_ref\":\"bank-77\"}");
    assert_dz_ok(store_report_link(s, &tashi, &ALL, r2, b, &o, &e), e);
    json_decref(o);
    free(r2);
    merge(s, &tashi, f, c); /* c.duplicate_of = f, a later row: the copy must not need it earlier */
    merge(s, &tashi, a, d);
    populate_events(s);
    populate_notifications(s, a, &tashi, &dorji);
    free(a), free(b), free(c), free(d), free(f);
    store_close(s);

    /* bulk: several pages of a composite key with a text part, and of a text key */
    char *bulk = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&bulk, &n);
    fprintf(m, "BEGIN;");
    for (int i = 0; i < BULK_TAGS; i++)
        fprintf(m, "INSERT INTO incident_tags(incident_id, tag) VALUES (%d, '%s-%04d');", 1 + i % 2,
                i % 3 ? "bulk" : "Bulk", i);
    for (int i = 0; i < BULK_SESSIONS; i++)
        fprintf(m, "INSERT INTO sessions(id_hash, user_id, csrf_token, created_at, expires_at) "
                   "VALUES ('%s%064x', 2, 'c', %lld, %lld);", i % 2 ? "A" : "b", i, T0, T0 + 7200);
    for (int i = 0; i < BULK_DAILY; i++) /* a key of five columns, four of them text, over several pages */
        fprintf(m, "INSERT INTO event_daily(day, feed, taxonomy, type, constituent_id, count) "
                   "VALUES ('2026-02-%02d', '%s', 'vulnerable', 'type-%d', %d, %d);", 1 + i % 28,
                i % 2 ? "Feed" : "feed", i / 56, i % 3, i + 1);
    fprintf(m, "COMMIT;");
    fclose(m);
    sql(path, bulk);
    free(bulk);
}

/* ---- comparing two deployments through the API ---- */

static char *dump(json_t *o)
{
    char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(o);
    return s;
}

static void same(const char *what, char *a, char *b)
{
    if (!a || !b || strcmp(a, b) != 0)
        fail_msg("%s differs:\n  source: %.600s\n  copy:   %.600s", what, a ? a : "(null)", b ? b : "(null)");
    free(a);
    free(b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Sorts an incident's tags and constituents bytewise. The store lists them
 * ORDER BY the text, that is in the database's collation: on a PostgreSQL
 * database with a locale (en-US here) "alpha" comes before "Zeta", on SQLite
 * and C.UTF-8 after. The copy itself is collation-proof; the store's orders
 * are not, and that is not what this test is about.
 */
static void sort_lists(json_t *inc)
{
    static const char *const keys[] = {"tags", "constituents"};
    for (size_t k = 0; k < 2; k++) {
        json_t *arr = json_object_get(inc, keys[k]);
        size_t n = json_array_size(arr);
        if (!n)
            continue;
        const char **v = xmalloc(n * sizeof *v);
        for (size_t i = 0; i < n; i++)
            v[i] = json_string_value(json_array_get(arr, i));
        qsort(v, n, sizeof *v, cmp_str);
        json_t *sorted = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(sorted, json_string(v[i]));
        free(v);
        json_object_set_new(inc, keys[k], sorted);
    }
}

/* Everything the API shows of store s, as text. */
static void views(store *s, char **out, size_t n_out)
{
    dz_err e = {0};
    json_t *o, *items;
    size_t k = 0;
    memset(out, 0, n_out * sizeof *out);
    incident_filter f = {.limit = 500, .sort = "created_at"};
    assert_dz_ok(store_incident_list(s, &ALL, &f, &o, &e), e);
    items = json_incref(json_object_get(o, "items"));
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
        sort_lists(it);
    out[k++] = dump(o);
    json_array_foreach(items, i, it) {
        const char *id = json_string_value(json_object_get(it, "id"));
        json_t *all = json_object();
        assert_dz_ok(store_incident_get(s, &ALL, id, &o, &e), e);
        sort_lists(o);
        json_object_set_new(all, "incident", o);
        assert_dz_ok(store_note_list(s, &ALL, id, &o, &e), e);
        json_object_set_new(all, "notes", o);
        assert_dz_ok(store_task_list(s, &ALL, id, &o, &e), e);
        json_object_set_new(all, "tasks", o);
        assert_dz_ok(store_timeline_list(s, &ALL, id, &o, &e), e);
        json_object_set_new(all, "timeline", o);
        assert_true(k < n_out);
        out[k++] = dump(all);
    }
    json_decref(items);
    assert_true(k + 10 <= n_out);
    assert_dz_ok(store_report_list(s, 0, NULL, 500, NULL, &o, &e), e);
    out[k++] = dump(o);
    assert_dz_ok(store_user_list(s, &o, &e), e);
    out[k++] = dump(o);
    assert_dz_ok(store_constituent_list(s, 0, NULL, &o, &e), e);
    out[k++] = dump(o);
    int64_t version;
    assert_dz_ok(store_registry_version(s, &version, &e), e);
    assert_true(version > 0);
    out[k++] = dump(json_integer(version));
    assert_dz_ok(store_audit_list(s, 0, 100000, &o, &e), e);
    out[k++] = dump(o);
    event_filter ef = {.limit = 1000};
    assert_dz_ok(store_event_list(s, 0, &ef, &o, &e), e);
    out[k++] = dump(o);
    assert_dz_ok(store_ingest_list(s, NULL, 0, &o, &e), e);
    out[k++] = dump(o);
    assert_dz_ok(store_quarantine_list(s, 0, NULL, 0, &o, &e), e);
    out[k++] = dump(o);
    assert_dz_ok(store_event_stats(s, 0, NULL, NULL, &o, &e), e);
    out[k++] = dump(o);
    assert_dz_ok(store_notification_list(s, 0, NULL, &o, &e), e);
    out[k++] = dump(o);
}

#define N_VIEWS 20

static void same_views(const char *src_url, const char *dst_url)
{
    char *a[N_VIEWS], *b[N_VIEWS];
    store *s = open_store(src_url, false), *d = open_store(dst_url, false);
    views(s, a, N_VIEWS);
    views(d, b, N_VIEWS);
    for (size_t i = 0; i < N_VIEWS; i++)
        if (a[i] || b[i])
            same("API view", a[i], b[i]);
    store_close(s);
    store_close(d);
}

static int64_t sqlite_count(const char *path, const char *table)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    char q[128];
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM %s", table);
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

static void report_ok(const store_copy_report *r, const char *src_path)
{
    assert_true(r->copied);
    assert_int_equal(r->mismatches, 0);
    assert_true(r->n >= 15);
    assert_true(r->schema_version >= 3);
    for (size_t i = 0; i < r->n; i++) {
        const store_copy_table *t = &r->t[i];
        if (!t->ok || t->src_rows != t->dst_rows || strcmp(t->src_sha256, t->dst_sha256) != 0)
            fail_msg("%s: %lld rows %s, copy %lld rows %s", t->name, (long long)t->src_rows, t->src_sha256,
                     (long long)t->dst_rows, t->dst_sha256);
        assert_int_equal(strlen(t->src_sha256), 64);
        if (src_path)
            assert_int_equal(t->src_rows, sqlite_count(src_path, t->name));
    }
}

static const store_copy_table *table(const store_copy_report *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->t[i].name, name) == 0)
            return &r->t[i];
    fail_msg("no table %s in the report", name);
    return NULL;
}

static void audit_intact(const char *url, int64_t want)
{
    store *s = open_store(url, false);
    int64_t checked, bad;
    char why[256];
    dz_err e = {0};
    assert_dz_ok(store_audit_verify(s, &checked, &bad, why, sizeof why, &e), e);
    if (bad)
        fail_msg("audit chain of the copy broken at %lld: %s", (long long)bad, why);
    assert_int_equal(checked, want);
    store_close(s);
}

/* New writes on the copy: every id (identity sequences, id_sequences) continues after the copied ones. */
static void writes_continue(const char *url)
{
    store *s = open_store(url, false);
    dz_err e = {0};
    json_t *o;
    principal admin = user(s, "admin");
    assert_dz_ok(store_constituent_create(s, &admin, "new-org", "New Org", &o, &e), e);
    json_decref(o);
    int64_t v0, v1;
    assert_dz_ok(store_registry_version(s, &v0, &e), e);
    put(s, &admin, STORE_PUT_CREATE, "{\"short_name\":\"new-isp\",\"name\":\"New ISP\",\"parent\":\"fin-cirt\","
                                     "\"networks\":[\"192.0.2.0/24\"],\"contacts\":[{\"name\":\"N\","
                                     "\"email\":\"n@new.example.bt\"}]}");
    assert_dz_ok(store_registry_version(s, &v1, &e), e);
    assert_int_equal(v1, v0 + 1); /* the version goes on from the copied one */
    registry_index *ix;
    assert_dz_ok(store_registry_load(s, &ix, &e), e);
    net_prefix a;
    assert_dz_ok(ip_address_parse("10.4.75.1", &a, &e), e); /* one of BT-Broadband's, from the copy */
    const registry_claim *c = registry_lookup_ip(ix, &a);
    assert_non_null(c);
    assert_string_equal(registry_org_name(ix, c->org_ids[0]), "BT-Broadband");
    assert_dz_ok(ip_address_parse("192.0.2.9", &a, &e), e);
    c = registry_lookup_ip(ix, &a);
    assert_non_null(c);
    assert_string_equal(registry_org_name(ix, c->org_ids[0]), "new-isp");
    registry_index_free(ix);
    assert_dz_ok(store_user_create(s, &admin, "newbie", ROLE_HANDLER, NULL, NULL, &e), e);
    char *id = incident(s, &admin, "{\"title\":\"after the copy\",\"tags\":[\"new\"]}");
    assert_string_equal(id, "BTCIRT-2026-00006");
    note(s, &admin, id, "a note", false);
    task(s, &admin, id, "{\"title\":\"a task\"}");
    char *r = report(s, &admin, "{\"source\":\"web\",\"source_ref\":\"after-copy\"}");
    assert_string_equal(r, "BTCIRT-R-2026-00003");
    free(r);
    free(id);
    /* events: ids go on, and the dedup window came along (hash 1 is a duplicate, 7 new) */
    ingest_claim ic = {.kind = "api", .source = "batch 1", .key = "batch:after-copy", .feed = "api", .node = "n"};
    ingest_state ist;
    assert_dz_ok(store_ingest_claim(s, &ic, &ist, &e), e);
    assert_int_equal(ist.state, INGEST_NEW);
    assert_int_equal(ist.id, 2);
    ic.key = "sha256:copy-test";
    ingest_state done;
    assert_dz_ok(store_ingest_claim(s, &ic, &done, &e), e);
    assert_int_equal(done.state, INGEST_DONE);
    assert_int_equal(done.events, 3);
    event_batch b;
    memset(&b, 0, sizeof b);
    strbuf_init(&b.text);
    eb_add(&b, 1, 1, 0, NULL, "{}");
    eb_add(&b, 2, 7, 0, NULL, "{}");
    b.checkpoint = 2;
    store_batch_result br;
    assert_dz_ok(store_events_commit(s, ist.id, "n", &b, &br, &e), e);
    assert_int_equal(br.stored, 1);
    assert_int_equal(br.duplicates, 1);
    free(b.rows);
    strbuf_free(&b.text);
    event_filter ef = {.limit = 1};
    assert_dz_ok(store_event_list(s, 0, &ef, &o, &e), e);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(o, "items"), 0), "id")), 4);
    json_decref(o);
    /* notifications: ids go on, and the copied watermark holds (a digest from 0 again is a conflict) */
    int64_t druk;
    assert_dz_ok(store_constituent_id(s, "druk-bank", &druk, &e), e);
    notify_new nd[2] = {copy_notice("digest", "BTCIRT-N-2026-000004", druk, NULL),
                        copy_notice("digest", "BTCIRT-N-2026-000005", druk, NULL)};
    nd[1].after_id = 3;
    nd[1].upto_id = 4;
    notify_queue_result qr;
    assert_dz_ok(store_notify_queue(s, &admin, nd, 2, NULL, &qr, &e), e);
    assert_int_equal(qr.conflicts, 1);
    assert_int_equal(qr.queued, 1);
    notification_filter nf = {.acknowledged = -1, .limit = 1};
    assert_dz_ok(store_notification_list(s, 0, &nf, &o, &e), e);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o, "items"), 0), "ticket")),
                        "BTCIRT-N-2026-000005");
    json_decref(o);
    outbox_item *items;
    size_t n;
    store_set_clock(s, T0 + 700);
    assert_dz_ok(store_outbox_claim(s, "host:2", 10, 60, NULL, 0, &items, &n, &e), e);
    assert_int_equal(n, 2); /* the new one (due at T0), the copied queued one (T0 + 600); the retry is later */
    assert_int_equal(items[0].id, 4);
    assert_int_equal(items[1].id, 3);
    outbox_items_free(items, n);
    store_close(s);
}

static dz_code copy(const char *src, const char *dst, store_copy_report *r, dz_err *e)
{
    store_settings st = settings();
    return store_copy(src, dst, &st, NULL, NULL, r, e);
}

/* ---- fixture ---- */

static void unlink_db(const char *path)
{
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static int setup(void **state)
{
    dz_err e = {0};
    assert_dz_ok(credentials_init(&e), e);
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/dzong-copy-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->src_path, sizeof f->src_path, "%s/src.db", f->dir);
    snprintf(f->dst_path, sizeof f->dst_path, "%s/dst.db", f->dir);
    snprintf(f->back_path, sizeof f->back_path, "%s/back.db", f->dir);
    snprintf(f->src_url, sizeof f->src_url, "sqlite:%s", f->src_path);
    snprintf(f->dst_url, sizeof f->dst_url, "sqlite:%s", f->dst_path);
    snprintf(f->back_url, sizeof f->back_url, "sqlite:%s", f->back_path);
    populate(f->src_url, f->src_path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    const char *paths[] = {f->src_path, f->dst_path, f->back_path};
    for (size_t i = 0; i < 3; i++)
        unlink_db(paths[i]);
    char p[200];
    snprintf(p, sizeof p, "%s/empty.db", f->dir);
    unlink_db(p);
    if (rmdir(f->dir) != 0)
        fprintf(stderr, "test_copy: %s left behind\n", f->dir);
    if (f->pg_admin) {
        char q[128];
        snprintf(q, sizeof q, "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->pg_db);
        PQclear(PQexec(f->pg_admin, q));
        PQfinish(f->pg_admin);
    }
    free(f);
    return 0;
}

/* ---- SQLite -> SQLite ---- */

static void test_copy_sqlite(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    store_copy_report *r = calloc(1, sizeof *r), *r2 = calloc(1, sizeof *r2);
    assert_dz_ok(copy(f->src_url, f->dst_url, r, &e), e);
    report_ok(r, f->src_path);
    assert_int_equal(table(r, "incident_tags")->src_rows, BULK_TAGS + 4); /* Zeta, alpha, ünicode, b */
    assert_int_equal(table(r, "sessions")->src_rows, BULK_SESSIONS + 1);
    assert_int_equal(table(r, "incidents")->src_rows, 5);
    assert_int_equal(table(r, "audit_head")->src_rows, 1);
    assert_int_equal(table(r, "constituents")->src_rows, 6);
    assert_int_equal(table(r, "constituent_networks")->src_rows, BULK_NETWORKS + 1);
    assert_int_equal(table(r, "constituent_asns")->src_rows, 2);
    assert_int_equal(table(r, "constituent_domains")->src_rows, 3);
    assert_int_equal(table(r, "constituent_contacts")->src_rows, 3);
    assert_int_equal(table(r, "registry_state")->src_rows, 1);
    assert_int_equal(table(r, "notifications")->src_rows, 3);
    assert_int_equal(table(r, "notify_cursors")->src_rows, 1);
    same_views(f->src_url, f->dst_url);
    audit_intact(f->dst_url, table(r, "audit_log")->src_rows);

    /* the copy's checksums are a function of the content: the same source gives the same sums */
    assert_dz_ok(copy(f->src_url, f->back_url, r2, &e), e);
    report_ok(r2, f->src_path);
    for (size_t i = 0; i < r->n; i++)
        assert_string_equal(r->t[i].src_sha256, r2->t[i].src_sha256);

    /* a second copy into the now non-empty destination is refused, and changes nothing */
    memset(&e, 0, sizeof e);
    assert_dz_fails(copy(f->src_url, f->dst_url, r2, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "not empty");
    assert_false(r2->copied);
    same_views(f->src_url, f->dst_url);

    /* writes on the copy continue every id; and a copy of the changed copy differs where it changed */
    writes_continue(f->dst_url);
    unlink_db(f->back_path);
    assert_dz_ok(copy(f->dst_url, f->back_url, r2, &e), e);
    report_ok(r2, f->dst_path);
    assert_string_equal(table(r2, "id_sequences")->src_sha256, table(r2, "id_sequences")->dst_sha256);
    assert_string_not_equal(table(r2, "incidents")->src_sha256, table(r, "incidents")->src_sha256);
    assert_string_not_equal(table(r2, "audit_log")->src_sha256, table(r, "audit_log")->src_sha256);
    assert_string_equal(table(r2, "incident_constituents")->src_sha256,
                        table(r, "incident_constituents")->src_sha256);
    audit_intact(f->back_url, table(r2, "audit_log")->src_rows);
    free(r);
    free(r2);
}

static void test_copy_refusals(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    store_copy_report *r = calloc(1, sizeof *r);
    assert_dz_fails(copy(f->src_url, f->src_url, r, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "same database");

    /* a database without dzong's schema is no source (and is not written to) */
    char p[200], url[220];
    snprintf(p, sizeof p, "%s/empty.db", f->dir);
    snprintf(url, sizeof url, "sqlite:%s", p);
    sql(p, "CREATE TABLE t(x)");
    assert_dz_fails(copy(url, f->dst_url, r, &e), DZ_EDB, e);
    assert_contains(e.msg, "the source has no dzong schema");
    assert_int_equal(sqlite_count(p, "sqlite_master"), 1);

    /* a source at an older schema version: migrate it first */
    sql(f->src_path, "DELETE FROM schema_version WHERE version = (SELECT MAX(version) FROM schema_version)");
    assert_dz_fails(copy(f->src_url, f->dst_url, r, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "migrate");
    sql(f->src_path, "INSERT INTO schema_version(version, applied_at) SELECT MAX(version) + 1, 0 FROM schema_version");

    /* a table the copy does not know makes it refuse rather than leave it behind */
    sql(f->src_path, "CREATE TABLE extra(x)");
    assert_dz_fails(copy(f->src_url, f->dst_url, r, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "'extra'");
    sql(f->src_path, "DROP TABLE extra");
    /* ... and so does a column it does not know */
    sql(f->src_path, "ALTER TABLE incident_notes ADD COLUMN extra TEXT");
    assert_dz_fails(copy(f->src_url, f->dst_url, r, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "incident_notes has 7 columns");
    sql(f->src_path, "ALTER TABLE incident_notes DROP COLUMN extra");

    /* nothing of those attempts reached the destination: the copy still goes through */
    assert_dz_ok(copy(f->src_url, f->dst_url, r, &e), e);
    report_ok(r, f->src_path);
    free(r);
}

static void test_copy_failures(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    store_copy_report *r = calloc(1, sizeof *r);
    /* a row the destination refuses (a tag of no incident, written with foreign keys off): all or nothing */
    sql(f->src_path, "INSERT INTO incident_tags(incident_id, tag) VALUES (999, 'orphan')");
    assert_dz_fails(copy(f->src_url, f->dst_url, r, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "copying incident_tags");
    assert_false(r->copied);
    static const char *const tables[] = {"constituents", "users", "incidents", "incident_tags", "audit_log"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(sqlite_count(f->dst_path, tables[i]), 0);
    sql(f->src_path, "DELETE FROM incident_tags WHERE incident_id = 999");

    /* a destination that does not keep what it was given: committed, but the verification says where */
    sql(f->dst_path, "CREATE TRIGGER shout AFTER INSERT ON incident_notes "
                     "BEGIN UPDATE incident_notes SET body = upper(body) WHERE id = NEW.id; END");
    assert_dz_fails(copy(f->src_url, f->dst_url, r, &e), DZ_EDB, e);
    assert_contains(e.msg, "1 table of the destination differ");
    assert_true(r->copied);
    assert_int_equal(r->mismatches, 1);
    for (size_t i = 0; i < r->n; i++) {
        bool notes = strcmp(r->t[i].name, "incident_notes") == 0;
        assert_int_equal(r->t[i].ok, !notes);
        assert_int_equal(r->t[i].src_rows, r->t[i].dst_rows);
        if (notes)
            assert_string_not_equal(r->t[i].src_sha256, r->t[i].dst_sha256);
    }
    free(r);
}

/* ---- SQLite -> PostgreSQL -> SQLite ---- */

static const char *test_db;

/* url with its database name replaced by name. */
static void with_dbname(const char *url, const char *name, char *out, size_t n)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    const char *slash = strchr(host, '/'), *q = strchr(host, '?');
    if (!slash || (q && slash > q))
        slash = q ? q : host + strlen(host);
    const char *rest = strchr(slash, '?');
    snprintf(out, n, "%.*s/%s%s", (int)(slash - url), url, name, rest ? rest : "");
}

static void test_copy_postgres(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    /* a database of our own next to DZONG_TEST_DB: other tests of the suite wipe that one */
    snprintf(f->pg_db, sizeof f->pg_db, "dzong_copy_%d", (int)getpid());
    f->pg_admin = PQconnectdb(test_db);
    if (PQstatus(f->pg_admin) != CONNECTION_OK)
        fail_msg("DZONG_TEST_DB: cannot connect: %s", PQerrorMessage(f->pg_admin));
    /* with a collation that is not bytewise where the server allows it (PostgreSQL 15+ with ICU): en-US
       sorts "alpha" before "Zeta", bytes the other way, and the copy must read both backends alike */
    char q[200];
    snprintf(q, sizeof q, "CREATE DATABASE %s TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'",
             f->pg_db);
    PGresult *res = PQexec(f->pg_admin, q);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        PQclear(res);
        snprintf(q, sizeof q, "CREATE DATABASE %s", f->pg_db);
        res = PQexec(f->pg_admin, q);
    }
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        with_dbname(test_db, f->pg_db, f->pg_url, sizeof f->pg_url);
    } else {
        fprintf(stderr, "test_copy: cannot create a database (%s); using DZONG_TEST_DB, which must be empty\n",
                PQresultErrorMessage(res));
        snprintf(f->pg_url, sizeof f->pg_url, "%s", test_db);
        PQfinish(f->pg_admin);
        f->pg_admin = NULL;
    }
    PQclear(res);

    store_copy_report *to_pg = calloc(1, sizeof *to_pg), *back = calloc(1, sizeof *back);
    assert_dz_ok(copy(f->src_url, f->pg_url, to_pg, &e), e);
    report_ok(to_pg, f->src_path);
    same_views(f->src_url, f->pg_url);
    audit_intact(f->pg_url, table(to_pg, "audit_log")->src_rows);

    assert_dz_ok(copy(f->pg_url, f->back_url, back, &e), e);
    report_ok(back, f->src_path); /* PostgreSQL held exactly the source's rows */
    for (size_t i = 0; i < to_pg->n; i++) /* one checksum per table on all three databases */
        assert_string_equal(to_pg->t[i].src_sha256, back->t[i].dst_sha256);
    same_views(f->src_url, f->back_url);

    memset(&e, 0, sizeof e);
    assert_dz_fails(copy(f->src_url, f->pg_url, back, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "not empty");
    /* identity sequences were moved past the copied ids */
    writes_continue(f->pg_url);
    audit_intact(f->pg_url, table(to_pg, "audit_log")->src_rows + 9); /* 8 writes and an ingest.start */
    free(to_pg);
    free(back);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--postgres") == 0) {
        test_db = getenv("DZONG_TEST_DB");
        if (!test_db || strncmp(test_db, "postgres", 8) != 0) {
            fprintf(stderr, "test_copy --postgres: set DZONG_TEST_DB to a postgres:// URL "
                            "(e.g. from tests/pg/cluster.sh start DIR)\n");
            return 1;
        }
        const struct CMUnitTest pg[] = {cmocka_unit_test_setup_teardown(test_copy_postgres, setup, teardown)};
        return cmocka_run_group_tests_name("copy-pg", pg, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_copy_sqlite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_failures, setup, teardown),
    };
    return cmocka_run_group_tests_name("copy", tests, NULL, NULL);
}
