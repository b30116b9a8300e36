/* store_audit.c: the append-only, hash-chained audit log. */
#include "store/store_internal.h"
#include "lib/audit_chain.h"

#include <stdlib.h>
#include <string.h>

dz_code store_audit_append(db *d, int64_t now, const char *actor, const char *action, const char *object,
                           json_t *detail, dz_err *e)
{
    db_stmt *st;
    char prev[AUDIT_HASH_HEX_LEN + 1] = AUDIT_GENESIS, hash[AUDIT_HASH_HEX_LEN + 1];
    int64_t seq = 1;
    if (!detail) /* NULL means {}; made here so the one decref below frees it too */
        detail = json_object();
    char *detail_text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(detail);
    if (!detail_text)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    /* audit_head is locked by this transaction already (store.c begin_write). */
    dz_code rc = db_prepare(d, "SELECT seq, hash FROM audit_head WHERE id = 1", &st, e);
    if (rc == DZ_OK) {
        int r = db_step(st, e);
        if (r == DB_ROW) {
            seq = db_col_int(st, 0) + 1;
            snprintf(prev, sizeof prev, "%s", db_col_text(st, 1));
        } else {
            rc = r == DB_ERROR ? e->code : dz_fail(e, DZ_EDB, "audit_head row is missing");
        }
        db_reset(st);
    }
    if (rc == DZ_OK) {
        audit_entry en = {seq, now, actor, action, object, detail_text};
        audit_chain_hash(prev, &en, hash);
        rc = db_prepare(d, "INSERT INTO audit_log(seq, at, actor, action, object, detail, prev_hash, hash) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &st, e);
    }
    if (rc == DZ_OK) {
        db_bind_int(st, 1, seq);
        db_bind_int(st, 2, now);
        db_bind_text(st, 3, actor);
        db_bind_text(st, 4, action);
        db_bind_text(st, 5, object);
        db_bind_text(st, 6, detail_text);
        db_bind_text(st, 7, prev);
        db_bind_text(st, 8, hash);
        rc = db_run(st, e);
    }
    if (rc == DZ_OK && (rc = db_prepare(d, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", &st, e)) == DZ_OK) {
        db_bind_int(st, 1, seq);
        db_bind_text(st, 2, hash);
        rc = db_run(st, e);
    }
    free(detail_text);
    return rc;
}

static json_t *audit_row(db_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(db_col_int(st, 0)));
    json_set_time(o, "at", db_col_int(st, 1), false);
    json_set_text(o, "actor", db_col_text(st, 2));
    json_set_text(o, "action", db_col_text(st, 3));
    json_set_text(o, "object", db_col_text(st, 4));
    json_object_set_new(o, "detail", json_loads(db_col_text(st, 5), 0, NULL));
    json_set_text(o, "hash", db_col_text(st, 6));
    return o;
}

dz_code store_audit_list(store *s, int64_t after_seq, int limit, json_t **out, dz_err *e)
{
    db *d;
    db_stmt *st;
    if (store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, "SELECT seq, at, actor, action, object, detail, hash FROM audit_log WHERE seq > ? "
                      "ORDER BY seq LIMIT ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_int(st, 1, after_seq);
    db_bind_int(st, 2, limit);
    return store_rows_json(st, audit_row, out, e);
}

dz_code store_audit_verify(store *s, int64_t *checked, int64_t *first_bad, char *why, size_t why_len, dz_err *e)
{
    db *d;
    db_stmt *st;
    *checked = 0;
    *first_bad = 0;
    why[0] = '\0';
    if (store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, "SELECT seq, at, actor, action, object, detail, prev_hash, hash FROM audit_log ORDER BY seq",
                   &st, e) != DZ_OK)
        return e->code;
    char prev[AUDIT_HASH_HEX_LEN + 1] = AUDIT_GENESIS, want[AUDIT_HASH_HEX_LEN + 1];
    int64_t expect_seq = 1;
    int r;
    while ((r = db_step(st, e)) == DB_ROW) {
        int64_t seq = db_col_int(st, 0);
        const char *prev_hash = db_col_text(st, 6), *hash = db_col_text(st, 7);
        audit_entry en = {seq, db_col_int(st, 1), db_col_text(st, 2), db_col_text(st, 3), db_col_text(st, 4),
                          db_col_text(st, 5)};
        if (seq != expect_seq) {
            *first_bad = expect_seq;
            snprintf(why, why_len, "entry %lld is missing (next present entry is %lld)", (long long)expect_seq,
                     (long long)seq);
            break;
        }
        if (!prev_hash || strcmp(prev_hash, prev) != 0) {
            *first_bad = seq;
            snprintf(why, why_len, "entry %lld does not chain to entry %lld (prev_hash differs)", (long long)seq,
                     (long long)(seq - 1));
            break;
        }
        audit_chain_hash(prev, &en, want);
        if (!hash || strcmp(hash, want) != 0) {
            *first_bad = seq;
            snprintf(why, why_len, "entry %lld was altered (its content does not match its hash)", (long long)seq);
            break;
        }
        memcpy(prev, want, sizeof prev);
        expect_seq++;
        (*checked)++;
    }
    db_reset(st);
    return r == DB_ERROR ? e->code : DZ_OK;
}
