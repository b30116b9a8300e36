/*
 * test_openpgp.c: notify/openpgp.c against a real GnuPG in a temporary
 * GNUPGHOME (a short path under /tmp: gpg-agent's socket must fit a Unix
 * socket name). Keys are made here with GPGME (ed25519 to sign, cv25519 to
 * encrypt, no passphrase, no expiry); signatures are verified and
 * ciphertext decrypted with GPGME directly, not through the code under test.
 */
#include "unit.h"

#include <gpgme.h>
#include <jansson.h>
#include <unistd.h>

#include "notify/openpgp.h"

typedef struct {
    char home[64];   /* dzong's keyring */
    char other[64];  /* another party's keyring: keys that reach dzong only as armoured text */
    char cirt[65];   /* signs; its secret key is in home */
    char bob[65];    /* a contact whose key was made in home */
    char carol[65];  /* keys from other, exported armoured */
    char dave[65];
    char *carol_armor, *dave_armor;
} fx;

static gpgme_ctx_t ctx_for(const char *home)
{
    gpgme_ctx_t c;
    assert_int_equal(gpgme_new(&c), 0);
    assert_int_equal(gpgme_ctx_set_engine_info(c, GPGME_PROTOCOL_OpenPGP, NULL, home), 0);
    assert_int_equal(gpgme_set_pinentry_mode(c, GPGME_PINENTRY_MODE_LOOPBACK), 0);
    gpgme_set_armor(c, 1);
    return c;
}

/* A primary ed25519 signing key with a cv25519 encryption subkey; its fingerprint into fpr. */
static void make_key(gpgme_ctx_t c, const char *uid, unsigned flags, char fpr[65])
{
    gpgme_error_t err = gpgme_op_createkey(c, uid, "ed25519", 0, 0, NULL,
                                           GPGME_CREATE_SIGN | GPGME_CREATE_NOEXPIRE | flags);
    if (err)
        fail_msg("createkey %s: %s", uid, gpgme_strerror(err));
    gpgme_genkey_result_t r = gpgme_op_genkey_result(c);
    assert_non_null(r);
    assert_non_null(r->fpr);
    snprintf(fpr, 65, "%s", r->fpr);
    gpgme_key_t k;
    assert_int_equal(gpgme_get_key(c, fpr, &k, 1), 0);
    err = gpgme_op_createsubkey(c, k, "cv25519", 0, 0, GPGME_CREATE_ENCR | GPGME_CREATE_NOEXPIRE | flags);
    if (err)
        fail_msg("createsubkey %s: %s", uid, gpgme_strerror(err));
    gpgme_key_unref(k);
}

static char *export_armored(gpgme_ctx_t c, const char *fpr)
{
    gpgme_data_t d;
    assert_int_equal(gpgme_data_new(&d), 0);
    assert_int_equal(gpgme_op_export(c, fpr, 0, d), 0);
    size_t n;
    char *mem = gpgme_data_release_and_get_mem(d, &n);
    assert_non_null(mem);
    char *s = xmalloc(n + 1);
    memcpy(s, mem, n);
    s[n] = '\0';
    gpgme_free(mem);
    assert_contains(s, "-----BEGIN PGP PUBLIC KEY BLOCK-----");
    return s;
}

static gpgme_error_t give_passphrase(void *hook, const char *uid_hint, const char *info, int prev_bad, int fd)
{
    (void)hook, (void)uid_hint, (void)info, (void)prev_bad;
    gpgme_io_writen(fd, "correct horse\n", 14);
    return 0;
}

static void kill_agent(const char *home)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "gpgconf --homedir %s --kill all >/dev/null 2>&1", home);
    if (system(cmd) != 0) {
        /* nothing to kill is fine */
    }
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_non_null(gpgme_check_version(NULL));
    snprintf(f->home, sizeof f->home, "/tmp/dzpgp-XXXXXX");
    snprintf(f->other, sizeof f->other, "/tmp/dzpgo-XXXXXX");
    assert_non_null(mkdtemp(f->home));
    assert_non_null(mkdtemp(f->other));

    gpgme_ctx_t c = ctx_for(f->home);
    make_key(c, "Test CIRT <cirt@cirt.example>", GPGME_CREATE_NOPASSWD, f->cirt);
    make_key(c, "Bob <bob@isp.example>", GPGME_CREATE_NOPASSWD, f->bob);
    gpgme_release(c);

    c = ctx_for(f->other);
    make_key(c, "Carol <carol@bank.example>", GPGME_CREATE_NOPASSWD, f->carol);
    make_key(c, "Dave <dave@ministry.example>", GPGME_CREATE_NOPASSWD, f->dave);
    f->carol_armor = export_armored(c, f->carol);
    f->dave_armor = export_armored(c, f->dave);
    gpgme_release(c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    kill_agent(f->home);
    kill_agent(f->other);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", f->home, f->other);
    int rc = system(cmd);
    free(f->carol_armor);
    free(f->dave_armor);
    free(f);
    return rc == 0 ? 0 : 1;
}

