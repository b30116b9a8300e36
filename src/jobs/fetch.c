/* fetch.c: scheduled feed downloads with libcurl (see fetch.h). */
#include "jobs/fetch.h"
#include "ingest/ingest.h"
#include "lib/timeutil.h"

#include <ctype.h>
#include <stdatomic.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_S 30L
#define TOTAL_TIMEOUT_S 3600L   /* a whole download, redirects included */
#define LOW_SPEED_BYTES 1024L   /* slower than this ... */
#define LOW_SPEED_S 60L         /* ... for this long: give up */
#define MAX_REDIRECTS 5L

/* ---------------------------------------------------------------- the configuration */

static bool name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* The host part of an http(s) URL after "scheme://": [user@]host[:port] up to '/', '?' or '#'. */
static void url_host(const char *after_scheme, char *out, size_t n)
{
    size_t len = strcspn(after_scheme, "/?#");
    const char *at = memchr(after_scheme, '@', len);
    const char *h = at ? at + 1 : after_scheme;
    len -= (size_t)(h - after_scheme);
    if (len && h[0] == '[') { /* [::1]:8080 */
        const char *close = memchr(h, ']', len);
        len = close ? (size_t)(close - h) + 1 : len;
    } else {
        const char *colon = memchr(h, ':', len);
        if (colon)
            len = (size_t)(colon - h);
    }
    snprintf(out, n, "%.*s", (int)len, h);
}

static bool is_local_http(const char *url)
{
    if (strncasecmp(url, "http://", 7) != 0)
        return false;
    char host[256];
    url_host(url + 7, host, sizeof host);
    return strcasecmp(host, "127.0.0.1") == 0 || strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0;
}

dz_code fetch_check_url(const char *url, bool allow_http, dz_err *e)
{
    const char *rest;
    if (strncasecmp(url, "https://", 8) == 0)
        rest = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        rest = url + 7;
    else
        return dz_fail(e, DZ_EINVAL, "'%.100s' is not an https:// URL", url);
    char host[256];
    url_host(rest, host, sizeof host);
    if (!host[0])
        return dz_fail(e, DZ_EINVAL, "'%.100s' has no host", url);
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return dz_fail(e, DZ_EINVAL, "'%.100s' contains a space or a control character", url);
    if (rest == url + 7 && !allow_http && !is_local_http(url))
        return dz_fail(e, DZ_EINVAL, "'%.100s' is plain http: use https (or set fetch_allow_http = true)", url);
    return DZ_OK;
}

