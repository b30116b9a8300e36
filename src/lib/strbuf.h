/* strbuf: a growable byte buffer, always NUL-terminated. Owned by its user. */
#ifndef DZ_STRBUF_H
#define DZ_STRBUF_H
#include <stddef.h>
#include <stdbool.h>

typedef struct strbuf {
    char *buf;
    size_t len, cap;
    bool oom; /* sticky: once an append failed, the content is incomplete */
} strbuf;

void strbuf_init(strbuf *sb);
void strbuf_free(strbuf *sb);
void strbuf_reset(strbuf *sb);
void strbuf_append(strbuf *sb, const char *data, size_t n);
/* Room for extra more bytes (and a NUL) at buf + len, to write in place; false (and oom) when out of memory. */
bool strbuf_reserve(strbuf *sb, size_t extra);
void strbuf_puts(strbuf *sb, const char *s);
void strbuf_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the buffer to the caller (who frees it) and resets sb. */
char *strbuf_steal(strbuf *sb);

#endif
