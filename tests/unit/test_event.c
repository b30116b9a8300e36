/* event: the harmonization table, every type's accept/refuse/normalise, the event's memory and its JSON. */
#include "unit.h"

#include <jansson.h>
#include <malloc.h>
#include <math.h>

#include "lib/event.h"
#include "lib/event_doc.h"
#include "lib/strbuf.h"

/* Sets key to in on a fresh event; the stored text must be want. */
static void norm_n(const char *key, const char *in, size_t n, const char *want)
{
    event *ev = event_new();
    assert_non_null(ev);
    dz_err e = {0};
    if (event_set(ev, key, in, n, &e) != DZ_OK)
        fail_msg("event_set(%s, '%s') failed: %s", key, in, e.msg);
    const event_field *f = event_get(ev, key);
    assert_non_null(f);
    if (f->kind != EV_STRING)
        fail_msg("%s: '%s' stored as kind %d, expected a string", key, in, (int)f->kind);
    if (strcmp(f->s, want) != 0 || f->len != strlen(want))
        fail_msg("%s: '%s' -> '%s', expected '%s'", key, in, f->s, want);
    event_free(ev);
}

static void norm(const char *key, const char *in, const char *want)
{
    norm_n(key, in, strlen(in), want);
}

static void same(const char *key, const char *in)
{
    norm(key, in, in);
}

/* Setting key to in (n bytes) must fail with DZ_EINVAL, a message that has msg_part, and leave no field. */
static void refuse_n(const char *key, const char *in, size_t n, const char *msg_part)
{
    event *ev = event_new();
    assert_non_null(ev);
    dz_err e = {0};
    dz_code rc = event_set(ev, key, in, n, &e);
    if (rc != DZ_EINVAL) {
        const event_field *f = event_get(ev, key);
        fail_msg("event_set(%s, '%s') = %s, expected a refusal (stored '%s')", key, in, dz_code_name(rc),
                 f && f->kind == EV_STRING ? f->s : "?");
    }
    assert_contains(e.msg, key);
    if (msg_part)
        assert_contains(e.msg, msg_part);
    assert_null(event_get(ev, key));
    assert_int_equal(event_count(ev), 0);
    event_free(ev);
}

static void refuse(const char *key, const char *in, const char *msg_part)
{
    refuse_n(key, in, strlen(in), msg_part);
}

static int64_t as_int(const char *key, const char *in)
{
    event *ev = event_new();
    dz_err e = {0};
    if (event_set(ev, key, in, strlen(in), &e) != DZ_OK)
        fail_msg("event_set(%s, '%s') failed: %s", key, in, e.msg);
    const event_field *f = event_get(ev, key);
    assert_non_null(f);
    assert_int_equal(f->kind, EV_INT);
    int64_t v = f->i;
    event_free(ev);
    return v;
}

static double as_float(const char *key, const char *in)
{
    event *ev = event_new();
    dz_err e = {0};
    if (event_set(ev, key, in, strlen(in), &e) != DZ_OK)
        fail_msg("event_set(%s, '%s') failed: %s", key, in, e.msg);
    const event_field *f = event_get(ev, key);
    assert_non_null(f);
    assert_int_equal(f->kind, EV_FLOAT);
    double v = f->f;
    event_free(ev);
    return v;
}

static bool as_bool(const char *key, const char *in)
{
    event *ev = event_new();
    dz_err e = {0};
    if (event_set(ev, key, in, strlen(in), &e) != DZ_OK)
        fail_msg("event_set(%s, '%s') failed: %s", key, in, e.msg);
    const event_field *f = event_get(ev, key);
    assert_non_null(f);
    assert_int_equal(f->kind, EV_BOOL);
    bool v = f->b;
    event_free(ev);
    return v;
}

static void test_table(void **state)
{
    (void)state;
    size_t n = 0;
    const char *prev = NULL;
    harm_type t;
    for (const char *k; (k = harmonization_key_at(n, &t)); n++) {
        if (prev && strcmp(prev, k) >= 0)
            fail_msg("table not sorted: '%s' then '%s'", prev, k);
        harm_type t2 = HT_STRING;
        dz_err e = {0};
        assert_dz_ok(harmonization_type(k, &t2, &e), e);
        assert_int_equal(t, t2);
        prev = k;
    }
    assert_true(n >= 85);
    assert_null(harmonization_key_at(n, NULL));

    static const struct { const char *key; harm_type t; } known[] = {
        {"classification.identifier", HT_STRING}, {"classification.taxonomy", HT_TAXONOMY},
        {"classification.type", HT_TYPE}, {"comment", HT_STRING}, {"destination.abuse_contact", HT_LOWER},
        {"destination.allocated", HT_DATETIME}, {"destination.asn", HT_ASN}, {"destination.domain_suffix", HT_FQDN},
        {"destination.geolocation.cc", HT_COUNTRY}, {"destination.geolocation.latitude", HT_FLOAT},
        {"destination.ip", HT_IP}, {"destination.local_ip", HT_IP}, {"destination.network", HT_NETWORK},
        {"destination.port", HT_INT}, {"destination.registry", HT_REGISTRY}, {"destination.reverse_dns", HT_FQDN},
        {"destination.tor_node", HT_BOOL}, {"destination.url", HT_URL}, {"destination.urlpath", HT_STRING},
        {"event_description.url", HT_URL}, {"event_hash", HT_UPPER}, {"extra", HT_JSON},
        {"feed.accuracy", HT_ACCURACY}, {"feed.url", HT_URL}, {"malware.hash.sha256", HT_STRING},
        {"malware.name", HT_LOWER}, {"misp.event_uuid", HT_LOWER}, {"output", HT_JSON},
        {"protocol.transport", HT_LOWER}, {"raw", HT_BASE64}, {"rtir_id", HT_INT}, {"screenshot_url", HT_URL},
        {"source.geolocation.cymru_cc", HT_COUNTRY}, {"source.geolocation.geoip_cc", HT_COUNTRY},
        {"source.geolocation.longitude", HT_FLOAT}, {"source.ip", HT_IP}, {"source.asn", HT_ASN},
        {"source.urlpath", HT_STRING}, {"status", HT_STRING}, {"time.observation", HT_DATETIME},
        {"time.source", HT_DATETIME}, {"tlp", HT_TLP}, {"extra.os.name", HT_JSON}, {"extra.a-b_c.0", HT_JSON},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        dz_err e = {0};
        harm_type got = (harm_type)-1;
        assert_dz_ok(harmonization_type(known[i].key, &got, &e), e);
        if (got != known[i].t)
            fail_msg("%s: type %d, expected %d", known[i].key, (int)got, (int)known[i].t);
    }
    static const char *const unknown[] = {"source.ipp", "source", "", "Source.ip", "extra.", "extra..a",
                                          "extra.A",    "extra.a.", "extra.a b", "extra.ü", "foo.bar"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        dz_err e = {0};
        harm_type got;
        assert_dz_fails(harmonization_type(unknown[i], &got, &e), DZ_EINVAL, e);
    }
    dz_err e = {0};
    harm_type got;
    assert_dz_fails(harmonization_type(NULL, &got, &e), DZ_EINVAL, e);
    char longkey[300] = "extra.";
    memset(longkey + 6, 'a', 250);
    longkey[256] = '\0';
    assert_dz_fails(harmonization_type(longkey, &got, &e), DZ_EINVAL, e);
}

