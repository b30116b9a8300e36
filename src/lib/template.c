/*
 * template: compiles a Mustache subset to a flat instruction list, checked
 * against the declared variables, and renders it.
 *
 * Compiling resolves every name once: to the scope it lives in (0 = the
 * data object, k = the item of the k-th enclosing list section) and to
 * whether it is a list. Sections become a begin and an end instruction that
 * point at each other, so rendering is a loop over the instructions with a
 * small stack of list positions: no recursion, no name resolution, no
 * failure other than out of memory (which strbuf records).
 */
#include "lib/template.h"
#include "lib/utf8.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TPL_MAX_SIZE (1024u * 1024u)
#define TPL_MAX_DEPTH 16
#define TPL_MAX_NAME 64

enum { OP_TEXT, OP_VAR, OP_SECTION, OP_INVERTED, OP_END };

typedef struct insn {
    uint8_t op;
    uint8_t is_list;  /* OP_SECTION/OP_END: iterates over a list, pushing a scope */
    uint8_t scope;    /* OP_VAR/OP_SECTION/OP_INVERTED: where the name is looked up */
    uint32_t off, len; /* OP_TEXT: bytes in t->text; others: the name in t->names */
    uint32_t jump;    /* OP_SECTION/OP_INVERTED: its OP_END; OP_END: its begin */
} insn;

struct template {
    char *text;  /* the literal text pieces, back to back */
    char *names; /* NUL-terminated names */
    insn *code;
    size_t n;
};

/* ---- compiling ---- */

typedef struct open_section {
    size_t insn;            /* its begin instruction */
    unsigned line;
    const template_var *var; /* the section's variable */
    bool pushes;            /* a list section: its fields are a new scope */
} open_section;

typedef struct compiler {
    const char *name;
    const char *src;
    size_t len;
    const template_var *root;
    strbuf text, names;
    insn *code;
    size_t n, cap;
    open_section open[TPL_MAX_DEPTH];
    size_t depth;
    /* the scopes visible now: [0] the root variables, then one per open list section */
    const template_var *scopes[TPL_MAX_DEPTH + 1];
    size_t nscopes;
    bool oom;
} compiler;

static dz_code fail_at(compiler *c, dz_err *e, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static dz_code fail_at(compiler *c, dz_err *e, unsigned line, const char *fmt, ...)
{
    char reason[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return dz_fail(e, DZ_EINVAL, "%.80s:%u: %s", c->name, line, reason);
}

static insn *emit(compiler *c, int op)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 32;
        insn *p = realloc(c->code, nc * sizeof *p);
        if (!p) {
            c->oom = true;
            return NULL;
        }
        c->code = p;
        c->cap = nc;
    }
    insn *i = &c->code[c->n++];
    memset(i, 0, sizeof *i);
    i->op = (uint8_t)op;
    return i;
}

static void emit_text(compiler *c, size_t from, size_t to)
{
    if (to <= from)
        return;
    /* adjacent pieces (around a comment) merge into one instruction */
    if (c->n && c->code[c->n - 1].op == OP_TEXT && c->code[c->n - 1].off + c->code[c->n - 1].len == c->text.len) {
        c->code[c->n - 1].len += (uint32_t)(to - from);
    } else {
        insn *i = emit(c, OP_TEXT);
        if (!i)
            return;
        i->off = (uint32_t)c->text.len;
        i->len = (uint32_t)(to - from);
    }
    strbuf_append(&c->text, c->src + from, to - from);
}

static const template_var *find_var(const template_var *vars, const char *name, size_t len)
{
    for (const template_var *v = vars; v && v->name; v++)
        if (strlen(v->name) == len && memcmp(v->name, name, len) == 0)
            return v;
    return NULL;
}

/* The innermost scope that declares name, or -1. */
static int resolve(const compiler *c, const char *name, size_t len, const template_var **out)
{
    for (size_t s = c->nscopes; s-- > 0;) {
        const template_var *v = find_var(c->scopes[s], name, len);
        if (v) {
            *out = v;
            return (int)s;
        }
    }
    return -1;
}

