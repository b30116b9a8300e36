/* constituent: networks, AS numbers, IDNs, enumerations, the JSON record and the CSV import/export. */
#include "unit.h"

#include <jansson.h>

#include "lib/constituent.h"
#include "lib/csv.h"
#include "lib/strbuf.h"

/* ---- networks ---- */

static void prefix_ok(const char *in, const char *canon, int family)
{
    net_prefix p;
    dz_err e = {0};
    assert_dz_ok(net_prefix_parse(in, &p, &e), e);
    char t[NET_PREFIX_TEXT_MAX];
    net_prefix_format(&p, t);
    if (strcmp(t, canon) != 0)
        fail_msg("%s: formatted as %s, expected %s", in, t, canon);
    assert_int_equal(p.family, family);
    /* the canonical form parses to the same prefix */
    net_prefix q;
    assert_dz_ok(net_prefix_parse(t, &q, &e), e);
    assert_memory_equal(&p, &q, sizeof p);
}

static void prefix_bad(const char *in, const char *msg)
{
    net_prefix p;
    dz_err e = {0};
    assert_dz_fails(net_prefix_parse(in, &p, &e), DZ_EINVAL, e);
    assert_contains(e.msg, msg);
    assert_int_equal(p.family, 0);
}

static void test_prefix_parse(void **state)
{
    (void)state;
    prefix_ok("192.0.2.0/24", "192.0.2.0/24", 4);
    prefix_ok("192.0.2.7", "192.0.2.7/32", 4);
    prefix_ok("192.0.2.7/32", "192.0.2.7/32", 4);
    prefix_ok("0.0.0.0/0", "0.0.0.0/0", 4);
    prefix_ok("255.255.255.255/32", "255.255.255.255/32", 4);
    prefix_ok("10.128.0.0/9", "10.128.0.0/9", 4);
    prefix_ok("0.0.0.0", "0.0.0.0/32", 4);
    prefix_ok("2001:db8::/32", "2001:db8::/32", 6);
    prefix_ok("2001:DB8:0:0::/32", "2001:db8::/32", 6);
    prefix_ok("::/0", "::/0", 6);
    prefix_ok("::1", "::1/128", 6);
    prefix_ok("::", "::/128", 6);
    prefix_ok("2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1/128", 6); /* RFC 5952 4.2.3 */
    prefix_ok("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1/128", 6);                 /* a single 0 stays */
    prefix_ok("2001:db8:0:0:1::", "2001:db8:0:0:1::/128", 6);                           /* the longest run */
    prefix_ok("1:0:0:2:0:0:3:4", "1::2:0:0:3:4/128", 6);                              /* the first of equals */
    prefix_ok("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", 6);
    prefix_ok("fe80::/10", "fe80::/10", 6);
    prefix_ok("::1.2.3.4", "::102:304/128", 6); /* IPv4-compatible (deprecated): plain IPv6 */
    /* IPv4-mapped IPv6 is the IPv4 network, so that each network has one form */
    prefix_ok("::ffff:192.0.2.0/120", "192.0.2.0/24", 4);
    prefix_ok("::ffff:192.0.2.1", "192.0.2.1/32", 4);
    prefix_ok("::FFFF:c000:0201", "192.0.2.1/32", 4);
    prefix_ok("::ffff:0:0/96", "0.0.0.0/0", 4);
    prefix_ok("::fffe:0:0/96", "::fffe:0:0/96", 6);

    prefix_bad("192.0.2.1/24", "192.0.2.1/24 has host bits set (network 192.0.2.0/24)");
    prefix_bad("1.0.0.0/0", "has host bits set (network 0.0.0.0/0)");
    prefix_bad("2001:db8::1/32", "2001:db8::1/32 has host bits set (network 2001:db8::/32)");
    prefix_bad("::ffff:192.0.2.1/120", "has host bits set (network ::ffff:192.0.2.0/120)");
    prefix_bad("192.0.2.0/33", "0..32");
    prefix_bad("2001:db8::/129", "0..128");
    prefix_bad("192.0.2.0/", "0..32");
    prefix_bad("192.0.2.0/024", "0..32");
    prefix_bad("192.0.2.0/+24", "not an IP");
    prefix_bad("192.0.2.0/-1", "not an IP");
    prefix_bad("192.0.2.0/24/1", "not an IP");
    prefix_bad("/24", "not an IP");
    prefix_bad("", "empty");
    prefix_bad("010.0.0.0/8", "leading zeros");
    prefix_bad("10.0.0.01", "leading zeros");
    prefix_bad(" 192.0.2.0/24", "whitespace");
    prefix_bad("192.0.2.0/24 ", "whitespace");
    prefix_bad("192.0.2.0 /24", "whitespace");
    prefix_bad("192.0.2.0/24\n", "whitespace");
    prefix_bad("192.0.2/24", "not an IP");
    prefix_bad("256.0.0.0/8", "not an IP");
    prefix_bad("1.2.3.4.5", "not an IP");
    prefix_bad("1.2.3.", "not an IP");
    prefix_bad("1..2.3", "not an IP");
    prefix_bad("0x7f.0.0.1", "not an IP");
    prefix_bad("fe80::1%eth0", "not an IP");
    prefix_bad("2001:db8:::/48", "not an IP");
    prefix_bad("1:2:3:4:5:6:7:8:9", "not an IP");
    prefix_bad("2001:db8::/0032", "0..128");
    prefix_bad("example.com", "not an IP");
    prefix_bad("1111111111111111111111111111111111111111111111111111111111111111111", "too long");
    net_prefix p;
    dz_err e = {0};
    assert_dz_fails(net_prefix_parse(NULL, &p, &e), DZ_EINVAL, e);
}

