#include "lib/credentials.h"

#include <sodium.h>
#include <string.h>

/* argon2id at libsodium's "interactive" cost: ~64 MiB and a few tens of ms per check. */
#define PW_OPS crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PW_MEM crypto_pwhash_MEMLIMIT_INTERACTIVE

dz_code credentials_init(dz_err *e)
{
    if (sodium_init() < 0)
        return dz_fail(e, DZ_EINTERNAL, "libsodium failed to initialise");
    return DZ_OK;
}

void secret_generate(const char *prefix, char out[SECRET_TEXT_LEN])
{
    unsigned char raw[32];
    size_t pl = prefix ? strlen(prefix) : 0;
    randombytes_buf(raw, sizeof raw);
    memcpy(out, prefix, pl);
    sodium_bin2base64(out + pl, SECRET_TEXT_LEN - pl, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

void secret_hash(const char *secret, char out_hex[SECRET_HASH_HEX_LEN + 1])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)secret, strlen(secret), NULL, 0);
    sodium_bin2hex(out_hex, SECRET_HASH_HEX_LEN + 1, h, sizeof h);
}

bool secret_equal(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (n != strlen(b))
        return false;
    return sodium_memcmp(a, b, n) == 0;
}

dz_code password_hash(const char *password, char out[PASSWORD_HASH_LEN], dz_err *e)
{
    if (crypto_pwhash_str(out, password, strlen(password), PW_OPS, PW_MEM) != 0)
        return dz_fail(e, DZ_ENOMEM, "password hashing ran out of memory");
    return DZ_OK;
}

bool password_verify(const char *stored, const char *password)
{
    return crypto_pwhash_str_verify(stored, password, strlen(password)) == 0;
}

bool password_needs_rehash(const char *stored)
{
    return crypto_pwhash_str_needs_rehash(stored, PW_OPS, PW_MEM) != 0;
}

void password_generate(char *out, size_t n)
{
    static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    for (size_t i = 0; i + 1 < n; i++)
        out[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    out[n - 1] = '\0';
}
