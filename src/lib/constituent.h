/*
 * constituent: the registry's record of an organisation and what it owns.
 *
 * Pure domain code: parsing and validation of networks (CIDR), AS numbers,
 * domains (IDNs become A-labels, via libidn2's IDNA2008/UTS#46 mapping),
 * contacts and notification preferences, and the one JSON shape of a
 * record (the API's, the store's and the JSON export's). Messages name the
 * field and the element ("networks[2]: 192.0.2.1/24 has host bits set").
 */
#ifndef DZ_CONSTITUENT_H
#define DZ_CONSTITUENT_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/dz_err.h"
#include "lib/marking.h"

/* ---- network resources ---- */

/* An IPv4 or IPv6 prefix. addr is in network byte order; IPv4 uses addr[0..3]. */
typedef struct net_prefix {
    uint8_t family; /* 4 or 6 */
    uint8_t len;    /* 0..32 or 0..128 */
    uint8_t addr[16];
} net_prefix;

#define NET_PREFIX_TEXT_MAX 48 /* "ffff:...:ffff/128" and the NUL */

/*
 * "192.0.2.0/24", "2001:db8::/32"; a bare address is a /32 or /128. Host bits
 * set: DZ_EINVAL ("192.0.2.1/24 has host bits set (network 192.0.2.0/24)").
 * Strict: no whitespace, no leading zeros in IPv4 parts or the length, no
 * zone. An IPv4-mapped prefix (::ffff:a.b.c.d/96+n) becomes the IPv4 a.b.c.d/n
 * so that each network has one form.
 */
dz_code net_prefix_parse(const char *text, net_prefix *out, dz_err *e);
/* A single address ("192.0.2.7", "2001:db8::1"), as a /32 or /128; IPv4-mapped becomes IPv4. */
dz_code ip_address_parse(const char *text, net_prefix *out, dz_err *e);
/* Canonical text, always with the length: "192.0.2.0/24", "2001:db8::/32" (RFC 5952). */
void net_prefix_format(const net_prefix *p, char out[NET_PREFIX_TEXT_MAX]);
/* IPv4 address of a family-4 prefix in host byte order. */
uint32_t net_prefix_v4(const net_prefix *p);
/* a contains b (same family, a.len <= b.len, b's address inside a). */
bool net_prefix_contains(const net_prefix *a, const net_prefix *b);

/*
 * "64512", "AS64512", "as64512", asdot "1.10" (= 65546; each half 0..65535).
 * 0 (reserved), > 4294967295, signs, spaces and leading zeros refused.
 */
dz_code asn_parse(const char *text, uint32_t *out, dz_err *e);

#define DOMAIN_TEXT_MAX 254
/*
 * Any domain name (U-label or A-label, any case, one optional trailing dot)
 * to its lowercase A-label form without the dot: "Bücher.Example." becomes
 * "xn--bcher-kva.example". Labels 1..63 of [a-z0-9-], not starting or
 * ending with '-', at least two labels, at most 253 characters; '_' is
 * refused (host names only), and so is a numeric last label (an address).
 * IDNA2008 nontransitional first, UTS #46 transitional when that disallows a
 * character (as curl does); A-labels are checked by libidn2 too.
 */
dz_code domain_normalize(const char *text, char out[DOMAIN_TEXT_MAX], dz_err *e);

/* ---- enumerations ---- */

typedef enum {
    ORG_GOVERNMENT = 0,
    ORG_CII_OPERATOR,
    ORG_ISP,
    ORG_PRIVATE,
    ORG_ACADEMIA,
    ORG_NGO,
    ORG_PARTNER_CERT,
    ORG_OTHER,
} org_kind;
dz_code org_kind_parse(const char *s, org_kind *out, dz_err *e);
const char *org_kind_name(org_kind k); /* "cii-operator" */

typedef enum { CONTACT_ABUSE = 0, CONTACT_SECURITY, CONTACT_MANAGEMENT, CONTACT_24X7 } contact_role;
dz_code contact_role_parse(const char *s, contact_role *out, dz_err *e);
const char *contact_role_name(contact_role r); /* "24x7" */

/* How often a contact hears about events; "never" for contacts that only get incident mail. */
typedef enum { NOTIFY_IMMEDIATE = 0, NOTIFY_HOURLY, NOTIFY_DAILY, NOTIFY_WEEKLY, NOTIFY_NEVER } notify_interval;
dz_code notify_interval_parse(const char *s, notify_interval *out, dz_err *e);
const char *notify_interval_name(notify_interval i);

/* The attachment format of digests. */
typedef enum { NOTIFY_FORMAT_CSV = 0, NOTIFY_FORMAT_JSON } notify_format;
dz_code notify_format_parse(const char *s, notify_format *out, dz_err *e);
const char *notify_format_name(notify_format f);

/* ---- sectors: configurable (dzong.conf `sectors = a, b, c`) ---- */
#define SECTOR_MAX 64
#define SECTOR_NAME_MAX 48
typedef struct sector_list {
    size_t n;
    char names[SECTOR_MAX][SECTOR_NAME_MAX];
} sector_list;
/* The national critical infrastructure sectors: government, energy, ict-telecom, ... */
void sector_list_default(sector_list *out);
/* Comma-separated names of [a-z0-9-], 1..47 characters each, no repeats. */
dz_code sector_list_parse(const char *text, sector_list *out, dz_err *e);
bool sector_list_has(const sector_list *l, const char *name);