static void test_ip_address(void **state)
{
    (void)state;
    net_prefix p;
    dz_err e = {0};
    assert_dz_ok(ip_address_parse("192.0.2.7", &p, &e), e);
    assert_int_equal(p.family, 4);
    assert_int_equal(p.len, 32);
    assert_int_equal(net_prefix_v4(&p), 0xC0000207u);
    assert_dz_ok(ip_address_parse("::ffff:10.1.2.3", &p, &e), e);
    assert_int_equal(p.family, 4);
    assert_int_equal(net_prefix_v4(&p), 0x0A010203u);
    assert_dz_ok(ip_address_parse("2001:db8::7", &p, &e), e);
    assert_int_equal(p.family, 6);
    assert_int_equal(p.len, 128);
    assert_int_equal(p.addr[15], 7);
    assert_dz_fails(ip_address_parse("192.0.2.0/24", &p, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "a network was given");
    assert_dz_fails(ip_address_parse("192.0.2.07", &p, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "leading zeros");
    assert_dz_fails(ip_address_parse("", &p, &e), DZ_EINVAL, e);
    assert_dz_fails(ip_address_parse("192.0.2.7 ", &p, &e), DZ_EINVAL, e);
}

static net_prefix P(const char *s)
{
    net_prefix p;
    dz_err e = {0};
    assert_dz_ok(net_prefix_parse(s, &p, &e), e);
    return p;
}

static void test_prefix_contains(void **state)
{
    (void)state;
    net_prefix a = P("10.0.0.0/8"), b = P("10.1.0.0/16"), c = P("10.0.0.0/9"), d = P("10.128.0.0/16"),
               all4 = P("0.0.0.0/0"), all6 = P("::/0"), v6 = P("2001:db8::/32"), v6b = P("2001:db8:8000::/33"),
               host = P("10.127.255.255");
    assert_true(net_prefix_contains(&a, &b));
    assert_false(net_prefix_contains(&b, &a));
    assert_true(net_prefix_contains(&a, &a));
    assert_true(net_prefix_contains(&c, &b));
    assert_false(net_prefix_contains(&c, &d));
    assert_true(net_prefix_contains(&c, &host));
    assert_true(net_prefix_contains(&all4, &d));
    assert_false(net_prefix_contains(&all4, &v6));
    assert_false(net_prefix_contains(&all6, &a));
    assert_true(net_prefix_contains(&all6, &v6));
    assert_true(net_prefix_contains(&v6, &v6b));
    assert_false(net_prefix_contains(&v6b, &v6));
}

/* ---- AS numbers ---- */

static void asn_ok(const char *s, uint32_t want)
{
    uint32_t v;
    dz_err e = {0};
    assert_dz_ok(asn_parse(s, &v, &e), e);
    if (v != want)
        fail_msg("%s: %u, expected %u", s, v, want);
}

static void asn_bad(const char *s, const char *msg)
{
    uint32_t v = 1;
    dz_err e = {0};
    assert_dz_fails(asn_parse(s, &v, &e), DZ_EINVAL, e);
    assert_contains(e.msg, msg);
    assert_int_equal(v, 0);
}

static void test_asn(void **state)
{
    (void)state;
    asn_ok("64512", 64512);
    asn_ok("AS64512", 64512);
    asn_ok("as64512", 64512);
    asn_ok("As1", 1);
    asn_ok("1.10", 65546);
    asn_ok("AS1.10", 65546);
    asn_ok("0.1", 1); /* asdot+ */
    asn_ok("4294967295", 4294967295u);
    asn_ok("65535.65535", 4294967295u);
    asn_bad("0", "reserved");
    asn_bad("AS0", "reserved");
    asn_bad("0.0", "reserved");
    asn_bad("4294967296", "4294967295");
    asn_bad("99999999999", "not an AS number");
    asn_bad("65536.0", "asdot");
    asn_bad("1.65536", "asdot");
    asn_bad("", "empty");
    asn_bad("AS", "not an AS number");
    asn_bad("+1", "not an AS number");
    asn_bad("-1", "not an AS number");
    asn_bad(" 1", "not an AS number");
    asn_bad("1 ", "not an AS number");
    asn_bad("AS 1", "not an AS number");
    asn_bad("01", "not an AS number");
    asn_bad("1.", "asdot");
    asn_bad(".1", "asdot");
    asn_bad("1.2.3", "asdot");
    asn_bad("0x10", "not an AS number");
    asn_bad("ASN1", "not an AS number");
}

/* ---- domains ---- */

static void domain_ok(const char *in, const char *want)
{
    char out[DOMAIN_TEXT_MAX];
    dz_err e = {0};
    assert_dz_ok(domain_normalize(in, out, &e), e);
    if (strcmp(out, want) != 0)
        fail_msg("%s: %s, expected %s", in, out, want);
    /* normalising again changes nothing */
    char again[DOMAIN_TEXT_MAX];
    assert_dz_ok(domain_normalize(out, again, &e), e);
    assert_string_equal(again, out);
}

static void domain_bad(const char *in, const char *msg)
{
    char out[DOMAIN_TEXT_MAX] = "x";
    dz_err e = {0};
    assert_dz_fails(domain_normalize(in, out, &e), DZ_EINVAL, e);
    assert_contains(e.msg, msg);
    assert_string_equal(out, "");
}

static void test_domains(void **state)
{
    (void)state;
    domain_ok("example.com", "example.com");
    domain_ok("Example.COM", "example.com");
    domain_ok("example.com.", "example.com");
    domain_ok("Bücher.example", "xn--bcher-kva.example");
    domain_ok("Bücher.Example.", "xn--bcher-kva.example");
    domain_ok("ÖBB.at", "xn--bb-eka.at");
    domain_ok("XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example");
    domain_ok("xn--bcher-kva.example", "xn--bcher-kva.example");
    domain_ok("faß.de", "xn--fa-hia.de");            /* IDNA2008: ß stays ß */
    domain_ok("☃.net", "xn--n3h.net");               /* only UTS #46 transitional maps symbols */
    domain_ok("འབྲུག.bt", "xn--7cd3b3a0f3o.bt");        /* Dzongkha */
    domain_ok("gov.bt", "gov.bt");
    domain_ok("a-b.c-d.example", "a-b.c-d.example");
    domain_ok("123.example", "123.example");

    char label63[64], label64[65];
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    char name[400];
    snprintf(name, sizeof name, "%s.example", label63);
    domain_ok(name, name);
    snprintf(name, sizeof name, "%s.example", label64);
    domain_bad(name, "longer than 63");
    /* 253 characters: 63.63.63.61 */
    snprintf(name, sizeof name, "%s.%s.%s.%.61s", label63, label63, label63, label63);
    assert_int_equal(strlen(name), 253);
    domain_ok(name, name);
    char dotted[400];
    snprintf(dotted, sizeof dotted, "%s.", name); /* 254 with the root dot */
    domain_ok(dotted, name);
    snprintf(name, sizeof name, "%s.%s.%s.%.62s", label63, label63, label63, label63);
    assert_int_equal(strlen(name), 254);
    domain_bad(name, "longer than 253");

    domain_bad("", "empty");
    domain_bad(".", "empty");
    domain_bad("a..b", "empty label");
    domain_bad(".example.com", "empty label");
    domain_bad("example.com..", "empty label");
    domain_bad("-a.example", "must not start or end with '-'");
    domain_bad("a-.example", "must not start or end with '-'");
    domain_bad("localhost", "at least two labels");
    domain_bad("Bücher", "at least two labels");
    domain_bad("a_b.example", "'_' is not allowed");
    domain_bad("_dmarc.example.com", "'_' is not allowed");
    domain_bad("a*.example", "'*' is not allowed");
    domain_bad("*.example.com", "'*' is not allowed");
    domain_bad("exa mple.com", "whitespace");
    domain_bad("example.com\n", "whitespace");
    domain_bad("192.0.2.1", "numeric");
    domain_bad("xn--zz.example", "not a valid");  /* bad punycode */
    domain_bad("xn--a.example", "not a valid");   /* decodes to nothing valid */
    domain_bad("ab--c.example", "not a valid");   /* IDNA reserves "??--" */
    domain_bad("\xff.example", "not a valid");    /* not UTF-8 */
    domain_ok("💩.la", "xn--ls8h.la");             /* disallowed in IDNA2008, allowed by the transitional fallback */
    domain_bad("Bü_cher.example", "'_' is not allowed");
    char huge[2000];
    memset(huge, 'a', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    domain_bad(huge, "too long");
    char out[DOMAIN_TEXT_MAX];
    dz_err e = {0};
    assert_dz_fails(domain_normalize(NULL, out, &e), DZ_EINVAL, e);
}

/* ---- enumerations and sectors ---- */

static void test_enums(void **state)
{
    (void)state;
    dz_err e = {0};
    static const char *const kinds[] = {"government", "cii-operator", "isp",          "private",
                                        "academia",   "ngo",          "partner-cert", "other"};
    for (int i = 0; i < 8; i++) {
        org_kind k;
        assert_string_equal(org_kind_name((org_kind)i), kinds[i]);
        assert_dz_ok(org_kind_parse(kinds[i], &k, &e), e);
        assert_int_equal(k, i);
    }
    org_kind k;
    assert_dz_ok(org_kind_parse("ISP", &k, &e), e);
    assert_int_equal(k, ORG_ISP);
    assert_dz_fails(org_kind_parse("bank", &k, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "unknown organisation kind 'bank' (government, cii-operator, isp");
    assert_string_equal(org_kind_name((org_kind)99), "?");

    static const char *const roles[] = {"abuse", "security", "management", "24x7"};
    for (int i = 0; i < 4; i++) {
        contact_role r;
        assert_string_equal(contact_role_name((contact_role)i), roles[i]);
        assert_dz_ok(contact_role_parse(roles[i], &r, &e), e);
        assert_int_equal(r, i);
    }
    contact_role r;
    assert_dz_fails(contact_role_parse("boss", &r, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "abuse, security, management, 24x7");

    static const char *const ivs[] = {"immediate", "hourly", "daily", "weekly", "never"};
    for (int i = 0; i < 5; i++) {
        notify_interval v;
        assert_string_equal(notify_interval_name((notify_interval)i), ivs[i]);
        assert_dz_ok(notify_interval_parse(ivs[i], &v, &e), e);
        assert_int_equal(v, i);
    }
    notify_interval v;
    assert_dz_fails(notify_interval_parse("monthly", &v, &e), DZ_EINVAL, e);
    assert_dz_fails(notify_interval_parse(NULL, &v, &e), DZ_EINVAL, e);

    notify_format f;
    assert_dz_ok(notify_format_parse("json", &f, &e), e);
    assert_int_equal(f, NOTIFY_FORMAT_JSON);
    assert_string_equal(notify_format_name(NOTIFY_FORMAT_CSV), "csv");
    assert_dz_fails(notify_format_parse("xml", &f, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "(csv, json)");
}

static void test_sectors(void **state)
{
    (void)state;
    sector_list l;
    sector_list_default(&l);
    assert_int_equal(l.n, 10);
    static const char *const want[] = {"government", "energy", "ict-telecom", "banking-finance",
                                       "health", "transport", "water", "emergency-services",
                                       "food-agriculture", "media"};
    for (int i = 0; i < 10; i++) {
        assert_string_equal(l.names[i], want[i]);
        assert_true(sector_list_has(&l, want[i]));
    }
    assert_false(sector_list_has(&l, "mining"));
    assert_false(sector_list_has(&l, NULL));

    dz_err e = {0};
    assert_dz_ok(sector_list_parse("mining, fisheries ,hydro-power", &l, &e), e);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.names[1], "fisheries");
    assert_true(sector_list_has(&l, "hydro-power"));
    assert_dz_ok(sector_list_parse("one", &l, &e), e);
    assert_int_equal(l.n, 1);

    assert_dz_fails(sector_list_parse("", &l, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "empty name");
    assert_int_equal(l.n, 0);
    assert_dz_fails(sector_list_parse("a,,b", &l, &e), DZ_EINVAL, e);
    assert_dz_fails(sector_list_parse("a,", &l, &e), DZ_EINVAL, e);
    assert_dz_fails(sector_list_parse("Energy", &l, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "'Energy' is not a sector name");
    assert_dz_fails(sector_list_parse("a b", &l, &e), DZ_EINVAL, e);
    assert_dz_fails(sector_list_parse("a,b,a", &l, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "'a' is listed twice");
    char long_name[60];
    memset(long_name, 'x', 48);
    long_name[48] = '\0';
    assert_dz_fails(sector_list_parse(long_name, &l, &e), DZ_EINVAL, e);
    long_name[47] = '\0';
    assert_dz_ok(sector_list_parse(long_name, &l, &e), e);
    strbuf sb;
    strbuf_init(&sb);
    for (int i = 0; i < 65; i++)
        strbuf_printf(&sb, "%ss%d", i ? "," : "", i);
    assert_dz_fails(sector_list_parse(sb.buf, &l, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "more than 64");
    sb.buf[strlen(sb.buf) - 4] = '\0'; /* 64 */
    assert_dz_ok(sector_list_parse(sb.buf, &l, &e), e);
    assert_int_equal(l.n, 64);
    strbuf_free(&sb);
}

/* ---- JSON ---- */

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!j)
        fail_msg("bad test JSON: %s: %s", text, je.text);
    return j;
}

static char *dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_SORT_KEYS);
    assert_non_null(s);
    return s;
}

static void assert_records_equal(const constituent_record *a, const constituent_record *b)
{
    json_t *ja = constituent_to_json(a), *jb = constituent_to_json(b);
    assert_non_null(ja);
    assert_non_null(jb);
    if (!json_equal(ja, jb)) {
        char *sa = dump(ja), *sb = dump(jb);
        fail_msg("records differ:\n%s\n%s", sa, sb);
    }
    json_decref(ja);
    json_decref(jb);
}

/* from_json(text) must succeed; to_json then from_json again gives the same record. */
static void parse_ok(const char *text, const sector_list *sl, constituent_record *out)
{
    json_t *j = J(text);
    dz_err e = {0};
    assert_dz_ok(constituent_from_json(j, sl, out, &e), e);
    json_decref(j);
    json_t *back = constituent_to_json(out);
    assert_non_null(back);
    constituent_record again;
    assert_dz_ok(constituent_from_json(back, sl, &again, &e), e);
    assert_records_equal(out, &again);
    json_t *back2 = constituent_to_json(&again);
    assert_true(json_equal(back, back2));
    json_decref(back);
    json_decref(back2);
    constituent_record_free(&again);
}

static void parse_bad(const char *text, const sector_list *sl, const char *msg)
{
    json_t *j = J(text);
    dz_err e = {0};
    constituent_record r;
    memset(&r, 0x55, sizeof r);
    assert_dz_fails(constituent_from_json(j, sl, &r, &e), DZ_EINVAL, e);
    if (!strstr(e.msg, msg))
        fail_msg("%s\n  -> '%s', expected '%s'", text, e.msg, msg);
    /* on failure the record is left empty */
    constituent_record zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&r, &zero, sizeof r);
    json_decref(j);
}

static void test_json_minimal(void **state)
{
    (void)state;
    constituent_record r;
    parse_ok("{\"short_name\":\"moh\",\"name\":\"Ministry of Health\"}", NULL, &r);
    assert_string_equal(r.short_name, "moh");
    assert_int_equal(r.kind, ORG_OTHER);
    assert_null(r.sector);
    assert_false(r.cii);
    assert_int_equal(r.cii_tier, CONSTITUENT_TIER_NONE);
    assert_null(r.parent);
    assert_int_equal(r.n_tags + r.n_networks + r.n_asns + r.n_domains + r.n_contacts, 0);
    json_t *j = constituent_to_json(&r);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(s, "{\"short_name\":\"moh\",\"name\":\"Ministry of Health\",\"kind\":\"other\","
                           "\"sector\":null,\"cii\":false,\"cii_tier\":null,\"parent\":null,\"tags\":[],"
                           "\"networks\":[],\"asns\":[],\"domains\":[],\"contacts\":[]}");
    free(s);
    json_decref(j);
    constituent_record_free(&r);
    constituent_record_free(&r); /* twice is harmless */
    constituent_record_free(NULL);
}

static void test_json_full(void **state)
{
    (void)state;
    constituent_record r;
    parse_ok("{\"id\":7,\"created_at\":\"2024-01-01T00:00:00Z\",\"updated_at\":\"x\","
             "\"short_name\":\"BT-Power\",\"name\":\"Bhutan Power, \\\"BPC\\\" — འབྲུག\",\"kind\":\"CII-Operator\","
             "\"sector\":\"Energy\",\"cii\":true,\"cii_tier\":1,\"parent\":\"sector-cirt\","
             "\"tags\":[\"grid\",\"scada:ot\"],"
             "\"networks\":[\"2001:DB8::/32\",\"192.0.2.0/24\",\"::ffff:198.51.100.0/120\"],"
             "\"asns\":[\"AS64512\",65546,\"as64513\"],"
             "\"domains\":[\"Bücher.example\",\"BPC.BT.\"],"
             "\"contacts\":[{\"name\":\"SOC\",\"email\":\"Abuse@Bücher.Example\",\"phone\":\"+975 (2) 123-456\","
             "\"role\":\"24x7\",\"pgp\":\"abcd 1234 abcd 1234 abcd  1234 abcd 1234 abcd 1234\","
             "\"language\":\"pt-br\",\"notify_interval\":\"immediate\",\"notify_format\":\"JSON\","
             "\"max_tlp\":\"amber+strict\",\"id\":3},"
             "{\"name\":\"Desk\",\"email\":\"desk@bpc.bt\"}]}",
             NULL, &r);
    assert_string_equal(r.short_name, "BT-Power");
    assert_int_equal(r.kind, ORG_CII_OPERATOR);
    assert_string_equal(r.sector, "energy");
    assert_true(r.cii);
    assert_int_equal(r.cii_tier, 1);
    assert_string_equal(r.parent, "sector-cirt");
    assert_int_equal(r.n_tags, 2);
    assert_int_equal(r.n_networks, 3);
    assert_int_equal(r.networks[2].family, 4);
    assert_int_equal(r.n_asns, 3);
    assert_int_equal(r.asns[1], 65546);
    assert_string_equal(r.domains[0], "xn--bcher-kva.example");
    assert_string_equal(r.domains[1], "bpc.bt");
    assert_int_equal(r.n_contacts, 2);
    const contact *c = &r.contacts[0];
    assert_string_equal(c->email, "Abuse@xn--bcher-kva.example");
    assert_string_equal(c->phone, "+975 (2) 123-456");
    assert_int_equal(c->role, CONTACT_24X7);
    assert_string_equal(c->pgp, "ABCD1234ABCD1234ABCD1234ABCD1234ABCD1234");
    assert_string_equal(c->language, "pt-BR");
    assert_int_equal(c->notify_interval, NOTIFY_IMMEDIATE);
    assert_int_equal(c->notify_format, NOTIFY_FORMAT_JSON);
    assert_int_equal(c->max_tlp, TLP_AMBER_STRICT);
    c = &r.contacts[1]; /* defaults */
    assert_null(c->phone);
    assert_null(c->pgp);
    assert_string_equal(c->language, "en");
    assert_int_equal(c->role, CONTACT_ABUSE);
    assert_int_equal(c->notify_interval, NOTIFY_DAILY);
    assert_int_equal(c->notify_format, NOTIFY_FORMAT_CSV);
    assert_int_equal(c->max_tlp, TLP_AMBER);

    json_t *j = constituent_to_json(&r);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(
        s, "{\"short_name\":\"BT-Power\",\"name\":\"Bhutan Power, \\\"BPC\\\" — འབྲུག\",\"kind\":\"cii-operator\","
           "\"sector\":\"energy\",\"cii\":true,\"cii_tier\":1,\"parent\":\"sector-cirt\",\"tags\":[\"grid\","
           "\"scada:ot\"],\"networks\":[\"2001:db8::/32\",\"192.0.2.0/24\",\"198.51.100.0/24\"],"
           "\"asns\":[64512,65546,64513],\"domains\":[\"xn--bcher-kva.example\",\"bpc.bt\"],"
           "\"contacts\":[{\"name\":\"SOC\",\"email\":\"Abuse@xn--bcher-kva.example\",\"phone\":\"+975 (2) "
           "123-456\",\"role\":\"24x7\",\"pgp\":\"ABCD1234ABCD1234ABCD1234ABCD1234ABCD1234\",\"language\":"
           "\"pt-BR\",\"notify_interval\":\"immediate\",\"notify_format\":\"json\",\"max_tlp\":\"AMBER+STRICT\"},"
           "{\"name\":\"Desk\",\"email\":\"desk@bpc.bt\",\"phone\":null,\"role\":\"abuse\",\"pgp\":null,"
           "\"language\":\"en\",\"notify_interval\":\"daily\",\"notify_format\":\"csv\",\"max_tlp\":\"AMBER\"}]}");
    free(s);
    json_decref(j);
    constituent_record_free(&r);

    /* nulls and empty strings of the optional fields are "none" */
    parse_ok("{\"short_name\":\"a\",\"name\":\"A\",\"sector\":\"\",\"parent\":null,\"cii_tier\":null,"
             "\"contacts\":[{\"name\":\"n\",\"email\":\"n@a.example\",\"phone\":\"\",\"pgp\":null}]}",
             NULL, &r);
    assert_null(r.sector);
    assert_null(r.parent);
    assert_null(r.contacts[0].phone);
    assert_null(r.contacts[0].pgp);
    constituent_record_free(&r);

    /* a 64-digit fingerprint and an armoured key */
    parse_ok("{\"short_name\":\"a\",\"name\":\"A\",\"contacts\":["
             "{\"name\":\"n\",\"email\":\"n@a.example\",\"pgp\":\"0123456789abcdef0123456789abcdef0123456789abcdef"
             "0123456789abcdef\"},"
             "{\"name\":\"m\",\"email\":\"m@a.example\",\"pgp\":\"-----BEGIN PGP PUBLIC KEY BLOCK-----\\r\\n\\r\\n"
             "mQINBF...\\r\\n=abcd\\r\\n-----END PGP PUBLIC KEY BLOCK-----\\r\\n\"}]}",
             NULL, &r);
    assert_string_equal(r.contacts[0].pgp, "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF");
    assert_contains(r.contacts[1].pgp, "mQINBF...\r\n=abcd\r\n");
    constituent_record_free(&r);
}

static void test_json_errors(void **state)
{
    (void)state;
#define OK_ "\"short_name\":\"a\",\"name\":\"A\""
#define C1(body) "{" OK_ ",\"contacts\":[" body "]}"
    parse_bad("[]", NULL, "must be a JSON object");
    parse_bad("{\"name\":\"x\"}", NULL, "short_name: required");
    parse_bad("{\"short_name\":null,\"name\":\"x\"}", NULL, "short_name: required");
    parse_bad("{\"short_name\":\"-x\",\"name\":\"x\"}", NULL, "short_name: '-x' is not a short name");
    parse_bad("{\"short_name\":\"a b\",\"name\":\"x\"}", NULL, "short_name: 'a b' is not a short name");
    parse_bad("{\"short_name\":7,\"name\":\"x\"}", NULL, "short_name: must be a string");
    parse_bad("{\"short_name\":\"a\"}", NULL, "name: required");
    parse_bad("{\"short_name\":\"a\",\"name\":\"\"}", NULL, "name: must not be empty");
    parse_bad("{\"short_name\":\"a\",\"name\":\" A\"}", NULL, "name: must not start or end with a space");
    parse_bad("{\"short_name\":\"a\",\"name\":\"A\\nB\"}", NULL, "name: contains control characters");
    parse_bad("{\"short_name\":\"a\",\"name\":\"A\\u0000B\"}", NULL, "name: contains a NUL byte");
    char big[400];
    memset(big, 'n', 301);
    big[301] = '\0';
    char text[600];
    snprintf(text, sizeof text, "{\"short_name\":\"a\",\"name\":\"%s\"}", big);
    parse_bad(text, NULL, "name: is too long (301 bytes; at most 300)");
    parse_bad("{" OK_ ",\"foo\":1}", NULL, "unknown field 'foo' (known: short_name, name, kind");
    parse_bad("{" OK_ ",\"kind\":\"bank\"}", NULL, "kind: unknown organisation kind 'bank'");
    parse_bad("{" OK_ ",\"kind\":null}", NULL, "kind: must be a string");
    parse_bad("{" OK_ ",\"sector\":\"mining\"}", NULL, "sector: unknown sector 'mining' (government, energy,");
    parse_bad("{" OK_ ",\"cii\":\"yes\"}", NULL, "cii: must be true or false");
    parse_bad("{" OK_ ",\"cii_tier\":2}", NULL, "cii_tier: only for a designated CII organisation (cii true)");
    parse_bad("{" OK_ ",\"cii\":false,\"cii_tier\":2}", NULL, "cii_tier: only for");
    parse_bad("{" OK_ ",\"cii\":true,\"cii_tier\":4}", NULL, "cii_tier: must be 1, 2, 3 or null");
    parse_bad("{" OK_ ",\"cii\":true,\"cii_tier\":0}", NULL, "cii_tier: must be 1, 2, 3 or null");
    parse_bad("{" OK_ ",\"cii\":true,\"cii_tier\":\"1\"}", NULL, "cii_tier: must be 1, 2, 3 or null");
    parse_bad("{" OK_ ",\"cii\":true,\"cii_tier\":1.0}", NULL, "cii_tier: must be 1, 2, 3 or null");
    parse_bad("{" OK_ ",\"parent\":\"a\"}", NULL, "parent: an organisation cannot be its own parent");
    parse_bad("{" OK_ ",\"parent\":\"x y\"}", NULL, "parent: 'x y' is not a short name");
    parse_bad("{" OK_ ",\"tags\":\"x\"}", NULL, "tags: must be an array");
    parse_bad("{" OK_ ",\"tags\":[\"Bad Tag\"]}", NULL, "tags[0]: 'Bad Tag' is not a tag");
    parse_bad("{" OK_ ",\"tags\":[\"x\",\"y\",\"x\"]}", NULL, "tags[2]: 'x' is listed twice (also tags[0])");
    parse_bad("{" OK_ ",\"tags\":[1]}", NULL, "tags[0]: must be a string");
    parse_bad("{" OK_ ",\"networks\":null}", NULL, "networks: must be an array");
    parse_bad("{" OK_ ",\"networks\":[\"10.0.0.0/8\",\"2001:db8::/32\",\"192.0.2.1/24\"]}", NULL,
              "networks[2]: 192.0.2.1/24 has host bits set (network 192.0.2.0/24)");
    parse_bad("{" OK_ ",\"networks\":[5]}", NULL, "networks[0]: must be a string");
    parse_bad("{" OK_ ",\"networks\":[\"2001:db8::/32\",\"10.0.0.0/8\",\"2001:DB8:0::/32\"]}", NULL,
              "networks[2]: 2001:db8::/32 is listed twice (also networks[0])");
    parse_bad("{" OK_ ",\"networks\":[\"::ffff:192.0.2.0/120\",\"192.0.2.0/24\"]}", NULL,
              "networks[1]: 192.0.2.0/24 is listed twice (also networks[0])");
    parse_bad("{" OK_ ",\"networks\":[\"1.0.0.0/8\",\"2.0.0.0/8\",\"2.0.0.0/8\",\"1.0.0.0/8\"]}", NULL,
              "networks[2]: 2.0.0.0/8 is listed twice (also networks[1])");
    parse_bad("{" OK_ ",\"asns\":[0]}", NULL, "asns[0]: 0 is not an AS number");
    parse_bad("{" OK_ ",\"asns\":[4294967296]}", NULL, "asns[0]: 4294967296 is not an AS number");
    parse_bad("{" OK_ ",\"asns\":[\"AS0\"]}", NULL, "asns[0]: 'AS0': AS 0 is reserved");
    parse_bad("{" OK_ ",\"asns\":[\"AS64512\",1,64512]}", NULL, "asns[2]: AS64512 is listed twice (also asns[0])");
    parse_bad("{" OK_ ",\"asns\":[1.5]}", NULL, "asns[0]: must be an integer or a string");
    parse_bad("{" OK_ ",\"domains\":[\"Bücher.example\",\"xn--bcher-kva.example.\"]}", NULL,
              "domains[1]: xn--bcher-kva.example is listed twice (also domains[0])");
    parse_bad("{" OK_ ",\"domains\":[\"a_b.example\"]}", NULL, "domains[0]: domain 'a_b.example': '_' is not allowed");
    parse_bad("{" OK_ ",\"contacts\":{}}", NULL, "contacts: must be an array");
    parse_bad(C1("1"), NULL, "contacts[0]: must be an object");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\"},{\"email\":\"b@a.example\"}"), NULL,
              "contacts[1].name: required");
    parse_bad(C1("{\"name\":\"n\"}"), NULL, "contacts[0].email: required");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"fax\":\"1\"}"), NULL,
              "contacts[0]: unknown field 'fax'");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"not-an-email\"}"), NULL,
              "contacts[0].email: 'not-an-email' is not an email address");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"@a.example\"}"), NULL, "is not an email address");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@\"}"), NULL, "is not an email address");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"a b@example.com\"}"), NULL,
              "contacts[0].email: 'a b@example.com': the part before '@' may hold");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"<a>@example.com\"}"), NULL, "the part before '@' may hold");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"\\\"a\\\"@example.com\"}"), NULL, "the part before '@' may hold");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"ü@example.com\"}"), NULL, "the part before '@' may hold");
    parse_bad(C1("{\"name\":\"n\",\"email\":\".a@example.com\"}"), NULL, "misplaced '.'");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"a..b@example.com\"}"), NULL, "misplaced '.'");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"a@exa_mple.com\"}"), NULL,
              "contacts[0].email: domain 'exa_mple.com': '_' is not allowed");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"a@localhost\"}"), NULL, "at least two labels");
    char local[70], dom[200];
    memset(local, 'l', 65);
    local[65] = '\0';
    snprintf(text, sizeof text, C1("{\"name\":\"n\",\"email\":\"%s@a.example\"}"), local);
    parse_bad(text, NULL, "longer than 64");
    local[64] = '\0';
    snprintf(dom, sizeof dom, "%.63s.%.63s.%.51s", big, big, big); /* 179 */
    snprintf(text, sizeof text, C1("{\"name\":\"n\",\"email\":\"%s@%s.bt\"}"), local, dom); /* 64+1+182 */
    constituent_record r;
    parse_ok(text, NULL, &r);
    constituent_record_free(&r);
    snprintf(dom, sizeof dom, "%.63s.%.63s.%.58s", big, big, big); /* 186: 64+1+189 = 254 */
    snprintf(text, sizeof text, C1("{\"name\":\"n\",\"email\":\"%s@%s.bt\"}"), local, dom);
    parse_ok(text, NULL, &r);
    constituent_record_free(&r);
    snprintf(dom, sizeof dom, "%.63s.%.63s.%.59s", big, big, big);
    snprintf(text, sizeof text, C1("{\"name\":\"n\",\"email\":\"%s@%s.bt\"}"), local, dom);
    parse_bad(text, NULL, "contacts[0].email: is longer than 254 characters");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"phone\":\"call me\"}"), NULL,
              "contacts[0].phone: 'call me' may hold digits");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"phone\":\"+-()\"}"), NULL, "is not a phone number");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"pgp\":\"ABCD\"}"), NULL,
              "contacts[0].pgp: expected a key fingerprint (40 or 64 hex digits)");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"pgp\":\"0x0123456789abcdef0123456789abcdef01234567\"}"),
              NULL, "contacts[0].pgp: expected a key fingerprint");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"pgp\":\"-----BEGIN PGP PUBLIC KEY BLOCK-----\\nabc\"}"),
              NULL, "contacts[0].pgp: the key block has no '-----END PGP PUBLIC KEY BLOCK-----' line");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"pgp\":\"-----BEGIN PGP PRIVATE KEY BLOCK-----\"}"),
              NULL, "contacts[0].pgp: expected a key fingerprint");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"language\":\"english\"}"), NULL,
              "contacts[0].language: 'english' is not a language tag");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"language\":\"en-\"}"), NULL, "not a language tag");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"language\":\"e\"}"), NULL, "not a language tag");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"role\":\"boss\"}"), NULL,
              "contacts[0].role: unknown contact role 'boss'");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"notify_interval\":\"monthly\"}"), NULL,
              "contacts[0].notify_interval: unknown notification interval 'monthly'");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"notify_format\":\"xml\"}"), NULL,
              "contacts[0].notify_format: unknown notification format 'xml'");
    parse_bad(C1("{\"name\":\"n\",\"email\":\"n@a.example\",\"max_tlp\":\"purple\"}"), NULL,
              "contacts[0].max_tlp: unknown TLP 'purple'");
    parse_bad(C1("{\"name\":\"n\\t\",\"email\":\"n@a.example\"}"), NULL, "contacts[0].name: contains control");

    /* a big key block */
    strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "{" OK_ ",\"contacts\":[{\"name\":\"n\",\"email\":\"n@a.example\",\"pgp\":\"-----BEGIN PGP PUBLIC KEY BLOCK-----");
    for (int i = 0; i < 1100; i++)
        strbuf_puts(&sb, "\\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    strbuf_puts(&sb, "\\n-----END PGP PUBLIC KEY BLOCK-----\"}]}");
    parse_bad(sb.buf, NULL, "contacts[0].pgp: the key block is larger than 65536 bytes");
    strbuf_free(&sb);

    /* limits */
    strbuf_init(&sb);
    strbuf_puts(&sb, "{" OK_ ",\"tags\":[");
    for (int i = 0; i < 65; i++)
        strbuf_printf(&sb, "%s\"t%d\"", i ? "," : "", i);
    strbuf_puts(&sb, "]}");
    parse_bad(sb.buf, NULL, "tags: has 65 items; at most 64");
    strbuf_reset(&sb);
    strbuf_puts(&sb, "{" OK_ ",\"contacts\":[");
    for (int i = 0; i < 101; i++)
        strbuf_printf(&sb, "%s{\"name\":\"n\",\"email\":\"n%d@a.example\"}", i ? "," : "", i);
    strbuf_puts(&sb, "]}");
    parse_bad(sb.buf, NULL, "contacts: has 101 items; at most 100");
    strbuf_free(&sb);
