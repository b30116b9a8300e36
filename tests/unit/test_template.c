/* template: compiling (every error class with its line), rendering of values, lists, sections, standalone lines. */
#include "unit.h"

#include <jansson.h>

#include "lib/strbuf.h"
#include "lib/template.h"

static const template_var type_fields[] = {
    {"name", NULL, "type name"},
    {"n", NULL, "count"},
    {NULL, NULL, NULL},
};
static const template_var count_fields[] = {
    {"taxonomy", NULL, "taxonomy"},
    {"count", NULL, "events"},
    {"types", type_fields, "per type"},
    {NULL, NULL, NULL},
};
static const template_var vars[] = {
    {"organisation", NULL, "the recipient"},
    {"total", NULL, "events"},
    {"ratio", NULL, "a real"},
    {"flag", NULL, "a boolean"},
    {"nothing", NULL, "null"},
    {"name", NULL, "outer name, shadowed inside types"},
    {"counts", count_fields, "per taxonomy"},
    {"empty", count_fields, "an empty list"},
    {"event.id", NULL, "a dotted name"},
    {NULL, NULL, NULL},
};

static json_t *data(void)
{
    json_error_t je;
    json_t *d = json_loads("{\"organisation\":\"Druk Net\",\"total\":42,\"ratio\":0.25,\"flag\":true,"
                           "\"nothing\":null,\"name\":\"outer\",\"event.id\":\"E-1\",\"empty\":[],"
                           "\"counts\":[{\"taxonomy\":\"malicious-code\",\"count\":3,"
                           "\"types\":[{\"name\":\"c2\",\"n\":2},{\"name\":\"infected\",\"n\":1}]},"
                           "{\"taxonomy\":\"vulnerable\",\"count\":0,\"types\":[]}]}",
                           0, &je);
    assert_non_null(d);
    return d;
}

/* Compiles and renders text over the fixture data; the caller frees the result. */
static char *render(const char *text)
{
    template *t = NULL;
    dz_err e = {0};
    assert_dz_ok(template_compile("t.txt", text, strlen(text), vars, &t, &e), e);
    json_t *d = data();
    strbuf sb;
    strbuf_init(&sb);
    template_render(t, d, &sb);
    json_decref(d);
    template_free(t);
    assert_false(sb.oom);
    return strbuf_steal(&sb);
}

static void assert_renders(const char *text, const char *want)
{
    char *got = render(text);
    if (strcmp(got, want) != 0)
        fail_msg("template:\n%s\ngot:\n[%s]\nwant:\n[%s]", text, got, want);
    free(got);
}

static void assert_error(const char *text, const char *want)
{
    template *t = (template *)1;
    dz_err e = {0};
    assert_dz_fails(template_compile("digest.en.txt", text, strlen(text), vars, &t, &e), DZ_EINVAL, e);
    assert_null(t);
    if (strcmp(e.msg, want) != 0)
        fail_msg("template:\n%s\nerror: %s\nwant:  %s", text, e.msg, want);
}

static void test_values(void **state)
{
    (void)state;
    assert_renders("", "");
    assert_renders("plain text, no tags\n", "plain text, no tags\n");
    assert_renders("Dear {{organisation}},\n", "Dear Druk Net,\n");
    assert_renders("{{ total }} {{ratio}} {{flag}} [{{nothing}}] {{event.id}}", "42 0.25 true [] E-1");
    /* a declared name the data lacks renders as nothing */
    json_t *d = json_pack("{s:b, s:f, s:i}", "flag", 0, "ratio", 1e21, "total", -7);
    template *t = NULL;
    dz_err e = {0};
    const char *src = "{{flag}} {{ratio}} {{total}} [{{organisation}}]";
    assert_dz_ok(template_compile("t", src, strlen(src), vars, &t, &e), e);
    strbuf sb;
    strbuf_init(&sb);
    template_render(t, d, &sb);
    assert_string_equal(sb.buf, "false 1e+21 -7 []");
    /* rendering appends */
    template_render(t, d, &sb);
    assert_string_equal(sb.buf, "false 1e+21 -7 []false 1e+21 -7 []");
    strbuf_free(&sb);
    template_free(t);
    json_decref(d);
    /* braces that are not tags pass through */
    assert_renders("a { b } c }} d {", "a { b } c }} d {");
}

