/*
 * store: the one interface to persistence.
 *
 * Callers (server, cli, jobs) see only this header. Every write is one
 * transaction; in a server the writes of concurrent requests are committed
 * together by one writer thread (group commit), so each request is durable
 * when its call returns and the fsync is shared. Reads use a connection of
 * the calling thread's own.
 *
 * Reads return jansson objects in the API's wire shape: there is one mapping
 * from rows to JSON, here, and the server passes it on. Returned json_t are
 * owned by the caller (json_decref).
 */
#ifndef DZ_STORE_H
#define DZ_STORE_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "lib/dz_err.h"
#include "lib/identity.h"
#include "lib/incident.h"
#include "lib/request_decode.h"
#include "lib/constituent.h"
#include "lib/registry.h"
#include "lib/pipeline.h"

typedef struct store store;

typedef struct store_settings {
    char id_prefix[17];   /* BTCIRT */
    due_policy due;
    sector_list sectors;  /* the registry's sectors (dzong.conf `sectors`) */
    int64_t dedup_window_s; /* feed events: the dedup window (dzong.conf `dedup_window`); 0: 24 h */
} store_settings;

/* settings->sectors empty: the default sectors. */
dz_code store_open(const char *url, const store_settings *settings, store **out, dz_err *e);
/* The configured sectors (validation of records is the caller's, with constituent_from_json). */
const sector_list *store_sectors(store *s);
void store_close(store *s);
/* Applies the numbered migrations not yet in schema_version. */
dz_code store_migrate(store *s, int *applied, int *version, dz_err *e);
/* Fails unless the schema is current (serve refuses to run on an old schema). */
dz_code store_check_schema(store *s, dz_err *e);
/* Starts the group-commit writer thread; until then writes run in the caller's thread. */
dz_code store_start_writer(store *s, dz_err *e);
void store_stop_writer(store *s);
/* Current time as the store records it; tests may pin it. */
int64_t store_now(store *s);
void store_set_clock(store *s, int64_t fixed_now); /* 0 = real time */

/* ---- the constituency registry (store_constituents.c) ---- */
/*
 * Records travel as constituent_record (lib/constituent.h) into the store and
 * come back as JSON in the API's shape: constituent_to_json() plus
 * created_at and updated_at. Every change bumps the registry version in the
 * same transaction, so each node can tell when to rebuild its index.
 */
typedef enum {
    STORE_PUT_CREATE = 0, /* DZ_ECONFLICT if the short name exists */
    STORE_PUT_REPLACE,    /* DZ_ENOTFOUND if it does not */
    STORE_PUT_UPSERT,
} store_put_mode;

/* *created (may be NULL) tells which happened. parent must exist and not make a cycle. */
dz_code store_constituent_put(store *s, const principal *who, const constituent_record *r, store_put_mode mode,
                              json_t **out, bool *created, dz_err *e);
/* A record with only a short name and a name (kind other): a put with STORE_PUT_CREATE. out may be NULL. */
dz_code store_constituent_create(store *s, const principal *who, const char *short_name, const char *name,
                                 json_t **out, dz_err *e);

typedef struct store_import_result {
    size_t created, updated, unchanged;
} store_import_result;
/*
 * Upserts n records in one transaction (all or nothing). Parents may name
 * records of the same batch. Records equal to what is stored are counted as
 * unchanged and not written (no audit entry, no version bump).
 */
dz_code store_constituent_import(store *s, const principal *who, const constituent_record *recs, size_t n,
                                 store_import_result *out, dz_err *e);

/* only_org != 0: that organisation or DZ_ENOTFOUND (a constituent user sees its own record only). */
dz_code store_constituent_get(store *s, int64_t only_org, const char *short_name, json_t **out, dz_err *e);
/* The same by id (lookup answers). */
dz_code store_constituent_get_by_id(store *s, int64_t only_org, int64_t id, json_t **out, dz_err *e);

typedef struct constituent_filter {
    const char *kind, *sector, *tag, *parent, *text; /* text: in short_name or name */
    int cii;                                         /* -1 any, 0 not designated, 1 designated */
    const char *cursor;                              /* the previous page's next_cursor */
    int limit;                                       /* 1..1000, default 100; 0 = all (export) */
} constituent_filter;
/* out: {"items": [...full records by short_name...], "next_cursor": "..."|null}. f may be NULL (all). */
dz_code store_constituent_list(store *s, int64_t only_org, const constituent_filter *f, json_t **out, dz_err *e);