#undef C1
#undef OK_
}

static void test_json_custom_sectors(void **state)
{
    (void)state;
    sector_list sl;
    dz_err e = {0};
    assert_dz_ok(sector_list_parse("mining,fisheries", &sl, &e), e);
    constituent_record r;
    parse_ok("{\"short_name\":\"m\",\"name\":\"Mine\",\"sector\":\"mining\"}", &sl, &r);
    assert_string_equal(r.sector, "mining");
    constituent_record_free(&r);
    parse_bad("{\"short_name\":\"m\",\"name\":\"Mine\",\"sector\":\"energy\"}", &sl,
              "sector: unknown sector 'energy' (mining, fisheries)");
    parse_bad("{\"short_name\":\"m\",\"name\":\"Mine\",\"sector\":\"mining\"}", NULL, "unknown sector 'mining'");
}

/* Many networks, and a duplicate among them found without a quadratic scan. */
static void test_json_many_networks(void **state)
{
    (void)state;
    strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "{\"short_name\":\"isp\",\"name\":\"ISP\",\"networks\":[");
    for (int i = 0; i < CONSTITUENT_MAX_NETWORKS; i++)
        strbuf_printf(&sb, "%s\"%d.%d.%d.0/24\"", i ? "," : "", 1 + i / 65536, i / 256 % 256, i % 256);
    strbuf_puts(&sb, "]}");
    constituent_record r;
    parse_ok(sb.buf, NULL, &r);
    assert_int_equal(r.n_networks, CONSTITUENT_MAX_NETWORKS);
    constituent_record_free(&r);
    assert_memory_equal(sb.buf + sb.len - 18, "\"2.134.159.0/24\"]}", 18);
    sb.buf[sb.len - 9] = '1'; /* the last one becomes 2.134.151.0/24, a repeat */
    parse_bad(sb.buf, NULL, "networks[99999]: 2.134.151.0/24 is listed twice (also networks[99991])");
    strbuf_free(&sb);
}

