/* The request as handlers see it, and the ways they answer. Internal to server/. */
#ifndef DZ_HTTP_H
#define DZ_HTTP_H
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "lib/identity.h"
#include "lib/strbuf.h"
#include "server/ratelimit.h"
#include "server/router.h"
#include "server/server.h"

struct server {
    store *st;
    server_config cfg;
    struct MHD_Daemon *daemon;
    ratelimit *login_by_user; /* failed logins per account */
    ratelimit *login_by_addr; /* failed logins per client address */
    pthread_mutex_t hash_slots_lock; /* argon2id is memory-hard: bound how many run at once */
    pthread_cond_t hash_slots_cond;
    int hash_slots;

    /* Requests that may block (writes, logins) run here, their connections suspended,
     * so the event threads never wait for a commit or a password hash. */
    pthread_mutex_t offload_lock;
    pthread_cond_t offload_cond;
    struct http_request *offload_head, *offload_tail;
    pthread_t *offload_threads;
    unsigned n_offload_threads;
    bool offload_stopping;
};

typedef struct http_request {
    server *srv;
    struct MHD_Connection *conn;
    const char *method;
    char *path; /* without the query string */
    char request_id[40];
    char remote[64];
    strbuf body;
    size_t body_limit; /* this request's: server_config.body_limit, or events_body_limit (http.c) */
    bool body_too_large;
    int64_t started_ns;
    route_params params;

    /* who is calling (auth.c) */
    bool authenticated;
    bool via_session;
    principal who;
    char csrf[64];

    /* the answer */
    unsigned status;
    char *resp_body;
    size_t resp_len;
    const char *content_type;
    char *set_cookie;
    char location[128];
    char disposition[128];           /* Content-Disposition, e.g. attachment; filename="events-X.csv" ("" none) */
    char allow[64];
    int retry_after;
    bool responded;
    bool offloaded;                  /* handed to an offload thread; answered when it resumes */
    struct http_request *offload_next;
} http_request;

/* Answers with a JSON document (stolen). */
void respond_json(http_request *req, unsigned status, json_t *doc);
/* Answers with RFC 9457 problem+json. */
void respond_problem(http_request *req, unsigned status, const char *title, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps a dz_err to its HTTP status and problem document. */
void respond_error(http_request *req, const dz_err *e);
void respond_bytes(http_request *req, unsigned status, const char *content_type, const char *data, size_t len);

const char *http_query(http_request *req, const char *name);
const char *http_header(http_request *req, const char *name);
const char *route_param(http_request *req, size_t i);

/* Answers 403 and returns false unless the caller may do act. */
bool require(http_request *req, int act);
/* The request body, or "" when there was none. */
const char *body_text(http_request *req);

#endif
