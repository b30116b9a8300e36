/* Failure counters in fixed windows: blocking, expiry, reset, many keys, long keys, threads. */
#include "unit.h"

#include <pthread.h>
#include <stdlib.h>

#include "server/ratelimit.h"

static void test_blocks_after_max_failures(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(3, 60);
    assert_non_null(rl);
    const int64_t t0 = 1700000000;
    assert_int_equal(ratelimit_blocked_for(rl, "user:alice", t0), 0); /* unknown key */
    ratelimit_fail(rl, "user:alice", t0);
    ratelimit_fail(rl, "user:alice", t0 + 10);
    assert_int_equal(ratelimit_blocked_for(rl, "user:alice", t0 + 10), 0);
    ratelimit_fail(rl, "user:alice", t0 + 20);
    /* blocked until the window (started at the first failure) ends */
    assert_int_equal(ratelimit_blocked_for(rl, "user:alice", t0 + 20), 40);
    assert_int_equal(ratelimit_blocked_for(rl, "user:alice", t0 + 59), 1);
    assert_int_equal(ratelimit_blocked_for(rl, "user:alice", t0 + 60), 0);
    /* other keys are independent */
    assert_int_equal(ratelimit_blocked_for(rl, "user:bob", t0 + 20), 0);
    assert_int_equal(ratelimit_blocked_for(rl, "user:alic", t0 + 20), 0);
    assert_int_equal(ratelimit_blocked_for(rl, "user:alice ", t0 + 20), 0);
    /* more failures while blocked keep it blocked, not longer */
    ratelimit_fail(rl, "user:alice", t0 + 30);
    assert_int_equal(ratelimit_blocked_for(rl, "user:alice", t0 + 30), 30);
    ratelimit_free(rl);
    ratelimit_free(NULL);
}

static void test_window_restarts(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(2, 100);
    const int64_t t0 = 5000;
    ratelimit_fail(rl, "k", t0);
    ratelimit_fail(rl, "k", t0 + 99);
    assert_true(ratelimit_blocked_for(rl, "k", t0 + 99) > 0);
    /* a failure after the window counts from one again */
    ratelimit_fail(rl, "k", t0 + 150);
    assert_int_equal(ratelimit_blocked_for(rl, "k", t0 + 150), 0);
    ratelimit_fail(rl, "k", t0 + 160);
    assert_int_equal(ratelimit_blocked_for(rl, "k", t0 + 160), 90);
    /* failures spread over more than one window never block */
    ratelimit *slow = ratelimit_new(3, 10);
    for (int i = 0; i < 30; i++) {
        ratelimit_fail(slow, "s", t0 + i * 6);
        assert_int_equal(ratelimit_blocked_for(slow, "s", t0 + i * 6), 0);
    }
    ratelimit_free(slow);
    ratelimit_free(rl);
}

static void test_reset(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(1, 60);
    ratelimit_fail(rl, "user:alice", 100);
    assert_int_equal(ratelimit_blocked_for(rl, "user:alice", 100), 60);
    ratelimit_reset(rl, "user:alice");
    assert_int_equal(ratelimit_blocked_for(rl, "user:alice", 100), 0);
    ratelimit_reset(rl, "never-seen");
    /* after a reset the key counts again */
    ratelimit_fail(rl, "user:alice", 110);
    assert_true(ratelimit_blocked_for(rl, "user:alice", 110) > 0);
    ratelimit_free(rl);
}

/* Pseudo-random key i (xorshift), so that keys collide in the table the way real addresses do. */
static void random_key(int i, char *out, size_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 32;
    snprintf(out, n, "addr:%u.%u.%u.%u", (unsigned)(x & 255), (unsigned)(x >> 8 & 255), (unsigned)(x >> 16 & 255),
             (unsigned)(x >> 24 & 255));
}

/*
 * Many live keys: the table probes linearly, so keys share probe chains.
 * Resetting some keys (a successful login) must not unblock the others.
 */
