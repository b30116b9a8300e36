/*
 * test_notify.c: notify/notify.c without a relay: digest rounds (dry run and
 * queued) against a temporary SQLite store with two constituents and their
 * events, the outbox's retry and give-up states against a relay that is not
 * there, a dead holder's rows taken over, incident notices, and template
 * errors. The store's clock is pinned, so retry times are exact.
 */
#include "unit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "lib/constituent.h"
#include "lib/request_decode.h"
#include "lib/timeutil.h"
#include "notify/notify.h"

#define T0 1800000000LL /* 2027-01-15T08:00:00Z */

typedef struct {
    char dir[64], url[128], tpl[96], gpg[96];
    store *s;
    principal sys, handler;
    notify_config c;
} fx;

static const char *const orgs[] = {
    "{\"short_name\": \"alpha\", \"name\": \"Alpha Ministry\", \"networks\": [\"192.0.2.0/24\"], \"contacts\": ["
    " {\"name\": \"Alpha SOC\", \"email\": \"soc@alpha.example\", \"notify_interval\": \"immediate\"},"
    " {\"name\": \"Alpha Help\", \"email\": \"help@alpha.example\", \"notify_interval\": \"immediate\","
    "  \"notify_format\": \"json\", \"max_tlp\": \"GREEN\", \"language\": \"pt-BR\"},"
    " {\"name\": \"Alpha Boss\", \"email\": \"boss@alpha.example\", \"notify_interval\": \"never\"},"
    " {\"name\": \"Alpha Keyed\", \"email\": \"keyed@alpha.example\", \"notify_interval\": \"daily\","
    "  \"pgp\": \"0123456789ABCDEF0123456789ABCDEF01234567\"}]}",
    "{\"short_name\": \"beta\", \"name\": \"Beta Bank\", \"networks\": [\"198.51.100.0/24\"], \"contacts\": ["
    " {\"name\": \"Beta CSIRT\", \"email\": \"csirt@beta.example\", \"notify_interval\": \"hourly\"}]}",
};

static void put_org(fx *f, const char *json)
{
    dz_err e = {0};
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    if (!o)
        fail_msg("%s: %s", json, je.text);
    constituent_record r;
    assert_dz_ok(constituent_from_json(o, NULL, &r, &e), e);
    assert_dz_ok(store_constituent_put(f->s, &f->sys, &r, STORE_PUT_CREATE, NULL, NULL, &e), e);
    constituent_record_free(&r);
    json_decref(o);
}

/* Feeds IntelMQ JSON lines through the real ingest. */
static void ingest(fx *f, const char *key, const char *lines)
{
    dz_err e = {0};
    csv_memory m = {lines, strlen(lines), 0};
    ingest_request r = {
        .parser = feed_parser_find("intelmq"),
        .read = csv_read_memory,
        .read_arg = &m,
        .kind = "file",
        .source = key,
        .key = key,
    };
    assert_non_null(r.parser);
    ingest_summary sum;
    assert_dz_ok(ingest_run(f->s, &r, &sum, &e), e);
}

static void events(fx *f, const char *key, const char *prefix, int port, int n, const char *extra)
{
    char *buf = xmalloc((size_t)n * 300 + 1);
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)sprintf(buf + len,
                               "{\"time.source\": \"2027-01-1%dT0%d:00:00+00:00\", \"source.ip\": \"%s.%d\", "
                               "\"source.port\": %d, \"classification.type\": \"%s\", \"feed.name\": \"Unit\"%s}\n",
                               4 + i % 2, i % 10, prefix, 10 + i, port + i,
                               i % 2 ? "vulnerable-system" : "infected-system", extra);
    ingest(f, key, buf);
    free(buf);
}

