/*
 * pipeline.c: classify, key, enrich and index one event (see pipeline.h).
 *
 * Order matters: the dedup key is taken before enrichment, so a change to
 * the registry (a network moving to another constituent) never makes an
 * old event look new.
 */
#include "lib/pipeline.h"
#include "lib/event_doc.h"
#include "lib/taxonomy.h"

#include <stdlib.h>
#include <string.h>
/* Inlined: the dedup key is hashed once per event, and XXH3 is fastest on short inputs when the compiler sees it. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#define MAX_KEYS 64

typedef struct key_pattern {
    char *text;
    size_t len;
    bool prefix; /* "extra.*": text is "extra." */
} key_pattern;

/* The keys the pipeline reads and writes, resolved once (event.h's event_key). */
enum { K_TYPE, K_TAXONOMY, K_IDENTIFIER, K_TIME_SOURCE, K_FEED_NAME, K_CONSTITUENT, K_SRC_IP, K_SRC_ASN,
       K_SRC_FQDN, K_DST_IP, K_DST_ASN, K_DST_FQDN, K_COUNT };
static const char *const KEY_NAMES[K_COUNT] = {
    "classification.type", "classification.taxonomy", "classification.identifier", "time.source", "feed.name",
    "extra.constituent", "source.ip", "source.asn", "source.fqdn", "destination.ip", "destination.asn",
    "destination.fqdn"};

struct pipeline {
    key_pattern only[MAX_KEYS];    /* dedup_fields: when n_only > 0, hash these */
    size_t n_only;
    key_pattern exclude[MAX_KEYS]; /* else hash every field but these */
    size_t n_exclude;
    strbuf keybuf;                 /* the fields hashed, serialised */
    event_key key[K_COUNT];
    char last_type[64];            /* classify's cache: a feed repeats one type */
    rsit_class last_class;
};

static void patterns_free(key_pattern *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i].text);
}

static dz_code patterns_parse(const char *what, const char *text, key_pattern *out, size_t *n, dz_err *e)
{
    *n = 0;
    const char *s = text;
    while (*s) {
        while (*s == ',' || *s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        size_t len = strcspn(s, ", \t");
        if (*n == MAX_KEYS)
            return dz_fail(e, DZ_EINVAL, "%s: more than %d keys", what, MAX_KEYS);
        bool prefix = len >= 2 && s[len - 1] == '*' && s[len - 2] == '.';
        char *k = strndup(s, prefix ? len - 1 : len);
        if (!k)
            return dz_fail(e, DZ_ENOMEM, "out of memory");
        out[*n] = (key_pattern){k, prefix ? len - 1 : len, prefix};
        (*n)++;
        if (!prefix) {
            harm_type t;
            dz_err ke;
            if (harmonization_type(k, &t, &ke) != DZ_OK)
                return dz_fail(e, DZ_EINVAL, "%s: '%s' is not a harmonization key", what, k);
        } else {
            /* a prefix must name a namespace of known keys, or extra. */
            bool known = strcmp(k, "extra.") == 0;
            const char *hk;
            for (size_t i = 0; !known && (hk = harmonization_key_at(i, NULL)); i++)
                known = strncmp(hk, k, out[*n - 1].len) == 0;
            if (!known)
                return dz_fail(e, DZ_EINVAL, "%s: no harmonization key starts with '%s'", what, k);
        }
        s += len;
    }
    return DZ_OK;
}

dz_code pipeline_new(const pipeline_config *cfg, pipeline **out, dz_err *e)
{
    pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    strbuf_init(&p->keybuf);
    const char *only = cfg && cfg->dedup_fields ? cfg->dedup_fields : "";
    const char *excl = cfg && cfg->dedup_exclude ? cfg->dedup_exclude : "raw time.observation";
    dz_code rc = DZ_OK;
    for (int k = 0; k < K_COUNT && rc == DZ_OK; k++)
        rc = event_key_init(&p->key[k], KEY_NAMES[k], e);
    if (rc == DZ_OK)
        rc = patterns_parse("dedup_fields", only, p->only, &p->n_only, e);
    if (rc == DZ_OK)
        rc = patterns_parse("dedup_exclude", excl, p->exclude, &p->n_exclude, e);
    if (rc != DZ_OK) {
        pipeline_free(p);
        return rc;
    }
    *out = p;
    return DZ_OK;
}

void pipeline_free(pipeline *p)
{
    if (!p)
        return;
    patterns_free(p->only, p->n_only);
    patterns_free(p->exclude, p->n_exclude);
    strbuf_free(&p->keybuf);
    free(p);
}

static bool matches(const key_pattern *pats, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (key[0] != pats[i].text[0]) /* most keys differ at once: skip the call */
            continue;
        if (pats[i].prefix ? strncmp(key, pats[i].text, pats[i].len) == 0 : strcmp(key, pats[i].text) == 0)
            return true;
    }
    return false;
}

