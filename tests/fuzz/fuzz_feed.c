/*
 * libFuzzer target for one feed parser of lib/feed.h, chosen at compile time:
 * -DFEED_NAME="feodo" (tests/fuzz/meson.build builds fuzz_feed_<name> for each of
 * feodo, urlhaus, spamhaus-drop, blocklist, csv, intelmq, suricata).
 *
 * The input is the feed's file, read twice: once in chunks of 1..64 bytes chosen by
 * the first byte, once in large chunks. Checks:
 *   - nothing crashes, leaks or reads out of bounds (sanitizers);
 *   - every event serialises (event_write_json) to one valid JSON object with
 *     feed.name, time.observation and raw, and as many members as the event has fields;
 *   - positions never decrease and are >= 1; refused rows come with a non-empty reason;
 *   - both readings give the same events, refusals and positions (what resuming needs).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/feed.h"
#include "lib/strbuf.h"

#ifndef FEED_NAME
#error "compile with -DFEED_NAME=\"feodo\" (or another parser's name)"
#endif

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

/* The csv target's mapping: names, an index, formats, constants, extra columns. */
static const char mapping_text[] =
    "{\"delimiter\": \",\", \"comment\": \"#\", \"skip_lines\": 0, \"extra_columns\": true,"
    " \"columns\": {\"source.ip\": {\"column\": \"ip\", \"required\": true},"
    "   \"time.source\": {\"column\": \"seen\", \"format\": \"%Y-%m-%d %H:%M:%S %z\"},"
    "   \"time.observation\": 9}}";
static const char mapping_text_ok[] =
    "{\"delimiter\": \",\", \"comment\": \"#\", \"extra_columns\": true,"
    " \"columns\": {\"source.ip\": {\"column\": \"ip\", \"required\": true},"
    "   \"time.source\": {\"column\": \"seen\", \"format\": \"%Y-%m-%d %H:%M:%S %z\"},"
    "   \"source.port\": 2, \"destination.ip\": \"dst\","
    "   \"extra.epoch\": \"e\", \"source.fqdn\": \"host\"},"
    " \"constants\": {\"classification.type\": \"scanner\", \"feed.provider\": \"Fuzz\"}}";

static const feed_parser *parser;
static csv_mapping *mapping;

typedef struct chunks {
    const uint8_t *data;
    size_t len, pos;
    uint32_t seed;
    bool large;
} chunks;

static long read_chunks(void *arg, char *buf, size_t cap)
{
    chunks *c = arg;
    size_t n = c->len - c->pos;
    if (!c->large) {
        c->seed = c->seed * 1103515245u + 12345u;
        size_t want = 1 + (c->seed >> 16) % 64;
        if (n > want)
            n = want;
    }
    if (n > cap)
        n = cap;
    memcpy(buf, c->data + c->pos, n);
    c->pos += n;
    return (long)n;
}

typedef struct state {
    strbuf sb;
    uint64_t last_line;
    size_t events, errors;
    uint64_t hash;
} state;

static void mix(state *st, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        st->hash = (st->hash ^ b[i]) * 1099511628211ull;
}

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
    mix(st, &line, sizeof line);
    mix(st, st->sb.buf, st->sb.len);
    st->events++;
    return 0;
}

static void on_error(void *arg, uint64_t line, const char *reason, const char *raw, size_t raw_len)
{
    state *st = arg;
    CHECK(raw || raw_len == 0);
    CHECK(line >= 1);
    CHECK(reason && reason[0]);
    mix(st, &line, sizeof line);
    mix(st, reason, strlen(reason));
    st->errors++;
}

static void run(const uint8_t *data, size_t size, uint32_t seed, bool large, state *st)
{
    chunks c = {data, size, 0, seed, large};
    memset(st, 0, sizeof *st);
    strbuf_init(&st->sb);
    st->hash = 14695981039346656037ull;
    feed_options o = {.file_name = "ssh.txt", .observation_time = "2020-01-01T00:00:00+00:00", .raw = true,
                      .mapping = mapping};
    dz_err e = {0};
    dz_code rc = parser->parse(&o, read_chunks, &c, on_event, on_error, st, &e);
    /* csv fails the whole input when a named column is not in the header */
    CHECK(rc == DZ_OK || rc == DZ_ENOMEM || (rc == DZ_EINVAL && st->events == 0 && e.msg[0]));
    strbuf_free(&st->sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!parser) {
        parser = feed_parser_find(FEED_NAME);
        if (!parser) {
            fprintf(stderr, "fuzz_feed: no parser '%s'\n", FEED_NAME);
            abort();
        }
        dz_err e = {0};
        /* a mapping that sets time.observation from a column is refused at load */
        if (csv_mapping_load(mapping_text, strlen(mapping_text), &mapping, &e) == DZ_OK)
            abort();
        if (csv_mapping_load(mapping_text_ok, strlen(mapping_text_ok), &mapping, &e) != DZ_OK) {
            fprintf(stderr, "fuzz_feed: mapping: %s\n", e.msg);
            abort();
        }
    }
    if (size < 1)
        return 0;
    state a, b;
    run(data + 1, size - 1, data[0], false, &a);
    run(data + 1, size - 1, 0, true, &b);
    CHECK(a.events == b.events && a.errors == b.errors && a.hash == b.hash);
    return 0;
}