dz_code fetch_def_parse(const char *value, fetch_def *d, dz_err *e)
{
    memset(d, 0, sizeof *d);
    d->every_s = 3600;
    char buf[4096];
    if (strlen(value) >= sizeof buf)
        return dz_fail(e, DZ_EINVAL, "fetch: the line is too long");
    snprintf(buf, sizeof buf, "%s", value);
    char *save = NULL, *words[3];
    int n = 0;
    char *w = strtok_r(buf, " \t", &save);
    for (; w && n < 3; w = strtok_r(NULL, " \t", &save))
        words[n++] = w;
    if (n < 3)
        return dz_fail(e, DZ_EINVAL, "fetch: expected NAME FEED URL [every=D] [report=R] [mapping=FILE] [feed_name=N]");
    if (strlen(words[0]) >= sizeof d->name || !name_ok(words[0]))
        return dz_fail(e, DZ_EINVAL, "fetch: name '%.60s' must be 1-%d of a-z, 0-9, '_' and '-'", words[0],
                       (int)sizeof d->name - 1);
    snprintf(d->name, sizeof d->name, "%s", words[0]);
    const feed_parser *p = feed_parser_find(words[1]);
    if (!p) {
        char known[512] = "";
        const feed_parser *q;
        for (size_t i = 0; (q = feed_parser_at(i)) != NULL; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", q->name);
        return dz_fail(e, DZ_EINVAL, "fetch %s: unknown feed '%.40s' (%s)", d->name, words[1], known);
    }
    snprintf(d->feed, sizeof d->feed, "%s", p->name);
    if (strlen(words[2]) >= sizeof d->url)
        return dz_fail(e, DZ_EINVAL, "fetch %s: the URL is longer than %d bytes", d->name, (int)sizeof d->url - 1);
    snprintf(d->url, sizeof d->url, "%s", words[2]);
    if (fetch_check_url(d->url, true, e) != DZ_OK)
        return dz_wrap(e, "fetch %s", d->name);
    for (; w; w = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(w, '=');
        if (!eq || eq == w || !eq[1])
            return dz_fail(e, DZ_EINVAL, "fetch %s: '%.60s' is not OPTION=VALUE (every, report, mapping, feed_name)",
                           d->name, w);
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(w, "every") == 0) {
            if (duration_parse(v, &d->every_s, e) != DZ_OK)
                return dz_wrap(e, "fetch %s: every", d->name);
            if (d->every_s < 1 || d->every_s > 366 * 86400)
                return dz_fail(e, DZ_EINVAL, "fetch %s: every must be from 1s to 366d", d->name);
        } else if (strcmp(w, "report") == 0) {
            if (strlen(v) >= sizeof d->report)
                return dz_fail(e, DZ_EINVAL, "fetch %s: report too long", d->name);
            snprintf(d->report, sizeof d->report, "%s", v);
        } else if (strcmp(w, "feed_name") == 0) {
            if (strlen(v) >= sizeof d->feed_name)
                return dz_fail(e, DZ_EINVAL, "fetch %s: feed_name too long", d->name);
            snprintf(d->feed_name, sizeof d->feed_name, "%s", v);
        } else if (strcmp(w, "mapping") == 0) {
            if (strlen(v) >= sizeof d->mapping)
                return dz_fail(e, DZ_EINVAL, "fetch %s: mapping path too long", d->name);
            snprintf(d->mapping, sizeof d->mapping, "%s", v);
        } else {
            return dz_fail(e, DZ_EINVAL, "fetch %s: unknown option '%.40s' (every, report, mapping, feed_name)",
                           d->name, w);
        }
    }
    if (strcmp(d->feed, "csv") == 0 && !d->mapping[0])
        return dz_fail(e, DZ_EINVAL, "fetch %s: the csv feed needs mapping=FILE", d->name);
    if (strcmp(d->feed, "csv") != 0 && d->mapping[0])
        return dz_fail(e, DZ_EINVAL, "fetch %s: mapping= is for the csv feed only", d->name);
    if (strcmp(d->feed, "shadowserver") != 0 && d->report[0])
        return dz_fail(e, DZ_EINVAL, "fetch %s: report= is for the shadowserver feed only", d->name);
    return DZ_OK;
}

static atomic_bool aborting;

void fetch_abort(void)
{
    atomic_store(&aborting, true);
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)arg, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load(&aborting) ? 1 : 0; /* non-zero: curl stops with CURLE_ABORTED_BY_CALLBACK */
}

/* What fetch_configure keeps: read-only once jobs run. */
static struct {
    fetch_def *defs;
    const struct csv_mapping **mappings;
    size_t n;
    char tmp_dir[4096];
    bool allow_http;
    feed_options opt;
    pipeline_config pipeline;
    bool has_pipeline;
    char dedup_fields[1024], dedup_exclude[1024];
    char node[64];
    bool curl_ready;
} g;

