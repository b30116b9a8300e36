/* The incident lifecycle (every status pair), its explanations, public ids, deadlines, field defaults. */
#include "unit.h"

#include <stdlib.h>

#include "lib/incident.h"

enum { N = STATUS_COUNT };
static const char *const names[N] = {"new", "triage", "analysis", "mitigation", "recovery", "closed", "rejected",
                                     "duplicate"};

/*
 * The lifecycle as docs/architecture.md and the OpenAPI document state it:
 * new->triage|rejected; triage->analysis|rejected|closed; analysis->mitigation|triage|closed;
 * mitigation->recovery|analysis; recovery->closed|mitigation; closed->triage; rejected->triage;
 * duplicate only by merge (and never left). Staying put is allowed.
 */
static bool expected_allowed(int from, int to)
{
    static const char *const moves[N] = {
        [STATUS_NEW] = "triage rejected",
        [STATUS_TRIAGE] = "analysis rejected closed",
        [STATUS_ANALYSIS] = "mitigation triage closed",
        [STATUS_MITIGATION] = "recovery analysis",
        [STATUS_RECOVERY] = "closed mitigation",
        [STATUS_CLOSED] = "triage",
        [STATUS_REJECTED] = "triage",
        [STATUS_DUPLICATE] = "",
    };
    if (from == to)
        return true;
    char list[64];
    snprintf(list, sizeof list, " %s ", moves[from]);
    char word[32];
    snprintf(word, sizeof word, " %s ", names[to]);
    return strstr(list, word) != NULL;
}

static void test_status_names(void **state)
{
    (void)state;
    for (int i = 0; i < N; i++) {
        incident_status s = (incident_status)99;
        dz_err e = {0};
        assert_string_equal(status_name((incident_status)i), names[i]);
        assert_dz_ok(status_parse(names[i], &s, &e), e);
        assert_int_equal(s, i);
    }
    incident_status s;
    dz_err e = {0};
    assert_dz_ok(status_parse("TRIAGE", &s, &e), e);
    assert_int_equal(s, STATUS_TRIAGE);
    assert_dz_ok(status_parse("Closed", &s, &e), e);
    assert_int_equal(s, STATUS_CLOSED);
    assert_string_equal(status_name((incident_status)N), "?");
    static const char *const bad[] = {"", "open", "done", "in_progress", "new ", "resolved", "duplicates"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dz_err e2 = {0};
        assert_dz_fails(status_parse(bad[i], &s, &e2), DZ_EINVAL, e2);
        assert_contains(e2.msg, "unknown status");
    }
}

static void test_status_is_open(void **state)
{
    (void)state;
    for (int i = 0; i < N; i++) {
        bool open = i == STATUS_NEW || i == STATUS_TRIAGE || i == STATUS_ANALYSIS || i == STATUS_MITIGATION ||
                    i == STATUS_RECOVERY;
        if (status_is_open((incident_status)i) != open)
            fail_msg("status_is_open(%s) should be %d", names[i], open);
    }
}

static void test_every_transition(void **state)
{
    (void)state;
    int allowed = 0;
    for (int from = 0; from < N; from++)
        for (int to = 0; to < N; to++) {
            bool want = expected_allowed(from, to);
            bool got = status_transition_allowed((incident_status)from, (incident_status)to);
            if (want != got)
                fail_msg("%s -> %s: allowed is %d, expected %d", names[from], names[to], got, want);
            allowed += got;
        }
    assert_int_equal(allowed, 8 + 14); /* staying put, plus the fourteen moves */
    /* nothing leads into duplicate except staying there: only a merge makes one */
    for (int from = 0; from < STATUS_DUPLICATE; from++)
        assert_false(status_transition_allowed((incident_status)from, STATUS_DUPLICATE));
    /* out-of-range values are refused, never read past the table */
    assert_false(status_transition_allowed((incident_status)N, STATUS_NEW));
    assert_false(status_transition_allowed(STATUS_NEW, (incident_status)N));
    assert_false(status_transition_allowed((incident_status)1000, (incident_status)1000));
    assert_false(status_transition_allowed(STATUS_NEW, (incident_status)31));
    assert_false(status_transition_allowed(STATUS_NEW, (incident_status)32));
}

