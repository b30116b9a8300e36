#include "lib/request_decode.h"
#include "lib/timeutil.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers over jansson, each names the field it complains about ---- */

static dz_code parse_object(const char *body, size_t len, json_t **out, dz_err *e)
{
    json_error_t je;
    if (len == 0)
        return dz_fail(e, DZ_EINVAL, "request body is empty; expected a JSON object");
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return dz_fail(e, DZ_EINVAL, "request body is not valid JSON: %s (line %d, column %d)", je.text,
                       je.line, je.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return dz_fail(e, DZ_EINVAL, "request body must be a JSON object");
    }
    *out = root;
    return DZ_OK;
}

/* Refuses keys that are in neither list. */
static dz_code check_keys(json_t *obj, const char *const *known, const char *const *ignored, dz_err *e)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(key, *k) == 0;
        for (const char *const *k = ignored; k && *k && !ok; k++)
            ok = strcmp(key, *k) == 0;
        if (!ok) {
            char list[400] = "";
            size_t off = 0;
            for (const char *const *k = known; *k && off < sizeof list - 70; k++)
                off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? ", " : "", *k);
            return dz_fail(e, DZ_EINVAL, "unknown field '%.60s' (known: %s)", key, list);
        }
    }
    return DZ_OK;
}

static bool utf8_valid_no_ctl(const char *s, size_t n, bool allow_newlines)
{
    /* jansson guarantees valid UTF-8; we only refuse control characters. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && !(allow_newlines && (c == '\n' || c == '\r' || c == '\t')))
            return false;
        if (c == 0x7f)
            return false;
    }
    return true;
}

/* Gets an optional string. *out stays NULL when absent; null is treated as absent unless null_ok. */
static dz_code get_string(json_t *obj, const char *field, size_t min, size_t max, bool multiline,
                          char **out, bool *present, dz_err *e)
{
    json_t *v = json_object_get(obj, field);
    if (present)
        *present = v != NULL;
    if (!v || json_is_null(v))
        return DZ_OK;
    if (!json_is_string(v))
        return dz_fail(e, DZ_EINVAL, "field '%s' must be a string", field);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (memchr(s, '\0', n))
        return dz_fail(e, DZ_EINVAL, "field '%s' contains a NUL byte", field);
    if (!utf8_valid_no_ctl(s, n, multiline))
        return dz_fail(e, DZ_EINVAL, "field '%s' contains control characters", field);
    /* trim surrounding blanks on one-line fields */
    size_t a = 0, b = n;
    if (!multiline) {
        while (a < b && isspace((unsigned char)s[a]))
            a++;
        while (b > a && isspace((unsigned char)s[b - 1]))
            b--;
    }
    if (b - a < min)
        return dz_fail(e, DZ_EINVAL, "field '%s' must not be empty", field);
    if (b - a > max)
        return dz_fail(e, DZ_EINVAL, "field '%s' is too long (%zu bytes; at most %zu)", field, b - a, max);
    *out = strndup(s + a, b - a);
    return *out ? DZ_OK : dz_fail(e, DZ_ENOMEM, "out of memory");
}

static dz_code get_required_string(json_t *obj, const char *field, size_t max, bool multiline, char **out,
                                   dz_err *e)
{
    dz_code rc = get_string(obj, field, 1, max, multiline, out, NULL, e);
    if (rc == DZ_OK && !*out)
        return dz_fail(e, DZ_EINVAL, "field '%s' is required", field);
    return rc;
}

static dz_code get_time(json_t *obj, const char *field, int64_t *out, bool *present, bool *is_null, dz_err *e)
{
    json_t *v = json_object_get(obj, field);
    *present = v != NULL;
    *is_null = v && json_is_null(v);
    if (!v || json_is_null(v))
        return DZ_OK;
    if (!json_is_string(v))
        return dz_fail(e, DZ_EINVAL, "field '%s' must be an ISO-8601 time string or null", field);
    if (time_parse_iso(json_string_value(v), out, e) != DZ_OK)
        return dz_wrap(e, "field '%s'", field);
    return DZ_OK;
}

static dz_code get_string_list(json_t *obj, const char *field, size_t max_item, bool names_only, char ***out,
                               size_t *n_out, dz_err *e)
{
    json_t *arr = json_object_get(obj, field);
    if (json_is_null(arr))
        return DZ_OK;
    if (!json_is_array(arr))
        return dz_fail(e, DZ_EINVAL, "field '%s' must be an array of strings", field);
    size_t n = json_array_size(arr);
    if (n > INCIDENT_LIST_MAX)
        return dz_fail(e, DZ_EINVAL, "field '%s' has %zu items; at most %d", field, n, INCIDENT_LIST_MAX);
    char **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(arr, i);
        const char *s = json_string_value(it);
        size_t len = s ? json_string_length(it) : 0;
        if (!s || len == 0 || len > max_item || memchr(s, '\0', len) || !utf8_valid_no_ctl(s, len, false) ||
            (names_only && !name_valid(s))) {
            for (size_t j = 0; j < k; j++)
                free(v[j]);
            free(v);
            return dz_fail(e, DZ_EINVAL, "field '%s' item %zu must be a non-empty %sstring of at most %zu bytes",
                           field, i, names_only ? "name " : "", max_item);
        }
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = strcmp(v[j], s) == 0;
        if (!dup)
            v[k++] = strdup(s);
    }
    *out = v;
    *n_out = k;
    return DZ_OK;
}

