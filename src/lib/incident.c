#include "lib/incident.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const status_names[STATUS_COUNT] = {
    "new", "triage", "analysis", "mitigation", "recovery", "closed", "rejected", "duplicate",
};

/*
 * Allowed moves. Forward through the phases, one step back when new facts
 * arrive, close early once analysed, and reopen a closed or rejected incident
 * into triage. "duplicate" is reached only by merging.
 */
static const unsigned transitions[STATUS_COUNT] = {
    [STATUS_NEW] = 1u << STATUS_TRIAGE | 1u << STATUS_REJECTED,
    [STATUS_TRIAGE] = 1u << STATUS_ANALYSIS | 1u << STATUS_REJECTED | 1u << STATUS_CLOSED,
    [STATUS_ANALYSIS] = 1u << STATUS_MITIGATION | 1u << STATUS_TRIAGE | 1u << STATUS_CLOSED,
    [STATUS_MITIGATION] = 1u << STATUS_RECOVERY | 1u << STATUS_ANALYSIS,
    [STATUS_RECOVERY] = 1u << STATUS_CLOSED | 1u << STATUS_MITIGATION,
    [STATUS_CLOSED] = 1u << STATUS_TRIAGE,
    [STATUS_REJECTED] = 1u << STATUS_TRIAGE,
    [STATUS_DUPLICATE] = 0,
};

dz_code status_parse(const char *s, incident_status *out, dz_err *e)
{
    for (int i = 0; i < STATUS_COUNT; i++)
        if (strcasecmp(s, status_names[i]) == 0) {
            *out = (incident_status)i;
            return DZ_OK;
        }
    return dz_fail(e, DZ_EINVAL,
                   "unknown status '%.40s' (new, triage, analysis, mitigation, recovery, closed, "
                   "rejected, duplicate)", s);
}

const char *status_name(incident_status s)
{
    return (unsigned)s < STATUS_COUNT ? status_names[s] : "?";
}

bool status_is_open(incident_status s)
{
    return s <= STATUS_RECOVERY;
}

bool status_transition_allowed(incident_status from, incident_status to)
{
    if ((unsigned)from >= STATUS_COUNT || (unsigned)to >= STATUS_COUNT)
        return false;
    return from == to || (transitions[from] & (1u << to)) != 0;
}

void status_transition_explain(incident_status from, incident_status to, char *buf, size_t n)
{
    if (to == STATUS_DUPLICATE) {
        snprintf(buf, n, "an incident becomes 'duplicate' only by merging it into another "
                         "(POST /api/v1/incidents/{id}/merge)");
        return;
    }
    int off = snprintf(buf, n, "status cannot go from '%s' to '%s'; from '%s' it may go to:",
                       status_name(from), status_name(to), status_name(from));
    bool any = false;
    for (int i = 0; i < STATUS_COUNT && off > 0 && (size_t)off < n; i++)
        if (transitions[from] & (1u << i)) {
            off += snprintf(buf + off, n - (size_t)off, "%s %s", any ? "," : "", status_names[i]);
            any = true;
        }
    if (!any && off > 0 && (size_t)off < n)
        snprintf(buf + off, n - (size_t)off, " nothing (final)");
}

void public_id_format(char *buf, size_t n, const char *prefix, const char *kind, int year, int64_t seq)
{
    if (kind && *kind)
        snprintf(buf, n, "%s-%s-%04d-%05lld", prefix, kind, year, (long long)seq);
    else
        snprintf(buf, n, "%s-%04d-%05lld", prefix, year, (long long)seq);
}

bool public_id_prefix_valid(const char *prefix)
{
    size_t n = strlen(prefix);
    if (n == 0 || n > 16)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isupper((unsigned char)prefix[i]) && !isdigit((unsigned char)prefix[i]))
            return false;
    return true;
}

void due_policy_default(due_policy *p)
{
    p->seconds[SEVERITY_CRITICAL] = 4 * 3600;
    p->seconds[SEVERITY_HIGH] = 24 * 3600;
    p->seconds[SEVERITY_MEDIUM] = 3 * 86400;
    p->seconds[SEVERITY_LOW] = 7 * 86400;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void incident_fields_free(incident_fields *f)
{
    free(f->title);
    free(f->description);
    free(f->assignee);
    free_list(f->constituents, f->n_constituents);
    free_list(f->tags, f->n_tags);
    memset(f, 0, sizeof *f);
}

void incident_fields_defaults(incident_fields *f)
{
    if (!(f->set & INCF_TLP))
        f->tlp = TLP_AMBER;
    if (!(f->set & INCF_PAP))
        f->pap = PAP_AMBER;
    if (!(f->set & INCF_SEVERITY))
        f->severity = SEVERITY_MEDIUM;
    if (!(f->set & INCF_CLASSIFICATION))
        rsit_resolve("other", "undetermined", &f->classification, NULL);
    if (!(f->set & INCF_STATUS))
        f->status = STATUS_NEW;
}
