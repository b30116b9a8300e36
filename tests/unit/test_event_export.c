/* event_export: columns and their order, CSV quoting and the injection guard, JSON lines, TLP filter, counts. */
#include "unit.h"

#include <jansson.h>

#include "lib/event.h"
#include "lib/event_export.h"
#include "lib/strbuf.h"

static event_export *new_export(void)
{
    event_export *x = NULL;
    dz_err e = {0};
    assert_dz_ok(event_export_new(&x, &e), e);
    return x;
}

static void add(event_export *x, const char *doc)
{
    dz_err e = {0};
    bool withheld = false;
    assert_dz_ok(event_export_add(x, doc, strlen(doc), TLP_RED, TLP_AMBER, &withheld, &e), e);
    assert_false(withheld);
}

static char *csv(const event_export *x)
{
    strbuf sb;
    strbuf_init(&sb);
    event_export_csv(x, &sb);
    assert_false(sb.oom);
    return strbuf_steal(&sb);
}

static size_t known_pos(const char *key)
{
    const char *k;
    for (size_t i = 0; (k = harmonization_key_at(i, NULL)) != NULL; i++)
        if (strcmp(k, key) == 0)
            return i;
    fail_msg("%s is not a harmonization field", key);
    return 0;
}

static void test_columns(void **state)
{
    (void)state;
    event_export *x = new_export();
    add(x, "{\"time.source\":\"2026-11-23T00:00:00+00:00\",\"source.ip\":\"192.0.2.1\",\"extra.zeta\":1}");
    add(x, "{\"feed.name\":\"Feodo\",\"extra.alpha\":\"a\",\"classification.type\":\"c2-server\",\"source.ip\":\"192.0.2.2\"}");
    add(x, "{\"tlp\":\"GREEN\",\"extra\":{\"k\":\"v\"}}");
    assert_int_equal(event_export_count(x), 3);
    char *out = csv(x);
    /* the header: known fields in table order, then extra.* sorted */
    char *nl = strstr(out, "\r\n");
    assert_non_null(nl);
    *nl = '\0';
    const char *known[] = {"classification.type", "extra", "feed.name", "source.ip", "time.source", "tlp"};
    for (size_t i = 0; i + 1 < sizeof known / sizeof known[0]; i++)
        assert_true(known_pos(known[i]) < known_pos(known[i + 1]));
    /* sorted here so the expectation follows the table, whatever it is */
    char want[256] = "";
    const char *order[6];
    memcpy(order, known, sizeof order);
    for (size_t i = 0; i < 6; i++)
        for (size_t j = i + 1; j < 6; j++)
            if (known_pos(order[j]) < known_pos(order[i])) {
                const char *t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    for (size_t i = 0; i < 6; i++) {
        strcat(want, order[i]);
        strcat(want, ",");
    }
    strcat(want, "extra.alpha,extra.zeta");
    assert_string_equal(out, want);
    *nl = '\r';
    /* one row per event in the order added, empty cells for absent fields */
    char *rows = nl + 2;
    assert_string_equal(rows, ",,,192.0.2.1,2026-11-23T00:00:00+00:00,,,1\r\n"
                              "c2-server,,Feodo,192.0.2.2,,,a,\r\n"
                              ",\"{\"\"k\"\":\"\"v\"\"}\",,,,GREEN,,\r\n");
    free(out);
    event_export_free(x);
}

static void test_cells(void **state)
{
    (void)state;
    event_export *x = new_export();
    add(x, "{\"extra.a\":\"plain\",\"extra.b\":\"with, comma\",\"extra.c\":\"say \\\"hi\\\"\","
           "\"extra.d\":\"two\\r\\nlines\",\"extra.e\":\"line\\nfeed\",\"extra.f\":\"སྐུ་ཞབས་\"}");
    add(x, "{\"extra.a\":\"=SUM(A1:A9)\",\"extra.b\":\"+1\",\"extra.c\":\"-5\",\"extra.d\":\"@cmd\","
           "\"extra.e\":\"\\tx\",\"extra.f\":\"\\rx\"}");
    add(x, "{\"extra.a\":\"-1+2\",\"extra.b\":\"=1,2\",\"extra.c\":\"-1.5e3\",\"extra.d\":\"+.5\","
           "\"extra.e\":\"-\",\"extra.f\":\"=\\\"x\\\"\"}");
    add(x, "{\"extra.a\":12,\"extra.b\":-3,\"extra.c\":0.1,\"extra.d\":true,\"extra.e\":false,\"extra.f\":null}");
    add(x, "{\"extra.a\":[1,\"two\",{\"b\":2,\"a\":1}],\"extra.b\":{},\"extra.c\":2.0,\"extra.d\":1e300,"
           "\"extra.e\":-0.0,\"extra.f\":\"\"}");
    char *out = csv(x);
    assert_string_equal(out, "extra.a,extra.b,extra.c,extra.d,extra.e,extra.f\r\n"
                             "plain,\"with, comma\",\"say \"\"hi\"\"\",\"two\r\nlines\",\"line\nfeed\",སྐུ་ཞབས་\r\n"
                             "'=SUM(A1:A9),+1,-5,'@cmd,'\tx,\"'\rx\"\r\n"
                             "'-1+2,\"'=1,2\",-1.5e3,+.5,'-,\"'=\"\"x\"\"\"\r\n"
                             "12,-3,0.1,true,false,\r\n"
                             "\"[1,\"\"two\"\",{\"\"a\"\":1,\"\"b\"\":2}]\",{},2.0,1e300,-0.0,\r\n"); /* numbers as written */
    free(out);
    event_export_free(x);
}

static void test_jsonl(void **state)
{
    (void)state;
    event_export *x = new_export();
    const char *docs[] = {
        "{\"source.ip\":\"192.0.2.1\",\"classification.taxonomy\":\"malicious-code\",\"extra.n\":3,"
        "\"extra.f\":0.25,\"extra.t\":true,\"extra.z\":null,\"extra.o\":{\"y\":[1,2],\"x\":\"\\u0001\"}}",
        "{\"extra.s\":\"quote \\\" backslash \\\\ nl \\n tab \\t cr \\r ctl \\u001f del \\u007f ü 😀 /\"}",
        "{}",
    };
    for (size_t i = 0; i < 3; i++)
        add(x, docs[i]);
    strbuf sb;
    strbuf_init(&sb);
    event_export_jsonl(x, &sb);
    assert_false(sb.oom);
    /* compact, keys sorted, one per line */
    const char *first = "{\"classification.taxonomy\":\"malicious-code\",\"extra.f\":0.25,\"extra.n\":3,"
                        "\"extra.o\":{\"x\":\"\\u0001\",\"y\":[1,2]},\"extra.t\":true,\"extra.z\":null,"
                        "\"source.ip\":\"192.0.2.1\"}\n";
    assert_true(strncmp(sb.buf, first, strlen(first)) == 0);
    assert_true(strlen(sb.buf) > 3 && strcmp(sb.buf + strlen(sb.buf) - 3, "{}\n") == 0);
    /* every line is the document it came from */
    char *save = NULL;
    size_t i = 0;
    for (char *line = strtok_r(sb.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
        json_error_t je;
        json_t *a = json_loads(line, 0, &je), *b = json_loads(docs[i], 0, &je);
        assert_non_null(a);
        assert_non_null(b);
        if (!json_equal(a, b))
            fail_msg("line %zu differs: %s", i, line);
        json_decref(a);
        json_decref(b);
    }
    assert_int_equal(i, 3);
    strbuf_free(&sb);
    event_export_free(x);
}

static void test_tlp_filter(void **state)
{
    (void)state;
    event_export *x = new_export();
    dz_err e = {0};
    struct {
        const char *doc;
        tlp_level dflt;
        bool withheld;
    } cases[] = {
        {"{\"tlp\":\"AMBER\",\"extra.i\":1}", TLP_RED, false},
        {"{\"tlp\":\"amber\",\"extra.i\":2}", TLP_RED, false},
        {"{\"tlp\":\"GREEN\",\"extra.i\":3}", TLP_RED, false},
        {"{\"tlp\":\"WHITE\",\"extra.i\":4}", TLP_RED, false}, /* IntelMQ's TLP 1.0 name for CLEAR */
        {"{\"tlp\":\"white\",\"extra.i\":5}", TLP_RED, false},
        {"{\"tlp\":\"CLEAR\",\"extra.i\":6}", TLP_RED, false},
        {"{\"tlp\":\"TLP:GREEN\",\"extra.i\":7}", TLP_RED, false},
        {"{\"tlp\":\"RED\",\"extra.i\":8}", TLP_CLEAR, true},
        {"{\"tlp\":\"red\",\"extra.i\":9}", TLP_CLEAR, true},
        {"{\"tlp\":\"AMBER+STRICT\",\"extra.i\":10}", TLP_CLEAR, true},
        {"{\"tlp\":\"amber-strict\",\"extra.i\":11}", TLP_CLEAR, true},
        {"{\"extra.i\":12}", TLP_RED, true},   /* no tlp: the default decides */
        {"{\"extra.i\":13}", TLP_AMBER, false},
        {"{\"tlp\":null,\"extra.i\":14}", TLP_GREEN, false},
    };
    size_t added = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool withheld = false;
        assert_dz_ok(event_export_add(x, cases[i].doc, strlen(cases[i].doc), TLP_AMBER, cases[i].dflt, &withheld, &e),
                     e);
        if (withheld != cases[i].withheld)
            fail_msg("%s: withheld %d", cases[i].doc, withheld);
        added += !cases[i].withheld;
        assert_int_equal(event_export_count(x), added);
    }
    /* withheld may be NULL, and is never cleared (it collects over a round) */
    const char *red = "{\"tlp\":\"RED\"}";
    assert_dz_ok(event_export_add(x, red, strlen(red), TLP_AMBER, TLP_CLEAR, NULL, &e), e);
    bool w = true;
    const char *green = "{\"tlp\":\"GREEN\"}";
    assert_dz_ok(event_export_add(x, green, strlen(green), TLP_AMBER, TLP_CLEAR, &w, &e), e);
    assert_true(w);

    /* refused: an unknown TLP, a TLP that is not a string, not an object, not JSON */
    const char *bad[] = {"{\"tlp\":\"PURPLE\"}", "{\"tlp\":3}", "[1,2]", "\"x\"", "{\"a\":", "", "{} x"};
    size_t before = event_export_count(x);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e.msg[0] = '\0';
        assert_dz_fails(event_export_add(x, bad[i], strlen(bad[i]), TLP_RED, TLP_CLEAR, NULL, &e), DZ_EINVAL, e);
    }
    assert_contains(e.msg, "event");
    e.msg[0] = '\0';
    assert_dz_fails(event_export_add(x, bad[0], strlen(bad[0]), TLP_RED, TLP_CLEAR, NULL, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "PURPLE");
    assert_int_equal(event_export_count(x), before);
    event_export_free(x);
}

static void test_counts(void **state)
{
    (void)state;
    event_export *x = new_export();
    json_t *c = event_export_counts(x);
    assert_non_null(c);
    assert_int_equal(json_array_size(c), 0);
    json_decref(c);
    for (int i = 0; i < 3; i++)
        add(x, "{\"classification.taxonomy\":\"vulnerable\",\"classification.type\":\"vulnerable-system\"}");
    for (int i = 0; i < 3; i++)
        add(x, "{\"classification.taxonomy\":\"malicious-code\",\"classification.type\":\"infected-system\"}");
    add(x, "{\"classification.taxonomy\":\"malicious-code\",\"classification.type\":\"c2-server\"}");
    add(x, "{\"classification.taxonomy\":\"malicious-code\",\"classification.type\":\"c2-server\"}");
    add(x, "{\"classification.type\":\"scanner\"}");
    add(x, "{}");
    add(x, "{\"classification.taxonomy\":\"\",\"classification.type\":3}");
    c = event_export_counts(x);
    char *s = json_dumps(c, JSON_COMPACT);
    assert_string_equal(s, "[{\"taxonomy\":\"malicious-code\",\"type\":\"infected-system\",\"count\":3},"
                           "{\"taxonomy\":\"vulnerable\",\"type\":\"vulnerable-system\",\"count\":3},"
                           "{\"taxonomy\":\"malicious-code\",\"type\":\"c2-server\",\"count\":2},"
                           "{\"taxonomy\":\"other\",\"type\":\"undetermined\",\"count\":2},"
                           "{\"taxonomy\":\"other\",\"type\":\"scanner\",\"count\":1}]");
    free(s);
    json_decref(c);
    event_export_free(x);
}

static void test_empty_and_reset(void **state)
{
    (void)state;
    event_export *x = new_export();
    strbuf sb;
    strbuf_init(&sb);
    event_export_csv(x, &sb);
    event_export_jsonl(x, &sb);
    assert_int_equal(sb.len, 0);
    /* an event with no fields: a row, but no columns */
    add(x, "{}");
    event_export_csv(x, &sb);
    assert_string_equal(sb.buf, "\r\n\r\n");
    strbuf_reset(&sb);
    add(x, "{\"extra.old\":1,\"classification.taxonomy\":\"x\"}");
    event_export_reset(x);
    assert_int_equal(event_export_count(x), 0);
    event_export_csv(x, &sb);
    assert_int_equal(sb.len, 0);
    json_t *c = event_export_counts(x);
    assert_int_equal(json_array_size(c), 0);
    json_decref(c);
    /* after a reset only the new events' keys are columns */
    add(x, "{\"extra.new\":\"v\"}");
    event_export_csv(x, &sb);
    assert_string_equal(sb.buf, "extra.new\r\nv\r\n");
    strbuf_free(&sb);
    event_export_free(x);
    event_export_free(NULL);
}

/* Many events and many distinct keys: every row has every column, in order. */
static void test_many(void **state)
{
    (void)state;
    event_export *x = new_export();
    char doc[512];
    for (int i = 0; i < 20000; i++) {
        snprintf(doc, sizeof doc,
                 "{\"source.ip\":\"10.%d.%d.%d\",\"source.port\":%d,\"classification.taxonomy\":\"t%d\","
                 "\"classification.type\":\"y%d\",\"extra.k%d\":\"v\",\"time.source\":\"2026-11-23T00:00:00+00:00\"}",
                 i >> 16, (i >> 8) & 255, i & 255, i % 65536, i % 3, i % 5, i % 300);
        add(x, doc);
    }
    assert_int_equal(event_export_count(x), 20000);
    strbuf sb;
    strbuf_init(&sb);
    event_export_csv(x, &sb);
    size_t lines = 0, commas = 0;
    for (size_t i = 0; i < sb.len; i++) {
        lines += sb.buf[i] == '\n';
        commas += sb.buf[i] == ',';
    }
    assert_int_equal(lines, 20001);
    /* 5 known columns and 300 extras */
    assert_int_equal(commas, 20001 * 304);
    const char *head = "classification.taxonomy,classification.type,source.ip,source.port,time.source,"
                       "extra.k0,extra.k1,extra.k10,";
    assert_true(known_pos("source.ip") < known_pos("source.port") && known_pos("source.port") < known_pos("time.source"));
    assert_true(strncmp(sb.buf, head, strlen(head)) == 0);
    strbuf_reset(&sb);
    event_export_jsonl(x, &sb);
    lines = 0;
    for (size_t i = 0; i < sb.len; i++)
        lines += sb.buf[i] == '\n';
    assert_int_equal(lines, 20000);
    json_t *c = event_export_counts(x);
    assert_int_equal(json_array_size(c), 15);
    json_decref(c);
    strbuf_free(&sb);
    event_export_free(x);
}

/* The scanner against jansson: the same documents accepted, the same values read. */
static void test_same_as_jansson(void **state)
{
    (void)state;
    const char *docs[] = {
        "{}", " { } ", "\t{\"a\":1}\r\n", "{\"a\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}", "{\"a\":\"\\/\\b\\f\"}",
        "{\"a\":1,\"a\":2}", "{\"b\":1,\"a\":{\"x\":1},\"a\":[true]}", "{\"\":\"empty key\"}",
        "{\"k\\\"q\":\"escaped key\"}", "{\"a\":-0,\"b\":0.5e-3,\"c\":1E+2,\"d\":-12.25}",
        "{\"n\":[],\"o\":{},\"d\":[[[{\"x\":\"]}\"}]]]}", "{\"a\":\"\xf0\x9f\x98\x80\"}",
        "{\"a\":9223372036854775807,\"b\":-9223372036854775808}",
        /* refused by both */
        "", " ", "[]", "1", "\"s\"", "null", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}", "{\"a\":1 \"b\":2}",
        "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":NaN}",
        "{\"a\":tru}", "{\"a\":nul}", "{\"a\":\"x}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u0000\"}",
        "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\\ud800\"}", "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"tab\there\"}",
        "{\"a\":\"\xff\"}", "{\"a\":\"\xc0\x80\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"\xfe\":1}", "{} {}", "{}x",
        "{\"a\":[1,}", "{\"a\":{\"b\":}}", "{\"a\":[\"\\u0000\"]}", "{'a':1}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        size_t len = strlen(docs[i]);
        json_error_t je;
        json_t *ref = json_loadb(docs[i], len, 0, &je);
        bool ref_ok = ref && json_is_object(ref);
        event_export *x = new_export();
        dz_err e = {0};
        dz_code rc = event_export_add(x, docs[i], len, TLP_RED, TLP_CLEAR, NULL, &e);
        if ((rc == DZ_OK) != ref_ok)
            fail_msg("doc %zu [%s]: jansson %s, export %s (%s)", i, docs[i], ref_ok ? "accepts" : je.text,
                     rc == DZ_OK ? "accepts" : "refuses", e.msg);
        if (rc == DZ_OK) {
            strbuf sb;
            strbuf_init(&sb);
            event_export_jsonl(x, &sb);
            json_t *back = json_loadb(sb.buf, sb.len, 0, &je);
            if (!back || !json_equal(back, ref))
                fail_msg("doc %zu [%s] came back as %s", i, docs[i], sb.buf);
            json_decref(back);
            strbuf_free(&sb);
        } else {
            assert_int_equal(rc, DZ_EINVAL);
        }
        json_decref(ref);
        event_export_free(x);
    }
    /* a NUL byte inside the given length */
    event_export *x = new_export();
    dz_err e = {0};
    assert_dz_fails(event_export_add(x, "{\"a\":1}\0", 8, TLP_RED, TLP_CLEAR, NULL, &e), DZ_EINVAL, e);
    assert_dz_fails(event_export_add(x, "{\"a\":\"\0\"}", 8, TLP_RED, TLP_CLEAR, NULL, &e), DZ_EINVAL, e);
    event_export_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns),    cmocka_unit_test(test_cells),
        cmocka_unit_test(test_jsonl),      cmocka_unit_test(test_tlp_filter),
        cmocka_unit_test(test_counts),     cmocka_unit_test(test_empty_and_reset),
        cmocka_unit_test(test_many),       cmocka_unit_test(test_same_as_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