bool name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-' && c != '@')
            return false;
    }
    return true;
}

/* ---- incidents ---- */

static dz_code decode_classification(json_t *v, rsit_class *out, dz_err *e)
{
    if (json_is_string(v))
        return rsit_resolve(NULL, json_string_value(v), out, e) == DZ_OK ? DZ_OK
                                                                          : dz_wrap(e, "field 'classification'");
    if (!json_is_object(v))
        return dz_fail(e, DZ_EINVAL, "field 'classification' must be an object {\"taxonomy\", \"type\"}");
    static const char *const keys[] = {"taxonomy", "type", NULL};
    if (check_keys(v, keys, NULL, e) != DZ_OK)
        return dz_wrap(e, "field 'classification'");
    json_t *t = json_object_get(v, "taxonomy"), *y = json_object_get(v, "type");
    if ((t && !json_is_string(t) && !json_is_null(t)) || (y && !json_is_string(y) && !json_is_null(y)))
        return dz_fail(e, DZ_EINVAL, "field 'classification': taxonomy and type must be strings");
    if (rsit_resolve(json_string_value(t), json_string_value(y), out, e) != DZ_OK)
        return dz_wrap(e, "field 'classification'");
    return DZ_OK;
}

static dz_code decode_enum(json_t *obj, const char *field, unsigned bit, unsigned *set,
                           dz_code (*parse)(const char *, int *, dz_err *), int *out, dz_err *e)
{
    json_t *v = json_object_get(obj, field);
    if (!v)
        return DZ_OK;
    if (!json_is_string(v))
        return dz_fail(e, DZ_EINVAL, "field '%s' must be a string", field);
    if (parse(json_string_value(v), out, e) != DZ_OK)
        return dz_wrap(e, "field '%s'", field);
    *set |= bit;
    return DZ_OK;
}

/* Adapters so one decode_enum serves every enumeration. */
static dz_code p_tlp(const char *s, int *o, dz_err *e) { tlp_level v; dz_code rc = tlp_parse(s, &v, e); *o = (int)v; return rc; }
static dz_code p_pap(const char *s, int *o, dz_err *e) { pap_level v; dz_code rc = pap_parse(s, &v, e); *o = (int)v; return rc; }
static dz_code p_sev(const char *s, int *o, dz_err *e) { severity_level v; dz_code rc = severity_parse(s, &v, e); *o = (int)v; return rc; }
static dz_code p_status(const char *s, int *o, dz_err *e) { incident_status v; dz_code rc = status_parse(s, &v, e); *o = (int)v; return rc; }

