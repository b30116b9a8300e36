/*
 * store_constituents.c: the constituency registry.
 *
 * A record (lib/constituent.h) is one row of constituents plus its rows in
 * constituent_networks, constituent_asns, constituent_domains and
 * constituent_contacts. The store keeps records canonical: networks (by
 * address), AS numbers, domains and tags sorted and without repeats, contacts
 * in the record's order. So a record read back equals the one written, and
 * "is this what is stored?" is one comparison of constituent_to_json()
 * outputs (imports skip unchanged records that way, and a PUT of the same
 * record changes nothing).
 *
 * Every change bumps registry_state.version in its own transaction; a node
 * compares it with its index's version to know when to rebuild.
 *
 * Reads of whole records run in one read snapshot, so a page and its child
 * rows agree, and fetch the child rows set-based: a list page costs five
 * queries whatever its size. Lists page by short_name bytewise on both
 * backends (SQLite's BINARY; COLLATE "C" on PostgreSQL, with an index of its
 * own), so an export is in the same order everywhere.
 */
#include "store/store_internal.h"
#include "lib/strbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An import of more records than this reads the whole registry once instead of record by record. */
#define IMPORT_LOAD_ALL 16
#define LIST_LIMIT_MAX 1000
#define INSERT_BATCH 32 /* rows per multi-row INSERT: 64 parameters, the PostgreSQL driver's most */

static const char *actor_of(const principal *who)
{
    return who && who->username[0] ? who->username : "system";
}

/* ---- canonical order ---- */

static int cmp_prefix(const void *a, const void *b)
{
    const net_prefix *x = a, *y = b;
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    int c = memcmp(x->addr, y->addr, x->family == 4 ? 4 : 16);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static int cmp_asn(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

/* Sorts base[0..n) and drops repeats (the elements are not owned); returns the new count. */
static size_t sort_unique(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n < 2)
        return n;
    qsort(base, n, size, cmp);
    char *p = base;
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (cmp(p + (k - 1) * size, p + i * size) != 0) {
            if (k != i)
                memcpy(p + k * size, p + i * size, size);
            k++;
        }
    return k;
}

/* A sorted, unique copy of src[0..*n) (NULL when empty); *n becomes its count. */
static void *sorted_copy(const void *src, size_t *n, size_t size, int (*cmp)(const void *, const void *), bool *ok)
{
    if (!*n)
        return NULL;
    void *p = malloc(*n * size);
    if (!p) {
        *ok = false;
        *n = 0;
        return NULL;
    }
    memcpy(p, src, *n * size);
    *n = sort_unique(p, *n, size, cmp);
    return p;
}

static void view_free(constituent_record *v)
{
    free(v->networks);
    free(v->asns);
    free(v->domains);
    free(v->tags);
    memset(v, 0, sizeof *v);
}

/* v: in with its lists sorted and without repeats, in arrays of its own (view_free); the strings stay in's. */
static dz_code canonical_view(const constituent_record *in, constituent_record *v, dz_err *e)
{
    bool ok = true;
    *v = *in;
    v->networks = sorted_copy(in->networks, &v->n_networks, sizeof *in->networks, cmp_prefix, &ok);
    v->asns = sorted_copy(in->asns, &v->n_asns, sizeof *in->asns, cmp_asn, &ok);
    v->domains = sorted_copy(in->domains, &v->n_domains, sizeof *in->domains, cmp_str, &ok);
    v->tags = sorted_copy(in->tags, &v->n_tags, sizeof *in->tags, cmp_str, &ok);
    if (ok)
        return DZ_OK;
    view_free(v);
    return dz_fail(e, DZ_ENOMEM, "out of memory");
}

/* ---- what the store insists on (the full validation is constituent_from_json's) ---- */

static bool tag_valid(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n < 1 || n > 64)
        return false;
    for (; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') || *t == '.' || *t == '_' || *t == ':' ||
              *t == '-'))
            return false;
    return true;
}

static dz_code record_check(const constituent_record *r, dz_err *e)
{
    if (!r->short_name || !name_valid(r->short_name))
        return dz_fail(e, DZ_EINVAL, "short name '%.64s' must be 1-64 of [A-Za-z0-9._@-]",
                       r->short_name ? r->short_name : "");
    const char *sn = r->short_name;
    if (!r->name || !*r->name || strlen(r->name) > 300)
        return dz_fail(e, DZ_EINVAL, "%s: constituent name must be 1-300 bytes", sn);
    if ((int)r->kind < (int)ORG_GOVERNMENT || (int)r->kind > (int)ORG_OTHER)
        return dz_fail(e, DZ_EINVAL, "%s: field 'kind': unknown kind %d", sn, (int)r->kind);
    if (r->sector && (!*r->sector || strlen(r->sector) >= SECTOR_NAME_MAX))
        return dz_fail(e, DZ_EINVAL, "%s: field 'sector' must be 1-%d bytes", sn, SECTOR_NAME_MAX - 1);
    if (r->cii_tier < CONSTITUENT_TIER_NONE || r->cii_tier > 3 || (r->cii_tier != CONSTITUENT_TIER_NONE && !r->cii))
        return dz_fail(e, DZ_EINVAL, "%s: field 'cii_tier' must be 1-3, and only for a CII operator (cii true)", sn);
    if (r->parent && !name_valid(r->parent))
        return dz_fail(e, DZ_EINVAL, "%s: field 'parent': '%.64s' is not a short name", sn, r->parent);
    if (r->parent && strcmp(r->parent, sn) == 0)
        return dz_fail(e, DZ_EINVAL, "%s: field 'parent': an organisation cannot be its own parent", sn);
    if (r->n_tags > CONSTITUENT_MAX_TAGS || r->n_networks > CONSTITUENT_MAX_NETWORKS ||
        r->n_asns > CONSTITUENT_MAX_ASNS || r->n_domains > CONSTITUENT_MAX_DOMAINS ||
        r->n_contacts > CONSTITUENT_MAX_CONTACTS)
        return dz_fail(e, DZ_ELIMIT, "%s: too many tags, networks, AS numbers, domains or contacts", sn);
    for (size_t i = 0; i < r->n_tags; i++)
        if (!tag_valid(r->tags[i]))
            return dz_fail(e, DZ_EINVAL, "%s: tags[%zu] must be 1-64 of [a-z0-9._:-]", sn, i);
    for (size_t i = 0; i < r->n_networks; i++) {
        const net_prefix *p = &r->networks[i];
        char text[NET_PREFIX_TEXT_MAX];
        net_prefix back;
        dz_err ignore;
        if (!((p->family == 4 && p->len <= 32) || (p->family == 6 && p->len <= 128)))
            return dz_fail(e, DZ_EINVAL, "%s: networks[%zu] is not an IPv4 or IPv6 prefix", sn, i);
        net_prefix_format(p, text);
        if (net_prefix_parse(text, &back, &ignore) != DZ_OK || cmp_prefix(p, &back) != 0)
            return dz_fail(e, DZ_EINVAL, "%s: networks[%zu]: %s is not a canonical prefix (host bits set?)", sn, i, text);
    }
    for (size_t i = 0; i < r->n_asns; i++)
        if (r->asns[i] == 0)
            return dz_fail(e, DZ_EINVAL, "%s: asns[%zu]: AS 0 is reserved", sn, i);
    for (size_t i = 0; i < r->n_domains; i++)
        if (!r->domains[i] || !*r->domains[i] || strlen(r->domains[i]) >= DOMAIN_TEXT_MAX)
            return dz_fail(e, DZ_EINVAL, "%s: domains[%zu] is not a domain name", sn, i);
    for (size_t i = 0; i < r->n_contacts; i++) {
        const contact *c = &r->contacts[i];
        if (!c->name || !*c->name || !c->email || !*c->email)
            return dz_fail(e, DZ_EINVAL, "%s: contacts[%zu] needs a name and an email address", sn, i);
        if ((int)c->role < (int)CONTACT_ABUSE || (int)c->role > (int)CONTACT_24X7 ||
            (int)c->notify_interval < (int)NOTIFY_IMMEDIATE || (int)c->notify_interval > (int)NOTIFY_NEVER ||
            (int)c->notify_format < (int)NOTIFY_FORMAT_CSV || (int)c->notify_format > (int)NOTIFY_FORMAT_JSON ||
            (int)c->max_tlp < (int)TLP_CLEAR || (int)c->max_tlp > (int)TLP_RED)
            return dz_fail(e, DZ_EINVAL, "%s: contacts[%zu] has an unknown role, interval, format or TLP", sn, i);
    }
    return DZ_OK;
}

