/*
 * event: IntelMQ's harmonization (field table, per-type validation and
 * normalisation) and a flat, allocation-free-when-warm event.
 *
 * Memory: an event owns a growable field array and a text arena made of
 * blocks that never move (so the field pointers stay valid while the event
 * grows). event_reset empties both and keeps them. A value is first written
 * at the arena's free tail (reserved, not yet committed); replacing a key
 * whose old slot is large enough reuses it (each slot remembers its size),
 * otherwise the tail is committed. So a warm event allocates nothing, and
 * replacing a value repeatedly without a reset grows the arena only when the
 * value outgrows its slot.
 *
 * Speed (bench/pipeline_bench.c): fields stay in the order they were added
 * and are found through a small hash table of their keys (FNV-1a), never by
 * comparing names; key order for event_field_at and the JSON is a
 * permutation computed on demand from each key's rank (its position in the
 * sorted table; extra.* keys by their first bytes, strcmp only on ties).
 * event_key holds a key resolved once (table entry, hash, rank) for callers
 * that set the same keys on every event. Common inputs that are already
 * canonical (a dotted-quad IPv4 address, "YYYY-MM-DDTHH:MM:SS+00:00",
 * printable ASCII) take short paths with the same results.
 *
 * The rules of each type follow IntelMQ 3.x's harmonization.py as documented
 * (sanitize, then is_valid); where dzong is stricter or simpler it says so at
 * the type's function.
 */
#include "lib/event.h"
#include "lib/event_doc.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/marking.h"
#include "lib/taxonomy.h"

/* ---- the harmonization table ------------------------------------------------------------------ */

/* Extra constraints of single fields (IntelMQ's "regex" and "length" in harmonization.conf). */
typedef enum {
    CK_NONE = 0,
    CK_PRINTABLE, /* ^[ -~]+$ */
    CK_HASH,      /* event_hash: ^[A-F0-9./]+$ */
    CK_UUID,      /* misp.*_uuid: 8-4-4-4-12 of [a-z0-9] */
    CK_PORT,      /* 0..65535 (dzong: IntelMQ only says Integer) */
} field_check;

typedef struct harm_field {
    const char *name;
    uint8_t type;   /* harm_type */
    uint8_t check;  /* field_check */
    uint16_t maxlen; /* in characters; 0 = none */
} harm_field;

#define F(n, t) {n, t, CK_NONE, 0}
#define FC(n, t, c, m) {n, t, c, m}
#define ENDPOINT_FIELDS(p)                                 \
    F(p ".abuse_contact", HT_LOWER),                       \
    F(p ".account", HT_STRING),                            \
    F(p ".allocated", HT_DATETIME),                        \
    F(p ".as_name", HT_STRING),                            \
    F(p ".asn", HT_ASN),                                   \
    F(p ".domain_suffix", HT_FQDN),                        \
    F(p ".fqdn", HT_FQDN),                                 \
    FC(p ".geolocation.cc", HT_COUNTRY, CK_NONE, 2),       \
    F(p ".geolocation.city", HT_STRING),                   \
    F(p ".geolocation.country", HT_STRING)

#define ENDPOINT_FIELDS2(p)                                \
    F(p ".geolocation.latitude", HT_FLOAT),                \
    F(p ".geolocation.longitude", HT_FLOAT),               \
    F(p ".geolocation.region", HT_STRING),                 \
    F(p ".geolocation.state", HT_STRING),                  \
    F(p ".ip", HT_IP),                                     \
    F(p ".local_hostname", HT_STRING),                     \
    F(p ".local_ip", HT_IP),                               \
    F(p ".network", HT_NETWORK),                           \
    FC(p ".port", HT_INT, CK_PORT, 0),                     \
    FC(p ".registry", HT_REGISTRY, CK_NONE, 7),            \
    F(p ".reverse_dns", HT_FQDN),                          \
    F(p ".tor_node", HT_BOOL),                             \
    F(p ".url", HT_URL),                                   \
    F(p ".urlpath", HT_STRING)

/* Sorted by strcmp (checked by the unit test through harmonization_key_at). */
static const harm_field harm_table[] = {
    F("classification.identifier", HT_STRING),
    F("classification.taxonomy", HT_TAXONOMY),
    F("classification.type", HT_TYPE),
    F("comment", HT_STRING),
    F("constituency", HT_STRING),
    ENDPOINT_FIELDS("destination"),
    ENDPOINT_FIELDS2("destination"),
    F("event_description.target", HT_STRING),
    F("event_description.text", HT_STRING),
    F("event_description.url", HT_URL),
    FC("event_hash", HT_UPPER, CK_HASH, 40),
    F("extra", HT_JSON),
    F("feed.accuracy", HT_ACCURACY),
    FC("feed.code", HT_STRING, CK_NONE, 100),
    F("feed.documentation", HT_STRING),
    F("feed.name", HT_STRING),
    F("feed.provider", HT_STRING),
    F("feed.url", HT_URL),
    FC("malware.hash.md5", HT_STRING, CK_PRINTABLE, 200),
    FC("malware.hash.sha1", HT_STRING, CK_PRINTABLE, 200),
    FC("malware.hash.sha256", HT_STRING, CK_PRINTABLE, 200),
    FC("malware.name", HT_LOWER, CK_PRINTABLE, 0),
    FC("malware.version", HT_STRING, CK_PRINTABLE, 0),
    FC("misp.attribute_uuid", HT_LOWER, CK_UUID, 36),
    FC("misp.event_uuid", HT_LOWER, CK_UUID, 36),
    F("output", HT_JSON),
    F("product.full_name", HT_STRING),
    F("product.name", HT_STRING),
    F("product.vendor", HT_STRING),
    F("product.version", HT_STRING),
    F("product.vulnerabilities", HT_LOWER),
    FC("protocol.application", HT_LOWER, CK_PRINTABLE, 100),
    FC("protocol.transport", HT_LOWER, CK_PRINTABLE, 11),
    F("raw", HT_BASE64),
    F("rtir_id", HT_INT),
    F("screenshot_url", HT_URL),
    F("severity", HT_LOWER),
    ENDPOINT_FIELDS("source"),
    FC("source.geolocation.cymru_cc", HT_COUNTRY, CK_NONE, 2),
    FC("source.geolocation.geoip_cc", HT_COUNTRY, CK_NONE, 2),
    ENDPOINT_FIELDS2("source"),
    F("status", HT_STRING),
    F("time.observation", HT_DATETIME),
    F("time.source", HT_DATETIME),
    F("tlp", HT_TLP),
};
#define HARM_N (sizeof harm_table / sizeof harm_table[0])

static const harm_field *harm_lookup(const char *key)
{
    size_t lo = 0, hi = HARM_N;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, harm_table[mid].name);
        if (c == 0)
            return &harm_table[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* The table position of "extra": every extra.* key sorts right after it. */
static size_t harm_index_extra(void)
{
    return (size_t)(harm_lookup("extra") - harm_table);
}

#define EXTRA_KEY_MAX 200

/* "extra." followed by non-empty segments of [a-z0-9_-] separated by single dots. */
static bool extra_key_ok(const char *key)
{
    if (strncmp(key, "extra.", 6) != 0)
        return false;
    const char *p = key + 6;
    size_t seg = 0, n = 0;
    for (; *p; p++, n++) {
        char c = *p;
        if (c == '.') {
            if (seg == 0)
                return false;
            seg = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
            seg++;
        } else {
            return false;
        }
    }
    return seg > 0 && n + 6 <= EXTRA_KEY_MAX;
}

static const char *const type_names[] = {
    "String", "LowercaseString", "UppercaseString", "Integer", "Float", "Accuracy", "Boolean",
    "IPAddress", "IPNetwork", "ASN", "FQDN", "URL", "DateTime", "Base64", "TLP",
    "ClassificationTaxonomy", "ClassificationType", "Registry", "country code", "JSON",
};

dz_code harmonization_type(const char *key, harm_type *out, dz_err *e)
{
    if (!key)
        return dz_fail(e, DZ_EINVAL, "event: no key");
    const harm_field *hf = harm_lookup(key);
    if (hf) {
        *out = (harm_type)hf->type;
        return DZ_OK;
    }
    if (extra_key_ok(key)) {
        *out = HT_JSON;
        return DZ_OK;
    }
    if (strncmp(key, "extra.", 6) == 0)
        return dz_fail(e, DZ_EINVAL, "'%.80s': an extra key needs non-empty segments of a-z, 0-9, '_' and '-'",
                       key);
    return dz_fail(e, DZ_EINVAL, "'%.80s' is not a harmonization field (nor extra.*)", key);
}

const char *harmonization_key_at(size_t i, harm_type *type)
{
    if (i >= HARM_N)
        return NULL;
    if (type)
        *type = (harm_type)harm_table[i].type;
    return harm_table[i].name;
}

/* ---- text helpers ----------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (n bytes available), 0 when invalid (overlong, surrogate, > U+10FFFF). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0) {
        return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    }
    if (c < 0xF0) {
        if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && p[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && p[1] >= 0xA0)
            return 0; /* surrogates */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && p[1] >= 0x90)
            return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

