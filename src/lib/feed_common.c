/*
 * feed_common.c: what the line-oriented feed parsers share (feed.h): a bounded line reader
 * over a csv_read_fn, the per-parse context (reused event, common fields, raw, callbacks)
 * and base64.
 */
#include "lib/feed.h"

#include <ctype.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lines ---- */

void feed_lines_init(feed_lines *l, csv_read_fn read, void *arg, size_t max_line)
{
    memset(l, 0, sizeof *l);
    l->read = read;
    l->arg = arg;
    l->max_line = max_line ? max_line : FEED_MAX_LINE;
    l->next_line = 1;
}

void feed_lines_free(feed_lines *l)
{
    free(l->buf);
    l->buf = NULL;
}

/* Reads more input after the buffered bytes; false on failure (l->failed set). */
static bool fill(feed_lines *l, dz_err *e)
{
    if (l->pos > 0) {
        memmove(l->buf, l->buf + l->pos, l->end - l->pos);
        l->end -= l->pos;
        l->pos = 0;
    }
    if (l->cap - l->end < 4096) {
        size_t limit = l->max_line + 65536;
        size_t ncap = l->cap ? l->cap * 2 : 65536;
        if (ncap > limit)
            ncap = limit;
        if (ncap < l->end + 4096)
            ncap = l->end + 4096;
        char *nb = realloc(l->buf, ncap);
        if (!nb) {
            l->failed = DZ_ENOMEM;
            dz_fail(e, DZ_ENOMEM, "out of memory");
            return false;
        }
        l->buf = nb;
        l->cap = ncap;
    }
    long n = l->read(l->arg, l->buf + l->end, l->cap - l->end);
    if (n < 0) {
        l->failed = DZ_EIO;
        dz_fail(e, DZ_EIO, "read error");
        return false;
    }
    if (n == 0)
        l->eof = true;
    l->end += (size_t)n;
    return true;
}

int feed_lines_next(feed_lines *l, const char **s, size_t *len, uint64_t *line, dz_err *e)
{
    if (l->failed) {
        dz_fail(e, l->failed, l->failed == DZ_ENOMEM ? "out of memory" : "read error");
        return FEED_LINE_FAIL;
    }
    for (;;) {
        if (!l->started && l->end - l->pos >= 3) {
            if (memcmp(l->buf + l->pos, "\xEF\xBB\xBF", 3) == 0)
                l->pos += 3;
            l->started = true;
        } else if (!l->started && l->eof) {
            l->started = true; /* fewer than 3 bytes in all: no BOM to look for */
        }
        char *nl = NULL;
        if (l->started && l->end > l->pos + l->scanned) {
            nl = memchr(l->buf + l->pos + l->scanned, '\n', l->end - l->pos - l->scanned);
            l->scanned = nl ? 0 : l->end - l->pos;
        }
        if (l->skip) { /* the rest of a line that was too long */
            l->scanned = 0;
            if (nl) {
                l->pos = (size_t)(nl - l->buf) + 1;
                l->skip = false;
                continue;
            }
            l->pos = l->end;
            if (l->eof)
                return FEED_LINE_END;
            if (!fill(l, e))
                return FEED_LINE_FAIL;
            continue;
        }
        if (nl || (l->started && l->eof && l->pos < l->end) || (l->started && l->end - l->pos > l->max_line)) {
            size_t n = nl ? (size_t)(nl - (l->buf + l->pos)) : l->end - l->pos;
            l->scanned = 0;
            *s = l->buf + l->pos;
            *line = l->next_line++;
            if (n > l->max_line) {
                *len = l->max_line;
                if (nl)
                    l->pos = (size_t)(nl - l->buf) + 1;
                else {
                    l->pos = l->end; /* the returned prefix stays in place until the next call */
                    l->skip = true;
                }
                return FEED_LINE_LONG;
            }
            l->pos = nl ? (size_t)(nl - l->buf) + 1 : l->end;
            if (n && (*s)[n - 1] == '\r')
                n--;
            *len = n;
            return FEED_LINE;
        }
        if (l->eof)
            return FEED_LINE_END;
        if (!fill(l, e))
            return FEED_LINE_FAIL;
    }
}

/* ---- the context ---- */