static void test_ip(void **state)
{
    (void)state;
    same("source.ip", "1.2.3.4");
    norm("source.ip", " 1.2.3.4\n", "1.2.3.4");
    norm("source.ip", "2001:DB8:0:0::0:1", "2001:db8::1");
    same("destination.local_ip", "10.0.0.1");
    same("source.ip", "::ffff:1.2.3.4"); /* IPv4-mapped stays v6 text, as Python's ipaddress */
    norm("source.ip", "::FFFF:102:304", "::ffff:1.2.3.4");
    norm("source.ip", "1.2.3.4/32", "1.2.3.4");
    norm("source.ip", "2001:db8::1/128", "2001:db8::1");
    same("source.ip", "::");
    same("source.ip", "::1");
    same("source.ip", "1::");
    norm("source.ip", "::0.2.0.3", "::2:3"); /* no dotted tail but for IPv4-mapped */
    norm("source.ip", "::1.2.3.4", "::102:304");
    norm("source.ip", "2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"); /* first longest run */
    norm("source.ip", "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");                 /* one zero group stays */
    norm("source.ip", "2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::");
    norm("source.ip", "FFFF:0:0:0:0:0:0:ABCD", "ffff::abcd");

    event *ev = event_new();
    dz_err e = {0};
    assert_dz_fails(event_set(ev, "source.ip", "300.1.1.1", 9, &e), DZ_EINVAL, e);
    assert_string_equal(e.msg, "source.ip: '300.1.1.1' is not an IP address");
    event_free(ev);

    refuse("source.ip", "1.2.3", "is not an IP address");
    refuse("source.ip", "01.2.3.4", NULL);
    refuse("source.ip", "1.2.3.4/24", NULL);
    refuse("source.ip", "1.2.3.4/", NULL);
    refuse("source.ip", "fe80::1%eth0", NULL);
    refuse("source.ip", "example.com", NULL);
    refuse("source.ip", "", "empty");
    refuse("source.ip", "   ", "empty");
    refuse_n("source.ip", "1.2.3.4\0", 8, "NUL");
    refuse("source.ip", "1.2.3.4.5", NULL);
    refuse("source.ip", "2001:db8::1::2", NULL);
}

static void test_network(void **state)
{
    (void)state;
    same("source.network", "10.0.0.0/8");
    norm("source.network", "10.1.2.3/8", "10.0.0.0/8"); /* host bits cleared, as strict=False */
    norm("source.network", "192.168.1.77/25", "192.168.1.0/25");
    norm("source.network", "2001:DB8::1/32", "2001:db8::/32");
    norm("source.network", "2001:db8:ffff::1/33", "2001:db8:8000::/33");
    norm("source.network", "1.2.3.4", "1.2.3.4/32");
    norm("source.network", "::1", "::1/128");
    norm("source.network", "192.168.1.7/255.255.255.0", "192.168.1.0/24");
    norm("destination.network", "8.8.8.8/0", "0.0.0.0/0");
    refuse("source.network", "1.2.3.0/33", "is not an IP network");
    refuse("source.network", "::/129", NULL);
    refuse("source.network", "1.2.3.0/", NULL);
    refuse("source.network", "1.2.3.0/-1", NULL);
    refuse("source.network", "1.2.3.0/255.0.255.0", NULL);
    refuse("source.network", "x/8", NULL);
    refuse("source.network", "1.2.3.0/8/8", NULL);
}

static void test_integers(void **state)
{
    (void)state;
    assert_int_equal(as_int("source.asn", "3320"), 3320);
    assert_int_equal(as_int("source.asn", "AS3320"), 3320);
    assert_int_equal(as_int("destination.asn", "as 1"), 1);
    assert_int_equal(as_int("source.asn", "4294967295"), 4294967295LL);
    refuse("source.asn", "0", "not an AS number");
    refuse("source.asn", "4294967296", "not an AS number");
    refuse("source.asn", "-1", NULL);
    refuse("source.asn", "AS", NULL);
    refuse("source.asn", "12a", NULL);

    assert_int_equal(as_int("source.port", "443"), 443);
    assert_int_equal(as_int("source.port", " 443 "), 443);
    assert_int_equal(as_int("source.port", "5555.0"), 5555);
    assert_int_equal(as_int("destination.port", "0"), 0);
    assert_int_equal(as_int("destination.port", "65535"), 65535);
    refuse("source.port", "5.5", "is not an integer");
    refuse("source.port", "65536", "not a port");
    refuse("source.port", "-1", "not a port");
    refuse("source.port", "http", NULL);
    refuse("source.port", "1e3", NULL);
    refuse("source.port", "5.", NULL);
    assert_int_equal(as_int("rtir_id", "-5"), -5);
    assert_int_equal(as_int("rtir_id", "+7"), 7);
    assert_int_equal(as_int("rtir_id", "9223372036854775807"), INT64_MAX);
    assert_int_equal(as_int("rtir_id", "-9223372036854775808"), INT64_MIN);
    refuse("rtir_id", "9223372036854775808", NULL);
    refuse("rtir_id", "99999999999999999999999", NULL);
}

static void test_floats_bools(void **state)
{
    (void)state;
    assert_true(as_float("source.geolocation.latitude", "48.2082") == 48.2082);
    assert_true(as_float("source.geolocation.longitude", "-16.3738") == -16.3738);
    assert_true(as_float("source.geolocation.longitude", "1e2") == 100.0);
    assert_true(as_float("source.geolocation.longitude", "7") == 7.0);
    refuse("source.geolocation.latitude", "nan", "is not a number");
    refuse("source.geolocation.latitude", "inf", NULL);
    refuse("source.geolocation.latitude", "1e999", NULL);
    refuse("source.geolocation.latitude", "0x10", NULL);
    refuse("source.geolocation.latitude", "1,5", NULL);
    refuse("source.geolocation.latitude", ".", NULL);

    assert_true(as_float("feed.accuracy", "100") == 100.0);
    assert_true(as_float("feed.accuracy", "0") == 0.0);
    assert_true(as_float("feed.accuracy", "55.5") == 55.5);
    refuse("feed.accuracy", "100.1", "accuracy");
    refuse("feed.accuracy", "-1", "accuracy");

    assert_true(as_bool("source.tor_node", "true"));
    assert_true(as_bool("source.tor_node", "True"));
    assert_true(as_bool("source.tor_node", "1"));
    assert_false(as_bool("destination.tor_node", "false"));
    assert_false(as_bool("destination.tor_node", " FALSE "));
    assert_false(as_bool("destination.tor_node", "0"));
    refuse("source.tor_node", "yes", "is not a boolean");
    refuse("source.tor_node", "2", NULL);
}

