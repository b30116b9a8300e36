/* TLP 2.0 and PAP markings, and severities. Enumerations with their wire names. */
#ifndef DZ_MARKING_H
#define DZ_MARKING_H
#include "lib/dz_err.h"

typedef enum { TLP_CLEAR = 0, TLP_GREEN, TLP_AMBER, TLP_AMBER_STRICT, TLP_RED } tlp_level;
typedef enum { PAP_CLEAR = 0, PAP_GREEN, PAP_AMBER, PAP_RED } pap_level;
typedef enum { SEVERITY_LOW = 0, SEVERITY_MEDIUM, SEVERITY_HIGH, SEVERITY_CRITICAL } severity_level;
#define SEVERITY_COUNT 4

/* Accepts "AMBER+STRICT", "tlp:amber+strict", "amber-strict", and TLP 1.0's "WHITE" (= CLEAR). */
dz_code tlp_parse(const char *s, tlp_level *out, dz_err *e);
const char *tlp_name(tlp_level t); /* "AMBER+STRICT" */
dz_code pap_parse(const char *s, pap_level *out, dz_err *e);
const char *pap_name(pap_level p);
dz_code severity_parse(const char *s, severity_level *out, dz_err *e);
const char *severity_name(severity_level s);

#endif
