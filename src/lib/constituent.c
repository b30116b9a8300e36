/*
 * constituent: networks, AS numbers, domains, enumerations, sectors and the
 * JSON form of a constituent record. The CSV form is in constituent_csv.c.
 *
 * Every message of constituent_from_json starts with the path of the value
 * it is about ("networks[2]: ...", "contacts[0].email: ..."); the CSV import
 * relies on that to turn it into a column and a line.
 */
#include "lib/constituent.h"
#include "lib/request_decode.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small helpers ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c);
}

static char to_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char to_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* "path: message" */
static dz_code failp(dz_err *e, dz_code code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static dz_code failp(dz_err *e, dz_code code, const char *path, const char *fmt, ...)
{
    char msg[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dz_fail(e, code, "%s: %s", path, msg);
}

static dz_code oom(dz_err *e)
{
    return dz_fail(e, DZ_ENOMEM, "out of memory");
}

/* ---- IP networks ---- */

/* Dotted quad, strictly: four decimal parts 0..255 without leading zeros. */
static dz_code v4_strict(const char *s, const char *text, dz_err *e)
{
    int parts = 0;
    const char *p = s;
    for (;;) {
        const char *q = p;
        unsigned v = 0;
        while (is_digit(*q) && q - p < 4)
            v = v * 10 + (unsigned)(*q++ - '0');
        size_t n = (size_t)(q - p);
        if (n == 0 || n > 3 || v > 255)
            return dz_fail(e, DZ_EINVAL, "'%.60s' is not an IP address or network", text);
        if (n > 1 && *p == '0')
            return dz_fail(e, DZ_EINVAL, "'%.60s': leading zeros in an IPv4 address are ambiguous", text);
        parts++;
        if (*q == '.' && parts < 4) {
            p = q + 1;
            continue;
        }
        if (*q != '\0' || parts != 4)
            return dz_fail(e, DZ_EINVAL, "'%.60s' is not an IP address or network", text);
        return DZ_OK;
    }
}

static bool v4_mapped(const uint8_t a[16])
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, 12) == 0;
}

/* Address part (NUL-terminated, no '/'). */
static dz_code parse_address(const char *s, const char *text, net_prefix *out, dz_err *e)
{
    memset(out, 0, sizeof *out);
    if (strchr(s, ':')) {
        if (inet_pton(AF_INET6, s, out->addr) != 1)
            return dz_fail(e, DZ_EINVAL, "'%.60s' is not an IP address or network", text);
        out->family = 6;
        out->len = 128;
        return DZ_OK;
    }
    dz_code rc = v4_strict(s, text, e);
    if (rc)
        return rc;
    if (inet_pton(AF_INET, s, out->addr) != 1)
        return dz_fail(e, DZ_EINVAL, "'%.60s' is not an IP address or network", text);
    out->family = 4;
    out->len = 32;
    return DZ_OK;
}

/* Copies text to buf after checking its characters; returns the '/' in buf or NULL. */
static dz_code prefix_text(const char *text, char *buf, size_t cap, char **slash, dz_err *e)
{
    if (!text || !*text)
        return dz_fail(e, DZ_EINVAL, "empty IP address or network");
    size_t n = strlen(text);
    if (n >= cap)
        return dz_fail(e, DZ_EINVAL, "'%.60s...' is not an IP address or network (too long)", text);
    *slash = NULL;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        bool ok = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':';
        if (c == '/' && !*slash) {
            *slash = buf + i;
            ok = true;
        }
        if (!ok) {
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
                return dz_fail(e, DZ_EINVAL, "'%.60s' is not an IP address or network (contains whitespace)", text);
            return dz_fail(e, DZ_EINVAL, "'%.60s' is not an IP address or network", text);
        }
    }
    memcpy(buf, text, n + 1);
    return DZ_OK;
}

static void mask_host_bits(net_prefix *p)
{
    unsigned bytes = p->family == 4 ? 4 : 16;
    for (unsigned i = 0; i < bytes; i++) {
        unsigned lo = i * 8;
        if (lo >= p->len)
            p->addr[i] = 0;
        else if (p->len - lo < 8)
            p->addr[i] &= (uint8_t)(0xff00u >> (p->len - lo));
    }
}

/* ::ffff:a.b.c.d/(96+n) is written as a.b.c.d/n, so each network has one form. */
static void unmap_v4(net_prefix *p)
{
    if (p->family == 6 && p->len >= 96 && v4_mapped(p->addr)) {
        uint8_t a[4];
        memcpy(a, p->addr + 12, 4);
        memset(p->addr, 0, sizeof p->addr);
        memcpy(p->addr, a, 4);
        p->family = 4;
        p->len = (uint8_t)(p->len - 96);
    }
}

dz_code net_prefix_parse(const char *text, net_prefix *out, dz_err *e)
{
    char buf[64], *slash;
    net_prefix p;
    memset(out, 0, sizeof *out);
    dz_code rc = prefix_text(text, buf, sizeof buf, &slash, e);
    if (rc)
        return rc;
    if (slash)
        *slash = '\0';
    rc = parse_address(buf, text, &p, e);
    if (rc)
        return rc;
    if (slash) {
        const char *l = slash + 1;
        size_t n = strlen(l);
        unsigned max = p.family == 4 ? 32 : 128, v = 0;
        bool ok = n >= 1 && n <= 3 && !(n > 1 && l[0] == '0');
        for (size_t i = 0; ok && i < n; i++) {
            ok = is_digit(l[i]);
            v = v * 10 + (unsigned)(l[i] - '0');
        }
        if (!ok || v > max)
            return dz_fail(e, DZ_EINVAL, "'%.60s': the prefix length must be 0..%u", text, max);
        p.len = (uint8_t)v;
    }
    net_prefix net = p;
    mask_host_bits(&net);
    if (memcmp(net.addr, p.addr, sizeof p.addr) != 0) {
        char t[NET_PREFIX_TEXT_MAX];
        net_prefix_format(&net, t);
        return dz_fail(e, DZ_EINVAL, "%s has host bits set (network %s)", text, t);
    }
    unmap_v4(&p);
    *out = p;
    return DZ_OK;
}

