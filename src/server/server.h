/*
 * server: the HTTP API over libmicrohttpd.
 *
 * http.c owns the daemon and the request life cycle; router.c matches paths
 * against the table in routes.c; auth.c finds the principal; policy.c decides
 * what it may do; api_*.c hold one resource each.
 */
#ifndef DZ_SERVER_H
#define DZ_SERVER_H
#include <stdint.h>
#include <stdio.h>
#include "lib/dz_err.h"
#include "lib/pipeline.h"
#include "notify/notify.h"
#include "store/store.h"

typedef struct server_config {
    char listen_addr[64]; /* 127.0.0.1 */
    uint16_t port;        /* 8080 */
    unsigned threads;     /* event threads, each with its own epoll loop (never block) */
    unsigned blocking_threads; /* threads that run writes and logins while their connection waits */
    size_t body_limit;    /* bytes */
    size_t events_body_limit; /* bytes of POST /api/v1/events from a user who may submit events (64 MiB);
                               * everyone else, and every other route, has body_limit */
    int64_t session_ttl;  /* seconds */
    bool cookie_secure;   /* add Secure to the session cookie (behind TLS) */
    FILE *access_log;     /* JSON lines; NULL = none */
    char trusted_proxy[64]; /* a reverse proxy's address: its X-Forwarded-For names the client */
    /* POST /api/v1/events: the configured Shadowserver schema and dedup fields (NULL: the built-in schema,
     * the default fields); owned by the caller, alive while the server runs */
    const struct shadowserver_schema *feed_schema;
    const pipeline_config *feed_pipeline;
    /* POST /api/v1/incidents/{id}/notify: NULL when notifications are not configured (no mail_from);
     * the sender is woken after a notice is queued (NULL: none runs). Owned by the caller. */
    notifier *notifier;
    notify_sender *notify_sender;
} server_config;

void server_config_default(server_config *cfg);

typedef struct server server;

/* Starts serving in background threads. The store must outlive the server. */
dz_code server_start(store *st, const server_config *cfg, server **out, dz_err *e);
/* The port actually bound (useful with port 0). */
uint16_t server_port(server *srv);
void server_stop(server *srv);

#endif
