#include "lib/taxonomy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

/* RSIT 1.x (ENISA TF-CSIRT working copy) plus IntelMQ's additions under "other". */
static const rsit_class rsit_table[] = {
    {"abusive-content", "spam"},
    {"abusive-content", "harmful-speech"},
    {"abusive-content", "violence"},
    {"malicious-code", "infected-system"},
    {"malicious-code", "c2-server"},
    {"malicious-code", "malware-distribution"},
    {"malicious-code", "malware-configuration"},
    {"information-gathering", "scanner"},
    {"information-gathering", "sniffing"},
    {"information-gathering", "social-engineering"},
    {"intrusion-attempts", "ids-alert"},
    {"intrusion-attempts", "brute-force"},
    {"intrusion-attempts", "exploit"},
    {"intrusions", "privileged-account-compromise"},
    {"intrusions", "unprivileged-account-compromise"},
    {"intrusions", "application-compromise"},
    {"intrusions", "system-compromise"},
    {"intrusions", "burglary"},
    {"availability", "dos"},
    {"availability", "ddos"},
    {"availability", "misconfiguration"},
    {"availability", "sabotage"},
    {"availability", "outage"},
    {"information-content-security", "unauthorised-information-access"},
    {"information-content-security", "unauthorised-information-modification"},
    {"information-content-security", "data-loss"},
    {"information-content-security", "data-leak"},
    {"fraud", "unauthorised-use-of-resources"},
    {"fraud", "copyright"},
    {"fraud", "masquerade"},
    {"fraud", "phishing"},
    {"vulnerable", "weak-crypto"},
    {"vulnerable", "ddos-amplifier"},
    {"vulnerable", "potentially-unwanted-accessible"},
    {"vulnerable", "information-disclosure"},
    {"vulnerable", "vulnerable-system"},
    {"other", "other"},
    {"other", "undetermined"},
    {"other", "blacklist"},
    {"other", "dga-domain"},
    {"other", "malware"},
    {"other", "proxy"},
    {"other", "tor"},
    {"test", "test"},
};
#define RSIT_N (sizeof rsit_table / sizeof rsit_table[0])

/* Old names, after normalisation (lower case, '-' for blanks and '_'). */
static const struct { const char *from, *to; } type_aliases[] = {
    {"botnet-drone", "infected-system"},
    {"infected-system", "infected-system"},
    {"ransomware", "infected-system"},
    {"c&c", "c2-server"},
    {"c2", "c2-server"},
    {"c2server", "c2-server"}, /* IntelMQ 2.x */
    {"malware-configuration", "malware-configuration"},
    {"ids-alert", "ids-alert"},
    {"bruteforce", "brute-force"},
    {"backdoor", "system-compromise"},
    {"compromised", "system-compromise"},
    {"unauthorised-command", "system-compromise"}, /* normalise() has turned "unauthorized" into this */
    {"unauthorised-login", "system-compromise"},
    {"defacement", "unauthorised-information-modification"},
    {"leak", "data-leak"},
    {"vulnerable-service", "vulnerable-system"},
    {"vulnerable-client", "vulnerable-system"},
    {"unknown", "undetermined"},
    {"dropzone", "other"},
};

/* Lower-cases, maps blanks and '_' to '-', and "unauthorized" to "unauthorised". */
static void normalise(const char *in, char *out, size_t n)
{
    size_t j = 0;
    while (*in && isspace((unsigned char)*in))
        in++;
    for (; *in && j + 1 < n; in++) {
        unsigned char c = (unsigned char)*in;
        out[j++] = (c == ' ' || c == '_') ? '-' : (char)tolower(c);
    }
    if (*in) { /* longer than any name: match nothing rather than a cut-off prefix */
        snprintf(out, n, "?");
        return;
    }
    while (j > 0 && out[j - 1] == '-')
        j--;
    out[j] = '\0';
    char *z = strstr(out, "unauthorized");
    if (z)
        z[9] = 's';
}

static const rsit_class *find_type(const char *type)
{
    for (size_t i = 0; i < RSIT_N; i++)
        if (strcmp(rsit_table[i].type, type) == 0)
            return &rsit_table[i];
    return NULL;
}

static const char *find_taxonomy(const char *tax)
{
    for (size_t i = 0; i < RSIT_N; i++)
        if (strcmp(rsit_table[i].taxonomy, tax) == 0)
            return rsit_table[i].taxonomy;
    return NULL;
}

dz_code rsit_resolve(const char *taxonomy, const char *type, rsit_class *out, dz_err *e)
{
    char tax[64] = "", typ[64] = "";
    if (taxonomy)
        normalise(taxonomy, tax, sizeof tax);
    if (type)
        normalise(type, typ, sizeof typ);

    const char *canon_tax = NULL;
    if (tax[0] && !(canon_tax = find_taxonomy(tax)))
        return dz_fail(e, DZ_EINVAL, "unknown RSIT taxonomy '%.60s'", taxonomy);

    if (!typ[0]) {
        if (!canon_tax)
            return dz_fail(e, DZ_EINVAL, "classification needs a type (e.g. \"phishing\")");
        if (strcmp(canon_tax, "other") == 0 || strcmp(canon_tax, "test") == 0) {
            *out = *find_type(strcmp(canon_tax, "test") == 0 ? "test" : "undetermined");
            return DZ_OK;
        }
        return dz_fail(e, DZ_EINVAL, "classification: taxonomy '%s' needs a type", canon_tax);
    }

    const rsit_class *c = find_type(typ);
    bool legacy = false;
    if (!c) {
        for (size_t i = 0; i < sizeof type_aliases / sizeof type_aliases[0]; i++)
            if (strcmp(typ, type_aliases[i].from) == 0)
                c = find_type(type_aliases[i].to);
        legacy = c != NULL;
    }
    if (!c)
        return dz_fail(e, DZ_EINVAL, "unknown RSIT type '%.60s'", type);
    /*
     * Names moved between taxonomies over the years (IntelMQ 1.x filed "malware" under "malicious
     * code"; RSIT files "defacement" under information-content-security). When the input is in an
     * old spelling, or the type is an old name or one of IntelMQ's own, the type decides, as
     * IntelMQ's taxonomy expert does. Two current RSIT names that disagree are an error.
     */
    legacy = legacy || strcmp(c->taxonomy, "other") == 0 || (taxonomy && strpbrk(taxonomy, " _"));
    if (canon_tax && strcmp(canon_tax, c->taxonomy) != 0 && !legacy)
        return dz_fail(e, DZ_EINVAL, "RSIT type '%s' belongs to taxonomy '%s', not '%s'", c->type,
                       c->taxonomy, canon_tax);
    *out = *c;
    return DZ_OK;
}

dz_code rsit_taxonomy_resolve(const char *taxonomy, const char **out, dz_err *e)
{
    char tax[64];
    normalise(taxonomy, tax, sizeof tax);
    if (!(*out = find_taxonomy(tax)))
        return dz_fail(e, DZ_EINVAL, "unknown RSIT taxonomy '%.60s'", taxonomy);
    return DZ_OK;
}

const rsit_class *rsit_at(size_t i)
{
    return i < RSIT_N ? &rsit_table[i] : NULL;
}
