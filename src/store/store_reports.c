/*
 * store_reports.c: intake. A report is what someone told us (a citizen's
 * web form, a partner CERT's mail, a phone call), identified by where it came
 * from and that source's own reference. (source, source_ref) is unique, so a
 * resubmission returns the first report and never creates a second.
 */
#include "store/store_incidents_internal.h"
#include "lib/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define REPORT_SELECT                                                                                        \
    "SELECT r.id, r.public_id, r.source, r.source_ref, r.title, r.body, r.reporter_name, r.reporter_email, "  \
    "r.reporter_phone, c.short_name, i.public_id, r.created_by, r.created_at, o.short_name FROM reports r "   \
    "LEFT JOIN constituents c ON c.id = r.constituent_id LEFT JOIN incidents i ON i.id = r.incident_id "      \
    "LEFT JOIN constituents o ON o.id = r.created_by_org "

static json_t *report_row(db_stmt *st)
{
    json_t *o = json_object();
    json_set_text(o, "id", db_col_text(st, 1));
    json_set_text(o, "source", db_col_text(st, 2));
    json_set_text(o, "source_ref", db_col_text(st, 3));
    json_set_text(o, "title", db_col_text(st, 4));
    json_set_text(o, "body", db_col_text(st, 5));
    json_t *rep = json_object();
    json_set_text(rep, "name", db_col_text(st, 6));
    json_set_text(rep, "email", db_col_text(st, 7));
    json_set_text(rep, "phone", db_col_text(st, 8));
    json_object_set_new(o, "reporter", rep);
    json_set_text(o, "constituent", db_col_text(st, 9));
    json_set_text(o, "incident", db_col_text(st, 10));
    json_set_text(o, "created_by", db_col_text(st, 11));
    json_set_time(o, "created_at", db_col_int(st, 12), false);
    json_set_text(o, "filed_by_org", db_col_text(st, 13));
    return o;
}

static dz_code report_by(db *d, const char *sql, const char *a, const char *b, int64_t only_org, json_t **out,
                         dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, sql, &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, a);
    int idx = 2;
    if (b)
        db_bind_text(st, idx++, b);
    db_bind_int(st, idx++, only_org);
    db_bind_int(st, idx, only_org);
    int rc = db_step(st, e);
    *out = rc == DB_ROW ? report_row(st) : NULL;
    db_reset(st);
    if (rc == DB_ERROR)
        return e->code;
    return rc == DB_ROW ? DZ_OK : dz_fail(e, DZ_ENOTFOUND, "no report '%.48s'", a);
}

#define ORG_FILTER " AND (? = 0 OR r.created_by_org = ?)"

dz_code store_report_get(store *s, int64_t only_org, const char *public_id, json_t **out, dz_err *e)
{
    db *d;
    if (store_reader(s, &d, e) != DZ_OK)
        return e->code;
    return report_by(d, REPORT_SELECT "WHERE r.public_id = ?" ORG_FILTER, public_id, NULL, only_org, out, e);
}

typedef struct {
    const principal *who;
    const report_input *in;
    char public_id[PUBLIC_ID_MAX];
    bool created;
} report_create_ctx;

/* Records on the incident that a report was linked to it. */
static dz_code note_link(db *d, int64_t incident_id, int64_t now, const char *actor, const char *report_id, dz_err *e)
{
    if (incident_timeline_add(d, incident_id, now, actor, "report", "linked", NULL, report_id, e) != DZ_OK)
        return e->code;
    return incident_touch(d, incident_id, now, e);
}

