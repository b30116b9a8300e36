/*
 * openpgp.c: signing and encryption with GPGME (see openpgp.h).
 *
 * Each openpgp holds one GPGME context bound to dzong's own keyring
 * (gpgme_ctx_set_engine_info with home as GNUPGHOME), ASCII armour on, and
 * pinentry mode loopback with a passphrase callback that refuses: dzong signs
 * unattended, so the CIRT's signing key must be stored without a passphrase
 * (protect it with the data directory's permissions instead). A key that
 * asks for one fails with a message that says so, at openpgp_open (which
 * makes one trial signature), not halfway through a round.
 *
 * gpg starts a gpg-agent for the keyring; its socket lives in home, or in
 * /run/user/UID/gnupg/d.* when home's path is too long for a Unix socket.
 *
 * Encryption uses GPGME_ENCRYPT_ALWAYS_TRUST: the constituency registry, not
 * the web of trust, vouches for a contact's key. Recipients are resolved to
 * a usable encryption key (not revoked, expired, disabled or invalid) and the
 * answers are cached for a few minutes per openpgp, so a round with thousands
 * of contacts does not run gpg once per contact to look up the same keys.
 */
#include "notify/openpgp.h"

#include <ctype.h>
#include <errno.h>
#include <gpgme.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/timeutil.h"

#define CACHE_TTL_S 300
#define ARMOR_PUBLIC "-----BEGIN PGP PUBLIC KEY BLOCK-----"

/* A cached recipient resolution: sha256 of the pgp value -> fingerprint, or why there is none. */
typedef struct cache_entry {
    unsigned char key[crypto_hash_sha256_BYTES];
    bool used;
    int64_t at;
    dz_code rc;
    char fpr[65];
    char msg[200];
} cache_entry;

struct openpgp {
    gpgme_ctx_t ctx;
    char home[PATH_MAX];
    gpgme_key_t signer; /* NULL: not signing */
    bool passphrase_asked;
    cache_entry *cache; /* open addressing, cap a power of two, at most half full */
    size_t cache_cap, cache_used;
};

static pthread_once_t gpgme_once = PTHREAD_ONCE_INIT;
static const char *gpgme_version;

static void gpgme_init_once(void)
{
    gpgme_version = gpgme_check_version(NULL);
}

static const char *gerr(gpgme_error_t err, char *buf, size_t n)
{
    if (gpgme_strerror_r(err, buf, n) != 0)
        snprintf(buf, n, "error %u", (unsigned)err);
    return buf;
}

/* The passphrase callback: dzong has no one to ask. */
static gpgme_error_t on_passphrase(void *hook, const char *uid_hint, const char *info, int prev_bad, int fd)
{
    (void)uid_hint, (void)info, (void)prev_bad, (void)fd;
    openpgp *p = hook;
    p->passphrase_asked = true;
    return gpg_error(GPG_ERR_CANCELED);
}