/*
 * The hash over the selected fields, each as key NUL kind value NUL (values in the event's canonical form).
 * XXH3-64: the key of a keyed hash (SipHash until 2026-11) would be public in this file anyway, so it bought
 * nothing against a feed that crafts collisions, and XXH3 costs a tenth as much over an event's ~700 bytes.
 */
static uint64_t dedup_hash(pipeline *p, const event *ev)
{
    strbuf *kb = &p->keybuf;
    strbuf_reset(kb);
    size_t n = event_count(ev);
    for (size_t i = 0; i < n; i++) {
        const event_field *f = event_field_at(ev, i);
        if (p->n_only ? !matches(p->only, p->n_only, f->key) : matches(p->exclude, p->n_exclude, f->key))
            continue;
        size_t klen = strlen(f->key) + 1;
        size_t vlen = f->kind == EV_STRING ? f->len : f->kind == EV_BOOL ? 1 : 8;
        if (!strbuf_reserve(kb, klen + 1 + vlen + 1))
            break;
        char *w = kb->buf + kb->len;
        memcpy(w, f->key, klen);
        w += klen;
        *w++ = (char)('0' + f->kind);
        switch (f->kind) {
        case EV_STRING: memcpy(w, f->s, vlen); break;
        case EV_INT: memcpy(w, &f->i, 8); break;
        case EV_FLOAT: memcpy(w, &f->f, 8); break;
        case EV_BOOL: *w = f->b ? '1' : '0'; break;
        }
        w[vlen] = '\0';
        kb->len += klen + 1 + vlen + 1;
    }
    return XXH3_64bits(kb->buf ? kb->buf : "", kb->len);
}

/* Canonical RSIT: the type decides the taxonomy (IntelMQ's taxonomy expert does the same). */
static dz_code classify(pipeline *p, event *ev, dz_err *e)
{
    const event_field *ty = event_get_k(ev, &p->key[K_TYPE]);
    const event_field *tx = event_get_k(ev, &p->key[K_TAXONOMY]);
    rsit_class c;
    dz_err ign;
    if (ty) {
        if (strcmp(ty->s, p->last_type) == 0) {
            c = p->last_class;
        } else {
            if (rsit_resolve(NULL, ty->s, &c, &ign) != DZ_OK)
                return DZ_OK; /* event_set validated it; nothing better to do */
            snprintf(p->last_type, sizeof p->last_type, "%s", ty->s);
            p->last_class = c;
        }
        if (!tx || strcmp(tx->s, c.taxonomy) != 0)
            return event_set_k(ev, &p->key[K_TAXONOMY], c.taxonomy, strlen(c.taxonomy), e);
        return DZ_OK;
    }
    if (tx) {
        /* a taxonomy alone keeps no type, unless it has a default (other, test) */
        if (rsit_resolve(tx->s, NULL, &c, &ign) == DZ_OK && c.type)
            return event_set_k(ev, &p->key[K_TYPE], c.type, strlen(c.type), e);
        return DZ_OK;
    }
    dz_code rc = event_set_k(ev, &p->key[K_TAXONOMY], "other", 5, e);
    return rc ? rc : event_set_k(ev, &p->key[K_TYPE], "undetermined", 12, e);
}