/* Valid UTF-8 without NUL; counts the characters. */
static bool utf8_ok(const char *s, size_t n, size_t *chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, c = 0;
    while (i + 8 <= n) { /* 8 bytes of printable ASCII at a time: no byte >= 0x80, none < 0x20 */
        uint64_t x;
        memcpy(&x, p + i, 8);
        const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
        if ((x | ((x - ones * 0x20) & ~x)) & highs)
            break;
        i += 8;
    }
    c = i;
    while (i < n) {
        if (p[i] >= 0x20 && p[i] < 0x80) { /* the common case */
            i++;
            c++;
            continue;
        }
        if (p[i] == 0)
            return false;
        size_t l = utf8_seq(p + i, n - i);
        if (!l)
            return false;
        i += l;
        c++;
    }
    if (chars)
        *chars = c;
    return true;
}

/* The value as it may appear in a message: at most ~80 bytes, invalid or control bytes as '?'. */
static void show(const char *s, size_t n, char *out, size_t cap)
{
    size_t j = 0, i = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (i < n && j + 5 < cap) {
        if (j >= 80) {
            memcpy(out + j, "...", 3);
            j += 3;
            break;
        }
        size_t l = p[i] >= 0x80 ? utf8_seq(p + i, n - i) : 1;
        if (l == 0 || p[i] < 0x20 || p[i] == 0x7f) {
            out[j++] = '?';
            i++;
            continue;
        }
        memcpy(out + j, s + i, l);
        j += l;
        i += l;
    }
    out[j] = '\0';
}

