/*
 * registry: claims over a netindex. See registry.h.
 *
 * Layout of a built index. Identical resources are merged into one claim;
 * claims are numbered in report order: IPv4 networks by (address, length),
 * then IPv6 networks likewise, then ASNs ascending, then domains
 * alphabetically. The netindex maps a resource to its claim number. Per claim
 * the index keeps only flat arrays: the resource (address and length, AS
 * number, or an offset into one arena of names), the lowest organisation
 * (owner), the covering claim's number, and a materialisation slot: about
 * 17 bytes per IPv4 claim. Claims of several organisations are listed in a
 * side table (sorted by claim number) pointing into one shared id array.
 *
 * The registry_claim structs that the API hands out (64 bytes each, with
 * pointers) are made on first use, under a mutex, in segments that never
 * move, and published through the claim's slot (release store; readers load
 * it with acquire and take no lock once it is set). So an index of millions
 * of claims costs 64 bytes only for claims that were looked up or reported,
 * and the feed pipeline's registry_owner_v4 touches none of them.
 */
#include "lib/registry.h"

#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/netindex.h"
#include "lib/array_grow.h"

typedef unsigned __int128 u128;

#define NONE UINT32_MAX
#define ORG_BITS 26 /* organisation index bits in the packed IPv4 entries */
#define ORG_MAX ((1u << ORG_BITS) - 1)
#define ORG_MASK ((uint64_t)ORG_MAX)
#define SEG0 8   /* the first segment of materialised claims holds 2^SEG0 of them */
#define NSEG 25  /* enough segments for 2^32 claims */
#define CHAIN_MAX 160 /* a covering chain: at most 33 (IPv4), 129 (IPv6), 127 labels */

/* ---- builder ---------------------------------------------------------------------------- */

typedef struct {
    uint64_t hi, lo;
    uint32_t org;
    uint8_t len;
} v6_ent;

typedef struct {
    uint32_t off, org; /* name in the builder's domain arena; organisation index */
} dom_ent;

struct registry_builder {
    /* organisations, in the order added */
    int64_t *org_id;
    uint32_t *org_name; /* offsets into names */
    size_t norgs, caporgs, capnames;
    char *names;
    size_t names_len, names_cap;
    uint32_t *org_hash; /* open addressing over org ids: index + 1, 0 empty */
    size_t hash_cap;
    /* IPv4: address << 32 | length << 26 | organisation index; sorting sorts by all three */
    uint64_t *v4;
    size_t n4, cap4;
    v6_ent *v6;
    size_t n6, cap6;
    uint64_t *asn; /* AS << 32 | organisation index */
    size_t nasn, capasn;
    dom_ent *dom;
    size_t ndom, capdom;
    char *dnames; /* the domains, normalised, NUL-separated */
    size_t dnames_len, dnames_cap;
};

/* Appends s (n bytes and a NUL) to an arena; its offset, or -1 when out of memory or too large. */
static int64_t arena_put(char **arena, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > UINT32_MAX)
        return -1;
    while (*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap * 2 : 4096;
        char *p = realloc(*arena, nc);
        if (!p)
            return -1;
        *arena = p;
        *cap = nc;
    }
    memcpy(*arena + *len, s, n);
    (*arena)[*len + n] = '\0';
    int64_t off = (int64_t)*len;
    *len += n + 1;
    return off;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* The slot of org_id in the hash (holding it, or the empty one where it would go). */
static size_t org_slot(const registry_builder *b, int64_t org_id)
{
    size_t m = b->hash_cap - 1;
    for (size_t i = (size_t)mix64((uint64_t)org_id) & m;; i = (i + 1) & m) {
        uint32_t v = b->org_hash[i];
        if (!v || b->org_id[v - 1] == org_id)
            return i;
    }
}

/* The organisation's index, or -1. */
static int64_t org_find(const registry_builder *b, int64_t org_id)
{
    if (!b->hash_cap)
        return -1;
    uint32_t v = b->org_hash[org_slot(b, org_id)];
    return v ? (int64_t)v - 1 : -1;
}

static bool org_hash_grow(registry_builder *b)
{
    if (b->hash_cap && (b->norgs + 1) * 2 <= b->hash_cap)
        return true;
    size_t nc = b->hash_cap ? b->hash_cap * 2 : 64;
    uint32_t *h = calloc(nc, sizeof *h);
    if (!h)
        return false;
    free(b->org_hash);
    b->org_hash = h;
    b->hash_cap = nc;
    for (size_t i = 0; i < b->norgs; i++)
        h[org_slot(b, b->org_id[i])] = (uint32_t)i + 1;
    return true;
}

registry_builder *registry_builder_new(void)
{
    return calloc(1, sizeof(registry_builder));
}

static void builder_free_resources(registry_builder *b)
{
    free(b->v4);
    free(b->v6);
    free(b->asn);
    free(b->dom);
    free(b->dnames);
    b->v4 = NULL;
    b->v6 = NULL;
    b->asn = NULL;
    b->dom = NULL;
    b->dnames = NULL;
}

void registry_builder_free(registry_builder *b)
{
    if (!b)
        return;
    free(b->org_id);
    free(b->org_name);
    free(b->names);
    free(b->org_hash);
    builder_free_resources(b);
    free(b);
}