static int64_t owner_of_claim(const registry_claim *c)
{
    return c ? c->org_ids[0] : 0;
}

/* n bytes as 2n lower-case hex digits and a NUL. */
static void hex_of(char *out, const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The sortable key of an IPv4 address: ::ffff:a.b.c.d as 32 hex digits. */
static void v4_key(char *out, uint32_t a)
{
    static const char mapped[] = "00000000000000000000ffff";
    uint8_t b[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
    memcpy(out, mapped, 24);
    hex_of(out + 24, b, 4);
}

/* The owner by the address, AS or domain under one side (K_SRC_* or K_DST_*); ip_key (may be NULL) gets the
 * address's key. */
static int64_t owner_by(pipeline *p, const registry_index *idx, const event *ev, int k_ip, char *ip_key)
{
    int64_t owner = 0;
    const event_field *ip = event_get_k(ev, &p->key[k_ip]);
    if (ip && ip->kind == EV_STRING) {
        uint32_t v4;
        net_prefix a;
        dz_err ign;
        if (ipv4_dotted_parse(ip->s, ip->len, &v4)) { /* the event holds canonical text */
            if (ip_key)
                v4_key(ip_key, v4);
            owner = idx ? registry_owner_v4(idx, v4) : 0;
        } else if (ip_address_parse(ip->s, &a, &ign) == DZ_OK) {
            if (ip_key) {
                if (a.family == 4)
                    v4_key(ip_key, net_prefix_v4(&a));
                else
                    hex_of(ip_key, a.addr, 16);
            }
            owner = owner_of_claim(registry_lookup_ip(idx, &a));
        }
        if (owner)
            return owner;
    }
    const event_field *asn = event_get_k(ev, &p->key[k_ip + 1]);
    if (asn && asn->kind == EV_INT && asn->i > 0 && asn->i <= UINT32_MAX) {
        owner = owner_of_claim(registry_lookup_asn(idx, (uint32_t)asn->i));
        if (owner)
            return owner;
    }
    const event_field *fq = event_get_k(ev, &p->key[k_ip + 2]);
    if (fq && fq->kind == EV_STRING)
        owner = owner_of_claim(registry_lookup_domain(idx, fq->s));
    return owner;
}

/* "2018-07-26T02:07:16+00:00" (event.c's canonical DateTime) to seconds; INT64_MIN when not that shape. */
static int64_t iso_seconds(const char *s, size_t len)
{
    if (len < 19)
        return INT64_MIN;
    int v[6];
    static const int at[6] = {0, 5, 8, 11, 14, 17}, width[6] = {4, 2, 2, 2, 2, 2};
    for (int k = 0; k < 6; k++) {
        v[k] = 0;
        for (int j = 0; j < width[k]; j++) {
            char ch = s[at[k] + j];
            if (ch < '0' || ch > '9')
                return INT64_MIN;
            v[k] = v[k] * 10 + (ch - '0');
        }
    }
    /* days from civil (proleptic Gregorian), Howard Hinnant's algorithm */
    int y = v[0] - (v[1] <= 2);
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int mp = (v[1] + 9) % 12;
    int doy = (153 * mp + 2) / 5 + v[2] - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    return days * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
}

static const char *text_of(pipeline *p, const event *ev, int k)
{
    const event_field *f = event_get_k(ev, &p->key[k]);
    return f && f->kind == EV_STRING ? f->s : NULL;
}

dz_code pipeline_process(pipeline *p, const registry_index *idx, event *ev, event_index *out, dz_err *e)
{
    dz_code rc = classify(p, ev, e);
    if (rc != DZ_OK)
        return rc;
    memset(out, 0, sizeof *out);
    out->dedup_hash = dedup_hash(p, ev);
    if (p->keybuf.oom)
        return dz_fail(e, DZ_ENOMEM, "out of memory");

    out->constituent_id = owner_by(p, idx, ev, K_SRC_IP, out->ip_key);
    if (!out->constituent_id)
        out->constituent_id = owner_by(p, idx, ev, K_DST_IP, NULL);
    if (out->constituent_id) {
        const char *name = registry_org_name(idx, out->constituent_id);
        if (name && (rc = event_set_k(ev, &p->key[K_CONSTITUENT], name, strlen(name), e)) != DZ_OK)
            return rc;
    } else if (event_get_k(ev, &p->key[K_CONSTITUENT])) {
        event_unset(ev, "extra.constituent"); /* an imported event's claim is not ours */
    }

    const event_field *ts = event_get_k(ev, &p->key[K_TIME_SOURCE]);
    out->time_source = ts && ts->kind == EV_STRING ? iso_seconds(ts->s, ts->len) : INT64_MIN;
    const event_field *asn = event_get_k(ev, &p->key[K_SRC_ASN]);
    out->asn = asn && asn->kind == EV_INT ? asn->i : 0;
    /* looked up after the last change to ev: pointers stay valid until the next one */
    out->feed_name = text_of(p, ev, K_FEED_NAME);
    out->taxonomy = text_of(p, ev, K_TAXONOMY);
    out->type = text_of(p, ev, K_TYPE);
    out->identifier = text_of(p, ev, K_IDENTIFIER);
    return DZ_OK;
}

/* ---- event_batch ---- */

void event_batch_init(event_batch *b)
{
    memset(b, 0, sizeof *b);
    strbuf_init(&b->text);
}

void event_batch_reset(event_batch *b)
{
    b->n = b->n_bad = 0;
    b->checkpoint = 0;
    b->oom = false;
    strbuf_reset(&b->text);
}

void event_batch_free(event_batch *b)
{
    free(b->rows);
    free(b->bad);
    strbuf_free(&b->text);
    memset(b, 0, sizeof *b);
}

static size_t put_text(event_batch *b, const char *s, size_t len)
{
    if (!s)
        return EB_NONE;
    size_t off = b->text.len;
    strbuf_append(&b->text, s, len);
    strbuf_append(&b->text, "", 1);
    return off;
}

static size_t put_str(event_batch *b, const char *s)
{
    return s ? put_text(b, s, strlen(s)) : EB_NONE;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 1024;
    while (nc < need)
        nc *= 2;
    void *n = realloc(*arr, nc * size);
    if (!n)
        return false;
    *arr = n;
    *cap = nc;
    return true;
}

void event_batch_add(event_batch *b, uint64_t line, const event *ev, const event_index *ix)
{
    if (!grow((void **)&b->rows, &b->cap, b->n + 1, sizeof *b->rows)) {
        b->oom = true;
        return;
    }
    event_batch_row *r = &b->rows[b->n++];
    r->line = line;
    r->dedup_hash = ix->dedup_hash;
    r->constituent_id = ix->constituent_id;
    r->time_source = ix->time_source;
    r->asn = ix->asn;
    memcpy(r->ip_key, ix->ip_key, sizeof r->ip_key);
    r->doc = b->text.len;
    event_write_doc(ev, &b->text);
    r->doc_len = b->text.len - r->doc;
    strbuf_append(&b->text, "", 1);
    r->feed_name = put_str(b, ix->feed_name);
    r->taxonomy = put_str(b, ix->taxonomy);
    r->type = put_str(b, ix->type);
    r->identifier = put_str(b, ix->identifier);
    if (b->text.oom)
        b->oom = true;
}

void event_batch_add_bad(event_batch *b, uint64_t line, const char *reason, const char *raw, size_t raw_len)
{
    if (!grow((void **)&b->bad, &b->cap_bad, b->n_bad + 1, sizeof *b->bad)) {
        b->oom = true;
        return;
    }
    event_batch_bad *r = &b->bad[b->n_bad++];
    r->line = line;
    r->reason = put_str(b, reason ? reason : "refused");
    r->raw = put_text(b, raw, raw_len);
    r->raw_len = raw ? raw_len : 0;
    if (b->text.oom)
        b->oom = true;
}
