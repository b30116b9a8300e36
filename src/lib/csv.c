/*
 * csv: the streaming reader and the field writer.
 *
 * The reader keeps an input buffer of at most max_record + CSV_CHUNK bytes
 * (plus a sentinel and 16 bytes of zeroed padding; it starts at 32 KiB and
 * doubles while reads fill it, up to 256 KiB, or while a record needs more)
 * and a second buffer for the unquoted field bytes of the current record
 * (the input bytes stay untouched so that csv_record.raw is the record as
 * read). Parsing is a resumable state
 * machine: when it reaches the end of the buffered data inside a record it
 * saves its state, the partial record is moved to the front of the buffer,
 * more bytes are read behind it, and parsing resumes where it stopped, so
 * nothing is scanned twice whatever the read callback's chunk sizes.
 *
 * The inner loops look for the next interesting byte (delimiter, LF and NUL
 * in an unquoted field; quote, LF and NUL in a quoted one) 16 bytes at a
 * time with SSE2, and copy the bytes in between with memcpy. A NUL byte is
 * kept after the buffered data as a sentinel, so the scans need no bounds
 * check: reaching the sentinel means "need more input".
 */
#include "lib/csv.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define CSV_CHUNK (256u * 1024u) /* bytes asked of the read callback at once (at most) */
#define CSV_FIRST (32u * 1024u)  /* the input buffer's first size */
#define CSV_PAD 16               /* bytes after the sentinel that a 16-byte load may touch */

enum { ST_FIELD_START, ST_UNQUOTED, ST_QUOTED, ST_QUOTE_SEEN, ST_QUOTE_CR };
enum { ER_NONE, ER_NUL, ER_AFTER_QUOTE, ER_UNTERMINATED, ER_TOO_LONG, ER_TOO_MANY };
enum { P_RECORD, P_NEED_MORE, P_END };

struct csv_reader {
    csv_read_fn read;
    void *arg;
    char delim;
    size_t max_record, max_fields;

    /* input: buf[pos..end) is unread, buf[end] == '\0' (the sentinel) */
    char *buf;
    size_t cap;     /* usable bytes; the allocation has cap + 1 + CSV_PAD */
    size_t cap_max; /* max_record + 2 + CSV_CHUNK: a record and its line end, and a useful read */
    size_t pos, end;
    bool eof, started;
    bool filled; /* the last read filled all the room it was offered */
    dz_code sticky; /* DZ_EIO or DZ_ENOMEM: nothing more can be read */
    uint64_t line;  /* physical line of buf[pos] */

    /* the record being parsed */
    bool in_record;
    size_t rec;        /* its first byte in buf (meaningless while discarding) */
    uint64_t rec_line;
    int state;
    int err;           /* ER_*: the first problem found; the record is then skipped */
    size_t err_field;  /* 1-based */
    bool discard;      /* keep no bytes (after an error) */
    bool too_long;     /* reported only when the record has no other problem */
    bool first_quoted; /* the first field was quoted (a line of "" is not blank) */
    size_t raw_end;    /* set when the record ends */

    /* unquoted fields: out[starts[i] .. starts[i] + lens[i]] and a NUL each */
    char *out;
    size_t out_len, out_cap;
    size_t nf;
    size_t *starts, *lens;
    const char **fields;
    size_t fcap;
};

/* ---- scanning ---- */

/* The first byte at or after p that is a, b or NUL. The sentinel guarantees one. */
static inline const char *scan3(const char *p, char a, char b)
{
#ifdef __SSE2__
    const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b), vz = _mm_setzero_si128();
    for (;;) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)), _mm_cmpeq_epi8(x, vz));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return p + __builtin_ctz(bits);
        p += 16;
    }
#else
    for (;;) {
        char c = *p;
        if (c == a || c == b || c == '\0')
            return p;
        p++;
    }
#endif
}

/* ---- reader ---- */

csv_reader *csv_reader_new(csv_read_fn read, void *arg, const csv_options *opts)
{
    csv_options o = {',', 1024 * 1024, 4096};
    if (opts) {
        if (opts->delimiter)
            o.delimiter = opts->delimiter;
        if (opts->max_record)
            o.max_record = opts->max_record;
        if (opts->max_fields)
            o.max_fields = opts->max_fields;
    }
    if (!read || o.delimiter == '"' || o.delimiter == '\r' || o.delimiter == '\n')
        return NULL;
    if (o.max_record > SIZE_MAX / 4 || o.max_fields > SIZE_MAX / 64)
        return NULL;
    csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->read = read;
    r->arg = arg;
    r->delim = o.delimiter;
    r->max_record = o.max_record;
    r->max_fields = o.max_fields;
    /* small at first (small inputs are common); grown when the input is plentiful or a record long */
    r->cap_max = o.max_record + 2 + CSV_CHUNK;
    r->cap = r->cap_max < CSV_FIRST ? r->cap_max : CSV_FIRST;
    r->buf = malloc(r->cap + 1 + CSV_PAD);
    if (!r->buf) {
        free(r);
        return NULL;
    }
    memset(r->buf, 0, 1 + CSV_PAD);
    r->line = 1;
    return r;
}

