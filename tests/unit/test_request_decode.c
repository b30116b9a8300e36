/*
 * Request decoding: valid and invalid bodies for incidents, notes, tasks,
 * reports, merges, logins and single fields. Unknown fields, wrong types,
 * NUL bytes, control characters, lengths, legacy spellings, duplicate keys.
 */
#include "unit.h"

#include <stdlib.h>

#include "lib/request_decode.h"
#include "lib/timeutil.h"

/* ---- helpers ---- */

static void incident_ok(const char *body, bool create, incident_fields *f)
{
    dz_err e = {0};
    dz_code rc = decode_incident(body, strlen(body), create, f, &e);
    if (rc != DZ_OK)
        fail_msg("decode_incident(%s, %s) failed: %s", create ? "create" : "update", body, e.msg);
}

/* Must fail with EINVAL and a message containing msg_part; out must be left empty (no leak, no half state). */
static void incident_bad_n(const char *body, size_t len, bool create, const char *msg_part)
{
    incident_fields f;
    memset(&f, 0x5a, sizeof f);
    dz_err e = {0};
    dz_code rc = decode_incident(body, len, create, &f, &e);
    if (rc != DZ_EINVAL)
        fail_msg("decode_incident(%s, %.*s) gave %s, expected invalid", create ? "create" : "update", (int)len, body,
                 dz_code_name(rc));
    assert_int_equal(e.code, DZ_EINVAL);
    if (msg_part && !strstr(e.msg, msg_part))
        fail_msg("decode_incident(%.*s): message '%s' lacks '%s'", (int)len, body, e.msg, msg_part);
    assert_null(f.title);
    assert_null(f.tags);
    assert_null(f.constituents);
    assert_int_equal(f.set, 0);
}

static void incident_bad(const char *body, bool create, const char *msg_part)
{
    incident_bad_n(body, strlen(body), create, msg_part);
}

/* {"title": "<n times c>"} */
static char *title_of(size_t n, char c)
{
    char *b = xmalloc(n + 16);
    assert_non_null(b);
    memcpy(b, "{\"title\":\"", 10);
    memset(b + 10, c, n);
    memcpy(b + 10 + n, "\"}", 3);
    return b;
}

/* ---- incidents: valid ---- */

static void test_incident_full_create(void **state)
{
    (void)state;
    incident_fields f;
    incident_ok("{\"title\": \"  Phishing against a bank \", \"description\": \"line 1\\nline 2\\ttab\","
                " \"classification\": {\"taxonomy\": \"fraud\", \"type\": \"phishing\"}, \"tlp\": \"amber+strict\","
                " \"pap\": \"pap:green\", \"severity\": \"High\", \"status\": \"new\", \"assignee\": \"tashi\","
                " \"constituents\": [\"druk-bank\", \"bt.telecom\", \"druk-bank\"], \"tags\": [\"bank\", \"mail lure\"],"
                " \"due_at\": \"2026-11-24T12:00:00+06:00\"}",
                true, &f);
    assert_int_equal(f.set, INCF_TITLE | INCF_DESCRIPTION | INCF_CLASSIFICATION | INCF_TLP | INCF_PAP | INCF_SEVERITY |
                                INCF_STATUS | INCF_ASSIGNEE | INCF_CONSTITUENTS | INCF_TAGS | INCF_DUE_AT);
    assert_string_equal(f.title, "Phishing against a bank"); /* one-line fields are trimmed */
    assert_string_equal(f.description, "line 1\nline 2\ttab");
    assert_string_equal(f.classification.taxonomy, "fraud");
    assert_string_equal(f.classification.type, "phishing");
    assert_int_equal(f.tlp, TLP_AMBER_STRICT);
    assert_int_equal(f.pap, PAP_GREEN);
    assert_int_equal(f.severity, SEVERITY_HIGH);
    assert_int_equal(f.status, STATUS_NEW);
    assert_string_equal(f.assignee, "tashi");
    assert_int_equal(f.n_constituents, 2); /* duplicates dropped, order kept */
    assert_string_equal(f.constituents[0], "druk-bank");
    assert_string_equal(f.constituents[1], "bt.telecom");
    assert_int_equal(f.n_tags, 2);
    assert_string_equal(f.tags[1], "mail lure");
    int64_t due;
    assert_int_equal(time_parse_iso("2026-11-24T06:00:00Z", &due, NULL), DZ_OK);
    assert_int_equal(f.due_at, due);
    incident_fields_free(&f);
}