/* The full explanation, built from the expected table in status order. */
static void expected_explain(int from, int to, char *buf, size_t n)
{
    if (to == STATUS_DUPLICATE) {
        snprintf(buf, n, "an incident becomes 'duplicate' only by merging it into another "
                         "(POST /api/v1/incidents/{id}/merge)");
        return;
    }
    size_t off = (size_t)snprintf(buf, n, "status cannot go from '%s' to '%s'; from '%s' it may go to:", names[from],
                                  names[to], names[from]);
    bool any = false;
    for (int i = 0; i < N; i++)
        if (i != from && expected_allowed(from, i)) {
            off += (size_t)snprintf(buf + off, n - off, "%s %s", any ? "," : "", names[i]);
            any = true;
        }
    if (!any)
        snprintf(buf + off, n - off, " nothing (final)");
}

static void test_explain_every_refused_pair(void **state)
{
    (void)state;
    int refused = 0;
    for (int from = 0; from < N; from++)
        for (int to = 0; to < N; to++) {
            if (expected_allowed(from, to))
                continue;
            char got[300], want[300];
            memset(got, 'X', sizeof got);
            status_transition_explain((incident_status)from, (incident_status)to, got, sizeof got);
            expected_explain(from, to, want, sizeof want);
            assert_string_equal(got, want);
            refused++;
        }
    assert_int_equal(refused, N * N - 22);
    char buf[300];
    status_transition_explain(STATUS_NEW, STATUS_CLOSED, buf, sizeof buf);
    assert_string_equal(buf, "status cannot go from 'new' to 'closed'; from 'new' it may go to: triage, rejected");
    status_transition_explain(STATUS_DUPLICATE, STATUS_TRIAGE, buf, sizeof buf);
    assert_string_equal(buf, "status cannot go from 'duplicate' to 'triage'; from 'duplicate' it may go to: "
                             "nothing (final)");
    status_transition_explain(STATUS_MITIGATION, STATUS_CLOSED, buf, sizeof buf);
    assert_contains(buf, "may go to: analysis, recovery");
}

/* Any buffer size gives a NUL-terminated prefix of the full text, and never writes past n. */
static void test_explain_truncates(void **state)
{
    (void)state;
    for (int from = 0; from < N; from++)
        for (int to = 0; to < N; to++) {
            if (expected_allowed(from, to))
                continue;
            char full[300];
            status_transition_explain((incident_status)from, (incident_status)to, full, sizeof full);
            size_t len = strlen(full);
            for (size_t n = 1; n <= len + 2; n++) {
                char *buf = xmalloc(n); /* exact size, so ASan sees any overrun */
                assert_non_null(buf);
                status_transition_explain((incident_status)from, (incident_status)to, buf, n);
                size_t got = strnlen(buf, n);
                assert_true(got < n);
                assert_int_equal(got, len < n - 1 ? len : n - 1);
                assert_memory_equal(buf, full, got);
                free(buf);
            }
        }
}

static void test_public_ids(void **state)
{
    (void)state;
    char buf[PUBLIC_ID_MAX];
    public_id_format(buf, sizeof buf, "BTCIRT", NULL, 2026, 1);
    assert_string_equal(buf, "BTCIRT-2026-00001");
    public_id_format(buf, sizeof buf, "BTCIRT", "", 2026, 42);
    assert_string_equal(buf, "BTCIRT-2026-00042");
    public_id_format(buf, sizeof buf, "BTCIRT", "R", 2026, 42);
    assert_string_equal(buf, "BTCIRT-R-2026-00042");
    public_id_format(buf, sizeof buf, "X", NULL, 999, 99999);
    assert_string_equal(buf, "X-0999-99999");
    public_id_format(buf, sizeof buf, "X", NULL, 2026, 123456); /* more than five digits: widens */
    assert_string_equal(buf, "X-2026-123456");
    /* the longest: a 16-character prefix, a kind, a large sequence, still fits */
    public_id_format(buf, sizeof buf, "ABCDEFGHIJKLMNOP", "R", 2026, 9223372036854775807LL);
    assert_string_equal(buf, "ABCDEFGHIJKLMNOP-R-2026-9223372036854775807");
    char small[8];
    public_id_format(small, sizeof small, "BTCIRT", NULL, 2026, 1);
    assert_string_equal(small, "BTCIRT-");

    assert_true(public_id_prefix_valid("BTCIRT"));
    assert_true(public_id_prefix_valid("A"));
    assert_true(public_id_prefix_valid("CERT2"));
    assert_true(public_id_prefix_valid("9"));
    assert_true(public_id_prefix_valid("ABCDEFGHIJKLMNOP"));
    assert_false(public_id_prefix_valid("ABCDEFGHIJKLMNOPQ"));
    assert_false(public_id_prefix_valid(""));
    assert_false(public_id_prefix_valid("btcirt"));
    assert_false(public_id_prefix_valid("BT-CIRT"));
    assert_false(public_id_prefix_valid("BT CIRT"));
    assert_false(public_id_prefix_valid("BT_CIRT"));
    assert_false(public_id_prefix_valid("\xc3\x84"));
}

