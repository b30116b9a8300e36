/*
 * event_export: events kept compactly between parsing and writing.
 *
 * A digest may carry a million events, so nothing per event is a jansson
 * tree or a malloc. Each document is read by a strict scanner of its own
 * (RFC 8259 with jansson's rules: UTF-8 checked, no \u0000, the last of
 * duplicate keys wins; numbers are kept as written); jansson's json_loadb,
 * several times slower on these flat objects, parses only values that are
 * themselves objects or arrays. Each event is packed into one arena as its
 * fields in key order, each field: the key's id (uint32), a kind byte, the
 * value's length (uint32) and its bytes (a string's text, or the JSON text
 * of any other value). Key names are interned in a hash table once, so the
 * union of keys costs one lookup per field; the counts by classification
 * are kept the same way, per (taxonomy, type) pair.
 */
#include "lib/event_export.h"
#include "lib/utf8.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "lib/array_grow.h"
#include "lib/event.h"

enum { K_STRING, K_JSON, K_NULL };

#define FIELD_HEAD 9 /* key id, kind, length */
#define NO_RANK UINT32_MAX

/* ---- an interning hash table: bytes -> dense id ---- */

typedef struct istr {
    size_t off;  /* in names: the bytes and a NUL */
    uint32_t len;
    uint32_t hash;
} istr;

typedef struct itab {
    strbuf names;
    istr *v;
    size_t n, cap;
    uint32_t *slots; /* id + 1, 0: empty */
    size_t nslots;   /* a power of two, at least twice n */
} itab;

