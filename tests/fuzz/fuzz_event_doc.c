/*
 * libFuzzer target: event_doc_to_json on arbitrary bytes (a stored document
 * the database handed back, however damaged). Checks: an accepted packed
 * document expands to something shaped like an object, a refused one fails
 * with DZ_EINVAL and a message; and an event built from the input's first
 * bytes survives the packed form byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/event_doc.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

/* Sets a few fields from data (whatever event_set accepts) and checks the round trip. */
static void round_trip(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"comment", "extra.a", "source.ip", "source.port", "extra.b.c", "time.source"};
    event *ev = event_new();
    CHECK(ev);
    dz_err e = {0};
    size_t at = 0;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0] && at < size; k++) {
        size_t n = data[at++] % 32;
        if (n > size - at)
            n = size - at;
        (void)event_set(ev, keys[k], (const char *)data + at, n, &e);
        at += n;
    }
    strbuf doc, back, json;
    strbuf_init(&doc);
    strbuf_init(&back);
    strbuf_init(&json);
    event_write_doc(ev, &doc);
    event_write_json(ev, &json);
    CHECK(event_doc_to_json(doc.buf, doc.len, &back, &e) == DZ_OK);
    CHECK(back.len == json.len && memcmp(back.buf, json.buf, json.len) == 0);
    strbuf_free(&doc);
    strbuf_free(&back);
    strbuf_free(&json);
    event_free(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strbuf out;
    strbuf_init(&out);
    dz_err e = {0};
    if (event_doc_to_json((const char *)data, size, &out, &e) == DZ_OK) {
        if (size && data[0] == '[')
            CHECK(out.len >= 2 && out.buf[0] == '{' && out.buf[out.len - 1] == '}');
        else
            CHECK(out.len == size);
    } else {
        CHECK(e.code == DZ_EINVAL && e.msg[0] != '\0');
    }
    strbuf_free(&out);
    round_trip(data, size);
    return 0;
}