/* ---- reading records ---- */

typedef struct stored {
    int64_t id, created_at, updated_at;
    constituent_record r;
} stored;

static void stored_free(stored *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        constituent_record_free(&v[i].r);
    free(v);
}

/* Room for element n of p (capacity doubles at each power of two). */
static void *grow(void *p, size_t n, size_t size, bool *ok)
{
    if (n & (n - 1))
        return p;
    void *q = realloc(p, (n ? 2 * n : 1) * size);
    if (!q) {
        *ok = false;
        return p;
    }
    return q;
}

static char *dup_col(db_stmt *st, int col, bool *ok)
{
    const char *v = db_col_text(st, col);
    if (!v)
        return NULL;
    char *s = strdup(v);
    if (!s)
        *ok = false;
    return s;
}

/* Binds as: only_org, only_org, kind, kind, sector, sector, tag pattern x2, parent x2, text pattern x3, cii x2. */
#define NULL_TEXT "CAST(? AS TEXT) IS NULL"
#define FILTERS                                                                                               \
    "(? = 0 OR c.id = ?)"                                                                                     \
    " AND (" NULL_TEXT " OR c.kind = ?)"                                                                      \
    " AND (" NULL_TEXT " OR c.sector = ?)"                                                                    \
    " AND (" NULL_TEXT " OR c.tags LIKE ? ESCAPE '\\')"                                                      \
    " AND (" NULL_TEXT " OR c.parent_id = (SELECT fp.id FROM constituents fp WHERE fp.short_name = ?))"       \
    " AND (" NULL_TEXT " OR lower(c.short_name) LIKE ? ESCAPE '\\' OR lower(c.name) LIKE ? ESCAPE '\\')"      \
    " AND (? < 0 OR c.cii = ?)"

/* short_name in lists, bytewise on both backends */
#define SN_SQLITE "c.short_name"
#define SN_PG "c.short_name COLLATE \"C\""

#define MAIN_SELECT                                                                                         \
    "SELECT c.id, c.short_name, c.name, c.kind, c.sector, c.cii, c.cii_tier, p.short_name, c.tags, "        \
    "c.created_at, c.updated_at FROM constituents c LEFT JOIN constituents p ON p.id = c.parent_id "

static const char *const main_by_name_sql = MAIN_SELECT "WHERE c.short_name = ? AND (? = 0 OR c.id = ?)";
static const char *const main_by_id_sql = MAIN_SELECT "WHERE c.id = ? AND (? = 0 OR c.id = ?)";
static const char *const main_all_sql = MAIN_SELECT;
#define PAGE_SQL(SN) MAIN_SELECT "WHERE " FILTERS " AND (" NULL_TEXT " OR " SN " > ?) ORDER BY " SN " LIMIT ?"
static const char *const page_sql[2] = {PAGE_SQL(SN_SQLITE), PAGE_SQL(SN_PG)};

/* The child rows: by one id, of everything, or of a list page (the filters and the page's short_name range). */
enum { CH_NETWORKS, CH_ASNS, CH_DOMAINS, CH_CONTACTS, CH_N };
#define CHILDREN(WHERE)                                                                                       \
    {                                                                                                         \
        "SELECT x.constituent_id, x.network FROM constituent_networks x " WHERE,                              \
        "SELECT x.constituent_id, x.asn FROM constituent_asns x " WHERE,                                      \
        "SELECT x.constituent_id, x.domain FROM constituent_domains x " WHERE,                                \
        "SELECT x.constituent_id, x.name, x.email, x.phone, x.pgp, x.language, x.role, x.notify_interval, "   \
        "x.notify_format, x.max_tlp FROM constituent_contacts x " WHERE " ORDER BY x.constituent_id, x.position" \
    }
#define PAGE_WHERE(SN) "JOIN constituents c ON c.id = x.constituent_id WHERE " FILTERS " AND " SN " >= ? AND " SN " <= ?"
static const char *const children_one[CH_N] = CHILDREN("WHERE x.constituent_id = ?");
static const char *const children_all[CH_N] = CHILDREN("");
static const char *const children_page[2][CH_N] = {CHILDREN(PAGE_WHERE(SN_SQLITE)), CHILDREN(PAGE_WHERE(SN_PG))};

/* One row of MAIN_SELECT into x (zeroed first; on failure x holds what was read, for stored_free). */
static dz_code main_row(db_stmt *st, stored *x, dz_err *e)
{
    constituent_record *r = &x->r;
    bool ok = true;
    memset(x, 0, sizeof *x);
    x->id = db_col_int(st, 0);
    r->short_name = dup_col(st, 1, &ok);
    r->name = dup_col(st, 2, &ok);
    if (org_kind_parse(db_col_text(st, 3), &r->kind, NULL) != DZ_OK)
        return dz_fail(e, DZ_EDB, "constituent %" PRId64 " has an unknown kind '%.40s'", x->id, db_col_text(st, 3));
    r->sector = dup_col(st, 4, &ok);
    r->cii = db_col_int(st, 5) != 0;
    r->cii_tier = (int)db_col_int(st, 6);
    r->parent = dup_col(st, 7, &ok);
    x->created_at = db_col_int(st, 9);
    x->updated_at = db_col_int(st, 10);
    json_error_t je;
    json_t *tags = json_loads(db_col_text(st, 8) ? db_col_text(st, 8) : "", 0, &je);
    if (!json_is_array(tags)) {
        json_decref(tags);
        return dz_fail(e, DZ_EDB, "constituent %" PRId64 ": tags are not a JSON array", x->id);
    }
    size_t n = json_array_size(tags);
    r->tags = n ? calloc(n, sizeof *r->tags) : NULL;
    if (n && !r->tags)
        ok = false;
    for (size_t i = 0; ok && i < n; i++) {
        const char *t = json_string_value(json_array_get(tags, i));
        if (!t) {
            json_decref(tags);
            return dz_fail(e, DZ_EDB, "constituent %" PRId64 ": a tag is not a string", x->id);
        }
        if (!(r->tags[i] = strdup(t)))
            ok = false;
        else
            r->n_tags = i + 1;
    }
    json_decref(tags);
    return ok ? DZ_OK : dz_fail(e, DZ_ENOMEM, "out of memory");
}

