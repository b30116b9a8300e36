/*
 * http.c: the libmicrohttpd daemon and the life of one request.
 *
 * Keep-alive: libmicrohttpd 0.9.75 closes the connection when a handler
 * queues its answer on the first call for a request, so we never answer on
 * the first call; the body (if any) arrives on the middle calls and we answer
 * on the last one, as upstream's examples do.
 *
 * Threads: a few event threads, each with its own epoll loop, answer reads.
 * A request that may block (anything but GET/HEAD: it writes and waits for its
 * group commit, or hashes a password) is handed to a pool of blocking threads
 * while its connection is suspended; the thread resumes the connection when
 * the answer is ready. So a slow write never holds up the reads that share
 * its event thread, and many writes wait together for one commit.
 */
#include "server/http.h"
#include "server/auth.h"
#include "server/policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void server_config_default(server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen_addr, sizeof cfg->listen_addr, "127.0.0.1");
    cfg->port = 8080;
    cfg->threads = 4;
    cfg->blocking_threads = 64;
    cfg->body_limit = 1024 * 1024;
    cfg->events_body_limit = 64 * 1024 * 1024;
    cfg->session_ttl = 12 * 3600;
    cfg->access_log = NULL;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *http_query(http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

bool require(http_request *req, int act)
{
    if (policy_allows(&req->who, (policy_action)act))
        return true;
    respond_problem(req, 403, NULL, "role '%s' may not do this", role_name(req->who.role));
    return false;
}

const char *body_text(http_request *req)
{
    return req->body.buf ? req->body.buf : "";
}

const char *route_param(http_request *req, size_t i)
{
    return i < req->params.n ? req->params.v[i] : "";
}

static bool request_id_acceptable(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return false;
    }
    return true;
}

/*
 * Behind a reverse proxy every connection comes from the proxy; the client is
 * the last address the proxy appended to X-Forwarded-For. Only a configured
 * proxy is believed, so a client cannot pick its own address (and so its own
 * login rate-limit bucket).
 */
static void remote_from_proxy(http_request *req)
{
    const char *proxy = req->srv->cfg.trusted_proxy;
    if (!proxy[0] || strcmp(req->remote, proxy) != 0)
        return;
    const char *xff = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Forwarded-For");
    if (!xff)
        return;
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    while (*last == ' ')
        last++;
    char addr[64];
    snprintf(addr, sizeof addr, "%.*s", (int)strcspn(last, " "), last);
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, addr, buf) == 1 || inet_pton(AF_INET6, addr, buf) == 1)
        snprintf(req->remote, sizeof req->remote, "%s", addr);
}

static void request_init(server *srv, http_request *req, struct MHD_Connection *conn, const char *url,
                         const char *method)
{
    static atomic_uint_fast64_t counter;
    static uint32_t boot_id;
    if (!boot_id)
        boot_id = randombytes_random() | 1;
    req->srv = srv;
    req->conn = conn;
    req->method = method;
    req->started_ns = now_ns();
    const char *q = strchr(url, '?');
    req->path = q ? strndup(url, (size_t)(q - url)) : strdup(url);
    strbuf_init(&req->body);
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (rid && request_id_acceptable(rid))
        snprintf(req->request_id, sizeof req->request_id, "%s", rid);
    else
        snprintf(req->request_id, sizeof req->request_id, "%08x-%llu", boot_id,
                 (unsigned long long)atomic_fetch_add(&counter, 1) + 1);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(req->remote, sizeof req->remote, "unknown");
    if (ci && ci->client_addr) {
        if (ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, req->remote,
                      sizeof req->remote);
        else if (ci->client_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, req->remote,
                      sizeof req->remote);
    }
    remote_from_proxy(req);
}

static void dispatch(http_request *req)
{
    const route *r;
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    if (req->body_too_large) {
        respond_problem(req, 413, NULL, "request body exceeds the limit of %zu bytes", req->body_limit);
        return;
    }
    switch (router_match(api_routes, method, req->path, &r, &req->params, req->allow, sizeof req->allow)) {
    case ROUTE_BAD_PATH:
        respond_problem(req, 400, NULL, "malformed path (bad percent-encoding, control bytes or over-long segment)");
        return;
    case ROUTE_NOT_FOUND:
        respond_problem(req, 404, NULL, "no resource at %.200s", req->path);
        return;
    case ROUTE_METHOD_NOT_ALLOWED:
        respond_problem(req, 405, NULL, "%s is not allowed on %.200s; allowed: %s", req->method, req->path,
                        req->allow);
        return;
    case ROUTE_FOUND:
        break;
    }
    if (!(r->flags & ROUTE_PUBLIC) && !req->authenticated && !auth_authenticate(req))
        return;
    r->handler(req);
    if (!req->responded)
        respond_problem(req, 500, NULL, "the handler gave no answer");
}