static uint32_t hash_bytes(const char *s, size_t n)
{
    /* FNV-1a: keys are short, and this is not exposed to hash flooding in a way that matters (one export) */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static void itab_clear(itab *t)
{
    strbuf_reset(&t->names);
    t->n = 0;
    if (t->slots)
        memset(t->slots, 0, t->nslots * sizeof *t->slots);
}

static void itab_free(itab *t)
{
    strbuf_free(&t->names);
    free(t->v);
    free(t->slots);
}

static const char *itab_name(const itab *t, uint32_t id)
{
    return t->names.buf + t->v[id].off;
}

static bool itab_rehash(itab *t, size_t nslots)
{
    uint32_t *s = calloc(nslots, sizeof *s);
    if (!s)
        return false;
    for (size_t id = 0; id < t->n; id++) {
        size_t j = t->v[id].hash & (nslots - 1);
        while (s[j])
            j = (j + 1) & (nslots - 1);
        s[j] = (uint32_t)id + 1;
    }
    free(t->slots);
    t->slots = s;
    t->nslots = nslots;
    return true;
}

/* The id of s, or -1 when absent. */
static int64_t itab_find(const itab *t, const char *s, size_t n, uint32_t h)
{
    if (!t->nslots)
        return -1;
    for (size_t j = h & (t->nslots - 1);; j = (j + 1) & (t->nslots - 1)) {
        uint32_t id = t->slots[j];
        if (!id)
            return -1;
        const istr *e = &t->v[id - 1];
        if (e->hash == h && e->len == n && memcmp(t->names.buf + e->off, s, n) == 0)
            return id - 1;
    }
}

/* The id of s, added when new (*added set); -1 when out of memory. */
static int64_t itab_intern(itab *t, const char *s, size_t n, bool *added)
{
    uint32_t h = hash_bytes(s, n);
    int64_t id = itab_find(t, s, n, h);
    *added = false;
    if (id >= 0)
        return id;
    if (n > UINT32_MAX || t->n >= UINT32_MAX - 1)
        return -1;
    if ((t->n + 1) * 2 > t->nslots && !itab_rehash(t, t->nslots ? t->nslots * 2 : 64))
        return -1;
    if (!array_grow((void **)&t->v, &t->cap, t->n, sizeof *t->v))
        return -1;
    size_t off = t->names.len;
    strbuf_append(&t->names, s, n);
    strbuf_append(&t->names, "", 1);
    if (t->names.oom)
        return -1;
    t->v[t->n] = (istr){off, (uint32_t)n, h};
    size_t j = h & (t->nslots - 1);
    while (t->slots[j])
        j = (j + 1) & (t->nslots - 1);
    t->slots[j] = (uint32_t)t->n + 1;
    *added = true;
    return (int64_t)t->n++;
}

/* ---- the export ---- */

typedef struct packed_event {
    size_t off; /* in arena */
    uint32_t nfields;
} packed_event;

/* One member of the document being added; its texts are in the document or in tmp (decoded). */
typedef struct member {
    size_t koff, voff;
    uint32_t klen, vlen;
    uint32_t index; /* its position in the document: the last of equal keys wins */
    uint8_t kind;
    uint8_t ktmp, vtmp;
    const char *key, *val; /* set once parsing is done (tmp no longer moves) */
} member;

struct event_export {
    itab known; /* the harmonization's fields: id = position */
    itab keys;  /* the keys seen */
    uint32_t *rank; /* per key: its position among the known fields, or NO_RANK */
    size_t rank_cap;
    itab pairs; /* "taxonomy\0type" */
    size_t *pair_count;
    size_t pair_cap;
    strbuf arena;
    packed_event *ev;
    size_t n, cap;
    member *m;
    size_t m_cap;
    strbuf tmp; /* decoded strings and nested values of the document being added */
    uint32_t *last_ids; /* the key ids of the event added last, in order */
    size_t last_n, last_cap;
};

dz_code event_export_new(event_export **out, dz_err *e)
{
    *out = NULL;
    event_export *x = calloc(1, sizeof *x);
    if (!x)
        return dz_fail(e, DZ_ENOMEM, "event export: out of memory");
    const char *k;
    for (size_t i = 0; (k = harmonization_key_at(i, NULL)) != NULL; i++) {
        bool added;
        if (itab_intern(&x->known, k, strlen(k), &added) < 0) {
            event_export_free(x);
            return dz_fail(e, DZ_ENOMEM, "event export: out of memory");
        }
    }
    *out = x;
    return DZ_OK;
}

void event_export_free(event_export *x)
{
    if (!x)
        return;
    itab_free(&x->known);
    itab_free(&x->keys);
    itab_free(&x->pairs);
    free(x->rank);
    free(x->pair_count);
    strbuf_free(&x->arena);
    free(x->ev);
    free(x->m);
    free(x->last_ids);
    strbuf_free(&x->tmp);
    free(x);
}

void event_export_reset(event_export *x)
{
    itab_clear(&x->keys);
    itab_clear(&x->pairs);
    strbuf_reset(&x->arena);
    x->n = 0;
    x->last_n = 0;
}

size_t event_export_count(const event_export *x)
{
    return x->n;
}

static void put_field(strbuf *a, uint32_t key, int kind, const char *s, size_t n)
{
    char head[FIELD_HEAD];
    uint32_t len = (uint32_t)n;
    memcpy(head, &key, 4);
    head[4] = (char)kind;
    memcpy(head + 5, &len, 4);
    if (!strbuf_reserve(a, FIELD_HEAD + n))
        return;
    memcpy(a->buf + a->len, head, FIELD_HEAD);
    memcpy(a->buf + a->len + FIELD_HEAD, s, n);
    a->len += FIELD_HEAD + n;
    a->buf[a->len] = '\0';
}

/* ---- the scanner ---- */

typedef struct scan {
    const char *s;
    size_t n, i;
    strbuf *tmp;
    const char *err; /* what went wrong, at i */
} scan;

static void skip_ws(scan *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static void put_utf8(strbuf *b, uint32_t cp)
{
    char u[4];
    size_t k;
    if (cp < 0x80) {
        u[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18);
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        k = 4;
    }
    strbuf_append(b, u, k);
}

/*
 * A string at c->i (after its opening quote). Without escapes it stays
 * where it is (*in_tmp false, *off into the document); with escapes it is
 * decoded into tmp.
 */
static bool scan_string(scan *c, size_t *off, size_t *len, bool *in_tmp)
{
    const unsigned char *s = (const unsigned char *)c->s;
    size_t start = c->i, i = c->i;
    bool esc = false;
    size_t tstart = c->tmp->len;
    size_t copied = start; /* with escapes: the document bytes up to here are in tmp */
    for (;;) {
        if (i >= c->n) {
            c->err = "unterminated string";
            return false;
        }
#ifdef __SSE2__
        /* 16 plain bytes at a time: no quote, backslash, control or 8-bit byte (signed: below 0x20) */
        while (i + 16 <= c->n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
            __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                       _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            int mask = _mm_movemask_epi8(hit);
            if (mask) {
                i += (size_t)__builtin_ctz((unsigned)mask);
                break;
            }
            i += 16;
        }
        if (i >= c->n)
            continue;
#endif
        unsigned char ch = s[i];
        if (ch == '"')
            break;
        if (ch < 0x20) {
            c->i = i;
            c->err = "control character in a string";
            return false;
        }
        if (ch >= 0x80) {
            size_t k = utf8_char_len(s + i, c->n - i);
            if (!k) {
                c->i = i;
                c->err = "invalid UTF-8";
                return false;
            }
            i += k;
            continue;
        }
        if (ch != '\\') {
            i++;
            continue;
        }
        esc = true;
        strbuf_append(c->tmp, c->s + copied, i - copied);
        if (i + 1 >= c->n) {
            c->err = "unterminated string";
            return false;
        }
        char e = c->s[i + 1];
        const char *rep = NULL;
        switch (e) {
        case '"': rep = "\""; break;
        case '\\': rep = "\\"; break;
        case '/': rep = "/"; break;
        case 'b': rep = "\b"; break;
        case 'f': rep = "\f"; break;
        case 'n': rep = "\n"; break;
        case 'r': rep = "\r"; break;
        case 't': rep = "\t"; break;
        case 'u': break;
        default:
            c->i = i;
            c->err = "invalid escape";
            return false;
        }
        if (rep) {
            strbuf_append(c->tmp, rep, 1);
            i += 2;
        } else {
            int v = i + 6 <= c->n ? hex4(c->s + i + 2) : -1;
            uint32_t cp = (uint32_t)v;
            i += 6;
            if (v >= 0xd800 && v <= 0xdbff) {
                int lo = i + 6 <= c->n && c->s[i] == '\\' && c->s[i + 1] == 'u' ? hex4(c->s + i + 2) : -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    v = -1;
                else
                    cp = 0x10000 + (((uint32_t)v - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
                i += 6;
            } else if (v >= 0xdc00 && v <= 0xdfff) {
                v = -1;
            }
            if (v <= 0) { /* also \u0000: jansson refuses NUL in strings */
                c->i = i - 6;
                c->err = "invalid \\u escape";
                return false;
            }
            put_utf8(c->tmp, cp);
        }
        copied = i;
    }
    if (esc) {
        strbuf_append(c->tmp, c->s + copied, i - copied);
        *off = tstart;
        *len = c->tmp->len - tstart;
    } else {
        *off = start;
        *len = i - start;
    }
    *in_tmp = esc;
    c->i = i + 1;
    return true;
}

/* A number (RFC 8259 grammar), kept as written: the stored documents are dzong's own JSON. */
static bool scan_number(scan *c, size_t *off, size_t *len)
{
    const char *s = c->s;
    size_t i = c->i, n = c->n;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        c->err = "invalid token";
        return false;
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9') {
            c->err = "invalid number";
            return false;
        }
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9') {
            c->err = "invalid number";
            return false;
        }
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    *off = c->i;
    *len = i - c->i;
    c->i = i;
    return true;
}

/* An object or array value: its extent found here, jansson parses it and writes it compact, keys sorted. */
static bool scan_nested(scan *c, size_t *off, size_t *len, json_error_t *je)
{
    size_t i = c->i, depth = 0;
    for (; i < c->n; i++) {
        char ch = c->s[i];
        if (ch == '"') {
            for (i++; i < c->n && c->s[i] != '"'; i++)
                if (c->s[i] == '\\')
                    i++;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (--depth == 0)
                break;
        }
    }
    if (i >= c->n) {
        c->err = "unterminated object or array";
        return false;
    }
    json_t *v = json_loadb(c->s + c->i, i + 1 - c->i, JSON_DECODE_ANY, je);
    if (!v) {
        c->err = je->text;
        return false;
    }
    char *d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(v);
    if (!d) {
        c->err = "out of memory";
        return false;
    }
    *off = c->tmp->len;
    *len = strlen(d);
    strbuf_append(c->tmp, d, *len);
    free(d);
    c->i = i + 1;
    return true;
}

static bool lit(scan *c, const char *word)
{
    size_t l = strlen(word);
    if (c->n - c->i >= l && memcmp(c->s + c->i, word, l) == 0) {
        c->i += l;
        return true;
    }
    c->err = "invalid token";
    return false;
}

/* Parses the document into x->m; *nm members. false: c->err says why. */
static bool scan_object(event_export *x, scan *c, size_t *nm, json_error_t *je)
{
    size_t k = 0;
    skip_ws(c);
    if (c->i >= c->n || c->s[c->i] != '{') {
        c->err = c->i >= c->n ? "empty document" : "not a JSON object";
        return false;
    }
    c->i++;
    skip_ws(c);
    if (c->i < c->n && c->s[c->i] == '}') {
        c->i++;
    } else {
        for (;;) {
            if (k == x->m_cap) {
                size_t nc = x->m_cap ? x->m_cap * 2 : 64;
                member *m = realloc(x->m, nc * sizeof *m);
                if (!m) {
                    c->err = "out of memory";
                    return false;
                }
                x->m = m;
                x->m_cap = nc;
            }
            member *m = &x->m[k];
            memset(m, 0, sizeof *m);
            m->index = (uint32_t)k;
            skip_ws(c);
            if (c->i >= c->n || c->s[c->i] != '"') {
                c->err = "string or '}' expected";
                return false;
            }
            c->i++;
            size_t off, len;
            bool in_tmp;
            if (!scan_string(c, &off, &len, &in_tmp))
                return false;
            if (len > UINT32_MAX) {
                c->err = "key too long";
                return false;
            }
            m->koff = off;
            m->klen = (uint32_t)len;
            m->ktmp = in_tmp;
            skip_ws(c);
            if (c->i >= c->n || c->s[c->i] != ':') {
                c->err = "':' expected";
                return false;
            }
            c->i++;
            skip_ws(c);
            if (c->i >= c->n) {
                c->err = "value expected";
                return false;
            }
            char ch = c->s[c->i];
            bool ok;
            m->vtmp = 1;
            if (ch == '"') {
                c->i++;
                m->kind = K_STRING;
                ok = scan_string(c, &off, &len, &in_tmp);
                m->vtmp = in_tmp;
            } else if (ch == '{' || ch == '[') {
                m->kind = K_JSON;
                ok = scan_nested(c, &off, &len, je);
            } else if (ch == 't' || ch == 'f' || ch == 'n') {
                const char *w = ch == 't' ? "true" : ch == 'f' ? "false" : "null";
                ok = lit(c, w);
                m->kind = ch == 'n' ? K_NULL : K_JSON;
                m->vtmp = 2; /* a constant */
                off = (size_t)(ch == 't' ? 0 : ch == 'f' ? 1 : 2);
                len = strlen(w);
            } else {
                m->kind = K_JSON;
                m->vtmp = 0;
                ok = scan_number(c, &off, &len);
            }
            if (!ok)
                return false;
            if (len > UINT32_MAX) {
                c->err = "value too long";
                return false;
            }
            m->voff = off;
            m->vlen = (uint32_t)len;
            k++;
            skip_ws(c);
            if (c->i < c->n && c->s[c->i] == ',') {
                c->i++;
                continue;
            }
            if (c->i < c->n && c->s[c->i] == '}') {
                c->i++;
                break;
            }
            c->err = "',' or '}' expected";
            return false;
        }
    }
    skip_ws(c);
    if (c->i != c->n) {
        c->err = "end of file expected";
        return false;
    }
    if (c->tmp->oom) {
        c->err = "out of memory";
        return false;
    }
    static const char *const consts[] = {"true", "false", "null"};
    for (size_t i = 0; i < k; i++) {
        member *m = &x->m[i];
        m->key = (m->ktmp ? c->tmp->buf : c->s) + m->koff;
        m->val = m->vtmp == 2 ? consts[m->voff] : (m->vtmp ? c->tmp->buf : c->s) + m->voff;
    }
    *nm = k;
    return true;
}

static int member_cmp(const void *a, const void *b)
{
    const member *p = a, *q = b;
    size_t l = p->klen < q->klen ? p->klen : q->klen;
    int r = memcmp(p->key, q->key, l);
    if (r)
        return r;
    if (p->klen != q->klen)
        return p->klen < q->klen ? -1 : 1;
    return p->index < q->index ? -1 : 1;
}

static bool key_is(const member *m, const char *name)
{
    size_t l = strlen(name);
    return m->klen == l && memcmp(m->key, name, l) == 0;
}

/* Counts the event under its classification (strings, else "other"/"undetermined"). */
static bool count_pair(event_export *x, const member *tax, const member *typ)
{
    const char *t = "other", *y = "undetermined";
    size_t tl = 5, yl = 12;
    if (tax && tax->kind == K_STRING && tax->vlen) {
        t = tax->val;
        tl = tax->vlen;
    }
    if (typ && typ->kind == K_STRING && typ->vlen) {
        y = typ->val;
        yl = typ->vlen;
    }
    char stack[256];
    char *buf = tl + yl + 1 <= sizeof stack ? stack : malloc(tl + yl + 1);
    if (!buf)
        return false;
    memcpy(buf, t, tl);
    buf[tl] = '\0';
    memcpy(buf + tl + 1, y, yl);
    bool added;
    int64_t id = itab_intern(&x->pairs, buf, tl + yl + 1, &added);
    if (buf != stack)
        free(buf);
    if (id < 0)
        return false;
    if (added) {
        if (!array_grow((void **)&x->pair_count, &x->pair_cap, (size_t)id, sizeof *x->pair_count))
            return false;
        x->pair_count[id] = 0;
    }
    x->pair_count[id]++;
    return true;
}

dz_code event_export_add(event_export *x, const char *doc, size_t len, tlp_level ceiling, tlp_level dflt,
                         bool *withheld, dz_err *e)
{
    strbuf_reset(&x->tmp);
    x->tmp.oom = false;
    scan c = {doc ? doc : "", doc ? len : 0, 0, &x->tmp, NULL};
    json_error_t je;
    size_t k;
    if (!scan_object(x, &c, &k, &je)) {
        if (x->tmp.oom || strcmp(c.err, "out of memory") == 0)
            return dz_fail(e, DZ_ENOMEM, "event: out of memory");
        return dz_fail(e, DZ_EINVAL, "event: not a JSON object: %s at byte %zu", c.err, c.i);
    }
    /* keys sorted (JSON lines are written so); of equal keys the last stays, as jansson does */
    if (k <= 64) {
        /* documents usually come with their keys sorted already: then this is one pass */
        for (size_t i = 1; i < k; i++) {
            member t = x->m[i];
            size_t j = i;
            while (j > 0 && member_cmp(&x->m[j - 1], &t) > 0) {
                x->m[j] = x->m[j - 1];
                j--;
            }
            x->m[j] = t;
        }
    } else {
        qsort(x->m, k, sizeof *x->m, member_cmp);
    }
    size_t w = 0;
    const member *tlpm = NULL, *tax = NULL, *typ = NULL;
    for (size_t i = 0; i < k; i++) {
        if (i + 1 < k && x->m[i].klen == x->m[i + 1].klen && memcmp(x->m[i].key, x->m[i + 1].key, x->m[i].klen) == 0)
            continue;
        x->m[w] = x->m[i];
        if (key_is(&x->m[w], "tlp"))
            tlpm = &x->m[w];
        else if (key_is(&x->m[w], "classification.taxonomy"))
            tax = &x->m[w];
        else if (key_is(&x->m[w], "classification.type"))
            typ = &x->m[w];
        w++;
    }
    k = w;

    tlp_level tlp = dflt;
    if (tlpm && tlpm->kind != K_NULL) {
        if (tlpm->kind != K_STRING)
            return dz_fail(e, DZ_EINVAL, "event: tlp is not a string");
        /* tlp_parse takes IntelMQ's spellings too, in any case: "AMBER", "WHITE" (CLEAR), "tlp:green" */
        char name[48];
        if (tlpm->vlen >= sizeof name || memchr(tlpm->val, '\0', tlpm->vlen))
            return dz_fail(e, DZ_EINVAL, "event: tlp: unknown TLP '%.40s'", tlpm->val);
        memcpy(name, tlpm->val, tlpm->vlen);
        name[tlpm->vlen] = '\0';
        dz_code rc = tlp_parse(name, &tlp, e);
        if (rc)
            return dz_wrap(e, "event: tlp");
    }
    if (tlp > ceiling) {
        if (withheld)
            *withheld = true;
        return DZ_OK;
    }

    if (!array_grow((void **)&x->ev, &x->cap, x->n, sizeof *x->ev))
        return dz_fail(e, DZ_ENOMEM, "event: out of memory");
    size_t start = x->arena.len;
    for (size_t i = 0; i < k; i++) {
        const member *m = &x->m[i];
        bool added;
        /* room for a new key's rank first, so that every interned key has one */
        if (!array_grow((void **)&x->rank, &x->rank_cap, x->keys.n, sizeof *x->rank))
            goto undo;
        /* events of one feed have the same keys: try the previous event's key at this position first */
        int64_t id = -1;
        added = false;
        if (i < x->last_n) {
            const istr *p = &x->keys.v[x->last_ids[i]];
            if (p->len == m->klen && memcmp(x->keys.names.buf + p->off, m->key, m->klen) == 0)
                id = x->last_ids[i];
        }
        if (id < 0) {
            id = itab_intern(&x->keys, m->key, m->klen, &added);
            if (id < 0)
                goto undo;
        }
        if (added) {
            int64_t r = itab_find(&x->known, m->key, m->klen, hash_bytes(m->key, m->klen));
            x->rank[id] = r >= 0 ? (uint32_t)r : NO_RANK;
        }
        put_field(&x->arena, (uint32_t)id, m->kind, m->val, m->vlen);
        if (x->arena.oom)
            goto undo;
    }
    if (!count_pair(x, tax, typ))
        goto undo;
    x->ev[x->n++] = (packed_event){start, (uint32_t)k};
    if (k > x->last_cap) {
        uint32_t *ids = realloc(x->last_ids, k * sizeof *ids);
        if (!ids) {
            x->last_n = 0;
            return DZ_OK;
        }
        x->last_ids = ids;
        x->last_cap = k;
    }
    /* the ids of this event's keys (the arena holds them in order) */
    const char *p = x->arena.buf + start;
    for (size_t i = 0; i < k; i++) {
        uint32_t len;
        memcpy(&x->last_ids[i], p, 4);
        memcpy(&len, p + 5, 4);
        p += FIELD_HEAD + len;
    }
    x->last_n = k;
    return DZ_OK;

undo:
    /* keys interned stay: harmless, a column of empty cells at worst */
    x->arena.len = start;
    x->arena.oom = false;
    if (x->arena.buf)
        x->arena.buf[start] = '\0';
    return dz_fail(e, DZ_ENOMEM, "event: out of memory");
}

/* ---- counts ---- */

typedef struct pair_sort {
    const char *tax, *type;
    size_t count;
} pair_sort;

static int pair_cmp(const void *a, const void *b)
{
    const pair_sort *p = a, *q = b;
    if (p->count != q->count)
        return p->count > q->count ? -1 : 1;
    int c = strcmp(p->tax, q->tax);
    return c ? c : strcmp(p->type, q->type);
}

json_t *event_export_counts(const event_export *x)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    size_t n = x->pairs.n;
    if (n == 0)
        return arr;
    pair_sort *p = malloc(n * sizeof *p);
    if (!p) {
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *tax = itab_name(&x->pairs, (uint32_t)i);
        p[i] = (pair_sort){tax, tax + strlen(tax) + 1, x->pair_count[i]};
    }
    qsort(p, n, sizeof *p, pair_cmp);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s, s:s, s:I}", "taxonomy", p[i].tax, "type", p[i].type, "count",
                              (json_int_t)p[i].count);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
            break;
        }
    }
    free(p);
    return arr;
}