static void test_incident_minimal_and_forms(void **state)
{
    (void)state;
    incident_fields f;
    incident_ok("{\"title\":\"x\"}", true, &f);
    assert_int_equal(f.set, INCF_TITLE);
    assert_null(f.description);
    assert_null(f.assignee);
    incident_fields_free(&f);

    /* classification as a bare type string; legacy spellings of every enumeration */
    incident_ok("{\"title\":\"x\",\"classification\":\"C&C\",\"tlp\":\"WHITE\",\"pap\":\"white\",\"severity\":\"CRITICAL\"}",
                true, &f);
    assert_string_equal(f.classification.taxonomy, "malicious-code");
    assert_string_equal(f.classification.type, "c2-server");
    assert_int_equal(f.tlp, TLP_CLEAR);
    assert_int_equal(f.pap, PAP_CLEAR);
    assert_int_equal(f.severity, SEVERITY_CRITICAL);
    incident_fields_free(&f);

    incident_ok("{\"title\":\"x\",\"classification\":{\"taxonomy\":\"Malicious Code\",\"type\":\"botnet drone\"},"
                "\"tlp\":\"tlp:amber-strict\"}", true, &f);
    assert_string_equal(f.classification.type, "infected-system");
    assert_int_equal(f.tlp, TLP_AMBER_STRICT);
    incident_fields_free(&f);

    incident_ok("{\"title\":\"x\",\"classification\":{\"type\":\"unauthorized-use-of-resources\"}}", true, &f);
    assert_string_equal(f.classification.taxonomy, "fraud");
    assert_string_equal(f.classification.type, "unauthorised-use-of-resources");
    incident_fields_free(&f);

    incident_ok("{\"title\":\"x\",\"classification\":{\"taxonomy\":\"other\",\"type\":null}}", true, &f);
    assert_string_equal(f.classification.type, "undetermined");
    incident_fields_free(&f);

    /* null classification: absent; null description: given, and empty (clears it on update) */
    incident_ok("{\"title\":\"x\",\"classification\":null,\"description\":null}", true, &f);
    assert_int_equal(f.set, INCF_TITLE | INCF_DESCRIPTION);
    assert_null(f.description);
    incident_fields_free(&f);

    /* empty lists are a real value (clear all) */
    incident_ok("{\"tags\":[],\"constituents\":[]}", false, &f);
    assert_int_equal(f.set, INCF_TAGS | INCF_CONSTITUENTS);
    assert_int_equal(f.n_tags, 0);
    incident_fields_free(&f);

    /* an empty description is allowed and multi-line */
    incident_ok("{\"description\":\"\"}", false, &f);
    assert_int_equal(f.set, INCF_DESCRIPTION);
    assert_string_equal(f.description, "");
    incident_fields_free(&f);

    /* non-ASCII text passes unchanged */
    incident_ok("{\"title\":\"\xe0\xbd\xa2\xe0\xbe\xab\xe0\xbd\xbc\xe0\xbd\x84 d\\u00fcr\"}", true, &f);
    assert_string_equal(f.title, "\xe0\xbd\xa2\xe0\xbe\xab\xe0\xbd\xbc\xe0\xbd\x84 d\xc3\xbcr");
    incident_fields_free(&f);
}

static void test_incident_update_semantics(void **state)
{
    (void)state;
    incident_fields f;
    /* null assignee: unassign; null due_at: back to the default */
    incident_ok("{\"assignee\":null,\"due_at\":null}", false, &f);
    assert_int_equal(f.set, INCF_ASSIGNEE | INCF_DUE_AT);
    assert_null(f.assignee);
    assert_int_equal(f.due_at, 0);
    incident_fields_free(&f);

    incident_ok("{\"status\":\"closed\"}", false, &f);
    assert_int_equal(f.set, INCF_STATUS);
    assert_int_equal(f.status, STATUS_CLOSED);
    incident_fields_free(&f);

    /* a GET body sent back: computed fields are ignored, the rest decodes */
    incident_ok("{\"id\":\"BTCIRT-2026-00001\",\"title\":\"t\",\"description\":\"\",\"classification\":"
                "{\"taxonomy\":\"fraud\",\"type\":\"phishing\"},\"tlp\":\"AMBER\",\"pap\":\"AMBER\",\"severity\":\"medium\","
                "\"status\":\"triage\",\"assignee\":null,\"duplicate_of\":null,\"due_at\":\"2026-11-26T03:12:33Z\","
                "\"created_at\":\"2026-11-23T03:12:33Z\",\"updated_at\":\"2026-11-23T03:12:33Z\",\"created_by\":\"admin\","
                "\"constituents\":[\"druk-bank\"],\"tags\":[],\"metrics\":{\"time_to_triage_s\":null},\"reports\":[]}",
                false, &f);
    assert_true(f.set & INCF_TITLE);
    assert_true(f.set & INCF_STATUS);
    assert_int_equal(f.status, STATUS_TRIAGE);
    incident_fields_free(&f);

    /* only computed fields: nothing to change */
    incident_bad("{\"id\":\"X\",\"created_at\":\"2026-01-01\"}", false, "nothing to change");
    incident_bad("{}", false, "nothing to change");
}

/* ---- incidents: invalid ---- */

static void test_incident_required_and_status(void **state)
{
    (void)state;
    incident_bad("{}", true, "field 'title' is required");
    incident_bad("{\"description\":\"x\"}", true, "field 'title' is required");
    incident_bad("{\"title\":null}", true, "field 'title' must not be null");
    incident_bad("{\"title\":null}", false, "field 'title' must not be null");
    incident_bad("{\"title\":\"\"}", true, "field 'title' must not be empty");
    incident_bad("{\"title\":\"   \"}", true, "field 'title' must not be empty");
    incident_bad("{\"title\":\"x\",\"status\":\"triage\"}", true, "a new incident starts as 'new'");
    incident_bad("{\"title\":\"x\",\"status\":\"duplicate\"}", true, "starts as 'new'");
    incident_bad("{\"status\":\"open\"}", false, "field 'status': unknown status 'open'");
}