/* Refused (DZ_ECONFLICT, naming what) while users, incidents, reports or member organisations refer to it. */
dz_code store_constituent_delete(store *s, const principal *who, const char *short_name, dz_err *e);
dz_code store_constituent_id(store *s, const char *short_name, int64_t *id, dz_err *e);

/* The index of everything registered, and the version it reflects. */
dz_code store_registry_load(store *s, registry_index **out, dz_err *e);
/* Cheap: one row. Compare with registry_index_version() to know when to reload. */
dz_code store_registry_version(store *s, int64_t *version, dz_err *e);

/*
 * The index in memory, shared by the API's lookup and the feed pipeline.
 * store_registry_refresh() loads it when the stored version differs from
 * the published one (force: always) and swaps it in without pausing
 * readers. Once it has been loaded, the store keeps it current: after its
 * own registry writes (store_registry_changed, before the write returns)
 * and, while the writer thread runs, by checking the version every second
 * (another node's change, a CLI import next to a running server).
 * Readers: enter, look up, leave; the snapshot cannot vanish in between.
 * Before the first refresh, enter returns NULL (lookups then match nothing).
 */
dz_code store_registry_refresh(store *s, bool force, dz_err *e);

/*
 * "Whose is it?" (store_lookup.c): kind "ip", "asn" or "domain", or NULL to
 * tell from the value (an address, "AS64512" or a number, else a domain).
 * Answers from the in-memory index: {"query": {kind: normalised value},
 * "constituents": [the owners of the most specific match, with contacts],
 * "matches": [{"resource", "kind", "constituents": [short names]}, most
 * specific first, then each covering claim]}. only_org != 0 hides every
 * other organisation (a constituent user sees only its own claims).
 */
dz_code store_lookup(store *s, int64_t only_org, const char *kind, const char *value, json_t **out, dz_err *e);
void store_registry_changed(store *s);
const registry_index *store_registry_enter(store *s, registry_ticket *t);
void store_registry_leave(store *s, registry_ticket t);

/* ---- feed events (store_events.c) ---- */
/*
 * An ingest is one input going through the pipeline: a file, a spool file,
 * a download, or a POST's batch. Its key says which input it is (a file's
 * content fingerprint, "batch:<org>:<id>"), so the same input is never
 * taken twice: a finished one is reported as done, an interrupted one is
 * resumed from its checkpoint (the last position whose events and refused
 * rows are committed, in the same transaction as they were). A node holds
 * an ingest by a lease that every commit renews; another node may take it
 * over only when the lease has run out.
 */
typedef enum {
    INGEST_NEW = 0,  /* claimed, start from the beginning */
    INGEST_RESUME,   /* claimed, skip every position <= lines_done */
    INGEST_DONE,     /* finished before: nothing to do */
    INGEST_BUSY,     /* another node holds a live lease (holder says who) */
} ingest_claim_state;

typedef struct ingest_claim {
    const char *kind;        /* "file", "spool", "fetch" or "api" */
    const char *source;      /* what a person recognises: a path, a URL, a batch id */
    const char *key;         /* the input's identity, unique */
    const char *feed;        /* the parser's name */
    const char *report;      /* may be NULL */
    const char *node;        /* who takes it: "host:pid" */
    int64_t org_id;          /* the organisation that sent it (API), 0 none */
    int lease_s;             /* 0: 120 */
    const char *take_over;   /* take it even with a live lease when this is the holder (a dead local process) */
} ingest_claim;

typedef struct ingest_state {
    int64_t id;
    ingest_claim_state state;
    uint64_t lines_done;
    int64_t events, duplicates, quarantined;   /* committed so far (DONE: the totals) */
    char holder[64];                           /* BUSY: the holding node */
    char status[16];                           /* "running", "done", "failed" */
} ingest_state;

dz_code store_ingest_claim(store *s, const ingest_claim *c, ingest_state *out, dz_err *e);