static void test_fqdn_url(void **state)
{
    (void)state;
    same("source.fqdn", "example.com");
    norm("source.fqdn", "WWW.Example.COM.", "www.example.com");
    norm("source.reverse_dns", "host-1.example.net.", "host-1.example.net");
    same("source.fqdn", "_dmarc.example.com");
    same("source.fqdn", "localhost");
    same("source.domain_suffix", "co.uk");
    norm("source.fqdn", "bücher.de", "xn--bcher-kva.de");
    norm("source.fqdn", "BÜCHER.de.", "xn--bcher-kva.de");
    refuse("source.fqdn", "1.2.3.4", "is an IP address");
    refuse("source.fqdn", "2001:db8::1", "is an IP address");
    refuse("source.fqdn", "a..b", "is not a domain name");
    refuse("source.fqdn", ".", NULL);
    refuse("source.fqdn", ".example.com", NULL);
    refuse("source.fqdn", "exa mple.com", NULL);
    refuse("source.fqdn", "example.com/", NULL);
    refuse("source.fqdn", "\xff.com", NULL);
    char lab[80];
    memset(lab, 'a', 64);
    memcpy(lab + 64, ".com", 5);
    refuse("source.fqdn", lab, NULL);
    lab[1] = '.';
    same("source.fqdn", lab);

    same("source.url", "http://example.com/x?y=1#z");
    norm("source.url", "hxxp://evil.example/x", "http://evil.example/x");
    norm("source.url", "HXXPS://evil.example/", "https://evil.example/");
    norm("source.url", "HTTPS://Example.com/A", "https://Example.com/A");
    norm("source.url", "example.com/path", "http://example.com/path");
    norm("source.url", "example.com", "http://example.com");
    norm("source.url", "example.com/r?u=http://x", "http://example.com/r?u=http://x");
    same("source.url", "http://example.com/r?u=http://x");
    same("source.url", "svn+ssh://example.com/repo");
    norm("source.url", "1.2.3.4:8080/a", "http://1.2.3.4:8080/a");
    same("source.url", "http://[2001:db8::1]:8080/");
    same("destination.url", "ftp://user:pw@host.example/file");
    same("feed.url", "https://example.com/ü/€");
    same("screenshot_url", "http://example.com/shot.png");
    refuse("source.url", "http://", "is not a URL");
    refuse("source.url", "http:///path", NULL);
    refuse("source.url", "http://host:99999/", "port");
    refuse("source.url", "http://host:8a/", NULL);
    refuse("source.url", "http://exa mple.com", NULL);
    refuse("source.url", "1http://x", "scheme");
    refuse("source.url", "://x", NULL);
    refuse("source.url", "http://[::1/", NULL);
    refuse("source.url", "http://x/\x01", NULL);
}

static void test_datetime(void **state)
{
    (void)state;
    same("time.source", "2018-07-26T02:07:16+00:00");
    norm("time.source", "2018-07-26 02:07:16", "2018-07-26T02:07:16+00:00");
    norm("time.source", "2018-07-26T02:07:16Z", "2018-07-26T02:07:16+00:00");
    norm("time.source", "2018-07-26t02:07:16z", "2018-07-26T02:07:16+00:00");
    norm("time.source", "2018-07-26T04:07:16+02:00", "2018-07-26T02:07:16+00:00");
    norm("time.source", "2018-07-26T02:07:16.123Z", "2018-07-26T02:07:16.123000+00:00");
    norm("time.source", "2018-07-26T02:07:16.1234567+00:00", "2018-07-26T02:07:16.123456+00:00");
    norm("time.source", "2018-07-26T02:07:16.000Z", "2018-07-26T02:07:16+00:00");
    norm("time.source", "2018-07-26", "2018-07-26T00:00:00+00:00");
    norm("time.source", "2018-07-26T02:07", "2018-07-26T02:07:00+00:00");
    norm("time.observation", "2018-01-01T00:30:00+01:00", "2017-12-31T23:30:00+00:00");
    norm("time.observation", "2020-02-29T00:00:00-0530", "2020-02-29T05:30:00+00:00");
    norm("time.observation", "2020-12-31T23:00:00-02", "2021-01-01T01:00:00+00:00");
    norm("source.allocated", "2018-07-26 02:07:16 UTC", "2018-07-26T02:07:16+00:00");
    norm("source.allocated", "2018-07-26 02:07:16GMT", "2018-07-26T02:07:16+00:00");
    norm("source.allocated", "2018-07-26T02:07:16 +02:00", "2018-07-26T00:07:16+00:00");
    norm("source.allocated", "1970-01-01T00:00:00+00:00", "1970-01-01T00:00:00+00:00");
    norm("source.allocated", "1900-03-01T00:00:00+00:00", "1900-03-01T00:00:00+00:00");
    refuse("time.source", "2019-02-29", "is not a date and time");
    refuse("time.source", "1900-02-29", NULL);
    refuse("time.source", "2018-13-01", NULL);
    refuse("time.source", "2018-07-26T25:00:00", NULL);
    refuse("time.source", "2018-07-26T02:60:00", NULL);
    refuse("time.source", "2018-07-26T02:07:16+2", NULL);
    refuse("time.source", "2018-07-26T02:07:16.Z", NULL);
    refuse("time.source", "2018-07-26T02:07:16+24:00", NULL);
    refuse("time.source", "2018-07-26T", NULL);
    refuse("time.source", "1532570836", NULL);
    refuse("time.source", "yesterday", NULL);
    refuse("time.source", "0001-01-01T00:00:00+00:01", NULL); /* year 0 in UTC */

    event *ev = event_new();
    dz_err e = {0};
    assert_dz_ok(event_set_int(ev, "time.source", 1532570836, &e), e);
    assert_string_equal(event_get(ev, "time.source")->s, "2018-07-26T02:07:16+00:00");
    assert_dz_ok(event_set_int(ev, "time.source", -1, &e), e);
    assert_string_equal(event_get(ev, "time.source")->s, "1969-12-31T23:59:59+00:00");
    assert_dz_ok(event_set_float(ev, "time.observation", 1532570836.5, &e), e);
    assert_string_equal(event_get(ev, "time.observation")->s, "2018-07-26T02:07:16.500000+00:00");
    assert_dz_fails(event_set_int(ev, "time.source", INT64_MAX, &e), DZ_EINVAL, e);
    event_free(ev);
}

static void test_enums(void **state)
{
    (void)state;
    same("classification.taxonomy", "malicious-code");
    norm("classification.taxonomy", "Malicious code", "malicious-code");
    refuse("classification.taxonomy", "nope", "is not an RSIT taxonomy");
    same("classification.type", "phishing");
    norm("classification.type", "c&c", "c2-server");
    norm("classification.type", "botnet drone", "infected-system");
    refuse("classification.type", "foo", "is not a classification type");

    same("tlp", "AMBER");
    norm("tlp", "amber+strict", "AMBER+STRICT");
    norm("tlp", "WHITE", "CLEAR");
    norm("tlp", "tlp:red", "RED");
    refuse("tlp", "PINK", "is not a TLP");

    norm("source.geolocation.cc", "at", "AT");
    same("destination.geolocation.cc", "DE");
    norm("source.geolocation.geoip_cc", " gb ", "GB");
    refuse("source.geolocation.cc", "AUT", "country code");
    refuse("source.geolocation.cc", "a", NULL);
    refuse("source.geolocation.cymru_cc", "a-", NULL);

    norm("source.registry", "ripe-ncc", "RIPE");
    norm("source.registry", "arin", "ARIN");
    same("destination.registry", "AFRINIC");
    refuse("source.registry", "IANA", "is not a registry");
}

