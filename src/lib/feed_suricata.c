/*
 * feed_suricata.c: Suricata EVE JSON lines (eve.json) as harmonized events.
 * docs/feeds.md has the mapping.
 *
 * One record per line. alert, dns, http and tls records become events; every other
 * event_type (flow, netflow, stats, fileinfo, anomaly, ...) is skipped: no event, no
 * error, not counted. source.* is the record's src_ip/src_port, destination.* its
 * dest_ip/dest_port (for an alert: the packet that matched). The flow fields
 * (timestamp, addresses, ports, proto) must be valid or the line is refused; names
 * taken from the application layer (DNS rrname, HTTP hostname, TLS SNI) that are not
 * valid domain names go to extra.* instead of destination.fqdn.
 */
#include "lib/feed.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct sur_parser {
    feed_ctx c;
    strbuf url;
    char why[600];
} sur_parser;

/* Suricata's classification.config descriptions -> RSIT (taxonomy, type). */
static const struct {
    const char *category, *taxonomy, *type;
} CATEGORIES[] = {
    {"A Network Trojan was detected", "malicious-code", "infected-system"},
    {"Malware Command and Control Activity Detected", "malicious-code", "infected-system"},
    {"Domain Observed Used for C2 Detected", "malicious-code", "infected-system"},
    {"Exploit Kit Activity Detected", "malicious-code", "malware-distribution"},
    {"Detection of a Network Scan", "information-gathering", "scanner"},
    {"Attempted Information Leak", "information-gathering", "scanner"},
    {"Possible Social Engineering Attempted", "information-gathering", "social-engineering"},
    {"Attempted Denial of Service", "availability", "dos"},
    {"Denial of Service", "availability", "dos"},
    {"Detection of a Denial of Service Attack", "availability", "dos"},
    {"Attempted User Privilege Gain", "intrusion-attempts", "exploit"},
    {"Attempted Administrator Privilege Gain", "intrusion-attempts", "exploit"},
    {"Web Application Attack", "intrusion-attempts", "exploit"},
    {"Executable code was detected", "intrusion-attempts", "exploit"},
    {"Unsuccessful User Privilege Gain", "intrusion-attempts", "exploit"},
    {"Successful User Privilege Gain", "intrusions", "unprivileged-account-compromise"},
    {"Successful Administrator Privilege Gain", "intrusions", "privileged-account-compromise"},
    {"Information Leak", "information-content-security", "data-leak"},
    {"Large Scale Information Leak", "information-content-security", "data-leak"},
    {"Crypto Currency Mining Activity Detected", "fraud", "unauthorised-use-of-resources"},
    {"Potential Corporate Privacy Violation", "information-content-security", "unauthorised-information-access"},
};

static void classify_alert(const char *category, const char **tax, const char **type)
{
    *tax = "other";
    *type = "undetermined";
    if (!category)
        return;
    for (size_t i = 0; i < sizeof CATEGORIES / sizeof CATEGORIES[0]; i++)
        if (strcasecmp(CATEGORIES[i].category, category) == 0) {
            *tax = CATEGORIES[i].taxonomy;
            *type = CATEGORIES[i].type;
            return;
        }
}

/* A scalar under key. strict: DZ_EINVAL (p->why names the EVE member) when refused; else a refused value is dropped. */
static dz_code put(sur_parser *p, const char *member, const char *key, const json_t *v, bool strict)
{
    dz_err fe = {0};
    dz_code rc;
    event *ev = p->c.ev;
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (json_string_length(v) == 0)
            return DZ_OK;
        rc = event_set(ev, key, json_string_value(v), json_string_length(v), &fe);
        break;
    case JSON_INTEGER: rc = event_set_int(ev, key, json_integer_value(v), &fe); break;
    case JSON_REAL: rc = event_set_float(ev, key, json_real_value(v), &fe); break;
    case JSON_TRUE:
    case JSON_FALSE: rc = event_set_bool(ev, key, json_is_true(v), &fe); break;
    case JSON_NULL: return DZ_OK;
    default:
        if (!strict)
            return DZ_OK;
        snprintf(p->why, sizeof p->why, "%s: expected a string or number", member);
        return DZ_EINVAL;
    }
    if (rc == DZ_EINVAL) {
        if (!strict)
            return DZ_OK;
        snprintf(p->why, sizeof p->why, "%s: %s", member, fe.msg);
    }
    return rc;
}

/* Members of obj copied to prefix.<member> (extra), when present. */
static dz_code put_members(sur_parser *p, const json_t *obj, const char *const *members, const char *prefix)
{
    for (size_t i = 0; members[i]; i++) {
        const json_t *v = json_object_get(obj, members[i]);
        if (!v)
            continue;
        char key[128];
        snprintf(key, sizeof key, "%s.%s", prefix, members[i]);
        dz_code rc = put(p, members[i], key, v, false);
        if (rc == DZ_ENOMEM)
            return rc;
    }
    return DZ_OK;
}