/* ---- CSV ---- */

typedef struct problems {
    strbuf text;
    size_t n;
} problems;

static void collect(void *arg, uint64_t line, const char *msg)
{
    problems *p = arg;
    strbuf_printf(&p->text, "%llu: %s\n", (unsigned long long)line, msg);
    p->n++;
}

static size_t small_chunk;
static long read_small(void *arg, char *buf, size_t cap)
{
    return csv_read_memory(arg, buf, cap < small_chunk ? cap : small_chunk);
}

/* Reads CSV text (in small chunks when chunk > 0). */
static dz_code read_csv(const char *text, size_t chunk, const sector_list *sl, constituent_record **out, size_t *n,
                        problems *p, dz_err *e)
{
    csv_memory m = {text, strlen(text), 0};
    strbuf_init(&p->text);
    p->n = 0;
    csv_reader *r = chunk ? csv_reader_new(read_small, &m, NULL) : csv_reader_new(csv_read_memory, &m, NULL);
    assert_non_null(r);
    small_chunk = chunk;
    dz_code rc = constituents_read_csv(r, sl, out, n, collect, p, e);
    csv_reader_free(r);
    if (!p->text.buf)
        strbuf_puts(&p->text, "");
    return rc;
}

static void free_records(constituent_record *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        constituent_record_free(&v[i]);
    free(v);
}