static bool name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.';
}

static bool blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Checks the whole text first, so the tag scanner can trust it: UTF-8 and no NUL. */
static dz_code check_text(compiler *c, dz_err *e)
{
    const unsigned char *s = (const unsigned char *)c->src;
    unsigned line = 1;
    for (size_t i = 0; i < c->len;) {
        if (s[i] == '\n')
            line++;
        if (s[i] == 0)
            return fail_at(c, e, line, "NUL byte");
        size_t k = utf8_char_len(s + i, c->len - i);
        if (k == 0)
            return fail_at(c, e, line, "invalid UTF-8");
        i += k;
    }
    return DZ_OK;
}

/* Compiles one tag whose inside is src[a..b), on line line. */
static dz_code compile_tag(compiler *c, size_t a, size_t b, unsigned line, dz_err *e)
{
    const char *s = c->src;
    char sigil = 0;
    size_t p = a;
    while (p < b && blank(s[p]))
        p++;
    if (p < b && (s[p] == '#' || s[p] == '^' || s[p] == '/' || s[p] == '!')) {
        sigil = s[p++];
        if (sigil == '!')
            return DZ_OK;
        while (p < b && blank(s[p]))
            p++;
    }
    size_t q = b;
    while (q > p && blank(s[q - 1]))
        q--;
    size_t nlen = q - p;
    bool ok = nlen >= 1 && nlen <= TPL_MAX_NAME;
    for (size_t i = p; ok && i < q; i++)
        ok = name_char(s[i]);
    if (!ok) {
        size_t show = b - a > 40 ? 40 : b - a;
        if (nlen == 0 || nlen > TPL_MAX_NAME || sigil)
            return fail_at(c, e, line, "invalid tag '{{%.*s%s}}' (names are [a-z0-9_.], 1 to 64)", (int)show,
                           s + a, show < b - a ? "..." : "");
        return fail_at(c, e, line, "invalid tag '{{%.*s%s}}'", (int)show, s + a, show < b - a ? "..." : "");
    }
    const char *name = s + p;

    if (sigil == '/') {
        if (c->depth == 0)
            return fail_at(c, e, line, "'{{/%.*s}}' closes no section", (int)nlen, name);
        open_section *o = &c->open[c->depth - 1];
        if (strlen(o->var->name) != nlen || memcmp(o->var->name, name, nlen) != 0)
            return fail_at(c, e, line, "'{{/%.*s}}' closes '%s'", (int)nlen, name, o->var->name);
        insn *i = emit(c, OP_END);
        if (!i)
            return DZ_ENOMEM;
        insn *begin = &c->code[o->insn];
        i->jump = (uint32_t)o->insn;
        i->is_list = begin->is_list;
        i->scope = begin->scope;
        begin->jump = (uint32_t)(c->n - 1);
        if (o->pushes)
            c->nscopes--;
        c->depth--;
        return DZ_OK;
    }

    const template_var *v;
    int scope = resolve(c, name, nlen, &v);
    if (scope < 0)
        return fail_at(c, e, line, "unknown variable '%.*s'", (int)nlen, name);
    bool is_list = v->fields != NULL;
    if (!sigil) {
        if (is_list)
            return fail_at(c, e, line, "'%.*s' is a list, not a value (use {{#%.*s}}...{{/%.*s}})", (int)nlen, name,
                           (int)nlen, name, (int)nlen, name);
    } else if (c->depth == TPL_MAX_DEPTH) {
        return fail_at(c, e, line, "sections nested deeper than %d", TPL_MAX_DEPTH);
    } else if (sigil == '#' && is_list) {
        /* a list inside itself repeats the whole list per item: k levels render n^k copies */
        for (size_t d = 0; d < c->depth; d++)
            if (c->open[d].pushes && c->open[d].var == v)
                return fail_at(c, e, line, "'{{#%.*s}}' inside '{{#%.*s}}' (line %u): a list cannot be repeated inside itself",
                               (int)nlen, name, (int)nlen, name, c->open[d].line);
    }
    insn *i = emit(c, !sigil ? OP_VAR : sigil == '#' ? OP_SECTION : OP_INVERTED);
    if (!i)
        return DZ_ENOMEM;
    i->scope = (uint8_t)scope;
    i->off = (uint32_t)c->names.len;
    i->len = (uint32_t)nlen;
    strbuf_append(&c->names, name, nlen);
    strbuf_append(&c->names, "", 1);
    if (sigil) {
        bool pushes = sigil == '#' && is_list;
        i->is_list = pushes;
        c->open[c->depth++] = (open_section){.insn = c->n - 1, .line = line, .var = v, .pushes = pushes};
        if (pushes)
            c->scopes[c->nscopes++] = v->fields;
    }
    return DZ_OK;
}