/* "key: 'value' <what>" */
static dz_code bad_value(dz_err *e, const char *key, const char *s, size_t n, const char *what)
{
    char v[100];
    show(s, n, v, sizeof v);
    return dz_fail(e, DZ_EINVAL, "%.100s: '%s' %s", key, v, what);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void trim(const char **s, size_t *n)
{
    while (*n && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_space((*s)[*n - 1]))
        (*n)--;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
}

/* Copies s (n bytes, no NUL inside) into buf (cap) as a C string; false when too long. */
static bool cstr(const char *s, size_t n, char *buf, size_t cap)
{
    if (n >= cap)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

/* ---- the event -------------------------------------------------------------------------------- */

#define ARENA_BLOCK 8192
#define FIELDS_MIN 32

typedef struct arena_block {
    char *mem;
    size_t size, used;
} arena_block;

/*
 * What the event keeps beside each public event_field: the key's sort rank (key_rank), the hash
 * of its name (FNV-1a) and its length. Fields stay in the order they were added; `order` lists
 * them in key order (valid unless dirty), and `tab` finds a field by its key's hash (open
 * addressing, field index + 1, 0 = empty; at least twice as many slots as fields).
 */
typedef struct field_meta {
    uint64_t rank;
    uint32_t hash;
    uint32_t klen;
} field_meta;

struct event {
    event_field *f;
    field_meta *m;
    uint32_t *order;
    size_t n, cap;
    uint32_t *tab;
    size_t tabcap;
    uint32_t kat[HARM_N]; /* sort_fields_small: field index by table position */
    size_t extra_pos;     /* the table position of "extra" */
    arena_block *blk;
    size_t nblk, capblk, cur;
    bool dirty; /* order is not valid */
};

_Static_assert(HARM_N <= 128, "sort_fields_small's bitmap holds 128 table positions");

event *event_new(void)
{
    event *ev = calloc(1, sizeof(event));
    if (ev)
        ev->extra_pos = harm_index_extra();
    return ev;
}

void event_free(event *ev)
{
    if (!ev)
        return;
    for (size_t i = 0; i < ev->nblk; i++)
        free(ev->blk[i].mem);
    free(ev->blk);
    free(ev->f);
    free(ev->m);
    free(ev->order);
    free(ev->tab);
    free(ev);
}

void event_reset(event *ev)
{
    if (ev->n)
        memset(ev->tab, 0, ev->tabcap * sizeof *ev->tab);
    ev->n = 0;
    ev->dirty = false;
    for (size_t i = 0; i < ev->nblk && i <= ev->cur; i++)
        ev->blk[i].used = 0;
    ev->cur = 0;
}

/* Room for need bytes at the arena's tail, not yet committed; NULL when out of memory. */
static char *arena_reserve_slow(event *ev, size_t need)
{
    while (ev->cur < ev->nblk) {
        arena_block *b = &ev->blk[ev->cur];
        if (b->size - b->used >= need)
            return b->mem + b->used;
        if (ev->cur + 1 == ev->nblk)
            break;
        ev->cur++; /* the rest of this block waits for the next reset */
    }
    if (ev->nblk == ev->capblk) {
        size_t nc = ev->capblk ? ev->capblk * 2 : 8;
        arena_block *nb = realloc(ev->blk, nc * sizeof *nb);
        if (!nb)
            return NULL;
        ev->blk = nb;
        ev->capblk = nc;
    }
    size_t size = ARENA_BLOCK;
    while (size < need) {
        if (size > ((size_t)-1) / 2)
            return NULL;
        size *= 2;
    }
    char *mem = malloc(size);
    if (!mem)
        return NULL;
    ev->blk[ev->nblk] = (arena_block){mem, size, 0};
    ev->cur = ev->nblk++;
    return mem;
}

static inline char *arena_reserve(event *ev, size_t need)
{
    if (ev->cur < ev->nblk) {
        arena_block *b = &ev->blk[ev->cur];
        if (b->size - b->used >= need)
            return b->mem + b->used;
    }
    return arena_reserve_slow(ev, need);
}

static inline void arena_commit(event *ev, size_t n)
{
    ev->blk[ev->cur].used += n;
}

/*
 * A string value has a 4-byte header in front: how many bytes (without the
 * NUL) its slot holds, so that a later value of that key reuses the slot
 * when it fits, even after a shorter one.
 */
#define VHDR sizeof(uint32_t)

/* Room for a string value of up to n bytes (and its NUL) at the tail. */
static inline char *value_reserve(event *ev, size_t n)
{
    if (n > UINT32_MAX - 1)
        return NULL;
    char *d = arena_reserve(ev, VHDR + n + 1);
    return d ? d + VHDR : NULL;
}

static uint32_t value_cap(const char *s)
{
    uint32_t c;
    memcpy(&c, s - VHDR, VHDR);
    return c;
}

/* Commits the value reserved at s (len bytes, NUL written). */
static inline void value_commit(event *ev, char *s, size_t len)
{
    uint32_t c = (uint32_t)len;
    memcpy(s - VHDR, &c, VHDR);
    arena_commit(ev, VHDR + len + 1);
}

static dz_code oom(dz_err *e)
{
    return dz_fail(e, DZ_ENOMEM, "event: out of memory");
}

/* A value on its way into the event. A string lies at the arena's tail (reserved, uncommitted). */
typedef struct value {
    event_value_kind kind;
    char *s;
    size_t len;
    int64_t i;
    double f;
    bool b;
} value;

/* Writes n bytes of s at the arena's tail as the string value v. */
static dz_code put_text(event *ev, value *v, const char *s, size_t n, dz_err *e)
{
    char *d = value_reserve(ev, n);
    if (!d)
        return oom(e);
    memcpy(d, s, n);
    d[n] = '\0';
    v->kind = EV_STRING;
    v->s = d;
    v->len = n;
    return DZ_OK;
}

/* ---- keys: hash, rank, lookup ---- */

static inline uint32_t key_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/*
 * The sort rank of a key: strcmp order of the names, as a number where it can be one. A known
 * key ranks by its table position (the table is sorted); extra.* keys all sort between "extra"
 * and the next known key, and among themselves by the first 6 bytes after "extra." (ties are
 * broken by strcmp in rank_less).
 */
static uint64_t key_rank(const harm_field *hf, const char *name, size_t len)
{
    if (hf)
        return (uint64_t)(2 * (size_t)(hf - harm_table)) << 48;
    uint64_t r = (uint64_t)(2 * harm_index_extra() + 1) << 48;
    for (size_t i = 0; i < 6; i++)
        r |= (uint64_t)(6 + i < len ? (unsigned char)name[6 + i] : 0) << (8 * (5 - i));
    return r;
}

static inline bool rank_less(const event *ev, uint32_t a, uint32_t b)
{
    uint64_t ra = ev->m[a].rank, rb = ev->m[b].rank;
    if (ra != rb)
        return ra < rb;
    return strcmp(ev->f[a].key, ev->f[b].key) < 0;
}

static inline ptrdiff_t find_hashed(const event *ev, const char *name, size_t len, uint32_t h)
{
    if (!ev->n)
        return -1;
    size_t mask = ev->tabcap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t v = ev->tab[i];
        if (!v)
            return -1;
        const field_meta *m = &ev->m[v - 1];
        const char *k = ev->f[v - 1].key;
        if (m->hash == h && m->klen == len && (k == name || memcmp(k, name, len) == 0))
            return (ptrdiff_t)(v - 1);
    }
}

static ptrdiff_t find_field(const event *ev, const char *key)
{
    size_t len = strlen(key);
    return find_hashed(ev, key, len, key_hash(key, len));
}

static inline void tab_insert(event *ev, size_t at)
{
    size_t mask = ev->tabcap - 1;
    size_t i = ev->m[at].hash & mask;
    while (ev->tab[i])
        i = (i + 1) & mask;
    ev->tab[i] = (uint32_t)at + 1;
}

static void tab_rebuild(event *ev)
{
    memset(ev->tab, 0, ev->tabcap * sizeof *ev->tab);
    for (size_t i = 0; i < ev->n; i++)
        tab_insert(ev, i);
}

static bool grow(event *ev)
{
    size_t nc = ev->cap ? ev->cap * 2 : FIELDS_MIN;
    if (nc > UINT32_MAX / 4)
        return false;
    event_field *nf = realloc(ev->f, nc * sizeof *nf);
    if (!nf)
        return false;
    ev->f = nf;
    field_meta *nm = realloc(ev->m, nc * sizeof *nm);
    if (!nm)
        return false;
    ev->m = nm;
    uint32_t *no = realloc(ev->order, nc * sizeof *no);
    if (!no)
        return false;
    ev->order = no;
    uint32_t *nt = malloc(2 * nc * sizeof *nt);
    if (!nt)
        return false;
    free(ev->tab);
    ev->tab = nt;
    ev->tabcap = 2 * nc;
    ev->cap = nc;
    tab_rebuild(ev);
    return true;
}

/* A resolved key as the event uses it (event_key's private part). */
typedef struct rkey {
    const char *name; /* the table's name for known keys */
    size_t len;
    uint32_t hash;
    uint64_t rank;
    const harm_field *hf; /* NULL: extra.* */
    harm_type t;
} rkey;

/* f's value from v (the key stays). */
static inline void field_value(event_field *f, const value *v)
{
    *f = (event_field){.key = f->key,
                       .kind = v->kind,
                       .s = v->kind == EV_STRING ? v->s : NULL,
                       .len = v->kind == EV_STRING ? v->len : 0,
                       .i = v->kind == EV_INT ? v->i : 0,
                       .f = v->kind == EV_FLOAT ? v->f : 0.0,
                       .b = v->kind == EV_BOOL ? v->b : false};
}

/* store's rarer half: a new value for a key the event has. */
static __attribute__((noinline)) dz_code store_replace(event *ev, size_t at, value *v)
{
    event_field *f = &ev->f[at];
    if (v->kind == EV_STRING) {
        if (f->kind == EV_STRING && value_cap(f->s) >= v->len) {
            char *old = (char *)f->s; /* arena memory of this event */
            memcpy(old, v->s, v->len + 1);
            v->s = old;
        } else {
            value_commit(ev, v->s, v->len);
        }
    }
    field_value(f, v);
    return DZ_OK;
}

/* A name for a new extra key that the event must own (the string setters), or room for more fields. */
static __attribute__((noinline)) dz_code store_prepare(event *ev, const rkey *k, bool copy_name, const char **key,
                                                       dz_err *e)
{
    if (ev->n == ev->cap && !grow(ev))
        return oom(e);
    if (copy_name && !k->hf) {
        char *kc = arena_reserve(ev, k->len + 1);
        if (!kc)
            return oom(e);
        memcpy(kc, k->name, k->len + 1);
        arena_commit(ev, k->len + 1);
        *key = kc;
    }
    return DZ_OK;
}

/*
 * Stores v under the key. copy_name: an extra key's name is copied into the arena (the string
 * setters); else the caller keeps it alive (event_key).
 */
static dz_code store(event *ev, const rkey *k, bool copy_name, value *v, dz_err *e)
{
    ptrdiff_t at = find_hashed(ev, k->name, k->len, k->hash);
    if (at >= 0)
        return store_replace(ev, (size_t)at, v);
    /* the value first: the key's copy below must not land inside the reserved value */
    if (v->kind == EV_STRING)
        value_commit(ev, v->s, v->len);
    const char *key = k->name;
    if (ev->n == ev->cap || (copy_name && !k->hf)) {
        dz_code rc = store_prepare(ev, k, copy_name, &key, e);
        if (rc)
            return rc;
    }
    size_t i = ev->n++;
    event_field *f = &ev->f[i];
    f->key = key;
    field_value(f, v);
    ev->m[i] = (field_meta){k->rank, k->hash, (uint32_t)k->len};
    tab_insert(ev, i);
    if (!ev->dirty) {
        if (i == 0 || rank_less(ev, ev->order[i - 1], (uint32_t)i))
            ev->order[i] = (uint32_t)i;
        else
            ev->dirty = true;
    }
    return DZ_OK;
}

void event_unset(event *ev, const char *key)
{
    ptrdiff_t at = find_field(ev, key);
    if (at < 0)
        return;
    size_t rest = ev->n - (size_t)at - 1;
    memmove(&ev->f[at], &ev->f[at + 1], rest * sizeof ev->f[0]);
    memmove(&ev->m[at], &ev->m[at + 1], rest * sizeof ev->m[0]);
    ev->n--;
    tab_rebuild(ev);
    ev->dirty = true;
}

static int order_cmp(const void *a, const void *b, void *arg)
{
    const event *ev = arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return rank_less(ev, x, y) ? -1 : rank_less(ev, y, x) ? 1 : 0;
}

/*
 * Key order without comparing names: known keys by a bitmap of their table positions, the extra.*
 * keys (which all sort right after the table's "extra") by insertion among themselves.
 */
static void sort_fields_small(event *ev)
{
    uint64_t bits[2] = {0, 0};
    uint32_t ex[48];
    size_t nex = 0, X = ev->extra_pos;
    for (size_t i = 0; i < ev->n; i++) {
        uint64_t r = ev->m[i].rank;
        if (!(r & (UINT64_C(1) << 48))) {
            size_t t = (size_t)(r >> 49);
            bits[t >> 6] |= UINT64_C(1) << (t & 63);
            ev->kat[t] = (uint32_t)i;
            continue;
        }
        size_t j = nex++;
        while (j > 0 && rank_less(ev, (uint32_t)i, ex[j - 1])) {
            ex[j] = ex[j - 1];
            j--;
        }
        ex[j] = (uint32_t)i;
    }
    uint32_t *o = ev->order;
    size_t k = 0;
    bool extras_done = false;
    for (size_t w = 0; w < 2; w++) {
        uint64_t b = bits[w];
        while (b) {
            size_t t = w * 64 + (size_t)__builtin_ctzll(b);
            b &= b - 1;
            if (!extras_done && t > X) {
                memcpy(o + k, ex, nex * sizeof *ex);
                k += nex;
                extras_done = true;
            }
            o[k++] = ev->kat[t];
        }
    }
    if (!extras_done) {
        memcpy(o + k, ex, nex * sizeof *ex);
        k += nex;
    }
    ev->dirty = false;
}

static void sort_fields(const event *cev)
{
    event *ev = (event *)cev; /* events are never defined const: sorting is a cache refresh */
    if (!ev->dirty)
        return;
    if (ev->n <= 48) {
        sort_fields_small(ev);
        return;
    }
    for (size_t i = 0; i < ev->n; i++)
        ev->order[i] = (uint32_t)i;
    qsort_r(ev->order, ev->n, sizeof *ev->order, order_cmp, ev);
    ev->dirty = false;
}

const event_field *event_get(const event *ev, const char *key)
{
    ptrdiff_t at = find_field(ev, key);
    return at >= 0 ? &ev->f[at] : NULL;
}

size_t event_count(const event *ev)
{
    return ev->n;
}

const event_field *event_field_at(const event *ev, size_t i)
{
    if (i >= ev->n)
        return NULL;
    sort_fields(ev);
    return &ev->f[ev->order[i]];
}

/* ---- the types -------------------------------------------------------------------------------- */

/* Decimal integer with optional sign; "5555.0" (only zeros after the point) is 5555 too. */
static bool parse_int(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n || s[i] < '0' || s[i] > '9')
        return false;
    uint64_t v = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_C(9223372036854775808) - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i == n)
            return false;
        for (; i < n; i++)
            if (s[i] != '0')
                return false;
    }
    if (i != n)
        return false;
    if (!neg && v > INT64_MAX)
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* Decimal float (no hex, no nan/inf: JSON cannot carry them). */
static bool parse_float(const char *s, size_t n, double *out)
{
    char buf[128];
    if (n == 0 || !cstr(s, n, buf, sizeof buf))
        return false;
    bool digit = false;
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c >= '0' && c <= '9')
            digit = true;
        else if (c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E')
            return false;
    }
    if (!digit)
        return false;
    char *end;
    double d = strtod(buf, &end);
    if (end != buf + n || !isfinite(d))
        return false;
    *out = d;
    return true;
}