static void csv_bad(const char *text, const sector_list *sl, const char *want)
{
    constituent_record *v = (constituent_record *)1;
    size_t n = 7;
    problems p;
    dz_err e = {0};
    assert_dz_fails(read_csv(text, 0, sl, &v, &n, &p, &e), DZ_EINVAL, e);
    assert_null(v);
    assert_int_equal(n, 0);
    if (strcmp(p.text.buf, want) != 0)
        fail_msg("CSV:\n%s\nproblems:\n%s\nexpected:\n%s", text, p.text.buf, want);
    char count[64];
    snprintf(count, sizeof count, "%zu problem", p.n);
    assert_contains(e.msg, count);
    strbuf_free(&p.text);
}

static void test_csv_read(void **state)
{
    (void)state;
    /* columns in any order, a subset of them, a BOM, CRLF, lists with any separator */
    const char *text = "\xEF\xBB\xBF"
                       "name,short_name,networks,cii,cii_tier,contact_email,contact_name,Contact_Role\r\n"
                       "Ministry of Health,moh,\"192.0.2.0/24, 2001:db8::/32\",yes,2,soc@health.gov.bt,SOC,24x7\r\n"
                       "Bhutan Telecom,bt,198.51.100.0/24,No,,,,\r\n"
                       "Ministry of Health,moh,\"192.0.2.0/24, 2001:db8::/32\",yes,2,desk@health.gov.bt,Desk,\r\n";
    constituent_record *v;
    size_t n;
    problems p;
    dz_err e = {0};
    dz_code rc = read_csv(text, 0, NULL, &v, &n, &p, &e);
    if (rc)
        fail_msg("%s\n%s", e.msg, p.text.buf);
    assert_int_equal(p.n, 0);
    strbuf_free(&p.text);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].short_name, "moh");
    assert_int_equal(v[0].n_networks, 2);
    assert_true(v[0].cii);
    assert_int_equal(v[0].cii_tier, 2);
    assert_int_equal(v[0].n_contacts, 2);
    assert_string_equal(v[0].contacts[0].name, "SOC");
    assert_int_equal(v[0].contacts[0].role, CONTACT_24X7);
    assert_string_equal(v[0].contacts[1].email, "desk@health.gov.bt");
    assert_int_equal(v[0].contacts[1].role, CONTACT_ABUSE);
    assert_string_equal(v[1].short_name, "bt");
    assert_false(v[1].cii);
    assert_int_equal(v[1].n_contacts, 0);
    free_records(v, n);

    /* a header and nothing else: no records */
    rc = read_csv("short_name,name\n", 0, NULL, &v, &n, &p, &e);
    assert_int_equal(rc, DZ_OK);
    assert_int_equal(n, 0);
    free(v);
    strbuf_free(&p.text);
}

