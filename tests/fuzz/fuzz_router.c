/*
 * libFuzzer target: router_match over the API's route table.
 *
 * Input: "METHOD\nPATH" (without a newline the whole input is the path and the
 * method is GET). Each input is matched several times with Allow buffers of
 * different sizes, each allocated at exactly that size so an overrun is caught
 * by ASan; the answers must agree. Checks: a found route has the method asked
 * for, one parameter per placeholder, and each parameter is non-empty,
 * bounded, and free of '/' and control bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/router.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static size_t count_placeholders(const char *pattern)
{
    size_t n = 0;
    for (const char *p = pattern; *p; p++)
        n += *p == '{';
    return n;
}

static void check(route_result r, const route *found, const route_params *params, const char *method,
                  const char *allow, size_t allow_len)
{
    switch (r) {
    case ROUTE_FOUND:
        CHECK(found != NULL && found->method && found->pattern && found->handler);
        CHECK(strcmp(found->method, method) == 0);
        CHECK(params->n == count_placeholders(found->pattern));
        CHECK(params->n <= ROUTE_MAX_PARAMS);
        for (size_t i = 0; i < params->n; i++) {
            size_t n = strnlen(params->v[i], ROUTE_PARAM_MAX);
            CHECK(n > 0 && n < ROUTE_PARAM_MAX);
            for (size_t j = 0; j < n; j++) {
                unsigned char c = (unsigned char)params->v[i][j];
                CHECK(c >= 0x20 && c != 0x7f && c != '/');
            }
        }
        break;
    case ROUTE_METHOD_NOT_ALLOWED:
        CHECK(found == NULL);
        if (allow_len)
            CHECK(strnlen(allow, allow_len) < allow_len);
        if (allow_len >= 32) /* room for every method a path can have */
            CHECK(allow[0] != '\0');
        break;
    case ROUTE_NOT_FOUND:
    case ROUTE_BAD_PATH:
        CHECK(found == NULL);
        break;
    default:
        CHECK(0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t allow_sizes[] = {64, 0, 1, 4, 7, 12, 32};
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *method = "GET", *path = buf;
    char *nl = memchr(buf, '\n', size);
    if (nl) {
        *nl = '\0';
        method = buf;
        path = nl + 1;
    }

    route_result first = ROUTE_NOT_FOUND;
    const route *first_found = NULL;
    route_params first_params;
    for (size_t k = 0; k < sizeof allow_sizes / sizeof allow_sizes[0]; k++) {
        size_t allow_len = allow_sizes[k];
        char *allow = allow_len ? malloc(allow_len) : NULL;
        const route *found = (const route *)1;
        route_params params;
        memset(&params, 0xAA, sizeof params);
        route_result r = router_match(api_routes, method, path, &found, &params, allow, allow_len);
        check(r, found, &params, method, allow, allow_len);
        if (k == 0) {
            first = r;
            first_found = found;
            first_params = params;
        } else {
            CHECK(r == first && found == first_found);
            if (r == ROUTE_FOUND) {
                CHECK(params.n == first_params.n);
                for (size_t i = 0; i < params.n; i++)
                    CHECK(strcmp(params.v[i], first_params.v[i]) == 0);
            }
        }
        free(allow);
    }
    free(buf);
    return 0;
}