/* Steps st (bound) to its end, appending each row to *v; resets st. */
static dz_code read_main(db_stmt *st, stored **v, size_t *n, dz_err *e)
{
    int r;
    dz_code rc = DZ_OK;
    bool ok = true;
    while ((r = db_step(st, e)) == DB_ROW) {
        stored *g = grow(*v, *n, sizeof **v, &ok);
        if (!ok) {
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
            break;
        }
        *v = g;
        rc = main_row(st, &(*v)[*n], e);
        (*n)++; /* also on failure: what was read is freed with the rest */
        if (rc != DZ_OK)
            break;
    }
    db_reset(st);
    if (rc == DZ_OK && r == DB_ERROR)
        rc = e->code;
    return rc;
}

typedef struct id_slot {
    int64_t id;
    size_t idx;
} id_slot;

static int cmp_slot(const void *a, const void *b)
{
    int64_t x = ((const id_slot *)a)->id, y = ((const id_slot *)b)->id;
    return (x > y) - (x < y);
}

typedef void (*binder)(db_stmt *st, const void *arg);

/* One child row into r. */
static dz_code child_row(int ch, db_stmt *st, int64_t id, constituent_record *r, dz_err *e)
{
    bool ok = true;
    switch (ch) {
    case CH_NETWORKS: {
        net_prefix p;
        if (net_prefix_parse(db_col_text(st, 1), &p, e) != DZ_OK)
            return dz_fail(e, DZ_EDB, "constituent %" PRId64 ": stored network '%.60s' does not parse", id,
                           db_col_text(st, 1));
        net_prefix *g = grow(r->networks, r->n_networks, sizeof *g, &ok);
        if (!ok)
            break;
        r->networks = g;
        r->networks[r->n_networks++] = p;
        return DZ_OK;
    }
    case CH_ASNS: {
        uint32_t *g = grow(r->asns, r->n_asns, sizeof *g, &ok);
        if (!ok)
            break;
        r->asns = g;
        r->asns[r->n_asns++] = (uint32_t)db_col_int(st, 1);
        return DZ_OK;
    }
    case CH_DOMAINS: {
        char **g = grow(r->domains, r->n_domains, sizeof *g, &ok);
        if (!ok)
            break;
        r->domains = g;
        char *d = dup_col(st, 1, &ok);
        if (!ok)
            break;
        r->domains[r->n_domains++] = d;
        return DZ_OK;
    }
    default: {
        contact *g = grow(r->contacts, r->n_contacts, sizeof *g, &ok);
        if (!ok)
            break;
        r->contacts = g;
        contact *c = &r->contacts[r->n_contacts++];
        memset(c, 0, sizeof *c);
        c->name = dup_col(st, 1, &ok);
        c->email = dup_col(st, 2, &ok);
        c->phone = dup_col(st, 3, &ok);
        c->pgp = dup_col(st, 4, &ok);
        c->language = dup_col(st, 5, &ok);
        if (!ok)
            break;
        if (contact_role_parse(db_col_text(st, 6), &c->role, NULL) != DZ_OK ||
            notify_interval_parse(db_col_text(st, 7), &c->notify_interval, NULL) != DZ_OK ||
            notify_format_parse(db_col_text(st, 8), &c->notify_format, NULL) != DZ_OK ||
            tlp_parse(db_col_text(st, 9), &c->max_tlp, NULL) != DZ_OK)
            return dz_fail(e, DZ_EDB, "constituent %" PRId64 ": a stored contact has an unknown role, interval, "
                                      "format or TLP", id);
        return DZ_OK;
    }
    }
    return dz_fail(e, DZ_ENOMEM, "out of memory");
}

/* Fills in the networks, AS numbers, domains and contacts of v[0..n), four queries in all; sorts them. */
static dz_code load_children(db *d, stored *v, size_t n, const char *const sql[CH_N], binder bind, const void *arg,
                             dz_err *e)
{
    if (!n)
        return DZ_OK;
    id_slot *slots = malloc(n * sizeof *slots);
    if (!slots)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        slots[i] = (id_slot){v[i].id, i};
    sort(slots, n, sizeof *slots, cmp_slot);
    dz_code rc = DZ_OK;
    for (int ch = 0; rc == DZ_OK && ch < CH_N; ch++) {
        db_stmt *st;
        if ((rc = db_prepare(d, sql[ch], &st, e)) != DZ_OK)
            break;
        if (bind)
            bind(st, arg);
        int r;
        while ((r = db_step(st, e)) == DB_ROW) {
            id_slot key = {db_col_int(st, 0), 0};
            const id_slot *hit = bsearch(&key, slots, n, sizeof *slots, cmp_slot);
            if (hit && (rc = child_row(ch, st, key.id, &v[hit->idx].r, e)) != DZ_OK)
                break;
        }
        db_reset(st);
        if (rc == DZ_OK && r == DB_ERROR)
            rc = e->code;
    }
    free(slots);
    for (size_t i = 0; i < n; i++) {
        constituent_record *r = &v[i].r;
        sort(r->networks, r->n_networks, sizeof *r->networks, cmp_prefix);
        sort(r->asns, r->n_asns, sizeof *r->asns, cmp_asn);
        sort(r->domains, r->n_domains, sizeof *r->domains, cmp_str);
        sort(r->tags, r->n_tags, sizeof *r->tags, cmp_str);
    }
    return rc;
}

static void bind_one_id(db_stmt *st, const void *arg)
{
    db_bind_int(st, 1, *(const int64_t *)arg);
}

/* The record named short_name (or with id, when short_name is NULL), visible under only_org; *out NULL if none. */
static dz_code load_one(db *d, const char *short_name, int64_t id, int64_t only_org, stored **out, dz_err *e)
{
    db_stmt *st;
    stored *v = NULL;
    size_t n = 0;
    *out = NULL;
    if (db_prepare(d, short_name ? main_by_name_sql : main_by_id_sql, &st, e) != DZ_OK)
        return e->code;
    if (short_name)
        db_bind_text(st, 1, short_name);
    else
        db_bind_int(st, 1, id);
    db_bind_int(st, 2, only_org);
    db_bind_int(st, 3, only_org);
    dz_code rc = read_main(st, &v, &n, e);
    if (rc == DZ_OK && n == 1)
        rc = load_children(d, v, n, children_one, bind_one_id, &v[0].id, e);
    if (rc != DZ_OK || n != 1) {
        stored_free(v, n);
        return rc;
    }
    *out = v;
    return DZ_OK;
}

/* Every record (imports compare against them). */
static dz_code load_all(db *d, stored **v, size_t *n, dz_err *e)
{
    db_stmt *st;
    *v = NULL;
    *n = 0;
    if (db_prepare(d, main_all_sql, &st, e) != DZ_OK)
        return e->code;
    dz_code rc = read_main(st, v, n, e);
    if (rc == DZ_OK)
        rc = load_children(d, *v, *n, children_all, NULL, NULL, e);
    if (rc != DZ_OK) {
        stored_free(*v, *n);
        *v = NULL;
        *n = 0;
    }
    return rc;
}

/* The wire shape: the record, and when it was created and last changed. */
static json_t *stored_json(const stored *x)
{
    json_t *o = constituent_to_json(&x->r);
    if (!o)
        return NULL;
    json_set_time(o, "created_at", x->created_at, false);
    json_set_time(o, "updated_at", x->updated_at, false);
    return o;
}