static int setup(void **state)
{
    dz_err e = {0};
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/dznt-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->url, sizeof f->url, "sqlite:%s/n.db", f->dir);
    snprintf(f->tpl, sizeof f->tpl, "%s/templates", f->dir);
    snprintf(f->gpg, sizeof f->gpg, "%s/g", f->dir);
    store_settings st = {.id_prefix = "T"};
    due_policy_default(&st.due);
    int applied, version;
    assert_dz_ok(store_open(f->url, &st, &f->s, &e), e);
    assert_dz_ok(store_migrate(f->s, &applied, &version, &e), e);
    store_set_clock(f->s, T0);
    f->sys.role = ROLE_ADMIN;
    snprintf(f->sys.username, sizeof f->sys.username, "system");
    for (size_t i = 0; i < sizeof orgs / sizeof *orgs; i++)
        put_org(f, orgs[i]);
    assert_dz_ok(store_registry_refresh(f->s, true, &e), e);
    assert_dz_ok(store_user_create(f->s, &f->sys, "tashi", ROLE_HANDLER, NULL, NULL, &e), e);
    user_record u;
    assert_dz_ok(store_user_get(f->s, "tashi", &u, &e), e);
    f->handler = u.p;

    events(f, "alpha-1", "192.0.2", 1000, 6, "");
    events(f, "alpha-red", "192.0.2", 2000, 1, ", \"tlp\": \"RED\"");
    events(f, "beta-1", "198.51.100", 1000, 5, "");

    notify_config_defaults(&f->c, f->dir);
    snprintf(f->c.from, sizeof f->c.from, "cirt@cirt.example");
    snprintf(f->c.from_name, sizeof f->c.from_name, "Test CIRT");
    snprintf(f->c.reply_to, sizeof f->c.reply_to, "desk@cirt.example");
    snprintf(f->c.ticket_prefix, sizeof f->c.ticket_prefix, "T");
    snprintf(f->c.templates_dir, sizeof f->c.templates_dir, "%s", f->tpl);
    snprintf(f->c.gnupg_home, sizeof f->c.gnupg_home, "%s", f->gpg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[256];
    store_close(f->s);
    snprintf(cmd, sizeof cmd, "gpgconf --homedir %s --kill all >/dev/null 2>&1; rm -rf %s", f->gpg, f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : 1;
}

static json_t *item_to(const json_t *items, const char *to)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        if (strcmp(json_string_value(json_object_get(it, "to")), to) == 0)
            return it;
    }
    fail_msg("no item for %s", to);
    return NULL;
}

