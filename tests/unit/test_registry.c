/*
 * registry: shared and nested claims, covering chains (IPv4, IPv6, domains),
 * ASNs, the owner fast path, the overlap report, random data against a
 * brute-force scan, and registry_cell with readers racing a publisher.
 * Inputs are net_prefix structs made here (no parser needed).
 */
#include "unit.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "lib/registry.h"

static net_prefix P4(unsigned a, unsigned b, unsigned c, unsigned d, unsigned len)
{
    net_prefix p = {.family = 4, .len = (uint8_t)len};
    p.addr[0] = (uint8_t)a;
    p.addr[1] = (uint8_t)b;
    p.addr[2] = (uint8_t)c;
    p.addr[3] = (uint8_t)d;
    return p;
}

static net_prefix P4u(uint32_t a, unsigned len)
{
    return P4(a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, len);
}

static net_prefix P6(const char *s, unsigned len)
{
    net_prefix p = {.family = 6, .len = (uint8_t)len};
    assert_int_equal(inet_pton(AF_INET6, s, p.addr), 1);
    return p;
}

static void org(registry_builder *b, int64_t id, const char *name)
{
    dz_err e = {0};
    assert_dz_ok(registry_add_org(b, id, name, &e), e);
}

static void net(registry_builder *b, int64_t id, net_prefix p)
{
    dz_err e = {0};
    assert_dz_ok(registry_add_network(b, id, &p, &e), e);
}

static void asn(registry_builder *b, int64_t id, uint32_t a)
{
    dz_err e = {0};
    assert_dz_ok(registry_add_asn(b, id, a, &e), e);
}

static void dom(registry_builder *b, int64_t id, const char *d)
{
    dz_err e = {0};
    assert_dz_ok(registry_add_domain(b, id, d, &e), e);
}

static registry_index *build(registry_builder *b, int64_t version)
{
    dz_err e = {0};
    registry_index *ix = NULL;
    assert_dz_ok(registry_build(b, version, &ix, &e), e);
    assert_non_null(ix);
    return ix;
}

static const registry_claim *ip(const registry_index *ix, net_prefix p)
{
    return registry_lookup_ip(ix, &p);
}

static const char *text(const registry_claim *c)
{
    static char buf[4][DOMAIN_TEXT_MAX];
    static int k;
    char *out = buf[k++ & 3];
    registry_claim_text(c, out);
    return out;
}

/* "1,3": the claim's organisations. */
static const char *orgs(const registry_claim *c)
{
    static char buf[4][256];
    static int k;
    char *out = buf[k++ & 3];
    out[0] = '\0';
    for (size_t i = 0; c && i < c->n_orgs; i++)
        snprintf(out + strlen(out), 256 - strlen(out), "%s%lld", i ? "," : "", (long long)c->org_ids[i]);
    return out;
}