dz_code decode_incident(const char *body, size_t len, bool is_create, incident_fields *out, dz_err *e)
{
    static const char *const known[] = {"title", "description", "classification", "tlp", "pap", "severity",
                                        "status", "assignee", "constituents", "tags", "due_at", NULL};
    static const char *const computed[] = {"id", "created_at", "updated_at", "duplicate_of", "metrics",
                                           "reports", "created_by", NULL};
    json_t *root;
    memset(out, 0, sizeof *out);
    if (parse_object(body, len, &root, e) != DZ_OK)
        return e->code;
    dz_code rc = check_keys(root, known, computed, e);
    bool present = false;
    int tmp = 0;
    if (rc == DZ_OK && (rc = get_string(root, "title", 1, INCIDENT_TITLE_MAX, false, &out->title, &present, e)) == DZ_OK && present) {
        if (!out->title)
            rc = dz_fail(e, DZ_EINVAL, "field 'title' must not be null");
        out->set |= INCF_TITLE;
    }
    if (rc == DZ_OK && (rc = get_string(root, "description", 0, INCIDENT_DESCRIPTION_MAX, true, &out->description, &present, e)) == DZ_OK && present)
        out->set |= INCF_DESCRIPTION;
    json_t *cl = json_object_get(root, "classification");
    if (rc == DZ_OK && cl && !json_is_null(cl)) {
        rc = decode_classification(cl, &out->classification, e);
        out->set |= INCF_CLASSIFICATION;
    }
    if (rc == DZ_OK && (rc = decode_enum(root, "tlp", INCF_TLP, &out->set, p_tlp, &tmp, e)) == DZ_OK && (out->set & INCF_TLP))
        out->tlp = (tlp_level)tmp;
    if (rc == DZ_OK && (rc = decode_enum(root, "pap", INCF_PAP, &out->set, p_pap, &tmp, e)) == DZ_OK && (out->set & INCF_PAP))
        out->pap = (pap_level)tmp;
    if (rc == DZ_OK && (rc = decode_enum(root, "severity", INCF_SEVERITY, &out->set, p_sev, &tmp, e)) == DZ_OK && (out->set & INCF_SEVERITY))
        out->severity = (severity_level)tmp;
    if (rc == DZ_OK && (rc = decode_enum(root, "status", INCF_STATUS, &out->set, p_status, &tmp, e)) == DZ_OK && (out->set & INCF_STATUS))
        out->status = (incident_status)tmp;
    if (rc == DZ_OK && (rc = get_string(root, "assignee", 1, 64, false, &out->assignee, &present, e)) == DZ_OK && present) {
        if (out->assignee && !name_valid(out->assignee))
            rc = dz_fail(e, DZ_EINVAL, "field 'assignee' is not a valid user name");
        out->set |= INCF_ASSIGNEE;
    }
    if (rc == DZ_OK && json_object_get(root, "constituents")) {
        rc = get_string_list(root, "constituents", 64, true, &out->constituents, &out->n_constituents, e);
        out->set |= INCF_CONSTITUENTS;
    }
    if (rc == DZ_OK && json_object_get(root, "tags")) {
        rc = get_string_list(root, "tags", TAG_MAX, false, &out->tags, &out->n_tags, e);
        out->set |= INCF_TAGS;
    }
    bool is_null;
    if (rc == DZ_OK && (rc = get_time(root, "due_at", &out->due_at, &present, &is_null, e)) == DZ_OK && present) {
        if (is_null)
            out->due_at = 0;
        out->set |= INCF_DUE_AT;
    }
    if (rc == DZ_OK && is_create && !(out->set & INCF_TITLE))
        rc = dz_fail(e, DZ_EINVAL, "field 'title' is required");
    if (rc == DZ_OK && is_create && (out->set & INCF_STATUS) && out->status != STATUS_NEW)
        rc = dz_fail(e, DZ_EINVAL, "field 'status': a new incident starts as 'new'");
    if (rc == DZ_OK && !is_create && out->set == 0)
        rc = dz_fail(e, DZ_EINVAL, "nothing to change: give at least one of title, description, "
                                   "classification, tlp, pap, severity, status, assignee, constituents, tags, due_at");
    json_decref(root);
    if (rc != DZ_OK)
        incident_fields_free(out);
    return rc;
}