bool ipv4_dotted_parse(const char *s, size_t n, uint32_t *out)
{
    if (n < 7 || n > 15)
        return false;
    unsigned parts = 0, val = 0, digits = 0;
    uint32_t a = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (digits && val == 0)
                return false; /* leading zero */
            val = val * 10 + (unsigned)(c - '0');
            if (val > 255)
                return false;
            digits++;
        } else if (c == '.' && digits && parts < 3) {
            parts++;
            a = a << 8 | val;
            val = digits = 0;
        } else {
            return false;
        }
    }
    if (parts != 3 || !digits)
        return false;
    if (out)
        *out = a << 8 | val;
    return true;
}

static bool ip_parse(const char *s, size_t n, int *af, unsigned char addr[16])
{
    char buf[64];
    if (!cstr(s, n, buf, sizeof buf))
        return false;
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *af = AF_INET;
        return true;
    }
    if (memchr(buf, ':', n) && inet_pton(AF_INET6, buf, addr) == 1) {
        *af = AF_INET6;
        return true;
    }
    return false;
}

/*
 * An address as RFC 5952 text: v4 dotted; v6 in lower-case hex without
 * leading zeros, the first longest run of two or more zero groups as "::",
 * and an IPv4-mapped address as "::ffff:1.2.3.4" (glibc's inet_ntop would
 * also write other addresses with dotted tails, "::0.2.0.3").
 */
static void ip_format(int af, const unsigned char *a, char *out)
{
    char *p = out;
    if (af == AF_INET) {
        sprintf(p, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
        return;
    }
    unsigned w[8];
    for (int i = 0; i < 8; i++)
        w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    if (!w[0] && !w[1] && !w[2] && !w[3] && !w[4] && w[5] == 0xffff) {
        sprintf(p, "::ffff:%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
        return;
    }
    int best = -1, bestlen = 0;
    for (int i = 0; i < 8;) {
        if (w[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && !w[j])
            j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j;
    }
    if (bestlen < 2)
        best = -1;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8;) {
        if (i == best) {
            *p++ = ':';
            *p++ = ':';
            i += bestlen;
            continue;
        }
        if (i > 0 && i != best + bestlen)
            *p++ = ':';
        bool started = false;
        for (int sh = 12; sh >= 0; sh -= 4) {
            unsigned d = (w[i] >> sh) & 15;
            if (d || started || sh == 0) {
                *p++ = hex[d];
                started = true;
            }
        }
        i++;
    }
    *p = '\0';
}

/*
 * IPAddress: IPv4 or IPv6 in canonical text (ip_format above; an
 * IPv4-mapped address stays v6 text, "::ffff:1.2.3.4", as Python 3.13's
 * ipaddress and RFC 5952 write it). A one-address network ("1.2.3.4/32", "::1/128") is
 * its address, as in IntelMQ's sanitize. No zone ids, no leading zeros.
 */
static dz_code norm_ip(const char *s, size_t n, char *out)
{
    unsigned char a[16];
    int af;
    const char *slash = memchr(s, '/', n);
    size_t an = slash ? (size_t)(slash - s) : n;
    if (!ip_parse(s, an, &af, a))
        return DZ_EINVAL;
    if (slash) {
        size_t pl = n - an - 1;
        const char *p = slash + 1;
        if (!((af == AF_INET && pl == 2 && memcmp(p, "32", 2) == 0) ||
              (af == AF_INET6 && pl == 3 && memcmp(p, "128", 3) == 0)))
            return DZ_EINVAL;
    }
    ip_format(af, a, out);
    return DZ_OK;
}

/*
 * IPNetwork: "addr/len" in canonical text with the host bits cleared (as
 * Python's ip_network(strict=False)); a bare address is /32 or /128; an IPv4
 * netmask ("/255.255.255.0") is accepted when contiguous.
 */
static dz_code norm_network(const char *s, size_t n, char *out)
{
    unsigned char a[16];
    int af;
    const char *slash = memchr(s, '/', n);
    size_t an = slash ? (size_t)(slash - s) : n;
    if (!ip_parse(s, an, &af, a))
        return DZ_EINVAL;
    unsigned bits = af == AF_INET ? 32 : 128, plen = bits;
    if (slash) {
        const char *p = slash + 1;
        size_t pl = n - an - 1;
        if (pl == 0)
            return DZ_EINVAL;
        if (af == AF_INET && memchr(p, '.', pl)) {
            unsigned char m[4];
            char mb[20];
            if (!cstr(p, pl, mb, sizeof mb) || inet_pton(AF_INET, mb, m) != 1)
                return DZ_EINVAL;
            uint32_t mask = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
            uint32_t inv = ~mask;
            if ((inv & (inv + 1)) != 0)
                return DZ_EINVAL; /* not contiguous */
            plen = 0;
            while (plen < 32 && (mask & (UINT32_C(0x80000000) >> plen)))
                plen++;
        } else {
            if (pl > 3)
                return DZ_EINVAL;
            plen = 0;
            for (size_t i = 0; i < pl; i++) {
                if (p[i] < '0' || p[i] > '9')
                    return DZ_EINVAL;
                plen = plen * 10 + (unsigned)(p[i] - '0');
            }
            if (plen > bits)
                return DZ_EINVAL;
        }
    }
    unsigned nbytes = bits / 8;
    for (unsigned i = 0; i < nbytes; i++) {
        unsigned keep = plen >= (i + 1) * 8 ? 8 : plen > i * 8 ? plen - i * 8 : 0;
        a[i] &= (unsigned char)(keep ? 0xFFu << (8 - keep) : 0);
    }
    ip_format(af, a, out);
    size_t l = strlen(out);
    sprintf(out + l, "/%u", plen);
    return DZ_OK;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mdays(int64_t y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00" of epoch seconds and microseconds; false outside years 1..9999. */
static bool format_utc(int64_t t, int usec, char *out, size_t cap)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t sod = t - days * 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 1 || y > 9999)
        return false;
    int hh = (int)(sod / 3600), mm = (int)(sod / 60 % 60), ss = (int)(sod % 60);
    if (cap < 39)
        return false;
    /* by hand: this is on the hot path of every event */
    char *p = out;
    int yy = (int)y;
    *p++ = (char)('0' + yy / 1000);
    *p++ = (char)('0' + yy / 100 % 10);
    *p++ = (char)('0' + yy / 10 % 10);
    *p++ = (char)('0' + yy % 10);
    const int parts[] = {m, d, hh, mm, ss};
    const char seps[] = {'-', '-', 'T', ':', ':'};
    for (int k = 0; k < 5; k++) {
        *p++ = seps[k];
        *p++ = (char)('0' + parts[k] / 10);
        *p++ = (char)('0' + parts[k] % 10);
    }
    if (usec) {
        *p++ = '.';
        for (int k = 100000; k > 0; k /= 10)
            *p++ = (char)('0' + usec / k % 10);
    }
    memcpy(p, "+00:00", 7);
    return true;
}

static bool digits(const char *s, size_t n, size_t at, size_t count, int *out)
{
    if (at + count > n)
        return false;
    int v = 0;
    for (size_t i = at; i < at + count; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* "YYYY-MM-DDTHH:MM:SS+00:00" (25 bytes) with a valid date and time: norm_datetime's output for it is itself. */
static bool iso_utc_canonical(const char *s)
{
    int Y, M, D, h, mi, sec;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || memcmp(s + 19, "+00:00", 6) != 0)
        return false;
    if (!digits(s, 25, 0, 4, &Y) || !digits(s, 25, 5, 2, &M) || !digits(s, 25, 8, 2, &D) ||
        !digits(s, 25, 11, 2, &h) || !digits(s, 25, 14, 2, &mi) || !digits(s, 25, 17, 2, &sec))
        return false;
    return Y >= 1 && M >= 1 && M <= 12 && D >= 1 && D <= mdays(Y, M) && h <= 23 && mi <= 59 && sec <= 59;
}

/*
 * DateTime: "YYYY-MM-DD", optionally followed by 'T' (or 't', or a space)
 * and "HH:MM[:SS[.fraction]]", then an optional zone: "Z", "UTC"/"GMT",
 * "+hh:mm", "+hhmm" or "+hh" (one space before it allowed; only after a
 * time, as dateutil); no zone means UTC.
 * Normalised to UTC in Python's isoformat: "2018-07-26T02:07:16+00:00", the
 * fraction as six digits (microseconds, extra digits cut) and left out when
 * zero. Epoch seconds are not guessed from text: use event_set_int/_float.
 */
static dz_code norm_datetime(const char *s, size_t n, char *out, size_t cap)
{
    int Y, M, D, h = 0, mi = 0, sec = 0, usec = 0;
    if (!digits(s, n, 0, 4, &Y) || n < 10 || s[4] != '-' || !digits(s, n, 5, 2, &M) || s[7] != '-' ||
        !digits(s, n, 8, 2, &D))
        return DZ_EINVAL;
    if (Y < 1 || M < 1 || M > 12 || D < 1 || D > mdays(Y, M))
        return DZ_EINVAL;
    size_t i = 10;
    if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ') && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9') {
        i++;
        if (!digits(s, n, i, 2, &h) || i + 2 >= n || s[i + 2] != ':' || !digits(s, n, i + 3, 2, &mi))
            return DZ_EINVAL;
        i += 5;
        if (i < n && s[i] == ':') {
            if (!digits(s, n, i + 1, 2, &sec))
                return DZ_EINVAL;
            i += 3;
            if (i < n && s[i] == '.') {
                i++;
                size_t fd = 0;
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                    if (fd < 6)
                        usec = usec * 10 + (s[i] - '0');
                    fd++;
                    i++;
                }
                if (fd == 0)
                    return DZ_EINVAL;
                for (; fd < 6; fd++)
                    usec *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 59)
            return DZ_EINVAL;
    }
    int off = 0; /* minutes east of UTC */
    if (i == 10 && i < n)
        return DZ_EINVAL; /* a zone needs a time */
    if (i < n && s[i] == ' ' && i + 1 < n &&
        (s[i + 1] == 'U' || s[i + 1] == 'G' || s[i + 1] == 'Z' || s[i + 1] == '+' || s[i + 1] == '-'))
        i++;
    if (i < n) {
        size_t rest = n - i;
        if ((rest == 1 && (s[i] == 'Z' || s[i] == 'z')) ||
            (rest == 3 && (memcmp(s + i, "UTC", 3) == 0 || memcmp(s + i, "GMT", 3) == 0))) {
            i = n;
        } else if (s[i] == '+' || s[i] == '-') {
            int oh, om = 0;
            int sign = s[i] == '-' ? -1 : 1;
            if (!digits(s, n, i + 1, 2, &oh))
                return DZ_EINVAL;
            if (rest == 6 && s[i + 3] == ':') {
                if (!digits(s, n, i + 4, 2, &om))
                    return DZ_EINVAL;
            } else if (rest == 5) {
                if (!digits(s, n, i + 3, 2, &om))
                    return DZ_EINVAL;
            } else if (rest != 3) {
                return DZ_EINVAL;
            }
            if (oh > 23 || om > 59)
                return DZ_EINVAL;
            off = sign * (oh * 60 + om);
            i = n;
        } else {
            return DZ_EINVAL;
        }
    }
    int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
    return format_utc(t, usec, out, cap) ? DZ_OK : DZ_EINVAL;
}

/* ASCII labels of [a-z0-9_-], 1..63 bytes each, 253 in all. */
static bool fqdn_labels_ok(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t lab = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (lab == 0)
                return false;
            lab = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
            if (++lab > 63)
                return false;
        } else {
            return false;
        }
    }
    return lab > 0;
}

