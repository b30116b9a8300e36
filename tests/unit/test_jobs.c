/* test_jobs.c: the shared job schedule (store_jobs.c) and the scheduler that runs it. */
#include "unit.h"

#include <pthread.h>
#include <unistd.h>

#include "jobs/scheduler.h"
#include "lib/credentials.h"
#include "store/store.h"

#define T0 1800000000 /* 2027-01-15 */

typedef struct {
    char dir[64], url[128];
    store *s;
} fx;

static int setup(void **state)
{
    dz_err e = {0};
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_dz_ok(credentials_init(&e), e);
    snprintf(f->dir, sizeof f->dir, "/tmp/dzong-jobs-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->url, sizeof f->url, "sqlite:%s/j.db", f->dir);
    store_settings st = {.id_prefix = "T"};
    due_policy_default(&st.due);
    int applied, version;
    assert_dz_ok(store_open(f->url, &st, &f->s, &e), e);
    assert_dz_ok(store_migrate(f->s, &applied, &version, &e), e);
    store_set_clock(f->s, T0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[128];
    store_close(f->s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return 1;
    free(f);
    return 0;
}

static int claim_all(store *s, const char *node)
{
    int n = 0;
    char name[64];
    bool claimed;
    dz_err e = {0};
    for (;;) {
        assert_dz_ok(store_job_claim(s, node, name, &claimed, &e), e);
        if (!claimed)
            return n;
        n++;
    }
}

/* Every job is due once at first; a claim moves it one interval on. */
static void test_claim_moves_schedule(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    assert_int_equal(claim_all(f->s, "a"), 4);
    assert_int_equal(claim_all(f->s, "b"), 0);
    store_set_clock(f->s, T0 + 3599); /* only the digests (every minute) */
    assert_int_equal(claim_all(f->s, "a"), 1);
    store_set_clock(f->s, T0 + 3600); /* the hourly sessions.purge and events.dedup_purge are due again */
    assert_int_equal(claim_all(f->s, "b"), 2);

    json_t *jobs;
    assert_dz_ok(store_job_list(f->s, &jobs, &e), e);
    assert_int_equal(json_array_size(jobs), 4);
    json_t *purge = json_array_get(jobs, 3);
    assert_string_equal(json_string_value(json_object_get(purge, "name")), "sessions.purge");
    assert_string_equal(json_string_value(json_object_get(purge, "last_node")), "b");
    json_decref(jobs);
}

static void test_finish_records_error(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    assert_dz_ok(store_job_finish(f->s, "audit.verify", "audit log broken at entry 7", &e), e);
    assert_dz_ok(store_job_finish(f->s, "sessions.purge", NULL, &e), e);
    json_t *jobs;
    assert_dz_ok(store_job_list(f->s, &jobs, &e), e);
    json_t *audit = json_array_get(jobs, 0), *purge = json_array_get(jobs, 3);
    assert_string_equal(json_string_value(json_object_get(audit, "last_error")), "audit log broken at entry 7");
    assert_true(json_is_null(json_object_get(purge, "last_error")));
    assert_int_equal(json_integer_value(json_object_get(purge, "runs")), 1);
    assert_string_equal(json_string_value(json_object_get(purge, "last_run_at")), "2027-01-15T08:00:00Z");
    json_decref(jobs);
}

/* The scheduler runs each due job once: expired sessions go, live ones stay. */
static void test_scheduler_purges_sessions(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    principal sys = {.role = ROLE_ADMIN};
    snprintf(sys.username, sizeof sys.username, "system");
    assert_dz_ok(store_user_create(f->s, &sys, "h", ROLE_HANDLER, NULL, NULL, &e), e);
    user_record u;
    assert_dz_ok(store_user_get(f->s, "h", &u, &e), e);
    assert_dz_ok(store_session_create(f->s, "old", u.p.user_id, "c1", T0 - 1, &e), e);
    assert_dz_ok(store_session_create(f->s, "live", u.p.user_id, "c2", T0 + 600, &e), e);
    assert_int_equal(scheduler_run_due(f->s, "node"), 4);
    assert_int_equal(scheduler_run_due(f->s, "node"), 0);
    principal p;
    char csrf[64];
    assert_dz_fails(store_session_lookup(f->s, "old", &p, csrf, &e), DZ_EUNAUTH, e);
    assert_dz_ok(store_session_lookup(f->s, "live", &p, csrf, &e), e);
    int64_t purged;
    assert_dz_ok(store_session_purge(f->s, &purged, &e), e);
    assert_int_equal(purged, 0);
}

typedef struct {
    store *s;
    int claims;
} claimer;

static void *claim_thread(void *arg)
{
    claimer *c = arg;
    char name[64];
    bool claimed;
    dz_err e = {0};
    for (int i = 0; i < 20; i++)
        if (store_job_claim(c->s, "t", name, &claimed, &e) == DZ_OK && claimed)
            c->claims++;
    return NULL;
}

/* Claims from many threads at once: each due job is taken exactly once. */
static void test_concurrent_claims(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    assert_dz_ok(store_start_writer(f->s, &e), e);
    claimer c[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        c[i] = (claimer){f->s, 0};
        assert_int_equal(pthread_create(&t[i], NULL, claim_thread, &c[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        total += c[i].claims;
    }
    assert_int_equal(total, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claim_moves_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_records_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scheduler_purges_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_claims, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