static void test_utf8_passthrough(void **state)
{
    (void)state;
    assert_renders("སྐུ་ཞབས་ {{organisation}} — ✓ 😀\n", "སྐུ་ཞབས་ Druk Net — ✓ 😀\n");
    json_t *d = json_pack("{s:s}", "organisation", "འབྲུག་ཡུལ");
    template *t = NULL;
    dz_err e = {0};
    assert_dz_ok(template_compile("t", "«{{organisation}}»", strlen("«{{organisation}}»"), vars, &t, &e), e);
    strbuf sb;
    strbuf_init(&sb);
    template_render(t, d, &sb);
    assert_string_equal(sb.buf, "«འབྲུག་ཡུལ»");
    strbuf_free(&sb);
    template_free(t);
    json_decref(d);
}

static void test_lists(void **state)
{
    (void)state;
    assert_renders("{{#counts}}[{{taxonomy}}:{{count}}]{{/counts}}", "[malicious-code:3][vulnerable:0]");
    /* nested lists, and outer names (organisation, taxonomy) seen from inside */
    assert_renders("{{#counts}}{{#types}}{{organisation}}/{{taxonomy}}/{{name}}={{n}};{{/types}}{{/counts}}",
                   "Druk Net/malicious-code/c2=2;Druk Net/malicious-code/infected=1;");
    /* the inner field shadows the outer name only inside the list */
    assert_renders("{{name}}|{{#counts}}{{#types}}{{name}},{{/types}}{{/counts}}|{{name}}",
                   "outer|c2,infected,|outer");
    assert_renders("a{{#empty}}never{{/empty}}b", "ab");
    assert_renders("{{^empty}}none{{/empty}}{{^counts}}never{{/counts}}", "none");
    /* a section per item that is false inside a list */
    assert_renders("{{#counts}}{{taxonomy}}{{^count}} (none){{/count}};{{/counts}}",
                   "malicious-code;vulnerable (none);");
}

static void test_sections(void **state)
{
    (void)state;
    assert_renders("{{#flag}}yes{{/flag}}{{^flag}}no{{/flag}}", "yes");
    assert_renders("{{#nothing}}x{{/nothing}}{{^nothing}}null is false{{/nothing}}", "null is false");
    assert_renders("{{#total}}{{total}} events{{/total}}", "42 events");
    assert_renders("{{#organisation}}to {{organisation}}{{/organisation}}", "to Druk Net");
    json_t *d = json_pack("{s:s, s:i, s:f, s:b}", "organisation", "", "total", 0, "ratio", 0.0, "flag", 0);
    const char *src = "{{^organisation}}a{{/organisation}}{{^total}}b{{/total}}{{^ratio}}c{{/ratio}}"
                      "{{^flag}}d{{/flag}}{{^event.id}}e{{/event.id}}{{#total}}X{{/total}}";
    template *t = NULL;
    dz_err e = {0};
    assert_dz_ok(template_compile("t", src, strlen(src), vars, &t, &e), e);
    strbuf sb;
    strbuf_init(&sb);
    template_render(t, d, &sb);
    assert_string_equal(sb.buf, "abcde");
    /* data that does not match the declarations renders without crashing */
    json_decref(d);
    d = json_pack("{s:s, s:[i, s], s:{s:s}}", "counts", "not a list", "empty", 1, "x", "organisation", "taxonomy",
                  "t");
    strbuf_reset(&sb);
    template_free(t);
    src = "{{#counts}}[{{taxonomy}}]{{/counts}}{{#empty}}<{{taxonomy}}>{{/empty}}{{organisation}}";
    assert_dz_ok(template_compile("t", src, strlen(src), vars, &t, &e), e);
    template_render(t, d, &sb);
    assert_string_equal(sb.buf, "[]<><>");
    strbuf_reset(&sb);
    template_render(t, NULL, &sb);
    assert_string_equal(sb.buf, "");
    strbuf_free(&sb);
    template_free(t);
    json_decref(d);
    /* comments */
    assert_renders("a{{! a comment }}b{{!\nmulti\nline}}c", "abc");
}

