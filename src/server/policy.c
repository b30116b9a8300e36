#include "server/policy.h"

#define R(role) (1u << (role))
#define STAFF (R(ROLE_ADMIN) | R(ROLE_COORDINATOR) | R(ROLE_HANDLER) | R(ROLE_ANALYST))
#define EVERYONE (STAFF | R(ROLE_CONSTITUENT) | R(ROLE_PARTNER))

static const unsigned allowed[] = {
    [ACT_INCIDENT_READ] = STAFF | R(ROLE_CONSTITUENT),
    [ACT_INCIDENT_WRITE] = STAFF,
    [ACT_INCIDENT_MERGE] = R(ROLE_ADMIN) | R(ROLE_COORDINATOR) | R(ROLE_HANDLER),
    [ACT_NOTE_READ] = STAFF | R(ROLE_CONSTITUENT),
    [ACT_NOTE_WRITE] = STAFF | R(ROLE_CONSTITUENT),
    [ACT_TASK] = STAFF,
    [ACT_TIMELINE_READ] = STAFF | R(ROLE_CONSTITUENT),
    [ACT_REPORT_CREATE] = EVERYONE,
    [ACT_REPORT_READ] = EVERYONE,
    [ACT_REPORT_LINK] = STAFF,
    [ACT_CONSTITUENT_READ] = EVERYONE,
    [ACT_CONSTITUENT_WRITE] = R(ROLE_ADMIN) | R(ROLE_COORDINATOR),
    [ACT_USER_ADMIN] = R(ROLE_ADMIN),
    [ACT_AUDIT_READ] = R(ROLE_ADMIN) | R(ROLE_COORDINATOR),
    [ACT_EVENT_READ] = EVERYONE,
    [ACT_EVENT_WRITE] = STAFF,
    [ACT_INGEST_READ] = STAFF,
    [ACT_NOTIFICATION_READ] = EVERYONE,
    [ACT_NOTIFICATION_MESSAGE] = STAFF,
    [ACT_NOTIFICATION_ACK] = R(ROLE_CONSTITUENT) | R(ROLE_PARTNER),
    [ACT_INCIDENT_NOTIFY] = R(ROLE_ADMIN) | R(ROLE_COORDINATOR) | R(ROLE_HANDLER),
};

bool policy_allows(const principal *who, policy_action act)
{
    if (!who || (unsigned)act >= sizeof allowed / sizeof allowed[0] || (unsigned)who->role >= ROLE_COUNT)
        return false;
    return (allowed[act] & R(who->role)) != 0;
}

store_scope policy_incident_scope(const principal *who)
{
    store_scope sc = {.org_id = 0, .red_user_id = -1, .shared_only = false};
    switch (who->role) {
    case ROLE_ADMIN:
    case ROLE_COORDINATOR:
        break;
    case ROLE_HANDLER:
    case ROLE_ANALYST:
        sc.red_user_id = who->user_id;
        break;
    case ROLE_CONSTITUENT:
    case ROLE_PARTNER:
        /* org_id is never 0 for these roles (the schema requires it), but be safe: -1 matches nothing. */
        sc.org_id = who->org_id ? who->org_id : -1;
        sc.red_user_id = 0;
        sc.shared_only = true;
        break;
    }
    return sc;
}

int64_t policy_org_filter(const principal *who)
{
    if (role_is_staff(who->role))
        return 0;
    return who->org_id ? who->org_id : -1;
}

bool policy_note_forced_shared(const principal *who)
{
    return !role_is_staff(who->role);
}