static void test_incident_not_json(void **state)
{
    (void)state;
    incident_bad_n("", 0, true, "request body is empty");
    incident_bad("   ", true, "not valid JSON");
    incident_bad("title=x", true, "not valid JSON");
    incident_bad("{\"title\":\"x\"", true, "not valid JSON");
    incident_bad("{\"title\":\"x\"} {}", true, "not valid JSON");
    incident_bad("{\"title\":\"x\",}", true, "not valid JSON");
    incident_bad("[{\"title\":\"x\"}]", true, "must be a JSON object");
    incident_bad("\"title\"", true, NULL);
    incident_bad("null", true, NULL);
    incident_bad("42", true, NULL);
    /* invalid UTF-8 */
    incident_bad("{\"title\":\"\xff\xfe\"}", true, "not valid JSON");
    incident_bad("{\"title\":\"\xc3\"}", true, "not valid JSON");
    /* the length given is what counts: a body cut short is not an object */
    incident_bad_n("{\"title\":\"x\"}", 8, true, "not valid JSON");
}

static void test_incident_duplicate_keys(void **state)
{
    (void)state;
    incident_bad("{\"title\":\"a\",\"title\":\"b\"}", true, "not valid JSON");
    incident_bad("{\"title\":\"a\",\"classification\":{\"type\":\"spam\",\"type\":\"phishing\"}}", true, "not valid JSON");
    incident_bad("{\"tlp\":\"RED\",\"tlp\":\"CLEAR\"}", false, NULL);
}

static void test_incident_unknown_fields(void **state)
{
    (void)state;
    incident_bad("{\"title\":\"x\",\"titel\":\"y\"}", true, "unknown field 'titel'");
    incident_bad("{\"title\":\"x\",\"titel\":\"y\"}", true, "known: title, description, classification");
    incident_bad("{\"Title\":\"x\"}", true, "unknown field 'Title'");
    incident_bad("{\"title\":\"x\",\"\":1}", true, "unknown field ''");
    incident_bad("{\"title\":\"x\",\"classification\":{\"type\":\"spam\",\"subtype\":\"x\"}}", true,
                 "field 'classification': unknown field 'subtype'");
    incident_bad("{\"severity\":\"low\",\"notes\":[]}", false, "unknown field 'notes'");
}

static void test_incident_wrong_types(void **state)
{
    (void)state;
    incident_bad("{\"title\":5}", true, "field 'title' must be a string");
    incident_bad("{\"title\":[\"x\"]}", true, "field 'title' must be a string");
    incident_bad("{\"title\":\"x\",\"description\":true}", true, "field 'description' must be a string");
    incident_bad("{\"title\":\"x\",\"tlp\":1}", true, "field 'tlp' must be a string");
    incident_bad("{\"title\":\"x\",\"tlp\":null}", true, "field 'tlp' must be a string");
    incident_bad("{\"title\":\"x\",\"pap\":{}}", true, "field 'pap' must be a string");
    incident_bad("{\"title\":\"x\",\"severity\":3}", true, "field 'severity' must be a string");
    incident_bad("{\"title\":\"x\",\"status\":false}", true, "field 'status' must be a string");
    incident_bad("{\"title\":\"x\",\"assignee\":7}", true, "field 'assignee' must be a string");
    incident_bad("{\"title\":\"x\",\"classification\":5}", true, "field 'classification' must be an object");
    incident_bad("{\"title\":\"x\",\"classification\":[\"spam\"]}", true, "field 'classification' must be an object");
    incident_bad("{\"title\":\"x\",\"classification\":{\"type\":5}}", true, "taxonomy and type must be strings");
    incident_bad("{\"title\":\"x\",\"classification\":{\"taxonomy\":[],\"type\":\"spam\"}}", true,
                 "taxonomy and type must be strings");
    incident_bad("{\"title\":\"x\",\"tags\":\"a\"}", true, "field 'tags' must be an array of strings");
    incident_bad("{\"title\":\"x\",\"tags\":{}}", true, "field 'tags' must be an array of strings");
    incident_bad("{\"title\":\"x\",\"tags\":[1]}", true, "field 'tags' item 0");
    incident_bad("{\"title\":\"x\",\"tags\":[\"a\",null]}", true, "field 'tags' item 1");
    incident_bad("{\"title\":\"x\",\"tags\":[\"a\",[\"b\"]]}", true, "field 'tags' item 1");
    incident_bad("{\"title\":\"x\",\"constituents\":\"druk-bank\"}", true, "field 'constituents' must be an array");
    incident_bad("{\"title\":\"x\",\"due_at\":1700000000}", true, "field 'due_at' must be an ISO-8601");
    incident_bad("{\"title\":\"x\",\"due_at\":\"tomorrow\"}", true, "field 'due_at'");
    incident_bad("{\"title\":\"x\",\"due_at\":\"2026-02-30T00:00:00Z\"}", true, "no such date");
}