static void add_header(struct MHD_Response *resp, const char *name, const char *value)
{
    MHD_add_response_header(resp, name, value);
}

static enum MHD_Result send_response(http_request *req)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(req->resp_len, req->resp_body, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        return MHD_NO;
    req->resp_body = NULL; /* owned by the response now */
    add_header(resp, "Content-Type", req->content_type ? req->content_type : "application/json");
    add_header(resp, "X-Request-Id", req->request_id);
    add_header(resp, "X-Content-Type-Options", "nosniff");
    add_header(resp, "Referrer-Policy", "no-referrer");
    add_header(resp, "Cache-Control", "no-store");
    if (req->content_type && strncmp(req->content_type, "text/html", 9) == 0) {
        add_header(resp, "Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'");
        add_header(resp, "X-Frame-Options", "DENY");
    }
    if (req->set_cookie)
        add_header(resp, "Set-Cookie", req->set_cookie);
    if (req->location[0])
        add_header(resp, "Location", req->location);
    if (req->disposition[0])
        add_header(resp, "Content-Disposition", req->disposition);
    if (req->status == 405 && req->allow[0])
        add_header(resp, "Allow", req->allow);
    if (req->status == 401)
        add_header(resp, "WWW-Authenticate", "Bearer realm=\"dzong\"");
    if (req->retry_after > 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%d", req->retry_after);
        add_header(resp, "Retry-After", ra);
    }
    enum MHD_Result ret = MHD_queue_response(req->conn, req->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/*
 * The body limit of one request, decided before its body is read. Feed
 * batches (POST /api/v1/events) may be far larger than any other body, but
 * only from a caller known to be allowed to send them: the credentials are
 * checked here, on the first call, so an anonymous or unprivileged client
 * never gets more than body_limit buffered. A failed check answers nothing
 * yet: the request goes on with the ordinary limit and dispatch() answers
 * it (401, 403 or 413) as for any other route.
 */
static void choose_body_limit(http_request *req)
{
    const server_config *cfg = &req->srv->cfg;
    req->body_limit = cfg->body_limit;
    if (cfg->events_body_limit <= cfg->body_limit || strcmp(req->method, "POST") != 0 ||
        strcmp(req->path, "/api/v1/events") != 0)
        return;
    if (auth_authenticate(req) && policy_allows(&req->who, ACT_EVENT_WRITE)) {
        req->body_limit = cfg->events_body_limit;
        return;
    }
    /* forget the refusal (and who it was): dispatch() authenticates again and answers */
    free(req->resp_body);
    req->resp_body = NULL;
    req->resp_len = 0;
    req->status = 0;
    req->content_type = NULL;
    req->responded = false;
    req->authenticated = false;
    req->via_session = false;
    memset(&req->who, 0, sizeof req->who);
    memset(req->csrf, 0, sizeof req->csrf);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    server *srv = cls;
    http_request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        request_init(srv, req, conn, url, method);
        *con_cls = req;
        choose_body_limit(req);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > req->body_limit)
            req->body_too_large = true;
        return MHD_YES; /* never answer on the first call: keeps the connection alive */
    }
    if (*upload_data_size) {
        if (!req->body_too_large && req->body.len + *upload_data_size <= req->body_limit)
            strbuf_append(&req->body, upload_data, *upload_data_size);
        else
            req->body_too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->offloaded) /* resumed: the blocking thread has answered */
        return send_response(req);
    if (req->body.oom) {
        respond_problem(req, 503, NULL, "out of memory reading the request body");
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && srv->n_offload_threads) {
        req->offloaded = true;
        MHD_suspend_connection(conn);
        pthread_mutex_lock(&srv->offload_lock);
        if (srv->offload_tail)
            srv->offload_tail->offload_next = req;
        else
            srv->offload_head = req;
        srv->offload_tail = req;
        pthread_cond_signal(&srv->offload_cond);
        pthread_mutex_unlock(&srv->offload_lock);
        return MHD_YES;
    } else {
        dispatch(req);
    }
    return send_response(req);
}

static void *offload_main(void *arg)
{
    server *srv = arg;
    pthread_mutex_lock(&srv->offload_lock);
    for (;;) {
        while (!srv->offload_head && !srv->offload_stopping)
            pthread_cond_wait(&srv->offload_cond, &srv->offload_lock);
        http_request *req = srv->offload_head;
        if (!req)
            break; /* stopping, and nothing left to answer */
        srv->offload_head = req->offload_next;
        if (!srv->offload_head)
            srv->offload_tail = NULL;
        pthread_mutex_unlock(&srv->offload_lock);
        dispatch(req);
        MHD_resume_connection(req->conn);
        pthread_mutex_lock(&srv->offload_lock);
    }
    pthread_mutex_unlock(&srv->offload_lock);
    return NULL;
}

