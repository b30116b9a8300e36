/* api_reports.c: intake of reports from citizens, constituents, partners and staff. */
#include "server/api.h"
#include "server/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_report_create(http_request *req)
{
    if (!require(req, ACT_REPORT_CREATE))
        return;
    report_input in;
    dz_err e = {0};
    json_t *out;
    bool created = false;
    if (decode_report(body_text(req), req->body.len, &in, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    if (in.incident && !policy_allows(&req->who, ACT_REPORT_LINK)) {
        report_input_free(&in);
        respond_problem(req, 403, NULL, "role '%s' may not link reports to incidents; leave out 'incident'",
                        role_name(req->who.role));
        return;
    }
    /* Filing with 'incident' links the report, so the incident must be one the caller may see, as for
     * POST /api/v1/incidents/{id}/reports; one it may not see is refused as if it did not exist. */
    if (in.incident) {
        store_scope sc = policy_incident_scope(&req->who);
        json_t *inc;
        if (store_incident_get(req->srv->st, &sc, in.incident, &inc, &e) != DZ_OK) {
            if (e.code == DZ_ENOTFOUND)
                dz_fail(&e, DZ_EINVAL, "field 'incident': no incident '%.48s'", in.incident);
            report_input_free(&in);
            respond_error(req, &e);
            return;
        }
        json_decref(inc);
    }
    /* Bound users file on behalf of their own organisation. */
    if (!role_is_staff(req->who.role) && in.constituent && strcmp(in.constituent, req->who.org) != 0) {
        report_input_free(&in);
        respond_problem(req, 403, NULL, "you may file reports only for your own organisation '%s'", req->who.org);
        return;
    }
    dz_code rc = store_report_create(req->srv->st, &req->who, &in, &out, &created, &e);
    report_input_free(&in);
    if (rc != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    /* A resubmission of a report filed by another organisation must not reveal it. */
    int64_t org = policy_org_filter(&req->who);
    if (!created && org) {
        const char *filed_by = json_string_value(json_object_get(out, "filed_by_org"));
        if (!filed_by || strcmp(filed_by, req->who.org) != 0) {
            json_decref(out);
            respond_problem(req, 409, NULL, "a report with this source and source_ref exists already");
            return;
        }
    }
    snprintf(req->location, sizeof req->location, "/api/v1/reports/%s", json_string_value(json_object_get(out, "id")));
    respond_json(req, created ? 201 : 200, out);
}

void api_report_get(http_request *req)
{
    if (!require(req, ACT_REPORT_READ))
        return;
    dz_err e = {0};
    json_t *out;
    if (store_report_get(req->srv->st, policy_org_filter(&req->who), route_param(req, 0), &out, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

void api_report_list(http_request *req)
{
    if (!require(req, ACT_REPORT_READ))
        return;
    const char *lim = http_query(req, "limit");
    int limit = 0;
    if (lim && *lim) {
        char *end;
        long l = strtol(lim, &end, 10);
        if (*end || l < 1 || l > 500) {
            respond_problem(req, 400, NULL, "parameter 'limit' must be a whole number from 1 to 500");
            return;
        }
        limit = (int)l;
    }
    dz_err e = {0};
    json_t *out;
    if (store_report_list(req->srv->st, policy_org_filter(&req->who), http_query(req, "cursor"), limit,
                          http_query(req, "incident"), &out, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}
