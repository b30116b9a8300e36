/*
 * feed_abusech.c: abuse.ch's Feodo Tracker IP blocklist (ipblocklist.csv) and URLhaus
 * (csv.txt, csv_online.txt) as harmonized events. docs/feeds.md has the mapping.
 *
 * Both are CSV with '#' comment lines; the header is either the last comment line
 * that names the columns ("# first_seen_utc,dst_ip,...") or an uncommented first
 * line. The columns are found by name, so a reordered or extended file still works;
 * without a header the published order is assumed. Records never span lines, so
 * the input is read line by line (feed_lines) and each line split here; raw is the
 * line as read.
 */
#include "lib/feed.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CELLS 64

/* ---- one line of CSV ---- */

typedef struct cells {
    strbuf text;               /* the unquoted cells, each NUL-terminated */
    size_t start[MAX_CELLS], len[MAX_CELLS];
    size_t n;
} cells;

static const char *cell_at(const cells *c, size_t i, size_t *len)
{
    *len = c->len[i];
    return c->text.buf + c->start[i];
}

/* RFC 4180 within one line: "" is a quote inside quotes; text after a closing quote is kept literally. */
static bool split_line(const char *s, size_t n, cells *c, const char **why)
{
    strbuf_reset(&c->text);
    c->n = 0;
    size_t i = 0;
    for (;;) {
        if (c->n == MAX_CELLS) {
            *why = "more than 64 fields";
            return false;
        }
        c->start[c->n] = c->text.len;
        bool quoted = i < n && s[i] == '"';
        if (quoted) {
            i++;
            for (;;) {
                if (i >= n) {
                    *why = "unterminated quoted field";
                    return false;
                }
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        strbuf_append(&c->text, "\"", 1);
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                strbuf_append(&c->text, s + i, 1);
                i++;
            }
        }
        size_t from = i;
        while (i < n && s[i] != ',')
            i++;
        strbuf_append(&c->text, s + from, i - from);
        c->len[c->n] = c->text.len - c->start[c->n];
        strbuf_append(&c->text, "", 1); /* the NUL */
        c->n++;
        if (i >= n)
            break;
        i++; /* the comma */
    }
    if (c->text.oom) {
        *why = "out of memory";
        return false;
    }
    return true;
}

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* ---- the feeds ---- */

typedef enum {
    R_NONE = 0, /* unknown column: extra.<name> */
    R_TIME,     /* time.source */
    R_IP,
    R_PORT,
    R_STATUS,
    R_LAST_ONLINE,
    R_MALWARE,
    R_HOSTNAME,
    R_ASN,
    R_ASNAME,
    R_COUNTRY,
    R_ID,
    R_URL,
    R_THREAT,
    R_TAGS,
    R_LINK,
    R_REPORTER,
} role;

typedef struct colname {
    const char *name;
    role r;
} colname;

typedef struct feed_def {
    const char *default_name;
    const char *type;            /* classification.type (taxonomy malicious-code) */
    const colname *names;        /* known column names, NULL-terminated */
    const role *order;           /* the published order, when there is no header */
    size_t norder;
    role key;                    /* a header must name this column */
} feed_def;

static const colname feodo_names[] = {
    {"first_seen_utc", R_TIME}, {"first_seen", R_TIME},   {"dst_ip", R_IP},           {"ip_address", R_IP},
    {"dst_port", R_PORT},       {"port", R_PORT},         {"c2_status", R_STATUS},    {"status", R_STATUS},
    {"last_online", R_LAST_ONLINE}, {"malware", R_MALWARE}, {"hostname", R_HOSTNAME}, {"as_number", R_ASN},
    {"as_name", R_ASNAME},      {"country", R_COUNTRY},   {NULL, R_NONE},
};
static const role feodo_order[] = {R_TIME, R_IP, R_PORT, R_STATUS, R_LAST_ONLINE, R_MALWARE};

static const colname urlhaus_names[] = {
    {"id", R_ID},         {"dateadded", R_TIME},      {"url", R_URL},       {"url_status", R_STATUS},
    {"urlstatus", R_STATUS}, {"last_online", R_LAST_ONLINE}, {"threat", R_THREAT}, {"tags", R_TAGS},
    {"urlhaus_link", R_LINK}, {"reporter", R_REPORTER}, {NULL, R_NONE},
};
static const role urlhaus_order[] = {R_ID, R_TIME, R_URL, R_STATUS, R_LAST_ONLINE, R_THREAT, R_TAGS, R_LINK, R_REPORTER};

