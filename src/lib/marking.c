#include "lib/marking.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *const tlp_names[] = {"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"};
static const char *const pap_names[] = {"CLEAR", "GREEN", "AMBER", "RED"};
static const char *const severity_names[] = {"low", "medium", "high", "critical"};

/* Upper-cases s without a "tlp:"/"pap:" prefix, '-', '_' and ' ' becoming '+'. */
static void canon(const char *s, const char *prefix, char *out, size_t n)
{
    size_t pl = strlen(prefix);
    if (strncasecmp(s, prefix, pl) == 0)
        s += pl;
    size_t j = 0;
    for (; *s && j + 1 < n; s++) {
        char c = (char)toupper((unsigned char)*s);
        out[j++] = (c == '-' || c == '_' || c == ' ') ? '+' : c;
    }
    out[j] = '\0';
}

dz_code tlp_parse(const char *s, tlp_level *out, dz_err *e)
{
    char c[32];
    canon(s, "tlp:", c, sizeof c);
    if (strcmp(c, "WHITE") == 0) {
        *out = TLP_CLEAR;
        return DZ_OK;
    }
    for (int i = 0; i < 5; i++)
        if (strcmp(c, tlp_names[i]) == 0) {
            *out = (tlp_level)i;
            return DZ_OK;
        }
    return dz_fail(e, DZ_EINVAL, "unknown TLP '%.40s' (CLEAR, GREEN, AMBER, AMBER+STRICT, RED)", s);
}

const char *tlp_name(tlp_level t)
{
    return (unsigned)t < 5 ? tlp_names[t] : "?";
}

dz_code pap_parse(const char *s, pap_level *out, dz_err *e)
{
    char c[32];
    canon(s, "pap:", c, sizeof c);
    if (strcmp(c, "WHITE") == 0) {
        *out = PAP_CLEAR;
        return DZ_OK;
    }
    for (int i = 0; i < 4; i++)
        if (strcmp(c, pap_names[i]) == 0) {
            *out = (pap_level)i;
            return DZ_OK;
        }
    return dz_fail(e, DZ_EINVAL, "unknown PAP '%.40s' (CLEAR, GREEN, AMBER, RED)", s);
}

const char *pap_name(pap_level p)
{
    return (unsigned)p < 4 ? pap_names[p] : "?";
}

dz_code severity_parse(const char *s, severity_level *out, dz_err *e)
{
    for (int i = 0; i < SEVERITY_COUNT; i++)
        if (strcasecmp(s, severity_names[i]) == 0) {
            *out = (severity_level)i;
            return DZ_OK;
        }
    return dz_fail(e, DZ_EINVAL, "unknown severity '%.40s' (low, medium, high, critical)", s);
}

const char *severity_name(severity_level s)
{
    return (unsigned)s < SEVERITY_COUNT ? severity_names[s] : "?";
}
