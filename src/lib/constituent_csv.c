/*
 * constituent_csv: the constituency as CSV, one row per contact.
 *
 * Reading gathers the rows of each short_name into one JSON object of the
 * API's shape and validates it with constituent_from_json, so the rules live
 * in one place. Its messages start with a path ("networks[2]: ...",
 * "contacts[1].email: ..."), which is mapped back to a column and to the
 * line of the row it came from. After a problem the offending value is
 * dropped and the record validated again, so that one pass reports every
 * problem of every record, not only the first.
 */
#include "lib/constituent.h"
#include "lib/csv.h"
#include "lib/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    C_SHORT_NAME,
    C_NAME,
    C_KIND,
    C_SECTOR,
    C_CII,
    C_CII_TIER,
    C_PARENT,
    C_TAGS,
    C_NETWORKS,
    C_ASNS,
    C_DOMAINS,
    C_CONTACT_NAME, /* the first contact column */
    C_CONTACT_EMAIL,
    C_CONTACT_PHONE,
    C_CONTACT_ROLE,
    C_CONTACT_PGP,
    C_CONTACT_LANGUAGE,
    C_CONTACT_NOTIFY_INTERVAL,
    C_CONTACT_NOTIFY_FORMAT,
    C_CONTACT_MAX_TLP,
    N_COLS
};
#define N_ORG_COLS C_CONTACT_NAME

/* In the order of CONSTITUENT_CSV_COLUMNS; a contact column's JSON key is its name without "contact_". */
static const char *const col_names[N_COLS] = {
    "short_name",   "name",          "kind",          "sector",      "cii",
    "cii_tier",     "parent",        "tags",          "networks",    "asns",
    "domains",      "contact_name",  "contact_email", "contact_phone", "contact_role",
    "contact_pgp",  "contact_language", "contact_notify_interval", "contact_notify_format", "contact_max_tlp",
};

#define LIST_SEPARATORS " \t\r\n,"

/* ---- problems ---- */

typedef struct report_ctx {
    constituent_csv_error_fn fn;
    void *arg;
    size_t problems;
} report_ctx;

static void report(report_ctx *c, uint64_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(report_ctx *c, uint64_t line, const char *fmt, ...)
{
    c->problems++;
    if (!c->fn)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->fn(c->arg, line, msg);
}

/* The csv reader's messages start with "line N: "; the line travels separately here. */
static const char *without_line(const char *msg)
{
    if (strncmp(msg, "line ", 5) == 0) {
        const char *p = strstr(msg, ": ");
        if (p)
            return p + 2;
    }
    return msg;
}

/* ---- organisations being gathered ---- */

typedef struct group {
    char *short_name;
    uint64_t line;          /* of its first row */
    char *org[N_ORG_COLS];  /* the first row's cells; NULL when the column is absent */
    json_t *contacts;       /* array of objects */
    uint64_t *contact_lines;
    size_t n_contacts, cap_contacts;
} group;

typedef struct group_set {
    group **v;
    size_t n, cap;
    size_t *slots; /* index + 1 into v, 0 = empty */
    size_t nslots;
} group_set;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void group_free(group *g)
{
    if (!g)
        return;
    free(g->short_name);
    for (int i = 0; i < N_ORG_COLS; i++)
        free(g->org[i]);
    json_decref(g->contacts);
    free(g->contact_lines);
    free(g);
}

static void group_set_free(group_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        group_free(s->v[i]);
    free(s->v);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

static size_t *group_slot(group_set *s, const char *name)
{
    size_t mask = s->nslots - 1;
    for (size_t i = (size_t)hash_str(name) & mask;; i = (i + 1) & mask)
        if (!s->slots[i] || strcmp(s->v[s->slots[i] - 1]->short_name, name) == 0)
            return &s->slots[i];
}

static bool group_set_grow(group_set *s)
{
    size_t nslots = s->nslots ? s->nslots * 2 : 64;
    size_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return false;
    free(s->slots);
    s->slots = slots;
    s->nslots = nslots;
    for (size_t i = 0; i < s->n; i++)
        *group_slot(s, s->v[i]->short_name) = i + 1;
    return true;
}

/* The group of name, or NULL when it does not exist yet (*slot: where to add it). NULL slot: out of memory. */
static group *group_find(group_set *s, const char *name, size_t **slot)
{
    if ((s->n + 1) * 2 > s->nslots && !group_set_grow(s)) {
        *slot = NULL;
        return NULL;
    }
    *slot = group_slot(s, name);
    return **slot ? s->v[**slot - 1] : NULL;
}

static bool group_add(group_set *s, size_t *slot, group *g)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        group **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return false;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = g;
    *slot = s->n;
    return true;
}

/* ---- cells to JSON ---- */

static json_t *list_json(const char *cell)
{
    json_t *a = json_array();
    const char *p = cell;
    while (a && *p) {
        p += strspn(p, LIST_SEPARATORS);
        size_t n = strcspn(p, LIST_SEPARATORS);
        if (n == 0)
            break;
        if (json_array_append_new(a, json_stringn(p, n))) {
            json_decref(a);
            return NULL;
        }
        p += n;
    }
    return a;
}

/* true/false, yes/no, 1/0 (any case). */
static int parse_bool(const char *s)
{
    static const char *const t[] = {"true", "yes", "1"}, *const f[] = {"false", "no", "0"};
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(s, t[i]) == 0)
            return 1;
        if (strcasecmp(s, f[i]) == 0)
            return 0;
    }
    return -1;
}

