/*
 * notify.c: digests and incident notices, from the store's events to the
 * relay (see notify.h). The design, in the order things happen:
 *
 * Templates. notifier_open compiles, for the kinds "digest" and "incident",
 * every KIND.LANG.txt in templates_dir (LANG: "en", "dz", "pt-BR") and every
 * advice.LANG.json (an object: RSIT type -> advice text), then the built-in
 * English ones (compiled into the binary from src/notify/templates) for
 * whatever the directory lacks. A template's first line is "Subject: ...",
 * the second is empty, the rest is the body; subject and body are compiled
 * against the kind's variables (digest_vars, incident_vars below, each with
 * its documentation), so a mistake is refused at open with "FILE:LINE:
 * reason" and nothing is ever sent half-rendered. The body is compiled with
 * two empty lines in place of the subject's, so its line numbers are the
 * file's. A contact's language picks its templates (exactly, then its
 * primary subtag: "pt-BR" -> "pt"), else English; advice falls back the same
 * way per type.
 *
 * Digest round (notify_digest_round). One read of the contacts due
 * (store_notify_due fixes upto_id, the newest event id, for the whole
 * round). Contacts come by organisation; the contacts of one organisation
 * with the same watermark, TLP ceiling and format share one rendering of the
 * attachment (a "group"): its events are streamed once through
 * store_notify_events into an event_export (each event's TLP, else
 * default_tlp, against the ceiling: above it the event is withheld and
 * counted; an event whose TLP cannot be read is withheld too), at most
 * attach_max are attached and the rest only counted (not_attached: their TLP
 * is not examined). Then, per contact: a ticket (PREFIX-N-YYYY-NNNNNN,
 * numbers reserved ahead in blocks of BATCH), the subject and body rendered
 * in the contact's language, the attachment events-TICKET.csv (text/csv) or
 * events-TICKET.jsonl (application/x-ndjson), the MIME entity; signed
 * (multipart/signed) when pgp_sign_key is set; encrypted (multipart/
 * encrypted around the signed entity) when pgp_encrypt is on and the
 * contact's pgp value resolves to a usable key. A contact whose pgp value
 * does not resolve is sent signed but unencrypted, and its report item says
 * so in "note". A contact whose message cannot be made (a bad address, ...)
 * is reported with "error" and counted as failed; the round goes on, and
 * its watermark does not move, so its events wait for the next round.
 * Every contact due gets a digest, also when all its new events were
 * withheld (then it has no attachment and says how many were withheld):
 * that is how the watermark moves past them. Messages are queued in batches
 * (BATCH, or BATCH_BYTES of messages) with store_notify_queue, each batch one
 * transaction that also moves the watermarks, written by a second thread
 * while the next batch is rendered; a digest whose watermark moved meanwhile
 * (another node queued it) is a conflict, reported with ticket null and a
 * note. A crash between batches leaves the earlier batches queued and the
 * rest due (their reserved ticket numbers are gaps).
 * Headers: From, To, Reply-To, Subject, Date, Message-ID
 * "<TICKET.RANDOM16HEX@DOMAIN-OF-FROM>", Auto-Submitted: auto-generated,
 * X-Auto-Response-Suppress: All, X-Dzong-Ticket. The subject is not
 * protected by encryption. dry_run renders everything (so template, address
 * and key problems show) but reserves and queues nothing; tickets are shown
 * as null.
 *
 * Send round (notify_send_round). Holders of "sending" rows that are
 * processes of this host that no longer run (kill(pid, 0) fails with ESRCH,
 * and not this process) are dead: their rows are claimed again at once.
 * Messages are claimed one at a time (CLAIM_BATCH) with a lease of LEASE_S
 * (longer when smtp_timeout needs it: a lease always covers one whole
 * attempt). One at a time, because a holder that dies leaves all its
 * claimed rows in doubt: with larger batches, messages never attempted would
 * be marked in_doubt too (and the claim is one short transaction next to an
 * SMTP session). Each goes to the relay (smtp_send, which keeps the
 * connection open between messages) and its outcome is recorded right after
 * the relay's answer:
 *
 *   queued --claim--> sending --250--------------------------> sent
 *                        |----4xx, no answer, timeout, TLS,
 *                        |    auth refused, attempts < max ----> queued, due at now + min(base * 2^(attempts-1), 6 h)
 *                        |----the same, attempts >= max -------> failed ("gave up after N attempts: ...")
 *                        |----5xx to MAIL/RCPT/DATA/message ---> failed
 *                        `----holder died or lease ran out ----> queued, in_doubt (claimed again: same bytes,
 *                                                                same Message-ID; the relay may have it already)
 *
 * (attempts counts claims; a local error that can never pass, such as a
 * recipient that is not an address, is failed at once.) A claimed message
 * that is not attempted (the round was told to stop, or with larger batches
 * its lease would run short) goes back to queued, due now, unsent, so no
 * message is sent under a lease that may have run out. The round ends when
 * nothing is due (or after max messages). dry_run lists the queued rows that
 * are due without claiming anything.
 *
 * Incident notices (notify_incident) read the incident as the handler sees
 * it, refuse constituents it does not affect and TLP:RED incidents, render
 * one message per contact (contacts whose ceiling is below the incident's
 * TLP are skipped and listed), sign and encrypt like digests, and queue all
 * of them with the shared note in one store_notify_queue call.
 *
 * Threads. A notifier is shared: templates are read-only once compiled, and
 * the OpenPGP contexts (one per thread at a time: GPGME contexts are not
 * shared) come from a small pool under a mutex. The sender (notify_sender_*)
 * is a thread that runs send rounds every poll_s seconds or when woken; it
 * needs no OpenPGP context (messages are finished when queued).
 */
#include "notify/notify.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/embedded.h"
#include "lib/event_export.h"
#include "lib/mime.h"
#include "lib/template.h"
#include "lib/timeutil.h"
#include "notify/openpgp.h"

extern const struct embedded_file notify_files[];

#define BATCH 200                         /* digests per queue transaction, tickets reserved at once */
#define BATCH_BYTES (64u * 1024u * 1024u) /* ... or fewer, when their messages are this large */
#define CLAIM_BATCH 1                     /* see "Send round" above */
#define LEASE_S 120
#define CONNECT_MARGIN_S 15               /* besides smtp.timeout_s: connection and recording */
#define RETRY_CAP_S (6 * 3600)
#define FILE_MAX (1024u * 1024u)
#define POOL_MAX 8
#define MAX_LANGS 64

enum { KIND_DIGEST = 0, KIND_INCIDENT, KIND_COUNT };
static const char *const kind_names[KIND_COUNT] = {"digest", "incident"};

/* ---------------------------------------------------------------- template variables */

static const template_var count_fields[] = {
    {"taxonomy", NULL, "the RSIT taxonomy of the events counted (\"vulnerable\")"},
    {"type", NULL, "the RSIT type (\"vulnerable-system\")"},
    {"count", NULL, "how many of the attached events have that classification"},
    {"advice", NULL, "what to do about that type, from advice.LANG.json (\"\" when there is none)"},
    {NULL, NULL, NULL},
};

static const template_var digest_vars[] = {
    {"organisation", NULL, "the constituent's name (\"Bhutan National Bank\")"},
    {"short_name", NULL, "the constituent's short name (\"bnb\")"},
    {"contact_name", NULL, "the contact's name as registered (\"BNB Security Team\")"},
    {"ticket", NULL, "this message's ticket (\"BTCIRT-N-2026-000042\"); quote it in replies"},
    {"period_from", NULL, "the start of the period reported: the previous digest, else the earliest event (UTC, "
                          "\"YYYY-MM-DD HH:MM\")"},
    {"period_to", NULL, "the end of the period reported: now (UTC, \"YYYY-MM-DD HH:MM\")"},
    {"events", NULL, "how many events are attached"},
    {"total", NULL, "how many new events of the constituent the digest covers (attached or not)"},
    {"withheld", NULL, "events not attached because their TLP is above the contact's ceiling"},
    {"not_attached", NULL, "events not attached because the digest carries at most notify_attach_max"},
    {"counts", count_fields, "the attached events by classification, most first"},
    {"attachment", NULL, "the attachment's file name (\"events-BTCIRT-N-2026-000042.csv\"; \"\" when none)"},
    {"format", NULL, "the attachment's format: \"csv\" or \"json\" (JSON lines)"},
    {"tlp", NULL, "the highest TLP of what the message carries (\"AMBER\")"},
    {"portal_url", NULL, "portal_url from dzong.conf (\"\" when not set)"},
    {"cirt", NULL, "the CIRT's name as in From: (mail_from_name)"},
    {NULL, NULL, NULL},
};