typedef struct store_batch_result {
    int64_t stored, duplicates, quarantined;
} store_batch_result;
/*
 * One transaction: each event whose dedup hash was first seen less than
 * the dedup window ago (by this or an earlier batch, any node) is counted
 * as a duplicate and not stored; the others are stored and their hashes
 * remembered; refused rows go to the quarantine; daily counts grow; the
 * ingest's checkpoint moves to b->checkpoint and its lease is renewed.
 * DZ_ECONFLICT, writing nothing, when node no longer holds the ingest.
 * Events with a constituent reach its contacts' next digests (their watermarks).
 */
dz_code store_events_commit(store *s, int64_t ingest_id, const char *node, const event_batch *b,
                            store_batch_result *out, dz_err *e);
/* Ends an ingest: error NULL for "done", else "failed" with the reason (a failed one may be claimed again). */
dz_code store_ingest_finish(store *s, int64_t ingest_id, const char *node, const char *error, dz_err *e);
/* Renews the lease while a long stretch of input gives no batch to commit. */
dz_code store_ingest_renew(store *s, int64_t ingest_id, const char *node, dz_err *e);

typedef struct event_filter {
    const char *constituent;     /* short name */
    int64_t from, to;            /* time.source in [from, to); 0: open */
    const char *taxonomy, *type, *feed;
    const char *ip;              /* source.ip: an address or a network (CIDR) */
    int64_t ingest_id;           /* 0: any */
    const char *cursor;          /* the previous page's next_cursor */
    int limit;                   /* 1..1000, default 100 */
} event_filter;
/*
 * out: {"items": [{"id", "stored_at", "constituent": short name|null,
 * "ingest_id", "event": {...IntelMQ fields...}}], newest first,
 * "next_cursor"}. only_org != 0: that organisation's events only. A bad ip
 * or cursor is DZ_EINVAL.
 */
dz_code store_event_list(store *s, int64_t only_org, const event_filter *f, json_t **out, dz_err *e);
dz_code store_event_get(store *s, int64_t only_org, int64_t id, json_t **out, dz_err *e);
/*
 * Counts for the dashboard over stored days [from_day, to_day] ("YYYY-MM-DD",
 * NULL: open): {"total", "by_day": [{"day","count"}], "by_type":
 * [{"taxonomy","type","count"}], "by_feed": [{"feed","count"}], "by_sector":
 * [{"sector","count"}] (unmatched events under sector null),
 * "by_constituent": [{"constituent","count"}] (top 20)}.
 */
dz_code store_event_stats(store *s, int64_t only_org, const char *from_day, const char *to_day, json_t **out,
                          dz_err *e);
/* Ingests newest first: {"items": [{"id","kind","source","feed","report","status","node","lines_done",
 * "events","duplicates","quarantined","started_at","updated_at","finished_at","error"}], "next_cursor"}. */
dz_code store_ingest_list(store *s, const char *cursor, int limit, json_t **out, dz_err *e);
dz_code store_ingest_get(store *s, int64_t id, json_t **out, dz_err *e);
/* Refused rows of an ingest (0: all), in order: {"items": [{"id","ingest_id","line","reason","raw"}], "next_cursor"}. */
dz_code store_quarantine_list(store *s, int64_t ingest_id, const char *cursor, int limit, json_t **out, dz_err *e);
/* Forgets dedup hashes older than the window (a scheduled job); *purged: how many. */
dz_code store_dedup_purge(store *s, int64_t *purged, dz_err *e);

/* ---- visibility: the policy module computes it, the store applies it in SQL ---- */
typedef struct store_scope {
    int64_t org_id;        /* 0: every incident; else only those affecting this organisation */
    int64_t red_user_id;   /* -1: TLP:RED visible; else only where assignee_id == red_user_id */
    bool shared_only;      /* notes: only those shared with the constituents */
} store_scope;

/* ---- notifications (store_notify.c; notify/ renders and sends them) ---- */
/*
 * A notification is one message to one recipient: an event digest for one
 * contact of a constituent, or an incident notice. Its row is also its
 * outbox entry (status queued -> sending -> sent | failed) and holds the
 * finished message (RFC 5322, signed and encrypted already), so every attempt
 * sends the same bytes under the same Message-ID.
 *
 * Digests advance a watermark per contact (organisation and e-mail address):
 * the newest event id that address has been sent. The transaction that
 * queues a digest moves the watermark from after_id to upto_id, and only if
 * it is still after_id, so each event goes into exactly one digest per
 * contact even with several nodes. Event ids grow in commit order (every
 * write holds the writers' lock), so no event can appear behind a watermark.
 * A contact with no watermark yet starts at 0: all its organisation's events.
 */