static void test_strings(void **state)
{
    (void)state;
    same("comment", "Wien – Österreich 😀");
    same("comment", " spaces kept ");
    same("event_description.text", "line\nbreak\ttab");
    refuse("comment", "", "empty");
    refuse("comment", "\xff", "UTF-8");
    refuse("comment", "\xc0\xaf", NULL);          /* overlong '/' */
    refuse("comment", "\xed\xa0\x80", NULL);      /* a surrogate */
    refuse("comment", "\xf4\x90\x80\x80", NULL);  /* > U+10FFFF */
    refuse("comment", "abc\xe2\x82", NULL);       /* cut short */
    refuse_n("comment", "a\0b", 3, "NUL");

    norm("malware.name", "Zeus", "zeus");
    norm("source.abuse_contact", "Abuse@Example.COM", "abuse@example.com");
    refuse("malware.name", "zeus\x01", "printable ASCII");
    refuse("malware.name", "zëus", NULL);
    same("malware.hash.md5", "d41d8cd98f00b204e9800998ecf8427e");
    norm("event_hash", "abc123", "ABC123");
    refuse("event_hash", "xyz", "not a hash");
    norm("misp.event_uuid", "5B3A1C2D-0000-4A4B-8C8D-0123456789AB", "5b3a1c2d-0000-4a4b-8c8d-0123456789ab");
    refuse("misp.attribute_uuid", "123", "UUID");
    norm("protocol.transport", "TCP", "tcp");
    refuse("protocol.transport", "tcptcptcptcp", "longer than 11");
    char code[120];
    memset(code, 'x', 101);
    code[101] = '\0';
    refuse("feed.code", code, "longer than 100");
    code[100] = '\0';
    same("feed.code", code);

    same("raw", "aGVsbG8=");
    same("raw", "aGVsbG8h");
    same("raw", "aGk=");
    refuse("raw", "aGVsbG8", "is not Base64");
    refuse("raw", "a$==", NULL);
    refuse("raw", "aGVs bG8=", NULL);
    refuse("raw", "====", NULL);

    refuse("source.ipp", "x", "not a harmonization field");
    refuse("extra", "{}", "extra.<name>");
    refuse("extra.Bad", "x", "extra key");
}

static void test_extra_and_typed(void **state)
{
    (void)state;
    event *ev = event_new();
    dz_err e = {0};
    assert_dz_ok(event_set(ev, "extra.os.name", "Linux", 5, &e), e);
    assert_dz_ok(event_set(ev, "extra.count_text", "5", 1, &e), e);
    assert_dz_ok(event_set_int(ev, "extra.count", 5, &e), e);
    assert_dz_ok(event_set_float(ev, "extra.ratio", 0.25, &e), e);
    assert_dz_ok(event_set_bool(ev, "extra.flag", true, &e), e);
    assert_int_equal(event_get(ev, "extra.os.name")->kind, EV_STRING);
    assert_int_equal(event_get(ev, "extra.count_text")->kind, EV_STRING); /* text stays text */
    assert_int_equal(event_get(ev, "extra.count")->kind, EV_INT);
    assert_int_equal(event_get(ev, "extra.count")->i, 5);
    assert_int_equal(event_get(ev, "extra.ratio")->kind, EV_FLOAT);
    assert_int_equal(event_get(ev, "extra.flag")->kind, EV_BOOL);
    assert_true(event_get(ev, "extra.flag")->b);
    /* an extra key changes kind on replacement */
    assert_dz_ok(event_set(ev, "extra.count", "five", 4, &e), e);
    assert_int_equal(event_get(ev, "extra.count")->kind, EV_STRING);
    assert_string_equal(event_get(ev, "extra.count")->s, "five");
    assert_dz_fails(event_set_float(ev, "extra.x", NAN, &e), DZ_EINVAL, e);
    assert_dz_fails(event_set_int(ev, "extra..x", 1, &e), DZ_EINVAL, e);

    assert_dz_ok(event_set_int(ev, "source.port", 80, &e), e);
    assert_int_equal(event_get(ev, "source.port")->i, 80);
    assert_dz_fails(event_set_int(ev, "source.port", 70000, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "source.port");
    assert_dz_fails(event_set_int(ev, "source.asn", 0, &e), DZ_EINVAL, e);
    assert_dz_ok(event_set_int(ev, "source.asn", 4294967295LL, &e), e);
    assert_dz_ok(event_set_int(ev, "feed.accuracy", 50, &e), e);
    assert_int_equal(event_get(ev, "feed.accuracy")->kind, EV_FLOAT);
    assert_true(event_get(ev, "feed.accuracy")->f == 50.0);
    assert_dz_fails(event_set_float(ev, "feed.accuracy", 100.5, &e), DZ_EINVAL, e);
    assert_dz_ok(event_set_int(ev, "source.tor_node", 1, &e), e);
    assert_int_equal(event_get(ev, "source.tor_node")->kind, EV_BOOL);
    assert_dz_fails(event_set_int(ev, "source.tor_node", 2, &e), DZ_EINVAL, e);
    assert_dz_ok(event_set_bool(ev, "destination.tor_node", false, &e), e);
    assert_dz_fails(event_set_bool(ev, "source.ip", true, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "source.ip");
    assert_dz_ok(event_set_float(ev, "destination.port", 8080.0, &e), e);
    assert_int_equal(event_get(ev, "destination.port")->kind, EV_INT);
    assert_int_equal(event_get(ev, "destination.port")->i, 8080);
    assert_dz_fails(event_set_float(ev, "destination.port", 80.5, &e), DZ_EINVAL, e);
    assert_dz_ok(event_set_int(ev, "comment", 42, &e), e);
    assert_string_equal(event_get(ev, "comment")->s, "42");
    assert_dz_fails(event_set_int(ev, "source.ip", 42, &e), DZ_EINVAL, e);
    assert_dz_ok(event_set_float(ev, "source.geolocation.latitude", 48.5, &e), e);
    assert_dz_fails(event_set_float(ev, "source.geolocation.latitude", INFINITY, &e), DZ_EINVAL, e);
    assert_dz_fails(event_set_int(ev, "nope", 1, &e), DZ_EINVAL, e);
    assert_dz_fails(event_set_bool(ev, "extra", true, &e), DZ_EINVAL, e);
    event_free(ev);
}

static void test_replace_unset_reset(void **state)
{
    (void)state;
    event *ev = event_new();
    dz_err e = {0};
    assert_dz_ok(event_set(ev, "source.ip", "10.0.0.1", 8, &e), e);
    const char *first = event_get(ev, "source.ip")->s;
    assert_dz_ok(event_set(ev, "source.ip", "1.2.3.4", 7, &e), e);
    assert_int_equal(event_count(ev), 1);
    assert_string_equal(event_get(ev, "source.ip")->s, "1.2.3.4");
    assert_ptr_equal(event_get(ev, "source.ip")->s, first); /* a shorter value reuses the old bytes */
    assert_dz_ok(event_set(ev, "source.ip", "2001:db8::abcd:1", 16, &e), e);
    assert_int_equal(event_count(ev), 1);
    assert_string_equal(event_get(ev, "source.ip")->s, "2001:db8::abcd:1");
    /* a refused value leaves the old one */
    assert_dz_fails(event_set(ev, "source.ip", "bad", 3, &e), DZ_EINVAL, e);
    assert_string_equal(event_get(ev, "source.ip")->s, "2001:db8::abcd:1");
    /* a kind change on replacement */
    assert_dz_ok(event_set(ev, "extra.v", "text", 4, &e), e);
    assert_dz_ok(event_set_int(ev, "extra.v", 7, &e), e);
    assert_int_equal(event_get(ev, "extra.v")->kind, EV_INT);
    assert_null(event_get(ev, "extra.v")->s);
    assert_dz_ok(event_set(ev, "extra.v", "longer text now", 15, &e), e);
    assert_string_equal(event_get(ev, "extra.v")->s, "longer text now");
    assert_int_equal(event_count(ev), 2);

    event_unset(ev, "source.ip");
    event_unset(ev, "source.ip"); /* absent: no error */
    event_unset(ev, "not.a.key");
    assert_null(event_get(ev, "source.ip"));
    assert_int_equal(event_count(ev), 1);

    event_reset(ev);
    assert_int_equal(event_count(ev), 0);
    assert_null(event_get(ev, "extra.v"));
    assert_null(event_field_at(ev, 0));
    assert_dz_ok(event_set(ev, "source.port", "22", 2, &e), e);
    assert_int_equal(event_count(ev), 1);
    assert_int_equal(event_get(ev, "source.port")->i, 22);

    /* many replacements of one key without a reset do not grow the arena when the value does not grow */
    assert_dz_ok(event_set(ev, "comment", "0123456789", 10, &e), e);
    const char *slot = event_get(ev, "comment")->s;
    for (int i = 0; i < 100000; i++) {
        char b[16];
        int n = snprintf(b, sizeof b, "%d", i);
        assert_dz_ok(event_set(ev, "comment", b, (size_t)n, &e), e);
    }
    assert_ptr_equal(event_get(ev, "comment")->s, slot);
    assert_string_equal(event_get(ev, "comment")->s, "99999");
    event_free(ev);
    event_free(NULL);
}

static void test_key_order(void **state)
{
    (void)state;
    event *ev = event_new();
    dz_err e = {0};
    static const char *const keys[] = {"time.source", "source.ip", "extra.z", "classification.type", "extra.a",
                                       "feed.name", "source.port", "destination.ip", "comment", "extra.m.n",
                                       "raw", "tlp"};
    static const char *const vals[] = {"2020-01-01", "1.1.1.1", "z", "phishing", "a", "feed", "1", "2.2.2.2", "c",
                                       "mn", "aGk=", "red"};
    size_t n = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < n; i++)
        assert_dz_ok(event_set(ev, keys[i], vals[i], strlen(vals[i]), &e), e);
    assert_int_equal(event_count(ev), n);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(event_field_at(ev, i - 1)->key, event_field_at(ev, i)->key) < 0);
    assert_string_equal(event_field_at(ev, 0)->key, "classification.type");
    assert_string_equal(event_field_at(ev, n - 1)->key, "tlp");
    /* lookups work on the sorted array too, and adding keeps everything findable */
    for (size_t i = 0; i < n; i++)
        assert_non_null(event_get(ev, keys[i]));
    assert_dz_ok(event_set(ev, "extra.b", "b", 1, &e), e);
    assert_dz_ok(event_set(ev, "status", "online", 6, &e), e);
    for (size_t i = 0; i < n; i++)
        assert_non_null(event_get(ev, keys[i]));
    assert_string_equal(event_field_at(ev, 3)->key, "extra.a");
    assert_string_equal(event_field_at(ev, 4)->key, "extra.b");
    event_unset(ev, "extra.a");
    assert_string_equal(event_field_at(ev, 3)->key, "extra.b");
    assert_null(event_field_at(ev, event_count(ev)));
    event_free(ev);
}

