/*
 * event_export: stored events (IntelMQ JSON objects, as events.doc holds
 * them) as the files a notification carries and the API hands out: CSV
 * with IntelMQ field names, or JSON lines.
 *
 * CSV columns are the union of the fields present in the events: the
 * harmonization's known fields in harmonization_key_at() order first, then
 * extra.* fields sorted by name. A header row of the names, one row per
 * event, RFC 4180 (CRLF, fields quoted when they hold a comma, quote, CR or
 * LF; quotes doubled); a value that is a JSON object or array is written as
 * its compact JSON text, booleans as true/false, numbers as JSON writes them.
 * Cells that a spreadsheet would run as a formula (starting with = + - @,
 * TAB or CR) and that are not numbers are prefixed with a single quote
 * (CSV injection: the recipients open these files in spreadsheets).
 */
#ifndef DZ_EVENT_EXPORT_H
#define DZ_EVENT_EXPORT_H
#include <stddef.h>
#include <jansson.h>
#include <stdbool.h>
#include "lib/dz_err.h"
#include "lib/marking.h"
#include "lib/strbuf.h"

typedef struct event_export event_export;

dz_code event_export_new(event_export **out, dz_err *e);
void event_export_free(event_export *x);
/*
 * Adds one event (a JSON object's text) unless its TLP (its "tlp" field,
 * else dflt) is above ceiling: then nothing is added and *withheld (may be
 * NULL) is set true. DZ_EINVAL naming the reason when doc is not a JSON
 * object or its tlp is not a TLP 2.0 name.
 */
dz_code event_export_add(event_export *x, const char *doc, size_t len, tlp_level ceiling, tlp_level dflt,
                         bool *withheld, dz_err *e);
/*
 * The events added, counted by classification: a new array of
 * {"taxonomy","type","count"}, most first, then by taxonomy and type
 * (missing classification fields count as "other"/"undetermined").
 */
json_t *event_export_counts(const event_export *x);
size_t event_export_count(const event_export *x);
/* Appends the CSV of every event added, in the order added; nothing at all when none was added. */
void event_export_csv(const event_export *x, strbuf *out);
/* Appends one JSON object per line (compact, keys sorted, "\n" after each). */
void event_export_jsonl(const event_export *x, strbuf *out);
/* Forgets the events (memory kept for the next notification). */
void event_export_reset(event_export *x);

#endif
