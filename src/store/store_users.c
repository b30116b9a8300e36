/* store_users.c: users, API tokens, sessions. */
#include "store/store_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- users ---- */

typedef struct {
    const principal *who;
    const char *username, *org, *password_hash;
    role r;
} user_create_ctx;

static dz_code user_create_tx(store *s, db *d, void *arg, dz_err *e)
{
    user_create_ctx *c = arg;
    int64_t org_id = 0;
    db_stmt *st;
    if (c->org && store_constituent_id_in(d, c->org, &org_id, e) != DZ_OK)
        return e->code;
    if (c->org && !org_id)
        return dz_fail(e, DZ_ENOTFOUND, "no constituent '%.64s'", c->org);
    if (db_prepare(d, "INSERT INTO users(username, role, constituent_id, password_hash, created_at) "
                      "VALUES (?, ?, ?, ?, ?)", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, c->username);
    db_bind_text(st, 2, role_name(c->r));
    db_bind_int_or_null(st, 3, org_id, 0);
    db_bind_text(st, 4, c->password_hash);
    db_bind_int(st, 5, store_now(s));
    if (db_run(st, e) != DZ_OK)
        return e->code == DZ_ECONFLICT ? dz_fail(e, DZ_ECONFLICT, "user '%s' exists already", c->username) : e->code;
    json_t *detail = json_pack("{s:s, s:s?}", "role", role_name(c->r), "constituent", c->org);
    return store_audit_append(d, store_now(s), c->who->username, "user.create", c->username, detail, e);
}

dz_code store_user_create(store *s, const principal *who, const char *username, role r, const char *org,
                          const char *password_hash, dz_err *e)
{
    if (!name_valid(username))
        return dz_fail(e, DZ_EINVAL, "user name '%.64s' must be 1-64 of [A-Za-z0-9._@-]", username);
    if (role_needs_org(r) && !org)
        return dz_fail(e, DZ_EINVAL, "role '%s' needs an organisation (--constituent ORG)", role_name(r));
    if (!role_needs_org(r) && org)
        return dz_fail(e, DZ_EINVAL, "role '%s' is not bound to an organisation; drop --constituent", role_name(r));
    user_create_ctx c = {who, username, org, password_hash, r};
    return store_write(s, user_create_tx, &c, e);
}

#define USER_COLUMNS "u.id, u.username, u.role, COALESCE(u.constituent_id, 0), c.short_name, u.disabled, u.password_hash"
#define USER_FROM " FROM users u LEFT JOIN constituents c ON c.id = u.constituent_id "

static void user_from_row(db_stmt *st, user_record *u)
{
    memset(u, 0, sizeof *u);
    u->p.user_id = db_col_int(st, 0);
    snprintf(u->p.username, sizeof u->p.username, "%s", db_col_text(st, 1));
    role_parse(db_col_text(st, 2), &u->p.role, NULL);
    u->p.org_id = db_col_int(st, 3);
    snprintf(u->p.org, sizeof u->p.org, "%s", db_col_text(st, 4) ? db_col_text(st, 4) : "");
    u->disabled = db_col_int(st, 5) != 0;
    snprintf(u->password_hash, sizeof u->password_hash, "%s", db_col_text(st, 6) ? db_col_text(st, 6) : "");
}

dz_code store_user_get(store *s, const char *username, user_record *out, dz_err *e)
{
    db *d;
    db_stmt *st;
    if (store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, "SELECT " USER_COLUMNS USER_FROM "WHERE u.username = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, username);
    int r = db_step(st, e);
    if (r == DB_ROW)
        user_from_row(st, out);
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    return r == DB_ROW ? DZ_OK : dz_fail(e, DZ_ENOTFOUND, "no user '%.64s'", username);
}

dz_code store_user_id_of(db *d, const char *username, int64_t *id, dz_err *e)
{
    db_stmt *st;
    *id = 0;
    if (!username)
        return DZ_OK;
    if (db_prepare(d, "SELECT id, disabled, role FROM users WHERE username = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, username);
    int r = db_step(st, e);
    dz_code rc = DZ_OK;
    if (r == DB_ROW) {
        role ro = ROLE_ADMIN;
        role_parse(db_col_text(st, 2), &ro, NULL);
        if (db_col_int(st, 1))
            rc = dz_fail(e, DZ_EINVAL, "user '%.64s' is disabled", username);
        else if (!role_is_staff(ro))
            rc = dz_fail(e, DZ_EINVAL, "user '%.64s' is not CIRT staff and cannot be assigned work", username);
        else
            *id = db_col_int(st, 0);
    } else if (r == DB_DONE) {
        rc = dz_fail(e, DZ_EINVAL, "no user '%.64s' to assign", username);
    } else {
        rc = e->code;
    }
    db_reset(st);
    return rc;
}

dz_code store_user_count(store *s, int64_t *n, dz_err *e)
{
    db *d;
    db_stmt *st;
    if (store_reader(s, &d, e) != DZ_OK || db_prepare(d, "SELECT COUNT(*) FROM users", &st, e) != DZ_OK)
        return e->code;
    *n = db_step(st, e) == DB_ROW ? db_col_int(st, 0) : 0;
    db_reset(st);
    return DZ_OK;
}

static json_t *user_row(db_stmt *st)
{
    user_record u;
    user_from_row(st, &u);
    json_t *o = json_pack("{s:s, s:s, s:b}", "username", u.p.username, "role", role_name(u.p.role), "disabled",
                          u.disabled);
    json_set_text(o, "constituent", u.p.org[0] ? u.p.org : NULL);
    json_set_time(o, "created_at", db_col_int(st, 7), false);
    return o;
}

dz_code store_user_list(store *s, json_t **out, dz_err *e)
{
    db *d;
    db_stmt *st;
    if (store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, "SELECT " USER_COLUMNS ", u.created_at" USER_FROM "ORDER BY u.username", &st, e) != DZ_OK)
        return e->code;
    return store_rows_json(st, user_row, out, e);
}

typedef struct {
    const principal *who;
    const char *username, *password_hash;
    bool disabled;
    bool set_password;
} user_update_ctx;

static dz_code user_update_tx(store *s, db *d, void *arg, dz_err *e)
{
    user_update_ctx *c = arg;
    db_stmt *st;
    const char *sql = c->set_password ? "UPDATE users SET password_hash = ? WHERE username = ?"
                                      : "UPDATE users SET disabled = ? WHERE username = ?";
    if (db_prepare(d, sql, &st, e) != DZ_OK)
        return e->code;
    if (c->set_password)
        db_bind_text(st, 1, c->password_hash);
    else
        db_bind_int(st, 1, c->disabled);
    db_bind_text(st, 2, c->username);
    if (db_run(st, e) != DZ_OK)
        return e->code;
    if (db_changes(d) == 0)
        return dz_fail(e, DZ_ENOTFOUND, "no user '%.64s'", c->username);
    if (c->set_password)
        return store_audit_append(d, store_now(s), c->who ? c->who->username : c->username, "user.password",
                                  c->username, NULL, e);
    if (c->disabled) { /* a disabled user's sessions end now; tokens are refused by lookup */
        if (db_prepare(d, "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = ?)", &st, e) != DZ_OK)
            return e->code;
        db_bind_text(st, 1, c->username);
        if (db_run(st, e) != DZ_OK)
            return e->code;
    }
    return store_audit_append(d, store_now(s), c->who->username, c->disabled ? "user.disable" : "user.enable",
                              c->username, NULL, e);
}

dz_code store_user_set_disabled(store *s, const principal *who, const char *username, bool disabled, dz_err *e)
{
    user_update_ctx c = {.who = who, .username = username, .disabled = disabled};
    return store_write(s, user_update_tx, &c, e);
}

dz_code store_user_set_password(store *s, const char *username, const char *password_hash, dz_err *e)
{
    user_update_ctx c = {.username = username, .password_hash = password_hash, .set_password = true};
    return store_write(s, user_update_tx, &c, e);
}

/* ---- tokens ---- */

typedef struct {
    const principal *who;
    const char *username, *label, *hash;
} token_create_ctx;

static dz_code token_create_tx(store *s, db *d, void *arg, dz_err *e)
{
    token_create_ctx *c = arg;
    db_stmt *st;
    if (db_prepare(d, "INSERT INTO api_tokens(user_id, label, token_hash, created_at) "
                      "SELECT id, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT) FROM users WHERE username = ?", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, c->label);
    db_bind_text(st, 2, c->hash);
    db_bind_int(st, 3, store_now(s));
    db_bind_text(st, 4, c->username);
    if (db_run(st, e) != DZ_OK)
        return e->code;
    if (db_changes(d) == 0)
        return dz_fail(e, DZ_ENOTFOUND, "no user '%.64s'", c->username);
    json_t *detail = json_pack("{s:s}", "label", c->label);
    return store_audit_append(d, store_now(s), c->who->username, "token.create", c->username, detail, e);
}

dz_code store_token_create(store *s, const principal *who, const char *username, const char *label,
                           const char *token_hash, dz_err *e)
{
    token_create_ctx c = {who, username, label, token_hash};
    return store_write(s, token_create_tx, &c, e);
}

dz_code store_token_lookup(store *s, const char *token_hash, principal *out, dz_err *e)
{
    db *d;
    db_stmt *st;
    if (store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, "SELECT " USER_COLUMNS USER_FROM "JOIN api_tokens t ON t.user_id = u.id "
                      "WHERE t.token_hash = ? AND t.revoked = 0 AND u.disabled = 0", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, token_hash);
    int r = db_step(st, e);
    if (r == DB_ROW) {
        user_record u;
        user_from_row(st, &u);
        *out = u.p;
    }
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    return r == DB_ROW ? DZ_OK : dz_fail(e, DZ_EUNAUTH, "unknown, revoked or disabled API token");
}

/* ---- sessions ---- */

typedef struct {
    const char *id_hash, *csrf;
    int64_t user_id, expires_at;
    bool del;
} session_ctx;

static dz_code session_tx(store *s, db *d, void *arg, dz_err *e)
{
    session_ctx *c = arg;
    db_stmt *st;
    if (c->del) {
        if (db_prepare(d, "DELETE FROM sessions WHERE id_hash = ? OR expires_at < ?", &st, e) != DZ_OK)
            return e->code;
        db_bind_text(st, 1, c->id_hash);
        db_bind_int(st, 2, store_now(s));
        return db_run(st, e);
    }
    if (db_prepare(d, "INSERT INTO sessions(id_hash, user_id, csrf_token, created_at, expires_at) "
                      "VALUES (?, ?, ?, ?, ?)", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, c->id_hash);
    db_bind_int(st, 2, c->user_id);
    db_bind_text(st, 3, c->csrf);
    db_bind_int(st, 4, store_now(s));
    db_bind_int(st, 5, c->expires_at);
    return db_run(st, e);
}

dz_code store_session_create(store *s, const char *id_hash, int64_t user_id, const char *csrf, int64_t expires_at,
                             dz_err *e)
{
    session_ctx c = {.id_hash = id_hash, .csrf = csrf, .user_id = user_id, .expires_at = expires_at};
    return store_write(s, session_tx, &c, e);
}

dz_code store_session_delete(store *s, const char *id_hash, dz_err *e)
{
    session_ctx c = {.id_hash = id_hash, .del = true};
    return store_write(s, session_tx, &c, e);
}

dz_code store_session_lookup(store *s, const char *id_hash, principal *out, char csrf[64], dz_err *e)
{
    db *d;
    db_stmt *st;
    if (store_reader(s, &d, e) != DZ_OK ||
        db_prepare(d, "SELECT " USER_COLUMNS ", se.csrf_token" USER_FROM "JOIN sessions se ON se.user_id = u.id "
                      "WHERE se.id_hash = ? AND se.expires_at > ? AND u.disabled = 0", &st, e) != DZ_OK)
        return e->code;
    db_bind_text(st, 1, id_hash);
    db_bind_int(st, 2, store_now(s));
    int r = db_step(st, e);
    if (r == DB_ROW) {
        user_record u;
        user_from_row(st, &u);
        *out = u.p;
        snprintf(csrf, 64, "%s", db_col_text(st, 7));
    }
    db_reset(st);
    if (r == DB_ERROR)
        return e->code;
    return r == DB_ROW ? DZ_OK : dz_fail(e, DZ_EUNAUTH, "session expired or unknown; log in again");
}
