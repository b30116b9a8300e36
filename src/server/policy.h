/*
 * policy: the one place that decides who may see and change what.
 * Every handler asks it; the store applies the scopes it hands out.
 *
 *                      admin coord handler analyst constituent partner
 * incident read         all   all   -RED    -RED    own,-RED     -
 * incident create/edit   y     y     y       y        -          -
 * incident merge         y     y     y       -        -          -
 * notes                  y     y     y       y     own, shared   -
 * tasks, full timeline   y     y     y       y        -          -
 * report file            y     y     y       y        y          y
 * report read           all   all   all     all    own org    own org
 * report link            y     y     y       y        -          -
 * constituents, lookup  all   all   all     all      own        own
 * constituents write     y     y     -       -        -          -
 * users, tokens of others y    -     -       -        -          -
 * audit log              y     y     -       -        -          -
 * feed events read      all   all   all     all      own        own
 * feed events submit     y     y     y       y        -          -
 * ingests, quarantine    y     y     y       y        -          -
 * notifications read    all   all   all     all      own        own
 * notification message   y     y     y       y        -          -
 * notification ack       -     -     -       -       own        own
 * incident notify        y     y     y       -        -          -
 *
 * "-RED": TLP:RED incidents are visible only to their assignee, coordinators
 * and admins. Feed events "own": the events matched to the user's
 * organisation (policy_org_filter).
 */
#ifndef DZ_POLICY_H
#define DZ_POLICY_H
#include <stdbool.h>
#include "lib/identity.h"
#include "store/store.h"

typedef enum {
    ACT_INCIDENT_READ,
    ACT_INCIDENT_WRITE,
    ACT_INCIDENT_MERGE,
    ACT_NOTE_READ,
    ACT_NOTE_WRITE,
    ACT_TASK,
    ACT_TIMELINE_READ,
    ACT_REPORT_CREATE,
    ACT_REPORT_READ,
    ACT_REPORT_LINK,
    ACT_CONSTITUENT_READ,
    ACT_CONSTITUENT_WRITE,
    ACT_USER_ADMIN,
    ACT_AUDIT_READ,
    ACT_EVENT_READ,
    ACT_EVENT_WRITE,
    ACT_INGEST_READ,
    ACT_NOTIFICATION_READ,    /* list, one, a digest's events (own organisation's: policy_org_filter) */
    ACT_NOTIFICATION_MESSAGE, /* the message as queued */
    ACT_NOTIFICATION_ACK,     /* the recipient organisation's users; the CIRT never acknowledges for them */
    ACT_INCIDENT_NOTIFY,      /* send a notice of an incident to its affected constituents */
} policy_action;

bool policy_allows(const principal *who, policy_action act);
/* What incidents (and notes) this principal sees. */
store_scope policy_incident_scope(const principal *who);
/* Reports, constituents and feed events: 0 = all, else only this organisation's. */
int64_t policy_org_filter(const principal *who);
/* A note by this principal must be shared (constituents write to the CIRT, never internally). */
bool policy_note_forced_shared(const principal *who);

#endif