static dz_code report_create_tx(store *s, db *d, void *arg, dz_err *e)
{
    report_create_ctx *c = arg;
    const report_input *in = c->in;
    int64_t now = store_now(s), seq, constituent_id = 0, incident_id = 0;
    db_stmt *st;
    /* A resubmission: answer with the first report, write nothing. */
    if (db_prepare(d, "SELECT public_id FROM reports WHERE source = ? AND source_ref = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, in->source);
    db_bind_text(st, 2, in->source_ref);
    int r = db_step(st, e);
    if (r == DB_ROW)
        snprintf(c->public_id, sizeof c->public_id, "%s", db_col_text(st, 0));
    db_reset(st);
    if (r != DB_DONE)
        return r == DB_ROW ? DZ_OK : e->code;

    if (in->constituent) {
        if (db_prepare(d, "SELECT id FROM constituents WHERE short_name = ?", &st, e) != DZ_OK)
            return e->code;
        db_bind_text(st, 1, in->constituent);
        constituent_id = db_step(st, e) == DB_ROW ? db_col_int(st, 0) : 0;
        db_reset(st);
        if (!constituent_id)
            return dz_fail(e, DZ_EINVAL, "field 'constituent': no constituent '%.64s'", in->constituent);
    }
    if (in->incident) { /* the handler has checked the caller may see it */
        incident_row row;
        if (incident_row_load(d, &incident_scope_all, in->incident, &row, e) != DZ_OK)
            return dz_fail(e, DZ_EINVAL, "field 'incident': no incident '%.48s'", in->incident);
        incident_id = row.id;
        incident_row_free(&row);
    }
    if (store_next_seq(d, "R", time_year_utc(now), &seq, e) != DZ_OK)
        return e->code;
    public_id_format(c->public_id, sizeof c->public_id, store_get_settings(s)->id_prefix, "R", time_year_utc(now), seq);
    if (db_prepare(d, "INSERT INTO reports(public_id, source, source_ref, title, body, reporter_name, "
                      "reporter_email, reporter_phone, constituent_id, incident_id, created_by, created_by_org, "
                      "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, c->public_id);
    db_bind_text(st, 2, in->source);
    db_bind_text(st, 3, in->source_ref);
    db_bind_text(st, 4, in->title);
    db_bind_text(st, 5, in->body);
    db_bind_text(st, 6, in->reporter_name);
    db_bind_text(st, 7, in->reporter_email);
    db_bind_text(st, 8, in->reporter_phone);
    db_bind_int_or_null(st, 9, constituent_id, 0);
    db_bind_int_or_null(st, 10, incident_id, 0);
    db_bind_text(st, 11, c->who->username);
    db_bind_int_or_null(st, 12, c->who->org_id, 0);
    db_bind_int(st, 13, now);
    if (db_run(st, e) != DZ_OK)
        return e->code;
    c->created = true;
    if (incident_id && note_link(d, incident_id, now, c->who->username, c->public_id, e) != DZ_OK)
        return e->code;
    json_t *detail = json_pack("{s:s, s:s, s:s?}", "source", in->source, "source_ref", in->source_ref, "incident",
                               in->incident);
    return store_audit_append(d, now, c->who->username, "report.create", c->public_id, detail, e);
}

dz_code store_report_create(store *s, const principal *who, const report_input *r, json_t **out, bool *created,
                            dz_err *e)
{
    report_create_ctx c = {.who = who, .in = r};
    db *d;
    if (store_write(s, report_create_tx, &c, e) != DZ_OK || store_reader(s, &d, e) != DZ_OK)
        return e->code;
    *created = c.created;
    return report_by(d, REPORT_SELECT "WHERE r.public_id = ?" ORG_FILTER, c.public_id, NULL, 0, out, e);
}

dz_code store_report_list(store *s, int64_t only_org, const char *cursor, int limit, const char *incident,
                          json_t **out, dz_err *e)
{
    int64_t before = 0;
    if (store_page_args(cursor, &limit, 50, 500, &before, e) != DZ_OK)
        return e->code;
    db *d;
    db_stmt *st;
    if (store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, REPORT_SELECT "WHERE (? = 0 OR r.id < ?) AND (CAST(? AS TEXT) IS NULL OR i.public_id = ?)" ORG_FILTER
                                    " ORDER BY r.id DESC LIMIT ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, before);
    db_bind_int(st, 2, before);
    db_bind_text(st, 3, incident);
    db_bind_text(st, 4, incident);
    db_bind_int(st, 5, only_org);
    db_bind_int(st, 6, only_org);
    db_bind_int(st, 7, limit + 1);
    return store_page_json(st, limit, report_row, out, e);
}

typedef struct {
    const principal *who;
    const store_scope *scope;
    const char *report_id, *incident_id;
} link_ctx;

static dz_code link_tx(store *s, db *d, void *arg, dz_err *e)
{
    link_ctx *c = arg;
    int64_t now = store_now(s), incident_id = 0, report_id = 0, current = 0;
    db_stmt *st;
    incident_row row; /* the incident must be visible to the caller */
    if (incident_row_load(d, c->scope, c->incident_id, &row, e) != DZ_OK)
        return e->code;
    incident_id = row.id;
    incident_row_free(&row);
    if (db_prepare(d, "SELECT id, COALESCE(incident_id, 0) FROM reports WHERE public_id = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, c->report_id);
    if (db_step(st, e) == DB_ROW) {
        report_id = db_col_int(st, 0);
        current = db_col_int(st, 1);
    }
    db_reset(st);
    if (!report_id)
        return dz_fail(e, DZ_EINVAL, "field 'report': no report '%.48s'", c->report_id);
    if (current == incident_id)
        return DZ_OK;
    if (current)
        return dz_fail(e, DZ_ECONFLICT, "report %.48s is linked to another incident already", c->report_id);
    if (db_prepare(d, "UPDATE reports SET incident_id = ? WHERE id = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, incident_id);
    db_bind_int(st, 2, report_id);
    if (db_run(st, e) != DZ_OK)
        return e->code;
    if (note_link(d, incident_id, now, c->who->username, c->report_id, e) != DZ_OK)
        return e->code;
    return store_audit_append(d, now, c->who->username, "report.link", c->report_id,
                              json_pack("{s:s}", "incident", c->incident_id), e);
}

dz_code store_report_link(store *s, const principal *who, const store_scope *scope, const char *report_id,
                          const char *incident_id, json_t **out, dz_err *e)
{
    link_ctx c = {who, scope, report_id, incident_id};
    db *d;
    if (store_write(s, link_tx, &c, e) != DZ_OK || store_reader(s, &d, e) != DZ_OK)
        return e->code;
    return report_by(d, REPORT_SELECT "WHERE r.public_id = ?" ORG_FILTER, report_id, NULL, 0, out, e);
}