void csv_reader_free(csv_reader *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r->out);
    free(r->starts);
    free(r->lens);
    free(r->fields);
    free(r);
}

/* Moves what is still needed to the front and reads more behind it. */
static void refill(csv_reader *r)
{
    size_t keep = r->pos;
    if (r->in_record && !r->discard)
        keep = r->rec;
    if (keep > 0) {
        memmove(r->buf, r->buf + keep, r->end - keep);
        r->end -= keep;
        r->pos -= keep;
        if (r->in_record && !r->discard)
            r->rec = 0;
    }
    size_t room = r->cap - r->end;
    if (r->cap < r->cap_max && (room < r->cap / 4 || (r->filled && r->cap < CSV_CHUNK))) {
        size_t cap = r->cap * 2 < r->cap_max ? r->cap * 2 : r->cap_max;
        char *nb = realloc(r->buf, cap + 1 + CSV_PAD);
        if (!nb) {
            r->sticky = DZ_ENOMEM;
            return;
        }
        r->buf = nb;
        r->cap = cap;
        room = cap - r->end;
    }
    if (room > CSV_CHUNK)
        room = CSV_CHUNK;
    long got = r->read(r->arg, r->buf + r->end, room);
    r->filled = got > 0 && (size_t)got == room;
    if (got < 0 || (size_t)got > room) {
        r->sticky = DZ_EIO;
        got = 0;
    }
    if (got == 0)
        r->eof = true;
    r->end += (size_t)got;
    /* the sentinel, and defined bytes for the 16-byte loads that may reach past it */
    memset(r->buf + r->end, 0, 1 + CSV_PAD);
}

static bool out_reserve(csv_reader *r, size_t n)
{
    if (r->out_cap - r->out_len >= n)
        return true;
    size_t cap = r->out_cap ? r->out_cap : 4096;
    while (cap - r->out_len < n)
        cap *= 2;
    char *nb = realloc(r->out, cap);
    if (!nb) {
        r->sticky = DZ_ENOMEM;
        return false;
    }
    r->out = nb;
    r->out_cap = cap;
    return true;
}

static inline void set_err(csv_reader *r, int err)
{
    if (r->err == ER_NONE) {
        r->err = err;
        r->err_field = r->nf ? r->nf : 1;
    }
    r->discard = true;
}

static inline void append(csv_reader *r, const char *s, size_t n)
{
    if (r->discard)
        return;
    /* one spare byte for the field's NUL */
    if (r->out_cap - r->out_len <= n && !out_reserve(r, n + 1)) {
        r->discard = true;
        return;
    }
    memcpy(r->out + r->out_len, s, n);
    r->out_len += n;
}

static bool fields_reserve(csv_reader *r)
{
    size_t cap = r->fcap ? r->fcap * 2 : 32;
    size_t *s = realloc(r->starts, cap * sizeof *s);
    if (s)
        r->starts = s;
    size_t *l = realloc(r->lens, cap * sizeof *l);
    if (l)
        r->lens = l;
    const char **f = realloc(r->fields, cap * sizeof *f);
    if (f)
        r->fields = f;
    if (!s || !l || !f) {
        r->sticky = DZ_ENOMEM;
        return false;
    }
    r->fcap = cap;
    return true;
}

static inline void field_begin(csv_reader *r)
{
    if (r->nf == r->max_fields) {
        set_err(r, ER_TOO_MANY);
        return;
    }
    r->nf++;
    if (r->discard)
        return;
    if (r->nf > r->fcap && !fields_reserve(r)) {
        r->discard = true;
        return;
    }
    r->starts[r->nf - 1] = r->out_len;
}

static inline void field_end(csv_reader *r, bool strip_cr)
{
    if (r->discard)
        return;
    size_t start = r->starts[r->nf - 1];
    if (strip_cr && r->out_len > start && r->out[r->out_len - 1] == '\r')
        r->out_len--;
    r->lens[r->nf - 1] = r->out_len - start;
    if (r->out_len == r->out_cap && !out_reserve(r, 1)) {
        r->discard = true;
        return;
    }
    r->out[r->out_len++] = '\0';
}