dz_code ip_address_parse(const char *text, net_prefix *out, dz_err *e)
{
    char buf[64], *slash;
    memset(out, 0, sizeof *out);
    dz_code rc = prefix_text(text, buf, sizeof buf, &slash, e);
    if (rc)
        return rc;
    if (slash)
        return dz_fail(e, DZ_EINVAL, "'%.60s' is not an IP address (a network was given)", text);
    rc = parse_address(buf, text, out, e);
    if (rc)
        return rc;
    unmap_v4(out);
    return DZ_OK;
}

/* RFC 5952: lower case, no leading zeros, the longest run (2+) of zero groups as "::" (the first of equals). */
static void format_v6(const uint8_t a[16], char *out, size_t cap)
{
    unsigned w[8];
    for (int i = 0; i < 8; i++)
        w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (w[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && w[j] == 0)
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2)
        best = -1;
    size_t off = 0;
    int last = 8;
    if (v4_mapped(a)) { /* ::ffff:192.0.2.1 */
        last = 6;
    }
    for (int i = 0; i < last; i++) {
        if (i == best) {
            off += (size_t)snprintf(out + off, cap - off, "::");
            i += best_len - 1;
            continue;
        }
        if (off > 0 && out[off - 1] != ':')
            off += (size_t)snprintf(out + off, cap - off, ":");
        off += (size_t)snprintf(out + off, cap - off, "%x", w[i]);
    }
    if (last == 6)
        snprintf(out + off, cap - off, ":%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
}

void net_prefix_format(const net_prefix *p, char out[NET_PREFIX_TEXT_MAX])
{
    char a[NET_PREFIX_TEXT_MAX];
    if (p->family == 4)
        snprintf(a, sizeof a, "%u.%u.%u.%u", p->addr[0], p->addr[1], p->addr[2], p->addr[3]);
    else
        format_v6(p->addr, a, sizeof a);
    snprintf(out, NET_PREFIX_TEXT_MAX, "%s/%u", a, p->len);
}

uint32_t net_prefix_v4(const net_prefix *p)
{
    return (uint32_t)p->addr[0] << 24 | (uint32_t)p->addr[1] << 16 | (uint32_t)p->addr[2] << 8 | p->addr[3];
}

bool net_prefix_contains(const net_prefix *a, const net_prefix *b)
{
    if (a->family != b->family || a->len > b->len)
        return false;
    unsigned full = a->len / 8, rest = a->len % 8;
    if (memcmp(a->addr, b->addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t m = (uint8_t)(0xff00u >> rest);
    return (a->addr[full] & m) == (b->addr[full] & m);
}

/* ---- AS numbers ---- */

/* Decimal without sign or leading zeros, at most max. */
static bool parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

dz_code asn_parse(const char *text, uint32_t *out, dz_err *e)
{
    *out = 0;
    if (!text || !*text)
        return dz_fail(e, DZ_EINVAL, "empty AS number");
    const char *s = text;
    if ((s[0] == 'A' || s[0] == 'a') && (s[1] == 'S' || s[1] == 's'))
        s += 2;
    size_t n = strlen(s);
    const char *dot = memchr(s, '.', n);
    uint64_t v = 0;
    if (dot) {
        uint64_t hi, lo;
        if (!parse_uint(s, (size_t)(dot - s), 65535, &hi) ||
            !parse_uint(dot + 1, n - (size_t)(dot - s) - 1, 65535, &lo))
            return dz_fail(e, DZ_EINVAL, "'%.40s' is not an AS number (asdot is X.Y with both 0..65535)", text);
        v = hi << 16 | lo;
    } else if (!parse_uint(s, n, UINT64_MAX, &v)) {
        return dz_fail(e, DZ_EINVAL, "'%.40s' is not an AS number (e.g. 64512, AS64512 or 1.10)", text);
    }
    if (v > UINT32_MAX)
        return dz_fail(e, DZ_EINVAL, "'%.40s': AS numbers go up to 4294967295", text);
    if (v == 0)
        return dz_fail(e, DZ_EINVAL, "'%.40s': AS 0 is reserved (RFC 7607)", text);
    *out = (uint32_t)v;
    return DZ_OK;
}

/* ---- domains ---- */

/* The rules for the A-label form (lower case); name is what the user gave, for messages. */
static dz_code domain_check(const char *d, const char *name, dz_err *e)
{
    size_t n = strlen(d);
    if (n == 0)
        return dz_fail(e, DZ_EINVAL, "empty domain name");
    if (n > DOMAIN_TEXT_MAX - 1)
        return dz_fail(e, DZ_EINVAL, "domain '%.60s...' is longer than %d characters", name, DOMAIN_TEXT_MAX - 1);
    size_t labels = 0;
    const char *p = d, *last = d;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0)
            return dz_fail(e, DZ_EINVAL, "domain '%.80s': empty label", name);
        if (len > 63)
            return dz_fail(e, DZ_EINVAL, "domain '%.80s': a label is longer than 63 characters", name);
        for (size_t i = 0; i < len; i++) {
            char c = p[i];
            if (c == '_')
                return dz_fail(e, DZ_EINVAL, "domain '%.80s': '_' is not allowed in a host name", name);
            if (!is_lower_alnum(c) && c != '-') {
                if ((unsigned char)c >= 0x21 && (unsigned char)c < 0x7f)
                    return dz_fail(e, DZ_EINVAL, "domain '%.80s': '%c' is not allowed (letters, digits, '-')",
                                   name, c);
                return dz_fail(e, DZ_EINVAL, "domain '%.80s': byte 0x%02x is not allowed", name,
                               (unsigned char)c);
            }
        }
        if (p[0] == '-' || p[len - 1] == '-')
            return dz_fail(e, DZ_EINVAL, "domain '%.80s': a label must not start or end with '-'", name);
        labels++;
        last = p;
        if (!dot)
            break;
        p = dot + 1;
    }
    if (labels < 2)
        return dz_fail(e, DZ_EINVAL, "domain '%.80s': needs at least two labels (e.g. example.bt)", name);
    bool numeric = true;
    for (const char *q = last; *q && numeric; q++)
        numeric = is_digit(*q);
    if (numeric)
        return dz_fail(e, DZ_EINVAL, "domain '%.80s': the last label is numeric (an IP address?)", name);
    return DZ_OK;
}

dz_code domain_normalize(const char *text, char out[DOMAIN_TEXT_MAX], dz_err *e)
{
    out[0] = '\0';
    if (!text || !*text)
        return dz_fail(e, DZ_EINVAL, "empty domain name");
    size_t n = strlen(text);
    if (n > 1024)
        return dz_fail(e, DZ_EINVAL, "domain '%.60s...' is too long", text);
    bool ascii = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= 0x20 || c == 0x7f)
            return dz_fail(e, DZ_EINVAL, "domain '%.80s': contains whitespace or control characters", text);
        ascii = ascii && c < 0x80;
    }
    char buf[1025];
    memcpy(buf, text, n + 1);
    if (n > 0 && buf[n - 1] == '.')
        buf[--n] = '\0';
    if (ascii) { /* the clearer messages first, then libidn2 for the A-labels and IDNA's rules */
        for (size_t i = 0; i < n; i++)
            buf[i] = to_lower(buf[i]);
        dz_code rc = domain_check(buf, text, e);
        if (rc)
            return rc;
        /*
         * Letters, digits and hyphens with no "??--" label (A-labels are
         * "xn--..."): UTS #46 maps such a name to itself and IDNA has nothing
         * more to check, so libidn2 is needed only for the others.
         */
        bool reserved = false;
        for (const char *l = buf; l && !reserved; l = strchr(l, '.') ? strchr(l, '.') + 1 : NULL)
            reserved = l[0] && l[1] && l[2] == '-' && l[3] == '-';
        if (!reserved && n < DOMAIN_TEXT_MAX) {
            memcpy(out, buf, n + 1);
            return DZ_OK;
        }
    }
    char *a = NULL;
    int rc = idn2_to_ascii_8z(buf, &a, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc == IDN2_DISALLOWED) /* some symbols only map under transitional processing */
        rc = idn2_to_ascii_8z(buf, &a, IDN2_TRANSITIONAL | IDN2_NFC_INPUT);
    if (rc == IDN2_MALLOC)
        return oom(e);
    if (rc != IDN2_OK) {
        free(a);
        return dz_fail(e, DZ_EINVAL, "domain '%.80s': not a valid (internationalised) domain name: %s", text,
                       idn2_strerror(rc));
    }
    for (char *q = a; *q; q++)
        *q = to_lower(*q);
    dz_code drc = domain_check(a, text, e);
    if (drc == DZ_OK)
        memcpy(out, a, strlen(a) + 1); /* domain_check bounded it */
    free(a);
    return drc;
}

