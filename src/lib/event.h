/*
 * event: one harmonized event, in IntelMQ's field names and types.
 *
 * IntelMQ's harmonization is the lingua franca of CERT event data
 * (time.source, source.ip, classification.type, extra.*, ...). An event is
 * a flat set of key -> scalar value (string, integer, float or boolean);
 * every known key has a type that validates and normalises what is set
 * (an IP address to canonical text, an FQDN to lower case, a time to
 * ISO 8601 UTC "2018-07-26T02:07:16+00:00", ...). Keys under extra. are
 * free; their values keep the kind they are set with.
 *
 * Built for speed: an event owns one growable array of fields and one
 * arena for text, reused between events with event_reset (no allocation
 * per field once warm). Written out as one JSON object.
 */
#ifndef DZ_EVENT_H
#define DZ_EVENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/dz_err.h"
#include "lib/strbuf.h"

/* The harmonization types (IntelMQ's names in comments). */
typedef enum {
    HT_STRING = 0,   /* String */
    HT_LOWER,        /* LowercaseString */
    HT_UPPER,        /* UppercaseString */
    HT_INT,          /* Integer */
    HT_FLOAT,        /* Float */
    HT_ACCURACY,     /* Accuracy: float 0..100 */
    HT_BOOL,         /* Boolean */
    HT_IP,           /* IPAddress */
    HT_NETWORK,      /* IPNetwork */
    HT_ASN,          /* ASN: 1..4294967295 */
    HT_FQDN,         /* FQDN */
    HT_URL,          /* URL */
    HT_DATETIME,     /* DateTime: ISO 8601, UTC */
    HT_BASE64,       /* Base64 */
    HT_TLP,          /* TLP */
    HT_TAXONOMY,     /* ClassificationTaxonomy */
    HT_TYPE,         /* ClassificationType */
    HT_REGISTRY,     /* Registry */
    HT_COUNTRY,      /* a two-letter country code (UppercaseString of length 2) */
    HT_JSON,         /* JSON / JSONDict: extra.* values, any scalar */
} harm_type;

/* The type of a key: known harmonization fields, and extra.* (HT_JSON). DZ_EINVAL for unknown keys. */
dz_code harmonization_type(const char *key, harm_type *out, dz_err *e);
/* The known fields in key order (for docs, the UI and tests); NULL past the end. type may be NULL. */
const char *harmonization_key_at(size_t i, harm_type *type);

typedef enum { EV_STRING = 0, EV_INT, EV_FLOAT, EV_BOOL } event_value_kind;

typedef struct event_field {
    const char *key;         /* NUL-terminated, in the event's arena */
    event_value_kind kind;
    const char *s;           /* EV_STRING: NUL-terminated, in the arena */
    size_t len;              /* EV_STRING: bytes */
    int64_t i;               /* EV_INT */
    double f;                /* EV_FLOAT */
    bool b;                  /* EV_BOOL */
} event_field;

typedef struct event event;

/* NULL when out of memory. */
event *event_new(void);
void event_free(event *ev);
/* Empties the event, keeping its memory for the next one. */
void event_reset(event *ev);

/*
 * Sets key (replacing an earlier value) from text, validated and normalised
 * by the key's type; an integer or boolean type stores EV_INT/EV_BOOL.
 * extra.* stores the text as a string. DZ_EINVAL with a message that names
 * the key and the value ("source.ip: '300.1.1.1' is not an IP address").
 * Empty values are refused (IntelMQ keeps none); a refused value leaves the
 * event as it was. The rules of each type are in event.c.
 */
dz_code event_set(event *ev, const char *key, const char *text, size_t len, dz_err *e);
/*
 * Typed setters: checked against the key's type (an int for source.port, any kind for extra.*).
 * An int or float for a DateTime key is seconds since the epoch; an integral float fits an
 * Integer key, 0/1 a Boolean; for a text type the number's text is checked as text.
 */
dz_code event_set_int(event *ev, const char *key, int64_t v, dz_err *e);
dz_code event_set_float(event *ev, const char *key, double v, dz_err *e);
dz_code event_set_bool(event *ev, const char *key, bool v, dz_err *e);
/* Removes key; no error when absent. */
void event_unset(event *ev, const char *key);

/* NULL when absent. Valid until the event changes. */
const event_field *event_get(const event *ev, const char *key);
size_t event_count(const event *ev);
/* Fields in key order (sorted on demand). */
const event_field *event_field_at(const event *ev, size_t i);

/*
 * A dotted-quad IPv4 address exactly as inet_pton(AF_INET) accepts it (four
 * decimal parts 0..255, no leading zeros), which is also the canonical text
 * of an IPv4 value. out (may be NULL): the address in host order.
 */
bool ipv4_dotted_parse(const char *s, size_t n, uint32_t *out);

/* Appends the event as one JSON object (keys sorted, no line end). */
void event_write_json(const event *ev, strbuf *out);

/*
 * Resolved keys, for code that sets the same keys on many events (parsers):
 * event_key_init does once what every event_set(ev, "name", ...) does per
 * call (look the key up in the harmonization table, check an extra.* name,
 * hash it, place it in key order). The event_*_k functions behave exactly as
 * their string-key twins (same normalisation, same errors, same result).
 *
 * An extra.* key's name is not copied: the string passed to event_key_init
 * must stay valid while the key is used and while any event still holds a
 * field set through it (until that event is reset or freed, or the field is
 * unset). Known keys refer to the static table. A key that failed to
 * resolve (ok false) makes every setter fail with DZ_EINVAL.
 */
typedef struct event_key {
    const char *name;   /* the key */
    harm_type type;
    bool ok;            /* resolved */
    uint64_t priv[6];   /* event.c's */
} event_key;

/* DZ_EINVAL with event_set's message for a key it would refuse (unknown, bad extra name, "extra"). */
dz_code event_key_init(event_key *k, const char *name, dz_err *e);
dz_code event_set_k(event *ev, const event_key *k, const char *text, size_t len, dz_err *e);
dz_code event_set_k_int(event *ev, const event_key *k, int64_t v, dz_err *e);
dz_code event_set_k_float(event *ev, const event_key *k, double v, dz_err *e);
dz_code event_set_k_bool(event *ev, const event_key *k, bool v, dz_err *e);
/* As event_get. */
const event_field *event_get_k(const event *ev, const event_key *k);
/*
 * Sets every field of src in dst (replacing dst's values of the same keys),
 * without normalising again: src's values already are. Values and extra.*
 * names are copied, so src may change afterwards. For values every event of
 * a report carries (constants, feed.name, time.observation): normalise them
 * once into a template event, copy the template into each event.
 */
dz_code event_copy_fields(event *dst, const event *src, dz_err *e);

#endif
