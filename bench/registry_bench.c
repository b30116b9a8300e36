/*
 * registry_bench: a registry of 1,000,000 random IPv4 prefixes (lengths
 * 8..24) plus 5,000,000 random /32 hosts spread over 10,000 organisations,
 * then registry_owner_v4 (the feed pipeline's path) and registry_lookup_ip
 * over 20,000,000 random addresses on one core. Prints the build time, bytes
 * per entry, peak memory and lookups per second (median of 3 runs).
 *
 *   meson setup build-rel --buildtype=release -Dbench=true && ninja -C build-rel
 *   build-rel/bench/registry_bench [prefixes hosts lookups orgs]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"
#include "lib/registry.h"

static size_t peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (size_t)ru.ru_maxrss / 1024;
}

int main(int argc, char **argv)
{
    size_t nprefix = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    size_t nhost = argc > 2 ? strtoul(argv[2], NULL, 10) : 5000000;
    size_t nlook = argc > 3 ? strtoul(argv[3], NULL, 10) : 20000000;
    size_t norgs = argc > 4 ? strtoul(argv[4], NULL, 10) : 10000;
    if (!norgs)
        return 1;
    dz_err e = {0};

    /* The input is made before the clock starts: the build is what is timed. */
    size_t n = nprefix + nhost;
    uint32_t *addr = malloc(n * sizeof *addr);
    uint8_t *len = malloc(n);
    uint32_t *org = malloc(n * sizeof *org);
    uint32_t *look = malloc(nlook * sizeof *look);
    if (!addr || !len || !org || !look)
        return 1;
    for (size_t i = 0; i < n; i++) {
        unsigned l = i < nprefix ? 8 + rnd() % 17 : 32;
        len[i] = (uint8_t)l;
        addr[i] = rnd() & (~0u << (32 - l));
        org[i] = 1 + rnd() % (uint32_t)norgs;
    }
    for (size_t i = 0; i < nlook; i++)
        look[i] = rnd();
    size_t rss_input = peak_rss_mb();

    double builds[3], owner[3], owner_many[3], cold[3], warm[3];
    uint64_t checksum = 0;
    registry_counts cnt = {0}, cnt_after = {0};
    for (int run = 0; run < 3; run++) {
        double t0 = now();
        registry_builder *b = registry_builder_new();
        if (!b)
            return 1;
        for (size_t o = 1; o <= norgs; o++) {
            char name[32];
            snprintf(name, sizeof name, "org-%zu", o);
            if (registry_add_org(b, (int64_t)o, name, &e)) {
                fprintf(stderr, "%s\n", e.msg);
                return 1;
            }
        }
        for (size_t i = 0; i < n; i++) {
            net_prefix p = {.family = 4, .len = len[i]};
            p.addr[0] = (uint8_t)(addr[i] >> 24);
            p.addr[1] = (uint8_t)(addr[i] >> 16);
            p.addr[2] = (uint8_t)(addr[i] >> 8);
            p.addr[3] = (uint8_t)addr[i];
            if (registry_add_network(b, org[i], &p, &e)) {
                fprintf(stderr, "%s\n", e.msg);
                return 1;
            }
        }
        registry_index *ix = NULL;
        if (registry_build(b, 1, &ix, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        builds[run] = now() - t0;
        registry_index_counts(ix, &cnt);

        uint64_t sum = 0;
        t0 = now();
        for (size_t i = 0; i < nlook; i++)
            sum += (uint64_t)registry_owner_v4(ix, look[i]);
        owner[run] = (double)nlook / (now() - t0);

        /* the pipeline's batch path, in batches of 4096 */
        enum { BATCH = 4096 };
        int64_t *batch_out = malloc(BATCH * sizeof *batch_out);
        uint64_t sum_many = 0;
        t0 = now();
        for (size_t i = 0; i < nlook; i += BATCH) {
            size_t m = nlook - i < BATCH ? nlook - i : BATCH;
            registry_owner_v4_many(ix, look + i, batch_out, m);
            for (size_t k = 0; k < m; k++)
                sum_many += (uint64_t)batch_out[k];
        }
        owner_many[run] = (double)nlook / (now() - t0);
        free(batch_out);
        if (sum_many != sum) {
            fprintf(stderr, "registry_owner_v4_many and registry_owner_v4 disagree\n");
            return 1;
        }

        /* lookup_ip: the first pass makes the claim structs it meets, the second finds them made */
        uint64_t sum2 = 0, sum3 = 0;
        for (int pass = 0; pass < 2; pass++) {
            t0 = now();
            for (size_t i = 0; i < nlook; i++) {
                net_prefix p = {.family = 4, .len = 32};
                p.addr[0] = (uint8_t)(look[i] >> 24);
                p.addr[1] = (uint8_t)(look[i] >> 16);
                p.addr[2] = (uint8_t)(look[i] >> 8);
                p.addr[3] = (uint8_t)look[i];
                const registry_claim *c = registry_lookup_ip(ix, &p);
                *(pass ? &sum3 : &sum2) += c ? (uint64_t)c->org_ids[0] : 0;
            }
            (pass ? warm : cold)[run] = (double)nlook / (now() - t0);
        }
        if (sum != sum2 || sum != sum3) {
            fprintf(stderr, "registry_owner_v4 and registry_lookup_ip disagree\n");
            return 1;
        }
        registry_index_counts(ix, &cnt_after);
        checksum += sum;
        registry_index_free(ix);
    }

    printf("entries          %zu (%zu prefixes /8../24, %zu hosts /32, %zu organisations)\n", n, nprefix, nhost,
           norgs);
    printf("claims           %zu networks\n", cnt.networks);
    printf("memory           %.1f MB, %.2f bytes per entry (index as built, netindex included)\n",
           (double)cnt.bytes / 1e6, (double)cnt.bytes / (double)n);
    printf("                 %.1f MB, %.2f bytes per entry after the lookup_ip passes (claim structs made)\n",
           (double)cnt_after.bytes / 1e6, (double)cnt_after.bytes / (double)n);
    printf("peak RSS         %zu MB (input arrays alone: %zu MB)\n", peak_rss_mb(), rss_input);
    printf("build            %.3f s (median of 3; add + build)\n", median3(builds));
    printf("owner_v4         %.2f M/s (median of 3, %zu random addresses, one core)\n", median3(owner) / 1e6, nlook);
    printf("owner_v4_many    %.2f M/s (batches of 4096)\n", median3(owner_many) / 1e6);
    printf("lookup_ip        %.2f M/s first pass, %.2f M/s second pass\n", median3(cold) / 1e6,
           median3(warm) / 1e6);
    printf("checksum         %llu\n", (unsigned long long)checksum);
    free(addr);
    free(len);
    free(org);
    free(look);
    return 0;
}
