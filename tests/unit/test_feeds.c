/*
 * Unit tests: the feed parsers of lib/feed.h other than Shadowserver (feodo, urlhaus,
 * spamhaus-drop, blocklist, csv, intelmq, suricata), the shared line reader, and the
 * parser table. Good rows with exact values, refused rows (reason and line), hostile
 * bytes, and positions that do not depend on how the input arrives.
 */
#include "unit.h"

#include <jansson.h>

#include "lib/feed.h"

/* ---- harness ---- */

typedef struct collected {
    json_t *events;    /* array of objects */
    json_t *lines;     /* array of the events' positions */
    strbuf errors;     /* "LINE: reason\n" */
    json_t *err_raw;   /* array of the refused rows' bytes (strings, "" when NULL) */
    size_t nerr;
    size_t stop_after; /* 0: never */
} collected;

static int collect_event(void *arg, event *ev, uint64_t line)
{
    collected *c = arg;
    strbuf sb;
    strbuf_init(&sb);
    event_write_json(ev, &sb);
    json_error_t je;
    json_t *o = json_loads(sb.buf, 0, &je);
    if (!o)
        fail_msg("event_write_json gave invalid JSON: %s (%s)", sb.buf, je.text);
    json_array_append_new(c->events, o);
    json_array_append_new(c->lines, json_integer((json_int_t)line));
    strbuf_free(&sb);
    return c->stop_after && json_array_size(c->events) >= c->stop_after;
}

static void collect_error(void *arg, uint64_t line, const char *reason, const char *raw, size_t raw_len)
{
    collected *c = arg;
    assert_true(raw || raw_len == 0);
    assert_non_null(reason);
    assert_true(reason[0] != '\0');
    strbuf_printf(&c->errors, "%llu: %s\n", (unsigned long long)line, reason);
    json_array_append_new(c->err_raw, raw ? json_stringn_nocheck(raw, raw_len) : json_string(""));
    c->nerr++;
}

/* Reads the memory in chunks of `chunk` bytes (0: all that fits). */
typedef struct chunked {
    const char *data;
    size_t len, pos, chunk;
} chunked;

static long read_chunked(void *arg, char *buf, size_t cap)
{
    chunked *m = arg;
    size_t n = m->len - m->pos;
    if (n > cap)
        n = cap;
    if (m->chunk && n > m->chunk)
        n = m->chunk;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (long)n;
}

static void init_collected(collected *c)
{
    memset(c, 0, sizeof *c);
    c->events = json_array();
    c->lines = json_array();
    c->err_raw = json_array();
    strbuf_init(&c->errors);
}

static dz_code run_n(feed_parse_fn fn, const feed_options *o, const char *input, size_t len, size_t chunk,
                     collected *c, dz_err *e)
{
    init_collected(c);
    chunked m = {input, len, 0, chunk};
    return fn(o, read_chunked, &m, collect_event, collect_error, c, e);
}

static dz_code run(feed_parse_fn fn, const feed_options *o, const char *input, collected *c, dz_err *e)
{
    return run_n(fn, o, input, strlen(input), 0, c, e);
}

static void done(collected *c)
{
    json_decref(c->events);
    json_decref(c->lines);
    json_decref(c->err_raw);
    strbuf_free(&c->errors);
}

static json_t *ev_at(collected *c, size_t i)
{
    json_t *ev = json_array_get(c->events, i);
    if (!ev)
        fail_msg("no event %zu (%zu events); errors:\n%s", i, json_array_size(c->events),
                 c->errors.buf ? c->errors.buf : "");
    return ev;
}

static const char *str(json_t *ev, const char *key)
{
    json_t *v = json_object_get(ev, key);
    if (!json_is_string(v)) {
        char *d = json_dumps(ev, JSON_SORT_KEYS);
        fail_msg("%s is not a string in %s", key, d);
    }
    return json_string_value(v);
}

static long long num(json_t *ev, const char *key)
{
    json_t *v = json_object_get(ev, key);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", key);
    return (long long)json_integer_value(v);
}

static size_t line_at(collected *c, size_t i)
{
    return (size_t)json_integer_value(json_array_get(c->lines, i));
}

static void expect_counts(collected *c, size_t events, size_t errors)
{
    if (json_array_size(c->events) != events || c->nerr != errors)
        fail_msg("%zu events (want %zu), %zu errors (want %zu):\n%s", json_array_size(c->events), events, c->nerr,
                 errors, c->errors.buf ? c->errors.buf : "");
}

static char *b64(const char *s)
{
    strbuf sb;
    strbuf_init(&sb);
    feed_base64_append(&sb, s, strlen(s));
    return strbuf_steal(&sb);
}

static const feed_options OBS = {.observation_time = "2026-11-23T07:00:00Z"};

/* ---- the table and the line reader ---- */

static void test_table(void **state)
{
    (void)state;
    static const char *const names[] = {"shadowserver", "feodo", "urlhaus", "spamhaus-drop",
                                        "blocklist", "csv", "intelmq", "suricata"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const feed_parser *p = feed_parser_find(names[i]);
        assert_non_null(p);
        assert_ptr_equal(p, feed_parser_at(i));
        assert_non_null(p->parse);
        assert_true(strlen(p->summary) > 10);
    }
    assert_null(feed_parser_at(sizeof names / sizeof names[0]));
    assert_null(feed_parser_find("nope"));
    assert_null(feed_parser_find(NULL));
}

static void test_lines(void **state)
{
    (void)state;
    static const char in[] = "\xEF\xBB\xBF" "one\r\ntwo\n\nthree\rx\nlast";
    for (size_t chunk = 0; chunk < 6; chunk++) {
        chunked m = {in, sizeof in - 1, 0, chunk};
        feed_lines l;
        feed_lines_init(&l, read_chunked, &m, 16);
        const char *want[] = {"one", "two", "", "three\rx", "last"};
        dz_err e = {0};
        for (size_t i = 0; i < 5; i++) {
            const char *s;
            size_t n;
            uint64_t line;
            assert_int_equal(feed_lines_next(&l, &s, &n, &line, &e), FEED_LINE);
            assert_int_equal(line, i + 1);
            assert_int_equal(n, strlen(want[i]));
            assert_memory_equal(s, want[i], n);
        }
        const char *s;
        size_t n;
        uint64_t line;
        assert_int_equal(feed_lines_next(&l, &s, &n, &line, &e), FEED_LINE_END);
        feed_lines_free(&l);
    }
    /* too long: once, then the next line */
    static const char lng[] = "short\n0123456789abcdefXYZ\nnext\n0123456789abcdefghij";
    for (size_t chunk = 0; chunk < 4; chunk++) {
        chunked m = {lng, sizeof lng - 1, 0, chunk};
        feed_lines l;
        feed_lines_init(&l, read_chunked, &m, 16);
        dz_err e = {0};
        const char *s;
        size_t n;
        uint64_t line;
        assert_int_equal(feed_lines_next(&l, &s, &n, &line, &e), FEED_LINE);
        assert_int_equal(feed_lines_next(&l, &s, &n, &line, &e), FEED_LINE_LONG);
        assert_int_equal(line, 2);
        assert_int_equal(n, 16);
        assert_memory_equal(s, "0123456789abcdef", 16);
        assert_int_equal(feed_lines_next(&l, &s, &n, &line, &e), FEED_LINE);
        assert_int_equal(line, 3);
        assert_memory_equal(s, "next", 4);
        assert_int_equal(feed_lines_next(&l, &s, &n, &line, &e), FEED_LINE_LONG);
        assert_int_equal(line, 4);
        assert_int_equal(feed_lines_next(&l, &s, &n, &line, &e), FEED_LINE_END);
        feed_lines_free(&l);
    }
}

