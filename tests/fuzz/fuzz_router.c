/*
 * libFuzzer target: router_match over the API's route table.
 *
 * Input: "METHOD\nPATH" (without a newline the whole input is the path and the
 * method is GET). The first byte also chooses the size of the Allow buffer,
 * which is allocated at exactly that size so an overrun is caught by ASan.
 * Checks: a found route has the method asked for and its parameters are
 * non-empty, bounded, and free of '/' and control bytes.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t allow_len = data[0] % 48; /* 0..47: also exercises truncation */
    data++;
    size--;

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

    char *allow = allow_len ? malloc(allow_len) : NULL;
    const route *found = (const route *)1;
    route_params params;
    memset(&params, 0xAA, sizeof params);
    route_result r = router_match(api_routes, method, path, &found, &params, allow, allow_len);

    switch (r) {
    case ROUTE_FOUND:
        CHECK(found != NULL && found->method && found->pattern && found->handler);
        CHECK(strcmp(found->method, method) == 0);
        CHECK(params.n == count_placeholders(found->pattern));
        CHECK(params.n <= ROUTE_MAX_PARAMS);
        for (size_t i = 0; i < params.n; i++) {
            size_t n = strnlen(params.v[i], ROUTE_PARAM_MAX);
            CHECK(n > 0 && n < ROUTE_PARAM_MAX);
            for (size_t j = 0; j < n; j++) {
                unsigned char c = (unsigned char)params.v[i][j];
                CHECK(c >= 0x20 && c != 0x7f && c != '/');
            }
        }
        break;
    case ROUTE_METHOD_NOT_ALLOWED:
        CHECK(found == NULL);
        if (allow_len)
            CHECK(strnlen(allow, allow_len) < allow_len);
        if (allow_len >= 8) /* room for at least one method */
            CHECK(allow[0] != '\0');
        break;
    case ROUTE_NOT_FOUND:
    case ROUTE_BAD_PATH:
        CHECK(found == NULL);
        break;
    default:
        CHECK(0);
    }
    free(allow);
    free(buf);
    return 0;
}