/*
 * Parses from r->pos until the record ends (P_RECORD, r->pos after its line
 * end, r->raw_end set), the buffered data runs out (P_NEED_MORE, state saved)
 * or the input ends before a record starts (P_END).
 */
static int parse(csv_reader *r)
{
    const char *const base = r->buf;
    const char *p = base + r->pos;
    const char *const end = base + r->end;
    const char d = r->delim;
    int st = r->state;

    for (;;) {
        switch (st) {
        case ST_FIELD_START:
            if (p == end) {
                if (!r->eof)
                    goto need_more;
                if (r->nf == 0) {
                    r->pos = (size_t)(p - base);
                    return P_END;
                }
                field_begin(r); /* "a,<EOF>": an empty last field */
                field_end(r, false);
                goto record_end_eof;
            }
            field_begin(r);
            if (*p == '"') {
                if (r->nf == 1)
                    r->first_quoted = true;
                p++;
                st = ST_QUOTED;
            } else {
                st = ST_UNQUOTED;
            }
            break;

        case ST_UNQUOTED: {
            const char *q = scan3(p, d, '\n');
            append(r, p, (size_t)(q - p));
            p = q;
            if (q == end) {
                if (!r->eof)
                    goto need_more;
                field_end(r, true);
                goto record_end_eof;
            }
            if (*q == d) {
                field_end(r, false);
                p++;
                st = ST_FIELD_START;
            } else if (*q == '\n') {
                field_end(r, true);
                goto record_end_lf;
            } else { /* a NUL byte */
                set_err(r, ER_NUL);
                p++;
            }
            break;
        }

        case ST_QUOTED: {
            const char *q = scan3(p, '"', '\n');
            append(r, p, (size_t)(q - p));
            p = q;
            if (q == end) {
                if (!r->eof)
                    goto need_more;
                r->err = ER_NONE; /* this explains any other problem */
                set_err(r, ER_UNTERMINATED);
                goto record_end_eof;
            }
            if (*q == '"') {
                st = ST_QUOTE_SEEN;
            } else if (*q == '\n') {
                append(r, "\n", 1);
                r->line++;
            } else {
                set_err(r, ER_NUL);
            }
            p++;
            break;
        }

        case ST_QUOTE_SEEN:
            if (p == end) {
                if (!r->eof)
                    goto need_more;
                field_end(r, false);
                goto record_end_eof;
            }
            if (*p == '"') {
                append(r, "\"", 1);
                p++;
                st = ST_QUOTED;
            } else if (*p == d) {
                field_end(r, false);
                p++;
                st = ST_FIELD_START;
            } else if (*p == '\n') {
                field_end(r, false);
                goto record_end_lf;
            } else if (*p == '\r') {
                p++;
                st = ST_QUOTE_CR;
            } else {
                set_err(r, ER_AFTER_QUOTE);
                st = ST_UNQUOTED; /* skip the rest like an unquoted field */
            }
            break;

        case ST_QUOTE_CR:
            if (p == end) {
                if (!r->eof)
                    goto need_more;
                field_end(r, false);
                goto record_end_eof;
            }
            if (*p == '\n') {
                field_end(r, false);
                goto record_end_lf;
            }
            set_err(r, ER_AFTER_QUOTE);
            st = ST_UNQUOTED;
            break;
        }
    }

need_more:
    r->state = st;
    r->pos = (size_t)(p - base);
    return P_NEED_MORE;

record_end_lf: /* p at the LF */
    r->raw_end = (size_t)(p - base);
    r->pos = r->raw_end + 1;
    r->line++;
    goto record_end;
record_end_eof: /* p == end */
    r->raw_end = (size_t)(p - base);
    r->pos = r->raw_end;
record_end:
    if (!r->discard && r->raw_end > r->rec && base[r->raw_end - 1] == '\r')
        r->raw_end--;
    r->state = ST_FIELD_START;
    return P_RECORD;
}

