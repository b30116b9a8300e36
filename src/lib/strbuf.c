#include "lib/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(strbuf *sb)
{
    memset(sb, 0, sizeof *sb);
}

void strbuf_free(strbuf *sb)
{
    free(sb->buf);
    strbuf_init(sb);
}

void strbuf_reset(strbuf *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

static bool strbuf_grow(strbuf *sb, size_t extra)
{
    if (sb->oom)
        return false;
    if (sb->len + extra + 1 <= sb->cap)
        return true;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    char *nb = realloc(sb->buf, cap);
    if (!nb) {
        sb->oom = true;
        return false;
    }
    sb->buf = nb;
    sb->cap = cap;
    return true;
}

bool strbuf_reserve(strbuf *sb, size_t extra)
{
    return strbuf_grow(sb, extra);
}

void strbuf_append(strbuf *sb, const char *data, size_t n)
{
    if (!strbuf_grow(sb, n))
        return;
    memcpy(sb->buf + sb->len, data, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void strbuf_puts(strbuf *sb, const char *s)
{
    strbuf_append(sb, s, strlen(s));
}

/* One pass when the text fits in the room already there (the usual case: callers append in loops). */
void strbuf_printf(strbuf *sb, const char *fmt, ...)
{
    if (sb->oom)
        return;
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    size_t room = sb->buf ? sb->cap - sb->len : 0; /* including the NUL */
    int n = vsnprintf(room ? sb->buf + sb->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < room) {
        sb->len += (size_t)n;
    } else {
        if (room)
            sb->buf[sb->len] = '\0'; /* undo the cut-off text */
        if (n >= 0 && strbuf_grow(sb, (size_t)n)) {
            vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap2);
            sb->len += (size_t)n;
        }
    }
    va_end(ap2);
}

char *strbuf_steal(strbuf *sb)
{
    char *b = sb->buf;
    if (!b)
        b = calloc(1, 1);
    strbuf_init(sb);
    return b;
}