static dz_code get_record(store *s, int64_t only_org, const char *short_name, int64_t id, json_t **out, dz_err *e)
{
    db *d;
    stored *x = NULL;
    *out = NULL;
    if (store_reader(s, &d, e) != DZ_OK || db_begin_snapshot(d, e) != DZ_OK)
        return e->code;
    dz_code rc = load_one(d, short_name, id, only_org, &x, e);
    db_rollback(d);
    if (rc != DZ_OK)
        return rc;
    if (!x)
        return short_name ? dz_fail(e, DZ_ENOTFOUND, "no constituent '%.64s'", short_name)
                          : dz_fail(e, DZ_ENOTFOUND, "no constituent with id %" PRId64, id);
    *out = stored_json(x);
    stored_free(x, 1);
    return *out ? DZ_OK : dz_fail(e, DZ_ENOMEM, "out of memory");
}

dz_code store_constituent_get(store *s, int64_t only_org, const char *short_name, json_t **out, dz_err *e)
{
    if (!short_name)
        return dz_fail(e, DZ_EINVAL, "no short name given");
    return get_record(s, only_org, short_name, 0, out, e);
}

dz_code store_constituent_get_by_id(store *s, int64_t only_org, int64_t id, json_t **out, dz_err *e)
{
    return get_record(s, only_org, NULL, id, out, e);
}

/* ---- listing ---- */

typedef struct list_args {
    int64_t only_org;
    const char *kind, *sector, *tag_pattern, *parent, *text_pattern;
    int cii;
    const char *first, *last; /* the page's short_name range, for its child rows */
} list_args;

static int bind_filters(db_stmt *st, int idx, const list_args *a)
{
    const char *pairs[] = {a->kind, a->sector, a->tag_pattern, a->parent};
    db_bind_int(st, idx++, a->only_org);
    db_bind_int(st, idx++, a->only_org);
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        db_bind_text(st, idx++, pairs[i]);
        db_bind_text(st, idx++, pairs[i]);
    }
    for (int i = 0; i < 3; i++)
        db_bind_text(st, idx++, a->text_pattern);
    db_bind_int(st, idx++, a->cii);
    db_bind_int(st, idx++, a->cii);
    return idx;
}

static void bind_page(db_stmt *st, const void *arg)
{
    const list_args *a = arg;
    int idx = bind_filters(st, 1, a);
    db_bind_text(st, idx++, a->first);
    db_bind_text(st, idx, a->last);
}

/* "%text%" lower-cased with LIKE's wildcards escaped. */
static char *like_pattern(const char *text)
{
    size_t n = strlen(text);
    char *p = malloc(2 * n + 3), *q = p;
    if (!p)
        return NULL;
    *q++ = '%';
    for (const char *t = text; *t; t++) {
        if (*t == '%' || *t == '_' || *t == '\\')
            *q++ = '\\';
        *q++ = (*t >= 'A' && *t <= 'Z') ? (char)(*t + 32) : *t;
    }
    *q++ = '%';
    *q = '\0';
    return p;
}

/* Cursors are the last short name of the page in hex: opaque, and safe in a URL. */
static void cursor_encode(const char *short_name, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)short_name; *p && j + 2 < n; p++) {
        out[j++] = hex[*p >> 4];
        out[j++] = hex[*p & 15];
    }
    out[j] = '\0';
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool cursor_decode(const char *cursor, char out[65])
{
    size_t n = strlen(cursor);
    if (n == 0 || n % 2 || n > 128)
        return false;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_value(cursor[i]), lo = hex_value(cursor[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i / 2] = (char)(hi << 4 | lo);
    }
    out[n / 2] = '\0';
    return name_valid(out);
}

dz_code store_constituent_list(store *s, int64_t only_org, const constituent_filter *f, json_t **out, dz_err *e)
{
    static const constituent_filter everything = {.cii = -1};
    if (!f)
        f = &everything;
    *out = NULL;
    if (f->limit < 0 || f->limit > LIST_LIMIT_MAX)
        return dz_fail(e, DZ_EINVAL, "parameter 'limit' must be between 1 and %d (0: all)", LIST_LIMIT_MAX);
    if (f->cii < -1 || f->cii > 1)
        return dz_fail(e, DZ_EINVAL, "parameter 'cii' must be -1 (any), 0 or 1");
    if (f->tag && *f->tag && !tag_valid(f->tag))
        return dz_fail(e, DZ_EINVAL, "parameter 'tag': tags are 1-64 of [a-z0-9._:-]");
    char after[65] = "";
    if (f->cursor && *f->cursor && !cursor_decode(f->cursor, after))
        return dz_fail(e, DZ_EINVAL, "parameter 'cursor' is not a cursor this server gave out");

    char tag_pattern[200] = ""; /* %"tag"% with '_' escaped (tags have no other LIKE wildcard) */
    if (f->tag && *f->tag) {
        size_t j = 0;
        tag_pattern[j++] = '%';
        tag_pattern[j++] = '"';
        for (const char *t = f->tag; *t; t++) {
            if (*t == '_')
                tag_pattern[j++] = '\\';
            tag_pattern[j++] = *t;
        }
        tag_pattern[j++] = '"';
        tag_pattern[j++] = '%';
        tag_pattern[j] = '\0';
    }
    char *text_pattern = f->text && *f->text ? like_pattern(f->text) : NULL;
    if (f->text && *f->text && !text_pattern)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    list_args a = {
        .only_org = only_org,
        .kind = f->kind && *f->kind ? f->kind : NULL,
        .sector = f->sector && *f->sector ? f->sector : NULL,
        .tag_pattern = tag_pattern[0] ? tag_pattern : NULL,
        .parent = f->parent && *f->parent ? f->parent : NULL,
        .text_pattern = text_pattern,
        .cii = f->cii,
    };

    db *d;
    db_stmt *st;
    stored *v = NULL;
    size_t n = 0;
    bool more = false;
    dz_code rc;
    if ((rc = store_reader(s, &d, e)) != DZ_OK || (rc = db_begin_snapshot(d, e)) != DZ_OK) {
        free(text_pattern);
        return rc;
    }
    int pg = db_is_pg(d);
    if ((rc = db_prepare(d, page_sql[pg], &st, e)) == DZ_OK) {
        int idx = bind_filters(st, 1, &a);
        db_bind_text(st, idx++, after[0] ? after : NULL);
        db_bind_text(st, idx++, after[0] ? after : NULL);
        db_bind_int(st, idx, f->limit ? f->limit + 1 : INT64_MAX);
        rc = read_main(st, &v, &n, e);
    }
    if (rc == DZ_OK && f->limit && n > (size_t)f->limit) {
        more = true;
        constituent_record_free(&v[n - 1].r);
        n--;
    }
    if (rc == DZ_OK && n) {
        a.first = v[0].r.short_name;
        a.last = v[n - 1].r.short_name;
        rc = load_children(d, v, n, children_page[pg], bind_page, &a, e);
    }
    db_rollback(d);
    free(text_pattern);

    json_t *items = json_array();
    for (size_t i = 0; rc == DZ_OK && i < n; i++) {
        json_t *o = stored_json(&v[i]);
        if (!o)
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        else
            json_array_append_new(items, o);
    }
    if (rc == DZ_OK) {
        json_t *res = json_object();
        json_object_set_new(res, "items", items);
        if (more) {
            char cursor[130];
            cursor_encode(v[n - 1].r.short_name, cursor, sizeof cursor);
            json_object_set_new(res, "next_cursor", json_string(cursor));
        } else {
            json_object_set_new(res, "next_cursor", json_null());
        }
        *out = res;
    } else {
        json_decref(items);
    }
    stored_free(v, n);
    return rc;
}