static const template_var incident_vars[] = {
    {"organisation", NULL, "the constituent's name"},
    {"short_name", NULL, "the constituent's short name"},
    {"contact_name", NULL, "the contact's name as registered"},
    {"ticket", NULL, "this message's ticket (\"BTCIRT-N-2026-000043\"); quote it in replies"},
    {"incident", NULL, "the incident's id (\"BTCIRT-2026-0007\")"},
    {"title", NULL, "the incident's title"},
    {"tlp", NULL, "the incident's TLP (\"AMBER\")"},
    {"text", NULL, "the handler's text for the constituents (also a shared note on the incident)"},
    {"handler", NULL, "the user name of the handler who sent the notice"},
    {"portal_url", NULL, "portal_url from dzong.conf (\"\" when not set)"},
    {"cirt", NULL, "the CIRT's name as in From: (mail_from_name)"},
    {NULL, NULL, NULL},
};

static const template_var *const kind_vars[KIND_COUNT] = {digest_vars, incident_vars};

/* ---------------------------------------------------------------- the notifier */

typedef struct lang_set {
    char lang[16];
    template *subject[KIND_COUNT], *body[KIND_COUNT];
    json_t *advice; /* object, or NULL */
} lang_set;

struct notifier {
    notify_config c;
    char domain[256]; /* of c.from, for Message-IDs */
    lang_set langs[MAX_LANGS];
    size_t n_langs;
    bool need_pgp;
    pthread_mutex_t pool_mu;
    openpgp *pool[POOL_MAX];
    size_t n_pool;
};

void notify_config_defaults(notify_config *c, const char *data_dir)
{
    memset(c, 0, sizeof *c);
    const char *d = data_dir && *data_dir ? data_dir : ".";
    snprintf(c->templates_dir, sizeof c->templates_dir, "%s/templates", d);
    snprintf(c->gnupg_home, sizeof c->gnupg_home, "%s/gnupg", d);
    c->encrypt = true;
    c->default_tlp = TLP_AMBER;
    c->max_attempts = 10;
    c->retry_base_s = 60;
    c->attach_max = 20000;
    c->smtp.timeout_s = 60;
    c->smtp.tls = SMTP_TLS_TRY;
}

static dz_code read_file(const char *path, char **out, size_t *len, dz_err *e)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return dz_fail(e, errno == ENOENT ? DZ_ENOTFOUND : DZ_EIO, "%s: %s", path, strerror(errno));
    char *buf = malloc(FILE_MAX + 2);
    if (!buf) {
        fclose(f);
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, FILE_MAX + 1, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return dz_fail(e, DZ_EIO, "%s: read error", path);
    }
    if (n > FILE_MAX) {
        free(buf);
        return dz_fail(e, DZ_EINVAL, "%s: over the limit of 1 MiB", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return DZ_OK;
}

/* "en", "dz", "pt-BR": 2..3 letters, then optional subtags of 1..8 letters or digits. */
static bool lang_ok(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && isalpha((unsigned char)s[i]))
        i++;
    if (i < 2 || i > 3 || n >= 16)
        return false;
    while (i < n) {
        if (s[i++] != '-')
            return false;
        size_t k = 0;
        while (i < n && isalnum((unsigned char)s[i]))
            i++, k++;
        if (k < 1 || k > 8)
            return false;
    }
    return true;
}

static lang_set *lang_get(notifier *n, const char *lang, bool create)
{
    for (size_t i = 0; i < n->n_langs; i++)
        if (strcasecmp(n->langs[i].lang, lang) == 0)
            return &n->langs[i];
    if (!create || n->n_langs == MAX_LANGS)
        return NULL;
    lang_set *l = &n->langs[n->n_langs++];
    memset(l, 0, sizeof *l);
    snprintf(l->lang, sizeof l->lang, "%s", lang);
    return l;
}

/*
 * Compiles one template file's text: "Subject: ..." on line 1, an empty line
 * 2, the body from line 3. name is for messages ("digest.en.txt").
 */
static dz_code compile_template(const char *name, const char *text, size_t len, int kind, template **subject,
                                template **body, dz_err *e)
{
    if (memchr(text, '\0', len))
        return dz_fail(e, DZ_EINVAL, "%s:1: the file holds a NUL byte", name);
    const char *nl = memchr(text, '\n', len);
    size_t l1 = nl ? (size_t)(nl - text) : len;
    if (l1 && text[l1 - 1] == '\r')
        l1--;
    if (l1 < 8 || strncasecmp(text, "Subject:", 8) != 0)
        return dz_fail(e, DZ_EINVAL, "%s:1: the first line must be \"Subject: ...\" (then an empty line, then the "
                                     "body)", name);
    const char *s = text + 8;
    size_t sl = l1 - 8;
    while (sl && (*s == ' ' || *s == '\t'))
        s++, sl--;
    while (sl && (s[sl - 1] == ' ' || s[sl - 1] == '\t'))
        sl--;
    if (!sl)
        return dz_fail(e, DZ_EINVAL, "%s:1: the subject is empty", name);
    const char *rest = nl ? nl + 1 : text + len;
    size_t rest_len = (size_t)(text + len - rest);
    const char *nl2 = memchr(rest, '\n', rest_len);
    size_t l2 = nl2 ? (size_t)(nl2 - rest) : rest_len;
    if (!nl2 || !(l2 == 0 || (l2 == 1 && rest[0] == '\r')))
        return dz_fail(e, DZ_EINVAL, "%s:2: an empty line must follow the subject line", name);
    /* The subject as a template of one line (line 1 is the file's). */
    if (template_compile(name, s, sl, kind_vars[kind], subject, e) != DZ_OK)
        return e->code;
    /* The body after two empty lines, so that line numbers are the file's; render_body drops them. */
    const char *b = nl2 + 1;
    size_t bl = (size_t)(text + len - b);
    char *tmp = malloc(bl + 3);
    if (!tmp) {
        template_free(*subject);
        *subject = NULL;
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    tmp[0] = '\n';
    tmp[1] = '\n';
    memcpy(tmp + 2, b, bl);
    dz_code rc = template_compile(name, tmp, bl + 2, kind_vars[kind], body, e);
    free(tmp);
    if (rc != DZ_OK) {
        template_free(*subject);
        *subject = NULL;
    }
    return rc;
}

static dz_code load_advice(const char *name, const char *text, size_t len, json_t **out, dz_err *e)
{
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    if (!o)
        return dz_fail(e, DZ_EINVAL, "%s:%d: %s", name, je.line, je.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return dz_fail(e, DZ_EINVAL, "%s:1: advice must be an object of RSIT type -> advice text", name);
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!json_is_string(v)) {
            json_decref(o);
            return dz_fail(e, DZ_EINVAL, "%s: the advice for '%.64s' is not a string", name, k);
        }
    }
    *out = o;
    return DZ_OK;
}

/* One file of templates_dir (or a built-in): KIND.LANG.txt or advice.LANG.json; others are ignored. */
static dz_code load_one(notifier *n, const char *fname, const char *text, size_t len, bool builtin, dz_err *e)
{
    size_t fl = strlen(fname);
    for (int k = 0; k < KIND_COUNT; k++) {
        size_t kl = strlen(kind_names[k]);
        if (fl > kl + 5 && strncmp(fname, kind_names[k], kl) == 0 && fname[kl] == '.' &&
            strcmp(fname + fl - 4, ".txt") == 0) {
            const char *lang = fname + kl + 1;
            size_t ll = fl - kl - 5;
            if (!lang_ok(lang, ll))
                return DZ_OK;
            char lb[16];
            snprintf(lb, sizeof lb, "%.*s", (int)ll, lang);
            lang_set *l = lang_get(n, lb, true);
            if (!l)
                return dz_fail(e, DZ_ELIMIT, "more than %d template languages", MAX_LANGS);
            if (builtin && l->body[k])
                return DZ_OK;
            return compile_template(fname, text, len, k, &l->subject[k], &l->body[k], e);
        }
    }
    if (fl > 12 && strncmp(fname, "advice.", 7) == 0 && strcmp(fname + fl - 5, ".json") == 0) {
        const char *lang = fname + 7;
        size_t ll = fl - 12;
        if (!lang_ok(lang, ll))
            return DZ_OK;
        char lb[16];
        snprintf(lb, sizeof lb, "%.*s", (int)ll, lang);
        lang_set *l = lang_get(n, lb, true);
        if (!l)
            return dz_fail(e, DZ_ELIMIT, "more than %d template languages", MAX_LANGS);
        if (builtin && l->advice)
            return DZ_OK;
        return load_advice(fname, text, len, &l->advice, e);
    }
    return DZ_OK;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static dz_code load_templates(notifier *n, dz_err *e)
{
    const char *dir = n->c.templates_dir;
    DIR *d = dir[0] ? opendir(dir) : NULL;
    if (!d && dir[0] && errno != ENOENT)
        return dz_fail(e, DZ_EIO, "templates_dir %s: %s", dir, strerror(errno));
    if (d) {
        /* In name order, so that messages are the same on every node. */
        char **names = NULL;
        size_t nn = 0, cap = 0;
        struct dirent *de;
        dz_code rc = DZ_OK;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            if (nn == cap) {
                cap = cap ? cap * 2 : 16;
                char **p = realloc(names, cap * sizeof *p);
                if (!p) {
                    rc = dz_fail(e, DZ_ENOMEM, "out of memory");
                    break;
                }
                names = p;
            }
            if (!(names[nn] = strdup(de->d_name))) {
                rc = dz_fail(e, DZ_ENOMEM, "out of memory");
                break;
            }
            nn++;
        }
        closedir(d);
        if (names)
            qsort(names, nn, sizeof *names, name_cmp);
        for (size_t i = 0; rc == DZ_OK && i < nn; i++) {
            char path[PATH_MAX + 256];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            struct stat st;
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            char *text = NULL;
            size_t len = 0;
            if ((rc = read_file(path, &text, &len, e)) != DZ_OK)
                break;
            rc = load_one(n, names[i], text, len, false, e);
            free(text);
            if (rc != DZ_OK)
                dz_wrap(e, "templates_dir %s", dir);
        }
        for (size_t i = 0; i < nn; i++)
            free(names[i]);
        free(names);
        if (rc != DZ_OK)
            return rc;
    }
    /* The built-in English set for what the directory lacks. */
    for (const struct embedded_file *f = notify_files; f->name; f++)
        if (load_one(n, f->name, f->data, (size_t)f->len, true, e) != DZ_OK)
            return dz_wrap(e, "built-in template");
    lang_set *en = lang_get(n, "en", false);
    if (!en || !en->body[KIND_DIGEST] || !en->body[KIND_INCIDENT])
        return dz_fail(e, DZ_EINTERNAL, "the built-in English templates are missing");
    return DZ_OK;
}

