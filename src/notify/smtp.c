/*
 * smtp.c: one message to one recipient through the relay, with libcurl (see smtp.h).
 *
 * One easy handle per thread, reset and set up again for every message:
 * libcurl keeps the relay's connection open between messages of the same
 * thread (EHLO, STARTTLS and AUTH once, then MAIL, RCPT, DATA per message),
 * closes it after any failed transfer (so a session in an unknown state is
 * never reused), and drops it when it has been idle for IDLE_S. Nothing is
 * shared between threads.
 *
 * What an outcome means. libcurl tells how the session ended (a CURLcode)
 * and the relay's last reply code; a debug callback also remembers the last
 * command dzong sent and the relay's last reply line, for people. A 5xx
 * reply to MAIL FROM, RCPT TO, DATA or the message itself is permanent: that
 * recipient or that message will never be taken. Everything else is
 * temporary: 4xx, no connection, a timeout, a TLS failure, and also refusals
 * that a configuration fix cures (the relay refusing our AUTH, asking for
 * AUTH (530), refusing the greeting or EHLO), so that fixing dzong.conf
 * does not lose the messages queued meanwhile. The password is only ever
 * handed to libcurl; the debug callback does not keep AUTH lines.
 */
#include "notify/smtp.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONNECT_TIMEOUT_S 10L
#define DEFAULT_TIMEOUT_S 60
#define IDLE_S 30L /* a connection idle longer is not reused (relays drop idle clients after a while) */

static pthread_key_t handle_key;
static pthread_once_t handle_once = PTHREAD_ONCE_INIT;

static void handle_free(void *h)
{
    curl_easy_cleanup(h);
}

static void handle_key_make(void)
{
    pthread_key_create(&handle_key, handle_free);
}

/* This thread's easy handle, reset (its connection cache stays); NULL when out of memory. */
static CURL *thread_handle(void)
{
    pthread_once(&handle_once, handle_key_make);
    CURL *h = pthread_getspecific(handle_key);
    if (h) {
        curl_easy_reset(h);
        return h;
    }
    h = curl_easy_init();
    if (h && pthread_setspecific(handle_key, h) != 0) {
        curl_easy_cleanup(h);
        h = NULL;
    }
    return h;
}

dz_code smtp_tls_parse(const char *s, smtp_tls *out, dz_err *e)
{
    if (!s || strcasecmp(s, "try") == 0)
        *out = SMTP_TLS_TRY;
    else if (strcasecmp(s, "require") == 0)
        *out = SMTP_TLS_REQUIRE;
    else if (strcasecmp(s, "off") == 0)
        *out = SMTP_TLS_OFF;
    else
        return dz_fail(e, DZ_EINVAL, "'%.40s' is not a STARTTLS setting (try, require or off)", s);
    return DZ_OK;
}

/* Length of the scheme's "smtp://" or "smtps://" prefix, 0 when neither. */
static size_t scheme_len(const char *url)
{
    if (strncasecmp(url, "smtp://", 7) == 0)
        return 7;
    if (strncasecmp(url, "smtps://", 8) == 0)
        return 8;
    return 0;
}