/* mkdir -p, the last component 0700. */
static dz_code make_home(const char *home, dz_err *e)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", home) >= (int)sizeof path)
        return dz_fail(e, DZ_EINVAL, "keyring directory: path too long");
    for (char *s = path + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return dz_fail(e, DZ_EIO, "keyring directory %s: %s", path, strerror(errno));
        *s = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return dz_fail(e, DZ_EIO, "keyring directory %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return dz_fail(e, DZ_EIO, "keyring directory %s: not a directory", path);
    return DZ_OK;
}

/* "ABCD 1234 ..." or "0xabcd..." -> 40 or 64 upper-case hex digits; false otherwise. */
static bool normalise_fpr(const char *in, char out[65])
{
    size_t n = 0;
    if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X'))
        in += 2;
    for (const char *s = in; *s; s++) {
        if (*s == ' ')
            continue;
        if (!isxdigit((unsigned char)*s) || n == 64)
            return false;
        out[n++] = (char)toupper((unsigned char)*s);
    }
    out[n] = '\0';
    return n == 40 || n == 64;
}

static bool key_usable(gpgme_key_t k)
{
    return k && !k->revoked && !k->expired && !k->disabled && !k->invalid;
}

static bool key_can_sign(gpgme_key_t k)
{
    if (!key_usable(k))
        return false;
    for (gpgme_subkey_t s = k->subkeys; s; s = s->next)
        if (s->can_sign && s->secret && !s->revoked && !s->expired && !s->disabled && !s->invalid)
            return true;
    return false;
}

static bool key_can_encrypt(gpgme_key_t k)
{
    if (!key_usable(k))
        return false;
    for (gpgme_subkey_t s = k->subkeys; s; s = s->next)
        if (s->can_encrypt && !s->revoked && !s->expired && !s->disabled && !s->invalid)
            return true;
    return false;
}

static dz_code take_data(gpgme_data_t d, strbuf *out, dz_err *e)
{
    size_t n = 0;
    char *mem = gpgme_data_release_and_get_mem(d, &n);
    if (!mem && n)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    strbuf_append(out, mem ? mem : "", n);
    gpgme_free(mem);
    if (out->oom)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    return DZ_OK;
}

/* The trial signature of openpgp_open and the real ones. */
static dz_code sign_detached(openpgp *p, const char *data, size_t len, strbuf *sig, char micalg[32], dz_err *e)
{
    char eb[200];
    gpgme_data_t in = NULL, out = NULL;
    gpgme_error_t err = gpgme_data_new_from_mem(&in, data, len, 0);
    if (!err)
        err = gpgme_data_new(&out);
    if (err) {
        gpgme_data_release(in);
        gpgme_data_release(out);
        return dz_fail(e, DZ_ENOMEM, "OpenPGP: %s", gerr(err, eb, sizeof eb));
    }
    p->passphrase_asked = false;
    err = gpgme_op_sign(p->ctx, in, out, GPGME_SIG_MODE_DETACH);
    gpgme_data_release(in);
    gpgme_sign_result_t res = err ? NULL : gpgme_op_sign_result(p->ctx);
    if (err || !res || res->invalid_signers || !res->signatures) {
        gpgme_data_release(out);
        if (p->passphrase_asked || gpgme_err_code(err) == GPG_ERR_CANCELED ||
            gpgme_err_code(err) == GPG_ERR_NO_PASSPHRASE || gpgme_err_code(err) == GPG_ERR_BAD_PASSPHRASE)
            return dz_fail(e, DZ_EINVAL, "signing key %s is protected by a passphrase: dzong signs unattended and "
                                         "needs a key without one (remove it with gpg --homedir %s --passwd)",
                           p->signer->subkeys->fpr, p->home);
        if (err)
            return dz_fail(e, DZ_EINVAL, "signing with %s failed: %s", p->signer->subkeys->fpr, gerr(err, eb, sizeof eb));
        return dz_fail(e, DZ_EINVAL, "signing with %s failed: %s", p->signer->subkeys->fpr,
                       res && res->invalid_signers ? gerr(res->invalid_signers->reason, eb, sizeof eb)
                                                   : "no signature made");
    }
    const char *h = gpgme_hash_algo_name(res->signatures->hash_algo);
    if (micalg) {
        snprintf(micalg, 32, "pgp-%s", h ? h : "sha256");
        for (char *s = micalg; *s; s++)
            *s = (char)tolower((unsigned char)*s);
    }
    return take_data(out, sig, e);
}

dz_code openpgp_open(const char *home, const char *sign_key, openpgp **out, dz_err *e)
{
    *out = NULL;
    pthread_once(&gpgme_once, gpgme_init_once);
    if (!gpgme_version)
        return dz_fail(e, DZ_EINTERNAL, "GPGME: version check failed");
    char eb[200];
    gpgme_error_t err = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP);
    if (err)
        return dz_fail(e, DZ_EINTERNAL, "GnuPG (gpg) is not usable: %s", gerr(err, eb, sizeof eb));
    if (make_home(home, e) != DZ_OK)
        return e->code;

    openpgp *p = calloc(1, sizeof *p);
    if (!p)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    snprintf(p->home, sizeof p->home, "%s", home);
    err = gpgme_new(&p->ctx);
    if (!err)
        err = gpgme_set_protocol(p->ctx, GPGME_PROTOCOL_OpenPGP);
    if (!err)
        err = gpgme_ctx_set_engine_info(p->ctx, GPGME_PROTOCOL_OpenPGP, NULL, p->home);
    if (!err)
        err = gpgme_set_pinentry_mode(p->ctx, GPGME_PINENTRY_MODE_LOOPBACK);
    if (err) {
        openpgp_close(p);
        return dz_fail(e, DZ_EINTERNAL, "GPGME: %s", gerr(err, eb, sizeof eb));
    }
    gpgme_set_armor(p->ctx, 1);
    /* The registry vouches for keys, not the web of trust: no trust database work per gpg run (a third faster). */
    (void)gpgme_set_ctx_flag(p->ctx, "trust-model", "always");
    gpgme_set_passphrase_cb(p->ctx, on_passphrase, p);

    if (sign_key && *sign_key) {
        char fpr[65];
        if (!normalise_fpr(sign_key, fpr)) {
            openpgp_close(p);
            return dz_fail(e, DZ_EINVAL, "pgp_sign_key '%.80s' is not a fingerprint (40 or 64 hex digits)", sign_key);
        }
        gpgme_key_t k = NULL;
        err = gpgme_get_key(p->ctx, fpr, &k, 1);
        if (err || !k) {
            openpgp_close(p);
            if (gpgme_err_code(err) == GPG_ERR_EOF)
                return dz_fail(e, DZ_EINVAL, "pgp_sign_key %s: no such secret key in %s (import it with "
                                             "`dzong notify keys import`)", fpr, home);
            return dz_fail(e, DZ_EINVAL, "pgp_sign_key %s: %s", fpr, gerr(err, eb, sizeof eb));
        }
        if (!key_can_sign(k)) {
            const char *why = k->revoked ? "revoked" : k->expired ? "expired" : k->disabled ? "disabled"
                                                                             : "not usable for signing";
            gpgme_key_unref(k);
            openpgp_close(p);
            return dz_fail(e, DZ_EINVAL, "pgp_sign_key %s: the key is %s", fpr, why);
        }
        err = gpgme_signers_add(p->ctx, k);
        if (err) {
            gpgme_key_unref(k);
            openpgp_close(p);
            return dz_fail(e, DZ_EINTERNAL, "GPGME: %s", gerr(err, eb, sizeof eb));
        }
        p->signer = k;
        /* A trial signature: a passphrase or a broken agent shows now, not per message. */
        strbuf sig;
        strbuf_init(&sig);
        dz_code rc = sign_detached(p, "dzong", 5, &sig, NULL, e);
        strbuf_free(&sig);
        if (rc != DZ_OK) {
            openpgp_close(p);
            return rc;
        }
    }
    *out = p;
    return DZ_OK;
}

