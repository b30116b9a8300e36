/*
 * registry: the constituency index, "whose is this address, AS or domain?".
 *
 * A registry_index is an immutable snapshot built from the registry's rows:
 * the netindex (longest prefix for IPv4/IPv6, exact ASN, domain suffix)
 * maps each resource to a claim, and a claim lists the organisation(s) that
 * registered exactly that resource (two organisations may claim the same
 * network; both are answers) and the claim it lies inside (the next less
 * specific network or parent domain, possibly of another organisation).
 *
 * The API's lookup, `dzong lookup` and the feed pipeline's enrichment use the
 * same snapshot. registry_cell publishes a new snapshot after a change while
 * readers go on reading the old one without locks (see registry_cell_*).
 */
#ifndef DZ_REGISTRY_H
#define DZ_REGISTRY_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include "lib/constituent.h"
#include "lib/dz_err.h"

typedef struct registry_builder registry_builder;
typedef struct registry_index registry_index;

/* NULL when out of memory. */
registry_builder *registry_builder_new(void);
void registry_builder_free(registry_builder *b);
/* Organisations must be added before their resources. org_id > 0, unique; short_name is copied. */
dz_code registry_add_org(registry_builder *b, int64_t org_id, const char *short_name, dz_err *e);
dz_code registry_add_network(registry_builder *b, int64_t org_id, const net_prefix *p, dz_err *e);
dz_code registry_add_asn(registry_builder *b, int64_t org_id, uint32_t asn, dz_err *e);
/* An A-label (domain_normalize's output). */
dz_code registry_add_domain(registry_builder *b, int64_t org_id, const char *domain, dz_err *e);
/* Consumes b (also on failure). version is recorded for registry_index_version(). */
dz_code registry_build(registry_builder *b, int64_t version, registry_index **out, dz_err *e);
void registry_index_free(registry_index *ix);
int64_t registry_index_version(const registry_index *ix);

typedef enum { CLAIM_NETWORK = 0, CLAIM_ASN, CLAIM_DOMAIN } claim_kind;

/* One registered resource and who registered it. Owned by the index. */
typedef struct registry_claim {
    claim_kind kind;
    net_prefix network;         /* CLAIM_NETWORK */
    uint32_t asn;               /* CLAIM_ASN */
    const char *domain;         /* CLAIM_DOMAIN */
    const int64_t *org_ids;     /* sorted, at least one */
    size_t n_orgs;
    const struct registry_claim *covering; /* the claim it lies inside, or NULL */
} registry_claim;

/*
 * The most specific claim for the address (a /32 or /128 net_prefix from
 * ip_address_parse), AS number or domain; NULL when nothing matches.
 * Follow ->covering for the less specific ones. ix may be NULL.
 */
const registry_claim *registry_lookup_ip(const registry_index *ix, const net_prefix *addr);
const registry_claim *registry_lookup_asn(const registry_index *ix, uint32_t asn);
/* Any case, optional trailing dot; an A-label form (callers normalise IDNs first). */
const registry_claim *registry_lookup_domain(const registry_index *ix, const char *domain);

/* The feed pipeline's fast path: the owning organisation of an IPv4 address (host order), 0 for none.
 * When several organisations claim the same network, the lowest id. */
int64_t registry_owner_v4(const registry_index *ix, uint32_t addr);
/* The same for n addresses (out[i] for addrs[i]), with prefetching: several times faster for batches. */
void registry_owner_v4_many(const registry_index *ix, const uint32_t *addrs, int64_t *out, size_t n);

/* short_name of a registered organisation, NULL if unknown. */
const char *registry_org_name(const registry_index *ix, int64_t org_id);
/* Text of a claim's resource: "198.51.100.0/24", "AS64512", "example.bt". */
void registry_claim_text(const registry_claim *c, char out[DOMAIN_TEXT_MAX]);

typedef struct registry_counts {
    size_t orgs, networks, asns, domains, bytes;
} registry_counts;
void registry_index_counts(const registry_index *ix, registry_counts *out);

/*
 * Overlaps between organisations (`dzong constituents check`): each claim
 * made by more than one organisation (OVERLAP_SHARED), and each claim lying
 * inside a claim with a different set of organisations (OVERLAP_NESTED:
 * the more specific one wins for its addresses or subdomains). Calls fn in
 * a stable order (networks by address, then ASNs, then domains); returns
 * the count.
 */
typedef enum { OVERLAP_SHARED = 0, OVERLAP_NESTED } overlap_kind;
typedef void (*registry_overlap_fn)(void *arg, overlap_kind kind, const registry_claim *claim,
                                    const registry_claim *outer);
size_t registry_overlaps(const registry_index *ix, registry_overlap_fn fn, void *arg);

/*
 * registry_cell: the current snapshot, replaced without pausing readers.
 *
 * Readers: registry_cell_enter(), read through the returned index (NULL
 * before the first publish), registry_cell_leave() with the same ticket.
 * Between enter and leave the snapshot cannot be freed; keep the section
 * short (one lookup, one batch of events). Two atomic increments, no lock.
 *
 * Writers: registry_cell_publish() swaps in the new snapshot, then waits for
 * the readers that may still see the old one (a grace period over two reader
 * counters, so a steady stream of new readers cannot starve it) and frees it.
 * Publishers are serialised by a mutex; a reader must never publish.
 */
typedef struct registry_cell {
    _Atomic(registry_index *) current;
    atomic_uint epoch;
    atomic_long readers[2];
    pthread_mutex_t publish_lock;
} registry_cell;

typedef unsigned registry_ticket;

void registry_cell_init(registry_cell *c);
/* Frees the current snapshot; no reader may be inside. */
void registry_cell_destroy(registry_cell *c);
const registry_index *registry_cell_enter(registry_cell *c, registry_ticket *t);
void registry_cell_leave(registry_cell *c, registry_ticket t);
/* Takes ownership of fresh (may be NULL: empty). */
void registry_cell_publish(registry_cell *c, registry_index *fresh);
/* The version of the current snapshot, -1 when none. */
int64_t registry_cell_version(registry_cell *c);

#endif