static int64_t I(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static char *message_of(fx *f, const char *ticket)
{
    char *msg;
    size_t len;
    dz_err e = {0};
    assert_dz_ok(store_notification_message(f->s, ticket, &msg, &len, &e), e);
    return msg;
}

static void test_digests(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    /* A Portuguese digest template (the pt-BR contact gets it through its primary subtag). */
    write_file(f->tpl, "digest.pt.txt",
               "Subject: [{{ticket}}] Eventos de {{organisation}}\n\n"
               "Prezado(a) {{contact_name}},\n{{#counts}}{{count}} {{type}}\n{{/counts}}"
               "retidos: {{withheld}}\n");
    notifier *n;
    assert_dz_ok(notifier_open(&f->c, &n, &e), e);

    /* Dry run: what would go, nothing reserved or queued. */
    notify_digest_report r;
    assert_dz_ok(notify_digest_round(n, f->s, true, &r, &e), e);
    assert_int_equal(r.due, 4); /* soc, help, keyed (daily, never sent) of alpha; csirt of beta */
    assert_int_equal(r.queued, 4);
    assert_int_equal(r.failed, 0);
    json_t *soc = item_to(r.items, "soc@alpha.example");
    assert_true(json_is_null(json_object_get(soc, "ticket")));
    assert_int_equal(I(soc, "events"), 6);
    assert_int_equal(I(soc, "withheld"), 1); /* the RED event is above AMBER */
    json_t *help = item_to(r.items, "help@alpha.example");
    assert_int_equal(I(help, "events"), 0); /* GREEN ceiling: the AMBER (default) events are withheld */
    assert_int_equal(I(help, "withheld"), 7);
    json_t *keyed = item_to(r.items, "keyed@alpha.example");
    assert_contains(json_string_value(json_object_get(keyed, "note")), "sent unencrypted");
    assert_null(json_object_get(keyed, "error"));
    notify_digest_report_free(&r);
    json_t *list;
    assert_dz_ok(store_notification_list(f->s, 0, NULL, &list, &e), e);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);

    /* The real round. */
    assert_dz_ok(notify_digest_round(n, f->s, false, &r, &e), e);
    assert_int_equal(r.queued, 4);
    assert_int_equal(r.conflicts, 0);
    assert_int_equal(r.events, 6 + 0 + 6 + 5);
    soc = item_to(r.items, "soc@alpha.example");
    const char *ticket = json_string_value(json_object_get(soc, "ticket"));
    assert_non_null(ticket);
    assert_int_equal(strncmp(ticket, "T-N-2027-0000", 13), 0);
    assert_int_equal(strlen(ticket), strlen("T-N-2027-000001"));
    char *msg = message_of(f, ticket);
    assert_contains(msg, "From: Test CIRT <cirt@cirt.example>\r\n");
    assert_contains(msg, "To: Alpha SOC <soc@alpha.example>\r\n");
    assert_contains(msg, "Reply-To: desk@cirt.example\r\n");
    assert_contains(msg, "Auto-Submitted: auto-generated\r\n");
    assert_contains(msg, "X-Auto-Response-Suppress: All\r\n");
    char want[128];
    snprintf(want, sizeof want, "X-Dzong-Ticket: %s\r\n", ticket);
    assert_contains(msg, want);
    snprintf(want, sizeof want, "Message-ID: <%s.", ticket);
    assert_contains(msg, want);
    assert_contains(msg, "@cirt.example>\r\n");
    snprintf(want, sizeof want, "filename=\"events-%s.csv\"", ticket);
    assert_contains(msg, want);
    assert_contains(msg, "Content-Type: text/csv; charset=utf-8");
    assert_contains(msg, "TLP:AMBER");
    free(msg);

    help = item_to(r.items, "help@alpha.example");
    msg = message_of(f, json_string_value(json_object_get(help, "ticket")));
    assert_contains(msg, "Eventos de Alpha Ministry");
    assert_contains(msg, "retidos: 7");
    free(msg);

    json_t *beta = item_to(r.items, "csirt@beta.example");
    json_t *nf;
    assert_dz_ok(store_notification_get(f->s, 0, json_string_value(json_object_get(beta, "ticket")), &nf, &e), e);
    assert_string_equal(json_string_value(json_object_get(nf, "status")), "queued");
    assert_int_equal(I(nf, "events"), 5);
    assert_string_equal(json_string_value(json_object_get(nf, "format")), "csv");
    assert_string_equal(json_string_value(json_object_get(nf, "tlp")), "AMBER");
    assert_true(json_is_array(json_object_get(json_object_get(nf, "summary"), "by_type")));
    json_decref(nf);
    notify_digest_report_free(&r);

    /* Nothing new: nobody is due. */
    assert_dz_ok(notify_digest_round(n, f->s, false, &r, &e), e);
    assert_int_equal(r.due, 0);
    notify_digest_report_free(&r);

    /* New events for beta, attach_max 2: two attached, the rest counted. Beta is hourly. */
    events(f, "beta-2", "198.51.100", 3000, 4, ", \"extra.round\": 2");
    notifier_close(n);
    f->c.attach_max = 2;
    assert_dz_ok(notifier_open(&f->c, &n, &e), e);
    assert_dz_ok(notify_digest_round(n, f->s, false, &r, &e), e);
    assert_int_equal(r.due, 0); /* beta is hourly; soc@alpha is immediate, but alpha has nothing new */
    notify_digest_report_free(&r);
    store_set_clock(f->s, T0 + 3600);
    assert_dz_ok(notify_digest_round(n, f->s, false, &r, &e), e);
    assert_int_equal(r.due, 1);
    beta = item_to(r.items, "csirt@beta.example");
    assert_int_equal(I(beta, "events"), 2);
    msg = message_of(f, json_string_value(json_object_get(beta, "ticket")));
    assert_contains(msg, "2 further event(s) did not fit");
    free(msg);
    notify_digest_report_free(&r);
    store_set_clock(f->s, T0);
    f->c.attach_max = 20000;
    notifier_close(n);
}

