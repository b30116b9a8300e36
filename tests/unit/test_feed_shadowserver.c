/* Unit tests: the Shadowserver schema loader, report detection and the table-driven parser (docs/feeds.md). */
#include "unit.h"

#include <jansson.h>

#include "lib/feed_shadowserver.h"

/* A small schema exercising every conversion. */
static const char schema_text[] =
    "{"
    "\"scan_test\": {\"feed_name\": \"Test Scan\", \"file_name\": \"scan_test\","
    "  \"constant_fields\": {\"classification.taxonomy\": \"vulnerable\", \"classification.type\": \"vulnerable-system\","
    "                        \"classification.identifier\": \"test\", \"protocol.transport\": \"tcp\"},"
    "  \"required_fields\": [[\"time.source\", \"timestamp\", \"add_UTC_to_timestamp\"],"
    "                        [\"source.ip\", \"ip\", \"validate_ip\"]],"
    "  \"optional_fields\": [[\"source.port\", \"port\", \"convert_int\"],"
    "                        [\"source.asn\", \"asn\", \"invalidate_zero\"],"
    "                        [\"source.reverse_dns\", \"hostname\", \"validate_fqdn\"],"
    "                        [\"extra.\", \"score\", \"convert_float\"],"
    "                        [\"extra.\", \"open\", \"convert_bool\"],"
    "                        [\"extra.\", \"tag\", \"validate_to_none\"],"
    "                        [\"source.network\", \"net\", \"validate_network\"],"
    "                        [\"extra.seen\", \"seen\", \"convert_date\"],"
    "                        [\"extra.\", \"seen_utc\", \"convert_date_utc\"],"
    "                        [\"extra.\", \"blob\", \"force_base64\"],"
    "                        [\"source.url\", \"url\", \"convert_http_host_and_url\", true],"
    "                        [false, \"ignored\"],"
    "                        [\"source.geolocation.cc\", \"geo\"]]},"
    "\"scan_test_long\": {\"feed_name\": \"Longer\", \"required_fields\": [[\"source.ip\", \"ip\"]]},"
    "\"scan_exchange\": {\"feed_name\": \"Exchange\","
    "  \"required_fields\": [[\"source.ip\", \"ip\"],"
    "                        [\"classification.taxonomy\", \"tag\", \"scan_exchange_taxonomy\"],"
    "                        [\"classification.type\", \"tag\", \"scan_exchange_type\"],"
    "                        [\"classification.identifier\", \"tag\", \"scan_exchange_identifier\"]]}"
    "}";

static shadowserver_schema *load(void)
{
    shadowserver_schema *s = NULL;
    dz_err e = {0};
    assert_dz_ok(shadowserver_schema_load(schema_text, strlen(schema_text), &s, &e), e);
    return s;
}

typedef struct collected {
    json_t *events; /* array of objects */
    strbuf errors;  /* "LINE: reason\n" */
    size_t nerr;
} collected;

static int collect_event(void *arg, event *ev, uint64_t line)
{
    (void)line;
    collected *c = arg;
    strbuf sb;
    strbuf_init(&sb);
    event_write_json(ev, &sb);
    json_error_t je;
    json_t *o = json_loads(sb.buf, 0, &je);
    if (!o)
        fail_msg("event_write_json gave invalid JSON: %s (%s)", sb.buf, je.text);
    json_array_append_new(c->events, o);
    strbuf_free(&sb);
    return 0;
}

static void collect_error(void *arg, uint64_t line, const char *reason, const char *raw, size_t raw_len)
{
    assert_true(raw || raw_len == 0);
    collected *c = arg;
    strbuf_printf(&c->errors, "%llu: %s\n", (unsigned long long)line, reason);
    c->nerr++;
}

static dz_code run(const shadowserver_schema *s, const feed_options *o, const char *input, collected *c, dz_err *e)
{
    c->events = json_array();
    strbuf_init(&c->errors);
    c->nerr = 0;
    csv_memory m = {input, strlen(input), 0};
    return shadowserver_parse(s, o, csv_read_memory, &m, collect_event, collect_error, c, e);
}