void openpgp_close(openpgp *p)
{
    if (!p)
        return;
    if (p->ctx)
        gpgme_release(p->ctx);
    if (p->signer)
        gpgme_key_unref(p->signer);
    free(p->cache);
    free(p);
}

bool openpgp_can_sign(const openpgp *p)
{
    return p && p->signer;
}

/* Imports data; fprs (may be NULL) gets the primary fingerprints the data held (up to max). */
static dz_code import(openpgp *p, const char *data, size_t len, int *imported, char (*fprs)[65], size_t max,
                      size_t *n_fprs, dz_err *e)
{
    char eb[200];
    gpgme_data_t d = NULL;
    gpgme_error_t err = gpgme_data_new_from_mem(&d, data, len, 0);
    if (err)
        return dz_fail(e, DZ_ENOMEM, "OpenPGP: %s", gerr(err, eb, sizeof eb));
    err = gpgme_op_import(p->ctx, d);
    gpgme_data_release(d);
    gpgme_import_result_t r = err ? NULL : gpgme_op_import_result(p->ctx);
    if (err || !r)
        return dz_fail(e, DZ_EINVAL, "key import failed: %s", err ? gerr(err, eb, sizeof eb) : "no result");
    if (r->considered == 0)
        return dz_fail(e, DZ_EINVAL, "no OpenPGP key found in the data");
    if (r->secret_read > 0 && r->secret_imported + r->secret_unchanged < r->secret_read)
        return dz_fail(e, DZ_EINVAL, "%d of %d secret keys were not imported (protected by a passphrase? dzong "
                                     "needs keys without one)",
                       r->secret_read - r->secret_imported - r->secret_unchanged, r->secret_read);
    /* Count distinct fingerprints that changed: a secret key is listed twice (public and secret part). */
    int changed = 0;
    size_t nf = 0;
    for (gpgme_import_status_t s = r->imports; s; s = s->next) {
        if (s->result || !s->fpr)
            continue;
        bool seen = false;
        for (gpgme_import_status_t t = r->imports; t != s && !seen; t = t->next)
            seen = !t->result && t->fpr && strcmp(t->fpr, s->fpr) == 0;
        if (seen)
            continue;
        bool any = false;
        for (gpgme_import_status_t t = s; t; t = t->next)
            if (!t->result && t->fpr && strcmp(t->fpr, s->fpr) == 0 && t->status)
                any = true;
        changed += any;
        if (fprs && nf < max)
            snprintf(fprs[nf++], 65, "%s", s->fpr);
    }
    if (n_fprs)
        *n_fprs = nf;
    if (imported)
        *imported = changed;
    if (r->not_imported > 0 && nf == 0)
        return dz_fail(e, DZ_EINVAL, "no key could be imported (%d refused)", r->not_imported);
    return DZ_OK;
}