/* ---- writing ---- */

typedef struct field_view {
    uint32_t key;
    int kind;
    const char *s;
    uint32_t len;
} field_view;

static const char *next_field(const char *p, field_view *f)
{
    memcpy(&f->key, p, 4);
    f->kind = (unsigned char)p[4];
    memcpy(&f->len, p + 5, 4);
    f->s = p + FIELD_HEAD;
    return p + FIELD_HEAD + f->len;
}

/* [+-]digits[.digits][e[+-]digits] (or .digits): what a spreadsheet reads as a number, not a formula. */
static bool is_number(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (!digits)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t ed = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, ed++;
        if (!ed)
            return false;
    }
    return i == n;
}

static void csv_cell(strbuf *out, const char *s, size_t n)
{
    bool guard = n && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') &&
                 !is_number(s, n);
    size_t quotes = 0;
    bool quote = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"')
            quotes++;
        else if (c == ',' || c == '\r' || c == '\n')
            quote = true;
    }
    quote = quote || quotes;
    if (!quote && !guard) {
        strbuf_append(out, s, n);
        return;
    }
    if (!strbuf_reserve(out, n + quotes + 3))
        return;
    char *w = out->buf + out->len;
    if (quote)
        *w++ = '"';
    if (guard)
        *w++ = '\'';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            *w++ = '"';
        *w++ = s[i];
    }
    if (quote)
        *w++ = '"';
    *w = '\0';
    out->len = (size_t)(w - out->buf);
}