static unsigned count_lines(const char *s, size_t n)
{
    unsigned k = 0;
    for (const char *p = s, *end = s + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
        k++;
    return k;
}

/* The position of the pair "xx" in s[from..n), or n. */
static size_t find_pair(const char *s, size_t from, size_t n, char x)
{
    while (from + 1 < n) {
        const char *p = memchr(s + from, x, n - from - 1);
        if (!p)
            break;
        size_t i = (size_t)(p - s);
        if (s[i + 1] == x)
            return i;
        from = i + 1;
    }
    return n;
}

static dz_code compile(compiler *c, dz_err *e)
{
    dz_code rc = check_text(c, e);
    if (rc)
        return rc;
    const char *s = c->src;
    size_t n = c->len;
    size_t seg = 0;   /* start of the text not yet emitted */
    unsigned line = 1; /* the line of s[seg] */
    for (;;) {
        size_t p = find_pair(s, seg, n, '{');
        if (p == n)
            break;
        unsigned tag_line = line + count_lines(s + seg, p - seg);
        size_t close = find_pair(s, p + 2, n, '}');
        if (close == n)
            return fail_at(c, e, tag_line, "unterminated tag");
        size_t q = close + 2; /* just past the tag */
        char sigil = 0;
        for (size_t k = p + 2; k < q - 2; k++)
            if (!blank(s[k])) {
                sigil = s[k];
                break;
            }

        /* a section tag or comment alone on its line takes the line with it */
        size_t text_end = p, next = q;
        if (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '!') {
            size_t ls = p;
            while (ls > seg && blank(s[ls - 1]))
                ls--;
            size_t r = q;
            while (r < n && blank(s[r]))
                r++;
            bool after = r == n || s[r] == '\n' || (s[r] == '\r' && r + 1 < n && s[r + 1] == '\n');
            if ((ls == 0 || s[ls - 1] == '\n') && after) {
                text_end = ls;
                next = r == n ? n : s[r] == '\n' ? r + 1 : r + 2;
            }
        }
        emit_text(c, seg, text_end);
        rc = compile_tag(c, p + 2, q - 2, tag_line, e);
        if (rc)
            return rc;
        if (c->oom)
            return DZ_ENOMEM;
        line = tag_line + count_lines(s + p, next - p);
        seg = next;
    }
    emit_text(c, seg, n);
    if (c->depth)
        return fail_at(c, e, c->open[c->depth - 1].line, "section '%s' is not closed",
                       c->open[c->depth - 1].var->name);
    if (c->oom || c->text.oom || c->names.oom)
        return DZ_ENOMEM;
    return DZ_OK;
}

dz_code template_compile(const char *name, const char *text, size_t len, const template_var *vars, template **out,
                         dz_err *e)
{
    *out = NULL;
    if (!name)
        name = "template";
    if (len > TPL_MAX_SIZE)
        return dz_fail(e, DZ_EINVAL, "%.80s: template of %zu bytes is over the limit of 1 MiB", name, len);
    if (!text || len == 0) {
        text = "";
        len = 0;
    }
    compiler c = {.name = name, .src = text, .len = len, .root = vars};
    strbuf_init(&c.text);
    strbuf_init(&c.names);
    c.scopes[c.nscopes++] = vars;
    dz_code rc = compile(&c, e);
    if (rc == DZ_OK) {
        template *t = calloc(1, sizeof *t);
        if (t) {
            /* never NULL, so rendering needs no checks */
            strbuf_append(&c.text, "", 0);
            strbuf_append(&c.names, "", 0);
            if (!c.text.oom && !c.names.oom) {
                t->text = strbuf_steal(&c.text);
                t->names = strbuf_steal(&c.names);
                t->code = c.code;
                t->n = c.n;
                *out = t;
                return DZ_OK;
            }
            free(t);
        }
        rc = DZ_ENOMEM;
    }
    if (rc == DZ_ENOMEM)
        dz_fail(e, DZ_ENOMEM, "%.80s: out of memory", name);
    free(c.code);
    strbuf_free(&c.text);
    strbuf_free(&c.names);
    return rc;
}

void template_free(template *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->names);
    free(t->code);
    free(t);
}