typedef struct notify_due_contact {
    int64_t org_id;
    char short_name[64];
    char org_name[301];
    char email[256];
    char name[201];
    char language[16];
    notify_interval interval;
    notify_format format;
    tlp_level max_tlp;
    char *pgp;              /* heap: NULL, a fingerprint, or an armoured key */
    int64_t after_id;       /* the watermark: this digest covers after_id < id <= upto_id */
    int64_t last_digest_at; /* 0: never */
} notify_due_contact;

typedef struct notify_due_list {
    notify_due_contact *items; /* by organisation short name, then e-mail */
    size_t n;
    int64_t upto_id;           /* the newest event id when the list was read */
} notify_due_list;
/*
 * The contacts due a digest at now: notify_interval not "never",
 * last_digest_at + interval <= now (immediate: every round), and at least one
 * event of their organisation with after_id < id <= upto_id. One read.
 */
dz_code store_notify_due(store *s, int64_t now, notify_due_list *out, dz_err *e);
void notify_due_list_free(notify_due_list *l);

/* Called per event in id order; a code other than DZ_OK stops the walk and is returned. */
typedef dz_code (*store_event_doc_fn)(void *arg, int64_t id, const char *doc, size_t len, dz_err *e);
/* The stored events of org with after_id < id <= upto_id, in id order (streamed, one read transaction). */
dz_code store_notify_events(store *s, int64_t org_id, int64_t after_id, int64_t upto_id, store_event_doc_fn fn,
                            void *arg, dz_err *e);

/*
 * Reserves n consecutive ticket numbers of year (sequence "N"): *first ..
 * *first + n - 1, in one short write. Numbers left unused (a conflict, a
 * crash before queueing) are gaps: tickets are unique, not gapless.
 */
dz_code store_notify_reserve_tickets(store *s, int year, size_t n, int64_t *first, dz_err *e);

typedef struct notify_new {
    const char *kind;              /* "digest" or "incident" */
    const char *ticket;            /* "BTCIRT-N-2026-000042" */
    const char *message_id;        /* "<...@...>", unique */
    int64_t org_id;
    const char *recipient;         /* the address */
    const char *recipient_name;    /* may be NULL */
    const char *subject;           /* as rendered (UTF-8) */
    const char *message;           /* the whole RFC 5322 message, CRLF */
    size_t message_len;
    const char *language, *format; /* "en"; "csv" or "json" */
    const char *tlp;               /* the highest TLP of what it carries ("AMBER") */
    bool is_signed, is_encrypted;
    /* digests */
    int64_t after_id, upto_id;     /* the watermark moves from after_id to upto_id */
    int64_t events;                /* events attached */
    int64_t withheld;              /* events in the range above the contact's TLP ceiling (not attached) */
    int64_t period_from, period_to;/* the period reported: the previous digest (else the first event) to now */
    const char *summary_json;      /* {"by_type": [{"taxonomy","type","count"}]}; NULL: {} */
    /* incident notices */
    const char *incident;          /* its public id */
} notify_new;

typedef struct notify_incident_note {
    const char *incident;          /* public id */
    const char *text;              /* recorded as a note shared with the constituents */
    const store_scope *scope;      /* the handler's visibility (store_scope below) */
} notify_incident_note;

typedef struct notify_queue_result {
    size_t queued;                 /* rows inserted */
    size_t conflicts;              /* digests skipped: their watermark had moved (another node queued them) */
} notify_queue_result;
/*
 * One transaction: each item becomes a queued notification, due now; each
 * digest moves its contact's watermark (after_id -> upto_id) and sets its
 * last_digest_at to now, or is skipped as a conflict when the watermark is no
 * longer after_id. Incident notices: every org_id must be an affected
 * constituent of the incident (DZ_EINVAL naming it, nothing written); note,
 * when not NULL, adds the shared note to the incident's timeline in the same
 * transaction. One audit entry per call ("notify.queue" with the tickets'
 * count; for incident notices "incident.notify" on the incident with the
 * tickets). who: the principal (a handler, or the scheduler's "system").
 */
