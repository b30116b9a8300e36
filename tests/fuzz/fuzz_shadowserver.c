/*
 * libFuzzer target: the Shadowserver parser (shadowserver_parse) over a fixed
 * small schema that uses every conversion.
 *
 * The input is the report (CSV; or JSON when it starts with '[' or '{', as
 * the parser decides itself), read in chunks of 1..64 bytes chosen by the
 * first byte. Checks:
 *   - nothing crashes, leaks or reads out of bounds (sanitizers);
 *   - every event serialises (event_write_json) to one valid JSON object with
 *     feed.name, time.observation and raw;
 *   - line numbers never decrease for events; refused rows come with a
 *     non-empty reason.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/feed_shadowserver.h"
#include "lib/strbuf.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static const char schema_text[] =
    "{\"scan_fuzz\": {\"feed_name\": \"Fuzz\", \"file_name\": \"scan_fuzz\","
    "  \"constant_fields\": {\"classification.taxonomy\": \"vulnerable\", \"classification.type\": \"vulnerable-system\","
    "                        \"classification.identifier\": \"fuzz\"},"
    "  \"required_fields\": [[\"time.source\", \"timestamp\", \"add_UTC_to_timestamp\"],"
    "                        [\"source.ip\", \"ip\", \"validate_ip\"]],"
    "  \"optional_fields\": [[\"source.port\", \"port\", \"convert_int\"],"
    "                        [\"source.asn\", \"asn\", \"invalidate_zero\"],"
    "                        [\"source.reverse_dns\", \"hostname\", \"validate_fqdn\"],"
    "                        [\"source.network\", \"ip\", \"validate_network\"],"
    "                        [\"source.geolocation.cc\", \"geo\"],"
    "                        [\"source.url\", \"url\", \"convert_http_host_and_url\"],"
    "                        [\"extra.\", \"score\", \"convert_float\"],"
    "                        [\"extra.\", \"open\", \"convert_bool\"],"
    "                        [\"extra.\", \"tag\", \"validate_to_none\"],"
    "                        [\"extra.seen\", \"seen\", \"convert_date\"],"
    "                        [\"extra.\", \"seen_utc\", \"convert_date_utc\"],"
    "                        [\"extra.\", \"blob\", \"force_base64\"],"
    "                        [\"classification.identifier\", \"ex\", \"scan_exchange_identifier\"],"
    "                        [\"extra.tax\", \"ex\", \"scan_exchange_taxonomy\"],"
    "                        [\"extra.typ\", \"ex\", \"scan_exchange_type\"],"
    "                        [false, \"ignored\"]]}}";

static shadowserver_schema *schema;

typedef struct chunks {
    const uint8_t *data;
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

typedef struct state {
    strbuf sb;
    uint64_t last_line;
    size_t events;
} state;

static int on_event(void *arg, event *ev, uint64_t line)
{
    state *st = arg;
    CHECK(line >= st->last_line && line >= 1);
    st->last_line = line;
    strbuf_reset(&st->sb);
    event_write_json(ev, &st->sb);
    CHECK(!st->sb.oom);
    json_error_t je;
    json_t *o = json_loadb(st->sb.buf, st->sb.len, JSON_REJECT_DUPLICATES, &je);
    CHECK(json_is_object(o));
    CHECK(json_is_string(json_object_get(o, "feed.name")));
    CHECK(json_is_string(json_object_get(o, "time.observation")));
    CHECK(json_is_string(json_object_get(o, "raw")));
    CHECK(json_object_size(o) == event_count(ev));
    json_decref(o);
    st->events++;
    return 0;
}

static void on_error(void *arg, uint64_t line, const char *reason, const char *raw, size_t raw_len)
{
    (void)arg;
    CHECK(raw || raw_len == 0);
    CHECK(line >= 1);
    CHECK(reason && reason[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!schema) {
        dz_err e = {0};
        if (shadowserver_schema_load(schema_text, strlen(schema_text), &schema, &e) != DZ_OK) {
            fprintf(stderr, "fuzz_shadowserver: schema: %s\n", e.msg);
            abort();
        }
    }
    if (size < 1)
        return 0;
    chunks c = {data + 1, size - 1, 0, data[0]};
    state st = {0};
    strbuf_init(&st.sb);
    feed_options o = {.report = "scan_fuzz", .observation_time = "2020-01-01T00:00:00+00:00", .raw = true};
    dz_err e = {0};
    dz_code rc = shadowserver_parse(schema, &o, read_chunks, &c, on_event, on_error, &st, &e);
    CHECK(rc == DZ_OK || rc == DZ_ENOMEM);
    strbuf_free(&st.sb);
    return 0;
}
