/* Handlers, one file per resource. Each is a route_handler (see routes.c). */
#ifndef DZ_API_H
#define DZ_API_H
#include "server/http.h"

/* api_meta.c */
void api_healthz(http_request *req);
void api_openapi(http_request *req);
void api_web_asset(http_request *req);

/* api_session.c */
void api_session_create(http_request *req);
void api_session_get(http_request *req);
void api_session_delete(http_request *req);
void api_token_create(http_request *req);

/* api_incidents.c */
void api_incident_list(http_request *req);
void api_incident_create(http_request *req);
void api_incident_get(http_request *req);
void api_incident_update(http_request *req);
void api_incident_merge(http_request *req);
void api_note_list(http_request *req);
void api_note_create(http_request *req);
void api_task_list(http_request *req);
void api_task_create(http_request *req);
void api_task_update(http_request *req);
void api_timeline_list(http_request *req);
void api_incident_reports(http_request *req);
void api_incident_link_report(http_request *req);
void api_taxonomy(http_request *req);

/* api_reports.c */
void api_report_list(http_request *req);
void api_report_create(http_request *req);
void api_report_get(http_request *req);

/* api_constituents.c */
/*
 * The query parameter constituent=, a filter of lists: it must name an
 * organisation the caller can see (one it cannot see reads like one that does
 * not exist, so names cannot be probed). *out: the value, left as it was when
 * absent. false: a problem was sent.
 */
bool api_query_constituent(http_request *req, const char **out);
void api_constituent_list(http_request *req);
void api_constituent_create(http_request *req);
void api_constituent_get(http_request *req);
void api_constituent_replace(http_request *req);
void api_constituent_update(http_request *req);
void api_constituent_delete(http_request *req);
void api_lookup(http_request *req);

/* api_admin.c */
void api_user_list(http_request *req);
void api_user_create(http_request *req);
void api_user_update(http_request *req);
void api_audit_list(http_request *req);
void api_audit_verify(http_request *req);

/* api_events.c */
void api_event_list(http_request *req);
void api_event_create(http_request *req);
void api_event_get(http_request *req);
void api_event_stats(http_request *req);
void api_ingest_list(http_request *req);
void api_ingest_get(http_request *req);
void api_quarantine_list(http_request *req);

/* api_notifications.c */
void api_notification_list(http_request *req);
void api_notification_get(http_request *req);
void api_notification_events(http_request *req);
void api_notification_message(http_request *req);
void api_notification_ack(http_request *req);
void api_incident_notify(http_request *req);

#endif