static void done(collected *c)
{
    json_decref(c->events);
    strbuf_free(&c->errors);
}

static const char *str(json_t *ev, const char *key)
{
    return json_string_value(json_object_get(ev, key));
}

static void test_schema_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[]", "expected an object"},
        {"{\"r1\": {\"feed_name\": \"F\", \"required_fields\": [[\"source.ip\", \"ip\", \"convert_ipv9\"]]}}",
         "report 'r1': required_fields[0] (column 'ip'): unknown conversion 'convert_ipv9'"},
        {"{\"r2\": {\"feed_name\": \"F\", \"optional_fields\": [[\"source.ipx\", \"ip\"]]}}",
         "report 'r2': optional_fields[0] (column 'ip'): 'source.ipx' is not a harmonization key"},
        {"{\"r3\": {\"feed_name\": \"F\", \"optional_fields\": [[\"source.ip\"]]}}", "report 'r3': optional_fields[0]"},
        {"{\"r4\": {\"feed_name\": \"F\", \"optional_fields\": [\"source.ip\"]}}", "report 'r4': optional_fields[0]"},
        {"{\"r5\": {\"required_fields\": []}}", "report 'r5': feed_name"},
        {"{\"r6\": {\"feed_name\": \"F\", \"constant_fields\": {\"classification.typo\": \"x\"}}}",
         "report 'r6': constant_fields: 'classification.typo' is not a harmonization key"},
        {"{\"r7\": {\"feed_name\": \"F\", \"constant_fields\": {\"classification.taxonomy\": [1]}}}",
         "report 'r7': constant_fields: classification.taxonomy"},
        {"{\"r9\": {\"feed_name\": \"F\", \"optional_fields\": [[\"source.ip\", \"ip\", 7]]}}",
         "report 'r9': optional_fields[0] (column 'ip')"},
        {"{\"r10\": {\"feed_name\": \"F\", \"optional_fields\": [[\"source.ip\", \"\"]]}}",
         "report 'r10': optional_fields[0]"},
        {"{\"r11\": {\"feed_name\": \"F\", \"required_fields\": [[false, \"ip\"]]}}", "report 'r11': required_fields[0]"},
        {"{\"x\": 1,", "schema"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shadowserver_schema *s = (shadowserver_schema *)1;
        dz_err e = {0};
        assert_dz_fails(shadowserver_schema_load(cases[i].text, strlen(cases[i].text), &s, &e), DZ_EINVAL, e);
        assert_null(s);
        assert_contains(e.msg, cases[i].want);
    }
}

static void test_report_of_file(void **state)
{
    (void)state;
    shadowserver_schema *s = load();
    assert_string_equal(shadowserver_report_of_file(s, "2019-01-01-scan_test-test-geo.csv"), "scan_test");
    assert_string_equal(shadowserver_report_of_file(s, "scan_test.csv"), "scan_test");
    assert_string_equal(shadowserver_report_of_file(s, "/tmp/x/2019-01-01-scan_test.json"), "scan_test");
    /* the longest known name wins */
    assert_string_equal(shadowserver_report_of_file(s, "2019-01-01-scan_test_long-geo.csv"), "scan_test_long");
    /* only whole dash-separated parts */
    assert_null(shadowserver_report_of_file(s, "2019-01-01-scan_testx-geo.csv"));
    assert_null(shadowserver_report_of_file(s, "2019-01-01-xscan_test.csv"));
    assert_null(shadowserver_report_of_file(s, "report.csv"));
    assert_true(shadowserver_has_report(s, "scan_exchange"));
    /* members other than the known ones (IntelMQ's schema has "url") are ignored */
    const char *other = "{\"r\": {\"feed_name\": \"F\", \"url\": \"https://x\", \"file_name\": \"scan_r\"}}";
    shadowserver_schema *s2 = NULL;
    dz_err e = {0};
    assert_dz_ok(shadowserver_schema_load(other, strlen(other), &s2, &e), e);
    /* detection uses file_name */
    assert_string_equal(shadowserver_report_of_file(s2, "2019-01-01-scan_r-geo.csv"), "r");
    assert_null(shadowserver_report_of_file(s2, "2019-01-01-r-geo.csv"));
    shadowserver_schema_free(s2);
    assert_false(shadowserver_has_report(s, "scan_nothing"));
    shadowserver_schema_free(s);
}

