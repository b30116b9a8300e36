/* router_match over the real route table: matches, parameters, literal segments, 405, bad paths. */
#include "unit.h"

#include <ctype.h>

#include "server/router.h"

static route_result match(const char *method, const char *path, const route **found, route_params *p, char *allow,
                          size_t allow_len)
{
    return router_match(api_routes, method, path, found, p, allow, allow_len);
}

static const route *find_route(const char *method, const char *pattern)
{
    for (const route *r = api_routes; r->method; r++)
        if (strcmp(r->method, method) == 0 && strcmp(r->pattern, pattern) == 0)
            return r;
    fail_msg("no route %s %s in the table", method, pattern);
    return NULL;
}

static void expect_found(const char *method, const char *path, const char *pattern, size_t n, const char *p0,
                         const char *p1)
{
    const route *r = NULL;
    route_params p;
    memset(&p, 0, sizeof p);
    char allow[64];
    route_result rr = match(method, path, &r, &p, allow, sizeof allow);
    if (rr != ROUTE_FOUND)
        fail_msg("%s %s: result %d, expected found", method, path, rr);
    assert_ptr_equal(r, find_route(method, pattern));
    assert_int_equal(p.n, n);
    if (n > 0)
        assert_string_equal(p.v[0], p0);
    if (n > 1)
        assert_string_equal(p.v[1], p1);
}

static void expect_result(const char *method, const char *path, route_result want)
{
    const route *r = (const route *)1;
    route_params p;
    char allow[128];
    route_result rr = match(method, path, &r, &p, allow, sizeof allow);
    if (rr != want)
        fail_msg("%s %s: result %d, expected %d", method, path, rr, want);
    if (want != ROUTE_FOUND)
        assert_null(r);
}

static void test_table_is_sane(void **state)
{
    (void)state;
    size_t n = 0;
    for (const route *r = api_routes; r->method; r++, n++) {
        assert_non_null(r->pattern);
        assert_non_null(r->handler);
        assert_int_equal(r->pattern[0], '/');
        for (const char *m = r->method; *m; m++)
            assert_true(isupper((unsigned char)*m));
        size_t params = 0;
        for (const char *c = r->pattern; *c; c++)
            params += *c == '{';
        assert_true(params <= ROUTE_MAX_PARAMS);
        for (const route *q = r + 1; q->method; q++)
            if (strcmp(r->method, q->method) == 0 && strcmp(r->pattern, q->pattern) == 0)
                fail_msg("route %s %s appears twice", r->method, r->pattern);
    }
    assert_true(n >= 30);
    /* only the meta routes and the login are public */
    for (const route *r = api_routes; r->method; r++) {
        bool pub = (r->flags & ROUTE_PUBLIC) != 0;
        bool want = strcmp(r->pattern, "/healthz") == 0 || strcmp(r->pattern, "/api/v1/openapi.json") == 0 ||
                    strcmp(r->pattern, "/") == 0 || strcmp(r->pattern, "/ui/{file}") == 0 ||
                    (strcmp(r->pattern, "/api/v1/session") == 0 && strcmp(r->method, "POST") == 0);
        if (pub != want)
            fail_msg("%s %s is %spublic", r->method, r->pattern, pub ? "" : "not ");
    }
}

/* Every route is reached by a concrete path made from its pattern, and by no other route. */
static void test_every_route_matches_itself(void **state)
{
    (void)state;
    for (const route *r = api_routes; r->method; r++) {
        char path[512] = "";
        char want[ROUTE_MAX_PARAMS][32];
        size_t n = 0, off = 0;
        for (const char *c = r->pattern; *c;) {
            if (*c == '{') {
                const char *end = strchr(c, '}');
                assert_non_null(end);
                snprintf(want[n], sizeof want[n], "P%zu-x.y", n);
                off += (size_t)snprintf(path + off, sizeof path - off, "%s", want[n]);
                n++;
                c = end + 1;
            } else {
                path[off++] = *c++;
                path[off] = '\0';
            }
        }
        const route *found = NULL;
        route_params p;
        char allow[128];
        route_result rr = match(r->method, path, &found, &p, allow, sizeof allow);
        if (rr != ROUTE_FOUND || found != r)
            fail_msg("%s %s (from %s) did not reach its route", r->method, path, r->pattern);
        assert_int_equal(p.n, n);
        for (size_t i = 0; i < n; i++)
            assert_string_equal(p.v[i], want[i]);
    }
}

