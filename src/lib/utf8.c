/* utf8.c: see utf8.h. */
#include "lib/utf8.h"

size_t utf8_char_len(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    if (b < 0x80)
        return 1;
    size_t k = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (k == 0 || k > n)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* overlong three- and four-byte forms, surrogates, past U+10FFFF (0xc0, 0xc1 and > 0xf4 are out above) */
    if ((b == 0xe0 && s[1] < 0xa0) || (b == 0xed && s[1] >= 0xa0) || (b == 0xf0 && s[1] < 0x90) ||
        (b == 0xf4 && s[1] >= 0x90))
        return 0;
    return k;
}

bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_char_len(p + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}