static char *to_json(const event *ev)
{
    strbuf sb;
    strbuf_init(&sb);
    event_write_json(ev, &sb);
    assert_false(sb.oom);
    return strbuf_steal(&sb);
}

static void test_json(void **state)
{
    (void)state;
    event *ev = event_new();
    dz_err e = {0};
    strbuf sb;
    strbuf_init(&sb);
    event_write_json(ev, &sb);
    assert_string_equal(sb.buf, "{}");
    strbuf_free(&sb);

    const char nasty[] = "q\" b\\ n\n t\t r\r \x01\x1f\x7f /ü€😀";
    assert_dz_ok(event_set(ev, "comment", nasty, sizeof nasty - 1, &e), e);
    assert_dz_ok(event_set(ev, "source.ip", "1.2.3.4", 7, &e), e);
    assert_dz_ok(event_set(ev, "source.port", "443", 3, &e), e);
    assert_dz_ok(event_set(ev, "source.asn", "AS64496", 7, &e), e);
    assert_dz_ok(event_set(ev, "feed.accuracy", "100", 3, &e), e);
    assert_dz_ok(event_set(ev, "source.geolocation.latitude", "1.5", 3, &e), e);
    assert_dz_ok(event_set_float(ev, "extra.tiny", 1e-7, &e), e);
    assert_dz_ok(event_set_float(ev, "extra.tenth", 0.1, &e), e);
    assert_dz_ok(event_set_float(ev, "extra.big", 1e22, &e), e);
    assert_dz_ok(event_set_float(ev, "extra.third", 1.0 / 3.0, &e), e);
    assert_dz_ok(event_set_float(ev, "extra.negzero", -0.0, &e), e);
    assert_dz_ok(event_set_int(ev, "extra.neg", INT64_MIN, &e), e);
    assert_dz_ok(event_set_bool(ev, "source.tor_node", true, &e), e);
    assert_dz_ok(event_set_bool(ev, "extra.no", false, &e), e);

    char *text = to_json(ev);
    json_error_t je;
    json_t *got = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!got)
        fail_msg("not JSON (%s): %s", je.text, text);
    json_t *want = json_pack("{s:s, s:s, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:b, s:b}",
                             "comment", nasty, "source.ip", "1.2.3.4", "source.port", (json_int_t)443,
                             "source.asn", (json_int_t)64496, "feed.accuracy", 100.0,
                             "source.geolocation.latitude", 1.5, "extra.tiny", 1e-7, "extra.tenth", 0.1,
                             "extra.big", 1e22, "extra.third", 1.0 / 3.0, "extra.negzero", -0.0, "extra.neg",
                             (json_int_t)INT64_MIN, "source.tor_node", 1, "extra.no", 0);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *w = json_dumps(want, JSON_SORT_KEYS);
        fail_msg("JSON differs:\n got  %s\n want %s", text, w);
    }
    /* numbers keep their JSON kind */
    assert_true(json_is_integer(json_object_get(got, "source.port")));
    assert_true(json_is_real(json_object_get(got, "feed.accuracy")));
    assert_true(json_is_real(json_object_get(got, "extra.negzero")));
    /* the exact spellings */
    assert_contains(text, "\"feed.accuracy\":100.0");
    assert_contains(text, "\"source.geolocation.latitude\":1.5");
    assert_contains(text, "\"extra.tiny\":1e-07");
    assert_contains(text, "\"extra.tenth\":0.1,");
    assert_contains(text, "\"extra.big\":1e+22");
    assert_contains(text, "\"extra.negzero\":-0.0");
    assert_contains(text, "\"extra.neg\":-9223372036854775808");
    assert_contains(text, "\\u0001\\u001f");
    assert_contains(text, "q\\\" b\\\\ n\\n t\\t r\\r");
    assert_contains(text, "/ü€😀"); /* UTF-8 and '/' pass through */
    assert_contains(text, "\"source.tor_node\":true");
    assert_contains(text, "\"extra.no\":false");
    /* keys in order */
    const char *prev = NULL;
    const char *k;
    json_t *v;
    size_t at = 0;
    json_object_foreach(got, k, v) { (void)v; at++; }
    assert_int_equal(at, event_count(ev));
    for (size_t i = 0; i < event_count(ev); i++) {
        const char *key = event_field_at(ev, i)->key;
        char pat[128];
        snprintf(pat, sizeof pat, "\"%s\":", key);
        const char *pos = strstr(text, pat);
        assert_non_null(pos);
        if (prev)
            assert_true(pos > prev);
        prev = pos;
    }
    json_decref(got);
    json_decref(want);
    free(text);

    /* appending to a buffer that already holds text */
    event_reset(ev);
    assert_dz_ok(event_set(ev, "source.port", "1", 1, &e), e);
    assert_dz_ok(event_set(ev, "extra.a", "x", 1, &e), e);
    strbuf_init(&sb);
    strbuf_puts(&sb, "[");
    event_write_json(ev, &sb);
    strbuf_puts(&sb, "]");
    assert_string_equal(sb.buf, "[{\"extra.a\":\"x\",\"source.port\":1}]");
    strbuf_free(&sb);
    event_free(ev);
}