static void test_incident_bad_values(void **state)
{
    (void)state;
    incident_bad("{\"title\":\"x\",\"tlp\":\"purple\"}", true, "field 'tlp': unknown TLP 'purple'");
    incident_bad("{\"title\":\"x\",\"pap\":\"AMBER+STRICT\"}", true, "field 'pap': unknown PAP");
    incident_bad("{\"title\":\"x\",\"severity\":\"urgent\"}", true, "field 'severity': unknown severity 'urgent'");
    incident_bad("{\"title\":\"x\",\"classification\":\"nonsense\"}", true, "field 'classification': unknown RSIT type");
    incident_bad("{\"title\":\"x\",\"classification\":{\"taxonomy\":\"fraud\",\"type\":\"spam\"}}", true,
                 "belongs to taxonomy 'abusive-content'");
    incident_bad("{\"title\":\"x\",\"classification\":{\"taxonomy\":\"fraud\"}}", true, "needs a type");
    incident_bad("{\"title\":\"x\",\"assignee\":\"bad name\"}", true, "field 'assignee' is not a valid user name");
    incident_bad("{\"title\":\"x\",\"assignee\":\"-dash\"}", true, "not a valid user name");
    incident_bad("{\"title\":\"x\",\"assignee\":\"\"}", true, "field 'assignee' must not be empty");
    incident_bad("{\"title\":\"x\",\"constituents\":[\"druk bank\"]}", true, "field 'constituents' item 0");
    incident_bad("{\"title\":\"x\",\"constituents\":[\"\"]}", true, "field 'constituents' item 0");
    incident_bad("{\"title\":\"x\",\"tags\":[\"\"]}", true, "field 'tags' item 0");
}

static void test_incident_nul_and_control_chars(void **state)
{
    (void)state;
    /* a raw NUL byte inside the body */
    static const char raw_nul[] = "{\"title\":\"a\0b\"}";
    incident_bad_n(raw_nul, sizeof raw_nul - 1, true, "not valid JSON");
    static const char nul_after[] = "{\"title\":\"ab\"}\0garbage";
    incident_bad_n(nul_after, sizeof nul_after - 1, true, "not valid JSON");
    /* an escaped NUL */
    incident_bad("{\"title\":\"a\\u0000b\"}", true, "not valid JSON");
    incident_bad("{\"title\":\"x\",\"tags\":[\"a\\u0000\"]}", true, "not valid JSON");
    incident_bad("{\"title\":\"x\",\"description\":\"\\u0000\"}", true, "not valid JSON");
    /* raw control characters are not JSON */
    incident_bad("{\"title\":\"a\x01" "b\"}", true, "not valid JSON");
    /* escaped control characters are JSON, but refused in text */
    incident_bad("{\"title\":\"a\\u0001b\"}", true, "field 'title' contains control characters");
    incident_bad("{\"title\":\"a\\nb\"}", true, "field 'title' contains control characters");
    incident_bad("{\"title\":\"a\\tb\"}", true, "field 'title' contains control characters");
    incident_bad("{\"title\":\"a\\u007fb\"}", true, "field 'title' contains control characters");
    incident_bad("{\"title\":\"x\",\"description\":\"bell\\u0007\"}", true, "field 'description' contains control");
    incident_bad("{\"title\":\"x\",\"description\":\"\\u001b[31mred\"}", true, "contains control characters");
    incident_bad("{\"title\":\"x\",\"tags\":[\"a\\nb\"]}", true, "field 'tags' item 0");
    incident_bad("{\"title\":\"x\",\"constituents\":[\"a\\u0001\"]}", true, "field 'constituents' item 0");
    incident_bad("{\"title\":\"x\",\"assignee\":\"a\\u0001\"}", true, "control characters");
    /* the description may hold newlines, carriage returns and tabs */
    incident_fields f;
    incident_ok("{\"title\":\"x\",\"description\":\"a\\r\\nb\\tc\\n\"}", true, &f);
    assert_string_equal(f.description, "a\r\nb\tc\n");
    incident_fields_free(&f);
}

static void test_incident_lengths(void **state)
{
    (void)state;
    incident_fields f;
    char *b = title_of(INCIDENT_TITLE_MAX, 'a');
    incident_ok(b, true, &f);
    assert_int_equal(strlen(f.title), INCIDENT_TITLE_MAX);
    incident_fields_free(&f);
    free(b);
    b = title_of(INCIDENT_TITLE_MAX + 1, 'a');
    incident_bad(b, true, "field 'title' is too long (301 bytes; at most 300)");
    free(b);
    /* length counts bytes, not characters */
    char *t = xmalloc(400);
    strcpy(t, "{\"title\":\"");
    for (int i = 0; i < 101; i++)
        strcat(t, "\xc3\xa4"); /* 202 bytes */
    strcat(t, "x\"}");
    incident_ok(t, true, &f);
    incident_fields_free(&f);
    free(t);

    /* description: 65536 bytes allowed, one more refused */
    size_t n = INCIDENT_DESCRIPTION_MAX;
    char *d = xmalloc(n + 64);
    for (int extra = 0; extra <= 1; extra++) {
        int off = sprintf(d, "{\"title\":\"x\",\"description\":\"");
        memset(d + off, 'd', n + (size_t)extra);
        strcpy(d + off + n + (size_t)extra, "\"}");
        if (extra) {
            incident_bad(d, true, "field 'description' is too long");
        } else {
            incident_ok(d, true, &f);
            assert_int_equal(strlen(f.description), n);
            incident_fields_free(&f);
        }
    }
    free(d);

    /* lists: at most 100 items; items at most 64 bytes */
    char *l = xmalloc(2000);
    for (int count = 100; count <= 101; count++) {
        int off = sprintf(l, "{\"title\":\"x\",\"tags\":[");
        for (int i = 0; i < count; i++)
            off += sprintf(l + off, "%s\"t%d\"", i ? "," : "", i);
        strcpy(l + off, "]}");
        if (count == 100) {
            incident_ok(l, true, &f);
            assert_int_equal(f.n_tags, 100);
            incident_fields_free(&f);
        } else {
            incident_bad(l, true, "field 'tags' has 101 items; at most 100");
        }
    }
    /* duplicates count towards the limit before they are dropped */
    int off = sprintf(l, "{\"title\":\"x\",\"tags\":[");
    for (int i = 0; i < 101; i++)
        off += sprintf(l + off, "%s\"same\"", i ? "," : "");
    strcpy(l + off, "]}");
    incident_bad(l, true, "has 101 items");
    free(l);

    char tag[200];
    snprintf(tag, sizeof tag, "{\"title\":\"x\",\"tags\":[\"%064d\"]}", 0);
    incident_ok(tag, true, &f);
    incident_fields_free(&f);
    snprintf(tag, sizeof tag, "{\"title\":\"x\",\"tags\":[\"%065d\"]}", 0);
    incident_bad(tag, true, "at most 64 bytes");
    snprintf(tag, sizeof tag, "{\"title\":\"x\",\"assignee\":\"%064d\"}", 0);
    incident_ok(tag, true, &f);
    incident_fields_free(&f);
    snprintf(tag, sizeof tag, "{\"title\":\"x\",\"assignee\":\"%065d\"}", 0);
    incident_bad(tag, true, "field 'assignee' is too long");
    snprintf(tag, sizeof tag, "{\"title\":\"x\",\"constituents\":[\"%065d\"]}", 0);
    incident_bad(tag, true, "field 'constituents' item 0");
}