/* ---- writing ---- */

dz_code store_constituent_id_in(db *d, const char *short_name, int64_t *id, dz_err *e)
{
    db_stmt *st;
    *id = 0;
    if (db_prepare(d, "SELECT id FROM constituents WHERE short_name = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, short_name);
    int r = db_step(st, e);
    if (r == DB_ROW)
        *id = db_col_int(st, 0);
    db_reset(st);
    return r == DB_ERROR ? e->code : DZ_OK;
}

dz_code store_constituent_id(store *s, const char *short_name, int64_t *id, dz_err *e)
{
    db *d;
    if (store_reader(s, &d, e) != DZ_OK || store_constituent_id_in(d, short_name, id, e) != DZ_OK)
        return e->code;
    return *id ? DZ_OK : dz_fail(e, DZ_ENOTFOUND, "no constituent '%.64s'", short_name);
}

static dz_code bump_version(db *d, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, "UPDATE registry_state SET version = version + 1 WHERE id = 1", &st, e) != DZ_OK ||
        db_run(st, e) != DZ_OK)
        return e->code;
    return db_changes(d) == 1 ? DZ_OK : dz_fail(e, DZ_EDB, "registry_state has no row (migration 4 missing?)");
}

/* The parent's id; DZ_EINVAL when there is none of that name. */
static dz_code parent_id_of(db *d, const constituent_record *r, int64_t *id, dz_err *e)
{
    if (store_constituent_id_in(d, r->parent, id, e) != DZ_OK)
        return e->code;
    return *id ? DZ_OK : dz_fail(e, DZ_EINVAL, "%s: field 'parent': no constituent '%.64s'", r->short_name, r->parent);
}

/* Refuses parent_id as the parent of id when id is parent_id or above it already. */
static dz_code check_cycle(db *d, const constituent_record *r, int64_t id, int64_t parent_id, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, "WITH RECURSIVE up(id) AS (SELECT CAST(? AS BIGINT) UNION SELECT c.parent_id FROM "
                      "constituents c JOIN up ON c.id = up.id WHERE c.parent_id IS NOT NULL) "
                      "SELECT COUNT(*) FROM up WHERE id = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, parent_id);
    db_bind_int(st, 2, id);
    int rc = db_step(st, e);
    int64_t hits = rc == DB_ROW ? db_col_int(st, 0) : 0;
    db_reset(st);
    if (rc == DB_ERROR)
        return e->code;
    if (hits)
        return dz_fail(e, DZ_EINVAL, "%s: field 'parent': '%.64s' is a member of '%s' (directly or further down), "
                                     "so it cannot be its parent",
                       r->short_name, r->parent, r->short_name);
    return DZ_OK;
}

/* The tags column: a compact JSON array of the (sorted) tags. */
static char *tags_text(const constituent_record *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < r->n_tags; i++)
        json_array_append_new(a, json_string(r->tags[i]));
    char *t = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return t;
}