dz_code notify_write_default_templates(const char *dir, dz_err *e)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return dz_fail(e, DZ_EIO, "%s: %s", dir, strerror(errno));
    for (const struct embedded_file *f = notify_files; f->name; f++) {
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", dir, f->name);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            if (errno == EEXIST)
                continue;
            return dz_fail(e, DZ_EIO, "%s: %s", path, strerror(errno));
        }
        size_t off = 0, len = (size_t)f->len;
        while (off < len) {
            ssize_t w = write(fd, f->data + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                int err = errno;
                close(fd);
                unlink(path);
                return dz_fail(e, DZ_EIO, "%s: %s", path, strerror(err));
            }
            off += (size_t)w;
        }
        if (close(fd) != 0)
            return dz_fail(e, DZ_EIO, "%s: %s", path, strerror(errno));
    }
    return DZ_OK;
}

/* The contact's language, its primary subtag, English: the first that has kind's template. */
static const lang_set *pick_lang(const notifier *n, const char *lang, int kind)
{
    char primary[16];
    snprintf(primary, sizeof primary, "%s", lang ? lang : "");
    char *dash = strchr(primary, '-');
    if (dash)
        *dash = '\0';
    const char *chain[3] = {lang ? lang : "", primary, "en"};
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < n->n_langs; i++)
            if (strcasecmp(n->langs[i].lang, chain[c]) == 0 && n->langs[i].body[kind])
                return &n->langs[i];
    return NULL;
}

static const char *advice_for(const notifier *n, const char *lang, const char *type)
{
    char primary[16];
    snprintf(primary, sizeof primary, "%s", lang ? lang : "");
    char *dash = strchr(primary, '-');
    if (dash)
        *dash = '\0';
    const char *chain[3] = {lang ? lang : "", primary, "en"};
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < n->n_langs; i++)
            if (strcasecmp(n->langs[i].lang, chain[c]) == 0 && n->langs[i].advice) {
                const char *a = json_string_value(json_object_get(n->langs[i].advice, type));
                if (a)
                    return a;
            }
    return "";
}

static void notifier_free_langs(notifier *n)
{
    for (size_t i = 0; i < n->n_langs; i++) {
        for (int k = 0; k < KIND_COUNT; k++) {
            template_free(n->langs[i].subject[k]);
            template_free(n->langs[i].body[k]);
        }
        json_decref(n->langs[i].advice);
    }
    n->n_langs = 0;
}

/* ---------------------------------------------------------------- OpenPGP contexts */

static dz_code pgp_acquire(notifier *n, openpgp **out, dz_err *e)
{
    *out = NULL;
    if (!n->need_pgp)
        return DZ_OK;
    pthread_mutex_lock(&n->pool_mu);
    if (n->n_pool)
        *out = n->pool[--n->n_pool];
    pthread_mutex_unlock(&n->pool_mu);
    if (*out)
        return DZ_OK;
    if (openpgp_open(n->c.gnupg_home, n->c.sign_key, out, e) != DZ_OK)
        return dz_wrap(e, "OpenPGP keyring %s", n->c.gnupg_home);
    return DZ_OK;
}

static void pgp_release(notifier *n, openpgp *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&n->pool_mu);
    if (n->n_pool < POOL_MAX) {
        n->pool[n->n_pool++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&n->pool_mu);
    openpgp_close(p);
}

dz_code notifier_open(const notify_config *c, notifier **out, dz_err *e)
{
    *out = NULL;
    if (sodium_init() < 0)
        return dz_fail(e, DZ_EINTERNAL, "libsodium: initialisation failed");
    if (c->from[0] && !mime_address_ok(c->from))
        return dz_fail(e, DZ_EINVAL, "mail_from '%.100s' is not an address (local@domain)", c->from);
    if (c->reply_to[0] && !mime_address_ok(c->reply_to))
        return dz_fail(e, DZ_EINVAL, "mail_reply_to '%.100s' is not an address (local@domain)", c->reply_to);
    if (c->smtp.url[0] && smtp_check_url(c->smtp.url, e) != DZ_OK)
        return e->code;
    if (c->attach_max < 0 || c->max_attempts < 1 || c->retry_base_s < 1)
        return dz_fail(e, DZ_EINVAL, "notify_attach_max, notify_max_attempts and notify_retry_base must be positive");
    notifier *n = calloc(1, sizeof *n);
    if (!n)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    n->c = *c;
    if (!n->c.ticket_prefix[0])
        snprintf(n->c.ticket_prefix, sizeof n->c.ticket_prefix, "DZONG");
    if (!n->c.from_name[0])
        snprintf(n->c.from_name, sizeof n->c.from_name, "%s CIRT", n->c.ticket_prefix);
    const char *at = strrchr(n->c.from, '@');
    snprintf(n->domain, sizeof n->domain, "%s", at ? at + 1 : "localhost");
    pthread_mutex_init(&n->pool_mu, NULL);
    if (smtp_global_init(e) != DZ_OK) {
        notifier_close(n);
        return e->code;
    }
    if (load_templates(n, e) != DZ_OK) {
        notifier_close(n);
        return e->code;
    }
    n->need_pgp = n->c.sign_key[0] || n->c.encrypt;
    if (n->need_pgp) {
        /* One context now: a bad sign key or a key with a passphrase is refused here, not per message. */
        openpgp *p;
        if (pgp_acquire(n, &p, e) != DZ_OK) {
            notifier_close(n);
            return e->code;
        }
        pgp_release(n, p);
    }
    *out = n;
    return DZ_OK;
}

void notifier_close(notifier *n)
{
    if (!n)
        return;
    notifier_free_langs(n);
    for (size_t i = 0; i < n->n_pool; i++)
        openpgp_close(n->pool[i]);
    pthread_mutex_destroy(&n->pool_mu);
    /* No curl_global_cleanup: smtp.c keeps an easy handle per thread (its connection to the relay) that may
     * outlive this notifier; libcurl's global state lives as long as the process. */
    free(n);
}

/* ---------------------------------------------------------------- messages */

typedef struct renderer {
    notifier *n;
    openpgp *pgp; /* NULL: neither signing nor encrypting */
    strbuf subject, body, entity, sig, signed_, cipher, wrapped, msg;
} renderer;

static void renderer_init(renderer *r, notifier *n)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    strbuf *all[] = {&r->subject, &r->body, &r->entity, &r->sig, &r->signed_, &r->cipher, &r->wrapped, &r->msg};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        strbuf_init(all[i]);
}

static void renderer_free(renderer *r)
{
    strbuf *all[] = {&r->subject, &r->body, &r->entity, &r->sig, &r->signed_, &r->cipher, &r->wrapped, &r->msg};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        strbuf_free(all[i]);
    pgp_release(r->n, r->pgp);
    r->pgp = NULL;
}

