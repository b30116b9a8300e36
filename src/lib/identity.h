/* Who is acting: roles and the authenticated principal. */
#ifndef DZ_IDENTITY_H
#define DZ_IDENTITY_H
#include <stdbool.h>
#include <stdint.h>
#include "lib/dz_err.h"

typedef enum {
    ROLE_ADMIN = 0,
    ROLE_COORDINATOR,
    ROLE_HANDLER,
    ROLE_ANALYST,
    ROLE_CONSTITUENT, /* bound to one constituent organisation */
    ROLE_PARTNER,     /* bound to a partner CERT (an organisation of kind partner-cert) */
} role;
#define ROLE_COUNT 6

dz_code role_parse(const char *s, role *out, dz_err *e);
const char *role_name(role r);
/* Roles bound to an organisation. */
bool role_needs_org(role r);
/* Staff of the CIRT itself. */
bool role_is_staff(role r);

/* The authenticated caller, as every handler and store write sees it. */
typedef struct principal {
    int64_t user_id;
    char username[65];
    role role;
    int64_t org_id;   /* constituent id for constituent/partner, else 0 */
    char org[65];     /* its short name */
} principal;

#endif
