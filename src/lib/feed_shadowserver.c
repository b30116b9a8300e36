/*
 * feed_shadowserver.c: Shadowserver reports to harmonized events, driven by a schema.
 *
 * Loading turns the schema into reports with resolved keys, their harmonization types and
 * conversion ids. Parsing makes one plan per file (which column feeds which field, which
 * columns are left over for extra.*, the precomputed "extra.<column>" keys and the header of
 * the raw field), then runs every row through it into one reused event.
 *
 * The rules are docs/feeds.md's (section 3 is the per-row algorithm, section 4 the
 * conversions), in short:
 *   - required fields: a missing column, a conversion error or a value the event model
 *     refuses make the row an error (on_error, no event); a value left out by its
 *     conversion (validate_ip of 0.0.0.0) keeps the column pending;
 *   - optional fields: a conversion error is a row error too; left out: dropped; a value
 *     the event model refuses keeps the column pending;
 *   - "", "-" and "N/A" are never added to harmonized keys; extras keep what they get;
 *   - constants are set after the columns and win; pending non-empty columns become
 *     extra.<column> (text); then feed.name, time.observation (one value per report) and,
 *     with opt->raw, raw: base64 of the header line and the row exactly as read, joined
 *     by "\n" (for JSON input: [object] written as Python's json.dumps does).
 * Text after a closing quote is read as Python's csv module reads it (see parse_csv).
 */
#include "lib/feed_shadowserver.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- conversions ---- */

typedef enum {
    CV_NONE = 0,
    CV_ADD_UTC,
    CV_BOOL,
    CV_TO_NONE,
    CV_INT,
    CV_FLOAT,
    CV_HTTP_URL,
    CV_INVALIDATE_ZERO,
    CV_IP,
    CV_NETWORK,
    CV_FQDN,
    CV_DATE,
    CV_DATE_UTC,
    CV_BASE64,
    CV_EXCH_TAXONOMY,
    CV_EXCH_TYPE,
    CV_EXCH_IDENTIFIER,
} conv_id;

static const char *const conv_names[] = {
    [CV_NONE] = "",
    [CV_ADD_UTC] = "add_UTC_to_timestamp",
    [CV_BOOL] = "convert_bool",
    [CV_TO_NONE] = "validate_to_none",
    [CV_INT] = "convert_int",
    [CV_FLOAT] = "convert_float",
    [CV_HTTP_URL] = "convert_http_host_and_url",
    [CV_INVALIDATE_ZERO] = "invalidate_zero",
    [CV_IP] = "validate_ip",
    [CV_NETWORK] = "validate_network",
    [CV_FQDN] = "validate_fqdn",
    [CV_DATE] = "convert_date",
    [CV_DATE_UTC] = "convert_date_utc",
    [CV_BASE64] = "force_base64",
    [CV_EXCH_TAXONOMY] = "scan_exchange_taxonomy",
    [CV_EXCH_TYPE] = "scan_exchange_type",
    [CV_EXCH_IDENTIFIER] = "scan_exchange_identifier",
};
#define CV_COUNT (sizeof conv_names / sizeof conv_names[0])

/* ---- the schema ---- */

typedef struct ss_field {
    char *key;        /* NULL: the column is ignored (false); "extra." fields get their key per column */
    bool extra_col;   /* "extra.": extra.<column> */
    char *column;
    conv_id conv;
    harm_type type;
} ss_field;

typedef struct ss_const {
    char *key;
    json_t *value; /* string, integer, real or boolean */
    harm_type type;
} ss_const;

typedef struct ss_report {
    char *name, *feed_name, *file_name;
    ss_const *consts;
    size_t nconst;
    ss_field *fields; /* required first, then optional */
    size_t nreq, nfield;
    bool dup_keys;    /* two entries add the same harmonized key: a second value is a row error */
} ss_report;

struct shadowserver_schema {
    ss_report *reports;
    size_t n;
};

static void report_free(ss_report *r)
{
    free(r->name);
    free(r->feed_name);
    free(r->file_name);
    for (size_t i = 0; i < r->nconst; i++) {
        free(r->consts[i].key);
        json_decref(r->consts[i].value);
    }
    free(r->consts);
    for (size_t i = 0; i < r->nfield; i++) {
        free(r->fields[i].key);
        free(r->fields[i].column);
    }
    free(r->fields);
}

void shadowserver_schema_free(shadowserver_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        report_free(&s->reports[i]);
    free(s->reports);
    free(s);
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* The JSON text of a scalar for error messages. */
static void scalar_text(const json_t *v, char *buf, size_t n)
{
    char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, n, "%.60s", t ? t : "?");
    free(t);
}

static dz_code load_field(const char *report, const char *list, size_t idx, const json_t *item, ss_field *f, dz_err *e)
{
    if (!json_is_array(item) || json_array_size(item) < 2 || json_array_size(item) > 4)
        return dz_fail(e, DZ_EINVAL, "report '%s': %s[%zu]: expected [key, column, conversion?, with_row?]", report,
                       list, idx);
    const json_t *k = json_array_get(item, 0), *c = json_array_get(item, 1);
    if (!json_is_string(c) || json_string_length(c) == 0 || strlen(json_string_value(c)) != json_string_length(c))
        return dz_fail(e, DZ_EINVAL, "report '%s': %s[%zu]: the column must be a non-empty string", report, list, idx);
    const char *col = json_string_value(c);
    if (json_is_false(k) || json_is_null(k)) {
        f->key = NULL;
    } else if (json_is_string(k)) {
        const char *key = json_string_value(k);
        if (strcmp(key, "extra.") == 0) {
            f->extra_col = true;
            f->type = HT_JSON;
        } else {
            dz_err ke = {0};
            if (harmonization_type(key, &f->type, &ke) != DZ_OK)
                return dz_fail(e, DZ_EINVAL, "report '%s': %s[%zu] (column '%s'): '%s' is not a harmonization key",
                               report, list, idx, col, key);
            if (strcmp(key, "raw") == 0 || strcmp(key, "feed.name") == 0 || strcmp(key, "time.observation") == 0)
                return dz_fail(e, DZ_EINVAL, "report '%s': %s[%zu] (column '%s'): '%s' is set by the parser", report,
                               list, idx, col, key);
            if (!(f->key = strdup(key)))
                return dz_fail(e, DZ_ENOMEM, "out of memory");
        }
    } else {
        return dz_fail(e, DZ_EINVAL, "report '%s': %s[%zu] (column '%s'): the key must be a string or false", report,
                       list, idx, col);
    }
    if (!(f->column = strdup(col)))
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    f->conv = CV_NONE;
    if (json_array_size(item) >= 3) {
        const json_t *cv = json_array_get(item, 2);
        if (json_is_string(cv)) {
            const char *name = json_string_value(cv);
            size_t i;
            for (i = 1; i < CV_COUNT; i++)
                if (strcmp(conv_names[i], name) == 0)
                    break;
            if (i == CV_COUNT)
                return dz_fail(e, DZ_EINVAL, "report '%s': %s[%zu] (column '%s'): unknown conversion '%.60s'", report,
                               list, idx, col, name);
            f->conv = (conv_id)i;
        } else if (!json_is_null(cv)) {
            return dz_fail(e, DZ_EINVAL, "report '%s': %s[%zu] (column '%s'): the conversion must be a name", report,
                           list, idx, col);
        }
    }
    if (json_array_size(item) == 4 && !json_is_boolean(json_array_get(item, 3)))
        return dz_fail(e, DZ_EINVAL, "report '%s': %s[%zu] (column '%s'): the fourth element must be a boolean",
                       report, list, idx, col);
    return DZ_OK;
}