static const feed_def FEODO = {"Feodo Tracker", "c2-server", feodo_names, feodo_order,
                               sizeof feodo_order / sizeof feodo_order[0], R_IP};
static const feed_def URLHAUS = {"URLhaus", "malware-distribution", urlhaus_names, urlhaus_order,
                                 sizeof urlhaus_order / sizeof urlhaus_order[0], R_URL};

typedef struct column {
    role r;
    char name[48];      /* as in the header, for messages */
    char extra_key[64]; /* R_NONE: "extra.<name>", "" when the name makes no valid key */
} column;

typedef struct abuse_parser {
    feed_ctx c;
    const feed_def *def;
    column cols[MAX_CELLS];
    size_t ncols;
    cells cl;
    strbuf tmp;
} abuse_parser;

static role role_of(const feed_def *d, const char *s, size_t n)
{
    for (const colname *c = d->names; c->name; c++)
        if (strlen(c->name) == n && strncasecmp(c->name, s, n) == 0)
            return c->r;
    return R_NONE;
}

static const char *role_name(const feed_def *d, role r)
{
    for (const colname *c = d->names; c->name; c++)
        if (c->r == r)
            return c->name;
    return "?";
}

static void default_columns(abuse_parser *p)
{
    p->ncols = p->def->norder;
    for (size_t i = 0; i < p->ncols; i++) {
        p->cols[i].r = p->def->order[i];
        snprintf(p->cols[i].name, sizeof p->cols[i].name, "%s", role_name(p->def, p->def->order[i]));
        p->cols[i].extra_key[0] = '\0';
    }
}

/* The cells as a header when they name the key column; false otherwise (p unchanged). */
static bool try_header(abuse_parser *p, const cells *cl)
{
    if (cl->n < 2)
        return false;
    bool has_key = false;
    for (size_t i = 0; i < cl->n; i++) {
        size_t n;
        const char *s = cell_at(cl, i, &n);
        trim(&s, &n);
        if (role_of(p->def, s, n) == p->def->key)
            has_key = true;
    }
    if (!has_key)
        return false;
    p->ncols = cl->n;
    for (size_t i = 0; i < cl->n; i++) {
        size_t n;
        const char *s = cell_at(cl, i, &n);
        trim(&s, &n);
        column *col = &p->cols[i];
        col->r = role_of(p->def, s, n);
        snprintf(col->name, sizeof col->name, "%.*s", (int)(n < 40 ? n : 40), s);
        col->extra_key[0] = '\0';
        if (col->r == R_NONE && n > 0 && n < 40) {
            char key[64];
            size_t k = (size_t)snprintf(key, sizeof key, "extra.");
            bool ok = true;
            for (size_t j = 0; j < n; j++) {
                char ch = (char)tolower((unsigned char)s[j]);
                if (ch == ' ')
                    ch = '_';
                if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
                    ok = false;
                key[k++] = ch;
            }
            key[k] = '\0';
            if (ok)
                memcpy(col->extra_key, key, k + 1);
        }
    }
    return true;
}

/* The host of a URL, its port, and whether the host is an IP literal (brackets removed). */
static bool url_host(const char *u, size_t n, const char **host, size_t *hl, const char **port, size_t *pl)
{
    const char *sep = NULL;
    for (size_t i = 0; i + 2 < n; i++) {
        if (u[i] == '/' || u[i] == '?' || u[i] == '#')
            break;
        if (u[i] == ':' && u[i + 1] == '/' && u[i + 2] == '/') {
            sep = u + i + 3;
            break;
        }
    }
    const char *a = sep ? sep : u, *end = u + n;
    const char *ae = a;
    while (ae < end && *ae != '/' && *ae != '?' && *ae != '#')
        ae++;
    for (const char *q = a; q < ae; q++)
        if (*q == '@')
            a = q + 1;
    *port = NULL;
    *pl = 0;
    if (a < ae && *a == '[') {
        const char *rb = memchr(a, ']', (size_t)(ae - a));
        if (!rb)
            return false;
        *host = a + 1;
        *hl = (size_t)(rb - a - 1);
        if (rb + 1 < ae && rb[1] == ':') {
            *port = rb + 2;
            *pl = (size_t)(ae - rb - 2);
        }
    } else {
        const char *colon = memchr(a, ':', (size_t)(ae - a));
        *host = a;
        *hl = (size_t)((colon ? colon : ae) - a);
        if (colon) {
            *port = colon + 1;
            *pl = (size_t)(ae - colon - 1);
        }
    }
    return *hl > 0;
}