static void test_standalone_lines(void **state)
{
    (void)state;
    assert_renders("Counts:\n"
                   "{{#counts}}\n"
                   "  - {{taxonomy}}: {{count}}\n"
                   "{{/counts}}\n"
                   "End.\n",
                   "Counts:\n  - malicious-code: 3\n  - vulnerable: 0\nEnd.\n");
    /* blanks around a standalone tag go with it; CRLF too */
    assert_renders("a\r\n  {{#flag}}  \r\nb\r\n\t{{/flag}}\r\nc\r\n", "a\r\nb\r\nc\r\n");
    assert_renders("a\n{{! comment }}\nb\n", "a\nb\n");
    /* on the last line without a line end */
    assert_renders("a\n{{#flag}}\nb\n{{/flag}}", "a\nb\n");
    /* not standalone: other text on the line, or a value tag */
    assert_renders("x {{#flag}}\ny{{/flag}} z\n", "x \ny z\n");
    assert_renders("  {{organisation}}  \n", "  Druk Net  \n");
    assert_renders("{{#flag}}{{/flag}}\n", "\n"); /* two tags on one line: neither is alone */
    /* empty list: the whole block disappears */
    assert_renders("a\n{{#empty}}\n* {{taxonomy}}\n{{/empty}}\nb\n", "a\nb\n");
    assert_renders("a\n{{^empty}}\nnone\n{{/empty}}\nb\n", "a\nnone\nb\n");
}

static void test_errors_with_lines(void **state)
{
    (void)state;
    assert_error("Dear {{organisation}},\n\n\n\n\n\n\n\n\n\n\n{{orgnisation}}\n",
                 "digest.en.txt:12: unknown variable 'orgnisation'");
    assert_error("1\n2\n3\n4\n5\n6\n{{#counts}}\n8\n", "digest.en.txt:7: section 'counts' is not closed");
    assert_error("1\n{{#counts}}\n{{#types}}\n4\n", "digest.en.txt:3: section 'types' is not closed");
    assert_error("1\n2\n3\n4\n5\n6\n7\n{{#counts}}\n{{/x}}\n", "digest.en.txt:9: '{{/x}}' closes 'counts'");
    assert_error("{{#counts}}{{#types}}\n{{/counts}}{{/types}}", "digest.en.txt:2: '{{/counts}}' closes 'types'");
    assert_error("a\nb {{/counts}}", "digest.en.txt:2: '{{/counts}}' closes no section");
    assert_error("a\nb\nc {{organisation", "digest.en.txt:3: unterminated tag");
    assert_error("{{! a comment\nthat never\nends", "digest.en.txt:1: unterminated tag");
    assert_error("a\n{{counts}}", "digest.en.txt:2: 'counts' is a list, not a value (use {{#counts}}...{{/counts}})");
    /* a list's field outside its list */
    assert_error("{{#counts}}{{count}}{{/counts}}\n{{taxonomy}}", "digest.en.txt:2: unknown variable 'taxonomy'");
    /* a field of a nested list is not visible in the outer list */
    assert_error("{{#counts}}\n{{n}}\n{{/counts}}", "digest.en.txt:2: unknown variable 'n'");
    /* a list inside itself (directly or further in) would render n^depth copies */
    assert_error("{{#counts}}\n{{#types}}\n{{#counts}}{{/counts}}{{/types}}{{/counts}}",
                 "digest.en.txt:3: '{{#counts}}' inside '{{#counts}}' (line 1): a list cannot be repeated inside itself");
    /* a scalar section adds no names */
    assert_error("{{#flag}}\n\n{{taxonomy}}{{/flag}}", "digest.en.txt:3: unknown variable 'taxonomy'");
    assert_error("x\n{{Organisation}}", "digest.en.txt:2: invalid tag '{{Organisation}}'");
    assert_error("{{{organisation}}}", "digest.en.txt:1: invalid tag '{{{organisation}}'");
    assert_error("{{&organisation}}", "digest.en.txt:1: invalid tag '{{&organisation}}'");
    assert_error("{{}}", "digest.en.txt:1: invalid tag '{{}}' (names are [a-z0-9_.], 1 to 64)");
    assert_error("{{#}}", "digest.en.txt:1: invalid tag '{{#}}' (names are [a-z0-9_.], 1 to 64)");
    assert_error("{{a b}}", "digest.en.txt:1: invalid tag '{{a b}}'");
    assert_error("\n\n\xff", "digest.en.txt:3: invalid UTF-8");
    assert_error("a\xc0\x80", "digest.en.txt:1: invalid UTF-8");
    assert_error("a\n\xed\xa0\x80", "digest.en.txt:2: invalid UTF-8"); /* a surrogate */
    /* a NUL inside the given length */
    template *t = NULL;
    dz_err e = {0};
    assert_dz_fails(template_compile("n.txt", "a\n\0b", 4, vars, &t, &e), DZ_EINVAL, e);
    assert_string_equal(e.msg, "n.txt:2: NUL byte");
    /* line numbers count the lines a standalone tag and a comment took */
    assert_error("{{#flag}}\n{{! one\ntwo }}\n{{/flag}}\n{{bad}}", "digest.en.txt:5: unknown variable 'bad'");
}

