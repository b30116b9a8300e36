/*
 * feed_csv.c: any CSV file as harmonized events, driven by a column mapping (a JSON
 * document, docs/feeds.md "Generic CSV"). The mapping is checked when it is loaded:
 * every key against the harmonization, every constant against its key's type, every
 * time format against its key, every member name; errors name the member.
 *
 * Reading uses lib/csv.h (RFC 4180, records may span lines), so raw is the header line
 * and the record exactly as read (or the record alone without a header), as for the
 * Shadowserver reports.
 */
/* strptime and timegm: _GNU_SOURCE comes from meson.build */
#include "lib/feed.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_COLUMN_INDEX 4095

typedef enum { TF_NONE = 0, TF_STRPTIME, TF_EPOCH, TF_EPOCH_MS } time_format;

typedef struct cm_col {
    char *key;
    harm_type type;
    char *name;       /* the header's column name, or NULL: index */
    long index;
    time_format tf;
    char *format;     /* TF_STRPTIME */
    bool required;
} cm_col;

typedef struct cm_const {
    char *key;
    json_t *value;
} cm_const;

struct csv_mapping {
    char delimiter;
    bool header, extra_columns;
    size_t skip_lines;
    char *comment;
    char *feed_name;
    cm_col *cols;
    size_t ncols;
    cm_const *consts;
    size_t nconst;
};

void csv_mapping_free(csv_mapping *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->ncols; i++) {
        free(m->cols[i].key);
        free(m->cols[i].name);
        free(m->cols[i].format);
    }
    free(m->cols);
    for (size_t i = 0; i < m->nconst; i++) {
        free(m->consts[i].key);
        json_decref(m->consts[i].value);
    }
    free(m->consts);
    free(m->comment);
    free(m->feed_name);
    free(m);
}

static bool parser_key(const char *k)
{
    return strcmp(k, "raw") == 0 || strcmp(k, "feed.name") == 0 || strcmp(k, "time.observation") == 0;
}

static dz_code set_scalar(event *ev, const char *key, const json_t *v, dz_err *e)
{
    if (json_is_string(v))
        return event_set(ev, key, json_string_value(v), json_string_length(v), e);
    if (json_is_integer(v))
        return event_set_int(ev, key, json_integer_value(v), e);
    if (json_is_real(v))
        return event_set_float(ev, key, json_real_value(v), e);
    return event_set_bool(ev, key, json_is_true(v), e);
}

static dz_code load_column(const char *key, const json_t *spec, const csv_mapping *m, cm_col *c, dz_err *e)
{
    dz_err ke = {0};
    if (harmonization_type(key, &c->type, &ke) != DZ_OK || strcmp(key, "extra") == 0)
        return dz_fail(e, DZ_EINVAL, "csv mapping: columns: '%.100s' is not a harmonization key (nor extra.<name>)",
                       key);
    if (parser_key(key))
        return dz_fail(e, DZ_EINVAL, "csv mapping: columns: %s is set by the parser (see \"feed_name\", --raw)", key);
    if (!(c->key = strdup(key)))
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    c->index = -1;
    const json_t *col = spec;
    if (json_is_object(spec)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)spec, k, v)
        {
            if (strcmp(k, "column") == 0) {
                col = v;
            } else if (strcmp(k, "format") == 0) {
                if (!json_is_string(v) || json_string_length(v) == 0)
                    return dz_fail(e, DZ_EINVAL, "csv mapping: columns.%s.format: expected a non-empty string", key);
                if (c->type != HT_DATETIME)
                    return dz_fail(e, DZ_EINVAL, "csv mapping: columns.%s.format: only time keys take a format", key);
                const char *f = json_string_value(v);
                if (strcmp(f, "epoch") == 0) {
                    c->tf = TF_EPOCH;
                } else if (strcmp(f, "epoch_ms") == 0) {
                    c->tf = TF_EPOCH_MS;
                } else {
                    if (!strchr(f, '%'))
                        return dz_fail(e, DZ_EINVAL,
                                       "csv mapping: columns.%s.format: '%.60s' is not a strptime format, "
                                       "\"epoch\" or \"epoch_ms\"",
                                       key, f);
                    c->tf = TF_STRPTIME;
                    if (!(c->format = strdup(f)))
                        return dz_fail(e, DZ_ENOMEM, "out of memory");
                }
            } else if (strcmp(k, "required") == 0) {
                if (!json_is_boolean(v))
                    return dz_fail(e, DZ_EINVAL, "csv mapping: columns.%s.required: expected true or false", key);
                c->required = json_is_true(v);
            } else {
                return dz_fail(e, DZ_EINVAL, "csv mapping: columns.%s: unknown member '%.60s'", key, k);
            }
        }
        if (col == spec)
            return dz_fail(e, DZ_EINVAL, "csv mapping: columns.%s: \"column\" is missing", key);
    }
    if (json_is_string(col) && json_string_length(col) > 0) {
        if (!m->header)
            return dz_fail(e, DZ_EINVAL,
                           "csv mapping: columns.%s: column '%.60s' by name needs \"header\": true (or give its index)",
                           key, json_string_value(col));
        if (!(c->name = strdup(json_string_value(col))))
            return dz_fail(e, DZ_ENOMEM, "out of memory");
    } else if (json_is_integer(col) && json_integer_value(col) >= 0 && json_integer_value(col) <= MAX_COLUMN_INDEX) {
        c->index = (long)json_integer_value(col);
    } else {
        return dz_fail(e, DZ_EINVAL,
                       "csv mapping: columns.%s: expected a column name, a 0-based index (0..%d) or "
                       "{\"column\": ..., \"format\": ..., \"required\": ...}",
                       key, MAX_COLUMN_INDEX);
    }
    return DZ_OK;
}

