/* Time as int64 seconds since the epoch (UTC) inside dzong; ISO-8601 at the edges. */
#ifndef DZ_TIMEUTIL_H
#define DZ_TIMEUTIL_H
#include <stdint.h>
#include <stddef.h>
#include "lib/dz_err.h"

/* "2026-11-23T03:12:33Z" into buf (at least 21 bytes). */
void time_format_iso(int64_t t, char *buf, size_t n);
/* Accepts YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.frac]](Z|+hh:mm|-hh:mm) . */
dz_code time_parse_iso(const char *s, int64_t *out, dz_err *e);
/* "90", "90s", "15m", "4h", "3d", "2w" into seconds. */
dz_code duration_parse(const char *s, int64_t *out, dz_err *e);
int time_year_utc(int64_t t);

#endif