static const char csv_header[] =
    "\"timestamp\",\"ip\",\"port\",\"asn\",\"hostname\",\"score\",\"open\",\"tag\",\"net\",\"seen\",\"seen_utc\","
    "\"blob\",\"url\",\"http_host\",\"ignored\",\"geo\",\"other\"";

static void test_parse_rows(void **state)
{
    (void)state;
    shadowserver_schema *s = load();
    char input[4096];
    snprintf(input, sizeof input,
             "%s\n"
             /* line 2: everything */
             "\"2019-01-01 10:00:00\",\"192.0.2.1\",443,64512,\"Host.Example.COM.\",1.5,\"Yes\",\"t1\","
             "\"198.51.100.0/24\",\"Wed, 10 Feb 2010 01:02:03 GMT\",\"2021-03-27 00:00:01.710968\",\"hello\","
             "\"GET /a.php?x=1 HTTP/1.1\",\"example.com\",\"secret\",\"de\",\"kept\"\n"
             /* line 3: empty cells, zeros, left-out values */
             "\"2019-01-01 10:00:01\",\"192.0.2.2\",,0,,,\"maybe\",\"unknown\",\"198.51.100.7\",,,\"aGVsbG8=\",,,,,\n"
             /* line 4: bad required IP -> 0.0.0.0 is left out, stays pending -> extra.ip */
             "\"2019-01-01 10:00:02\",\"0.0.0.0\",80,,,,,,,,,,,,,\"-\",\n"
             /* line 5: bad required time -> row error */
             "\"yesterday\",\"192.0.2.3\",80,,,,,,,,,,,,,,\n"
             /* line 6: non-numeric port -> conversion error -> row error */
             "\"2019-01-01 10:00:03\",\"192.0.2.4\",\"http\",,,,,,,,,,,,,,\n"
             /* line 7: a short row: absent cells */
             "\"2019-01-01 10:00:04\",\"192.0.2.5\"\n"
             /* line 8: an invalid optional value (geo) stays as extra.geo */
             "\"2019-01-01 10:00:05\",\"192.0.2.6\",,,,,,,,,,,,,,\"Germany\",\n",
             csv_header);
    feed_options o = {.file_name = "2019-01-01-scan_test-geo.csv", .observation_time = "2019-01-02T00:00:00Z"};
    collected c;
    dz_err e = {0};
    assert_dz_ok(run(s, &o, input, &c, &e), e);
    if (json_array_size(c.events) != 5)
        fail_msg("events: %zu; errors:\n%s", json_array_size(c.events), c.errors.buf ? c.errors.buf : "");
    assert_int_equal(c.nerr, 2);
    assert_contains(c.errors.buf, "5: column 'timestamp': time.source");
    assert_contains(c.errors.buf, "6: source.port (column 'port'): convert_int: 'http' is not an integer");

    json_t *ev = json_array_get(c.events, 0);
    assert_string_equal(str(ev, "time.source"), "2019-01-01T10:00:00+00:00");
    assert_string_equal(str(ev, "time.observation"), "2019-01-02T00:00:00+00:00");
    assert_string_equal(str(ev, "source.ip"), "192.0.2.1");
    assert_int_equal(json_integer_value(json_object_get(ev, "source.port")), 443);
    assert_int_equal(json_integer_value(json_object_get(ev, "source.asn")), 64512);
    assert_string_equal(str(ev, "source.reverse_dns"), "host.example.com");
    assert_true(json_real_value(json_object_get(ev, "extra.score")) == 1.5);
    assert_true(json_is_true(json_object_get(ev, "extra.open")));
    assert_string_equal(str(ev, "extra.tag"), "t1");
    assert_string_equal(str(ev, "source.network"), "198.51.100.0/24");
    assert_string_equal(str(ev, "extra.seen"), "2010-02-10T01:02:03+00:00");
    assert_string_equal(str(ev, "extra.seen_utc"), "2021-03-27T00:00:01.710968+00:00");
    assert_string_equal(str(ev, "extra.blob"), "aGVsbG8=");
    assert_string_equal(str(ev, "source.url"), "http://example.com/a.php?x=1");
    assert_null(json_object_get(ev, "extra.ignored"));
    assert_string_equal(str(ev, "source.geolocation.cc"), "DE");
    assert_string_equal(str(ev, "extra.other"), "kept");
    assert_string_equal(str(ev, "extra.http_host"), "example.com");
    assert_string_equal(str(ev, "classification.taxonomy"), "vulnerable");
    assert_string_equal(str(ev, "classification.identifier"), "test");
    assert_string_equal(str(ev, "protocol.transport"), "tcp");
    assert_string_equal(str(ev, "feed.name"), "Test Scan");
    assert_null(json_object_get(ev, "raw"));

    ev = json_array_get(c.events, 1);
    assert_null(json_object_get(ev, "source.port"));
    assert_null(json_object_get(ev, "source.asn"));        /* invalidate_zero */
    assert_null(json_object_get(ev, "extra.asn"));
    assert_null(json_object_get(ev, "extra.open"));        /* convert_bool: other text */
    assert_null(json_object_get(ev, "extra.tag"));         /* validate_to_none */
    assert_null(json_object_get(ev, "source.network"));    /* validate_network: no '/' */
    assert_null(json_object_get(ev, "extra.net"));
    assert_string_equal(str(ev, "extra.blob"), "aGVsbG8="); /* already base64 */

    ev = json_array_get(c.events, 2);
    assert_null(json_object_get(ev, "source.ip"));
    assert_string_equal(str(ev, "extra.ip"), "0.0.0.0");
    assert_null(json_object_get(ev, "source.geolocation.cc")); /* "-" is ignored by add */
    assert_null(json_object_get(ev, "extra.geo"));

    ev = json_array_get(c.events, 3); /* line 7 */
    assert_string_equal(str(ev, "source.ip"), "192.0.2.5");
    assert_null(json_object_get(ev, "source.port"));

    ev = json_array_get(c.events, 4); /* line 8 */
    assert_null(json_object_get(ev, "source.geolocation.cc"));
    assert_string_equal(str(ev, "extra.geo"), "Germany");
    done(&c);
    shadowserver_schema_free(s);
}

