/*
 * router: maps (method, path) to a handler through a constant table.
 * Patterns are literal segments and {name} placeholders, e.g.
 * "/api/v1/incidents/{id}/notes". Paths arrive percent-decoded (by libmicrohttpd)
 * and are matched literally. Pure: no I/O, fuzzed by tests/fuzz/fuzz_router.c.
 */
#ifndef DZ_ROUTER_H
#define DZ_ROUTER_H
#include <stdbool.h>
#include <stddef.h>

#define ROUTE_MAX_PARAMS 4
#define ROUTE_PARAM_MAX 128

typedef struct route_params {
    size_t n;
    char v[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX];
} route_params;

struct http_request;
typedef void (*route_handler)(struct http_request *req);

enum {
    ROUTE_PUBLIC = 1,   /* no authentication needed */
};

typedef struct route {
    const char *method;
    const char *pattern;
    route_handler handler;
    unsigned flags;
} route;

typedef enum { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_METHOD_NOT_ALLOWED, ROUTE_BAD_PATH } route_result;

/* On ROUTE_METHOD_NOT_ALLOWED, allow receives the methods the path accepts ("GET, POST"). */
route_result router_match(const route *table, const char *method, const char *path, const route **found,
                           route_params *params, char *allow, size_t allow_len);

/* The API's routes ({0}-terminated), defined in routes.c. */
extern const route api_routes[];

#endif
