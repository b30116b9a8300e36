/*
 * RSIT (Reference Security Incident Taxonomy) classification.
 *
 * Canonical output is RSIT's own spelling (taxonomy "fraud", type
 * "unauthorised-use-of-resources"). Input also accepts IntelMQ's harmonization:
 * its five extra types under taxonomy "other" (blacklist, dga-domain, malware,
 * proxy, tor), the American spelling "unauthorized-", and the pre-RSIT names
 * of IntelMQ 1.x/2.x ("botnet drone", "c&c", "vulnerable service", ...).
 */
#ifndef DZ_TAXONOMY_H
#define DZ_TAXONOMY_H
#include <stddef.h>
#include "lib/dz_err.h"

typedef struct rsit_class {
    const char *taxonomy; /* canonical, static */
    const char *type;     /* canonical, static */
} rsit_class;

/*
 * Resolves (taxonomy, type) into the canonical pair. Either may be NULL or
 * empty: a type alone determines its taxonomy; a taxonomy alone gets the type
 * "undetermined"-like default only for "other" and "test". A taxonomy that
 * does not hold the type is an error that names both.
 */
dz_code rsit_resolve(const char *taxonomy, const char *type, rsit_class *out, dz_err *e);

/* The canonical spelling of a taxonomy name ("Malicious code" -> "malicious-code"). */
dz_code rsit_taxonomy_resolve(const char *taxonomy, const char **out, dz_err *e);

/* Iteration over the canonical table (for docs and the UI). NULL past the end. */
const rsit_class *rsit_at(size_t i);

#endif