static void test_force_base64_and_exchange(void **state)
{
    (void)state;
    shadowserver_schema *s = load();
    const char *input = "ip,tag\n192.0.2.1,exchange;webshell\n192.0.2.2,exchange\n";
    feed_options o = {.report = "scan_exchange", .feed_name = "Given"};
    collected c;
    dz_err e = {0};
    assert_dz_ok(run(s, &o, input, &c, &e), e);
    assert_int_equal(json_array_size(c.events), 2);
    json_t *ev = json_array_get(c.events, 0);
    assert_string_equal(str(ev, "classification.taxonomy"), "intrusions");
    assert_string_equal(str(ev, "classification.type"), "system-compromise");
    assert_string_equal(str(ev, "classification.identifier"), "exchange-server-webshell");
    assert_string_equal(str(ev, "feed.name"), "Given");
    assert_non_null(json_object_get(ev, "time.observation"));
    ev = json_array_get(c.events, 1);
    assert_string_equal(str(ev, "classification.taxonomy"), "vulnerable");
    assert_string_equal(str(ev, "classification.type"), "infected-system");
    assert_string_equal(str(ev, "classification.identifier"), "vulnerable-exchange-server");
    done(&c);

    /* force_base64 of plain text */
    char input2[1024];
    snprintf(input2, sizeof input2, "%s\n\"2019-01-01 10:00:00\",\"192.0.2.1\",,,,,,,,,,\"hello!\",,,,,\n",
             csv_header);
    feed_options o2 = {.report = "scan_test"};
    assert_dz_ok(run(s, &o2, input2, &c, &e), e);
    assert_int_equal(json_array_size(c.events), 1);
    assert_string_equal(str(json_array_get(c.events, 0), "extra.blob"), "aGVsbG8h");
    done(&c);
    shadowserver_schema_free(s);
}

