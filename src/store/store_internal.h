/* Shared by the store_*.c files only: the write path and small row helpers. */
#ifndef DZ_STORE_INTERNAL_H
#define DZ_STORE_INTERNAL_H
#include "store/db.h"
#include "store/store.h"

/* A unit of work run inside a write transaction. Must not keep pointers into the db. */
typedef dz_code (*store_write_fn)(store *s, db *d, void *ctx, dz_err *e);

/* Runs fn in a write transaction; returns once it is durably committed (or failed and rolled back). */
dz_code store_write(store *s, store_write_fn fn, void *ctx, dz_err *e);
/* The calling thread's read connection. */
dz_code store_reader(store *s, db **out, dz_err *e);
const store_settings *store_get_settings(store *s);
/* How many write callbacks have been rolled back so far: what they did to memory must be forgotten. */
uint64_t store_rollbacks(store *s);

/*
 * The recent level of the dedup window as this process holds it in memory
 * (store_events.c): the hashes of event_recent's rows up to last_id. Only
 * write callbacks touch it, and the store runs those one at a time.
 */
typedef struct window_slot {
    uint64_t hash;
    int64_t first_seen; /* 0: an empty slot */
} window_slot;
typedef struct event_window {
    window_slot *slot;  /* open addressing, cap a power of two */
    size_t n, cap;
    bool loaded;
    int64_t floor_id;   /* event_recent's smallest id when loaded: a larger one means another process folded */
    int64_t last_id;    /* the newest row held */
    uint64_t rollbacks; /* store_rollbacks() when last in step */
} event_window;
event_window *store_event_window(store *s);
void event_window_free(event_window *w);

/* Next number of a per-year sequence ("I" incidents, "R" reports). */
dz_code store_next_seq(db *d, const char *kind, int year, int64_t *out, dz_err *e);
/* Takes n (>= 1) numbers of it at once: *last is the highest, the first is *last - n + 1. */
dz_code store_next_seq_n(db *d, const char *kind, int year, int64_t n, int64_t *last, dz_err *e);
/* Appends one chained entry to the audit log. detail may be NULL ({}). Steals detail. */
dz_code store_audit_append(db *d, int64_t now, const char *actor, const char *action, const char *object,
                           json_t *detail, dz_err *e);

/* Steps st to its end, appending row(st) of every row to a new array (*out); resets st. */
dz_code store_rows_json(db_stmt *st, json_t *(*row)(db_stmt *st), json_t **out, dz_err *e);

/*
 * Cursor paging by id: limit 0 becomes dflt, then must be 1..max; a cursor
 * (a previous page's next_cursor, a positive id) goes to *id, else *id is
 * left as it was. DZ_EINVAL naming the parameter.
 */
dz_code store_page_args(const char *cursor, int *limit, int dflt, int max, int64_t *id, dz_err *e);
/* Steps a query that asked for limit + 1 rows (id first): {"items": [row()...], "next_cursor": last id|null}. */
dz_code store_page_json(db_stmt *st, int limit, json_t *(*row)(db_stmt *st), json_t **out, dz_err *e);

/* Row helpers for building wire JSON. */
void json_set_text(json_t *o, const char *key, const char *v);   /* null when v is NULL */
void json_set_time(json_t *o, const char *key, int64_t t, bool null_if_zero);
json_t *json_time(int64_t t);

/* Looks up a user id by name (enabled users only); 0 name NULL. */
dz_code store_user_id_of(db *d, const char *username, int64_t *id, dz_err *e);
/* An organisation's id by short name inside a transaction; *id is 0 when there is none. */
dz_code store_constituent_id_in(db *d, const char *short_name, int64_t *id, dz_err *e);

#endif