/* ---- the record ---- */

typedef struct contact {
    char *name;     /* required, 1..200 bytes */
    char *email;    /* required, local@domain, domain normalised like domain_normalize */
    char *phone;    /* NULL or "+975 2 123456": digits, spaces and + - ( ) . */
    char *pgp;      /* NULL, a fingerprint (40 or 64 hex, normalised to upper case without
                       spaces) or an ASCII-armoured public key block */
    char *language; /* "en", "dz", "pt-BR": ISO 639 with optional region; default "en" */
    contact_role role;               /* default abuse */
    notify_interval notify_interval; /* default daily */
    notify_format notify_format;     /* default csv */
    tlp_level max_tlp;               /* highest TLP this contact may receive; default AMBER */
} contact;

#define CONSTITUENT_TIER_NONE 0 /* tiers are 1 (most critical) .. 3 */

typedef struct constituent_record {
    char *short_name; /* name_valid() */
    char *name;       /* 1..300 bytes */
    org_kind kind;    /* default other */
    char *sector;     /* NULL or one of the configured sectors */
    bool cii;         /* designated critical information infrastructure */
    int cii_tier;     /* CONSTITUENT_TIER_NONE, or 1..3 (only with cii) */
    char *parent;     /* NULL or the short name of the organisation above (a sectoral CIRT) */
    char **tags;      /* 1..64 of [a-z0-9._:-] each, no repeats */
    size_t n_tags;
    net_prefix *networks; /* no repeats */
    size_t n_networks;
    uint32_t *asns;
    size_t n_asns;
    char **domains;       /* A-labels */
    size_t n_domains;
    contact *contacts;
    size_t n_contacts;
} constituent_record;

/* Limits that keep one record sane (a big ISP still fits). */
#define CONSTITUENT_MAX_NETWORKS 100000
#define CONSTITUENT_MAX_ASNS 1000
#define CONSTITUENT_MAX_DOMAINS 10000
#define CONSTITUENT_MAX_CONTACTS 100
#define CONSTITUENT_MAX_TAGS 64

/*
 * The record from its JSON object (the API body, an element of a JSON
 * export). Strict: unknown fields are refused; fields the server computes
 * (created_at, updated_at, id; also in contacts) are ignored so a GET can be
 * sent back as a PUT. sectors NULL: the default list. On failure out is left
 * empty and the message starts with the path of the value it is about
 * ("networks[2]: ...", "contacts[0].email: ..."). Enumerations and sector
 * names are accepted in any case; null or "" mean none for sector, parent,
 * phone and pgp. Names may not hold control characters nor start or end with
 * a space. Repeated tags, networks (after canonicalisation), AS numbers and
 * domains (after normalisation) are refused. A contact's email keeps its
 * local part and gets its domain normalised; language case is normalised
 * ("pt-br" -> "pt-BR").
 */
dz_code constituent_from_json(const json_t *o, const sector_list *sectors, constituent_record *out, dz_err *e);
/* The record as JSON (without created_at/updated_at). NULL only when out of memory. */
json_t *constituent_to_json(const constituent_record *r);
void constituent_record_free(constituent_record *r);

/*
 * CSV: one row per contact; the organisation's columns repeat on each of its
 * rows (an organisation without contacts has one row with empty contact
 * columns). Lists inside a cell (tags, networks, asns, domains) are separated
 * by spaces (commas, tabs and line breaks are accepted too when reading). The
 * header names the columns, in any order (case and surrounding spaces do not
 * matter); unknown and repeated columns are refused, short_name and name are
 * required, the others optional; every row has as many fields as the header.
 * An empty cell is an absent value. Columns (docs/constituents.md):
 */
#define CONSTITUENT_CSV_COLUMNS                                                                                  \
    "short_name,name,kind,sector,cii,cii_tier,parent,tags,networks,asns,domains,"                                \
    "contact_name,contact_email,contact_phone,contact_role,contact_pgp,contact_language,contact_notify_interval," \
    "contact_notify_format,contact_max_tlp"

struct csv_reader;
struct strbuf;

/*
 * Called once per problem found while reading CSV; reading goes on so that all
 * are reported. msg does not repeat the line; it starts with the column where
 * one is known ("contact_email: ...", "networks[1]: ..."). Problems of an
 * organisation's columns are given the line of its first row, a contact's
 * problems the line of its row.
 */
typedef void (*constituent_csv_error_fn)(void *arg, uint64_t line, const char *msg);

/*
 * Reads a whole constituency CSV (header first). Rows of one short_name
 * are gathered (they need not be adjacent) and must agree on the
 * organisation's columns; each row with a contact_email adds a contact.
 * cii is true/false (yes/no, 1/0 accepted); cii_tier empty or 1..3.
 * On success *out holds *n records in order of first appearance (free each
 * with constituent_record_free, then the array). On any problem: each one
 * goes to on_error (may be NULL) with its line, nothing is returned, and
 * the result is DZ_EINVAL with a count in e.
 */
dz_code constituents_read_csv(struct csv_reader *r, const sector_list *sectors, constituent_record **out,
                              size_t *n, constituent_csv_error_fn on_error, void *arg, dz_err *e);
/* CONSTITUENT_CSV_COLUMNS and a line end. */
void constituents_csv_header(struct strbuf *out);
/* The record's rows (one per contact, at least one), each ending in "\r\n". */
void constituent_write_csv(const constituent_record *r, struct strbuf *out);

#endif