dz_code smtp_check_url(const char *url, dz_err *e)
{
    if (!url || !*url)
        return dz_fail(e, DZ_EINVAL, "no SMTP relay URL");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return dz_fail(e, DZ_EINVAL, "SMTP relay '%.100s' contains a space or a control character", url);
    size_t sl = scheme_len(url);
    if (!sl)
        return dz_fail(e, DZ_EINVAL, "SMTP relay '%.100s' is not an smtp:// or smtps:// URL", url);
    const char *h = url + sl;
    size_t len = strcspn(h, "/?#");
    const char *at = memchr(h, '@', len);
    if (at)
        return dz_fail(e, DZ_EINVAL, "SMTP relay '%.100s': give the user and password as smtp_user and "
                                     "smtp_password, not in the URL", url);
    if (len && h[0] == '[') {
        const char *close = memchr(h, ']', len);
        if (!close || close == h + 1)
            return dz_fail(e, DZ_EINVAL, "SMTP relay '%.100s' has a bad IPv6 address", url);
        h = close + 1;
        len -= (size_t)(close + 1 - (url + sl));
        if (len && *h != ':')
            return dz_fail(e, DZ_EINVAL, "SMTP relay '%.100s' has a bad IPv6 address", url);
    } else {
        const char *colon = memchr(h, ':', len);
        size_t host_len = colon ? (size_t)(colon - h) : len;
        if (host_len == 0)
            return dz_fail(e, DZ_EINVAL, "SMTP relay '%.100s' has no host", url);
        h += host_len;
        len -= host_len;
    }
    if (len) { /* ":port" */
        if (len == 1)
            return dz_fail(e, DZ_EINVAL, "SMTP relay '%.100s' has an empty port", url);
        long port = 0;
        for (size_t i = 1; i < len; i++) {
            if (!isdigit((unsigned char)h[i]) || port > 65535)
                return dz_fail(e, DZ_EINVAL, "SMTP relay '%.100s' has a bad port", url);
            port = port * 10 + (h[i] - '0');
        }
        if (port < 1 || port > 65535)
            return dz_fail(e, DZ_EINVAL, "SMTP relay '%.100s' has a bad port", url);
    }
    return DZ_OK;
}

dz_code smtp_global_init(dz_err *e)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return dz_fail(e, DZ_EINTERNAL, "libcurl: initialisation failed");
    return DZ_OK;
}

/* An address for the envelope: printable ASCII without blanks, <, > or a second @. */
static bool envelope_ok(const char *a)
{
    size_t n = strlen(a);
    if (n == 0 || n > 254)
        return false;
    int ats = 0;
    for (const char *p = a; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= ' ' || ch >= 0x7f || ch == '<' || ch == '>')
            return false;
        ats += ch == '@';
    }
    return ats == 1 && a[0] != '@' && a[n - 1] != '@';
}

typedef struct upload {
    const char *p;
    size_t left;
} upload;

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    upload *u = arg;
    size_t n = size * nitems;
    if (n > u->left)
        n = u->left;
    memcpy(buf, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

/* What the debug callback keeps: the last command's verb and the relay's last reply line. */
typedef struct session {
    char last_cmd[8];   /* "MAIL", "RCPT", "DATA", "EHLO", "AUTH", "STARTTLS" (cut), ... */
    bool data_sent;     /* the message itself went out (its reply is the last one) */
    char reply[200];    /* printable, cut */
    bool quitting;      /* QUIT went out: its 221 says nothing about the message */
} session;

static int on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
    (void)c;
    session *s = arg;
    if (!s) /* a connection closed after its call (QUIT of a reused one) */
        return 0;
    if (type == CURLINFO_HEADER_OUT) {
        /* Only the verb: an AUTH line carries the credentials and is never kept. */
        char verb[sizeof s->last_cmd];
        size_t i = 0;
        while (i < size && i < sizeof verb - 1 && isalpha((unsigned char)data[i])) {
            verb[i] = (char)toupper((unsigned char)data[i]);
            i++;
        }
        verb[i] = '\0';
        if (strcmp(verb, "QUIT") == 0)
            s->quitting = true;
        else if (i > 0)
            memcpy(s->last_cmd, verb, i + 1);
    } else if (type == CURLINFO_DATA_OUT) {
        if (strcmp(s->last_cmd, "DATA") == 0)
            s->data_sent = true;
    } else if (type == CURLINFO_HEADER_IN) {
        /* A reply line "250-..." or "550 5.1.1 ...": keep the last one, printable only. */
        if (s->quitting || size < 3 || !isdigit((unsigned char)data[0]))
            return 0;
        size_t j = 0;
        for (size_t i = 0; i < size && j < sizeof s->reply - 1; i++) {
            unsigned char ch = (unsigned char)data[i];
            if (ch == '\r' || ch == '\n')
                break;
            s->reply[j++] = (ch < ' ' || ch == 0x7f) ? '?' : (char)ch;
        }
        s->reply[j] = '\0';
    }
    return 0;
}

