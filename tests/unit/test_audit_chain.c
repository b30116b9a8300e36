/* The audit hash chain: pinned values, sensitivity to every field, unambiguous serialisation. */
#include "unit.h"

#include "lib/audit_chain.h"

static void hash_of(const char *prev, int64_t seq, int64_t at, const char *actor, const char *action,
                    const char *object, const char *detail, char out[AUDIT_HASH_HEX_LEN + 1])
{
    audit_entry en = {seq, at, actor, action, object, detail};
    memset(out, 'Z', AUDIT_HASH_HEX_LEN + 1);
    audit_chain_hash(prev, &en, out);
}

/*
 * Values computed independently (Python hashlib) from the documented format:
 * SHA-256 over "len:prev" "len:seq/at" "len:actor" "len:action" "len:object" "len:detail".
 * Existing audit logs verify only while this stays the same.
 */
static void test_pinned_values(void **state)
{
    (void)state;
    char h1[AUDIT_HASH_HEX_LEN + 1], h2[AUDIT_HASH_HEX_LEN + 1], h3[AUDIT_HASH_HEX_LEN + 1];
    hash_of(AUDIT_GENESIS, 1, 1700000000, "admin", "incident.create", "BTCIRT-2026-00001", "{\"title\":\"x\"}", h1);
    assert_string_equal(h1, "e04bab2c41a81c2e1a90c25383909d65d4257274a1fb92f0ad754ef65ddab290");
    hash_of(h1, 2, 1700000060, "tashi", "incident.update", "BTCIRT-2026-00001", "{}", h2);
    assert_string_equal(h2, "08c86eed073d02cf77dd22acfc2a1a81c43a414e11ad8c1023c44c895191d6dd");
    hash_of(AUDIT_GENESIS, -5, -1, "", "", "", "", h3);
    assert_string_equal(h3, "e4a6b950f979d387d8a441cc8d95e805c04eb99662d7ae0238537b4fc5e62d06");
    assert_int_equal(strlen(AUDIT_GENESIS), AUDIT_HASH_HEX_LEN);
}

static void test_shape_and_determinism(void **state)
{
    (void)state;
    char a[AUDIT_HASH_HEX_LEN + 1], b[AUDIT_HASH_HEX_LEN + 1];
    hash_of(AUDIT_GENESIS, 7, 123, "u", "a", "o", "{\"k\":1}", a);
    hash_of(AUDIT_GENESIS, 7, 123, "u", "a", "o", "{\"k\":1}", b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), AUDIT_HASH_HEX_LEN);
    for (int i = 0; i < AUDIT_HASH_HEX_LEN; i++)
        assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
}

static void test_every_field_matters(void **state)
{
    (void)state;
    char base[AUDIT_HASH_HEX_LEN + 1], h[AUDIT_HASH_HEX_LEN + 1];
    const char *other_prev = "1111111111111111111111111111111111111111111111111111111111111111";
    hash_of(AUDIT_GENESIS, 3, 1000, "alice", "incident.update", "X-2026-00001", "{\"a\":1}", base);
    hash_of(other_prev, 3, 1000, "alice", "incident.update", "X-2026-00001", "{\"a\":1}", h);
    assert_string_not_equal(base, h);
    hash_of(AUDIT_GENESIS, 4, 1000, "alice", "incident.update", "X-2026-00001", "{\"a\":1}", h);
    assert_string_not_equal(base, h);
    hash_of(AUDIT_GENESIS, 3, 1001, "alice", "incident.update", "X-2026-00001", "{\"a\":1}", h);
    assert_string_not_equal(base, h);
    hash_of(AUDIT_GENESIS, 3, 1000, "alicf", "incident.update", "X-2026-00001", "{\"a\":1}", h);
    assert_string_not_equal(base, h);
    hash_of(AUDIT_GENESIS, 3, 1000, "alice", "incident.create", "X-2026-00001", "{\"a\":1}", h);
    assert_string_not_equal(base, h);
    hash_of(AUDIT_GENESIS, 3, 1000, "alice", "incident.update", "X-2026-00002", "{\"a\":1}", h);
    assert_string_not_equal(base, h);
    hash_of(AUDIT_GENESIS, 3, 1000, "alice", "incident.update", "X-2026-00001", "{\"a\":2}", h);
    assert_string_not_equal(base, h);
    hash_of(AUDIT_GENESIS, 3, 1000, "alice", "incident.update", "X-2026-00001", "{}", h);
    assert_string_not_equal(base, h);
}

/* Length prefixes: moving bytes between neighbouring fields changes the hash. */
static void test_no_ambiguous_serialisation(void **state)
{
    (void)state;
    char a[AUDIT_HASH_HEX_LEN + 1], b[AUDIT_HASH_HEX_LEN + 1];
    hash_of(AUDIT_GENESIS, 1, 1, "ab", "c", "o", "d", a);
    hash_of(AUDIT_GENESIS, 1, 1, "a", "bc", "o", "d", b);
    assert_string_not_equal(a, b);
    hash_of(AUDIT_GENESIS, 1, 1, "a", "b", "", "cd", a);
    hash_of(AUDIT_GENESIS, 1, 1, "a", "b", "c", "d", b);
    assert_string_not_equal(a, b);
    /* seq and at are separated: 12/3 differs from 1/23 */
    hash_of(AUDIT_GENESIS, 12, 3, "a", "b", "c", "d", a);
    hash_of(AUDIT_GENESIS, 1, 23, "a", "b", "c", "d", b);
    assert_string_not_equal(a, b);
    /* a field that looks like a length prefix does not collide */
    hash_of(AUDIT_GENESIS, 1, 1, "1:a", "", "o", "d", a);
    hash_of(AUDIT_GENESIS, 1, 1, "", "a", "o", "d", b);
    assert_string_not_equal(a, b);
}

/* A chain of entries: altering one changes its hash and, through prev, every later one. */
static void test_chain_propagates(void **state)
{
    (void)state;
    enum { K = 6 };
    char good[K][AUDIT_HASH_HEX_LEN + 1], bad[K][AUDIT_HASH_HEX_LEN + 1];
    const char *details[K] = {"{}", "{\"n\":1}", "{\"n\":2}", "{\"n\":3}", "{\"n\":4}", "{\"n\":5}"};
    for (int i = 0; i < K; i++)
        hash_of(i ? good[i - 1] : AUDIT_GENESIS, i + 1, 100 + i, "system", "test", "obj", details[i], good[i]);
    details[2] = "{\"n\":22}";
    for (int i = 0; i < K; i++)
        hash_of(i ? bad[i - 1] : AUDIT_GENESIS, i + 1, 100 + i, "system", "test", "obj", details[i], bad[i]);
    for (int i = 0; i < K; i++) {
        if (i < 2)
            assert_string_equal(good[i], bad[i]);
        else
            assert_string_not_equal(good[i], bad[i]);
    }
    /* all distinct */
    for (int i = 0; i < K; i++)
        for (int j = i + 1; j < K; j++)
            assert_string_not_equal(good[i], good[j]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_values),
        cmocka_unit_test(test_shape_and_determinism),
        cmocka_unit_test(test_every_field_matters),
        cmocka_unit_test(test_no_ambiguous_serialisation),
        cmocka_unit_test(test_chain_propagates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
