/*
 * The incident as a domain object: its lifecycle in the phases of
 * critical-infrastructure protection, its public id, its deadlines, and the
 * field set that create and update requests carry.
 */
#ifndef DZ_INCIDENT_H
#define DZ_INCIDENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/dz_err.h"
#include "lib/marking.h"
#include "lib/taxonomy.h"

typedef enum {
    STATUS_NEW = 0,
    STATUS_TRIAGE,
    STATUS_ANALYSIS,
    STATUS_MITIGATION,
    STATUS_RECOVERY,
    STATUS_CLOSED,
    STATUS_REJECTED,
    STATUS_DUPLICATE,
} incident_status;
#define STATUS_COUNT 8

dz_code status_parse(const char *s, incident_status *out, dz_err *e);
const char *status_name(incident_status s);
bool status_is_open(incident_status s);
/* Whether an update may move an incident from one status to another. Staying put is allowed. */
bool status_transition_allowed(incident_status from, incident_status to);
/* Explains a refused transition: "from 'new' an incident may go to: triage, rejected". */
void status_transition_explain(incident_status from, incident_status to, char *buf, size_t n);

/* Public ids: PREFIX-YYYY-NNNNN (incidents), PREFIX-R-YYYY-NNNNN (reports). */
#define PUBLIC_ID_MAX 48
void public_id_format(char *buf, size_t n, const char *prefix, const char *kind, int year, int64_t seq);
/* A prefix is 1..16 of [A-Z0-9]. */
bool public_id_prefix_valid(const char *prefix);

/* Resolution deadlines per severity, in seconds after creation. */
typedef struct due_policy {
    int64_t seconds[SEVERITY_COUNT];
} due_policy;
void due_policy_default(due_policy *p);

/* Which fields a create or update request carried. */
enum {
    INCF_TITLE = 1u << 0,
    INCF_DESCRIPTION = 1u << 1,
    INCF_CLASSIFICATION = 1u << 2,
    INCF_TLP = 1u << 3,
    INCF_PAP = 1u << 4,
    INCF_SEVERITY = 1u << 5,
    INCF_STATUS = 1u << 6,
    INCF_ASSIGNEE = 1u << 7,
    INCF_CONSTITUENTS = 1u << 8,
    INCF_TAGS = 1u << 9,
    INCF_DUE_AT = 1u << 10,
};

#define INCIDENT_TITLE_MAX 300
#define INCIDENT_DESCRIPTION_MAX 65536
#define INCIDENT_LIST_MAX 100 /* constituents, tags */
#define TAG_MAX 64

typedef struct incident_fields {
    unsigned set; /* INCF_* bits */
    char *title;
    char *description;
    rsit_class classification;
    tlp_level tlp;
    pap_level pap;
    severity_level severity;
    incident_status status;
    char *assignee; /* username; NULL with INCF_ASSIGNEE set means "unassign" */
    char **constituents; /* short names */
    size_t n_constituents;
    char **tags;
    size_t n_tags;
    int64_t due_at; /* 0 with INCF_DUE_AT set means "back to the severity default" */
} incident_fields;

void incident_fields_free(incident_fields *f);
/* Fills in what a create request left out: TLP:AMBER, PAP:AMBER, medium, other/undetermined. */
void incident_fields_defaults(incident_fields *f);

#endif
