/*
 * store_incident_work.c: what handlers add to an incident (notes, tasks),
 * what it remembers (the timeline), and merging two incidents into one.
 * Shares the row helpers of store_incidents.c (store_incidents_internal.h).
 */
#include "store/store_incidents_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- notes, tasks, timeline ---- */

typedef struct {
    const principal *who;
    const store_scope *scope;
    const char *public_id;
    const note_input *note;
    const task_input *task;
    int64_t task_id; /* update: in; create: out */
    int64_t note_id;
} child_ctx;

dz_code incident_note_insert(db *d, const incident_row *r, int64_t now, const char *author, const char *body,
                             bool shared, int64_t *note_id, dz_err *e)
{
    db_stmt *st;
    dz_code rc = db_prepare(d, "INSERT INTO incident_notes(incident_id, author, body, shared, created_at) "
                               "VALUES (?, ?, ?, ?, ?) RETURNING id", &st, e);
    if (rc == DZ_OK) {
        db_bind_int(st, 1, r->id);
        db_bind_text(st, 2, author);
        db_bind_text(st, 3, body);
        db_bind_int(st, 4, shared);
        db_bind_int(st, 5, now);
        rc = db_step(st, e) == DB_ROW ? DZ_OK : e->code ? e->code : DZ_EDB;
        *note_id = db_col_int(st, 0);
        db_reset(st);
    }
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%" PRId64, *note_id);
    if (rc == DZ_OK)
        rc = incident_timeline_add(d, r->id, now, author, "note", shared ? "shared" : "internal", NULL, idtext, e);
    if (rc == DZ_OK)
        rc = incident_touch(d, r->id, now, e);
    return rc;
}

static dz_code note_add_tx(store *s, db *d, void *arg, dz_err *e)
{
    child_ctx *c = arg;
    incident_row r;
    int64_t now = store_now(s);
    if (incident_row_load(d, c->scope, c->public_id, &r, e) != DZ_OK)
        return e->code;
    dz_code rc = incident_note_insert(d, &r, now, c->who->username, c->note->body, c->note->shared, &c->note_id, e);
    if (rc == DZ_OK)
        rc = store_audit_append(d, now, c->who->username, "incident.note", r.public_id,
                                json_pack("{s:I, s:b}", "note", (json_int_t)c->note_id, "shared", c->note->shared), e);
    incident_row_free(&r);
    return rc;
}

static json_t *note_row(db_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(db_col_int(st, 0)));
    json_set_text(o, "author", db_col_text(st, 1));
    json_set_text(o, "body", db_col_text(st, 2));
    json_object_set_new(o, "shared", json_boolean(db_col_int(st, 3)));
    json_set_text(o, "visibility", db_col_int(st, 3) ? "shared" : "internal");
    json_set_time(o, "created_at", db_col_int(st, 4), false);
    return o;
}

#define NOTE_COLUMNS "SELECT n.id, n.author, n.body, n.shared, n.created_at FROM incident_notes n "