/* Sets key; DZ_EINVAL: the row is refused (reason names the column). */
static dz_code put(abuse_parser *p, const column *col, const char *key, const char *s, size_t n, uint64_t line,
                   const char *raw, size_t raw_len)
{
    dz_code rc = feed_ctx_set(&p->c, key, s, n);
    if (rc == DZ_EINVAL)
        feed_ctx_refuse(&p->c, line, raw, raw_len, "column '%s': %s", col->name, p->c.err.msg);
    return rc;
}

/* One data line. DZ_OK (event or refused), DZ_ENOMEM. */
static dz_code do_row(abuse_parser *p, const cells *cl, uint64_t line, const char *raw, size_t raw_len)
{
    event *ev = p->c.ev;
    event_reset(ev);
    const char *last_online = NULL;
    size_t last_online_len = 0;
    bool have_main = false;
    const column *last_col = NULL;
    for (size_t i = 0; i < cl->n && i < p->ncols; i++) {
        const column *col = &p->cols[i];
        size_t n;
        const char *s = cell_at(cl, i, &n);
        trim(&s, &n);
        if (n == 0)
            continue;
        dz_code rc = DZ_OK;
        switch (col->r) {
        case R_NONE:
            if (col->extra_key[0])
                rc = put(p, col, col->extra_key, s, n, line, raw, raw_len);
            break;
        case R_TIME: rc = put(p, col, "time.source", s, n, line, raw, raw_len); break;
        case R_IP:
            rc = put(p, col, "source.ip", s, n, line, raw, raw_len);
            have_main = true;
            break;
        case R_PORT: rc = put(p, col, "source.port", s, n, line, raw, raw_len); break;
        case R_STATUS: rc = put(p, col, "status", s, n, line, raw, raw_len); break;
        case R_LAST_ONLINE:
            last_online = s;
            last_online_len = n;
            last_col = col;
            rc = put(p, col, "extra.last_online", s, n, line, raw, raw_len);
            break;
        case R_MALWARE: rc = put(p, col, "malware.name", s, n, line, raw, raw_len); break;
        case R_HOSTNAME: rc = put(p, col, "source.reverse_dns", s, n, line, raw, raw_len); break;
        case R_ASN: rc = put(p, col, "source.asn", s, n, line, raw, raw_len); break;
        case R_ASNAME: rc = put(p, col, "source.as_name", s, n, line, raw, raw_len); break;
        case R_COUNTRY: rc = put(p, col, "source.geolocation.cc", s, n, line, raw, raw_len); break;
        case R_ID: rc = put(p, col, "extra.urlhaus.id", s, n, line, raw, raw_len); break;
        case R_THREAT: rc = put(p, col, "extra.urlhaus.threat", s, n, line, raw, raw_len); break;
        case R_LINK: rc = put(p, col, "event_description.url", s, n, line, raw, raw_len); break;
        case R_REPORTER: rc = put(p, col, "extra.reporter", s, n, line, raw, raw_len); break;
        case R_TAGS: {
            /* "a, b,,c" -> "a,b,c" */
            strbuf_reset(&p->tmp);
            size_t k = 0;
            while (k < n) {
                size_t e = k;
                while (e < n && s[e] != ',')
                    e++;
                const char *t = s + k;
                size_t tl = e - k;
                trim(&t, &tl);
                if (tl) {
                    if (p->tmp.len)
                        strbuf_append(&p->tmp, ",", 1);
                    strbuf_append(&p->tmp, t, tl);
                }
                k = e + 1;
            }
            if (p->tmp.oom)
                return DZ_ENOMEM;
            if (p->tmp.len)
                rc = put(p, col, "extra.tags", p->tmp.buf, p->tmp.len, line, raw, raw_len);
            break;
        }
        case R_URL: {
            rc = put(p, col, "source.url", s, n, line, raw, raw_len);
            if (rc != DZ_OK)
                break;
            have_main = true;
            /* best effort: the host as source.ip or source.fqdn, an explicit port as source.port */
            const event_field *f = event_get(ev, "source.url");
            const char *host, *port;
            size_t hl, pl;
            if (f && url_host(f->s, f->len, &host, &hl, &port, &pl)) {
                dz_err ign;
                dz_code hr = event_set(ev, "source.ip", host, hl, &ign);
                if (hr == DZ_EINVAL)
                    hr = event_set(ev, "source.fqdn", host, hl, &ign);
                if (hr == DZ_ENOMEM)
                    return DZ_ENOMEM;
                if (port && pl && event_set(ev, "source.port", port, pl, &ign) == DZ_ENOMEM)
                    return DZ_ENOMEM;
            }
            break;
        }
        }
        if (rc == DZ_ENOMEM)
            return rc;
        if (rc != DZ_OK)
            return DZ_OK; /* refused in put() */
    }
    if (!have_main) {
        feed_ctx_refuse(&p->c, line, raw, raw_len, "%s: no value (column '%s')",
                        p->def->key == R_IP ? "source.ip" : "source.url", role_name(p->def, p->def->key));
        return DZ_OK;
    }
    if (!event_get(ev, "time.source") && last_online) {
        /* IntelMQ: without a first-seen time, the last-online day (midnight UTC) */
        dz_code rc = put(p, last_col, "time.source", last_online, last_online_len, line, raw, raw_len);
        if (rc == DZ_ENOMEM)
            return rc;
        if (rc != DZ_OK)
            return DZ_OK;
    }
    dz_err fe;
    if (event_set(ev, "classification.taxonomy", "malicious-code", 14, &fe) == DZ_ENOMEM ||
        event_set(ev, "classification.type", p->def->type, strlen(p->def->type), &fe) == DZ_ENOMEM)
        return DZ_ENOMEM;
    return feed_ctx_emit(&p->c, line, raw, raw_len);
}