dz_code csv_mapping_load(const char *json, size_t len, csv_mapping **out, dz_err *e)
{
    *out = NULL;
    json_error_t je;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return dz_fail(e, DZ_EINVAL, "csv mapping: line %d, column %d: %s", je.line, je.column, je.text);
    csv_mapping *m = calloc(1, sizeof *m);
    event *probe = event_new();
    dz_code rc = DZ_OK;
    if (!m || !probe) {
        rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        goto out;
    }
    if (!json_is_object(doc)) {
        rc = dz_fail(e, DZ_EINVAL, "csv mapping: expected a JSON object");
        goto out;
    }
    m->delimiter = ',';
    m->header = true;
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v)
    {
        if (strcmp(k, "delimiter") == 0) {
            const char *d = json_string_value(v);
            if (!json_is_string(v) || json_string_length(v) != 1 || d[0] == '"' || d[0] == '\r' || d[0] == '\n')
                rc = dz_fail(e, DZ_EINVAL, "csv mapping: delimiter: expected one character (not a quote or line end)");
            else
                m->delimiter = d[0];
        } else if (strcmp(k, "header") == 0) {
            if (!json_is_boolean(v))
                rc = dz_fail(e, DZ_EINVAL, "csv mapping: header: expected true or false");
            m->header = json_is_true(v);
        } else if (strcmp(k, "extra_columns") == 0) {
            if (!json_is_boolean(v))
                rc = dz_fail(e, DZ_EINVAL, "csv mapping: extra_columns: expected true or false");
            m->extra_columns = json_is_true(v);
        } else if (strcmp(k, "skip_lines") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
                rc = dz_fail(e, DZ_EINVAL, "csv mapping: skip_lines: expected an integer 0..1000000");
            else
                m->skip_lines = (size_t)json_integer_value(v);
        } else if (strcmp(k, "comment") == 0) {
            if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 16)
                rc = dz_fail(e, DZ_EINVAL, "csv mapping: comment: expected a prefix of 1..16 characters");
            else if (!(m->comment = strdup(json_string_value(v))))
                rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        } else if (strcmp(k, "feed_name") == 0) {
            dz_err fe = {0};
            if (!json_is_string(v) || event_set(probe, "feed.name", json_string_value(v), json_string_length(v), &fe))
                rc = dz_fail(e, DZ_EINVAL, "csv mapping: feed_name: expected a non-empty string");
            else if (!(m->feed_name = strdup(json_string_value(v))))
                rc = dz_fail(e, DZ_ENOMEM, "out of memory");
            event_reset(probe);
        } else if (strcmp(k, "columns") != 0 && strcmp(k, "constants") != 0) {
            rc = dz_fail(e, DZ_EINVAL, "csv mapping: unknown member '%.60s'", k);
        }
        if (rc != DZ_OK)
            goto out;
    }
    /* columns after "header" whatever the member order */
    const json_t *cols = json_object_get(doc, "columns");
    if (!json_is_object(cols) || json_object_size(cols) == 0) {
        rc = dz_fail(e, DZ_EINVAL, "csv mapping: columns: expected an object of harmonized key -> column");
        goto out;
    }
    if (!(m->cols = calloc(json_object_size(cols), sizeof *m->cols))) {
        rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        goto out;
    }
    json_object_foreach((json_t *)cols, k, v)
    {
        rc = load_column(k, v, m, &m->cols[m->ncols], e);
        m->ncols++;
        if (rc != DZ_OK)
            goto out;
    }
    const json_t *consts = json_object_get(doc, "constants");
    if (consts && !json_is_object(consts)) {
        rc = dz_fail(e, DZ_EINVAL, "csv mapping: constants: expected an object of harmonized key -> value");
        goto out;
    }
    if (consts && json_object_size(consts)) {
        if (!(m->consts = calloc(json_object_size(consts), sizeof *m->consts))) {
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
            goto out;
        }
        json_object_foreach((json_t *)consts, k, v)
        {
            harm_type t;
            dz_err ke = {0};
            if (harmonization_type(k, &t, &ke) != DZ_OK || strcmp(k, "extra") == 0) {
                rc = dz_fail(e, DZ_EINVAL, "csv mapping: constants: '%.100s' is not a harmonization key", k);
                goto out;
            }
            if (parser_key(k)) {
                rc = dz_fail(e, DZ_EINVAL, "csv mapping: constants: %s is set by the parser (see \"feed_name\")", k);
                goto out;
            }
            if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v)) {
                rc = dz_fail(e, DZ_EINVAL, "csv mapping: constants.%s: expected a string, number or boolean", k);
                goto out;
            }
            dz_err ve = {0};
            dz_code sr = set_scalar(probe, k, v, &ve);
            event_reset(probe);
            if (sr == DZ_ENOMEM) {
                rc = dz_fail(e, DZ_ENOMEM, "out of memory");
                goto out;
            }
            if (sr != DZ_OK) {
                rc = dz_fail(e, DZ_EINVAL, "csv mapping: constants.%s: %s", k, ve.msg);
                goto out;
            }
            cm_const *c = &m->consts[m->nconst];
            if (!(c->key = strdup(k))) {
                rc = dz_fail(e, DZ_ENOMEM, "out of memory");
                goto out;
            }
            c->value = json_incref(v);
            m->nconst++;
        }
    }
