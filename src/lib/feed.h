/*
 * feed: what every feed parser shares, and the table of parsers.
 *
 * A parser reads one input (a report file, a request body, a download)
 * through a csv_read_fn, so nothing is ever held whole, and hands each
 * harmonized event to on_event and each row it cannot use to on_error,
 * in input order. Every event and every refused row carries its position
 * ("line"): the physical line where its row starts (for JSON arrays and
 * JSON lines, the line of the element). Positions never decrease, and the
 * same input always gives the same positions: the ingest pipeline resumes
 * an interrupted file from the last position it committed. Several events
 * may share a position (one row, several events); they come together.
 *
 * Parsers keep going after a bad row; they fail (DZ_EINVAL/DZ_EIO) only when
 * the input cannot be read as that feed at all (not CSV, unknown report
 * type, a mapping that names no column of the header, ...), and then say why.
 */
#ifndef DZ_FEED_H
#define DZ_FEED_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/csv.h"
#include "lib/dz_err.h"
#include "lib/event.h"

struct shadowserver_schema;
struct csv_mapping;

typedef struct feed_options {
    const char *report;           /* Shadowserver: the report type, or NULL: from file_name */
    const char *file_name;        /* the input's file name (report type; extra.file_name in raw mode) */
    const char *feed_name;        /* feed.name of every event, overriding the parser's default */
    const char *observation_time; /* time.observation of every event (ISO 8601); NULL: now */
    bool raw;                     /* add "raw": base64 of the input's bytes for the row, as IntelMQ does */
    const struct shadowserver_schema *schema; /* Shadowserver: the schema (required) */
    const struct csv_mapping *mapping;        /* generic CSV: the column mapping (required) */
} feed_options;

/*
 * Called for each event, in input order; a non-zero return stops parsing (DZ_OK is still returned).
 * The callback may change the event (the pipeline classifies and annotates it in place): parsers
 * reset their event before each row and never read it back after the call.
 */
typedef int (*feed_event_fn)(void *arg, event *ev, uint64_t line);
/* Called for each row that gives no event: its position, why, and its bytes as read (raw may be NULL). */
typedef void (*feed_error_fn)(void *arg, uint64_t line, const char *reason, const char *raw, size_t raw_len);

typedef dz_code (*feed_parse_fn)(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                                 feed_error_fn on_error, void *arg, dz_err *e);

typedef struct feed_parser {
    const char *name;     /* --feed NAME: "shadowserver", "feodo", ... */
    const char *summary;  /* one line for `dzong parse --help` and docs */
    feed_parse_fn parse;
} feed_parser;

/* NULL when unknown. */
const feed_parser *feed_parser_find(const char *name);
/* The parsers in table order; NULL past the end. */
const feed_parser *feed_parser_at(size_t i);

/* Helpers for parsers. */
/* DZ_EINVAL when opt->observation_time is given and is not an ISO 8601 time (checked once, up front). */
dz_code feed_check_options(const feed_options *opt, dz_err *e);
/* The current time as event text ("2026-11-23T07:00:00+00:00"): take it once per parse. */
void feed_now_text(char out[32]);
/*
 * Sets the fields every event of a feed carries: feed.name (opt->feed_name,
 * else default_name), feed.provider (when not NULL), and time.observation
 * (opt->observation_time, else now_text).
 */
dz_code feed_set_common(event *ev, const feed_options *opt, const char *default_name, const char *provider,
                        const char *now_text, dz_err *e);

/* dzong's own Shadowserver schema (feed_shadowserver_schema.json, compiled in). Free with shadowserver_schema_free. */
dz_code feed_builtin_schema(struct shadowserver_schema **out, dz_err *e);

/* The parsers (one file each; feed.c's table names them). */
dz_code feed_shadowserver_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                                feed_error_fn on_error, void *arg, dz_err *e);
dz_code feed_feodo_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                         feed_error_fn on_error, void *arg, dz_err *e);
dz_code feed_urlhaus_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                           feed_error_fn on_error, void *arg, dz_err *e);
dz_code feed_spamhaus_drop_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                                 feed_error_fn on_error, void *arg, dz_err *e);
dz_code feed_blocklist_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                             feed_error_fn on_error, void *arg, dz_err *e);
dz_code feed_csv_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                       feed_error_fn on_error, void *arg, dz_err *e);
dz_code feed_intelmq_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                           feed_error_fn on_error, void *arg, dz_err *e);
dz_code feed_suricata_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                            feed_error_fn on_error, void *arg, dz_err *e);