static long read_fail(void *arg, char *buf, size_t cap)
{
    (void)arg, (void)buf, (void)cap;
    return -1;
}

static void test_read_error_and_options(void **state)
{
    (void)state;
    const feed_parse_fn fns[] = {feed_feodo_parse, feed_urlhaus_parse, feed_spamhaus_drop_parse,
                                 feed_blocklist_parse, feed_intelmq_parse, feed_suricata_parse};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        collected c;
        init_collected(&c);
        dz_err e = {0};
        assert_dz_fails(fns[i](&OBS, read_fail, NULL, collect_event, collect_error, &c, &e), DZ_EIO, e);
        done(&c);
        feed_options bad = {.observation_time = "yesterday"};
        assert_dz_fails(run(fns[i], &bad, "1.2.3.4\n", &c, &e), DZ_EINVAL, e);
        assert_contains(e.msg, "observation time");
        done(&c);
        /* empty input: nothing */
        assert_dz_ok(run(fns[i], NULL, "", &c, &e), e);
        expect_counts(&c, 0, 0);
        done(&c);
    }
    collected c;
    dz_err e = {0};
    assert_dz_fails(run(feed_csv_parse, &OBS, "a\n", &c, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "--mapping");
    done(&c);
}

/* ---- feodo ---- */

static const char feodo_input[] =
    "################################################################\n"
    "# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)          #\n"
    "################################################################\n"
    "#\n"
    "# \"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n"
    "\"2021-01-17 07:30:05\",\"67.213.75.205\",\"443\",\"online\",\"2026-11-19\",\"QakBot\"\n" /* 6 */
    "\"2021-01-17 07:44:46\",\"300.1.1.1\",\"443\",\"offline\",\"2026-11-19\",\"Emotet\"\n"   /* 7 */
    "\"2021-01-17 07:44:46\",\"1.2.3.4\",\"99999\",\"offline\",\"2026-11-19\",\"Emotet\"\n"   /* 8 */
    "\"\",\"5.6.7.8\",\"8080\",\"offline\",\"2026-11-19\",\"Dridex\"\n"                      /* 9 */
    "\"2021-01-17 07:44:46\",\"1.2.3.5\",\"443\",\"offline\",\"\",\"Mal\xff\"\n"             /* 10 */
    "\"2021-01-17 07:44:46\",\"1.2.3.6\n"                                                    /* 11 */
    "\"\",,\"443\"\n"                                                                         /* 12 */
    "# Number of entries: 3\n";

static void test_feodo(void **state)
{
    (void)state;
    feed_options o = OBS;
    o.raw = true;
    collected c;
    dz_err e = {0};
    assert_dz_ok(run(feed_feodo_parse, &o, feodo_input, &c, &e), e);
    expect_counts(&c, 2, 5);
    json_t *ev = ev_at(&c, 0);
    assert_int_equal(line_at(&c, 0), 6);
    assert_string_equal(str(ev, "time.source"), "2021-01-17T07:30:05+00:00");
    assert_string_equal(str(ev, "source.ip"), "67.213.75.205");
    assert_int_equal(num(ev, "source.port"), 443);
    assert_string_equal(str(ev, "status"), "online");
    assert_string_equal(str(ev, "extra.last_online"), "2026-11-19");
    assert_string_equal(str(ev, "malware.name"), "qakbot");
    assert_string_equal(str(ev, "classification.taxonomy"), "malicious-code");
    assert_string_equal(str(ev, "classification.type"), "c2-server");
    assert_string_equal(str(ev, "feed.name"), "Feodo Tracker");
    assert_string_equal(str(ev, "feed.provider"), "abuse.ch");
    assert_string_equal(str(ev, "time.observation"), "2026-11-23T07:00:00+00:00");
    char *want = b64("\"2021-01-17 07:30:05\",\"67.213.75.205\",\"443\",\"online\",\"2026-11-19\",\"QakBot\"");
    assert_string_equal(str(ev, "raw"), want);
    free(want);
    assert_int_equal(json_object_size(ev), 12);
    /* no first seen: the last-online day, midnight */
    ev = ev_at(&c, 1);
    assert_int_equal(line_at(&c, 1), 9);
    assert_string_equal(str(ev, "time.source"), "2026-11-19T00:00:00+00:00");
    assert_string_equal(str(ev, "malware.name"), "dridex");
    assert_contains(c.errors.buf, "7: column 'dst_ip': source.ip: '300.1.1.1' is not an IP address\n");
    assert_contains(c.errors.buf, "8: column 'dst_port': source.port: 99999 is not a port (0..65535)\n");
    assert_contains(c.errors.buf, "10: column 'malware': malware.name:");
    assert_contains(c.errors.buf, "11: unterminated quoted field\n");
    assert_contains(c.errors.buf, "12: source.ip: no value (column 'dst_ip')\n");
    assert_string_equal(json_string_value(json_array_get(c.err_raw, 0)),
                        "\"2021-01-17 07:44:46\",\"300.1.1.1\",\"443\",\"offline\",\"2026-11-19\",\"Emotet\"");
    done(&c);

    /* the uncommented header, columns reordered, an unknown column kept as extra */
    const char *plain = "dst_ip,first_seen_utc,malware,Note\n"
                        "192.0.2.1,2022-02-02 02:02:02,Emotet,hello\n";
    assert_dz_ok(run(feed_feodo_parse, &OBS, plain, &c, &e), e);
    expect_counts(&c, 1, 0);
    ev = ev_at(&c, 0);
    assert_int_equal(line_at(&c, 0), 2);
    assert_string_equal(str(ev, "source.ip"), "192.0.2.1");
    assert_string_equal(str(ev, "time.source"), "2022-02-02T02:02:02+00:00");
    assert_string_equal(str(ev, "malware.name"), "emotet");
    assert_string_equal(str(ev, "extra.note"), "hello");
    done(&c);

    /* no header at all: the published order; a feed name given wins */
    feed_options named = OBS;
    named.feed_name = "My Feodo";
    assert_dz_ok(run(feed_feodo_parse, &named, "2021-01-17 07:30:05,192.0.2.9,447,online,2026-11-19,TrickBot", &c,
                     &e),
                 e);
    expect_counts(&c, 1, 0);
    ev = ev_at(&c, 0);
    assert_string_equal(str(ev, "source.ip"), "192.0.2.9");
    assert_int_equal(num(ev, "source.port"), 447);
    assert_string_equal(str(ev, "feed.name"), "My Feodo");
    assert_null(json_object_get(ev, "raw"));
    done(&c);
}

