#include "lib/identity.h"

#include <string.h>

static const char *const role_names[ROLE_COUNT] = {
    "admin", "coordinator", "handler", "analyst", "constituent", "partner",
};

dz_code role_parse(const char *s, role *out, dz_err *e)
{
    for (int i = 0; i < ROLE_COUNT; i++)
        if (strcmp(s, role_names[i]) == 0) {
            *out = (role)i;
            return DZ_OK;
        }
    return dz_fail(e, DZ_EINVAL,
                   "unknown role '%.40s' (admin, coordinator, handler, analyst, constituent, partner)", s);
}

const char *role_name(role r)
{
    return (unsigned)r < ROLE_COUNT ? role_names[r] : "?";
}

bool role_needs_org(role r)
{
    return r == ROLE_CONSTITUENT || r == ROLE_PARTNER;
}

bool role_is_staff(role r)
{
    return r <= ROLE_ANALYST;
}
