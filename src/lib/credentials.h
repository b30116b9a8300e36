/*
 * Secrets: passwords (argon2id), API tokens and session ids.
 *
 * Tokens and session ids are 32 random bytes; the store keeps only their
 * BLAKE2b-256 hash, so a stolen database does not yield working tokens, and
 * checking a token costs one hash and one indexed lookup, not a password hash.
 */
#ifndef DZ_CREDENTIALS_H
#define DZ_CREDENTIALS_H
#include <stdbool.h>
#include <stddef.h>
#include "lib/dz_err.h"

#define TOKEN_PREFIX "dzt_"
#define SECRET_TEXT_LEN 48   /* prefix + 43 base64url chars + NUL fits */
#define SECRET_HASH_HEX_LEN 64
#define PASSWORD_HASH_LEN 128 /* crypto_pwhash_STRBYTES */

/* Call once before threads start. */
dz_code credentials_init(dz_err *e);

/* "dzt_..." for API tokens, no prefix for session ids and CSRF tokens. */
void secret_generate(const char *prefix, char out[SECRET_TEXT_LEN]);
void secret_hash(const char *secret, char out_hex[SECRET_HASH_HEX_LEN + 1]);
/* Constant-time comparison of two NUL-terminated strings. */
bool secret_equal(const char *a, const char *b);

dz_code password_hash(const char *password, char out[PASSWORD_HASH_LEN], dz_err *e);
bool password_verify(const char *stored, const char *password);
bool password_needs_rehash(const char *stored);
/* Random printable password for the generated admin. */
void password_generate(char *out, size_t n);

#endif