/* ---- urlhaus ---- */

static void test_urlhaus(void **state)
{
    (void)state;
    const char *in =
        "################################################################\n"
        "# abuse.ch URLhaus Database Dump (CSV - recent URLs only)      #\n"
        "# Terms Of Use: https://urlhaus.abuse.ch/api/                  #\n"
        "#\n"
        "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
        "\"3360401\",\"2026-11-20 10:05:07\",\"http://27.215.120.33:49638/i\",\"online\",\"2026-11-20 10:05:07\","
        "\"malware_download\",\"32-bit,elf, mips,,Mozi\",\"https://urlhaus.abuse.ch/url/3360401/\",\"geenensp\"\n"
        "\"3360400\",\"2026-11-20 10:04:07\",\"https://Example.COM./bad.exe\",\"offline\",\"\",\"malware_download\","
        "\"\",\"https://urlhaus.abuse.ch/url/3360400/\",\"abuse_ch\"\n"
        "\"3360399\",\"2026-11-20 10:04:07\",\"http://[2001:db8::1]:8080/x\",\"offline\",\"\",\"\",\"\",\"\",\"\"\n"
        "\"3360398\",\"2026-11-20\",\"not a url\",\"offline\",\"\",\"\",\"\",\"\",\"\"\n"
        "\"3360397\",\"20/11/2026\",\"http://a.example/\",\"offline\",\"\",\"\",\"\",\"\",\"\"\n";
    collected c;
    dz_err e = {0};
    assert_dz_ok(run(feed_urlhaus_parse, &OBS, in, &c, &e), e);
    expect_counts(&c, 3, 2);
    json_t *ev = ev_at(&c, 0);
    assert_int_equal(line_at(&c, 0), 6);
    assert_string_equal(str(ev, "source.url"), "http://27.215.120.33:49638/i");
    assert_string_equal(str(ev, "source.ip"), "27.215.120.33");
    assert_int_equal(num(ev, "source.port"), 49638);
    assert_null(json_object_get(ev, "source.fqdn"));
    assert_string_equal(str(ev, "time.source"), "2026-11-20T10:05:07+00:00");
    assert_string_equal(str(ev, "status"), "online");
    assert_string_equal(str(ev, "extra.urlhaus.threat"), "malware_download");
    assert_string_equal(str(ev, "extra.urlhaus.id"), "3360401");
    assert_string_equal(str(ev, "extra.tags"), "32-bit,elf,mips,Mozi");
    assert_string_equal(str(ev, "event_description.url"), "https://urlhaus.abuse.ch/url/3360401/");
    assert_string_equal(str(ev, "extra.reporter"), "geenensp");
    assert_string_equal(str(ev, "extra.last_online"), "2026-11-20 10:05:07");
    assert_string_equal(str(ev, "classification.taxonomy"), "malicious-code");
    assert_string_equal(str(ev, "classification.type"), "malware-distribution");
    assert_string_equal(str(ev, "feed.name"), "URLhaus");
    assert_string_equal(str(ev, "feed.provider"), "abuse.ch");
    ev = ev_at(&c, 1);
    assert_string_equal(str(ev, "source.fqdn"), "example.com");
    assert_null(json_object_get(ev, "source.ip"));
    assert_null(json_object_get(ev, "source.port"));
    assert_null(json_object_get(ev, "extra.tags"));
    ev = ev_at(&c, 2);
    assert_string_equal(str(ev, "source.ip"), "2001:db8::1");
    assert_int_equal(num(ev, "source.port"), 8080);
    assert_contains(c.errors.buf, "9: column 'url': source.url: 'not a url' is not a URL");
    assert_contains(c.errors.buf, "10: column 'dateadded': time.source: '20/11/2026'");
    done(&c);
}

/* ---- spamhaus ---- */

