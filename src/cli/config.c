/* config.c: where settings come from, and their order of precedence. */
#include "cli/cli.h"
#include "lib/mime.h"
#include "lib/pipeline.h"
#include "lib/timeutil.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

dz_code config_parse_listen(const char *s, server_config *sc, dz_err *e)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return dz_fail(e, DZ_EINVAL, "listen address '%.80s' must be HOST:PORT (e.g. 127.0.0.1:8080)", s);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || colon[1] == '\0')
        return dz_fail(e, DZ_EINVAL, "listen address '%.80s': bad port", s);
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') { /* [::1]:8080 */
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof sc->listen_addr)
        return dz_fail(e, DZ_EINVAL, "listen address '%.80s': bad host", s);
    memcpy(sc->listen_addr, s, hl);
    sc->listen_addr[hl] = '\0';
    if (strcmp(sc->listen_addr, "localhost") == 0)
        snprintf(sc->listen_addr, sizeof sc->listen_addr, "127.0.0.1");
    sc->port = (uint16_t)port;
    return DZ_OK;
}

static dz_code parse_uint(const char *v, long min, long max, long *out, dz_err *e)
{
    char *end;
    errno = 0;
    long l = strtol(v, &end, 10);
    if (errno || *end || end == v || l < min || l > max)
        return dz_fail(e, DZ_EINVAL, "'%.40s' is not a whole number from %ld to %ld", v, min, max);
    *out = l;
    return DZ_OK;
}

/* A path of dzong.conf: relative ones are taken relative to the data directory. */
static dz_code set_path(const dz_config *cfg, const char *key, const char *val, char *out, size_t n, dz_err *e)
{
    if (!*val)
        return dz_fail(e, DZ_EINVAL, "%s: empty path", key);
    char full[2 * PATH_MAX]; /* out lies inside cfg: build apart, then copy */
    int w = val[0] == '/' ? snprintf(full, sizeof full, "%s", val)
                          : snprintf(full, sizeof full, "%s/%s", cfg->data_dir, val);
    if (w < 0 || (size_t)w >= n)
        return dz_fail(e, DZ_EINVAL, "%s: path too long", key);
    memcpy(out, full, (size_t)w + 1);
    return DZ_OK;
}

/* A `fetch` line (see jobs/fetch.h). */
static dz_code add_fetch(dz_config *cfg, const char *val, int lineno, dz_err *e)
{
    if (cfg->n_fetches == FETCH_MAX)
        return dz_fail(e, DZ_ELIMIT, "at most %d fetch lines", FETCH_MAX);
    fetch_def *d = &cfg->fetches[cfg->n_fetches];
    if (fetch_def_parse(val, d, e) != DZ_OK)
        return e->code;
    for (size_t i = 0; i < cfg->n_fetches; i++)
        if (strcmp(cfg->fetches[i].name, d->name) == 0)
            return dz_fail(e, DZ_EINVAL, "fetch %s: the name is taken (line %d)", d->name, cfg->fetches[i].line);
    if (d->mapping[0] && d->mapping[0] != '/') {
        char rel[sizeof d->mapping];
        snprintf(rel, sizeof rel, "%s", d->mapping);
        if (set_path(cfg, "mapping", rel, d->mapping, sizeof d->mapping, e) != DZ_OK)
            return dz_wrap(e, "fetch %s", d->name);
    }
    d->line = lineno;
    cfg->n_fetches++;
    return DZ_OK;
}

/* A text value of dzong.conf that must fit its field. */
static dz_code set_text(const char *key, const char *val, char *out, size_t n, dz_err *e)
{
    if (strlen(val) >= n)
        return dz_fail(e, DZ_EINVAL, "%s is longer than %zu characters", key, n - 1);
    memcpy(out, val, strlen(val) + 1);
    return DZ_OK;
}

static dz_code parse_bool(const char *key, const char *val, bool *out, dz_err *e)
{
    if (strcmp(val, "true") && strcmp(val, "false"))
        return dz_fail(e, DZ_EINVAL, "%s must be true or false", key);
    *out = strcmp(val, "true") == 0;
    return DZ_OK;
}

