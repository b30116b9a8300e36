/*
 * Shared by the cmocka unit tests: cmocka's prerequisites and a few
 * assertions that print the dz_err message when a call fails.
 */
#ifndef DZ_UNIT_H
#define DZ_UNIT_H
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/dz_err.h"

/* malloc that never returns NULL (the compiler knows it, so -Werror sees no NULL paths). */
static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        abort();
    return p;
}

/* The call must succeed; otherwise the test fails with the error's code and message. */
#define assert_dz_ok(call, err)                                                                         \
    do {                                                                                                \
        dz_code rc_ = (call);                                                                           \
        if (rc_ != DZ_OK)                                                                               \
            fail_msg("%s\n  -> %s: %s", #call, dz_code_name(rc_), (err).msg);                         \
    } while (0)

/* The call must fail with code; the message must not be empty. */
#define assert_dz_fails(call, code, err)                                                                \
    do {                                                                                                \
        dz_code rc_ = (call);                                                                           \
        if (rc_ != (code))                                                                              \
            fail_msg("%s\n  -> %s (%s), expected %s", #call, dz_code_name(rc_), rc_ ? (err).msg : "",  \
                     dz_code_name(code));                                                               \
        if ((err).msg[0] == '\0')                                                                       \
            fail_msg("%s failed without a message", #call);                                            \
    } while (0)

/* haystack must contain needle. */
#define assert_contains(haystack, needle)                                                               \
    do {                                                                                                \
        const char *h_ = (haystack), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_))                                                                     \
            fail_msg("'%s' does not contain '%s'", h_ ? h_ : "(null)", n_);                            \
    } while (0)

#endif
