/*
 * libFuzzer target: rsit_resolve, tlp_parse, pap_parse, severity_parse and
 * status_parse.
 *
 * The input is split at the first newline into two strings A and B (without a
 * newline, B is empty). rsit_resolve gets (A, B), (NULL, A) and (A, NULL); each
 * enumeration parser gets A and B. Checks: a resolved class is an entry of the
 * canonical table and resolves to itself; a parsed enumeration value is in
 * range and its canonical name parses back to the same value.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/incident.h"
#include "lib/marking.h"
#include "lib/taxonomy.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void check_class(const rsit_class *c)
{
    bool known = false;
    for (size_t i = 0; rsit_at(i) && !known; i++)
        known = rsit_at(i)->taxonomy == c->taxonomy && rsit_at(i)->type == c->type;
    CHECK(known);
    rsit_class again;
    dz_err e = {0};
    CHECK(rsit_resolve(c->taxonomy, c->type, &again, &e) == DZ_OK);
    CHECK(again.taxonomy == c->taxonomy && again.type == c->type);
}

static void resolve(const char *tax, const char *type)
{
    rsit_class c = {0};
    dz_err e = {0};
    if (rsit_resolve(tax, type, &c, &e) == DZ_OK)
        check_class(&c);
    else
        CHECK(e.code == DZ_EINVAL && e.msg[0] != '\0');
}

static void enums(const char *s)
{
    dz_err e = {0};
    tlp_level t;
    if (tlp_parse(s, &t, &e) == DZ_OK) {
        tlp_level t2;
        CHECK((unsigned)t <= TLP_RED);
        CHECK(tlp_parse(tlp_name(t), &t2, &e) == DZ_OK && t2 == t);
    }
    pap_level p;
    if (pap_parse(s, &p, &e) == DZ_OK) {
        pap_level p2;
        CHECK((unsigned)p <= PAP_RED);
        CHECK(pap_parse(pap_name(p), &p2, &e) == DZ_OK && p2 == p);
    }
    severity_level v;
    if (severity_parse(s, &v, &e) == DZ_OK) {
        severity_level v2;
        CHECK((unsigned)v < SEVERITY_COUNT);
        CHECK(severity_parse(severity_name(v), &v2, &e) == DZ_OK && v2 == v);
    }
    incident_status st;
    if (status_parse(s, &st, &e) == DZ_OK) {
        incident_status st2;
        CHECK((unsigned)st < STATUS_COUNT);
        CHECK(status_parse(status_name(st), &st2, &e) == DZ_OK && st2 == st);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *a = buf, *b = "";
    char *nl = memchr(buf, '\n', size);
    if (nl) {
        *nl = '\0';
        b = nl + 1;
    }

    resolve(a, b);
    resolve(NULL, a);
    resolve(a, NULL);
    resolve(NULL, NULL);
    enums(a);
    enums(b);

    free(buf);
    return 0;
}
