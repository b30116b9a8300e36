/* bench_util: what the C micro-benchmarks share (a seeded generator, a clock, medians). */
#ifndef DZ_BENCH_UTIL_H
#define DZ_BENCH_UTIL_H
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static inline uint32_t rnd(void) /* splitmix64: the same sequence on every run */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static inline double median3(double *v)
{
    qsort(v, 3, sizeof *v, cmp_double);
    return v[1];
}

#endif