dz_code registry_add_org(registry_builder *b, int64_t org_id, const char *short_name, dz_err *e)
{
    if (!b)
        return dz_fail(e, DZ_EINVAL, "registry: no builder");
    if (org_id <= 0)
        return dz_fail(e, DZ_EINVAL, "registry: organisation id %lld: must be > 0", (long long)org_id);
    if (!short_name)
        return dz_fail(e, DZ_EINVAL, "registry: organisation %lld: no short name", (long long)org_id);
    if (org_find(b, org_id) >= 0)
        return dz_fail(e, DZ_ECONFLICT, "registry: organisation %lld added twice", (long long)org_id);
    if (b->norgs >= ORG_MAX)
        return dz_fail(e, DZ_ELIMIT, "registry: more than %u organisations", ORG_MAX);
    if (!org_hash_grow(b) || !array_grow((void **)&b->org_id, &b->caporgs, b->norgs, sizeof *b->org_id))
        return dz_fail(e, DZ_ENOMEM, "registry: out of memory");
    if (!array_grow((void **)&b->org_name, &b->capnames, b->norgs, sizeof *b->org_name))
        return dz_fail(e, DZ_ENOMEM, "registry: out of memory");
    int64_t off = arena_put(&b->names, &b->names_len, &b->names_cap, short_name, strlen(short_name));
    if (off < 0)
        return dz_fail(e, DZ_ENOMEM, "registry: out of memory");
    b->org_id[b->norgs] = org_id;
    b->org_name[b->norgs] = (uint32_t)off;
    b->norgs++;
    b->org_hash[org_slot(b, org_id)] = (uint32_t)b->norgs;
    return DZ_OK;
}

/* *org: the index of the organisation adding a resource (the n-th of its kind). */
static dz_code resource_org(registry_builder *b, int64_t org_id, size_t n, const char *what, uint32_t *org,
                            dz_err *e)
{
    if (!b)
        return dz_fail(e, DZ_EINVAL, "registry: no builder");
    int64_t i = org_find(b, org_id);
    if (i < 0)
        return dz_fail(e, DZ_EINVAL, "registry: %s of organisation %lld, which was not added", what,
                       (long long)org_id);
    if (n >= NETINDEX_MAX_ENTRIES)
        return dz_fail(e, DZ_ELIMIT, "registry: more than %u %s entries", NETINDEX_MAX_ENTRIES, what);
    *org = (uint32_t)i;
    return DZ_OK;
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | p[i];
    return x;
}

static void put_be64(uint64_t x, uint8_t *p)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)x;
        x >>= 8;
    }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static u128 v6_mask(unsigned len)
{
    return len ? ~(u128)0 << (128 - len) : 0;
}

static uint32_t v4_mask(unsigned len)
{
    return len ? ~0u << (32 - len) : 0;
}

dz_code registry_add_network(registry_builder *b, int64_t org_id, const net_prefix *p, dz_err *e)
{
    if (!p)
        return dz_fail(e, DZ_EINVAL, "registry: no network");
    if (p->family == 4) {
        uint32_t o;
        dz_code rc = resource_org(b, org_id, b ? b->n4 : 0, "IPv4", &o, e);
        if (rc)
            return rc;
        uint32_t a = be32(p->addr);
        char t[INET_ADDRSTRLEN];
        if (p->len > 32 || (a & ~v4_mask(p->len))) {
            inet_ntop(AF_INET, p->addr, t, sizeof t);
            return dz_fail(e, DZ_EINVAL, "registry: %s/%u: %s", t, p->len,
                           p->len > 32 ? "IPv4 prefix length must be 0..32" : "host bits set");
        }
        if (!array_grow((void **)&b->v4, &b->cap4, b->n4, sizeof *b->v4))
            return dz_fail(e, DZ_ENOMEM, "registry: out of memory");
        b->v4[b->n4++] = (uint64_t)a << 32 | (uint64_t)p->len << ORG_BITS | (uint64_t)o;
        return DZ_OK;
    }
    if (p->family == 6) {
        uint32_t o;
        dz_code rc = resource_org(b, org_id, b ? b->n6 : 0, "IPv6", &o, e);
        if (rc)
            return rc;
        u128 x = (u128)be64(p->addr) << 64 | be64(p->addr + 8);
        char t[INET6_ADDRSTRLEN];
        if (p->len > 128 || (x & ~v6_mask(p->len))) {
            inet_ntop(AF_INET6, p->addr, t, sizeof t);
            return dz_fail(e, DZ_EINVAL, "registry: %s/%u: %s", t, p->len,
                           p->len > 128 ? "IPv6 prefix length must be 0..128" : "host bits set");
        }
        if (!array_grow((void **)&b->v6, &b->cap6, b->n6, sizeof *b->v6))
            return dz_fail(e, DZ_ENOMEM, "registry: out of memory");
        b->v6[b->n6++] = (v6_ent){.hi = (uint64_t)(x >> 64), .lo = (uint64_t)x, .org = o, .len = p->len};
        return DZ_OK;
    }
    return dz_fail(e, DZ_EINVAL, "registry: network of address family %u (must be 4 or 6)", p->family);
}

dz_code registry_add_asn(registry_builder *b, int64_t org_id, uint32_t asn, dz_err *e)
{
    uint32_t o;
    dz_code rc = resource_org(b, org_id, b ? b->nasn : 0, "ASN", &o, e);
    if (rc)
        return rc;
    if (!array_grow((void **)&b->asn, &b->capasn, b->nasn, sizeof *b->asn))
        return dz_fail(e, DZ_ENOMEM, "registry: out of memory");
    b->asn[b->nasn++] = (uint64_t)asn << 32 | (uint64_t)o;
    return DZ_OK;
}

/*
 * Lower-cases domain into out without one trailing dot and checks it the way
 * netindex_add_domain does (labels of 1..63 of [a-z0-9-], no '-' at either
 * end, at most 253 characters; one label is enough). Its length, or -1 with e filled in.
 */