out:
    event_free(probe);
    json_decref(doc);
    if (rc != DZ_OK) {
        csv_mapping_free(m);
        return rc;
    }
    *out = m;
    return DZ_OK;
}

/* ---- parsing ---- */

typedef struct csv_parser {
    feed_ctx c;
    const csv_mapping *m;
    long *idx;            /* per mapping column: the record's field, -1 unknown */
    char **extra_keys;    /* per header column: "extra.<name>" or NULL */
    bool *mapped;         /* per header column */
    size_t nheader;
    strbuf header_raw, raw, tmp;
    bool have_header;
} csv_parser;

/* "extra.<name>": lower case, blanks and other characters to '_'; NULL when nothing is left. */
static char *extra_key_of(const char *name, size_t n)
{
    if (n == 0 || n > 150)
        return NULL;
    char *k = malloc(n + 7);
    if (!k)
        return NULL;
    memcpy(k, "extra.", 6);
    size_t j = 6;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        char c = (char)tolower((unsigned char)name[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            c = '_';
        else
            any = true;
        k[j++] = c;
    }
    k[j] = '\0';
    harm_type t;
    dz_err ign;
    if (!any || harmonization_type(k, &t, &ign) != DZ_OK || t != HT_JSON) {
        free(k);
        return NULL;
    }
    return k;
}

static dz_code use_header(csv_parser *p, const csv_record *rec, dz_err *e)
{
    const csv_mapping *m = p->m;
    for (size_t i = 0; i < m->ncols; i++) {
        const cm_col *c = &m->cols[i];
        if (!c->name)
            continue;
        p->idx[i] = -1;
        for (size_t j = 0; j < rec->n; j++)
            if (strcmp(rec->fields[j], c->name) == 0) {
                p->idx[i] = (long)j;
                break;
            }
        if (p->idx[i] < 0)
            return dz_fail(e, DZ_EINVAL, "csv mapping: column '%.80s' (for %s) is not in the header (line %llu)",
                           c->name, c->key, (unsigned long long)rec->line);
    }
    p->nheader = rec->n;
    if (m->extra_columns) {
        p->extra_keys = calloc(rec->n ? rec->n : 1, sizeof *p->extra_keys);
        p->mapped = calloc(rec->n ? rec->n : 1, sizeof *p->mapped);
        if (!p->extra_keys || !p->mapped)
            return dz_fail(e, DZ_ENOMEM, "out of memory");
        for (size_t i = 0; i < m->ncols; i++)
            if (p->idx[i] >= 0 && (size_t)p->idx[i] < rec->n)
                p->mapped[p->idx[i]] = true;
        for (size_t j = 0; j < rec->n; j++)
            if (!p->mapped[j])
                p->extra_keys[j] = extra_key_of(rec->fields[j], rec->lens[j]);
    }
    strbuf_reset(&p->header_raw);
    strbuf_append(&p->header_raw, rec->raw, rec->raw_len);
    if (p->header_raw.oom)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    p->have_header = true;
    return DZ_OK;
}

/* A time cell by the column's format into the event; DZ_EINVAL with the reason in p->c.err. */
static dz_code set_time(csv_parser *p, const cm_col *c, const char *s, size_t n)
{
    dz_err *fe = &p->c.err;
    strbuf_reset(&p->tmp);
    strbuf_append(&p->tmp, s, n);
    if (p->tmp.oom)
        return DZ_ENOMEM;
    const char *t = p->tmp.buf;
    if (c->tf == TF_EPOCH || c->tf == TF_EPOCH_MS) {
        char *end;
        errno = 0;
        double d = strtod(t, &end);
        while (*end == ' ')
            end++;
        if (end == t || *end || errno)
            return dz_fail(fe, DZ_EINVAL, "%s: '%.60s' is not a number of seconds", c->key, t);
        if (c->tf == TF_EPOCH_MS)
            d /= 1000.0;
        return event_set_float(p->c.ev, c->key, d, fe);
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(t, c->format, &tm);
    while (end && *end == ' ')
        end++;
    if (!end || *end)
        return dz_fail(fe, DZ_EINVAL, "%s: '%.60s' does not match the format '%.60s'", c->key, t, c->format);
    long off = tm.tm_gmtoff;
    time_t secs = timegm(&tm);
    return event_set_int(p->c.ev, c->key, (int64_t)secs - off, fe);
}

static dz_code do_record(csv_parser *p, const csv_record *rec)
{
    const csv_mapping *m = p->m;
    event *ev = p->c.ev;
    event_reset(ev);
    for (size_t i = 0; i < m->ncols; i++) {
        const cm_col *c = &m->cols[i];
        long j = p->idx[i];
        size_t n = j >= 0 && (size_t)j < rec->n ? rec->lens[j] : 0;
        if (n == 0) {
            if (c->required) {
                if (c->name)
                    feed_ctx_refuse(&p->c, rec->line, rec->raw, rec->raw_len, "column '%s': %s is required, but empty",
                                    c->name, c->key);
                else
                    feed_ctx_refuse(&p->c, rec->line, rec->raw, rec->raw_len, "column %ld: %s is required, but empty",
                                    j, c->key);
                return DZ_OK;
            }
            continue;
        }
        const char *s = rec->fields[j];
        p->c.err.msg[0] = '\0';
        dz_code rc = c->tf != TF_NONE ? set_time(p, c, s, n) : feed_ctx_set(&p->c, c->key, s, n);
        if (rc == DZ_ENOMEM)
            return rc;
        if (rc != DZ_OK) {
            if (c->name)
                feed_ctx_refuse(&p->c, rec->line, rec->raw, rec->raw_len, "column '%s': %s", c->name, p->c.err.msg);
            else
                feed_ctx_refuse(&p->c, rec->line, rec->raw, rec->raw_len, "column %ld: %s", j, p->c.err.msg);
            return DZ_OK;
        }
    }
    dz_err fe;
    for (size_t i = 0; i < m->nconst; i++)
        if (set_scalar(ev, m->consts[i].key, m->consts[i].value, &fe) == DZ_ENOMEM)
            return DZ_ENOMEM;
    if (m->extra_columns) {
        for (size_t j = 0; j < rec->n; j++) {
            if (rec->lens[j] == 0)
                continue;
            const char *key;
            char kbuf[40];
            if (p->have_header) {
                if (j >= p->nheader || !p->extra_keys[j] || event_get(ev, p->extra_keys[j]))
                    continue;
                key = p->extra_keys[j];
            } else {
                bool mapped = false;
                for (size_t i = 0; i < m->ncols && !mapped; i++)
                    mapped = p->idx[i] == (long)j;
                if (mapped)
                    continue;
                snprintf(kbuf, sizeof kbuf, "extra.column_%zu", j);
                key = kbuf;
            }
            dz_code rc = feed_ctx_set(&p->c, key, rec->fields[j], rec->lens[j]);
            if (rc == DZ_ENOMEM)
                return rc;
            if (rc != DZ_OK) { /* invalid UTF-8: the row is refused, not repaired */
                feed_ctx_refuse(&p->c, rec->line, rec->raw, rec->raw_len, "column %zu: %s", j, p->c.err.msg);
                return DZ_OK;
            }
        }
    }
    const char *raw = rec->raw;
    size_t raw_len = rec->raw_len;
    if (p->c.opt->raw && p->have_header) {
        strbuf_reset(&p->raw);
        strbuf_append(&p->raw, p->header_raw.buf, p->header_raw.len);
        strbuf_append(&p->raw, "\n", 1);
        strbuf_append(&p->raw, rec->raw, rec->raw_len);
        if (p->raw.oom)
            return DZ_ENOMEM;
        raw = p->raw.buf;
        raw_len = p->raw.len;
    }
    return feed_ctx_emit(&p->c, rec->line, raw, raw_len);
}

dz_code feed_csv_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                       feed_error_fn on_error, void *arg, dz_err *e)
{
    if (!opt || !opt->mapping)
        return dz_fail(e, DZ_EINVAL, "csv: no column mapping given (--mapping FILE)");
    const csv_mapping *m = opt->mapping;
    csv_parser *p = calloc(1, sizeof *p);
    if (!p)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    p->m = m;
    strbuf_init(&p->header_raw);
    strbuf_init(&p->raw);
    strbuf_init(&p->tmp);
    csv_reader *r = NULL;
    dz_code rc = feed_ctx_init(&p->c, opt, m->feed_name ? m->feed_name : "CSV", NULL, on_event, on_error, arg, e);
    if (rc != DZ_OK)
        goto out;
    p->idx = calloc(m->ncols, sizeof *p->idx);
    csv_options co = {.delimiter = m->delimiter, .max_record = FEED_MAX_LINE};
    r = csv_reader_new(read, read_arg, &co);
    if (!p->idx || !r) {
        rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m->ncols; i++)
        p->idx[i] = m->cols[i].name ? -1 : m->cols[i].index;
    size_t skipped = 0;
    size_t clen = m->comment ? strlen(m->comment) : 0;
    while (!p->c.stop) {
        csv_record rec;
        dz_err ce = {0};
        int got = csv_next(r, &rec, &ce);
        if (got == 0)
            break;
        if (got < 0) {
            if (ce.code != DZ_EINVAL) {
                rc = dz_fail(e, ce.code, "%s", ce.msg);
                break;
            }
            const char *msg = ce.msg;
            if (strncmp(msg, "line ", 5) == 0 && strstr(msg, ": "))
                msg = strstr(msg, ": ") + 2;
            feed_ctx_refuse(&p->c, rec.line, NULL, 0, "%s", msg);
            continue;
        }
        if (clen && rec.raw_len >= clen && memcmp(rec.raw, m->comment, clen) == 0)
            continue;
        if (skipped < m->skip_lines) {
            skipped++;
            continue;
        }
        if (m->header && !p->have_header) {
            if ((rc = use_header(p, &rec, e)) != DZ_OK)
                break;
            continue;
        }
        if ((rc = do_record(p, &rec)) != DZ_OK) {
            rc = dz_fail(e, rc, "out of memory");
            break;
        }
    }
out:
    csv_reader_free(r);
    if (p->extra_keys)
        for (size_t j = 0; j < p->nheader; j++)
            free(p->extra_keys[j]);
    free(p->extra_keys);
    free(p->mapped);
    free(p->idx);
    strbuf_free(&p->header_raw);
    strbuf_free(&p->raw);
    strbuf_free(&p->tmp);
    feed_ctx_free(&p->c);
    free(p);
    return rc;
}