/* The organisation's object from its first row's cells; problems with cii and cii_tier are reported here. */
static json_t *org_json(const group *g, report_ctx *rc, bool *oom)
{
    json_t *o = json_object();
    *oom = !o;
    for (int c = 0; o && c < N_ORG_COLS; c++) {
        const char *cell = g->org[c];
        if (c == C_SHORT_NAME)
            cell = g->short_name;
        if (!cell || !*cell)
            continue;
        json_t *v = NULL;
        switch (c) {
        case C_CII: {
            int b = parse_bool(cell);
            if (b < 0) {
                report(rc, g->line, "cii: '%.40s' is not true or false (yes/no and 1/0 also work)", cell);
                continue;
            }
            v = json_boolean(b);
            break;
        }
        case C_CII_TIER:
            if (strlen(cell) != 1 || cell[0] < '1' || cell[0] > '3') {
                report(rc, g->line, "cii_tier: '%.40s' is not 1, 2 or 3", cell);
                continue;
            }
            v = json_integer(cell[0] - '0');
            break;
        case C_TAGS:
        case C_NETWORKS:
        case C_ASNS:
        case C_DOMAINS:
            v = list_json(cell);
            break;
        default:
            v = json_string(cell);
            break;
        }
        if (json_object_set_new(o, col_names[c], v)) {
            *oom = true;
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* The contact of a row, NULL when its contact cells are all empty (or absent). */
static json_t *contact_json(const int *colmap, const csv_record *rec, bool *oom)
{
    json_t *c = NULL;
    *oom = false;
    for (size_t i = 0; i < rec->n; i++) {
        int col = colmap[i];
        if (col < C_CONTACT_NAME || rec->lens[i] == 0)
            continue;
        if (!c && !(c = json_object())) {
            *oom = true;
            return NULL;
        }
        if (json_object_set_new(c, col_names[col] + strlen("contact_"), json_stringn(rec->fields[i], rec->lens[i]))) {
            *oom = true;
            json_decref(c);
            return NULL;
        }
    }
    return c;
}

/* ---- validation messages back to columns ---- */

typedef struct msg_path {
    char field[32]; /* top-level key */
    long index;     /* [k], or -1 */
    char sub[32];   /* key after the '.', or "" */
    const char *rest;
} msg_path;

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || c == '_';
}

static void parse_msg_path(const char *msg, msg_path *p)
{
    memset(p, 0, sizeof *p);
    p->index = -1;
    p->rest = msg;
    const char *s = msg;
    size_t n = 0;
    while (ident_char(s[n]) && n < sizeof p->field - 1)
        n++;
    if (n == 0)
        return;
    char field[32];
    memcpy(field, s, n);
    field[n] = '\0';
    s += n;
    long index = -1;
    if (*s == '[') {
        char *end;
        index = strtol(s + 1, &end, 10);
        if (*end != ']' || end == s + 1)
            return;
        s = end + 1;
    }
    char sub[32] = "";
    if (*s == '.') {
        s++;
        n = 0;
        while (ident_char(s[n]) && n < sizeof sub - 1)
            n++;
        memcpy(sub, s, n);
        sub[n] = '\0';
        s += n;
    }
    if (s[0] != ':' || s[1] != ' ')
        return;
    memcpy(p->field, field, sizeof field);
    p->index = index;
    memcpy(p->sub, sub, sizeof sub);
    p->rest = s + 2;
}

/*
 * Validates g's record, reporting every problem (dropping each offending
 * value and trying again). DZ_OK with *out set, DZ_EINVAL after reports,
 * DZ_ENOMEM.
 */
static dz_code group_validate(group *g, const sector_list *sectors, report_ctx *rc, constituent_record *out)
{
    bool nomem;
    size_t before = rc->problems;
    json_t *o = org_json(g, rc, &nomem);
    if (!o)
        return DZ_ENOMEM;
    if (g->n_contacts && json_object_set(o, "contacts", g->contacts)) {
        json_decref(o);
        return DZ_ENOMEM;
    }
    dz_code code = DZ_EINVAL;
    /* each round removes a field or a contact, so this ends */
    for (size_t round = 0; round < N_COLS + CONSTITUENT_MAX_CONTACTS + 8; round++) {
        dz_err e = {0};
        code = constituent_from_json(o, sectors, out, &e);
        if (code == DZ_OK) {
            if (rc->problems == before)
                break;
            constituent_record_free(out);
            code = DZ_EINVAL;
            break;
        }
        if (code != DZ_EINVAL)
            break;
        msg_path p;
        parse_msg_path(e.msg, &p);
        json_t *contacts = json_object_get(o, "contacts");
        if (strcmp(p.field, "contacts") == 0 && p.index >= 0 && (size_t)p.index < json_array_size(contacts)) {
            uint64_t line = g->contact_lines[p.index];
            if (p.sub[0])
                report(rc, line, "contact_%s: %s", p.sub, p.rest);
            else
                report(rc, line, "contact: %s", p.rest);
            json_array_remove(contacts, (size_t)p.index);
            memmove(g->contact_lines + p.index, g->contact_lines + p.index + 1,
                    (g->n_contacts - (size_t)p.index - 1) * sizeof *g->contact_lines);
            g->n_contacts--;
            continue;
        }
        report(rc, g->line, "%s", e.msg);
        if (!p.field[0] || strcmp(p.field, "short_name") == 0)
            break;
        if (strcmp(p.field, "name") == 0) { /* required: a stand-in lets the other fields be checked */
            if (json_object_set_new(o, "name", json_string("x"))) {
                code = DZ_ENOMEM;
                break;
            }
            continue;
        }
        if (json_object_del(o, p.field) != 0)
            break;
    }
    json_decref(o);
    return code;
}

/* ---- reading ---- */

static dz_code read_header(csv_reader *r, report_ctx *rc, int **colmap, size_t *ncols, dz_err *e)
{
    csv_record rec;
    dz_err ce = {0};
    int got = csv_next(r, &rec, &ce);
    if (got < 0) {
        if (ce.code != DZ_EINVAL) {
            *e = ce;
            return ce.code;
        }
        report(rc, rec.line, "%s", without_line(ce.msg));
        return DZ_EINVAL;
    }
    if (got == 0) {
        report(rc, 1, "no header line (expected columns such as short_name,name,networks)");
        return DZ_EINVAL;
    }
    int *map = calloc(rec.n, sizeof *map);
    if (!map)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    int seen[N_COLS];
    for (int c = 0; c < N_COLS; c++)
        seen[c] = -1;
    size_t before = rc->problems;
    for (size_t i = 0; i < rec.n; i++) {
        const char *h = rec.fields[i];
        size_t a = strspn(h, " \t"), n = rec.lens[i] - a;
        while (n > 0 && (h[a + n - 1] == ' ' || h[a + n - 1] == '\t'))
            n--;
        map[i] = -1;
        for (int c = 0; c < N_COLS && map[i] < 0; c++)
            if (strlen(col_names[c]) == n && strncasecmp(h + a, col_names[c], n) == 0)
                map[i] = c;
        if (map[i] < 0) {
            report(rc, rec.line, "unknown column '%.60s' (known: " CONSTITUENT_CSV_COLUMNS ")", h);
        } else if (seen[map[i]] >= 0) {
            report(rc, rec.line, "column '%s' appears twice (columns %d and %zu)", col_names[map[i]],
                   seen[map[i]] + 1, i + 1);
        } else {
            seen[map[i]] = (int)i;
        }
    }
    if (seen[C_SHORT_NAME] < 0)
        report(rc, rec.line, "the header has no 'short_name' column");
    if (seen[C_NAME] < 0)
        report(rc, rec.line, "the header has no 'name' column");
    if (rc->problems != before) {
        free(map);
        return DZ_EINVAL;
    }
    *colmap = map;
    *ncols = rec.n;
    return DZ_OK;
}

/* Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF), as JSON strings need. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned min, cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2, min = 0x80, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3, min = 0x800, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4, min = 0x10000, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* A data row: into its group (created on its first row). */
static dz_code take_row(group_set *gs, const int *colmap, const csv_record *rec, report_ctx *rc)
{
    const char *cells[N_COLS] = {0};
    for (size_t i = 0; i < rec->n; i++) {
        if (!utf8_valid((const unsigned char *)rec->fields[i], rec->lens[i])) {
            report(rc, rec->line, "%s: not valid UTF-8", col_names[colmap[i]]);
            return DZ_OK;
        }
        cells[colmap[i]] = rec->fields[i];
    }
    const char *sn = cells[C_SHORT_NAME];
    if (!sn || !*sn) {
        report(rc, rec->line, "short_name: required");
        return DZ_OK;
    }
    size_t *slot;
    group *g = group_find(gs, sn, &slot);
    if (!slot)
        return DZ_ENOMEM;
    if (!g) {
        if (!(g = calloc(1, sizeof *g)) || !(g->short_name = strdup(sn)) || !(g->contacts = json_array())) {
            group_free(g);
            return DZ_ENOMEM;
        }
        g->line = rec->line;
        for (int c = 1; c < N_ORG_COLS; c++)
            if (cells[c] && !(g->org[c] = strdup(cells[c]))) {
                group_free(g);
                return DZ_ENOMEM;
            }
        if (!group_add(gs, slot, g)) {
            group_free(g);
            return DZ_ENOMEM;
        }
    } else {
        for (int c = 1; c < N_ORG_COLS; c++)
            if (cells[c] && strcmp(cells[c], g->org[c]) != 0)
                report(rc, rec->line, "%s: '%.60s' differs from '%.60s' on line %llu (the organisation's columns "
                       "must agree on all its rows)", col_names[c], cells[c], g->org[c],
                       (unsigned long long)g->line);
    }
    bool nomem;
    json_t *c = contact_json(colmap, rec, &nomem);
    if (nomem)
        return DZ_ENOMEM;
    if (!c)
        return DZ_OK;
    if (g->n_contacts == g->cap_contacts) {
        size_t cap = g->cap_contacts ? g->cap_contacts * 2 : 4;
        uint64_t *l = realloc(g->contact_lines, cap * sizeof *l);
        if (!l) {
            json_decref(c);
            return DZ_ENOMEM;
        }
        g->contact_lines = l;
        g->cap_contacts = cap;
    }
    if (json_array_append_new(g->contacts, c))
        return DZ_ENOMEM;
    g->contact_lines[g->n_contacts++] = rec->line;
    return DZ_OK;
}

dz_code constituents_read_csv(struct csv_reader *r, const sector_list *sectors, constituent_record **out,
                              size_t *n, constituent_csv_error_fn on_error, void *arg, dz_err *e)
{
    *out = NULL;
    *n = 0;
    report_ctx rc = {on_error, arg, 0};
    int *colmap = NULL;
    size_t ncols = 0;
    dz_code code = read_header(r, &rc, &colmap, &ncols, e);
    if (code == DZ_EINVAL)
        return dz_fail(e, DZ_EINVAL, "%zu problem%s in the CSV header", rc.problems, rc.problems == 1 ? "" : "s");
    if (code)
        return code;

    sector_list def;
    if (!sectors) {
        sector_list_default(&def);
        sectors = &def;
    }
    group_set gs = {0};
    constituent_record *recs = NULL;
    size_t nrecs = 0;
    for (;;) {
        csv_record rec;
        dz_err ce = {0};
        int got = csv_next(r, &rec, &ce);
        if (got == 0)
            break;
        if (got < 0) {
            if (ce.code != DZ_EINVAL) {
                *e = ce;
                code = ce.code;
                goto fail;
            }
            report(&rc, rec.line, "%s", without_line(ce.msg));
            continue;
        }
        if (rec.n != ncols) {
            report(&rc, rec.line, "%zu field%s, but the header has %zu columns", rec.n, rec.n == 1 ? "" : "s",
                   ncols);
            continue;
        }
        if ((code = take_row(&gs, colmap, &rec, &rc))) {
            dz_fail(e, code, "out of memory reading the constituency CSV");
            goto fail;
        }
    }

    if (gs.n && !(recs = calloc(gs.n, sizeof *recs))) {
        code = dz_fail(e, DZ_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < gs.n; i++) {
        code = group_validate(gs.v[i], sectors, &rc, &recs[nrecs]);
        if (code == DZ_OK)
            nrecs++;
        else if (code != DZ_EINVAL) {
            dz_fail(e, code, "out of memory reading the constituency CSV");
            goto fail;
        }
    }
    if (rc.problems) {
        code = dz_fail(e, DZ_EINVAL, "%zu problem%s in the CSV", rc.problems, rc.problems == 1 ? "" : "s");
        goto fail;
    }
    group_set_free(&gs);
    free(colmap);
    *out = recs;
    *n = nrecs;
    return DZ_OK;

fail:
    for (size_t i = 0; i < nrecs; i++)
        constituent_record_free(&recs[i]);
    free(recs);
    group_set_free(&gs);
    free(colmap);
    return code;
}

/* ---- writing ---- */

void constituents_csv_header(struct strbuf *out)
{
    strbuf_puts(out, CONSTITUENT_CSV_COLUMNS "\r\n");
}

static void cell(strbuf *out, const char *s, bool first)
{
    if (!first)
        strbuf_append(out, ",", 1);
    if (s)
        csv_write_field(out, s, strlen(s), ',');
}

static void org_cells(const constituent_record *r, strbuf *out)
{
    strbuf list;
    strbuf_init(&list);
    cell(out, r->short_name, true);
    cell(out, r->name, false);
    cell(out, org_kind_name(r->kind), false);
    cell(out, r->sector, false);
    cell(out, r->cii ? "true" : "false", false);
    char tier[16] = "";
    if (r->cii_tier)
        snprintf(tier, sizeof tier, "%d", r->cii_tier);
    cell(out, tier, false);
    cell(out, r->parent, false);
    for (size_t i = 0; i < r->n_tags; i++)
        strbuf_printf(&list, "%s%s", i ? " " : "", r->tags[i]);
    cell(out, list.buf, false);
    strbuf_reset(&list);
    for (size_t i = 0; i < r->n_networks; i++) {
        char t[NET_PREFIX_TEXT_MAX];
        net_prefix_format(&r->networks[i], t);
        strbuf_printf(&list, "%s%s", i ? " " : "", t);
    }
    cell(out, list.buf, false);
    strbuf_reset(&list);
    for (size_t i = 0; i < r->n_asns; i++)
        strbuf_printf(&list, "%s%u", i ? " " : "", r->asns[i]);
    cell(out, list.buf, false);
    strbuf_reset(&list);
    for (size_t i = 0; i < r->n_domains; i++)
        strbuf_printf(&list, "%s%s", i ? " " : "", r->domains[i]);
    cell(out, list.buf, false);
    if (list.oom)
        out->oom = true;
    strbuf_free(&list);
}

void constituent_write_csv(const constituent_record *r, struct strbuf *out)
{
    for (size_t i = 0; i == 0 || i < r->n_contacts; i++) {
        org_cells(r, out);
        if (i < r->n_contacts) {
            const contact *c = &r->contacts[i];
            cell(out, c->name, false);
            cell(out, c->email, false);
            cell(out, c->phone, false);
            cell(out, contact_role_name(c->role), false);
            cell(out, c->pgp, false);
            cell(out, c->language ? c->language : "en", false);
            cell(out, notify_interval_name(c->notify_interval), false);
            cell(out, notify_format_name(c->notify_format), false);
            cell(out, tlp_name(c->max_tlp), false);
        } else {
            strbuf_append(out, ",,,,,,,,,", 9);
        }
        strbuf_append(out, "\r\n", 2);
    }
}
