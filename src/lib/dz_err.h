/*
 * dz_err: the one error type of dzong.
 *
 * Every fallible function returns a dz_code and, when it fails, fills the
 * caller's dz_err with a message that says what and where ("classification:
 * unknown type 'foo'"). The message is for humans; the code is for callers
 * (the HTTP layer maps it to a status, the CLI to an exit code).
 */
#ifndef DZ_ERR_H
#define DZ_ERR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    DZ_OK = 0,
    DZ_EINVAL,     /* bad input: the caller can fix it */
    DZ_ENOTFOUND,  /* no such object (or not visible to the caller) */
    DZ_ECONFLICT,  /* state does not allow it: duplicate name, bad transition */
    DZ_EUNAUTH,    /* who are you? */
    DZ_EFORBIDDEN, /* known, but not allowed */
    DZ_ELIMIT,     /* too large or too many (body size, rate limit) */
    DZ_ENOMEM,
    DZ_EIO,        /* files, sockets */
    DZ_EDB,        /* the database failed */
    DZ_EINTERNAL,  /* a bug */
} dz_code;

typedef struct dz_err {
    dz_code code;
    char msg[512];
} dz_err;

/* Sets e (if not NULL) and returns code, so callers can `return dz_fail(...)`. */
dz_code dz_fail(dz_err *e, dz_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
dz_code dz_vfail(dz_err *e, dz_code code, const char *fmt, va_list ap);

/* Prepends "context: " to an existing message, keeping the code. */
dz_code dz_wrap(dz_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void dz_err_clear(dz_err *e);
const char *dz_code_name(dz_code code);

/* Cleanup helpers in the systemd style: every early return frees what it owns. */
void dz_freep(void *p);
#define _cleanup_free_ __attribute__((cleanup(dz_freep)))

#endif
