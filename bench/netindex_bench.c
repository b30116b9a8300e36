/*
 * netindex_bench: build an IPv4 index of 1,000,000 random prefixes (lengths
 * 8..24) plus 5,000,000 random /32 hosts, then look up 20,000,000 random
 * addresses on one core. Prints the build time, bytes per entry and lookups
 * per second (median of 3 runs), one at a time and batched.
 *
 *   meson setup build-rel --buildtype=release -Dbench=true && ninja -C build-rel
 *   build-rel/bench/netindex_bench [prefixes hosts lookups]
 *
 * Targets (issue): >= 10 M lookups/s, <= 24 bytes per entry, build < 2 s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"
#include "lib/netindex.h"

int main(int argc, char **argv)
{
    size_t nprefix = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    size_t nhost = argc > 2 ? strtoul(argv[2], NULL, 10) : 5000000;
    size_t nlook = argc > 3 ? strtoul(argv[3], NULL, 10) : 20000000;
    dz_err e = {0};

    /* The input is made before the clock starts: the build is what is timed. */
    size_t n = nprefix + nhost;
    uint32_t *addr = malloc(n * sizeof *addr);
    uint8_t *len = malloc(n);
    uint32_t *look = malloc(nlook * sizeof *look);
    uint32_t *out = malloc(nlook * sizeof *out);
    if (!addr || !len || !look || !out)
        return 1;
    for (size_t i = 0; i < n; i++) {
        unsigned l = i < nprefix ? 8 + rnd() % 17 : 32;
        len[i] = (uint8_t)l;
        addr[i] = rnd() & (~0u << (32 - l));
    }
    for (size_t i = 0; i < nlook; i++)
        look[i] = rnd();

    double builds[3], single[3], many[3];
    uint64_t checksum = 0;
    netindex_stats st = {0};
    for (int run = 0; run < 3; run++) {
        double t0 = now();
        netindex_builder *b = netindex_builder_new();
        if (!b)
            return 1;
        for (size_t i = 0; i < n; i++)
            if (netindex_add_v4(b, addr[i], len[i], (uint32_t)(i % 100000), &e)) {
                fprintf(stderr, "%s\n", e.msg);
                return 1;
            }
        netindex *ix = NULL;
        if (netindex_build(b, &ix, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        builds[run] = now() - t0;
        netindex_stats_get(ix, &st);

        uint64_t sum = 0;
        t0 = now();
        for (size_t i = 0; i < nlook; i++)
            sum += netindex_lookup_v4(ix, look[i]);
        single[run] = (double)nlook / (now() - t0);

        uint64_t sum2 = 0;
        t0 = now();
        netindex_lookup_v4_many(ix, look, out, nlook);
        for (size_t i = 0; i < nlook; i++)
            sum2 += out[i];
        many[run] = (double)nlook / (now() - t0);
        if (sum != sum2) {
            fprintf(stderr, "lookup_v4 and lookup_v4_many disagree\n");
            return 1;
        }
        checksum += sum;
        netindex_free(ix);
    }

    printf("entries          %zu (%zu prefixes /8../24, %zu hosts /32)\n", n, nprefix, nhost);
    printf("distinct         %zu prefixes, %zu intervals, %zu conflicts, %zu repeats, %u bucket bits\n",
           st.v4_prefixes, st.v4_intervals, st.conflicts, st.repeats, st.v4_bucket_bits);
    printf("memory           %.1f MB, %.2f bytes per entry\n", (double)st.bytes / 1e6,
           (double)st.bytes / (double)n);
    printf("build            %.3f s (median of 3; add + build)\n", median3(builds));
    printf("lookup_v4        %.2f M/s (median of 3, %zu random addresses, one core)\n", median3(single) / 1e6,
           nlook);
    printf("lookup_v4_many   %.2f M/s\n", median3(many) / 1e6);
    printf("checksum         %llu\n", (unsigned long long)checksum);
    free(addr);
    free(len);
    free(look);
    free(out);
    return 0;
}
