/* Shared by store_incidents.c and store_incident_work.c only. */
#ifndef DZ_STORE_INCIDENTS_INTERNAL_H
#define DZ_STORE_INCIDENTS_INTERNAL_H
#include "store/store_internal.h"

/* What updates need to know about the current row. */
typedef struct incident_row {
    int64_t id;
    char public_id[PUBLIC_ID_MAX];
    char *title, *description;
    char taxonomy[64], type[64], tlp[16], pap[16], status[16];
    int severity;
    int64_t assignee_id;
    char assignee[65];
    int64_t duplicate_of, due_at, created_at;
    bool due_manual;
} incident_row;

/* Loads the row of public_id if scope may see it (DZ_ENOTFOUND otherwise). */
dz_code incident_row_load(db *d, const store_scope *sc, const char *public_id, incident_row *r, dz_err *e);
void incident_row_free(incident_row *r);
/* Appends one timeline entry. */
dz_code incident_timeline_add(db *d, int64_t incident_id, int64_t at, const char *actor, const char *kind,
                              const char *field, const char *old_value, const char *new_value, dz_err *e);
/*
 * Adds a note to r (loaded in this transaction) by author: the note, its
 * timeline entry and updated_at. No audit entry: the caller writes its own
 * (incident.note, or incident.notify for a notice's shared note).
 */
dz_code incident_note_insert(db *d, const incident_row *r, int64_t now, const char *author, const char *body,
                             bool shared, int64_t *note_id, dz_err *e);
/* Sets updated_at. */
dz_code incident_touch(db *d, int64_t incident_id, int64_t now, dz_err *e);
/* The wire JSON of public_id as scope sees it; with_metrics adds time-to-triage/close. */
dz_code incident_json_get(db *d, const store_scope *sc, const char *public_id, bool with_metrics, json_t **out,
                          dz_err *e);
/* Sees everything: for reading back what the caller has just written. */
extern const store_scope incident_scope_all;

#endif
