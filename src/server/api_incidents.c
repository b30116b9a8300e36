/*
 * api_incidents.c: the incident desk. Incidents, their notes, tasks,
 * timeline, linked reports, and merges. Every handler asks policy.c first and
 * passes the caller's scope to the store, which applies it in SQL.
 */
#include "server/api.h"
#include "lib/timeutil.h"
#include "server/policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *incident_id(http_request *req)
{
    return route_param(req, 0);
}

/* ---- list ---- */

/* Turns "open" into the open phases, checks every name, writes a comma list. */
static bool parse_status_list(http_request *req, const char *in, char *out, size_t n)
{
    size_t off = 0;
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", in);
    out[0] = '\0';
    for (char *save, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const char *add = tok;
        incident_status st;
        dz_err e;
        if (strcmp(tok, "open") == 0)
            add = "new,triage,analysis,mitigation,recovery";
        else if (status_parse(tok, &st, &e) != DZ_OK) {
            respond_problem(req, 400, NULL, "parameter 'status': %s (or 'open')", e.msg);
            return false;
        } else
            add = status_name(st);
        off += (size_t)snprintf(out + off, n - off, "%s%s", off ? "," : "", add);
        if (off >= n)
            break;
    }
    return true;
}

static bool parse_severity_list(http_request *req, const char *in, char *out, size_t n)
{
    size_t off = 0;
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s", in);
    out[0] = '\0';
    for (char *save, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        severity_level sv;
        dz_err e;
        if (severity_parse(tok, &sv, &e) != DZ_OK) {
            respond_problem(req, 400, NULL, "parameter 'severity': %s", e.msg);
            return false;
        }
        off += (size_t)snprintf(out + off, n - off, "%s%d", off ? "," : "", (int)sv);
        if (off >= n)
            break;
    }
    return true;
}

static bool parse_time_param(http_request *req, const char *name, int64_t *out)
{
    const char *v = http_query(req, name);
    dz_err e;
    *out = 0;
    if (!v || !*v)
        return true;
    if (time_parse_iso(v, out, &e) != DZ_OK) {
        respond_problem(req, 400, NULL, "parameter '%s': %s", name, e.msg);
        return false;
    }
    return true;
}

static bool parse_limit(http_request *req, int *limit)
{
    const char *v = http_query(req, "limit");
    *limit = 0;
    if (!v || !*v)
        return true;
    char *end;
    long l = strtol(v, &end, 10);
    if (*end || l < 1 || l > 500) {
        respond_problem(req, 400, NULL, "parameter 'limit' must be a whole number from 1 to 500");
        return false;
    }
    *limit = (int)l;
    return true;
}

/* taxonomy= and/or type=, in any spelling rsit_resolve accepts; stored in canonical spelling. */
static bool parse_classification_filter(http_request *req, incident_filter *f)
{
    const char *tax = http_query(req, "taxonomy"), *type = http_query(req, "type");
    rsit_class cls;
    dz_err e;
    if (type && *type) {
        if (rsit_resolve(tax, type, &cls, &e) != DZ_OK) {
            respond_problem(req, 400, NULL, "parameters 'taxonomy'/'type': %s", e.msg);
            return false;
        }
        f->type = cls.type;
        f->taxonomy = tax && *tax ? cls.taxonomy : NULL;
        return true;
    }
    if (!tax || !*tax)
        return true;
    if (rsit_taxonomy_resolve(tax, &f->taxonomy, &e) != DZ_OK) {
        respond_problem(req, 400, NULL, "parameter 'taxonomy': %s", e.msg);
        return false;
    }
    return true;
}