static void test_missing_required_column_and_bad_csv(void **state)
{
    (void)state;
    shadowserver_schema *s = load();
    feed_options o = {.report = "scan_test"};
    collected c;
    dz_err e = {0};
    assert_dz_ok(run(s, &o, "timestamp,port\n2019-01-01 00:00:00,1\n2019-01-01 00:00:00,2\n", &c, &e), e);
    assert_int_equal(json_array_size(c.events), 0);
    assert_int_equal(c.nerr, 2);
    assert_contains(c.errors.buf, "2: required column 'ip' missing");
    assert_contains(c.errors.buf, "3: required column 'ip' missing");
    done(&c);

    assert_dz_ok(run(s, &o, "timestamp,ip\n2019-01-01 00:00:00,192.0.2.1\n\"2019-01-01,x\n", &c, &e), e);
    assert_int_equal(json_array_size(c.events), 1);
    assert_int_equal(c.nerr, 1);
    assert_contains(c.errors.buf, "3: ");
    done(&c);
    shadowserver_schema_free(s);
}

static void test_unknown_report(void **state)
{
    (void)state;
    shadowserver_schema *s = load();
    collected c;
    dz_err e = {0};
    feed_options o = {.file_name = "2019-01-01-scan_nothing-geo.csv"};
    assert_dz_fails(run(s, &o, "ip\n192.0.2.1\n", &c, &e), DZ_ENOTFOUND, e);
    assert_int_equal(json_array_size(c.events), 0);
    done(&c);
    feed_options o2 = {.report = "scan_nothing"};
    assert_dz_fails(run(s, &o2, "ip\n192.0.2.1\n", &c, &e), DZ_ENOTFOUND, e);
    assert_contains(e.msg, "scan_nothing");
    done(&c);
    shadowserver_schema_free(s);
}

static void test_raw(void **state)
{
    (void)state;
    shadowserver_schema *s = load();
    const char *input = "\"timestamp\",\"ip\"\r\n\"2019-01-01 10:00:00\",\"192.0.2.1\"\r\n"
                        "2019-01-01 10:00:01,192.0.2.2";
    feed_options o = {.file_name = "2019-01-01-scan_test_long.csv", .raw = true};
    collected c;
    dz_err e = {0};
    assert_dz_ok(run(s, &o, input, &c, &e), e);
    assert_int_equal(json_array_size(c.events), 2);
    /* base64 of "\"timestamp\",\"ip\"\n\"2019-01-01 10:00:00\",\"192.0.2.1\"" */
    assert_string_equal(str(json_array_get(c.events, 0), "raw"),
                        "InRpbWVzdGFtcCIsImlwIgoiMjAxOS0wMS0wMSAxMDowMDowMCIsIjE5Mi4wLjIuMSI=");
    /* "\"timestamp\",\"ip\"\n2019-01-01 10:00:01,192.0.2.2" */
    assert_string_equal(str(json_array_get(c.events, 1), "raw"),
                        "InRpbWVzdGFtcCIsImlwIgoyMDE5LTAxLTAxIDEwOjAwOjAxLDE5Mi4wLjIuMg==");
    assert_string_equal(str(json_array_get(c.events, 1), "feed.name"), "Longer");
    assert_string_equal(str(json_array_get(c.events, 1), "extra.timestamp"), "2019-01-01 10:00:01");
    done(&c);
    shadowserver_schema_free(s);
}