/* ---- notes, tasks ---- */

dz_code decode_note(const char *body, size_t len, note_input *out, dz_err *e)
{
    static const char *const known[] = {"body", "shared", "visibility", NULL};
    json_t *root;
    memset(out, 0, sizeof *out);
    if (parse_object(body, len, &root, e) != DZ_OK)
        return e->code;
    dz_code rc = check_keys(root, known, NULL, e);
    if (rc == DZ_OK)
        rc = get_required_string(root, "body", INCIDENT_DESCRIPTION_MAX, true, &out->body, e);
    json_t *sh = json_object_get(root, "shared"), *vis = json_object_get(root, "visibility");
    if (rc == DZ_OK && sh) {
        if (!json_is_boolean(sh))
            rc = dz_fail(e, DZ_EINVAL, "field 'shared' must be true or false");
        out->shared = json_is_true(sh);
    }
    if (rc == DZ_OK && vis) {
        const char *v = json_string_value(vis);
        if (v && strcmp(v, "shared") == 0)
            out->shared = true;
        else if (v && strcmp(v, "internal") == 0)
            out->shared = false;
        else
            rc = dz_fail(e, DZ_EINVAL, "field 'visibility' must be \"internal\" or \"shared\"");
        if (rc == DZ_OK && sh && json_is_true(sh) != out->shared)
            rc = dz_fail(e, DZ_EINVAL, "fields 'shared' and 'visibility' disagree");
    }
    json_decref(root);
    if (rc != DZ_OK)
        note_input_free(out);
    return rc;
}

void note_input_free(note_input *n)
{
    free(n->body);
    memset(n, 0, sizeof *n);
}

static const char *const task_status_names[] = {"open", "in_progress", "done", "cancelled"};

const char *task_status_name(task_status s)
{
    return (unsigned)s < 4 ? task_status_names[s] : "?";
}

dz_code decode_task(const char *body, size_t len, bool is_create, task_input *out, dz_err *e)
{
    static const char *const known[] = {"title", "status", "assignee", "due_at", NULL};
    static const char *const computed[] = {"id", "created_at", "updated_at", NULL};
    json_t *root;
    memset(out, 0, sizeof *out);
    if (parse_object(body, len, &root, e) != DZ_OK)
        return e->code;
    bool present = false, is_null = false;
    dz_code rc = check_keys(root, known, computed, e);
    if (rc == DZ_OK && (rc = get_string(root, "title", 1, INCIDENT_TITLE_MAX, false, &out->title, &present, e)) == DZ_OK && out->title)
        out->set |= TASKF_TITLE;
    json_t *st = json_object_get(root, "status");
    if (rc == DZ_OK && st) {
        const char *s = json_string_value(st);
        int i = 0;
        for (; s && i < 4; i++)
            if (strcmp(s, task_status_names[i]) == 0)
                break;
        if (!s || i == 4)
            rc = dz_fail(e, DZ_EINVAL, "field 'status' must be one of open, in_progress, done, cancelled");
        out->status = (task_status)i;
        out->set |= TASKF_STATUS;
    }
    if (rc == DZ_OK && (rc = get_string(root, "assignee", 1, 64, false, &out->assignee, &present, e)) == DZ_OK && present) {
        if (out->assignee && !name_valid(out->assignee))
            rc = dz_fail(e, DZ_EINVAL, "field 'assignee' is not a valid user name");
        out->set |= TASKF_ASSIGNEE;
    }
    if (rc == DZ_OK && (rc = get_time(root, "due_at", &out->due_at, &present, &is_null, e)) == DZ_OK && present) {
        if (is_null)
            out->due_at = 0;
        out->set |= TASKF_DUE_AT;
    }
    if (rc == DZ_OK && is_create && !(out->set & TASKF_TITLE))
        rc = dz_fail(e, DZ_EINVAL, "field 'title' is required");
    if (rc == DZ_OK && !is_create && !out->set)
        rc = dz_fail(e, DZ_EINVAL, "nothing to change: give title, status, assignee or due_at");
    json_decref(root);
    if (rc != DZ_OK)
        task_input_free(out);
    return rc;
}

