/*
 * routes.c: every path the server answers. docs/openapi.json documents each
 * one; tests/unit/test_openapi.c fails when a route here is missing there.
 */
#include "server/api.h"

const route api_routes[] = {
    {"GET", "/healthz", api_healthz, ROUTE_PUBLIC},
    {"GET", "/api/v1/openapi.json", api_openapi, ROUTE_PUBLIC},
    {"GET", "/", api_web_asset, ROUTE_PUBLIC},
    {"GET", "/ui/{file}", api_web_asset, ROUTE_PUBLIC},

    {"POST", "/api/v1/session", api_session_create, ROUTE_PUBLIC},
    {"GET", "/api/v1/session", api_session_get, 0},
    {"DELETE", "/api/v1/session", api_session_delete, 0},
    {"POST", "/api/v1/tokens", api_token_create, 0},

    {"GET", "/api/v1/incidents", api_incident_list, 0},
    {"POST", "/api/v1/incidents", api_incident_create, 0},
    {"GET", "/api/v1/incidents/{id}", api_incident_get, 0},
    {"PATCH", "/api/v1/incidents/{id}", api_incident_update, 0},
    {"POST", "/api/v1/incidents/{id}/merge", api_incident_merge, 0},
    {"GET", "/api/v1/incidents/{id}/notes", api_note_list, 0},
    {"POST", "/api/v1/incidents/{id}/notes", api_note_create, 0},
    {"GET", "/api/v1/incidents/{id}/tasks", api_task_list, 0},
    {"POST", "/api/v1/incidents/{id}/tasks", api_task_create, 0},
    {"PATCH", "/api/v1/incidents/{id}/tasks/{task}", api_task_update, 0},
    {"GET", "/api/v1/incidents/{id}/timeline", api_timeline_list, 0},
    {"GET", "/api/v1/incidents/{id}/reports", api_incident_reports, 0},
    {"POST", "/api/v1/incidents/{id}/reports", api_incident_link_report, 0},
    {"POST", "/api/v1/incidents/{id}/notify", api_incident_notify, 0},
    {"GET", "/api/v1/taxonomy", api_taxonomy, 0},

    {"GET", "/api/v1/reports", api_report_list, 0},
    {"POST", "/api/v1/reports", api_report_create, 0},
    {"GET", "/api/v1/reports/{id}", api_report_get, 0},

    {"GET", "/api/v1/constituents", api_constituent_list, 0},
    {"POST", "/api/v1/constituents", api_constituent_create, 0},
    {"GET", "/api/v1/constituents/{name}", api_constituent_get, 0},
    {"PUT", "/api/v1/constituents/{name}", api_constituent_replace, 0},
    {"PATCH", "/api/v1/constituents/{name}", api_constituent_update, 0},
    {"DELETE", "/api/v1/constituents/{name}", api_constituent_delete, 0},
    {"GET", "/api/v1/lookup", api_lookup, 0},
    {"GET", "/api/v1/users", api_user_list, 0},
    {"POST", "/api/v1/users", api_user_create, 0},
    {"PATCH", "/api/v1/users/{name}", api_user_update, 0},
    {"GET", "/api/v1/audit", api_audit_list, 0},
    {"GET", "/api/v1/audit/verify", api_audit_verify, 0},

    {"GET", "/api/v1/events", api_event_list, 0},
    {"POST", "/api/v1/events", api_event_create, 0}, /* may have a larger body: see http.c */
    {"GET", "/api/v1/events/stats", api_event_stats, 0}, /* before {id}: the first match wins */
    {"GET", "/api/v1/events/{id}", api_event_get, 0},
    {"GET", "/api/v1/ingests", api_ingest_list, 0},
    {"GET", "/api/v1/ingests/{id}", api_ingest_get, 0},
    {"GET", "/api/v1/ingests/{id}/quarantine", api_quarantine_list, 0},

    {"GET", "/api/v1/notifications", api_notification_list, 0},
    {"GET", "/api/v1/notifications/{ticket}", api_notification_get, 0},
    {"GET", "/api/v1/notifications/{ticket}/events", api_notification_events, 0},
    {"GET", "/api/v1/notifications/{ticket}/message", api_notification_message, 0},
    {"POST", "/api/v1/notifications/{ticket}/ack", api_notification_ack, 0},
    {0},
};