static void record_error(csv_reader *r, dz_err *e)
{
    unsigned long long line = (unsigned long long)r->rec_line;
    switch (r->err) {
    case ER_NUL:
        dz_fail(e, DZ_EINVAL, "line %llu: field %zu: NUL byte", line, r->err_field);
        break;
    case ER_AFTER_QUOTE:
        dz_fail(e, DZ_EINVAL, "line %llu: field %zu: text after the closing quote", line, r->err_field);
        break;
    case ER_UNTERMINATED:
        dz_fail(e, DZ_EINVAL, "line %llu: field %zu: unterminated quoted field", line, r->err_field);
        break;
    case ER_TOO_LONG:
        dz_fail(e, DZ_EINVAL, "line %llu: record longer than %zu bytes", line, r->max_record);
        break;
    case ER_TOO_MANY:
        dz_fail(e, DZ_EINVAL, "line %llu: more than %zu fields", line, r->max_fields);
        break;
    default:
        dz_fail(e, DZ_EINTERNAL, "line %llu: csv reader in a bad state", line);
        break;
    }
}

static int sticky_error(csv_reader *r, dz_err *e)
{
    if (r->sticky == DZ_ENOMEM)
        dz_fail(e, DZ_ENOMEM, "out of memory reading CSV");
    else
        dz_fail(e, DZ_EIO, "line %llu: read error", (unsigned long long)r->line);
    return -1;
}

int csv_next(csv_reader *r, csv_record *rec, dz_err *e)
{
    memset(rec, 0, sizeof *rec);
    if (r->sticky)
        return sticky_error(r, e);

    if (!r->started) { /* a byte order mark: look at the first three bytes */
        while (!r->eof && r->end < 3) {
            refill(r);
            if (r->sticky)
                return sticky_error(r, e);
        }
        if (r->end >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0)
            r->pos = 3;
        r->started = true;
    }

    for (;;) {
        if (!r->in_record) {
            r->in_record = true;
            r->rec = r->pos;
            r->rec_line = r->line;
            r->state = ST_FIELD_START;
            r->err = ER_NONE;
            r->discard = false;
            r->too_long = false;
            r->first_quoted = false;
            r->nf = 0;
            r->out_len = 0;
        }
        int got = parse(r);
        if (got == P_NEED_MORE) {
            /* the buffered part of the record can no longer fit: skip the rest of it */
            if (!r->discard && r->end - r->rec > r->max_record + 1)
                r->too_long = r->discard = true;
            refill(r);
            if (r->sticky)
                return sticky_error(r, e);
            continue;
        }
        r->in_record = false;
        if (r->sticky)
            return sticky_error(r, e);
        if (got == P_END)
            return 0;
        if (!r->discard && r->raw_end - r->rec > r->max_record)
            r->too_long = true;
        if (r->too_long && r->err == ER_NONE)
            r->err = ER_TOO_LONG;
        if (r->err) {
            record_error(r, e);
            rec->line = r->rec_line;
            return -1;
        }
        if (r->nf == 1 && r->lens[0] == 0 && !r->first_quoted)
            continue; /* a blank line */
        for (size_t i = 0; i < r->nf; i++)
            r->fields[i] = r->out + r->starts[i];
        rec->n = r->nf;
        rec->fields = r->fields;
        rec->lens = r->lens;
        rec->line = r->rec_line;
        rec->raw = r->buf + r->rec;
        rec->raw_len = r->raw_end - r->rec;
        return 1;
    }
}

long csv_read_memory(void *arg, char *buf, size_t cap)
{
    csv_memory *m = arg;
    size_t n = m->pos < m->len ? m->len - m->pos : 0;
    if (n > cap)
        n = cap;
    if (n > (size_t)LONG_MAX)
        n = (size_t)LONG_MAX;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (long)n;
}

long csv_read_fd(void *arg, char *buf, size_t cap)
{
    int fd = *(int *)arg;
    if (cap > (1u << 30))
        cap = 1u << 30;
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR)
            return -1;
    }
}

/* ---- writer ---- */

void csv_write_field(strbuf *out, const char *field, size_t len, char delimiter)
{
    bool quote = len > 0 && (field[0] == ' ' || field[len - 1] == ' ');
    if (len >= 3 && memcmp(field, "\xEF\xBB\xBF", 3) == 0)
        quote = true; /* would be taken for a byte order mark at the start of a file */
    for (size_t i = 0; i < len && !quote; i++) {
        char c = field[i];
        quote = c == delimiter || c == '"' || c == '\r' || c == '\n';
    }
    if (!quote) {
        strbuf_append(out, field, len);
        return;
    }
    strbuf_append(out, "\"", 1);
    const char *p = field, *stop = field + len;
    while (p < stop) {
        const char *q = memchr(p, '"', (size_t)(stop - p));
        if (!q) {
            strbuf_append(out, p, (size_t)(stop - p));
            break;
        }
        strbuf_append(out, p, (size_t)(q - p) + 1);
        strbuf_append(out, "\"", 1);
        p = q + 1;
    }
    strbuf_append(out, "\"", 1);
}