void task_input_free(task_input *t)
{
    free(t->title);
    free(t->assignee);
    memset(t, 0, sizeof *t);
}

/* ---- reports ---- */

dz_code decode_report(const char *body, size_t len, report_input *out, dz_err *e)
{
    static const char *const known[] = {"source", "source_ref", "title", "body", "reporter", "constituent",
                                        "incident", NULL};
    static const char *const computed[] = {"id", "created_at", "created_by", NULL};
    json_t *root;
    memset(out, 0, sizeof *out);
    if (parse_object(body, len, &root, e) != DZ_OK)
        return e->code;
    dz_code rc = check_keys(root, known, computed, e);
    if (rc == DZ_OK)
        rc = get_required_string(root, "source", 64, false, &out->source, e);
    if (rc == DZ_OK && !name_valid(out->source))
        rc = dz_fail(e, DZ_EINVAL, "field 'source' must be a short name such as \"email\", \"web\", \"phone\" "
                                   "or a partner's name ([A-Za-z0-9._@-], at most 64)");
    if (rc == DZ_OK)
        rc = get_required_string(root, "source_ref", 256, false, &out->source_ref, e);
    if (rc == DZ_OK)
        rc = get_string(root, "title", 1, INCIDENT_TITLE_MAX, false, &out->title, NULL, e);
    if (rc == DZ_OK)
        rc = get_string(root, "body", 0, INCIDENT_DESCRIPTION_MAX, true, &out->body, NULL, e);
    if (rc == DZ_OK)
        rc = get_string(root, "constituent", 1, 64, false, &out->constituent, NULL, e);
    if (rc == DZ_OK)
        rc = get_string(root, "incident", 1, PUBLIC_ID_MAX, false, &out->incident, NULL, e);
    json_t *rep = json_object_get(root, "reporter");
    if (rc == DZ_OK && rep && !json_is_null(rep)) {
        static const char *const rkeys[] = {"name", "email", "phone", NULL};
        if (!json_is_object(rep))
            rc = dz_fail(e, DZ_EINVAL, "field 'reporter' must be an object {\"name\", \"email\", \"phone\"}");
        if (rc == DZ_OK && check_keys(rep, rkeys, NULL, e) != DZ_OK)
            rc = dz_wrap(e, "field 'reporter'");
        if (rc == DZ_OK)
            rc = get_string(rep, "name", 1, 200, false, &out->reporter_name, NULL, e);
        if (rc == DZ_OK)
            rc = get_string(rep, "email", 3, 254, false, &out->reporter_email, NULL, e);
        if (rc == DZ_OK && out->reporter_email && !strchr(out->reporter_email, '@'))
            rc = dz_fail(e, DZ_EINVAL, "field 'reporter.email' is not an e-mail address");
        if (rc == DZ_OK)
            rc = get_string(rep, "phone", 1, 64, false, &out->reporter_phone, NULL, e);
    }
    json_decref(root);
    if (rc != DZ_OK)
        report_input_free(out);
    return rc;
}

