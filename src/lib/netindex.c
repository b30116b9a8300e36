/* netindex: longest-prefix match over flattened intervals, AS map, domain suffixes. See netindex.h. */
#include "lib/netindex.h"
#include "lib/array_grow.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

/* ---- builder ---------------------------------------------------------------------------- */

typedef struct {
    uint64_t key; /* start << 6 | len: sorting by key sorts by (start, len) */
    uint32_t value;
    uint32_t pad;
} v4_in;

typedef struct {
    u128 start;
    uint32_t value, seq;
    uint8_t len;
} v6_in;

typedef struct {
    uint32_t asn, value, seq;
} asn_in;

typedef struct {
    uint32_t off, len, value;
} dom_in;

struct netindex_builder {
    v4_in *v4;
    size_t n4, cap4;
    v6_in *v6;
    size_t n6, cap6;
    asn_in *asn;
    size_t nasn, capasn;
    dom_in *dom;
    size_t ndom, capdom;
    char *names; /* the domains, NUL-separated */
    size_t names_len, names_cap;
};

netindex_builder *netindex_builder_new(void)
{
    return calloc(1, sizeof(netindex_builder));
}

void netindex_builder_free(netindex_builder *b)
{
    if (!b)
        return;
    free(b->v4);
    free(b->v6);
    free(b->asn);
    free(b->dom);
    free(b->names);
    free(b);
}

static dz_code check_common(netindex_builder *b, size_t n, uint32_t value, const char *what, dz_err *e)
{
    if (!b)
        return dz_fail(e, DZ_EINVAL, "netindex: no builder");
    if (value == NETINDEX_NONE)
        return dz_fail(e, DZ_EINVAL, "netindex: %s: value %u is reserved (NETINDEX_NONE)", what, value);
    if (n >= NETINDEX_MAX_ENTRIES)
        return dz_fail(e, DZ_ELIMIT, "netindex: more than %u %s entries", NETINDEX_MAX_ENTRIES, what);
    return DZ_OK;
}

dz_code netindex_add_v4(netindex_builder *b, uint32_t addr, unsigned prefix_len, uint32_t value, dz_err *e)
{
    dz_code rc = check_common(b, b ? b->n4 : 0, value, "IPv4", e);
    if (rc)
        return rc;
    uint32_t mask = prefix_len == 0 ? 0 : prefix_len <= 32 ? ~0u << (32 - prefix_len) : ~0u;
    if (__builtin_expect(prefix_len > 32 || (addr & ~mask), 0)) {
        char a[INET_ADDRSTRLEN], n[INET_ADDRSTRLEN];
        uint32_t be = htonl(addr);
        inet_ntop(AF_INET, &be, a, sizeof a);
        if (prefix_len > 32)
            return dz_fail(e, DZ_EINVAL, "netindex: %s/%u: IPv4 prefix length must be 0..32", a, prefix_len);
        be = htonl(addr & mask);
        inet_ntop(AF_INET, &be, n, sizeof n);
        return dz_fail(e, DZ_EINVAL, "netindex: %s/%u has host bits set (the network is %s/%u)", a, prefix_len, n,
                       prefix_len);
    }
    if (!array_grow((void **)&b->v4, &b->cap4, b->n4, sizeof *b->v4))
        return dz_fail(e, DZ_ENOMEM, "netindex: out of memory");
    b->v4[b->n4++] = (v4_in){.key = (uint64_t)addr << 6 | prefix_len, .value = value};
    return DZ_OK;
}

static u128 v6_load(const uint8_t a[16])
{
    u128 x = 0;
    for (int i = 0; i < 16; i++)
        x = x << 8 | a[i];
    return x;
}

static void v6_store(u128 x, uint8_t a[16])
{
    for (int i = 15; i >= 0; i--) {
        a[i] = (uint8_t)x;
        x >>= 8;
    }
}

static u128 v6_mask(unsigned len)
{
    return len ? ~(u128)0 << (128 - len) : 0;
}