/* Inserts (old_id 0: *id is the new row's) or updates the row itself; parent_id 0 is none. */
static dz_code write_row(db *d, const constituent_record *r, int64_t old_id, int64_t parent_id, int64_t now,
                         int64_t *id, dz_err *e)
{
    db_stmt *st;
    char *tags = tags_text(r);
    if (!tags)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    dz_code rc;
    if (old_id) {
        *id = old_id;
        if ((rc = db_prepare(d, "UPDATE constituents SET name = ?, kind = ?, sector = ?, cii = ?, cii_tier = ?, "
                                "parent_id = ?, tags = ?, updated_at = ? WHERE id = ?", &st, e)) == DZ_OK) {
            db_bind_text(st, 1, r->name);
            db_bind_text(st, 2, org_kind_name(r->kind));
            db_bind_text(st, 3, r->sector);
            db_bind_int(st, 4, r->cii);
            db_bind_int(st, 5, r->cii_tier);
            db_bind_int_or_null(st, 6, parent_id, 0);
            db_bind_text(st, 7, tags);
            db_bind_int(st, 8, now);
            db_bind_int(st, 9, old_id);
            rc = db_run(st, e);
        }
        free(tags);
        return rc;
    }
    if ((rc = db_prepare(d, "INSERT INTO constituents(short_name, name, kind, sector, cii, cii_tier, parent_id, "
                            "tags, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                         &st, e)) == DZ_OK) {
        db_bind_text(st, 1, r->short_name);
        db_bind_text(st, 2, r->name);
        db_bind_text(st, 3, org_kind_name(r->kind));
        db_bind_text(st, 4, r->sector);
        db_bind_int(st, 5, r->cii);
        db_bind_int(st, 6, r->cii_tier);
        db_bind_int_or_null(st, 7, parent_id, 0);
        db_bind_text(st, 8, tags);
        db_bind_int(st, 9, now);
        db_bind_int(st, 10, now);
        int r2 = db_step(st, e);
        *id = r2 == DB_ROW ? db_col_int(st, 0) : 0;
        db_reset(st);
        rc = r2 == DB_ROW ? DZ_OK
             : r2 == DB_ERROR ? (e->code == DZ_ECONFLICT
                                     ? dz_fail(e, DZ_ECONFLICT, "constituent '%s' exists already", r->short_name)
                                     : e->code)
                              : dz_fail(e, DZ_EDB, "constituent insert returned no id");
    }
    free(tags);
    return rc;
}

#define P2 "(?, ?)"
#define P2_4 P2 ", " P2 ", " P2 ", " P2
#define P2_16 P2_4 ", " P2_4 ", " P2_4 ", " P2_4
#define P2_32 P2_16 ", " P2_16
_Static_assert(INSERT_BATCH == 32, "P2_32 has INSERT_BATCH rows");

/* Binds element i of the list as the value at idx. */
typedef void (*value_binder)(db_stmt *st, int idx, const constituent_record *r, size_t i);

static void bind_network(db_stmt *st, int idx, const constituent_record *r, size_t i)
{
    char text[NET_PREFIX_TEXT_MAX];
    net_prefix_format(&r->networks[i], text);
    db_bind_text(st, idx, text);
}

static void bind_asn(db_stmt *st, int idx, const constituent_record *r, size_t i)
{
    db_bind_int(st, idx, r->asns[i]);
}

static void bind_domain(db_stmt *st, int idx, const constituent_record *r, size_t i)
{
    db_bind_text(st, idx, r->domains[i]);
}

static const struct child_table {
    const char *key; /* in constituent_to_json's object */
    const char *del, *one, *batch;
    value_binder bind;
} child_tables[] = {
    {"networks", "DELETE FROM constituent_networks WHERE constituent_id = ?",
     "INSERT INTO constituent_networks(constituent_id, network) VALUES " P2,
     "INSERT INTO constituent_networks(constituent_id, network) VALUES " P2_32, bind_network},
    {"asns", "DELETE FROM constituent_asns WHERE constituent_id = ?",
     "INSERT INTO constituent_asns(constituent_id, asn) VALUES " P2,
     "INSERT INTO constituent_asns(constituent_id, asn) VALUES " P2_32, bind_asn},
    {"domains", "DELETE FROM constituent_domains WHERE constituent_id = ?",
     "INSERT INTO constituent_domains(constituent_id, domain) VALUES " P2,
     "INSERT INTO constituent_domains(constituent_id, domain) VALUES " P2_32, bind_domain},
};

static dz_code run_with_id(db *d, const char *sql, int64_t id, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, sql, &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, id);
    return db_run(st, e);
}

static dz_code insert_values(db *d, const struct child_table *t, int64_t id, const constituent_record *r, size_t n,
                             dz_err *e)
{
    for (size_t i = 0; i < n;) {
        size_t k = n - i >= INSERT_BATCH ? INSERT_BATCH : 1;
        db_stmt *st;
        if (db_prepare(d, k > 1 ? t->batch : t->one, &st, e) != DZ_OK)
            return e->code;
        for (size_t j = 0; j < k; j++) {
            db_bind_int(st, (int)(2 * j + 1), id);
            t->bind(st, (int)(2 * j + 2), r, i + j);
        }
        if (db_run(st, e) != DZ_OK)
            return e->code;
        i += k;
    }
    return DZ_OK;
}

static dz_code insert_contacts(db *d, int64_t id, const constituent_record *r, dz_err *e)
{
    for (size_t i = 0; i < r->n_contacts; i++) {
        const contact *c = &r->contacts[i];
        db_stmt *st;
        if (db_prepare(d, "INSERT INTO constituent_contacts(constituent_id, position, name, email, phone, pgp, "
                          "language, role, notify_interval, notify_format, max_tlp) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st, e) != DZ_OK)
            return e->code;
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, (int64_t)i);
        db_bind_text(st, 3, c->name);
        db_bind_text(st, 4, c->email);
        db_bind_text(st, 5, c->phone);
        db_bind_text(st, 6, c->pgp);
        db_bind_text(st, 7, c->language);
        db_bind_text(st, 8, contact_role_name(c->role));
        db_bind_text(st, 9, notify_interval_name(c->notify_interval));
        db_bind_text(st, 10, notify_format_name(c->notify_format));
        db_bind_text(st, 11, tlp_name(c->max_tlp));
        if (db_run(st, e) != DZ_OK)
            return e->code;
    }
    return DZ_OK;
}

/* Both objects have key and agree on it (absent keys never agree, so the list is rewritten). */
static bool same_key(json_t *a, json_t *b, const char *key)
{
    json_t *x = a ? json_object_get(a, key) : NULL, *y = b ? json_object_get(b, key) : NULL;
    return x && y && json_equal(x, y);
}

/* Rewrites the lists that differ from what old_json shows (old_json NULL: a new record, nothing to delete). */
static dz_code write_children(db *d, int64_t id, const constituent_record *r, json_t *old_json, json_t *new_json,
                              dz_err *e)
{
    size_t counts[] = {r->n_networks, r->n_asns, r->n_domains};
    for (size_t t = 0; t < sizeof child_tables / sizeof *child_tables; t++) {
        if (old_json && same_key(old_json, new_json, child_tables[t].key))
            continue;
        if ((old_json && run_with_id(d, child_tables[t].del, id, e) != DZ_OK) ||
            insert_values(d, &child_tables[t], id, r, counts[t], e) != DZ_OK)
            return e->code;
    }
    if (old_json && same_key(old_json, new_json, "contacts"))
        return DZ_OK;
    if (old_json && run_with_id(d, "DELETE FROM constituent_contacts WHERE constituent_id = ?", id, e) != DZ_OK)
        return e->code;
    return insert_contacts(d, id, r, e);
}

/* The audit detail: what was created, or which fields changed. */
static json_t *audit_detail(const constituent_record *r, json_t *old_json, json_t *new_json)
{
    json_t *o = json_pack("{s:s}", "name", r->name);
    if (!old_json) {
        json_object_set_new(o, "kind", json_string(org_kind_name(r->kind)));
        if (r->parent)
            json_object_set_new(o, "parent", json_string(r->parent));
        json_object_set_new(o, "networks", json_integer((json_int_t)r->n_networks));
        json_object_set_new(o, "asns", json_integer((json_int_t)r->n_asns));
        json_object_set_new(o, "domains", json_integer((json_int_t)r->n_domains));
        json_object_set_new(o, "contacts", json_integer((json_int_t)r->n_contacts));
        return o;
    }
    json_t *changed = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(new_json, key, v) {
        if (!json_equal(v, json_object_get(old_json, key)))
            json_array_append_new(changed, json_string(key));
    }
    json_object_foreach(old_json, key, v) {
        if (!json_object_get(new_json, key))
            json_array_append_new(changed, json_string(key));
    }
    json_object_set_new(o, "changed", changed);
    return o;
}

static json_t *record_json(const constituent_record *r, dz_err *e)
{
    json_t *o = constituent_to_json(r);
    if (!o)
        dz_fail(e, DZ_ENOMEM, "out of memory");
    return o;
}

/* ---- put ---- */

typedef struct put_ctx {
    const principal *who;
    const constituent_record *r; /* canonical */
    json_t *json;                /* constituent_to_json(r) */
    store_put_mode mode;
    bool created, changed;
} put_ctx;

static dz_code put_tx(store *s, db *d, void *arg, dz_err *e)
{
    put_ctx *c = arg;
    const constituent_record *r = c->r;
    int64_t now = store_now(s), parent_id = 0, id = 0;
    stored *old = NULL;
    json_t *old_json = NULL;
    c->created = c->changed = false;
    dz_code rc = load_one(d, r->short_name, 0, 0, &old, e);
    if (rc != DZ_OK)
        return rc;
    if (old && c->mode == STORE_PUT_CREATE) {
        rc = dz_fail(e, DZ_ECONFLICT, "constituent '%s' exists already", r->short_name);
        goto out;
    }
    if (!old && c->mode == STORE_PUT_REPLACE) {
        rc = dz_fail(e, DZ_ENOTFOUND, "no constituent '%.64s'", r->short_name);
        goto out;
    }
    if (old) {
        if (!(old_json = record_json(&old->r, e))) {
            rc = e->code;
            goto out;
        }
        if (json_equal(old_json, c->json))
            goto out; /* as stored: nothing to write */
    }
    if (r->parent && ((rc = parent_id_of(d, r, &parent_id, e)) != DZ_OK ||
                      (old && (rc = check_cycle(d, r, old->id, parent_id, e)) != DZ_OK)))
        goto out;
    if ((rc = write_row(d, r, old ? old->id : 0, parent_id, now, &id, e)) != DZ_OK ||
        (rc = write_children(d, id, r, old_json, c->json, e)) != DZ_OK || (rc = bump_version(d, e)) != DZ_OK)
        goto out;
    rc = store_audit_append(d, now, actor_of(c->who), old ? "constituent.update" : "constituent.create",
                            r->short_name, audit_detail(r, old_json, c->json), e);
    c->created = !old;
    c->changed = rc == DZ_OK;
out:
    json_decref(old_json);
    stored_free(old, old ? 1 : 0);
    return rc;
}

dz_code store_constituent_put(store *s, const principal *who, const constituent_record *r, store_put_mode mode,
                              json_t **out, bool *created, dz_err *e)
{
    if (out)
        *out = NULL;
    if (created)
        *created = false;
    if (mode != STORE_PUT_CREATE && mode != STORE_PUT_REPLACE && mode != STORE_PUT_UPSERT)
        return dz_fail(e, DZ_EINVAL, "unknown put mode %d", (int)mode);
    if (record_check(r, e) != DZ_OK)
        return e->code;
    constituent_record v;
    if (canonical_view(r, &v, e) != DZ_OK)
        return e->code;
    put_ctx c = {.who = who, .r = &v, .mode = mode};
    dz_code rc = (c.json = record_json(&v, e)) ? store_write(s, put_tx, &c, e) : e->code;
    json_decref(c.json);
    view_free(&v);
    if (rc != DZ_OK)
        return rc;
    if (c.changed)
        store_registry_changed(s);
    if (created)
        *created = c.created;
    return out ? store_constituent_get(s, 0, r->short_name, out, e) : DZ_OK;
}

dz_code store_constituent_create(store *s, const principal *who, const char *short_name, const char *name,
                                 json_t **out, dz_err *e)
{
    constituent_record r = {.short_name = (char *)short_name, .name = (char *)name, .kind = ORG_OTHER};
    return store_constituent_put(s, who, &r, STORE_PUT_CREATE, out, NULL, e);
}

/* ---- import ---- */

typedef struct import_item {
    constituent_record v; /* canonical view of the caller's record */
    json_t *json;
    json_t *old_json; /* what was stored (an update) */
    int64_t id;
    bool changed, created;
} import_item;

typedef struct import_ctx {
    const principal *who;
    import_item *items;
    size_t n;
    store_import_result res;
} import_ctx;

static int cmp_stored_name(const void *a, const void *b)
{
    return strcmp((*(const stored *const *)a)->r.short_name, (*(const stored *const *)b)->r.short_name);
}

static dz_code import_tx(store *s, db *d, void *arg, dz_err *e)
{
    import_ctx *c = arg;
    int64_t now = store_now(s);
    stored *all = NULL, **by_name = NULL;
    size_t n_all = 0;
    dz_code rc = DZ_OK;
    memset(&c->res, 0, sizeof c->res);
    for (size_t i = 0; i < c->n; i++) { /* clean, should the writer run this again */
        json_decref(c->items[i].old_json);
        c->items[i].old_json = NULL;
        c->items[i].changed = c->items[i].created = false;
        c->items[i].id = 0;
    }
    if (c->n > IMPORT_LOAD_ALL) {
        if ((rc = load_all(d, &all, &n_all, e)) != DZ_OK)
            return rc;
        if (n_all && !(by_name = malloc(n_all * sizeof *by_name))) {
            stored_free(all, n_all);
            return dz_fail(e, DZ_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n_all; i++)
            by_name[i] = &all[i];
        sort(by_name, n_all, sizeof *by_name, cmp_stored_name);
    }

    /* 1: each changed record as it is, without its parent (that may be a record further on) */
    for (size_t i = 0; rc == DZ_OK && i < c->n; i++) {
        import_item *it = &c->items[i];
        stored *old = NULL, *mine = NULL;
        if (c->n > IMPORT_LOAD_ALL) {
            stored key = {.r.short_name = it->v.short_name}, *kp = &key, **hit;
            hit = n_all ? bsearch(&kp, by_name, n_all, sizeof *by_name, cmp_stored_name) : NULL;
            old = hit ? *hit : NULL;
        } else if ((rc = load_one(d, it->v.short_name, 0, 0, &mine, e)) != DZ_OK) {
            break;
        } else {
            old = mine;
        }
        if (old && !(it->old_json = record_json(&old->r, e)))
            rc = e->code;
        if (rc == DZ_OK && old && json_equal(it->old_json, it->json)) {
            c->res.unchanged++;
        } else if (rc == DZ_OK) {
            rc = write_row(d, &it->v, old ? old->id : 0, 0, now, &it->id, e);
            if (rc == DZ_OK)
                rc = write_children(d, it->id, &it->v, it->old_json, it->json, e);
            it->changed = true;
            it->created = !old;
            if (old)
                c->res.updated++;
            else
                c->res.created++;
        }
        stored_free(mine, mine ? 1 : 0);
    }
    stored_free(all, n_all);
    free(by_name);

    /* 2: parents, now that every record of the batch exists; 3: no cycles, with all of them in place */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; rc == DZ_OK && i < c->n; i++) {
            import_item *it = &c->items[i];
            int64_t parent_id;
            if (!it->changed || !it->v.parent)
                continue;
            if ((rc = parent_id_of(d, &it->v, &parent_id, e)) != DZ_OK)
                break;
            if (pass == 0) {
                db_stmt *st;
                if ((rc = db_prepare(d, "UPDATE constituents SET parent_id = ? WHERE id = ?", &st, e)) != DZ_OK)
                    break;
                db_bind_int(st, 1, parent_id);
                db_bind_int(st, 2, it->id);
                rc = db_run(st, e);
            } else {
                rc = check_cycle(d, &it->v, it->id, parent_id, e);
            }
        }

    if (rc == DZ_OK && c->res.created + c->res.updated)
        rc = bump_version(d, e);
    for (size_t i = 0; rc == DZ_OK && i < c->n; i++) {
        import_item *it = &c->items[i];
        if (it->changed)
            rc = store_audit_append(d, now, actor_of(c->who), it->created ? "constituent.create" : "constituent.update",
                                    it->v.short_name, audit_detail(&it->v, it->old_json, it->json), e);
    }
    return rc;
}

static int cmp_name_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

dz_code store_constituent_import(store *s, const principal *who, const constituent_record *recs, size_t n,
                                 store_import_result *out, dz_err *e)
{
    store_import_result zero = {0, 0, 0};
    if (out)
        *out = zero;
    for (size_t i = 0; i < n; i++)
        if (record_check(&recs[i], e) != DZ_OK)
            return dz_wrap(e, "record %zu", i + 1);
    if (!n)
        return DZ_OK;
    const char **names = malloc(n * sizeof *names);
    import_item *items = calloc(n, sizeof *items);
    dz_code rc = names && items ? DZ_OK : dz_fail(e, DZ_ENOMEM, "out of memory");
    for (size_t i = 0; rc == DZ_OK && i < n; i++)
        names[i] = recs[i].short_name;
    if (rc == DZ_OK) {
        sort(names, n, sizeof *names, cmp_name_ptr);
        for (size_t i = 1; i < n; i++)
            if (strcmp(names[i - 1], names[i]) == 0) {
                rc = dz_fail(e, DZ_EINVAL, "'%s' appears more than once in the import", names[i]);
                break;
            }
    }
    size_t made = 0;
    for (; rc == DZ_OK && made < n; made++) {
        if (canonical_view(&recs[made], &items[made].v, e) != DZ_OK)
            rc = e->code;
        else if (!(items[made].json = record_json(&items[made].v, e)))
            rc = (view_free(&items[made].v), e->code);
    }
    import_ctx c = {.who = who, .items = items, .n = n};
    if (rc == DZ_OK)
        rc = store_write(s, import_tx, &c, e);
    for (size_t i = 0; items && i < made; i++) {
        json_decref(items[i].json);
        json_decref(items[i].old_json);
        view_free(&items[i].v);
    }
    free(items);
    free(names);
    if (rc != DZ_OK)
        return rc;
    if (c.res.created + c.res.updated)
        store_registry_changed(s);
    if (out)
        *out = c.res;
    return DZ_OK;
}

/* ---- delete ---- */

typedef struct delete_ctx {
    const principal *who;
    const char *short_name;
} delete_ctx;

static dz_code delete_tx(store *s, db *d, void *arg, dz_err *e)
{
    delete_ctx *c = arg;
    db_stmt *st;
    int64_t id;
    if (store_constituent_id_in(d, c->short_name, &id, e) != DZ_OK)
        return e->code;
    if (!id)
        return dz_fail(e, DZ_ENOTFOUND, "no constituent '%.64s'", c->short_name);
    if (db_prepare(d, "SELECT (SELECT COUNT(*) FROM users WHERE constituent_id = ?), "
                      "(SELECT COUNT(*) FROM incident_constituents WHERE constituent_id = ?), "
                      "(SELECT COUNT(*) FROM reports WHERE constituent_id = ? OR created_by_org = ?), "
                      "(SELECT COUNT(*) FROM constituents WHERE parent_id = ?), "
                      "(SELECT name FROM constituents WHERE id = ?), "
                      "(SELECT COUNT(*) FROM notifications WHERE org_id = ?)", &st, e) != DZ_OK)
        return e->code;
    for (int i = 1; i <= 7; i++)
        db_bind_int(st, i, id);
    int64_t n[5] = {0, 0, 0, 0, 0};
    char name[301] = "";
    int r = db_step(st, e);
    if (r == DB_ROW) {
        for (int i = 0; i < 4; i++)
            n[i] = db_col_int(st, i);
        snprintf(name, sizeof name, "%s", db_col_text(st, 4) ? db_col_text(st, 4) : "");
        n[4] = db_col_int(st, 5);
    }
    db_reset(st);
    if (r != DB_ROW)
        return r == DB_ERROR ? e->code : dz_fail(e, DZ_EDB, "reference count returned no row");
    if (n[0] || n[1] || n[2] || n[3] || n[4]) {
        static const char *const what[5][2] = {{"user", "users"},
                                               {"incident", "incidents"},
                                               {"report", "reports"},
                                               {"member organisation", "member organisations"},
                                               {"notification", "notifications"}};
        strbuf why;
        strbuf_init(&why);
        for (int i = 0; i < 4; i++)
            if (n[i])
                strbuf_printf(&why, "%s%" PRId64 " %s", why.len ? ", " : "", n[i], what[i][n[i] != 1]);
        if (n[3] && db_prepare(d, "SELECT short_name FROM constituents WHERE parent_id = ? ORDER BY short_name "
                                  "LIMIT 5", &st, e) == DZ_OK) {
            db_bind_int(st, 1, id);
            for (int k = 0; db_step(st, e) == DB_ROW; k++)
                strbuf_printf(&why, "%s%s", k ? ", " : " (", db_col_text(st, 0));
            db_reset(st);
            strbuf_puts(&why, n[3] > 5 ? ", ...)" : ")");
        }
        if (n[4])
            strbuf_printf(&why, "%s%" PRId64 " %s", why.len ? ", " : "", n[4], what[4][n[4] != 1]);
        dz_fail(e, DZ_ECONFLICT, "constituent '%s' is still referred to by %s: move or delete those first",
                c->short_name, why.buf ? why.buf : "");
        strbuf_free(&why);
        return DZ_ECONFLICT;
    }
    static const char *const del[] = {
        "DELETE FROM constituent_networks WHERE constituent_id = ?",
        "DELETE FROM constituent_asns WHERE constituent_id = ?",
        "DELETE FROM constituent_domains WHERE constituent_id = ?",
        "DELETE FROM constituent_contacts WHERE constituent_id = ?",
        "DELETE FROM notify_cursors WHERE org_id = ?", /* the digest watermarks (their foreign key cascades too) */
        "UPDATE events SET constituent_id = NULL WHERE constituent_id = ?", /* no foreign key on PostgreSQL */
        "DELETE FROM constituents WHERE id = ?",
    };
    for (size_t i = 0; i < sizeof del / sizeof *del; i++)
        if (run_with_id(d, del[i], id, e) != DZ_OK)
            return e->code;
    if (bump_version(d, e) != DZ_OK)
        return e->code;
    return store_audit_append(d, store_now(s), actor_of(c->who), "constituent.delete", c->short_name,
                              json_pack("{s:s}", "name", name), e);
}

dz_code store_constituent_delete(store *s, const principal *who, const char *short_name, dz_err *e)
{
    if (!short_name || !name_valid(short_name))
        return dz_fail(e, DZ_ENOTFOUND, "no constituent '%.64s'", short_name ? short_name : "");
    delete_ctx c = {who, short_name};
    if (store_write(s, delete_tx, &c, e) != DZ_OK)
        return e->code;
    store_registry_changed(s);
    return DZ_OK;
}

/* ---- the index ---- */

static dz_code read_version(db *d, int64_t *version, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, "SELECT version FROM registry_state WHERE id = 1", &st, e) != DZ_OK)
        return e->code;
    int r = db_step(st, e);
    *version = r == DB_ROW ? db_col_int(st, 0) : 0;
    db_reset(st);
    return r == DB_ROW ? DZ_OK : r == DB_ERROR ? e->code : dz_fail(e, DZ_EDB, "registry_state has no row");
}