/* ---- notes ---- */

static void note_bad(const char *body, const char *msg_part)
{
    note_input n;
    dz_err e = {0};
    assert_dz_fails(decode_note(body, strlen(body), &n, &e), DZ_EINVAL, e);
    if (msg_part)
        assert_contains(e.msg, msg_part);
    assert_null(n.body);
}

static void test_notes(void **state)
{
    (void)state;
    note_input n;
    dz_err e = {0};
    const char *b = "{\"body\":\"  first line\\nsecond  \"}";
    assert_dz_ok(decode_note(b, strlen(b), &n, &e), e);
    assert_string_equal(n.body, "  first line\nsecond  "); /* multi-line text is kept as is */
    assert_false(n.shared);
    note_input_free(&n);
    b = "{\"body\":\"x\",\"shared\":true}";
    assert_dz_ok(decode_note(b, strlen(b), &n, &e), e);
    assert_true(n.shared);
    note_input_free(&n);
    b = "{\"body\":\"x\",\"visibility\":\"shared\"}";
    assert_dz_ok(decode_note(b, strlen(b), &n, &e), e);
    assert_true(n.shared);
    note_input_free(&n);
    b = "{\"body\":\"x\",\"shared\":false,\"visibility\":\"internal\"}";
    assert_dz_ok(decode_note(b, strlen(b), &n, &e), e);
    assert_false(n.shared);
    note_input_free(&n);
    b = "{\"body\":\"x\",\"shared\":true,\"visibility\":\"shared\"}";
    assert_dz_ok(decode_note(b, strlen(b), &n, &e), e);
    assert_true(n.shared);
    note_input_free(&n);

    note_bad("{}", "field 'body' is required");
    note_bad("{\"body\":null}", "field 'body' is required");
    note_bad("{\"body\":\"\"}", "field 'body' must not be empty");
    note_bad("{\"body\":5}", "field 'body' must be a string");
    note_bad("{\"body\":\"x\",\"shared\":\"yes\"}", "field 'shared' must be true or false");
    note_bad("{\"body\":\"x\",\"shared\":1}", "field 'shared' must be true or false");
    note_bad("{\"body\":\"x\",\"visibility\":\"public\"}", "field 'visibility' must be");
    note_bad("{\"body\":\"x\",\"visibility\":true}", "field 'visibility' must be");
    note_bad("{\"body\":\"x\",\"shared\":true,\"visibility\":\"internal\"}", "disagree");
    note_bad("{\"body\":\"x\",\"shared\":false,\"visibility\":\"shared\"}", "disagree");
    note_bad("{\"body\":\"x\",\"author\":\"me\"}", "unknown field 'author'");
    note_bad("{\"body\":\"x\\u0000\"}", "not valid JSON");
    note_bad("{\"body\":\"x\\u0002\"}", "control characters");
    note_bad("{\"body\":\"a\",\"body\":\"b\"}", "not valid JSON");
}

/* ---- tasks ---- */

static void task_bad(const char *body, bool create, const char *msg_part)
{
    task_input t;
    dz_err e = {0};
    assert_dz_fails(decode_task(body, strlen(body), create, &t, &e), DZ_EINVAL, e);
    if (msg_part)
        assert_contains(e.msg, msg_part);
    assert_null(t.title);
    assert_int_equal(t.set, 0);
}