/* qsort has no context argument: the columns sort as (rank, name) records instead. */
typedef struct col {
    uint32_t rank;
    uint32_t id;
    const char *name;
} col;

static int col_cmp(const void *a, const void *b)
{
    const col *p = a, *q = b;
    if (p->rank != q->rank)
        return p->rank < q->rank ? -1 : 1;
    return strcmp(p->name, q->name);
}

void event_export_csv(const event_export *x, strbuf *out)
{
    if (x->n == 0)
        return;
    size_t nk = x->keys.n;
    col *cols = malloc((nk ? nk : 1) * sizeof *cols);
    uint32_t *pos = malloc((nk ? nk : 1) * sizeof *pos);
    field_view *cell = calloc(nk ? nk : 1, sizeof *cell);
    if (!cols || !pos || !cell) {
        out->oom = true;
        goto done;
    }
    for (size_t i = 0; i < nk; i++)
        cols[i] = (col){x->rank[i], (uint32_t)i, itab_name(&x->keys, (uint32_t)i)};
    qsort(cols, nk, sizeof *cols, col_cmp);
    for (size_t i = 0; i < nk; i++) {
        pos[cols[i].id] = (uint32_t)i;
        if (i)
            strbuf_append(out, ",", 1);
        csv_cell(out, cols[i].name, x->keys.v[cols[i].id].len);
    }
    strbuf_append(out, "\r\n", 2);

    for (size_t r = 0; r < x->n && !out->oom; r++) {
        const packed_event *ev = &x->ev[r];
        const char *p = x->arena.buf + ev->off;
        for (uint32_t i = 0; i < ev->nfields; i++) {
            field_view f;
            p = next_field(p, &f);
            cell[pos[f.key]] = f;
        }
        for (size_t c = 0; c < nk; c++) {
            if (c)
                strbuf_append(out, ",", 1);
            if (cell[c].s && cell[c].kind != K_NULL)
                csv_cell(out, cell[c].s, cell[c].len);
            cell[c].s = NULL;
        }
        strbuf_append(out, "\r\n", 2);
    }
done:
    free(cols);
    free(pos);
    free(cell);
}