dz_code netindex_add_v6(netindex_builder *b, const uint8_t addr[16], unsigned prefix_len, uint32_t value,
                        dz_err *e)
{
    dz_code rc = check_common(b, b ? b->n6 : 0, value, "IPv6", e);
    if (rc)
        return rc;
    if (!addr)
        return dz_fail(e, DZ_EINVAL, "netindex: no IPv6 address");
    char a[INET6_ADDRSTRLEN];
    if (prefix_len > 128) {
        inet_ntop(AF_INET6, addr, a, sizeof a);
        return dz_fail(e, DZ_EINVAL, "netindex: %s/%u: IPv6 prefix length must be 0..128", a, prefix_len);
    }
    u128 x = v6_load(addr), mask = v6_mask(prefix_len);
    if (x & ~mask) {
        uint8_t nb[16];
        char n[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, addr, a, sizeof a);
        v6_store(x & mask, nb);
        inet_ntop(AF_INET6, nb, n, sizeof n);
        return dz_fail(e, DZ_EINVAL, "netindex: %s/%u has host bits set (the network is %s/%u)", a, prefix_len, n,
                       prefix_len);
    }
    if (!array_grow((void **)&b->v6, &b->cap6, b->n6, sizeof *b->v6))
        return dz_fail(e, DZ_ENOMEM, "netindex: out of memory");
    b->v6[b->n6] = (v6_in){.start = x, .value = value, .seq = (uint32_t)b->n6, .len = (uint8_t)prefix_len};
    b->n6++;
    return DZ_OK;
}

dz_code netindex_add_asn(netindex_builder *b, uint32_t asn, uint32_t value, dz_err *e)
{
    dz_code rc = check_common(b, b ? b->nasn : 0, value, "ASN", e);
    if (rc)
        return rc;
    if (!array_grow((void **)&b->asn, &b->capasn, b->nasn, sizeof *b->asn))
        return dz_fail(e, DZ_ENOMEM, "netindex: out of memory");
    b->asn[b->nasn] = (asn_in){.asn = asn, .value = value, .seq = (uint32_t)b->nasn};
    b->nasn++;
    return DZ_OK;
}

static inline char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Lower-cases s into out (NETINDEX_DOMAIN_MAX + 1 bytes) without one trailing dot; its length or -1. */
static int normalise(const char *s, char *out)
{
    size_t n = strlen(s);
    if (n && s[n - 1] == '.')
        n--;
    if (n == 0 || n > NETINDEX_DOMAIN_MAX)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = lower(s[i]);
    out[n] = '\0';
    return (int)n;
}

dz_code netindex_add_domain(netindex_builder *b, const char *domain, uint32_t value, dz_err *e)
{
    dz_code rc = check_common(b, b ? b->ndom : 0, value, "domain", e);
    if (rc)
        return rc;
    if (!domain)
        return dz_fail(e, DZ_EINVAL, "netindex: no domain");
    char d[NETINDEX_DOMAIN_MAX + 1];
    int n = normalise(domain, d);
    if (n < 0)
        return dz_fail(e, DZ_EINVAL, "netindex: domain '%.300s': must have 1..%d characters", domain,
                       NETINDEX_DOMAIN_MAX);
    if (d[n - 1] == '.')
        return dz_fail(e, DZ_EINVAL, "netindex: domain '%s': empty label", domain);
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && d[j] != '.') {
            unsigned char c = (unsigned char)d[j];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
                if (c >= 0x80)
                    return dz_fail(e, DZ_EINVAL,
                                   "netindex: domain '%s': not ASCII (use the A-label form, xn--...)", domain);
                return dz_fail(e, DZ_EINVAL, "netindex: domain '%s': character '%c' is not allowed in a label",
                               domain, c);
            }
            j++;
        }
        int ll = j - i;
        if (ll == 0)
            return dz_fail(e, DZ_EINVAL, "netindex: domain '%s': empty label", domain);
        if (ll > 63)
            return dz_fail(e, DZ_EINVAL, "netindex: domain '%s': label of %d characters (at most 63)", domain, ll);
        if (d[i] == '-' || d[j - 1] == '-')
            return dz_fail(e, DZ_EINVAL, "netindex: domain '%s': a label starts or ends with '-'", domain);
        i = j + 1;
    }
    if (!array_grow((void **)&b->dom, &b->capdom, b->ndom, sizeof *b->dom))
        return dz_fail(e, DZ_ENOMEM, "netindex: out of memory");
    while (b->names_len + (size_t)n + 1 > b->names_cap) {
        size_t nc = b->names_cap ? b->names_cap * 2 : 4096;
        char *p = realloc(b->names, nc);
        if (!p)
            return dz_fail(e, DZ_ENOMEM, "netindex: out of memory");
        b->names = p;
        b->names_cap = nc;
    }
    if (b->names_len + (size_t)n + 1 > UINT32_MAX)
        return dz_fail(e, DZ_ELIMIT, "netindex: too many domain characters");
    memcpy(b->names + b->names_len, d, (size_t)n + 1);
    b->dom[b->ndom++] = (dom_in){.off = (uint32_t)b->names_len, .len = (uint32_t)n, .value = value};
    b->names_len += (size_t)n + 1;
    return DZ_OK;
}