dz_code store_notify_queue(store *s, const principal *who, const notify_new *items, size_t n,
                           const notify_incident_note *note, notify_queue_result *out, dz_err *e);

typedef struct outbox_item {
    int64_t id;
    char ticket[48];
    char recipient[256];
    char message_id[256];
    char *message;                 /* heap */
    size_t message_len;
    int attempts;                  /* including this one */
    bool in_doubt;                 /* an earlier attempt ended without a recorded outcome (its holder died) */
} outbox_item;
/*
 * Claims up to max messages for node, oldest due first: queued ones with
 * next_attempt_at <= now, and "sending" ones whose holder's lease has run out
 * or whose holder is one of dead (processes of this host that are gone). They
 * become "sending", held by node until now + lease_s, attempts + 1. Several
 * nodes claim concurrently without taking the same row (PostgreSQL: FOR
 * UPDATE SKIP LOCKED). *items: heap array of *n (outbox_items_free).
 */
dz_code store_outbox_claim(store *s, const char *node, size_t max, int lease_s, const char *const *dead,
                           size_t n_dead, outbox_item **items, size_t *n, dz_err *e);
void outbox_items_free(outbox_item *items, size_t n);
/* The distinct nodes holding "sending" rows now ("host:pid"): JSON array of strings. */
dz_code store_outbox_holders(store *s, json_t **out, dz_err *e);

typedef enum {
    OUTBOX_SENT = 0, /* the server accepted it: sent_at = now */
    OUTBOX_RETRY,    /* a temporary failure: queued again, due at retry_at */
    OUTBOX_FAILED,   /* permanent (5xx, or out of attempts): failed, kept with the reason */
} outbox_outcome;
/* Records an attempt's outcome; DZ_ECONFLICT when node no longer holds the row. smtp_code 0: no answer. */
dz_code store_outbox_record(store *s, int64_t id, const char *node, outbox_outcome o, int smtp_code,
                            const char *error, int64_t retry_at, dz_err *e);

typedef struct notification_filter {
    const char *constituent;       /* short name */
    const char *status;            /* queued, sending, sent, failed */
    const char *kind;              /* digest, incident */
    const char *incident;          /* public id */
    int acknowledged;              /* -1 any, 0 not yet, 1 acknowledged */
    const char *cursor;
    int limit;                     /* 1..1000, default 100 */
} notification_filter;
/*
 * Newest first: {"items": [notification], "next_cursor"}; a notification is
 * {"ticket","kind","constituent","recipient","recipient_name","subject",
 * "status","attempts","smtp_code","last_error","in_doubt","created_at",
 * "next_attempt_at","sent_at","message_id","signed","encrypted","tlp",
 * "format","language","events","withheld","period_from","period_to",
 * "summary","incident","acknowledged_at","acknowledged_by"}. only_org != 0:
 * that organisation's only. Bad filter values are DZ_EINVAL.
 */
dz_code store_notification_list(store *s, int64_t only_org, const notification_filter *f, json_t **out, dz_err *e);
dz_code store_notification_get(store *s, int64_t only_org, const char *ticket, json_t **out, dz_err *e);
/* A digest's events (its organisation's, after_id < id <= upto_id) in id order; an incident notice has none. */
dz_code store_notification_events(store *s, int64_t only_org, const char *ticket, store_event_doc_fn fn, void *arg,
                                  dz_err *e);
/* The message as queued (staff: what was sent). *msg: heap. */
dz_code store_notification_message(store *s, const char *ticket, char **msg, size_t *len, dz_err *e);
/*
 * A user of the notification's organisation acknowledges it (who->org_id
 * must be its organisation, else DZ_ENOTFOUND); again: no change. out: the
 * notification (may be NULL).
 */
dz_code store_notification_ack(store *s, const principal *who, const char *ticket, json_t **out, dz_err *e);

/* ---- users, tokens, sessions ---- */
typedef struct user_record {
    principal p;
    bool disabled;
    char password_hash[128];
} user_record;