void report_input_free(report_input *r)
{
    free(r->source);
    free(r->source_ref);
    free(r->title);
    free(r->body);
    free(r->reporter_name);
    free(r->reporter_email);
    free(r->reporter_phone);
    free(r->constituent);
    free(r->incident);
    memset(r, 0, sizeof *r);
}

/* ---- merge, login, single fields ---- */

dz_code decode_merge(const char *body, size_t len, merge_input *out, dz_err *e)
{
    static const char *const known[] = {"into", "from", NULL};
    json_t *root;
    memset(out, 0, sizeof *out);
    if (parse_object(body, len, &root, e) != DZ_OK)
        return e->code;
    dz_code rc = check_keys(root, known, NULL, e);
    if (rc == DZ_OK)
        rc = get_string(root, "into", 1, PUBLIC_ID_MAX, false, &out->into, NULL, e);
    json_t *from = json_object_get(root, "from");
    if (rc == DZ_OK && json_is_string(from)) {
        /* One id: the same rules as an item of the list form, not a silent cut at PUBLIC_ID_MAX. */
        const char *s = json_string_value(from);
        size_t n = json_string_length(from);
        if (n == 0 || n > PUBLIC_ID_MAX || memchr(s, '\0', n) || !utf8_valid_no_ctl(s, n, false))
            rc = dz_fail(e, DZ_EINVAL, "field 'from' must be a non-empty string of at most %d bytes", PUBLIC_ID_MAX);
        else if (!(out->from = calloc(1, sizeof *out->from)) || !(out->from[0] = strdup(s)))
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        else
            out->n_from = 1;
    } else if (rc == DZ_OK && from) {
        rc = get_string_list(root, "from", PUBLIC_ID_MAX, false, &out->from, &out->n_from, e);
    }
    if (rc == DZ_OK && !out->into == !out->n_from)
        rc = dz_fail(e, DZ_EINVAL, "give either 'into' (merge this incident into another) or 'from' "
                                   "(merge others into this one)");
    json_decref(root);
    if (rc != DZ_OK)
        merge_input_free(out);
    return rc;
}

void merge_input_free(merge_input *m)
{
    free(m->into);
    for (size_t i = 0; i < m->n_from; i++)
        free(m->from[i]);
    free(m->from);
    memset(m, 0, sizeof *m);
}

dz_code decode_login(const char *body, size_t len, login_input *out, dz_err *e)
{
    static const char *const known[] = {"username", "password", NULL};
    json_t *root;
    memset(out, 0, sizeof *out);
    if (parse_object(body, len, &root, e) != DZ_OK)
        return e->code;
    dz_code rc = check_keys(root, known, NULL, e);
    if (rc == DZ_OK)
        rc = get_required_string(root, "username", 64, false, &out->username, e);
    if (rc == DZ_OK) {
        json_t *p = json_object_get(root, "password");
        if (!json_is_string(p) || json_string_length(p) == 0 || json_string_length(p) > 1024)
            rc = dz_fail(e, DZ_EINVAL, "field 'password' must be a non-empty string of at most 1024 bytes");
        else
            out->password = strndup(json_string_value(p), json_string_length(p));
    }
    json_decref(root);
    if (rc != DZ_OK)
        login_input_free(out);
    return rc;
}

void login_input_free(login_input *l)
{
    free(l->username);
    if (l->password)
        memset(l->password, 0, strlen(l->password));
    free(l->password);
    memset(l, 0, sizeof *l);
}

dz_code decode_string_field(const char *body, size_t len, const char *field, char **out, dz_err *e)
{
    json_t *root;
    *out = NULL;
    if (parse_object(body, len, &root, e) != DZ_OK)
        return e->code;
    const char *known[] = {field, NULL};
    dz_code rc = check_keys(root, known, NULL, e);
    if (rc == DZ_OK)
        rc = get_required_string(root, field, 256, false, out, e);
    json_decref(root);
    return rc;
}