/* The keys of notifications (notify/notify.h); *known false when key is none of them. */
static dz_code apply_notify_key(dz_config *cfg, const char *key, const char *val, bool *known, dz_err *e)
{
    notify_config *n = &cfg->notify;
    long l = 0;
    int64_t secs;
    *known = true;
    if (strcmp(key, "smtp") == 0) {
        if (smtp_check_url(val, e) != DZ_OK)
            return e->code;
        return set_text(key, val, n->smtp.url, sizeof n->smtp.url, e);
    } else if (strcmp(key, "smtp_user") == 0) {
        return set_text(key, val, n->smtp.user, sizeof n->smtp.user, e);
    } else if (strcmp(key, "smtp_password") == 0) {
        return set_text(key, val, n->smtp.password, sizeof n->smtp.password, e);
    } else if (strcmp(key, "smtp_starttls") == 0) {
        return smtp_tls_parse(val, &n->smtp.tls, e);
    } else if (strcmp(key, "smtp_insecure") == 0) {
        return parse_bool(key, val, &n->smtp.insecure, e);
    } else if (strcmp(key, "smtp_helo") == 0) {
        return set_text(key, val, n->smtp.helo, sizeof n->smtp.helo, e);
    } else if (strcmp(key, "smtp_timeout") == 0) {
        if (duration_parse(val, &secs, e) != DZ_OK)
            return e->code;
        if (secs < 1 || secs > 3600)
            return dz_fail(e, DZ_EINVAL, "smtp_timeout must be from 1 second to 1 hour");
        n->smtp.timeout_s = (int)secs;
    } else if (strcmp(key, "mail_from") == 0) {
        if (!mime_address_ok(val))
            return dz_fail(e, DZ_EINVAL, "mail_from '%.80s' is not an address (local@domain, ASCII)", val);
        return set_text(key, val, n->from, sizeof n->from, e);
    } else if (strcmp(key, "mail_from_name") == 0) {
        return set_text(key, val, n->from_name, sizeof n->from_name, e);
    } else if (strcmp(key, "mail_reply_to") == 0) {
        if (!mime_address_ok(val))
            return dz_fail(e, DZ_EINVAL, "mail_reply_to '%.80s' is not an address (local@domain, ASCII)", val);
        return set_text(key, val, n->reply_to, sizeof n->reply_to, e);
    } else if (strcmp(key, "pgp_sign_key") == 0) {
        return set_text(key, val, n->sign_key, sizeof n->sign_key, e);
    } else if (strcmp(key, "pgp_encrypt") == 0) {
        return parse_bool(key, val, &n->encrypt, e);
    } else if (strcmp(key, "events_default_tlp") == 0) {
        return tlp_parse(val, &n->default_tlp, e);
    } else if (strcmp(key, "notify_max_attempts") == 0) {
        if (parse_uint(val, 1, 100, &l, e) != DZ_OK)
            return e->code;
        n->max_attempts = (int)l;
    } else if (strcmp(key, "notify_retry_base") == 0) {
        if (duration_parse(val, &secs, e) != DZ_OK)
            return e->code;
        if (secs < 1 || secs > 86400)
            return dz_fail(e, DZ_EINVAL, "notify_retry_base must be from 1 second to 1 day");
        n->retry_base_s = (int)secs;
    } else if (strcmp(key, "notify_attach_max") == 0) {
        if (parse_uint(val, 1, 1000000, &l, e) != DZ_OK)
            return e->code;
        n->attach_max = (int)l;
    } else if (strcmp(key, "notify_poll") == 0) {
        if (duration_parse(val, &secs, e) != DZ_OK)
            return e->code;
        if (secs < 1 || secs > 3600)
            return dz_fail(e, DZ_EINVAL, "notify_poll must be from 1 second to 1 hour");
        cfg->notify_poll = (int)secs;
    } else if (strcmp(key, "portal_url") == 0) {
        return set_text(key, val, n->portal_url, sizeof n->portal_url, e);
    } else if (strcmp(key, "templates_dir") == 0) {
        return set_path(cfg, key, val, n->templates_dir, sizeof n->templates_dir, e);
    } else {
        *known = false;
    }
    return DZ_OK;
}