dz_code store_registry_version(store *s, int64_t *version, dz_err *e)
{
    db *d;
    if (store_reader(s, &d, e) != DZ_OK)
        return e->code;
    return read_version(d, version, e);
}

enum { IX_ORGS, IX_NETWORKS, IX_ASNS, IX_DOMAINS };

static dz_code index_row(registry_builder *b, int what, db_stmt *st, dz_err *e)
{
    int64_t id = db_col_int(st, 0);
    const char *v = db_col_text(st, 1);
    switch (what) {
    case IX_ORGS:
        return registry_add_org(b, id, v, e);
    case IX_NETWORKS: {
        net_prefix p;
        if (net_prefix_parse(v, &p, e) != DZ_OK)
            return dz_fail(e, DZ_EDB, "constituent %" PRId64 ": stored network '%.60s' does not parse", id, v);
        return registry_add_network(b, id, &p, e);
    }
    case IX_ASNS:
        return registry_add_asn(b, id, (uint32_t)db_col_int(st, 1), e);
    default:
        return registry_add_domain(b, id, v, e);
    }
}

dz_code store_registry_load(store *s, registry_index **out, dz_err *e)
{
    static const char *const sql[] = {
        "SELECT id, short_name FROM constituents ORDER BY id",
        "SELECT constituent_id, network FROM constituent_networks",
        "SELECT constituent_id, asn FROM constituent_asns",
        "SELECT constituent_id, domain FROM constituent_domains",
    };
    db *d;
    int64_t version = 0;
    *out = NULL;
    if (store_reader(s, &d, e) != DZ_OK)
        return e->code;
    registry_builder *b = registry_builder_new();
    if (!b)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    dz_code rc = db_begin_snapshot(d, e);
    if (rc == DZ_OK)
        rc = read_version(d, &version, e);
    for (int what = IX_ORGS; rc == DZ_OK && what <= IX_DOMAINS; what++) {
        db_stmt *st;
        if ((rc = db_prepare(d, sql[what], &st, e)) != DZ_OK)
            break;
        int r;
        while ((r = db_step(st, e)) == DB_ROW)
            if ((rc = index_row(b, what, st, e)) != DZ_OK)
                break;
        db_reset(st);
        if (rc == DZ_OK && r == DB_ERROR)
            rc = e->code;
    }
    db_rollback(d);
    if (rc != DZ_OK) {
        registry_builder_free(b);
        return dz_wrap(e, "loading the registry index");
    }
    return registry_build(b, version, out, e);
}
