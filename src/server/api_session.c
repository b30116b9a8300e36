/* api_session.c: log in and out with a password, who am I, and personal API tokens. */
#include "server/api.h"
#include "lib/credentials.h"
#include "lib/timeutil.h"
#include "server/auth.h"
#include "server/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A valid argon2id hash of a random password, verified against when the user does not exist, so that
 * "no such user" costs the same time as "wrong password". */
static char dummy_hash[PASSWORD_HASH_LEN];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static void dummy_init(void)
{
    char pw[24];
    password_generate(pw, sizeof pw);
    password_hash(pw, dummy_hash, NULL);
}

static void hash_slot_acquire(server *srv)
{
    pthread_mutex_lock(&srv->hash_slots_lock);
    while (srv->hash_slots == 0)
        pthread_cond_wait(&srv->hash_slots_cond, &srv->hash_slots_lock);
    srv->hash_slots--;
    pthread_mutex_unlock(&srv->hash_slots_lock);
}

static void hash_slot_release(server *srv)
{
    pthread_mutex_lock(&srv->hash_slots_lock);
    srv->hash_slots++;
    pthread_cond_signal(&srv->hash_slots_cond);
    pthread_mutex_unlock(&srv->hash_slots_lock);
}

static json_t *whoami(const principal *p)
{
    json_t *o = json_pack("{s:s, s:s}", "username", p->username, "role", role_name(p->role));
    json_object_set_new(o, "constituent", p->org[0] ? json_string(p->org) : json_null());
    return o;
}

void api_session_create(http_request *req)
{
    server *srv = req->srv;
    login_input in;
    dz_err e = {0};
    if (decode_login(body_text(req), req->body.len, &in, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    int64_t now = (int64_t)time(NULL);
    char ukey[96], akey[96];
    snprintf(ukey, sizeof ukey, "user:%s", in.username);
    snprintf(akey, sizeof akey, "addr:%s", req->remote);
    int64_t wait = ratelimit_blocked_for(srv->login_by_user, ukey, now);
    int64_t wait_a = ratelimit_blocked_for(srv->login_by_addr, akey, now);
    if (wait_a > wait)
        wait = wait_a;
    if (wait > 0) {
        req->retry_after = (int)wait;
        respond_problem(req, 429, NULL, "too many failed logins; try again in %lld seconds", (long long)wait);
        login_input_free(&in);
        return;
    }
    pthread_once(&dummy_once, dummy_init);
    user_record u;
    bool found = store_user_get(srv->st, in.username, &u, &e) == DZ_OK;
    hash_slot_acquire(srv);
    bool ok = password_verify(found && u.password_hash[0] ? u.password_hash : dummy_hash, in.password);
    hash_slot_release(srv);
    ok = ok && found && !u.disabled && u.password_hash[0];
    if (!ok) {
        ratelimit_fail(srv->login_by_user, ukey, now);
        ratelimit_fail(srv->login_by_addr, akey, now);
        respond_problem(req, 401, NULL, "wrong user name or password, or the account is disabled");
        login_input_free(&in);
        return;
    }
    ratelimit_reset(srv->login_by_user, ukey);
    if (password_needs_rehash(u.password_hash)) { /* parameters changed since it was set: upgrade now */
        char fresh[PASSWORD_HASH_LEN];
        if (password_hash(in.password, fresh, &e) == DZ_OK)
            store_user_set_password(srv->st, u.p.username, fresh, NULL);
    }
    login_input_free(&in);

    char sid[SECRET_TEXT_LEN], csrf[SECRET_TEXT_LEN], sid_hash[SECRET_HASH_HEX_LEN + 1];
    secret_generate("", sid);
    secret_generate("", csrf);
    secret_hash(sid, sid_hash);
    int64_t expires = now + srv->cfg.session_ttl;
    if (store_session_create(srv->st, sid_hash, u.p.user_id, csrf, expires, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    char cookie[256];
    snprintf(cookie, sizeof cookie, SESSION_COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", sid,
             (long long)srv->cfg.session_ttl, srv->cfg.cookie_secure ? "; Secure" : "");
    req->set_cookie = strdup(cookie);
    json_t *o = whoami(&u.p);
    json_object_set_new(o, "csrf_token", json_string(csrf));
    char ts[32];
    time_format_iso(expires, ts, sizeof ts);
    json_object_set_new(o, "expires_at", json_string(ts));
    respond_json(req, 201, o);
}

void api_session_get(http_request *req)
{
    json_t *o = whoami(&req->who);
    json_object_set_new(o, "csrf_token", req->via_session ? json_string(req->csrf) : json_null());
    json_object_set_new(o, "auth", json_string(req->via_session ? "session" : "token"));
    respond_json(req, 200, o);
}

void api_session_delete(http_request *req)
{
    dz_err e = {0};
    const char *cookie = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
    if (req->via_session && cookie) {
        char h[SECRET_HASH_HEX_LEN + 1];
        secret_hash(cookie, h);
        if (store_session_delete(req->srv->st, h, &e) != DZ_OK) {
            respond_error(req, &e);
            return;
        }
    }
    req->set_cookie = strdup(SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
    respond_bytes(req, 204, "application/json", "", 0);
}

/* POST /api/v1/tokens {"label": "..."}: a token for the caller itself, shown once. */
void api_token_create(http_request *req)
{
    dz_err e = {0};
    char *label = NULL;
    if (decode_string_field(body_text(req), req->body.len, "label", &label, &e) != DZ_OK) {
        respond_error(req, &e);
        return;
    }
    char tok[SECRET_TEXT_LEN], h[SECRET_HASH_HEX_LEN + 1];
    secret_generate(TOKEN_PREFIX, tok);
    secret_hash(tok, h);
    if (store_token_create(req->srv->st, &req->who, req->who.username, label, h, &e) != DZ_OK) {
        free(label);
        respond_error(req, &e);
        return;
    }
    json_t *o = json_pack("{s:s, s:s, s:s}", "token", tok, "label", label, "username", req->who.username);
    free(label);
    respond_json(req, 201, o);
}