/* ---- enumerations ---- */

static const char *const kind_names[] = {"government", "cii-operator", "isp",          "private",
                                         "academia",   "ngo",          "partner-cert", "other"};
static const char *const role_names[] = {"abuse", "security", "management", "24x7"};
static const char *const interval_names[] = {"immediate", "hourly", "daily", "weekly", "never"};
static const char *const format_names[] = {"csv", "json"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static dz_code enum_parse(const char *what, const char *const *names, size_t n, const char *s, int *out, dz_err *e)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcasecmp(s, names[i]) == 0) {
            *out = (int)i;
            return DZ_OK;
        }
    char list[256] = "";
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", names[i]);
    return dz_fail(e, DZ_EINVAL, "unknown %s '%.40s' (%s)", what, s ? s : "", list);
}

dz_code org_kind_parse(const char *s, org_kind *out, dz_err *e)
{
    int v = 0;
    dz_code rc = enum_parse("organisation kind", kind_names, COUNT(kind_names), s, &v, e);
    if (rc == DZ_OK)
        *out = (org_kind)v;
    return rc;
}

const char *org_kind_name(org_kind k)
{
    return (unsigned)k < COUNT(kind_names) ? kind_names[k] : "?";
}

dz_code contact_role_parse(const char *s, contact_role *out, dz_err *e)
{
    int v = 0;
    dz_code rc = enum_parse("contact role", role_names, COUNT(role_names), s, &v, e);
    if (rc == DZ_OK)
        *out = (contact_role)v;
    return rc;
}

const char *contact_role_name(contact_role r)
{
    return (unsigned)r < COUNT(role_names) ? role_names[r] : "?";
}

dz_code notify_interval_parse(const char *s, notify_interval *out, dz_err *e)
{
    int v = 0;
    dz_code rc = enum_parse("notification interval", interval_names, COUNT(interval_names), s, &v, e);
    if (rc == DZ_OK)
        *out = (notify_interval)v;
    return rc;
}

const char *notify_interval_name(notify_interval i)
{
    return (unsigned)i < COUNT(interval_names) ? interval_names[i] : "?";
}

dz_code notify_format_parse(const char *s, notify_format *out, dz_err *e)
{
    int v = 0;
    dz_code rc = enum_parse("notification format", format_names, COUNT(format_names), s, &v, e);
    if (rc == DZ_OK)
        *out = (notify_format)v;
    return rc;
}

const char *notify_format_name(notify_format f)
{
    return (unsigned)f < COUNT(format_names) ? format_names[f] : "?";
}

/* ---- sectors ---- */

static const char *const default_sectors[] = {"government", "energy",    "ict-telecom",        "banking-finance",
                                              "health",     "transport", "water",              "emergency-services",
                                              "food-agriculture", "media"};

