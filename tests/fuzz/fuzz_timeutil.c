/*
 * libFuzzer target: time_parse_iso and duration_parse on a NUL-terminated copy
 * of the input. Checks: a parsed time inside years 1970..9999 survives a round
 * trip through time_format_iso; a parsed duration is non-negative and below
 * the parser's stated bound.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/timeutil.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    dz_err e = {0};
    int64_t t = 0;
    if (time_parse_iso(s, &t, &e) == DZ_OK) {
        if (t >= 0 && t <= INT64_C(253402300799)) { /* 1970-01-01 .. 9999-12-31T23:59:59Z */
            char buf[32], again[32];
            int64_t t2 = -1;
            time_format_iso(t, buf, sizeof buf);
            CHECK(time_parse_iso(buf, &t2, &e) == DZ_OK);
            CHECK(t2 == t);
            time_format_iso(t2, again, sizeof again);
            CHECK(strcmp(buf, again) == 0);
        }
    } else {
        CHECK(e.code == DZ_EINVAL && e.msg[0] != '\0');
    }

    int64_t d = -1;
    if (duration_parse(s, &d, &e) == DZ_OK)
        CHECK(d >= 0 && d <= INT64_C(1000000009) * 7 * 86400);
    else
        CHECK(e.code == DZ_EINVAL);

    free(s);
    return 0;
}