/* A JSON string: quotes, backslashes and control characters escaped, UTF-8 as is (jansson checked it). */
static void json_string_out(strbuf *out, const char *s, size_t n)
{
    strbuf_append(out, "\"", 1);
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        strbuf_append(out, s + from, i - from);
        char esc[8];
        switch (c) {
        case '"': strbuf_append(out, "\\\"", 2); break;
        case '\\': strbuf_append(out, "\\\\", 2); break;
        case '\n': strbuf_append(out, "\\n", 2); break;
        case '\r': strbuf_append(out, "\\r", 2); break;
        case '\t': strbuf_append(out, "\\t", 2); break;
        case '\b': strbuf_append(out, "\\b", 2); break;
        case '\f': strbuf_append(out, "\\f", 2); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            strbuf_append(out, esc, 6);
        }
        from = i + 1;
    }
    strbuf_append(out, s + from, n - from);
    strbuf_append(out, "\"", 1);
}

void event_export_jsonl(const event_export *x, strbuf *out)
{
    for (size_t r = 0; r < x->n && !out->oom; r++) {
        const packed_event *ev = &x->ev[r];
        const char *p = x->arena.buf + ev->off;
        strbuf_append(out, "{", 1);
        for (uint32_t i = 0; i < ev->nfields; i++) {
            field_view f;
            p = next_field(p, &f);
            if (i)
                strbuf_append(out, ",", 1);
            json_string_out(out, itab_name(&x->keys, f.key), x->keys.v[f.key].len);
            strbuf_append(out, ":", 1);
            if (f.kind == K_STRING)
                json_string_out(out, f.s, f.len);
            else
                strbuf_append(out, f.s, f.len);
        }
        strbuf_append(out, "}\n", 2);
    }
}
