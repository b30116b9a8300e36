/* RSIT classification: the canonical table, IntelMQ spellings, legacy names, and refusals. */
#include "unit.h"

#include "lib/taxonomy.h"

static rsit_class resolve_ok(const char *tax, const char *type)
{
    rsit_class c = {0};
    dz_err e = {0};
    if (rsit_resolve(tax, type, &c, &e) != DZ_OK)
        fail_msg("rsit_resolve(%s, %s) failed: %s", tax ? tax : "NULL", type ? type : "NULL", e.msg);
    return c;
}

static void expect(const char *tax, const char *type, const char *want_tax, const char *want_type)
{
    rsit_class c = resolve_ok(tax, type);
    if (strcmp(c.taxonomy, want_tax) != 0 || strcmp(c.type, want_type) != 0)
        fail_msg("rsit_resolve(%s, %s) = %s/%s, expected %s/%s", tax ? tax : "NULL", type ? type : "NULL",
                 c.taxonomy, c.type, want_tax, want_type);
}

static void refuse(const char *tax, const char *type, const char *msg_part)
{
    rsit_class c = {"untouched", "untouched"};
    dz_err e = {0};
    dz_code rc = rsit_resolve(tax, type, &c, &e);
    if (rc != DZ_EINVAL)
        fail_msg("rsit_resolve(%s, %s) = %s/%s, expected a refusal", tax ? tax : "NULL", type ? type : "NULL",
                 c.taxonomy, c.type);
    assert_string_equal(c.taxonomy, "untouched");
    if (msg_part)
        assert_contains(e.msg, msg_part);
}

static size_t table_size(void)
{
    size_t n = 0;
    while (rsit_at(n))
        n++;
    return n;
}

static void test_table(void **state)
{
    (void)state;
    size_t n = table_size();
    assert_int_equal(n, 44); /* 36 RSIT + IntelMQ's 5 extra "other" types + other/undetermined/test */
    assert_null(rsit_at(n));
    assert_null(rsit_at((size_t)-1));
    for (size_t i = 0; i < n; i++) {
        const rsit_class *a = rsit_at(i);
        /* canonical spelling: lower case, no blanks, no underscores, British "unauthorised" */
        for (const char *p = a->type; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-');
        for (const char *p = a->taxonomy; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || *p == '-');
        assert_null(strstr(a->type, "unauthorized"));
        /* a type alone determines its taxonomy, so no type may appear twice */
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(a->type, rsit_at(j)->type) == 0)
                fail_msg("type '%s' appears twice in the table", a->type);
    }
    /* the eleven RSIT taxonomies (with IntelMQ's "other" and "test") */
    static const char *const taxonomies[] = {"abusive-content", "malicious-code", "information-gathering",
                                             "intrusion-attempts", "intrusions", "availability",
                                             "information-content-security", "fraud", "vulnerable", "other", "test"};
    for (size_t t = 0; t < sizeof taxonomies / sizeof taxonomies[0]; t++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(rsit_at(i)->taxonomy, taxonomies[t]) == 0;
        if (!found)
            fail_msg("taxonomy %s missing", taxonomies[t]);
    }
}

static void test_canonical_resolves_to_itself(void **state)
{
    (void)state;
    for (size_t i = 0; rsit_at(i); i++) {
        const rsit_class *a = rsit_at(i);
        rsit_class both = resolve_ok(a->taxonomy, a->type);
        rsit_class type_only = resolve_ok(NULL, a->type);
        rsit_class type_empty_tax = resolve_ok("", a->type);
        /* the result points into the static table */
        assert_ptr_equal(both.taxonomy, a->taxonomy);
        assert_ptr_equal(both.type, a->type);
        assert_ptr_equal(type_only.type, a->type);
        assert_ptr_equal(type_only.taxonomy, a->taxonomy);
        assert_ptr_equal(type_empty_tax.type, a->type);
    }
}

static void test_spellings(void **state)
{
    (void)state;
    expect(NULL, "Phishing", "fraud", "phishing");
    expect(NULL, "  phishing  ", "fraud", "phishing");
    expect(NULL, "PHISHING", "fraud", "phishing");
    expect("Fraud", "phishing", "fraud", "phishing");
    /* American spelling, IntelMQ's */
    expect(NULL, "unauthorized-use-of-resources", "fraud", "unauthorised-use-of-resources");
    expect("fraud", "Unauthorized_Use_Of_Resources", "fraud", "unauthorised-use-of-resources");
    expect(NULL, "unauthorized-information-access", "information-content-security",
           "unauthorised-information-access");
    /* blanks and underscores for hyphens, in taxonomy and type */
    expect("information content security", "data leak", "information-content-security", "data-leak");
    expect("Information_Content_Security", "data_loss", "information-content-security", "data-loss");
    expect("malicious code", "infected system", "malicious-code", "infected-system");
    expect("intrusion attempts", "ids alert", "intrusion-attempts", "ids-alert");
    expect("abusive content", "harmful speech", "abusive-content", "harmful-speech");
    expect("information gathering", "social engineering", "information-gathering", "social-engineering");
    /* IntelMQ's extra types under "other" */
    expect(NULL, "dga domain", "other", "dga-domain");
    expect("other", "blacklist", "other", "blacklist");
    expect(NULL, "tor", "other", "tor");
    expect(NULL, "proxy", "other", "proxy");
    expect(NULL, "malware", "other", "malware");
    /* a taxonomy alone: only "other" and "test" have a default type */
    expect("other", NULL, "other", "undetermined");
    expect("Other", "", "other", "undetermined");
    expect("test", NULL, "test", "test");
    expect(" TEST ", "  ", "test", "test");
}