/*
 * FQDN: one final dot stripped, lower case; not an IP address. dzong is
 * stricter than IntelMQ (which lets anything through): labels of letters,
 * digits, '-' and '_', and an internationalised name becomes its A-labels
 * (libidn2, UTS #46) so that it matches the constituency registry's form.
 */
static dz_code norm_fqdn(event *ev, const char *key, const char *s, size_t n, value *v, dz_err *e)
{
    const char *orig = s;
    size_t on = n;
    if (n && s[n - 1] == '.')
        n--;
    if (n == 0)
        return bad_value(e, key, orig, on, "is not a domain name");
    unsigned char a[16];
    int af;
    if (memchr(s, ':', n) ? ip_parse(s, n, &af, a) : ipv4_dotted_parse(s, n, NULL)) /* without ':' only IPv4 is possible */
        return bad_value(e, key, orig, on, "is an IP address, not a domain name");
    bool ascii = true;
    for (size_t i = 0; i < n && ascii; i++)
        ascii = (unsigned char)s[i] < 0x80;
    if (ascii) {
        char *d = value_reserve(ev, n);
        if (!d)
            return oom(e);
        for (size_t i = 0; i < n; i++)
            d[i] = lower(s[i]);
        d[n] = '\0';
        if (!fqdn_labels_ok(d, n))
            return bad_value(e, key, orig, on, "is not a domain name");
        *v = (value){.kind = EV_STRING, .s = d, .len = n};
        return DZ_OK;
    }
    if (!utf8_ok(s, n, NULL) || n > 1024)
        return bad_value(e, key, orig, on, "is not a domain name");
    char buf[1025];
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *out = NULL;
    int rc = idn2_to_ascii_8z(buf, &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc == IDN2_DISALLOWED)
        rc = idn2_to_ascii_8z(buf, &out, IDN2_TRANSITIONAL | IDN2_NFC_INPUT);
    if (rc == IDN2_MALLOC)
        return oom(e);
    if (rc != IDN2_OK) {
        free(out);
        return bad_value(e, key, orig, on, "is not a valid internationalised domain name");
    }
    size_t l = strlen(out);
    for (size_t i = 0; i < l; i++)
        out[i] = lower(out[i]);
    dz_code r = fqdn_labels_ok(out, l) ? put_text(ev, v, out, l, e) : bad_value(e, key, orig, on, "is not a domain name");
    free(out);
    return r;
}

/*
 * URL: as IntelMQ's sanitize, "hxxp://" and "hxxps://" become http(s):// and
 * a value without "scheme://" gets "http://" in front; then it needs a
 * scheme ([a-z][a-z0-9+.-]*, lower-cased), "://" and a non-empty host (a
 * port, when given, is 0..65535). No blanks or control characters; UTF-8
 * (IRIs) passes. The rest is kept as it is (no case folding, no
 * percent-encoding changes).
 */
static dz_code norm_url(event *ev, const char *key, const char *s, size_t n, value *v, dz_err *e)
{
    const char *orig = s;
    size_t on = n;
    if (n == 0 || !utf8_ok(s, n, NULL))
        return bad_value(e, key, orig, on, "is not a URL");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return bad_value(e, key, orig, on, "is not a URL (blank or control character)");
    char *d = value_reserve(ev, n + 7);
    if (!d)
        return oom(e);
    size_t len = 0;
    if (n >= 7 && strncasecmp(s, "hxxp://", 7) == 0) {
        memcpy(d, "http://", 7);
        len = 7;
        s += 7;
        n -= 7;
    } else if (n >= 8 && strncasecmp(s, "hxxps://", 8) == 0) {
        memcpy(d, "https://", 8);
        len = 8;
        s += 8;
        n -= 8;
    } else {
        /* "scheme://" is where the first '/', '?' or '#' is the first slash of "://" */
        size_t q = 0;
        while (q < n && s[q] != '/' && s[q] != '?' && s[q] != '#')
            q++;
        const char *sep = q >= 1 && q + 1 < n && s[q] == '/' && s[q - 1] == ':' && s[q + 1] == '/' ? s + q - 1 : NULL;
        bool scheme = sep && sep > s;
        for (const char *p = s; scheme && p < sep; p++) {
            char c = lower(*p);
            scheme = (c >= 'a' && c <= 'z') || (p > s && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
        }
        if (scheme) {
            size_t sl = (size_t)(sep - s) + 3;
            for (size_t i = 0; i < sl; i++)
                d[i] = lower(s[i]);
            len = sl;
            s += sl;
            n -= sl;
        } else if (sep) {
            return bad_value(e, key, orig, on, "is not a URL (bad scheme)");
        } else {
            memcpy(d, "http://", 7);
            len = 7;
        }
    }
    memcpy(d + len, s, n);
    d[len + n] = '\0';
    /* the authority: [userinfo@]host[:port], up to '/', '?' or '#' */
    size_t alen = 0;
    while (alen < n && s[alen] != '/' && s[alen] != '?' && s[alen] != '#')
        alen++;
    const char *host = s;
    for (size_t i = 0; i < alen; i++)
        if (s[i] == '@')
            host = s + i + 1;
    size_t hl = (size_t)(s + alen - host);
    const char *port = NULL;
    size_t portl = 0;
    if (hl && host[0] == '[') {
        const char *rb = memchr(host, ']', hl);
        if (!rb || rb == host + 1)
            return bad_value(e, key, orig, on, "is not a URL (bad host)");
        if ((size_t)(rb - host) + 1 < hl) {
            if (rb[1] != ':')
                return bad_value(e, key, orig, on, "is not a URL (bad host)");
            port = rb + 2;
            portl = hl - (size_t)(rb - host) - 2;
        }
        hl = (size_t)(rb - host) + 1;
    } else {
        const char *colon = memchr(host, ':', hl);
        if (colon) {
            port = colon + 1;
            portl = hl - (size_t)(colon - host) - 1;
            hl = (size_t)(colon - host);
        }
    }
    if (hl == 0)
        return bad_value(e, key, orig, on, "is not a URL (no host)");
    if (port) {
        unsigned pv = 0;
        for (size_t i = 0; i < portl; i++) {
            if (port[i] < '0' || port[i] > '9' || pv > 65535)
                return bad_value(e, key, orig, on, "is not a URL (bad port)");
            pv = pv * 10 + (unsigned)(port[i] - '0');
        }
        if (pv > 65535)
            return bad_value(e, key, orig, on, "is not a URL (bad port)");
    }
    *v = (value){.kind = EV_STRING, .s = d, .len = len + n};
    return DZ_OK;
}

/* Base64: the standard alphabet, '=' padding, a multiple of 4 long (strict: no blanks or line breaks). */
static bool base64_ok(const char *s, size_t n)
{
    if (n == 0 || n % 4)
        return false;
    size_t pad = 0;
    if (s[n - 1] == '=')
        pad = s[n - 2] == '=' ? 2 : 1;
    /* 1 for the alphabet's bytes: A-Z, a-z, 0-9, '+', '/' */
    static const unsigned char ok[256] = {
        ['+'] = 1, ['/'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
        ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
        ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
        ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1,
        ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
        ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
        ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    };
    const unsigned char *p = (const unsigned char *)s;
    unsigned all = 1;
    for (size_t i = 0; i < n - pad; i++) /* no early exit: the loop stays branch-free */
        all &= ok[p[i]];
    return all;
}

static bool check_field(const harm_field *hf, const char *s, size_t n)
{
    switch ((field_check)hf->check) {
    case CK_NONE:
    case CK_PORT:
        return true;
    case CK_PRINTABLE:
        for (size_t i = 0; i < n; i++)
            if (s[i] < 0x20 || s[i] > 0x7e)
                return false;
        return true;
    case CK_HASH:
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            if (!((c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == '.' || c == '/'))
                return false;
        }
        return true;
    case CK_UUID:
        if (n != 36)
            return false;
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (c != '-')
                    return false;
            } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
                return false;
            }
        }
        return true;
    }
    return true;
}