static void test_limits(void **state)
{
    (void)state;
    /* a name of 64 characters is fine, 65 is not */
    char name[80];
    memset(name, 'a', 65);
    name[65] = '\0';
    char src[200];
    snprintf(src, sizeof src, "{{%s}}", name);
    template *t = NULL;
    dz_err e = {0};
    assert_dz_fails(template_compile("t", src, strlen(src), vars, &t, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "invalid tag");
    template_var longvar[] = {{name + 1, NULL, "64 a"}, {NULL, NULL, NULL}};
    snprintf(src, sizeof src, "{{%s}}", name + 1);
    assert_dz_ok(template_compile("t", src, strlen(src), longvar, &t, &e), e);
    template_free(t);

    /* nesting: 16 levels compile, 17 do not */
    template_var deep[18][2];
    for (int i = 0; i < 18; i++) {
        deep[i][0] = (template_var){"l", i < 17 ? deep[i + 1] : NULL, "level"};
        deep[i][1] = (template_var){NULL, NULL, NULL};
    }
    strbuf sb;
    strbuf_init(&sb);
    for (int i = 0; i < 16; i++)
        strbuf_puts(&sb, "{{#l}}");
    for (int i = 0; i < 16; i++)
        strbuf_puts(&sb, "{{/l}}");
    assert_dz_ok(template_compile("t", sb.buf, sb.len, deep[0], &t, &e), e);
    /* rendered over 16 nested one-item lists */
    json_t *d = json_object();
    json_t *cur = d;
    for (int i = 0; i < 16; i++) {
        json_t *item = json_object();
        json_object_set_new(cur, "l", json_pack("[o]", item));
        cur = item;
    }
    strbuf out;
    strbuf_init(&out);
    template_render(t, d, &out);
    assert_int_equal(out.len, 0);
    strbuf_free(&out);
    json_decref(d);
    template_free(t);
    strbuf_reset(&sb);
    for (int i = 0; i < 17; i++)
        strbuf_puts(&sb, "{{#l}}\n");
    assert_dz_fails(template_compile("t", sb.buf, sb.len, deep[0], &t, &e), DZ_EINVAL, e);
    assert_string_equal(e.msg, "t:17: sections nested deeper than 16");

    /* 1 MiB compiles, one byte more does not */
    strbuf_reset(&sb);
    while (sb.len < 1024 * 1024 - 16)
        strbuf_puts(&sb, "lorem ipsum {{total}}\n");
    while (sb.len < 1024 * 1024)
        strbuf_append(&sb, "x", 1);
    assert_dz_ok(template_compile("big.txt", sb.buf, sb.len, vars, &t, &e), e);
    template_free(t);
    strbuf_append(&sb, "x", 1);
    assert_dz_fails(template_compile("big.txt", sb.buf, sb.len, vars, &t, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "big.txt: ");
    assert_contains(e.msg, "1 MiB");
    strbuf_free(&sb);

    /* an empty template, and NULL text with no length */
    assert_dz_ok(template_compile("t", NULL, 0, vars, &t, &e), e);
    strbuf_init(&out);
    template_render(t, NULL, &out);
    assert_int_equal(out.len, 0);
    strbuf_free(&out);
    template_free(t);
    template_free(NULL);
}

static void test_long_list(void **state)
{
    (void)state;
    json_t *items = json_array();
    for (int i = 0; i < 10000; i++)
        json_array_append_new(items, json_pack("{s:i}", "count", i));
    json_t *d = json_pack("{s:o}", "counts", items);
    const char *src = "{{#counts}}{{count}}\n{{/counts}}";
    template *t = NULL;
    dz_err e = {0};
    assert_dz_ok(template_compile("t", src, strlen(src), vars, &t, &e), e);
    strbuf sb;
    strbuf_init(&sb);
    template_render(t, d, &sb);
    assert_true(strncmp(sb.buf, "0\n1\n2\n", 6) == 0);
    assert_non_null(strstr(sb.buf, "\n9999\n"));
    strbuf_free(&sb);
    template_free(t);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),         cmocka_unit_test(test_utf8_passthrough),
        cmocka_unit_test(test_lists),          cmocka_unit_test(test_sections),
        cmocka_unit_test(test_standalone_lines), cmocka_unit_test(test_errors_with_lines),
        cmocka_unit_test(test_limits),         cmocka_unit_test(test_long_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