static void test_tasks(void **state)
{
    (void)state;
    task_input t;
    dz_err e = {0};
    const char *b = "{\"title\":\" Block the domain \",\"status\":\"in_progress\",\"assignee\":\"pema\","
                    "\"due_at\":\"2026-12-01\"}";
    assert_dz_ok(decode_task(b, strlen(b), true, &t, &e), e);
    assert_int_equal(t.set, TASKF_TITLE | TASKF_STATUS | TASKF_ASSIGNEE | TASKF_DUE_AT);
    assert_string_equal(t.title, "Block the domain");
    assert_int_equal(t.status, TASK_IN_PROGRESS);
    assert_string_equal(t.assignee, "pema");
    assert_int_equal(t.due_at, 1796083200);
    task_input_free(&t);

    b = "{\"status\":\"done\"}";
    assert_dz_ok(decode_task(b, strlen(b), false, &t, &e), e);
    assert_int_equal(t.set, TASKF_STATUS);
    assert_int_equal(t.status, TASK_DONE);
    task_input_free(&t);
    b = "{\"assignee\":null,\"due_at\":null}";
    assert_dz_ok(decode_task(b, strlen(b), false, &t, &e), e);
    assert_int_equal(t.set, TASKF_ASSIGNEE | TASKF_DUE_AT);
    assert_null(t.assignee);
    assert_int_equal(t.due_at, 0);
    task_input_free(&t);
    /* a task read back (with its computed fields) decodes as an update */
    b = "{\"id\":3,\"title\":\"t\",\"status\":\"open\",\"created_at\":\"x\",\"updated_at\":\"y\"}";
    assert_dz_ok(decode_task(b, strlen(b), false, &t, &e), e);
    task_input_free(&t);

    assert_string_equal(task_status_name(TASK_OPEN), "open");
    assert_string_equal(task_status_name(TASK_CANCELLED), "cancelled");
    assert_string_equal(task_status_name((task_status)4), "?");

    task_bad("{}", true, "field 'title' is required");
    task_bad("{\"status\":\"open\"}", true, "field 'title' is required");
    task_bad("{}", false, "nothing to change");
    task_bad("{\"id\":4}", false, "nothing to change");
    task_bad("{\"title\":\"x\",\"status\":\"closed\"}", true, "field 'status' must be one of");
    task_bad("{\"title\":\"x\",\"status\":\"Done\"}", true, "field 'status' must be one of");
    task_bad("{\"title\":\"x\",\"status\":null}", true, "field 'status' must be one of");
    task_bad("{\"title\":\"x\",\"status\":1}", true, "field 'status' must be one of");
    task_bad("{\"title\":\"x\",\"assignee\":\"no body\"}", true, "not a valid user name");
    task_bad("{\"title\":\"x\",\"due_at\":\"soon\"}", true, "field 'due_at'");
    task_bad("{\"title\":\"x\",\"priority\":1}", true, "unknown field 'priority'");
    task_bad("{\"title\":\"a\\nb\"}", true, "control characters");
}

/* ---- reports ---- */

static void report_bad(const char *body, const char *msg_part)
{
    report_input r;
    dz_err e = {0};
    assert_dz_fails(decode_report(body, strlen(body), &r, &e), DZ_EINVAL, e);
    if (msg_part)
        assert_contains(e.msg, msg_part);
    assert_null(r.source);
    assert_null(r.source_ref);
}

static void test_reports(void **state)
{
    (void)state;
    report_input r;
    dz_err e = {0};
    const char *b = "{\"source\":\"web\",\"source_ref\":\" form-123 \",\"title\":\"Phish\",\"body\":\"Got a mail\\n\","
                    "\"reporter\":{\"name\":\"Karma\",\"email\":\"karma@example.bt\",\"phone\":\"+975 2 123\"},"
                    "\"constituent\":\"druk-bank\",\"incident\":\"BTCIRT-2026-00001\"}";
    assert_dz_ok(decode_report(b, strlen(b), &r, &e), e);
    assert_string_equal(r.source, "web");
    assert_string_equal(r.source_ref, "form-123");
    assert_string_equal(r.title, "Phish");
    assert_string_equal(r.body, "Got a mail\n");
    assert_string_equal(r.reporter_name, "Karma");
    assert_string_equal(r.reporter_email, "karma@example.bt");
    assert_string_equal(r.reporter_phone, "+975 2 123");
    assert_string_equal(r.constituent, "druk-bank");
    assert_string_equal(r.incident, "BTCIRT-2026-00001");
    report_input_free(&r);
    b = "{\"source\":\"cert.example\",\"source_ref\":\"<abc@mail>\",\"reporter\":null,\"id\":\"ignored\"}";
    assert_dz_ok(decode_report(b, strlen(b), &r, &e), e);
    assert_null(r.reporter_name);
    assert_null(r.title);
    report_input_free(&r);

    report_bad("{}", "field 'source' is required");
    report_bad("{\"source\":\"web\"}", "field 'source_ref' is required");
    report_bad("{\"source\":\"web\",\"source_ref\":\"\"}", "field 'source_ref' must not be empty");
    report_bad("{\"source\":\"web form\",\"source_ref\":\"1\"}", "field 'source' must be a short name");
    report_bad("{\"source\":\".web\",\"source_ref\":\"1\"}", "field 'source' must be a short name");
    report_bad("{\"source\":5,\"source_ref\":\"1\"}", "field 'source' must be a string");
    report_bad("{\"source\":\"web\",\"source_ref\":1}", "field 'source_ref' must be a string");
    report_bad("{\"source\":\"web\",\"source_ref\":\"1\",\"reporter\":\"Karma\"}", "field 'reporter' must be an object");
    report_bad("{\"source\":\"web\",\"source_ref\":\"1\",\"reporter\":{\"mail\":\"a@b\"}}",
               "field 'reporter': unknown field 'mail'");
    report_bad("{\"source\":\"web\",\"source_ref\":\"1\",\"reporter\":{\"email\":\"karma\"}}",
               "field 'reporter.email' is not an e-mail address");
    report_bad("{\"source\":\"web\",\"source_ref\":\"1\",\"reporter\":{\"email\":\"a@\"}}", NULL);
    report_bad("{\"source\":\"web\",\"source_ref\":\"1\",\"urgency\":\"high\"}", "unknown field 'urgency'");
    report_bad("{\"source\":\"web\",\"source_ref\":\"1\",\"title\":\"a\\u0000\"}", "not valid JSON");
    report_bad("{\"source\":\"web\",\"source_ref\":\"a\\u0003\"}", "control characters");
    report_bad("{\"source\":\"web\",\"source_ref\":\"1\",\"source_ref\":\"2\"}", "not valid JSON");
    char big[400];
    snprintf(big, sizeof big, "{\"source\":\"web\",\"source_ref\":\"%0257d\"}", 0);
    report_bad(big, "field 'source_ref' is too long");
    snprintf(big, sizeof big, "{\"source\":\"web\",\"source_ref\":\"%0256d\"}", 0);
    assert_dz_ok(decode_report(big, strlen(big), &r, &e), e);
    report_input_free(&r);
}

