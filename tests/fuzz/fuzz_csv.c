/*
 * libFuzzer target: the streaming CSV reader and csv_write_field.
 *
 * The first three bytes choose the options (delimiter; max_record, small or
 * the default; max_fields) and the seed of the chunk sizes; the rest is the
 * CSV. It is read twice: through a callback that serves it in chunks of
 * 1..64 bytes chosen by the seed, and as one buffer. Checks:
 *   - both readings give the same outcomes (records, lines, raw bytes and
 *     error messages): chunk boundaries never matter;
 *   - fields hold no NUL (strlen equals the length), lines never decrease,
 *     a record respects max_fields and max_record, an error is DZ_EINVAL
 *     with a "line N: " message and its line in the record;
 *   - every record written back with csv_write_field and read again gives
 *     the same fields.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/csv.h"
#include "lib/strbuf.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

typedef struct chunks {
    const char *data;
    size_t len, pos;
    uint32_t seed;
} chunks;

static long read_chunks(void *arg, char *buf, size_t cap)
{
    chunks *c = arg;
    c->seed = c->seed * 1103515245u + 12345u;
    size_t n = 1 + (c->seed >> 16) % 64;
    if (n > cap)
        n = cap;
    if (n > c->len - c->pos)
        n = c->len - c->pos;
    memcpy(buf, c->data + c->pos, n);
    c->pos += n;
    return (long)n;
}

/*
 * Reads everything; the transcript (outcomes) goes to t, and when fields is
 * not NULL each record's fields go there too (count, then length and bytes
 * of each).
 */
static void read_all(csv_reader *r, const csv_options *o, strbuf *t, strbuf *fields)
{
    uint64_t last = 0;
    for (;;) {
        csv_record rec;
        dz_err e = {0};
        int got = csv_next(r, &rec, &e);
        if (got == 0)
            break;
        CHECK(rec.line >= last && rec.line >= 1);
        last = rec.line;
        if (got < 0) {
            CHECK(e.code == DZ_EINVAL);
            char prefix[40];
            snprintf(prefix, sizeof prefix, "line %llu: ", (unsigned long long)rec.line);
            CHECK(strncmp(e.msg, prefix, strlen(prefix)) == 0);
            CHECK(rec.n == 0);
            strbuf_printf(t, "E %s\n", e.msg);
            continue;
        }
        CHECK(got == 1);
        CHECK(rec.n >= 1 && rec.n <= o->max_fields);
        CHECK(rec.raw_len <= o->max_record);
        strbuf_printf(t, "L%llu %zu ", (unsigned long long)rec.line, rec.n);
        strbuf_append(t, rec.raw, rec.raw_len);
        if (fields)
            strbuf_append(fields, (const char *)&rec.n, sizeof rec.n);
        for (size_t i = 0; i < rec.n; i++) {
            CHECK(strlen(rec.fields[i]) == rec.lens[i]);
            strbuf_printf(t, "|%zu:", rec.lens[i]);
            strbuf_append(t, rec.fields[i], rec.lens[i]);
            if (fields) {
                strbuf_append(fields, (const char *)&rec.lens[i], sizeof rec.lens[i]);
                strbuf_append(fields, rec.fields[i], rec.lens[i]);
            }
        }
        strbuf_append(t, "\n", 1);
    }
}

/* Writes the records of a field list as CSV. */
static void write_back(const strbuf *fields, char delim, strbuf *out)
{
    if (fields->len == 0)
        return;
    const char *p = fields->buf, *end = fields->buf + fields->len;
    while (p < end) {
        size_t n;
        memcpy(&n, p, sizeof n);
        p += sizeof n;
        for (size_t i = 0; i < n; i++) {
            size_t len;
            memcpy(&len, p, sizeof len);
            p += sizeof len;
            if (i)
                strbuf_append(out, &delim, 1);
            if (n == 1 && len == 0)
                strbuf_append(out, "\"\"", 2); /* else a blank line */
            else
                csv_write_field(out, p, len, delim);
            p += len;
        }
        strbuf_append(out, (n & 1) ? "\r\n" : "\n", (n & 1) ? 2 : 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    static const char delims[] = {',', ';', '\t', '|'};
    csv_options o = {
        .delimiter = delims[data[0] & 3],
        .max_record = (data[0] & 4) ? 1024 * 1024 : 1 + (size_t)data[1] * 4,
        .max_fields = (data[0] & 8) ? 4096 : 1 + (size_t)(data[2] & 31),
    };
    uint32_t seed = (uint32_t)data[1] << 8 | data[2];
    const char *in = (const char *)data + 3;
    size_t len = size - 3;

    strbuf t1, t2, fields, out, t3, fields2;
    strbuf_init(&t1);
    strbuf_init(&t2);
    strbuf_init(&fields);
    strbuf_init(&out);
    strbuf_init(&t3);
    strbuf_init(&fields2);

    chunks c = {in, len, 0, seed};
    csv_reader *r = csv_reader_new(read_chunks, &c, &o);
    CHECK(r);
    read_all(r, &o, &t1, &fields);
    csv_reader_free(r);

    csv_memory m = {in, len, 0};
    r = csv_reader_new(csv_read_memory, &m, &o);
    CHECK(r);
    read_all(r, &o, &t2, NULL);
    csv_reader_free(r);
    CHECK(t1.len == t2.len && (t1.len == 0 || memcmp(t1.buf, t2.buf, t1.len) == 0));

    /* written back and read again: the same fields */
    write_back(&fields, o.delimiter, &out);
    csv_options o2 = {.delimiter = o.delimiter, .max_record = 4 * len + 64, .max_fields = o.max_fields};
    m = (csv_memory){out.buf ? out.buf : "", out.len, 0};
    chunks c2 = {m.data, m.len, 0, seed ^ 0x5a5a};
    r = csv_reader_new(read_chunks, &c2, &o2);
    CHECK(r);
    read_all(r, &o2, &t3, &fields2);
    csv_reader_free(r);
    CHECK(fields.len == fields2.len && (fields.len == 0 || memcmp(fields.buf, fields2.buf, fields.len) == 0));

    strbuf_free(&t1);
    strbuf_free(&t2);
    strbuf_free(&fields);
    strbuf_free(&out);
    strbuf_free(&t3);
    strbuf_free(&fields2);
    return 0;
}