static void test_json_input(void **state)
{
    (void)state;
    shadowserver_schema *s = load();
    const char *input = "[\n  {\"timestamp\": \"2010-02-10 00:00:00\", \"ip\": \"192.0.2.1\", \"port\": \"445\"},\n"
                        "  {\"timestamp\": \"2010-02-10 00:00:00\", \"ip\": \"192.0.2.9\", \"port\": 80, \"open\": true,"
                        " \"score\": 2.5, \"tag\": null, \"x\": false},\n"
                        "  {\"timestamp\": \"nope\", \"ip\": \"192.0.2.2\", \"port\": \"1\"}\n]\n";
    feed_options o = {.file_name = "2019-01-01-scan_test-geo.json", .raw = true};
    collected c;
    dz_err e = {0};
    assert_dz_ok(run(s, &o, input, &c, &e), e);
    assert_int_equal(json_array_size(c.events), 2);
    assert_int_equal(c.nerr, 1);
    assert_contains(c.errors.buf, "4: ");
    json_t *ev2 = json_array_get(c.events, 1);
    assert_int_equal(json_integer_value(json_object_get(ev2, "source.port")), 80);
    assert_true(json_is_true(json_object_get(ev2, "extra.open")));
    assert_true(json_real_value(json_object_get(ev2, "extra.score")) == 2.5);
    assert_null(json_object_get(ev2, "extra.tag"));
    assert_string_equal(str(ev2, "extra.x"), "false");
    json_t *ev = json_array_get(c.events, 0);
    assert_int_equal(json_integer_value(json_object_get(ev, "source.port")), 445);
    /* base64 of [{"timestamp": "2010-02-10 00:00:00", "ip": "192.0.2.1", "port": "445"}] */
    assert_string_equal(str(ev, "raw"), "W3sidGltZXN0YW1wIjogIjIwMTAtMDItMTAgMDA6MDA6MDAiLCAiaXAiOiAiMTkyLjAuMi4xIiwg"
                                        "InBvcnQiOiAiNDQ1In1d");
    done(&c);

    /* JSON lines, detected by content */
    const char *lines = "{\"timestamp\": \"2010-02-10 00:00:00\", \"ip\": \"192.0.2.1\"}\n"
                        "not json\n"
                        "{\"timestamp\": \"2010-02-10 00:00:01\", \"ip\": \"192.0.2.2\"}\n";
    feed_options o2 = {.report = "scan_test"};
    assert_dz_ok(run(s, &o2, lines, &c, &e), e);
    assert_int_equal(json_array_size(c.events), 2);
    assert_int_equal(c.nerr, 1);
    assert_contains(c.errors.buf, "2: ");
    done(&c);
    shadowserver_schema_free(s);
}

/* Text after a closing quote is taken literally, as Python's csv module (and so IntelMQ) does. */
static void test_text_after_quote(void **state)
{
    (void)state;
    shadowserver_schema *s = load();
    const char *input = "timestamp,ip,tag\r\n"
                        "2019-01-01 00:00:00,192.0.2.1,\"Basic realm=\\\"\\\"Squid\\\"\\\"\"\r\n"
                        "\n"
                        "2019-01-01 00:00:00,192.0.2.2,\"a\"b\"c\n"
                        "2019-01-01 00:00:00,192.0.2.3,\"ok\"\n";
    feed_options o = {.report = "scan_test_long", .raw = true};
    collected c;
    dz_err e = {0};
    assert_dz_ok(run(s, &o, input, &c, &e), e);
    if (json_array_size(c.events) != 3)
        fail_msg("events: %zu; errors:\n%s", json_array_size(c.events), c.errors.buf ? c.errors.buf : "");
    assert_string_equal(str(json_array_get(c.events, 0), "extra.tag"), "Basic realm=\\\\\"Squid\\\"\\\"\"");
    assert_string_equal(str(json_array_get(c.events, 1), "extra.tag"), "ab\"c");
    assert_string_equal(str(json_array_get(c.events, 2), "extra.tag"), "ok");
    /* base64 of "timestamp,ip,tag\n2019-01-01 00:00:00,192.0.2.2,\"a\"b\"c" */
    assert_string_equal(str(json_array_get(c.events, 1), "raw"),
                        "dGltZXN0YW1wLGlwLHRhZwoyMDE5LTAxLTAxIDAwOjAwOjAwLDE5Mi4wLjIuMiwiYSJiImM=");
    done(&c);
    shadowserver_schema_free(s);
}