void sector_list_default(sector_list *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < COUNT(default_sectors); i++)
        snprintf(out->names[out->n++], SECTOR_NAME_MAX, "%s", default_sectors[i]);
}

dz_code sector_list_parse(const char *text, sector_list *out, dz_err *e)
{
    memset(out, 0, sizeof *out);
    const char *p = text ? text : "";
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *a = p, *b = comma ? comma : p + strlen(p);
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        size_t n = (size_t)(b - a);
        if (n == 0) {
            memset(out, 0, sizeof *out);
            return dz_fail(e, DZ_EINVAL, "sectors: empty name in '%.80s'", text ? text : "");
        }
        bool ok = n < SECTOR_NAME_MAX;
        for (size_t i = 0; i < n && ok; i++)
            ok = is_lower_alnum(a[i]) || a[i] == '-';
        if (!ok) {
            memset(out, 0, sizeof *out);
            return dz_fail(e, DZ_EINVAL, "sectors: '%.*s' is not a sector name (1..%d of a-z, 0-9, '-')",
                           (int)(n > 60 ? 60 : n), a, SECTOR_NAME_MAX - 1);
        }
        if (out->n == SECTOR_MAX) {
            memset(out, 0, sizeof *out);
            return dz_fail(e, DZ_EINVAL, "sectors: more than %d", SECTOR_MAX);
        }
        memcpy(out->names[out->n], a, n);
        out->names[out->n][n] = '\0';
        for (size_t i = 0; i < out->n; i++)
            if (strcmp(out->names[i], out->names[out->n]) == 0) {
                char dup[SECTOR_NAME_MAX];
                memcpy(dup, out->names[i], sizeof dup);
                memset(out, 0, sizeof *out);
                return dz_fail(e, DZ_EINVAL, "sectors: '%s' is listed twice", dup);
            }
        out->n++;
        if (!comma)
            return DZ_OK;
        p = comma + 1;
    }
}

bool sector_list_has(const sector_list *l, const char *name)
{
    for (size_t i = 0; name && i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return true;
    return false;
}

/* ---- the record ---- */

static void contact_free(contact *c)
{
    free(c->name);
    free(c->email);
    free(c->phone);
    free(c->pgp);
    free(c->language);
    memset(c, 0, sizeof *c);
}

void constituent_record_free(constituent_record *r)
{
    if (!r)
        return;
    free(r->short_name);
    free(r->name);
    free(r->sector);
    free(r->parent);
    for (size_t i = 0; i < r->n_tags; i++)
        free(r->tags[i]);
    free(r->tags);
    free(r->networks);
    free(r->asns);
    for (size_t i = 0; i < r->n_domains; i++)
        free(r->domains[i]);
    free(r->domains);
    for (size_t i = 0; i < r->n_contacts; i++)
        contact_free(&r->contacts[i]);
    free(r->contacts);
    memset(r, 0, sizeof *r);
}

/* v is a string without NUL bytes. */
static dz_code json_str(const json_t *v, const char *path, const char **s, dz_err *e)
{
    if (!json_is_string(v))
        return failp(e, DZ_EINVAL, path, "must be a string");
    const char *str = json_string_value(v);
    if (strlen(str) != json_string_length(v))
        return failp(e, DZ_EINVAL, path, "contains a NUL byte");
    *s = str;
    return DZ_OK;
}

/* A one-line text: no control characters, no blanks at either end. */
static dz_code text_field(const json_t *v, const char *path, size_t max, char **out, dz_err *e)
{
    const char *s = NULL;
    dz_code rc = json_str(v, path, &s, e);
    if (rc)
        return rc;
    size_t n = strlen(s);
    if (n == 0)
        return failp(e, DZ_EINVAL, path, "must not be empty");
    if (n > max)
        return failp(e, DZ_EINVAL, path, "is too long (%zu bytes; at most %zu)", n, max);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return failp(e, DZ_EINVAL, path, "contains control characters");
    }
    if (s[0] == ' ' || s[n - 1] == ' ')
        return failp(e, DZ_EINVAL, path, "must not start or end with a space");
    *out = strdup(s);
    return *out ? DZ_OK : oom(e);
}

/* Absent, null or "": *s = NULL. */
static dz_code optional_str(const json_t *v, const char *path, const char **s, dz_err *e)
{
    *s = NULL;
    if (!v || json_is_null(v))
        return DZ_OK;
    dz_code rc = json_str(v, path, s, e);
    if (rc == DZ_OK && **s == '\0')
        *s = NULL;
    return rc;
}

static dz_code check_keys(const json_t *o, const char *path, const char *const *known, dz_err *e)
{
    static const char *const ignored[] = {"id", "created_at", "updated_at"};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(key, *k) == 0;
        for (size_t i = 0; i < COUNT(ignored) && !ok; i++)
            ok = strcmp(key, ignored[i]) == 0;
        if (!ok) {
            char list[400] = "";
            size_t off = 0;
            for (const char *const *k = known; *k && off < sizeof list - 40; k++)
                off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? ", " : "", *k);
            if (path)
                return failp(e, DZ_EINVAL, path, "unknown field '%.60s' (known: %s)", key, list);
            return dz_fail(e, DZ_EINVAL, "unknown field '%.60s' (known: %s)", key, list);
        }
    }
    return DZ_OK;
}

/* The array at field (absent: n = 0), at most max items. */
static dz_code get_array(const json_t *o, const char *field, size_t max, const json_t **arr, size_t *n, dz_err *e)
{
    *arr = json_object_get(o, field);
    *n = 0;
    if (!*arr)
        return DZ_OK;
    if (!json_is_array(*arr))
        return failp(e, DZ_EINVAL, field, "must be an array");
    *n = json_array_size(*arr);
    if (*n > max)
        return failp(e, DZ_EINVAL, field, "has %zu items; at most %zu", *n, max);
    return DZ_OK;
}

/* ---- duplicates: sort indices, then compare neighbours ---- */