/* What one message needs. */
typedef struct message_spec {
    int kind;
    const lang_set *ls;
    const json_t *data;
    const char *subject;     /* NULL: the template's */
    const char *ticket;
    const char *to, *to_name;
    const char *pgp_value;   /* the contact's pgp (NULL: none) */
    const char *att_name;    /* NULL: no attachment */
    const char *att_type;
    const char *att_data;
    size_t att_len;
    int64_t now;
} message_spec;

/* A finished message. */
typedef struct rendered {
    char *subject;
    char *message;
    size_t message_len;
    char message_id[300];
    bool is_signed, is_encrypted;
    char note[300]; /* "" or why it is not encrypted */
} rendered;

static void rendered_free(rendered *m)
{
    free(m->subject);
    free(m->message);
    memset(m, 0, sizeof *m);
}

/* One line: CR, LF and TAB become spaces, blanks at both ends go. */
static char *clean_line(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = (s[i] == '\r' || s[i] == '\n' || s[i] == '\t') ? ' ' : s[i];
    out[n] = '\0';
    return out;
}

static dz_code render_message(renderer *r, const message_spec *m, rendered *out, dz_err *e)
{
    notifier *n = r->n;
    memset(out, 0, sizeof *out);
    strbuf_reset(&r->subject);
    strbuf_reset(&r->body);
    strbuf_reset(&r->entity);
    strbuf_reset(&r->msg);
    if (m->subject) {
        out->subject = clean_line(m->subject, strlen(m->subject));
    } else {
        template_render(m->ls->subject[m->kind], m->data, &r->subject);
        out->subject = r->subject.oom ? NULL : clean_line(r->subject.buf ? r->subject.buf : "", r->subject.len);
    }
    if (!out->subject)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    if (!out->subject[0]) {
        free(out->subject);
        out->subject = strdup("(no subject)");
        if (!out->subject)
            return dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    template_render(m->ls->body[m->kind], m->data, &r->body);
    if (r->body.oom)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    /* compile_template put two empty lines in front of the body */
    size_t skip = r->body.len >= 2 ? 2 : r->body.len;
    mime_part parts[2] = {{"text/plain; charset=utf-8", NULL, r->body.buf ? r->body.buf + skip : "", r->body.len - skip}};
    size_t np = 1;
    if (m->att_name)
        parts[np++] = (mime_part){m->att_type, m->att_name, m->att_data, m->att_len};
    if (mime_entity(parts, np, &r->entity, e) != DZ_OK)
        return e->code;
    const strbuf *cur = &r->entity;

    if (r->pgp && openpgp_can_sign(r->pgp)) {
        char micalg[32];
        strbuf_reset(&r->sig);
        strbuf_reset(&r->signed_);
        if (openpgp_sign_detached(r->pgp, cur->buf, cur->len, &r->sig, micalg, e) != DZ_OK ||
            mime_signed(cur->buf, cur->len, r->sig.buf, r->sig.len, micalg, &r->signed_, e) != DZ_OK)
            return e->code;
        cur = &r->signed_;
        out->is_signed = true;
    }
    if (r->pgp && n->c.encrypt && m->pgp_value && *m->pgp_value) {
        char fpr[65];
        dz_err pe = {0};
        if (openpgp_recipient(r->pgp, m->pgp_value, fpr, &pe) != DZ_OK) {
            snprintf(out->note, sizeof out->note, "sent unencrypted: the contact's OpenPGP key is not usable: %s",
                     pe.msg);
        } else {
            strbuf_reset(&r->cipher);
            strbuf_reset(&r->wrapped);
            if (openpgp_encrypt(r->pgp, fpr, cur->buf, cur->len, &r->cipher, e) != DZ_OK ||
                mime_encrypted(r->cipher.buf, r->cipher.len, &r->wrapped, e) != DZ_OK)
                return e->code;
            cur = &r->wrapped;
            out->is_encrypted = true;
        }
    }

    unsigned char rnd[8];
    char hex[17];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(out->message_id, sizeof out->message_id, "<%s.%s@%s>", m->ticket, hex, n->domain);
    const mail_header extra[] = {
        {"Auto-Submitted", "auto-generated"},
        {"X-Auto-Response-Suppress", "All"},
        {"X-Dzong-Ticket", m->ticket},
    };
    mail_headers h = {
        .from_addr = n->c.from,
        .from_name = n->c.from_name[0] ? n->c.from_name : NULL,
        .to_addr = m->to,
        .to_name = m->to_name && *m->to_name ? m->to_name : NULL,
        .reply_to = n->c.reply_to[0] ? n->c.reply_to : NULL,
        .subject = out->subject,
        .message_id = out->message_id,
        .date = m->now,
        .extra = extra,
        .n_extra = sizeof extra / sizeof *extra,
    };
    if (mime_message(&h, cur->buf, cur->len, &r->msg, e) != DZ_OK)
        return e->code;
    out->message_len = r->msg.len;
    out->message = strbuf_steal(&r->msg);
    if (!out->message)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    return DZ_OK;
}

static void format_minute(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
}

static principal system_principal(void)
{
    principal p;
    memset(&p, 0, sizeof p);
    snprintf(p.username, sizeof p.username, "system");
    p.role = ROLE_ADMIN;
    return p;
}

/* ---------------------------------------------------------------- digests */

/* The attachment shared by the contacts of one organisation with the same watermark, ceiling and format. */
typedef struct group {
    int64_t after_id;
    tlp_level ceiling;
    notify_format format;
    strbuf att;
    json_t *counts;   /* [{"taxonomy","type","count"}] of the attached events */
    char *summary;    /* {"by_type": counts} */
    int64_t total, attached, withheld, not_attached;
    tlp_level top;    /* the highest TLP attached (when attached > 0) */
    int64_t first_time; /* the earliest time.source of the events examined (0: none) */
} group;

static void group_free(group *g)
{
    strbuf_free(&g->att);
    json_decref(g->counts);
    free(g->summary);
}

typedef struct walk {
    group *g;
    event_export *x;
    int attach_max;
    tlp_level dflt;
} walk;

/* The string value of "key" in a compact JSON object's text, when it is a plain string. */
static bool doc_string(const char *doc, size_t len, const char *key, char *out, size_t n)
{
    char pat[40];
    int pl = snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = doc, *end = doc + len;
    while (p < end && (p = memmem(p, (size_t)(end - p), pat, (size_t)pl)) != NULL) {
        const char *q = p + pl;
        p += pl;
        while (q < end && isspace((unsigned char)*q))
            q++;
        if (q == end || *q != ':')
            continue; /* the text as a value, not a key */
        q++;
        while (q < end && isspace((unsigned char)*q))
            q++;
        if (q == end || *q != '"')
            return false;
        q++;
        const char *z = memchr(q, '"', (size_t)(end - q));
        if (!z || (size_t)(z - q) >= n || memchr(q, '\\', (size_t)(z - q)))
            return false;
        memcpy(out, q, (size_t)(z - q));
        out[z - q] = '\0';
        return true;
    }
    return false;
}

static dz_code on_event(void *arg, int64_t id, const char *doc, size_t len, dz_err *e)
{
    (void)id;
    walk *w = arg;
    group *g = w->g;
    dz_err ignore;
    g->total++;
    if (g->attached >= w->attach_max) {
        g->not_attached++;
        return DZ_OK;
    }
    char when[64];
    int64_t ts;
    if (doc_string(doc, len, "time.source", when, sizeof when) && time_parse_iso(when, &ts, &ignore) == DZ_OK &&
        (!g->first_time || ts < g->first_time))
        g->first_time = ts;
    bool withheld = false;
    dz_err ae = {0};
    if (event_export_add(w->x, doc, len, g->ceiling, w->dflt, &withheld, &ae) != DZ_OK) {
        if (ae.code == DZ_ENOMEM) {
            *e = ae;
            return ae.code;
        }
        g->withheld++; /* an event whose TLP cannot be read is not sent */
        return DZ_OK;
    }
    if (withheld) {
        g->withheld++;
        return DZ_OK;
    }
    tlp_level t = w->dflt;
    char v[32];
    if (doc_string(doc, len, "tlp", v, sizeof v) && tlp_parse(v, &t, &ignore) != DZ_OK)
        t = w->dflt;
    if (!g->attached || t > g->top)
        g->top = t;
    g->attached++;
    return DZ_OK;
}

static dz_code group_build(notifier *n, store *st, event_export *x, int64_t org_id, int64_t upto, group *g,
                           dz_err *e)
{
    event_export_reset(x);
    walk w = {g, x, n->c.attach_max, n->c.default_tlp};
    if (store_notify_events(st, org_id, g->after_id, upto, on_event, &w, e) != DZ_OK)
        return e->code;
    if (g->attached) {
        if (g->format == NOTIFY_FORMAT_JSON)
            event_export_jsonl(x, &g->att);
        else
            event_export_csv(x, &g->att);
    }
    g->counts = event_export_counts(x);
    json_t *sum = g->counts ? json_pack("{s:O}", "by_type", g->counts) : NULL;
    g->summary = sum ? json_dumps(sum, JSON_COMPACT) : NULL;
    json_decref(sum);
    if (g->att.oom || !g->counts || !g->summary)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    return DZ_OK;
}

/* A digest rendered and waiting for its batch's transaction. */
typedef struct pending {
    const notify_due_contact *dc;
    const char *lang;
    char ticket[48];
    rendered r;
    char *summary;
    json_t *item;     /* its report item (the report holds it) */
    int64_t events, withheld, period_from;
    tlp_level tlp;
} pending;

static void pending_free(pending *p)
{
    rendered_free(&p->r);
    free(p->summary);
    memset(p, 0, sizeof *p);
}

static dz_code flush_batch(store *st, const notify_due_list *due, pending *b, size_t nb, int64_t now,
                           notify_digest_report *out, dz_err *e)
{
    if (!nb)
        return DZ_OK;
    notify_new *items = calloc(nb, sizeof *items);
    if (!items)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    for (size_t k = 0; k < nb; k++) {
        const pending *p = &b[k];
        items[k] = (notify_new){
            .kind = "digest",
            .ticket = p->ticket,
            .message_id = p->r.message_id,
            .org_id = p->dc->org_id,
            .recipient = p->dc->email,
            .recipient_name = p->dc->name[0] ? p->dc->name : NULL,
            .subject = p->r.subject,
            .message = p->r.message,
            .message_len = p->r.message_len,
            .language = p->lang,
            .format = p->dc->format == NOTIFY_FORMAT_JSON ? "json" : "csv",
            .tlp = tlp_name(p->tlp),
            .is_signed = p->r.is_signed,
            .is_encrypted = p->r.is_encrypted,
            .after_id = p->dc->after_id,
            .upto_id = due->upto_id,
            .events = p->events,
            .withheld = p->withheld,
            .period_from = p->period_from,
            .period_to = now,
            .summary_json = p->summary,
        };
    }
    principal sys = system_principal();
    notify_queue_result qr = {0};
    dz_code rc = store_notify_queue(st, &sys, items, nb, NULL, &qr, e);
    free(items);
    if (rc != DZ_OK) {
        for (size_t k = 0; k < nb; k++)
            json_object_set_new(b[k].item, "error", json_string("not queued: the batch's transaction failed"));
        return rc;
    }
    out->queued += qr.queued;
    out->conflicts += qr.conflicts;
    for (size_t k = 0; k < nb; k++) {
        bool queued = true;
        if (qr.conflicts) { /* which ones: those whose ticket is not in the outbox */
            json_t *j = NULL;
            dz_err ge = {0};
            if (store_notification_get(st, 0, b[k].ticket, &j, &ge) == DZ_ENOTFOUND)
                queued = false;
            json_decref(j);
        }
        if (queued) {
            json_object_set_new(b[k].item, "ticket", json_string(b[k].ticket));
            out->events += b[k].events;
            out->withheld += b[k].withheld;
        } else {
            json_object_set_new(b[k].item, "note", json_string("taken by another node meanwhile"));
        }
    }
    return DZ_OK;
}

/*
 * The queueing thread of a digest round: while the round renders the next
 * batch, this one writes the previous (one batch in flight), so rendering
 * and the database's writes overlap. Its counters are merged at the end.
 */
typedef struct queuer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    store *st;
    const notify_due_list *due;
    int64_t now;
    pending *job;             /* the batch handed over; NULL: idle */
    size_t job_n;
    bool quit;
    dz_code rc;               /* the first failure; later batches are not queued */
    dz_err err;
    notify_digest_report counts;
} queuer;

