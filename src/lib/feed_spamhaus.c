/*
 * feed_spamhaus.c: Spamhaus DROP, EDROP, DROPv6 and ASN-DROP lists as harmonized events
 * (classification other/blacklist, as IntelMQ's Spamhaus DROP parser). docs/feeds.md has
 * the mapping.
 *
 * Two formats, told apart per line: the text lists ("; comment" lines, then
 * "1.10.16.0/20 ; SBL256894" or "AS12345 ; CN | Name") and the JSON lines Spamhaus
 * publishes (drop_v4.json: {"cidr": ..., "sblid": ..., "rir": ...}, asndrop.json:
 * {"asn": ..., "cc": ..., "asname": ...}, and a last {"type": "metadata", ...} line,
 * which is no event). The text lists' "; Last-Modified:" comment gives time.source of
 * the entries after it.
 */
#include "lib/feed.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

static const char *find(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp(s + i, lit, m) == 0)
            return s + i;
    return NULL;
}

/*
 * "Thu, 21 Nov 2024 13:45:12 GMT" (RFC 1123; the weekday optional; zone GMT, UTC or +hhmm)
 * to "2024-11-21 13:45:12+0000" for event_set; an ISO 8601 text is passed through.
 */
static bool http_date(const char *s, size_t n, char *out, size_t cap)
{
    static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};
    trim(&s, &n);
    if (n >= 10 && isdigit((unsigned char)s[0]) && s[4] == '-') {
        if (n + 1 > cap)
            return false;
        memcpy(out, s, n);
        out[n] = '\0';
        return true;
    }
    char buf[96];
    if (n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    const char *p = buf;
    const char *comma = strchr(p, ',');
    if (comma)
        p = comma + 1;
    unsigned d, y, hh, mm, ss;
    char mon[4], zone[8] = "";
    int used = 0;
    if (sscanf(p, " %2u %3s %4u %2u:%2u:%2u%n", &d, mon, &y, &hh, &mm, &ss, &used) != 6)
        return false;
    int m = -1;
    for (int i = 0; i < 12; i++)
        if (strcasecmp(mon, months[i]) == 0)
            m = i;
    if (m < 0)
        return false;
    p += used;
    while (*p == ' ')
        p++;
    if (*p == '\0' || strcasecmp(p, "GMT") == 0 || strcasecmp(p, "UTC") == 0 || strcasecmp(p, "Z") == 0)
        snprintf(zone, sizeof zone, "+0000");
    else if ((*p == '+' || *p == '-') && strlen(p) == 5)
        snprintf(zone, sizeof zone, "%s", p);
    else
        return false;
    snprintf(out, cap, "%04u-%02d-%02u %02u:%02u:%02u%s", y, m + 1, d, hh, mm, ss, zone);
    return true;
}

typedef struct drop_parser {
    feed_ctx c;
    char time[64]; /* from "; Last-Modified:", "" until seen */
} drop_parser;

static dz_code classify(drop_parser *p)
{
    dz_err fe;
    if (event_set(p->c.ev, "classification.taxonomy", "other", 5, &fe) == DZ_ENOMEM ||
        event_set(p->c.ev, "classification.type", "blacklist", 9, &fe) == DZ_ENOMEM)
        return DZ_ENOMEM;
    if (p->time[0] && event_set(p->c.ev, "time.source", p->time, strlen(p->time), &fe) == DZ_ENOMEM)
        return DZ_ENOMEM;
    return DZ_OK;
}

/* Sets key or refuses the line naming it; DZ_OK, DZ_EINVAL (refused), DZ_ENOMEM. */
static dz_code put(drop_parser *p, const char *key, const char *s, size_t n, uint64_t line, const char *raw,
                   size_t raw_len)
{
    dz_code rc = feed_ctx_set(&p->c, key, s, n);
    if (rc == DZ_EINVAL)
        feed_ctx_refuse(&p->c, line, raw, raw_len, "%s", p->c.err.msg);
    return rc;
}

/* "1.10.16.0/20 ; SBL256894", "2001:db8::/32 ; SBL1", "AS12345 ; CN | Name" */
static dz_code text_line(drop_parser *p, const char *s, size_t n, uint64_t line)
{
    const char *semi = memchr(s, ';', n);
    const char *v = s;
    size_t vn = semi ? (size_t)(semi - s) : n;
    trim(&v, &vn);
    const char *rest = semi ? semi + 1 : s + n;
    size_t rn = semi ? n - (size_t)(semi + 1 - s) : 0;
    trim(&rest, &rn);
    event_reset(p->c.ev);
    dz_code rc;
    if (vn > 2 && (v[0] == 'A' || v[0] == 'a') && (v[1] == 'S' || v[1] == 's') && isdigit((unsigned char)v[2])) {
        /* ASN-DROP: "AS12345 ; CN | Name" */
        if ((rc = put(p, "source.asn", v, vn, line, s, n)) != DZ_OK)
            return rc == DZ_ENOMEM ? rc : DZ_OK;
        const char *bar = memchr(rest, '|', rn);
        const char *cc = rest, *name = bar ? bar + 1 : rest + rn;
        size_t ccn = bar ? (size_t)(bar - rest) : rn, namen = bar ? rn - (size_t)(bar + 1 - rest) : 0;
        trim(&cc, &ccn);
        trim(&name, &namen);
        if (ccn && (rc = put(p, "source.geolocation.cc", cc, ccn, line, s, n)) != DZ_OK)
            return rc == DZ_ENOMEM ? rc : DZ_OK;
        if (namen && (rc = put(p, "source.as_name", name, namen, line, s, n)) != DZ_OK)
            return rc == DZ_ENOMEM ? rc : DZ_OK;
    } else {
        if (vn == 0) {
            feed_ctx_refuse(&p->c, line, s, n, "source.network: no value before ';'");
            return DZ_OK;
        }
        const char *key = memchr(v, '/', vn) ? "source.network" : "source.ip";
        if ((rc = put(p, key, v, vn, line, s, n)) != DZ_OK)
            return rc == DZ_ENOMEM ? rc : DZ_OK;
        if (rn && (rc = put(p, "extra.blocklist", rest, rn, line, s, n)) != DZ_OK)
            return rc == DZ_ENOMEM ? rc : DZ_OK;
    }
    if (classify(p) != DZ_OK)
        return DZ_ENOMEM;
    return feed_ctx_emit(&p->c, line, s, n);
}