/* scheme://authority of url, then "/" helo when set (libcurl takes EHLO's name from the path). */
static char *build_url(const smtp_config *c)
{
    size_t sl = scheme_len(c->url);
    size_t auth_len = strcspn(c->url + sl, "/?#");
    const char *rest = c->url + sl + auth_len;
    size_t n = sl + auth_len + 2 + strlen(c->helo) + strlen(rest) + 1;
    char *u = malloc(n);
    if (!u)
        return NULL;
    if (c->helo[0])
        snprintf(u, n, "%.*s/%s", (int)(sl + auth_len), c->url, c->helo);
    else
        snprintf(u, n, "%s", c->url);
    return u;
}

static bool auth_code(long code)
{
    return code == 530 || code == 534 || code == 535 || code == 538;
}

dz_code smtp_send(const smtp_config *c, const char *from, const char *to, const char *message, size_t len,
                  smtp_result *r, dz_err *e)
{
    memset(r, 0, sizeof *r);
    if (smtp_check_url(c->url, e) != DZ_OK)
        return e->code;
    if (!from || !envelope_ok(from))
        return dz_fail(e, DZ_EINVAL, "envelope sender '%.100s' is not an address", from ? from : "");
    if (!to || !envelope_ok(to))
        return dz_fail(e, DZ_EINVAL, "recipient '%.100s' is not an address", to ? to : "");
    if (strchr(c->helo, '/') || strchr(c->helo, ' '))
        return dz_fail(e, DZ_EINVAL, "EHLO name '%.100s' is not a host name", c->helo);

    char *url = build_url(c);
    CURL *h = thread_handle();
    char mail_from[300], rcpt[300];
    snprintf(mail_from, sizeof mail_from, "<%s>", from);
    snprintf(rcpt, sizeof rcpt, "<%s>", to);
    struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
    if (!url || !h || !rcpts) {
        free(url);
        curl_slist_free_all(rcpts);
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    }

    upload up = {message, len};
    session ses = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    long use_ssl = c->tls == SMTP_TLS_REQUIRE ? CURLUSESSL_ALL
                 : c->tls == SMTP_TLS_OFF     ? CURLUSESSL_NONE
                                              : CURLUSESSL_TRY;
    if (scheme_len(c->url) == 8) /* smtps://: TLS from the first byte, whatever the setting */
        use_ssl = CURLUSESSL_ALL;
    long timeout = c->timeout_s > 0 ? c->timeout_s : DEFAULT_TIMEOUT_S;

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_USE_SSL, use_ssl);
    if (c->user[0]) {
        curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
    }
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(h, CURLOPT_MAXAGE_CONN, IDLE_S);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    /* The debug callback needs VERBOSE; it prints nothing, it only remembers (see session). */
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &ses);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);

    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    /* The handle outlives this call: nothing of this call's may stay referenced by it. */
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, NULL);
    curl_easy_setopt(h, CURLOPT_READDATA, NULL);
    curl_slist_free_all(rcpts);
    free(url);

    r->code = (int)code;
    if (cc == CURLE_OK) {
        r->outcome = SMTP_SENT;
        return DZ_OK;
    }
    /*
     * Permanent: a 5xx to MAIL FROM, RCPT TO, DATA or the message, except the
     * replies that ask for (other) authentication. A 5xx anywhere else
     * (greeting, EHLO, STARTTLS, AUTH) is the relay refusing dzong, not the
     * message: temporary, until the configuration is fixed.
     */
    bool message_phase = strcmp(ses.last_cmd, "MAIL") == 0 || strcmp(ses.last_cmd, "RCPT") == 0 ||
                         strcmp(ses.last_cmd, "DATA") == 0 || ses.data_sent;
    if (code >= 500 && code < 600 && message_phase && !auth_code(code) && cc != CURLE_LOGIN_DENIED)
        r->outcome = SMTP_PERMANENT;
    else
        r->outcome = SMTP_TEMPORARY;
    const char *what = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    if (ses.reply[0] && code >= 400)
        snprintf(r->error, sizeof r->error, "%s (relay: %s)", what, ses.reply);
    else if (code >= 400)
        snprintf(r->error, sizeof r->error, "%s (code %ld)", what, code);
    else
        snprintf(r->error, sizeof r->error, "%s", what);
    return DZ_OK;
}