dz_code store_user_create(store *s, const principal *who, const char *username, role r, const char *org,
                          const char *password_hash, dz_err *e);
dz_code store_user_list(store *s, json_t **out, dz_err *e);
dz_code store_user_set_disabled(store *s, const principal *who, const char *username, bool disabled, dz_err *e);
dz_code store_user_set_password(store *s, const char *username, const char *password_hash, dz_err *e);
dz_code store_user_get(store *s, const char *username, user_record *out, dz_err *e);
dz_code store_user_count(store *s, int64_t *n, dz_err *e);

dz_code store_token_create(store *s, const principal *who, const char *username, const char *label,
                           const char *token_hash, dz_err *e);
/* Finds the enabled user of a live token by the token's hash. */
dz_code store_token_lookup(store *s, const char *token_hash, principal *out, dz_err *e);

dz_code store_session_create(store *s, const char *id_hash, int64_t user_id, const char *csrf,
                             int64_t expires_at, dz_err *e);
dz_code store_session_lookup(store *s, const char *id_hash, principal *out, char csrf[64], dz_err *e);
dz_code store_session_delete(store *s, const char *id_hash, dz_err *e);


/* ---- incidents ---- */
typedef struct incident_filter {
    const char *status, *severity, *taxonomy, *type, *constituent, *assignee, *tlp, *tag, *text;
    int64_t created_from, created_to, updated_from, updated_to; /* 0 = open */
    const char *sort;   /* created_at, -created_at (default), updated_at, -updated_at, severity, -severity, due_at, -due_at */
    const char *cursor; /* from the previous page's next_cursor */
    int limit;          /* 1..500, default 50 */
} incident_filter;

dz_code store_incident_create(store *s, const principal *who, incident_fields *f, json_t **out, dz_err *e);
dz_code store_incident_get(store *s, const store_scope *scope, const char *public_id, json_t **out, dz_err *e);
dz_code store_incident_update(store *s, const principal *who, const store_scope *scope, const char *public_id,
                              incident_fields *f, json_t **out, dz_err *e);
/* out: {"items": [...], "next_cursor": "..."|null} */
dz_code store_incident_list(store *s, const store_scope *scope, const incident_filter *f, json_t **out, dz_err *e);
/* Moves notes, tasks, reports, timeline, constituents and tags of dup into survivor; dup becomes duplicate. */
dz_code store_incident_merge(store *s, const principal *who, const store_scope *scope, const char *survivor,
                             const char *dup, json_t **out, dz_err *e);

dz_code store_note_add(store *s, const principal *who, const store_scope *scope, const char *public_id,
                       const note_input *n, json_t **out, dz_err *e);
dz_code store_note_list(store *s, const store_scope *scope, const char *public_id, json_t **out, dz_err *e);
dz_code store_task_add(store *s, const principal *who, const store_scope *scope, const char *public_id,
                       const task_input *t, json_t **out, dz_err *e);
dz_code store_task_update(store *s, const principal *who, const store_scope *scope, const char *public_id,
                          int64_t task_id, const task_input *t, json_t **out, dz_err *e);
dz_code store_task_list(store *s, const store_scope *scope, const char *public_id, json_t **out, dz_err *e);
dz_code store_timeline_list(store *s, const store_scope *scope, const char *public_id, json_t **out, dz_err *e);

/* ---- reports (intake) ---- */
/* created is false when (source, source_ref) existed: out is then the existing report. */
dz_code store_report_create(store *s, const principal *who, const report_input *r, json_t **out, bool *created,
                            dz_err *e);
/* only_org != 0: reports filed by that organisation only (a report about it may carry a citizen's personal data). */
dz_code store_report_get(store *s, int64_t only_org, const char *public_id, json_t **out, dz_err *e);
dz_code store_report_list(store *s, int64_t only_org, const char *cursor, int limit, const char *incident,
                          json_t **out, dz_err *e);
dz_code store_report_link(store *s, const principal *who, const store_scope *scope, const char *report_id,
                          const char *incident_id, json_t **out, dz_err *e);

