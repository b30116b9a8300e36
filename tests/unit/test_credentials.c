/*
 * Secrets: token generation and hashing, constant-time comparison, argon2id
 * passwords. argon2id costs ~64 MiB and tens of milliseconds, so the whole
 * file hashes a password exactly twice (and verifies four times).
 */
#include "unit.h"

#include <stdlib.h>

#include "lib/credentials.h"

static bool is_base64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static int setup(void **state)
{
    (void)state;
    dz_err e = {0};
    return credentials_init(&e) == DZ_OK ? 0 : -1;
}

static void test_secret_hash_is_stable(void **state)
{
    (void)state;
    char h[SECRET_HASH_HEX_LEN + 1], h2[SECRET_HASH_HEX_LEN + 1];
    /* BLAKE2b-256, computed independently (Python hashlib.blake2b(digest_size=32)); stored hashes depend on it */
    secret_hash("dzt_unit-test-token", h);
    assert_string_equal(h, "d379bc8d4a25b20968be590981516b11651bcebd50f56081bde36551d23c88c2");
    secret_hash("", h);
    assert_string_equal(h, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
    secret_hash("dzt_unit-test-token", h2);
    secret_hash("dzt_unit-test-tokeN", h);
    assert_string_not_equal(h, h2);
    assert_int_equal(strlen(h), SECRET_HASH_HEX_LEN);
}

static void test_secret_generate(void **state)
{
    (void)state;
    char a[SECRET_TEXT_LEN], b[SECRET_TEXT_LEN];
    memset(a, 'Z', sizeof a);
    secret_generate(TOKEN_PREFIX, a);
    secret_generate(TOKEN_PREFIX, b);
    assert_int_equal(strncmp(a, TOKEN_PREFIX, strlen(TOKEN_PREFIX)), 0);
    assert_int_equal(strlen(a), strlen(TOKEN_PREFIX) + 43); /* 32 bytes in unpadded base64url */
    for (size_t i = strlen(TOKEN_PREFIX); a[i]; i++)
        assert_true(is_base64url(a[i]));
    assert_string_not_equal(a, b);

    char s[SECRET_TEXT_LEN];
    secret_generate("", s); /* session ids and CSRF tokens have no prefix */
    assert_int_equal(strlen(s), 43);
    for (size_t i = 0; s[i]; i++)
        assert_true(is_base64url(s[i]));

    /* many secrets, no repeats (32 random bytes each) */
    enum { K = 200 };
    char(*many)[SECRET_TEXT_LEN] = calloc(K, SECRET_TEXT_LEN);
    assert_non_null(many);
    for (int i = 0; i < K; i++)
        secret_generate("", many[i]);
    for (int i = 0; i < K; i++)
        for (int j = i + 1; j < K; j++)
            assert_string_not_equal(many[i], many[j]);
    free(many);
}

static void test_secret_equal(void **state)
{
    (void)state;
    assert_true(secret_equal("", ""));
    assert_true(secret_equal("abc", "abc"));
    char x[SECRET_TEXT_LEN], y[SECRET_TEXT_LEN];
    secret_generate("", x);
    memcpy(y, x, sizeof x);
    assert_true(secret_equal(x, y));
    y[10] ^= 1;
    assert_false(secret_equal(x, y));
    y[10] ^= 1;
    y[42] = y[42] == 'A' ? 'B' : 'A'; /* the last character */
    assert_false(secret_equal(x, y));
    assert_false(secret_equal("abc", "abd"));
    assert_false(secret_equal("abc", "ab"));   /* prefix */
    assert_false(secret_equal("ab", "abc"));
    assert_false(secret_equal("", "a"));
    assert_false(secret_equal("abc", "ABC"));
}

static void test_passwords(void **state)
{
    (void)state;
    char h1[PASSWORD_HASH_LEN], h2[PASSWORD_HASH_LEN];
    dz_err e = {0};
    assert_dz_ok(password_hash("correct horse battery staple", h1, &e), e); /* argon2id #1 */
    assert_true(strncmp(h1, "$argon2id$", 10) == 0);
    assert_true(strlen(h1) < PASSWORD_HASH_LEN);
    /* each verify costs an argon2id run too: keep them few */
    assert_true(password_verify(h1, "correct horse battery staple"));
    assert_false(password_verify(h1, "Correct horse battery staple"));
    assert_false(password_needs_rehash(h1));

    /* same password again: a fresh salt, a different string, both verify */
    assert_dz_ok(password_hash("correct horse battery staple", h2, &e), e); /* argon2id #2 */
    assert_string_not_equal(h1, h2);
    assert_true(password_verify(h2, "correct horse battery staple"));

    /* a stored hash made with other parameters needs a rehash (on the next login) */
    char weaker[PASSWORD_HASH_LEN];
    snprintf(weaker, sizeof weaker, "%s", h1);
    char *m = strstr(weaker, "m=65536");
    assert_non_null(m);
    memcpy(m, "m=32768", 7);
    assert_true(password_needs_rehash(weaker));

    /* garbage in the database never verifies */
    assert_false(password_verify("", "x"));
    assert_false(password_verify("not a hash", "not a hash"));
    assert_false(password_verify("$argon2id$v=19$m=65536,t=2,p=1$", "x"));
    assert_true(password_needs_rehash("not a hash"));
    /* a tampered hash */
    char tampered[PASSWORD_HASH_LEN];
    snprintf(tampered, sizeof tampered, "%s", h1);
    size_t n = strlen(tampered);
    tampered[n - 2] = tampered[n - 2] == 'A' ? 'B' : 'A';
    assert_false(password_verify(tampered, "correct horse battery staple"));
}

static void test_password_generate(void **state)
{
    (void)state;
    char a[21], b[21];
    memset(a, 'Z', sizeof a);
    password_generate(a, sizeof a);
    password_generate(b, sizeof b);
    assert_int_equal(strlen(a), 20);
    assert_string_not_equal(a, b);
    /* readable: no 0/O, 1/l/I look-alikes */
    for (int k = 0; k < 50; k++) {
        char p[33];
        password_generate(p, sizeof p);
        assert_int_equal(strlen(p), 32);
        for (int i = 0; p[i]; i++) {
            assert_true((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '2' && p[i] <= '9'));
            assert_null(strchr("0O1lI", p[i]));
        }
    }
    char one[1] = {'x'};
    password_generate(one, sizeof one);
    assert_int_equal(one[0], '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_hash_is_stable), cmocka_unit_test(test_secret_generate),
        cmocka_unit_test(test_secret_equal),          cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_password_generate),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
