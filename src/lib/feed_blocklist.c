/*
 * feed_blocklist.c: plain address lists (blocklist.de and the like) as harmonized events.
 *
 * One IPv4/IPv6 address or CIDR network per line; '#' (or ';') comment lines and blank
 * lines are skipped, and so is a comment after the value ("1.2.3.4  # seen twice").
 * When the file's name is one of blocklist.de's lists (ssh.txt, mail.txt, ...) the
 * events carry that list's classification, protocol.application and description, as
 * IntelMQ's blocklist.de parser gives them, and feed.provider "blocklist.de"; any other
 * file gives other/blacklist and no provider. docs/feeds.md has the table.
 */
#include "lib/feed.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct bl_list {
    const char *file;        /* base name without ".txt" */
    const char *taxonomy, *type, *application, *text;
} bl_list;

static const bl_list LISTS[] = {
    {"all", "other", "blacklist", NULL, NULL},
    {"ssh", "intrusion-attempts", "ids-alert", "ssh", "IP reported as having run attacks on the service SSH"},
    {"mail", "intrusion-attempts", "ids-alert", "smtp",
     "IP reported as having run attacks on the service Mail, Postfix"},
    {"apache", "intrusion-attempts", "ids-alert", "http",
     "IP reported as having run attacks on the service Apache, Apache-DDoS, RFI-Attacks"},
    {"imap", "intrusion-attempts", "ids-alert", "imap",
     "IP reported as having run attacks on the service IMAP, SASL, POP3"},
    {"ftp", "intrusion-attempts", "ids-alert", "ftp", "IP reported as having run attacks on the service FTP"},
    {"sip", "intrusion-attempts", "ids-alert", "sip",
     "IP reported as having run attacks on the service SIP, VOIP, Asterisk"},
    {"bots", "abusive-content", "spam", NULL,
     "IP reported as having spammed on IRC, open forums, wikis or registration forms."},
    {"strongips", "other", "blacklist", NULL, "IP reported as having run attacks in last 2 months"},
    {"ircbot", "malicious-code", "infected-system", "irc", NULL},
    {"bruteforcelogin", "intrusion-attempts", "brute-force", NULL,
     "IP reported as having run attacks on Joomlas, Wordpress and other Web-Logins with Brute-Force Logins"},
};

static const bl_list OTHER = {NULL, "other", "blacklist", NULL, NULL};

static const bl_list *list_of(const char *file_name, bool *known)
{
    const char *b = feed_base_name(file_name);
    size_t n = strlen(b);
    if (n > 4 && strcmp(b + n - 4, ".txt") == 0)
        n -= 4;
    for (size_t i = 0; i < sizeof LISTS / sizeof LISTS[0]; i++)
        if (strlen(LISTS[i].file) == n && memcmp(LISTS[i].file, b, n) == 0) {
            *known = true;
            return &LISTS[i];
        }
    *known = false;
    return &OTHER;
}

dz_code feed_blocklist_parse(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,
                             feed_error_fn on_error, void *arg, dz_err *e)
{
    bool known;
    const bl_list *l = list_of(opt ? opt->file_name : NULL, &known);
    feed_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    feed_lines lr;
    feed_lines_init(&lr, read, read_arg, FEED_MAX_LINE);
    dz_code rc = feed_ctx_init(c, opt, known ? "blocklist.de" : "Blocklist", known ? "blocklist.de" : NULL, on_event,
                               on_error, arg, e);
    while (rc == DZ_OK && !c->stop) {
        const char *s;
        size_t n;
        uint64_t line;
        int got = feed_next_line(&lr, c, &s, &n, &line, e);
        if (got == FEED_LINE_END)
            break;
        if (got == FEED_LINE_FAIL) {
            rc = e->code;
            break;
        }
        size_t i = 0;
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i == n || s[i] == '#' || s[i] == ';')
            continue;
        size_t v = i;
        while (i < n && !isspace((unsigned char)s[i]) && s[i] != '#' && s[i] != ';')
            i++;
        size_t vl = i - v;
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i < n && s[i] != '#' && s[i] != ';') {
            feed_ctx_refuse(c, line, s, n, "expected one address or network per line, found more text after '%.*s'",
                            (int)(vl > 60 ? 60 : vl), s + v);
            continue;
        }
        event *ev = c->ev;
        event_reset(ev);
        const char *key = memchr(s + v, '/', vl) ? "source.network" : "source.ip";
        rc = feed_ctx_set(c, key, s + v, vl);
        if (rc == DZ_EINVAL) {
            feed_ctx_refuse(c, line, s, n, "%s", c->err.msg);
            rc = DZ_OK;
            continue;
        }
        dz_err fe;
        if (rc == DZ_OK && event_set(ev, "classification.taxonomy", l->taxonomy, strlen(l->taxonomy), &fe) == DZ_ENOMEM)
            rc = DZ_ENOMEM;
        if (rc == DZ_OK && event_set(ev, "classification.type", l->type, strlen(l->type), &fe) == DZ_ENOMEM)
            rc = DZ_ENOMEM;
        if (rc == DZ_OK && l->application &&
            event_set(ev, "protocol.application", l->application, strlen(l->application), &fe) == DZ_ENOMEM)
            rc = DZ_ENOMEM;
        if (rc == DZ_OK && l->text && event_set(ev, "event_description.text", l->text, strlen(l->text), &fe) == DZ_ENOMEM)
            rc = DZ_ENOMEM;
        if (rc == DZ_OK)
            rc = feed_ctx_emit(c, line, s, n);
        if (rc != DZ_OK)
            rc = dz_fail(e, rc, "out of memory");
    }
    feed_lines_free(&lr);
    feed_ctx_free(c);
    free(c);
    return rc;
}
