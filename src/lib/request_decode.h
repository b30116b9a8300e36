/*
 * Decoding of API request bodies (JSON) into validated domain inputs.
 *
 * This is the boundary where outside bytes become trusted values, so it is
 * strict: unknown fields, wrong types, over-long strings and invalid enums are
 * refused with a message that names the field. Fields the server computes
 * (id, created_at, updated_at, ...) are ignored, so a GET body can be sent back
 * as a PATCH. Covered by the libFuzzer target tests/fuzz/fuzz_request_decode.c.
 */
#ifndef DZ_REQUEST_DECODE_H
#define DZ_REQUEST_DECODE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/dz_err.h"
#include "lib/incident.h"

dz_code decode_incident(const char *body, size_t len, bool is_create, incident_fields *out, dz_err *e);

typedef struct note_input {
    char *body;
    bool shared;
} note_input;
dz_code decode_note(const char *body, size_t len, note_input *out, dz_err *e);
void note_input_free(note_input *n);

typedef enum { TASK_OPEN = 0, TASK_IN_PROGRESS, TASK_DONE, TASK_CANCELLED } task_status;
const char *task_status_name(task_status s);
enum { TASKF_TITLE = 1, TASKF_STATUS = 2, TASKF_ASSIGNEE = 4, TASKF_DUE_AT = 8 };
typedef struct task_input {
    unsigned set;
    char *title;
    task_status status;
    char *assignee; /* NULL with TASKF_ASSIGNEE: unassign */
    int64_t due_at; /* 0 with TASKF_DUE_AT: no deadline */
} task_input;
dz_code decode_task(const char *body, size_t len, bool is_create, task_input *out, dz_err *e);
void task_input_free(task_input *t);

typedef struct report_input {
    char *source, *source_ref, *title, *body;
    char *reporter_name, *reporter_email, *reporter_phone;
    char *constituent; /* short name or NULL */
    char *incident;    /* public id or NULL */
} report_input;
dz_code decode_report(const char *body, size_t len, report_input *out, dz_err *e);
void report_input_free(report_input *r);

/* Merge: either {"into": X} (the path's incident is the duplicate) or
 * {"from": X | [X...]} (the path's incident survives). */
typedef struct merge_input {
    char *into;
    char **from;
    size_t n_from;
} merge_input;
dz_code decode_merge(const char *body, size_t len, merge_input *out, dz_err *e);
void merge_input_free(merge_input *m);

typedef struct login_input {
    char *username, *password;
} login_input;
dz_code decode_login(const char *body, size_t len, login_input *out, dz_err *e);
void login_input_free(login_input *l);

/* Simple named strings: {"incident": "..."} for linking, {"short_name","name"} for constituents. */
dz_code decode_string_field(const char *body, size_t len, const char *field, char **out, dz_err *e);

/* Names: 1..64 of [A-Za-z0-9._@-], first one alphanumeric. Used for users, constituents, sources. */
bool name_valid(const char *s);

#endif