/* ---- the index -------------------------------------------------------------------------- */

typedef struct {
    uint32_t start, value;
} v4_iv;

typedef struct {
    uint32_t asn, value;
} asn_ent;

typedef struct {
    uint64_t hash;
    uint32_t off, len, value, used;
} dom_slot;

struct netindex {
    /* IPv4: iv[i] covers [iv[i].start, iv[i+1].start); iv[0].start == 0. */
    v4_iv *iv4;
    uint8_t *len4; /* the matched prefix length of each interval (for match_v4) */
    uint32_t *idx4; /* idx4[b]: last interval starting at or before bucket b's first address */
    uint32_t n4;
    unsigned shift4; /* 32 - bucket bits */
    /* IPv6: sorted interval starts, values, lengths. */
    u128 *start6;
    uint32_t *val6;
    uint8_t *len6;
    uint32_t n6;
    asn_ent *asn;
    uint32_t nasn;
    dom_slot *dom;
    char *names;
    size_t dom_cap; /* power of two, 0 when no domains */
    netindex_stats st;
};

void netindex_free(netindex *ix)
{
    if (!ix)
        return;
    free(ix->iv4);
    free(ix->len4);
    free(ix->idx4);
    free(ix->start6);
    free(ix->val6);
    free(ix->len6);
    free(ix->asn);
    free(ix->dom);
    free(ix->names);
    free(ix);
}