/* Every byte that needs escaping, at every offset of a string (the writer skips clean 8-byte words). */
static void test_json_escape_positions(void **state)
{
    (void)state;
    event *ev = event_new();
    dz_err e = {0};
    static const char specials[] = {'"', '\\', '\n', 0x01, 0x1f, 0x7f, ' '};
    for (size_t sp = 0; sp < sizeof specials; sp++)
        for (size_t pos = 0; pos < 24; pos++) {
            char in[40];
            memset(in, 'a', sizeof in);
            in[pos] = specials[sp];
            size_t n = pos + 1 + (pos % 9);
            event_reset(ev);
            assert_dz_ok(event_set(ev, "comment", in, n, &e), e);
            char *text = to_json(ev);
            json_error_t je;
            json_t *got = json_loads(text, 0, &je);
            if (!got)
                fail_msg("not JSON (%s): %s", je.text, text);
            const char *s = json_string_value(json_object_get(got, "comment"));
            assert_non_null(s);
            assert_int_equal(json_string_length(json_object_get(got, "comment")), n);
            assert_memory_equal(s, in, n);
            json_decref(got);
            free(text);
        }
    event_free(ev);
}

/* 1,000,000 fields through event_reset: once warm the event allocates nothing. */
static void test_reuse(void **state)
{
    (void)state;
    event *ev = event_new();
    dz_err e = {0};
    strbuf sb;
    strbuf_init(&sb);
    const char *first = NULL;
    size_t heap_warm = 0;
    for (int round = 0; round < 100000; round++) {
        event_reset(ev);
        char ip[32], port[8], big[600];
        int ipn = snprintf(ip, sizeof ip, "10.%d.%d.%d", (round >> 16) & 255, (round >> 8) & 255, round & 255);
        int pn = snprintf(port, sizeof port, "%d", round % 65536);
        memset(big, 'a' + round % 26, sizeof big);
        size_t bign = 100 + (size_t)(round % 500);
        assert_dz_ok(event_set(ev, "time.source", "2020-01-01T10:00:00+02:00", 25, &e), e);
        assert_dz_ok(event_set(ev, "source.ip", ip, (size_t)ipn, &e), e);
        assert_dz_ok(event_set(ev, "source.port", port, (size_t)pn, &e), e);
        assert_dz_ok(event_set(ev, "source.fqdn", "Host.Example.COM", 16, &e), e);
        assert_dz_ok(event_set(ev, "classification.type", "phishing", 8, &e), e);
        assert_dz_ok(event_set(ev, "feed.name", "bench", 5, &e), e);
        assert_dz_ok(event_set(ev, "extra.payload", big, bign, &e), e);
        assert_dz_ok(event_set(ev, "extra.os.name", "Linux", 5, &e), e);
        assert_dz_ok(event_set_int(ev, "extra.count", round, &e), e);
        assert_dz_ok(event_set(ev, "source.url", "hxxp://evil.example/a", 21, &e), e);
        assert_int_equal(event_count(ev), 10);
        strbuf_reset(&sb);
        event_write_json(ev, &sb);
        if (round == 0)
            first = event_get(ev, "time.source")->s;
        else
            assert_ptr_equal(event_get(ev, "time.source")->s, first); /* the arena is reused */
        if (round == 1000) {
            struct mallinfo2 mi = mallinfo2();
            heap_warm = mi.uordblks;
        }
    }
    struct mallinfo2 mi = mallinfo2();
    if (mi.uordblks != heap_warm)
        fail_msg("heap grew from %zu to %zu bytes while warm", heap_warm, mi.uordblks);
    strbuf_free(&sb);
    event_free(ev);
}

/* ---- resolved keys (event_key), event_copy_fields, key order without names ---- */

/* One value set both ways: by name and through a resolved key must give the same result. */
typedef struct kv {
    const char *key, *text;
} kv;