/* More contacts than one batch: the queueing thread takes batches while the next is rendered. */
static void test_many(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    static const char *const nets[] = {"203.0.113.0/26", "203.0.113.64/26", "203.0.113.128/26"};
    for (int o = 0; o < 3; o++) {
        char *j = xmalloc(20000);
        size_t len = (size_t)sprintf(j, "{\"short_name\": \"many%d\", \"name\": \"Many %d\", \"networks\": [\"%s\"], "
                                        "\"contacts\": [", o, o, nets[o]);
        for (int c = 0; c < 90; c++)
            len += (size_t)sprintf(j + len, "%s{\"name\": \"C %d\", \"email\": \"c%02d@many%d.example\", "
                                            "\"notify_interval\": \"immediate\"}", c ? ", " : "", c, c, o);
        sprintf(j + len, "]}");
        put_org(f, j);
        free(j);
    }
    assert_dz_ok(store_registry_refresh(f->s, true, &e), e);
    events(f, "many-1", "203.0.113", 5000, 150, ""); /* .10 ... .159: all three networks */
    notifier *n;
    f->c.encrypt = false;
    assert_dz_ok(notifier_open(&f->c, &n, &e), e);
    notify_digest_report r;
    assert_dz_ok(notify_digest_round(n, f->s, false, &r, &e), e);
    assert_int_equal(r.due, 4 + 270);
    assert_int_equal(r.queued, 4 + 270);
    assert_int_equal(r.failed, 0);
    json_t *list;
    notification_filter nf = {.acknowledged = -1, .limit = 1000};
    assert_dz_ok(store_notification_list(f->s, 0, &nf, &list, &e), e);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 274);
    json_decref(list);
    size_t i;
    json_t *it;
    json_array_foreach(r.items, i, it) {
        assert_true(json_is_string(json_object_get(it, "ticket")));
    }
    notify_digest_report_free(&r);
    notifier_close(n);
    f->c.encrypt = true;
}

/* A pid that surely runs no process: a child that has exited and been reaped. */
static long dead_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    assert_true(p > 0);
    waitpid(p, NULL, 0);
    return (long)p;
}