static void test_reset_does_not_unblock_neighbours(void **state)
{
    (void)state;
    enum { K = 2000 };
    ratelimit *rl = ratelimit_new(2, 600);
    char key[64];
    for (int i = 0; i < K; i++) {
        random_key(i, key, sizeof key);
        ratelimit_fail(rl, key, 1000);
        ratelimit_fail(rl, key, 1000);
    }
    int blocked = 0;
    for (int i = 0; i < K; i++) {
        random_key(i, key, sizeof key);
        blocked += ratelimit_blocked_for(rl, key, 1001) > 0;
    }
    assert_int_equal(blocked, K);
    for (int i = 0; i < K; i += 2) {
        random_key(i, key, sizeof key);
        ratelimit_reset(rl, key);
    }
    int still = 0, freed = 0;
    for (int i = 0; i < K; i++) {
        random_key(i, key, sizeof key);
        bool b = ratelimit_blocked_for(rl, key, 1002) > 0;
        if (i % 2)
            still += b;
        else
            freed += !b;
    }
    assert_int_equal(freed, K / 2);
    if (still != K / 2)
        fail_msg("resetting %d keys unblocked %d other keys", K / 2, K / 2 - still);
    /* and a reset key that fails again is blocked again */
    random_key(0, key, sizeof key);
    ratelimit_fail(rl, key, 1003);
    ratelimit_fail(rl, key, 1003);
    assert_true(ratelimit_blocked_for(rl, key, 1003) > 0);
    ratelimit_free(rl);
}

/* The same with two keys that certainly share a slot (FNV-1a, as ratelimit.c hashes, modulo its table). */
static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void test_reset_colliding_key(void **state)
{
    (void)state;
    char a[32] = "user:a0", b[32] = "";
    for (int i = 1; i < 100000 && !b[0]; i++) {
        char c[32];
        snprintf(c, sizeof c, "user:a%d", i);
        if ((fnv1a(c) & 4095) == (fnv1a(a) & 4095))
            snprintf(b, sizeof b, "%s", c);
    }
    assert_true(b[0] != '\0');
    ratelimit *rl = ratelimit_new(1, 60);
    ratelimit_fail(rl, a, 10);
    ratelimit_fail(rl, b, 10); /* placed after a in the same chain */
    ratelimit_reset(rl, a);
    assert_int_equal(ratelimit_blocked_for(rl, a, 11), 0);
    assert_int_equal(ratelimit_blocked_for(rl, b, 11), 59);
    ratelimit_fail(rl, a, 12);
    assert_int_equal(ratelimit_blocked_for(rl, a, 12), 58); /* a's window still started at 10 */
    ratelimit_free(rl);
}

/* Stale windows are reused, so the table does not fill up over time. */
static void test_stale_slots_are_reused(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(1, 10);
    char key[64];
    for (int round = 0; round < 5; round++) {
        int64_t now = 1000 + round * 100;
        for (int i = 0; i < 2000; i++) {
            snprintf(key, sizeof key, "r%d-k%d", round, i);
            ratelimit_fail(rl, key, now);
        }
        int blocked = 0;
        for (int i = 0; i < 2000; i++) {
            snprintf(key, sizeof key, "r%d-k%d", round, i);
            blocked += ratelimit_blocked_for(rl, key, now) > 0;
        }
        /* every key of this round is tracked: the earlier rounds' slots were taken over */
        if (blocked != 2000)
            fail_msg("round %d: only %d of 2000 keys tracked", round, blocked);
    }
    ratelimit_free(rl);
}

static void test_long_keys(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(2, 60);
    char key[300];
    memset(key, 'u', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    memcpy(key, "user:", 5);
    ratelimit_fail(rl, key, 100);
    ratelimit_fail(rl, key, 100);
    assert_true(ratelimit_blocked_for(rl, key, 100) > 0);
    ratelimit_reset(rl, key);
    assert_int_equal(ratelimit_blocked_for(rl, key, 100), 0);
    ratelimit_free(rl);
}

typedef struct {
    ratelimit *rl;
    int id;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    char key[32];
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "t%d-%d", a->id, i % 50);
        ratelimit_fail(a->rl, key, 100);
        ratelimit_fail(a->rl, "shared", 100);
        (void)ratelimit_blocked_for(a->rl, key, 100);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    ratelimit *rl = ratelimit_new(4000, 60);
    pthread_t th[8];
    worker_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (worker_arg){rl, i};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    /* 8 x 500 failures of "shared", none lost: exactly at the limit */
    assert_true(ratelimit_blocked_for(rl, "shared", 100) > 0);
    ratelimit_reset(rl, "shared");
    ratelimit_fail(rl, "shared", 100);
    assert_int_equal(ratelimit_blocked_for(rl, "shared", 100), 0);
    /* each per-thread key saw 10 failures, below the limit */
    assert_int_equal(ratelimit_blocked_for(rl, "t3-7", 100), 0);
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_after_max_failures),
        cmocka_unit_test(test_window_restarts),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_reset_does_not_unblock_neighbours),
        cmocka_unit_test(test_reset_colliding_key),
        cmocka_unit_test(test_stale_slots_are_reused),
        cmocka_unit_test(test_long_keys),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