/* Applies one key = value from dzong.conf. */
static dz_code apply_key(dz_config *cfg, const char *key, const char *val, int lineno, bool *db_set, bool *listen_set,
                         dz_err *e)
{
    long l = 0; /* set by parse_uint; initialised for -O3 -Werror=maybe-uninitialized */
    int64_t secs;
    if (strcmp(key, "db") == 0) {
        snprintf(cfg->db_url, sizeof cfg->db_url, "%s", val);
        *db_set = true;
    } else if (strcmp(key, "listen") == 0) {
        *listen_set = true;
        return config_parse_listen(val, &cfg->server, e);
    } else if (strcmp(key, "prefix") == 0) {
        if (!public_id_prefix_valid(val))
            return dz_fail(e, DZ_EINVAL, "prefix '%.40s' must be 1-16 of A-Z and 0-9", val);
        snprintf(cfg->store.id_prefix, sizeof cfg->store.id_prefix, "%s", val);
    } else if (strcmp(key, "threads") == 0) {
        if (parse_uint(val, 1, 256, &l, e) != DZ_OK)
            return e->code;
        cfg->server.threads = (unsigned)l;
    } else if (strcmp(key, "blocking_threads") == 0) {
        if (parse_uint(val, 1, 1024, &l, e) != DZ_OK)
            return e->code;
        cfg->server.blocking_threads = (unsigned)l;
    } else if (strcmp(key, "body_limit") == 0) {
        if (parse_uint(val, 1024, 1L << 30, &l, e) != DZ_OK)
            return e->code;
        cfg->server.body_limit = (size_t)l;
    } else if (strcmp(key, "events_body_limit") == 0) {
        if (parse_uint(val, 1024, 1L << 32, &l, e) != DZ_OK)
            return e->code;
        cfg->server.events_body_limit = (size_t)l;
    } else if (strcmp(key, "session_ttl") == 0) {
        if (duration_parse(val, &secs, e) != DZ_OK)
            return e->code;
        cfg->server.session_ttl = secs;
    } else if (strcmp(key, "cookie_secure") == 0) {
        if (strcmp(val, "true") && strcmp(val, "false"))
            return dz_fail(e, DZ_EINVAL, "cookie_secure must be true or false");
        cfg->server.cookie_secure = strcmp(val, "true") == 0;
    } else if (strcmp(key, "trusted_proxy") == 0) {
        unsigned char buf[16];
        if (inet_pton(AF_INET, val, buf) != 1 && inet_pton(AF_INET6, val, buf) != 1)
            return dz_fail(e, DZ_EINVAL, "trusted_proxy '%.60s' is not an IPv4 or IPv6 address", val);
        snprintf(cfg->server.trusted_proxy, sizeof cfg->server.trusted_proxy, "%s", val);
    } else if (strcmp(key, "access_log") == 0) {
        snprintf(cfg->access_log, sizeof cfg->access_log, "%s", val);
    } else if (strcmp(key, "sectors") == 0) {
        return sector_list_parse(val, &cfg->store.sectors, e);
    } else if (strncmp(key, "due.", 4) == 0) {
        severity_level sv;
        if (severity_parse(key + 4, &sv, e) != DZ_OK || duration_parse(val, &secs, e) != DZ_OK)
            return e->code;
        if (secs <= 0)
            return dz_fail(e, DZ_EINVAL, "%s must be positive", key);
        cfg->store.due.seconds[sv] = secs;
    } else if (strcmp(key, "spool_dir") == 0) {
        return set_path(cfg, key, val, cfg->spool_dir, sizeof cfg->spool_dir, e);
    } else if (strcmp(key, "spool_interval") == 0) {
        if (duration_parse(val, &secs, e) != DZ_OK)
            return e->code;
        if (secs < 1 || secs > 86400)
            return dz_fail(e, DZ_EINVAL, "spool_interval must be from 1 second to 1 day");
        cfg->spool_interval = (int)secs;
    } else if (strcmp(key, "spool_mapping") == 0) {
        return set_path(cfg, key, val, cfg->spool_mapping, sizeof cfg->spool_mapping, e);
    } else if (strcmp(key, "shadowserver_schema") == 0) {
        return set_path(cfg, key, val, cfg->shadowserver_schema, sizeof cfg->shadowserver_schema, e);
    } else if (strcmp(key, "dedup_window") == 0) {
        if (duration_parse(val, &secs, e) != DZ_OK)
            return e->code;
        if (secs <= 0)
            return dz_fail(e, DZ_EINVAL, "dedup_window must be positive");
        cfg->store.dedup_window_s = secs;
    } else if (strcmp(key, "dedup_fields") == 0) {
        if (strlen(val) >= sizeof cfg->dedup_fields)
            return dz_fail(e, DZ_EINVAL, "dedup_fields is longer than %d characters", (int)sizeof cfg->dedup_fields - 1);
        snprintf(cfg->dedup_fields, sizeof cfg->dedup_fields, "%s", val);
        cfg->dedup_fields_line = lineno;
    } else if (strcmp(key, "fetch") == 0) {
        return add_fetch(cfg, val, lineno, e);
    } else if (strcmp(key, "fetch_allow_http") == 0) {
        if (strcmp(val, "true") && strcmp(val, "false"))
            return dz_fail(e, DZ_EINVAL, "fetch_allow_http must be true or false");
        cfg->fetch_allow_http = strcmp(val, "true") == 0;
    } else {
        bool known;
        dz_code rc = apply_notify_key(cfg, key, val, &known, e);
        if (rc != DZ_OK || known)
            return rc;
        return dz_fail(e, DZ_EINVAL, "unknown key '%.60s' (db, listen, prefix, threads, blocking_threads, body_limit, events_body_limit, session_ttl, "
                                     "cookie_secure, trusted_proxy, access_log, sectors, due.low|medium|high|critical, "
                                     "dedup_window, dedup_fields, spool_dir, spool_interval, spool_mapping, "
                                     "shadowserver_schema, fetch, fetch_allow_http, smtp, smtp_user, smtp_password, "
                                     "smtp_starttls, smtp_insecure, smtp_helo, smtp_timeout, mail_from, mail_from_name, "
                                     "mail_reply_to, pgp_sign_key, pgp_encrypt, events_default_tlp, notify_max_attempts, "
                                     "notify_retry_base, notify_attach_max, notify_poll, portal_url, templates_dir)", key);
    }
    return DZ_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static dz_code read_conf(dz_config *cfg, const char *path, bool *db_set, bool *listen_set, dz_err *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? DZ_OK : dz_fail(e, DZ_EIO, "%s: %s", path, strerror(errno));
    char line[4096];
    int lineno = 0;
    dz_code rc = DZ_OK;
    while (rc == DZ_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = dz_fail(e, DZ_EINVAL, "%s:%d: expected 'key = value'", path, lineno);
            break;
        }
        *eq = '\0';
        if ((rc = apply_key(cfg, trim(s), trim(eq + 1), lineno, db_set, listen_set, e)) != DZ_OK)
            dz_wrap(e, "%s:%d", path, lineno);
    }
    fclose(f);
    if (rc != DZ_OK)
        return rc;
    /* Checks that need the whole file. */
    for (size_t i = 0; i < cfg->n_fetches; i++)
        if (fetch_check_url(cfg->fetches[i].url, cfg->fetch_allow_http, e) != DZ_OK)
            return dz_wrap(e, "%s:%d: fetch %s", path, cfg->fetches[i].line, cfg->fetches[i].name);
    if (cfg->dedup_fields[0]) {
        pipeline_config pc = {.dedup_fields = cfg->dedup_fields};
        pipeline *p;
        if (pipeline_new(&pc, &p, e) != DZ_OK)
            return dz_wrap(e, "%s:%d", path, cfg->dedup_fields_line);
        pipeline_free(p);
    }
    return DZ_OK;
}