dz_code fetch_configure(const fetch_setup *fs, dz_err *e)
{
    fetch_unconfigure();
    atomic_store(&aborting, false);
    if (fs->n) {
        if (!fs->tmp_dir || strlen(fs->tmp_dir) >= sizeof g.tmp_dir)
            return dz_fail(e, DZ_EINVAL, "fetch: no directory for downloads");
        if (mkdir(fs->tmp_dir, 0700) != 0 && errno != EEXIST)
            return dz_fail(e, DZ_EIO, "cannot create %s: %s", fs->tmp_dir, strerror(errno));
        g.defs = calloc(fs->n, sizeof *g.defs);
        g.mappings = calloc(fs->n, sizeof *g.mappings);
        if (!g.defs || !g.mappings) {
            fetch_unconfigure();
            return dz_fail(e, DZ_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < fs->n; i++) {
            if (fetch_check_url(fs->defs[i].url, fs->allow_http, e) != DZ_OK) {
                fetch_unconfigure();
                return dz_wrap(e, "fetch %s", fs->defs[i].name);
            }
            g.defs[i] = fs->defs[i];
            g.mappings[i] = fs->mappings ? fs->mappings[i] : NULL;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fetch_unconfigure();
            return dz_fail(e, DZ_EINTERNAL, "libcurl: initialisation failed");
        }
        g.curl_ready = true;
        snprintf(g.tmp_dir, sizeof g.tmp_dir, "%s", fs->tmp_dir);
    }
    g.n = fs->n;
    g.allow_http = fs->allow_http;
    g.opt = fs->opt;
    if (fs->pipeline) {
        g.has_pipeline = true;
        snprintf(g.dedup_fields, sizeof g.dedup_fields, "%s", fs->pipeline->dedup_fields ? fs->pipeline->dedup_fields : "");
        snprintf(g.dedup_exclude, sizeof g.dedup_exclude, "%s",
                 fs->pipeline->dedup_exclude ? fs->pipeline->dedup_exclude : "");
        g.pipeline.dedup_fields = fs->pipeline->dedup_fields ? g.dedup_fields : NULL;
        g.pipeline.dedup_exclude = fs->pipeline->dedup_exclude ? g.dedup_exclude : NULL;
    }
    snprintf(g.node, sizeof g.node, "%s", fs->node ? fs->node : "");
    return DZ_OK;
}

void fetch_unconfigure(void)
{
    free(g.defs);
    free(g.mappings);
    if (g.curl_ready)
        curl_global_cleanup();
    memset(&g, 0, sizeof g);
}

dz_code fetch_sync(store *st, dz_err *e)
{
    store_fetch_def defs[FETCH_MAX];
    size_t n = g.n < FETCH_MAX ? g.n : FETCH_MAX;
    for (size_t i = 0; i < n; i++)
        defs[i] = (store_fetch_def){g.defs[i].name, g.defs[i].url, g.defs[i].every_s};
    int removed = 0;
    if (store_fetch_sync(st, defs, n, &removed, e) != DZ_OK)
        return dz_wrap(e, "scheduling the downloads");
    if (removed)
        fprintf(stderr, "dzong: %d download%s no longer in dzong.conf removed from the schedule\n", removed,
                removed == 1 ? "" : "s");
    return DZ_OK;
}

int64_t fetch_min_interval(void)
{
    int64_t m = 0;
    for (size_t i = 0; i < g.n; i++)
        if (m == 0 || g.defs[i].every_s < m)
            m = g.defs[i].every_s;
    return m;
}

/* ---------------------------------------------------------------- one download */

typedef struct download {
    int fd;
    uint64_t bytes, max;
    bool too_big, write_failed;
    char etag[512], last_modified[128];
} download;

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    download *d = arg;
    size_t n = size * nmemb;
    if (d->bytes + n > d->max) {
        d->too_big = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(d->fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            d->write_failed = true;
            return 0;
        }
        off += (size_t)w;
    }
    d->bytes += n;
    return n;
}

/* Keeps ETag and Last-Modified of the last response (a redirect's headers are forgotten). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    download *d = arg;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        d->etag[0] = d->last_modified[0] = '\0';
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n;
    size_t klen = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    if (klen == 4 && strncasecmp(data, "etag", 4) == 0 && vlen < sizeof d->etag)
        snprintf(d->etag, sizeof d->etag, "%.*s", (int)vlen, v);
    else if (klen == 13 && strncasecmp(data, "last-modified", 13) == 0 && vlen < sizeof d->last_modified)
        snprintf(d->last_modified, sizeof d->last_modified, "%.*s", (int)vlen, v);
    return n;
}

/* The URL for logs and the ingest's source: without credentials and query (they may carry keys). */
static void url_shown(const char *url, char *out, size_t n)
{
    const char *sch = strstr(url, "://");
    const char *auth = sch ? sch + 3 : url;
    size_t hostlen = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', hostlen);
    size_t pre = (size_t)(auth - url);
    const char *rest = at ? at + 1 : auth;
    size_t restlen = strcspn(rest, "?#");
    snprintf(out, n, "%.*s%.*s%s", (int)pre, url, (int)restlen, rest, rest[restlen] == '?' ? "?..." : "");
}

/* The last path segment of the URL (a Shadowserver report type is read from it). */
static void url_file_name(const char *url, char *out, size_t n)
{
    const char *sch = strstr(url, "://");
    const char *path = sch ? sch + 3 : url;
    path += strcspn(path, "/?#");
    size_t len = strcspn(path, "?#");
    const char *slash = path;
    for (size_t i = 0; i < len; i++)
        if (path[i] == '/')
            slash = path + i + 1;
    size_t flen = len - (size_t)(slash - path);
    snprintf(out, n, "%.*s", (int)flen, slash);
}

