/*
 * pipeline: what happens to each parsed event before it is stored.
 *
 *   classify  classification.taxonomy/type made canonical RSIT (legacy and
 *             IntelMQ names mapped; a type alone gives its taxonomy; an event
 *             with neither is "other"/"undetermined")
 *   enrich    the constituent that owns it, from the registry snapshot: by
 *             source.ip (longest prefix), else source.asn, else source.fqdn,
 *             else the same for destination.*; written to the event as
 *             extra.constituent (short name) so exports carry it
 *   key       the dedup hash: XXH3-64 over the configured fields in key
 *             order (default: every field but raw and time.observation)
 *   index     the few values the store indexes (time.source, feed.name,
 *             classification, source.ip as a sortable key, source.asn)
 *
 * Pure: no store, no I/O, no global state; one pipeline per thread. The
 * caller holds the registry snapshot (registry_cell_enter) around a batch.
 */
#ifndef DZ_PIPELINE_H
#define DZ_PIPELINE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/dz_err.h"
#include "lib/event.h"
#include "lib/registry.h"
#include "lib/strbuf.h"

/*
 * dedup_fields: the keys the dedup hash covers, comma or space separated;
 * each a harmonization key or extra.<name>, or a prefix ending in ".*"
 * ("extra.*"). NULL or empty: every field but dedup_exclude's, which
 * defaults (NULL) to "raw time.observation". Unknown keys are refused.
 */
typedef struct pipeline_config {
    const char *dedup_fields;
    const char *dedup_exclude;
} pipeline_config;

/* What the store keeps beside the event's JSON. */
typedef struct event_index {
    uint64_t dedup_hash;
    int64_t constituent_id;   /* 0: nobody in the registry owns it */
    int64_t time_source;      /* seconds since the epoch; INT64_MIN when the event has none */
    int64_t asn;              /* source.asn, 0 when none */
    char ip_key[33];          /* source.ip as 32 lower-case hex digits (IPv4 as ::ffff:a.b.c.d), "" when none */
    const char *feed_name;    /* into the event: valid until it changes */
    const char *taxonomy, *type, *identifier;
} event_index;

typedef struct pipeline pipeline;

/* cfg NULL: defaults. The pipeline copies what it needs from cfg. */
dz_code pipeline_new(const pipeline_config *cfg, pipeline **out, dz_err *e);
void pipeline_free(pipeline *p);

/*
 * Runs classify, key, enrich and index on ev (which it changes: canonical
 * classification, extra.constituent set or removed) and fills out. idx may
 * be NULL (no registry: nothing matches). Fails only when out of memory.
 */
dz_code pipeline_process(pipeline *p, const registry_index *idx, event *ev, event_index *out, dz_err *e);

/*
 * event_batch: processed events and refused rows on their way into the
 * store, in one growable text buffer (no allocation per event once warm).
 * Strings are offsets into text (NUL-terminated there; EB_NONE: absent).
 */
#define EB_NONE ((size_t)-1)

typedef struct event_batch_row {
    uint64_t line;
    uint64_t dedup_hash;
    int64_t constituent_id, time_source, asn;
    char ip_key[33];
    size_t doc, doc_len;                       /* the event as stored (event_doc.h) */
    size_t feed_name, taxonomy, type, identifier;
} event_batch_row;

typedef struct event_batch_bad {
    uint64_t line;
    size_t reason;
    size_t raw, raw_len;                       /* the row's bytes (raw EB_NONE: unknown) */
} event_batch_bad;

typedef struct event_batch {
    event_batch_row *rows;
    size_t n, cap;
    event_batch_bad *bad;
    size_t n_bad, cap_bad;
    strbuf text;
    uint64_t checkpoint;   /* every position up to here is in this batch or was committed before it */
    bool oom;              /* an append failed: the batch is unusable */
} event_batch;

void event_batch_init(event_batch *b);
void event_batch_reset(event_batch *b);
void event_batch_free(event_batch *b);
/* Appends the event as the store keeps it (event_doc.h) and its index (the index's strings are copied). */
void event_batch_add(event_batch *b, uint64_t line, const event *ev, const event_index *ix);
void event_batch_add_bad(event_batch *b, uint64_t line, const char *reason, const char *raw, size_t raw_len);
/* The text at an offset, NULL for EB_NONE. */
static inline const char *event_batch_text(const event_batch *b, size_t off)
{
    return off == EB_NONE ? NULL : b->text.buf + off;
}

#endif