/* ---- merge ---- */

static void merge_bad(const char *body, const char *msg_part)
{
    merge_input m;
    dz_err e = {0};
    dz_code rc = decode_merge(body, strlen(body), &m, &e);
    if (rc != DZ_EINVAL)
        fail_msg("decode_merge(%s) gave %s, expected invalid", body, dz_code_name(rc));
    if (msg_part)
        assert_contains(e.msg, msg_part);
    assert_null(m.into);
    assert_null(m.from);
    assert_int_equal(m.n_from, 0);
}

static void test_merge(void **state)
{
    (void)state;
    merge_input m;
    dz_err e = {0};
    const char *b = "{\"into\":\"BTCIRT-2026-00001\"}";
    assert_dz_ok(decode_merge(b, strlen(b), &m, &e), e);
    assert_string_equal(m.into, "BTCIRT-2026-00001");
    assert_int_equal(m.n_from, 0);
    merge_input_free(&m);
    b = "{\"from\":\"BTCIRT-2026-00002\"}";
    assert_dz_ok(decode_merge(b, strlen(b), &m, &e), e);
    assert_null(m.into);
    assert_int_equal(m.n_from, 1);
    assert_string_equal(m.from[0], "BTCIRT-2026-00002");
    merge_input_free(&m);
    b = "{\"from\":[\"A-2026-00002\",\"A-2026-00003\",\"A-2026-00002\"]}";
    assert_dz_ok(decode_merge(b, strlen(b), &m, &e), e);
    assert_int_equal(m.n_from, 2);
    assert_string_equal(m.from[1], "A-2026-00003");
    merge_input_free(&m);
    /* the string and the list form accept and refuse the same ids, byte for byte */
    b = "{\"from\":\" A-2026-00002 \"}";
    assert_dz_ok(decode_merge(b, strlen(b), &m, &e), e);
    merge_input m2;
    const char *b2 = "{\"from\":[\" A-2026-00002 \"]}";
    assert_dz_ok(decode_merge(b2, strlen(b2), &m2, &e), e);
    assert_int_equal(m2.n_from, 1);
    assert_string_equal(m.from[0], m2.from[0]);
    merge_input_free(&m);
    merge_input_free(&m2);

    merge_bad("{}", "give either 'into'");
    merge_bad("{\"into\":null}", "give either 'into'");
    merge_bad("{\"from\":null}", "give either 'into'");
    merge_bad("{\"from\":[]}", "give either 'into'");
    merge_bad("{\"into\":\"A\",\"from\":\"B\"}", "give either 'into'");
    merge_bad("{\"into\":\"A\",\"from\":[\"B\"]}", "give either 'into'");
    merge_bad("{\"into\":5}", "field 'into' must be a string");
    merge_bad("{\"into\":\"\"}", "field 'into' must not be empty");
    merge_bad("{\"into\":\"A\\u0001\"}", "control characters");
    merge_bad("{\"from\":5}", "field 'from' must be an array of strings");
    merge_bad("{\"from\":{\"id\":\"A\"}}", "field 'from' must be an array of strings");
    merge_bad("{\"from\":[5]}", "field 'from' item 0");
    merge_bad("{\"from\":[\"\"]}", "field 'from' item 0");
    merge_bad("{\"from\":[\"A\\u0001\"]}", "field 'from' item 0");
    merge_bad("{\"from\":\"\"}", "field 'from'");
    merge_bad("{\"from\":\"A\\u0001\"}", "field 'from'");
    merge_bad("{\"from\":\"A\\n\"}", "field 'from'");
    merge_bad("{\"into\":\"A\",\"into\":\"B\"}", "not valid JSON");
    merge_bad("{\"from\":\"A\\u0000B\"}", "not valid JSON");
    merge_bad("{\"survivor\":\"A\"}", "unknown field 'survivor'");
    /* ids longer than any public id are refused, in both forms, never cut short */
    char big[200];
    snprintf(big, sizeof big, "{\"into\":\"%049d\"}", 0);
    merge_bad(big, "field 'into' is too long");
    snprintf(big, sizeof big, "{\"from\":[\"%049d\"]}", 0);
    merge_bad(big, "field 'from' item 0");
    snprintf(big, sizeof big, "{\"from\":\"%049d\"}", 0);
    merge_bad(big, "field 'from'");
    snprintf(big, sizeof big, "{\"from\":\"%048d\"}", 0);
    assert_dz_ok(decode_merge(big, strlen(big), &m, &e), e);
    assert_int_equal(strlen(m.from[0]), PUBLIC_ID_MAX);
    merge_input_free(&m);
}