typedef struct round_result {
    long status;
    CURLcode cc;
    char curl_msg[CURL_ERROR_SIZE];
} round_result;

static dz_code http_get(const fetch_def *def, const store_fetch_state *prev, download *d, round_result *rr,
                        dz_err *e)
{
    CURL *c = curl_easy_init();
    if (!c)
        return dz_fail(e, DZ_ENOMEM, "libcurl: cannot make a handle");
    struct curl_slist *hdrs = NULL;
    char h[700];
    if (prev && prev->etag[0]) {
        snprintf(h, sizeof h, "If-None-Match: %s", prev->etag);
        hdrs = curl_slist_append(hdrs, h);
    }
    if (prev && prev->last_modified[0]) {
        snprintf(h, sizeof h, "If-Modified-Since: %s", prev->last_modified);
        hdrs = curl_slist_append(hdrs, h);
    }
    bool http_ok = g.allow_http || is_local_http(def->url);
    const char *protos = http_ok ? "http,https" : "https";
    rr->curl_msg[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, def->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protos);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, protos);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "dzong/" "0.1");
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* whatever this libcurl can decode (gzip, ...) */
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)d->max);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, d);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, rr->curl_msg);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    rr->cc = curl_easy_perform(c);
    rr->status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rr->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    return DZ_OK;
}

static const fetch_def *find_def(const char *name, const struct csv_mapping **mapping)
{
    for (size_t i = 0; i < g.n; i++)
        if (strcmp(g.defs[i].name, name) == 0) {
            *mapping = g.mappings[i];
            return &g.defs[i];
        }
    return NULL;
}

static void record(store *st, const char *name, const store_fetch_result *r)
{
    dz_err e = {0};
    if (store_fetch_record(st, name, r, &e) != DZ_OK)
        fprintf(stderr, "dzong: fetch %s: cannot record the round: %s\n", name, e.msg);
}