static void test_spamhaus(void **state)
{
    (void)state;
    const char *txt = "; Spamhaus DROP List 2026/11/20 - (c) 2026 The Spamhaus Project SLU\n"
                      "; https://www.spamhaus.org/drop/drop.txt\n"
                      "; Last-Modified: Thu, 20 Nov 2026 13:45:12 GMT\n"
                      "; Expires: Thu, 20 Nov 2026 15:02:44 GMT\n"
                      "1.10.16.0/20 ; SBL256894\n"
                      "1.19.0.0/16;SBL434604\n"
                      "999.1.0.0/16 ; SBL1\n"
                      " ; SBL2\n"
                      "2001:DB8::/32 ; SBL3\n";
    feed_options o = OBS;
    o.raw = true;
    collected c;
    dz_err e = {0};
    assert_dz_ok(run(feed_spamhaus_drop_parse, &o, txt, &c, &e), e);
    expect_counts(&c, 3, 1); /* " ; SBL2" is trimmed to a comment line */
    json_t *ev = ev_at(&c, 0);
    assert_int_equal(line_at(&c, 0), 5);
    assert_string_equal(str(ev, "source.network"), "1.10.16.0/20");
    assert_string_equal(str(ev, "extra.blocklist"), "SBL256894");
    assert_string_equal(str(ev, "time.source"), "2026-11-20T13:45:12+00:00");
    assert_string_equal(str(ev, "classification.taxonomy"), "other");
    assert_string_equal(str(ev, "classification.type"), "blacklist");
    assert_string_equal(str(ev, "feed.provider"), "Spamhaus");
    assert_string_equal(str(ev, "feed.name"), "Spamhaus DROP");
    char *want = b64("1.10.16.0/20 ; SBL256894");
    assert_string_equal(str(ev, "raw"), want);
    free(want);
    assert_string_equal(str(ev_at(&c, 1), "extra.blocklist"), "SBL434604");
    assert_string_equal(str(ev_at(&c, 2), "source.network"), "2001:db8::/32");
    assert_contains(c.errors.buf, "7: source.network: '999.1.0.0/16' is not an IP network\n");
    done(&c);

    /* JSON lines: the metadata line is no event */
    const char *js = "{\"cidr\":\"1.10.16.0/20\",\"sblid\":\"SBL256894\",\"rir\":\"apnic\"}\n"
                     "{\"cidr\":\"2.56.192.0/22\",\"sblid\":\"SBL459831\",\"rir\":\"ripencc\"}\n"
                     "{\"cidr\":\"2.56.193.0/24\",\"sblid\":\"SBL1\",\"rir\":\"mars\"}\n"
                     "{\"sblid\":\"SBL1\"}\n"
                     "{\"cidr\":\"2.56.192.0/22\",\n"
                     "[1]\n"
                     "{\"type\":\"metadata\",\"timestamp\":1732190400,\"size\":72645,\"records\":1460}\n";
    feed_options v6 = OBS;
    v6.file_name = "/tmp/drop_v6.json";
    assert_dz_ok(run(feed_spamhaus_drop_parse, &v6, js, &c, &e), e);
    expect_counts(&c, 3, 3);
    ev = ev_at(&c, 0);
    assert_string_equal(str(ev, "source.network"), "1.10.16.0/20");
    assert_string_equal(str(ev, "extra.blocklist"), "SBL256894");
    assert_string_equal(str(ev, "source.registry"), "APNIC");
    assert_string_equal(str(ev, "feed.name"), "Spamhaus DROPv6");
    assert_null(json_object_get(ev, "time.source"));
    assert_string_equal(str(ev_at(&c, 1), "source.registry"), "RIPE");
    assert_string_equal(str(ev_at(&c, 2), "extra.rir"), "mars");
    assert_contains(c.errors.buf, "4: neither 'cidr' nor 'asn'");
    assert_contains(c.errors.buf, "5: not JSON:");
    assert_contains(c.errors.buf, "6: not a JSON object\n");
    done(&c);

    /* ASN-DROP, text and JSON */
    const char *asn = "; ASN-DROP\n"
                      "AS12345 ; CN | Example Net\n"
                      "{\"asn\":64512,\"rir\":\"arin\",\"domain\":\"example.com\",\"cc\":\"us\",\"asname\":\"EX\"}\n"
                      "AS0 ; CN | Zero\n";
    feed_options an = OBS;
    an.file_name = "asndrop.txt";
    assert_dz_ok(run(feed_spamhaus_drop_parse, &an, asn, &c, &e), e);
    expect_counts(&c, 2, 1);
    ev = ev_at(&c, 0);
    assert_int_equal(num(ev, "source.asn"), 12345);
    assert_string_equal(str(ev, "source.geolocation.cc"), "CN");
    assert_string_equal(str(ev, "source.as_name"), "Example Net");
    assert_string_equal(str(ev, "feed.name"), "Spamhaus ASN-DROP");
    ev = ev_at(&c, 1);
    assert_int_equal(num(ev, "source.asn"), 64512);
    assert_string_equal(str(ev, "source.geolocation.cc"), "US");
    assert_string_equal(str(ev, "source.registry"), "ARIN");
    assert_string_equal(str(ev, "extra.domain"), "example.com");
    assert_contains(c.errors.buf, "4: source.asn:");
    done(&c);
}

/* ---- blocklist ---- */

static void test_blocklist(void **state)
{
    (void)state;
    static const char in[] = "# blocklist.de ssh\n"
                             "1.2.3.4\n"
                             "\n"
                             "  2001:DB8::1  # seen twice\n"
                             "10.0.0.0/8\n"
                             "bogus\n"
                             "1.2.3.4 5.6.7.8\n"
                             "1.2.3.5\0\n"
                             "1.2.3.6\r\n";
    feed_options o = OBS;
    o.file_name = "lists/ssh.txt";
    o.raw = true;
    collected c;
    dz_err e = {0};
    assert_dz_ok(run_n(feed_blocklist_parse, &o, in, sizeof in - 1, 0, &c, &e), e);
    expect_counts(&c, 4, 3);
    json_t *ev = ev_at(&c, 0);
    assert_int_equal(line_at(&c, 0), 2);
    assert_string_equal(str(ev, "source.ip"), "1.2.3.4");
    assert_string_equal(str(ev, "classification.taxonomy"), "intrusion-attempts");
    assert_string_equal(str(ev, "classification.type"), "ids-alert");
    assert_string_equal(str(ev, "protocol.application"), "ssh");
    assert_string_equal(str(ev, "event_description.text"), "IP reported as having run attacks on the service SSH");
    assert_string_equal(str(ev, "feed.provider"), "blocklist.de");
    assert_string_equal(str(ev, "feed.name"), "blocklist.de");
    char *want = b64("1.2.3.4");
    assert_string_equal(str(ev, "raw"), want);
    free(want);
    assert_int_equal(line_at(&c, 1), 4);
    assert_string_equal(str(ev_at(&c, 1), "source.ip"), "2001:db8::1");
    assert_string_equal(str(ev_at(&c, 2), "source.network"), "10.0.0.0/8");
    assert_int_equal(line_at(&c, 3), 9);
    assert_string_equal(str(ev_at(&c, 3), "source.ip"), "1.2.3.6");
    assert_contains(c.errors.buf, "6: source.ip: 'bogus' is not an IP address\n");
    assert_contains(c.errors.buf, "7: expected one address or network per line");
    assert_contains(c.errors.buf, "8: ");
    done(&c);

    /* mail, bots, bruteforcelogin; any other name */
    static const struct {
        const char *file, *tax, *type;
        bool provider;
    } names[] = {{"mail.txt", "intrusion-attempts", "ids-alert", true},
                 {"bots.txt", "abusive-content", "spam", true},
                 {"bruteforcelogin.txt", "intrusion-attempts", "brute-force", true},
                 {"strongips.txt", "other", "blacklist", true},
                 {"myips.txt", "other", "blacklist", false}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        feed_options n = OBS;
        n.file_name = names[i].file;
        assert_dz_ok(run(feed_blocklist_parse, &n, "192.0.2.1", &c, &e), e);
        expect_counts(&c, 1, 0);
        ev = ev_at(&c, 0);
        assert_string_equal(str(ev, "classification.taxonomy"), names[i].tax);
        assert_string_equal(str(ev, "classification.type"), names[i].type);
        assert_int_equal(json_object_get(ev, "feed.provider") != NULL, names[i].provider);
        done(&c);
    }
}

/* ---- generic CSV ---- */

static csv_mapping *mapping(const char *json)
{
    csv_mapping *m = NULL;
    dz_err e = {0};
    assert_dz_ok(csv_mapping_load(json, strlen(json), &m, &e), e);
    return m;
}