static void test_outbox(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    notifier *n;
    f->c.max_attempts = 3;
    f->c.retry_base_s = 60;
    f->c.encrypt = false;
    notify_send_report sr;

    /* No relay: refused, nothing claimed. */
    assert_dz_ok(notifier_open(&f->c, &n, &e), e);
    notify_digest_report r;
    assert_dz_ok(notify_digest_round(n, f->s, false, &r, &e), e);
    assert_int_equal(r.queued, 4);
    const char *t1 = json_string_value(json_object_get(item_to(r.items, "soc@alpha.example"), "ticket"));
    char ticket[48];
    snprintf(ticket, sizeof ticket, "%s", t1);
    notify_digest_report_free(&r);
    assert_dz_fails(notify_send_round(n, f->s, NULL, 0, false, &sr, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "no SMTP relay");
    notify_send_report_free(&sr);
    /* Dry run: four due. */
    assert_dz_ok(notify_send_round(n, f->s, NULL, 0, true, &sr, &e), e);
    assert_int_equal(json_array_size(sr.items), 4);
    notify_send_report_free(&sr);
    notifier_close(n);

    /* A relay that is not there: temporary, retried with backoff, then given up. */
    snprintf(f->c.smtp.url, sizeof f->c.smtp.url, "smtp://127.0.0.1:1");
    f->c.smtp.timeout_s = 5;
    assert_dz_ok(notifier_open(&f->c, &n, &e), e);

    /* One of them held by a process of this host that is gone: taken over at once. */
    char host[64], node[96];
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    snprintf(node, sizeof node, "%s:%ld", host, dead_pid());
    outbox_item *items;
    size_t ni;
    assert_dz_ok(store_outbox_claim(f->s, node, 1, 120, NULL, 0, &items, &ni, &e), e);
    assert_int_equal(ni, 1);
    char held[48];
    snprintf(held, sizeof held, "%s", items[0].ticket);
    outbox_items_free(items, ni);
    if (strcmp(held, ticket) == 0) { /* follow one that was not held */
        assert_dz_ok(notify_send_round(n, f->s, NULL, 0, true, &sr, &e), e);
        for (size_t k = 0; k < json_array_size(sr.items); k++)
            if (strcmp(json_string_value(json_object_get(json_array_get(sr.items, k), "ticket")), held) != 0)
                snprintf(ticket, sizeof ticket, "%s",
                         json_string_value(json_object_get(json_array_get(sr.items, k), "ticket")));
        notify_send_report_free(&sr);
    }

    assert_dz_ok(notify_send_round(n, f->s, NULL, 0, false, &sr, &e), e);
    assert_int_equal(sr.sent, 0);
    assert_int_equal(sr.retried, 4);
    assert_int_equal(sr.failed, 0);
    bool saw_held = false;
    size_t i;
    json_t *it;
    json_array_foreach(sr.items, i, it) {
        assert_string_equal(json_string_value(json_object_get(it, "outcome")), "retry");
        assert_int_equal(I(it, "code"), 0);
        if (strcmp(json_string_value(json_object_get(it, "ticket")), held) == 0) {
            saw_held = true;
            assert_true(json_is_true(json_object_get(it, "in_doubt")));
        }
    }
    assert_true(saw_held);
    notify_send_report_free(&sr);
    json_t *nf;
    assert_dz_ok(store_notification_get(f->s, 0, ticket, &nf, &e), e);
    assert_string_equal(json_string_value(json_object_get(nf, "status")), "queued");
    assert_int_equal(I(nf, "attempts"), 1);
    char due[32];
    time_format_iso(T0 + 60, due, sizeof due);
    assert_string_equal(json_string_value(json_object_get(nf, "next_attempt_at")), due);
    assert_non_null(json_string_value(json_object_get(nf, "last_error")));
    json_decref(nf);

    /* Not due yet: nothing happens. */
    assert_dz_ok(notify_send_round(n, f->s, NULL, 0, false, &sr, &e), e);
    assert_int_equal(json_array_size(sr.items), 0);
    notify_send_report_free(&sr);

    /* Second attempt at T0 + 60 (held: 2 already, it had one more), next at + 120. */
    store_set_clock(f->s, T0 + 60);
    assert_dz_ok(notify_send_round(n, f->s, NULL, 1, false, &sr, &e), e); /* max 1 */
    assert_int_equal(json_array_size(sr.items), 1);
    notify_send_report_free(&sr);
    assert_dz_ok(notify_send_round(n, f->s, NULL, 0, false, &sr, &e), e);
    notify_send_report_free(&sr);
    assert_dz_ok(store_notification_get(f->s, 0, ticket, &nf, &e), e);
    assert_int_equal(I(nf, "attempts"), 2);
    time_format_iso(T0 + 60 + 120, due, sizeof due);
    assert_string_equal(json_string_value(json_object_get(nf, "next_attempt_at")), due);
    json_decref(nf);

    /* Third: out of attempts. */
    store_set_clock(f->s, T0 + 60 + 120);
    assert_dz_ok(notify_send_round(n, f->s, NULL, 0, false, &sr, &e), e);
    assert_true(sr.failed >= 3);
    notify_send_report_free(&sr);
    assert_dz_ok(store_notification_get(f->s, 0, ticket, &nf, &e), e);
    assert_string_equal(json_string_value(json_object_get(nf, "status")), "failed");
    assert_contains(json_string_value(json_object_get(nf, "last_error")), "gave up after 3 attempts: ");
    json_decref(nf);
    notifier_close(n);
    store_set_clock(f->s, T0);
    f->c.smtp.url[0] = '\0';
    f->c.encrypt = true;
}

/* The sender thread: a round at start, one per wake, and a prompt stop. */
static void test_sender(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    notifier *n;
    f->c.encrypt = false;
    snprintf(f->c.smtp.url, sizeof f->c.smtp.url, "smtp://127.0.0.1:1");
    assert_dz_ok(notifier_open(&f->c, &n, &e), e);
    notify_digest_report r;
    assert_dz_ok(notify_digest_round(n, f->s, false, &r, &e), e);
    assert_int_equal(r.queued, 4);
    notify_digest_report_free(&r);
    notify_sender *s;
    assert_dz_ok(notify_sender_start(n, f->s, NULL, 3600, &s, &e), e);
    /* The first round runs at once: every message gets its first attempt (the relay is not there). */
    json_t *list = NULL;
    int tries = 0;
    for (;; tries++) {
        notification_filter nf = {.status = "queued", .acknowledged = -1};
        assert_dz_ok(store_notification_list(f->s, 0, &nf, &list, &e), e);
        size_t i, tried = 0;
        json_t *it;
        json_array_foreach(json_object_get(list, "items"), i, it) {
            tried += I(it, "attempts") == 1;
        }
        json_decref(list);
        if (tried == 4)
            break;
        assert_true(tries < 200);
        usleep(25000);
    }
    /* Due again (the clock moves on), woken: a second attempt long before poll_s. */
    store_set_clock(f->s, T0 + 60);
    notify_sender_wake(s);
    for (tries = 0;; tries++) {
        notification_filter nf = {.status = "queued", .acknowledged = -1};
        assert_dz_ok(store_notification_list(f->s, 0, &nf, &list, &e), e);
        size_t i, tried = 0;
        json_t *it;
        json_array_foreach(json_object_get(list, "items"), i, it) {
            tried += I(it, "attempts") == 2;
        }
        json_decref(list);
        if (tried == 4)
            break;
        assert_true(tries < 200);
        usleep(25000);
    }
    notify_sender_stop(s);
    notifier_close(n);
    store_set_clock(f->s, T0);
    f->c.smtp.url[0] = '\0';
    f->c.encrypt = true;
}

static void test_incident(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    notifier *n;
    assert_dz_ok(notifier_open(&f->c, &n, &e), e);
    store_scope all = {0, -1, false};
    const char *body = "{\"title\": \"Ransomware at Alpha\", \"constituents\": [\"alpha\"], \"tlp\": \"AMBER\"}";
    incident_fields fl;
    assert_dz_ok(decode_incident(body, strlen(body), true, &fl, &e), e);
    json_t *inc;
    assert_dz_ok(store_incident_create(f->s, &f->handler, &fl, &inc, &e), e);
    incident_fields_free(&fl);
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(inc, "id")));
    json_decref(inc);

    json_t *out = NULL;
    const char *beta[] = {"beta"};
    assert_dz_fails(notify_incident(n, f->s, &f->handler, &all, id, beta, 1, NULL, "hello", &out, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "beta");
    const char *alpha[] = {"alpha", "alpha"};
    assert_dz_ok(notify_incident(n, f->s, &f->handler, &all, id, alpha, 2, NULL, "Please check host 192.0.2.10.",
                                 &out, &e), e);
    json_t *queued = json_object_get(out, "queued"), *skipped = json_object_get(out, "skipped");
    assert_int_equal(json_array_size(queued), 3); /* soc, boss (never gets digests, but notices), keyed */
    assert_int_equal(json_array_size(skipped), 1); /* help: GREEN ceiling */
    assert_string_equal(json_string_value(json_object_get(json_array_get(skipped, 0), "to")), "help@alpha.example");
    json_t *q0 = json_array_get(queued, 0);
    assert_string_equal(json_string_value(json_object_get(q0, "kind")), "incident");
    assert_string_equal(json_string_value(json_object_get(q0, "incident")), id);
    char *msg = message_of(f, json_string_value(json_object_get(q0, "ticket")));
    assert_contains(msg, "Ransomware at Alpha");
    assert_contains(msg, "Please check host 192.0.2.10.");
    assert_contains(msg, "tashi");
    free(msg);
    json_decref(out);

    /* A subject given replaces the template's. */
    assert_dz_ok(notify_incident(n, f->s, &f->handler, &all, id, alpha, 1, "Urgent: ransomware", "Again.", &out,
                                 &e), e);
    msg = message_of(f, json_string_value(json_object_get(json_array_get(json_object_get(out, "queued"), 0),
                                                          "ticket")));
    assert_contains(msg, "Subject: Urgent: ransomware\r\n");
    free(msg);
    json_decref(out);

    /* The shared notes are on the timeline. */
    json_t *notes;
    assert_dz_ok(store_note_list(f->s, &all, id, &notes, &e), e);
    char *dump = json_dumps(notes, 0);
    assert_contains(dump, "Please check host 192.0.2.10.");
    free(dump);
    json_decref(notes);

    /* TLP:RED is never mailed. */
    body = "{\"title\": \"Secret\", \"constituents\": [\"alpha\"], \"tlp\": \"RED\"}";
    assert_dz_ok(decode_incident(body, strlen(body), true, &fl, &e), e);
    assert_dz_ok(store_incident_create(f->s, &f->handler, &fl, &inc, &e), e);
    incident_fields_free(&fl);
    assert_dz_fails(notify_incident(n, f->s, &f->handler, &all, json_string_value(json_object_get(inc, "id")), alpha,
                                    1, NULL, "x", &out, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "TLP:RED");
    json_decref(inc);
    notifier_close(n);
}

static void test_templates(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    notifier *n = NULL;
    char dir[128];
    notify_config c = f->c;

    snprintf(dir, sizeof dir, "%s/t1", f->dir);
    snprintf(c.templates_dir, sizeof c.templates_dir, "%s", dir);
    write_file(dir, "digest.en.txt", "Hello {{organisation}}\n\nbody\n");
    assert_dz_fails(notifier_open(&c, &n, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "digest.en.txt:1:");
    assert_contains(e.msg, "Subject:");
    write_file(dir, "digest.en.txt", "Subject: x\nnot empty\nbody\n");
    assert_dz_fails(notifier_open(&c, &n, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "digest.en.txt:2:");
    write_file(dir, "digest.en.txt", "Subject: x {{ticket}}\n\nline 3\nline 4\n{{orgnisation}}\n");
    assert_dz_fails(notifier_open(&c, &n, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "digest.en.txt:5:");
    assert_contains(e.msg, "orgnisation");
    write_file(dir, "digest.en.txt", "Subject: x {{title}}\n\nbody\n"); /* an incident variable */
    assert_dz_fails(notifier_open(&c, &n, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "digest.en.txt:1:");
    write_file(dir, "digest.en.txt", "Subject: ok {{ticket}}\n\n{{#counts}}{{type}} {{advice}}{{/counts}}\n");
    write_file(dir, "advice.en.json", "{\"scanner\": \"stop it\",\n \"x\": }\n");
    assert_dz_fails(notifier_open(&c, &n, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "advice.en.json:2:");
    write_file(dir, "advice.en.json", "{\"scanner\": \"stop it\"}\n");
    assert_dz_ok(notifier_open(&c, &n, &e), e);
    notifier_close(n);

    /* The defaults written by `dzong init`: three files, existing ones left alone. */
    snprintf(dir, sizeof dir, "%s/t2", f->dir);
    write_file(dir, "incident.en.txt", "Subject: mine\n\nmine\n");
    assert_dz_ok(notify_write_default_templates(dir, &e), e);
    char path[192], buf[64] = "";
    snprintf(path, sizeof path, "%s/incident.en.txt", dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(buf, sizeof buf, fp));
    fclose(fp);
    assert_string_equal(buf, "Subject: mine\n");
    snprintf(path, sizeof path, "%s/digest.en.txt", dir);
    assert_int_equal(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/advice.en.json", dir);
    assert_int_equal(access(path, R_OK), 0);
    snprintf(c.templates_dir, sizeof c.templates_dir, "%s", dir);
    assert_dz_ok(notifier_open(&c, &n, &e), e);
    notifier_close(n);

    /* Nothing is queued without mail_from. */
    c = f->c;
    c.from[0] = '\0';
    assert_dz_ok(notifier_open(&c, &n, &e), e);
    notify_digest_report r;
    assert_dz_fails(notify_digest_round(n, f->s, false, &r, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "mail_from is not set");
    notify_digest_report_free(&r);
    notifier_close(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_digests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sender, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incident, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
