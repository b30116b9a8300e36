/*
 * event_doc: the packed form in which the store keeps an event (events.doc).
 *
 * Over half of an event's JSON is its key names ("classification.taxonomy",
 * "source.geolocation.city", ...), and every byte stored is written twice
 * (SQLite's log and its database; PostgreSQL's COPY and its heap). So the
 * store keeps each event as a JSON array instead of an object:
 *
 *     [1,<key>,<value>,<key>,<value>,...]
 *
 * 1 is the format's version. A known key is written as its code, a small
 * integer from the frozen list in event_doc.c; an extra.* key as the string
 * of its name without "extra." (such names need no escaping). Each value is
 * exactly the JSON event_write_json writes for it, in the same key order,
 * so event_doc_to_json gives back event_write_json's text byte for byte
 * without parsing a value. Documents stored before this form (JSON objects)
 * are passed through unchanged. The text stays valid JSON, about 45% of the
 * object's size on Shadowserver reports.
 */
#ifndef DZ_EVENT_DOC_H
#define DZ_EVENT_DOC_H
#include <stddef.h>
#include "lib/dz_err.h"
#include "lib/event.h"
#include "lib/strbuf.h"

/* Appends ev in the packed form. */
void event_write_doc(const event *ev, strbuf *out);

/*
 * Appends the event JSON object of a stored document (packed, or already an
 * object). DZ_EINVAL, naming the byte offset, when a packed document is
 * damaged; out then holds what was appended so far.
 */
dz_code event_doc_to_json(const char *doc, size_t len, strbuf *out, dz_err *e);

/* The code of a known key (a harmonization field), -1 for anything else. */
int event_doc_code(const char *key);

#endif