/* A JSON member as text (strings as they are, integers as digits); false when absent or another kind. */
static bool member_text(const json_t *o, const char *name, char *num, size_t cap, const char **s, size_t *n)
{
    const json_t *v = json_object_get(o, name);
    if (json_is_string(v)) {
        *s = json_string_value(v);
        *n = json_string_length(v);
        return true;
    }
    if (json_is_integer(v)) {
        snprintf(num, cap, "%lld", (long long)json_integer_value(v));
        *s = num;
        *n = strlen(num);
        return true;
    }
    return false;
}

static dz_code json_line(drop_parser *p, const char *s, size_t n, uint64_t line)
{
    json_error_t je;
    json_t *o = json_loadb(s, n, 0, &je);
    if (!o) {
        feed_ctx_refuse(&p->c, line, s, n, "not JSON: %s (column %d)", je.text, je.column);
        return DZ_OK;
    }
    dz_code rc = DZ_OK;
    if (!json_is_object(o)) {
        feed_ctx_refuse(&p->c, line, s, n, "not a JSON object");
        goto out;
    }
    const json_t *type = json_object_get(o, "type");
    if (json_is_string(type) && strcmp(json_string_value(type), "metadata") == 0)
        goto out; /* the list's summary, no event */
    event_reset(p->c.ev);
    char num[32];
    const char *v;
    size_t vn;
    bool any = false;
    if (member_text(o, "cidr", num, sizeof num, &v, &vn)) {
        any = true;
        if ((rc = put(p, memchr(v, '/', vn) ? "source.network" : "source.ip", v, vn, line, s, n)) != DZ_OK)
            goto out;
    }
    if (member_text(o, "asn", num, sizeof num, &v, &vn)) {
        any = true;
        if ((rc = put(p, "source.asn", v, vn, line, s, n)) != DZ_OK)
            goto out;
    }
    if (!any) {
        feed_ctx_refuse(&p->c, line, s, n, "neither 'cidr' nor 'asn' in the object");
        goto out;
    }
    static const struct {
        const char *member, *key;
    } opt[] = {{"sblid", "extra.blocklist"}, {"cc", "source.geolocation.cc"}, {"asname", "source.as_name"},
               {"domain", "extra.domain"}};
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
        if (member_text(o, opt[i].member, num, sizeof num, &v, &vn) && vn &&
            (rc = put(p, opt[i].key, v, vn, line, s, n)) != DZ_OK)
            goto out;
    if (member_text(o, "rir", num, sizeof num, &v, &vn) && vn) {
        /* a registry event.c does not know stays as extra.rir */
        dz_err ign;
        rc = event_set(p->c.ev, "source.registry", v, vn, &ign);
        if (rc == DZ_EINVAL)
            rc = put(p, "extra.rir", v, vn, line, s, n);
        if (rc != DZ_OK)
            goto out;
    }
    if ((rc = classify(p)) == DZ_OK)
        rc = feed_ctx_emit(&p->c, line, s, n);
out:
    json_decref(o);
    return rc == DZ_ENOMEM ? rc : DZ_OK;
}

static const char *default_name(const char *file)
{
    const char *b = feed_base_name(file);
    size_t n = strlen(b);
    if (find(b, n, "asndrop") || find(b, n, "asn-drop") || find(b, n, "asn_drop"))
        return "Spamhaus ASN-DROP";
    if (find(b, n, "edrop"))
        return "Spamhaus EDROP";
    if (find(b, n, "v6"))
        return "Spamhaus DROPv6";
    return "Spamhaus DROP";
}

dz_code feed_spamhaus_drop_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                                 feed_error_fn on_error, void *arg, dz_err *e)
{
    drop_parser *p = calloc(1, sizeof *p);
    if (!p)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    feed_lines lr;
    feed_lines_init(&lr, read, read_arg, FEED_MAX_LINE);
    dz_code rc = feed_ctx_init(&p->c, opt, default_name(opt ? opt->file_name : NULL), "Spamhaus", on_event,
                               on_error, arg, e);
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
        const char *t = s;
        size_t tn = n;
        trim(&t, &tn);
        if (tn == 0)
            continue;
        if (t[0] == ';' || t[0] == '#') {
            const char *lm = find(t, tn, "Last-Modified:");
            if (lm) {
                const char *d = lm + 14;
                char iso[64];
                dz_err ign;
                if (http_date(d, tn - (size_t)(d - t), iso, sizeof iso) &&
                    event_set(p->c.ev, "time.source", iso, strlen(iso), &ign) == DZ_OK) {
                    const event_field *f = event_get(p->c.ev, "time.source");
                    snprintf(p->time, sizeof p->time, "%s", f ? f->s : "");
                }
                event_reset(p->c.ev);
            }
            continue;
        }
        rc = t[0] == '{' || t[0] == '[' ? json_line(p, t, tn, line) : text_line(p, t, tn, line);
        if (rc != DZ_OK)
            rc = dz_fail(e, rc, "out of memory");
    }
    feed_lines_free(&lr);
    feed_ctx_free(&p->c);
    free(p);
    return rc;
}