typedef int (*item_cmp)(const void *items, size_t a, size_t b);
struct dup_ctx {
    const void *items;
    item_cmp cmp;
};

static int dup_sort_cmp(const void *pa, const void *pb, void *arg)
{
    const struct dup_ctx *c = arg;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int r = c->cmp(c->items, a, b);
    if (r)
        return r;
    return a < b ? -1 : a > b;
}

/*
 * The first item (in input order) equal to an earlier one: *later and the
 * earliest equal *earlier. false: none (or out of memory: *oom_out).
 */
static bool find_duplicate(const void *items, size_t n, item_cmp cmp, size_t *earlier, size_t *later, bool *oom_out)
{
    *oom_out = false;
    if (n < 2)
        return false;
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx) {
        *oom_out = true;
        return false;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    struct dup_ctx ctx = {items, cmp};
    qsort_r(idx, n, sizeof *idx, dup_sort_cmp, &ctx);
    bool found = false;
    for (size_t i = 1, run = 0; i < n; i++) {
        if (cmp(items, idx[i - 1], idx[i]) != 0) {
            run = i;
            continue;
        }
        if (i == run + 1 && (!found || idx[i] < *later)) {
            found = true;
            *earlier = idx[run];
            *later = idx[i];
        }
    }
    free(idx);
    return found;
}

static int cmp_strings(const void *items, size_t a, size_t b)
{
    char *const *s = items;
    return strcmp(s[a], s[b]);
}

static int cmp_prefixes(const void *items, size_t a, size_t b)
{
    const net_prefix *p = items;
    if (p[a].family != p[b].family)
        return p[a].family < p[b].family ? -1 : 1;
    if (p[a].len != p[b].len)
        return p[a].len < p[b].len ? -1 : 1;
    return memcmp(p[a].addr, p[b].addr, sizeof p[a].addr);
}

static int cmp_asns(const void *items, size_t a, size_t b)
{
    const uint32_t *v = items;
    return v[a] < v[b] ? -1 : v[a] > v[b];
}

/* ---- fields of the record ---- */

static bool tag_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(s[i]) && !strchr("._:-", s[i]))
            return false;
    return true;
}

static dz_code parse_tags(const json_t *o, constituent_record *r, dz_err *e)
{
    const json_t *arr;
    size_t n;
    dz_code rc = get_array(o, "tags", CONSTITUENT_MAX_TAGS, &arr, &n, e);
    if (rc || n == 0)
        return rc;
    if (!(r->tags = calloc(n, sizeof *r->tags)))
        return oom(e);
    for (size_t i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof path, "tags[%zu]", i);
        const char *s = NULL;
        if ((rc = json_str(json_array_get(arr, i), path, &s, e)))
            return rc;
        if (!tag_valid(s))
            return failp(e, DZ_EINVAL, path, "'%.80s' is not a tag (1..64 of a-z, 0-9, '.', '_', ':', '-')", s);
        if (!(r->tags[r->n_tags] = strdup(s)))
            return oom(e);
        r->n_tags++;
    }
    size_t a = 0, b = 0;
    bool nomem;
    if (find_duplicate(r->tags, r->n_tags, cmp_strings, &a, &b, &nomem))
        return dz_fail(e, DZ_EINVAL, "tags[%zu]: '%s' is listed twice (also tags[%zu])", b, r->tags[b], a);
    return nomem ? oom(e) : DZ_OK;
}

static dz_code parse_networks(const json_t *o, constituent_record *r, dz_err *e)
{
    const json_t *arr;
    size_t n;
    dz_code rc = get_array(o, "networks", CONSTITUENT_MAX_NETWORKS, &arr, &n, e);
    if (rc || n == 0)
        return rc;
    if (!(r->networks = calloc(n, sizeof *r->networks)))
        return oom(e);
    for (size_t i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof path, "networks[%zu]", i);
        const char *s = NULL;
        if ((rc = json_str(json_array_get(arr, i), path, &s, e)))
            return rc;
        if ((rc = net_prefix_parse(s, &r->networks[i], e)))
            return dz_wrap(e, "%s", path);
        r->n_networks++;
    }
    size_t a = 0, b = 0;
    bool nomem;
    if (find_duplicate(r->networks, r->n_networks, cmp_prefixes, &a, &b, &nomem)) {
        char t[NET_PREFIX_TEXT_MAX];
        net_prefix_format(&r->networks[b], t);
        return dz_fail(e, DZ_EINVAL, "networks[%zu]: %s is listed twice (also networks[%zu])", b, t, a);
    }
    return nomem ? oom(e) : DZ_OK;
}

static dz_code parse_asns(const json_t *o, constituent_record *r, dz_err *e)
{
    const json_t *arr;
    size_t n;
    dz_code rc = get_array(o, "asns", CONSTITUENT_MAX_ASNS, &arr, &n, e);
    if (rc || n == 0)
        return rc;
    if (!(r->asns = calloc(n, sizeof *r->asns)))
        return oom(e);
    for (size_t i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof path, "asns[%zu]", i);
        const json_t *v = json_array_get(arr, i);
        if (json_is_integer(v)) {
            json_int_t x = json_integer_value(v);
            if (x < 1 || x > (json_int_t)UINT32_MAX)
                return failp(e, DZ_EINVAL, path, "%lld is not an AS number (1..4294967295)", (long long)x);
            r->asns[i] = (uint32_t)x;
        } else if (json_is_string(v)) {
            const char *s = NULL;
            if ((rc = json_str(v, path, &s, e)))
                return rc;
            if ((rc = asn_parse(s, &r->asns[i], e)))
                return dz_wrap(e, "%s", path);
        } else {
            return failp(e, DZ_EINVAL, path, "must be an integer or a string such as \"AS64512\"");
        }
        r->n_asns++;
    }
    size_t a = 0, b = 0;
    bool nomem;
    if (find_duplicate(r->asns, r->n_asns, cmp_asns, &a, &b, &nomem))
        return dz_fail(e, DZ_EINVAL, "asns[%zu]: AS%u is listed twice (also asns[%zu])", b, r->asns[b], a);
    return nomem ? oom(e) : DZ_OK;
}