dz_code fetch_run_job(store *st, const char *name, dz_err *e)
{
    const struct csv_mapping *mapping = NULL;
    const fetch_def *def = find_def(name, &mapping);
    if (!def)
        return dz_fail(e, DZ_ENOTFOUND, "the download '%s' is scheduled but not in dzong.conf's `fetch` lines "
                                        "(`dzong serve` brings the schedule in line when it starts)", name);
    if (atomic_load(&aborting))
        return dz_fail(e, DZ_EIO, "fetch %s: not run, dzong is stopping", name);
    const feed_parser *parser = feed_parser_find(def->feed);
    if (!parser)
        return dz_fail(e, DZ_EINVAL, "fetch %s: unknown feed '%s'", name, def->feed);
    char shown[2100];
    url_shown(def->url, shown, sizeof shown);

    store_fetch_state prev;
    dz_err ge = {0};
    bool have_prev = store_fetch_get(st, name, &prev, &ge) == DZ_OK && strcmp(prev.url, def->url) == 0;

    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/fetch-%s-XXXXXX", g.tmp_dir, name);
    download d = {0};
    d.fd = mkostemp(tmp, O_CLOEXEC);
    if (d.fd < 0)
        return dz_fail(e, DZ_EIO, "fetch %s: cannot create a file in %s: %s", name, g.tmp_dir, strerror(errno));
    unlink(tmp); /* nameless from now on: nothing is left behind, whatever happens */
    d.max = FETCH_MAX_BYTES;
    round_result rr;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (http_get(def, have_prev ? &prev : NULL, &d, &rr, e) != DZ_OK) {
        close(d.fd);
        return e->code;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    store_fetch_result res = {0};
    res.status = (int)rr.status;
    dz_code rc = DZ_OK;
    if (rr.cc != CURLE_OK) {
        if (d.too_big || rr.cc == CURLE_FILESIZE_EXCEEDED)
            dz_fail(e, DZ_ELIMIT, "fetch %s: the body is larger than %llu bytes", name,
                    (unsigned long long)FETCH_MAX_BYTES);
        else if (d.write_failed)
            dz_fail(e, DZ_EIO, "fetch %s: writing the download to %s failed", name, g.tmp_dir);
        else
            dz_fail(e, DZ_EIO, "fetch %s: %s", name, rr.curl_msg[0] ? rr.curl_msg : curl_easy_strerror(rr.cc));
        res.error = e->msg;
        record(st, name, &res);
        fprintf(stderr, "dzong: fetch %s %s: %s\n", name, shown, e->msg);
        close(d.fd);
        return e->code;
    }
    if (rr.status == 304) {
        record(st, name, &res);
        fprintf(stderr, "dzong: fetch %s %s: 304 not modified (%.2f s)\n", name, shown, secs);
        close(d.fd);
        return DZ_OK;
    }
    if (rr.status < 200 || rr.status > 299) {
        dz_fail(e, DZ_EIO, "fetch %s: the server answered HTTP %ld", name, rr.status);
        res.error = e->msg;
        record(st, name, &res);
        fprintf(stderr, "dzong: fetch %s %s: HTTP %ld\n", name, shown, rr.status);
        close(d.fd);
        return e->code;
    }

    /* A body: through the pipeline. Its fingerprint is its identity, so the same body is taken in once. */
    char file_name[256];
    url_file_name(def->url, file_name, sizeof file_name);
    ingest_request r = {0};
    r.parser = parser;
    r.opt = g.opt;
    r.opt.file_name = file_name[0] ? file_name : NULL;
    r.opt.report = def->report[0] ? def->report : NULL;
    r.opt.feed_name = def->feed_name[0] ? def->feed_name : NULL;
    r.opt.mapping = mapping;
    r.fd = d.fd;
    r.size = d.bytes;
    r.kind = "fetch";
    r.source = shown;
    r.node = g.node[0] ? g.node : NULL;
    r.pipeline = g.has_pipeline ? &g.pipeline : NULL;
    ingest_summary sum;
    memset(&sum, 0, sizeof sum);
    dz_err ie = {0};
    if (lseek(d.fd, 0, SEEK_SET) != 0) {
        close(d.fd);
        return dz_fail(e, DZ_EIO, "fetch %s: cannot rewind the download: %s", name, strerror(errno));
    }
    dz_code irc = ingest_run(st, &r, &sum, &ie);
    close(d.fd);
    res.ingest_id = sum.ingest_id;
    if (irc == DZ_OK || sum.claim == INGEST_BUSY || sum.refused) {
        /* Taken in, being taken in elsewhere, or refused by the parser (it would be again): keep the validators. */
        res.new_validators = true;
        res.etag = d.etag;
        res.last_modified = d.last_modified;
    }
    if (irc != DZ_OK && sum.claim != INGEST_BUSY) {
        rc = dz_fail(e, irc, "fetch %s: %s", name, ie.msg);
        res.error = e->msg;
    }
    record(st, name, &res);
    if (sum.claim == INGEST_BUSY)
        fprintf(stderr, "dzong: fetch %s %s: %ld, %llu bytes in %.2f s; ingest %lld is being taken in by %s\n", name,
                shown, rr.status, (unsigned long long)d.bytes, secs, (long long)sum.ingest_id,
                sum.holder[0] ? sum.holder : "another node");
    else if (irc != DZ_OK)
        fprintf(stderr, "dzong: fetch %s %s: %ld, %llu bytes in %.2f s; ingest %lld failed: %s\n", name, shown,
                rr.status, (unsigned long long)d.bytes, secs, (long long)sum.ingest_id, ie.msg);
    else if (sum.claim == INGEST_DONE)
        fprintf(stderr, "dzong: fetch %s %s: %ld, %llu bytes in %.2f s; same content as ingest %lld, nothing new\n",
                name, shown, rr.status, (unsigned long long)d.bytes, secs, (long long)sum.ingest_id);
    else
        fprintf(stderr,
                "dzong: fetch %s %s: %ld, %llu bytes in %.2f s; ingest %lld done%s: %lld events, %lld duplicates, "
                "%lld quarantined, %lld matched in %.2f s\n",
                name, shown, rr.status, (unsigned long long)d.bytes, secs, (long long)sum.ingest_id,
                sum.claim == INGEST_RESUME ? " (resumed)" : "", (long long)sum.events, (long long)sum.duplicates,
                (long long)sum.quarantined, (long long)sum.matched, sum.seconds);
    return rc;
}