static int domain_check(const char *domain, char out[NETINDEX_DOMAIN_MAX + 1], dz_err *e)
{
    size_t n = strlen(domain);
    if (n && domain[n - 1] == '.')
        n--;
    if (n == 0 || n > NETINDEX_DOMAIN_MAX) {
        dz_fail(e, DZ_EINVAL, "registry: domain '%.300s': must have 1..%d characters", domain, NETINDEX_DOMAIN_MAX);
        return -1;
    }
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? domain[i] : '.';
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == '.') {
            const char *why = label == 0 ? "empty label" : label > 63 ? "a label longer than 63 characters"
                            : out[i - 1] == '-' || out[i - label] == '-' ? "a label starts or ends with '-'"
                                                                         : NULL;
            if (why) {
                dz_fail(e, DZ_EINVAL, "registry: domain '%s': %s", domain, why);
                return -1;
            }
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
            label++;
        } else {
            dz_fail(e, DZ_EINVAL, "registry: domain '%s': %s", domain,
                    (unsigned char)c >= 0x80 ? "not ASCII (use the A-label form, xn--...)"
                                             : "a character that is not allowed in a label");
            return -1;
        }
        if (i < n)
            out[i] = c;
    }
    out[n] = '\0';
    return (int)n;
}

dz_code registry_add_domain(registry_builder *b, int64_t org_id, const char *domain, dz_err *e)
{
    uint32_t o;
    dz_code rc = resource_org(b, org_id, b ? b->ndom : 0, "domain", &o, e);
    if (rc)
        return rc;
    if (!domain)
        return dz_fail(e, DZ_EINVAL, "registry: no domain");
    char d[NETINDEX_DOMAIN_MAX + 1];
    int n = domain_check(domain, d, e);
    if (n < 0)
        return DZ_EINVAL;
    if (!array_grow((void **)&b->dom, &b->capdom, b->ndom, sizeof *b->dom))
        return dz_fail(e, DZ_ENOMEM, "registry: out of memory");
    int64_t off = arena_put(&b->dnames, &b->dnames_len, &b->dnames_cap, d, (size_t)n);
    if (off < 0)
        return dz_fail(e, DZ_ENOMEM, "registry: out of memory");
    b->dom[b->ndom++] = (dom_ent){(uint32_t)off, o};
    return DZ_OK;
}

/* ---- the index -------------------------------------------------------------------------- */

typedef struct {
    uint32_t claim, off, n; /* a claim of n > 1 organisations: multi_ids[off .. off + n) */
} multi_ent;

struct registry_index {
    int64_t version;
    netindex *ni;
    size_t ni_bytes;
    /* organisations, sorted by id */
    int64_t *org_id;
    uint32_t *org_name; /* offsets into org_names */
    char *org_names;
    size_t norgs, org_names_len;
    /* claims: [0, n4) IPv4, then n6 IPv6, nasn ASNs, ndom domains; n in all */
    uint32_t n4, n6, nasn, ndom, n;
    uint32_t *addr4; /* host order */
    uint8_t *len4;
    uint8_t (*addr6)[16];
    uint8_t *len6;
    uint32_t *asn;
    uint32_t *dom_off; /* into dom_names */
    char *dom_names;
    size_t dom_names_len;
    /* per claim: the lowest organisation's id (or, when some id does not fit 32 bits, its index) */
    uint32_t *owner;
    bool owner_is_index;
    uint32_t *cover; /* the covering claim, NONE for none */
    multi_ent *multi;
    size_t nmulti;
    int64_t *multi_ids;
    size_t nmulti_ids;
    /* materialised claims: slot[c] is 0 or 1 + the claim's position in the segments */
    _Atomic uint32_t *slot;
    pthread_mutex_t mat_lock;
    registry_claim *seg[NSEG];
    uint32_t nmat;        /* under mat_lock */
    size_t mat_bytes;     /* under mat_lock */
    size_t bytes;         /* everything else */
};

void registry_index_free(registry_index *ix)
{
    if (!ix)
        return;
    netindex_free(ix->ni);
    free(ix->org_id);
    free(ix->org_name);
    free(ix->org_names);
    free(ix->addr4);
    free(ix->len4);
    free(ix->addr6);
    free(ix->len6);
    free(ix->asn);
    free(ix->dom_off);
    free(ix->dom_names);
    free(ix->owner);
    free(ix->cover);
    free(ix->multi);
    free(ix->multi_ids);
    free((void *)ix->slot);
    for (int k = 0; k < NSEG; k++)
        free(ix->seg[k]);
    pthread_mutex_destroy(&ix->mat_lock);
    free(ix);
}

int64_t registry_index_version(const registry_index *ix)
{
    return ix ? ix->version : -1;
}

/* LSD radix sort of 64-bit keys, 16 bits per pass; passes over a digit all keys share are skipped. */
static int cmp_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