/* LSD radix sort on the low `bits` bits of key; stable, so equal keys keep the order they were added in. */
static bool radix_sort_v4(v4_in *a, size_t n, unsigned bits)
{
    enum { RB = 13, RN = 1 << RB };
    if (n < 2)
        return true;
    v4_in *tmp = malloc(n * sizeof *tmp);
    uint32_t(*cnt)[RN] = calloc(3, sizeof *cnt);
    if (!tmp || !cnt) {
        free(tmp);
        free(cnt);
        return false;
    }
    unsigned passes = (bits + RB - 1) / RB;
    for (size_t i = 0; i < n; i++)
        for (unsigned p = 0; p < passes; p++)
            cnt[p][(a[i].key >> (p * RB)) & (RN - 1)]++;
    v4_in *src = a, *dst = tmp;
    for (unsigned p = 0; p < passes; p++) {
        uint32_t sum = 0;
        for (unsigned k = 0; k < RN; k++) {
            uint32_t c = cnt[p][k];
            cnt[p][k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[p][(src[i].key >> (p * RB)) & (RN - 1)]++] = src[i];
        v4_in *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
    free(tmp);
    free(cnt);
    return true;
}

typedef struct {
    uint64_t end; /* inclusive */
    uint32_t value;
    uint8_t len;
} v4_open;

/* Appends "from start on, value (of a prefix of length len)", merging with what is there. */
static void v4_emit(netindex *ix, uint64_t start, uint32_t value, uint8_t len)
{
    if (start > UINT32_MAX)
        return;
    uint32_t n = ix->n4;
    if (n && ix->iv4[n - 1].start == start) { /* the previous interval turned out empty */
        n--;
        ix->n4 = n;
    }
    if (n && ix->iv4[n - 1].value == value && ix->len4[n - 1] == len)
        return;
    ix->iv4[n] = (v4_iv){(uint32_t)start, value};
    ix->len4[n] = len;
    ix->n4 = n + 1;
}

static dz_code build_v4(netindex *ix, v4_in *in, size_t n, dz_err *e)
{
    if (!radix_sort_v4(in, n, 38))
        return dz_fail(e, DZ_ENOMEM, "netindex: out of memory");
    size_t cap = 2 * n + 1;
    ix->iv4 = malloc(cap * sizeof *ix->iv4);
    ix->len4 = malloc(cap);
    if (!ix->iv4 || !ix->len4)
        return dz_fail(e, DZ_ENOMEM, "netindex: out of memory");
    v4_open stack[34];
    int top = 0;
    ix->iv4[0] = (v4_iv){0, NETINDEX_NONE}; /* nothing, until a prefix says otherwise */
    ix->len4[0] = 0;
    ix->n4 = 1;
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && in[i].key == in[i - 1].key) {
            /* in[i - 1] was kept or was itself a duplicate of the same first entry */
            if (in[i].value != stack[top - 1].value)
                ix->st.conflicts++;
            else
                ix->st.repeats++;
            continue;
        }
        distinct++;
        uint32_t start = (uint32_t)(in[i].key >> 6);
        unsigned len = (unsigned)(in[i].key & 63);
        uint64_t end = (uint64_t)start + (len ? (1ull << (32 - len)) : (1ull << 32)) - 1;
        while (top && stack[top - 1].end < start) {
            uint64_t after = stack[top - 1].end + 1;
            top--;
            v4_emit(ix, after, top ? stack[top - 1].value : NETINDEX_NONE, top ? stack[top - 1].len : 0);
        }
        v4_emit(ix, start, in[i].value, (uint8_t)len);
        stack[top++] = (v4_open){end, in[i].value, (uint8_t)len};
    }
    while (top) {
        uint64_t after = stack[top - 1].end + 1;
        top--;
        v4_emit(ix, after, top ? stack[top - 1].value : NETINDEX_NONE, top ? stack[top - 1].len : 0);
    }
    ix->st.v4_prefixes = distinct;
    ix->st.v4_intervals = ix->n4;

    /* About 2 intervals per bucket, 2^8 .. 2^22 buckets. */
    unsigned bits = 8;
    while (bits < 22 && (1ull << bits) * 2 < ix->n4)
        bits++;
    ix->shift4 = 32 - bits;
    ix->st.v4_bucket_bits = bits;
    size_t nb = (size_t)1 << bits;
    ix->idx4 = malloc((nb + 1) * sizeof *ix->idx4);
    if (!ix->idx4)
        return dz_fail(e, DZ_ENOMEM, "netindex: out of memory");
    uint32_t k = 0;
    for (size_t bkt = 0; bkt < nb; bkt++) {
        uint64_t first = (uint64_t)bkt << ix->shift4;
        while (k + 1 < ix->n4 && ix->iv4[k + 1].start <= first)
            k++;
        ix->idx4[bkt] = k;
    }
    ix->idx4[nb] = ix->n4 - 1;
    /* shrink to fit */
    v4_iv *p = realloc(ix->iv4, ix->n4 * sizeof *ix->iv4);
    if (p)
        ix->iv4 = p;
    uint8_t *q = realloc(ix->len4, ix->n4);
    if (q)
        ix->len4 = q;
    return DZ_OK;
}