dz_code store_note_add(store *s, const principal *who, const store_scope *scope, const char *public_id,
                       const note_input *n, json_t **out, dz_err *e)
{
    child_ctx c = {.who = who, .scope = scope, .public_id = public_id, .note = n};
    db *d;
    db_stmt *st;
    if (store_write(s, note_add_tx, &c, e) != DZ_OK || store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, NOTE_COLUMNS "WHERE n.id = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, c.note_id);
    *out = db_step(st, e) == DB_ROW ? note_row(st) : NULL;
    db_reset(st);
    return *out ? DZ_OK : dz_fail(e, DZ_EDB, "note vanished after creation");
}

/* Runs a child listing query bound as (incident id[, extra]) after checking visibility. */
static dz_code child_list(store *s, const store_scope *scope, const char *public_id, const char *sql, bool bind_shared,
                          json_t *(*row)(db_stmt *), json_t **out, dz_err *e)
{
    db *d;
    db_stmt *st;
    incident_row r;
    if (store_reader(s, &d, e) != DZ_OK || incident_row_load(d, scope, public_id, &r, e) != DZ_OK)
        return e->code;
    incident_row_free(&r);
    if (db_prepare(d, sql, &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, r.id);
    if (bind_shared)
        db_bind_int(st, 2, scope->shared_only);
    return store_rows_json(st, row, out, e);
}

dz_code store_note_list(store *s, const store_scope *scope, const char *public_id, json_t **out, dz_err *e)
{
    return child_list(s, scope, public_id, NOTE_COLUMNS "WHERE n.incident_id = ? AND (? = 0 OR n.shared = 1) ORDER BY n.id",
                      true, note_row, out, e);
}

static json_t *task_row(db_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(db_col_int(st, 0)));
    json_set_text(o, "title", db_col_text(st, 1));
    json_set_text(o, "status", db_col_text(st, 2));
    json_set_text(o, "assignee", db_col_text(st, 3));
    json_set_time(o, "due_at", db_col_int(st, 4), true);
    json_set_time(o, "created_at", db_col_int(st, 5), false);
    json_set_time(o, "updated_at", db_col_int(st, 6), false);
    return o;
}

#define TASK_COLUMNS                                                                                  \
    "SELECT t.id, t.title, t.status, u.username, COALESCE(t.due_at, 0), t.created_at, t.updated_at " \
    "FROM incident_tasks t LEFT JOIN users u ON u.id = t.assignee_id "

static dz_code task_write_tx(store *s, db *d, void *arg, dz_err *e)
{
    child_ctx *c = arg;
    const task_input *t = c->task;
    incident_row r;
    int64_t now = store_now(s), assignee_id = 0;
    db_stmt *st;
    if (incident_row_load(d, c->scope, c->public_id, &r, e) != DZ_OK)
        return e->code;
    dz_code rc = DZ_OK;
    if ((t->set & TASKF_ASSIGNEE) && (rc = store_user_id_of(d, t->assignee, &assignee_id, e)) != DZ_OK)
        dz_wrap(e, "field 'assignee'");
    char idtext[24], *what = NULL;
    if (rc == DZ_OK && c->task_id == 0) {
        rc = db_prepare(d, "INSERT INTO incident_tasks(incident_id, title, status, assignee_id, due_at, created_at, "
                           "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id", &st, e);
        if (rc == DZ_OK) {
            db_bind_int(st, 1, r.id);
            db_bind_text(st, 2, t->title);
            db_bind_text(st, 3, task_status_name((t->set & TASKF_STATUS) ? t->status : TASK_OPEN));
            db_bind_int_or_null(st, 4, assignee_id, 0);
            db_bind_int_or_null(st, 5, t->due_at, 0);
            db_bind_int(st, 6, now);
            db_bind_int(st, 7, now);
            rc = db_step(st, e) == DB_ROW ? DZ_OK : e->code ? e->code : DZ_EDB;
            c->task_id = db_col_int(st, 0);
            db_reset(st);
        }
        what = "created";
    } else if (rc == DZ_OK) {
        /* Each column keeps its value unless the request set it (flag bound before the value). */
        rc = db_prepare(d, "UPDATE incident_tasks SET title = CASE WHEN ? = 1 THEN ? ELSE title END, "
                           "status = CASE WHEN ? = 1 THEN ? ELSE status END, "
                           "assignee_id = CASE WHEN ? = 1 THEN CAST(? AS BIGINT) ELSE assignee_id END, "
                           "due_at = CASE WHEN ? = 1 THEN CAST(? AS BIGINT) ELSE due_at END, updated_at = ? "
                           "WHERE id = ? AND incident_id = ?", &st, e);
        if (rc == DZ_OK) {
            db_bind_int(st, 1, (t->set & TASKF_TITLE) != 0);
            db_bind_text(st, 2, t->title);
            db_bind_int(st, 3, (t->set & TASKF_STATUS) != 0);
            db_bind_text(st, 4, task_status_name(t->status));
            db_bind_int(st, 5, (t->set & TASKF_ASSIGNEE) != 0);
            db_bind_int_or_null(st, 6, assignee_id, 0);
            db_bind_int(st, 7, (t->set & TASKF_DUE_AT) != 0);
            db_bind_int_or_null(st, 8, t->due_at, 0);
            db_bind_int(st, 9, now);
            db_bind_int(st, 10, c->task_id);
            db_bind_int(st, 11, r.id);
            rc = db_run(st, e);
        }
        if (rc == DZ_OK && db_changes(d) == 0)
            rc = dz_fail(e, DZ_ENOTFOUND, "incident %s has no task %" PRId64, r.public_id, c->task_id);
        what = (t->set & TASKF_STATUS) ? (char *)task_status_name(t->status) : "updated";
    }
    snprintf(idtext, sizeof idtext, "%" PRId64, c->task_id);
    if (rc == DZ_OK)
        rc = incident_timeline_add(d, r.id, now, c->who->username, "task", what, NULL, idtext, e);
    if (rc == DZ_OK)
        rc = incident_touch(d, r.id, now, e);
    if (rc == DZ_OK)
        rc = store_audit_append(d, now, c->who->username, "incident.task", r.public_id,
                                json_pack("{s:I, s:s}", "task", (json_int_t)c->task_id, "change", what), e);
    incident_row_free(&r);
    return rc;
}

static dz_code task_write(store *s, child_ctx *c, json_t **out, dz_err *e)
{
    db *d;
    db_stmt *st;
    if (store_write(s, task_write_tx, c, e) != DZ_OK || store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, TASK_COLUMNS "WHERE t.id = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, c->task_id);
    *out = db_step(st, e) == DB_ROW ? task_row(st) : NULL;
    db_reset(st);
    return *out ? DZ_OK : dz_fail(e, DZ_EDB, "task vanished after writing");
}

dz_code store_task_add(store *s, const principal *who, const store_scope *scope, const char *public_id,
                       const task_input *t, json_t **out, dz_err *e)
{
    child_ctx c = {.who = who, .scope = scope, .public_id = public_id, .task = t};
    return task_write(s, &c, out, e);
}

dz_code store_task_update(store *s, const principal *who, const store_scope *scope, const char *public_id,
                          int64_t task_id, const task_input *t, json_t **out, dz_err *e)
{
    if (task_id <= 0)
        return dz_fail(e, DZ_ENOTFOUND, "no task %" PRId64, task_id);
    child_ctx c = {.who = who, .scope = scope, .public_id = public_id, .task = t, .task_id = task_id};
    return task_write(s, &c, out, e);
}

dz_code store_task_list(store *s, const store_scope *scope, const char *public_id, json_t **out, dz_err *e)
{
    return child_list(s, scope, public_id, TASK_COLUMNS "WHERE t.incident_id = ? ORDER BY t.id", false, task_row, out, e);
}

static json_t *timeline_row(db_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(db_col_int(st, 0)));
    json_set_time(o, "at", db_col_int(st, 1), false);
    json_set_text(o, "actor", db_col_text(st, 2));
    json_set_text(o, "kind", db_col_text(st, 3));
    json_set_text(o, "field", db_col_text(st, 4));
    json_set_text(o, "old_value", db_col_text(st, 5));
    json_set_text(o, "new_value", db_col_text(st, 6));
    return o;
}

dz_code store_timeline_list(store *s, const store_scope *scope, const char *public_id, json_t **out, dz_err *e)
{
    /* Constituents see the phases and the notes shared with them, not internal edits. */
    return child_list(s, scope, public_id,
                      "SELECT id, at, actor, kind, field, old_value, new_value FROM incident_timeline "
                      "WHERE incident_id = ? AND (? = 0 OR kind IN ('created', 'status') OR "
                      "(kind = 'note' AND field = 'shared')) ORDER BY at, id",
                      true, timeline_row, out, e);
}

/* ---- merge ---- */

typedef struct {
    const principal *who;
    const store_scope *scope;
    const char *survivor, *dup;
} merge_ctx;

static dz_code merge_tx(store *s, db *d, void *arg, dz_err *e)
{
    merge_ctx *c = arg;
    int64_t now = store_now(s);
    incident_row sv, dp;
    if (strcmp(c->survivor, c->dup) == 0)
        return dz_fail(e, DZ_EINVAL, "cannot merge incident %.48s into itself", c->survivor);
    if (incident_row_load(d, c->scope, c->survivor, &sv, e) != DZ_OK)
        return e->code;
    dz_code rc = incident_row_load(d, c->scope, c->dup, &dp, e);
    if (rc != DZ_OK) {
        incident_row_free(&sv);
        return rc;
    }
    if (strcmp(sv.status, "duplicate") == 0)
        rc = dz_fail(e, DZ_ECONFLICT, "%s is itself a duplicate; merge into the incident it points to", sv.public_id);
    else if (strcmp(dp.status, "duplicate") == 0)
        rc = dz_fail(e, DZ_ECONFLICT, "%s is already merged (a duplicate)", dp.public_id);

    /* Children move to the survivor; set-valued links are united. All statements bind (survivor, dup). */
    static const char *const moves[] = {
        "UPDATE incident_notes SET incident_id = ? WHERE incident_id = ?",
        "UPDATE incident_tasks SET incident_id = ? WHERE incident_id = ?",
        "UPDATE reports SET incident_id = ? WHERE incident_id = ?",
        "UPDATE incident_timeline SET incident_id = ? WHERE incident_id = ?",
        "UPDATE incidents SET duplicate_of = ? WHERE duplicate_of = ?",
        "INSERT INTO incident_constituents(incident_id, constituent_id) SELECT CAST(? AS BIGINT), constituent_id "
        "FROM incident_constituents WHERE incident_id = ? ON CONFLICT DO NOTHING",
        "INSERT INTO incident_tags(incident_id, tag) SELECT CAST(? AS BIGINT), tag FROM incident_tags WHERE incident_id = ? "
        "ON CONFLICT DO NOTHING",
    };
    for (size_t i = 0; rc == DZ_OK && i < sizeof moves / sizeof moves[0]; i++) {
        db_stmt *st;
        if ((rc = db_prepare(d, moves[i], &st, e)) != DZ_OK)
            break;
        db_bind_int(st, 1, sv.id);
        db_bind_int(st, 2, dp.id);
        rc = db_run(st, e);
    }
    db_stmt *st;
    /* What was shared under the duplicate's TLP must not become readable under a laxer one. */
    tlp_level sv_tlp = TLP_AMBER, dp_tlp = TLP_AMBER;
    tlp_parse(sv.tlp, &sv_tlp, NULL);
    tlp_parse(dp.tlp, &dp_tlp, NULL);
    if (rc == DZ_OK && dp_tlp > sv_tlp &&
        (rc = db_prepare(d, "UPDATE incidents SET tlp = ? WHERE id = ?", &st, e)) == DZ_OK) {
        db_bind_text(st, 1, tlp_name(dp_tlp));
        db_bind_int(st, 2, sv.id);
        if ((rc = db_run(st, e)) == DZ_OK)
            rc = incident_timeline_add(d, sv.id, now, c->who->username, "tlp", "tlp", sv.tlp, tlp_name(dp_tlp), e);
        /* As on update: a handler who turns an unassigned incident RED keeps sight of it by owning it. */
        if (rc == DZ_OK && dp_tlp == TLP_RED && sv.assignee_id == 0 && c->scope->red_user_id > 0 &&
            (rc = db_prepare(d, "UPDATE incidents SET assignee_id = ? WHERE id = ?", &st, e)) == DZ_OK) {
            db_bind_int(st, 1, c->scope->red_user_id);
            db_bind_int(st, 2, sv.id);
            if ((rc = db_run(st, e)) == DZ_OK)
                rc = incident_timeline_add(d, sv.id, now, c->who->username, "assignee", "assignee", NULL, c->who->username, e);
        }
    }
    if (rc == DZ_OK && (rc = db_prepare(d, "UPDATE incidents SET status = 'duplicate', duplicate_of = ?, "
                                           "updated_at = ? WHERE id = ?", &st, e)) == DZ_OK) {
        db_bind_int(st, 1, sv.id);
        db_bind_int(st, 2, now);
        db_bind_int(st, 3, dp.id);
        rc = db_run(st, e);
    }
    if (rc == DZ_OK)
        rc = incident_timeline_add(d, sv.id, now, c->who->username, "merged_from", NULL, NULL, dp.public_id, e);
    if (rc == DZ_OK)
        rc = incident_timeline_add(d, dp.id, now, c->who->username, "status", "status", dp.status, "duplicate", e);
    if (rc == DZ_OK)
        rc = incident_timeline_add(d, dp.id, now, c->who->username, "merged_into", NULL, NULL, sv.public_id, e);
    if (rc == DZ_OK)
        rc = incident_touch(d, sv.id, now, e);
    if (rc == DZ_OK)
        rc = store_audit_append(d, now, c->who->username, "incident.merge", sv.public_id,
                                json_pack("{s:s}", "duplicate", dp.public_id), e);
    incident_row_free(&sv);
    incident_row_free(&dp);
    return rc;
}

dz_code store_incident_merge(store *s, const principal *who, const store_scope *scope, const char *survivor,
                             const char *dup, json_t **out, dz_err *e)
{
    merge_ctx c = {who, scope, survivor, dup};
    db *d;
    if (store_write(s, merge_tx, &c, e) != DZ_OK || store_reader(s, &d, e) != DZ_OK)
        return e->code;
    /* As for an update: the survivor may now be TLP:RED (the duplicate's) and hidden from the caller; the
     * merge is committed, so answer with what was written rather than a 404. */
    return incident_json_get(d, &incident_scope_all, survivor, true, out, e);
}