static const char *check_what(const harm_field *hf)
{
    switch ((field_check)hf->check) {
    case CK_PRINTABLE:
        return "has characters outside printable ASCII";
    case CK_HASH:
        return "is not a hash (A-F, 0-9, '.', '/')";
    case CK_UUID:
        return "is not a UUID";
    default:
        return "is not valid";
    }
}

static dz_code check_int(const char *key, const harm_field *hf, harm_type t, int64_t i, dz_err *e)
{
    if (t == HT_ASN && (i < 1 || i > INT64_C(4294967295)))
        return dz_fail(e, DZ_EINVAL, "%.100s: %lld is not an AS number (1..4294967295)", key, (long long)i);
    if (hf && hf->check == CK_PORT && (i < 0 || i > 65535))
        return dz_fail(e, DZ_EINVAL, "%.100s: %lld is not a port (0..65535)", key, (long long)i);
    return DZ_OK;
}

static dz_code check_float(const char *key, harm_type t, double f, dz_err *e)
{
    if (!isfinite(f))
        return dz_fail(e, DZ_EINVAL, "%.100s: not a finite number", key);
    if (t == HT_ACCURACY && (f < 0 || f > 100))
        return dz_fail(e, DZ_EINVAL, "%.100s: %g is not an accuracy (0..100)", key, f);
    return DZ_OK;
}

/* The text of a value of type t (hf NULL for extra.*) into v. */
static dz_code normalise(event *ev, const char *key, const harm_field *hf, harm_type t, const char *text, size_t n,
                         value *v, dz_err *e)
{
    char buf[64]; /* the longest: a v6 network, 43 bytes; a time, 39 */
    const char *s = text;
    size_t chars = 0;

    /*
     * String, LowercaseString, UppercaseString and extra.* text: valid UTF-8
     * without NUL, not empty (IntelMQ takes no empty values), kept as given
     * (no trimming). Case folding is ASCII only: the fields that are folded
     * (abuse contacts, hashes, UUIDs, protocol names) are ASCII in practice.
     */
    if (t == HT_STRING || t == HT_LOWER || t == HT_UPPER || t == HT_JSON) {
        if (n == 0)
            return dz_fail(e, DZ_EINVAL, "%.100s: empty value", key);
        if (!utf8_ok(s, n, &chars))
            return bad_value(e, key, s, n, memchr(s, '\0', n) ? "contains NUL" : "is not valid UTF-8");
        if (hf && hf->maxlen && chars > hf->maxlen)
            return dz_fail(e, DZ_EINVAL, "%.100s: longer than %u characters", key, hf->maxlen);
        char *d = value_reserve(ev, n);
        if (!d)
            return oom(e);
        if (t == HT_LOWER)
            for (size_t i = 0; i < n; i++)
                d[i] = lower(s[i]);
        else if (t == HT_UPPER)
            for (size_t i = 0; i < n; i++)
                d[i] = upper(s[i]);
        else
            memcpy(d, s, n);
        d[n] = '\0';
        if (hf && !check_field(hf, d, n))
            return bad_value(e, key, s, n, check_what(hf));
        *v = (value){.kind = EV_STRING, .s = d, .len = n};
        return DZ_OK;
    }

    trim(&s, &n);
    if (n == 0)
        return dz_fail(e, DZ_EINVAL, "%.100s: empty value", key);
    if (memchr(s, '\0', n))
        return bad_value(e, key, s, n, "contains NUL");

    switch (t) {
    case HT_INT:
    case HT_ASN: {
        int64_t i;
        const char *p = s;
        size_t pn = n;
        if (t == HT_ASN && pn > 2 && (p[0] == 'A' || p[0] == 'a') && (p[1] == 'S' || p[1] == 's')) {
            p += 2;
            pn -= 2;
            trim(&p, &pn);
        }
        if (!parse_int(p, pn, &i))
            return bad_value(e, key, s, n, t == HT_ASN ? "is not an AS number" : "is not an integer");
        dz_code rc = check_int(key, hf, t, i, e);
        if (rc)
            return rc;
        *v = (value){.kind = EV_INT, .i = i};
        return DZ_OK;
    }
    case HT_FLOAT:
    case HT_ACCURACY: {
        double f;
        if (!parse_float(s, n, &f))
            return bad_value(e, key, s, n, "is not a number");
        dz_code rc = check_float(key, t, f, e);
        if (rc)
            return rc;
        *v = (value){.kind = EV_FLOAT, .f = f};
        return DZ_OK;
    }
    case HT_BOOL:
        if ((n == 4 && strncasecmp(s, "true", 4) == 0) || (n == 1 && s[0] == '1')) {
            *v = (value){.kind = EV_BOOL, .b = true};
            return DZ_OK;
        }
        if ((n == 5 && strncasecmp(s, "false", 5) == 0) || (n == 1 && s[0] == '0')) {
            *v = (value){.kind = EV_BOOL, .b = false};
            return DZ_OK;
        }
        return bad_value(e, key, s, n, "is not a boolean (true, false)");
    case HT_IP:
        if (ipv4_dotted_parse(s, n, NULL)) /* dotted quad as inet_pton reads it: already canonical */
            return put_text(ev, v, s, n, e);
        if (norm_ip(s, n, buf))
            return bad_value(e, key, s, n, "is not an IP address");
        return put_text(ev, v, buf, strlen(buf), e);
    case HT_NETWORK:
        if (norm_network(s, n, buf))
            return bad_value(e, key, s, n, "is not an IP network");
        return put_text(ev, v, buf, strlen(buf), e);
    case HT_DATETIME:
        if (n == 25 && iso_utc_canonical(s)) /* "YYYY-MM-DDTHH:MM:SS+00:00" as norm_datetime writes it */
            return put_text(ev, v, s, n, e);
        if (norm_datetime(s, n, buf, sizeof buf))
            return bad_value(e, key, s, n, "is not a date and time (ISO 8601)");
        return put_text(ev, v, buf, strlen(buf), e);
    case HT_FQDN:
        return norm_fqdn(ev, key, s, n, v, e);
    case HT_URL:
        return norm_url(ev, key, s, n, v, e);
    case HT_BASE64:
        if (!base64_ok(s, n))
            return bad_value(e, key, s, n, "is not Base64");
        return put_text(ev, v, s, n, e);
    case HT_COUNTRY: {
        if (n != 2)
            return bad_value(e, key, s, n, "is not a two-letter country code");
        for (size_t i = 0; i < 2; i++) {
            char c = upper(s[i]);
            if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
                return bad_value(e, key, s, n, "is not a two-letter country code");
            buf[i] = c;
        }
        return put_text(ev, v, buf, 2, e);
    }
    case HT_REGISTRY: {
        static const char *const rirs[] = {"AFRINIC", "APNIC", "ARIN", "LACNIC", "RIPE"};
        if (!cstr(s, n, buf, sizeof buf))
            return bad_value(e, key, s, n, "is not a registry (AFRINIC, APNIC, ARIN, LACNIC, RIPE)");
        for (size_t i = 0; i < n; i++)
            buf[i] = upper(buf[i]);
        if (strcmp(buf, "RIPE-NCC") == 0 || strcmp(buf, "RIPE NCC") == 0 || strcmp(buf, "RIPENCC") == 0)
            buf[4] = '\0';
        for (size_t i = 0; i < 5; i++)
            if (strcmp(buf, rirs[i]) == 0)
                return put_text(ev, v, rirs[i], strlen(rirs[i]), e);
        return bad_value(e, key, s, n, "is not a registry (AFRINIC, APNIC, ARIN, LACNIC, RIPE)");
    }
    case HT_TLP: {
        tlp_level l;
        dz_err ign;
        if (!cstr(s, n, buf, sizeof buf) || tlp_parse(buf, &l, &ign))
            return bad_value(e, key, s, n, "is not a TLP (CLEAR, GREEN, AMBER, AMBER+STRICT, RED)");
        const char *nm = tlp_name(l);
        return put_text(ev, v, nm, strlen(nm), e);
    }
    case HT_TAXONOMY: {
        const char *canon;
        dz_err ign;
        if (!cstr(s, n, buf, sizeof buf) || rsit_taxonomy_resolve(buf, &canon, &ign))
            return bad_value(e, key, s, n, "is not an RSIT taxonomy");
        return put_text(ev, v, canon, strlen(canon), e);
    }
    case HT_TYPE: {
        rsit_class c;
        dz_err ign;
        if (!cstr(s, n, buf, sizeof buf) || rsit_resolve(NULL, buf, &c, &ign))
            return bad_value(e, key, s, n, "is not a classification type");
        return put_text(ev, v, c.type, strlen(c.type), e);
    }
    default:
        return dz_fail(e, DZ_EINTERNAL, "%.100s: unhandled type %d", key, (int)t);
    }
}