static int cmp_v6(const void *pa, const void *pb)
{
    const v6_in *a = pa, *b = pb;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

typedef struct {
    u128 end;
    uint32_t value;
    uint8_t len;
} v6_open;

static void v6_emit(netindex *ix, u128 start, uint32_t value, uint8_t len)
{
    uint32_t n = ix->n6;
    if (n && ix->start6[n - 1] == start)
        ix->n6 = --n;
    if (n && ix->val6[n - 1] == value && ix->len6[n - 1] == len)
        return;
    ix->start6[n] = start;
    ix->val6[n] = value;
    ix->len6[n] = len;
    ix->n6 = n + 1;
}

/* Closes the innermost open prefix: from after its end, the enclosing one (or nothing) applies. */
static void v6_close(netindex *ix, v6_open *stack, int *top)
{
    u128 end = stack[*top - 1].end;
    (*top)--;
    if (end == ~(u128)0) /* it reached the end of the address space: nothing follows */
        return;
    v6_emit(ix, end + 1, *top ? stack[*top - 1].value : NETINDEX_NONE, *top ? stack[*top - 1].len : 0);
}

static dz_code build_v6(netindex *ix, v6_in *in, size_t n, dz_err *e)
{
    if (n > 1)
        qsort(in, n, sizeof *in, cmp_v6);
    size_t cap = 2 * n + 1;
    ix->start6 = malloc(cap * sizeof *ix->start6);
    ix->val6 = malloc(cap * sizeof *ix->val6);
    ix->len6 = malloc(cap);
    if (!ix->start6 || !ix->val6 || !ix->len6)
        return dz_fail(e, DZ_ENOMEM, "netindex: out of memory");
    v6_open stack[130];
    int top = 0;
    ix->start6[0] = 0;
    ix->val6[0] = NETINDEX_NONE;
    ix->len6[0] = 0;
    ix->n6 = 1;
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && in[i].start == in[i - 1].start && in[i].len == in[i - 1].len) {
            if (in[i].value != stack[top - 1].value)
                ix->st.conflicts++;
            else
                ix->st.repeats++;
            continue;
        }
        distinct++;
        u128 end = in[i].start | ~v6_mask(in[i].len);
        while (top && stack[top - 1].end < in[i].start)
            v6_close(ix, stack, &top);
        v6_emit(ix, in[i].start, in[i].value, in[i].len);
        stack[top++] = (v6_open){end, in[i].value, in[i].len};
    }
    while (top)
        v6_close(ix, stack, &top);
    ix->st.v6_prefixes = distinct;
    ix->st.v6_intervals = ix->n6;
    return DZ_OK;
}

static int cmp_asn(const void *pa, const void *pb)
{
    const asn_in *a = pa, *b = pb;
    if (a->asn != b->asn)
        return a->asn < b->asn ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static dz_code build_asn(netindex *ix, asn_in *in, size_t n, dz_err *e)
{
    if (n > 1)
        qsort(in, n, sizeof *in, cmp_asn);
    ix->asn = malloc((n ? n : 1) * sizeof *ix->asn);
    if (!ix->asn)
        return dz_fail(e, DZ_ENOMEM, "netindex: out of memory");
    uint32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && ix->asn[m - 1].asn == in[i].asn) {
            if (ix->asn[m - 1].value != in[i].value)
                ix->st.conflicts++;
            else
                ix->st.repeats++;
            continue;
        }
        ix->asn[m++] = (asn_ent){in[i].asn, in[i].value};
    }
    ix->nasn = m;
    ix->st.asns = m;
    return DZ_OK;
}