/*
 * Shared by the parsers (feed_common.c).
 *
 * feed_lines: physical lines through a csv_read_fn, holding at most one line
 * (up to max_line bytes) and one read chunk. A line ends at LF; a CR before
 * it is dropped; a UTF-8 byte order mark at the start of the input is not
 * part of line 1. A line longer than max_line is returned once as
 * FEED_LINE_LONG (its first max_line bytes) and the rest of it is skipped.
 */
#define FEED_MAX_LINE ((size_t)1 << 20)
enum { FEED_LINE_FAIL = -1, FEED_LINE_END = 0, FEED_LINE = 1, FEED_LINE_LONG = 2 };
typedef struct feed_lines {
    csv_read_fn read;
    void *arg;
    char *buf;
    size_t cap, pos, end, max_line;
    size_t scanned;        /* bytes after pos known to hold no LF */
    uint64_t next_line;
    bool eof, skip, started;
    dz_code failed;
} feed_lines;
void feed_lines_init(feed_lines *l, csv_read_fn read, void *arg, size_t max_line);
void feed_lines_free(feed_lines *l);
/* FEED_LINE / FEED_LINE_LONG: *s, *len, *line (valid until the next call); FEED_LINE_END; FEED_LINE_FAIL (e). */
int feed_lines_next(feed_lines *l, const char **s, size_t *len, uint64_t *line, dz_err *e);

/* One parse: the reused event, the common fields, raw, and the callbacks. */
typedef struct feed_ctx {
    const feed_options *opt;
    const char *default_name, *provider;
    char now[32];
    event *ev;
    feed_event_fn on_event;
    feed_error_fn on_error;
    void *arg;
    bool stop;             /* on_event asked to stop */
    strbuf b64, msg;
    dz_err err;            /* why feed_ctx_set refused the last value */
} feed_ctx;
/* Checks the options (feed_check_options) and allocates; DZ_EINVAL/DZ_ENOMEM in e. */
dz_code feed_ctx_init(feed_ctx *c, const feed_options *opt, const char *default_name, const char *provider,
                      feed_event_fn on_event, feed_error_fn on_error, void *arg, dz_err *e);
void feed_ctx_free(feed_ctx *c);
/* event_set into c->ev; on DZ_EINVAL the reason is in c->err.msg. */
dz_code feed_ctx_set(feed_ctx *c, const char *key, const char *s, size_t len);
/* Adds the common fields and (opt->raw) raw = base64(raw), then calls on_event. DZ_OK or DZ_ENOMEM. */
dz_code feed_ctx_emit(feed_ctx *c, uint64_t line, const char *raw, size_t raw_len);
/*
 * The next line with something other than blanks on it, for line-based
 * parsers: FEED_LINE (*s, *len, *line as feed_lines_next), FEED_LINE_END, or
 * FEED_LINE_FAIL (e). An over-long line is refused through c and skipped.
 */
int feed_next_line(feed_lines *l, feed_ctx *c, const char **s, size_t *len, uint64_t *line, dz_err *e);
/* Calls on_error with the reason (printf format). */
void feed_ctx_refuse(feed_ctx *c, uint64_t line, const char *raw, size_t raw_len, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/*
 * A JSON-lines parser's line as a JSON object (jansson flags: e.g.
 * JSON_REJECT_DUPLICATES), or NULL after refusing the line through c ("not
 * JSON: ... (column N)", "not a JSON object"). The caller owns the object.
 */
json_t *feed_json_object(feed_ctx *c, uint64_t line, const char *s, size_t n, size_t flags);
void feed_base64_append(strbuf *out, const void *data, size_t n);
/* The base name of a path ("a/b/ssh.txt" -> "ssh.txt"); "" for NULL. */
const char *feed_base_name(const char *path);

/*
 * The generic CSV parser's column mapping (feed_csv.c), a JSON document;
 * docs/feeds.md has its format. Loading checks every key and conversion and
 * names what is wrong.
 */
typedef struct csv_mapping csv_mapping;
dz_code csv_mapping_load(const char *json, size_t len, csv_mapping **out, dz_err *e);
void csv_mapping_free(csv_mapping *m);

#endif
