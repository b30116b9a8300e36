/*
 * store_incidents.c: incidents: create, read, update, list (notes, tasks and merges: store_incident_work.c).
 *
 * Every change an update makes is written to incident_timeline with actor and
 * time (status, assignee, severity, TLP and every other field), so phase
 * durations such as time-to-triage can be computed from it. Visibility
 * (constituent isolation, TLP:RED) is applied in the SQL itself through
 * SCOPE_SQL, so a caller can never page past what it may see.
 */
#include "store/store_incidents_internal.h"
#include "lib/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Binds as: org, org, red_user, red_user. */
#define SCOPE_SQL                                                                                          \
    "(? = 0 OR EXISTS (SELECT 1 FROM incident_constituents sc WHERE sc.incident_id = i.id "               \
    "AND sc.constituent_id = ?)) AND (? < 0 OR i.tlp <> 'RED' OR i.assignee_id = ?)"

static int bind_scope(db_stmt *st, int idx, const store_scope *sc)
{
    db_bind_int(st, idx++, sc->org_id);
    db_bind_int(st, idx++, sc->org_id);
    db_bind_int(st, idx++, sc->red_user_id);
    db_bind_int(st, idx++, sc->red_user_id);
    return idx;
}


void incident_row_free(incident_row *r)
{
    free(r->title);
    free(r->description);
}

dz_code incident_row_load(db *d, const store_scope *sc, const char *public_id, incident_row *r, dz_err *e)
{
    db_stmt *st;
    memset(r, 0, sizeof *r);
    if (db_prepare(d, "SELECT i.id, i.public_id, i.title, i.description, i.taxonomy, i.type, i.tlp, i.pap, "
                      "i.status, i.severity, COALESCE(i.assignee_id, 0), u.username, COALESCE(i.duplicate_of, 0), "
                      "COALESCE(i.due_at, 0), i.created_at, i.due_manual "
                      "FROM incidents i LEFT JOIN users u ON u.id = i.assignee_id WHERE i.public_id = ? AND " SCOPE_SQL,
                   &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, public_id);
    bind_scope(st, 2, sc);
    int rc = db_step(st, e);
    if (rc == DB_ROW) {
        r->id = db_col_int(st, 0);
        snprintf(r->public_id, sizeof r->public_id, "%s", db_col_text(st, 1));
        r->title = strdup(db_col_text(st, 2));
        r->description = strdup(db_col_text(st, 3));
        snprintf(r->taxonomy, sizeof r->taxonomy, "%s", db_col_text(st, 4));
        snprintf(r->type, sizeof r->type, "%s", db_col_text(st, 5));
        snprintf(r->tlp, sizeof r->tlp, "%s", db_col_text(st, 6));
        snprintf(r->pap, sizeof r->pap, "%s", db_col_text(st, 7));
        snprintf(r->status, sizeof r->status, "%s", db_col_text(st, 8));
        r->severity = (int)db_col_int(st, 9);
        r->assignee_id = db_col_int(st, 10);
        snprintf(r->assignee, sizeof r->assignee, "%s", db_col_text(st, 11) ? db_col_text(st, 11) : "");
        r->duplicate_of = db_col_int(st, 12);
        r->due_at = db_col_int(st, 13);
        r->created_at = db_col_int(st, 14);
        r->due_manual = db_col_int(st, 15) != 0;
    }
    db_reset(st);
    if (rc == DB_ERROR)
        return e->code;
    return rc == DB_ROW ? DZ_OK : dz_fail(e, DZ_ENOTFOUND, "no incident '%.48s'", public_id);
}

/* ---- reading the wire shape ---- */

static json_t *first_column_string(db_stmt *st)
{
    return json_string(db_col_text(st, 0));
}

static dz_code string_column_list(db *d, const char *sql, int64_t id, json_t **out, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, sql, &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, id);
    return store_rows_json(st, first_column_string, out, e);
}

