/*
 * auth.c: credentials on each request.
 *
 * A bearer token costs one BLAKE2b hash and one indexed lookup: no password
 * hashing per request. A session cookie is looked up the same way; requests
 * that change state with a cookie must also send the session's CSRF token in
 * X-CSRF-Token (SameSite=Strict is the first line, this the second).
 */
#include "server/auth.h"
#include "lib/credentials.h"

#include <string.h>
#include <strings.h>

static bool is_safe_method(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

bool auth_authenticate(http_request *req)
{
    dz_err e = {0};
    char hash[SECRET_HASH_HEX_LEN + 1];
    const char *authz = http_header(req, "Authorization");
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) != 0) {
            respond_problem(req, 401, NULL, "Authorization must be 'Bearer <token>'");
            return false;
        }
        const char *tok = authz + 7;
        while (*tok == ' ')
            tok++;
        if (strlen(tok) > 200) {
            respond_problem(req, 401, NULL, "unknown, revoked or disabled API token");
            return false;
        }
        secret_hash(tok, hash);
        if (store_token_lookup(req->srv->st, hash, &req->who, &e) != DZ_OK) {
            respond_error(req, &e);
            return false;
        }
        req->authenticated = true;
        return true;
    }
    const char *cookie = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
    if (cookie && *cookie && strlen(cookie) < 200) {
        secret_hash(cookie, hash);
        if (store_session_lookup(req->srv->st, hash, &req->who, req->csrf, &e) != DZ_OK) {
            respond_error(req, &e);
            return false;
        }
        if (!is_safe_method(req->method)) {
            const char *sent = http_header(req, CSRF_HEADER);
            if (!sent || !secret_equal(sent, req->csrf)) {
                respond_problem(req, 403, NULL, "missing or wrong " CSRF_HEADER " header: send the csrf_token "
                                                "returned by POST /api/v1/session with every state-changing request");
                return false;
            }
        }
        req->authenticated = true;
        req->via_session = true;
        return true;
    }
    respond_problem(req, 401, NULL, "authentication required: send 'Authorization: Bearer <token>' or log in "
                                    "with POST /api/v1/session");
    return false;
}
