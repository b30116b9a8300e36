#include "lib/dz_err.h"
#include "lib/embedded.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dz_code dz_vfail(dz_err *e, dz_code code, const char *fmt, va_list ap)
{
    if (e) {
        e->code = code;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    }
    return code;
}

dz_code dz_fail(dz_err *e, dz_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dz_vfail(e, code, fmt, ap);
    va_end(ap);
    return code;
}

dz_code dz_wrap(dz_err *e, const char *fmt, ...)
{
    if (!e)
        return DZ_EINTERNAL;
    char prefix[256], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", prefix, old);
    return e->code;
}

void dz_err_clear(dz_err *e)
{
    if (e) {
        e->code = DZ_OK;
        e->msg[0] = '\0';
    }
}

const char *dz_code_name(dz_code code)
{
    switch (code) {
    case DZ_OK: return "ok";
    case DZ_EINVAL: return "invalid";
    case DZ_ENOTFOUND: return "not found";
    case DZ_ECONFLICT: return "conflict";
    case DZ_EUNAUTH: return "unauthenticated";
    case DZ_EFORBIDDEN: return "forbidden";
    case DZ_ELIMIT: return "limit exceeded";
    case DZ_ENOMEM: return "out of memory";
    case DZ_EIO: return "i/o error";
    case DZ_EDB: return "database error";
    case DZ_EINTERNAL: return "internal error";
    }
    return "unknown";
}

void dz_freep(void *p)
{
    free(*(void **)p);
}

const struct embedded_file *embedded_find(const struct embedded_file *table, const char *name)
{
    for (; table && table->name; table++)
        if (strcmp(table->name, name) == 0)
            return table;
    return NULL;
}
