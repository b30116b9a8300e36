/*
 * store_lookup.c: "whose is this address, AS number or domain?"
 *
 * The claims come from the in-memory registry index (lib/registry.c); the
 * owners' records (name, sector, CII status, contacts) from the store.
 */
#include "store/store_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

typedef enum { QUERY_IP, QUERY_ASN, QUERY_DOMAIN } query_kind;

typedef struct lookup_query {
    query_kind kind;
    net_prefix net; /* QUERY_IP: an address (/32, /128) or a network */
    uint32_t asn;
    char domain[DOMAIN_TEXT_MAX];
    char text[DOMAIN_TEXT_MAX]; /* the normalised value, for the answer */
} lookup_query;

static bool looks_like_asn(const char *v)
{
    if ((v[0] == 'A' || v[0] == 'a') && (v[1] == 'S' || v[1] == 's'))
        v += 2;
    if (!*v)
        return false;
    for (; *v; v++)
        if (!isdigit((unsigned char)*v) && *v != '.')
            return false;
    return true;
}

/* "::ffff:192.0.2.1" is asked as 192.0.2.1: the registry holds IPv4 networks as IPv4. */
static void unmap_v4(net_prefix *p)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (p->family != 6 || p->len < 96 || memcmp(p->addr, mapped, 12) != 0)
        return;
    memmove(p->addr, p->addr + 12, 4);
    memset(p->addr + 4, 0, 12);
    p->family = 4;
    p->len = (uint8_t)(p->len - 96);
}

static dz_code query_parse(const char *kind, const char *value, lookup_query *q, dz_err *e)
{
    memset(q, 0, sizeof *q);
    if (!value || !*value)
        return dz_fail(e, DZ_EINVAL, "%s: empty value", kind ? kind : "lookup");
    if (!kind) { /* guess: an address or network, an AS number, else a domain */
        net_prefix probe;
        dz_err ignore;
        kind = net_prefix_parse(value, &probe, &ignore) == DZ_OK ? "ip" : looks_like_asn(value) ? "asn" : "domain";
    }
    if (strcmp(kind, "ip") == 0) {
        q->kind = QUERY_IP;
        if (net_prefix_parse(value, &q->net, e) != DZ_OK)
            return dz_wrap(e, "ip");
        unmap_v4(&q->net);
        net_prefix_format(&q->net, q->text);
        if ((q->net.family == 4 && q->net.len == 32) || (q->net.family == 6 && q->net.len == 128))
            *strchr(q->text, '/') = '\0'; /* an address, not a network */
    } else if (strcmp(kind, "asn") == 0) {
        q->kind = QUERY_ASN;
        if (asn_parse(value, &q->asn, e) != DZ_OK)
            return dz_wrap(e, "asn");
        snprintf(q->text, sizeof q->text, "AS%u", q->asn);
    } else if (strcmp(kind, "domain") == 0) {
        q->kind = QUERY_DOMAIN;
        if (domain_normalize(value, q->domain, e) != DZ_OK)
            return dz_wrap(e, "domain");
        snprintf(q->text, sizeof q->text, "%s", q->domain);
    } else {
        return dz_fail(e, DZ_EINVAL, "lookup kind '%.20s' is not ip, asn or domain", kind);
    }
    return DZ_OK;
}

/* The most specific claim covering the whole query (for a network: not one inside it). */
static const registry_claim *claim_for(const registry_index *ix, const lookup_query *q)
{
    if (q->kind == QUERY_ASN)
        return registry_lookup_asn(ix, q->asn);
    if (q->kind == QUERY_DOMAIN)
        return registry_lookup_domain(ix, q->domain);
    const registry_claim *c = registry_lookup_ip(ix, &q->net);
    while (c && c->network.len > q->net.len)
        c = c->covering;
    return c;
}

static bool claim_has_org(const registry_claim *c, int64_t org)
{
    for (size_t i = 0; i < c->n_orgs; i++)
        if (c->org_ids[i] == org)
            return true;
    return false;
}

static const char *const claim_kind_names[] = {"network", "asn", "domain"};

/* An owner as the answer shows it: the record without its (possibly long) resource lists. */
static dz_code owner_json(store *s, int64_t org_id, json_t **out, dz_err *e)
{
    if (store_constituent_get_by_id(s, 0, org_id, out, e) != DZ_OK)
        return e->code;
    json_object_del(*out, "networks");
    json_object_del(*out, "asns");
    json_object_del(*out, "domains");
    return DZ_OK;
}

dz_code store_lookup(store *s, int64_t only_org, const char *kind, const char *value, json_t **out, dz_err *e)
{
    lookup_query q;
    if (query_parse(kind, value, &q, e) != DZ_OK)
        return e->code;
    static const char *const query_names[] = {"ip", "asn", "domain"};
    json_t *doc = json_object(), *matches = json_array(), *owners = json_array();
    json_object_set_new(doc, "query", json_pack("{s:s}", query_names[q.kind], q.text));
    json_object_set(doc, "constituents", owners);
    json_object_set(doc, "matches", matches);

    /* Collect what to answer inside the read section; the store is asked after leaving it. */
    int64_t owner_ids[64];
    size_t n_owners = 0;
    registry_ticket t;
    const registry_index *ix = store_registry_enter(s, &t);
    const registry_claim *best = claim_for(ix, &q);
    char best_text[DOMAIN_TEXT_MAX] = "";
    if (best)
        registry_claim_text(best, best_text);
    for (const registry_claim *c = best; c; c = c->covering) {
        if (only_org && !claim_has_org(c, only_org))
            continue;
        char text[DOMAIN_TEXT_MAX];
        registry_claim_text(c, text);
        json_t *names = json_array();
        for (size_t i = 0; i < c->n_orgs; i++) {
            if (only_org && c->org_ids[i] != only_org)
                continue;
            const char *name = registry_org_name(ix, c->org_ids[i]);
            json_array_append_new(names, json_string(name ? name : "?"));
            /* Owners are those of the most specific claim only: a constituent whose network merely
             * covers another organisation's is shown its claim, but not as the owner. */
            if (c == best && n_owners < sizeof owner_ids / sizeof *owner_ids)
                owner_ids[n_owners++] = c->org_ids[i];
        }
        json_array_append_new(matches, json_pack("{s:s, s:s, s:o}", "resource", text, "kind",
                                                 claim_kind_names[c->kind], "constituents", names));
    }
    store_registry_leave(s, t);

    dz_code rc = DZ_OK;
    for (size_t i = 0; rc == DZ_OK && i < n_owners; i++) {
        json_t *o;
        rc = owner_json(s, owner_ids[i], &o, e);
        if (rc == DZ_OK) {
            json_object_set_new(o, "matched", json_string(best_text));
            json_array_append_new(owners, o);
        } else if (rc == DZ_ENOTFOUND) { /* deleted since the index was built: it is no answer */
            rc = DZ_OK;
        }
    }
    json_decref(owners);
    json_decref(matches);
    if (rc != DZ_OK) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return DZ_OK;
}