static void test_csv_mapping_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[]", "expected a JSON object"},
        {"{\"columns\": {\"source.ipx\": \"ip\"}}", "columns: 'source.ipx' is not a harmonization key"},
        {"{\"columns\": {\"extra.Bad Key\": 1}}", "columns: 'extra.Bad Key'"},
        {"{\"columns\": {\"source.port\": {\"column\": \"p\", \"format\": \"%H\"}}}",
         "columns.source.port.format: only time keys take a format"},
        {"{\"columns\": {\"time.source\": {\"column\": \"t\", \"format\": \"YYYY\"}}}",
         "columns.time.source.format: 'YYYY' is not a strptime format"},
        {"{\"columns\": {\"time.source\": {\"column\": \"t\", \"zone\": 1}}}", "columns.time.source: unknown member 'zone'"},
        {"{\"columns\": {\"time.source\": {\"format\": \"epoch\"}}}", "columns.time.source: \"column\" is missing"},
        {"{\"header\": false, \"columns\": {\"source.ip\": \"ip\"}}", "columns.source.ip: column 'ip' by name needs"},
        {"{\"columns\": {\"source.ip\": -1}}", "columns.source.ip: expected a column name"},
        {"{\"columns\": {\"source.ip\": 0}, \"constants\": {\"classification.type\": \"nonsense\"}}",
         "constants.classification.type: classification.type: 'nonsense'"},
        {"{\"columns\": {\"source.ip\": 0}, \"constants\": {\"nokey\": 1}}", "constants: 'nokey' is not a harmonization key"},
        {"{\"columns\": {\"source.ip\": 0}, \"constants\": {\"feed.name\": \"x\"}}", "constants: feed.name is set by the parser"},
        {"{\"columns\": {\"raw\": 0}}", "columns: raw is set by the parser"},
        {"{\"columns\": {}}", "columns: expected an object"},
        {"{\"columns\": {\"source.ip\": 0}, \"delimiter\": \";;\"}", "delimiter: expected one character"},
        {"{\"columns\": {\"source.ip\": 0}, \"colums\": 1}", "unknown member 'colums'"},
        {"{\"columns\": {\"source.ip\": 0}, \"skip_lines\": \"2\"}", "skip_lines"},
        {"{\"columns\": {\"source.ip\": 0}, \"columns\": {}}", "csv mapping: line 1"},
        {"{\"columns\": ", "csv mapping: line 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        csv_mapping *m = (csv_mapping *)1;
        dz_err e = {0};
        assert_dz_fails(csv_mapping_load(cases[i].text, strlen(cases[i].text), &m, &e), DZ_EINVAL, e);
        assert_null(m);
        assert_contains(e.msg, cases[i].want);
    }
    csv_mapping_free(NULL);
}