static dz_code load_report(const char *name, const json_t *o, event *probe, ss_report *r, dz_err *e)
{
    if (!json_is_object(o))
        return dz_fail(e, DZ_EINVAL, "report '%s': expected an object", name);
    /* Other members (IntelMQ's schema has "url") are ignored (docs/feeds.md). */
    if (!(r->name = strdup(name)))
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    const json_t *fn = json_object_get(o, "feed_name");
    if (!json_is_string(fn) || json_string_length(fn) == 0)
        return dz_fail(e, DZ_EINVAL, "report '%s': feed_name must be a non-empty string", name);
    const json_t *file = json_object_get(o, "file_name");
    if (file && (!json_is_string(file) || json_string_length(file) == 0))
        return dz_fail(e, DZ_EINVAL, "report '%s': file_name must be a non-empty string", name);
    r->feed_name = xstrdup(json_string_value(fn));
    r->file_name = xstrdup(file ? json_string_value(file) : name);
    if (!r->feed_name || !r->file_name)
        return dz_fail(e, DZ_ENOMEM, "out of memory");

    const json_t *cf = json_object_get(o, "constant_fields");
    if (cf && !json_is_object(cf))
        return dz_fail(e, DZ_EINVAL, "report '%s': constant_fields must be an object", name);
    size_t nc = cf ? json_object_size(cf) : 0;
    r->consts = calloc(nc ? nc : 1, sizeof *r->consts);
    if (!r->consts)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    if (cf) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)cf, k, v)
        {
            ss_const *c = &r->consts[r->nconst];
            dz_err ke = {0};
            if (harmonization_type(k, &c->type, &ke) != DZ_OK || strcmp(k, "extra.") == 0)
                return dz_fail(e, DZ_EINVAL, "report '%s': constant_fields: '%.60s' is not a harmonization key", name,
                               k);
            if (!json_is_string(v) && !json_is_integer(v) && !json_is_real(v) && !json_is_boolean(v)) {
                return dz_fail(e, DZ_EINVAL, "report '%s': constant_fields: %s: the value must be a scalar", name, k);
            }
            /* The value must be valid for its key. */
            dz_err ve = {0};
            dz_code rc;
            if (json_is_string(v))
                rc = event_set(probe, k, json_string_value(v), json_string_length(v), &ve);
            else if (json_is_integer(v))
                rc = event_set_int(probe, k, json_integer_value(v), &ve);
            else if (json_is_real(v))
                rc = event_set_float(probe, k, json_real_value(v), &ve);
            else
                rc = event_set_bool(probe, k, json_is_true(v), &ve);
            event_reset(probe);
            if (rc == DZ_ENOMEM)
                return dz_fail(e, DZ_ENOMEM, "out of memory");
            if (rc != DZ_OK) {
                char t[80];
                scalar_text(v, t, sizeof t);
                return dz_fail(e, DZ_EINVAL, "report '%s': constant_fields: %s: %s is not valid: %s", name, k, t,
                               ve.msg);
            }
            if (!(c->key = strdup(k)))
                return dz_fail(e, DZ_ENOMEM, "out of memory");
            c->value = json_incref(v);
            r->nconst++;
        }
    }

    const json_t *req = json_object_get(o, "required_fields"), *opt = json_object_get(o, "optional_fields");
    if (req && !json_is_array(req))
        return dz_fail(e, DZ_EINVAL, "report '%s': required_fields must be an array", name);
    if (opt && !json_is_array(opt))
        return dz_fail(e, DZ_EINVAL, "report '%s': optional_fields must be an array", name);
    size_t nr = req ? json_array_size(req) : 0, no = opt ? json_array_size(opt) : 0;
    r->fields = calloc(nr + no ? nr + no : 1, sizeof *r->fields);
    if (!r->fields)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    for (size_t i = 0; i < nr; i++) {
        dz_code rc = load_field(name, "required_fields", i, json_array_get(req, i), &r->fields[r->nfield], e);
        r->nfield++;
        if (rc != DZ_OK)
            return rc;
        if (!r->fields[i].key && !r->fields[i].extra_col)
            return dz_fail(e, DZ_EINVAL, "report '%s': required_fields[%zu] (column '%s'): a required field needs a key",
                           name, i, r->fields[i].column);
    }
    r->nreq = nr;
    for (size_t i = 0; i < no; i++) {
        dz_code rc = load_field(name, "optional_fields", i, json_array_get(opt, i), &r->fields[r->nfield], e);
        r->nfield++;
        if (rc != DZ_OK)
            return rc;
    }
    for (size_t i = 0; i < r->nfield && !r->dup_keys; i++) {
        const ss_field *a = &r->fields[i];
        if (!a->key || a->type == HT_JSON)
            continue;
        for (size_t j = i + 1; j < r->nfield; j++)
            if (r->fields[j].key && strcmp(a->key, r->fields[j].key) == 0)
                r->dup_keys = true;
    }
    return DZ_OK;
}

static int report_cmp(const void *a, const void *b)
{
    return strcmp(((const ss_report *)a)->name, ((const ss_report *)b)->name);
}

dz_code shadowserver_schema_load(const char *json, size_t len, shadowserver_schema **out, dz_err *e)
{
    *out = NULL;
    json_error_t je;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return dz_fail(e, DZ_EINVAL, "schema: line %d, column %d: %s", je.line, je.column, je.text);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return dz_fail(e, DZ_EINVAL, "schema: expected an object of report name -> report");
    }
    shadowserver_schema *s = calloc(1, sizeof *s);
    event *probe = event_new();
    size_t n = json_object_size(doc);
    if (s)
        s->reports = calloc(n ? n : 1, sizeof *s->reports);
    if (!s || !s->reports || !probe) {
        free(s ? s->reports : NULL);
        free(s);
        event_free(probe);
        json_decref(doc);
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    dz_code rc = DZ_OK;
    const char *name;
    json_t *v;
    json_object_foreach(doc, name, v)
    {
        if (!*name) {
            rc = dz_fail(e, DZ_EINVAL, "schema: a report without a name");
            break;
        }
        rc = load_report(name, v, probe, &s->reports[s->n], e);
        s->n++;
        if (rc != DZ_OK)
            break;
    }
    event_free(probe);
    json_decref(doc);
    if (rc != DZ_OK) {
        shadowserver_schema_free(s);
        return rc;
    }
    qsort(s->reports, s->n, sizeof *s->reports, report_cmp);
    *out = s;
    return DZ_OK;
}

static const ss_report *find_report(const shadowserver_schema *s, const char *name)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, s->reports[mid].name);
        if (c == 0)
            return &s->reports[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

bool shadowserver_has_report(const shadowserver_schema *s, const char *report)
{
    return s && report && find_report(s, report) != NULL;
}

/* Does name occur in stem[0..n) as a whole dash-separated part sequence? */
static bool occurs_as_parts(const char *stem, size_t n, const char *name)
{
    size_t m = strlen(name);
    if (m == 0 || m > n)
        return false;
    for (size_t i = 0; i + m <= n; i++) {
        if ((i == 0 || stem[i - 1] == '-') && (i + m == n || stem[i + m] == '-') && memcmp(stem + i, name, m) == 0)
            return true;
    }
    return false;
}

const char *shadowserver_report_of_file(const shadowserver_schema *s, const char *file_name)
{
    if (!s || !file_name)
        return NULL;
    const char *base = strrchr(file_name, '/');
    base = base ? base + 1 : file_name;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    const char *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < s->n; i++) {
        const ss_report *r = &s->reports[i];
        size_t m = strlen(r->file_name);
        if (m > best_len && occurs_as_parts(base, n, r->file_name)) {
            best = r->name;
            best_len = m;
        }
    }
    return best;
}

/* ---- values ---- */

typedef enum { VK_ABSENT = 0, VK_STR, VK_INT, VK_FLOAT, VK_BOOL } value_kind;