/* Stops the blocking threads once they have answered everything queued. */
static void offload_stop(server *srv)
{
    pthread_mutex_lock(&srv->offload_lock);
    srv->offload_stopping = true;
    pthread_cond_broadcast(&srv->offload_cond);
    pthread_mutex_unlock(&srv->offload_lock);
    for (unsigned i = 0; i < srv->n_offload_threads; i++)
        pthread_join(srv->offload_threads[i], NULL);
    free(srv->offload_threads);
    srv->offload_threads = NULL;
    srv->n_offload_threads = 0;
}

static void json_escape_into(char *out, size_t n, const char *s)
{
    size_t j = 0;
    for (; s && *s && j + 7 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[j++] = '\\';
            out[j++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            j += (size_t)snprintf(out + j, n - j, "\\u%04x", c);
        } else {
            out[j++] = (char)c;
        }
    }
    out[j] = '\0';
}

static void access_log_write(http_request *req)
{
    FILE *f = req->srv->cfg.access_log;
    if (!f)
        return;
    char ts[32], path[512], user[140];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_escape_into(path, sizeof path, req->path);
    json_escape_into(user, sizeof user, req->authenticated ? req->who.username : "");
    double ms = (double)(now_ns() - req->started_ns) / 1e6;
    char line[1200];
    int n = snprintf(line, sizeof line,
                     "{\"ts\":\"%s\",\"request_id\":\"%s\",\"remote\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
                     "\"status\":%u,\"bytes\":%zu,\"duration_ms\":%.3f,\"user\":%s%s%s}\n",
                     ts, req->request_id, req->remote, req->method, path, req->status, req->resp_len, ms,
                     req->authenticated ? "\"" : "", req->authenticated ? user : "null",
                     req->authenticated ? "\"" : "");
    if (n > 0)
        fwrite(line, 1, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1, f);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    http_request *req = *con_cls;
    if (!req)
        return;
    if (req->responded)
        access_log_write(req);
    free(req->path);
    strbuf_free(&req->body);
    free(req->resp_body);
    free(req->set_cookie);
    free(req);
    *con_cls = NULL;
}

dz_code server_start(store *st, const server_config *cfg, server **out, dz_err *e)
{
    server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    srv->st = st;
    srv->cfg = *cfg;
    /* 5 failed logins per account, 20 per address, per 15 minutes */
    srv->login_by_user = ratelimit_new(5, 900);
    srv->login_by_addr = ratelimit_new(20, 900);
    pthread_mutex_init(&srv->hash_slots_lock, NULL);
    pthread_cond_init(&srv->hash_slots_cond, NULL);
    srv->hash_slots = 2;
    pthread_mutex_init(&srv->offload_lock, NULL);
    pthread_cond_init(&srv->offload_cond, NULL);
    srv->offload_threads = calloc(cfg->blocking_threads ? cfg->blocking_threads : 1, sizeof(pthread_t));
    for (unsigned i = 0; srv->offload_threads && i < cfg->blocking_threads; i++) {
        if (pthread_create(&srv->offload_threads[i], NULL, offload_main, srv) != 0)
            break;
        srv->n_offload_threads++;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->listen_addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(cfg->port);
    } else if (inet_pton(AF_INET6, cfg->listen_addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        server_stop(srv);
        return dz_fail(e, DZ_EINVAL, "listen address '%.60s' is not an IPv4 or IPv6 address", cfg->listen_addr);
    }
    srv->daemon = MHD_start_daemon(flags, cfg->port, NULL, NULL, on_request, srv,
                                   MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                   MHD_OPTION_THREAD_POOL_SIZE, cfg->threads ? cfg->threads : 1,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                                   /* libmicrohttpd zeroes a connection's pool for every request;
                                    * with the 32 KiB default that memset was a fifth of the
                                    * instructions of a GET, and 16 KiB cut a GET's by a tenth.
                                    * 16 KiB still holds any sane request head (a bigger one gets
                                    * 431); the body is streamed through it in pieces. */
                                   MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                   MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                                   MHD_OPTION_END);
    if (!srv->daemon) {
        server_stop(srv);
        return dz_fail(e, DZ_EIO, "cannot listen on %s:%u (in use, or not allowed)", cfg->listen_addr, cfg->port);
    }
    *out = srv;
    return DZ_OK;
}

uint16_t server_port(server *srv)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : 0;
}

void server_stop(server *srv)
{
    if (!srv)
        return;
    offload_stop(srv); /* answers and resumes every suspended connection first */
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    ratelimit_free(srv->login_by_user);
    ratelimit_free(srv->login_by_addr);
    free(srv);
}