static void test_column_rules(void **state)
{
    (void)state;
    const char *text =
        "{\"r\": {\"feed_name\": \"F\","
        "  \"required_fields\": [[\"source.ip\", \"ip\", \"validate_ip\"]],"
        "  \"optional_fields\": [[\"source.network\", \"ip\", \"validate_network\"],"
        "                        [\"extra.when\", \"when\", \"convert_date\"],"
        "                        [\"extra.\", \"dash\"],"
        "                        [\"destination.ip\", \"dst\"],"
        "                        [\"destination.ip\", \"dst2\"]]}}";
    shadowserver_schema *s = NULL;
    dz_err e = {0};
    assert_dz_ok(shadowserver_schema_load(text, strlen(text), &s, &e), e);
    const char *input = "ip,when,dash,dst,dst2\n"
                        "192.0.2.1,sometime,-,,\n"          /* network left out: ip consumed; bad date: left out */
                        "192.0.2.2,2020-01-01,,192.0.2.9,192.0.2.8\n" /* destination.ip twice: row error */
                        "192.0.2.3,,,192.0.2.9,-\n";        /* "-" is ignored by add: no second value */
    feed_options o = {.report = "r"};
    collected c;
    assert_dz_ok(run(s, &o, input, &c, &e), e);
    if (json_array_size(c.events) != 2)
        fail_msg("events: %zu; errors:\n%s", json_array_size(c.events), c.errors.buf ? c.errors.buf : "");
    assert_contains(c.errors.buf, "3: destination.ip (column 'dst2')");
    json_t *ev = json_array_get(c.events, 0);
    assert_string_equal(str(ev, "source.ip"), "192.0.2.1");
    assert_null(json_object_get(ev, "extra.ip"));
    assert_null(json_object_get(ev, "source.network"));
    assert_null(json_object_get(ev, "extra.when"));
    assert_string_equal(str(ev, "extra.dash"), "-"); /* extras are not filtered */
    ev = json_array_get(c.events, 1);
    assert_string_equal(str(ev, "destination.ip"), "192.0.2.9");
    done(&c);
    shadowserver_schema_free(s);
}

static int stop_after_one(void *arg, event *ev, uint64_t line)
{
    collect_event(arg, ev, line);
    return 1;
}

static void test_stop(void **state)
{
    (void)state;
    shadowserver_schema *s = load();
    const char *input = "timestamp,ip\n2019-01-01 00:00:00,192.0.2.1\n2019-01-01 00:00:00,192.0.2.2\n";
    collected c = {.events = json_array()};
    strbuf_init(&c.errors);
    csv_memory m = {input, strlen(input), 0};
    feed_options o = {.report = "scan_test"};
    dz_err e = {0};
    assert_dz_ok(shadowserver_parse(s, &o, csv_read_memory, &m, stop_after_one, collect_error, &c, &e), e);
    assert_int_equal(json_array_size(c.events), 1);
    done(&c);
    shadowserver_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_report_of_file),
        cmocka_unit_test(test_parse_rows),
        cmocka_unit_test(test_force_base64_and_exchange),
        cmocka_unit_test(test_missing_required_column_and_bad_csv),
        cmocka_unit_test(test_unknown_report),
        cmocka_unit_test(test_raw),
        cmocka_unit_test(test_json_input),
        cmocka_unit_test(test_text_after_quote),
        cmocka_unit_test(test_column_rules),
        cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
