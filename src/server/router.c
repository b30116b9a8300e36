#include "server/router.h"

#include <stdio.h>
#include <string.h>

/*
 * Copies one path segment. The path arrives percent-decoded already
 * (libmicrohttpd decodes it once), so it is taken literally: decoding again
 * would make "%2531" mean "1" and let an encoded id slip past a proxy's
 * filter. Refuses control bytes and over-long segments.
 */
static bool copy_segment(const char *s, size_t n, char *out, size_t out_len)
{
    if (n == 0 || n >= out_len)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        out[i] = (char)c;
    }
    out[n] = '\0';
    return true;
}

/* Matches path against one pattern, filling params. */
static route_result match_pattern(const char *pattern, const char *path, route_params *params)
{
    const char *p = pattern, *u = path;
    params->n = 0;
    while (*p && *u) {
        if (*p != '/' || *u != '/')
            return ROUTE_NOT_FOUND;
        p++;
        u++;
        const char *pe = strchr(p, '/'), *ue = strchr(u, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p), ul = ue ? (size_t)(ue - u) : strlen(u);
        if (pl > 2 && p[0] == '{' && p[pl - 1] == '}') {
            if (params->n >= ROUTE_MAX_PARAMS)
                return ROUTE_NOT_FOUND;
            if (ul == 0)
                return ROUTE_NOT_FOUND;
            if (!copy_segment(u, ul, params->v[params->n], sizeof params->v[0]))
                return ROUTE_BAD_PATH;
            params->n++;
        } else if (pl != ul || memcmp(p, u, pl) != 0) {
            return ROUTE_NOT_FOUND;
        }
        p += pl;
        u += ul;
    }
    return (*p == '\0' && *u == '\0') ? ROUTE_FOUND : ROUTE_NOT_FOUND;
}

route_result router_match(const route *table, const char *method, const char *path, const route **found,
                          route_params *params, char *allow, size_t allow_len)
{
    route_params tmp;
    size_t allow_off = 0;
    bool path_known = false, bad = false, allow_full = false;
    if (allow_len)
        allow[0] = '\0';
    *found = NULL;
    if (path[0] != '/')
        return ROUTE_BAD_PATH;
    for (const route *r = table; r->method; r++) {
        route_result m = match_pattern(r->pattern, path, &tmp);
        if (m == ROUTE_BAD_PATH)
            bad = true;
        if (m != ROUTE_FOUND)
            continue;
        if (strcmp(r->method, method) == 0) {
            *found = r;
            *params = tmp;
            return ROUTE_FOUND;
        }
        path_known = true;
        /* Once a method does not fit, stop: a shorter one after it would make the list skip a method. */
        if (!allow_full && allow_off + strlen(r->method) + 3 < allow_len)
            allow_off += (size_t)snprintf(allow + allow_off, allow_len - allow_off, "%s%s", allow_off ? ", " : "",
                                          r->method);
        else
            allow_full = true;
    }
    if (path_known)
        return ROUTE_METHOD_NOT_ALLOWED;
    return bad ? ROUTE_BAD_PATH : ROUTE_NOT_FOUND;
}
