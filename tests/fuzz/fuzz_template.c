/*
 * libFuzzer target: template_compile over arbitrary bytes, against a small
 * table with a value, a list with a nested list, and a dotted name; every
 * template that compiles is rendered over a fixed data object. Checks:
 *   - a refusal is DZ_EINVAL with a "fuzz.txt:LINE: " or "fuzz.txt: "
 *     message, LINE between 1 and the input's line count;
 *   - success leaves a template, failure none;
 *   - rendering never fails and, when the input has no tags, gives back
 *     the input itself.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/template.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static const template_var inner[] = {{"n", NULL, "n"}, {"name", NULL, "shadows"}, {NULL, NULL, NULL}};
static const template_var items[] = {
    {"name", NULL, "item name"}, {"count", NULL, "count"}, {"sub", inner, "nested"}, {NULL, NULL, NULL}};
static const template_var vars[] = {
    {"name", NULL, "a string"}, {"total", NULL, "an integer"}, {"flag", NULL, "a boolean"},
    {"ratio", NULL, "a real"},  {"none", NULL, "null"},        {"items", items, "a list"},
    {"event.id", NULL, "dotted"}, {NULL, NULL, NULL}};

static json_t *data;

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (!data) {
        json_error_t je;
        data = json_loads("{\"name\":\"Druk \xe0\xbd\xa0\",\"total\":3,\"flag\":true,\"ratio\":0.5,\"none\":null,"
                          "\"event.id\":\"E-1\",\"items\":[{\"name\":\"a\",\"count\":1,\"sub\":[{\"n\":1},{\"n\":2}]},"
                          "{\"name\":\"\",\"count\":0,\"sub\":[]},{\"name\":\"c\",\"count\":2.5}]}",
                          0, &je);
        CHECK(data);
    }
    const char *text = (const char *)in;
    template *t = (template *)1;
    dz_err e = {0};
    dz_code rc = template_compile("fuzz.txt", text, size, vars, &t, &e);
    if (rc != DZ_OK) {
        CHECK(rc == DZ_EINVAL);
        CHECK(t == NULL);
        CHECK(strncmp(e.msg, "fuzz.txt:", 9) == 0);
        if (e.msg[9] != ' ') {
            char *end;
            unsigned long line = strtoul(e.msg + 9, &end, 10);
            unsigned long lines = 1;
            for (size_t i = 0; i < size; i++)
                lines += in[i] == '\n';
            CHECK(line >= 1 && line <= lines && end[0] == ':' && end[1] == ' ');
        }
        return 0;
    }
    CHECK(t != NULL);
    strbuf out;
    strbuf_init(&out);
    template_render(t, data, &out);
    CHECK(!out.oom);
    if (!memmem(in, size, "{{", 2))
        CHECK(out.len == size && (size == 0 || memcmp(out.buf, in, size) == 0));
    template_render(t, NULL, &out);
    strbuf_free(&out);
    template_free(t);
    return 0;
}