/* A name from the application layer: destination.fqdn (or .ip), else the extra key. */
static dz_code put_name(sur_parser *p, const json_t *v, const char *extra_key)
{
    if (!json_is_string(v) || json_string_length(v) == 0)
        return DZ_OK;
    dz_err fe;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    dz_code rc = event_set(p->c.ev, "destination.fqdn", s, n, &fe);
    if (rc == DZ_EINVAL && !event_get(p->c.ev, "destination.ip"))
        rc = event_set(p->c.ev, "destination.ip", s, n, &fe);
    if (rc == DZ_EINVAL)
        rc = event_set(p->c.ev, extra_key, s, n, &fe);
    return rc == DZ_ENOMEM ? rc : DZ_OK;
}

static dz_code do_dns(sur_parser *p, const json_t *dns)
{
    static const char *const members[] = {"type", "id", "rrtype", "rcode", "tx_id", NULL};
    const json_t *q = dns;
    const json_t *queries = json_object_get(dns, "queries"); /* EVE version 3 */
    if (json_is_array(queries) && json_is_object(json_array_get(queries, 0)))
        q = json_array_get(queries, 0);
    dz_code rc = put_name(p, json_object_get(q, "rrname"), "extra.dns.rrname");
    if (rc == DZ_OK)
        rc = put_members(p, q, members, "extra.dns");
    if (rc == DZ_OK && q != dns)
        rc = put_members(p, dns, members, "extra.dns");
    return rc;
}

static dz_code do_http(sur_parser *p, const json_t *http, const json_t *rec)
{
    static const char *const members[] = {"http_method", "status", "protocol", "http_content_type", "length", NULL};
    const json_t *host = json_object_get(http, "hostname");
    dz_code rc = put_name(p, host, "extra.http.hostname");
    if (rc != DZ_OK)
        return rc;
    const json_t *url = json_object_get(http, "url");
    if (json_is_string(url) && json_string_length(url)) {
        const char *u = json_string_value(url);
        strbuf_reset(&p->url);
        if (u[0] == '/' && json_is_string(host) && json_string_length(host)) {
            const char *h = json_string_value(host);
            bool v6 = strchr(h, ':') != NULL;
            strbuf_printf(&p->url, "http://%s%s%s", v6 ? "[" : "", h, v6 ? "]" : "");
            const json_t *port = json_object_get(http, "http_port");
            if (!json_is_integer(port))
                port = json_object_get(rec, "dest_port");
            if (json_is_integer(port) && json_integer_value(port) != 80)
                strbuf_printf(&p->url, ":%lld", (long long)json_integer_value(port));
        }
        strbuf_append(&p->url, u, json_string_length(url));
        if (p->url.oom)
            return DZ_ENOMEM;
        dz_err fe;
        rc = event_set(p->c.ev, "destination.url", p->url.buf, p->url.len, &fe);
        if (rc == DZ_EINVAL)
            rc = event_set(p->c.ev, "extra.http.url", u, json_string_length(url), &fe);
        if (rc == DZ_ENOMEM)
            return rc;
    }
    const json_t *ua = json_object_get(http, "http_user_agent");
    if (ua && (rc = put(p, "http_user_agent", "extra.http.user_agent", ua, false)) != DZ_OK)
        return rc;
    const json_t *ref = json_object_get(http, "http_refer");
    if (ref && (rc = put(p, "http_refer", "extra.http.referer", ref, false)) != DZ_OK)
        return rc;
    return put_members(p, http, members, "extra.http");
}

static dz_code do_tls(sur_parser *p, const json_t *tls)
{
    static const char *const members[] = {"subject", "issuerdn", "serial", "fingerprint", "version",
                                          "notbefore", "notafter", "ja4", NULL};
    dz_code rc = put_name(p, json_object_get(tls, "sni"), "extra.tls.sni");
    if (rc == DZ_OK)
        rc = put_members(p, tls, members, "extra.tls");
    const json_t *ja3 = json_object_get(tls, "ja3");
    if (rc == DZ_OK && json_is_object(ja3) && json_object_get(ja3, "hash"))
        rc = put(p, "ja3", "extra.tls.ja3", json_object_get(ja3, "hash"), false);
    const json_t *ja3s = json_object_get(tls, "ja3s");
    if (rc == DZ_OK && json_is_object(ja3s) && json_object_get(ja3s, "hash"))
        rc = put(p, "ja3s", "extra.tls.ja3s", json_object_get(ja3s, "hash"), false);
    return rc;
}

