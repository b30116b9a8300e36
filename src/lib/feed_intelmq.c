/*
 * feed_intelmq.c: IntelMQ events, one JSON object per line (what IntelMQ's file output
 * and its JSON lines exports write), as dzong events. docs/feeds.md has the rules.
 *
 * Every member is a harmonized key, checked and normalised by the event model: strings
 * through event_set, numbers and booleans through the typed setters, null is left out.
 * "__type" must be "Event". "extra" (an object, or a JSON string holding one, as
 * IntelMQ stores it) is flattened into extra.<k> keys (nested objects: extra.<k>.<k2>);
 * an array value anywhere under extra becomes its JSON text. A line that is not a JSON
 * object, or has an unknown key or a value the event model refuses, is refused with the
 * key and the reason. The event's own feed.name, feed.provider and time.observation are
 * kept; --feed-name and --observation-time override them, and they are filled in when
 * absent. "raw" is kept; with opt->raw an event without one gets the line.
 */
#include "lib/feed.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct im_parser {
    feed_ctx c;
    char why[600];
} im_parser;

/* Sets one scalar; DZ_EINVAL with p->why set. */
static dz_code set_json(im_parser *p, const char *key, const json_t *v)
{
    dz_err fe = {0};
    dz_code rc;
    event *ev = p->c.ev;
    switch (json_typeof(v)) {
    case JSON_STRING: rc = event_set(ev, key, json_string_value(v), json_string_length(v), &fe); break;
    case JSON_INTEGER: rc = event_set_int(ev, key, json_integer_value(v), &fe); break;
    case JSON_REAL: rc = event_set_float(ev, key, json_real_value(v), &fe); break;
    case JSON_TRUE:
    case JSON_FALSE: rc = event_set_bool(ev, key, json_is_true(v), &fe); break;
    case JSON_NULL: return DZ_OK;
    case JSON_ARRAY:
        if (strncmp(key, "extra.", 6) == 0) {
            char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!t)
                return DZ_ENOMEM;
            rc = event_set(ev, key, t, strlen(t), &fe);
            free(t);
            break;
        }
        /* fall through */
    default:
        snprintf(p->why, sizeof p->why, "%.200s: expected a string, number or boolean", key);
        return DZ_EINVAL;
    }
    if (rc == DZ_EINVAL)
        snprintf(p->why, sizeof p->why, "%s", fe.msg);
    return rc;
}

/* extra's members under prefix ("extra"), recursively. */
static dz_code flatten(im_parser *p, const char *prefix, const json_t *o, int depth)
{
    if (depth > 16) {
        snprintf(p->why, sizeof p->why, "%.200s: nested too deeply", prefix);
        return DZ_EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        char key[256];
        int n = snprintf(key, sizeof key, "%s.%s", prefix, k);
        if (n < 0 || (size_t)n >= sizeof key) {
            snprintf(p->why, sizeof p->why, "%.100s.%.60s...: key too long", prefix, k);
            return DZ_EINVAL;
        }
        dz_code rc = json_is_object(v) ? flatten(p, key, v, depth + 1) : set_json(p, key, v);
        if (rc != DZ_OK)
            return rc;
    }
    return DZ_OK;
}

static dz_code do_object(im_parser *p, const json_t *o, uint64_t line, const char *s, size_t n)
{
    event *ev = p->c.ev;
    event_reset(ev);
    p->why[0] = '\0';
    dz_code rc = DZ_OK;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (strcmp(k, "__type") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), "Event") != 0) {
                snprintf(p->why, sizeof p->why, "__type: expected \"Event\"");
                rc = DZ_EINVAL;
            }
        } else if (strcmp(k, "extra") == 0) {
            if (json_is_object(v)) {
                rc = flatten(p, "extra", v, 0);
            } else if (json_is_string(v)) {
                json_error_t je;
                json_t *x = json_loadb(json_string_value(v), json_string_length(v), JSON_REJECT_DUPLICATES, &je);
                if (!json_is_object(x)) {
                    snprintf(p->why, sizeof p->why, "extra: the string is not a JSON object");
                    rc = DZ_EINVAL;
                } else {
                    rc = flatten(p, "extra", x, 0);
                }
                json_decref(x);
            } else if (!json_is_null(v)) {
                snprintf(p->why, sizeof p->why, "extra: expected an object");
                rc = DZ_EINVAL;
            }
        } else if (json_is_object(v)) {
            if (strncmp(k, "extra.", 6) == 0) {
                rc = flatten(p, k, v, 0);
            } else {
                snprintf(p->why, sizeof p->why, "%.200s: expected a string, number or boolean", k);
                rc = DZ_EINVAL;
            }
        } else {
            rc = set_json(p, k, v);
        }
        if (rc != DZ_OK)
            break;
    }
    if (rc == DZ_EINVAL) {
        feed_ctx_refuse(&p->c, line, s, n, "%s", p->why);
        return DZ_OK;
    }
    if (rc != DZ_OK)
        return rc;
    if (event_count(ev) == 0) {
        feed_ctx_refuse(&p->c, line, s, n, "an event without fields");
        return DZ_OK;
    }
    /* the event's own feed.name, feed.provider and time.observation win unless overridden */
    const feed_options *opt = p->c.opt;
    dz_err fe;
    if (opt->feed_name && *opt->feed_name)
        event_unset(ev, "feed.name");
    if (opt->observation_time)
        event_unset(ev, "time.observation");
    if (!event_get(ev, "feed.name")) {
        const char *name = opt->feed_name && *opt->feed_name ? opt->feed_name : p->c.default_name;
        if (event_set(ev, "feed.name", name, strlen(name), &fe) == DZ_ENOMEM)
            return DZ_ENOMEM;
    }
    if (!event_get(ev, "time.observation")) {
        const char *obs = opt->observation_time ? opt->observation_time : p->c.now;
        if (event_set(ev, "time.observation", obs, strlen(obs), &fe) == DZ_ENOMEM)
            return DZ_ENOMEM;
    }
    bool had_raw = event_get(ev, "raw") != NULL;
    if (opt->raw && !had_raw) {
        strbuf_reset(&p->c.b64);
        feed_base64_append(&p->c.b64, s, n);
        if (p->c.b64.oom || event_set(ev, "raw", p->c.b64.buf, p->c.b64.len, &fe) == DZ_ENOMEM)
            return DZ_ENOMEM;
    }
    if (p->c.on_event && p->c.on_event(p->c.arg, ev, line) != 0)
        p->c.stop = true;
    return DZ_OK;
}

dz_code feed_intelmq_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                           feed_error_fn on_error, void *arg, dz_err *e)
{
    im_parser *p = calloc(1, sizeof *p);
    if (!p)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    feed_lines lr;
    feed_lines_init(&lr, read, read_arg, FEED_MAX_LINE);
    dz_code rc = feed_ctx_init(&p->c, opt, "IntelMQ", NULL, on_event, on_error, arg, e);
    while (rc == DZ_OK && !p->c.stop) {
        const char *s;
        size_t n;
        uint64_t line;
        int got = feed_next_line(&lr, &p->c, &s, &n, &line, e);
        if (got == FEED_LINE_END)
            break;
        if (got == FEED_LINE_FAIL) {
            rc = e->code;
            break;
        }
        json_t *o = feed_json_object(&p->c, line, s, n, JSON_REJECT_DUPLICATES);
        if (!o)
            continue;
        rc = do_object(p, o, line, s, n);
        json_decref(o);
        if (rc != DZ_OK)
            rc = dz_fail(e, rc, "out of memory");
    }
    feed_lines_free(&lr);
    feed_ctx_free(&p->c);
    free(p);
    return rc;
}
