/*
 * template: the text templates of notifications (digests, incident notices).
 *
 * Operators edit them in the data directory, so a template is compiled
 * first, against the variables its kind declares, and only a template that
 * compiled is ever rendered: a mistake is refused with its line and reason,
 * never sent half-rendered. Rendering cannot fail (except out of memory).
 *
 * Syntax (a small, logic-less subset of Mustache, for plain-text mail):
 *   {{name}}               the value of name, as is (no escaping: text/plain)
 *   {{#name}}...{{/name}}  a list: the inside once per item, whose fields are
 *                          names there (outer names stay visible); any other
 *                          value: the inside once when it is "true" (a
 *                          non-empty string, a non-zero number, true)
 *   {{^name}}...{{/name}}  the inside once when name is not "true" (an
 *                          empty list, "", 0, false, null, absent)
 *   {{! comment }}         nothing
 * Names are [a-z0-9_.]{1,64}. A tag that stands alone on its line (a
 * section tag or comment with only blanks around it) takes its line with it,
 * so sections do not leave blank lines. Anything else in {{ }} is an error,
 * as are unknown names, a scalar used as a list's field or a list used as a
 * value, unclosed or crossed sections, and a template over 1 MiB.
 */
#ifndef DZ_TEMPLATE_H
#define DZ_TEMPLATE_H
#include <jansson.h>
#include <stddef.h>
#include "lib/dz_err.h"
#include "lib/strbuf.h"

/* What a kind of template may use. A list has fields (its items'); a value has none. Arrays end with {NULL}. */
typedef struct template_var {
    const char *name;
    const struct template_var *fields; /* non-NULL: a list of objects with these fields */
    const char *doc;                   /* one line for docs/notifications.md */
} template_var;

typedef struct template template;

/*
 * Compiles text (len bytes, UTF-8, no NUL) named name (for messages:
 * "digest.en.txt"). vars: what it may use. Errors are DZ_EINVAL with
 * "NAME:LINE: reason" ("digest.en.txt:12: unknown variable 'orgnisation'").
 */
dz_code template_compile(const char *name, const char *text, size_t len, const template_var *vars, template **out,
                         dz_err *e);
void template_free(template *t);

/*
 * Appends the rendering of t over data (a JSON object: strings, integers,
 * reals, booleans, null; lists are arrays of objects) to out. A name with
 * no value renders as "". Integers print in decimal, reals with %g.
 */
void template_render(const template *t, const json_t *data, strbuf *out);

#endif