static void test_keys_resolved(void **state)
{
    (void)state;
    static const kv cases[] = {
        {"source.ip", "192.0.2.1"}, {"source.ip", " 192.0.2.1 "}, {"source.ip", "01.2.3.4"},
        {"source.ip", "1.2.3.256"}, {"source.ip", "2001:DB8::1"}, {"source.ip", "1.2.3.4/32"},
        {"source.ip", "0.0.0.0"}, {"source.network", "192.0.2.7/24"}, {"time.source", "2018-07-26T02:07:16+00:00"},
        {"time.source", "2018-02-30T02:07:16+00:00"}, {"time.source", "2018-07-26 02:07:16 UTC"},
        {"time.source", "2018-07-26T24:07:16+00:00"}, {"time.source", "0000-01-01T00:00:00+00:00"},
        {"time.source", "2018-07-26T02:07:16+01:00"}, {"source.reverse_dns", "Host-1.Example.NET."},
        {"source.reverse_dns", "192.0.2.1"}, {"source.reverse_dns", "::1"}, {"source.reverse_dns", "a b"},
        {"source.port", "5555"}, {"source.port", "70000"}, {"source.asn", "AS64512"}, {"source.asn", "0"},
        {"source.geolocation.cc", "bt"}, {"source.geolocation.cc", "XXX"}, {"protocol.transport", "TCP"},
        {"extra.tag", "anything \"quoted\""}, {"extra.tag", ""}, {"extra.Bad", "x"}, {"extra", "x"},
        {"no.such.key", "x"}, {"classification.type", "phishing"}, {"classification.taxonomy", "Fraud"},
        {"raw", "aGk="}, {"raw", "not base64"}, {"source.url", "example.com/a"}, {"comment", "\xff"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const kv *c = &cases[i];
        event *a = event_new(), *b = event_new();
        dz_err ea = {0}, eb = {0};
        dz_code ra = event_set(a, c->key, c->text, strlen(c->text), &ea);
        event_key k;
        dz_code rk = event_key_init(&k, c->key, &eb);
        assert_int_equal(rk == DZ_OK, k.ok);
        dz_code rb = rk == DZ_OK ? event_set_k(b, &k, c->text, strlen(c->text), &eb) : rk;
        if (ra != rb || strcmp(ea.msg, eb.msg) != 0)
            fail_msg("%s = '%s': by name %d '%s', by key %d '%s'", c->key, c->text, (int)ra, ea.msg, (int)rb, eb.msg);
        if (!k.ok)
            assert_dz_fails(event_set_k(b, &k, "x", 1, &eb), DZ_EINVAL, eb);
        char *ja = to_json(a), *jb = to_json(b);
        assert_string_equal(ja, jb);
        if (ra == DZ_OK) {
            assert_non_null(event_get_k(a, &k)); /* set by name, found by key */
            assert_non_null(event_get(b, c->key)); /* and the other way round */
            assert_ptr_equal(event_get_k(b, &k), event_get(b, c->key));
        }
        free(ja);
        free(jb);
        event_free(a);
        event_free(b);
    }

    /* typed setters */
    event *a = event_new(), *b = event_new();
    dz_err e = {0};
    event_key port, score, open, when, cc;
    assert_dz_ok(event_key_init(&port, "source.port", &e), e);
    assert_dz_ok(event_key_init(&score, "extra.score", &e), e);
    assert_dz_ok(event_key_init(&open, "extra.open", &e), e);
    assert_dz_ok(event_key_init(&when, "time.source", &e), e);
    assert_dz_ok(event_key_init(&cc, "source.geolocation.cc", &e), e);
    assert_int_equal(port.type, HT_INT);
    assert_int_equal(score.type, HT_JSON);
    assert_dz_ok(event_set_int(a, "source.port", 443, &e), e);
    assert_dz_ok(event_set_k_int(b, &port, 443, &e), e);
    assert_dz_fails(event_set_k_int(b, &port, 70000, &e), DZ_EINVAL, e);
    assert_dz_ok(event_set_float(a, "extra.score", 1.57, &e), e);
    assert_dz_ok(event_set_k_float(b, &score, 1.57, &e), e);
    assert_dz_ok(event_set_bool(a, "extra.open", true, &e), e);
    assert_dz_ok(event_set_k_bool(b, &open, true, &e), e);
    assert_dz_ok(event_set_float(a, "time.source", 1532570836.5, &e), e);
    assert_dz_ok(event_set_k_float(b, &when, 1532570836.5, &e), e);
    assert_dz_fails(event_set_k_bool(b, &cc, true, &e), DZ_EINVAL, e);
    assert_dz_fails(event_set_k_int(b, &cc, 123, &e), DZ_EINVAL, e); /* "123" as text: not a country code */
    char *ja = to_json(a), *jb = to_json(b);
    assert_string_equal(ja, jb);
    free(ja);
    free(jb);
    /* an extra key's name is the caller's, not a copy */
    assert_ptr_equal(event_get_k(b, &score)->key, score.name);
    event_free(a);
    event_free(b);
}

static void test_copy_fields(void **state)
{
    (void)state;
    dz_err e = {0};
    event *tmpl = event_new(), *ev = event_new(), *want = event_new();
    /* the template: what a report's constants look like, plus an extra and typed values */
    static const kv consts[] = {{"classification.taxonomy", "vulnerable"}, {"classification.type", "vulnerable-system"},
                                {"protocol.application", "HTTP"}, {"feed.name", "Accessible HTTP"},
                                {"time.observation", "2026-11-23 00:00:00"}, {"extra.const", "c"}};
    for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++) {
        assert_dz_ok(event_set(tmpl, consts[i].key, consts[i].text, strlen(consts[i].text), &e), e);
        assert_dz_ok(event_set(want, consts[i].key, consts[i].text, strlen(consts[i].text), &e), e);
    }
    assert_dz_ok(event_set_int(tmpl, "extra.n", 7, &e), e);
    assert_dz_ok(event_set_bool(tmpl, "extra.b", false, &e), e);
    assert_dz_ok(event_set_float(tmpl, "extra.f", 0.5, &e), e);
    for (int round = 0; round < 3; round++) {
        event_reset(ev);
        event_reset(want);
        /* the row's own fields, one of them overwritten by the template */
        assert_dz_ok(event_set(ev, "source.ip", "192.0.2.1", 9, &e), e);
        assert_dz_ok(event_set(ev, "protocol.application", "ftp", 3, &e), e);
        assert_dz_ok(event_set(want, "source.ip", "192.0.2.1", 9, &e), e);
        for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++)
            assert_dz_ok(event_set(want, consts[i].key, consts[i].text, strlen(consts[i].text), &e), e);
        assert_dz_ok(event_set_int(want, "extra.n", 7, &e), e);
        assert_dz_ok(event_set_bool(want, "extra.b", false, &e), e);
        assert_dz_ok(event_set_float(want, "extra.f", 0.5, &e), e);
        assert_dz_ok(event_copy_fields(ev, tmpl, &e), e);
        char *jg = to_json(ev), *jw = to_json(want);
        assert_string_equal(jg, jw);
        free(jg);
        free(jw);
    }
    assert_string_equal(event_get(ev, "protocol.application")->s, "http");
    /* dst keeps its own copies: the template may change or go */
    event_free(tmpl);
    assert_string_equal(event_get(ev, "extra.const")->s, "c");
    assert_int_equal(event_get(ev, "extra.n")->i, 7);
    event_free(ev);
    event_free(want);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Key order comes from ranks (table position, the first bytes of an extra's name): check it against strcmp. */
static void test_key_order_ranks(void **state)
{
    (void)state;
    static const char *const pool[] = {
        "extra.source.naics", "extra.source.sic", "extra.sourcex", "extra.source", "extra.a", "extra.-", "extra.0",
        "extra._", "extra.z", "extra.zz", "extra.source.naics.x", "extra.sourc", "extra.a-b", "extra.a.b", "extra.a_b",
        "extra.abcdefgh", "extra.abcdefg", "extra.abcdefghi", "event_hash", "feed.accuracy", "feed.name",
        "classification.identifier", "source.ip", "time.source", "tlp", "comment", "destination.port", "raw",
        "output", "extra.1", "extra.9a", "extra.source.asn",
    };
    static const char *const vals[] = {"1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1",
                                       "1", "1", "AB12", "50", "f", "id", "192.0.2.1", "2020-01-01", "red", "c", "80",
                                       "aGk=", "o", "1", "1", "1"};
    size_t n = sizeof pool / sizeof pool[0];
    const char *sorted[64];
    memcpy(sorted, pool, sizeof pool);
    qsort(sorted, n, sizeof *sorted, cmp_str);
    uint64_t seed = 42;
    event *ev = event_new();
    dz_err e = {0};
    for (int round = 0; round < 200; round++) {
        size_t idx[64];
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        for (size_t i = n - 1; i > 0; i--) { /* a shuffled order of insertion */
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            size_t j = (size_t)(seed >> 33) % (i + 1);
            size_t t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        event_reset(ev);
        for (size_t i = 0; i < n; i++)
            assert_dz_ok(event_set(ev, pool[idx[i]], vals[idx[i]], strlen(vals[idx[i]]), &e), e);
        if (round % 2) /* sorted once, then one more key: kept in order */
            assert_non_null(event_field_at(ev, 0));
        assert_dz_ok(event_set(ev, "extra.source.naics", "2", 1, &e), e); /* a replacement */
        assert_int_equal(event_count(ev), n);
        for (size_t i = 0; i < n; i++)
            assert_string_equal(event_field_at(ev, i)->key, sorted[i]);
    }
    /* more than 48 fields: the general sort */
    event_reset(ev);
    char names[80][24];
    const char *sorted2[80];
    for (size_t i = 0; i < 80; i++) {
        snprintf(names[i], sizeof names[i], "extra.k%03zu", (i * 37) % 80);
        assert_dz_ok(event_set(ev, names[i], "v", 1, &e), e);
        sorted2[i] = names[i];
    }
    assert_dz_ok(event_set(ev, "comment", "c", 1, &e), e);
    assert_dz_ok(event_set(ev, "tlp", "red", 3, &e), e);
    qsort(sorted2, 80, sizeof *sorted2, cmp_str);
    assert_string_equal(event_field_at(ev, 0)->key, "comment");
    for (size_t i = 0; i < 80; i++)
        assert_string_equal(event_field_at(ev, i + 1)->key, sorted2[i]);
    assert_string_equal(event_field_at(ev, 81)->key, "tlp");
    event_unset(ev, "extra.k000");
    assert_string_equal(event_field_at(ev, 1)->key, "extra.k001");
    assert_null(event_get(ev, "extra.k000"));
    assert_non_null(event_get(ev, "extra.k079"));
    event_free(ev);
}

static void test_ipv4_dotted(void **state)
{
    (void)state;
    uint32_t a = 0;
    assert_true(ipv4_dotted_parse("198.51.100.7", 12, &a));
    assert_int_equal(a, 0xc6336407u);
    assert_true(ipv4_dotted_parse("0.0.0.0", 7, &a));
    assert_int_equal(a, 0);
    assert_true(ipv4_dotted_parse("255.255.255.255", 15, NULL));
    assert_true(ipv4_dotted_parse("10.0.0.1/8", 8, &a)); /* only n bytes are read */
    assert_int_equal(a, 0x0a000001u);
    const char *bad[] = {"256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1..2.3", "1.2.3.4 ", "a.b.c.d", "", "1.2.3.-4"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(ipv4_dotted_parse(bad[i], strlen(bad[i]), &a));
}

/* The stored (packed) form of ev, expanded again, must be event_write_json's text; returns the packed text. */
static char *doc_round_trip(const event *ev)
{
    strbuf doc, back;
    strbuf_init(&doc);
    strbuf_init(&back);
    event_write_doc(ev, &doc);
    dz_err e = {0};
    assert_dz_ok(event_doc_to_json(doc.buf, doc.len, &back, &e), e);
    char *json = to_json(ev);
    if (strcmp(back.buf, json) != 0)
        fail_msg("packed '%s' expands to\n  '%s', expected\n  '%s'", doc.buf, back.buf, json);
    free(json);
    strbuf_free(&back);
    return strbuf_steal(&doc);
}

static void test_doc_codes(void **state)
{
    (void)state;
    /* every field has a code, and no two share one */
    bool used[1000] = {false};
    const char *k;
    for (size_t i = 0; (k = harmonization_key_at(i, NULL)); i++) {
        int c = event_doc_code(k);
        if (c < 0 || c >= 1000)
            fail_msg("harmonization field '%s' has no event_doc code: append it to DOC_KEYS", k);
        if (used[c])
            fail_msg("'%s' has code %d, which another field has too", k, c);
        used[c] = true;
    }
    assert_int_equal(event_doc_code("extra.foo"), -1);
    assert_int_equal(event_doc_code("nonsense"), -1);
    /* stored documents depend on the codes: these must never change */
    assert_int_equal(event_doc_code("classification.identifier"), 0);
    assert_int_equal(event_doc_code("classification.taxonomy"), 1);
    assert_int_equal(event_doc_code("feed.name"), 37);
    assert_int_equal(event_doc_code("source.ip"), 75);
    assert_int_equal(event_doc_code("source.port"), 79);
    assert_int_equal(event_doc_code("time.source"), 87);
    assert_int_equal(event_doc_code("tlp"), 88);
}

static void test_doc_packed(void **state)
{
    (void)state;
    event *ev = event_new();
    dz_err e = {0};
    char *doc = doc_round_trip(ev);
    assert_string_equal(doc, "[1]");
    free(doc);

    assert_dz_ok(event_set(ev, "source.ip", "192.0.2.1", 9, &e), e);
    assert_dz_ok(event_set(ev, "source.port", "443", 3, &e), e);
    assert_dz_ok(event_set(ev, "classification.taxonomy", "vulnerable", 10, &e), e);
    assert_dz_ok(event_set(ev, "extra.http-code.x", "302", 3, &e), e);
    assert_dz_ok(event_set_bool(ev, "extra.ok", true, &e), e);
    assert_dz_ok(event_set_float(ev, "source.geolocation.latitude", -27.5, &e), e);
    doc = doc_round_trip(ev);
    assert_string_equal(doc, "[1,1,\"vulnerable\",\"http-code.x\",\"302\",\"ok\",true,71,-27.5,75,\"192.0.2.1\",79,443]");
    free(doc);

    /* every kind of value and every escape comes back byte for byte */
    const char nasty[] = "q\" b\\ n\n t\t r\r \x01\x1f\x7f /ü€😀 ],\"1\",[";
    assert_dz_ok(event_set(ev, "comment", nasty, sizeof nasty - 1, &e), e);
    assert_dz_ok(event_set(ev, "extra.quote", "\"", 1, &e), e);
    assert_dz_ok(event_set(ev, "extra.backslash", "\\", 1, &e), e);
    assert_dz_ok(event_set_int(ev, "extra.negative", -9223372036854775807LL, &e), e);
    assert_dz_ok(event_set_float(ev, "extra.tiny", 1e-300, &e), e);
    assert_dz_ok(event_set_bool(ev, "source.tor_node", false, &e), e);
    assert_dz_ok(event_set(ev, "time.source", "2024-02-29 23:59:59", 19, &e), e);
    assert_dz_ok(event_set(ev, "raw", "aGVsbG8=", 8, &e), e);
    char long_name[201] = "extra.";
    memset(long_name + 6, 'a', 194);
    assert_dz_ok(event_set(ev, long_name, "long", 4, &e), e);
    free(doc_round_trip(ev));
    event_free(ev);
}

static void test_doc_stored_forms(void **state)
{
    (void)state;
    strbuf out;
    strbuf_init(&out);
    dz_err e = {0};
    /* an object (stored before the packed form) comes back as it is */
    const char *obj = "{\"source.ip\":\"192.0.2.1\"}";
    assert_dz_ok(event_doc_to_json(obj, strlen(obj), &out, &e), e);
    assert_string_equal(out.buf, obj);

    const char *damaged[] = {"[", "[1", "[2]", "[1,", "[1,]", "[1,89,1]", "[1,9999999999999999999999,1]",
                             "[1,\"\",1]", "[1,\"A\",1]", "[1,\"a\"", "[1,\"a\",]", "[1,3]", "[1,3,",
                             "[1,3,\"abc]", "[1,3,\"abc\\\"]", "[1,3,1", "[1,3,1]x", "[1]]", "[1,{},1]",
                             "[1,3,1,]", "[1 ,3,1]"};
    for (size_t i = 0; i < sizeof damaged / sizeof damaged[0]; i++) {
        strbuf_reset(&out);
        e = (dz_err){0};
        if (event_doc_to_json(damaged[i], strlen(damaged[i]), &out, &e) != DZ_EINVAL)
            fail_msg("damaged document '%s' was accepted as '%s'", damaged[i], out.buf ? out.buf : "");
        if (!strstr(e.msg, "damaged at byte"))
            fail_msg("'%s': the error names no position: %s", damaged[i], e.msg);
    }
    strbuf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_ip),
        cmocka_unit_test(test_network),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_floats_bools),
        cmocka_unit_test(test_fqdn_url),
        cmocka_unit_test(test_datetime),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_extra_and_typed),
        cmocka_unit_test(test_replace_unset_reset),
        cmocka_unit_test(test_key_order),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_escape_positions),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_keys_resolved),
        cmocka_unit_test(test_copy_fields),
        cmocka_unit_test(test_key_order_ranks),
        cmocka_unit_test(test_ipv4_dotted),
        cmocka_unit_test(test_doc_codes),
        cmocka_unit_test(test_doc_packed),
        cmocka_unit_test(test_doc_stored_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