static void test_csv_errors(void **state)
{
    (void)state;
    csv_bad("", NULL, "1: no header line (expected columns such as short_name,name,networks)\n");
    csv_bad("short_name,name,foo,Name\n", NULL,
            "1: unknown column 'foo' (known: " CONSTITUENT_CSV_COLUMNS ")\n"
            "1: column 'name' appears twice (columns 2 and 4)\n");
    csv_bad("short_name,networks\n", NULL, "1: the header has no 'name' column\n");
    csv_bad("\"short_name,name\n", NULL, "1: field 1: unterminated quoted field\n");

    /* every problem of every row and record, each with its line */
    csv_bad("short_name,name,networks,cii,contact_name,contact_email\n"
            "a,Org A,192.0.2.1/24,true,Ann,ann@a.example\n"         /* 2: host bits */
            "a,Org A,192.0.2.1/24,true,Bob,bob@a_b.example\n"       /* 3: bad email */
            "b,Org B,,maybe,,\n"                                   /* 4: cii */
            "a,Org A2,192.0.2.1/24,true,Cy,cy@a.example\n"          /* 5: conflict */
            "c,Org C\n"                                            /* 6: field count */
            ",Org D,,,,\n"                                         /* 7: no short name */
            "a,Org A,192.0.2.1/24,true,,dan@a.example\n"            /* 8: contact without a name */
            "e,\"Org \"E\",,,,\n"                                  /* 9: text after quote */
            "f,Org F,,,Fay,\n"                                     /* 10: contact without email */
            "g,\"Org\nG\",,,,\n"                                   /* 11: control character in a name */
            "-h,Org H,,,,\n"                                       /* 13: bad short name */
            "i,Org I,10.0.0.0/8 10.0.0.0/8,,,\n"                   /* 14: repeated network */
            "j,Org \xff,,,,\n"                                     /* 15: not UTF-8 */
            "k,Org K,,,,\"x\n",                                    /* 16: unterminated */
            NULL,
            "5: name: 'Org A2' differs from 'Org A' on line 2 (the organisation's columns must agree on all its "
            "rows)\n"
            "6: 2 fields, but the header has 6 columns\n"
            "7: short_name: required\n"
            "9: field 2: text after the closing quote\n"
            "15: name: not valid UTF-8\n"
            "16: field 6: unterminated quoted field\n"
            "2: networks[0]: 192.0.2.1/24 has host bits set (network 192.0.2.0/24)\n"
            "3: contact_email: domain 'a_b.example': '_' is not allowed in a host name\n"
            "8: contact_name: required\n"
            "4: cii: 'maybe' is not true or false (yes/no and 1/0 also work)\n"
            "10: contact_email: required\n"
            "11: name: contains control characters\n"
            "13: short_name: '-h' is not a short name (1..64 of A-Z, a-z, 0-9, '.', '_', '@', '-'; starting with "
            "a letter or digit)\n"
            "14: networks[1]: 10.0.0.0/8 is listed twice (also networks[0])\n");

    /* a custom sector list */
    sector_list sl;
    dz_err e = {0};
    assert_dz_ok(sector_list_parse("mining", &sl, &e), e);
    csv_bad("short_name,name,sector\nm,Mine,mining\ne,Energy Co,energy\n", &sl,
            "3: sector: unknown sector 'energy' (mining)\n");
    /* several problems in one record: all of them */
    csv_bad("short_name,name,kind,sector,cii,cii_tier,tags,asns,domains\n"
            "x,X,bank,mining,false,2,Bad,AS0,a..b\n",
            NULL,
            "2: kind: unknown organisation kind 'bank' (government, cii-operator, isp, private, academia, ngo, "
            "partner-cert, other)\n"
            "2: sector: unknown sector 'mining' (government, energy, ict-telecom, banking-finance, health, "
            "transport, water, emergency-services, food-agriculture, media)\n"
            "2: cii_tier: only for a designated CII organisation (cii true)\n"
            "2: tags[0]: 'Bad' is not a tag (1..64 of a-z, 0-9, '.', '_', ':', '-')\n"
            "2: asns[0]: 'AS0': AS 0 is reserved (RFC 7607)\n"
            "2: domains[0]: domain 'a..b': empty label\n");
    csv_bad("short_name,name,cii_tier\nx,X,one\n", NULL, "2: cii_tier: 'one' is not 1, 2 or 3\n");
    csv_bad("short_name,name\nx,\n", NULL, "2: name: required\n");
}