void api_incident_list(http_request *req)
{
    if (!require(req, ACT_INCIDENT_READ))
        return;
    incident_filter f = {0};
    char statuses[256], severities[64], tlp_buf[16];
    const char *v;
    if ((v = http_query(req, "status")) && *v) {
        if (!parse_status_list(req, v, statuses, sizeof statuses))
            return;
        f.status = statuses;
    }
    if ((v = http_query(req, "severity")) && *v) {
        if (!parse_severity_list(req, v, severities, sizeof severities))
            return;
        f.severity = severities;
    }
    dz_err e = {0};
    if (!parse_classification_filter(req, &f))
        return;
    if ((v = http_query(req, "tlp")) && *v) {
        tlp_level t;
        if (tlp_parse(v, &t, &e) != DZ_OK) {
            respond_problem(req, 400, NULL, "parameter 'tlp': %s", e.msg);
            return;
        }
        snprintf(tlp_buf, sizeof tlp_buf, "%s", tlp_name(t));
        f.tlp = tlp_buf;
    }
    f.constituent = http_query(req, "constituent");
    f.assignee = http_query(req, "assignee");
    if (f.assignee && strcmp(f.assignee, "none") == 0)
        f.assignee = "";
    f.tag = http_query(req, "tag");
    f.text = http_query(req, "q");
    if (!f.text)
        f.text = http_query(req, "text");
    f.sort = http_query(req, "sort");
    f.cursor = http_query(req, "cursor");
    if (!parse_time_param(req, "created_after", &f.created_from) ||
        !parse_time_param(req, "created_before", &f.created_to) ||
        !parse_time_param(req, "updated_after", &f.updated_from) ||
        !parse_time_param(req, "updated_before", &f.updated_to) || !parse_limit(req, &f.limit))
        return;
    store_scope sc = policy_incident_scope(&req->who);
    json_t *out;
    if (store_incident_list(req->srv->st, &sc, &f, &out, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

/* ---- one incident ---- */

void api_incident_create(http_request *req)
{
    if (!require(req, ACT_INCIDENT_WRITE))
        return;
    incident_fields f;
    dz_err e = {0};
    json_t *out;
    if (decode_incident(body_text(req), req->body.len, true, &f, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    /* A TLP:RED incident nobody is assigned to would be invisible to the handler who opened it. */
    if ((f.set & INCF_TLP) && f.tlp == TLP_RED && !f.assignee && policy_incident_scope(&req->who).red_user_id >= 0) {
        f.assignee = strdup(req->who.username);
        f.set |= INCF_ASSIGNEE;
    }
    dz_code rc = store_incident_create(req->srv->st, &req->who, &f, &out, &e);
    incident_fields_free(&f);
    if (rc != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    snprintf(req->location, sizeof req->location, "/api/v1/incidents/%s", json_string_value(json_object_get(out, "id")));
    respond_json(req, 201, out);
}

void api_incident_get(http_request *req)
{
    if (!require(req, ACT_INCIDENT_READ))
        return;
    store_scope sc = policy_incident_scope(&req->who);
    dz_err e = {0};
    json_t *out;
    if (store_incident_get(req->srv->st, &sc, incident_id(req), &out, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

void api_incident_update(http_request *req)
{
    if (!require(req, ACT_INCIDENT_WRITE))
        return;
    incident_fields f;
    dz_err e = {0};
    json_t *out;
    if (decode_incident(body_text(req), req->body.len, false, &f, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    store_scope sc = policy_incident_scope(&req->who);
    dz_code rc = store_incident_update(req->srv->st, &req->who, &sc, incident_id(req), &f, &out, &e);
    incident_fields_free(&f);
    if (rc != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

/* Refusals the store would give for merging dup into the path's incident. Each merge of a 'from' list is
 * its own transaction, so every one is checked before the first is made: a refusal half-way through the
 * list must not leave the earlier ones merged. */
static dz_code merge_precheck(http_request *req, const store_scope *sc, const char *dup, dz_err *e)
{
    json_t *inc;
    if (strcmp(dup, incident_id(req)) == 0)
        return dz_fail(e, DZ_EINVAL, "cannot merge incident %.48s into itself", dup);
    if (store_incident_get(req->srv->st, sc, dup, &inc, e) != DZ_OK)
        return e->code;
    bool is_dup = strcmp(json_string_value(json_object_get(inc, "status")), status_name(STATUS_DUPLICATE)) == 0;
    json_decref(inc);
    return is_dup ? dz_fail(e, DZ_ECONFLICT, "%.48s is already merged (a duplicate)", dup) : DZ_OK;
}

void api_incident_merge(http_request *req)
{
    if (!require(req, ACT_INCIDENT_MERGE))
        return;
    merge_input m;
    dz_err e = {0};
    if (decode_merge(body_text(req), req->body.len, &m, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    store_scope sc = policy_incident_scope(&req->who);
    json_t *out = NULL;
    dz_code rc = DZ_OK;
    if (m.into) {
        rc = store_incident_merge(req->srv->st, &req->who, &sc, m.into, incident_id(req), &out, &e);
    } else {
        for (size_t i = 0; rc == DZ_OK && i < m.n_from; i++)
            rc = merge_precheck(req, &sc, m.from[i], &e);
        for (size_t i = 0; rc == DZ_OK && i < m.n_from; i++) {
            json_decref(out);
            out = NULL;
            rc = store_incident_merge(req->srv->st, &req->who, &sc, incident_id(req), m.from[i], &out, &e);
        }
    }
    merge_input_free(&m);
    if (rc != DZ_OK) {
        json_decref(out);
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

/* ---- children ---- */

typedef dz_code (*child_list_fn)(store *, const store_scope *, const char *, json_t **, dz_err *);

static void list_children(http_request *req, int act, child_list_fn fn)
{
    if (!require(req, act))
        return;
    store_scope sc = policy_incident_scope(&req->who);
    dz_err e = {0};
    json_t *items;
    if (fn(req->srv->st, &sc, incident_id(req), &items, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, json_pack("{s:o}", "items", items));
}

void api_note_list(http_request *req)
{
    list_children(req, ACT_NOTE_READ, store_note_list);
}

void api_task_list(http_request *req)
{
    list_children(req, ACT_TASK, store_task_list);
}

void api_timeline_list(http_request *req)
{
    list_children(req, ACT_TIMELINE_READ, store_timeline_list);
}

void api_note_create(http_request *req)
{
    if (!require(req, ACT_NOTE_WRITE))
        return;
    note_input n;
    dz_err e = {0};
    json_t *out;
    if (decode_note(body_text(req), req->body.len, &n, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    if (policy_note_forced_shared(&req->who))
        n.shared = true;
    store_scope sc = policy_incident_scope(&req->who);
    dz_code rc = store_note_add(req->srv->st, &req->who, &sc, incident_id(req), &n, &out, &e);
    note_input_free(&n);
    if (rc != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 201, out);
}

void api_task_create(http_request *req)
{
    if (!require(req, ACT_TASK))
        return;
    task_input t;
    dz_err e = {0};
    json_t *out;
    if (decode_task(body_text(req), req->body.len, true, &t, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    store_scope sc = policy_incident_scope(&req->who);
    dz_code rc = store_task_add(req->srv->st, &req->who, &sc, incident_id(req), &t, &out, &e);
    task_input_free(&t);
    if (rc != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 201, out);
}

void api_task_update(http_request *req)
{
    if (!require(req, ACT_TASK))
        return;
    char *end;
    long long task_id = strtoll(route_param(req, 1), &end, 10);
    if (*end || task_id <= 0) {
        respond_problem(req, 404, NULL, "no task '%.40s'", route_param(req, 1));
        return;
    }
    task_input t;
    dz_err e = {0};
    json_t *out;
    if (decode_task(body_text(req), req->body.len, false, &t, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    store_scope sc = policy_incident_scope(&req->who);
    dz_code rc = store_task_update(req->srv->st, &req->who, &sc, incident_id(req), task_id, &t, &out, &e);
    task_input_free(&t);
    if (rc != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

void api_incident_reports(http_request *req)
{
    if (!require(req, ACT_INCIDENT_READ) || !require(req, ACT_REPORT_READ))
        return;
    store_scope sc = policy_incident_scope(&req->who);
    dz_err e = {0};
    json_t *inc, *out;
    if (store_incident_get(req->srv->st, &sc, incident_id(req), &inc, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    json_decref(inc);
    if (store_report_list(req->srv->st, policy_org_filter(&req->who), NULL, 500, incident_id(req), &out, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

void api_incident_link_report(http_request *req)
{
    if (!require(req, ACT_REPORT_LINK))
        return;
    char *report = NULL;
    dz_err e = {0};
    json_t *out;
    if (decode_string_field(body_text(req), req->body.len, "report", &report, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    store_scope sc = policy_incident_scope(&req->who);
    dz_code rc = store_report_link(req->srv->st, &req->who, &sc, report, incident_id(req), &out, &e);
    free(report);
    if (rc != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    respond_json(req, 200, out);
}

/* GET /api/v1/taxonomy: the classifications dzong accepts, for forms and clients. */
void api_taxonomy(http_request *req)
{
    json_t *arr = json_array();
    for (size_t i = 0; rsit_at(i); i++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "taxonomy", rsit_at(i)->taxonomy, "type", rsit_at(i)->type));
    respond_json(req, 200, json_pack("{s:o}", "items", arr));
}