static dz_code run(const feed_def *def, const feed_options *opt, csv_read_fn read, void *read_arg,
                   feed_event_fn on_event, feed_error_fn on_error, void *arg, dz_err *e)
{
    abuse_parser *p = calloc(1, sizeof *p);
    if (!p)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    p->def = def;
    strbuf_init(&p->cl.text);
    strbuf_init(&p->tmp);
    feed_lines lr;
    feed_lines_init(&lr, read, read_arg, FEED_MAX_LINE);
    dz_code rc = feed_ctx_init(&p->c, opt, def->default_name, "abuse.ch", on_event, on_error, arg, e);
    if (rc != DZ_OK)
        goto out;
    default_columns(p);
    bool data_seen = false;
    while (!p->c.stop) {
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
        const char *why = NULL;
        if (t[0] == '#') {
            /* a comment; the one that names the columns is the header */
            t++;
            tn--;
            trim(&t, &tn);
            if (!data_seen && tn && split_line(t, tn, &p->cl, &why))
                try_header(p, &p->cl);
            if (p->cl.text.oom) {
                rc = dz_fail(e, DZ_ENOMEM, "out of memory");
                break;
            }
            continue;
        }
        if (!split_line(s, n, &p->cl, &why)) {
            if (p->cl.text.oom) {
                rc = dz_fail(e, DZ_ENOMEM, "out of memory");
                break;
            }
            feed_ctx_refuse(&p->c, line, s, n, "%s", why);
            data_seen = true;
            continue;
        }
        if (!data_seen) {
            data_seen = true;
            size_t fl;
            const char *f0 = cell_at(&p->cl, 0, &fl);
            trim(&f0, &fl);
            if (role_of(def, f0, fl) != R_NONE && try_header(p, &p->cl))
                continue; /* the uncommented header */
        }
        rc = do_row(p, &p->cl, line, s, n);
        if (rc != DZ_OK) {
            rc = dz_fail(e, rc, "out of memory");
            break;
        }
    }
out:
    feed_lines_free(&lr);
    feed_ctx_free(&p->c);
    strbuf_free(&p->cl.text);
    strbuf_free(&p->tmp);
    free(p);
    return rc;
}

dz_code feed_feodo_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                         feed_error_fn on_error, void *arg, dz_err *e)
{
    return run(&FEODO, opt, read, read_arg, on_event, on_error, arg, e);
}

dz_code feed_urlhaus_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                           feed_error_fn on_error, void *arg, dz_err *e)
{
    return run(&URLHAUS, opt, read, read_arg, on_event, on_error, arg, e);
}
