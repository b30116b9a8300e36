/*
 * The audit log's hash chain. Each entry's hash is SHA-256 over the previous
 * entry's hash and this entry's fields, each length-prefixed so no two
 * different entries can serialise alike. Altering, removing or reordering an
 * entry breaks every hash after it; `dzong audit verify` finds the first.
 */
#ifndef DZ_AUDIT_CHAIN_H
#define DZ_AUDIT_CHAIN_H
#include <stdint.h>

#define AUDIT_HASH_HEX_LEN 64
/* The hash before the first entry. */
#define AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct audit_entry {
    int64_t seq;
    int64_t at;
    const char *actor;  /* user name, or "system" */
    const char *action; /* "incident.create" */
    const char *object; /* "BTCIRT-2026-00001" */
    const char *detail; /* JSON text */
} audit_entry;

void audit_chain_hash(const char *prev_hex, const audit_entry *entry, char out_hex[AUDIT_HASH_HEX_LEN + 1]);

#endif