/* Pre-RSIT names of IntelMQ 1.x/2.x (intelmq/bots/experts/taxonomy/expert.py). */
static void test_legacy_names(void **state)
{
    (void)state;
    expect(NULL, "botnet drone", "malicious-code", "infected-system");
    expect(NULL, "ransomware", "malicious-code", "infected-system");
    expect(NULL, "C&C", "malicious-code", "c2-server");
    expect(NULL, "c2", "malicious-code", "c2-server");
    expect(NULL, "c2server", "malicious-code", "c2-server"); /* IntelMQ 2.x spelling */
    expect("malicious code", "c2server", "malicious-code", "c2-server");
    expect(NULL, "malware configuration", "malicious-code", "malware-configuration");
    expect(NULL, "bruteforce", "intrusion-attempts", "brute-force");
    expect(NULL, "backdoor", "intrusions", "system-compromise");
    expect(NULL, "compromised", "intrusions", "system-compromise");
    expect(NULL, "unauthorized-command", "intrusions", "system-compromise");
    expect(NULL, "unauthorized-login", "intrusions", "system-compromise");
    expect("intrusions", "unauthorized-login", "intrusions", "system-compromise");
    expect(NULL, "defacement", "information-content-security", "unauthorised-information-modification");
    expect(NULL, "leak", "information-content-security", "data-leak");
    expect(NULL, "vulnerable service", "vulnerable", "vulnerable-system");
    expect(NULL, "vulnerable client", "vulnerable", "vulnerable-system");
    expect(NULL, "unknown", "other", "undetermined");
    expect(NULL, "dropzone", "other", "other");
    /* Legacy pairs as IntelMQ 1.x/2.x stored them: the name moved to another taxonomy, trust the type. */
    expect("intrusions", "defacement", "information-content-security", "unauthorised-information-modification");
    expect("information content security", "dropzone", "other", "other");
    expect("information content security", "leak", "information-content-security", "data-leak");
    expect("malicious code", "botnet drone", "malicious-code", "infected-system");
    expect("vulnerable", "vulnerable service", "vulnerable", "vulnerable-system");
    expect("other", "unknown", "other", "undetermined");
    /* ...but an unknown taxonomy is refused even with a legacy type */
    refuse("nonsense", "defacement", "unknown RSIT taxonomy 'nonsense'");
}

static void test_refusals(void **state)
{
    (void)state;
    refuse(NULL, NULL, "needs a type");
    refuse("", "", "needs a type");
    refuse("  ", NULL, "needs a type");
    refuse("fraud", NULL, "taxonomy 'fraud' needs a type");
    refuse("availability", "", "taxonomy 'availability' needs a type");
    refuse(NULL, "nonsense", "unknown RSIT type 'nonsense'");
    refuse("fraud", "nonsense", "unknown RSIT type 'nonsense'");
    refuse("nonsense", "phishing", "unknown RSIT taxonomy 'nonsense'");
    refuse("nonsense", NULL, "unknown RSIT taxonomy 'nonsense'");
    /* a taxonomy that does not hold the type: the message names both */
    refuse("fraud", "spam", "RSIT type 'spam' belongs to taxonomy 'abusive-content', not 'fraud'");
    refuse("other", "phishing", "belongs to taxonomy 'fraud'");
    refuse("intrusions", "phishing", "belongs to taxonomy 'fraud', not 'intrusions'");
    refuse("vulnerable", "ddos", "belongs to taxonomy 'availability'");
    /* near misses */
    refuse(NULL, "phish", NULL);
    refuse(NULL, "-", NULL);
    refuse(NULL, "c2--server", NULL);
    refuse(NULL, "ddos amplifier x", NULL);
    /* over-long inputs are refused, not truncated into a match */
    char longtype[300];
    memset(longtype, 'a', sizeof longtype - 1);
    longtype[sizeof longtype - 1] = '\0';
    refuse(NULL, longtype, "unknown RSIT type");
    refuse(longtype, "phishing", "unknown RSIT taxonomy");
    char padded[200];
    snprintf(padded, sizeof padded, "%s%0100d", "phishing", 0);
    refuse(NULL, padded, NULL);
    /* blanks are not the end of a name: "phishing", 55 blanks and junk is no phishing */
    char blanks[120];
    snprintf(blanks, sizeof blanks, "phishing%55sjunk", "");
    refuse(NULL, blanks, "unknown RSIT type");
    /* capital letters are not an old spelling: current names that disagree stay an error */
    refuse("Availability", "phishing", "belongs to taxonomy 'fraud', not 'availability'");
    /* NULL dz_err */
    rsit_class c;
    assert_int_equal(rsit_resolve(NULL, "nonsense", &c, NULL), DZ_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),       cmocka_unit_test(test_canonical_resolves_to_itself),
        cmocka_unit_test(test_spellings),   cmocka_unit_test(test_legacy_names),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