static bool sort_u64(uint64_t *a, size_t n)
{
    if (n < 2)
        return true;
    if (n < 4096) {
        qsort(a, n, sizeof *a, cmp_u64);
        return true;
    }
    uint64_t *tmp = malloc(n * sizeof *tmp);
    uint32_t(*cnt)[1 << 16] = calloc(4, sizeof *cnt);
    if (!tmp || !cnt) {
        free(tmp);
        free(cnt);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        for (unsigned p = 0; p < 4; p++)
            cnt[p][(a[i] >> (16 * p)) & 0xffff]++;
    uint64_t *src = a, *dst = tmp;
    for (unsigned p = 0; p < 4; p++) {
        if (cnt[p][(src[0] >> (16 * p)) & 0xffff] == n)
            continue;
        uint32_t sum = 0;
        for (unsigned k = 0; k < 1u << 16; k++) {
            uint32_t c = cnt[p][k];
            cnt[p][k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[p][(src[i] >> (16 * p)) & 0xffff]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
    free(tmp);
    free(cnt);
    return true;
}

static int cmp_v6(const void *pa, const void *pb)
{
    const v6_ent *a = pa, *b = pb;
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return a->org < b->org ? -1 : a->org > b->org;
}

static int cmp_dom(const void *pa, const void *pb, void *arg)
{
    const dom_ent *a = pa, *b = pb;
    const char *names = arg;
    int c = strcmp(names + a->off, names + b->off);
    if (c)
        return c;
    return a->org < b->org ? -1 : a->org > b->org;
}

/*
 * Building: the organisations of one group of identical resources (one claim)
 * are appended to multi_ids as they come (ascending, repeats skipped); at
 * the group's end they stay there when there are several, and are taken back
 * when there is one (the claim's owner says it all).
 */
typedef struct {
    registry_index *ix;
    size_t start;    /* the current group's ids: multi_ids[start .. nmulti_ids) */
    uint32_t first;  /* the current group's lowest organisation index */
    size_t cap_multi, cap_ids;
    bool oom;
} group_acc;

static bool group_empty(const group_acc *g)
{
    return g->ix->nmulti_ids == g->start;
}

static void group_add(group_acc *g, uint32_t org)
{
    registry_index *ix = g->ix;
    int64_t id = ix->org_id[org];
    if (group_empty(g))
        g->first = org;
    else if (ix->multi_ids[ix->nmulti_ids - 1] == id)
        return; /* the same organisation added the same resource again */
    if (!array_grow((void **)&ix->multi_ids, &g->cap_ids, ix->nmulti_ids, sizeof *ix->multi_ids)) {
        g->oom = true;
        return;
    }
    ix->multi_ids[ix->nmulti_ids++] = id;
}

/* Ends the group as claim c. */
static void group_end(group_acc *g, uint32_t c)
{
    registry_index *ix = g->ix;
    size_t n = ix->nmulti_ids - g->start;
    if (n == 0)
        return; /* out of memory: the build fails */
    ix->owner[c] = ix->owner_is_index ? g->first : (uint32_t)ix->org_id[g->first];
    if (n == 1) {
        ix->nmulti_ids = g->start;
        return;
    }
    if (!array_grow((void **)&ix->multi, &g->cap_multi, ix->nmulti, sizeof *ix->multi)) {
        g->oom = true;
        return;
    }
    ix->multi[ix->nmulti++] = (multi_ent){c, (uint32_t)g->start, (uint32_t)n};
    g->start = ix->nmulti_ids;
}

typedef struct {
    int64_t id;
    uint32_t i;
} org_pair;

static int cmp_org_pair(const void *pa, const void *pb)
{
    const org_pair *a = pa, *b = pb;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Sorts the organisations by id and renumbers the resources' organisation indexes to match. */
static dz_code build_orgs(registry_index *ix, registry_builder *b, dz_err *e)
{
    size_t n = b->norgs, n1 = n ? n : 1;
    org_pair *pr = malloc(n1 * sizeof *pr);
    uint32_t *renum = malloc(n1 * sizeof *renum);
    ix->org_id = malloc(n1 * sizeof *ix->org_id);
    ix->org_name = malloc(n1 * sizeof *ix->org_name);
    if (!pr || !renum || !ix->org_id || !ix->org_name) {
        free(pr);
        free(renum);
        return dz_fail(e, DZ_ENOMEM, "registry: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        pr[i] = (org_pair){b->org_id[i], (uint32_t)i};
    qsort(pr, n, sizeof *pr, cmp_org_pair);
    for (size_t k = 0; k < n; k++) {
        ix->org_id[k] = pr[k].id;
        ix->org_name[k] = b->org_name[pr[k].i];
        renum[pr[k].i] = (uint32_t)k;
        if (pr[k].id > (int64_t)UINT32_MAX)
            ix->owner_is_index = true;
    }
    free(pr);
    ix->norgs = n;
    ix->org_names = b->names;
    ix->org_names_len = b->names_len;
    b->names = NULL;
    for (size_t i = 0; i < b->n4; i++)
        b->v4[i] = (b->v4[i] & ~ORG_MASK) | renum[b->v4[i] & ORG_MASK];
    for (size_t i = 0; i < b->n6; i++)
        b->v6[i].org = renum[b->v6[i].org];
    for (size_t i = 0; i < b->nasn; i++)
        b->asn[i] = (b->asn[i] & ~(uint64_t)UINT32_MAX) | renum[(uint32_t)b->asn[i]];
    for (size_t i = 0; i < b->ndom; i++)
        b->dom[i].org = renum[b->dom[i].org];
    free(renum);
    return DZ_OK;
}

static bool v6_same(const v6_ent *a, const v6_ent *b)
{
    return a->hi == b->hi && a->lo == b->lo && a->len == b->len;
}

/* Sorts the builder's resources and counts the distinct ones (the claims). */
static dz_code sort_resources(registry_index *ix, registry_builder *b, dz_err *e)
{
    if (!sort_u64(b->v4, b->n4) || !sort_u64(b->asn, b->nasn))
        return dz_fail(e, DZ_ENOMEM, "registry: out of memory");
    if (b->n6 > 1)
        qsort(b->v6, b->n6, sizeof *b->v6, cmp_v6);
    if (b->ndom > 1)
        qsort_r(b->dom, b->ndom, sizeof *b->dom, cmp_dom, b->dnames);
    size_t n4 = 0, n6 = 0, nasn = 0, ndom = 0;
    for (size_t i = 0; i < b->n4; i++)
        n4 += !i || b->v4[i] >> ORG_BITS != b->v4[i - 1] >> ORG_BITS;
    for (size_t i = 0; i < b->n6; i++)
        n6 += !i || !v6_same(&b->v6[i], &b->v6[i - 1]);
    for (size_t i = 0; i < b->nasn; i++)
        nasn += !i || b->asn[i] >> 32 != b->asn[i - 1] >> 32;
    for (size_t i = 0; i < b->ndom; i++)
        ndom += !i || strcmp(b->dnames + b->dom[i].off, b->dnames + b->dom[i - 1].off) != 0;
    if (n4 + n6 + nasn + ndom >= NONE)
        return dz_fail(e, DZ_ELIMIT, "registry: more than %u claims", NONE - 1);
    ix->n4 = (uint32_t)n4;
    ix->n6 = (uint32_t)n6;
    ix->nasn = (uint32_t)nasn;
    ix->ndom = (uint32_t)ndom;
    ix->n = (uint32_t)(n4 + n6 + nasn + ndom);
    return DZ_OK;
}

static dz_code oom(dz_err *e)
{
    return dz_fail(e, DZ_ENOMEM, "registry: out of memory");
}

/* Covering claims of the IPv4 networks: one sweep in (address, length) order with a stack of the open ones. */
static void cover_v4(registry_index *ix)
{
    uint32_t stack[34];
    uint64_t end[34];
    int top = 0;
    for (uint32_t c = 0; c < ix->n4; c++) {
        uint64_t start = ix->addr4[c];
        while (top && end[top - 1] < start)
            top--;
        ix->cover[c] = top ? stack[top - 1] : NONE;
        stack[top] = c;
        end[top++] = start + (1ull << (32 - ix->len4[c])) - 1;
    }
}

static u128 addr6_get(const registry_index *ix, uint32_t k)
{
    return (u128)be64(ix->addr6[k]) << 64 | be64(ix->addr6[k] + 8);
}

static void cover_v6(registry_index *ix)
{
    uint32_t stack[130];
    u128 end[130];
    int top = 0;
    for (uint32_t k = 0; k < ix->n6; k++) {
        u128 start = addr6_get(ix, k);
        while (top && end[top - 1] < start)
            top--;
        ix->cover[ix->n4 + k] = top ? stack[top - 1] : NONE;
        stack[top] = ix->n4 + k;
        end[top++] = start | ~v6_mask(ix->len6[k]);
    }
}

/* The claims from the sorted resources; frees the builder's copies as it goes. */
static dz_code make_claims(registry_index *ix, registry_builder *b, dz_err *e)
{
    size_t n1 = ix->n ? ix->n : 1;
    ix->owner = malloc(n1 * sizeof *ix->owner);
    ix->cover = malloc(n1 * sizeof *ix->cover);
    ix->slot = calloc(n1, sizeof *ix->slot);
    ix->addr4 = malloc((ix->n4 ? ix->n4 : 1) * sizeof *ix->addr4);
    ix->len4 = malloc(ix->n4 ? ix->n4 : 1);
    ix->addr6 = malloc((ix->n6 ? ix->n6 : 1) * sizeof *ix->addr6);
    ix->len6 = malloc(ix->n6 ? ix->n6 : 1);
    ix->asn = malloc((ix->nasn ? ix->nasn : 1) * sizeof *ix->asn);
    ix->dom_off = malloc((ix->ndom ? ix->ndom : 1) * sizeof *ix->dom_off);
    if (!ix->owner || !ix->cover || !ix->slot || !ix->addr4 || !ix->len4 || !ix->addr6 || !ix->len6 || !ix->asn ||
        !ix->dom_off)
        return oom(e);
    group_acc g = {.ix = ix};
    uint32_t c = 0;

    for (size_t i = 0; i < b->n4; i++) {
        uint64_t v = b->v4[i];
        if (i && v >> ORG_BITS != b->v4[i - 1] >> ORG_BITS)
            group_end(&g, c++);
        if (group_empty(&g)) {
            ix->addr4[c] = (uint32_t)(v >> 32);
            ix->len4[c] = (uint8_t)((v >> ORG_BITS) & 63);
        }
        group_add(&g, (uint32_t)(v & ORG_MASK));
    }
    if (b->n4)
        group_end(&g, c++);
    free(b->v4);
    b->v4 = NULL;

    for (size_t i = 0; i < b->n6; i++) {
        const v6_ent *v = &b->v6[i];
        if (i && !v6_same(v, &b->v6[i - 1]))
            group_end(&g, c++);
        if (group_empty(&g)) {
            put_be64(v->hi, ix->addr6[c - ix->n4]);
            put_be64(v->lo, ix->addr6[c - ix->n4] + 8);
            ix->len6[c - ix->n4] = v->len;
        }
        group_add(&g, v->org);
    }
    if (b->n6)
        group_end(&g, c++);
    free(b->v6);
    b->v6 = NULL;

    uint32_t base = ix->n4 + ix->n6;
    for (size_t i = 0; i < b->nasn; i++) {
        uint64_t v = b->asn[i];
        if (i && v >> 32 != b->asn[i - 1] >> 32)
            group_end(&g, c++);
        if (group_empty(&g))
            ix->asn[c - base] = (uint32_t)(v >> 32);
        group_add(&g, (uint32_t)v);
    }
    if (b->nasn)
        group_end(&g, c++);
    free(b->asn);
    b->asn = NULL;

    base += ix->nasn;
    size_t cap = 0;
    for (size_t i = 0; i < b->ndom; i++) {
        const char *name = b->dnames + b->dom[i].off;
        if (i && strcmp(name, b->dnames + b->dom[i - 1].off) != 0)
            group_end(&g, c++);
        if (group_empty(&g)) {
            int64_t off = arena_put(&ix->dom_names, &ix->dom_names_len, &cap, name, strlen(name));
            if (off < 0)
                g.oom = true;
            ix->dom_off[c - base] = (uint32_t)(off < 0 ? 0 : off);
        }
        group_add(&g, b->dom[i].org);
    }
    if (b->ndom)
        group_end(&g, c++);
    builder_free_resources(b);
    if (g.oom)
        return oom(e);
    /* shrink to fit */
    if (ix->dom_names) {
        char *p = realloc(ix->dom_names, ix->dom_names_len);
        if (p)
            ix->dom_names = p;
    }
    if (ix->nmulti) {
        multi_ent *p = realloc(ix->multi, ix->nmulti * sizeof *p);
        if (p)
            ix->multi = p;
        int64_t *q = realloc(ix->multi_ids, ix->nmulti_ids * sizeof *q);
        if (q)
            ix->multi_ids = q;
    } else {
        free(ix->multi);
        free(ix->multi_ids);
        ix->multi = NULL;
        ix->multi_ids = NULL;
    }

    for (uint32_t k = ix->n4 + ix->n6; k < ix->n; k++) /* ASNs; domains get theirs once the netindex is built */
        ix->cover[k] = NONE;
    cover_v4(ix);
    cover_v6(ix);
    return DZ_OK;
}

static dz_code build_netindex(registry_index *ix, dz_err *e)
{
    netindex_builder *nb = netindex_builder_new();
    if (!nb)
        return oom(e);
    dz_code rc = DZ_OK;
    uint32_t c = 0;
    for (uint32_t k = 0; !rc && k < ix->n4; k++, c++)
        rc = netindex_add_v4(nb, ix->addr4[k], ix->len4[k], c, e);
    for (uint32_t k = 0; !rc && k < ix->n6; k++, c++)
        rc = netindex_add_v6(nb, ix->addr6[k], ix->len6[k], c, e);
    for (uint32_t k = 0; !rc && k < ix->nasn; k++, c++)
        rc = netindex_add_asn(nb, ix->asn[k], c, e);
    for (uint32_t k = 0; !rc && k < ix->ndom; k++, c++)
        rc = netindex_add_domain(nb, ix->dom_names + ix->dom_off[k], c, e);
    if (rc) {
        netindex_builder_free(nb);
        return rc;
    }
    rc = netindex_build(nb, &ix->ni, e);
    if (rc)
        return rc;
    /* a domain lies inside the most specific registered suffix of its parent */
    uint32_t base = ix->n4 + ix->n6 + ix->nasn;
    for (uint32_t k = 0; k < ix->ndom; k++) {
        const char *dot = strchr(ix->dom_names + ix->dom_off[k], '.');
        ix->cover[base + k] = dot ? netindex_lookup_domain(ix->ni, dot + 1) : NONE;
    }
    netindex_stats st;
    netindex_stats_get(ix->ni, &st);
    ix->ni_bytes = st.bytes;
    return DZ_OK;
}

dz_code registry_build(registry_builder *b, int64_t version, registry_index **out, dz_err *e)
{
    if (!out) {
        registry_builder_free(b);
        return dz_fail(e, DZ_EINVAL, "registry: no output");
    }
    *out = NULL;
    if (!b)
        return dz_fail(e, DZ_EINVAL, "registry: no builder");
    registry_index *ix = calloc(1, sizeof *ix);
    if (!ix) {
        registry_builder_free(b);
        return oom(e);
    }
    pthread_mutex_init(&ix->mat_lock, NULL);
    ix->version = version;
    dz_code rc = build_orgs(ix, b, e);
    if (!rc)
        rc = sort_resources(ix, b, e);
    if (!rc)
        rc = make_claims(ix, b, e);
    registry_builder_free(b);
    if (!rc)
        rc = build_netindex(ix, e);
    if (rc) {
        registry_index_free(ix);
        return rc;
    }
    ix->bytes = sizeof *ix + ix->norgs * (sizeof *ix->org_id + sizeof *ix->org_name) + ix->org_names_len +
                (size_t)ix->n4 * (sizeof *ix->addr4 + 1) + (size_t)ix->n6 * (sizeof *ix->addr6 + 1) +
                (size_t)ix->nasn * sizeof *ix->asn + (size_t)ix->ndom * sizeof *ix->dom_off + ix->dom_names_len +
                (size_t)ix->n * (sizeof *ix->owner + sizeof *ix->cover + sizeof *ix->slot) +
                ix->nmulti * sizeof *ix->multi + ix->nmulti_ids * sizeof *ix->multi_ids + ix->ni_bytes;
    *out = ix;
    return DZ_OK;
}

/* ---- claims ----------------------------------------------------------------------------- */

/* Claim c's entry in the table of claims of several organisations, or NULL. */
static const multi_ent *multi_find(const registry_index *ix, uint32_t c)
{
    size_t lo = 0, hi = ix->nmulti;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->multi[mid].claim < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ix->nmulti && ix->multi[lo].claim == c ? &ix->multi[lo] : NULL;
}

/* The organisations of claim c: a pointer into the org table or into multi_ids. */
static void claim_orgs(const registry_index *ix, uint32_t c, const int64_t **ids, size_t *n)
{
    const multi_ent *m = multi_find(ix, c);
    if (m) {
        *ids = ix->multi_ids + m->off;
        *n = m->n;
        return;
    }
    *n = 1;
    if (ix->owner_is_index) {
        *ids = &ix->org_id[ix->owner[c]];
        return;
    }
    /* owner holds the id: find it in the table */
    int64_t id = ix->owner[c];
    size_t lo = 0, hi = ix->norgs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->org_id[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *ids = &ix->org_id[lo];
}

static registry_claim *seg_at(const registry_index *ix, uint32_t i)
{
    uint64_t j = (uint64_t)i + (1u << SEG0);
    unsigned k = 63 - (unsigned)__builtin_clzll(j) - SEG0;
    return &ix->seg[k][j - (1ull << (k + SEG0))];
}

/* A new claim struct in the segments (under mat_lock); its position in *pos, NULL when out of memory. */
static registry_claim *seg_new(registry_index *ix, uint32_t *pos)
{
    uint32_t i = ix->nmat;
    if (i >= NONE - 1)
        return NULL;
    uint64_t j = (uint64_t)i + (1u << SEG0);
    unsigned k = 63 - (unsigned)__builtin_clzll(j) - SEG0;
    if (!ix->seg[k]) {
        size_t sz = ((size_t)1 << (k + SEG0)) * sizeof(registry_claim);
        ix->seg[k] = malloc(sz);
        if (!ix->seg[k])
            return NULL;
        ix->mat_bytes += sz;
    }
    ix->nmat++;
    *pos = i;
    return seg_at(ix, i);
}

static void claim_fill(const registry_index *ix, uint32_t c, registry_claim *out, const registry_claim *covering)
{
    memset(out, 0, sizeof *out);
    uint32_t k = c;
    if (k < ix->n4) {
        out->kind = CLAIM_NETWORK;
        out->network.family = 4;
        out->network.len = ix->len4[k];
        uint32_t a = ix->addr4[k];
        out->network.addr[0] = (uint8_t)(a >> 24);
        out->network.addr[1] = (uint8_t)(a >> 16);
        out->network.addr[2] = (uint8_t)(a >> 8);
        out->network.addr[3] = (uint8_t)a;
    } else if ((k -= ix->n4) < ix->n6) {
        out->kind = CLAIM_NETWORK;
        out->network.family = 6;
        out->network.len = ix->len6[k];
        memcpy(out->network.addr, ix->addr6[k], 16);
    } else if ((k -= ix->n6) < ix->nasn) {
        out->kind = CLAIM_ASN;
        out->asn = ix->asn[k];
    } else {
        k -= ix->nasn;
        out->kind = CLAIM_DOMAIN;
        out->domain = ix->dom_names + ix->dom_off[k];
    }
    claim_orgs(ix, c, &out->org_ids, &out->n_orgs);
    out->covering = covering;
}

/* Materialises claim c and the claims it lies inside (they are what ->covering points to). */
static const registry_claim *materialise(const registry_index *cix, uint32_t c)
{
    registry_index *ix = (registry_index *)cix; /* the cache is the only thing that changes */
    pthread_mutex_lock(&ix->mat_lock);
    uint32_t chain[CHAIN_MAX];
    int n = 0;
    uint32_t x = c, s = 0;
    while (x != NONE && !(s = atomic_load_explicit(&ix->slot[x], memory_order_acquire)) && n < CHAIN_MAX) {
        chain[n++] = x;
        x = ix->cover[x];
    }
    const registry_claim *covering = x == NONE || !s ? NULL : seg_at(ix, s - 1);
    while (n > 0) {
        uint32_t pos, k = chain[--n];
        registry_claim *rc = seg_new(ix, &pos);
        if (!rc) {
            covering = NULL;
            break;
        }
        claim_fill(ix, k, rc, covering);
        /* the struct is complete before its slot is set: readers load the slot with acquire */
        atomic_store_explicit(&ix->slot[k], pos + 1, memory_order_release);
        covering = rc;
    }
    pthread_mutex_unlock(&ix->mat_lock);
    return covering;
}

static const registry_claim *claim_get(const registry_index *ix, uint32_t c)
{
    if (c == NONE || c >= ix->n)
        return NULL;
    uint32_t s = atomic_load_explicit(&ix->slot[c], memory_order_acquire);
    return s ? seg_at(ix, s - 1) : materialise(ix, c);
}

/* ---- lookups ---------------------------------------------------------------------------- */

const registry_claim *registry_lookup_ip(const registry_index *ix, const net_prefix *addr)
{
    if (!ix || !addr)
        return NULL;
    uint32_t c;
    if (addr->family == 4 && addr->len <= 32) {
        c = netindex_lookup_v4(ix->ni, be32(addr->addr) & v4_mask(addr->len));
        /* a shorter prefix: the most specific claim holding all of it is on the chain of its first address */
        while (addr->len < 32 && c != NONE && ix->len4[c] > addr->len)
            c = ix->cover[c];
    } else if (addr->family == 6 && addr->len <= 128) {
        uint8_t a[16];
        u128 x = ((u128)be64(addr->addr) << 64 | be64(addr->addr + 8)) & v6_mask(addr->len);
        put_be64((uint64_t)(x >> 64), a);
        put_be64((uint64_t)x, a + 8);
        c = netindex_lookup_v6(ix->ni, a);
        while (addr->len < 128 && c != NONE && ix->len6[c - ix->n4] > addr->len)
            c = ix->cover[c];
    } else {
        return NULL;
    }
    return claim_get(ix, c);
}

const registry_claim *registry_lookup_asn(const registry_index *ix, uint32_t asn)
{
    return ix ? claim_get(ix, netindex_lookup_asn(ix->ni, asn)) : NULL;
}

const registry_claim *registry_lookup_domain(const registry_index *ix, const char *domain)
{
    return ix && domain ? claim_get(ix, netindex_lookup_domain(ix->ni, domain)) : NULL;
}

int64_t registry_owner_v4(const registry_index *ix, uint32_t addr)
{
    if (!ix)
        return 0;
    uint32_t c = netindex_lookup_v4(ix->ni, addr);
    if (c == NONE)
        return 0;
    uint32_t o = ix->owner[c];
    return ix->owner_is_index ? ix->org_id[o] : (int64_t)o;
}

void registry_owner_v4_many(const registry_index *ix, const uint32_t *addrs, int64_t *out, size_t n)
{
    enum { CHUNK = 256, AHEAD = 8 };
    uint32_t claims[CHUNK];
    for (size_t base = 0; base < n; base += CHUNK) {
        size_t m = n - base < CHUNK ? n - base : CHUNK;
        if (!ix) {
            memset(out + base, 0, m * sizeof *out);
            continue;
        }
        netindex_lookup_v4_many(ix->ni, addrs + base, claims, m);
        /* The owner array is as large as the claims: prefetch a few entries ahead to hide the misses. */
        for (size_t i = 0; i < m; i++) {
            if (i + AHEAD < m && claims[i + AHEAD] != NONE)
                __builtin_prefetch(&ix->owner[claims[i + AHEAD]]);
            uint32_t c = claims[i];
            if (c == NONE) {
                out[base + i] = 0;
                continue;
            }
            uint32_t o = ix->owner[c];
            out[base + i] = ix->owner_is_index ? ix->org_id[o] : (int64_t)o;
        }
    }
}

const char *registry_org_name(const registry_index *ix, int64_t org_id)
{
    if (!ix)
        return NULL;
    size_t lo = 0, hi = ix->norgs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->org_id[mid] < org_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ix->norgs && ix->org_id[lo] == org_id ? ix->org_names + ix->org_name[lo] : NULL;
}

void registry_claim_text(const registry_claim *c, char out[DOMAIN_TEXT_MAX])
{
    out[0] = '\0';
    if (!c)
        return;
    switch (c->kind) {
    case CLAIM_NETWORK:
        net_prefix_format(&c->network, out);
        break;
    case CLAIM_ASN:
        snprintf(out, DOMAIN_TEXT_MAX, "AS%u", c->asn);
        break;
    case CLAIM_DOMAIN:
        snprintf(out, DOMAIN_TEXT_MAX, "%s", c->domain ? c->domain : "");
        break;
    }
}

void registry_index_counts(const registry_index *ix, registry_counts *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!ix)
        return;
    registry_index *m = (registry_index *)ix;
    pthread_mutex_lock(&m->mat_lock);
    size_t mat = m->mat_bytes;
    pthread_mutex_unlock(&m->mat_lock);
    out->orgs = ix->norgs;
    out->networks = (size_t)ix->n4 + ix->n6;
    out->asns = ix->nasn;
    out->domains = ix->ndom;
    out->bytes = ix->bytes + mat;
}

static bool same_orgs(const registry_index *ix, uint32_t a, uint32_t b)
{
    const int64_t *ia, *ib;
    size_t na, nb;
    claim_orgs(ix, a, &ia, &na);
    claim_orgs(ix, b, &ib, &nb);
    return na == nb && !memcmp(ia, ib, na * sizeof *ia);
}

size_t registry_overlaps(const registry_index *ix, registry_overlap_fn fn, void *arg)
{
    if (!ix)
        return 0;
    size_t count = 0;
    /* claim numbers are in report order: IPv4, IPv6, ASNs, domains, each sorted */
    for (uint32_t c = 0; c < ix->n; c++) {
        bool shared = multi_find(ix, c) != NULL;
        bool nested = ix->cover[c] != NONE && !same_orgs(ix, c, ix->cover[c]);
        if (!shared && !nested)
            continue;
        const registry_claim *claim = claim_get(ix, c);
        if (!claim)
            continue; /* out of memory */
        if (shared) {
            count++;
            if (fn)
                fn(arg, OVERLAP_SHARED, claim, NULL);
        }
        if (nested) {
            count++;
            if (fn)
                fn(arg, OVERLAP_NESTED, claim, claim->covering);
        }
    }
    return count;
}

/* ---- registry_cell ---------------------------------------------------------------------- */

/*
 * Why the grace period is enough (all operations seq_cst, so they are in one
 * total order S). A reader that obtained the old snapshot loaded `current`
 * before the publisher's exchange, so its increment of readers[t] precedes
 * the exchange in S, and so precedes both of the publisher's waits, which
 * then see it until the reader's decrement. The reader's t was read from
 * `epoch` before that; epoch changes only under publish_lock, so t is either
 * e (the epoch the publisher finds) or e ^ 1 (a reader that read it before
 * the previous flip). The publisher waits for readers[e ^ 1] to drain (those
 * stragglers; new readers go to readers[e] meanwhile), flips the epoch so
 * that new readers go to readers[e ^ 1], then waits for readers[e] to drain,
 * which no newcomer can refill. A reader counted after a wait has passed
 * loads `current` after the exchange and cannot see the old snapshot. The
 * decrements are releases and the waits' loads acquires, so the readers'
 * accesses happen before the free.
 */

static void wait_drained(atomic_long *n)
{
    for (unsigned spin = 0; atomic_load(n) != 0; spin++) {
        if (spin < 64) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        } else if (spin < 1024) {
            sched_yield();
        } else {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
    }
}

void registry_cell_init(registry_cell *c)
{
    atomic_init(&c->current, NULL);
    atomic_init(&c->epoch, 0);
    atomic_init(&c->readers[0], 0);
    atomic_init(&c->readers[1], 0);
    pthread_mutex_init(&c->publish_lock, NULL);
}

void registry_cell_destroy(registry_cell *c)
{
    registry_index_free(atomic_exchange(&c->current, NULL));
    pthread_mutex_destroy(&c->publish_lock);
}

const registry_index *registry_cell_enter(registry_cell *c, registry_ticket *t)
{
    unsigned k = atomic_load(&c->epoch) & 1;
    atomic_fetch_add(&c->readers[k], 1);
    *t = k;
    return atomic_load(&c->current);
}

void registry_cell_leave(registry_cell *c, registry_ticket t)
{
    atomic_fetch_sub(&c->readers[t & 1], 1);
}

void registry_cell_publish(registry_cell *c, registry_index *fresh)
{
    pthread_mutex_lock(&c->publish_lock);
    registry_index *old = atomic_exchange(&c->current, fresh);
    unsigned e = atomic_load(&c->epoch) & 1;
    wait_drained(&c->readers[e ^ 1]);
    atomic_store(&c->epoch, e ^ 1);
    wait_drained(&c->readers[e]);
    pthread_mutex_unlock(&c->publish_lock);
    registry_index_free(old);
}

int64_t registry_cell_version(registry_cell *c)
{
    registry_ticket t;
    const registry_index *ix = registry_cell_enter(c, &t);
    int64_t v = ix ? ix->version : -1;
    registry_cell_leave(c, t);
    return v;
}