static void *queuer_main(void *arg)
{
    queuer *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->job && !q->quit)
            pthread_cond_wait(&q->cv, &q->mu);
        if (!q->job)
            break;
        pending *b = q->job;
        size_t nb = q->job_n;
        bool failed = q->rc != DZ_OK;
        pthread_mutex_unlock(&q->mu);
        dz_err e = {0};
        dz_code rc = failed ? DZ_OK : flush_batch(q->st, q->due, b, nb, q->now, &q->counts, &e);
        for (size_t k = 0; k < nb; k++)
            pending_free(&b[k]);
        pthread_mutex_lock(&q->mu);
        if (rc != DZ_OK && q->rc == DZ_OK) {
            q->rc = rc;
            q->err = e;
        }
        q->job = NULL;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Waits until the queuer is idle; its failure so far, if any. */
static dz_code queuer_wait(queuer *q, dz_err *e)
{
    pthread_mutex_lock(&q->mu);
    while (q->job)
        pthread_cond_wait(&q->cv, &q->mu);
    dz_code rc = q->rc;
    if (rc != DZ_OK)
        *e = q->err;
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* Hands b over once the previous batch is queued. */
static dz_code queuer_submit(queuer *q, pending *b, size_t nb, dz_err *e)
{
    if (queuer_wait(q, e) != DZ_OK)
        return e->code;
    pthread_mutex_lock(&q->mu);
    q->job = b;
    q->job_n = nb;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return DZ_OK;
}

static void queuer_stop(queuer *q)
{
    pthread_mutex_lock(&q->mu);
    q->quit = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

void notify_digest_report_free(notify_digest_report *r)
{
    if (!r)
        return;
    json_decref(r->items);
    memset(r, 0, sizeof *r);
}

static json_t *counts_with_advice(const notifier *n, const json_t *counts, const char *lang)
{
    json_t *a = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(counts, i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        json_t *o = json_pack("{s:O, s:O, s:O, s:s}", "taxonomy", json_object_get(c, "taxonomy"), "type",
                              json_object_get(c, "type"), "count", json_object_get(c, "count"), "advice",
                              advice_for(n, lang, type ? type : ""));
        if (!o || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

dz_code notify_digest_round(notifier *n, store *st, bool dry_run, notify_digest_report *out, dz_err *e)
{
    memset(out, 0, sizeof *out);
    out->items = json_array();
    if (!out->items)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    if (!n->c.from[0])
        return dz_fail(e, DZ_EINVAL, "mail_from is not set");
    int64_t now = store_now(st);
    notify_due_list due;
    if (store_notify_due(st, now, &due, e) != DZ_OK)
        return e->code;
    out->due = due.n;
    if (!due.n) {
        notify_due_list_free(&due);
        return DZ_OK;
    }
    event_export *x = NULL;
    renderer r;
    renderer_init(&r, n);
    pending *batches[2] = {calloc(BATCH, sizeof(pending)), calloc(BATCH, sizeof(pending))};
    pending *batch = batches[0];
    int cur = 0;
    queuer q = {.st = st, .due = &due, .now = now, .rc = DZ_OK};
    bool q_running = false;
    group *groups = NULL;
    size_t ng = 0, gcap = 0, nb = 0, batch_bytes = 0;
    int64_t cur_org = -1, next_ticket = 0, tickets_left = 0;
    int year = time_year_utc(now);
    char period_to[32];
    format_minute(now, period_to);
    dz_code rc = batches[0] && batches[1] ? DZ_OK : dz_fail(e, DZ_ENOMEM, "out of memory");
    if (rc == DZ_OK && !dry_run) {
        pthread_mutex_init(&q.mu, NULL);
        pthread_cond_init(&q.cv, NULL);
        int err = pthread_create(&q.thread, NULL, queuer_main, &q);
        if (err) {
            pthread_cond_destroy(&q.cv);
            pthread_mutex_destroy(&q.mu);
            rc = dz_fail(e, DZ_EINTERNAL, "digest round: %s", strerror(err));
        } else {
            q_running = true;
        }
    }
    if (rc == DZ_OK)
        rc = event_export_new(&x, e);
    if (rc == DZ_OK)
        rc = pgp_acquire(n, &r.pgp, e);

    for (size_t i = 0; rc == DZ_OK && i < due.n; i++) {
        const notify_due_contact *dc = &due.items[i];
        if (dc->org_id != cur_org) {
            for (size_t k = 0; k < ng; k++)
                group_free(&groups[k]);
            ng = 0;
            cur_org = dc->org_id;
        }
        group *g = NULL;
        for (size_t k = 0; k < ng && !g; k++)
            if (groups[k].after_id == dc->after_id && groups[k].ceiling == dc->max_tlp &&
                groups[k].format == dc->format)
                g = &groups[k];
        if (!g) {
            if (ng == gcap) {
                size_t nc = gcap ? gcap * 2 : 8;
                group *p = realloc(groups, nc * sizeof *p);
                if (!p) {
                    rc = dz_fail(e, DZ_ENOMEM, "out of memory");
                    break;
                }
                groups = p;
                gcap = nc;
            }
            g = &groups[ng++];
            memset(g, 0, sizeof *g);
            strbuf_init(&g->att);
            g->after_id = dc->after_id;
            g->ceiling = dc->max_tlp;
            g->format = dc->format;
            if ((rc = group_build(n, st, x, dc->org_id, due.upto_id, g, e)) != DZ_OK) {
                dz_wrap(e, "events of %s", dc->short_name);
                break;
            }
        }

        char ticket[48];
        if (dry_run) {
            snprintf(ticket, sizeof ticket, "%s-N-%04d-DRYRUN", n->c.ticket_prefix, year);
        } else {
            if (!tickets_left) {
                size_t want = due.n - i < BATCH ? due.n - i : BATCH;
                if ((rc = store_notify_reserve_tickets(st, year, want, &next_ticket, e)) != DZ_OK)
                    break;
                tickets_left = (int64_t)want;
            }
            snprintf(ticket, sizeof ticket, "%s-N-%04d-%06" PRId64, n->c.ticket_prefix, year, next_ticket);
            next_ticket++;
            tickets_left--;
        }

        const lang_set *ls = pick_lang(n, dc->language, KIND_DIGEST);
        const char *fmt = dc->format == NOTIFY_FORMAT_JSON ? "json" : "csv";
        char att_name[80] = "";
        if (g->attached)
            snprintf(att_name, sizeof att_name, "events-%s.%s", ticket, dc->format == NOTIFY_FORMAT_JSON ? "jsonl" : "csv");
        tlp_level tlp = g->attached ? g->top : (n->c.default_tlp < dc->max_tlp ? n->c.default_tlp : dc->max_tlp);
        int64_t period_from = dc->last_digest_at ? dc->last_digest_at : (g->first_time ? g->first_time : now);
        char from_s[32];
        format_minute(period_from, from_s);
        json_t *item = json_pack("{s:n, s:s, s:s, s:n, s:I, s:I}", "ticket", "constituent", dc->short_name, "to",
                                 dc->email, "subject", "events", (json_int_t)g->attached, "withheld",
                                 (json_int_t)g->withheld);
        json_t *counts = counts_with_advice(n, g->counts, ls->lang);
        json_t *data = counts ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:s, s:s, s:s, "
                                          "s:s, s:s}",
                                          "organisation", dc->org_name, "short_name", dc->short_name, "contact_name",
                                          dc->name, "ticket", ticket, "period_from", from_s, "period_to", period_to,
                                          "events", (json_int_t)g->attached, "total", (json_int_t)g->total,
                                          "withheld", (json_int_t)g->withheld, "not_attached",
                                          (json_int_t)g->not_attached, "counts", counts, "attachment", att_name,
                                          "format", fmt, "tlp", tlp_name(tlp), "portal_url", n->c.portal_url,
                                          "cirt", n->c.from_name)
                              : NULL;
        if (!item || !data || json_array_append_new(out->items, item) != 0) {
            json_decref(data);
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
            break;
        }
        message_spec m = {
            .kind = KIND_DIGEST,
            .ls = ls,
            .data = data,
            .ticket = ticket,
            .to = dc->email,
            .to_name = dc->name,
            .pgp_value = dc->pgp,
            .att_name = g->attached ? att_name : NULL,
            .att_type = dc->format == NOTIFY_FORMAT_JSON ? "application/x-ndjson" : "text/csv; charset=utf-8",
            .att_data = g->att.buf,
            .att_len = g->att.len,
            .now = now,
        };
        rendered msg;
        dz_err me = {0};
        dz_code mrc = render_message(&r, &m, &msg, &me);
        json_decref(data);
        if (mrc == DZ_ENOMEM) {
            rendered_free(&msg);
            rc = dz_fail(e, DZ_ENOMEM, "%s", me.msg);
            break;
        }
        if (mrc != DZ_OK) {
            rendered_free(&msg);
            out->failed++;
            json_object_set_new(item, "error", json_string(me.msg));
            continue;
        }
        json_object_set_new(item, "subject", json_string(msg.subject));
        json_object_set_new(item, "signed", json_boolean(msg.is_signed));
        json_object_set_new(item, "encrypted", json_boolean(msg.is_encrypted));
        if (msg.note[0])
            json_object_set_new(item, "note", json_string(msg.note));
        if (dry_run) {
            out->queued++;
            out->events += g->attached;
            out->withheld += g->withheld;
            rendered_free(&msg);
            continue;
        }
        pending *p = &batch[nb++];
        p->dc = dc;
        p->lang = ls->lang;
        snprintf(p->ticket, sizeof p->ticket, "%s", ticket);
        p->r = msg;
        p->summary = strdup(g->summary);
        p->item = item;
        p->events = g->attached;
        p->withheld = g->withheld;
        p->period_from = period_from;
        p->tlp = tlp;
        batch_bytes += msg.message_len;
        if (!p->summary)
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
        else if (nb == BATCH || batch_bytes >= BATCH_BYTES) {
            /* the queuer takes this batch (and frees its entries); rendering goes on in the other */
            if ((rc = queuer_submit(&q, batch, nb, e)) != DZ_OK)
                break;
            cur ^= 1;
            batch = batches[cur];
            nb = 0;
            batch_bytes = 0;
        }
    }
    if (rc == DZ_OK && nb) {
        if ((rc = queuer_submit(&q, batch, nb, e)) == DZ_OK)
            nb = 0;
    }
    if (q_running) {
        dz_err qe = {0};
        if (queuer_wait(&q, &qe) != DZ_OK && rc == DZ_OK) {
            *e = qe;
            rc = qe.code;
        }
        queuer_stop(&q);
        out->queued += q.counts.queued;
        out->conflicts += q.counts.conflicts;
        out->events += q.counts.events;
        out->withheld += q.counts.withheld;
    }
    for (size_t k = 0; batch && k < nb; k++)
        pending_free(&batch[k]);
    free(batches[0]);
    free(batches[1]);
    for (size_t k = 0; k < ng; k++)
        group_free(&groups[k]);
    free(groups);
    event_export_free(x);
    renderer_free(&r);
    notify_due_list_free(&due);
    return rc;
}

/* ---------------------------------------------------------------- sending */

static void node_name(char out[64])
{
    char host[48] = "localhost";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(out, 64, "%s:%ld", host, (long)getpid());
}

/* holder is "HOST:PID" of this host, not node, not this process, and no such process runs. */
static bool holder_dead(const char *holder, const char *node)
{
    if (!holder || strcmp(holder, node) == 0)
        return false;
    char host[48] = "localhost"; /* as node_name cuts it */
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    const char *c = strrchr(holder, ':');
    if (!c || (size_t)(c - holder) != strlen(host) || strncmp(holder, host, (size_t)(c - holder)) != 0)
        return false;
    char *end;
    errno = 0;
    long pid = strtol(c + 1, &end, 10);
    if (errno || end == c + 1 || *end || pid <= 0 || pid == (long)getpid())
        return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

void notify_send_report_free(notify_send_report *r)
{
    if (!r)
        return;
    json_decref(r->items);
    memset(r, 0, sizeof *r);
}

/* dry run: the queued rows that are due, oldest first would be sent first (the list is newest first). */
static dz_code list_due(store *st, size_t max, notify_send_report *out, dz_err *e)
{
    int64_t now = store_now(st);
    char cursor[64] = "";
    for (;;) {
        notification_filter f = {.status = "queued", .acknowledged = -1, .limit = 1000,
                                 .cursor = cursor[0] ? cursor : NULL};
        json_t *page;
        if (store_notification_list(st, 0, &f, &page, e) != DZ_OK)
            return e->code;
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(page, "items"), i, it) {
            const char *due_s = json_string_value(json_object_get(it, "next_attempt_at"));
            int64_t due_at = 0;
            dz_err ignore;
            if (due_s && time_parse_iso(due_s, &due_at, &ignore) == DZ_OK && due_at > now)
                continue;
            json_t *o = json_pack("{s:O, s:O, s:O, s:O, s:O}", "ticket", json_object_get(it, "ticket"), "to",
                                  json_object_get(it, "recipient"), "subject", json_object_get(it, "subject"),
                                  "attempts", json_object_get(it, "attempts"), "next_attempt_at",
                                  json_object_get(it, "next_attempt_at"));
            if (o)
                json_array_append_new(out->items, o);
            if (max && json_array_size(out->items) >= max)
                break;
        }
        const char *next = json_string_value(json_object_get(page, "next_cursor"));
        bool more = next && (!max || json_array_size(out->items) < max);
        if (more)
            snprintf(cursor, sizeof cursor, "%s", next);
        json_decref(page);
        if (!more)
            return DZ_OK;
    }
}

/* The wait before attempt attempts + 1: base * 2^(attempts-1), at most 6 h. */
static int64_t retry_delay(int base, int attempts)
{
    int64_t d = base > 0 ? base : 60;
    for (int i = 1; i < attempts && d < RETRY_CAP_S; i++)
        d *= 2;
    return d < RETRY_CAP_S ? d : RETRY_CAP_S;
}

static dz_code send_round(notifier *n, store *st, const char *node_in, size_t max, bool dry_run,
                          notify_send_report *out, atomic_bool *stop, dz_err *e)
{
    memset(out, 0, sizeof *out);
    out->items = json_array();
    if (!out->items)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    if (dry_run)
        return list_due(st, max, out, e);
    if (!n->c.smtp.url[0])
        return dz_fail(e, DZ_EINVAL, "no SMTP relay: set smtp in dzong.conf, --smtp or DZONG_SMTP");
    if (!n->c.from[0])
        return dz_fail(e, DZ_EINVAL, "mail_from is not set");
    char node[64];
    if (node_in && *node_in)
        snprintf(node, sizeof node, "%s", node_in);
    else
        node_name(node);

    json_t *holders = NULL;
    if (store_outbox_holders(st, &holders, e) != DZ_OK)
        return e->code;
    const char *dead[64];
    size_t n_dead = 0;
    size_t hi;
    json_t *h;
    json_array_foreach(holders, hi, h) {
        if (n_dead < sizeof dead / sizeof *dead && holder_dead(json_string_value(h), node))
            dead[n_dead++] = json_string_value(h);
    }

    int timeout = n->c.smtp.timeout_s > 0 ? n->c.smtp.timeout_s : 60;
    /* The lease covers at least one whole attempt, so every batch sends at least its first message. */
    int lease = timeout + CONNECT_MARGIN_S + 30 > LEASE_S ? timeout + CONNECT_MARGIN_S + 30 : LEASE_S;
    size_t done = 0;
    bool first = true;
    dz_code rc = DZ_OK;
    while (rc == DZ_OK && !(stop && atomic_load(stop))) {
        size_t want = CLAIM_BATCH;
        if (max && max - done < want)
            want = max - done;
        if (!want)
            break;
        outbox_item *items = NULL;
        size_t ni = 0;
        rc = store_outbox_claim(st, node, want, lease, first ? dead : NULL, first ? n_dead : 0, &items, &ni, e);
        first = false;
        if (rc != DZ_OK || !ni) {
            outbox_items_free(items, ni);
            break;
        }
        int64_t claimed_at = mono_s();
        for (size_t k = 0; k < ni && rc == DZ_OK; k++) {
            const outbox_item *it = &items[k];
            /* Never send under a lease that may run out before the outcome is recorded. */
            if ((stop && atomic_load(stop)) || mono_s() - claimed_at + timeout + CONNECT_MARGIN_S > lease) {
                dz_err re = {0};
                if (store_outbox_record(st, it->id, node, OUTBOX_RETRY, 0,
                                        "not attempted: the round stopped or its lease ran short (a slow relay)",
                                        store_now(st), &re) != DZ_OK && re.code != DZ_ECONFLICT) {
                    *e = re;
                    rc = re.code;
                }
                continue;
            }
            smtp_result sr;
            dz_err se = {0};
            dz_code sc = smtp_send(&n->c.smtp, n->c.from, it->recipient, it->message, it->message_len, &sr, &se);
            outbox_outcome o;
            char err[600] = "";
            int64_t retry_at = 0;
            if (sc != DZ_OK) { /* local: a bad recipient address can never be sent; anything else may pass */
                sr.code = 0;
                sr.outcome = sc == DZ_EINVAL ? SMTP_PERMANENT : SMTP_TEMPORARY;
                snprintf(sr.error, sizeof sr.error, "%s", se.msg);
            }
            if (sr.outcome == SMTP_SENT) {
                o = OUTBOX_SENT;
            } else if (sr.outcome == SMTP_PERMANENT) {
                o = OUTBOX_FAILED;
                snprintf(err, sizeof err, "%s", sr.error);
            } else if (it->attempts >= n->c.max_attempts) {
                o = OUTBOX_FAILED;
                snprintf(err, sizeof err, "gave up after %d attempts: %s", it->attempts, sr.error);
            } else {
                o = OUTBOX_RETRY;
                retry_at = store_now(st) + retry_delay(n->c.retry_base_s, it->attempts);
                snprintf(err, sizeof err, "%s", sr.error);
            }
            dz_err re = {0};
            dz_code rrc = store_outbox_record(st, it->id, node, o, sr.code, err[0] ? err : NULL, retry_at, &re);
            static const char *const names[] = {"sent", "retry", "failed"};
            json_t *item = json_pack("{s:s, s:s, s:s, s:i}", "ticket", it->ticket, "to", it->recipient, "outcome",
                                     names[o], "code", sr.code);
            if (item && err[0])
                json_object_set_new(item, "error", json_string(err));
            if (item && it->in_doubt)
                json_object_set_new(item, "in_doubt", json_true());
            if (rrc == DZ_ECONFLICT && item)
                json_object_set_new(item, "note", json_string("the outcome came after the lease ran out: another "
                                                              "node may send it again"));
            if (item)
                json_array_append_new(out->items, item);
            if (rrc != DZ_OK && rrc != DZ_ECONFLICT) {
                *e = re;
                rc = rrc;
                dz_wrap(e, "recording the outcome of %s", it->ticket);
            }
            if (o == OUTBOX_SENT)
                out->sent++;
            else if (o == OUTBOX_RETRY)
                out->retried++;
            else
                out->failed++;
            done++;
        }
        outbox_items_free(items, ni);
    }
    json_decref(holders);
    return rc;
}

dz_code notify_send_round(notifier *n, store *st, const char *node, size_t max, bool dry_run,
                          notify_send_report *out, dz_err *e)
{
    return send_round(n, st, node, max, dry_run, out, NULL, e);
}

/* ---------------------------------------------------------------- incident notices */

static bool in_array(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

typedef struct notice {
    int64_t org_id;
    const char *constituent, *org_name, *email, *name, *language, *pgp; /* borrowed from the records */
    char ticket[48];
    const lang_set *ls;
    rendered r;
} notice;

dz_code notify_incident(notifier *n, store *st, const principal *who, const store_scope *scope,
                        const char *incident, const char *const *constituents, size_t n_constituents,
                        const char *subject, const char *text, json_t **out, dz_err *e)
{
    *out = NULL;
    if (!n->c.from[0])
        return dz_fail(e, DZ_EINVAL, "mail_from is not set");
    if (!incident || !*incident)
        return dz_fail(e, DZ_EINVAL, "no incident named");
    if (!constituents || !n_constituents)
        return dz_fail(e, DZ_EINVAL, "name the constituents to notify");
    json_t *inc = NULL;
    if (store_incident_get(st, scope, incident, &inc, e) != DZ_OK)
        return e->code;
    const char *public_id = json_string_value(json_object_get(inc, "id"));
    const char *title = json_string_value(json_object_get(inc, "title"));
    const json_t *affected = json_object_get(inc, "constituents");
    tlp_level itlp;
    dz_err te;
    if (tlp_parse(json_string_value(json_object_get(inc, "tlp")) ? json_string_value(json_object_get(inc, "tlp")) : "",
                  &itlp, &te) != DZ_OK)
        itlp = TLP_AMBER;
    if (!public_id)
        public_id = incident;
    if (itlp == TLP_RED) {
        dz_fail(e, DZ_ECONFLICT, "incident %s is TLP:RED: its information is for the named people present only and "
                                 "is not mailed to constituents' contacts (lower its TLP first if it may be shared)",
                public_id);
        json_decref(inc);
        return DZ_ECONFLICT;
    }
    /* Every name must be affected; repeated names count once. */
    strbuf bad;
    strbuf_init(&bad);
    const char **names = calloc(n_constituents, sizeof *names);
    size_t nn = 0;
    if (!names) {
        json_decref(inc);
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_constituents; i++) {
        const char *c = constituents[i] ? constituents[i] : "";
        bool dup = false;
        for (size_t k = 0; k < nn && !dup; k++)
            dup = strcmp(names[k], c) == 0;
        if (dup)
            continue;
        if (!in_array(affected, c)) {
            strbuf_printf(&bad, "%s%s", bad.len ? ", " : "", c);
            continue;
        }
        names[nn++] = c;
    }
    if (bad.len) {
        dz_fail(e, DZ_EINVAL, "not affected by incident %s: %.300s (notices go to affected constituents only)",
                public_id, bad.buf);
        strbuf_free(&bad);
        free(names);
        json_decref(inc);
        return DZ_EINVAL;
    }
    strbuf_free(&bad);

    json_t *recs = json_array(), *skipped = json_array(), *queued = json_array();
    notice *ns = NULL;
    size_t nns = 0, ncap = 0;
    dz_code rc = recs && skipped && queued ? DZ_OK : dz_fail(e, DZ_ENOMEM, "out of memory");
    for (size_t i = 0; rc == DZ_OK && i < nn; i++) {
        json_t *rec = NULL;
        int64_t org_id = 0;
        if ((rc = store_constituent_get(st, 0, names[i], &rec, e)) != DZ_OK ||
            (rc = store_constituent_id(st, names[i], &org_id, e)) != DZ_OK) {
            json_decref(rec);
            break;
        }
        json_array_append_new(recs, rec);
        size_t ci;
        json_t *ct;
        json_array_foreach(json_object_get(rec, "contacts"), ci, ct) {
            const char *email = json_string_value(json_object_get(ct, "email"));
            if (!email || !*email)
                continue;
            bool dup = false;
            for (size_t k = 0; k < nns && !dup; k++)
                dup = ns[k].org_id == org_id && strcmp(ns[k].email, email) == 0;
            if (dup)
                continue;
            tlp_level ceiling;
            const char *mt = json_string_value(json_object_get(ct, "max_tlp"));
            if (tlp_parse(mt ? mt : "AMBER", &ceiling, &te) != DZ_OK)
                ceiling = TLP_AMBER;
            if (ceiling < itlp) {
                char why[160];
                snprintf(why, sizeof why, "the contact may receive up to TLP:%s; the incident is TLP:%s",
                         tlp_name(ceiling), tlp_name(itlp));
                json_array_append_new(skipped, json_pack("{s:s, s:s, s:s}", "constituent", names[i], "to", email,
                                                         "reason", why));
                continue;
            }
            if (nns == ncap) {
                size_t nc = ncap ? ncap * 2 : 16;
                notice *p = realloc(ns, nc * sizeof *p);
                if (!p) {
                    rc = dz_fail(e, DZ_ENOMEM, "out of memory");
                    break;
                }
                ns = p;
                ncap = nc;
            }
            notice *x = &ns[nns++];
            memset(x, 0, sizeof *x);
            x->org_id = org_id;
            x->constituent = names[i];
            x->org_name = json_string_value(json_object_get(rec, "name"));
            x->email = email;
            x->name = json_string_value(json_object_get(ct, "name"));
            x->language = json_string_value(json_object_get(ct, "language"));
            x->pgp = json_string_value(json_object_get(ct, "pgp"));
        }
    }

    int64_t now = store_now(st);
    int year = time_year_utc(now);
    int64_t first = 0;
    if (rc == DZ_OK && nns)
        rc = store_notify_reserve_tickets(st, year, nns, &first, e);
    renderer r;
    renderer_init(&r, n);
    if (rc == DZ_OK && nns)
        rc = pgp_acquire(n, &r.pgp, e);
    notify_new *items = rc == DZ_OK && nns ? calloc(nns, sizeof *items) : NULL;
    if (rc == DZ_OK && nns && !items)
        rc = dz_fail(e, DZ_ENOMEM, "out of memory");
    size_t ni = 0;
    for (size_t k = 0; rc == DZ_OK && k < nns; k++) {
        notice *x = &ns[k];
        snprintf(x->ticket, sizeof x->ticket, "%s-N-%04d-%06" PRId64, n->c.ticket_prefix, year, first + (int64_t)k);
        x->ls = pick_lang(n, x->language ? x->language : "en", KIND_INCIDENT);
        json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "organisation",
                                 x->org_name ? x->org_name : x->constituent, "short_name", x->constituent,
                                 "contact_name", x->name ? x->name : "", "ticket", x->ticket, "incident", public_id,
                                 "title", title ? title : "", "tlp", tlp_name(itlp), "text", text ? text : "",
                                 "handler", who && who->username[0] ? who->username : "", "portal_url",
                                 n->c.portal_url, "cirt", n->c.from_name);
        if (!data) {
            rc = dz_fail(e, DZ_ENOMEM, "out of memory");
            break;
        }
        message_spec m = {
            .kind = KIND_INCIDENT,
            .ls = x->ls,
            .data = data,
            .subject = subject,
            .ticket = x->ticket,
            .to = x->email,
            .to_name = x->name,
            .pgp_value = x->pgp,
            .now = now,
        };
        dz_err me = {0};
        dz_code mrc = render_message(&r, &m, &x->r, &me);
        json_decref(data);
        if (mrc == DZ_ENOMEM) {
            rc = dz_fail(e, DZ_ENOMEM, "%s", me.msg);
            break;
        }
        if (mrc != DZ_OK) {
            char why[400];
            snprintf(why, sizeof why, "could not be rendered: %s", me.msg);
            json_array_append_new(skipped, json_pack("{s:s, s:s, s:s}", "constituent", x->constituent, "to",
                                                     x->email, "reason", why));
            rendered_free(&x->r);
            continue;
        }
        items[ni++] = (notify_new){
            .kind = "incident",
            .ticket = x->ticket,
            .message_id = x->r.message_id,
            .org_id = x->org_id,
            .recipient = x->email,
            .recipient_name = x->name,
            .subject = x->r.subject,
            .message = x->r.message,
            .message_len = x->r.message_len,
            .language = x->ls->lang,
            .tlp = tlp_name(itlp),
            .is_signed = x->r.is_signed,
            .is_encrypted = x->r.is_encrypted,
            .incident = public_id,
        };
    }
    renderer_free(&r);
    if (rc == DZ_OK) {
        notify_incident_note note = {public_id, text, scope};
        notify_queue_result qr;
        rc = store_notify_queue(st, who, items, ni, text && *text ? &note : NULL, &qr, e);
    }
    for (size_t k = 0; rc == DZ_OK && k < ni; k++) {
        json_t *j = NULL;
        if ((rc = store_notification_get(st, 0, items[k].ticket, &j, e)) == DZ_OK) {
            json_t *note = NULL;
            for (size_t q = 0; q < nns; q++)
                if (strcmp(ns[q].ticket, items[k].ticket) == 0 && ns[q].r.note[0])
                    note = json_string(ns[q].r.note);
            if (note)
                json_object_set_new(j, "note", note);
            json_array_append_new(queued, j);
        }
    }
    if (rc == DZ_OK)
        *out = json_pack("{s:O, s:O}", "queued", queued, "skipped", skipped);
    if (rc == DZ_OK && !*out)
        rc = dz_fail(e, DZ_ENOMEM, "out of memory");
    for (size_t k = 0; k < nns; k++)
        rendered_free(&ns[k].r);
    free(ns);
    free(items);
    free(names);
    json_decref(recs);
    json_decref(skipped);
    json_decref(queued);
    json_decref(inc);
    return rc;
}

/* ---------------------------------------------------------------- the sender thread */

struct notify_sender {
    notifier *n;
    store *st;
    char node[64];
    int poll_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool wake;
    atomic_bool stop;
};

static void *sender_main(void *arg)
{
    notify_sender *s = arg;
    while (!atomic_load(&s->stop)) {
        notify_send_report r;
        dz_err e = {0};
        if (send_round(s->n, s->st, s->node[0] ? s->node : NULL, 0, false, &r, &s->stop, &e) != DZ_OK)
            fprintf(stderr, "dzong: notify: sending: %s\n", e.msg);
        size_t i;
        json_t *it;
        json_array_foreach(r.items, i, it) {
            const char *outcome = json_string_value(json_object_get(it, "outcome"));
            if (outcome && strcmp(outcome, "sent") == 0)
                continue;
            /* the ticket and what the relay said; never the message */
            fprintf(stderr, "dzong: notify: %s: %s: %s\n", json_string_value(json_object_get(it, "ticket")),
                    outcome ? outcome : "?", json_string_value(json_object_get(it, "error")) ?: "");
        }
        notify_send_report_free(&r);

        pthread_mutex_lock(&s->mu);
        if (!s->wake && !atomic_load(&s->stop)) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += s->poll_s;
            while (!s->wake && !atomic_load(&s->stop))
                if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
                    break;
        }
        s->wake = false;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

dz_code notify_sender_start(notifier *n, store *st, const char *node, int poll_s, notify_sender **out, dz_err *e)
{
    *out = NULL;
    if (!n->c.smtp.url[0])
        return dz_fail(e, DZ_EINVAL, "no SMTP relay: set smtp in dzong.conf, --smtp or DZONG_SMTP");
    notify_sender *s = calloc(1, sizeof *s);
    if (!s)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    s->n = n;
    s->st = st;
    if (node)
        snprintf(s->node, sizeof s->node, "%s", node);
    s->poll_s = poll_s > 0 ? poll_s : 5;
    atomic_init(&s->stop, false);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    int err = pthread_create(&s->thread, NULL, sender_main, s);
    if (err) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return dz_fail(e, DZ_EINTERNAL, "notify sender: %s", strerror(err));
    }
    *out = s;
    return DZ_OK;
}

void notify_sender_wake(notify_sender *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->wake = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void notify_sender_stop(notify_sender *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stop, true);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
