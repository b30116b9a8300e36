/*
 * demo.c: a fictional national constituency for `dzong init --demo`.
 * Names are invented; networks are documentation address space only
 * (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), AS numbers
 * private-use, domains under .example.
 */
#include "cli/cli.h"
#include "lib/credentials.h"
#include "lib/embedded.h"
#include "lib/strbuf.h"
#include "ingest/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* cli_files (meson.build): files compiled into the CLI. demo_constituency.json is the constituency,
 * with networks, AS numbers, domains and contacts. */
extern const struct embedded_file cli_files[];

static dz_code demo_constituency(store *st, const principal *admin, dz_err *e)
{
    const struct embedded_file *f = embedded_find(cli_files, "demo_constituency.json");
    json_error_t je;
    json_t *doc = f ? json_loadb(f->data, (size_t)f->len, 0, &je) : NULL;
    if (!json_is_array(doc)) {
        json_decref(doc);
        return dz_fail(e, DZ_EINTERNAL, "demo constituency: not a JSON array");
    }
    size_t n = json_array_size(doc), done = 0;
    constituent_record *recs = calloc(n, sizeof *recs);
    dz_code rc = recs ? DZ_OK : dz_fail(e, DZ_ENOMEM, "out of memory");
    for (; rc == DZ_OK && done < n; done++)
        if ((rc = constituent_from_json(json_array_get(doc, done), store_sectors(st), &recs[done], e)) != DZ_OK)
            dz_wrap(e, "demo constituent %zu", done + 1);
    store_import_result res;
    if (rc == DZ_OK)
        rc = store_constituent_import(st, admin, recs, n, &res, e);
    for (size_t i = 0; i < done; i++)
        constituent_record_free(&recs[i]);
    free(recs);
    json_decref(doc);
    return rc;
}

static const struct {
    const char *username, *role, *org;
} demo_users[] = {
    {"karma", "coordinator", NULL},
    {"tashi", "handler", NULL},
    {"pema", "analyst", NULL},
    {"sonam.bank", "constituent", "druk-bank"},
    {"dorji.power", "constituent", "dgpc"},
    {"partner.cert", "partner", "apcert-partner"},
};

static const char *const demo_incidents[] = {
    "{\"title\": \"Phishing campaign impersonating Druk National Bank\", \"description\": \"Citizens report SMS "
    "with links to a fake e-banking login page.\", \"classification\": {\"taxonomy\": \"fraud\", \"type\": "
    "\"phishing\"}, \"severity\": \"high\", \"tlp\": \"AMBER\", \"constituents\": [\"druk-bank\"], \"assignee\": "
    "\"tashi\", \"tags\": [\"sms\", \"banking\"]}",
    "{\"title\": \"Ransomware on hospital file server\", \"description\": \"Encrypted shares at the referral "
    "hospital; backups intact.\", \"classification\": {\"type\": \"infected-system\"}, \"severity\": \"critical\", "
    "\"tlp\": \"AMBER+STRICT\", \"constituents\": [\"jdwnrh\", \"moh\"], \"assignee\": \"tashi\"}",
    "{\"title\": \"SCADA HMI exposed to the Internet\", \"description\": \"Scanner reports an HMI of the hydropower "
    "operator reachable on TCP/502.\", \"classification\": {\"taxonomy\": \"vulnerable\", \"type\": "
    "\"vulnerable-system\"}, \"severity\": \"critical\", \"tlp\": \"RED\", \"constituents\": [\"dgpc\"], "
    "\"assignee\": \"karma\", \"tags\": [\"cii\", \"ics\"]}",
    "{\"title\": \"DDoS against ISP DNS resolvers\", \"classification\": {\"taxonomy\": \"availability\", \"type\": "
    "\"ddos\"}, \"severity\": \"medium\", \"tlp\": \"GREEN\", \"constituents\": [\"yangphel-isp\", \"druknet\"]}",
    "{\"title\": \"Defacement of a ministry web site\", \"classification\": {\"type\": \"defacement\"}, "
    "\"severity\": \"low\", \"tlp\": \"CLEAR\", \"constituents\": [\"moic\"], \"assignee\": \"pema\"}",
};