/* ---- scheduled jobs (jobs/scheduler.c runs them) ---- */
/* Claims one due job for node (its next run moves one interval on); claimed is false when none is due. */
dz_code store_job_claim(store *s, const char *node, char name[64], bool *claimed, dz_err *e);
/* Records a run's end; error NULL for success. */
dz_code store_job_finish(store *s, const char *name, const char *error, dz_err *e);
dz_code store_job_list(store *s, json_t **out, dz_err *e);
dz_code store_session_purge(store *s, int64_t *purged, dz_err *e);

/* ---- audit ---- */
/* Appends inside the caller's write; used by every store write above. */
dz_code store_audit_list(store *s, int64_t after_seq, int limit, json_t **out, dz_err *e);
/* checked: entries verified; first_bad: seq of the first altered/missing entry or 0; why: explanation. */
dz_code store_audit_verify(store *s, int64_t *checked, int64_t *first_bad, char *why, size_t why_len, dz_err *e);

/* ---- copying a deployment to another database (`dzong db copy`, store_copy.c) ---- */
#define STORE_COPY_MAX_TABLES 32
typedef struct store_copy_table {
    char name[32];
    int64_t src_rows, dst_rows;
    char src_sha256[65], dst_sha256[65]; /* hex, over the rows in key order (see store_copy.c) */
    bool ok;                             /* counts and checksums agree */
} store_copy_table;

typedef struct store_copy_report {
    int schema_version;
    bool copied;          /* the destination transaction committed */
    size_t n;             /* tables verified (t[0..n-1]) */
    size_t mismatches;
    store_copy_table t[STORE_COPY_MAX_TABLES];
} store_copy_report;

/* Called after each table is copied (inside the destination's transaction). */
typedef void (*store_copy_progress)(const char *table, int64_t rows, void *arg);

/*
 * Copies every table from src_url to dst_url (any pair of backends) in one
 * destination transaction, then reads the destination back and compares row
 * counts and SHA-256 checksums per table. The destination is migrated first
 * and must be empty; both must be at the same schema version; the source is
 * only read (one snapshot). DZ_ECONFLICT: refused (destination not empty,
 * versions differ); DZ_EDB with out->copied: committed, but out->mismatches
 * tables differ.
 */
dz_code store_copy(const char *src_url, const char *dst_url, const store_settings *settings,
                   store_copy_progress progress, void *progress_arg, store_copy_report *out, dz_err *e);

/* ---- feed downloads (store_fetch.c; jobs/fetch.c runs them) ---- */
/*
 * Each configured download (dzong.conf `fetch`) is a jobs row "fetch.<name>"
 * (its schedule) and a feed_fetch row (its URL, the validators of the last
 * good download, how the last round went).
 */
typedef struct store_fetch_def {
    const char *name;     /* without "fetch." */
    const char *url;
    int64_t interval_s;
} store_fetch_def;
/*
 * Makes the stored schedule match the configuration, in one write: upserts
 * the jobs row and the feed_fetch row of each (a changed interval applies
 * from now; a changed URL forgets the validators), and deletes the fetch.*
 * jobs and feed_fetch rows of names no longer configured. *removed may be NULL.
 */
dz_code store_fetch_sync(store *s, const store_fetch_def *defs, size_t n, int *removed, dz_err *e);

typedef struct store_fetch_state {
    char url[2048];
    char etag[512];           /* "" none */
    char last_modified[128];  /* "" none */
    int last_status;          /* 0: never, or no HTTP answer */
    int64_t last_fetched_at, last_ingest_id;
} store_fetch_state;
/* DZ_ENOTFOUND when name has no row (not synced). */
dz_code store_fetch_get(store *s, const char *name, store_fetch_state *out, dz_err *e);

typedef struct store_fetch_result {
    int status;                 /* HTTP status; 0: no answer */
    bool new_validators;        /* a body came: etag and last_modified replace the stored ones (NULL: none) */
    const char *etag, *last_modified;
    const char *error;          /* NULL: the round went well */
    int64_t ingest_id;          /* 0: keep the stored one */
} store_fetch_result;
/* Records a round's outcome (last_fetched_at = now). */
dz_code store_fetch_record(store *s, const char *name, const store_fetch_result *r, dz_err *e);
/* [{"name","url","etag","last_modified","last_status","last_fetched_at","last_error","last_ingest_id"}] by name. */
dz_code store_fetch_list(store *s, json_t **out, dz_err *e);

#endif
