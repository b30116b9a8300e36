/*
 * notify: early-warning digests and incident notices, from the store's
 * events to the relay (a layer beside ingest/: store below, server, jobs and
 * cli above).
 *
 * Two halves that meet only in the outbox (store_notify_*, store_outbox_*):
 *  - queueing renders each message completely (template, CSV or JSON
 *    attachment, MIME, OpenPGP signature and encryption) and queues it with
 *    its ticket and Message-ID in one transaction with the watermark it
 *    advances;
 *  - sending claims queued messages, hands each to the relay, and records the
 *    outcome right after the relay's answer. Temporary failures retry with
 *    exponential backoff; permanent ones stay visible per recipient.
 * See docs/notifications.md for the states and the exact crash guarantee.
 */
#ifndef DZ_NOTIFY_H
#define DZ_NOTIFY_H
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/dz_err.h"
#include "lib/marking.h"
#include "notify/smtp.h"
#include "store/store.h"

typedef struct notify_config {
    smtp_config smtp;              /* dzong.conf smtp, smtp_user, smtp_password, smtp_starttls; --smtp, DZONG_SMTP */
    char from[256];                /* mail_from: the envelope and From: address (required to queue) */
    char from_name[200];           /* mail_from_name; default "<id_prefix> CIRT" */
    char reply_to[256];            /* mail_reply_to; "" none */
    char templates_dir[PATH_MAX];  /* DATA/templates */
    char gnupg_home[PATH_MAX];     /* DATA/gnupg */
    char sign_key[128];            /* pgp_sign_key: fingerprint; "" = unsigned */
    bool encrypt;                  /* pgp_encrypt (default yes): to contacts with a usable key */
    char ticket_prefix[17];        /* the store's id_prefix ("BTCIRT") */
    tlp_level default_tlp;         /* events_default_tlp: events without a tlp field (default AMBER) */
    int max_attempts;              /* notify_max_attempts, default 10 */
    int retry_base_s;              /* notify_retry_base, default 60: waits 60 s, 120 s, ... capped at 6 h */
    int attach_max;                /* notify_attach_max: events attached per digest, default 20000 */
    char portal_url[512];          /* portal_url: links in templates ("" none) */
} notify_config;

/* Defaults for data_dir (templates, gnupg, limits); the rest empty. */
void notify_config_defaults(notify_config *c, const char *data_dir);

typedef struct notifier notifier;

/*
 * Loads and compiles the templates (DATA/templates/NAME.LANG.txt and
 * advice.LANG.json; a built-in English set for what the directory lacks)
 * and opens the keyring when signing or encrypting. A broken template or
 * advice file is DZ_EINVAL with "FILE:LINE: reason": nothing is sent with it.
 */
dz_code notifier_open(const notify_config *c, notifier **out, dz_err *e);
void notifier_close(notifier *n);
/* Writes the built-in templates into dir (created 0755), leaving files that exist (dzong init). */
dz_code notify_write_default_templates(const char *dir, dz_err *e);

typedef struct notify_digest_report {
    size_t due;          /* contacts due */
    size_t queued;       /* digests queued (dry run: would be) */
    size_t conflicts;    /* taken by another node meanwhile */
    size_t failed;       /* could not be rendered (each named in items) */
    int64_t events;      /* events attached, all digests */
    int64_t withheld;    /* above a contact's TLP ceiling */
    json_t *items;       /* [{"ticket"|null,"constituent","to","subject","events","withheld","signed","encrypted",
                            "error"? (not rendered), "note"? (sent unencrypted, why; taken by another node)}] */
} notify_digest_report;
void notify_digest_report_free(notify_digest_report *r);

/*
 * One digest round: every contact due (store_notify_due) gets one digest of
 * its organisation's new events up to its TLP ceiling, queued. dry_run:
 * renders but queues nothing and moves no watermark.
 */
dz_code notify_digest_round(notifier *n, store *st, bool dry_run, notify_digest_report *out, dz_err *e);

typedef struct notify_send_report {
    size_t sent, retried, failed;
    json_t *items;       /* [{"ticket","to","outcome":"sent|retry|failed","code","error"?,"in_doubt"?,"note"?}];
                            dry run: [{"ticket","to","subject","attempts","next_attempt_at"}] */
} notify_send_report;
void notify_send_report_free(notify_send_report *r);

/*
 * Sends what is due from the outbox until nothing is (or max messages,
 * 0: no limit), as node ("host:pid"; NULL: this process). dry_run: lists
 * what is due without claiming or sending anything.
 */
dz_code notify_send_round(notifier *n, store *st, const char *node, size_t max, bool dry_run,
                          notify_send_report *out, dz_err *e);

/*
 * A handler's notice of an incident to some of its affected constituents
 * (short names): one message per contact of each (contacts whose TLP
 * ceiling is below the incident's are skipped and listed), and text as a
 * shared note on the incident's timeline, in one transaction. out:
 * {"queued": [notification...], "skipped": [{"constituent","to","reason"}]}.
 */
dz_code notify_incident(notifier *n, store *st, const principal *who, const store_scope *scope,
                        const char *incident, const char *const *constituents, size_t n_constituents,
                        const char *subject, const char *text, json_t **out, dz_err *e);

/* The sender of `dzong serve`: a thread that runs notify_send_round every poll_s seconds (and when woken). */
typedef struct notify_sender notify_sender;
dz_code notify_sender_start(notifier *n, store *st, const char *node, int poll_s, notify_sender **out, dz_err *e);
/* Makes the sender look at the outbox now (after something was queued). */
void notify_sender_wake(notify_sender *s);
void notify_sender_stop(notify_sender *s);

#endif