dz_code openpgp_import(openpgp *p, const char *data, size_t len, int *imported, dz_err *e)
{
    int n = 0;
    dz_code rc = import(p, data, len, &n, NULL, 0, NULL, e);
    if (imported)
        *imported = n;
    if (rc == DZ_OK && p->cache) { /* keys changed: ask again */
        memset(p->cache, 0, p->cache_cap * sizeof *p->cache);
        p->cache_used = 0;
    }
    return rc;
}

dz_code openpgp_list(openpgp *p, char **json_text, dz_err *e)
{
    *json_text = NULL;
    char eb[200];
    gpgme_keylist_mode_t mode = gpgme_get_keylist_mode(p->ctx);
    gpgme_set_keylist_mode(p->ctx, GPGME_KEYLIST_MODE_LOCAL | GPGME_KEYLIST_MODE_WITH_SECRET);
    gpgme_error_t err = gpgme_op_keylist_start(p->ctx, NULL, 0);
    json_t *list = json_array();
    bool bad = !list;
    while (!err && !bad) {
        gpgme_key_t k;
        err = gpgme_op_keylist_next(p->ctx, &k);
        if (err)
            break;
        json_t *uids = json_array();
        for (gpgme_user_id_t u = k->uids; u && uids; u = u->next)
            if (u->uid)
                json_array_append_new(uids, json_string(u->uid));
        json_t *expires = json_null();
        if (k->subkeys && k->subkeys->expires > 0) {
            char t[32];
            time_format_iso((int64_t)k->subkeys->expires, t, sizeof t);
            json_decref(expires);
            expires = json_string(t);
        }
        json_t *o = json_pack("{s:s, s:o, s:b, s:o, s:b}", "fingerprint", k->subkeys ? k->subkeys->fpr : "",
                              "uids", uids ? uids : json_array(), "secret", k->secret, "expires", expires,
                              "revoked", k->revoked);
        bad = !o || json_array_append_new(list, o) != 0;
        gpgme_key_unref(k);
    }
    gpgme_op_keylist_end(p->ctx);
    gpgme_set_keylist_mode(p->ctx, mode);
    if (bad) {
        json_decref(list);
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    if (gpgme_err_code(err) != GPG_ERR_EOF) {
        json_decref(list);
        return dz_fail(e, DZ_EIO, "listing keys: %s", gerr(err, eb, sizeof eb));
    }
    *json_text = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    if (!*json_text)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    return DZ_OK;
}

dz_code openpgp_sign_detached(openpgp *p, const char *data, size_t len, strbuf *sig, char micalg[32], dz_err *e)
{
    if (!p->signer)
        return dz_fail(e, DZ_EINVAL, "no signing key configured (pgp_sign_key)");
    return sign_detached(p, data, len, sig, micalg, e);
}

/* ---------------------------------------------------------------- recipients */

static cache_entry *cache_slot(openpgp *p, const unsigned char key[crypto_hash_sha256_BYTES])
{
    if (!p->cache_cap)
        return NULL;
    uint64_t h;
    memcpy(&h, key, sizeof h);
    for (size_t i = (size_t)h & (p->cache_cap - 1);; i = (i + 1) & (p->cache_cap - 1))
        if (!p->cache[i].used || memcmp(p->cache[i].key, key, crypto_hash_sha256_BYTES) == 0)
            return &p->cache[i];
}

static void cache_put(openpgp *p, const unsigned char key[crypto_hash_sha256_BYTES], dz_code rc, const char *fpr,
                      const char *msg)
{
    if ((p->cache_used + 1) * 2 > p->cache_cap) {
        size_t cap = p->cache_cap ? p->cache_cap * 2 : 64;
        cache_entry *old = p->cache, *nc = calloc(cap, sizeof *nc);
        if (!nc)
            return; /* no cache: only slower */
        size_t old_cap = p->cache_cap;
        p->cache = nc;
        p->cache_cap = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].used)
                *cache_slot(p, old[i].key) = old[i];
        free(old);
    }
    cache_entry *c = cache_slot(p, key);
    if (!c->used)
        p->cache_used++;
    memcpy(c->key, key, sizeof c->key);
    c->used = true;
    c->at = (int64_t)time(NULL);
    c->rc = rc;
    snprintf(c->fpr, sizeof c->fpr, "%s", fpr ? fpr : "");
    snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "");
}

