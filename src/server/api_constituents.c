/*
 * api_constituents.c: the constituency registry and "whose is it?".
 *
 * Records are decoded once, by constituent_from_json (lib/constituent.c), so
 * the API, the CLI import and the store agree on what a valid record is.
 * PATCH merges the body into the stored record and sends the result through
 * the same decoder, so a partial update can never skip a check.
 */
#include "server/api.h"
#include "server/policy.h"

#include <stdlib.h>
#include <string.h>

/* The body as a JSON object, or a 400 that says where it broke. */
static json_t *body_object(http_request *req)
{
    json_error_t je;
    json_t *in = json_loadb(body_text(req), req->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!in) {
        respond_problem(req, 400, NULL, "body is not JSON (line %d, column %d): %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(in)) {
        respond_problem(req, 400, NULL, "body must be a JSON object (a constituent record)");
        json_decref(in);
        return NULL;
    }
    return in;
}

/* Decodes and stores a record; answers with it. */
static void put_record(http_request *req, json_t *in, store_put_mode mode)
{
    constituent_record r;
    dz_err e = {0};
    json_t *out;
    bool created = false;
    dz_code rc = constituent_from_json(in, store_sectors(req->srv->st), &r, &e);
    if (rc == DZ_OK) {
        rc = store_constituent_put(req->srv->st, &req->who, &r, mode, &out, &created, &e);
        if (rc == DZ_OK && created)
            snprintf(req->location, sizeof req->location, "/api/v1/constituents/%s", r.short_name);
        constituent_record_free(&r);
    }
    if (rc != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, created ? 201 : 200, out);
}

/* A record sent to a path must name the same organisation (or none): renaming is not an update. */
static bool body_names_path(http_request *req, json_t *in)
{
    const char *path_name = route_param(req, 0);
    json_t *sn = json_object_get(in, "short_name");
    if (!sn) {
        json_object_set_new(in, "short_name", json_string(path_name));
        return true;
    }
    if (json_is_string(sn) && strcmp(json_string_value(sn), path_name) == 0)
        return true;
    respond_problem(req, 400, NULL, "short_name in the body differs from the path's '%s' (records are not renamed)",
                    path_name);
    return false;
}

void api_constituent_list(http_request *req)
{
    if (!require(req, ACT_CONSTITUENT_READ))
        return;
    constituent_filter f = {.cii = -1, .limit = 100};
    dz_err e = {0};
    const char *v;
    org_kind k;
    if ((v = http_query(req, "kind")) && *v) {
        if (org_kind_parse(v, &k, &e) != DZ_OK) {
            respond_problem(req, 400, NULL, "parameter 'kind': %s", e.msg);
            return;
        }
        f.kind = org_kind_name(k);
    }
    if ((v = http_query(req, "sector")) && *v) {
        if (!sector_list_has(store_sectors(req->srv->st), v)) {
            respond_problem(req, 400, NULL, "parameter 'sector': unknown sector '%.60s'", v);
            return;
        }
        f.sector = v;
    }
    if ((v = http_query(req, "cii")) && *v) {
        if (strcmp(v, "true") && strcmp(v, "false")) {
            respond_problem(req, 400, NULL, "parameter 'cii' must be true or false");
            return;
        }
        f.cii = strcmp(v, "true") == 0;
    }
    f.tag = http_query(req, "tag");
    f.parent = http_query(req, "parent");
    f.text = http_query(req, "q");
    f.cursor = http_query(req, "cursor");
    if ((v = http_query(req, "limit")) && *v) {
        char *end;
        long l = strtol(v, &end, 10);
        if (*end || l < 1 || l > 1000) {
            respond_problem(req, 400, NULL, "parameter 'limit' must be a whole number from 1 to 1000");
            return;
        }
        f.limit = (int)l;
    }
    json_t *out;
    if (store_constituent_list(req->srv->st, policy_org_filter(&req->who), &f, &out, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

void api_constituent_create(http_request *req)
{
    if (!require(req, ACT_CONSTITUENT_WRITE))
        return;
    json_t *in = body_object(req);
    if (!in)
        return;
    put_record(req, in, STORE_PUT_CREATE);
    json_decref(in);
}

void api_constituent_get(http_request *req)
{
    if (!require(req, ACT_CONSTITUENT_READ))
        return;
    dz_err e = {0};
    json_t *out;
    if (store_constituent_get(req->srv->st, policy_org_filter(&req->who), route_param(req, 0), &out, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

/* PUT: the whole record; what the body leaves out takes its default. */
void api_constituent_replace(http_request *req)
{
    if (!require(req, ACT_CONSTITUENT_WRITE))
        return;
    json_t *in = body_object(req);
    if (!in)
        return;
    if (body_names_path(req, in))
        put_record(req, in, STORE_PUT_REPLACE);
    json_decref(in);
}

/* PATCH: the fields the body names replace the stored ones (lists as a whole). */
void api_constituent_update(http_request *req)
{
    if (!require(req, ACT_CONSTITUENT_WRITE))
        return;
    json_t *patch = body_object(req);
    if (!patch)
        return;
    dz_err e = {0};
    json_t *merged;
    if (!body_names_path(req, patch)) {
        json_decref(patch);
        return;
    }
    if (store_constituent_get(req->srv->st, 0, route_param(req, 0), &merged, &e) != DZ_OK) {
        json_decref(patch);
        respond_error(req, &e);
        return;
    }
    json_object_update(merged, patch);
    put_record(req, merged, STORE_PUT_REPLACE);
    json_decref(merged);
    json_decref(patch);
}

void api_constituent_delete(http_request *req)
{
    if (!require(req, ACT_CONSTITUENT_WRITE))
        return;
    dz_err e = {0};
    if (store_constituent_delete(req->srv->st, &req->who, route_param(req, 0), &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_bytes(req, 204, "application/json", "", 0);
}

/* GET /api/v1/lookup?ip=|asn=|domain=|q= (q guesses which). */
void api_lookup(http_request *req)
{
    if (!require(req, ACT_CONSTITUENT_READ))
        return;
    static const char *const kinds[] = {"ip", "asn", "domain", "q"};
    const char *kind = NULL, *value = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        const char *v = http_query(req, kinds[i]);
        if (!v)
            continue;
        if (kind) {
            respond_problem(req, 400, NULL, "give one of 'ip', 'asn', 'domain' or 'q', not both '%s' and '%s'", kind,
                            kinds[i]);
            return;
        }
        kind = kinds[i];
        value = v;
    }
    if (!kind) {
        respond_problem(req, 400, NULL, "give one of 'ip', 'asn', 'domain' (or 'q' to let dzong tell which)");
        return;
    }
    dz_err e = {0};
    json_t *out;
    if (store_lookup(req->srv->st, policy_org_filter(&req->who), strcmp(kind, "q") ? kind : NULL, value, &out, &e) !=
        DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

bool api_query_constituent(http_request *req, const char **out)
{
    const char *v = http_query(req, "constituent");
    if (!v || !*v)
        return true;
    json_t *rec;
    dz_err e = {0};
    dz_code rc = store_constituent_get(req->srv->st, policy_org_filter(&req->who), v, &rec, &e);
    if (rc == DZ_ENOTFOUND) {
        respond_problem(req, 400, NULL, "parameter 'constituent': no constituent '%.60s'", v);
        return false;
    }
    if (rc != DZ_OK) {
        respond_error(req, &e);
        return false;
    }
    json_decref(rec);
    *out = v;
    return true;
}