static void test_found_with_params(void **state)
{
    (void)state;
    expect_found("GET", "/healthz", "/healthz", 0, NULL, NULL);
    expect_found("GET", "/", "/", 0, NULL, NULL);
    expect_found("GET", "/ui/app.js", "/ui/{file}", 1, "app.js", NULL);
    expect_found("GET", "/api/v1/incidents", "/api/v1/incidents", 0, NULL, NULL);
    expect_found("POST", "/api/v1/incidents", "/api/v1/incidents", 0, NULL, NULL);
    expect_found("GET", "/api/v1/incidents/BTCIRT-2026-00001", "/api/v1/incidents/{id}", 1, "BTCIRT-2026-00001", NULL);
    expect_found("PATCH", "/api/v1/incidents/BTCIRT-2026-00001", "/api/v1/incidents/{id}", 1, "BTCIRT-2026-00001", NULL);
    expect_found("POST", "/api/v1/incidents/A/merge", "/api/v1/incidents/{id}/merge", 1, "A", NULL);
    expect_found("PATCH", "/api/v1/incidents/BTCIRT-2026-00001/tasks/17", "/api/v1/incidents/{id}/tasks/{task}", 2,
                 "BTCIRT-2026-00001", "17");
    expect_found("GET", "/api/v1/audit/verify", "/api/v1/audit/verify", 0, NULL, NULL);
    /* a literal segment wins over nothing: "verify" is not an audit id, there is no /audit/{x} */
    expect_found("GET", "/api/v1/audit", "/api/v1/audit", 0, NULL, NULL);
    expect_found("PATCH", "/api/v1/users/tashi", "/api/v1/users/{name}", 1, "tashi", NULL);
    expect_found("GET", "/api/v1/reports/BTCIRT-R-2026-00001", "/api/v1/reports/{id}", 1, "BTCIRT-R-2026-00001", NULL);
    expect_found("DELETE", "/api/v1/session", "/api/v1/session", 0, NULL, NULL);
}