static void test_sign_verify(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    openpgp *p;
    assert_dz_ok(openpgp_open(f->home, f->cirt, &p, &e), e);
    assert_true(openpgp_can_sign(p));

    const char *text = "Content-Type: text/plain; charset=utf-8\r\n\r\nHello, constituent.\r\n";
    strbuf sig;
    strbuf_init(&sig);
    char micalg[32];
    assert_dz_ok(openpgp_sign_detached(p, text, strlen(text), &sig, micalg, &e), e);
    assert_contains(sig.buf, "-----BEGIN PGP SIGNATURE-----");
    assert_int_equal(strncmp(micalg, "pgp-", 4), 0);
    for (const char *s = micalg; *s; s++)
        assert_false(*s >= 'A' && *s <= 'Z');

    /* Verified with GPGME directly: good, by the CIRT's key. */
    gpgme_ctx_t c = ctx_for(f->home);
    gpgme_data_t sd, td;
    assert_int_equal(gpgme_data_new_from_mem(&sd, sig.buf, sig.len, 0), 0);
    assert_int_equal(gpgme_data_new_from_mem(&td, text, strlen(text), 0), 0);
    assert_int_equal(gpgme_op_verify(c, sd, td, NULL), 0);
    gpgme_verify_result_t vr = gpgme_op_verify_result(c);
    assert_non_null(vr);
    assert_non_null(vr->signatures);
    assert_int_equal(gpgme_err_code(vr->signatures->status), GPG_ERR_NO_ERROR);
    assert_string_equal(vr->signatures->fpr, f->cirt);
    gpgme_data_release(sd);
    gpgme_data_release(td);

    /* A changed text does not verify. */
    const char *other = "Content-Type: text/plain; charset=utf-8\r\n\r\nHello, constituent!\r\n";
    assert_int_equal(gpgme_data_new_from_mem(&sd, sig.buf, sig.len, 0), 0);
    assert_int_equal(gpgme_data_new_from_mem(&td, other, strlen(other), 0), 0);
    assert_int_equal(gpgme_op_verify(c, sd, td, NULL), 0);
    vr = gpgme_op_verify_result(c);
    assert_int_equal(gpgme_err_code(vr->signatures->status), GPG_ERR_BAD_SIGNATURE);
    gpgme_data_release(sd);
    gpgme_data_release(td);
    gpgme_release(c);
    strbuf_free(&sig);
    openpgp_close(p);

    /* Without a sign key: no signing. */
    assert_dz_ok(openpgp_open(f->home, "", &p, &e), e);
    assert_false(openpgp_can_sign(p));
    strbuf_init(&sig);
    assert_dz_fails(openpgp_sign_detached(p, "x", 1, &sig, micalg, &e), DZ_EINVAL, e);
    strbuf_free(&sig);
    openpgp_close(p);
}

static void test_encrypt_decrypt(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    openpgp *p;
    assert_dz_ok(openpgp_open(f->home, NULL, &p, &e), e);
    char fpr[65];
    /* A fingerprint in another spelling resolves to the key's own. */
    char spaced[100] = "";
    for (int i = 0; i < 40; i++) {
        char ch = f->bob[i];
        size_t n = strlen(spaced);
        spaced[n] = (char)(ch >= 'A' && ch <= 'F' ? ch + 32 : ch);
        spaced[n + 1] = (i % 4 == 3) ? ' ' : '\0';
        spaced[n + 2] = '\0';
    }
    assert_dz_ok(openpgp_recipient(p, spaced, fpr, &e), e);
    assert_string_equal(fpr, f->bob);
    assert_dz_ok(openpgp_recipient(p, f->bob, fpr, &e), e); /* cached */
    assert_string_equal(fpr, f->bob);

    const char *text = "Content-Type: text/plain\r\n\r\nfor Bob only\r\n";
    strbuf ct;
    strbuf_init(&ct);
    assert_dz_ok(openpgp_encrypt(p, fpr, text, strlen(text), &ct, &e), e);
    assert_contains(ct.buf, "-----BEGIN PGP MESSAGE-----");

    gpgme_ctx_t c = ctx_for(f->home);
    gpgme_data_t cd, pd;
    assert_int_equal(gpgme_data_new_from_mem(&cd, ct.buf, ct.len, 0), 0);
    assert_int_equal(gpgme_data_new(&pd), 0);
    assert_int_equal(gpgme_op_decrypt(c, cd, pd), 0);
    gpgme_decrypt_result_t dr = gpgme_op_decrypt_result(c);
    assert_non_null(dr->recipients);
    size_t n;
    char *plain = gpgme_data_release_and_get_mem(pd, &n);
    assert_int_equal(n, strlen(text));
    assert_memory_equal(plain, text, n);
    gpgme_free(plain);
    gpgme_data_release(cd);
    gpgme_release(c);
    strbuf_free(&ct);

    /* Not a fingerprint. */
    strbuf_init(&ct);
    assert_dz_fails(openpgp_encrypt(p, "nope", "x", 1, &ct, &e), DZ_EINVAL, e);
    strbuf_free(&ct);
    openpgp_close(p);
}