/* ---- login, single fields, names ---- */

static void test_login(void **state)
{
    (void)state;
    login_input l;
    dz_err e = {0};
    const char *b = "{\"username\":\"tashi\",\"password\":\" secret with spaces \"}";
    assert_dz_ok(decode_login(b, strlen(b), &l, &e), e);
    assert_string_equal(l.username, "tashi");
    assert_string_equal(l.password, " secret with spaces "); /* never trimmed */
    login_input_free(&l);
    assert_null(l.password);

    static const struct {
        const char *body, *msg;
    } bad[] = {
        {"{}", "field 'username' is required"},
        {"{\"username\":\"tashi\"}", "field 'password' must be a non-empty string"},
        {"{\"username\":\"tashi\",\"password\":\"\"}", "field 'password' must be a non-empty string"},
        {"{\"username\":\"tashi\",\"password\":123}", "field 'password' must be a non-empty string"},
        {"{\"username\":\"tashi\",\"password\":null}", "field 'password' must be a non-empty string"},
        {"{\"username\":5,\"password\":\"x\"}", "field 'username' must be a string"},
        {"{\"username\":\"tashi\",\"password\":\"x\",\"otp\":\"1\"}", "unknown field 'otp'"},
        {"{\"username\":\"tashi\",\"password\":\"x\\u0000y\"}", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dz_err e2 = {0};
        assert_dz_fails(decode_login(bad[i].body, strlen(bad[i].body), &l, &e2), DZ_EINVAL, e2);
        assert_contains(e2.msg, bad[i].msg);
        assert_null(l.username);
        assert_null(l.password);
    }
    char *big = xmalloc(1200);
    for (int len = 1024; len <= 1025; len++) {
        int off = sprintf(big, "{\"username\":\"u\",\"password\":\"");
        memset(big + off, 'p', (size_t)len);
        strcpy(big + off + len, "\"}");
        dz_code rc = decode_login(big, strlen(big), &l, &e);
        assert_int_equal(rc, len == 1024 ? DZ_OK : DZ_EINVAL);
        login_input_free(&l);
    }
    free(big);
}

static void test_string_field(void **state)
{
    (void)state;
    char *out = (char *)1;
    dz_err e = {0};
    const char *b = "{\"incident\":\" BTCIRT-2026-00001 \"}";
    assert_dz_ok(decode_string_field(b, strlen(b), "incident", &out, &e), e);
    assert_string_equal(out, "BTCIRT-2026-00001");
    free(out);
    b = "{\"report\":\"x\"}";
    assert_dz_fails(decode_string_field(b, strlen(b), "incident", &out, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "unknown field 'report' (known: incident)");
    assert_null(out);
    b = "{}";
    assert_dz_fails(decode_string_field(b, strlen(b), "incident", &out, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "field 'incident' is required");
    b = "[]";
    assert_dz_fails(decode_string_field(b, strlen(b), "incident", &out, &e), DZ_EINVAL, e);
    b = "{\"incident\":\"a\\u0001\"}";
    assert_dz_fails(decode_string_field(b, strlen(b), "incident", &out, &e), DZ_EINVAL, e);
    assert_null(out);
}

static void test_name_valid(void **state)
{
    (void)state;
    static const char *const good[] = {"a", "tashi", "druk-bank", "bt.telecom", "karma@example.bt", "A_b-c.d",
                                       "9lives", "x1234567890123456789012345678901234567890123456789012345678901"};
    static const char *const bad[] = {"", "-x", ".x", "_x", "@x", "a b", "a/b", "a:b", "a\tb", "\xc3\xa4", "a\xc3\xa4",
                                      "x12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!name_valid(good[i]))
            fail_msg("'%s' should be a valid name", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (name_valid(bad[i]))
            fail_msg("'%s' should not be a valid name", bad[i]);
    assert_int_equal(strlen(good[7]), 62);
    char s65[66];
    memset(s65, 'n', 65);
    s65[65] = '\0';
    assert_false(name_valid(s65));
    s65[64] = '\0';
    assert_true(name_valid(s65));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incident_full_create),
        cmocka_unit_test(test_incident_minimal_and_forms),
        cmocka_unit_test(test_incident_update_semantics),
        cmocka_unit_test(test_incident_required_and_status),
        cmocka_unit_test(test_incident_not_json),
        cmocka_unit_test(test_incident_duplicate_keys),
        cmocka_unit_test(test_incident_unknown_fields),
        cmocka_unit_test(test_incident_wrong_types),
        cmocka_unit_test(test_incident_bad_values),
        cmocka_unit_test(test_incident_nul_and_control_chars),
        cmocka_unit_test(test_incident_lengths),
        cmocka_unit_test(test_notes),
        cmocka_unit_test(test_tasks),
        cmocka_unit_test(test_reports),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_string_field),
        cmocka_unit_test(test_name_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