static void test_due_policy(void **state)
{
    (void)state;
    due_policy p;
    memset(&p, 0xff, sizeof p);
    due_policy_default(&p);
    assert_int_equal(p.seconds[SEVERITY_CRITICAL], 4 * 3600);
    assert_int_equal(p.seconds[SEVERITY_HIGH], 24 * 3600);
    assert_int_equal(p.seconds[SEVERITY_MEDIUM], 3 * 86400);
    assert_int_equal(p.seconds[SEVERITY_LOW], 7 * 86400);
    for (int i = 1; i < SEVERITY_COUNT; i++)
        assert_true(p.seconds[i] < p.seconds[i - 1]); /* more severe, sooner */
}

static void test_field_defaults(void **state)
{
    (void)state;
    incident_fields f;
    memset(&f, 0, sizeof f);
    f.tlp = TLP_GREEN; /* not flagged as set: replaced */
    incident_fields_defaults(&f);
    assert_int_equal(f.tlp, TLP_AMBER);
    assert_int_equal(f.pap, PAP_AMBER);
    assert_int_equal(f.severity, SEVERITY_MEDIUM);
    assert_int_equal(f.status, STATUS_NEW);
    assert_string_equal(f.classification.taxonomy, "other");
    assert_string_equal(f.classification.type, "undetermined");
    assert_int_equal(f.set, 0);

    memset(&f, 0, sizeof f);
    f.set = INCF_TLP | INCF_PAP | INCF_SEVERITY | INCF_CLASSIFICATION;
    f.tlp = TLP_RED;
    f.pap = PAP_CLEAR;
    f.severity = SEVERITY_LOW;
    rsit_class c = {"fraud", "phishing"};
    f.classification = c;
    incident_fields_defaults(&f);
    assert_int_equal(f.tlp, TLP_RED);
    assert_int_equal(f.pap, PAP_CLEAR);
    assert_int_equal(f.severity, SEVERITY_LOW);
    assert_string_equal(f.classification.type, "phishing");
}

static void test_fields_free(void **state)
{
    (void)state;
    incident_fields f;
    memset(&f, 0, sizeof f);
    incident_fields_free(&f); /* an empty one */
    f.title = strdup("t");
    f.description = strdup("d");
    f.assignee = strdup("a");
    f.n_tags = 2;
    f.tags = calloc(2, sizeof *f.tags);
    f.tags[0] = strdup("x");
    f.tags[1] = strdup("y");
    f.n_constituents = 1;
    f.constituents = calloc(1, sizeof *f.constituents);
    f.constituents[0] = strdup("c");
    f.set = INCF_TITLE;
    incident_fields_free(&f); /* LeakSanitizer checks that everything went */
    assert_null(f.title);
    assert_null(f.tags);
    assert_int_equal(f.n_tags, 0);
    assert_int_equal(f.set, 0);
    incident_fields_free(&f); /* and twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_status_is_open),
        cmocka_unit_test(test_every_transition),
        cmocka_unit_test(test_explain_every_refused_pair),
        cmocka_unit_test(test_explain_truncates),
        cmocka_unit_test(test_public_ids),
        cmocka_unit_test(test_due_policy),
        cmocka_unit_test(test_field_defaults),
        cmocka_unit_test(test_fields_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