static uint64_t hash_name(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static dz_code build_dom(netindex *ix, netindex_builder *b, dz_err *e)
{
    if (!b->ndom)
        return DZ_OK;
    size_t cap = 16;
    while (cap < b->ndom * 2)
        cap *= 2;
    ix->dom = calloc(cap, sizeof *ix->dom);
    if (!ix->dom)
        return dz_fail(e, DZ_ENOMEM, "netindex: out of memory");
    ix->dom_cap = cap;
    ix->names = b->names; /* taken over from the builder */
    b->names = NULL;
    size_t m = 0;
    for (size_t i = 0; i < b->ndom; i++) {
        const dom_in *d = &b->dom[i];
        uint64_t h = hash_name(ix->names + d->off, d->len);
        size_t s = (size_t)h & (cap - 1);
        for (;; s = (s + 1) & (cap - 1)) {
            dom_slot *sl = &ix->dom[s];
            if (!sl->used) {
                *sl = (dom_slot){h, d->off, d->len, d->value, 1};
                m++;
                break;
            }
            if (sl->hash == h && sl->len == d->len && !memcmp(ix->names + sl->off, ix->names + d->off, d->len)) {
                if (sl->value != d->value)
                    ix->st.conflicts++;
                else
                    ix->st.repeats++;
                break;
            }
        }
    }
    ix->st.domains = m;
    return DZ_OK;
}

dz_code netindex_build(netindex_builder *b, netindex **out, dz_err *e)
{
    if (!out) {
        netindex_builder_free(b);
        return dz_fail(e, DZ_EINVAL, "netindex: no output");
    }
    *out = NULL;
    if (!b)
        return dz_fail(e, DZ_EINVAL, "netindex: no builder");
    netindex *ix = calloc(1, sizeof *ix);
    if (!ix) {
        netindex_builder_free(b);
        return dz_fail(e, DZ_ENOMEM, "netindex: out of memory");
    }
    ix->st.entries = b->n4 + b->n6 + b->nasn + b->ndom;
    dz_code rc = build_v4(ix, b->v4, b->n4, e);
    if (!rc)
        rc = build_v6(ix, b->v6, b->n6, e);
    if (!rc)
        rc = build_asn(ix, b->asn, b->nasn, e);
    if (!rc)
        rc = build_dom(ix, b, e);
    if (!rc && ix->names) { /* shrink the names to what they use */
        char *p = realloc(ix->names, b->names_len);
        if (p)
            ix->names = p;
    }
    size_t names_len = b->names_len;
    netindex_builder_free(b);
    if (rc) {
        netindex_free(ix);
        return rc;
    }
    ix->st.bytes = sizeof *ix + ix->n4 * (sizeof *ix->iv4 + 1) +
                   (ix->idx4 ? (((size_t)1 << (32 - ix->shift4)) + 1) * sizeof *ix->idx4 : 0) +
                   ix->n6 * (sizeof *ix->start6 + sizeof *ix->val6 + 1) + ix->nasn * sizeof *ix->asn +
                   ix->dom_cap * sizeof *ix->dom + names_len;
    *out = ix;
    return DZ_OK;
}

/* ---- lookups ---------------------------------------------------------------------------- */

/* Index of the interval holding addr: the last with start <= addr, inside the bucket. */
static inline uint32_t v4_find(const netindex *ix, uint32_t addr)
{
    uint32_t b = addr >> ix->shift4;
    uint32_t base = ix->idx4[b], n = ix->idx4[b + 1] - base + 1;
    const v4_iv *iv = ix->iv4;
    while (n > 1) {
        uint32_t half = n / 2;
        base = iv[base + half].start <= addr ? base + half : base;
        n -= half;
    }
    return base;
}

uint32_t netindex_lookup_v4(const netindex *ix, uint32_t addr)
{
    if (!ix || !ix->n4)
        return NETINDEX_NONE;
    return ix->iv4[v4_find(ix, addr)].value;
}

void netindex_lookup_v4_many(const netindex *ix, const uint32_t *addrs, uint32_t *out, size_t n)
{
    if (!ix || !ix->n4) {
        for (size_t i = 0; i < n; i++)
            out[i] = NETINDEX_NONE;
        return;
    }
    enum { G = 16 };
    size_t i = 0;
    for (; i + G <= n; i += G) {
        uint32_t lo[G], hi[G];
        for (int j = 0; j < G; j++)
            __builtin_prefetch(&ix->idx4[addrs[i + j] >> ix->shift4]);
        for (int j = 0; j < G; j++) {
            uint32_t b = addrs[i + j] >> ix->shift4;
            lo[j] = ix->idx4[b];
            hi[j] = ix->idx4[b + 1];
            __builtin_prefetch(&ix->iv4[lo[j]]);
            __builtin_prefetch(&ix->iv4[hi[j]]);
        }
        for (int j = 0; j < G; j++) {
            uint32_t addr = addrs[i + j], base = lo[j], cnt = hi[j] - lo[j] + 1;
            while (cnt > 1) {
                uint32_t half = cnt / 2;
                base = ix->iv4[base + half].start <= addr ? base + half : base;
                cnt -= half;
            }
            out[i + j] = ix->iv4[base].value;
        }
    }
    for (; i < n; i++)
        out[i] = ix->iv4[v4_find(ix, addrs[i])].value;
}

uint32_t netindex_match_v4(const netindex *ix, uint32_t addr, uint32_t *prefix, unsigned *len)
{
    if (!ix || !ix->n4)
        return NETINDEX_NONE;
    uint32_t k = v4_find(ix, addr);
    uint32_t v = ix->iv4[k].value;
    if (v != NETINDEX_NONE) {
        unsigned l = ix->len4[k];
        if (prefix)
            *prefix = l ? addr & (~0u << (32 - l)) : 0;
        if (len)
            *len = l;
    }
    return v;
}

static uint32_t v6_find(const netindex *ix, u128 x)
{
    uint32_t base = 0, n = ix->n6;
    while (n > 1) {
        uint32_t half = n / 2;
        base = ix->start6[base + half] <= x ? base + half : base;
        n -= half;
    }
    return base;
}

uint32_t netindex_match_v6(const netindex *ix, const uint8_t addr[16], uint8_t prefix[16], unsigned *len)
{
    if (!ix || !ix->n6 || !addr)
        return NETINDEX_NONE;
    u128 x = v6_load(addr);
    uint32_t k = v6_find(ix, x);
    uint32_t v = ix->val6[k];
    if (v != NETINDEX_NONE) {
        if (prefix)
            v6_store(x & v6_mask(ix->len6[k]), prefix);
        if (len)
            *len = ix->len6[k];
    }
    return v;
}

uint32_t netindex_lookup_v6(const netindex *ix, const uint8_t addr[16])
{
    return netindex_match_v6(ix, addr, NULL, NULL);
}

uint32_t netindex_lookup_asn(const netindex *ix, uint32_t asn)
{
    if (!ix || !ix->nasn)
        return NETINDEX_NONE;
    uint32_t base = 0, n = ix->nasn;
    while (n > 1) {
        uint32_t half = n / 2;
        base = ix->asn[base + half].asn <= asn ? base + half : base;
        n -= half;
    }
    return ix->asn[base].asn == asn ? ix->asn[base].value : NETINDEX_NONE;
}

static uint32_t dom_get(const netindex *ix, const char *s, size_t n)
{
    uint64_t h = hash_name(s, n);
    for (size_t i = (size_t)h & (ix->dom_cap - 1);; i = (i + 1) & (ix->dom_cap - 1)) {
        const dom_slot *sl = &ix->dom[i];
        if (!sl->used)
            return NETINDEX_NONE;
        if (sl->hash == h && sl->len == n && !memcmp(ix->names + sl->off, s, n))
            return sl->value;
    }
}

uint32_t netindex_lookup_domain(const netindex *ix, const char *domain)
{
    if (!ix || !ix->dom_cap || !domain)
        return NETINDEX_NONE;
    char d[NETINDEX_DOMAIN_MAX + 1];
    int n = normalise(domain, d);
    if (n < 0)
        return NETINDEX_NONE;
    /* the name itself, then each parent: the first hit is the most specific */
    for (int i = 0; i < n;) {
        uint32_t v = dom_get(ix, d + i, (size_t)(n - i));
        if (v != NETINDEX_NONE)
            return v;
        while (i < n && d[i] != '.')
            i++;
        i++;
    }
    return NETINDEX_NONE;
}

void netindex_stats_get(const netindex *ix, netindex_stats *st)
{
    if (!st)
        return;
    if (!ix) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = ix->st;
}