static dz_code parse_domains(const json_t *o, constituent_record *r, dz_err *e)
{
    const json_t *arr;
    size_t n;
    dz_code rc = get_array(o, "domains", CONSTITUENT_MAX_DOMAINS, &arr, &n, e);
    if (rc || n == 0)
        return rc;
    if (!(r->domains = calloc(n, sizeof *r->domains)))
        return oom(e);
    for (size_t i = 0; i < n; i++) {
        char path[32], d[DOMAIN_TEXT_MAX];
        snprintf(path, sizeof path, "domains[%zu]", i);
        const char *s = NULL;
        if ((rc = json_str(json_array_get(arr, i), path, &s, e)))
            return rc;
        if ((rc = domain_normalize(s, d, e)))
            return dz_wrap(e, "%s", path);
        if (!(r->domains[i] = strdup(d)))
            return oom(e);
        r->n_domains++;
    }
    size_t a = 0, b = 0;
    bool nomem;
    if (find_duplicate(r->domains, r->n_domains, cmp_strings, &a, &b, &nomem))
        return dz_fail(e, DZ_EINVAL, "domains[%zu]: %s is listed twice (also domains[%zu])", b, r->domains[b], a);
    return nomem ? oom(e) : DZ_OK;
}

/* ---- contacts ---- */

static bool local_part_char(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-/=?^_`{|}~.", c));
}

static dz_code parse_email(const char *s, const char *path, char **out, dz_err *e)
{
    size_t n = strlen(s);
    if (n == 0)
        return failp(e, DZ_EINVAL, path, "must not be empty");
    if (n > 1024)
        return failp(e, DZ_EINVAL, path, "is too long");
    const char *at = strrchr(s, '@');
    if (!at || at == s || at[1] == '\0')
        return failp(e, DZ_EINVAL, path, "'%.80s' is not an email address (local@domain)", s);
    size_t ln = (size_t)(at - s);
    if (ln > 64)
        return failp(e, DZ_EINVAL, path, "the part before '@' is longer than 64 characters");
    for (size_t i = 0; i < ln; i++)
        if (!local_part_char(s[i]))
            return failp(e, DZ_EINVAL, path, "'%.80s': the part before '@' may hold letters, digits and "
                         "!#$%%&'*+-/=?^_`{|}~. only", s);
    if (s[0] == '.' || s[ln - 1] == '.' || memmem(s, ln, "..", 2))
        return failp(e, DZ_EINVAL, path, "'%.80s': misplaced '.' before '@'", s);
    char d[DOMAIN_TEXT_MAX];
    if (domain_normalize(at + 1, d, e))
        return dz_wrap(e, "%s", path);
    size_t total = ln + 1 + strlen(d);
    if (total > 254)
        return failp(e, DZ_EINVAL, path, "is longer than 254 characters");
    char *m = malloc(total + 1);
    if (!m)
        return oom(e);
    memcpy(m, s, ln);
    m[ln] = '@';
    memcpy(m + ln + 1, d, strlen(d) + 1);
    *out = m;
    return DZ_OK;
}

static dz_code parse_phone(const char *s, const char *path, char **out, dz_err *e)
{
    size_t n = strlen(s), digits = 0;
    if (n > 40)
        return failp(e, DZ_EINVAL, path, "is longer than 40 characters");
    for (size_t i = 0; i < n; i++) {
        if (is_digit(s[i]))
            digits++;
        else if (!strchr(" +-().", s[i]))
            return failp(e, DZ_EINVAL, path, "'%.40s' may hold digits, spaces and + - ( ) . only", s);
    }
    if (digits == 0 || s[0] == ' ' || s[n - 1] == ' ')
        return failp(e, DZ_EINVAL, path, "'%.40s' is not a phone number", s);
    *out = strdup(s);
    return *out ? DZ_OK : oom(e);
}

#define PGP_BEGIN "-----BEGIN PGP PUBLIC KEY BLOCK-----"
#define PGP_END "-----END PGP PUBLIC KEY BLOCK-----"
#define PGP_MAX (64 * 1024)

static dz_code parse_pgp(const char *s, const char *path, char **out, dz_err *e)
{
    size_t n = strlen(s);
    if (strncmp(s, PGP_BEGIN, strlen(PGP_BEGIN)) == 0) {
        if (n > PGP_MAX)
            return failp(e, DZ_EINVAL, path, "the key block is larger than %d bytes", PGP_MAX);
        if (!strstr(s, PGP_END))
            return failp(e, DZ_EINVAL, path, "the key block has no '" PGP_END "' line");
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f)
                return failp(e, DZ_EINVAL, path, "the key block contains control characters");
        }
        *out = strdup(s);
        return *out ? DZ_OK : oom(e);
    }
    char fp[65];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            continue;
        bool hex = is_digit(s[i]) || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F');
        if (!hex || k == 64) {
            k = 0;
            break;
        }
        fp[k++] = to_upper(s[i]);
    }
    if (k != 40 && k != 64)
        return failp(e, DZ_EINVAL, path, "expected a key fingerprint (40 or 64 hex digits) or an ASCII-armoured "
                     "public key block");
    fp[k] = '\0';
    *out = strdup(fp);
    return *out ? DZ_OK : oom(e);
}

