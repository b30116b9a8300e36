/*
 * libFuzzer target: constituent records from JSON and from CSV.
 *
 * The same bytes are used twice:
 *   - as JSON: when it is an object that constituent_from_json accepts,
 *     constituent_to_json and constituent_from_json again must succeed and
 *     give the same record (compared through to_json); a refusal must leave
 *     the record empty and carry a message;
 *   - as a constituency CSV: when constituents_read_csv accepts it, writing
 *     the records (header and rows) and reading them back must give the same
 *     records; a refusal must have reported each problem with a line and a
 *     message, and returned nothing.
 * Bit 0 of the last byte chooses a custom sector list instead of the default.
 * Domains, networks, AS numbers and e-mail addresses pass through their
 * parsers on the way, and libidn2 through domain_normalize.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/constituent.h"
#include "lib/csv.h"
#include "lib/strbuf.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static bool records_equal(const constituent_record *a, const constituent_record *b)
{
    json_t *ja = constituent_to_json(a), *jb = constituent_to_json(b);
    CHECK(ja && jb);
    bool eq = json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return eq;
}

static void check_empty(const constituent_record *r)
{
    constituent_record zero;
    memset(&zero, 0, sizeof zero);
    CHECK(memcmp(r, &zero, sizeof zero) == 0);
}

static void from_json(const uint8_t *data, size_t size, const sector_list *sl)
{
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    if (!j)
        return;
    constituent_record r;
    dz_err e = {0};
    dz_code rc = constituent_from_json(j, sl, &r, &e);
    json_decref(j);
    if (rc != DZ_OK) {
        CHECK(rc == DZ_EINVAL && e.msg[0]);
        check_empty(&r);
        return;
    }
    json_t *back = constituent_to_json(&r);
    CHECK(back);
    constituent_record again;
    rc = constituent_from_json(back, sl, &again, &e);
    CHECK(rc == DZ_OK);
    CHECK(records_equal(&r, &again));
    json_decref(back);
    constituent_record_free(&again);
    constituent_record_free(&r);
}

typedef struct seen {
    size_t n;
} seen;

static void on_error(void *arg, uint64_t line, const char *msg)
{
    seen *s = arg;
    CHECK(line >= 1);
    CHECK(msg && msg[0]);
    s->n++;
}

static dz_code read_csv(const char *data, size_t size, const sector_list *sl, constituent_record **v, size_t *n,
                        seen *s, dz_err *e)
{
    csv_memory m = {data, size, 0};
    csv_reader *r = csv_reader_new(csv_read_memory, &m, NULL);
    CHECK(r);
    dz_code rc = constituents_read_csv(r, sl, v, n, on_error, s, e);
    csv_reader_free(r);
    return rc;
}

static void from_csv(const uint8_t *data, size_t size, const sector_list *sl)
{
    constituent_record *v = NULL;
    size_t n = 0;
    seen s = {0};
    dz_err e = {0};
    dz_code rc = read_csv((const char *)data, size, sl, &v, &n, &s, &e);
    if (rc != DZ_OK) {
        CHECK(rc == DZ_EINVAL && e.msg[0] && s.n > 0);
        CHECK(v == NULL && n == 0);
        return;
    }
    CHECK(s.n == 0);
    strbuf out;
    strbuf_init(&out);
    constituents_csv_header(&out);
    for (size_t i = 0; i < n; i++)
        constituent_write_csv(&v[i], &out);
    CHECK(!out.oom);
    constituent_record *w = NULL;
    size_t nw = 0;
    rc = read_csv(out.buf, out.len, sl, &w, &nw, &s, &e);
    CHECK(rc == DZ_OK);
    CHECK(nw == n);
    for (size_t i = 0; i < n; i++) {
        CHECK(records_equal(&v[i], &w[i]));
        constituent_record_free(&v[i]);
        constituent_record_free(&w[i]);
    }
    free(v);
    free(w);
    strbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sector_list custom;
    static bool ready;
    if (!ready) {
        dz_err e = {0};
        CHECK(sector_list_parse("energy, mining,x-1", &custom, &e) == DZ_OK);
        ready = true;
    }
    const sector_list *sl = size && (data[size - 1] & 1) ? &custom : NULL;
    from_json(data, size, sl);
    from_csv(data, size, sl);
    return 0;
}