static dz_code first_status_at(db *d, int64_t id, const char *status, int64_t *at, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, "SELECT MIN(at) FROM incident_timeline WHERE incident_id = ? AND kind = 'status' "
                      "AND new_value = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, id);
    db_bind_text(st, 2, status);
    *at = 0;
    int rc = db_step(st, e);
    if (rc == DB_ROW && !db_col_null(st, 0))
        *at = db_col_int(st, 0);
    db_reset(st);
    return rc == DB_ERROR ? e->code : DZ_OK;
}

#define INCIDENT_SELECT                                                                                        \
    "SELECT i.id, i.public_id, i.title, i.description, i.taxonomy, i.type, i.tlp, i.pap, i.severity, i.status, " \
    "u.username, dup.public_id, COALESCE(i.due_at, 0), i.created_at, i.updated_at, i.created_by "              \
    "FROM incidents i LEFT JOIN users u ON u.id = i.assignee_id LEFT JOIN incidents dup ON dup.id = i.duplicate_of "

static dz_code incident_json_from_row(db *d, db_stmt *st, bool with_metrics, json_t **out, dz_err *e)
{
    int64_t id = db_col_int(st, 0);
    json_t *o = json_object();
    json_set_text(o, "id", db_col_text(st, 1));
    json_set_text(o, "title", db_col_text(st, 2));
    json_set_text(o, "description", db_col_text(st, 3));
    json_object_set_new(o, "classification",
                        json_pack("{s:s, s:s}", "taxonomy", db_col_text(st, 4), "type", db_col_text(st, 5)));
    json_set_text(o, "tlp", db_col_text(st, 6));
    json_set_text(o, "pap", db_col_text(st, 7));
    json_set_text(o, "severity", severity_name((severity_level)db_col_int(st, 8)));
    json_set_text(o, "status", db_col_text(st, 9));
    json_set_text(o, "assignee", db_col_text(st, 10));
    json_set_text(o, "duplicate_of", db_col_text(st, 11));
    json_set_time(o, "due_at", db_col_int(st, 12), true);
    int64_t created = db_col_int(st, 13);
    json_set_time(o, "created_at", created, false);
    json_set_time(o, "updated_at", db_col_int(st, 14), false);
    json_set_text(o, "created_by", db_col_text(st, 15));
    json_t *list;
    if (string_column_list(d, "SELECT c.short_name FROM incident_constituents ic JOIN constituents c "
                              "ON c.id = ic.constituent_id WHERE ic.incident_id = ? ORDER BY c.short_name",
                           id, &list, e) != DZ_OK)
        goto fail;
    json_object_set_new(o, "constituents", list);
    if (string_column_list(d, "SELECT tag FROM incident_tags WHERE incident_id = ? ORDER BY tag", id, &list, e) != DZ_OK)
        goto fail;
    json_object_set_new(o, "tags", list);
    if (with_metrics) {
        int64_t triage_at, closed_at;
        if (first_status_at(d, id, "triage", &triage_at, e) != DZ_OK ||
            first_status_at(d, id, "closed", &closed_at, e) != DZ_OK)
            goto fail;
        json_t *m = json_object();
        json_object_set_new(m, "time_to_triage_s", triage_at ? json_integer(triage_at - created) : json_null());
        json_object_set_new(m, "time_to_close_s", closed_at ? json_integer(closed_at - created) : json_null());
        json_object_set_new(o, "metrics", m);
    }
    *out = o;
    return DZ_OK;
fail:
    json_decref(o);
    return e->code;
}

dz_code incident_json_get(db *d, const store_scope *sc, const char *public_id, bool with_metrics, json_t **out,
                             dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, INCIDENT_SELECT "WHERE i.public_id = ? AND " SCOPE_SQL, &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, public_id);
    bind_scope(st, 2, sc);
    int rc = db_step(st, e);
    dz_code c = rc == DB_ROW ? incident_json_from_row(d, st, with_metrics, out, e)
                : rc == DB_DONE ? dz_fail(e, DZ_ENOTFOUND, "no incident '%.48s'", public_id)
                                : e->code;
    db_reset(st);
    return c;
}

dz_code store_incident_get(store *s, const store_scope *scope, const char *public_id, json_t **out, dz_err *e)
{
    db *d;
    if (store_reader(s, &d, e) != DZ_OK)
        return e->code;
    return incident_json_get(d, scope, public_id, true, out, e);
}

