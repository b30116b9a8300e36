#include "lib/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void time_format_iso(int64_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int time_year_utc(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    return tm.tm_year + 1900;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

dz_code time_parse_iso(const char *s, int64_t *out, dz_err *e)
{
    size_t len = strlen(s);
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (len < 10 || (y = digits(s, 4)) < 0 || s[4] != '-' || (mo = digits(s + 5, 2)) < 0 ||
        s[7] != '-' || (d = digits(s + 8, 2)) < 0)
        return dz_fail(e, DZ_EINVAL, "'%.40s' is not an ISO-8601 date (YYYY-MM-DD[THH:MM:SSZ])", s);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)))
        return dz_fail(e, DZ_EINVAL, "'%.40s': no such date", s);
    const char *p = s + 10;
    int64_t offset = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        if ((h = digits(p + 1, 2)) < 0 || p[3] != ':' || (mi = digits(p + 4, 2)) < 0)
            return dz_fail(e, DZ_EINVAL, "'%.40s': bad time of day (HH:MM[:SS])", s);
        p += 6;
        if (*p == ':') {
            if ((sec = digits(p + 1, 2)) < 0)
                return dz_fail(e, DZ_EINVAL, "'%.40s': bad seconds", s);
            p += 3;
            if (*p == '.' || *p == ',') {
                p++;
                if (!isdigit((unsigned char)*p))
                    return dz_fail(e, DZ_EINVAL, "'%.40s': bad fraction of a second", s);
                while (isdigit((unsigned char)*p))
                    p++;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return dz_fail(e, DZ_EINVAL, "'%.40s': time of day out of range", s);
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh = digits(p + 1, 2), om;
            if (oh < 0 || p[3] != ':' || (om = digits(p + 4, 2)) < 0 || oh > 23 || om > 59)
                return dz_fail(e, DZ_EINVAL, "'%.40s': bad UTC offset (+hh:mm)", s);
            offset = (int64_t)(oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
            p += 6;
        } else {
            return dz_fail(e, DZ_EINVAL, "'%.40s': time zone missing (end with Z or +hh:mm)", s);
        }
    }
    if (*p != '\0')
        return dz_fail(e, DZ_EINVAL, "'%.40s': unexpected text after the date", s);
    *out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    return DZ_OK;
}

dz_code duration_parse(const char *s, int64_t *out, dz_err *e)
{
    const char *p = s;
    int64_t v = 0;
    if (!isdigit((unsigned char)*p))
        return dz_fail(e, DZ_EINVAL, "'%.40s' is not a duration (e.g. 30m, 4h, 3d)", s);
    while (isdigit((unsigned char)*p)) {
        if (v > 100000000)
            return dz_fail(e, DZ_EINVAL, "'%.40s': duration too large", s);
        v = v * 10 + (*p++ - '0');
    }
    int64_t mul;
    switch (*p) {
    case '\0': case 's': mul = 1; break;
    case 'm': mul = 60; break;
    case 'h': mul = 3600; break;
    case 'd': mul = 86400; break;
    case 'w': mul = 7 * 86400; break;
    default: return dz_fail(e, DZ_EINVAL, "'%.40s': unknown unit (s, m, h, d, w)", s);
    }
    if (*p && p[1])
        return dz_fail(e, DZ_EINVAL, "'%.40s': unexpected text after the unit", s);
    *out = v * mul;
    return DZ_OK;
}
