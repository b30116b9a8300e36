/* utf8: the one UTF-8 check of the notification code (templates, MIME, event export). */
#ifndef DZ_UTF8_H
#define DZ_UTF8_H
#include <stdbool.h>
#include <stddef.h>

/*
 * Bytes of the UTF-8 sequence at s (n > 0 bytes available): 1 for ASCII,
 * 2..4, or 0 when it is not valid UTF-8 (a stray continuation byte, a
 * truncated sequence, an overlong form, a surrogate, past U+10FFFF).
 */
size_t utf8_char_len(const unsigned char *s, size_t n);
/* Every byte of s[0..n) belongs to a valid sequence (NUL counts as ASCII). */
bool utf8_valid(const char *s, size_t n);

#endif
