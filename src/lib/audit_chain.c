#include "lib/audit_chain.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void feed(crypto_hash_sha256_state *st, const char *s)
{
    char len[24];
    size_t n = s ? strlen(s) : 0;
    int k = snprintf(len, sizeof len, "%zu:", n);
    crypto_hash_sha256_update(st, (const unsigned char *)len, (unsigned long long)k);
    if (n)
        crypto_hash_sha256_update(st, (const unsigned char *)s, n);
}

void audit_chain_hash(const char *prev_hex, const audit_entry *en, char out_hex[AUDIT_HASH_HEX_LEN + 1])
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    char num[48];
    crypto_hash_sha256_init(&st);
    feed(&st, prev_hex);
    snprintf(num, sizeof num, "%" PRId64 "/%" PRId64, en->seq, en->at);
    feed(&st, num);
    feed(&st, en->actor);
    feed(&st, en->action);
    feed(&st, en->object);
    feed(&st, en->detail);
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(out_hex, AUDIT_HASH_HEX_LEN + 1, h, sizeof h);
}