static void test_import_and_recipients(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    openpgp *p;
    assert_dz_ok(openpgp_open(f->home, f->cirt, &p, &e), e);
    char fpr[65];

    /* Unknown until imported. */
    assert_dz_fails(openpgp_recipient(p, f->carol, fpr, &e), DZ_ENOTFOUND, e);
    assert_contains(e.msg, f->carol);
    int imported = -1;
    assert_dz_ok(openpgp_import(p, f->carol_armor, strlen(f->carol_armor), &imported, &e), e);
    assert_int_equal(imported, 1);
    assert_dz_ok(openpgp_import(p, f->carol_armor, strlen(f->carol_armor), &imported, &e), e);
    assert_int_equal(imported, 0);
    /* The import forgot the cached "not found". */
    assert_dz_ok(openpgp_recipient(p, f->carol, fpr, &e), e);
    assert_string_equal(fpr, f->carol);

    /* An armoured key is imported on first use. */
    assert_dz_ok(openpgp_recipient(p, f->dave_armor, fpr, &e), e);
    assert_string_equal(fpr, f->dave);
    assert_dz_ok(openpgp_recipient(p, f->dave_armor, fpr, &e), e);
    assert_string_equal(fpr, f->dave);
    strbuf ct;
    strbuf_init(&ct);
    assert_dz_ok(openpgp_encrypt(p, fpr, "hi", 2, &ct, &e), e);
    strbuf_free(&ct);

    /* Unknown and malformed values. */
    assert_dz_fails(openpgp_recipient(p, "0123456789ABCDEF0123456789ABCDEF01234567", fpr, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(openpgp_recipient(p, "", fpr, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(openpgp_recipient(p, "not a key", fpr, &e), DZ_EINVAL, e);
    assert_dz_fails(openpgp_recipient(p, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\ngarbage\n"
                                         "-----END PGP PUBLIC KEY BLOCK-----\n", fpr, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(openpgp_import(p, "hello", 5, &imported, &e), DZ_EINVAL, e);

    /* The listing. */
    char *json;
    assert_dz_ok(openpgp_list(p, &json, &e), e);
    json_t *list = json_loads(json, 0, NULL);
    assert_non_null(list);
    assert_int_equal(json_array_size(list), 4);
    size_t i;
    json_t *k;
    int secrets = 0;
    json_array_foreach(list, i, k) {
        const char *kf = json_string_value(json_object_get(k, "fingerprint"));
        assert_non_null(kf);
        assert_true(json_is_array(json_object_get(k, "uids")));
        assert_true(json_is_null(json_object_get(k, "expires")));
        assert_true(json_is_false(json_object_get(k, "revoked")));
        bool secret = json_is_true(json_object_get(k, "secret"));
        secrets += secret;
        if (strcmp(kf, f->cirt) == 0) {
            assert_true(secret);
            assert_string_equal(json_string_value(json_array_get(json_object_get(k, "uids"), 0)),
                                "Test CIRT <cirt@cirt.example>");
        }
        if (strcmp(kf, f->carol) == 0)
            assert_false(secret);
    }
    assert_int_equal(secrets, 2); /* the CIRT and Bob, made here */
    json_decref(list);
    free(json);
    openpgp_close(p);
}

static void test_bad_sign_keys(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    openpgp *p = NULL;
    assert_dz_fails(openpgp_open(f->home, "not-a-fingerprint", &p, &e), DZ_EINVAL, e);
    assert_null(p);
    assert_dz_fails(openpgp_open(f->home, "0123456789ABCDEF0123456789ABCDEF01234567", &p, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "no such secret key");
    /* A public key only (Carol's, imported by the test before or now). */
    assert_dz_ok(openpgp_open(f->home, NULL, &p, &e), e);
    assert_dz_ok(openpgp_import(p, f->carol_armor, strlen(f->carol_armor), NULL, &e), e);
    openpgp_close(p);
    assert_dz_fails(openpgp_open(f->home, f->carol, &p, &e), DZ_EINVAL, e);
    assert_null(p);

    /* A key with a passphrase is refused, saying why (the agent forgets it first). */
    char pw_home[64] = "/tmp/dzpgw-XXXXXX", fpr[65];
    assert_non_null(mkdtemp(pw_home));
    gpgme_ctx_t c = ctx_for(pw_home);
    gpgme_set_passphrase_cb(c, give_passphrase, NULL);
    gpgme_error_t err = gpgme_op_createkey(c, "Protected <p@cirt.example>", "ed25519", 0, 0, NULL,
                                           GPGME_CREATE_SIGN | GPGME_CREATE_NOEXPIRE);
    if (err)
        fail_msg("createkey with a passphrase: %s", gpgme_strerror(err));
    snprintf(fpr, sizeof fpr, "%s", gpgme_op_genkey_result(c)->fpr);
    gpgme_release(c);
    kill_agent(pw_home);
    assert_dz_fails(openpgp_open(pw_home, fpr, &p, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "passphrase");
    kill_agent(pw_home);
    char cmd[120];
    snprintf(cmd, sizeof cmd, "rm -rf %s", pw_home);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_encrypt_decrypt),
        cmocka_unit_test(test_import_and_recipients),
        cmocka_unit_test(test_bad_sign_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