/* The server hands the router a path libmicrohttpd has percent-decoded once; the router takes it literally. */
static void test_segments_literal(void **state)
{
    (void)state;
    expect_found("PATCH", "/api/v1/users/j\xc3\xb6rg", "/api/v1/users/{name}", 1, "j\xc3\xb6rg", NULL);
    expect_found("PATCH", "/api/v1/users/a b", "/api/v1/users/{name}", 1, "a b", NULL);
    expect_found("PATCH", "/api/v1/users/a+b", "/api/v1/users/{name}", 1, "a+b", NULL);
    /* no second decoding: %41 stays %41, %2531 does not become 1 */
    expect_found("PATCH", "/api/v1/users/%41", "/api/v1/users/{name}", 1, "%41", NULL);
    expect_found("PATCH", "/api/v1/incidents/A-B/tasks/%2531", "/api/v1/incidents/{id}/tasks/{task}", 2, "A-B", "%2531");
    expect_found("GET", "/api/v1/incidents/%zz", "/api/v1/incidents/{id}", 1, "%zz", NULL);
    expect_found("GET", "/api/v1/incidents/%2F", "/api/v1/incidents/{id}", 1, "%2F", NULL);

    /* refused: control bytes and DEL */
    static const char *const bad[] = {
        "/api/v1/users/a\x01", "/api/v1/users/\x7f", "/api/v1/users/a\tb", "/api/v1/users/\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_result("PATCH", bad[i], ROUTE_BAD_PATH);
    /* a bad parameter is a bad path for any method, since the path would match */
    expect_result("GET", "/api/v1/incidents/\x1b", ROUTE_BAD_PATH);
    expect_result("DELETE", "/api/v1/incidents/\x01/notes", ROUTE_BAD_PATH);
}

static void test_param_length(void **state)
{
    (void)state;
    char path[400], want[ROUTE_PARAM_MAX + 8];
    memset(want, 'a', sizeof want);
    want[ROUTE_PARAM_MAX - 1] = '\0'; /* 127 bytes: the longest that fits */
    snprintf(path, sizeof path, "/api/v1/users/%s", want);
    expect_found("PATCH", path, "/api/v1/users/{name}", 1, want, NULL);
    want[ROUTE_PARAM_MAX - 1] = 'a';
    want[ROUTE_PARAM_MAX] = '\0'; /* 128 bytes */
    snprintf(path, sizeof path, "/api/v1/users/%s", want);
    expect_result("PATCH", path, ROUTE_BAD_PATH);
}

static void test_method_not_allowed(void **state)
{
    (void)state;
    const route *r;
    route_params p;
    char allow[128];
    assert_int_equal(match("PUT", "/api/v1/incidents", &r, &p, allow, sizeof allow), ROUTE_METHOD_NOT_ALLOWED);
    assert_null(r);
    assert_string_equal(allow, "GET, POST");
    assert_int_equal(match("DELETE", "/api/v1/incidents/X", &r, &p, allow, sizeof allow), ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET, PATCH");
    assert_int_equal(match("PUT", "/api/v1/session", &r, &p, allow, sizeof allow), ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "POST, GET, DELETE");
    assert_int_equal(match("GET", "/api/v1/incidents/X/merge", &r, &p, allow, sizeof allow), ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "POST");
    assert_int_equal(match("GET", "/api/v1/incidents/X/tasks/1", &r, &p, allow, sizeof allow),
                     ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "PATCH");
    assert_int_equal(match("POST", "/healthz", &r, &p, allow, sizeof allow), ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET");
    /* methods are case-sensitive (RFC 9110) */
    assert_int_equal(match("get", "/healthz", &r, &p, allow, sizeof allow), ROUTE_METHOD_NOT_ALLOWED);
    /* HEAD is the server's business (it maps HEAD to GET), not the table's */
    assert_int_equal(match("HEAD", "/healthz", &r, &p, allow, sizeof allow), ROUTE_METHOD_NOT_ALLOWED);

    /* a small Allow buffer is cut at a method boundary, never overrun, still 405 */
    for (size_t n = 0; n <= 20; n++) {
        char small[24];
        memset(small, '#', sizeof small);
        assert_int_equal(match("PUT", "/api/v1/session", &r, &p, small, n), ROUTE_METHOD_NOT_ALLOWED);
        for (size_t i = n; i < sizeof small; i++)
            assert_int_equal(small[i], '#');
        if (n > 0) {
            size_t len = strnlen(small, n);
            assert_true(len < n);
            assert_int_equal(strncmp(small, "POST, GET, DELETE", len), 0);
            assert_true(len == 0 || small[len - 1] != ' ');
        }
    }
}

static void test_not_found_and_bad(void **state)
{
    (void)state;
    static const char *const not_found[] = {
        "/nothing", "/api", "/api/v1", "/api/v1/", "/api/v1/nothing", "/api/v1/incidents/", "/api/v1/incidents//notes",
        "/api/v1/incidents/X/unknown", "/api/v1/incidents/X/notes/", "/api/v1//incidents", "/API/v1/incidents",
        "/api/v2/incidents", "/api/v1/incidents/X/tasks/", "/api/v1/incidents/X/tasks/1/2",
        "/healthz/", "//", "/ui/", "/ui", "/ui/a/b", "/api/v1/%69ncidents", "/api/v1/incidents?x=1/2",
    };
    for (size_t i = 0; i < sizeof not_found / sizeof not_found[0]; i++)
        expect_result("GET", not_found[i], ROUTE_NOT_FOUND);
    expect_result("GET", "", ROUTE_BAD_PATH);
    expect_result("GET", "api/v1/incidents", ROUTE_BAD_PATH);
    expect_result("GET", "*", ROUTE_BAD_PATH);
    expect_result("GET", "http://host/api/v1/incidents", ROUTE_BAD_PATH);
    /* found routes leave params as matched; not found leaves found NULL */
    const route *r = (const route *)1;
    route_params p;
    char allow[8] = "junk";
    assert_int_equal(match("GET", "/nothing", &r, &p, allow, sizeof allow), ROUTE_NOT_FOUND);
    assert_null(r);
    assert_string_equal(allow, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_sane),       cmocka_unit_test(test_every_route_matches_itself),
        cmocka_unit_test(test_found_with_params),   cmocka_unit_test(test_segments_literal),
        cmocka_unit_test(test_param_length),        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_not_found_and_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