/* "en", "dz", "pt-BR", "es-419"; case is normalised. */
static dz_code parse_language(const char *s, const char *path, char **out, dz_err *e)
{
    char buf[8];
    size_t n = strlen(s), i = 0;
    bool ok = n >= 2 && n <= 7;
    for (; ok && i < n && s[i] != '-'; i++) {
        char c = to_lower(s[i]);
        ok = c >= 'a' && c <= 'z';
        buf[i] = c;
    }
    ok = ok && (i == 2 || i == 3);
    if (ok && i < n) {
        size_t lang = i++;
        buf[lang] = '-';
        size_t rn = n - i;
        bool alpha = rn == 2, num = rn == 3;
        for (; ok && i < n; i++) {
            char c = to_upper(s[i]);
            alpha = alpha && c >= 'A' && c <= 'Z';
            num = num && is_digit(c);
            buf[i] = c;
        }
        ok = alpha || num;
    }
    if (!ok)
        return failp(e, DZ_EINVAL, path, "'%.20s' is not a language tag (e.g. en, dz, pt-BR)", s);
    buf[n] = '\0';
    *out = strdup(buf);
    return *out ? DZ_OK : oom(e);
}

static dz_code parse_contact(const json_t *o, size_t i, contact *c, dz_err *e)
{
    static const char *const known[] = {"name",     "email",           "phone",         "role",    "pgp",
                                        "language", "notify_interval", "notify_format", "max_tlp", NULL};
    char base[32], path[64];
    snprintf(base, sizeof base, "contacts[%zu]", i);
    c->role = CONTACT_ABUSE;
    c->notify_interval = NOTIFY_DAILY;
    c->notify_format = NOTIFY_FORMAT_CSV;
    c->max_tlp = TLP_AMBER;
    if (!json_is_object(o))
        return failp(e, DZ_EINVAL, base, "must be an object");
    dz_code rc = check_keys(o, base, known, e);
    if (rc)
        return rc;
    const json_t *v;
    const char *s = NULL;

#define PATH(f) (snprintf(path, sizeof path, "%s.%s", base, f), path)
    if (!(v = json_object_get(o, "name")) || json_is_null(v))
        return failp(e, DZ_EINVAL, PATH("name"), "required");
    if ((rc = text_field(v, PATH("name"), 200, &c->name, e)))
        return rc;

    if (!(v = json_object_get(o, "email")) || json_is_null(v))
        return failp(e, DZ_EINVAL, PATH("email"), "required");
    if ((rc = json_str(v, PATH("email"), &s, e)) || (rc = parse_email(s, path, &c->email, e)))
        return rc;

    if ((rc = optional_str(json_object_get(o, "phone"), PATH("phone"), &s, e)))
        return rc;
    if (s && (rc = parse_phone(s, path, &c->phone, e)))
        return rc;

    if ((v = json_object_get(o, "role"))) {
        if ((rc = json_str(v, PATH("role"), &s, e)))
            return rc;
        if (contact_role_parse(s, &c->role, e))
            return dz_wrap(e, "%s", path);
    }

    if ((rc = optional_str(json_object_get(o, "pgp"), PATH("pgp"), &s, e)))
        return rc;
    if (s && (rc = parse_pgp(s, path, &c->pgp, e)))
        return rc;

    s = "en";
    if ((v = json_object_get(o, "language")) && (rc = json_str(v, PATH("language"), &s, e)))
        return rc;
    if ((rc = parse_language(s, PATH("language"), &c->language, e)))
        return rc;

    if ((v = json_object_get(o, "notify_interval"))) {
        if ((rc = json_str(v, PATH("notify_interval"), &s, e)))
            return rc;
        if (notify_interval_parse(s, &c->notify_interval, e))
            return dz_wrap(e, "%s", path);
    }
    if ((v = json_object_get(o, "notify_format"))) {
        if ((rc = json_str(v, PATH("notify_format"), &s, e)))
            return rc;
        if (notify_format_parse(s, &c->notify_format, e))
            return dz_wrap(e, "%s", path);
    }
    if ((v = json_object_get(o, "max_tlp"))) {
        if ((rc = json_str(v, PATH("max_tlp"), &s, e)))
            return rc;
        if (tlp_parse(s, &c->max_tlp, e))
            return dz_wrap(e, "%s", path);
    }
#undef PATH
    return DZ_OK;
}

static dz_code parse_contacts(const json_t *o, constituent_record *r, dz_err *e)
{
    const json_t *arr;
    size_t n;
    dz_code rc = get_array(o, "contacts", CONSTITUENT_MAX_CONTACTS, &arr, &n, e);
    if (rc || n == 0)
        return rc;
    if (!(r->contacts = calloc(n, sizeof *r->contacts)))
        return oom(e);
    for (size_t i = 0; i < n; i++) {
        r->n_contacts++; /* so that a half-filled contact is freed */
        if ((rc = parse_contact(json_array_get(arr, i), i, &r->contacts[i], e)))
            return rc;
    }
    return DZ_OK;
}