dz_code feed_ctx_init(feed_ctx *c, const feed_options *opt, const char *default_name, const char *provider,
                      feed_event_fn on_event, feed_error_fn on_error, void *arg, dz_err *e)
{
    static const feed_options none = {0};
    memset(c, 0, sizeof *c);
    c->opt = opt ? opt : &none;
    c->default_name = default_name;
    c->provider = provider;
    c->on_event = on_event;
    c->on_error = on_error;
    c->arg = arg;
    strbuf_init(&c->b64);
    strbuf_init(&c->msg);
    dz_code rc = feed_check_options(c->opt, e);
    if (rc != DZ_OK)
        return rc;
    feed_now_text(c->now);
    if (!(c->ev = event_new()))
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    return DZ_OK;
}

void feed_ctx_free(feed_ctx *c)
{
    event_free(c->ev);
    c->ev = NULL;
    strbuf_free(&c->b64);
    strbuf_free(&c->msg);
}

dz_code feed_ctx_set(feed_ctx *c, const char *key, const char *s, size_t len)
{
    c->err.msg[0] = '\0';
    return event_set(c->ev, key, s, len, &c->err);
}

dz_code feed_ctx_emit(feed_ctx *c, uint64_t line, const char *raw, size_t raw_len)
{
    dz_err fe = {0};
    dz_code rc = feed_set_common(c->ev, c->opt, c->default_name, c->provider, c->now, &fe);
    if (rc == DZ_ENOMEM)
        return rc;
    if (c->opt->raw && raw && raw_len) {
        strbuf_reset(&c->b64);
        feed_base64_append(&c->b64, raw, raw_len);
        if (c->b64.oom)
            return DZ_ENOMEM;
        if (event_set(c->ev, "raw", c->b64.buf, c->b64.len, &fe) == DZ_ENOMEM)
            return DZ_ENOMEM;
    }
    if (c->on_event && c->on_event(c->arg, c->ev, line) != 0)
        c->stop = true;
    return DZ_OK;
}

void feed_ctx_refuse(feed_ctx *c, uint64_t line, const char *raw, size_t raw_len, const char *fmt, ...)
{
    if (!c->on_error)
        return;
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->on_error(c->arg, line, msg, raw, raw ? raw_len : 0);
}

json_t *feed_json_object(feed_ctx *c, uint64_t line, const char *s, size_t n, size_t flags)
{
    json_error_t je;
    json_t *o = json_loadb(s, n, flags, &je);
    if (!o) {
        feed_ctx_refuse(c, line, s, n, "not JSON: %s (column %d)", je.text, je.column);
        return NULL;
    }
    if (!json_is_object(o)) {
        feed_ctx_refuse(c, line, s, n, "not a JSON object");
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- helpers ---- */

void feed_base64_append(strbuf *out, const void *data, size_t n)
{
    const unsigned char *p = data;
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4], chunk[1024];
    size_t i = 0, c = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        chunk[c] = tbl[v >> 18];
        chunk[c + 1] = tbl[(v >> 12) & 63];
        chunk[c + 2] = tbl[(v >> 6) & 63];
        chunk[c + 3] = tbl[v & 63];
        c += 4;
        if (c == sizeof chunk) {
            strbuf_append(out, chunk, c);
            c = 0;
        }
    }
    if (c)
        strbuf_append(out, chunk, c);
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        q[0] = tbl[v >> 18];
        q[1] = tbl[(v >> 12) & 63];
        q[2] = q[3] = '=';
        strbuf_append(out, q, 4);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        q[0] = tbl[v >> 18];
        q[1] = tbl[(v >> 12) & 63];
        q[2] = tbl[(v >> 6) & 63];
        q[3] = '=';
        strbuf_append(out, q, 4);
    }
}

const char *feed_base_name(const char *path)
{
    if (!path)
        return "";
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

int feed_next_line(feed_lines *l, feed_ctx *c, const char **s, size_t *len, uint64_t *line, dz_err *e)
{
    for (;;) {
        int got = feed_lines_next(l, s, len, line, e);
        if (got == FEED_LINE_LONG) {
            feed_ctx_refuse(c, *line, *s, *len, "line longer than %zu bytes", l->max_line);
            continue;
        }
        if (got != FEED_LINE)
            return got;
        for (size_t i = 0; i < *len; i++)
            if (!isspace((unsigned char)(*s)[i]))
                return FEED_LINE;
    }
}