dz_code config_resolve(const global_opts *g, dz_config *cfg, dz_err *e)
{
    memset(cfg, 0, sizeof *cfg);
    server_config_default(&cfg->server);
    due_policy_default(&cfg->store.due);
    sector_list_default(&cfg->store.sectors);
    snprintf(cfg->store.id_prefix, sizeof cfg->store.id_prefix, "DZONG");
    snprintf(cfg->access_log, sizeof cfg->access_log, "-");
    const char *data = g->data ? g->data : getenv("DZONG_DATA");
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", data && *data ? data : "./dzong-data");
    snprintf(cfg->spool_dir, sizeof cfg->spool_dir, "%s/spool", cfg->data_dir);
    cfg->spool_interval = 5;
    notify_config_defaults(&cfg->notify, cfg->data_dir);
    cfg->notify_poll = 5;

    char path[PATH_MAX + 16];
    bool db_set = false, listen_set = false;
    snprintf(path, sizeof path, "%s/dzong.conf", cfg->data_dir);
    snprintf(cfg->conf_path, sizeof cfg->conf_path, "%s", path);
    if (read_conf(cfg, path, &db_set, &listen_set, e) != DZ_OK)
        return e->code;

    const char *env_db = getenv("DZONG_DB"), *env_listen = getenv("DZONG_LISTEN");
    if (g->db)
        snprintf(cfg->db_url, sizeof cfg->db_url, "%s", g->db);
    else if (env_db && *env_db)
        snprintf(cfg->db_url, sizeof cfg->db_url, "%s", env_db);
    else if (!db_set)
        snprintf(cfg->db_url, sizeof cfg->db_url, "sqlite:%s/dzong.db", cfg->data_dir);
    /* The relay: --smtp > DZONG_SMTP > dzong.conf; its password may come from DZONG_SMTP_PASSWORD. */
    const char *env_smtp = getenv("DZONG_SMTP"), *env_smtp_pw = getenv("DZONG_SMTP_PASSWORD");
    const char *smtp = g->smtp ? g->smtp : (env_smtp && *env_smtp ? env_smtp : NULL);
    if (smtp && (smtp_check_url(smtp, e) != DZ_OK ||
                 set_text("--smtp", smtp, cfg->notify.smtp.url, sizeof cfg->notify.smtp.url, e) != DZ_OK))
        return e->code;
    if (env_smtp_pw && *env_smtp_pw &&
        set_text("DZONG_SMTP_PASSWORD", env_smtp_pw, cfg->notify.smtp.password, sizeof cfg->notify.smtp.password,
                 e) != DZ_OK)
        return e->code;
    snprintf(cfg->notify.ticket_prefix, sizeof cfg->notify.ticket_prefix, "%s", cfg->store.id_prefix);
    if (!cfg->notify.from_name[0])
        snprintf(cfg->notify.from_name, sizeof cfg->notify.from_name, "%s CIRT", cfg->store.id_prefix);
    const char *listen = g->listen ? g->listen : (env_listen && *env_listen ? env_listen : NULL);
    if (listen && config_parse_listen(listen, &cfg->server, e) != DZ_OK)
        return e->code;
    return DZ_OK;
}