/* The fingerprint of fpr's key when it can take encrypted mail. */
static dz_code usable_recipient(openpgp *p, const char *fpr, char out[65], dz_err *e)
{
    char eb[200];
    gpgme_key_t k = NULL;
    gpgme_error_t err = gpgme_get_key(p->ctx, fpr, &k, 0);
    if (gpgme_err_code(err) == GPG_ERR_EOF || (!err && !k))
        return dz_fail(e, DZ_ENOTFOUND, "no key %s in the keyring", fpr);
    if (err)
        return dz_fail(e, DZ_ENOTFOUND, "key %s: %s", fpr, gerr(err, eb, sizeof eb));
    dz_code rc = DZ_OK;
    if (!key_can_encrypt(k))
        rc = dz_fail(e, DZ_ENOTFOUND, "key %s is %s", fpr,
                     k->revoked ? "revoked" : k->expired ? "expired" : k->disabled ? "disabled"
                                                                 : "not usable for encryption");
    else
        snprintf(out, 65, "%s", k->subkeys->fpr);
    gpgme_key_unref(k);
    return rc;
}

dz_code openpgp_recipient(openpgp *p, const char *pgp_value, char fingerprint[65], dz_err *e)
{
    fingerprint[0] = '\0';
    if (!pgp_value || !*pgp_value)
        return dz_fail(e, DZ_ENOTFOUND, "no OpenPGP key given");
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)pgp_value, strlen(pgp_value));
    cache_entry *c = cache_slot(p, h);
    if (c && c->used && (int64_t)time(NULL) - c->at < CACHE_TTL_S) {
        if (c->rc == DZ_OK) {
            snprintf(fingerprint, 65, "%s", c->fpr);
            return DZ_OK;
        }
        return dz_fail(e, c->rc, "%s", c->msg);
    }

    dz_code rc;
    const char *v = pgp_value;
    while (isspace((unsigned char)*v))
        v++;
    if (strncmp(v, ARMOR_PUBLIC, strlen(ARMOR_PUBLIC)) == 0) {
        char fprs[8][65];
        size_t n = 0;
        rc = import(p, v, strlen(v), NULL, fprs, 8, &n, e);
        if (rc != DZ_OK)
            rc = dz_fail(e, DZ_ENOTFOUND, "the contact's key could not be imported: %.300s", e->msg);
        else {
            rc = dz_fail(e, DZ_ENOTFOUND, "the contact's key block holds no key");
            for (size_t i = 0; i < n; i++) {
                dz_err ie = {0};
                rc = usable_recipient(p, fprs[i], fingerprint, &ie);
                if (rc == DZ_OK)
                    break;
                *e = ie;
            }
        }
    } else {
        char fpr[65];
        if (!normalise_fpr(v, fpr))
            rc = dz_fail(e, DZ_EINVAL, "'%.60s' is neither a fingerprint nor an armoured public key", v);
        else
            rc = usable_recipient(p, fpr, fingerprint, e);
    }
    cache_put(p, h, rc, fingerprint, rc == DZ_OK ? NULL : e->msg);
    return rc;
}

dz_code openpgp_encrypt(openpgp *p, const char *fingerprint, const char *data, size_t len, strbuf *out, dz_err *e)
{
    char fpr[65], eb[200];
    if (!normalise_fpr(fingerprint, fpr))
        return dz_fail(e, DZ_EINVAL, "'%.80s' is not a fingerprint", fingerprint);
    gpgme_data_t in = NULL, cipher = NULL;
    gpgme_error_t err = gpgme_data_new_from_mem(&in, data, len, 0);
    if (!err)
        err = gpgme_data_new(&cipher);
    if (err) {
        gpgme_data_release(in);
        gpgme_data_release(cipher);
        return dz_fail(e, DZ_ENOMEM, "OpenPGP: %s", gerr(err, eb, sizeof eb));
    }
    /* The recipient by fingerprint (gpg picks its encryption subkey); a list of one, newline-ended. */
    char recp[70];
    snprintf(recp, sizeof recp, "%s\n", fpr);
    err = gpgme_op_encrypt_ext(p->ctx, NULL, recp, GPGME_ENCRYPT_ALWAYS_TRUST, in, cipher);
    gpgme_data_release(in);
    gpgme_encrypt_result_t res = err ? NULL : gpgme_op_encrypt_result(p->ctx);
    if (err || (res && res->invalid_recipients)) {
        gpgme_data_release(cipher);
        gpgme_error_t why = err ? err : res->invalid_recipients->reason;
        if (gpgme_err_code(why) == GPG_ERR_UNUSABLE_PUBKEY || gpgme_err_code(why) == GPG_ERR_NO_PUBKEY)
            return dz_fail(e, DZ_ENOTFOUND, "encrypting to %s: %s", fpr, gerr(why, eb, sizeof eb));
        return dz_fail(e, DZ_EINVAL, "encrypting to %s: %s", fpr, gerr(why, eb, sizeof eb));
    }
    return take_data(cipher, out, e);
}
