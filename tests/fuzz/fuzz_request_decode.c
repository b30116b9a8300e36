/*
 * libFuzzer target: every request-body decoder of src/lib/request_decode.c.
 *
 * The same bytes go to each decode_* function, as an HTTP body would (pointer
 * and length, not NUL-terminated). Besides memory errors (ASan) and undefined
 * behaviour (UBSan), it checks the decoders' contract: on success the strings
 * are within their limits and free of control characters; on failure the
 * output is left empty (nothing to free, nothing half-filled).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/incident.h"
#include "lib/request_decode.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* A one-line field: non-empty, at most max bytes, no control bytes, no surrounding blanks. */
static void check_line(const char *s, size_t max)
{
    size_t n = strlen(s);
    CHECK(n >= 1 && n <= max);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] != 0x7f);
    CHECK(s[0] != ' ' && s[n - 1] != ' ');
}

/* An item of a list field: like a one-line field, but list items are not trimmed. */
static void check_item(const char *s, size_t max)
{
    size_t n = strlen(s);
    CHECK(n >= 1 && n <= max);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] != 0x7f);
}

static void check_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    CHECK(n <= max);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        CHECK(c >= 0x20 || c == '\n' || c == '\r' || c == '\t');
        CHECK(c != 0x7f);
    }
}

static void incident(const char *b, size_t n, bool create)
{
    incident_fields f;
    dz_err e = {0};
    dz_code rc = decode_incident(b, n, create, &f, &e);
    if (rc != DZ_OK) {
        CHECK(e.msg[0] != '\0');
        CHECK(all_zero(&f, sizeof f));
        return;
    }
    if (create)
        CHECK((f.set & INCF_TITLE) && f.title);
    else
        CHECK(f.set != 0);
    if (f.title)
        check_line(f.title, INCIDENT_TITLE_MAX);
    if (f.description)
        check_text(f.description, INCIDENT_DESCRIPTION_MAX);
    if (f.assignee)
        CHECK(name_valid(f.assignee));
    if (f.set & INCF_CLASSIFICATION) {
        bool known = false;
        for (size_t i = 0; rsit_at(i) && !known; i++)
            known = rsit_at(i)->taxonomy == f.classification.taxonomy && rsit_at(i)->type == f.classification.type;
        CHECK(known);
    }
    CHECK((unsigned)f.tlp <= TLP_RED && (unsigned)f.pap <= PAP_RED);
    CHECK((unsigned)f.severity < SEVERITY_COUNT && (unsigned)f.status < STATUS_COUNT);
    CHECK(f.n_constituents <= INCIDENT_LIST_MAX && f.n_tags <= INCIDENT_LIST_MAX);
    for (size_t i = 0; i < f.n_constituents; i++)
        CHECK(name_valid(f.constituents[i]));
    for (size_t i = 0; i < f.n_tags; i++) {
        check_item(f.tags[i], TAG_MAX);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(f.tags[i], f.tags[j]) != 0);
    }
    incident_fields_defaults(&f);
    incident_fields_free(&f);
}

static void note(const char *b, size_t n)
{
    note_input o;
    dz_err e = {0};
    if (decode_note(b, n, &o, &e) != DZ_OK) {
        CHECK(all_zero(&o, sizeof o));
        return;
    }
    CHECK(o.body && o.body[0]);
    check_text(o.body, INCIDENT_DESCRIPTION_MAX);
    note_input_free(&o);
}

static void task(const char *b, size_t n, bool create)
{
    task_input o;
    dz_err e = {0};
    if (decode_task(b, n, create, &o, &e) != DZ_OK) {
        CHECK(all_zero(&o, sizeof o));
        return;
    }
    CHECK(o.set != 0);
    if (create)
        CHECK(o.title != NULL);
    if (o.title)
        check_line(o.title, INCIDENT_TITLE_MAX);
    if (o.assignee)
        CHECK(name_valid(o.assignee));
    CHECK((unsigned)o.status <= TASK_CANCELLED);
    CHECK(strcmp(task_status_name(o.status), "?") != 0);
    task_input_free(&o);
}

static void report(const char *b, size_t n)
{
    report_input o;
    dz_err e = {0};
    if (decode_report(b, n, &o, &e) != DZ_OK) {
        CHECK(all_zero(&o, sizeof o));
        return;
    }
    CHECK(o.source && name_valid(o.source));
    check_line(o.source_ref, 256);
    if (o.title)
        check_line(o.title, INCIDENT_TITLE_MAX);
    if (o.body)
        check_text(o.body, INCIDENT_DESCRIPTION_MAX);
    if (o.reporter_email)
        CHECK(strchr(o.reporter_email, '@'));
    if (o.constituent)
        check_line(o.constituent, 64);
    if (o.incident)
        check_line(o.incident, PUBLIC_ID_MAX);
    report_input_free(&o);
}

static void merge(const char *b, size_t n)
{
    merge_input o;
    dz_err e = {0};
    if (decode_merge(b, n, &o, &e) != DZ_OK) {
        CHECK(all_zero(&o, sizeof o));
        return;
    }
    CHECK((o.into != NULL) != (o.n_from != 0));
    if (o.into)
        check_line(o.into, PUBLIC_ID_MAX);
    CHECK(o.n_from <= INCIDENT_LIST_MAX);
    for (size_t i = 0; i < o.n_from; i++)
        check_item(o.from[i], PUBLIC_ID_MAX);
    merge_input_free(&o);
}

static void login(const char *b, size_t n)
{
    login_input o;
    dz_err e = {0};
    if (decode_login(b, n, &o, &e) != DZ_OK) {
        CHECK(all_zero(&o, sizeof o));
        return;
    }
    check_line(o.username, 64);
    CHECK(o.password != NULL);
    login_input_free(&o);
}

static void string_field(const char *b, size_t n, const char *field)
{
    char *s = (char *)1;
    dz_err e = {0};
    if (decode_string_field(b, n, field, &s, &e) != DZ_OK) {
        CHECK(s == NULL);
        return;
    }
    check_line(s, 256);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy, so a read past the body's end is caught. */
    char *b = malloc(size ? size : 1);
    if (!b)
        return 0;
    memcpy(b, data, size);

    incident(b, size, true);
    incident(b, size, false);
    note(b, size);
    task(b, size, true);
    task(b, size, false);
    report(b, size);
    merge(b, size);
    login(b, size);
    string_field(b, size, "incident");
    string_field(b, size, "short_name");
    string_field(b, size, "name");

    /* name_valid wants a C string. */
    char *z = malloc(size + 1);
    if (z) {
        memcpy(z, data, size);
        z[size] = '\0';
        (void)name_valid(z);
        free(z);
    }
    free(b);
    return 0;
}