dz_code cli_open_store(const dz_config *cfg, bool check_schema, store **out, dz_err *e)
{
    /* SQLite would create an empty file; say what is missing instead. */
    if (check_schema && strncmp(cfg->db_url, "sqlite:", 7) == 0 && access(cfg->db_url + 7, F_OK) != 0)
        return dz_fail(e, DZ_ENOTFOUND, "database '%s' does not exist: run `dzong init` first (or pass --data DIR)",
                       cfg->db_url + 7);
    if (store_open(cfg->db_url, &cfg->store, out, e) != DZ_OK)
        return e->code;
    if (check_schema && store_check_schema(*out, e) != DZ_OK) {
        store_close(*out);
        return e->code;
    }
    return DZ_OK;
}

void cli_principal(principal *p)
{
    memset(p, 0, sizeof *p);
    const char *login = getenv("USER");
    snprintf(p->username, sizeof p->username, "cli:%.56s", login && *login ? login : "root");
    p->role = ROLE_ADMIN;
}

/* The URL with any password replaced by ***, for printing. */
void cli_redact_url(const char *url, char *out, size_t n)
{
    snprintf(out, n, "%s", url);
    char *scheme = strstr(out, "://");
    if (scheme) {
        char *user = scheme + 3, *at = strchr(user, '@'), *colon = strchr(user, ':');
        if (at && colon && colon < at) {
            char rest[PATH_MAX + 16];
            snprintf(rest, sizeof rest, "%s", at);
            snprintf(colon, n - (size_t)(colon - out), ":***%s", rest);
        }
    }
    char *pw = strstr(out, "password=");
    if (pw) {
        char *end = pw + 9 + strcspn(pw + 9, "&");
        char rest[PATH_MAX + 16];
        snprintf(rest, sizeof rest, "%s", end);
        snprintf(pw + 9, n - (size_t)(pw + 9 - out), "***%s", rest);
    }
}

int cli_print_json(json_t *doc)
{
    char *s = json_dumps(doc, JSON_INDENT(2));
    puts(s ? s : "null");
    free(s);
    json_decref(doc);
    return 0;
}

int cli_fail(const dz_err *e)
{
    fprintf(stderr, "dzong: %s\n", e->msg);
    switch (e->code) {
    case DZ_EINVAL: return 2;
    case DZ_ENOTFOUND: return 3;
    case DZ_ECONFLICT: return 4;
    default: return 1;
    }
}
