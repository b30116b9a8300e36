/* TLP 2.0, PAP and severity: wire names, accepted spellings, refusals, order. */
#include "unit.h"

#include "lib/marking.h"

static void tlp_is(const char *s, tlp_level want)
{
    tlp_level t = (tlp_level)99;
    dz_err e = {0};
    if (tlp_parse(s, &t, &e) != DZ_OK)
        fail_msg("tlp_parse(\"%s\") failed: %s", s, e.msg);
    if (t != want)
        fail_msg("tlp_parse(\"%s\") = %s, expected %s", s, tlp_name(t), tlp_name(want));
}

static void tlp_bad(const char *s)
{
    tlp_level t = (tlp_level)99;
    dz_err e = {0};
    if (tlp_parse(s, &t, &e) != DZ_EINVAL)
        fail_msg("tlp_parse(\"%s\") should fail, gave %s", s, tlp_name(t));
    assert_int_equal(t, 99);
    assert_contains(e.msg, "unknown TLP");
    assert_contains(e.msg, "AMBER+STRICT");
}

static void pap_is(const char *s, pap_level want)
{
    pap_level p = (pap_level)99;
    dz_err e = {0};
    if (pap_parse(s, &p, &e) != DZ_OK)
        fail_msg("pap_parse(\"%s\") failed: %s", s, e.msg);
    if (p != want)
        fail_msg("pap_parse(\"%s\") = %s, expected %s", s, pap_name(p), pap_name(want));
}

static void pap_bad(const char *s)
{
    pap_level p = (pap_level)99;
    dz_err e = {0};
    if (pap_parse(s, &p, &e) != DZ_EINVAL)
        fail_msg("pap_parse(\"%s\") should fail, gave %s", s, pap_name(p));
    assert_int_equal(p, 99);
    assert_contains(e.msg, "unknown PAP");
}

static void test_tlp(void **state)
{
    (void)state;
    static const char *const names[] = {"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"};
    for (int i = TLP_CLEAR; i <= TLP_RED; i++) {
        assert_string_equal(tlp_name((tlp_level)i), names[i]);
        tlp_is(names[i], (tlp_level)i);
    }
    assert_string_equal(tlp_name((tlp_level)5), "?");
    assert_string_equal(tlp_name((tlp_level)-1), "?");
    /* order: a higher level is more restrictive */
    assert_true(TLP_CLEAR < TLP_GREEN && TLP_GREEN < TLP_AMBER && TLP_AMBER < TLP_AMBER_STRICT &&
                TLP_AMBER_STRICT < TLP_RED);

    tlp_is("clear", TLP_CLEAR);
    tlp_is("TLP:CLEAR", TLP_CLEAR);
    tlp_is("tlp:clear", TLP_CLEAR);
    tlp_is("WHITE", TLP_CLEAR); /* TLP 1.0 */
    tlp_is("tlp:white", TLP_CLEAR);
    tlp_is("Green", TLP_GREEN);
    tlp_is("TLP:AMBER", TLP_AMBER);
    tlp_is("amber+strict", TLP_AMBER_STRICT);
    tlp_is("tlp:amber+strict", TLP_AMBER_STRICT);
    tlp_is("TLP:AMBER+STRICT", TLP_AMBER_STRICT);
    tlp_is("amber-strict", TLP_AMBER_STRICT);
    tlp_is("amber_strict", TLP_AMBER_STRICT);
    tlp_is("Amber Strict", TLP_AMBER_STRICT);
    tlp_is("red", TLP_RED);

    tlp_bad("");
    tlp_bad("tlp:");
    tlp_bad("purple");
    tlp_bad("amber+");
    tlp_bad("amber+strict+");
    tlp_bad("strict");
    tlp_bad("tlp: amber");
    tlp_bad("tlp:tlp:amber");
    tlp_bad("pap:amber");
    tlp_bad(" red");
    tlp_bad("AMBER+STRICT+RED");
    char longs[200];
    memset(longs, 'R', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    tlp_bad(longs);
    /* a long input whose first 31 characters are a name is not that name */
    tlp_bad("RED                                            x");
}

static void test_pap(void **state)
{
    (void)state;
    static const char *const names[] = {"CLEAR", "GREEN", "AMBER", "RED"};
    for (int i = PAP_CLEAR; i <= PAP_RED; i++) {
        assert_string_equal(pap_name((pap_level)i), names[i]);
        pap_is(names[i], (pap_level)i);
    }
    assert_string_equal(pap_name((pap_level)4), "?");
    pap_is("pap:white", PAP_CLEAR);
    pap_is("PAP:RED", PAP_RED);
    pap_is("green", PAP_GREEN);
    pap_bad("");
    pap_bad("AMBER+STRICT"); /* TLP only */
    pap_bad("tlp:amber");
    pap_bad("pap:");
    pap_bad("black");
}

static void test_severity(void **state)
{
    (void)state;
    static const char *const names[] = {"low", "medium", "high", "critical"};
    assert_int_equal(SEVERITY_COUNT, 4);
    for (int i = 0; i < SEVERITY_COUNT; i++) {
        severity_level v = (severity_level)99;
        dz_err e = {0};
        assert_string_equal(severity_name((severity_level)i), names[i]);
        assert_dz_ok(severity_parse(names[i], &v, &e), e);
        assert_int_equal(v, i);
    }
    assert_true(SEVERITY_LOW < SEVERITY_MEDIUM && SEVERITY_MEDIUM < SEVERITY_HIGH && SEVERITY_HIGH < SEVERITY_CRITICAL);
    assert_string_equal(severity_name((severity_level)SEVERITY_COUNT), "?");
    severity_level v;
    dz_err e = {0};
    assert_dz_ok(severity_parse("CRITICAL", &v, &e), e);
    assert_int_equal(v, SEVERITY_CRITICAL);
    assert_dz_ok(severity_parse("High", &v, &e), e);
    assert_int_equal(v, SEVERITY_HIGH);
    static const char *const bad[] = {"", "urgent", "med", "lowest", " low", "low ", "1", "info"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dz_err e2 = {0};
        assert_dz_fails(severity_parse(bad[i], &v, &e2), DZ_EINVAL, e2);
        assert_contains(e2.msg, "unknown severity");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlp),
        cmocka_unit_test(test_pap),
        cmocka_unit_test(test_severity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
