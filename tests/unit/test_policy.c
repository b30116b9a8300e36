/* The access policy: every role against every action, and the scopes handed to the store. */
#include "unit.h"

#include "server/policy.h"

enum { NACT = ACT_INCIDENT_NOTIFY + 1 };

static const char *const act_names[NACT] = {
    "incident read", "incident write", "incident merge", "note read",        "note write",
    "task",          "timeline read",  "report create",  "report read",      "report link",
    "constituent read", "constituent write", "user admin", "audit read",  "event read",
    "event write",      "ingest read", "notification read", "notification message", "notification ack",
    "incident notify",
};

/*
 * The table of server/policy.h, written out again by hand. Columns: admin,
 * coordinator, handler, analyst, constituent, partner. Constituents read
 * incidents, notes and the (reduced) timeline of their own organisation;
 * partners only file and read their own reports and see constituents.
 */
static const char *const expected[NACT] = {
    [ACT_INCIDENT_READ] = "11111-",
    [ACT_INCIDENT_WRITE] = "1111--",
    [ACT_INCIDENT_MERGE] = "111---",
    [ACT_NOTE_READ] = "11111-",
    [ACT_NOTE_WRITE] = "11111-",
    [ACT_TASK] = "1111--",
    [ACT_TIMELINE_READ] = "11111-",
    [ACT_REPORT_CREATE] = "111111",
    [ACT_REPORT_READ] = "111111",
    [ACT_REPORT_LINK] = "1111--",
    [ACT_CONSTITUENT_READ] = "111111",
    [ACT_CONSTITUENT_WRITE] = "11----",
    [ACT_USER_ADMIN] = "1-----",
    [ACT_AUDIT_READ] = "11----",
    [ACT_EVENT_READ] = "111111",
    [ACT_EVENT_WRITE] = "1111--",
    [ACT_INGEST_READ] = "1111--",
    [ACT_NOTIFICATION_READ] = "111111",
    [ACT_NOTIFICATION_MESSAGE] = "1111--",
    [ACT_NOTIFICATION_ACK] = "----11",
    [ACT_INCIDENT_NOTIFY] = "111---",
};

static principal who(role r, int64_t user_id, int64_t org_id)
{
    principal p;
    memset(&p, 0, sizeof p);
    p.user_id = user_id;
    snprintf(p.username, sizeof p.username, "%s-user", role_name(r));
    p.role = r;
    p.org_id = org_id;
    if (org_id)
        snprintf(p.org, sizeof p.org, "org%lld", (long long)org_id);
    return p;
}

static void test_every_role_and_action(void **state)
{
    (void)state;
    for (int a = 0; a < NACT; a++) {
        assert_non_null(expected[a]);
        assert_int_equal(strlen(expected[a]), ROLE_COUNT);
        for (int r = 0; r < ROLE_COUNT; r++) {
            principal p = who((role)r, 10 + r, role_needs_org((role)r) ? 7 : 0);
            bool want = expected[a][r] == '1';
            bool got = policy_allows(&p, (policy_action)a);
            if (got != want)
                fail_msg("%s may %s%s, expected the opposite", role_name((role)r), got ? "" : "not ", act_names[a]);
        }
    }
}

static void test_refusals_of_nonsense(void **state)
{
    (void)state;
    principal admin = who(ROLE_ADMIN, 1, 0);
    assert_false(policy_allows(NULL, ACT_REPORT_READ));
    assert_false(policy_allows(&admin, (policy_action)NACT));
    assert_false(policy_allows(&admin, (policy_action)-1));
    assert_false(policy_allows(&admin, (policy_action)1000));
    principal ghost = who(ROLE_ADMIN, 1, 0);
    ghost.role = (role)ROLE_COUNT;
    for (int a = 0; a < NACT; a++)
        assert_false(policy_allows(&ghost, (policy_action)a));
    ghost.role = (role)-1;
    for (int a = 0; a < NACT; a++)
        assert_false(policy_allows(&ghost, (policy_action)a));
    /* the answer depends on the role only, not on a stray organisation */
    principal odd_handler = who(ROLE_HANDLER, 5, 9);
    assert_false(policy_allows(&odd_handler, ACT_USER_ADMIN));
    assert_true(policy_allows(&odd_handler, ACT_INCIDENT_WRITE));
}

static void test_incident_scopes(void **state)
{
    (void)state;
    /* admins and coordinators: everything, TLP:RED included */
    for (int r = ROLE_ADMIN; r <= ROLE_COORDINATOR; r++) {
        principal p = who((role)r, 42, 0);
        store_scope sc = policy_incident_scope(&p);
        assert_int_equal(sc.org_id, 0);
        assert_int_equal(sc.red_user_id, -1);
        assert_false(sc.shared_only);
    }
    /* handlers and analysts: every organisation, TLP:RED only where they are the assignee */
    for (int r = ROLE_HANDLER; r <= ROLE_ANALYST; r++) {
        principal p = who((role)r, 42, 0);
        store_scope sc = policy_incident_scope(&p);
        assert_int_equal(sc.org_id, 0);
        assert_int_equal(sc.red_user_id, 42);
        assert_false(sc.shared_only);
    }
    /* bound users: their organisation only, never TLP:RED (no incident has assignee 0), shared notes only */
    for (int r = ROLE_CONSTITUENT; r <= ROLE_PARTNER; r++) {
        principal p = who((role)r, 42, 7);
        store_scope sc = policy_incident_scope(&p);
        assert_int_equal(sc.org_id, 7);
        assert_int_equal(sc.red_user_id, 0);
        assert_true(sc.shared_only);
        /* without an organisation (cannot happen by schema): match nothing rather than everything */
        p.org_id = 0;
        sc = policy_incident_scope(&p);
        assert_int_equal(sc.org_id, -1);
        assert_true(sc.shared_only);
    }
}

static void test_org_filter_and_notes(void **state)
{
    (void)state;
    for (int r = 0; r < ROLE_COUNT; r++) {
        principal p = who((role)r, 3, role_needs_org((role)r) ? 11 : 0);
        int64_t f = policy_org_filter(&p);
        bool staff = r <= ROLE_ANALYST;
        assert_int_equal(f, staff ? 0 : 11);
        assert_int_equal(policy_note_forced_shared(&p), !staff);
        if (!staff) {
            p.org_id = 0;
            assert_int_equal(policy_org_filter(&p), -1); /* never "all" for a bound role */
        }
    }
    /* identity helpers the policy builds on */
    for (int r = 0; r < ROLE_COUNT; r++) {
        role back;
        dz_err e = {0};
        assert_dz_ok(role_parse(role_name((role)r), &back, &e), e);
        assert_int_equal(back, r);
        assert_int_equal(role_is_staff((role)r), r <= ROLE_ANALYST);
        assert_int_equal(role_needs_org((role)r), r == ROLE_CONSTITUENT || r == ROLE_PARTNER);
    }
    role x;
    dz_err e = {0};
    assert_dz_fails(role_parse("Admin", &x, &e), DZ_EINVAL, e);
    assert_dz_fails(role_parse("root", &x, &e), DZ_EINVAL, e);
    assert_dz_fails(role_parse("", &x, &e), DZ_EINVAL, e);
    assert_string_equal(role_name((role)ROLE_COUNT), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_role_and_action),
        cmocka_unit_test(test_refusals_of_nonsense),
        cmocka_unit_test(test_incident_scopes),
        cmocka_unit_test(test_org_filter_and_notes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
