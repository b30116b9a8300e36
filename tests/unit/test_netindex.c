/* netindex: prefix rules, domains, ASNs, duplicates, and random data against a brute-force scan. */
#include "unit.h"

#include <arpa/inet.h>

#include "lib/netindex.h"

#define V4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static netindex *build(netindex_builder *b)
{
    dz_err e = {0};
    netindex *ix = NULL;
    assert_dz_ok(netindex_build(b, &ix, &e), e);
    assert_non_null(ix);
    return ix;
}

static void add4(netindex_builder *b, uint32_t a, unsigned len, uint32_t v)
{
    dz_err e = {0};
    assert_dz_ok(netindex_add_v4(b, a, len, v, &e), e);
}

static void add6(netindex_builder *b, const char *s, unsigned len, uint32_t v)
{
    dz_err e = {0};
    uint8_t a[16];
    assert_int_equal(inet_pton(AF_INET6, s, a), 1);
    assert_dz_ok(netindex_add_v6(b, a, len, v, &e), e);
}

static uint32_t look6(const netindex *ix, const char *s)
{
    uint8_t a[16];
    assert_int_equal(inet_pton(AF_INET6, s, a), 1);
    return netindex_lookup_v6(ix, a);
}

static void test_v4_refuses_bad_prefixes(void **state)
{
    (void)state;
    netindex_builder *b = netindex_builder_new();
    assert_non_null(b);
    dz_err e = {0};
    assert_dz_fails(netindex_add_v4(b, V4(10, 0, 0, 1), 8, 1, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "10.0.0.1/8 has host bits set");
    assert_contains(e.msg, "10.0.0.0/8");
    dz_err_clear(&e);
    assert_dz_fails(netindex_add_v4(b, V4(10, 0, 0, 0), 33, 1, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "0..32");
    dz_err_clear(&e);
    assert_dz_fails(netindex_add_v4(b, V4(1, 0, 0, 0), 0, 1, &e), DZ_EINVAL, e); /* /0 must be 0.0.0.0 */
    dz_err_clear(&e);
    assert_dz_fails(netindex_add_v4(b, V4(10, 0, 0, 0), 8, NETINDEX_NONE, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "reserved");
    netindex_builder_free(b);
}

static void test_v4_basics(void **state)
{
    (void)state;
    netindex_builder *b = netindex_builder_new();
    add4(b, V4(10, 0, 0, 0), 8, 1);
    add4(b, V4(10, 1, 0, 0), 16, 2);     /* nested */
    add4(b, V4(10, 1, 2, 0), 24, 3);     /* nested twice */
    add4(b, V4(10, 1, 2, 3), 32, 4);     /* a host */
    add4(b, V4(10, 1, 3, 0), 24, 5);     /* adjacent to 10.1.2.0/24 */
    add4(b, V4(11, 0, 0, 0), 8, 6);      /* adjacent to 10.0.0.0/8 */
    add4(b, V4(255, 255, 255, 255), 32, 7);
    add4(b, V4(0, 0, 0, 0), 32, 8);
    netindex *ix = build(b);
    assert_int_equal(netindex_lookup_v4(ix, V4(9, 255, 255, 255)), NETINDEX_NONE);
    assert_int_equal(netindex_lookup_v4(ix, V4(10, 0, 0, 0)), 1);
    assert_int_equal(netindex_lookup_v4(ix, V4(10, 0, 255, 255)), 1);
    assert_int_equal(netindex_lookup_v4(ix, V4(10, 1, 0, 0)), 2);
    assert_int_equal(netindex_lookup_v4(ix, V4(10, 1, 2, 2)), 3);
    assert_int_equal(netindex_lookup_v4(ix, V4(10, 1, 2, 3)), 4);
    assert_int_equal(netindex_lookup_v4(ix, V4(10, 1, 2, 4)), 3);
    assert_int_equal(netindex_lookup_v4(ix, V4(10, 1, 3, 0)), 5);
    assert_int_equal(netindex_lookup_v4(ix, V4(10, 1, 3, 255)), 5);
    assert_int_equal(netindex_lookup_v4(ix, V4(10, 1, 4, 0)), 2);
    assert_int_equal(netindex_lookup_v4(ix, V4(10, 2, 0, 0)), 1);
    assert_int_equal(netindex_lookup_v4(ix, V4(10, 255, 255, 255)), 1);
    assert_int_equal(netindex_lookup_v4(ix, V4(11, 0, 0, 0)), 6);
    assert_int_equal(netindex_lookup_v4(ix, V4(11, 255, 255, 255)), 6);
    assert_int_equal(netindex_lookup_v4(ix, V4(12, 0, 0, 0)), NETINDEX_NONE);
    assert_int_equal(netindex_lookup_v4(ix, V4(255, 255, 255, 255)), 7);
    assert_int_equal(netindex_lookup_v4(ix, V4(255, 255, 255, 254)), NETINDEX_NONE);
    assert_int_equal(netindex_lookup_v4(ix, 0), 8);
    assert_int_equal(netindex_lookup_v4(ix, 1), NETINDEX_NONE);

    uint32_t p = 0;
    unsigned l = 99;
    assert_int_equal(netindex_match_v4(ix, V4(10, 1, 2, 200), &p, &l), 3);
    assert_int_equal(p, V4(10, 1, 2, 0));
    assert_int_equal(l, 24);
    assert_int_equal(netindex_match_v4(ix, V4(10, 1, 9, 9), &p, &l), 2);
    assert_int_equal(p, V4(10, 1, 0, 0));
    assert_int_equal(l, 16);
    assert_int_equal(netindex_match_v4(ix, V4(10, 1, 2, 3), &p, &l), 4);
    assert_int_equal(p, V4(10, 1, 2, 3));
    assert_int_equal(l, 32);
    p = 42;
    l = 42;
    assert_int_equal(netindex_match_v4(ix, V4(12, 0, 0, 0), &p, &l), NETINDEX_NONE);
    assert_int_equal(p, 42); /* untouched */
    assert_int_equal(l, 42);

    netindex_stats st;
    netindex_stats_get(ix, &st);
    assert_int_equal(st.v4_prefixes, 8);
    assert_int_equal(st.entries, 8);
    assert_true(st.bytes > 0);
    netindex_free(ix);
}

static void test_v4_slash0_and_duplicates(void **state)
{
    (void)state;
    netindex_builder *b = netindex_builder_new();
    add4(b, 0, 0, 1);
    add4(b, V4(192, 0, 2, 0), 24, 2);
    add4(b, V4(192, 0, 2, 0), 24, 3); /* conflict: the first stays */
    add4(b, V4(192, 0, 2, 0), 24, 2); /* repeat */
    add4(b, 0, 0, 4);                 /* conflict on /0 */
    netindex *ix = build(b);
    assert_int_equal(netindex_lookup_v4(ix, 0), 1);
    assert_int_equal(netindex_lookup_v4(ix, UINT32_MAX), 1);
    assert_int_equal(netindex_lookup_v4(ix, V4(192, 0, 2, 77)), 2);
    assert_int_equal(netindex_lookup_v4(ix, V4(192, 0, 3, 0)), 1);
    uint32_t p = 7;
    unsigned l = 7;
    assert_int_equal(netindex_match_v4(ix, V4(8, 8, 8, 8), &p, &l), 1);
    assert_int_equal(p, 0);
    assert_int_equal(l, 0);
    netindex_stats st;
    netindex_stats_get(ix, &st);
    assert_int_equal(st.v4_prefixes, 2);
    assert_int_equal(st.conflicts, 2);
    assert_int_equal(st.repeats, 1);
    assert_int_equal(st.entries, 5);
    netindex_free(ix);
}

static void test_empty_index(void **state)
{
    (void)state;
    netindex *ix = build(netindex_builder_new());
    assert_int_equal(netindex_lookup_v4(ix, 12345), NETINDEX_NONE);
    assert_int_equal(look6(ix, "2001:db8::1"), NETINDEX_NONE);
    assert_int_equal(netindex_lookup_asn(ix, 64500), NETINDEX_NONE);
    assert_int_equal(netindex_lookup_domain(ix, "example.bt"), NETINDEX_NONE);
    uint32_t in[20] = {1, 2, 3}, out[20];
    netindex_lookup_v4_many(ix, in, out, 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(out[i], NETINDEX_NONE);
    netindex_free(ix);
    assert_int_equal(netindex_lookup_v4(NULL, 1), NETINDEX_NONE);
    netindex_free(NULL);
    netindex_builder_free(NULL);
}

static void test_v6(void **state)
{
    (void)state;
    netindex_builder *b = netindex_builder_new();
    dz_err e = {0};
    uint8_t a[16];
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", a), 1);
    assert_dz_fails(netindex_add_v6(b, a, 64, 1, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "2001:db8::1/64 has host bits set (the network is 2001:db8::/64)");
    dz_err_clear(&e);
    assert_dz_fails(netindex_add_v6(b, a, 129, 1, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "0..128");

    add6(b, "::", 0, 1);
    add6(b, "2001:db8::", 32, 2);
    add6(b, "2001:db8:1::", 48, 3);
    add6(b, "2001:db8:1::1", 128, 4);
    add6(b, "2001:db8:2::", 48, 5); /* adjacent to 2001:db8:1::/48 */
    add6(b, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, 6);
    add6(b, "2001:db8::", 32, 9); /* conflict */
    netindex *ix = build(b);
    assert_int_equal(look6(ix, "::"), 1);
    assert_int_equal(look6(ix, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"), 1);
    assert_int_equal(look6(ix, "2001:db8::"), 2);
    assert_int_equal(look6(ix, "2001:db8:1::"), 3);
    assert_int_equal(look6(ix, "2001:db8:1::1"), 4);
    assert_int_equal(look6(ix, "2001:db8:1::2"), 3);
    assert_int_equal(look6(ix, "2001:db8:1:ffff:ffff:ffff:ffff:ffff"), 3);
    assert_int_equal(look6(ix, "2001:db8:2::"), 5);
    assert_int_equal(look6(ix, "2001:db8:3::"), 2);
    assert_int_equal(look6(ix, "2001:db9::"), 1);
    assert_int_equal(look6(ix, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), 1);
    assert_int_equal(look6(ix, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 6);
    uint8_t p[16], want[16];
    unsigned l = 0;
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2::3", a), 1);
    assert_int_equal(netindex_match_v6(ix, a, p, &l), 3);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::", want), 1);
    assert_memory_equal(p, want, 16);
    assert_int_equal(l, 48);
    netindex_stats st;
    netindex_stats_get(ix, &st);
    assert_int_equal(st.v6_prefixes, 6);
    assert_int_equal(st.conflicts, 1);
    netindex_free(ix);

    /* without ::/0, and a /128 at the very start */
    b = netindex_builder_new();
    add6(b, "::", 128, 1);
    add6(b, "fe80::", 10, 2);
    ix = build(b);
    assert_int_equal(look6(ix, "::"), 1);
    assert_int_equal(look6(ix, "::1"), NETINDEX_NONE);
    assert_int_equal(look6(ix, "febf:ffff::"), 2);
    assert_int_equal(look6(ix, "fec0::"), NETINDEX_NONE);
    netindex_free(ix);
}

static void test_asn(void **state)
{
    (void)state;
    netindex_builder *b = netindex_builder_new();
    dz_err e = {0};
    assert_dz_ok(netindex_add_asn(b, 64500, 1, &e), e);
    assert_dz_ok(netindex_add_asn(b, 17660, 2, &e), e);
    assert_dz_ok(netindex_add_asn(b, UINT32_MAX - 1, 3, &e), e);
    assert_dz_ok(netindex_add_asn(b, 0, 4, &e), e);
    assert_dz_ok(netindex_add_asn(b, 64500, 5, &e), e); /* conflict */
    assert_dz_fails(netindex_add_asn(b, 1, NETINDEX_NONE, &e), DZ_EINVAL, e);
    netindex *ix = build(b);
    assert_int_equal(netindex_lookup_asn(ix, 64500), 1);
    assert_int_equal(netindex_lookup_asn(ix, 17660), 2);
    assert_int_equal(netindex_lookup_asn(ix, UINT32_MAX - 1), 3);
    assert_int_equal(netindex_lookup_asn(ix, 0), 4);
    assert_int_equal(netindex_lookup_asn(ix, 64501), NETINDEX_NONE);
    assert_int_equal(netindex_lookup_asn(ix, UINT32_MAX), NETINDEX_NONE);
    netindex_stats st;
    netindex_stats_get(ix, &st);
    assert_int_equal(st.asns, 4);
    assert_int_equal(st.conflicts, 1);
    netindex_free(ix);
}

static void test_domains(void **state)
{
    (void)state;
    netindex_builder *b = netindex_builder_new();
    dz_err e = {0};
    assert_dz_ok(netindex_add_domain(b, "example.bt", 1, &e), e);
    assert_dz_ok(netindex_add_domain(b, "Sub.Example.BT.", 2, &e), e);
    assert_dz_ok(netindex_add_domain(b, "gov", 3, &e), e);
    assert_dz_ok(netindex_add_domain(b, "xn--mnchen-3ya.de", 4, &e), e);
    assert_dz_ok(netindex_add_domain(b, "EXAMPLE.bt", 9, &e), e); /* conflict, case-insensitive */

    const char *bad[] = {"", ".", "a..b", ".a.b", "-a.b", "a-.b", "a_b.c", "münchen.de", "a b.c", "a.b..",
                         "0123456789012345678901234567890123456789012345678901234567890123.bt"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dz_err_clear(&e);
        dz_code rc = netindex_add_domain(b, bad[i], 1, &e);
        if (rc != DZ_EINVAL)
            fail_msg("'%s' accepted", bad[i]);
        assert_true(e.msg[0] != '\0');
    }
    dz_err_clear(&e);
    netindex_add_domain(b, "münchen.de", 1, &e);
    assert_contains(e.msg, "A-label");
    char longname[300];
    memset(longname, 'a', sizeof longname);
    for (int i = 63; i < 299; i += 64)
        longname[i] = '.';
    longname[254] = '\0'; /* 254 characters, labels of 63 */
    assert_dz_fails(netindex_add_domain(b, longname, 1, &e), DZ_EINVAL, e);
    longname[253] = '\0';
    assert_dz_ok(netindex_add_domain(b, longname, 7, &e), e);

    netindex *ix = build(b);
    assert_int_equal(netindex_lookup_domain(ix, "example.bt"), 1);
    assert_int_equal(netindex_lookup_domain(ix, "a.example.bt"), 1);
    assert_int_equal(netindex_lookup_domain(ix, "x.y.EXAMPLE.bt."), 1);
    assert_int_equal(netindex_lookup_domain(ix, "badexample.bt"), NETINDEX_NONE);
    assert_int_equal(netindex_lookup_domain(ix, "example.bt.evil"), NETINDEX_NONE);
    assert_int_equal(netindex_lookup_domain(ix, "bt"), NETINDEX_NONE);
    assert_int_equal(netindex_lookup_domain(ix, "sub.example.bt"), 2);
    assert_int_equal(netindex_lookup_domain(ix, "deep.SUB.example.bt"), 2);
    assert_int_equal(netindex_lookup_domain(ix, "xsub.example.bt"), 1);
    assert_int_equal(netindex_lookup_domain(ix, "moe.gov"), 3);
    assert_int_equal(netindex_lookup_domain(ix, "gov."), 3);
    assert_int_equal(netindex_lookup_domain(ix, "govt"), NETINDEX_NONE);
    assert_int_equal(netindex_lookup_domain(ix, "www.xn--mnchen-3ya.de"), 4);
    assert_int_equal(netindex_lookup_domain(ix, "_dmarc.example.bt"), 1);
    assert_int_equal(netindex_lookup_domain(ix, longname), 7);
    assert_int_equal(netindex_lookup_domain(ix, ""), NETINDEX_NONE);
    assert_int_equal(netindex_lookup_domain(ix, "."), NETINDEX_NONE);
    assert_int_equal(netindex_lookup_domain(ix, NULL), NETINDEX_NONE);
    netindex_stats st;
    netindex_stats_get(ix, &st);
    assert_int_equal(st.domains, 5);
    assert_int_equal(st.conflicts, 1);
    netindex_free(ix);
}

/* ---- random data against a brute-force scan --------------------------------------------- */

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint32_t rnd(void)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

typedef struct {
    uint32_t addr, value;
    unsigned len;
} p4;

static uint32_t mask4(unsigned len)
{
    return len ? ~0u << (32 - len) : 0;
}

/* The longest prefix holding a; among identical ones, the first added. */
static uint32_t brute4(const p4 *p, size_t n, uint32_t a, int *len)
{
    uint32_t v = NETINDEX_NONE;
    *len = -1;
    for (size_t i = 0; i < n; i++)
        if ((a & mask4(p[i].len)) == p[i].addr && (int)p[i].len > *len) {
            *len = (int)p[i].len;
            v = p[i].value;
        }
    return v;
}

static void random_v4_round(size_t np, size_t nl)
{
    p4 *p = xmalloc(np * sizeof *p);
    netindex_builder *b = netindex_builder_new();
    for (size_t i = 0; i < np; i++) {
        unsigned len;
        uint32_t a;
        uint32_t r = rnd() % 10;
        if (i > 0 && r < 4) { /* inside an earlier prefix: nesting */
            const p4 *q = &p[rnd() % i];
            len = q->len + rnd() % (33 - q->len);
            a = (q->addr | (rnd() & ~mask4(q->len))) & mask4(len);
        } else if (i > 0 && r == 4) { /* the same prefix again, maybe with another value */
            const p4 *q = &p[rnd() % i];
            len = q->len;
            a = q->addr;
        } else {
            len = rnd() % 100 < 2 ? 0 : rnd() % 33;
            a = rnd() & mask4(len);
        }
        p[i] = (p4){a, rnd() % 50, len};
        add4(b, a, len, p[i].value);
    }
    netindex *ix = build(b);
    uint32_t *addrs = xmalloc(nl * sizeof *addrs), *out = xmalloc(nl * sizeof *out);
    for (size_t i = 0; i < nl; i++) {
        const p4 *q = &p[rnd() % np];
        uint32_t end = q->addr | ~mask4(q->len);
        switch (rnd() % 6) {
        case 0: addrs[i] = q->addr; break;
        case 1: addrs[i] = end; break;
        case 2: addrs[i] = q->addr - 1; break;
        case 3: addrs[i] = end + 1; break;
        case 4: addrs[i] = q->addr | (rnd() & ~mask4(q->len)); break;
        default: addrs[i] = rnd(); break;
        }
    }
    netindex_lookup_v4_many(ix, addrs, out, nl);
    for (size_t i = 0; i < nl; i++) {
        int blen;
        uint32_t want = brute4(p, np, addrs[i], &blen);
        uint32_t pre = 1;
        unsigned len = 99;
        uint32_t got = netindex_match_v4(ix, addrs[i], &pre, &len);
        if (got != want || out[i] != want || netindex_lookup_v4(ix, addrs[i]) != want)
            fail_msg("%08x: index %u (many %u), brute force %u", addrs[i], got, out[i], want);
        if (want != NETINDEX_NONE && (len != (unsigned)blen || pre != (addrs[i] & mask4(len))))
            fail_msg("%08x: matched %08x/%u, brute force /%d", addrs[i], pre, len, blen);
    }
    netindex_stats st;
    netindex_stats_get(ix, &st);
    assert_true(st.v4_intervals <= 2 * st.v4_prefixes + 1);
    free(addrs);
    free(out);
    free(p);
    netindex_free(ix);
}

static void test_random_v4(void **state)
{
    (void)state;
    random_v4_round(2000, 200000);
    for (int r = 0; r < 50; r++) /* small sets hit the edge cases more often */
        random_v4_round(1 + rnd() % 40, 2000);
}

typedef unsigned __int128 u128;

typedef struct {
    u128 addr;
    uint32_t value;
    unsigned len;
} p6;

static u128 mask6(unsigned len)
{
    return len ? ~(u128)0 << (128 - len) : 0;
}

static u128 rnd128(void)
{
    u128 x = 0;
    for (int i = 0; i < 4; i++)
        x = x << 32 | rnd();
    return x;
}

static void to_bytes(u128 x, uint8_t a[16])
{
    for (int i = 15; i >= 0; i--) {
        a[i] = (uint8_t)x;
        x >>= 8;
    }
}

static void random_v6_round(size_t np, size_t nl)
{
    p6 *p = xmalloc(np * sizeof *p);
    netindex_builder *b = netindex_builder_new();
    dz_err e = {0};
    for (size_t i = 0; i < np; i++) {
        unsigned len;
        u128 a;
        uint32_t r = rnd() % 10;
        if (i > 0 && r < 4) {
            const p6 *q = &p[rnd() % i];
            len = q->len + rnd() % (129 - q->len);
            a = (q->addr | (rnd128() & ~mask6(q->len))) & mask6(len);
        } else if (i > 0 && r == 4) {
            const p6 *q = &p[rnd() % i];
            len = q->len;
            a = q->addr;
        } else {
            len = rnd() % 100 < 2 ? 0 : rnd() % 129;
            a = rnd128() & mask6(len);
        }
        p[i] = (p6){a, rnd() % 50, len};
        uint8_t bytes[16];
        to_bytes(a, bytes);
        assert_dz_ok(netindex_add_v6(b, bytes, len, p[i].value, &e), e);
    }
    netindex *ix = build(b);
    for (size_t i = 0; i < nl; i++) {
        const p6 *q = &p[rnd() % np];
        u128 end = q->addr | ~mask6(q->len), a;
        switch (rnd() % 6) {
        case 0: a = q->addr; break;
        case 1: a = end; break;
        case 2: a = q->addr - 1; break;
        case 3: a = end + 1; break;
        case 4: a = q->addr | (rnd128() & ~mask6(q->len)); break;
        default: a = rnd128(); break;
        }
        uint32_t want = NETINDEX_NONE;
        int blen = -1;
        for (size_t k = 0; k < np; k++)
            if ((a & mask6(p[k].len)) == p[k].addr && (int)p[k].len > blen) {
                blen = (int)p[k].len;
                want = p[k].value;
            }
        uint8_t bytes[16], pre[16], wantpre[16];
        unsigned len = 999;
        to_bytes(a, bytes);
        uint32_t got = netindex_match_v6(ix, bytes, pre, &len);
        if (got != want)
            fail_msg("v6 lookup %zu: index %u, brute force %u", i, got, want);
        if (want != NETINDEX_NONE) {
            to_bytes(a & mask6((unsigned)blen), wantpre);
            assert_int_equal(len, blen);
            assert_memory_equal(pre, wantpre, 16);
        }
    }
    free(p);
    netindex_free(ix);
}

static void test_random_v6(void **state)
{
    (void)state;
    random_v6_round(500, 20000);
    for (int r = 0; r < 50; r++)
        random_v6_round(1 + rnd() % 30, 1000);
}

static void test_random_asn_and_domains(void **state)
{
    (void)state;
    enum { N = 3000 };
    static uint32_t asn[N], aval[N];
    static char names[N][32];
    static uint32_t dval[N];
    netindex_builder *b = netindex_builder_new();
    dz_err e = {0};
    const char *tld[] = {"bt", "com", "org"};
    for (int i = 0; i < N; i++) {
        asn[i] = rnd() % 5000;
        aval[i] = rnd() % 100;
        assert_dz_ok(netindex_add_asn(b, asn[i], aval[i], &e), e);
        /* short labels from a tiny alphabet, so suffixes and near-misses collide often */
        int labels = 1 + (int)(rnd() % 3);
        char *s = names[i];
        for (int l = 0; l < labels; l++) {
            int ln = 1 + (int)(rnd() % 2);
            for (int c = 0; c < ln; c++)
                *s++ = (char)('a' + rnd() % 3);
            *s++ = '.';
        }
        strcpy(s, tld[rnd() % 3]);
        dval[i] = rnd() % 100;
        assert_dz_ok(netindex_add_domain(b, names[i], dval[i], &e), e);
    }
    netindex *ix = build(b);
    for (uint32_t a = 0; a < 5100; a++) {
        uint32_t want = NETINDEX_NONE;
        for (int i = 0; i < N && want == NETINDEX_NONE; i++)
            if (asn[i] == a)
                want = aval[i];
        assert_int_equal(netindex_lookup_asn(ix, a), want);
    }
    for (int t = 0; t < 20000; t++) {
        char q[64], *s = q;
        int labels = 1 + (int)(rnd() % 5);
        for (int l = 0; l < labels; l++) {
            int ln = 1 + (int)(rnd() % 2);
            for (int c = 0; c < ln; c++)
                *s++ = (char)('a' + rnd() % 3);
            *s++ = '.';
        }
        strcpy(s, tld[rnd() % 3]);
        /* brute force: the longest entry that equals q or is a suffix after a '.' */
        size_t qn = strlen(q), best = 0;
        uint32_t want = NETINDEX_NONE;
        for (int i = 0; i < N; i++) {
            size_t n = strlen(names[i]);
            if (n > qn || n <= best || strcmp(q + qn - n, names[i]) != 0)
                continue;
            if (n < qn && q[qn - n - 1] != '.')
                continue;
            best = n;
            want = dval[i];
        }
        /* the first added wins among identical names: find it */
        if (want != NETINDEX_NONE)
            for (int i = 0; i < N; i++)
                if (strlen(names[i]) == best && !strcmp(q + qn - best, names[i])) {
                    want = dval[i];
                    break;
                }
        if (netindex_lookup_domain(ix, q) != want)
            fail_msg("%s: index %u, brute force %u", q, netindex_lookup_domain(ix, q), want);
    }
    netindex_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_refuses_bad_prefixes), cmocka_unit_test(test_v4_basics),
        cmocka_unit_test(test_v4_slash0_and_duplicates), cmocka_unit_test(test_empty_index),
        cmocka_unit_test(test_v6),                       cmocka_unit_test(test_asn),
        cmocka_unit_test(test_domains),                  cmocka_unit_test(test_random_v4),
        cmocka_unit_test(test_random_v6),                cmocka_unit_test(test_random_asn_and_domains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
