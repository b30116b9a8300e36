/* api_admin.c: users and the audit log. */
#include "server/api.h"
#include "lib/credentials.h"
#include "server/policy.h"

#include <stdlib.h>
#include <string.h>

void api_user_list(http_request *req)
{
    if (!require(req, ACT_USER_ADMIN))
        return;
    dz_err e = {0};
    json_t *items;
    if (store_user_list(req->srv->st, &items, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, json_pack("{s:o}", "items", items));
}

/* POST /api/v1/users {"username","role","constituent"?,"password"} */
void api_user_create(http_request *req)
{
    if (!require(req, ACT_USER_ADMIN))
        return;
    json_error_t je;
    json_t *in = json_loadb(body_text(req), req->body.len, JSON_REJECT_DUPLICATES, &je);
    const char *username = NULL, *role_s = NULL, *org = NULL, *password = NULL;
    if (!in || json_unpack_ex(in, &je, JSON_STRICT, "{s:s, s:s, s?s, s:s}", "username", &username, "role", &role_s,
                              "constituent", &org, "password", &password) != 0) {
        respond_problem(req, 400, NULL,
                        "expected {\"username\", \"role\", \"constituent\" (for constituent/partner), \"password\"}: %s",
                        je.text);
        json_decref(in);
        return;
    }
    dz_err e = {0};
    role r;
    char hash[PASSWORD_HASH_LEN];
    dz_code rc = role_parse(role_s, &r, &e);
    if (rc == DZ_OK && strlen(password) < 12)
        rc = dz_fail(&e, DZ_EINVAL, "password must be at least 12 characters");
    if (rc == DZ_OK)
        rc = password_hash(password, hash, &e);
    if (rc == DZ_OK)
        rc = store_user_create(req->srv->st, &req->who, username, r, org, hash, &e);
    json_t *out = rc == DZ_OK ? json_pack("{s:s, s:s, s:s?}", "username", username, "role", role_name(r),
                                          "constituent", org)
                              : NULL;
    json_decref(in);
    if (rc != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 201, out);
}

/* PATCH /api/v1/users/{name} {"disabled": true|false} */
void api_user_update(http_request *req)
{
    if (!require(req, ACT_USER_ADMIN))
        return;
    json_error_t je;
    json_t *in = json_loadb(body_text(req), req->body.len, JSON_REJECT_DUPLICATES, &je);
    int disabled = 0;
    if (!in || json_unpack_ex(in, &je, JSON_STRICT, "{s:b}", "disabled", &disabled) != 0) {
        respond_problem(req, 400, NULL, "expected {\"disabled\": true|false}: %s", je.text);
        json_decref(in);
        return;
    }
    json_decref(in);
    dz_err e = {0};
    if (store_user_set_disabled(req->srv->st, &req->who, route_param(req, 0), disabled, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, json_pack("{s:s, s:b}", "username", route_param(req, 0), "disabled", disabled));
}

void api_audit_list(http_request *req)
{
    if (!require(req, ACT_AUDIT_READ))
        return;
    const char *after = http_query(req, "after"), *lim = http_query(req, "limit");
    long long a = after ? strtoll(after, NULL, 10) : 0, l = lim ? strtoll(lim, NULL, 10) : 100;
    if (a < 0 || l < 1 || l > 1000) {
        respond_problem(req, 400, NULL, "parameters: 'after' >= 0, 'limit' 1..1000");
        return;
    }
    dz_err e = {0};
    json_t *items;
    if (store_audit_list(req->srv->st, a, (int)l, &items, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, json_pack("{s:o}", "items", items));
}

void api_audit_verify(http_request *req)
{
    if (!require(req, ACT_AUDIT_READ))
        return;
    dz_err e = {0};
    int64_t checked, bad;
    char why[256];
    if (store_audit_verify(req->srv->st, &checked, &bad, why, sizeof why, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    json_t *o = json_pack("{s:b, s:I}", "ok", bad == 0, "checked", (json_int_t)checked);
    json_object_set_new(o, "first_bad", bad ? json_integer(bad) : json_null());
    json_object_set_new(o, "reason", bad ? json_string(why) : json_null());
    respond_json(req, 200, o);
}