static void csv_round_trip(const constituent_record *v, size_t n)
{
    strbuf sb;
    strbuf_init(&sb);
    constituents_csv_header(&sb);
    for (size_t i = 0; i < n; i++)
        constituent_write_csv(&v[i], &sb);
    assert_false(sb.oom);
    for (size_t chunk = 0; chunk < 3; chunk++) {
        constituent_record *back;
        size_t nb;
        problems p;
        dz_err e = {0};
        dz_code rc;
        rc = read_csv(sb.buf, chunk * 3, NULL, &back, &nb, &p, &e); /* whole, 3 and 6 bytes at a time */
        if (rc)
            fail_msg("%s\n%s\nin\n%s", e.msg, p.text.buf, sb.buf);
        strbuf_free(&p.text);
        assert_int_equal(nb, n);
        for (size_t i = 0; i < n; i++)
            assert_records_equal(&v[i], &back[i]);
        free_records(back, nb);
    }
    strbuf_free(&sb);
}

static void test_csv_round_trip(void **state)
{
    (void)state;
    static const char *const json[] = {
        "{\"short_name\":\"moh\",\"name\":\"Ministry of Health, \\\"MoH\\\"\",\"kind\":\"government\","
        "\"sector\":\"health\",\"cii\":true,\"cii_tier\":3,\"tags\":[\"ministry\",\"x:y\"],"
        "\"networks\":[\"192.0.2.0/24\",\"2001:db8::/32\"],\"asns\":[64512,4294967295],"
        "\"domains\":[\"health.gov.bt\",\"Bücher.example\"],"
        "\"contacts\":[{\"name\":\"Dorji Wangchuk, SOC\",\"email\":\"soc@health.gov.bt\",\"phone\":\"+975 (2) 1\","
        "\"role\":\"security\",\"pgp\":\"-----BEGIN PGP PUBLIC KEY BLOCK-----\\r\\nComment: \\\"x\\\", y\\r\\n\\r\\n"
        "mQINBF\\nabc==\\n-----END PGP PUBLIC KEY BLOCK-----\\n\",\"language\":\"dz\",\"notify_interval\":\"never\","
        "\"notify_format\":\"json\",\"max_tlp\":\"RED\"},"
        "{\"name\":\"འབྲུག Desk\",\"email\":\"desk@health.gov.bt\"},"
        "{\"name\":\"x\\\"  \\\", y\",\"email\":\"o'brien+tag@bücher.example\",\"pgp\":\"0123456789ABCDEF0123456789ABCDEF01234567\"}]}",
        "{\"short_name\":\"empty\",\"name\":\"No contacts at all\"}",
        "{\"short_name\":\"child\",\"name\":\"Child, Inc.\",\"parent\":\"moh\",\"kind\":\"private\","
        "\"networks\":[\"::/0\",\"0.0.0.0/0\"],\"asns\":[1]}",
    };
    size_t n = sizeof json / sizeof json[0];
    constituent_record v[3];
    for (size_t i = 0; i < n; i++)
        parse_ok(json[i], NULL, &v[i]);
    csv_round_trip(v, n);
    for (size_t i = 0; i < n; i++)
        constituent_record_free(&v[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_parse),     cmocka_unit_test(test_ip_address),
        cmocka_unit_test(test_prefix_contains),  cmocka_unit_test(test_asn),
        cmocka_unit_test(test_domains),          cmocka_unit_test(test_enums),
        cmocka_unit_test(test_sectors),          cmocka_unit_test(test_json_minimal),
        cmocka_unit_test(test_json_full),        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_custom_sectors), cmocka_unit_test(test_json_many_networks),
        cmocka_unit_test(test_csv_read),         cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_csv_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
