/*
 * netindex: who owns this address, AS number or domain.
 *
 * An immutable in-memory index from network resources to opaque uint32
 * values (the constituency registry maps them to organisations):
 *   - IPv4 and IPv6 prefixes, longest-prefix match;
 *   - AS numbers, exact match;
 *   - domains, longest-suffix match on whole labels ("example.bt" covers
 *     "a.example.bt", not "badexample.bt").
 *
 * Life cycle: netindex_builder_new(), any number of netindex_add_*(), then
 * netindex_build(), which always consumes the builder (also when it fails).
 * A builder that will not be built is released with netindex_builder_free().
 *
 * Identical keys (same prefix and length, same AS, same domain): the first
 * one added wins; later ones are dropped and counted in the stats
 * (`conflicts` when the value differs, `repeats` when it is the same).
 *
 * Threads: a builder belongs to one thread. A built netindex is never
 * modified, so any number of threads may look up in it concurrently without
 * locks. Replacing it after a change is the caller's business, RCU style:
 * build a new index, publish it with an atomic pointer store (release), and
 * free the old one only once no reader can still hold it.
 *
 * IPv4 layout: the prefixes are flattened into sorted, non-overlapping
 * intervals (start address, value), at most 2 per prefix plus one, with a
 * direct index on the top address bits; a lookup is one index read and a
 * short branch-free binary search inside one bucket. IPv6 uses the same
 * intervals over 128-bit starts with a plain binary search.
 */
#ifndef DZ_NETINDEX_H
#define DZ_NETINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "lib/dz_err.h"

/* "No owner". Not a valid value to add. */
#define NETINDEX_NONE UINT32_MAX

/* Most entries of each kind one index holds (intervals must fit uint32). */
#define NETINDEX_MAX_ENTRIES (1u << 30)

/* Longest domain name accepted, without the trailing dot. */
#define NETINDEX_DOMAIN_MAX 253

typedef struct netindex_builder netindex_builder;
typedef struct netindex netindex;

typedef struct netindex_stats {
    size_t v4_prefixes, v4_intervals; /* distinct prefixes; flattened intervals */
    size_t v6_prefixes, v6_intervals;
    size_t asns, domains;
    size_t entries;   /* everything added, duplicates included */
    size_t conflicts; /* identical key added again with another value (dropped) */
    size_t repeats;   /* identical key added again with the same value (dropped) */
    size_t bytes;     /* heap memory held by the built index */
    unsigned v4_bucket_bits;
} netindex_stats;

/* NULL when out of memory. */
netindex_builder *netindex_builder_new(void);
void netindex_builder_free(netindex_builder *b);

/*
 * addr is in host byte order (10.0.0.0 is 0x0A000000). The address must have
 * no bits set past prefix_len (10.0.0.1/8 is refused), prefix_len <= 32.
 * value != NETINDEX_NONE. DZ_EINVAL for bad input, DZ_ELIMIT, DZ_ENOMEM.
 */
dz_code netindex_add_v4(netindex_builder *b, uint32_t addr, unsigned prefix_len, uint32_t value, dz_err *e);
/* addr in network byte order (as inet_pton gives it), prefix_len <= 128, no host bits. */
dz_code netindex_add_v6(netindex_builder *b, const uint8_t addr[16], unsigned prefix_len, uint32_t value,
                        dz_err *e);
dz_code netindex_add_asn(netindex_builder *b, uint32_t asn, uint32_t value, dz_err *e);
/*
 * An ASCII domain name in A-label form ("xn--..." for IDNs), any case, one
 * optional trailing dot. Labels of 1..63 letters, digits and hyphens, not
 * starting or ending with a hyphen; at most 253 characters. The entry covers
 * the name and all its subdomains.
 */
dz_code netindex_add_domain(netindex_builder *b, const char *domain, uint32_t value, dz_err *e);

/*
 * Builds the index and frees the builder (whatever happens: b must not be
 * used afterwards). On success *out owns a new index (netindex_free).
 */
dz_code netindex_build(netindex_builder *b, netindex **out, dz_err *e);
void netindex_free(netindex *ix);

/* The value of the most specific match, or NETINDEX_NONE. ix may be NULL (no match). */
uint32_t netindex_lookup_v4(const netindex *ix, uint32_t addr);
/* Like lookup_v4 over n addresses (out[i] for addrs[i]), with prefetching: faster for batches. */
void netindex_lookup_v4_many(const netindex *ix, const uint32_t *addrs, uint32_t *out, size_t n);
/*
 * Also reports the matched prefix (host byte order) and its length; both
 * untouched when nothing matches. prefix and len may be NULL.
 */
uint32_t netindex_match_v4(const netindex *ix, uint32_t addr, uint32_t *prefix, unsigned *len);
uint32_t netindex_lookup_v6(const netindex *ix, const uint8_t addr[16]);
/* prefix (16 bytes, network order) and len may be NULL. */
uint32_t netindex_match_v6(const netindex *ix, const uint8_t addr[16], uint8_t prefix[16], unsigned *len);
uint32_t netindex_lookup_asn(const netindex *ix, uint32_t asn);
/*
 * Any case, optional trailing dot. Labels are not validated here ("_dmarc.example.bt"
 * matches "example.bt"); empty names and names over 253 characters match nothing.
 */
uint32_t netindex_lookup_domain(const netindex *ix, const char *domain);

void netindex_stats_get(const netindex *ix, netindex_stats *st);

#endif
