/*
 * ratelimit: failure counters in fixed windows, keyed by a string
 * ("user:alice", "addr:127.0.0.1"). In memory, per process: with several
 * nodes each node limits on its own (see docs/operations.md).
 */
#ifndef DZ_RATELIMIT_H
#define DZ_RATELIMIT_H
#include <stdbool.h>
#include <stdint.h>

typedef struct ratelimit ratelimit;

ratelimit *ratelimit_new(unsigned max_failures, int64_t window_s);
void ratelimit_free(ratelimit *rl);
/* Seconds until key may try again, 0 if it may now. */
int64_t ratelimit_blocked_for(ratelimit *rl, const char *key, int64_t now);
void ratelimit_fail(ratelimit *rl, const char *key, int64_t now);
void ratelimit_reset(ratelimit *rl, const char *key);

#endif