static void test_refuses_bad_input(void **state)
{
    (void)state;
    registry_builder *b = registry_builder_new();
    assert_non_null(b);
    dz_err e = {0};
    net_prefix p = P4(10, 0, 0, 0, 8);
    assert_dz_fails(registry_add_network(b, 1, &p, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "organisation 1");
    dz_err_clear(&e);
    assert_dz_fails(registry_add_org(b, 0, "zero", &e), DZ_EINVAL, e);
    dz_err_clear(&e);
    assert_dz_fails(registry_add_org(b, -5, "neg", &e), DZ_EINVAL, e);
    dz_err_clear(&e);
    assert_dz_fails(registry_add_org(b, 3, NULL, &e), DZ_EINVAL, e);
    dz_err_clear(&e);
    org(b, 1, "one");
    assert_dz_fails(registry_add_org(b, 1, "again", &e), DZ_ECONFLICT, e);
    dz_err_clear(&e);

    p = P4(10, 0, 0, 1, 8);
    assert_dz_fails(registry_add_network(b, 1, &p, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "10.0.0.1/8");
    assert_contains(e.msg, "host bits");
    dz_err_clear(&e);
    p = P4(10, 0, 0, 0, 33);
    assert_dz_fails(registry_add_network(b, 1, &p, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "0..32");
    dz_err_clear(&e);
    p = P6("2001:db8::1", 64);
    assert_dz_fails(registry_add_network(b, 1, &p, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "2001:db8::1/64");
    dz_err_clear(&e);
    p = P6("2001:db8::", 129);
    assert_dz_fails(registry_add_network(b, 1, &p, &e), DZ_EINVAL, e);
    dz_err_clear(&e);
    p.family = 5;
    assert_dz_fails(registry_add_network(b, 1, &p, &e), DZ_EINVAL, e);
    dz_err_clear(&e);
    assert_dz_fails(registry_add_network(b, 1, NULL, &e), DZ_EINVAL, e);
    dz_err_clear(&e);

    const char *bad[] = {"", ".", "a..bt", "-a.bt", "a-.bt", "a_b.bt", "b\303\274cher.bt", ".bt"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_dz_fails(registry_add_domain(b, 1, bad[i], &e), DZ_EINVAL, e);
        if (strstr(bad[i], "cher"))
            assert_contains(e.msg, "A-label");
        dz_err_clear(&e);
    }
    char longlabel[80];
    memset(longlabel, 'a', 64);
    strcpy(longlabel + 64, ".bt");
    assert_dz_fails(registry_add_domain(b, 1, longlabel, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "63");
    dz_err_clear(&e);
    char toolong[300];
    for (int i = 0; i < 127; i++)
        memcpy(toolong + 2 * i, "a.", 2);
    strcpy(toolong + 254, "bt"); /* 256 characters */
    assert_dz_fails(registry_add_domain(b, 1, toolong, &e), DZ_EINVAL, e);
    dz_err_clear(&e);
    assert_dz_fails(registry_add_domain(b, 2, "example.bt", &e), DZ_EINVAL, e);
    dz_err_clear(&e);
    assert_dz_fails(registry_add_asn(b, 2, 64512, &e), DZ_EINVAL, e);
    dz_err_clear(&e);
    /* what netindex accepts: one label, any case, a trailing dot, 63-character labels */
    dom(b, 1, "bt");
    dom(b, 1, "Example.BT.");
    memset(longlabel, 'b', 63);
    strcpy(longlabel + 63, ".bt");
    dom(b, 1, longlabel);
    registry_builder_free(b);

    assert_dz_fails(registry_add_org(NULL, 1, "x", &e), DZ_EINVAL, e);
    dz_err_clear(&e);
    assert_dz_fails(registry_build(NULL, 1, NULL, &e), DZ_EINVAL, e);
    dz_err_clear(&e);
    registry_index *ix = (registry_index *)&e; /* must be overwritten */
    assert_dz_fails(registry_build(NULL, 1, &ix, &e), DZ_EINVAL, e);
    assert_null(ix);
    registry_builder_free(NULL);
    registry_index_free(NULL);
}

static void test_empty_and_null(void **state)
{
    (void)state;
    registry_index *ix = build(registry_builder_new(), 7);
    assert_int_equal(registry_index_version(ix), 7);
    assert_null(ip(ix, P4(10, 0, 0, 1, 32)));
    assert_null(ip(ix, P6("2001:db8::1", 128)));
    assert_null(registry_lookup_asn(ix, 64512));
    assert_null(registry_lookup_domain(ix, "example.bt"));
    assert_int_equal(registry_owner_v4(ix, 0x0A000001), 0);
    assert_null(registry_org_name(ix, 1));
    assert_int_equal(registry_overlaps(ix, NULL, NULL), 0);
    registry_counts n;
    registry_index_counts(ix, &n);
    assert_int_equal(n.orgs + n.networks + n.asns + n.domains, 0);
    assert_true(n.bytes > 0);
    registry_index_free(ix);

    assert_null(ip(NULL, P4(10, 0, 0, 1, 32)));
    assert_null(registry_lookup_asn(NULL, 1));
    assert_null(registry_lookup_domain(NULL, "a.bt"));
    assert_int_equal(registry_owner_v4(NULL, 1), 0);
    assert_null(registry_org_name(NULL, 1));
    assert_int_equal(registry_index_version(NULL), -1);
    registry_index_counts(NULL, &n);
    assert_int_equal(n.bytes, 0);
    char out[DOMAIN_TEXT_MAX] = "x";
    registry_claim_text(NULL, out);
    assert_string_equal(out, "");
}

static void test_shared_claims(void **state)
{
    (void)state;
    registry_builder *b = registry_builder_new();
    org(b, 30, "druk-net");
    org(b, 10, "bt-cirt");
    org(b, 20, "gov");
    net(b, 30, P4(192, 0, 2, 0, 24));
    net(b, 10, P4(192, 0, 2, 0, 24));
    net(b, 30, P4(192, 0, 2, 0, 24)); /* the same org again: one entry */
    net(b, 20, P6("2001:db8::", 32));
    net(b, 10, P6("2001:db8::", 32));
    asn(b, 20, 64512);
    asn(b, 30, 64512);
    asn(b, 20, 64512);
    dom(b, 30, "example.bt");
    dom(b, 20, "EXAMPLE.bt.");
    dom(b, 10, "other.bt");
    registry_index *ix = build(b, 1);

    const registry_claim *c = ip(ix, P4(192, 0, 2, 200, 32));
    assert_non_null(c);
    assert_int_equal(c->kind, CLAIM_NETWORK);
    assert_string_equal(text(c), "192.0.2.0/24");
    assert_string_equal(orgs(c), "10,30");
    assert_null(c->covering);
    assert_ptr_equal(ip(ix, P4(192, 0, 2, 0, 32)), c); /* one struct per claim */
    assert_ptr_equal(ip(ix, P4(192, 0, 2, 0, 24)), c);
    assert_null(ip(ix, P4(192, 0, 2, 0, 23)));
    assert_int_equal(registry_owner_v4(ix, 0xC0000263), 10); /* the lowest id */
    assert_int_equal(registry_owner_v4(ix, 0xC0000300), 0);

    c = ip(ix, P6("2001:db8:ffff::1", 128));
    assert_string_equal(text(c), "2001:db8::/32");
    assert_string_equal(orgs(c), "10,20");
    c = registry_lookup_asn(ix, 64512);
    assert_int_equal(c->kind, CLAIM_ASN);
    assert_int_equal(c->asn, 64512);
    assert_string_equal(text(c), "AS64512");
    assert_string_equal(orgs(c), "20,30");
    assert_null(c->covering);
    assert_null(registry_lookup_asn(ix, 64513));
    c = registry_lookup_domain(ix, "www.Example.BT.");
    assert_int_equal(c->kind, CLAIM_DOMAIN);
    assert_string_equal(c->domain, "example.bt");
    assert_string_equal(text(c), "example.bt");
    assert_string_equal(orgs(c), "20,30");
    assert_string_equal(orgs(registry_lookup_domain(ix, "other.bt")), "10");
    assert_null(registry_lookup_domain(ix, "badexample.bt"));

    assert_string_equal(registry_org_name(ix, 10), "bt-cirt");
    assert_string_equal(registry_org_name(ix, 20), "gov");
    assert_string_equal(registry_org_name(ix, 30), "druk-net");
    assert_null(registry_org_name(ix, 15));
    assert_null(registry_org_name(ix, 0));

    registry_counts n;
    registry_index_counts(ix, &n);
    assert_int_equal(n.orgs, 3);
    assert_int_equal(n.networks, 2);
    assert_int_equal(n.asns, 1);
    assert_int_equal(n.domains, 2);
    assert_int_equal(registry_overlaps(ix, NULL, NULL), 4); /* four shared claims, nothing nested */
    registry_index_free(ix);
}

static void test_nested_v4(void **state)
{
    (void)state;
    registry_builder *b = registry_builder_new();
    org(b, 1, "isp");
    org(b, 2, "ministry");
    org(b, 3, "hospital");
    net(b, 2, P4(10, 1, 0, 0, 16));
    net(b, 3, P4(10, 1, 2, 3, 32));
    net(b, 1, P4(10, 0, 0, 0, 8));
    net(b, 1, P4(10, 1, 2, 0, 24));
    net(b, 1, P4(10, 1, 3, 0, 24)); /* adjacent */
    net(b, 1, P4(0, 0, 0, 0, 0));
    net(b, 3, P4(255, 255, 255, 255, 32));
    registry_index *ix = build(b, 2);

    const registry_claim *h = ip(ix, P4(10, 1, 2, 3, 32));
    assert_string_equal(text(h), "10.1.2.3/32");
    assert_string_equal(orgs(h), "3");
    const registry_claim *c24 = h->covering, *c16 = c24->covering, *c8 = c16->covering, *c0 = c8->covering;
    assert_string_equal(text(c24), "10.1.2.0/24");
    assert_string_equal(orgs(c24), "1");
    assert_string_equal(text(c16), "10.1.0.0/16");
    assert_string_equal(orgs(c16), "2");
    assert_string_equal(text(c8), "10.0.0.0/8");
    assert_string_equal(text(c0), "0.0.0.0/0");
    assert_null(c0->covering);
    assert_ptr_equal(ip(ix, P4(10, 1, 2, 4, 32)), c24);
    assert_ptr_equal(ip(ix, P4(10, 1, 3, 4, 32))->covering, c16);
    assert_ptr_equal(ip(ix, P4(10, 1, 4, 0, 32)), c16);
    assert_ptr_equal(ip(ix, P4(10, 2, 0, 0, 32)), c8);
    assert_ptr_equal(ip(ix, P4(11, 0, 0, 0, 32)), c0);
    assert_ptr_equal(ip(ix, P4(255, 255, 255, 254, 32)), c0);
    assert_ptr_equal(ip(ix, P4(255, 255, 255, 255, 32))->covering, c0);
    /* a prefix: the most specific claim holding all of it */
    assert_ptr_equal(ip(ix, P4(10, 1, 2, 0, 24)), c24);
    assert_ptr_equal(ip(ix, P4(10, 1, 2, 0, 23)), c16);
    assert_ptr_equal(ip(ix, P4(10, 1, 2, 0, 31)), c24);
    assert_ptr_equal(ip(ix, P4(10, 1, 2, 3, 24)), c24); /* host bits are ignored */
    assert_ptr_equal(ip(ix, P4(0, 0, 0, 0, 0)), c0);
    net_prefix bad = P4(10, 0, 0, 0, 40);
    assert_null(registry_lookup_ip(ix, &bad));

    assert_int_equal(registry_owner_v4(ix, 0x0A010203), 3);
    assert_int_equal(registry_owner_v4(ix, 0x0A010204), 1);
    assert_int_equal(registry_owner_v4(ix, 0x0A01FF00), 2);
    assert_int_equal(registry_owner_v4(ix, 0x0AFF0000), 1);
    assert_int_equal(registry_owner_v4(ix, 0x0B000000), 1);
    registry_index_free(ix);
}

static void test_nested_v6(void **state)
{
    (void)state;
    registry_builder *b = registry_builder_new();
    org(b, 1, "isp");
    org(b, 2, "bank");
    net(b, 1, P6("2001:db8::", 32));
    net(b, 2, P6("2001:db8:1::", 48));
    net(b, 1, P6("2001:db8:1::1", 128));
    net(b, 2, P6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00", 120));
    net(b, 1, P4(10, 0, 0, 0, 8)); /* another family does not cover */
    registry_index *ix = build(b, 1);
    const registry_claim *h = ip(ix, P6("2001:db8:1::1", 128));
    assert_string_equal(text(h), "2001:db8:1::1/128");
    assert_int_equal(h->network.family, 6);
    assert_int_equal(h->network.len, 128);
    assert_string_equal(text(h->covering), "2001:db8:1::/48");
    assert_string_equal(orgs(h->covering), "2");
    assert_string_equal(text(h->covering->covering), "2001:db8::/32");
    assert_null(h->covering->covering->covering);
    assert_ptr_equal(ip(ix, P6("2001:db8:1::2", 128)), h->covering);
    assert_ptr_equal(ip(ix, P6("2001:db8:2::", 128)), h->covering->covering);
    assert_ptr_equal(ip(ix, P6("2001:db8:1::", 47)), h->covering->covering);
    assert_null(ip(ix, P6("2001:db9::", 128)));
    assert_null(ip(ix, P6("::a00:1", 128))); /* ::10.0.0.1 is not 10.0.0.1 */
    assert_string_equal(text(ip(ix, P6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128))),
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120");
    assert_null(ip(ix, P4(0, 0, 0, 0, 32)));
    registry_index_free(ix);
}

static void test_domains_and_asns(void **state)
{
    (void)state;
    registry_builder *b = registry_builder_new();
    org(b, 5, "registry");
    org(b, 6, "gov");
    org(b, 7, "school");
    dom(b, 5, "example");
    dom(b, 6, "b.example");
    dom(b, 7, "a.b.example");
    dom(b, 6, "gov.bt");
    asn(b, 6, 64512);
    asn(b, 7, 4200000000u);
    asn(b, 5, 0);
    registry_index *ix = build(b, 1);
    const registry_claim *a = registry_lookup_domain(ix, "x.y.A.b.example.");
    assert_string_equal(text(a), "a.b.example");
    assert_string_equal(orgs(a), "7");
    assert_string_equal(text(a->covering), "b.example");
    assert_string_equal(text(a->covering->covering), "example");
    assert_null(a->covering->covering->covering);
    assert_ptr_equal(registry_lookup_domain(ix, "c.example"), a->covering->covering);
    assert_ptr_equal(registry_lookup_domain(ix, "b.example"), a->covering);
    assert_ptr_equal(registry_lookup_domain(ix, "xa.b.example"), a->covering);
    assert_null(registry_lookup_domain(ix, "bexample"));
    assert_null(registry_lookup_domain(ix, "bt"));
    assert_null(registry_lookup_domain(ix, ""));
    assert_null(registry_lookup_domain(ix, NULL));
    assert_null(registry_lookup_domain(ix, "moe.gov.bt")->covering);
    assert_string_equal(text(registry_lookup_asn(ix, 4200000000u)), "AS4200000000");
    assert_string_equal(orgs(registry_lookup_asn(ix, 0)), "5");
    assert_null(registry_lookup_asn(ix, 64512)->covering);
    assert_int_equal(registry_owner_v4(ix, 0), 0);
    registry_index_free(ix);
}

static void test_large_org_ids(void **state)
{
    (void)state;
    registry_builder *b = registry_builder_new();
    org(b, 5000000000ll, "big");
    org(b, 4294967295ll, "edge");
    org(b, 3, "small");
    net(b, 5000000000ll, P4(10, 0, 0, 0, 8));
    net(b, 4294967295ll, P4(10, 1, 0, 0, 16));
    net(b, 3, P4(10, 2, 0, 0, 16));
    net(b, 5000000000ll, P4(10, 2, 0, 0, 16));
    registry_index *ix = build(b, 1);
    assert_int_equal(registry_owner_v4(ix, 0x0A000001), 5000000000ll);
    assert_int_equal(registry_owner_v4(ix, 0x0A010001), 4294967295ll);
    assert_int_equal(registry_owner_v4(ix, 0x0A020001), 3);
    assert_string_equal(orgs(ip(ix, P4(10, 0, 0, 1, 32))), "5000000000");
    assert_string_equal(orgs(ip(ix, P4(10, 2, 0, 1, 32))), "3,5000000000");
    assert_string_equal(registry_org_name(ix, 5000000000ll), "big");
    registry_index_free(ix);

    b = registry_builder_new(); /* ids that fit 32 bits are kept as ids; UINT32_MAX is one */
    org(b, 4294967295ll, "edge");
    net(b, 4294967295ll, P4(10, 0, 0, 0, 8));
    ix = build(b, 1);
    assert_int_equal(registry_owner_v4(ix, 0x0A000001), 4294967295ll);
    assert_string_equal(orgs(ip(ix, P4(10, 0, 0, 1, 32))), "4294967295");
    registry_index_free(ix);
}

/* ---- the overlap report ---- */

typedef struct {
    char lines[64][160];
    int n;
} report;

static void collect(void *arg, overlap_kind kind, const registry_claim *claim, const registry_claim *outer)
{
    report *r = arg;
    assert_true(r->n < 64);
    if (kind == OVERLAP_SHARED) {
        assert_null(outer);
        snprintf(r->lines[r->n++], 160, "shared %s [%s]", text(claim), orgs(claim));
    } else {
        assert_ptr_equal(outer, claim->covering);
        snprintf(r->lines[r->n++], 160, "nested %s [%s] in %s [%s]", text(claim), orgs(claim), text(outer),
                 orgs(outer));
    }
}

static void test_overlap_report(void **state)
{
    (void)state;
    registry_builder *b = registry_builder_new();
    org(b, 4, "d");
    org(b, 1, "a");
    org(b, 2, "b");
    org(b, 3, "c");
    /* added out of order on purpose */
    dom(b, 2, "x.example.bt");
    dom(b, 1, "example.bt");
    dom(b, 1, "y.example.bt");  /* same org as its parent: no overlap */
    dom(b, 3, "a.x.example.bt");
    dom(b, 4, "a.x.example.bt");
    asn(b, 3, 65000);
    asn(b, 1, 64512);
    asn(b, 2, 64512);
    net(b, 2, P6("2001:db8:1::", 48));
    net(b, 1, P6("2001:db8::", 32));
    net(b, 1, P4(192, 0, 2, 0, 24));
    net(b, 2, P4(10, 1, 0, 0, 16));
    net(b, 1, P4(10, 0, 0, 0, 8));
    net(b, 1, P4(10, 2, 0, 0, 16)); /* same org as its cover */
    net(b, 3, P4(10, 1, 0, 0, 24));
    net(b, 2, P4(10, 1, 0, 0, 24)); /* shared, inside a claim of org 2 alone: also nested */
    net(b, 2, P4(10, 1, 0, 7, 32)); /* inside the shared one: nested */
    net(b, 2, P4(10, 0, 0, 0, 16));
    registry_index *ix = build(b, 1);
    report r = {0};
    size_t n = registry_overlaps(ix, collect, &r);
    const char *want[] = {
        "nested 10.0.0.0/16 [2] in 10.0.0.0/8 [1]",
        "nested 10.1.0.0/16 [2] in 10.0.0.0/8 [1]",
        "shared 10.1.0.0/24 [2,3]",
        "nested 10.1.0.0/24 [2,3] in 10.1.0.0/16 [2]",
        "nested 10.1.0.7/32 [2] in 10.1.0.0/24 [2,3]",
        "nested 2001:db8:1::/48 [2] in 2001:db8::/32 [1]",
        "shared AS64512 [1,2]",
        "shared a.x.example.bt [3,4]",
        "nested a.x.example.bt [3,4] in x.example.bt [2]",
        "nested x.example.bt [2] in example.bt [1]",
    };
    size_t nw = sizeof want / sizeof *want;
    for (int i = 0; i < r.n; i++)
        if (i >= (int)nw || strcmp(r.lines[i], want[i]) != 0)
            fail_msg("line %d: got '%s', want '%s'", i, r.lines[i], i < (int)nw ? want[i] : "(nothing)");
    assert_int_equal(r.n, nw);
    assert_int_equal(n, nw);
    assert_int_equal(registry_overlaps(ix, NULL, NULL), nw); /* a count without a callback */
    registry_index_free(ix);
}

/* ---- random data against a brute-force scan ---- */

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#define NORG 40
static int64_t org_of(unsigned k) /* ascending with k */
{
    return 1000 + 7 * (int64_t)k;
}

/* The claim must have exactly the organisations in the bit set. */
static void check_orgs(const registry_claim *c, uint64_t set)
{
    size_t k = 0;
    for (unsigned o = 0; o < NORG; o++)
        if (set >> o & 1) {
            if (k >= c->n_orgs || c->org_ids[k] != org_of(o))
                fail_msg("%s: organisations %s, expected org %lld at %zu", text(c), orgs(c), (long long)org_of(o), k);
            k++;
        }
    assert_int_equal(c->n_orgs, k);
}

static uint32_t mask4(unsigned len)
{
    return len ? ~0u << (32 - len) : 0;
}

typedef struct {
    int shared, nested, calls;
    int last_family;
    uint8_t last_addr[16];
    int last_len;
} order_check;

static void check_order(void *arg, overlap_kind kind, const registry_claim *claim, const registry_claim *outer)
{
    order_check *o = arg;
    o->calls++;
    assert_int_equal(claim->kind, CLAIM_NETWORK);
    if (kind == OVERLAP_SHARED) {
        assert_null(outer);
        assert_true(claim->n_orgs > 1);
    } else {
        assert_ptr_equal(outer, claim->covering);
    }
    int fam = claim->network.family, cmp = 0;
    if (fam != o->last_family)
        cmp = fam > o->last_family ? 1 : -1;
    else if ((cmp = memcmp(claim->network.addr, o->last_addr, 16)) == 0)
        cmp = claim->network.len - o->last_len;
    if (cmp < 0 || (cmp == 0 && kind == OVERLAP_SHARED))
        fail_msg("overlap for %s out of order", text(claim));
    o->last_family = fam;
    memcpy(o->last_addr, claim->network.addr, 16);
    o->last_len = claim->network.len;
}

static void test_random_v4(void **state)
{
    (void)state;
    enum { N = 3000, Q = 8000 };
    static uint32_t ea[N];
    static uint8_t el[N];
    static uint8_t eo[N];
    registry_builder *b = registry_builder_new();
    for (unsigned k = 0; k < NORG; k++) {
        char name[16];
        snprintf(name, sizeof name, "org%u", k);
        org(b, org_of(k), name);
    }
    for (int i = 0; i < N; i++) {
        if (i > 10 && rnd() % 8 == 0) { /* the same prefix again, often by another org */
            int j = (int)(rnd() % (uint64_t)i);
            ea[i] = ea[j];
            el[i] = el[j];
        } else {
            unsigned r = (unsigned)(rnd() % 100);
            el[i] = (uint8_t)(r < 2 ? 0 : r < 10 ? 8 + rnd() % 8 : r < 70 ? 16 + rnd() % 9 : 25 + rnd() % 8);
            /* four /8s, so prefixes nest a lot */
            uint32_t a = (uint32_t)(rnd() % 4) << 24 | (uint32_t)(rnd() & 0x00FFFFFF);
            ea[i] = a & mask4(el[i]);
        }
        eo[i] = (uint8_t)(rnd() % NORG);
        net(b, org_of(eo[i]), P4u(ea[i], el[i]));
    }
    registry_index *ix = build(b, 1);

    for (int q = 0; q < Q; q++) {
        uint32_t a;
        if (q % 2) {
            int i = (int)(rnd() % N);
            a = ea[i] | ((uint32_t)rnd() & ~mask4(el[i]));
        } else {
            a = (uint32_t)(rnd() % 5) << 24 | (uint32_t)(rnd() & 0x00FFFFFF);
        }
        /* the containing prefixes, one per length: their organisations */
        uint64_t set[33] = {0};
        for (int i = 0; i < N; i++)
            if ((a & mask4(el[i])) == ea[i])
                set[el[i]] |= 1ull << eo[i];
        const registry_claim *c = ip(ix, P4u(a, 32));
        int64_t owner = 0;
        for (int len = 32; len >= 0; len--) {
            if (!set[len])
                continue;
            if (!owner)
                owner = org_of((unsigned)__builtin_ctzll(set[len]));
            if (!c)
                fail_msg("%08x: no claim for the /%d", a, len);
            assert_int_equal(c->kind, CLAIM_NETWORK);
            assert_int_equal(c->network.family, 4);
            if (c->network.len != len)
                fail_msg("%08x: %s, expected a /%d", a, text(c), len);
            net_prefix want = P4u(a & mask4((unsigned)len), (unsigned)len);
            assert_memory_equal(c->network.addr, want.addr, 16);
            check_orgs(c, set[len]);
            c = c->covering;
        }
        if (c)
            fail_msg("%08x: %s is left over", a, text(c));
        assert_int_equal(registry_owner_v4(ix, a), owner);
        /* a prefix around a: the most specific claim holding all of it */
        unsigned L = (unsigned)(rnd() % 33);
        int want = -1;
        for (int len = (int)L; len >= 0 && want < 0; len--)
            if (set[len])
                want = len;
        c = ip(ix, P4u(a & mask4(L), L));
        if (want < 0 ? c != NULL : !c || c->network.len != want)
            fail_msg("%08x/%u: %s, expected a /%d", a & mask4(L), L, c ? text(c) : "nothing", want);
    }

    /* the batch owner path agrees with the single one (odd sizes cross its chunks) */
    {
        enum { M = 1000 };
        uint32_t addrs[M];
        int64_t owners[M];
        for (int i = 0; i < M; i++)
            addrs[i] = i % 3 ? ea[rnd() % N] : (uint32_t)(rnd() % 5) << 24 | (uint32_t)(rnd() & 0x00FFFFFF);
        registry_owner_v4_many(ix, addrs, owners, M);
        for (int i = 0; i < M; i++)
            assert_int_equal(owners[i], registry_owner_v4(ix, addrs[i]));
        registry_owner_v4_many(NULL, addrs, owners, 3);
        assert_int_equal(owners[0] | owners[1] | owners[2], 0);
    }

    /* the overlap report: counts by brute force, order checked as it comes */
    int shared = 0, nested = 0;
    for (int i = 0; i < N; i++) {
        bool first = true;
        uint64_t mine = 0;
        for (int j = 0; j < N; j++) {
            if (ea[j] == ea[i] && el[j] == el[i]) {
                if (j < i)
                    first = false;
                mine |= 1ull << eo[j];
            }
        }
        if (!first)
            continue;
        shared += __builtin_popcountll(mine) > 1;
        int best = -1;
        uint64_t outer = 0;
        for (int j = 0; j < N; j++)
            if (el[j] < el[i] && (ea[i] & mask4(el[j])) == ea[j] && el[j] >= best) {
                if (el[j] > best)
                    outer = 0;
                best = el[j];
                outer |= 1ull << eo[j];
            }
        nested += best >= 0 && outer != mine;
    }
    order_check oc = {.last_family = 0};
    size_t n = registry_overlaps(ix, check_order, &oc);
    assert_int_equal(n, (size_t)(shared + nested));
    assert_int_equal(oc.calls, shared + nested);
    assert_true(shared > 10 && nested > 100);

    registry_counts cnt;
    registry_index_counts(ix, &cnt);
    assert_int_equal(cnt.orgs, NORG);
    registry_index_free(ix);
}

static void v6_of(const uint64_t x[2], uint8_t out[16])
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(x[0] >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(x[1] >> (56 - 8 * i));
    }
}

static void mask6(const uint64_t in[2], unsigned len, uint64_t out[2])
{
    out[0] = len == 0 ? 0 : len >= 64 ? in[0] : in[0] & (~0ull << (64 - len));
    out[1] = len <= 64 ? 0 : len == 128 ? in[1] : in[1] & (~0ull << (128 - len));
}

static void test_random_v6(void **state)
{
    (void)state;
    enum { N = 800, Q = 3000 };
    static uint64_t ea[N][2];
    static uint8_t el[N], eo[N];
    registry_builder *b = registry_builder_new();
    for (unsigned k = 0; k < NORG; k++)
        org(b, org_of(k), "o");
    for (int i = 0; i < N; i++) {
        if (i > 10 && rnd() % 8 == 0) {
            int j = (int)(rnd() % (uint64_t)i);
            memcpy(ea[i], ea[j], sizeof ea[i]);
            el[i] = el[j];
        } else {
            unsigned r = (unsigned)(rnd() % 100);
            el[i] = (uint8_t)(r < 2 ? 0 : r < 30 ? 16 + rnd() % 33 : r < 80 ? 48 + rnd() % 33 : 81 + rnd() % 48);
            /* few distinct top bits so prefixes nest */
            uint64_t x[2] = {0x20010db800000000ull | (rnd() & 0x3) << 30 | (rnd() & 0x3) << 16 | (rnd() & 1),
                             rnd() & 0xFF000000000000FFull};
            mask6(x, el[i], ea[i]);
        }
        eo[i] = (uint8_t)(rnd() % NORG);
        net_prefix p = {.family = 6, .len = el[i]};
        v6_of(ea[i], p.addr);
        net(b, org_of(eo[i]), p);
    }
    registry_index *ix = build(b, 1);
    for (int q = 0; q < Q; q++) {
        uint64_t a[2];
        int i = (int)(rnd() % N);
        a[0] = ea[i][0];
        a[1] = ea[i][1];
        if (q % 3 == 0)
            a[1] |= rnd() & 0x00000000000000FFull;
        else if (q % 3 == 1)
            a[0] |= rnd() & 0xFFFF, a[1] ^= rnd() & 0xFF00000000000000ull;
        static uint64_t set[129];
        memset(set, 0, sizeof set);
        for (int j = 0; j < N; j++) {
            uint64_t m[2];
            mask6(a, el[j], m);
            if (m[0] == ea[j][0] && m[1] == ea[j][1])
                set[el[j]] |= 1ull << eo[j];
        }
        net_prefix p = {.family = 6, .len = 128};
        v6_of(a, p.addr);
        const registry_claim *c = registry_lookup_ip(ix, &p);
        for (int len = 128; len >= 0; len--) {
            if (!set[len])
                continue;
            if (!c)
                fail_msg("query %d: no claim for the /%d", q, len);
            if (c->network.len != len)
                fail_msg("query %d: %s, expected a /%d", q, text(c), len);
            uint64_t m[2];
            uint8_t want[16];
            mask6(a, (unsigned)len, m);
            v6_of(m, want);
            assert_int_equal(c->network.family, 6);
            assert_memory_equal(c->network.addr, want, 16);
            check_orgs(c, set[len]);
            c = c->covering;
        }
        if (c)
            fail_msg("query %d: %s is left over", q, text(c));
    }
    order_check oc = {.last_family = 0};
    registry_overlaps(ix, check_order, &oc);
    registry_index_free(ix);
}

static void test_random_domains(void **state)
{
    (void)state;
    enum { N = 400, Q = 4000 };
    static char names[N][64];
    static uint8_t eo[N];
    const char *tld[] = {"bt", "example", "test"};
    registry_builder *b = registry_builder_new();
    for (unsigned k = 0; k < NORG; k++)
        org(b, org_of(k), "o");
    for (int i = 0; i < N; i++) {
        char *s = names[i];
        int depth = (int)(rnd() % 4);
        for (int d = 0; d < depth; d++) {
            int ll = 1 + (int)(rnd() % 2);
            for (int k = 0; k < ll; k++)
                *s++ = (char)('a' + rnd() % 3);
            *s++ = '.';
        }
        strcpy(s, tld[rnd() % 3]);
        eo[i] = (uint8_t)(rnd() % NORG);
        dom(b, org_of(eo[i]), names[i]);
    }
    registry_index *ix = build(b, 1);
    for (int q = 0; q < Q; q++) {
        char qn[80], *s = qn;
        int depth = (int)(rnd() % 5);
        for (int d = 0; d < depth; d++) {
            int ll = 1 + (int)(rnd() % 2);
            for (int k = 0; k < ll; k++)
                *s++ = (char)('a' + rnd() % 3);
            *s++ = '.';
        }
        strcpy(s, tld[rnd() % 3]);
        /* registered names the query equals or ends in after a dot, longest first */
        size_t ql = strlen(qn);
        const registry_claim *c = registry_lookup_domain(ix, qn);
        for (size_t len = ql; len > 0; len--) {
            if (len < ql && qn[ql - len - 1] != '.')
                continue;
            uint64_t set = 0;
            for (int i = 0; i < N; i++)
                if (strlen(names[i]) == len && !strcmp(names[i], qn + ql - len))
                    set |= 1ull << eo[i];
            if (!set)
                continue;
            if (!c)
                fail_msg("%s: no claim for %s", qn, qn + ql - len);
            assert_int_equal(c->kind, CLAIM_DOMAIN);
            assert_string_equal(c->domain, qn + ql - len);
            check_orgs(c, set);
            c = c->covering;
        }
        if (c)
            fail_msg("%s: %s is left over", qn, text(c));
    }
    registry_index_free(ix);
}

/* ---- claim structs made by several threads at once ---- */

enum { MAT_THREADS = 4, MAT_NETS = 3000 };

typedef struct {
    const registry_index *ix;
    unsigned seed;
    const registry_claim *got[MAT_NETS];
} mat_arg;

static void *materialiser(void *p)
{
    mat_arg *m = p;
    for (unsigned k = 0; k < MAT_NETS; k++) {
        unsigned i = (k * 7919u + m->seed * 1543u) % MAT_NETS; /* another order in each thread */
        net_prefix a = P4(10, i / 256, i % 256, 1, 32);
        m->got[i] = registry_lookup_ip(m->ix, &a);
    }
    return NULL;
}

static void test_concurrent_claims(void **state)
{
    (void)state;
    registry_builder *b = registry_builder_new();
    org(b, 1, "isp");
    org(b, 2, "customers");
    net(b, 1, P4(10, 0, 0, 0, 8));
    for (unsigned i = 0; i < MAT_NETS; i++)
        net(b, 1 + i % 2, P4(10, i / 256, i % 256, 0, 24));
    registry_index *ix = build(b, 1);
    pthread_t th[MAT_THREADS];
    static mat_arg ma[MAT_THREADS];
    for (unsigned t = 0; t < MAT_THREADS; t++) {
        ma[t] = (mat_arg){.ix = ix, .seed = t};
        assert_int_equal(pthread_create(&th[t], NULL, materialiser, &ma[t]), 0);
    }
    for (unsigned t = 0; t < MAT_THREADS; t++)
        pthread_join(th[t], NULL);
    const registry_claim *top = ma[0].got[0]->covering;
    assert_non_null(top);
    assert_string_equal(text(top), "10.0.0.0/8");
    for (unsigned i = 0; i < MAT_NETS; i++) {
        const registry_claim *c = ma[0].got[i];
        assert_non_null(c);
        assert_int_equal(c->network.len, 24);
        assert_int_equal(c->network.addr[1], i / 256);
        assert_int_equal(c->network.addr[2], i % 256);
        assert_int_equal(c->org_ids[0], 1 + i % 2);
        assert_ptr_equal(c->covering, top);
        for (unsigned t = 1; t < MAT_THREADS; t++)
            assert_ptr_equal(ma[t].got[i], c); /* one struct per claim, whoever made it */
    }
    registry_counts n;
    registry_index_counts(ix, &n);
    assert_int_equal(n.networks, MAT_NETS + 1);
    registry_index_free(ix);
}

/* ---- registry_cell ---- */

enum { READERS = 4, VERSIONS = 200 };

typedef struct {
    registry_cell *cell;
    atomic_bool *done;
    long reads, seen, versions; /* versions: how many different ones this reader saw */
    int64_t last;
    char err[200];
} reader_arg;

static void *reader(void *p)
{
    reader_arg *r = p;
    r->last = 0;
    while (!atomic_load(r->done)) {
        for (int k = 0; k < 64; k++) {
            registry_ticket t;
            const registry_index *ix = registry_cell_enter(r->cell, &t);
            r->reads++;
            if (ix) {
                int64_t v = registry_index_version(ix);
                net_prefix a = P4(10, 1, 2, 3, 32);
                const registry_claim *c = registry_lookup_ip(ix, &a);
                const char *name = registry_org_name(ix, v);
                char want[32];
                snprintf(want, sizeof want, "org-%lld", (long long)v);
                if (v < r->last || v < 1 || v > VERSIONS)
                    snprintf(r->err, sizeof r->err, "version %lld after %lld", (long long)v, (long long)r->last);
                else if (registry_owner_v4(ix, 0x0A010203) != v)
                    snprintf(r->err, sizeof r->err, "version %lld: owner %lld", (long long)v,
                             (long long)registry_owner_v4(ix, 0x0A010203));
                else if (!c || c->n_orgs != 1 || c->org_ids[0] != v || !c->covering ||
                         c->covering->org_ids[0] != v)
                    snprintf(r->err, sizeof r->err, "version %lld: bad claim", (long long)v);
                else if (!name || strcmp(name, want) != 0)
                    snprintf(r->err, sizeof r->err, "version %lld: name %s", (long long)v, name ? name : "(null)");
                r->versions += v != r->last;
                r->last = v;
                r->seen++;
            }
            registry_cell_leave(r->cell, t);
            if (r->err[0])
                return NULL;
        }
        /* real readers do other work between sections; four spinning ones on two cores would
           mostly measure how long the publisher waits for a preempted reader */
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static registry_index *make_version(int64_t v)
{
    registry_builder *b = registry_builder_new();
    char name[32];
    snprintf(name, sizeof name, "org-%lld", (long long)v);
    org(b, v, name);
    org(b, v + 1000, "other"); /* nothing of the reader's, but claims exist */
    net(b, v, P4(10, 0, 0, 0, 8));
    net(b, v, P4(10, 1, 2, 0, 24));
    for (unsigned i = 0; i < 64; i++)
        net(b, v + 1000, P4(10, 2, i, 0, 24));
    return build(b, v);
}

static void test_cell(void **state)
{
    (void)state;
    registry_cell cell;
    registry_cell_init(&cell);
    assert_int_equal(registry_cell_version(&cell), -1);
    registry_ticket t;
    assert_null(registry_cell_enter(&cell, &t));
    registry_cell_leave(&cell, t);

    atomic_bool done;
    atomic_init(&done, false);
    pthread_t th[READERS];
    static reader_arg ra[READERS];
    for (int i = 0; i < READERS; i++) {
        ra[i] = (reader_arg){.cell = &cell, .done = &done};
        assert_int_equal(pthread_create(&th[i], NULL, reader, &ra[i]), 0);
    }
    for (int64_t v = 1; v <= VERSIONS; v++) {
        registry_cell_publish(&cell, make_version(v));
        assert_int_equal(registry_cell_version(&cell), v);
        struct timespec ts = {0, 100000}; /* let the readers see most versions */
        nanosleep(&ts, NULL);
    }
    atomic_store(&done, true);
    long seen = 0, versions = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        if (ra[i].err[0])
            fail_msg("reader %d: %s", i, ra[i].err);
        seen += ra[i].seen;
        versions += ra[i].versions;
    }
    if (getenv("REGISTRY_TEST_VERBOSE"))
        print_message("readers: %ld reads of an index, %ld version changes seen (of %d x %d)\n", seen, versions,
                      READERS, VERSIONS);
    assert_true(seen > 0);
    assert_int_equal(atomic_load(&cell.readers[0]) + atomic_load(&cell.readers[1]), 0);
    assert_int_equal(registry_cell_version(&cell), VERSIONS);

    registry_cell_publish(&cell, NULL); /* empty */
    assert_int_equal(registry_cell_version(&cell), -1);
    registry_cell_publish(&cell, make_version(3));
    registry_cell_destroy(&cell); /* frees the current one */
}

/* Publishing in another thread, so the test can check that it waits. */
typedef struct {
    registry_cell *cell;
    registry_index *fresh;
    atomic_bool done;
    pthread_t th;
} publish_arg;

static void *publisher(void *p)
{
    publish_arg *a = p;
    registry_cell_publish(a->cell, a->fresh);
    atomic_store(&a->done, true);
    return NULL;
}

/*
 * Starts publishing version next while a reader holds held (version v), and
 * checks that the publish does not return, and so has not freed held, 30 ms
 * later. The caller lets the reader leave, then finish_publish().
 */
static void start_publish(publish_arg *a, registry_cell *cell, const registry_index *held, int64_t v, int64_t next)
{
    a->cell = cell;
    a->fresh = make_version(next);
    atomic_init(&a->done, false);
    assert_int_equal(pthread_create(&a->th, NULL, publisher, a), 0);
    struct timespec ts = {0, 30000000};
    nanosleep(&ts, NULL);
    assert_false(atomic_load(&a->done));
    assert_int_equal(registry_index_version(held), v); /* still there (ASan would see a free) */
    assert_int_equal(registry_owner_v4(held, 0x0A010203), v);
    assert_int_equal(registry_cell_version(cell), next); /* new readers get the new one meanwhile */
}

static void finish_publish(publish_arg *a)
{
    pthread_join(a->th, NULL);
    assert_true(atomic_load(&a->done));
}

static void test_cell_grace_period(void **state)
{
    (void)state;
    registry_cell cell;
    registry_cell_init(&cell);
    registry_cell_publish(&cell, make_version(1));
    publish_arg a;

    /* a reader inside, counted in the current epoch */
    registry_ticket t;
    const registry_index *ix = registry_cell_enter(&cell, &t);
    start_publish(&a, &cell, ix, 1, 2);
    registry_cell_leave(&cell, t);
    finish_publish(&a);

    /* a straggler: it read the epoch, was preempted across a whole publish, then counted itself
       in the epoch it had read (registry_cell_enter's steps, done by hand) */
    unsigned k = atomic_load(&cell.epoch) & 1;
    registry_cell_publish(&cell, make_version(3));
    atomic_fetch_add(&cell.readers[k], 1);
    ix = atomic_load(&cell.current);
    assert_int_equal(registry_index_version(ix), 3);
    start_publish(&a, &cell, ix, 3, 4);
    atomic_fetch_sub(&cell.readers[k], 1);
    finish_publish(&a);
    assert_int_equal(registry_cell_version(&cell), 4);
    registry_cell_destroy(&cell);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_bad_input), cmocka_unit_test(test_empty_and_null),
        cmocka_unit_test(test_shared_claims),     cmocka_unit_test(test_nested_v4),
        cmocka_unit_test(test_nested_v6),         cmocka_unit_test(test_domains_and_asns),
        cmocka_unit_test(test_large_org_ids),     cmocka_unit_test(test_overlap_report),
        cmocka_unit_test(test_random_v4),         cmocka_unit_test(test_random_v6),
        cmocka_unit_test(test_random_domains),    cmocka_unit_test(test_concurrent_claims),
        cmocka_unit_test(test_cell),              cmocka_unit_test(test_cell_grace_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