static dz_code parse_record(const json_t *o, const sector_list *sectors, constituent_record *r, dz_err *e)
{
    static const char *const known[] = {"short_name", "name",     "kind", "sector",  "cii",     "cii_tier", "parent",
                                        "tags",       "networks", "asns", "domains", "contacts", NULL};
    if (!json_is_object(o))
        return dz_fail(e, DZ_EINVAL, "a constituent must be a JSON object");
    dz_code rc = check_keys(o, NULL, known, e);
    if (rc)
        return rc;
    const json_t *v;
    const char *s = NULL;

    if (!(v = json_object_get(o, "short_name")) || json_is_null(v))
        return failp(e, DZ_EINVAL, "short_name", "required");
    if ((rc = json_str(v, "short_name", &s, e)))
        return rc;
    if (!name_valid(s))
        return failp(e, DZ_EINVAL, "short_name",
                     "'%.80s' is not a short name (1..64 of A-Z, a-z, 0-9, '.', '_', '@', '-'; "
                     "starting with a letter or digit)", s);
    if (!(r->short_name = strdup(s)))
        return oom(e);

    if (!(v = json_object_get(o, "name")) || json_is_null(v))
        return failp(e, DZ_EINVAL, "name", "required");
    if ((rc = text_field(v, "name", 300, &r->name, e)))
        return rc;

    r->kind = ORG_OTHER;
    if ((v = json_object_get(o, "kind"))) {
        if ((rc = json_str(v, "kind", &s, e)))
            return rc;
        if (org_kind_parse(s, &r->kind, e))
            return dz_wrap(e, "kind");
    }

    if ((rc = optional_str(json_object_get(o, "sector"), "sector", &s, e)))
        return rc;
    if (s) {
        char low[SECTOR_NAME_MAX];
        size_t n = strlen(s);
        for (size_t i = 0; i < n && i < sizeof low - 1; i++)
            low[i] = to_lower(s[i]);
        low[n < sizeof low - 1 ? n : sizeof low - 1] = '\0';
        if (n >= sizeof low || !sector_list_has(sectors, low)) {
            char list[400] = "";
            size_t off = 0;
            for (size_t i = 0; i < sectors->n && off < sizeof list - 60; i++)
                off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", sectors->names[i]);
            return failp(e, DZ_EINVAL, "sector", "unknown sector '%.60s' (%s)", s, list);
        }
        if (!(r->sector = strdup(low)))
            return oom(e);
    }

    if ((v = json_object_get(o, "cii"))) {
        if (!json_is_boolean(v))
            return failp(e, DZ_EINVAL, "cii", "must be true or false");
        r->cii = json_is_true(v);
    }

    r->cii_tier = CONSTITUENT_TIER_NONE;
    if ((v = json_object_get(o, "cii_tier")) && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 3)
            return failp(e, DZ_EINVAL, "cii_tier", "must be 1, 2, 3 or null");
        if (!r->cii)
            return failp(e, DZ_EINVAL, "cii_tier", "only for a designated CII organisation (cii true)");
        r->cii_tier = (int)json_integer_value(v);
    }

    if ((rc = optional_str(json_object_get(o, "parent"), "parent", &s, e)))
        return rc;
    if (s) {
        if (!name_valid(s))
            return failp(e, DZ_EINVAL, "parent", "'%.80s' is not a short name", s);
        if (strcmp(s, r->short_name) == 0)
            return failp(e, DZ_EINVAL, "parent", "an organisation cannot be its own parent");
        if (!(r->parent = strdup(s)))
            return oom(e);
    }

    if ((rc = parse_tags(o, r, e)) || (rc = parse_networks(o, r, e)) || (rc = parse_asns(o, r, e)) ||
        (rc = parse_domains(o, r, e)) || (rc = parse_contacts(o, r, e)))
        return rc;
    return DZ_OK;
}

dz_code constituent_from_json(const json_t *o, const sector_list *sectors, constituent_record *out, dz_err *e)
{
    memset(out, 0, sizeof *out);
    sector_list def;
    if (!sectors) {
        sector_list_default(&def);
        sectors = &def;
    }
    dz_code rc = parse_record(o, sectors, out, e);
    if (rc)
        constituent_record_free(out);
    return rc;
}

/* ---- to JSON ---- */

static int set_str_or_null(json_t *o, const char *k, const char *s)
{
    return json_object_set_new(o, k, s ? json_string(s) : json_null());
}

json_t *constituent_to_json(const constituent_record *r)
{
    json_t *o = json_object(), *tags = json_array(), *nets = json_array(), *asns = json_array(),
           *doms = json_array(), *contacts = json_array();
    int bad = !o || !tags || !nets || !asns || !doms || !contacts;
    if (bad) {
        json_decref(o);
        json_decref(tags);
        json_decref(nets);
        json_decref(asns);
        json_decref(doms);
        json_decref(contacts);
        return NULL;
    }
    bad |= json_object_set_new(o, "short_name", json_string(r->short_name));
    bad |= json_object_set_new(o, "name", json_string(r->name));
    bad |= json_object_set_new(o, "kind", json_string(org_kind_name(r->kind)));
    bad |= set_str_or_null(o, "sector", r->sector);
    bad |= json_object_set_new(o, "cii", json_boolean(r->cii));
    bad |= json_object_set_new(o, "cii_tier", r->cii_tier ? json_integer(r->cii_tier) : json_null());
    bad |= set_str_or_null(o, "parent", r->parent);
    bad |= json_object_set_new(o, "tags", tags);
    bad |= json_object_set_new(o, "networks", nets);
    bad |= json_object_set_new(o, "asns", asns);
    bad |= json_object_set_new(o, "domains", doms);
    bad |= json_object_set_new(o, "contacts", contacts);
    for (size_t i = 0; i < r->n_tags; i++)
        bad |= json_array_append_new(tags, json_string(r->tags[i]));
    for (size_t i = 0; i < r->n_networks; i++) {
        char t[NET_PREFIX_TEXT_MAX];
        net_prefix_format(&r->networks[i], t);
        bad |= json_array_append_new(nets, json_string(t));
    }
    for (size_t i = 0; i < r->n_asns; i++)
        bad |= json_array_append_new(asns, json_integer((json_int_t)r->asns[i]));
    for (size_t i = 0; i < r->n_domains; i++)
        bad |= json_array_append_new(doms, json_string(r->domains[i]));
    for (size_t i = 0; i < r->n_contacts && !bad; i++) {
        const contact *c = &r->contacts[i];
        json_t *co = json_object();
        if (!co) {
            bad = 1;
            break;
        }
        bad |= json_object_set_new(co, "name", json_string(c->name));
        bad |= json_object_set_new(co, "email", json_string(c->email));
        bad |= set_str_or_null(co, "phone", c->phone);
        bad |= json_object_set_new(co, "role", json_string(contact_role_name(c->role)));
        bad |= set_str_or_null(co, "pgp", c->pgp);
        bad |= json_object_set_new(co, "language", json_string(c->language ? c->language : "en"));
        bad |= json_object_set_new(co, "notify_interval", json_string(notify_interval_name(c->notify_interval)));
        bad |= json_object_set_new(co, "notify_format", json_string(notify_format_name(c->notify_format)));
        bad |= json_object_set_new(co, "max_tlp", json_string(tlp_name(c->max_tlp)));
        bad |= json_array_append_new(contacts, co);
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
