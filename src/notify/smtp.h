/*
 * smtp: hands one finished message to the relay, with libcurl (STARTTLS,
 * AUTH, timeouts). The caller decides what an outcome means for the outbox.
 */
#ifndef DZ_SMTP_H
#define DZ_SMTP_H
#include <stdbool.h>
#include <stddef.h>
#include "lib/dz_err.h"

typedef enum {
    SMTP_TLS_TRY = 0, /* STARTTLS when the relay offers it (default) */
    SMTP_TLS_REQUIRE, /* refuse to send without TLS (smtps:// is always TLS) */
    SMTP_TLS_OFF,
} smtp_tls;

typedef struct smtp_config {
    char url[1024];        /* smtp://host[:port] or smtps://host[:port]; "" = none configured */
    char user[256];        /* "" = no AUTH */
    char password[256];
    smtp_tls tls;
    bool insecure;         /* do not verify the relay's certificate (test relays only) */
    char helo[256];        /* the name sent in EHLO; "" = libcurl's default */
    int timeout_s;         /* per message, default 60 */
} smtp_config;

/* "try", "require", "off". */
dz_code smtp_tls_parse(const char *s, smtp_tls *out, dz_err *e);
/* smtp:// or smtps:// with a host; DZ_EINVAL naming what is wrong. */
dz_code smtp_check_url(const char *url, dz_err *e);

typedef enum {
    SMTP_SENT = 0,   /* the relay accepted the message (250 after DATA) */
    SMTP_TEMPORARY,  /* try again later: 4xx, no connection, timeout, TLS failure, AUTH refused or required
                        (a configuration fix must not lose messages) */
    SMTP_PERMANENT,  /* never: 5xx to MAIL FROM, RCPT TO, DATA or the message (sender, recipient or message refused) */
} smtp_outcome;

typedef struct smtp_result {
    smtp_outcome outcome;
    int code;              /* the relay's last reply code; 0: none */
    char error[512];       /* what went wrong, for people ("" when sent) */
} smtp_result;

/* Process-wide libcurl setup (curl_global_init); call once before threads start. */
dz_code smtp_global_init(dz_err *e);

/*
 * Sends message (RFC 5322, CRLF) from envelope sender from to one recipient.
 * Returns DZ_OK with r filled for every outcome the relay decided (sent,
 * temporary, permanent); an error code only for local failures (no memory,
 * bad configuration: DZ_EINVAL).
 */
dz_code smtp_send(const smtp_config *c, const char *from, const char *to, const char *message, size_t len,
                  smtp_result *r, dz_err *e);

#endif
