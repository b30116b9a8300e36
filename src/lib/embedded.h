/* Files compiled into the binary by tools/embed.py (migrations, OpenAPI, web UI). */
#ifndef DZ_EMBEDDED_H
#define DZ_EMBEDDED_H
#include <stddef.h>

struct embedded_file {
    const char *name; /* base name, e.g. "0001_init.sql" */
    const char *data; /* NUL-terminated */
    int len;
};

/* Returns the entry called name in a {0}-terminated table, or NULL. */
const struct embedded_file *embedded_find(const struct embedded_file *table, const char *name);

#endif