/* Resolves key: its table entry (NULL for extra.*), type, length, hash and rank. */
static dz_code resolve(const char *key, rkey *k, dz_err *e)
{
    if (!key)
        return dz_fail(e, DZ_EINVAL, "event: no key");
    k->hf = harm_lookup(key);
    if (k->hf) {
        k->t = (harm_type)k->hf->type;
        if (k->t == HT_JSON && strcmp(key, "extra") == 0)
            return dz_fail(e, DZ_EINVAL, "extra: set extra.<name> keys, not extra itself");
        k->name = k->hf->name;
    } else {
        dz_code rc = harmonization_type(key, &k->t, e);
        if (rc)
            return rc;
        k->name = key;
    }
    k->len = strlen(key);
    k->hash = key_hash(key, k->len);
    k->rank = key_rank(k->hf, key, k->len);
    return DZ_OK;
}

static dz_code set_text(event *ev, const rkey *k, bool copy_name, const char *text, size_t len, dz_err *e)
{
    if (!text && len)
        return dz_fail(e, DZ_EINVAL, "%.100s: no value", k->name);
    if (!text)
        text = "";
    value v;
    dz_code rc = normalise(ev, k->name, k->hf, k->t, text, len, &v, e);
    if (rc)
        return rc;
    return store(ev, k, copy_name, &v, e);
}

dz_code event_set(event *ev, const char *key, const char *text, size_t len, dz_err *e)
{
    rkey k;
    dz_code rc = resolve(key, &k, e);
    return rc ? rc : set_text(ev, &k, true, text, len, e);
}

/* Shortest "%.*g" that reads back as d; ".0" added to an integral value (as Python writes floats). */
static size_t format_double(double d, char *buf, size_t cap)
{
    if (d == floor(d) && fabs(d) < 1e15 && !(d == 0 && signbit(d))) { /* integral: "10.0" */
        int l = snprintf(buf, cap, "%lld.0", (long long)d);
        return (size_t)l;
    }
    for (int p = 15; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    size_t l = strlen(buf);
    if (!strpbrk(buf, ".eEni") && l + 2 < cap) {
        memcpy(buf + l, ".0", 3);
        l += 2;
    }
    return l;
}

static dz_code set_int(event *ev, const rkey *k, bool copy_name, int64_t i, dz_err *e)
{
    const char *key = k->name;
    harm_type t = k->t;
    dz_code rc;
    value v = {0};
    char buf[64];
    switch (t) {
    case HT_JSON:
    case HT_INT:
    case HT_ASN:
        if ((rc = check_int(key, k->hf, t, i, e)))
            return rc;
        v.kind = EV_INT;
        v.i = i;
        break;
    case HT_FLOAT:
    case HT_ACCURACY:
        if ((rc = check_float(key, t, (double)i, e)))
            return rc;
        v.kind = EV_FLOAT;
        v.f = (double)i;
        break;
    case HT_BOOL:
        if (i != 0 && i != 1)
            return dz_fail(e, DZ_EINVAL, "%.100s: %lld is not a boolean (0, 1)", key, (long long)i);
        v.kind = EV_BOOL;
        v.b = i == 1;
        break;
    case HT_DATETIME: /* seconds since the epoch */
        if (i < INT64_C(-62135596800) || i > INT64_C(253402300799) || !format_utc(i, 0, buf, sizeof buf))
            return dz_fail(e, DZ_EINVAL, "%.100s: %lld is out of range for a time", key, (long long)i);
        if ((rc = put_text(ev, &v, buf, strlen(buf), e)))
            return rc;
        break;
    default: /* a text type: its decimal text, checked as text */
        snprintf(buf, sizeof buf, "%lld", (long long)i);
        return set_text(ev, k, copy_name, buf, strlen(buf), e);
    }
    return store(ev, k, copy_name, &v, e);
}

dz_code event_set_int(event *ev, const char *key, int64_t i, dz_err *e)
{
    rkey k;
    dz_code rc = resolve(key, &k, e);
    return rc ? rc : set_int(ev, &k, true, i, e);
}

static dz_code set_float(event *ev, const rkey *k, bool copy_name, double f, dz_err *e)
{
    const char *key = k->name;
    harm_type t = k->t;
    dz_code rc;
    if (!isfinite(f))
        return dz_fail(e, DZ_EINVAL, "%.100s: not a finite number", key);
    value v = {0};
    char buf[64];
    switch (t) {
    case HT_JSON:
    case HT_FLOAT:
    case HT_ACCURACY:
        if ((rc = check_float(key, t, f, e)))
            return rc;
        v.kind = EV_FLOAT;
        v.f = f;
        break;
    case HT_INT:
    case HT_ASN:
    case HT_BOOL:
        if (f != floor(f) || f < -9.2e18 || f > 9.2e18)
            return dz_fail(e, DZ_EINVAL, "%.100s: %.17g is not an integer", key, f);
        return set_int(ev, k, copy_name, (int64_t)f, e);
    case HT_DATETIME: {
        if (f < -62135596800.0 || f >= 253402300800.0)
            return dz_fail(e, DZ_EINVAL, "%.100s: %.17g is out of range for a time", key, f);
        double whole = floor(f);
        int usec = (int)((f - whole) * 1e6 + 0.5);
        int64_t secs = (int64_t)whole;
        if (usec >= 1000000) {
            usec -= 1000000;
            secs++;
        }
        if (!format_utc(secs, usec, buf, sizeof buf))
            return dz_fail(e, DZ_EINVAL, "%.100s: %.17g is out of range for a time", key, f);
        if ((rc = put_text(ev, &v, buf, strlen(buf), e)))
            return rc;
        break;
    }
    default: {
        size_t l = format_double(f, buf, sizeof buf);
        return set_text(ev, k, copy_name, buf, l, e);
    }
    }
    return store(ev, k, copy_name, &v, e);
}

dz_code event_set_float(event *ev, const char *key, double f, dz_err *e)
{
    rkey k;
    dz_code rc = resolve(key, &k, e);
    return rc ? rc : set_float(ev, &k, true, f, e);
}

static dz_code set_bool(event *ev, const rkey *k, bool copy_name, bool b, dz_err *e)
{
    if (k->t != HT_BOOL && k->t != HT_JSON)
        return dz_fail(e, DZ_EINVAL, "%.100s: expects %s, not a boolean", k->name, type_names[k->t]);
    value v = {.kind = EV_BOOL, .b = b};
    return store(ev, k, copy_name, &v, e);
}

dz_code event_set_bool(event *ev, const char *key, bool b, dz_err *e)
{
    rkey k;
    dz_code rc = resolve(key, &k, e);
    return rc ? rc : set_bool(ev, &k, true, b, e);
}

/* ---- resolved keys ---------------------------------------------------------------------------- */

_Static_assert(sizeof(rkey) <= sizeof(((event_key *)0)->priv), "event_key too small");

static inline const rkey *rk(const event_key *k)
{
    return (const rkey *)(const void *)k->priv;
}

dz_code event_key_init(event_key *k, const char *name, dz_err *e)
{
    memset(k, 0, sizeof *k);
    rkey r;
    dz_code rc = resolve(name, &r, e);
    if (rc)
        return rc;
    if (!r.hf)
        r.name = name; /* the caller keeps it alive */
    memcpy(k->priv, &r, sizeof r);
    k->name = r.name;
    k->type = r.t;
    k->ok = true;
    return DZ_OK;
}

static dz_code key_unusable(const event_key *k, dz_err *e)
{
    return dz_fail(e, DZ_EINVAL, "'%.80s': the key was not resolved", k->name ? k->name : "?");
}

dz_code event_set_k(event *ev, const event_key *k, const char *text, size_t len, dz_err *e)
{
    return k->ok ? set_text(ev, rk(k), false, text, len, e) : key_unusable(k, e);
}

dz_code event_set_k_int(event *ev, const event_key *k, int64_t v, dz_err *e)
{
    return k->ok ? set_int(ev, rk(k), false, v, e) : key_unusable(k, e);
}

dz_code event_set_k_float(event *ev, const event_key *k, double v, dz_err *e)
{
    return k->ok ? set_float(ev, rk(k), false, v, e) : key_unusable(k, e);
}

dz_code event_set_k_bool(event *ev, const event_key *k, bool v, dz_err *e)
{
    return k->ok ? set_bool(ev, rk(k), false, v, e) : key_unusable(k, e);
}

const event_field *event_get_k(const event *ev, const event_key *k)
{
    if (!k->ok)
        return NULL;
    const rkey *r = rk(k);
    ptrdiff_t at = find_hashed(ev, r->name, r->len, r->hash);
    return at >= 0 ? &ev->f[at] : NULL;
}

dz_code event_copy_fields(event *dst, const event *src, dz_err *e)
{
    for (size_t i = 0; i < src->n; i++) {
        const event_field *f = &src->f[i];
        const field_meta *m = &src->m[i];
        rkey k = {.name = f->key, .len = m->klen, .hash = m->hash, .rank = m->rank};
        /* known keys are the table's pointers; an extra key's name is copied (src may go first) */
        k.hf = m->rank & (UINT64_C(1) << 48) ? NULL : &harm_table[m->rank >> 49];
        value v = {.kind = f->kind, .i = f->i, .f = f->f, .b = f->b};
        if (f->kind == EV_STRING) {
            dz_code rc = put_text(dst, &v, f->s, f->len, e);
            if (rc)
                return rc;
        }
        dz_code rc = store(dst, &k, true, &v, e);
        if (rc)
            return rc;
    }
    return DZ_OK;
}

/* ---- JSON ------------------------------------------------------------------------------------- */

/* Output gathered in a local chunk and handed to the strbuf in few appends. */
typedef struct jw {
    strbuf *out;
    size_t n;
    char buf[4096];
} jw;

static void jw_flush(jw *w)
{
    if (w->n)
        strbuf_append(w->out, w->buf, w->n);
    w->n = 0;
}

static void jw_put(jw *w, const char *s, size_t n)
{
    if (w->n + n > sizeof w->buf) {
        jw_flush(w);
        if (n > sizeof w->buf) {
            strbuf_append(w->out, s, n);
            return;
        }
    }
    memcpy(w->buf + w->n, s, n);
    w->n += n;
}

/* 1 for the bytes JSON needs escaped: controls, '"' and '\\'. */
static const unsigned char json_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
};