const store_scope incident_scope_all = {0, -1, false};

/* ---- writing ---- */

dz_code incident_timeline_add(db *d, int64_t incident_id, int64_t at, const char *actor, const char *kind,
                            const char *field, const char *old_value, const char *new_value, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, "INSERT INTO incident_timeline(incident_id, at, actor, kind, field, old_value, new_value) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, incident_id);
    db_bind_int(st, 2, at);
    db_bind_text(st, 3, actor);
    db_bind_text(st, 4, kind);
    db_bind_text(st, 5, field);
    db_bind_text(st, 6, old_value);
    db_bind_text(st, 7, new_value);
    return db_run(st, e);
}

dz_code incident_touch(db *d, int64_t incident_id, int64_t now, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, "UPDATE incidents SET updated_at = ? WHERE id = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, now);
    db_bind_int(st, 2, incident_id);
    return db_run(st, e);
}

/* Replaces the constituents (or tags) of an incident; names must exist (constituents). */
static dz_code set_constituents(db *d, int64_t id, char **names, size_t n, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, "DELETE FROM incident_constituents WHERE incident_id = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, id);
    if (db_run(st, e) != DZ_OK)
        return e->code;
    for (size_t i = 0; i < n; i++) {
        if (db_prepare(d, "INSERT INTO incident_constituents(incident_id, constituent_id) "
                          "SELECT CAST(? AS BIGINT), id FROM constituents WHERE short_name = ?", &st, e) != DZ_OK)
            return e->code;
        db_bind_int(st, 1, id);
        db_bind_text(st, 2, names[i]);
        if (db_run(st, e) != DZ_OK)
            return e->code;
        if (db_changes(d) == 0)
            return dz_fail(e, DZ_EINVAL, "field 'constituents': no constituent '%.64s'", names[i]);
    }
    return DZ_OK;
}

