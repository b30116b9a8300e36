/*
 * feed_shadowserver: Shadowserver reports (CSV and JSON) to harmonized events.
 *
 * Table-driven: each report type (scan_adb, event4_sinkhole_http, ...) is
 * described in a schema in the format Shadowserver publishes for IntelMQ:
 * a JSON object, report name -> {"feed_name", "file_name",
 * "constant_fields": {key: value}, "required_fields": [[key, column,
 * conversion?], ...], "optional_fields": [...]}. A key "extra." means
 * extra.<column>. dzong ships its own schema (feed_shadowserver_schema.json,
 * compiled in); an operator may load the official, newer one instead.
 *
 * Conversions (the third element): see docs/feeds.md; an unknown name makes
 * the schema invalid (shadowserver_schema_load names the report and field).
 *
 * Columns a report has beyond its schema become extra.<column> (strings);
 * empty cells are left out. A row that breaks a required field is reported
 * through on_error with its line and reason, and parsing goes on.
 */
#ifndef DZ_FEED_SHADOWSERVER_H
#define DZ_FEED_SHADOWSERVER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/csv.h"
#include "lib/dz_err.h"
#include "lib/event.h"
#include "lib/feed.h"

typedef struct shadowserver_schema shadowserver_schema;

/* Parses a schema document (JSON text). */
dz_code shadowserver_schema_load(const char *json, size_t len, shadowserver_schema **out, dz_err *e);
void shadowserver_schema_free(shadowserver_schema *s);
/* The report named in a file name ("2019-01-01-scan_adb-test-geo.csv" -> "scan_adb"): the longest known
 * report name that appears as a whole dash-separated part sequence. NULL when none. */
const char *shadowserver_report_of_file(const shadowserver_schema *s, const char *file_name);
bool shadowserver_has_report(const shadowserver_schema *s, const char *report);

/*
 * Reads a whole report through read/read_arg (CSV, or JSON when the file
 * name ends in .json or the input starts with '[' or '{'). Fails (and emits
 * nothing) only when the report type is unknown or the input cannot be read
 * at all; bad rows go to on_error.
 */
dz_code shadowserver_parse(const shadowserver_schema *s, const feed_options *opt, csv_read_fn read, void *read_arg,
                           feed_event_fn on_event, feed_error_fn on_error, void *arg, dz_err *e);

#endif