/* Phase each demo incident is driven to, in order. */
static const char *const demo_phases[][4] = {
    {"triage", "analysis", "mitigation", NULL},
    {"triage", "analysis", NULL},
    {"triage", NULL},
    {NULL},
    {"triage", "analysis", "mitigation", "recovery"},
};

/*
 * Early-warning events for the demo constituency, so the first digests have
 * something to say: what feeds report about hosts in its networks over the
 * last day, as IntelMQ JSON lines through the real pipeline (classified,
 * matched to their owners, deduplicated, stored as not yet notified).
 */
static const struct {
    const char *ip, *type, *feed, *extra; /* extra: more IntelMQ fields, JSON members without braces */
    int port, count;
} demo_feed_events[] = {
    {"192.0.2.10", "infected-system", "Shadowserver Sinkhole Events", "\"malware.name\": \"qakbot\"", 443, 3},
    {"192.0.2.40", "vulnerable-system", "Shadowserver Accessible RDP", "\"protocol.application\": \"rdp\"", 3389, 2},
    {"192.0.2.70", "infected-system", "Shadowserver Sinkhole Events", "\"malware.name\": \"emotet\"", 8080, 2},
    {"198.51.100.20", "vulnerable-system", "Shadowserver Vulnerable Exchange", "\"extra.tag\": \"cve-2021-26855\"", 443, 1},
    {"198.51.100.70", "vulnerable-system", "Shadowserver Accessible SMB", "\"protocol.application\": \"smb\"", 445, 2},
    {"198.51.100.165", "vulnerable-system", "Shadowserver Accessible Modbus", "\"protocol.application\": \"modbus\"", 502, 1},
    {"198.51.100.180", "vulnerable-system", "Shadowserver Open DNS Resolvers", "\"protocol.application\": \"dns\"", 53, 1},
    {"198.51.100.200", "scanner", "Shadowserver Honeypot Brute Force", "\"protocol.application\": \"ssh\", \"tlp\": \"GREEN\"", 22, 3},
    {"203.0.113.130", "infected-system", "Shadowserver Sinkhole Events", "\"malware.name\": \"mirai\", \"tlp\": \"GREEN\"", 23, 4},
    {"203.0.113.10", "infected-system", "Shadowserver Sinkhole Events", "\"malware.name\": \"emotet\", \"tlp\": \"GREEN\"", 8080, 2},
    {"203.0.113.70", "proxy", "Shadowserver Open Proxy", "\"protocol.application\": \"http-proxy\", \"tlp\": \"GREEN\"", 3128, 1},
    {"198.51.100.100", "vulnerable-system", "Shadowserver Accessible RDP", "\"protocol.application\": \"rdp\"", 3389, 1},
    {"198.51.100.130", "vulnerable-system", "Shadowserver Accessible VNC", "\"protocol.application\": \"vnc\"", 5900, 1},
    {"203.0.113.100", "infected-system", "Shadowserver Sinkhole Events", "\"malware.name\": \"agenttesla\", \"tlp\": \"RED\"", 587, 1},
};