static void test_csv_parse(void **state)
{
    (void)state;
    csv_mapping *m = mapping(
        "{\"delimiter\": \";\", \"comment\": \"#\", \"skip_lines\": 1, \"feed_name\": \"My CSV\","
        " \"columns\": {\"source.ip\": {\"column\": \"ip\", \"required\": true},"
        "   \"time.source\": {\"column\": \"seen\", \"format\": \"%d/%m/%Y %H:%M %z\"},"
        "   \"source.port\": 2, \"source.asn\": \"asn\"},"
        " \"constants\": {\"classification.type\": \"scanner\", \"feed.provider\": \"X\", \"extra.count\": 3},"
        " \"extra_columns\": true}");
    const char *in = "# a comment\n"
                     "this line is skipped\n"
                     "ip;seen;port;asn;Note Text;\n"
                     "192.0.2.5;20/11/2026 10:00 +0100;22;AS64512;\"multi\nline\";\n" /* 4-5 */
                     "192.0.2.6;2026-11-20;22;;;\n"                                    /* 6 */
                     ";20/11/2026 10:00 +0000;22;;;\n"                                 /* 7 */
                     "192.0.2.7;;http;;;\n"                                            /* 8 */
                     "192.0.2.8\n"                                                     /* 9 */
                     "\"192.0.2.9\"x;;;;;\n";                                          /* 10 */
    feed_options o = OBS;
    o.mapping = m;
    o.raw = true;
    collected c;
    dz_err e = {0};
    assert_dz_ok(run(feed_csv_parse, &o, in, &c, &e), e);
    expect_counts(&c, 2, 4);
    json_t *ev = ev_at(&c, 0);
    assert_int_equal(line_at(&c, 0), 4);
    assert_string_equal(str(ev, "source.ip"), "192.0.2.5");
    assert_string_equal(str(ev, "time.source"), "2026-11-20T09:00:00+00:00");
    assert_int_equal(num(ev, "source.port"), 22);
    assert_int_equal(num(ev, "source.asn"), 64512);
    assert_string_equal(str(ev, "extra.note_text"), "multi\nline");
    assert_int_equal(num(ev, "extra.count"), 3);
    assert_string_equal(str(ev, "classification.type"), "scanner");
    assert_string_equal(str(ev, "feed.provider"), "X");
    assert_string_equal(str(ev, "feed.name"), "My CSV");
    char *want = b64("ip;seen;port;asn;Note Text;\n192.0.2.5;20/11/2026 10:00 +0100;22;AS64512;\"multi\nline\";");
    assert_string_equal(str(ev, "raw"), want);
    free(want);
    assert_int_equal(line_at(&c, 1), 9);
    assert_string_equal(str(ev_at(&c, 1), "source.ip"), "192.0.2.8");
    assert_contains(c.errors.buf, "6: column 'seen': time.source: '2026-11-20' does not match the format");
    assert_contains(c.errors.buf, "7: column 'ip': source.ip is required, but empty\n");
    assert_contains(c.errors.buf, "8: column 2: source.port: 'http' is not an integer\n");
    assert_contains(c.errors.buf, "10: ");
    done(&c);

    /* a named column missing from the header fails the whole input */
    assert_dz_fails(run(feed_csv_parse, &o, "skipped\nip;when\n1.2.3.4;x\n", &c, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "column 'seen' (for time.source) is not in the header");
    expect_counts(&c, 0, 0);
    done(&c);
    csv_mapping_free(m);
}

static void test_csv_no_header(void **state)
{
    (void)state;
    csv_mapping *m = mapping("{\"header\": false, \"extra_columns\": true, \"columns\": {\"source.ip\": 1, "
                             "\"time.source\": {\"column\": 0, \"format\": \"epoch_ms\"}}}");
    feed_options o = OBS;
    o.mapping = m;
    o.raw = true;
    collected c;
    dz_err e = {0};
    assert_dz_ok(run(feed_csv_parse, &o, "1700000000500,192.0.2.1,hello\nabc,192.0.2.2\n", &c, &e), e);
    expect_counts(&c, 1, 1);
    json_t *ev = ev_at(&c, 0);
    assert_string_equal(str(ev, "time.source"), "2023-11-14T22:13:20.500000+00:00");
    assert_string_equal(str(ev, "source.ip"), "192.0.2.1");
    assert_string_equal(str(ev, "extra.column_2"), "hello");
    assert_string_equal(str(ev, "feed.name"), "CSV");
    char *want = b64("1700000000500,192.0.2.1,hello");
    assert_string_equal(str(ev, "raw"), want);
    free(want);
    assert_contains(c.errors.buf, "2: column 0: time.source: 'abc' is not a number of seconds");
    done(&c);

    /* hostile: a NUL byte, invalid UTF-8, a record over 1 MiB, an unterminated quote; any chunking */
    strbuf in;
    strbuf_init(&in);
    strbuf_puts(&in, "1,192.0.2.1\n");                  /* 1 */
    strbuf_append(&in, "2,192.0.2.2\0x\n", 14);         /* 2 */
    strbuf_puts(&in, "3,192.0.2.3,\xff\xfe\n");         /* 3 */
    strbuf_puts(&in, "4,");                              /* 4: a record over 1 MiB */
    for (size_t i = 0; i < FEED_MAX_LINE / 64 + 2; i++)
        strbuf_puts(&in, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    strbuf_puts(&in, "\n");
    strbuf_puts(&in, "5,192.0.2.5\n");
    strbuf_puts(&in, "6,\"192.0.2.6\n");
    assert_false(in.oom);
    for (size_t k = 0; k < 3; k++) {
        size_t sizes[] = {0, 1, 4093};
        assert_dz_ok(run_n(feed_csv_parse, &o, in.buf, in.len, sizes[k], &c, &e), e);
        if (json_array_size(c.events) != 2 || c.nerr != 4)
            fail_msg("chunk %zu: %zu events, %zu errors:\n%s", sizes[k], json_array_size(c.events), c.nerr,
                     c.errors.buf ? c.errors.buf : "");
        assert_int_equal(line_at(&c, 0), 1);
        assert_string_equal(str(ev_at(&c, json_array_size(c.events) - 1), "source.ip"), "192.0.2.5");
        assert_int_equal(line_at(&c, 1), 5);
        assert_contains(c.errors.buf, "2: field 2: NUL byte\n");
        assert_contains(c.errors.buf, "3: column 2: extra.column_2: ");
        assert_contains(c.errors.buf, "4: record longer than 1048576 bytes\n");
        assert_contains(c.errors.buf, "6: field 2: unterminated quoted field\n");
        done(&c);
    }
    strbuf_free(&in);
    csv_mapping_free(m);
}

/* ---- intelmq ---- */

static void test_intelmq(void **state)
{
    (void)state;
    const char *in =
        "{\"__type\": \"Event\", \"classification.type\": \"scanner\", \"source.ip\": \"192.0.2.1\", "
        "\"feed.name\": \"Mine\", \"time.observation\": \"2026-01-01T00:00:00+00:00\", "
        "\"extra\": \"{\\\"a\\\": 1, \\\"b\\\": {\\\"c\\\": \\\"d\\\"}}\", \"raw\": \"aGVsbG8=\"}\n" /* 1 */
        "\n"
        "   \n"
        "{\"classification.type\": \"scanner\", \"source.ip\": \"192.0.2.1\", \"extra\": {\"tags\": [\"x\", 2]},"
        " \"source.port\": 22, \"source.tor_node\": true, \"feed.accuracy\": 50.5, \"extra.n\": null}\n" /* 4 */
        "{\"source.ip\": \"192.0.2.300\"}\n"                                                  /* 5 */
        "{\"foo.bar\": 1}\n"                                                                    /* 6 */
        "[1,2]\n"                                                                               /* 7 */
        "{\"source.ip\": \"192.0.2.1\"\n"                                                      /* 8 */
        "{\"__type\": \"Report\", \"raw\": \"aGVsbG8=\"}\n"                                   /* 9 */
        "{\"extra\": {\"Bad\": 1}}\n"                                                           /* 10 */
        "{\"source.ip\": {\"x\": 1}}\n"                                                         /* 11 */
        "{\"source.ip\": \"192.0.2.1\", \"source.ip\": \"192.0.2.2\"}\n"                      /* 12 */
        "{}\n"                                                                                  /* 13 */
        "{\"extra.blob\": \"\\u00e9t\\u00e9\"}\n";                                             /* 14 */
    collected c;
    dz_err e = {0};
    feed_options o = {.raw = true};
    assert_dz_ok(run(feed_intelmq_parse, &o, in, &c, &e), e);
    expect_counts(&c, 3, 9);
    json_t *ev = ev_at(&c, 0);
    assert_int_equal(line_at(&c, 0), 1);
    assert_string_equal(str(ev, "feed.name"), "Mine");
    assert_string_equal(str(ev, "time.observation"), "2026-01-01T00:00:00+00:00");
    assert_int_equal(num(ev, "extra.a"), 1);
    assert_string_equal(str(ev, "extra.b.c"), "d");
    assert_string_equal(str(ev, "raw"), "aGVsbG8=");
    assert_int_equal(json_object_size(ev), 7);
    ev = ev_at(&c, 1);
    assert_int_equal(line_at(&c, 1), 4);
    assert_string_equal(str(ev, "feed.name"), "IntelMQ");
    assert_string_equal(str(ev, "extra.tags"), "[\"x\",2]");
    assert_int_equal(num(ev, "source.port"), 22);
    assert_true(json_is_true(json_object_get(ev, "source.tor_node")));
    assert_true(json_real_value(json_object_get(ev, "feed.accuracy")) == 50.5);
    assert_null(json_object_get(ev, "extra.n"));
    assert_non_null(json_object_get(ev, "raw")); /* the line, as --raw asks */
    assert_string_equal(str(ev_at(&c, 2), "extra.blob"), "\xc3\xa9t\xc3\xa9");
    assert_contains(c.errors.buf, "5: source.ip: '192.0.2.300' is not an IP address\n");
    assert_contains(c.errors.buf, "6: 'foo.bar' is not a harmonization field");
    assert_contains(c.errors.buf, "7: not a JSON object\n");
    assert_contains(c.errors.buf, "8: not JSON:");
    assert_contains(c.errors.buf, "9: __type: expected \"Event\"\n");
    assert_contains(c.errors.buf, "10: 'extra.Bad'");
    assert_contains(c.errors.buf, "11: source.ip: expected a string, number or boolean\n");
    assert_contains(c.errors.buf, "12: not JSON: duplicate object key");
    assert_contains(c.errors.buf, "13: an event without fields\n");
    done(&c);

    /* options override the event's own feed.name and time.observation */
    feed_options named = {.feed_name = "Override", .observation_time = "2026-11-23T07:00:00Z"};
    assert_dz_ok(run(feed_intelmq_parse, &named,
                     "{\"feed.name\": \"Mine\", \"time.observation\": \"2026-01-01T00:00:00Z\", \"source.ip\": "
                     "\"192.0.2.1\"}",
                     &c, &e),
                 e);
    expect_counts(&c, 1, 0);
    assert_string_equal(str(ev_at(&c, 0), "feed.name"), "Override");
    assert_string_equal(str(ev_at(&c, 0), "time.observation"), "2026-11-23T07:00:00+00:00");
    assert_null(json_object_get(ev_at(&c, 0), "raw"));
    done(&c);
}

/* ---- suricata ---- */

static void test_suricata(void **state)
{
    (void)state;
    const char *in =
        "{\"timestamp\":\"2026-11-20T10:00:00.123456+0000\",\"flow_id\":1234567890123456,\"in_iface\":\"eth0\","
        "\"event_type\":\"alert\",\"src_ip\":\"192.0.2.10\",\"src_port\":51234,\"dest_ip\":\"198.51.100.7\","
        "\"dest_port\":8080,\"proto\":\"TCP\",\"app_proto\":\"http\",\"alert\":{\"action\":\"allowed\",\"gid\":1,"
        "\"signature_id\":2024897,\"rev\":3,\"signature\":\"ET USER_AGENTS Go HTTP Client\",\"category\":"
        "\"A Network Trojan was detected\",\"severity\":1},\"http\":{\"hostname\":\"Evil.Example\",\"url\":"
        "\"/gate.php?id=1\",\"http_user_agent\":\"Go-http-client/1.1\",\"http_method\":\"POST\",\"status\":200}}\n"
        "{\"timestamp\":\"2026-11-20T10:00:01.000000+0100\",\"event_type\":\"dns\",\"src_ip\":\"192.0.2.10\","
        "\"src_port\":5353,\"dest_ip\":\"192.0.2.1\",\"dest_port\":53,\"proto\":\"UDP\",\"dns\":{\"type\":\"query\","
        "\"id\":7,\"rrname\":\"www.Example.org\",\"rrtype\":\"A\"}}\n"
        "{\"timestamp\":\"2026-11-20T10:00:02.000000+0000\",\"event_type\":\"flow\",\"src_ip\":\"1.1.1.1\"}\n"
        "{\"timestamp\":\"2026-11-20T10:00:02.000000+0000\",\"event_type\":\"stats\",\"stats\":{}}\n"
        "{\"timestamp\":\"2026-11-20T10:00:03.000000+0000\",\"event_type\":\"tls\",\"src_ip\":\"192.0.2.10\","
        "\"src_port\":40000,\"dest_ip\":\"198.51.100.8\",\"dest_port\":443,\"proto\":\"TCP\",\"tls\":{\"subject\":"
        "\"CN=x\",\"sni\":\"www.example.org\",\"version\":\"TLS 1.3\",\"ja3\":{\"hash\":\"e7d705a3\"},"
        "\"ja3s\":{\"hash\":\"abc\"}}}\n"
        "{\"timestamp\":\"2026-11-20T10:00:04+0000\",\"event_type\":\"dns\",\"src_ip\":\"192.0.2.10\","
        "\"dns\":{\"version\":3,\"queries\":[{\"rrname\":\"_ldap._tcp.dc\",\"rrtype\":\"SRV\"}]}}\n"
        "{\"timestamp\":\"garbage\",\"event_type\":\"alert\",\"src_ip\":\"1.1.1.1\",\"alert\":{}}\n"      /* 7 */
        "{\"timestamp\":\"2026-11-20T10:00:00Z\",\"event_type\":\"alert\",\"src_ip\":\"1.1.1.1\"}\n"      /* 8 */
        "{\"event_type\":\n"                                                                               /* 9 */
        "{\"src_ip\":\"1.1.1.1\"}\n"                                                                       /* 10 */
        "{\"event_type\":\"http\",\"src_port\":70000}\n"                                                   /* 11 */
        "{\"event_type\":\"alert\",\"alert\":{\"category\":\"Attempted Denial of Service\"}}\n";          /* 12 */
    collected c;
    dz_err e = {0};
    assert_dz_ok(run(feed_suricata_parse, &OBS, in, &c, &e), e);
    expect_counts(&c, 5, 5);
    json_t *ev = ev_at(&c, 0);
    assert_int_equal(line_at(&c, 0), 1);
    assert_string_equal(str(ev, "time.source"), "2026-11-20T10:00:00.123456+00:00");
    assert_string_equal(str(ev, "source.ip"), "192.0.2.10");
    assert_int_equal(num(ev, "source.port"), 51234);
    assert_string_equal(str(ev, "destination.ip"), "198.51.100.7");
    assert_int_equal(num(ev, "destination.port"), 8080);
    assert_string_equal(str(ev, "protocol.transport"), "tcp");
    assert_string_equal(str(ev, "protocol.application"), "http");
    assert_int_equal(num(ev, "extra.flow_id"), 1234567890123456LL);
    assert_string_equal(str(ev, "extra.in_iface"), "eth0");
    assert_string_equal(str(ev, "extra.alert.signature"), "ET USER_AGENTS Go HTTP Client");
    assert_int_equal(num(ev, "extra.alert.signature_id"), 2024897);
    assert_int_equal(num(ev, "extra.alert.severity"), 1);
    assert_string_equal(str(ev, "extra.alert.category"), "A Network Trojan was detected");
    assert_string_equal(str(ev, "classification.taxonomy"), "malicious-code");
    assert_string_equal(str(ev, "classification.type"), "infected-system");
    assert_string_equal(str(ev, "destination.fqdn"), "evil.example");
    assert_string_equal(str(ev, "destination.url"), "http://Evil.Example:8080/gate.php?id=1");
    assert_string_equal(str(ev, "extra.http.user_agent"), "Go-http-client/1.1");
    assert_string_equal(str(ev, "feed.provider"), "Suricata");
    assert_string_equal(str(ev, "feed.name"), "Suricata EVE");
    assert_string_equal(str(ev, "extra.event_type"), "alert");
    ev = ev_at(&c, 1);
    assert_int_equal(line_at(&c, 1), 2);
    assert_string_equal(str(ev, "time.source"), "2026-11-20T09:00:01+00:00");
    assert_string_equal(str(ev, "destination.fqdn"), "www.example.org");
    assert_string_equal(str(ev, "extra.dns.rrtype"), "A");
    assert_int_equal(num(ev, "extra.dns.id"), 7);
    assert_string_equal(str(ev, "classification.type"), "undetermined");
    ev = ev_at(&c, 2);
    assert_int_equal(line_at(&c, 2), 5);
    assert_string_equal(str(ev, "destination.fqdn"), "www.example.org");
    assert_string_equal(str(ev, "extra.tls.ja3"), "e7d705a3");
    assert_string_equal(str(ev, "extra.tls.ja3s"), "abc");
    assert_string_equal(str(ev, "extra.tls.version"), "TLS 1.3");
    ev = ev_at(&c, 3);
    assert_string_equal(str(ev, "destination.fqdn"), "_ldap._tcp.dc");
    assert_string_equal(str(ev, "extra.dns.rrtype"), "SRV");
    ev = ev_at(&c, 4);
    assert_int_equal(line_at(&c, 4), 12);
    assert_string_equal(str(ev, "classification.taxonomy"), "availability");
    assert_string_equal(str(ev, "classification.type"), "dos");
    assert_contains(c.errors.buf, "7: timestamp: time.source: 'garbage' is not a date and time");
    assert_contains(c.errors.buf, "8: alert: missing or not an object\n");
    assert_contains(c.errors.buf, "9: not JSON:");
    assert_contains(c.errors.buf, "10: event_type: missing or not a string\n");
    assert_contains(c.errors.buf, "11: src_port: source.port: 70000 is not a port");
    done(&c);
}

/* ---- hostile input, positions, stop ---- */

typedef struct sample {
    const char *name;
    feed_parse_fn fn;
    const char *file;
    const char *good;  /* one line that gives an event */
} sample;

static const sample SAMPLES[] = {
    {"feodo", feed_feodo_parse, NULL, "2021-01-17 07:30:05,192.0.2.1,443,online,2026-11-19,QakBot"},
    {"urlhaus", feed_urlhaus_parse, NULL, "1,2026-11-20 10:05:07,http://a.example/x,online,,malware_download,,,"},
    {"spamhaus-drop", feed_spamhaus_drop_parse, NULL, "192.0.2.0/24 ; SBL1"},
    {"blocklist", feed_blocklist_parse, "ssh.txt", "192.0.2.1"},
    {"intelmq", feed_intelmq_parse, NULL, "{\"source.ip\": \"192.0.2.1\"}"},
    {"suricata", feed_suricata_parse, NULL,
     "{\"timestamp\":\"2026-11-20T10:00:00+0000\",\"event_type\":\"alert\",\"src_ip\":\"192.0.2.1\",\"alert\":{}}"},
};

static void test_hostile(void **state)
{
    (void)state;
    size_t big = FEED_MAX_LINE + 100;
    for (size_t i = 0; i < sizeof SAMPLES / sizeof SAMPLES[0]; i++) {
        const sample *s = &SAMPLES[i];
        strbuf in;
        strbuf_init(&in);
        strbuf_printf(&in, "%s\n", s->good);                  /* 1 */
        char *huge = xmalloc(big);
        memset(huge, 'A', big);
        strbuf_append(&in, huge, big);                        /* 2: too long */
        free(huge);
        strbuf_append(&in, "\n", 1);
        strbuf_printf(&in, "%s\n", s->good);                  /* 3 */
        strbuf_append(&in, "\x01\xff\xfe\x00\x80{\"\n", 8);   /* 4: control bytes, NUL, bad UTF-8 */
        strbuf_printf(&in, "%s\n", s->good);                  /* 5 */
        strbuf_append(&in, "{\"a\": \"\xc3\x28\"}\n", 12);    /* 6: invalid UTF-8 in a JSON string */
        strbuf_printf(&in, "%s", s->good);                    /* 7, no line end */
        assert_false(in.oom);
        feed_options o = OBS;
        o.file_name = s->file;
        o.raw = true;
        for (size_t chunk = 0; chunk < 3; chunk++) {
            size_t sizes[] = {0, 1, 4093};
            collected c;
            dz_err e = {0};
            assert_dz_ok(run_n(s->fn, &o, in.buf, in.len, sizes[chunk], &c, &e), e);
            if (json_array_size(c.events) != 4 || c.nerr != 3)
                fail_msg("%s, chunk %zu: %zu events, %zu errors:\n%s", s->name, sizes[chunk],
                         json_array_size(c.events), c.nerr, c.errors.buf ? c.errors.buf : "");
            assert_int_equal(line_at(&c, 0), 1);
            assert_int_equal(line_at(&c, 1), 3);
            assert_int_equal(line_at(&c, 2), 5);
            assert_int_equal(line_at(&c, 3), 7);
            assert_contains(c.errors.buf, "2: line longer than 1048576 bytes\n");
            assert_contains(c.errors.buf, "\n4: ");
            assert_contains(c.errors.buf, "\n6: ");
            /* the long line's bytes (its first MiB) come with the refusal */
            assert_int_equal(json_string_length(json_array_get(c.err_raw, 0)), FEED_MAX_LINE);
            done(&c);
        }
        strbuf_free(&in);
    }
}

static void test_positions_and_stop(void **state)
{
    (void)state;
    /* every chunk size gives the same events at the same lines */
    collected ref;
    dz_err e = {0};
    feed_options o = OBS;
    o.raw = true;
    assert_dz_ok(run(feed_feodo_parse, &o, feodo_input, &ref, &e), e);
    for (size_t chunk = 1; chunk < 40; chunk += 3) {
        collected c;
        assert_dz_ok(run_n(feed_feodo_parse, &o, feodo_input, strlen(feodo_input), chunk, &c, &e), e);
        assert_true(json_equal(c.events, ref.events));
        assert_true(json_equal(c.lines, ref.lines));
        assert_string_equal(c.errors.buf, ref.errors.buf);
        done(&c);
    }
    done(&ref);
    /* a non-zero return from on_event stops the parse, which still succeeds */
    for (size_t i = 0; i < sizeof SAMPLES / sizeof SAMPLES[0]; i++) {
        char in[1024];
        snprintf(in, sizeof in, "%s\n%s\n%s\n", SAMPLES[i].good, SAMPLES[i].good, SAMPLES[i].good);
        collected c;
        init_collected(&c);
        c.stop_after = 2;
        chunked m = {in, strlen(in), 0, 0};
        feed_options so = OBS;
        so.file_name = SAMPLES[i].file;
        assert_dz_ok(SAMPLES[i].fn(&so, read_chunked, &m, collect_event, collect_error, &c, &e), e);
        assert_int_equal(json_array_size(c.events), 2);
        done(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_read_error_and_options),
        cmocka_unit_test(test_feodo),
        cmocka_unit_test(test_urlhaus),
        cmocka_unit_test(test_spamhaus),
        cmocka_unit_test(test_blocklist),
        cmocka_unit_test(test_csv_mapping_errors),
        cmocka_unit_test(test_csv_parse),
        cmocka_unit_test(test_csv_no_header),
        cmocka_unit_test(test_intelmq),
        cmocka_unit_test(test_suricata),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_positions_and_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