/* ---- rendering ---- */

static bool truthy(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_TRUE:
        return true;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_OBJECT:
        return true;
    default:
        return false;
    }
}

static void write_value(const json_t *v, strbuf *out)
{
    char num[64];
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        strbuf_append(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        strbuf_puts(out, num);
        break;
    case JSON_REAL:
        snprintf(num, sizeof num, "%g", json_real_value(v));
        strbuf_puts(out, num);
        break;
    case JSON_TRUE:
        strbuf_append(out, "true", 4);
        break;
    case JSON_FALSE:
        strbuf_append(out, "false", 5);
        break;
    default: /* null, and lists or objects where data does not match the declaration */
        break;
    }
}

typedef struct frame {
    const json_t *list; /* the array iterated, or NULL when the section ran once */
    size_t index;
} frame;

void template_render(const template *t, const json_t *data, strbuf *out)
{
    if (!t)
        return;
    /* scope[k]: the object names of scope k are looked up in */
    const json_t *scope[TPL_MAX_DEPTH + 1];
    frame frames[TPL_MAX_DEPTH + 1];
    size_t nframes = 0;
    scope[0] = data;
    size_t nscope = 1;
    for (size_t pc = 0; pc < t->n;) {
        const insn *i = &t->code[pc];
        switch (i->op) {
        case OP_TEXT:
            strbuf_append(out, t->text + i->off, i->len);
            pc++;
            break;
        case OP_VAR:
            write_value(json_object_get(scope[i->scope], t->names + i->off), out);
            pc++;
            break;
        case OP_INVERTED:
            pc = truthy(json_object_get(scope[i->scope], t->names + i->off)) ? i->jump + 1 : pc + 1;
            break;
        case OP_SECTION: {
            const json_t *v = json_object_get(scope[i->scope], t->names + i->off);
            if (!truthy(v)) {
                pc = i->jump + 1;
                break;
            }
            if (i->is_list) {
                /* a list declared but given one object: that object, once; other values: once, fields empty */
                bool arr = json_is_array(v);
                frames[nframes++] = (frame){arr ? v : NULL, 0};
                scope[nscope++] = arr ? json_array_get(v, 0) : json_is_object(v) ? v : NULL;
            }
            pc++;
            break;
        }
        case OP_END:
            if (i->is_list) {
                frame *f = &frames[nframes - 1];
                if (f->list && f->index + 1 < json_array_size(f->list)) {
                    f->index++;
                    scope[nscope - 1] = json_array_get(f->list, f->index);
                    pc = i->jump + 1;
                    break;
                }
                nframes--;
                nscope--;
            }
            pc++;
            break;
        default:
            pc++;
            break;
        }
    }
}