static dz_code demo_events(store *st, dz_err *e)
{
    strbuf jl;
    strbuf_init(&jl);
    time_t now = time(NULL);
    for (size_t i = 0; i < sizeof demo_feed_events / sizeof demo_feed_events[0]; i++)
        for (int k = 0; k < demo_feed_events[i].count; k++) {
            char when[32];
            time_t t = now - 3600 * (time_t)(1 + (i * 7 + (size_t)k * 5) % 23);
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S+00:00", gmtime(&t));
            strbuf_printf(&jl,
                          "{\"time.source\": \"%s\", \"source.ip\": \"%s\", \"source.port\": %d, "
                          "\"classification.type\": \"%s\", \"feed.name\": \"%s\", \"feed.provider\": "
                          "\"Shadowserver\", %s}\n",
                          when, demo_feed_events[i].ip, demo_feed_events[i].port + k, demo_feed_events[i].type,
                          demo_feed_events[i].feed, demo_feed_events[i].extra);
        }
    if (jl.oom) {
        strbuf_free(&jl);
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    csv_memory mem = {.data = jl.buf, .len = jl.len};
    ingest_request r = {.parser = feed_parser_find("intelmq"),
                        .read = csv_read_memory,
                        .read_arg = &mem,
                        .size = jl.len,
                        .kind = "file",
                        .source = "demo events",
                        .key = "demo:events"};
    ingest_summary sum;
    dz_code rc = store_registry_refresh(st, true, e);
    if (rc == DZ_OK)
        rc = ingest_run(st, &r, &sum, e);
    strbuf_free(&jl);
    if (rc != DZ_OK)
        return dz_wrap(e, "demo events");
    printf("loaded %lld demo feed events (%lld matched to a constituent)\n", (long long)sum.events,
           (long long)sum.matched);
    return DZ_OK;
}

dz_code demo_load(store *st, dz_err *e)
{
    principal admin;
    user_record u;
    if (store_user_get(st, "admin", &u, e) == DZ_OK)
        admin = u.p;
    else
        cli_principal(&admin);
    if (demo_constituency(st, &admin, e) != DZ_OK)
        return e->code;
    printf("demo users (passwords shown once):\n");
    for (size_t i = 0; i < sizeof demo_users / sizeof demo_users[0]; i++) {
        char pw[21], hash[PASSWORD_HASH_LEN];
        role r;
        password_generate(pw, sizeof pw);
        if (role_parse(demo_users[i].role, &r, e) != DZ_OK || password_hash(pw, hash, e) != DZ_OK ||
            store_user_create(st, &admin, demo_users[i].username, r, demo_users[i].org, hash, e) != DZ_OK)
            return dz_wrap(e, "demo user %s", demo_users[i].username);
        printf("  %-14s %-12s %-16s %s\n", demo_users[i].username, demo_users[i].role,
               demo_users[i].org ? demo_users[i].org : "", pw);
    }
    for (size_t i = 0; i < sizeof demo_incidents / sizeof demo_incidents[0]; i++) {
        incident_fields f;
        json_t *inc;
        if (decode_incident(demo_incidents[i], strlen(demo_incidents[i]), true, &f, e) != DZ_OK)
            return dz_wrap(e, "demo incident %zu", i);
        dz_code rc = store_incident_create(st, &admin, &f, &inc, e);
        incident_fields_free(&f);
        if (rc != DZ_OK)
            return dz_wrap(e, "demo incident %zu", i);
        char id[PUBLIC_ID_MAX];
        snprintf(id, sizeof id, "%s", json_string_value(json_object_get(inc, "id")));
        json_decref(inc);
        store_scope all = {0, -1, false};
        for (int k = 0; k < 4 && demo_phases[i][k]; k++) {
            char body[64];
            snprintf(body, sizeof body, "{\"status\": \"%s\"}", demo_phases[i][k]);
            if (decode_incident(body, strlen(body), false, &f, e) != DZ_OK)
                return e->code;
            rc = store_incident_update(st, &admin, &all, id, &f, &inc, e);
            incident_fields_free(&f);
            if (rc != DZ_OK)
                return dz_wrap(e, "demo incident %s", id);
            json_decref(inc);
        }
        note_input n = {.body = "Constituent informed by phone; written advice follows.", .shared = false};
        if (store_note_add(st, &admin, &all, id, &n, &inc, e) != DZ_OK)
            return e->code;
        json_decref(inc);
    }
    report_input r = {.source = "web", .source_ref = "demo-form-0001", .title = "Suspicious SMS from 'my bank'",
                      .body = "I received an SMS asking me to log in to my bank account at a strange address.",
                      .reporter_name = "A citizen", .reporter_email = "citizen@example.bt"};
    json_t *rep;
    bool created;
    if (store_report_create(st, &admin, &r, &rep, &created, e) != DZ_OK)
        return e->code;
    json_decref(rep);
    return demo_events(st, e);
}
