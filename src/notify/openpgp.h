/*
 * openpgp: signing and encryption of notifications with GPGME, against a
 * keyring of dzong's own (GNUPGHOME = DATA/gnupg, created 0700), so the
 * operator's personal keyring is never touched.
 *
 * The CIRT's secret key is imported there (`dzong notify keys import`);
 * contacts' public keys come from the registry (a contact's pgp: an
 * armoured key, imported on first use, or a fingerprint of a key already
 * in the keyring).
 */
#ifndef DZ_OPENPGP_H
#define DZ_OPENPGP_H
#include <stdbool.h>
#include <stddef.h>
#include "lib/dz_err.h"
#include "lib/strbuf.h"

typedef struct openpgp openpgp;

/*
 * Opens the keyring in home (created 0700 when missing). sign_key: the
 * fingerprint of the secret key to sign with, "" or NULL: do not sign
 * (DZ_EINVAL when it names no usable secret key in the keyring, saying so).
 * Each thread uses its own openpgp (GPGME contexts are not shared).
 */
dz_code openpgp_open(const char *home, const char *sign_key, openpgp **out, dz_err *e);
void openpgp_close(openpgp *p);
bool openpgp_can_sign(const openpgp *p);

/* Imports armoured or binary keys (public or secret); *imported: how many keys were new or changed. */
dz_code openpgp_import(openpgp *p, const char *data, size_t len, int *imported, dz_err *e);
/* The keyring's keys: [{"fingerprint","uids":[...],"secret":bool,"expires":time|null,"revoked":bool}]. */
dz_code openpgp_list(openpgp *p, char **json_text, dz_err *e);

/* A detached ASCII-armoured signature over data (micalg: "pgp-sha256" etc., for mime_signed). */
dz_code openpgp_sign_detached(openpgp *p, const char *data, size_t len, strbuf *sig, char micalg[32], dz_err *e);

/*
 * Resolves a contact's pgp value (a fingerprint, or an armoured key that is
 * imported first) to the fingerprint of a valid encryption key:
 * DZ_ENOTFOUND when there is none (expired, revoked, not in the keyring).
 */
dz_code openpgp_recipient(openpgp *p, const char *pgp_value, char fingerprint[65], dz_err *e);
/* Encrypts data to fingerprint (trusted as given: the registry vouches for it), ASCII-armoured. */
dz_code openpgp_encrypt(openpgp *p, const char *fingerprint, const char *data, size_t len, strbuf *out, dz_err *e);

#endif