/* DZ_OK (event, refused or skipped), DZ_ENOMEM. */
static dz_code do_record(sur_parser *p, const json_t *o, uint64_t line, const char *s, size_t n)
{
    const json_t *et = json_object_get(o, "event_type");
    if (!json_is_string(et)) {
        feed_ctx_refuse(&p->c, line, s, n, "event_type: missing or not a string");
        return DZ_OK;
    }
    const char *type = json_string_value(et);
    bool alert = strcmp(type, "alert") == 0;
    if (!alert && strcmp(type, "dns") != 0 && strcmp(type, "http") != 0 && strcmp(type, "tls") != 0)
        return DZ_OK; /* flow, stats, fileinfo, ...: not events here */
    event *ev = p->c.ev;
    event_reset(ev);
    p->why[0] = '\0';
    /* the flow: strict */
    static const struct {
        const char *member, *key;
    } flow[] = {{"timestamp", "time.source"}, {"src_ip", "source.ip"},       {"src_port", "source.port"},
                {"dest_ip", "destination.ip"}, {"dest_port", "destination.port"}, {"proto", "protocol.transport"},
                {"flow_id", "extra.flow_id"}};
    dz_code rc = DZ_OK;
    for (size_t i = 0; i < sizeof flow / sizeof flow[0] && rc == DZ_OK; i++) {
        const json_t *v = json_object_get(o, flow[i].member);
        if (v)
            rc = put(p, flow[i].member, flow[i].key, v, true);
    }
    if (rc == DZ_EINVAL) {
        feed_ctx_refuse(&p->c, line, s, n, "%s", p->why);
        return DZ_OK;
    }
    if (rc != DZ_OK)
        return rc;
    const json_t *app = json_object_get(o, "app_proto");
    if (json_is_string(app) && strcmp(json_string_value(app), "failed") != 0 &&
        (rc = put(p, "app_proto", "protocol.application", app, false)) != DZ_OK)
        return rc;
    static const char *const rec_members[] = {"in_iface", "community_id", NULL};
    if ((rc = put_members(p, o, rec_members, "extra")) != DZ_OK)
        return rc;
    const json_t *host = json_object_get(o, "host");
    if (host && (rc = put(p, "host", "extra.sensor", host, false)) != DZ_OK)
        return rc;
    const char *tax = "other", *ctype = "undetermined";
    if (alert) {
        const json_t *a = json_object_get(o, "alert");
        if (!json_is_object(a)) {
            feed_ctx_refuse(&p->c, line, s, n, "alert: missing or not an object");
            return DZ_OK;
        }
        static const char *const members[] = {"signature", "signature_id", "severity", "category",
                                              "action", "gid", "rev", NULL};
        if ((rc = put_members(p, a, members, "extra.alert")) != DZ_OK)
            return rc;
        const json_t *sig = json_object_get(a, "signature");
        if (sig && (rc = put(p, "signature", "event_description.text", sig, false)) != DZ_OK)
            return rc;
        const json_t *cat = json_object_get(a, "category");
        classify_alert(json_is_string(cat) ? json_string_value(cat) : NULL, &tax, &ctype);
    }
    const json_t *sub;
    if (json_is_object(sub = json_object_get(o, "dns")) && (rc = do_dns(p, sub)) != DZ_OK)
        return rc;
    if (json_is_object(sub = json_object_get(o, "http")) && (rc = do_http(p, sub, o)) != DZ_OK)
        return rc;
    if (json_is_object(sub = json_object_get(o, "tls")) && (rc = do_tls(p, sub)) != DZ_OK)
        return rc;
    dz_err fe;
    if (event_set(ev, "classification.taxonomy", tax, strlen(tax), &fe) == DZ_ENOMEM ||
        event_set(ev, "classification.type", ctype, strlen(ctype), &fe) == DZ_ENOMEM ||
        event_set(ev, "extra.event_type", type, strlen(type), &fe) == DZ_ENOMEM)
        return DZ_ENOMEM;
    return feed_ctx_emit(&p->c, line, s, n);
}

dz_code feed_suricata_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                            feed_error_fn on_error, void *arg, dz_err *e)
{
    sur_parser *p = calloc(1, sizeof *p);
    if (!p)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    strbuf_init(&p->url);
    feed_lines lr;
    feed_lines_init(&lr, read, read_arg, FEED_MAX_LINE);
    dz_code rc = feed_ctx_init(&p->c, opt, "Suricata EVE", "Suricata", on_event, on_error, arg, e);
    while (rc == DZ_OK && !p->c.stop) {
        const char *s;
        size_t n;
        uint64_t line;
        int got = feed_next_line(&lr, &p->c, &s, &n, &line, e);
        if (got == FEED_LINE_END)
            break;
        if (got == FEED_LINE_FAIL) {
            rc = e->code;
            break;
        }
        json_t *o = feed_json_object(&p->c, line, s, n, 0);
        if (!o)
            continue;
        rc = do_record(p, o, line, s, n);
        json_decref(o);
        if (rc != DZ_OK)
            rc = dz_fail(e, rc, "out of memory");
    }
    feed_lines_free(&lr);
    feed_ctx_free(&p->c);
    strbuf_free(&p->url);
    free(p);
    return rc;
}