static dz_code set_tags(db *d, int64_t id, char **tags, size_t n, dz_err *e)
{
    db_stmt *st;
    if (db_prepare(d, "DELETE FROM incident_tags WHERE incident_id = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, id);
    if (db_run(st, e) != DZ_OK)
        return e->code;
    for (size_t i = 0; i < n; i++) {
        if (db_prepare(d, "INSERT INTO incident_tags(incident_id, tag) VALUES (?, ?)", &st, e) != DZ_OK)
            return e->code;
        db_bind_int(st, 1, id);
        db_bind_text(st, 2, tags[i]);
        if (db_run(st, e) != DZ_OK)
            return e->code;
    }
    return DZ_OK;
}

/* "a, b, c" for the timeline; caller frees. */
static char *join_list(char **v, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 2;
    char *s = calloc(1, len), *p = s;
    for (size_t i = 0; s && i < n; i++)
        p += sprintf(p, "%s%s", i ? ", " : "", v[i]);
    return s;
}

static dz_code list_as_text(db *d, const char *sql, int64_t id, char **out, dz_err *e)
{
    json_t *arr;
    if (string_column_list(d, sql, id, &arr, e) != DZ_OK)
        return e->code;
    size_t n = json_array_size(arr);
    char **v = calloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (char *)json_string_value(json_array_get(arr, i));
    *out = join_list(v, n);
    free(v);
    json_decref(arr);
    return DZ_OK;
}

typedef struct {
    const principal *who;
    const store_scope *scope;
    incident_fields *f;
    const char *public_id; /* update */
    char created_id[PUBLIC_ID_MAX];
} incident_write_ctx;

static dz_code incident_create_tx(store *s, db *d, void *arg, dz_err *e)
{
    incident_write_ctx *c = arg;
    incident_fields *f = c->f;
    const store_settings *cfg = store_get_settings(s);
    int64_t now = store_now(s), seq, assignee_id = 0, id;
    db_stmt *st;
    if (store_next_seq(d, "I", time_year_utc(now), &seq, e) != DZ_OK)
        return e->code;
    public_id_format(c->created_id, sizeof c->created_id, cfg->id_prefix, NULL, time_year_utc(now), seq);
    if (store_user_id_of(d, f->assignee, &assignee_id, e) != DZ_OK)
        return dz_wrap(e, "field 'assignee'");
    bool due_manual = (f->set & INCF_DUE_AT) && f->due_at != 0;
    int64_t due = due_manual ? f->due_at : now + cfg->due.seconds[f->severity];
    if (db_prepare(d, "INSERT INTO incidents(public_id, title, description, taxonomy, type, tlp, pap, severity, "
                      "status, assignee_id, due_at, due_manual, created_by, created_at, updated_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, c->created_id);
    db_bind_text(st, 2, f->title);
    db_bind_text(st, 3, f->description ? f->description : "");
    db_bind_text(st, 4, f->classification.taxonomy);
    db_bind_text(st, 5, f->classification.type);
    db_bind_text(st, 6, tlp_name(f->tlp));
    db_bind_text(st, 7, pap_name(f->pap));
    db_bind_int(st, 8, f->severity);
    db_bind_text(st, 9, status_name(STATUS_NEW));
    db_bind_int_or_null(st, 10, assignee_id, 0);
    db_bind_int(st, 11, due);
    db_bind_int(st, 12, due_manual);
    db_bind_text(st, 13, c->who->username);
    db_bind_int(st, 14, now);
    db_bind_int(st, 15, now);
    int rc = db_step(st, e);
    id = rc == DB_ROW ? db_col_int(st, 0) : 0;
    db_reset(st);
    if (rc != DB_ROW)
        return rc == DB_ERROR ? e->code : dz_fail(e, DZ_EDB, "incident insert returned no id");
    if (set_constituents(d, id, f->constituents, f->n_constituents, e) != DZ_OK ||
        set_tags(d, id, f->tags, f->n_tags, e) != DZ_OK ||
        incident_timeline_add(d, id, now, c->who->username, "created", "status", NULL, "new", e) != DZ_OK)
        return e->code;
    if (assignee_id && incident_timeline_add(d, id, now, c->who->username, "assignee", "assignee", NULL, f->assignee, e) != DZ_OK)
        return e->code;
    json_t *detail = json_pack("{s:s, s:s, s:s, s:s}", "title", f->title, "severity", severity_name(f->severity),
                               "tlp", tlp_name(f->tlp), "type", f->classification.type);
    return store_audit_append(d, now, c->who->username, "incident.create", c->created_id, detail, e);
}

dz_code store_incident_create(store *s, const principal *who, incident_fields *f, json_t **out, dz_err *e)
{
    incident_fields_defaults(f);
    incident_write_ctx c = {.who = who, .f = f};
    if (store_write(s, incident_create_tx, &c, e) != DZ_OK)
        return e->code;
    db *d;
    if (store_reader(s, &d, e) != DZ_OK)
        return e->code;
    return incident_json_get(d, &incident_scope_all, c.created_id, true, out, e);
}

/* Records one field change in the timeline and the audit detail, if it changed. */
static dz_code change(db *d, const incident_row *r, int64_t now, const char *actor, json_t *changes,
                      const char *kind, const char *field, const char *old_v, const char *new_v, dz_err *e)
{
    if ((old_v == NULL && new_v == NULL) || (old_v && new_v && strcmp(old_v, new_v) == 0))
        return DZ_OK;
    json_t *ch = json_object();
    json_set_text(ch, "from", old_v);
    json_set_text(ch, "to", new_v);
    json_object_set_new(changes, field, ch);
    return incident_timeline_add(d, r->id, now, actor, kind, field, old_v, new_v, e);
}

static dz_code incident_update_tx(store *s, db *d, void *arg, dz_err *e)
{
    incident_write_ctx *c = arg;
    incident_fields *f = c->f;
    const store_settings *cfg = store_get_settings(s);
    const char *actor = c->who->username;
    int64_t now = store_now(s);
    incident_row r;
    if (incident_row_load(d, c->scope, c->public_id, &r, e) != DZ_OK)
        return e->code;
    json_t *changes = json_object();
    dz_code rc = DZ_OK;
    char tax[64], typ[64], tlp[16], pap[16], status[16], due_old[32] = "", due_new[32] = "";
    int severity = r.severity;
    int64_t assignee_id = r.assignee_id, due_at = r.due_at;
    bool due_manual = r.due_manual;
    const char *title = r.title, *description = r.description;
    snprintf(tax, sizeof tax, "%s", r.taxonomy);
    snprintf(typ, sizeof typ, "%s", r.type);
    snprintf(tlp, sizeof tlp, "%s", r.tlp);
    snprintf(pap, sizeof pap, "%s", r.pap);
    snprintf(status, sizeof status, "%s", r.status);

    if (f->set & INCF_STATUS) {
        incident_status from;
        status_parse(r.status, &from, NULL);
        if (!status_transition_allowed(from, f->status)) {
            char why[300];
            status_transition_explain(from, f->status, why, sizeof why);
            rc = dz_fail(e, DZ_ECONFLICT, "%s", why);
            goto out;
        }
        snprintf(status, sizeof status, "%s", status_name(f->status));
        if ((rc = change(d, &r, now, actor, changes, "status", "status", r.status, status, e)) != DZ_OK)
            goto out;
    }
    if (f->set & INCF_TITLE) {
        title = f->title;
        if ((rc = change(d, &r, now, actor, changes, "field", "title", r.title, title, e)) != DZ_OK)
            goto out;
    }
    if (f->set & INCF_DESCRIPTION) {
        description = f->description ? f->description : "";
        if ((rc = change(d, &r, now, actor, changes, "field", "description", r.description, description, e)) != DZ_OK)
            goto out;
    }
    if (f->set & INCF_CLASSIFICATION) {
        char old_c[130], new_c[130];
        snprintf(old_c, sizeof old_c, "%s/%s", r.taxonomy, r.type);
        snprintf(new_c, sizeof new_c, "%s/%s", f->classification.taxonomy, f->classification.type);
        snprintf(tax, sizeof tax, "%s", f->classification.taxonomy);
        snprintf(typ, sizeof typ, "%s", f->classification.type);
        if ((rc = change(d, &r, now, actor, changes, "field", "classification", old_c, new_c, e)) != DZ_OK)
            goto out;
    }
    if (f->set & INCF_TLP) {
        snprintf(tlp, sizeof tlp, "%s", tlp_name(f->tlp));
        if ((rc = change(d, &r, now, actor, changes, "tlp", "tlp", r.tlp, tlp, e)) != DZ_OK)
            goto out;
    }
    if (f->set & INCF_PAP) {
        snprintf(pap, sizeof pap, "%s", pap_name(f->pap));
        if ((rc = change(d, &r, now, actor, changes, "field", "pap", r.pap, pap, e)) != DZ_OK)
            goto out;
    }
    if (f->set & INCF_ASSIGNEE) {
        if ((rc = store_user_id_of(d, f->assignee, &assignee_id, e)) != DZ_OK) {
            dz_wrap(e, "field 'assignee'");
            goto out;
        }
        if ((rc = change(d, &r, now, actor, changes, "assignee", "assignee", r.assignee[0] ? r.assignee : NULL,
                         f->assignee, e)) != DZ_OK)
            goto out;
    }
    /* As on create (api_incident_create): a caller who sees TLP:RED only when assigned and marks an
     * unassigned incident RED takes it; otherwise the incident would vanish from their view and this
     * update would answer 404 after committing. */
    if ((f->set & INCF_TLP) && f->tlp == TLP_RED && !(f->set & INCF_ASSIGNEE) && r.assignee_id == 0 &&
        c->scope->red_user_id > 0) {
        assignee_id = c->scope->red_user_id;
        if ((rc = change(d, &r, now, actor, changes, "assignee", "assignee", NULL, actor, e)) != DZ_OK)
            goto out;
    }
    if (f->set & INCF_SEVERITY) {
        severity = (int)f->severity;
        if ((rc = change(d, &r, now, actor, changes, "severity", "severity",
                         severity_name((severity_level)r.severity), severity_name(f->severity), e)) != DZ_OK)
            goto out;
    }
    if (f->set & INCF_DUE_AT) {
        due_manual = f->due_at != 0;
        if (due_manual)
            due_at = f->due_at;
    }
    if (!due_manual)
        due_at = r.created_at + cfg->due.seconds[severity];
    if (r.due_at)
        time_format_iso(r.due_at, due_old, sizeof due_old);
    time_format_iso(due_at, due_new, sizeof due_new);
    if ((rc = change(d, &r, now, actor, changes, "field", "due_at", r.due_at ? due_old : NULL, due_new, e)) != DZ_OK)
        goto out;
    if (f->set & INCF_CONSTITUENTS) {
        char *old_l = NULL, *new_l = join_list(f->constituents, f->n_constituents);
        const char *sql = "SELECT c.short_name FROM incident_constituents ic JOIN constituents c ON c.id = "
                          "ic.constituent_id WHERE ic.incident_id = ? ORDER BY c.short_name";
        rc = list_as_text(d, sql, r.id, &old_l, e);
        if (rc == DZ_OK)
            rc = set_constituents(d, r.id, f->constituents, f->n_constituents, e);
        if (rc == DZ_OK) { /* compare the stored, sorted lists */
            free(new_l);
            rc = list_as_text(d, sql, r.id, &new_l, e);
        }
        if (rc == DZ_OK)
            rc = change(d, &r, now, actor, changes, "field", "constituents", old_l, new_l, e);
        free(old_l);
        free(new_l);
        if (rc != DZ_OK)
            goto out;
    }
    if (f->set & INCF_TAGS) {
        char *old_l = NULL, *new_l = NULL;
        const char *sql = "SELECT tag FROM incident_tags WHERE incident_id = ? ORDER BY tag";
        rc = list_as_text(d, sql, r.id, &old_l, e);
        if (rc == DZ_OK)
            rc = set_tags(d, r.id, f->tags, f->n_tags, e);
        if (rc == DZ_OK)
            rc = list_as_text(d, sql, r.id, &new_l, e);
        if (rc == DZ_OK)
            rc = change(d, &r, now, actor, changes, "field", "tags", old_l, new_l, e);
        free(old_l);
        free(new_l);
        if (rc != DZ_OK)
            goto out;
    }
    if (json_object_size(changes) == 0)
        goto out; /* nothing changed: no timeline, no new updated_at */

    db_stmt *st;
    if ((rc = db_prepare(d, "UPDATE incidents SET title = ?, description = ?, taxonomy = ?, type = ?, tlp = ?, "
                            "pap = ?, severity = ?, status = ?, assignee_id = ?, due_at = ?, due_manual = ?, "
                            "updated_at = ? WHERE id = ?", &st, e)) != DZ_OK)
        goto out;
    db_bind_text(st, 1, title);
    db_bind_text(st, 2, description);
    db_bind_text(st, 3, tax);
    db_bind_text(st, 4, typ);
    db_bind_text(st, 5, tlp);
    db_bind_text(st, 6, pap);
    db_bind_int(st, 7, severity);
    db_bind_text(st, 8, status);
    db_bind_int_or_null(st, 9, assignee_id, 0);
    db_bind_int(st, 10, due_at);
    db_bind_int(st, 11, due_manual);
    db_bind_int(st, 12, now);
    db_bind_int(st, 13, r.id);
    if ((rc = db_run(st, e)) != DZ_OK)
        goto out;
    rc = store_audit_append(d, now, actor, "incident.update", r.public_id, changes, e);
    changes = NULL;
out:
    json_decref(changes);
    incident_row_free(&r);
    return rc;
}

dz_code store_incident_update(store *s, const principal *who, const store_scope *scope, const char *public_id,
                              incident_fields *f, json_t **out, dz_err *e)
{
    incident_write_ctx c = {.who = who, .scope = scope, .f = f, .public_id = public_id};
    if (store_write(s, incident_update_tx, &c, e) != DZ_OK)
        return e->code;
    db *d;
    if (store_reader(s, &d, e) != DZ_OK)
        return e->code;
    /* The caller could see it when writing; the change (a new assignee, TLP:RED) may hide it from the caller
     * now, which must not turn a committed update into a 404. As for create, answer with what was written. */
    return incident_json_get(d, &incident_scope_all, public_id, true, out, e);
}

/* ---- listing ---- */

/* Filters, in bind order; every one is "(? IS NULL OR ...)" so one constant statement serves all.
 * NULL_TEXT casts the first ? so PostgreSQL knows its type. */
#define NULL_TEXT "CAST(? AS TEXT) IS NULL"
#define LIST_FILTERS                                                                                          \
    SCOPE_SQL                                                                                                 \
    " AND (" NULL_TEXT " OR (',' || ? || ',') LIKE ('%,' || i.status || ',%'))"                                   \
    " AND (" NULL_TEXT " OR (',' || ? || ',') LIKE ('%,' || i.severity || ',%'))"                                 \
    " AND (" NULL_TEXT " OR i.taxonomy = ?) AND (" NULL_TEXT " OR i.type = ?) AND (" NULL_TEXT " OR i.tlp = ?)"           \
    " AND (" NULL_TEXT " OR EXISTS (SELECT 1 FROM incident_constituents fc JOIN constituents c ON c.id = "        \
    "fc.constituent_id WHERE fc.incident_id = i.id AND c.short_name = ?))"                                    \
    " AND (" NULL_TEXT " OR (? = '' AND i.assignee_id IS NULL) OR EXISTS (SELECT 1 FROM users fu WHERE fu.id = "  \
    "i.assignee_id AND fu.username = ?))"                                                                     \
    " AND (" NULL_TEXT " OR EXISTS (SELECT 1 FROM incident_tags ft WHERE ft.incident_id = i.id AND ft.tag = ?))"  \
    " AND (" NULL_TEXT " OR lower(i.title) LIKE ? ESCAPE '\\' OR lower(i.description) LIKE ? ESCAPE '\\' "        \
    "OR i.public_id = ?)"                                                                                     \
    " AND (? = 0 OR i.created_at >= ?) AND (? = 0 OR i.created_at < ?)"                                       \
    " AND (? = 0 OR i.updated_at >= ?) AND (? = 0 OR i.updated_at < ?)"

#define LIST_SQL(KEY, CMP, DIR)                                                                               \
    "SELECT i.id, " KEY " FROM incidents i WHERE " LIST_FILTERS " AND (? = 0 OR " KEY " " CMP " ? OR ("      \
    KEY " = ? AND i.id " CMP " ?)) ORDER BY " KEY " " DIR ", i.id " DIR " LIMIT ?"

#define DUE_KEY "COALESCE(i.due_at, 253402300799)"
static const struct {
    const char *name;
    const char *sql;
} list_sorts[] = {
    {"-created_at", LIST_SQL("i.created_at", "<", "DESC")},
    {"created_at", LIST_SQL("i.created_at", ">", "ASC")},
    {"-updated_at", LIST_SQL("i.updated_at", "<", "DESC")},
    {"updated_at", LIST_SQL("i.updated_at", ">", "ASC")},
    {"-severity", LIST_SQL("i.severity", "<", "DESC")},
    {"severity", LIST_SQL("i.severity", ">", "ASC")},
    {"-due_at", LIST_SQL(DUE_KEY, "<", "DESC")},
    {"due_at", LIST_SQL(DUE_KEY, ">", "ASC")},
};

static void bind_pair_text(db_stmt *st, int *idx, const char *v)
{
    db_bind_text(st, (*idx)++, v);
    db_bind_text(st, (*idx)++, v);
}

static void bind_pair_int(db_stmt *st, int *idx, int64_t v)
{
    db_bind_int(st, (*idx)++, v);
    db_bind_int(st, (*idx)++, v);
}

/* "%text%" lower-cased with LIKE's wildcards escaped. */
static char *like_pattern(const char *text)
{
    size_t n = strlen(text);
    char *p = malloc(2 * n + 3), *q = p;
    *q++ = '%';
    for (const char *t = text; *t; t++) {
        if (*t == '%' || *t == '_' || *t == '\\')
            *q++ = '\\';
        *q++ = (*t >= 'A' && *t <= 'Z') ? (char)(*t + 32) : *t;
    }
    *q++ = '%';
    *q = '\0';
    return p;
}

dz_code store_incident_list(store *s, const store_scope *scope, const incident_filter *f, json_t **out, dz_err *e)
{
    const char *sort = f->sort && *f->sort ? f->sort : "-created_at";
    const char *sql = NULL;
    for (size_t i = 0; i < sizeof list_sorts / sizeof list_sorts[0]; i++)
        if (strcmp(list_sorts[i].name, sort) == 0)
            sql = list_sorts[i].sql;
    if (!sql)
        return dz_fail(e, DZ_EINVAL, "parameter 'sort': unknown order '%.40s' (created_at, updated_at, severity, "
                                     "due_at; prefix '-' for descending)", sort);
    int limit = f->limit ? f->limit : 50;
    if (limit < 1 || limit > 500)
        return dz_fail(e, DZ_EINVAL, "parameter 'limit' must be between 1 and 500");
    int64_t cur_key = 0, cur_id = 0;
    if (f->cursor && *f->cursor) {
        char extra;
        if (sscanf(f->cursor, "%" SCNd64 ".%" SCNd64 "%c", &cur_key, &cur_id, &extra) != 2 || cur_id <= 0)
            return dz_fail(e, DZ_EINVAL, "parameter 'cursor' is not a cursor this server gave out");
    }
    db *d;
    db_stmt *st;
    if (store_reader(s, &d, e) != DZ_OK || db_prepare(d, sql, &st, e) != DZ_OK)
        return e->code;
    char *pattern = f->text && *f->text ? like_pattern(f->text) : NULL;
    int idx = bind_scope(st, 1, scope);
    bind_pair_text(st, &idx, f->status);
    bind_pair_text(st, &idx, f->severity);
    bind_pair_text(st, &idx, f->taxonomy);
    bind_pair_text(st, &idx, f->type);
    bind_pair_text(st, &idx, f->tlp);
    bind_pair_text(st, &idx, f->constituent);
    bind_pair_text(st, &idx, f->assignee);
    db_bind_text(st, idx++, f->assignee);
    bind_pair_text(st, &idx, f->tag);
    bind_pair_text(st, &idx, pattern);
    db_bind_text(st, idx++, pattern);
    db_bind_text(st, idx++, f->text && *f->text ? f->text : NULL);
    bind_pair_int(st, &idx, f->created_from);
    bind_pair_int(st, &idx, f->created_to);
    bind_pair_int(st, &idx, f->updated_from);
    bind_pair_int(st, &idx, f->updated_to);
    db_bind_int(st, idx++, cur_id);
    db_bind_int(st, idx++, cur_key);
    db_bind_int(st, idx++, cur_key);
    db_bind_int(st, idx++, cur_id);
    db_bind_int(st, idx++, limit + 1);

    int64_t *ids = calloc((size_t)limit + 1, sizeof *ids), *keys = calloc((size_t)limit + 1, sizeof *keys);
    int n = 0, rc;
    while ((rc = db_step(st, e)) == DB_ROW && n <= limit) {
        ids[n] = db_col_int(st, 0);
        keys[n++] = db_col_int(st, 1);
    }
    db_reset(st);
    free(pattern);
    dz_code c = rc == DB_ERROR ? e->code : DZ_OK;
    json_t *items = json_array();
    for (int i = 0; c == DZ_OK && i < n && i < limit; i++) {
        db_stmt *one;
        json_t *o;
        if ((c = db_prepare(d, INCIDENT_SELECT "WHERE i.id = ?", &one, e)) != DZ_OK)
            break;
        db_bind_int(one, 1, ids[i]);
        if (db_step(one, e) == DB_ROW && (c = incident_json_from_row(d, one, false, &o, e)) == DZ_OK)
            json_array_append_new(items, o);
        db_reset(one);
    }
    if (c == DZ_OK) {
        json_t *res = json_object();
        json_object_set_new(res, "items", items);
        if (n > limit) {
            char cursor[48];
            snprintf(cursor, sizeof cursor, "%" PRId64 ".%" PRId64, keys[limit - 1], ids[limit - 1]);
            json_object_set_new(res, "next_cursor", json_string(cursor));
        } else {
            json_object_set_new(res, "next_cursor", json_null());
        }
        *out = res;
    } else {
        json_decref(items);
    }
    free(ids);
    free(keys);
    return c;
}
