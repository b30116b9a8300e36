/*
 * docs/openapi.json against the route table: every route (method and
 * pattern) must be documented under "paths" with exactly the pattern's
 * template, every {param} declared as a path parameter, and nothing
 * documented that the server does not answer. Each failure names every
 * offending route, not just the first.
 *
 * The document's path comes as the first argument (meson passes it), or
 * in DZONG_OPENAPI.
 */
#include "unit.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>

#include "lib/strbuf.h"
#include "server/router.h"

static const char *doc_path;

static int load(void **state)
{
    json_error_t je;
    if (!doc_path) {
        fprintf(stderr, "test_openapi: pass the path of docs/openapi.json as the first argument or in DZONG_OPENAPI\n");
        return -1;
    }
    json_t *doc = json_load_file(doc_path, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        fprintf(stderr, "test_openapi: %s: %s (line %d, column %d)\n", doc_path, je.text, je.line, je.column);
        return -1;
    }
    *state = doc;
    return 0;
}

static int unload(void **state)
{
    json_decref(*state);
    return 0;
}

static void lower(const char *in, char *out, size_t n)
{
    size_t i = 0;
    for (; in[i] && i + 1 < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

static void test_document_shape(void **state)
{
    json_t *doc = *state;
    const char *version = json_string_value(json_object_get(doc, "openapi"));
    assert_non_null(version);
    assert_true(strncmp(version, "3.", 2) == 0);
    assert_true(json_is_object(json_object_get(doc, "info")));
    assert_true(json_is_object(json_object_get(doc, "paths")));
}

static void test_every_route_is_documented(void **state)
{
    json_t *paths = json_object_get(*state, "paths");
    strbuf missing;
    strbuf_init(&missing);
    int n_missing = 0, n_routes = 0;
    for (const route *r = api_routes; r->method; r++, n_routes++) {
        char m[16];
        lower(r->method, m, sizeof m);
        json_t *item = json_object_get(paths, r->pattern);
        if (!json_is_object(item) || !json_is_object(json_object_get(item, m))) {
            strbuf_printf(&missing, "\n  %s %s%s", r->method, r->pattern,
                          json_is_object(item) ? " (path documented, method not)" : "");
            n_missing++;
        }
    }
    if (n_missing) {
        char *list = strbuf_steal(&missing);
        fail_msg("%d of %d routes are missing from %s:%s", n_missing, n_routes, doc_path, list);
        free(list); /* not reached */
    }
    strbuf_free(&missing);
}

/* Resolves {"$ref": "#/components/parameters/X"}. */
static json_t *deref(json_t *doc, json_t *p)
{
    const char *ref = json_string_value(json_object_get(p, "$ref"));
    const char *prefix = "#/components/parameters/";
    if (!ref)
        return p;
    if (strncmp(ref, prefix, strlen(prefix)) != 0)
        return NULL;
    return json_object_get(json_object_get(json_object_get(doc, "components"), "parameters"), ref + strlen(prefix));
}

static bool declares_path_param(json_t *doc, json_t *params, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p) {
        json_t *d = deref(doc, p);
        const char *in = json_string_value(json_object_get(d, "in"));
        const char *nm = json_string_value(json_object_get(d, "name"));
        if (in && nm && strcmp(in, "path") == 0 && strcmp(nm, name) == 0)
            return json_is_true(json_object_get(d, "required"));
    }
    return false;
}

static void test_path_parameters_declared(void **state)
{
    json_t *doc = *state, *paths = json_object_get(doc, "paths");
    strbuf bad;
    strbuf_init(&bad);
    int n_bad = 0;
    for (const route *r = api_routes; r->method; r++) {
        char m[16];
        lower(r->method, m, sizeof m);
        json_t *item = json_object_get(paths, r->pattern), *op = json_object_get(item, m);
        if (!op)
            continue; /* reported by test_every_route_is_documented */
        for (const char *c = strchr(r->pattern, '{'); c; c = strchr(c + 1, '{')) {
            char name[64];
            const char *end = strchr(c, '}');
            assert_non_null(end);
            snprintf(name, sizeof name, "%.*s", (int)(end - c - 1), c + 1);
            if (!declares_path_param(doc, json_object_get(op, "parameters"), name) &&
                !declares_path_param(doc, json_object_get(item, "parameters"), name)) {
                strbuf_printf(&bad, "\n  %s %s: path parameter '%s' not declared (in: path, required: true)", r->method,
                              r->pattern, name);
                n_bad++;
            }
        }
    }
    if (n_bad) {
        char *list = strbuf_steal(&bad);
        fail_msg("%d path parameters undeclared in %s:%s", n_bad, doc_path, list);
        free(list);
    }
    strbuf_free(&bad);
}

static void test_nothing_documented_that_does_not_exist(void **state)
{
    static const char *const methods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
    json_t *paths = json_object_get(*state, "paths");
    strbuf extra;
    strbuf_init(&extra);
    int n_extra = 0;
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item) {
        for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
            if (!json_object_get(item, methods[k]))
                continue;
            bool found = false;
            for (const route *r = api_routes; r->method && !found; r++) {
                char m[16];
                lower(r->method, m, sizeof m);
                found = strcmp(m, methods[k]) == 0 && strcmp(r->pattern, path) == 0;
            }
            if (!found) {
                strbuf_printf(&extra, "\n  %s %s", methods[k], path);
                n_extra++;
            }
        }
    }
    if (n_extra) {
        char *list = strbuf_steal(&extra);
        fail_msg("%d operations in %s have no route in src/server/routes.c:%s", n_extra, doc_path, list);
        free(list);
    }
    strbuf_free(&extra);
}

int main(int argc, char **argv)
{
    doc_path = argc > 1 ? argv[1] : getenv("DZONG_OPENAPI");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_shape),
        cmocka_unit_test(test_every_route_is_documented),
        cmocka_unit_test(test_path_parameters_declared),
        cmocka_unit_test(test_nothing_documented_that_does_not_exist),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