typedef struct value {
    value_kind kind;
    const char *s;
    size_t len;
    int64_t i;
    double f;
    bool b;
} value;

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void trim(const char **s, size_t *len)
{
    while (*len && is_space(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && is_space((*s)[*len - 1]))
        (*len)--;
}

/* Python's int(): white space around, a sign, digits with single underscores between them. */
static bool parse_int(const char *s, size_t len, int64_t *out)
{
    trim(&s, &len);
    bool neg = false;
    size_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i >= len || !isdigit((unsigned char)s[i]))
        return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] == '_' && i + 1 < len && isdigit((unsigned char)s[i + 1]) && isdigit((unsigned char)s[i - 1]))
            continue;
        if (!isdigit((unsigned char)s[i]))
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool parse_float(const char *s, size_t len, double *out)
{
    trim(&s, &len);
    char buf[128];
    size_t k = 0;
    if (len == 0 || len >= sizeof buf)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '_')
            continue;
        if (s[i] == 'x' || s[i] == 'X') /* no hexadecimal floats (Python's float() has none) */
            return false;
        buf[k++] = s[i];
    }
    buf[k] = 0;
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (end == buf || *end || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool eq_nocase(const char *s, size_t len, const char *lit)
{
    size_t m = strlen(lit);
    return len == m && strncasecmp(s, lit, m) == 0;
}

/* ---- dates: what IntelMQ's DateTime.sanitize (dateutil) reads in these reports ---- */

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned mdays(int64_t y, unsigned m)
{
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : dm[m - 1];
}

static size_t read_digits(const char *s, size_t len, size_t i, size_t max, unsigned *out, size_t *nd)
{
    unsigned v = 0;
    size_t k = 0;
    while (i + k < len && k < max && isdigit((unsigned char)s[i + k])) {
        v = v * 10 + (unsigned)(s[i + k] - '0');
        k++;
    }
    *out = v;
    *nd = k;
    return i + k;
}

static bool digits_at(const char *s, size_t at, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = at; i < at + n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* The three bytes at s are the lower-case letters lit in any case (as strncasecmp in the C locale). */
static bool lower3(const char *s, const char *lit)
{
    for (int i = 0; i < 3; i++)
        if ((s[i] | 0x20) != lit[i])
            return false;
    return true;
}

/* "YYYY-MM-DDTHH:MM:SS+00:00" of fields known to be a valid UTC time (no offset: nothing to carry). */
static int date_emit(unsigned Y, unsigned M, unsigned D, unsigned h, unsigned mi, unsigned se, char *o)
{
    if (Y < 1 || Y > 9999 || M < 1 || M > 12 || D < 1 || D > mdays(Y, M) || h > 23 || mi > 59 || se > 59)
        return 0;
    const unsigned parts[6] = {Y / 100, Y % 100, M, D, h, mi};
    const char seps[6] = {0, 0, '-', '-', 'T', ':'};
    for (int k = 0; k < 6; k++) {
        if (seps[k])
            *o++ = seps[k];
        *o++ = (char)('0' + parts[k] / 10);
        *o++ = (char)('0' + parts[k] % 10);
    }
    *o++ = ':';
    *o++ = (char)('0' + se / 10);
    *o++ = (char)('0' + se % 10);
    memcpy(o, "+00:00", 7);
    return 1;
}

/*
 * The two forms the reports use most, read without the general scanner (normalize_date below gives
 * the same result for them): "YYYY-MM-DD HH:MM:SS" (or with 'T') and the HTTP date
 * "Www, DD Mon YYYY HH:MM:SS GMT". 1: done (valid), 0: done (invalid), -1: not one of them.
 */
static int date_fast(const char *s, size_t len, char *out)
{
    unsigned Y, M, D, h, mi, se;
    if (len == 19) {
        if (s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':')
            return -1;
        if (!digits_at(s, 0, 4, &Y) || !digits_at(s, 5, 2, &M) || !digits_at(s, 8, 2, &D) ||
            !digits_at(s, 11, 2, &h) || !digits_at(s, 14, 2, &mi) || !digits_at(s, 17, 2, &se))
            return -1;
        return date_emit(Y, M, D, h, mi, se, out);
    }
    if (len == 29) {
        static const char *const wd[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
        if (s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
            s[22] != ':' || s[25] != ' ' || !(lower3(s + 26, "gmt") || lower3(s + 26, "utc")))
            return -1;
        if (!digits_at(s, 5, 2, &D) || D > 31 || !digits_at(s, 12, 4, &Y) || !digits_at(s, 17, 2, &h) ||
            !digits_at(s, 20, 2, &mi) || !digits_at(s, 23, 2, &se))
            return -1;
        if (!isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1]) || !isalpha((unsigned char)s[2]) ||
            !isalpha((unsigned char)s[8]) || !isalpha((unsigned char)s[9]) || !isalpha((unsigned char)s[10]))
            return -1;
        /* three letters, lowered (| 0x20 lowers a letter), as one number */
        uint32_t wl = (uint32_t)(s[0] | 0x20) << 16 | (uint32_t)(s[1] | 0x20) << 8 | (uint32_t)(s[2] | 0x20);
        uint32_t ml = (uint32_t)(s[8] | 0x20) << 16 | (uint32_t)(s[9] | 0x20) << 8 | (uint32_t)(s[10] | 0x20);
        int w = -1, m = -1;
        for (int k = 0; k < 7 && w < 0; k++)
            if (wl == ((uint32_t)wd[k][0] << 16 | (uint32_t)wd[k][1] << 8 | (uint32_t)wd[k][2]))
                w = k;
        for (int k = 0; k < 12 && m < 0; k++)
            if (ml == ((uint32_t)month_names[k][0] << 16 | (uint32_t)month_names[k][1] << 8 | (uint32_t)month_names[k][2]))
                m = k;
        if (w < 0 || m < 0)
            return -1;
        return date_emit(Y, (unsigned)m + 1, D, h, mi, se, out);
    }
    return -1;
}

/*
 * Reads "YYYY-MM-DD[( |T)HH:MM[:SS[.frac]]][ ](Z|UTC|GMT|(+|-)HH[:]MM)" and
 * "[Wkd,] DD Mon YYYY HH:MM:SS [GMT|UTC|offset]" and "Mon DD HH:MM:SS YYYY [GMT]".
 * Writes ISO 8601 UTC ("2019-01-01T00:00:00+00:00", microseconds only when not zero).
 * assume_utc: a time without a zone is UTC (it always is here: the reports are UTC).
 */
static bool normalize_date(const char *s, size_t len, char *out, size_t outn)
{
    trim(&s, &len);
    if (len > 4 && s[len - 4] == ' ' && (s[len - 3] | 0x20) == 'u' && (s[len - 2] | 0x20) == 't' &&
        (s[len - 1] | 0x20) == 'c') { /* " UTC", any case: what add_UTC_to_timestamp appends */
        len -= 4;
        trim(&s, &len);
    }
    int fast = outn >= 40 ? date_fast(s, len, out) : -1;
    if (fast >= 0)
        return fast;
    size_t i = 0, nd;
    unsigned Y = 0, M = 0, D = 0, h = 0, mi = 0, se = 0, usec = 0;
    int off = 0; /* minutes east */
    bool have_time = false;
    if (len >= 10 && isdigit((unsigned char)s[0]) && s[4] == '-') {
        i = read_digits(s, len, 0, 4, &Y, &nd);
        if (nd != 4 || i >= len || s[i] != '-')
            return false;
        i = read_digits(s, len, i + 1, 2, &M, &nd);
        if (nd != 2 || i >= len || s[i] != '-')
            return false;
        i = read_digits(s, len, i + 1, 2, &D, &nd);
        if (nd != 2)
            return false;
        if (i < len && (s[i] == 'T' || s[i] == ' ') && i + 1 < len && isdigit((unsigned char)s[i + 1]))
            i++;
    } else {
        /* textual forms */
        size_t p = 0;
        unsigned nums[4];
        int nn = 0;
        int mon = -1;
        bool time_seen = false;
        while (p < len) {
            if (is_space(s[p]) || s[p] == ',') {
                p++;
                continue;
            }
            if (isalpha((unsigned char)s[p])) {
                size_t q = p;
                while (q < len && isalpha((unsigned char)s[q]))
                    q++;
                size_t wl = q - p;
                if (eq_nocase(s + p, wl, "GMT") || eq_nocase(s + p, wl, "UTC") || eq_nocase(s + p, wl, "Z")) {
                    /* zone: UTC */
                } else if (wl >= 3 && mon < 0) {
                    int found = -1;
                    for (int k = 0; k < 12; k++)
                        if (strncasecmp(s + p, month_names[k], 3) == 0)
                            found = k;
                    static const char *const wd[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
                    bool is_wd = false;
                    for (int k = 0; k < 7; k++)
                        if (strncasecmp(s + p, wd[k], 3) == 0)
                            is_wd = true;
                    if (found >= 0 && !is_wd)
                        mon = found;
                    else if (!is_wd)
                        return false;
                } else if (wl >= 3) {
                    static const char *const wd[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
                    bool is_wd = false;
                    for (int k = 0; k < 7; k++)
                        if (strncasecmp(s + p, wd[k], 3) == 0)
                            is_wd = true;
                    if (!is_wd)
                        return false;
                } else {
                    return false;
                }
                p = q;
                continue;
            }
            if ((s[p] == '+' || s[p] == '-') && time_seen) {
                unsigned oh, om = 0;
                int sign = s[p] == '-' ? -1 : 1;
                size_t q = read_digits(s, len, p + 1, 2, &oh, &nd);
                if (nd != 2)
                    return false;
                if (q < len && s[q] == ':')
                    q++;
                q = read_digits(s, len, q, 2, &om, &nd);
                off = sign * (int)(oh * 60 + om);
                p = q;
                continue;
            }
            if (isdigit((unsigned char)s[p])) {
                unsigned v;
                size_t q = read_digits(s, len, p, 4, &v, &nd);
                if (q < len && s[q] == ':') {
                    if (time_seen)
                        return false;
                    h = v;
                    q = read_digits(s, len, q + 1, 2, &mi, &nd);
                    if (nd != 2)
                        return false;
                    if (q < len && s[q] == ':') {
                        q = read_digits(s, len, q + 1, 2, &se, &nd);
                        if (nd != 2)
                            return false;
                    }
                    time_seen = true;
                    have_time = true;
                } else {
                    if (nn >= 4)
                        return false;
                    nums[nn++] = v;
                    if (q < len && isdigit((unsigned char)s[q]))
                        return false;
                }
                p = q;
                continue;
            }
            return false;
        }
        if (mon < 0 || nn != 2)
            return false;
        M = (unsigned)mon + 1;
        if (nums[0] > 31) {
            Y = nums[0];
            D = nums[1];
        } else {
            D = nums[0];
            Y = nums[1];
        }
        goto done;
    }
    if (i < len && isdigit((unsigned char)s[i])) {
        i = read_digits(s, len, i, 2, &h, &nd);
        if (nd != 2 || i >= len || s[i] != ':')
            return false;
        i = read_digits(s, len, i + 1, 2, &mi, &nd);
        if (nd != 2)
            return false;
        if (i < len && s[i] == ':') {
            i = read_digits(s, len, i + 1, 2, &se, &nd);
            if (nd != 2)
                return false;
            if (i < len && (s[i] == '.' || s[i] == ',')) {
                i++;
                unsigned frac = 0;
                size_t k = 0;
                while (i < len && isdigit((unsigned char)s[i])) {
                    if (k < 6) {
                        frac = frac * 10 + (unsigned)(s[i] - '0');
                        k++;
                    }
                    i++;
                }
                if (k == 0)
                    return false;
                while (k < 6) {
                    frac *= 10;
                    k++;
                }
                usec = frac;
            }
        }
        have_time = true;
    }
    while (i < len && s[i] == ' ')
        i++;
    if (i < len) {
        if (eq_nocase(s + i, len - i, "Z") || eq_nocase(s + i, len - i, "UTC") || eq_nocase(s + i, len - i, "GMT")) {
            i = len;
        } else if ((s[i] == '+' || s[i] == '-') && have_time) {
            int sign = s[i] == '-' ? -1 : 1;
            unsigned oh, om = 0;
            i = read_digits(s, len, i + 1, 2, &oh, &nd);
            if (nd != 2)
                return false;
            if (i < len && s[i] == ':')
                i++;
            if (i < len) {
                i = read_digits(s, len, i, 2, &om, &nd);
                if (nd != 2)
                    return false;
            }
            if (oh > 23 || om > 59)
                return false;
            off = sign * (int)(oh * 60 + om);
        }
        if (i != len)
            return false;
    }
done:
    if (M < 1 || M > 12 || D < 1 || D > mdays(Y, M) || h > 23 || mi > 59 || se > 59 || Y < 1 || Y > 9999)
        return false;
    int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + se - (int64_t)off * 60;
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t rem = t - days * 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (outn < 40 || y < 1 || y > 9999)
        return false;
    unsigned hh = (unsigned)(rem / 3600), mm = (unsigned)(rem / 60 % 60), ss = (unsigned)(rem % 60);
    char *o = out;
    unsigned yy = (unsigned)y;
    *o++ = (char)('0' + yy / 1000);
    *o++ = (char)('0' + yy / 100 % 10);
    *o++ = (char)('0' + yy / 10 % 10);
    *o++ = (char)('0' + yy % 10);
    const unsigned parts[5] = {m, d, hh, mm, ss};
    const char seps[5] = {'-', '-', 'T', ':', ':'};
    for (int k = 0; k < 5; k++) {
        *o++ = seps[k];
        *o++ = (char)('0' + parts[k] / 10);
        *o++ = (char)('0' + parts[k] % 10);
    }
    if (usec) {
        *o++ = '.';
        for (unsigned div = 100000; div; div /= 10)
            *o++ = (char)('0' + usec / div % 10);
    }
    memcpy(o, "+00:00", 7);
    return true;
}

/* ---- base64 ---- */

/* Python's base64.b64decode(value, validate=True) succeeds. */
static bool is_base64(const char *s, size_t n)
{
    if (n % 4)
        return false;
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad || !(isalnum((unsigned char)c) || c == '+' || c == '/'))
            return false;
    }
    return pad <= 2;
}

/* ---- the per-file plan ---- */

typedef struct plan_field {
    const ss_field *f;
    conv_id conv;     /* f->conv */
    long col;         /* index in the row, -1: the header lacks it */
    const char *key;  /* the key to set (extra.<column> precomputed) */
    harm_type type;
    bool required;
    event_key k;      /* key resolved (k.ok false: the event refuses the key; set by name for its message) */
} plan_field;

typedef struct parser {
    const shadowserver_schema *s;
    const ss_report *r;
    const feed_options *opt;
    feed_event_fn on_event;
    feed_error_fn on_error;
    const char *row_raw; /* the current row's bytes, for refuse() */
    size_t row_raw_len;
    void *arg;
    event *ev, *probe;
    event *tmpl;         /* what every event of the report gets after its columns: constants, feed.name,
                            time.observation (normalised once) */
    event_key k_network, k_fqdn, k_raw;
    char observation[40];
    const char *feed_name;
    /* the plan */
    size_t ncols;
    char **colnames;     /* header names (copies) */
    char **extra_keys;   /* "extra.<column>" per column */
    event_key *col_keys; /* the same, resolved */
    bool *used;          /* per row: the columns still pending (docs/feeds.md section 3) */
    plan_field *pf;
    size_t npf;
    long col_cc_dns, col_http_host, col_url, col_http_url, col_application;
    strbuf header_q;     /* the header, every name quoted, for raw */
    strbuf scratch, raw, rawb64, reason;
    uint64_t events;
    bool stop;
} parser;

static void plan_clear(parser *p)
{
    for (size_t i = 0; i < p->ncols; i++) {
        free(p->colnames[i]);
        free(p->extra_keys[i]);
    }
    for (size_t i = 0; i < p->npf; i++)
        if (p->pf[i].f->extra_col && p->pf[i].key)
            free((char *)p->pf[i].key);
    free(p->colnames);
    free(p->extra_keys);
    free(p->col_keys);
    free(p->used);
    free(p->pf);
    p->col_keys = NULL;
    p->colnames = p->extra_keys = NULL;
    p->used = NULL;
    p->pf = NULL;
    p->ncols = p->npf = 0;
}

static long find_col(const parser *p, const char *name)
{
    /* Python's DictReader: with a repeated name the last column wins. */
    for (size_t i = p->ncols; i-- > 0;)
        if (strcmp(p->colnames[i], name) == 0)
            return (long)i;
    return -1;
}

static void quote_all(strbuf *out, const char *s, size_t n)
{
    strbuf_append(out, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            strbuf_append(out, "\"", 1);
        strbuf_append(out, s + i, 1);
    }
    strbuf_append(out, "\"", 1);
}

static dz_code plan_build(parser *p, const char *const *names, const size_t *lens, size_t n, dz_err *e)
{
    plan_clear(p);
    p->colnames = calloc(n ? n : 1, sizeof *p->colnames);
    p->extra_keys = calloc(n ? n : 1, sizeof *p->extra_keys);
    p->col_keys = calloc(n ? n : 1, sizeof *p->col_keys);
    p->used = calloc(n ? n : 1, sizeof *p->used);
    p->pf = calloc(p->r->nfield ? p->r->nfield : 1, sizeof *p->pf);
    if (!p->colnames || !p->extra_keys || !p->col_keys || !p->used || !p->pf)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    p->ncols = n;
    strbuf_reset(&p->header_q);
    for (size_t i = 0; i < n; i++) {
        p->colnames[i] = strndup(names[i], lens[i]);
        p->extra_keys[i] = malloc(lens[i] + 7);
        if (!p->colnames[i] || !p->extra_keys[i])
            return dz_fail(e, DZ_ENOMEM, "out of memory");
        memcpy(p->extra_keys[i], "extra.", 6);
        memcpy(p->extra_keys[i] + 6, names[i], lens[i] + 1);
        dz_err ke = {0};
        if (event_key_init(&p->col_keys[i], p->extra_keys[i], &ke) == DZ_ENOMEM)
            return dz_fail(e, DZ_ENOMEM, "out of memory");
        if (i)
            strbuf_append(&p->header_q, ",", 1);
        quote_all(&p->header_q, names[i], lens[i]);
    }
    for (size_t k = 0; k < p->r->nfield; k++) {
        const ss_field *f = &p->r->fields[k];
        plan_field *pf = &p->pf[p->npf++];
        pf->f = f;
        pf->col = find_col(p, f->column);
        pf->type = f->type;
        if (f->extra_col) {
            char *key = malloc(strlen(f->column) + 7);
            if (!key)
                return dz_fail(e, DZ_ENOMEM, "out of memory");
            memcpy(key, "extra.", 6);
            strcpy(key + 6, f->column);
            pf->key = key;
        } else {
            pf->key = f->key;
        }
        pf->required = k < p->r->nreq;
        pf->conv = f->conv;
        if (pf->key) {
            dz_err ke = {0};
            if (event_key_init(&pf->k, pf->key, &ke) == DZ_ENOMEM)
                return dz_fail(e, DZ_ENOMEM, "out of memory");
        }
    }
    p->col_cc_dns = find_col(p, "cc_dns");
    p->col_http_host = find_col(p, "http_host");
    p->col_url = find_col(p, "url");
    p->col_http_url = find_col(p, "http_url");
    p->col_application = find_col(p, "application");
    return DZ_OK;
}

/* A row: cells by column index (missing trailing cells are empty). */
typedef struct row {
    const char *const *cells;
    const size_t *lens;
    size_t n;
} row;

static const char *cell(const row *rw, long col, size_t *len)
{
    if (col < 0 || (size_t)col >= rw->n) {
        *len = 0;
        return "";
    }
    *len = rw->lens[col];
    return rw->cells[col];
}

/*
 * Applies f's conversion to the cell. DZ_OK with v->kind VK_ABSENT: no field.
 * DZ_EINVAL: the conversion failed (reason in p->reason).
 */
static dz_code convert(parser *p, const plan_field *pf, const row *rw, const char *s, size_t len, value *v)
{
    v->kind = VK_STR;
    v->s = s;
    v->len = len;
    switch (pf->conv) {
    case CV_NONE:
        return DZ_OK;
    case CV_ADD_UTC:
        strbuf_reset(&p->scratch);
        strbuf_append(&p->scratch, s, len);
        strbuf_puts(&p->scratch, " UTC");
        v->s = p->scratch.buf;
        v->len = p->scratch.len;
        return DZ_OK;
    case CV_DATE:
    case CV_DATE_UTC: {
        char iso[48];
        if (len == 0) {
            v->kind = VK_ABSENT;
            return DZ_OK;
        }
        if (!normalize_date(s, len, iso, sizeof iso)) { /* unparseable: left out, no error */
            v->kind = VK_ABSENT;
            return DZ_OK;
        }
        strbuf_reset(&p->scratch);
        strbuf_puts(&p->scratch, iso);
        v->s = p->scratch.buf;
        v->len = p->scratch.len;
        return DZ_OK;
    }
    case CV_BOOL:
        if (eq_nocase(s, len, "y") || eq_nocase(s, len, "yes") || eq_nocase(s, len, "true") ||
            eq_nocase(s, len, "enabled") || eq_nocase(s, len, "1")) {
            v->kind = VK_BOOL;
            v->b = true;
        } else if (eq_nocase(s, len, "n") || eq_nocase(s, len, "no") || eq_nocase(s, len, "false") ||
                   eq_nocase(s, len, "disabled") || eq_nocase(s, len, "0")) {
            v->kind = VK_BOOL;
            v->b = false;
        } else {
            v->kind = VK_ABSENT;
        }
        return DZ_OK;
    case CV_TO_NONE:
        if (len == 0 || (len == 1 && s[0] == '0') || (len == 7 && memcmp(s, "unknown", 7) == 0))
            v->kind = VK_ABSENT;
        return DZ_OK;
    case CV_INT:
    case CV_INVALIDATE_ZERO:
        if (len == 0) {
            v->kind = VK_ABSENT;
            return DZ_OK;
        }
        if (!parse_int(s, len, &v->i)) {
            strbuf_reset(&p->reason);
            strbuf_printf(&p->reason, "%s: '%.*s' is not an integer", conv_names[pf->f->conv],
                          (int)(len > 60 ? 60 : len), s);
            return DZ_EINVAL;
        }
        v->kind = pf->f->conv == CV_INVALIDATE_ZERO && v->i == 0 ? VK_ABSENT : VK_INT;
        return DZ_OK;
    case CV_FLOAT:
        if (len == 0) {
            v->kind = VK_ABSENT;
            return DZ_OK;
        }
        if (!parse_float(s, len, &v->f)) {
            strbuf_reset(&p->reason);
            strbuf_printf(&p->reason, "convert_float: '%.*s' is not a number", (int)(len > 60 ? 60 : len), s);
            return DZ_EINVAL;
        }
        v->kind = VK_FLOAT;
        return DZ_OK;
    case CV_HTTP_URL: {
        size_t hl, ul;
        const char *host, *path;
        if (p->col_cc_dns >= 0)
            host = cell(rw, p->col_cc_dns, &hl);
        else
            host = cell(rw, p->col_http_host, &hl);
        if (p->col_url >= 0)
            path = cell(rw, p->col_url, &ul);
        else
            path = cell(rw, p->col_http_url, &ul);
        if (hl && ul) {
            /* the path from its first '/' up to the first white space */
            size_t a = 0;
            while (a < ul && path[a] != '/')
                a++;
            size_t b = a;
            while (b < ul && !is_space(path[b]))
                b++;
            size_t al;
            const char *app = cell(rw, p->col_application, &al);
            strbuf_reset(&p->scratch);
            if ((al == 4 && memcmp(app, "http", 4) == 0) || (al == 5 && memcmp(app, "https", 5) == 0))
                strbuf_append(&p->scratch, app, al);
            else
                strbuf_puts(&p->scratch, "http");
            strbuf_puts(&p->scratch, "://");
            strbuf_append(&p->scratch, host, hl);
            strbuf_append(&p->scratch, path + a, b - a);
            v->s = p->scratch.buf;
            v->len = p->scratch.len;
        }
        return DZ_OK;
    }
    case CV_IP: {
        const char *t = s;
        size_t tl = len;
        trim(&t, &tl);
        char buf[64];
        unsigned char bin[16];
        bool ok = tl > 0 && tl < sizeof buf && !memchr(t, '/', tl) && !(tl == 7 && memcmp(t, "0.0.0.0", 7) == 0);
        if (ok && ipv4_dotted_parse(t, tl, NULL)) {
            /* inet_pton(AF_INET) would accept it */
        } else if (ok) {
            memcpy(buf, t, tl);
            buf[tl] = 0;
            ok = inet_pton(AF_INET, buf, bin) == 1 || inet_pton(AF_INET6, buf, bin) == 1;
        }
        if (!ok)
            v->kind = VK_ABSENT;
        return DZ_OK;
    }
    case CV_NETWORK: {
        dz_err pe;
        if (!memchr(s, '/', len) || event_set_k(p->probe, &p->k_network, s, len, &pe) != DZ_OK)
            v->kind = VK_ABSENT;
        event_reset(p->probe);
        return DZ_OK;
    }
    case CV_FQDN: {
        dz_err pe;
        if (len == 0 || event_set_k(p->probe, &p->k_fqdn, s, len, &pe) != DZ_OK)
            v->kind = VK_ABSENT;
        event_reset(p->probe);
        return DZ_OK;
    }
    case CV_BASE64:
        if (len == 0)
            v->kind = VK_ABSENT;
        else if (!is_base64(s, len)) {
            strbuf_reset(&p->scratch);
            feed_base64_append(&p->scratch, s, len);
            v->s = p->scratch.buf;
            v->len = p->scratch.len;
        }
        return DZ_OK;
    case CV_EXCH_TAXONOMY:
    case CV_EXCH_TYPE:
    case CV_EXCH_IDENTIFIER: {
        bool webshell = len == 17 && memcmp(s, "exchange;webshell", 17) == 0;
        static const char *const yes[] = {"intrusions", "system-compromise", "exchange-server-webshell"};
        static const char *const no[] = {"vulnerable", "infected-system", "vulnerable-exchange-server"};
        int k = pf->f->conv - CV_EXCH_TAXONOMY;
        v->s = webshell ? yes[k] : no[k];
        v->len = strlen(v->s);
        return DZ_OK;
    }
    }
    return DZ_OK;
}

/* Sets v under pf's key; DZ_EINVAL (reason in e) when the event refuses it. */
/* Through the resolved key; by name when the event refuses the key (for the same message). */
static dz_code put_s(parser *p, const plan_field *pf, const char *s, size_t n, dz_err *e)
{
    return pf->k.ok ? event_set_k(p->ev, &pf->k, s, n, e) : event_set(p->ev, pf->key, s, n, e);
}

static dz_code put_i(parser *p, const plan_field *pf, int64_t i, dz_err *e)
{
    return pf->k.ok ? event_set_k_int(p->ev, &pf->k, i, e) : event_set_int(p->ev, pf->key, i, e);
}

static dz_code put_f(parser *p, const plan_field *pf, double f, dz_err *e)
{
    return pf->k.ok ? event_set_k_float(p->ev, &pf->k, f, e) : event_set_float(p->ev, pf->key, f, e);
}

static dz_code put_b(parser *p, const plan_field *pf, bool b, dz_err *e)
{
    return pf->k.ok ? event_set_k_bool(p->ev, &pf->k, b, e) : event_set_bool(p->ev, pf->key, b, e);
}

/* Sets v under pf's key; DZ_EINVAL (reason in e) when the event refuses it. */
static dz_code set_value(parser *p, const plan_field *pf, const value *v, dz_err *e)
{
    char num[64];
    switch (v->kind) {
    case VK_ABSENT:
        return DZ_OK;
    case VK_STR:
        if (pf->type == HT_DATETIME) {
            char iso[48];
            if (normalize_date(v->s, v->len, iso, sizeof iso))
                return put_s(p, pf, iso, strlen(iso), e);
        }
        return put_s(p, pf, v->s, v->len, e);
    case VK_INT:
        if (pf->type == HT_INT || pf->type == HT_ASN || pf->type == HT_JSON)
            return put_i(p, pf, v->i, e);
        if (pf->type == HT_FLOAT || pf->type == HT_ACCURACY)
            return put_f(p, pf, (double)v->i, e);
        snprintf(num, sizeof num, "%lld", (long long)v->i);
        return put_s(p, pf, num, strlen(num), e);
    case VK_FLOAT:
        if (pf->type == HT_FLOAT || pf->type == HT_ACCURACY || pf->type == HT_JSON)
            return put_f(p, pf, v->f, e);
        snprintf(num, sizeof num, "%.17g", v->f);
        return put_s(p, pf, num, strlen(num), e);
    case VK_BOOL:
        if (pf->type == HT_BOOL || pf->type == HT_JSON)
            return put_b(p, pf, v->b, e);
        return put_s(p, pf, v->b ? "true" : "false", v->b ? 4 : 5, e);
    }
    return DZ_OK;
}

static dz_code set_const(event *ev, const ss_const *c, dz_err *e)
{
    const json_t *v = c->value;
    if (json_is_string(v))
        return event_set(ev, c->key, json_string_value(v), json_string_length(v), e);
    if (json_is_integer(v))
        return event_set_int(ev, c->key, json_integer_value(v), e);
    if (json_is_real(v))
        return event_set_float(ev, c->key, json_real_value(v), e);
    return event_set_bool(ev, c->key, json_is_true(v), e);
}

/* The row being read, for the quarantine: its bytes (NULL outside a row). */
static void refuse(parser *p, uint64_t line, const char *reason)
{
    if (p->on_error)
        p->on_error(p->arg, line, reason, p->row_raw, p->row_raw ? p->row_raw_len : 0);
}

static bool ignored_value(const char *s, size_t len)
{
    return len == 0 || (len == 1 && s[0] == '-') || (len == 3 && memcmp(s, "N/A", 3) == 0);
}

/* One row through the plan (docs/feeds.md section 2). raw/raw_len: the bytes for the raw field. */
static dz_code do_row(parser *p, const row *rw, uint64_t line, const char *raw, size_t raw_len)
{
    event *ev = p->ev;
    event_reset(ev);
    bool *pending = p->used;
    memset(pending, 1, p->ncols * sizeof *pending);
    dz_err fe; /* not "= {0}": that zeroes 512 bytes per row */
    fe.code = DZ_OK;
    fe.msg[0] = '\0';
    for (size_t k = 0; k < p->npf; k++) {
        const plan_field *pf = &p->pf[k];
        bool required = pf->required;
        if (pf->col < 0) {
            if (required) {
                strbuf_reset(&p->reason);
                strbuf_printf(&p->reason, "required column '%s' missing (report %s)", pf->f->column, p->r->name);
                refuse(p, line, p->reason.buf);
                return DZ_OK;
            }
            continue;
        }
        pending[pf->col] = true; /* every entry decides afresh whether it consumes the column */
        if ((size_t)pf->col >= rw->n) { /* absent: left out */
            if (!required)
                pending[pf->col] = false;
            continue;
        }
        size_t len = rw->lens[pf->col];
        const char *s = rw->cells[pf->col];
        value v = {0};
        if (convert(p, pf, rw, s, len, &v) != DZ_OK) {
            char msg[700];
            snprintf(msg, sizeof msg, "%s (column '%s'): %s", pf->key ? pf->key : "ignored", pf->f->column,
                     p->reason.buf);
            refuse(p, line, msg);
            return DZ_OK;
        }
        if (v.kind == VK_ABSENT) {
            if (!required)
                pending[pf->col] = false;
            continue;
        }
        if (!pf->key) { /* false: the column is ignored */
            pending[pf->col] = false;
            continue;
        }
        if (pf->type != HT_JSON && v.kind == VK_STR && ignored_value(v.s, v.len)) {
            pending[pf->col] = false;
            continue;
        }
        if (p->r->dup_keys && pf->type != HT_JSON && (pf->k.ok ? event_get_k(ev, &pf->k) : event_get(ev, pf->key))) {
            char msg[700];
            snprintf(msg, sizeof msg, "%s (column '%s'): the key already has a value", pf->key, pf->f->column);
            refuse(p, line, msg);
            return DZ_OK;
        }
        dz_code rc = set_value(p, pf, &v, &fe);
        if (rc == DZ_ENOMEM)
            return rc;
        if (rc != DZ_OK) {
            if (required) {
                char msg[700];
                snprintf(msg, sizeof msg, "column '%s': %s", pf->f->column, fe.msg);
                refuse(p, line, msg);
                return DZ_OK;
            }
            continue; /* stays pending: its text becomes extra.<column> */
        }
        pending[pf->col] = false;
    }
    /*
     * The constants, then feed.name and time.observation, all normalised once into the template
     * (shadowserver_parse). Setting them here, before the pending columns, gives what setting
     * feed.name and time.observation after those would: pending columns only write extra.* keys.
     */
    if (event_copy_fields(ev, p->tmpl, &fe) == DZ_ENOMEM)
        return DZ_ENOMEM;
    /* Columns still pending: extra.<column>, the cell's text. */
    for (size_t c = 0; c < p->ncols && c < rw->n; c++) {
        if (!pending[c] || rw->lens[c] == 0 || !p->colnames[c][0])
            continue;
        dz_code rc = p->col_keys[c].ok ? event_set_k(ev, &p->col_keys[c], rw->cells[c], rw->lens[c], &fe)
                                       : event_set(ev, p->extra_keys[c], rw->cells[c], rw->lens[c], &fe);
        if (rc == DZ_ENOMEM)
            return rc;
    }
    if (p->opt->raw && raw) {
        strbuf_reset(&p->rawb64);
        feed_base64_append(&p->rawb64, raw, raw_len);
        if (p->rawb64.oom)
            return DZ_ENOMEM;
        if (event_set_k(ev, &p->k_raw, p->rawb64.buf, p->rawb64.len, &fe) == DZ_ENOMEM)
            return DZ_ENOMEM;
    }
    p->events++;
    if (p->on_event && p->on_event(p->arg, ev, line) != 0)
        p->stop = true;
    return DZ_OK;
}

/* ---- CSV ---- */

/*
 * Python's csv module (IntelMQ reads the reports with it) takes text after a closing quote
 * literally ("a""b"c -> a"bc, '"x\"\"y"' and the like occur in real reports); lib/csv.h
 * refuses such a record but ends it where Python does (it goes on as in an unquoted field).
 * So the parser keeps a copy of the input from the current record's line on (the tee), and
 * reads a record refused for that reason again here, with Python's rules.
 */
typedef struct tee {
    csv_read_fn read;
    void *arg;
    strbuf buf;       /* input bytes from line line0 on */
    uint64_t line0;   /* the physical line buf starts with */
    uint64_t cline;   /* the last line tee_line_offset found (0: none) ... */
    size_t coff;      /* ... and its offset: lines are asked for in increasing order, walk on from there */
} tee;

static long tee_read(void *arg, char *out, size_t cap)
{
    tee *t = arg;
    long n = t->read(t->arg, out, cap);
    if (n > 0)
        strbuf_append(&t->buf, out, (size_t)n);
    return n;
}

/* Offset in t->buf of the start of physical line `line` (>= t->line0), or (size_t)-1. */
static size_t tee_line_offset(tee *t, uint64_t line)
{
    size_t off = 0;
    uint64_t l = t->line0;
    if (t->cline >= t->line0 && t->cline <= line) {
        l = t->cline;
        off = t->coff;
    }
    while (l < line) {
        const char *nl = off < t->buf.len ? memchr(t->buf.buf + off, '\n', t->buf.len - off) : NULL;
        if (!nl)
            return (size_t)-1;
        off = (size_t)(nl - t->buf.buf) + 1;
        l++;
    }
    t->cline = line;
    t->coff = off;
    return off;
}

/* Drops the bytes before line `line` when the copy has grown large. */
static void tee_trim(tee *t, uint64_t line)
{
    if (t->buf.len < (1u << 20) || line <= t->line0)
        return;
    size_t off = tee_line_offset(t, line);
    if (off == (size_t)-1 || off == 0)
        return;
    memmove(t->buf.buf, t->buf.buf + off, t->buf.len - off);
    t->buf.len -= off;
    t->buf.buf[t->buf.len] = 0;
    t->line0 = line;
    t->cline = line;
    t->coff = 0;
}

typedef struct lenient_rec {
    strbuf text;     /* fields, each NUL-terminated */
    size_t *starts, *lens;
    const char **cells;
    size_t n, cap;
    const char *raw;
    size_t raw_len;
} lenient_rec;

static bool lenient_push(lenient_rec *lr, size_t start)
{
    if (lr->n == lr->cap) {
        size_t nc = lr->cap ? lr->cap * 2 : 64;
        size_t *s = realloc(lr->starts, nc * sizeof *s);
        if (!s)
            return false;
        lr->starts = s;
        size_t *l = realloc(lr->lens, nc * sizeof *l);
        if (!l)
            return false;
        lr->lens = l;
        const char **c = realloc(lr->cells, nc * sizeof *c);
        if (!c)
            return false;
        lr->cells = c;
        lr->cap = nc;
    }
    lr->starts[lr->n] = start;
    lr->lens[lr->n] = lr->text.len - start;
    lr->n++;
    strbuf_append(&lr->text, "", 1); /* the NUL */
    return !lr->text.oom;
}

/* Reads the record at line `line` from the tee with Python's csv rules. false: not readable that way either. */
static bool lenient_read(tee *t, uint64_t line, bool first, lenient_rec *lr)
{
    size_t off = tee_line_offset(t, line);
    if (off == (size_t)-1)
        return false;
    const char *s = t->buf.buf, *end = s + t->buf.len;
    const char *p = s + off;
    if (first && line == 1 && end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    const char *rs = p;
    strbuf_reset(&lr->text);
    lr->n = 0;
    enum { F_START, F_UNQ, F_Q, F_QQ } st = F_START;
    size_t start = 0;
    for (;; p++) {
        bool eol = p == end || *p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n'));
        if (p < end && *p == '\0')
            return false;
        if (st == F_Q) {
            if (p == end)
                return false; /* unterminated quoted field */
            if (*p == '"')
                st = F_QQ;
            else
                strbuf_append(&lr->text, p, 1);
            continue;
        }
        if (eol || *p == ',') {
            if (!lenient_push(lr, start))
                return false;
            if (eol)
                break;
            start = lr->text.len;
            st = F_START;
            continue;
        }
        if (st == F_START && *p == '"') {
            st = F_Q;
            continue;
        }
        if (st == F_QQ && *p == '"') {
            strbuf_append(&lr->text, "\"", 1);
            st = F_Q;
            continue;
        }
        strbuf_append(&lr->text, p, 1); /* text after a closing quote, or an unquoted field: literal */
        st = F_UNQ;
    }
    if (lr->text.oom)
        return false;
    for (size_t i = 0; i < lr->n; i++)
        lr->cells[i] = lr->text.buf + lr->starts[i];
    lr->raw = rs;
    lr->raw_len = (size_t)(p - rs);
    return true;
}

static dz_code parse_csv(parser *p, csv_read_fn read, void *read_arg, dz_err *e)
{
    tee t = {read, read_arg, {0}, 1, 0, 0};
    strbuf_init(&t.buf);
    lenient_rec lr = {0};
    strbuf_init(&lr.text);
    csv_reader *r = csv_reader_new(tee_read, &t, NULL);
    if (!r)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    csv_record rec;
    dz_err ce = {0};
    bool have_header = false;
    dz_code rc = DZ_OK;
    for (;;) {
        int got = csv_next(r, &rec, &ce);
        if (got == 0)
            break;
        if (got < 0 && ce.code == DZ_EINVAL && strstr(ce.msg, "text after the closing quote") &&
            lenient_read(&t, rec.line, !have_header, &lr)) {
            rec.n = lr.n;
            rec.fields = lr.cells;
            rec.lens = lr.lens;
            rec.raw = lr.raw;
            rec.raw_len = lr.raw_len;
            got = 1;
        }
        if (t.buf.oom) {
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
            break;
        }
        tee_trim(&t, rec.line);
        if (got < 0) {
            if (ce.code == DZ_EINVAL) {
                /* "line 7: ..." already carries the line; report the reason alone */
                const char *msg = ce.msg;
                if (strncmp(msg, "line ", 5) == 0) {
                    const char *c = strstr(msg, ": ");
                    if (c)
                        msg = c + 2;
                }
                refuse(p, rec.line, msg);
                continue;
            }
            rc = dz_fail(e, ce.code, "%s", ce.msg);
            break;
        }
        if (!have_header) {
            rc = plan_build(p, rec.fields, rec.lens, rec.n, e);
            if (rc != DZ_OK)
                break;
            /* raw: the header line exactly as read */
            strbuf_reset(&p->header_q);
            strbuf_append(&p->header_q, rec.raw, rec.raw_len);
            have_header = true;
            continue;
        }
        row rw = {rec.fields, rec.lens, rec.n};
        const char *raw = NULL;
        size_t raw_len = 0;
        if (p->opt->raw) {
            strbuf_reset(&p->raw);
            strbuf_append(&p->raw, p->header_q.buf, p->header_q.len);
            strbuf_append(&p->raw, "\n", 1);
            strbuf_append(&p->raw, rec.raw, rec.raw_len);
            raw = p->raw.buf;
            raw_len = p->raw.len;
        }
        p->row_raw = rec.raw;
        p->row_raw_len = rec.raw_len;
        rc = do_row(p, &rw, rec.line, raw, raw_len);
        p->row_raw = NULL;
        if (rc != DZ_OK) {
            rc = dz_fail(e, rc, "out of memory");
            break;
        }
        if (p->stop)
            break;
    }
    csv_reader_free(r);
    strbuf_free(&t.buf);
    strbuf_free(&lr.text);
    free(lr.starts);
    free(lr.lens);
    free(lr.cells);
    return rc;
}

/* ---- JSON ---- */

static dz_code read_all(csv_read_fn read, void *arg, strbuf *out, dz_err *e)
{
    char buf[65536];
    for (;;) {
        long n = read(arg, buf, sizeof buf);
        if (n < 0)
            return dz_fail(e, DZ_EIO, "read error");
        if (n == 0)
            break;
        strbuf_append(out, buf, (size_t)n);
        if (out->oom)
            return dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    return DZ_OK;
}

/* Text of a JSON value as a cell: strings as they are, numbers and booleans as text; null: absent. */
static bool json_cell(const json_t *v, char *num, size_t n, const char **s, size_t *len)
{
    if (json_is_string(v)) {
        *s = json_string_value(v);
        *len = strlen(*s);
        return true;
    }
    if (json_is_integer(v)) {
        snprintf(num, n, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        char *t = json_dumps(v, JSON_ENCODE_ANY);
        snprintf(num, n, "%s", t ? t : "");
        free(t);
    } else if (json_is_true(v)) {
        snprintf(num, n, "true");
    } else if (json_is_false(v)) {
        snprintf(num, n, "false");
    } else {
        num[0] = 0; /* null: an empty cell */
    }
    *s = num;
    *len = strlen(num);
    return true;
}

static dz_code json_object_row(parser *p, json_t *obj, uint64_t line, dz_err *e)
{
    if (!json_is_object(obj)) {
        refuse(p, line, "expected a JSON object");
        return DZ_OK;
    }
    size_t n = json_object_size(obj);
    const char **names = calloc(n ? n : 1, sizeof *names);
    size_t *nlens = calloc(n ? n : 1, sizeof *nlens);
    const char **cells = calloc(n ? n : 1, sizeof *cells);
    size_t *clens = calloc(n ? n : 1, sizeof *clens);
    char(*nums)[40] = calloc(n ? n : 1, sizeof *nums);
    dz_code rc = DZ_OK;
    if (!names || !nlens || !cells || !clens || !nums) {
        rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        goto out;
    }
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        names[i] = k;
        nlens[i] = strlen(k);
        if (!json_cell(v, nums[i], sizeof nums[i], &cells[i], &clens[i])) {
            cells[i] = "";
            clens[i] = 0;
        }
        i++;
    }
    rc = plan_build(p, names, nlens, n, e);
    if (rc != DZ_OK)
        goto out;
    const char *raw = NULL;
    size_t raw_len = 0;
    char *dump = NULL;
    if (p->opt->raw) {
        json_t *arr = json_array();
        if (!arr || json_array_append(arr, obj) != 0) {
            json_decref(arr);
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
            goto out;
        }
        dump = json_dumps(arr, JSON_ENSURE_ASCII);
        json_decref(arr);
        if (!dump) {
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
            goto out;
        }
        /* Python writes \uXXXX escapes in lower case, jansson in upper case. */
        for (char *q = dump; *q; q++) {
            if (*q != '\\')
                continue;
            if (q[1] == 'u') {
                for (int k = 2; k < 6 && q[k]; k++)
                    q[k] = (char)tolower((unsigned char)q[k]);
                q += 5;
            } else if (q[1]) {
                q++;
            }
        }
        raw = dump;
        raw_len = strlen(dump);
    }
    row rw = {cells, clens, n};
    p->row_raw = raw;
    p->row_raw_len = raw_len;
    rc = do_row(p, &rw, line, raw, raw_len);
    p->row_raw = NULL;
    free(dump);
    if (rc != DZ_OK)
        rc = dz_fail(e, rc, "out of memory");
out:
    free(names);
    free(nlens);
    free(cells);
    free(clens);
    free(nums);
    return rc;
}

static uint64_t count_lines(const char *s, size_t from, size_t to, uint64_t line)
{
    for (size_t i = from; i < to; i++)
        if (s[i] == '\n')
            line++;
    return line;
}

static dz_code parse_json(parser *p, const char *data, size_t len, dz_err *e)
{
    size_t pos = 0;
    uint64_t line = 1;
    while (pos < len && is_space(data[pos]))
        pos++;
    if (pos + 3 <= len && (unsigned char)data[pos] == 0xEF && (unsigned char)data[pos + 1] == 0xBB &&
        (unsigned char)data[pos + 2] == 0xBF)
        pos += 3;
    line = count_lines(data, 0, pos, 1);
    bool array = pos < len && data[pos] == '[';
    if (array) {
        pos++;
    }
    size_t lpos = pos;
    bool first = true;
    while (!p->stop) {
        while (pos < len && is_space(data[pos]))
            pos++;
        if (pos >= len) {
            if (array) {
                line = count_lines(data, lpos, pos, line);
                refuse(p, line, "the JSON array is not closed");
            }
            break;
        }
        if (array && data[pos] == ']')
            break;
        if (array && !first) {
            if (data[pos] != ',') {
                line = count_lines(data, lpos, pos, line);
                lpos = pos;
                refuse(p, line, "expected ',' or ']' in the JSON array");
                break;
            }
            pos++;
            while (pos < len && is_space(data[pos]))
                pos++;
        }
        first = false;
        line = count_lines(data, lpos, pos, line);
        lpos = pos;
        json_error_t je;
        json_t *obj = json_loadb(data + pos, len - pos, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &je);
        if (!obj) {
            char msg[300];
            snprintf(msg, sizeof msg, "not JSON: %s", je.text);
            refuse(p, line + (uint64_t)(je.line > 1 ? je.line - 1 : 0), msg);
            if (array)
                break;
            /* JSON lines: go on with the next line */
            const char *nl = memchr(data + pos, '\n', len - pos);
            if (!nl)
                break;
            pos = (size_t)(nl - data) + 1;
            continue;
        }
        dz_code rc = json_object_row(p, obj, line, e);
        json_decref(obj);
        if (rc != DZ_OK)
            return rc;
        pos += je.position;
    }
    return DZ_OK;
}

/* ---- entry ---- */

typedef struct peek_reader {
    csv_read_fn read;
    void *arg;
    char buf[4096];
    size_t len, pos;
} peek_reader;

static long peek_read(void *arg, char *buf, size_t cap)
{
    peek_reader *pr = arg;
    if (pr->pos < pr->len) {
        size_t n = pr->len - pr->pos;
        if (n > cap)
            n = cap;
        memcpy(buf, pr->buf + pr->pos, n);
        pr->pos += n;
        return (long)n;
    }
    return pr->read(pr->arg, buf, cap);
}

dz_code shadowserver_parse(const shadowserver_schema *s, const feed_options *opt, csv_read_fn read, void *read_arg,
                           feed_event_fn on_event, feed_error_fn on_error, void *arg, dz_err *e)
{
    static const feed_options none = {0};
    if (!opt)
        opt = &none;
    const char *name = opt->report;
    if (!name && opt->file_name)
        name = shadowserver_report_of_file(s, opt->file_name);
    if (!name)
        return dz_fail(e, DZ_ENOTFOUND, "no known Shadowserver report in the file name '%.200s'",
                       opt->file_name ? opt->file_name : "");
    const ss_report *r = find_report(s, name);
    if (!r)
        return dz_fail(e, DZ_ENOTFOUND, "unknown Shadowserver report '%.200s'", name);

    parser *p = calloc(1, sizeof *p);
    peek_reader *pr = calloc(1, sizeof *pr);
    if (!p || !pr) {
        free(p);
        free(pr);
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    p->s = s;
    p->r = r;
    p->opt = opt;
    p->on_event = on_event;
    p->on_error = on_error;
    p->arg = arg;
    p->feed_name = opt->feed_name && *opt->feed_name ? opt->feed_name : r->feed_name;
    strbuf_init(&p->header_q);
    strbuf_init(&p->scratch);
    strbuf_init(&p->raw);
    strbuf_init(&p->rawb64);
    strbuf_init(&p->reason);
    dz_code rc = DZ_OK;
    p->ev = event_new();
    p->probe = event_new();
    p->tmpl = event_new();
    if (!p->ev || !p->probe || !p->tmpl) {
        rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        goto out;
    }
    if (event_key_init(&p->k_network, "source.network", e) != DZ_OK ||
        event_key_init(&p->k_fqdn, "source.fqdn", e) != DZ_OK || event_key_init(&p->k_raw, "raw", e) != DZ_OK) {
        rc = DZ_EINTERNAL;
        goto out;
    }
    if (opt->observation_time) {
        char iso[48];
        size_t ol = strlen(opt->observation_time);
        dz_err te = {0};
        if (!normalize_date(opt->observation_time, ol, iso, sizeof iso) ||
            event_set(p->probe, "time.observation", iso, strlen(iso), &te) != DZ_OK) {
            rc = dz_fail(e, DZ_EINVAL, "observation time '%.60s' is not an ISO 8601 time", opt->observation_time);
            goto out;
        }
        event_reset(p->probe);
        snprintf(p->observation, sizeof p->observation, "%s", iso);
    } else {
        feed_now_text(p->observation);
    }
    /* The template: constants (valid: the schema load checked them), then feed.name and time.observation;
     * a value the event refuses is left out, as it was when set per row. */
    {
        dz_err te = {0};
        for (size_t i = 0; i < r->nconst; i++)
            if (set_const(p->tmpl, &r->consts[i], &te) == DZ_ENOMEM) {
                rc = dz_fail(e, DZ_ENOMEM, "out of memory");
                goto out;
            }
        if (event_set(p->tmpl, "feed.name", p->feed_name, strlen(p->feed_name), &te) == DZ_ENOMEM ||
            event_set(p->tmpl, "time.observation", p->observation, strlen(p->observation), &te) == DZ_ENOMEM) {
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
            goto out;
        }
    }

    /* JSON: by the file name, or the first non-blank byte. */
    pr->read = read;
    pr->arg = read_arg;
    bool json = false;
    const char *fn = opt->file_name;
    size_t fl = fn ? strlen(fn) : 0;
    if (fl >= 5 && strcasecmp(fn + fl - 5, ".json") == 0) {
        json = true;
    } else {
        for (;;) {
            long n = read(read_arg, pr->buf + pr->len, sizeof pr->buf - pr->len);
            if (n < 0) {
                rc = dz_fail(e, DZ_EIO, "read error");
                goto out;
            }
            if (n == 0)
                break;
            pr->len += (size_t)n;
            size_t i = 0;
            if (pr->len >= 3 && memcmp(pr->buf, "\xEF\xBB\xBF", 3) == 0)
                i = 3;
            while (i < pr->len && is_space(pr->buf[i]))
                i++;
            if (i < pr->len) {
                json = pr->buf[i] == '[' || pr->buf[i] == '{';
                break;
            }
            if (pr->len == sizeof pr->buf)
                break;
        }
    }
    if (json) {
        strbuf all;
        strbuf_init(&all);
        rc = read_all(peek_read, pr, &all, e);
        if (rc == DZ_OK)
            rc = parse_json(p, all.buf ? all.buf : "", all.len, e);
        strbuf_free(&all);
    } else {
        rc = parse_csv(p, peek_read, pr, e);
    }
out:
    plan_clear(p);
    event_free(p->ev);
    event_free(p->probe);
    event_free(p->tmpl);
    strbuf_free(&p->header_q);
    strbuf_free(&p->scratch);
    strbuf_free(&p->raw);
    strbuf_free(&p->rawb64);
    strbuf_free(&p->reason);
    free(p);
    free(pr);
    return rc;
}

dz_code feed_shadowserver_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                                feed_error_fn on_error, void *arg, dz_err *e)
{
    if (!opt || !opt->schema)
        return dz_fail(e, DZ_EINVAL, "shadowserver: no schema loaded");
    return shadowserver_parse(opt->schema, opt, read, read_arg, on_event, on_error, arg, e);
}