/* True when none of the 8 bytes needs escaping (exact "has a byte less than / equal to" bit tricks). */
static inline bool word_clean(uint64_t x)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t lt = (x - ones * 0x20) & ~x & highs;
    uint64_t q = x ^ (ones * '"');
    q = (q - ones) & ~q & highs;
    uint64_t b = x ^ (ones * '\\');
    b = (b - ones) & ~b & highs;
    return !(lt | q | b);
}

static void json_string_slow(jw *w, const char *s, size_t n);

/* The common case first: nothing to escape and room in the chunk, so one pass copies it. */
static inline void json_string(jw *w, const char *s, size_t n)
{
    if (n + 2 <= sizeof w->buf - w->n) {
        char *d = w->buf + w->n;
        *d++ = '"';
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (!word_clean(x))
                goto slow;
            memcpy(d + i, &x, 8);
        }
        for (; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (json_esc[c])
                goto slow;
            d[i] = (char)c;
        }
        d[n] = '"';
        w->n += n + 2;
        return;
    }
slow:
    json_string_slow(w, s, n);
}

static void json_string_slow(jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    jw_put(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if ((i & 7) == 0) {
            while (i + 8 <= n) { /* skip clean words */
                uint64_t x;
                memcpy(&x, s + i, 8);
                if (!word_clean(x))
                    break;
                i += 8;
            }
            if (i >= n)
                break;
        }
        unsigned char c = (unsigned char)s[i];
        if (!json_esc[c])
            continue;
        if (i > run)
            jw_put(w, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        jw_put(w, esc, el);
    }
    if (n > run)
        jw_put(w, s + run, n - run);
    jw_put(w, "\"", 1);
}

static void json_int(jw *w, int64_t v)
{
    char buf[24];
    char *p = buf + sizeof buf;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    jw_put(w, p, (size_t)(buf + sizeof buf - p));
}

static void json_value(jw *w, const event_field *f)
{
    switch (f->kind) {
    case EV_STRING:
        json_string(w, f->s, f->len);
        break;
    case EV_INT:
        json_int(w, f->i);
        break;
    case EV_FLOAT: {
        char buf[40];
        size_t l = format_double(f->f, buf, sizeof buf);
        jw_put(w, buf, l);
        break;
    }
    case EV_BOOL:
        if (f->b)
            jw_put(w, "true", 4);
        else
            jw_put(w, "false", 5);
        break;
    }
}

void event_write_json(const event *ev, strbuf *out)
{
    sort_fields(ev);
    jw w;
    w.out = out;
    w.n = 0;
    jw_put(&w, "{", 1);
    for (size_t i = 0; i < ev->n; i++) {
        const event_field *f = &ev->f[ev->order[i]];
        size_t kl = ev->m[ev->order[i]].klen;
        /* keys need no escaping: known names, and extra names of [a-z0-9_.-] */
        if (w.n + kl + 4 <= sizeof w.buf) {
            char *d = w.buf + w.n;
            *d++ = i ? ',' : '"';
            if (i)
                *d++ = '"';
            memcpy(d, f->key, kl);
            d += kl;
            *d++ = '"';
            *d++ = ':';
            w.n = (size_t)(d - w.buf);
        } else {
            if (i)
                jw_put(&w, ",", 1);
            json_string(&w, f->key, kl);
            jw_put(&w, ":", 1);
        }
        json_value(&w, f);
    }
    jw_put(&w, "}", 1);
    jw_flush(&w);
}

/* Each table position's event_doc code; while one is missing (-1), documents are written as objects. */
static int16_t doc_code_at[HARM_N];
static bool doc_codes_complete;
static pthread_once_t doc_codes_once = PTHREAD_ONCE_INIT;

static void doc_codes_init(void)
{
    doc_codes_complete = true;
    for (size_t i = 0; i < HARM_N; i++) {
        int c = event_doc_code(harm_table[i].name);
        doc_code_at[i] = (int16_t)c;
        doc_codes_complete &= c >= 0 && c < 10000;
    }
}

void event_write_doc(const event *ev, strbuf *out)
{
    pthread_once(&doc_codes_once, doc_codes_init);
    if (!doc_codes_complete) {
        event_write_json(ev, out);
        return;
    }
    sort_fields(ev);
    jw w;
    w.out = out;
    w.n = 0;
    jw_put(&w, "[1", 2);
    for (size_t i = 0; i < ev->n; i++) {
        const event_field *f = &ev->f[ev->order[i]];
        uint64_t r = ev->m[ev->order[i]].rank >> 48; /* key_rank: 2 * table position, odd for extra.* */
        if (r & 1) {
            jw_put(&w, ",\"", 2);
            jw_put(&w, f->key + 6, ev->m[ev->order[i]].klen - 6);
            jw_put(&w, "\",", 2);
        } else {
            char num[8], *p = num + sizeof num;
            *--p = ',';
            for (int c = doc_code_at[r / 2]; p == num + sizeof num - 1 || c; c /= 10)
                *--p = (char)('0' + c % 10);
            *--p = ',';
            jw_put(&w, p, (size_t)(num + sizeof num - p));
        }
        json_value(&w, f);
    }
    jw_put(&w, "]", 1);
    jw_flush(&w);
}
