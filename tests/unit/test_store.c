/*
 * The store on a real database: migrations, constituents and users, the
 * constituency registry (put modes, parents and cycles, imports that are all
 * or nothing and skip unchanged records, isolation, list filters and
 * pagination, deletion refusals, the registry version and the index built
 * from the store),
 * incidents through their phases (timeline, metrics), refused transitions,
 * visibility scopes (organisation, TLP:RED), list filters and cursor
 * pagination, merges, report idempotency, the audit chain (and tampering
 * with it through the database directly), the group-commit writer under
 * concurrent load, and feed events (ingest claims and leases, dedup inside
 * and across batches and after the window, checkpoints, the quarantine,
 * list filters and isolation, daily counts, the purge, and one timed commit
 * of 20,000 events). Scopes come from the real policy (server/policy.c).
 *
 * The database is a temporary SQLite file per test, or, when DZONG_TEST_DB is
 * a postgres:// URL, that PostgreSQL database: each test's setup empties it
 * (DROP SCHEMA public CASCADE) first, so give the tests a database of their own.
 * With the argument --postgres (meson test `store-pg`, suite 'pg') the program
 * fails at once unless DZONG_TEST_DB is a postgres:// URL. The last three tests
 * are PostgreSQL's own (lost connections, COMMIT of a failed transaction) and
 * are skipped on SQLite.
 */
#include "unit.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "lib/audit_chain.h"
#include "lib/credentials.h"
#include "lib/pipeline.h"
#include "lib/request_decode.h"
#include "lib/timeutil.h"
#include "server/policy.h"
#include "store/db.h"
#include "store/store.h"

#define T0 1772323200LL /* 2026-03-01T00:00:00Z */

/* A postgres:// URL from DZONG_TEST_DB, or NULL: SQLite files in a temporary directory. */
static const char *pg_url;

/* An empty schema standing for an empty database in test_open_and_migrate; setup drops it with public. */
#define PG_EMPTY_SCHEMA "dzong_unit_empty"

typedef struct fx {
    char dir[64], path[128], url[600];
    store *s;
    principal sys, admin, coord, tashi, pema, dorji, sonam, partner;
    int64_t druk, telecom, pcert;
} fx;

/* ---- helpers ---- */

static const char *S(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int64_t T(json_t *o, const char *key)
{
    int64_t t = 0;
    const char *v = S(o, key);
    if (!v || time_parse_iso(v, &t, NULL) != DZ_OK)
        fail_msg("'%s' is not a time: %s", key, v ? v : "(null)");
    return t;
}

static void get_user(fx *f, const char *name, principal *p)
{
    user_record u;
    dz_err e = {0};
    assert_dz_ok(store_user_get(f->s, name, &u, &e), e);
    *p = u.p;
}

static store_scope scope_of(const principal *who)
{
    return policy_incident_scope(who);
}

static char *vfmt(const char *fmt, va_list ap)
{
    char *b = NULL;
    if (vasprintf(&b, fmt, ap) < 0)
        fail_msg("out of memory");
    return b;
}

/* Creates an incident from a JSON body (through the real decoder); fails the test on error. */
static json_t *mk(fx *f, const principal *who, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static json_t *mk(fx *f, const principal *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *body = vfmt(fmt, ap);
    va_end(ap);
    incident_fields fl;
    dz_err e = {0};
    json_t *out = NULL;
    if (decode_incident(body, strlen(body), true, &fl, &e) != DZ_OK)
        fail_msg("decode %s: %s", body, e.msg);
    dz_code rc = store_incident_create(f->s, who, &fl, &out, &e);
    incident_fields_free(&fl);
    if (rc != DZ_OK)
        fail_msg("create %s: %s: %s", body, dz_code_name(rc), e.msg);
    free(body);
    return out;
}

/* Creates and returns only the public id (caller frees). */
static char *mk_id(fx *f, const principal *who, const char *body)
{
    json_t *o = mk(f, who, "%s", body);
    char *id = strdup(S(o, "id"));
    json_decref(o);
    return id;
}

static dz_code try_create(fx *f, const principal *who, const char *body, dz_err *e)
{
    incident_fields fl;
    json_t *out = NULL;
    if (decode_incident(body, strlen(body), true, &fl, e) != DZ_OK)
        fail_msg("decode %s: %s", body, e->msg);
    dz_code rc = store_incident_create(f->s, who, &fl, &out, e);
    incident_fields_free(&fl);
    json_decref(out);
    return rc;
}

/* Updates with the caller's own scope; out may be NULL. */
static dz_code upd(fx *f, const principal *who, const char *id, const char *body, json_t **out, dz_err *e)
{
    incident_fields fl;
    json_t *o = NULL;
    store_scope sc = scope_of(who);
    if (decode_incident(body, strlen(body), false, &fl, e) != DZ_OK)
        fail_msg("decode %s: %s", body, e->msg);
    dz_code rc = store_incident_update(f->s, who, &sc, id, &fl, &o, e);
    incident_fields_free(&fl);
    if (out)
        *out = o;
    else
        json_decref(o);
    return rc;
}

static json_t *upd_ok(fx *f, const principal *who, const char *id, const char *body)
{
    json_t *o = NULL;
    dz_err e = {0};
    dz_code rc = upd(f, who, id, body, &o, &e);
    if (rc != DZ_OK)
        fail_msg("update %s with %s: %s: %s", id, body, dz_code_name(rc), e.msg);
    return o;
}

static dz_code get(fx *f, const principal *who, const char *id, json_t **out)
{
    store_scope sc = scope_of(who);
    dz_err e = {0};
    *out = NULL;
    return store_incident_get(f->s, &sc, id, out, &e);
}

static json_t *get_ok(fx *f, const principal *who, const char *id)
{
    json_t *o;
    store_scope sc = scope_of(who);
    dz_err e = {0};
    assert_dz_ok(store_incident_get(f->s, &sc, id, &o, &e), e);
    return o;
}

static json_t *timeline(fx *f, const principal *who, const char *id)
{
    json_t *o;
    store_scope sc = scope_of(who);
    dz_err e = {0};
    assert_dz_ok(store_timeline_list(f->s, &sc, id, &o, &e), e);
    return o;
}

static size_t audit_count(fx *f)
{
    json_t *a;
    dz_err e = {0};
    assert_dz_ok(store_audit_list(f->s, 0, 1000000, &a, &e), e);
    size_t n = json_array_size(a);
    json_decref(a);
    return n;
}

static void audit_ok(fx *f)
{
    int64_t checked, bad;
    char why[256];
    dz_err e = {0};
    assert_dz_ok(store_audit_verify(f->s, &checked, &bad, why, sizeof why, &e), e);
    if (bad)
        fail_msg("audit chain broken at %lld: %s", (long long)bad, why);
    assert_int_equal(checked, audit_count(f));
    assert_string_equal(why, "");
}

static bool json_list_is(json_t *arr, const char *const *want, size_t n)
{
    if (json_array_size(arr) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!json_string_value(json_array_get(arr, i)) || strcmp(json_string_value(json_array_get(arr, i)), want[i]))
            return false;
    return true;
}

static void unlink_db(const char *path)
{
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* ---- PostgreSQL straight through libpq, past the store ---- */

static PGconn *pg_connect(void)
{
    PGconn *c = PQconnectdb(pg_url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("DZONG_TEST_DB: cannot connect: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, "SET client_min_messages = warning");
    PQclear(r);
    return c;
}

/* Runs text; returns NULL on success, else the (static) error message. */
static const char *pg_run(const char *text)
{
    static char msg[512];
    PGconn *c = pg_connect();
    PGresult *r = PQexec(c, text);
    ExecStatusType st = PQresultStatus(r);
    const char *ret = NULL;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        ret = msg;
    }
    PQclear(r);
    PQfinish(c);
    return ret;
}

/*
 * Empties the test database: the store's tables live in schema public. Refuses
 * a database whose public schema holds tables but no schema_version, which is
 * not one these tests (or dzong) made.
 */
static void pg_wipe(void)
{
    PGconn *c = pg_connect();
    PGresult *r = PQexec(c, "SELECT count(*), count(*) FILTER (WHERE table_name = 'schema_version') "
                            "FROM information_schema.tables WHERE table_schema = 'public'");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("DZONG_TEST_DB: %s", PQresultErrorMessage(r));
    long tables = atol(PQgetvalue(r, 0, 0)), marker = atol(PQgetvalue(r, 0, 1));
    PQclear(r);
    if (tables > 0 && marker == 0) {
        PQfinish(c);
        fail_msg("DZONG_TEST_DB: schema public holds %ld tables but no schema_version: not a dzong test database, "
                 "not emptying it",
                 tables);
    }
    r = PQexec(c, "DROP SCHEMA IF EXISTS " PG_EMPTY_SCHEMA " CASCADE; DROP SCHEMA public CASCADE; "
                  "CREATE SCHEMA public");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("DZONG_TEST_DB: emptying the database: %s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* ---- fixture: a migrated store with three organisations and a user of every role ---- */

static int setup(void **state)
{
    dz_err e = {0};
    assert_dz_ok(credentials_init(&e), e);
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    if (pg_url) {
        pg_wipe();
        snprintf(f->url, sizeof f->url, "%s", pg_url);
    } else {
        snprintf(f->dir, sizeof f->dir, "/tmp/dzong-unit-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof f->path, "%s/x.db", f->dir);
        snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
    }
    store_settings st;
    memset(&st, 0, sizeof st);
    snprintf(st.id_prefix, sizeof st.id_prefix, "BTCIRT");
    due_policy_default(&st.due);
    assert_dz_ok(store_open(f->url, &st, &f->s, &e), e);
    int applied = -1, version = -1;
    assert_dz_ok(store_migrate(f->s, &applied, &version, &e), e);
    assert_int_equal(applied, version); /* a fresh database takes every migration */
    assert_true(version >= 2);
    store_set_clock(f->s, T0);

    f->sys.role = ROLE_ADMIN;
    snprintf(f->sys.username, sizeof f->sys.username, "system");
    assert_dz_ok(store_constituent_create(f->s, &f->sys, "druk-bank", "Druk Bank", NULL, &e), e);
    assert_dz_ok(store_constituent_create(f->s, &f->sys, "bhutan-telecom", "Bhutan Telecom", NULL, &e), e);
    assert_dz_ok(store_constituent_create(f->s, &f->sys, "partner-cert", "A partner CERT", NULL, &e), e);
    assert_dz_ok(store_constituent_id(f->s, "druk-bank", &f->druk, &e), e);
    assert_dz_ok(store_constituent_id(f->s, "bhutan-telecom", &f->telecom, &e), e);
    assert_dz_ok(store_constituent_id(f->s, "partner-cert", &f->pcert, &e), e);

    static const struct {
        const char *name;
        role r;
        const char *org;
    } users[] = {
        {"admin", ROLE_ADMIN, NULL},          {"karma", ROLE_COORDINATOR, NULL},
        {"tashi", ROLE_HANDLER, NULL},        {"pema", ROLE_ANALYST, NULL},
        {"dorji", ROLE_CONSTITUENT, "druk-bank"}, {"sonam", ROLE_CONSTITUENT, "bhutan-telecom"},
        {"pcert", ROLE_PARTNER, "partner-cert"},
    };
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++)
        assert_dz_ok(store_user_create(f->s, &f->sys, users[i].name, users[i].r, users[i].org, NULL, &e), e);
    get_user(f, "admin", &f->admin);
    get_user(f, "karma", &f->coord);
    get_user(f, "tashi", &f->tashi);
    get_user(f, "pema", &f->pema);
    get_user(f, "dorji", &f->dorji);
    get_user(f, "sonam", &f->sonam);
    get_user(f, "pcert", &f->partner);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    store_close(f->s);
    if (!pg_url) {
        unlink_db(f->path);
        if (rmdir(f->dir) != 0)
            fprintf(stderr, "test_store: %s left behind\n", f->dir);
    }
    free(f);
    return 0;
}

/* ---- opening and migrations ---- */

static void test_open_and_migrate(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    int applied = -1, version = -1;
    assert_dz_ok(store_migrate(f->s, &applied, &version, &e), e); /* again: nothing to do */
    assert_int_equal(applied, 0);
    assert_true(version >= 2);
    assert_dz_ok(store_check_schema(f->s, &e), e);

    /* a second store on the same file sees the same schema and data */
    store_settings st;
    memset(&st, 0, sizeof st);
    snprintf(st.id_prefix, sizeof st.id_prefix, "X");
    store *s2;
    assert_dz_ok(store_open(f->url, &st, &s2, &e), e);
    assert_dz_ok(store_check_schema(s2, &e), e);
    int64_t n = 0;
    assert_dz_ok(store_user_count(s2, &n, &e), e);
    assert_int_equal(n, 7);
    store_close(s2);

    /* an empty database is refused by check_schema until migrated */
    char path[200], url[700];
    if (pg_url) { /* PostgreSQL: an empty schema of the same database, first in the search path */
        const char *err = pg_run("CREATE SCHEMA " PG_EMPTY_SCHEMA);
        if (err)
            fail_msg("%s", err);
        snprintf(url, sizeof url, "%s%soptions=-csearch_path%%3D" PG_EMPTY_SCHEMA, pg_url,
                 strchr(pg_url, '?') ? "&" : "?");
    } else {
        snprintf(path, sizeof path, "%s/empty.db", f->dir);
        snprintf(url, sizeof url, "sqlite:%s", path);
    }
    assert_dz_ok(store_open(url, &st, &s2, &e), e);
    assert_dz_fails(store_check_schema(s2, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "run `dzong migrate`");
    store_close(s2);
    if (pg_url) {
        const char *err = pg_run("DROP SCHEMA " PG_EMPTY_SCHEMA " CASCADE");
        if (err)
            fail_msg("%s", err);
    } else {
        unlink_db(path);
    }

    assert_dz_fails(store_open("mysql://localhost/dzong", &st, &s2, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "use sqlite:PATH or postgres://");
    assert_dz_fails(store_open("postgres://127.0.0.1:1/nothing?connect_timeout=2", &st, &s2, &e), DZ_EDB, e);
    assert_contains(e.msg, "cannot connect to PostgreSQL");
    assert_dz_fails(store_open("sqlite:/nonexistent-dir-dzong/x.db", &st, &s2, &e), DZ_EDB, e);
}

/* ---- constituents, users, tokens, sessions ---- */

static void test_constituents_and_users(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    json_t *o;
    assert_dz_fails(store_constituent_create(f->s, &f->sys, "druk-bank", "Again", NULL, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "constituent 'druk-bank' exists already");
    assert_dz_fails(store_constituent_create(f->s, &f->sys, "druk bank", "X", NULL, &e), DZ_EINVAL, e);
    assert_dz_fails(store_constituent_create(f->s, &f->sys, "new-org", "", NULL, &e), DZ_EINVAL, e);
    assert_dz_ok(store_constituent_create(f->s, &f->admin, "new-org", "New Org", &o, &e), e);
    assert_string_equal(S(o, "short_name"), "new-org");
    assert_string_equal(S(o, "name"), "New Org");
    assert_string_equal(S(o, "created_at"), "2026-03-01T00:00:00Z");
    json_decref(o);
    assert_dz_ok(store_constituent_list(f->s, 0, NULL, &o, &e), e);
    json_t *items = json_object_get(o, "items");
    assert_int_equal(json_array_size(items), 4);
    assert_string_equal(S(json_array_get(items, 0), "short_name"), "bhutan-telecom"); /* sorted */
    assert_string_equal(S(json_array_get(items, 0), "kind"), "other");
    assert_true(json_is_null(json_object_get(o, "next_cursor")));
    json_decref(o);
    assert_dz_ok(store_constituent_list(f->s, f->druk, NULL, &o, &e), e);
    items = json_object_get(o, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(S(json_array_get(items, 0), "short_name"), "druk-bank");
    json_decref(o);
    assert_dz_ok(store_constituent_list(f->s, -1, NULL, &o, &e), e); /* policy's "nothing" */
    assert_int_equal(json_array_size(json_object_get(o, "items")), 0);
    json_decref(o);
    int64_t id;
    assert_dz_fails(store_constituent_id(f->s, "nope", &id, &e), DZ_ENOTFOUND, e);

    /* users */
    assert_dz_fails(store_user_create(f->s, &f->sys, "tashi", ROLE_HANDLER, NULL, NULL, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "user 'tashi' exists already");
    assert_dz_fails(store_user_create(f->s, &f->sys, "x1", ROLE_CONSTITUENT, NULL, NULL, &e), DZ_EINVAL, e);
    assert_dz_fails(store_user_create(f->s, &f->sys, "x1", ROLE_PARTNER, NULL, NULL, &e), DZ_EINVAL, e);
    assert_dz_fails(store_user_create(f->s, &f->sys, "x1", ROLE_HANDLER, "druk-bank", NULL, &e), DZ_EINVAL, e);
    assert_dz_fails(store_user_create(f->s, &f->sys, "x1", ROLE_CONSTITUENT, "nope", NULL, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(store_user_create(f->s, &f->sys, "bad name", ROLE_HANDLER, NULL, NULL, &e), DZ_EINVAL, e);
    int64_t n;
    assert_dz_ok(store_user_count(f->s, &n, &e), e);
    assert_int_equal(n, 7);
    assert_int_equal(f->dorji.role, ROLE_CONSTITUENT);
    assert_int_equal(f->dorji.org_id, f->druk);
    assert_string_equal(f->dorji.org, "druk-bank");
    assert_int_equal(f->tashi.org_id, 0);
    assert_string_equal(f->tashi.org, "");
    assert_int_equal(f->partner.org_id, f->pcert);
    user_record u;
    assert_dz_fails(store_user_get(f->s, "nobody", &u, &e), DZ_ENOTFOUND, e);
    assert_dz_ok(store_user_list(f->s, &o, &e), e);
    assert_int_equal(json_array_size(o), 7);
    assert_string_equal(S(json_array_get(o, 0), "username"), "admin");
    for (size_t i = 0; i < json_array_size(o); i++) {
        json_t *x = json_array_get(o, i);
        if (strcmp(S(x, "username"), "dorji") == 0)
            assert_string_equal(S(x, "constituent"), "druk-bank");
        if (strcmp(S(x, "username"), "tashi") == 0) {
            assert_true(json_is_null(json_object_get(x, "constituent")));
            assert_string_equal(S(x, "role"), "handler");
            assert_true(json_is_false(json_object_get(x, "disabled")));
        }
        assert_null(json_object_get(x, "password_hash"));
    }
    json_decref(o);

    /* passwords: only the hash is kept */
    assert_dz_ok(store_user_set_password(f->s, "pema", "$argon2id$stand-in", &e), e);
    assert_dz_ok(store_user_get(f->s, "pema", &u, &e), e);
    assert_string_equal(u.password_hash, "$argon2id$stand-in");
    assert_dz_fails(store_user_set_password(f->s, "nobody", "x", &e), DZ_ENOTFOUND, e);

    /* tokens */
    char tok[SECRET_TEXT_LEN], hash[SECRET_HASH_HEX_LEN + 1];
    secret_generate(TOKEN_PREFIX, tok);
    secret_hash(tok, hash);
    assert_dz_ok(store_token_create(f->s, &f->admin, "tashi", "ci", hash, &e), e);
    principal p;
    assert_dz_ok(store_token_lookup(f->s, hash, &p, &e), e);
    assert_string_equal(p.username, "tashi");
    assert_int_equal(p.role, ROLE_HANDLER);
    assert_int_equal(p.user_id, f->tashi.user_id);
    char other[SECRET_HASH_HEX_LEN + 1];
    secret_hash("dzt_not-issued", other);
    assert_dz_fails(store_token_lookup(f->s, other, &p, &e), DZ_EUNAUTH, e);
    assert_dz_fails(store_token_create(f->s, &f->admin, "nobody", "x", other, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(store_token_create(f->s, &f->admin, "pema", "dup", hash, &e), DZ_ECONFLICT, e);

    /* sessions */
    char sid_hash[SECRET_HASH_HEX_LEN + 1], csrf[64];
    secret_hash("session-one", sid_hash);
    assert_dz_ok(store_session_create(f->s, sid_hash, f->dorji.user_id, "csrf-1", T0 + 3600, &e), e);
    assert_dz_ok(store_session_lookup(f->s, sid_hash, &p, csrf, &e), e);
    assert_string_equal(p.username, "dorji");
    assert_int_equal(p.org_id, f->druk);
    assert_string_equal(csrf, "csrf-1");
    store_set_clock(f->s, T0 + 3600); /* expired at its expiry time */
    assert_dz_fails(store_session_lookup(f->s, sid_hash, &p, csrf, &e), DZ_EUNAUTH, e);
    store_set_clock(f->s, T0);
    assert_dz_ok(store_session_lookup(f->s, sid_hash, &p, csrf, &e), e);
    assert_dz_ok(store_session_delete(f->s, sid_hash, &e), e);
    assert_dz_fails(store_session_lookup(f->s, sid_hash, &p, csrf, &e), DZ_EUNAUTH, e);

    /* disabling: tokens refused, sessions ended (and stay ended after enabling), no assignments */
    assert_dz_ok(store_session_create(f->s, sid_hash, f->tashi.user_id, "csrf-2", T0 + 3600, &e), e);
    size_t before = audit_count(f);
    assert_dz_ok(store_user_set_disabled(f->s, &f->admin, "tashi", true, &e), e);
    assert_int_equal(audit_count(f), before + 1);
    assert_dz_fails(store_token_lookup(f->s, hash, &p, &e), DZ_EUNAUTH, e);
    assert_dz_fails(store_session_lookup(f->s, sid_hash, &p, csrf, &e), DZ_EUNAUTH, e);
    assert_dz_ok(store_user_get(f->s, "tashi", &u, &e), e);
    assert_true(u.disabled);
    assert_dz_fails(try_create(f, &f->admin, "{\"title\":\"x\",\"assignee\":\"tashi\"}", &e), DZ_EINVAL, e);
    assert_contains(e.msg, "user 'tashi' is disabled");
    assert_dz_ok(store_user_set_disabled(f->s, &f->admin, "tashi", false, &e), e);
    assert_dz_ok(store_token_lookup(f->s, hash, &p, &e), e);
    assert_dz_fails(store_session_lookup(f->s, sid_hash, &p, csrf, &e), DZ_EUNAUTH, e);
    assert_dz_fails(store_user_set_disabled(f->s, &f->admin, "nobody", true, &e), DZ_ENOTFOUND, e);
    audit_ok(f);
}

/* ---- incidents ---- */

static void test_incident_create(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    json_t *a = mk(f, &f->tashi,
                   "{\"title\":\" Phishing against a bank \",\"description\":\"Mails since Monday\\n\","
                   "\"classification\":{\"type\":\"phishing\"},\"constituents\":[\"druk-bank\",\"bhutan-telecom\"],"
                   "\"tags\":[\"mail\",\"bank\"]}");
    assert_string_equal(S(a, "id"), "BTCIRT-2026-00001");
    assert_string_equal(S(a, "title"), "Phishing against a bank");
    assert_string_equal(S(a, "description"), "Mails since Monday\n");
    assert_string_equal(S(json_object_get(a, "classification"), "taxonomy"), "fraud");
    assert_string_equal(S(json_object_get(a, "classification"), "type"), "phishing");
    assert_string_equal(S(a, "tlp"), "AMBER"); /* defaults */
    assert_string_equal(S(a, "pap"), "AMBER");
    assert_string_equal(S(a, "severity"), "medium");
    assert_string_equal(S(a, "status"), "new");
    assert_true(json_is_null(json_object_get(a, "assignee")));
    assert_true(json_is_null(json_object_get(a, "duplicate_of")));
    assert_string_equal(S(a, "created_by"), "tashi");
    assert_int_equal(T(a, "created_at"), T0);
    assert_int_equal(T(a, "updated_at"), T0);
    assert_int_equal(T(a, "due_at"), T0 + 3 * 86400); /* medium: three days */
    static const char *const cons[] = {"bhutan-telecom", "druk-bank"}, *const tags[] = {"bank", "mail"};
    assert_true(json_list_is(json_object_get(a, "constituents"), cons, 2));
    assert_true(json_list_is(json_object_get(a, "tags"), tags, 2));
    json_t *m = json_object_get(a, "metrics");
    assert_true(json_is_null(json_object_get(m, "time_to_triage_s")));
    assert_true(json_is_null(json_object_get(m, "time_to_close_s")));
    json_decref(a);

    json_t *b = mk(f, &f->admin, "{\"title\":\"b\",\"severity\":\"critical\",\"tlp\":\"red\",\"pap\":\"green\","
                                 "\"assignee\":\"pema\",\"classification\":\"botnet drone\"}");
    assert_string_equal(S(b, "id"), "BTCIRT-2026-00002");
    assert_int_equal(T(b, "due_at"), T0 + 4 * 3600);
    assert_string_equal(S(b, "tlp"), "RED");
    assert_string_equal(S(b, "pap"), "GREEN");
    assert_string_equal(S(b, "assignee"), "pema");
    assert_string_equal(S(json_object_get(b, "classification"), "type"), "infected-system");
    json_t *tl = timeline(f, &f->admin, "BTCIRT-2026-00002");
    assert_int_equal(json_array_size(tl), 2);
    assert_string_equal(S(json_array_get(tl, 0), "kind"), "created");
    assert_string_equal(S(json_array_get(tl, 1), "kind"), "assignee");
    assert_string_equal(S(json_array_get(tl, 1), "new_value"), "pema");
    json_decref(tl);
    json_decref(b);

    json_t *c = mk(f, &f->admin, "{\"title\":\"c\",\"severity\":\"low\",\"due_at\":\"2026-03-02T12:00:00+06:00\"}");
    assert_string_equal(S(c, "due_at"), "2026-03-02T06:00:00Z"); /* manual deadline kept as given */
    json_decref(c);

    /* refused creates write nothing and burn no number */
    size_t audits = audit_count(f);
    assert_dz_fails(try_create(f, &f->admin, "{\"title\":\"x\",\"assignee\":\"dorji\"}", &e), DZ_EINVAL, e);
    assert_contains(e.msg, "not CIRT staff");
    assert_dz_fails(try_create(f, &f->admin, "{\"title\":\"x\",\"assignee\":\"nobody\"}", &e), DZ_EINVAL, e);
    assert_contains(e.msg, "no user 'nobody'");
    assert_dz_fails(try_create(f, &f->admin, "{\"title\":\"x\",\"constituents\":[\"druk-bank\",\"nope\"]}", &e),
                    DZ_EINVAL, e);
    assert_contains(e.msg, "no constituent 'nope'");
    assert_int_equal(audit_count(f), audits);
    char *d = mk_id(f, &f->admin, "{\"title\":\"d\"}");
    assert_string_equal(d, "BTCIRT-2026-00004");
    free(d);
    json_t *o;
    assert_int_equal(get(f, &f->admin, "BTCIRT-2026-00099", &o), DZ_ENOTFOUND);
    assert_null(o);

    /* numbering restarts each year */
    store_set_clock(f->s, 1798761600); /* 2027-01-01 */
    d = mk_id(f, &f->admin, "{\"title\":\"new year\"}");
    assert_string_equal(d, "BTCIRT-2027-00001");
    free(d);
    audit_ok(f);
}

static void test_lifecycle_timeline_metrics(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    char *id = mk_id(f, &f->tashi, "{\"title\":\"lifecycle\",\"constituents\":[\"druk-bank\"]}");
    static const char *const phases[] = {"triage", "analysis", "mitigation", "recovery", "closed"};
    for (int i = 0; i < 5; i++) {
        char body[64];
        store_set_clock(f->s, T0 + 600 * (i + 1));
        snprintf(body, sizeof body, "{\"status\":\"%s\"}", phases[i]);
        json_t *o = upd_ok(f, &f->tashi, id, body);
        assert_string_equal(S(o, "status"), phases[i]);
        assert_int_equal(T(o, "updated_at"), T0 + 600 * (i + 1));
        json_decref(o);
    }
    json_t *o = get_ok(f, &f->tashi, id);
    json_t *m = json_object_get(o, "metrics");
    assert_int_equal(json_integer_value(json_object_get(m, "time_to_triage_s")), 600);
    assert_int_equal(json_integer_value(json_object_get(m, "time_to_close_s")), 3000);
    json_decref(o);

    json_t *tl = timeline(f, &f->tashi, id);
    assert_int_equal(json_array_size(tl), 6);
    const char *prev = "new";
    for (int i = 0; i < 6; i++) {
        json_t *t = json_array_get(tl, i);
        assert_string_equal(S(t, "actor"), "tashi");
        assert_int_equal(T(t, "at"), T0 + 600 * i);
        if (i == 0) {
            assert_string_equal(S(t, "kind"), "created");
            assert_string_equal(S(t, "new_value"), "new");
            continue;
        }
        assert_string_equal(S(t, "kind"), "status");
        assert_string_equal(S(t, "field"), "status");
        assert_string_equal(S(t, "old_value"), prev);
        assert_string_equal(S(t, "new_value"), phases[i - 1]);
        prev = phases[i - 1];
    }
    json_decref(tl);

    /* a refused move changes nothing: no timeline, no audit entry, no new updated_at */
    size_t audits = audit_count(f);
    store_set_clock(f->s, T0 + 5000);
    assert_dz_fails(upd(f, &f->tashi, id, "{\"status\":\"analysis\",\"title\":\"changed\"}", NULL, &e), DZ_ECONFLICT,
                    e);
    assert_string_equal(e.msg, "status cannot go from 'closed' to 'analysis'; from 'closed' it may go to: triage");
    assert_dz_fails(upd(f, &f->tashi, id, "{\"status\":\"duplicate\"}", NULL, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "only by merging");
    assert_dz_fails(upd(f, &f->tashi, id, "{\"status\":\"new\"}", NULL, &e), DZ_ECONFLICT, e);
    o = get_ok(f, &f->tashi, id);
    assert_string_equal(S(o, "status"), "closed");
    assert_string_equal(S(o, "title"), "lifecycle");
    assert_int_equal(T(o, "updated_at"), T0 + 3000);
    json_decref(o);
    tl = timeline(f, &f->tashi, id);
    assert_int_equal(json_array_size(tl), 6);
    json_decref(tl);
    assert_int_equal(audit_count(f), audits);

    /* reopen: closed -> triage; the metrics keep the first triage and close */
    o = upd_ok(f, &f->tashi, id, "{\"status\":\"triage\"}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "metrics"), "time_to_triage_s")), 600);
    json_decref(o);
    assert_dz_fails(upd(f, &f->tashi, id, "{\"status\":\"recovery\"}", NULL, &e), DZ_ECONFLICT, e);
    assert_string_equal(e.msg,
                        "status cannot go from 'triage' to 'recovery'; from 'triage' it may go to: analysis, closed, rejected");
    /* staying put is allowed and records nothing */
    store_set_clock(f->s, T0 + 6000);
    o = upd_ok(f, &f->tashi, id, "{\"status\":\"triage\"}");
    assert_int_equal(T(o, "updated_at"), T0 + 5000);
    json_decref(o);
    assert_int_equal(audit_count(f), audits + 1);
    free(id);
    audit_ok(f);
}

static void test_field_changes(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    char *id = mk_id(f, &f->tashi, "{\"title\":\"fields\",\"constituents\":[\"druk-bank\"],\"tags\":[\"x\"]}");
    size_t audits = audit_count(f);

    /* every changed field is one timeline entry with old and new value */
    store_set_clock(f->s, T0 + 100);
    json_t *o = upd_ok(f, &f->tashi, id,
                       "{\"title\":\"renamed\",\"severity\":\"high\",\"tlp\":\"GREEN\",\"pap\":\"RED\","
                       "\"assignee\":\"pema\",\"classification\":{\"taxonomy\":\"intrusions\",\"type\":\"backdoor\"},"
                       "\"constituents\":[\"druk-bank\",\"bhutan-telecom\"],\"tags\":[],\"description\":\"d\"}");
    assert_string_equal(S(o, "title"), "renamed");
    assert_string_equal(S(o, "severity"), "high");
    assert_int_equal(T(o, "due_at"), T0 + 24 * 3600); /* deadline follows severity from creation time */
    assert_string_equal(S(o, "assignee"), "pema");
    assert_int_equal(json_array_size(json_object_get(o, "tags")), 0);
    assert_int_equal(json_array_size(json_object_get(o, "constituents")), 2);
    json_decref(o);
    assert_int_equal(audit_count(f), audits + 1);
    json_t *tl = timeline(f, &f->admin, id);
    static const struct {
        const char *kind, *field, *old_v, *new_v;
    } want[] = {
        {"created", "status", NULL, "new"},
        {"field", "title", "fields", "renamed"},
        {"field", "description", "", "d"},
        {"field", "classification", "other/undetermined", "intrusions/system-compromise"},
        {"tlp", "tlp", "AMBER", "GREEN"},
        {"field", "pap", "AMBER", "RED"},
        {"assignee", "assignee", NULL, "pema"},
        {"severity", "severity", "medium", "high"},
        {"field", "due_at", "2026-03-04T00:00:00Z", "2026-03-02T00:00:00Z"},
        {"field", "constituents", "druk-bank", "bhutan-telecom, druk-bank"},
        {"field", "tags", "x", ""},
    };
    assert_int_equal(json_array_size(tl), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        json_t *t = json_array_get(tl, i);
        assert_string_equal(S(t, "kind"), want[i].kind);
        assert_string_equal(S(t, "field"), want[i].field);
        if (want[i].old_v)
            assert_string_equal(S(t, "old_value"), want[i].old_v);
        else
            assert_true(json_is_null(json_object_get(t, "old_value")));
        assert_string_equal(S(t, "new_value"), want[i].new_v);
    }
    json_decref(tl);

    /* a manual deadline survives a severity change; null returns to the severity's */
    o = upd_ok(f, &f->tashi, id, "{\"due_at\":\"2026-04-01T00:00:00Z\"}");
    assert_string_equal(S(o, "due_at"), "2026-04-01T00:00:00Z");
    json_decref(o);
    o = upd_ok(f, &f->tashi, id, "{\"severity\":\"critical\"}");
    assert_string_equal(S(o, "due_at"), "2026-04-01T00:00:00Z");
    json_decref(o);
    o = upd_ok(f, &f->tashi, id, "{\"due_at\":null}");
    assert_int_equal(T(o, "due_at"), T0 + 4 * 3600);
    json_decref(o);
    /* unassign */
    o = upd_ok(f, &f->tashi, id, "{\"assignee\":null}");
    assert_true(json_is_null(json_object_get(o, "assignee")));
    json_decref(o);

    /* refused field values roll the whole update back */
    audits = audit_count(f);
    assert_dz_fails(upd(f, &f->tashi, id, "{\"title\":\"t2\",\"constituents\":[\"nope\"]}", NULL, &e), DZ_EINVAL, e);
    assert_dz_fails(upd(f, &f->tashi, id, "{\"title\":\"t2\",\"assignee\":\"sonam\"}", NULL, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "field 'assignee'");
    o = get_ok(f, &f->tashi, id);
    assert_string_equal(S(o, "title"), "renamed");
    assert_int_equal(json_array_size(json_object_get(o, "constituents")), 2);
    json_decref(o);
    assert_int_equal(audit_count(f), audits);
    assert_dz_fails(upd(f, &f->tashi, "BTCIRT-2026-09999", "{\"title\":\"x\"}", NULL, &e), DZ_ENOTFOUND, e);

    /* a GET body sent back as a PATCH changes nothing at all */
    store_set_clock(f->s, T0 + 900);
    o = get_ok(f, &f->tashi, id);
    char *body = json_dumps(o, JSON_COMPACT);
    int64_t updated = T(o, "updated_at");
    json_decref(o);
    tl = timeline(f, &f->admin, id);
    size_t tl_n = json_array_size(tl);
    json_decref(tl);
    audits = audit_count(f);
    o = upd_ok(f, &f->tashi, id, body);
    free(body);
    assert_int_equal(T(o, "updated_at"), updated);
    json_decref(o);
    tl = timeline(f, &f->admin, id);
    assert_int_equal(json_array_size(tl), tl_n);
    json_decref(tl);
    assert_int_equal(audit_count(f), audits);
    free(id);
    audit_ok(f);
}

/* ---- visibility ---- */

static size_t list_count(fx *f, const principal *who, incident_filter flt)
{
    store_scope sc = scope_of(who);
    json_t *o;
    dz_err e = {0};
    flt.limit = 500;
    assert_dz_ok(store_incident_list(f->s, &sc, &flt, &o, &e), e);
    size_t n = json_array_size(json_object_get(o, "items"));
    assert_true(json_is_null(json_object_get(o, "next_cursor")));
    json_decref(o);
    return n;
}

static void test_scope_isolation(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    char *a = mk_id(f, &f->admin, "{\"title\":\"A\",\"constituents\":[\"druk-bank\"]}");
    char *b = mk_id(f, &f->admin, "{\"title\":\"B\",\"constituents\":[\"bhutan-telecom\"]}");
    char *c = mk_id(f, &f->admin, "{\"title\":\"C\",\"constituents\":[\"druk-bank\"],\"tlp\":\"RED\",\"assignee\":\"tashi\"}");
    char *d = mk_id(f, &f->admin, "{\"title\":\"D\",\"constituents\":[\"druk-bank\"],\"tlp\":\"RED\"}");
    char *x = mk_id(f, &f->admin, "{\"title\":\"X\"}");
    char *ab = mk_id(f, &f->admin, "{\"title\":\"AB\",\"constituents\":[\"druk-bank\",\"bhutan-telecom\"],\"tlp\":\"CLEAR\"}");
    const char *all[] = {a, b, c, d, x, ab};
    static const struct {
        const char *who;
        const char *sees; /* one letter per incident in all[]: 1 visible */
    } want[] = {
        {"admin", "111111"}, {"karma", "111111"}, {"tashi", "111011"}, {"pema", "110011"},
        {"dorji", "100001"}, {"sonam", "010001"}, {"pcert", "000000"},
    };
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        principal p;
        get_user(f, want[w].who, &p);
        size_t visible = 0;
        for (size_t i = 0; i < 6; i++) {
            json_t *o;
            dz_code rc = get(f, &p, all[i], &o);
            bool sees = want[w].sees[i] == '1';
            if (sees != (rc == DZ_OK))
                fail_msg("%s %s incident %s", want[w].who, rc == DZ_OK ? "sees" : "does not see", all[i]);
            if (rc != DZ_OK)
                assert_int_equal(rc, DZ_ENOTFOUND); /* invisible and absent look the same */
            json_decref(o);
            visible += sees;
        }
        incident_filter flt = {0};
        if (list_count(f, &p, flt) != visible)
            fail_msg("%s lists %zu incidents, sees %zu", want[w].who, list_count(f, &p, flt), visible);
    }

    /* what is invisible cannot be changed, merged, noted or linked either */
    assert_dz_fails(upd(f, &f->pema, c, "{\"title\":\"mine now\"}", NULL, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(upd(f, &f->dorji, b, "{\"title\":\"mine now\"}", NULL, &e), DZ_ENOTFOUND, e);
    store_scope sc = scope_of(&f->pema);
    json_t *o;
    assert_dz_fails(store_incident_merge(f->s, &f->pema, &sc, a, c, &o, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(store_incident_merge(f->s, &f->pema, &sc, c, a, &o, &e), DZ_ENOTFOUND, e);
    note_input note = {.body = "psst", .shared = true};
    sc = scope_of(&f->tashi);
    assert_dz_fails(store_note_add(f->s, &f->tashi, &sc, d, &note, &o, &e), DZ_ENOTFOUND, e);
    sc = scope_of(&f->sonam);
    assert_dz_fails(store_timeline_list(f->s, &sc, a, &o, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(store_note_list(f->s, &sc, a, &o, &e), DZ_ENOTFOUND, e);

    /* TLP:RED follows the assignee */
    json_decref(upd_ok(f, &f->admin, c, "{\"assignee\":\"pema\"}"));
    assert_int_equal(get(f, &f->pema, c, &o), DZ_OK);
    json_decref(o);
    assert_int_equal(get(f, &f->tashi, c, &o), DZ_ENOTFOUND);
    /* a handler who marks an unassigned incident RED takes it, and keeps seeing it */
    o = upd_ok(f, &f->tashi, x, "{\"tlp\":\"RED\"}");
    assert_string_equal(S(o, "assignee"), "tashi");
    json_decref(o);
    assert_int_equal(get(f, &f->tashi, x, &o), DZ_OK);
    json_decref(o);
    assert_int_equal(get(f, &f->pema, x, &o), DZ_ENOTFOUND);
    /* lowering the TLP opens it to every handler */
    json_decref(upd_ok(f, &f->admin, d, "{\"tlp\":\"AMBER\"}"));
    assert_int_equal(get(f, &f->tashi, d, &o), DZ_OK);
    json_decref(o);
    assert_int_equal(get(f, &f->dorji, d, &o), DZ_OK);
    json_decref(o);

    /* notes: constituents see only the shared ones; their timeline is phases and shared notes */
    sc = scope_of(&f->tashi);
    note_input internal = {.body = "internal analysis", .shared = false};
    note_input shared = {.body = "please reset passwords", .shared = true};
    assert_dz_ok(store_note_add(f->s, &f->tashi, &sc, a, &internal, &o, &e), e);
    assert_true(json_is_false(json_object_get(o, "shared")));
    assert_string_equal(S(o, "visibility"), "internal");
    json_decref(o);
    assert_dz_ok(store_note_add(f->s, &f->tashi, &sc, a, &shared, &o, &e), e);
    assert_string_equal(S(o, "visibility"), "shared");
    assert_string_equal(S(o, "author"), "tashi");
    json_decref(o);
    json_decref(upd_ok(f, &f->tashi, a, "{\"status\":\"triage\",\"title\":\"A renamed\"}"));
    assert_dz_ok(store_note_list(f->s, &sc, a, &o, &e), e);
    assert_int_equal(json_array_size(o), 2);
    json_decref(o);
    sc = scope_of(&f->dorji);
    assert_dz_ok(store_note_list(f->s, &sc, a, &o, &e), e);
    assert_int_equal(json_array_size(o), 1);
    assert_string_equal(S(json_array_get(o, 0), "body"), "please reset passwords");
    json_decref(o);
    json_t *tl = timeline(f, &f->dorji, a);
    assert_int_equal(json_array_size(tl), 3); /* created, the shared note, status */
    for (size_t i = 0; i < json_array_size(tl); i++) {
        const char *k = S(json_array_get(tl, i), "kind");
        assert_true(strcmp(k, "created") == 0 || strcmp(k, "status") == 0 || strcmp(k, "note") == 0);
        if (strcmp(k, "note") == 0)
            assert_string_equal(S(json_array_get(tl, i), "field"), "shared");
    }
    json_decref(tl);
    tl = timeline(f, &f->tashi, a);
    assert_int_equal(json_array_size(tl), 5); /* and staff see the internal note and the title too */
    json_decref(tl);

    free(a), free(b), free(c), free(d), free(x), free(ab);
    audit_ok(f);
}

/* ---- listing ---- */

enum { NLIST = 60 };

typedef struct {
    char *id;
    int sev;
    bool green, triage, druk, bank_tag, tashi;
    int tax; /* 0 phishing, 1 spam, 2 scanner */
    int64_t created;
} model;

static void make_list_data(fx *f, model *m)
{
    static const char *const sev[] = {"low", "medium", "high", "critical"};
    static const char *const type[] = {"phishing", "spam", "scanner"};
    memset(m, 0, NLIST * sizeof *m);
    for (int i = 0; i < NLIST; i++) {
        model *x = &m[i];
        x->sev = i % 4;
        x->green = i % 5 == 0;
        x->druk = i % 2 == 1;
        x->bank_tag = i % 6 == 0;
        x->tashi = i % 7 == 0;
        x->tax = i % 3;
        x->created = T0 + (i / 3) * 60; /* three at a time share a second */
        store_set_clock(f->s, x->created);
        char body[512];
        snprintf(body, sizeof body,
                 "{\"title\":\"Incident %d alpha%s\",\"severity\":\"%s\",\"tlp\":\"%s\",\"classification\":\"%s\","
                 "\"constituents\":[\"%s\"],\"tags\":[%s]%s}",
                 i, i == 17 ? " 50% off" : "", sev[x->sev], x->green ? "GREEN" : "AMBER", type[x->tax],
                 x->druk ? "druk-bank" : "bhutan-telecom", x->bank_tag ? "\"bank\"" : "",
                 x->tashi ? ",\"assignee\":\"tashi\"" : "");
        x->id = mk_id(f, &f->admin, body);
    }
    for (int i = 0; i < NLIST; i++)
        if (i % 5 == 1) {
            store_set_clock(f->s, T0 + 10000 + i);
            m[i].triage = true;
            json_decref(upd_ok(f, &f->admin, m[i].id, "{\"status\":\"triage\"}"));
        }
}

static int count_model(const model *m, bool (*pred)(const model *))
{
    int n = 0;
    for (int i = 0; i < NLIST; i++)
        n += pred(&m[i]);
    return n;
}

static bool p_new(const model *x) { return !x->triage; }
static bool p_triage(const model *x) { return x->triage; }
static bool p_crit(const model *x) { return x->sev == 3; }
static bool p_high_up(const model *x) { return x->sev >= 2; }
static bool p_fraud(const model *x) { return x->tax == 0; }
static bool p_spam(const model *x) { return x->tax == 1; }
static bool p_green(const model *x) { return x->green; }
static bool p_druk(const model *x) { return x->druk; }
static bool p_tashi(const model *x) { return x->tashi; }
static bool p_unassigned(const model *x) { return !x->tashi; }
static bool p_bank(const model *x) { return x->bank_tag; }
static bool p_late(const model *x) { return x->created >= T0 + 600; }
static bool p_early(const model *x) { return x->created < T0 + 600; }
static bool p_combo(const model *x) { return !x->triage && x->sev == 3 && x->druk; }

static void test_list_filters(void **state)
{
    fx *f = *state;
    model m[NLIST];
    make_list_data(f, m);
    static const struct {
        incident_filter flt;
        bool (*pred)(const model *);
        const char *what;
    } cases[] = {
        {{.status = "new"}, p_new, "status new"},
        {{.status = "triage"}, p_triage, "status triage"},
        {{.status = "new,triage,analysis"}, NULL, "status list"},
        {{.status = "closed"}, NULL, "status closed"},
        {{.severity = "3"}, p_crit, "severity critical"},
        {{.severity = "2,3"}, p_high_up, "severity high,critical"},
        {{.taxonomy = "fraud"}, p_fraud, "taxonomy"},
        {{.type = "spam"}, p_spam, "type"},
        {{.taxonomy = "fraud", .type = "phishing"}, p_fraud, "taxonomy and type"},
        {{.tlp = "GREEN"}, p_green, "tlp"},
        {{.constituent = "druk-bank"}, p_druk, "constituent"},
        {{.assignee = "tashi"}, p_tashi, "assignee"},
        {{.assignee = ""}, p_unassigned, "unassigned"},
        {{.tag = "bank"}, p_bank, "tag"},
        {{.text = "ALPHA"}, NULL, "text, any case"},
        {{.created_from = T0 + 600}, p_late, "created from"},
        {{.created_to = T0 + 600}, p_early, "created before"},
        {{.status = "new", .severity = "3", .constituent = "druk-bank"}, p_combo, "combined"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int want = cases[i].pred ? count_model(m, cases[i].pred) : (strcmp(cases[i].what, "status closed") ? NLIST : 0);
        size_t got = list_count(f, &f->admin, cases[i].flt);
        if ((int)got != want)
            fail_msg("filter %s: %zu incidents, expected %d", cases[i].what, got, want);
    }
    incident_filter flt = {0};
    flt.taxonomy = "fraud";
    flt.type = "spam";
    assert_int_equal(list_count(f, &f->admin, flt), 0);
    /* LIKE wildcards in the text are literal */
    memset(&flt, 0, sizeof flt);
    flt.text = "50%";
    assert_int_equal(list_count(f, &f->admin, flt), 1);
    flt.text = "_";
    assert_int_equal(list_count(f, &f->admin, flt), 0);
    flt.text = "%";
    assert_int_equal(list_count(f, &f->admin, flt), 1);
    flt.text = "incident 1";
    assert_int_equal(list_count(f, &f->admin, flt), 11); /* 1, 10..19 */
    flt.text = m[42].id; /* a public id finds its incident */
    assert_int_equal(list_count(f, &f->admin, flt), 1);
    memset(&flt, 0, sizeof flt);
    flt.updated_from = T0 + 10000;
    assert_int_equal(list_count(f, &f->admin, flt), count_model(m, p_triage));
    flt.updated_to = T0 + 10000 + 30;
    assert_int_equal(list_count(f, &f->admin, flt), 6); /* i = 1, 6, 11, 16, 21, 26 */
    /* filters and scopes combine */
    memset(&flt, 0, sizeof flt);
    assert_int_equal(list_count(f, &f->dorji, flt), count_model(m, p_druk));
    flt.constituent = "bhutan-telecom";
    assert_int_equal(list_count(f, &f->dorji, flt), 0);

    /* refused parameters */
    store_scope sc = scope_of(&f->admin);
    json_t *o;
    dz_err e = {0};
    static const char *const bad_cursors[] = {"abc", "1", "1.", "1.2x", "1.0", "1.-3", ".5", "1.2.3"};
    for (size_t i = 0; i < sizeof bad_cursors / sizeof bad_cursors[0]; i++) {
        memset(&flt, 0, sizeof flt);
        flt.cursor = bad_cursors[i];
        dz_code rc = store_incident_list(f->s, &sc, &flt, &o, &e);
        if (rc != DZ_EINVAL)
            fail_msg("cursor '%s' accepted", bad_cursors[i]);
        assert_contains(e.msg, "parameter 'cursor'");
    }
    memset(&flt, 0, sizeof flt);
    flt.sort = "title";
    assert_dz_fails(store_incident_list(f->s, &sc, &flt, &o, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "parameter 'sort'");
    flt.sort = NULL;
    flt.limit = 501;
    assert_dz_fails(store_incident_list(f->s, &sc, &flt, &o, &e), DZ_EINVAL, e);
    flt.limit = -1;
    assert_dz_fails(store_incident_list(f->s, &sc, &flt, &o, &e), DZ_EINVAL, e);
    for (int i = 0; i < NLIST; i++)
        free(m[i].id);
}

/* The sort key of an item as the list orders it. */
static int64_t sort_key(json_t *item, const char *sort)
{
    const char *k = sort[0] == '-' ? sort + 1 : sort;
    if (strcmp(k, "severity") == 0) {
        severity_level v;
        assert_int_equal(severity_parse(S(item, "severity"), &v, NULL), DZ_OK);
        return v;
    }
    return T(item, k);
}

/* Walks every page; returns all items in order (caller decrefs). */
static json_t *walk(fx *f, const principal *who, incident_filter flt, int limit, int *pages)
{
    store_scope sc = scope_of(who);
    json_t *all = json_array();
    char *cursor = NULL;
    *pages = 0;
    flt.limit = limit;
    for (;;) {
        json_t *o;
        dz_err e = {0};
        flt.cursor = cursor;
        assert_dz_ok(store_incident_list(f->s, &sc, &flt, &o, &e), e);
        json_t *items = json_object_get(o, "items"), *next = json_object_get(o, "next_cursor");
        assert_true((int)json_array_size(items) <= limit);
        json_array_extend(all, items);
        (*pages)++;
        free(cursor);
        cursor = NULL;
        if (json_is_null(next)) {
            json_decref(o);
            break;
        }
        assert_int_equal(json_array_size(items), limit); /* only full pages have a successor */
        cursor = strdup(json_string_value(next));
        json_decref(o);
        if (*pages > 1000)
            fail_msg("pagination does not end");
    }
    return all;
}

static void test_list_pagination(void **state)
{
    fx *f = *state;
    model m[NLIST];
    make_list_data(f, m);
    static const char *const sorts[] = {"-created_at", "created_at", "-updated_at", "updated_at",
                                        "-severity",   "severity",   "-due_at",     "due_at"};
    static const int limits[] = {1, 7, 10, 59, 60, 61, 500};
    for (size_t s = 0; s < sizeof sorts / sizeof sorts[0]; s++)
        for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
            incident_filter flt = {.sort = sorts[s]};
            int pages;
            json_t *all = walk(f, &f->admin, flt, limits[l], &pages);
            if (json_array_size(all) != NLIST)
                fail_msg("sort %s, limit %d: %zu items over %d pages, expected %d", sorts[s], limits[l],
                         json_array_size(all), pages, NLIST);
            assert_int_equal(pages, (NLIST + limits[l] - 1) / limits[l]); /* a full last page has no successor */
            bool desc = sorts[s][0] == '-';
            for (size_t i = 0; i < NLIST; i++) {
                json_t *it = json_array_get(all, i);
                for (size_t j = 0; j < i; j++)
                    if (strcmp(S(it, "id"), S(json_array_get(all, j), "id")) == 0)
                        fail_msg("sort %s, limit %d: %s twice", sorts[s], limits[l], S(it, "id"));
                if (i > 0) {
                    int64_t a = sort_key(json_array_get(all, i - 1), sorts[s]), b = sort_key(it, sorts[s]);
                    if (desc ? a < b : a > b)
                        fail_msg("sort %s, limit %d: out of order at %zu", sorts[s], limits[l], i);
                }
            }
            json_decref(all);
        }
    /* default order is newest first; filtered and scoped walks too */
    incident_filter flt = {.status = "new"};
    int pages;
    json_t *all = walk(f, &f->admin, flt, 4, &pages);
    assert_int_equal(json_array_size(all), count_model(m, p_new));
    for (size_t i = 1; i < json_array_size(all); i++)
        assert_true(T(json_array_get(all, i - 1), "created_at") >= T(json_array_get(all, i), "created_at"));
    json_decref(all);
    memset(&flt, 0, sizeof flt);
    flt.sort = "severity";
    all = walk(f, &f->dorji, flt, 3, &pages);
    assert_int_equal(json_array_size(all), count_model(m, p_druk));
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *cons = json_object_get(json_array_get(all, i), "constituents");
        assert_int_equal(json_array_size(cons), 1);
        assert_string_equal(json_string_value(json_array_get(cons, 0)), "druk-bank");
    }
    json_decref(all);
    for (int i = 0; i < NLIST; i++)
        free(m[i].id);
}

/* ---- notes and tasks ---- */

static void test_tasks(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    char *a = mk_id(f, &f->tashi, "{\"title\":\"A\"}");
    char *b = mk_id(f, &f->tashi, "{\"title\":\"B\"}");
    store_scope sc = scope_of(&f->tashi);
    task_input t;
    const char *body = "{\"title\":\"Block the domain\",\"assignee\":\"pema\",\"due_at\":\"2026-03-05T00:00:00Z\"}";
    assert_dz_ok(decode_task(body, strlen(body), true, &t, &e), e);
    store_set_clock(f->s, T0 + 50);
    json_t *o;
    assert_dz_ok(store_task_add(f->s, &f->tashi, &sc, a, &t, &o, &e), e);
    task_input_free(&t);
    int64_t task_id = json_integer_value(json_object_get(o, "id"));
    assert_true(task_id > 0);
    assert_string_equal(S(o, "status"), "open");
    assert_string_equal(S(o, "assignee"), "pema");
    assert_string_equal(S(o, "due_at"), "2026-03-05T00:00:00Z");
    json_decref(o);
    body = "{\"status\":\"done\",\"due_at\":null}";
    assert_dz_ok(decode_task(body, strlen(body), false, &t, &e), e);
    assert_dz_ok(store_task_update(f->s, &f->tashi, &sc, a, task_id, &t, &o, &e), e);
    assert_string_equal(S(o, "status"), "done");
    assert_string_equal(S(o, "title"), "Block the domain"); /* untouched fields stay */
    assert_string_equal(S(o, "assignee"), "pema");
    assert_true(json_is_null(json_object_get(o, "due_at")));
    json_decref(o);
    /* the task belongs to A only */
    assert_dz_fails(store_task_update(f->s, &f->tashi, &sc, b, task_id, &t, &o, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(store_task_update(f->s, &f->tashi, &sc, a, task_id + 100, &t, &o, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(store_task_update(f->s, &f->tashi, &sc, a, 0, &t, &o, &e), DZ_ENOTFOUND, e);
    task_input_free(&t);
    body = "{\"assignee\":\"dorji\"}";
    assert_dz_ok(decode_task(body, strlen(body), false, &t, &e), e);
    assert_dz_fails(store_task_update(f->s, &f->tashi, &sc, a, task_id, &t, &o, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "not CIRT staff");
    task_input_free(&t);
    assert_dz_ok(store_task_list(f->s, &sc, a, &o, &e), e);
    assert_int_equal(json_array_size(o), 1);
    json_decref(o);
    assert_dz_ok(store_task_list(f->s, &sc, b, &o, &e), e);
    assert_int_equal(json_array_size(o), 0);
    json_decref(o);
    o = get_ok(f, &f->tashi, a);
    assert_int_equal(T(o, "updated_at"), T0 + 50); /* task changes touch the incident */
    json_decref(o);
    json_t *tl = timeline(f, &f->tashi, a);
    assert_int_equal(json_array_size(tl), 3);
    assert_string_equal(S(json_array_get(tl, 1), "kind"), "task");
    assert_string_equal(S(json_array_get(tl, 1), "field"), "created");
    assert_string_equal(S(json_array_get(tl, 2), "field"), "done");
    json_decref(tl);
    free(a);
    free(b);
    audit_ok(f);
}

/* ---- merge ---- */

static void test_merge(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    store_scope sc = scope_of(&f->tashi);
    char *sv = mk_id(f, &f->tashi, "{\"title\":\"survivor\",\"constituents\":[\"druk-bank\"],\"tags\":[\"a\",\"both\"]}");
    char *dp = mk_id(f, &f->tashi, "{\"title\":\"dup\",\"constituents\":[\"bhutan-telecom\"],\"tags\":[\"b\",\"both\"]}");
    note_input note = {.body = "from the duplicate", .shared = false};
    json_t *o;
    assert_dz_ok(store_note_add(f->s, &f->tashi, &sc, dp, &note, &o, &e), e);
    json_decref(o);
    task_input t;
    const char *tb = "{\"title\":\"dup task\"}";
    assert_dz_ok(decode_task(tb, strlen(tb), true, &t, &e), e);
    assert_dz_ok(store_task_add(f->s, &f->tashi, &sc, dp, &t, &o, &e), e);
    json_decref(o);
    task_input_free(&t);
    report_input r;
    char rbody[160];
    snprintf(rbody, sizeof rbody, "{\"source\":\"web\",\"source_ref\":\"m-1\",\"incident\":\"%s\"}", dp);
    assert_dz_ok(decode_report(rbody, strlen(rbody), &r, &e), e);
    bool created;
    assert_dz_ok(store_report_create(f->s, &f->tashi, &r, &o, &created, &e), e);
    report_input_free(&r);
    json_decref(o);

    store_set_clock(f->s, T0 + 700);
    size_t audits = audit_count(f);
    assert_dz_ok(store_incident_merge(f->s, &f->tashi, &sc, sv, dp, &o, &e), e);
    assert_int_equal(audit_count(f), audits + 1);
    static const char *const cons[] = {"bhutan-telecom", "druk-bank"}, *const tags[] = {"a", "b", "both"};
    assert_true(json_list_is(json_object_get(o, "constituents"), cons, 2));
    assert_true(json_list_is(json_object_get(o, "tags"), tags, 3));
    assert_string_equal(S(o, "status"), "new");
    json_decref(o);
    o = get_ok(f, &f->tashi, dp);
    assert_string_equal(S(o, "status"), "duplicate");
    assert_string_equal(S(o, "duplicate_of"), sv);
    json_decref(o);
    assert_dz_ok(store_note_list(f->s, &sc, sv, &o, &e), e);
    assert_int_equal(json_array_size(o), 1);
    json_decref(o);
    assert_dz_ok(store_task_list(f->s, &sc, sv, &o, &e), e);
    assert_int_equal(json_array_size(o), 1);
    json_decref(o);
    assert_dz_ok(store_report_list(f->s, 0, NULL, 0, sv, &o, &e), e);
    assert_int_equal(json_array_size(json_object_get(o, "items")), 1);
    json_decref(o);
    json_t *tl = timeline(f, &f->tashi, sv);
    json_t *last = json_array_get(tl, json_array_size(tl) - 1);
    assert_string_equal(S(last, "kind"), "merged_from");
    assert_string_equal(S(last, "new_value"), dp);
    json_decref(tl);
    tl = timeline(f, &f->tashi, dp);
    assert_int_equal(json_array_size(tl), 2);
    assert_string_equal(S(json_array_get(tl, 0), "new_value"), "duplicate");
    assert_string_equal(S(json_array_get(tl, 1), "kind"), "merged_into");
    assert_string_equal(S(json_array_get(tl, 1), "new_value"), sv);
    json_decref(tl);

    /* refusals */
    assert_dz_fails(store_incident_merge(f->s, &f->tashi, &sc, sv, dp, &o, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "already merged");
    assert_dz_fails(store_incident_merge(f->s, &f->tashi, &sc, dp, sv, &o, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "itself a duplicate");
    assert_dz_fails(store_incident_merge(f->s, &f->tashi, &sc, sv, sv, &o, &e), DZ_EINVAL, e);
    assert_dz_fails(store_incident_merge(f->s, &f->tashi, &sc, sv, "BTCIRT-2026-09999", &o, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(upd(f, &f->tashi, dp, "{\"status\":\"triage\"}", NULL, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "nothing (final)");

    /* a chain: duplicates of a merged incident point at the new survivor */
    char *g = mk_id(f, &f->tashi, "{\"title\":\"g\"}");
    char *h = mk_id(f, &f->tashi, "{\"title\":\"h\"}");
    assert_dz_ok(store_incident_merge(f->s, &f->tashi, &sc, g, h, &o, &e), e);
    json_decref(o);
    assert_dz_ok(store_incident_merge(f->s, &f->tashi, &sc, sv, g, &o, &e), e);
    json_decref(o);
    o = get_ok(f, &f->tashi, h);
    assert_string_equal(S(o, "duplicate_of"), sv);
    json_decref(o);

    /* the survivor takes the stricter TLP of the two, and records it */
    char *p = mk_id(f, &f->admin, "{\"title\":\"p\",\"tlp\":\"CLEAR\"}");
    char *q = mk_id(f, &f->admin, "{\"title\":\"q\",\"tlp\":\"GREEN\"}");
    assert_dz_ok(store_incident_merge(f->s, &f->tashi, &sc, p, q, &o, &e), e);
    assert_string_equal(S(o, "tlp"), "GREEN");
    json_decref(o);
    tl = timeline(f, &f->admin, p);
    bool tlp_entry = false;
    for (size_t i = 0; i < json_array_size(tl); i++)
        tlp_entry |= strcmp(S(json_array_get(tl, i), "kind"), "tlp") == 0 &&
                     strcmp(S(json_array_get(tl, i), "new_value"), "GREEN") == 0;
    assert_true(tlp_entry);
    json_decref(tl);
    char *r2 = mk_id(f, &f->admin, "{\"title\":\"r\",\"tlp\":\"RED\"}");
    char *p2 = mk_id(f, &f->admin, "{\"title\":\"p2\",\"tlp\":\"AMBER\"}");
    store_scope asc = scope_of(&f->admin);
    assert_dz_ok(store_incident_merge(f->s, &f->admin, &asc, r2, p2, &o, &e), e);
    json_decref(o);
    o = get_ok(f, &f->admin, r2);
    assert_string_equal(S(o, "tlp"), "RED"); /* never lowered */
    json_decref(o);
    free(r2);
    free(p2);
    /* a handler merging the RED incident assigned to them into an unassigned one: the merge is committed,
       so the answer is the merged incident, not "not found" (as for an update that hides it) */
    char *mine = mk_id(f, &f->admin, "{\"title\":\"mine\",\"tlp\":\"RED\",\"assignee\":\"tashi\"}");
    char *plain = mk_id(f, &f->admin, "{\"title\":\"plain\"}");
    assert_dz_ok(store_incident_merge(f->s, &f->tashi, &sc, plain, mine, &o, &e), e);
    assert_string_equal(S(o, "id"), plain);
    assert_string_equal(S(o, "tlp"), "RED");
    json_decref(o);
    o = get_ok(f, &f->admin, mine);
    assert_string_equal(S(o, "status"), "duplicate");
    json_decref(o);
    free(mine);
    free(plain);
    free(p);
    free(q);
    free(sv), free(dp), free(g), free(h);
    audit_ok(f);
}

/* ---- reports ---- */

static json_t *report(fx *f, const principal *who, const char *body, bool *created, dz_code want)
{
    report_input r;
    dz_err e = {0};
    json_t *o = NULL;
    assert_dz_ok(decode_report(body, strlen(body), &r, &e), e);
    dz_code rc = store_report_create(f->s, who, &r, &o, created, &e);
    report_input_free(&r);
    if (rc != want)
        fail_msg("report %s: %s (%s), expected %s", body, dz_code_name(rc), e.msg, dz_code_name(want));
    return o;
}

static void test_reports(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    bool created = false;
    char *inc = mk_id(f, &f->tashi, "{\"title\":\"inc\",\"constituents\":[\"druk-bank\"]}");
    char *other = mk_id(f, &f->tashi, "{\"title\":\"other\"}");
    size_t audits = audit_count(f);
    json_t *r1 = report(f, &f->dorji,
                        "{\"source\":\"web\",\"source_ref\":\"form-1\",\"title\":\"Phish\",\"constituent\":\"druk-bank\","
                        "\"reporter\":{\"name\":\"Karma\",\"email\":\"k@example.bt\"}}",
                        &created, DZ_OK);
    assert_true(created);
    assert_string_equal(S(r1, "id"), "BTCIRT-R-2026-00001");
    assert_string_equal(S(r1, "filed_by_org"), "druk-bank");
    assert_string_equal(S(r1, "constituent"), "druk-bank");
    assert_string_equal(S(json_object_get(r1, "reporter"), "email"), "k@example.bt");
    assert_true(json_is_null(json_object_get(r1, "incident")));
    assert_int_equal(audit_count(f), audits + 1);

    /* the same (source, source_ref) again: the first report, nothing written, no number used */
    json_t *again = report(f, &f->dorji, "{\"source\":\"web\",\"source_ref\":\"form-1\",\"title\":\"Other title\"}",
                           &created, DZ_OK);
    assert_false(created);
    assert_string_equal(S(again, "id"), "BTCIRT-R-2026-00001");
    assert_string_equal(S(again, "title"), "Phish");
    assert_int_equal(audit_count(f), audits + 1);
    json_decref(again);
    json_t *r2 = report(f, &f->tashi, "{\"source\":\"email\",\"source_ref\":\"form-1\"}", &created, DZ_OK);
    assert_true(created);
    assert_string_equal(S(r2, "id"), "BTCIRT-R-2026-00002");
    assert_true(json_is_null(json_object_get(r2, "filed_by_org")));
    json_decref(r2);
    json_decref(report(f, &f->tashi, "{\"source\":\"web\",\"source_ref\":\"x\",\"constituent\":\"nope\"}", &created,
                       DZ_EINVAL));
    json_decref(report(f, &f->tashi, "{\"source\":\"web\",\"source_ref\":\"x\",\"incident\":\"BTCIRT-2026-09999\"}",
                       &created, DZ_EINVAL));
    char body[200];
    snprintf(body, sizeof body, "{\"source\":\"phone\",\"source_ref\":\"call-7\",\"incident\":\"%s\"}", inc);
    json_t *r3 = report(f, &f->tashi, body, &created, DZ_OK);
    assert_string_equal(S(r3, "id"), "BTCIRT-R-2026-00003"); /* refused ones used no number */
    assert_string_equal(S(r3, "incident"), inc);
    json_decref(r3);
    json_t *tl = timeline(f, &f->tashi, inc);
    json_t *last = json_array_get(tl, json_array_size(tl) - 1);
    assert_string_equal(S(last, "kind"), "report");
    assert_string_equal(S(last, "new_value"), "BTCIRT-R-2026-00003");
    json_decref(tl);

    /* visibility by organisation */
    json_t *o;
    assert_dz_ok(store_report_get(f->s, f->druk, "BTCIRT-R-2026-00001", &o, &e), e);
    json_decref(o);
    assert_dz_fails(store_report_get(f->s, f->telecom, "BTCIRT-R-2026-00001", &o, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(store_report_get(f->s, f->druk, "BTCIRT-R-2026-00002", &o, &e), DZ_ENOTFOUND, e);
    assert_dz_ok(store_report_get(f->s, 0, "BTCIRT-R-2026-00002", &o, &e), e);
    json_decref(o);

    /* linking */
    store_scope sc = scope_of(&f->tashi);
    size_t tl_before;
    tl = timeline(f, &f->tashi, inc);
    tl_before = json_array_size(tl);
    json_decref(tl);
    assert_dz_ok(store_report_link(f->s, &f->tashi, &sc, "BTCIRT-R-2026-00001", inc, &o, &e), e);
    assert_string_equal(S(o, "incident"), inc);
    json_decref(o);
    assert_dz_ok(store_report_link(f->s, &f->tashi, &sc, "BTCIRT-R-2026-00001", inc, &o, &e), e); /* idempotent */
    json_decref(o);
    tl = timeline(f, &f->tashi, inc);
    assert_int_equal(json_array_size(tl), tl_before + 1);
    json_decref(tl);
    assert_dz_fails(store_report_link(f->s, &f->tashi, &sc, "BTCIRT-R-2026-00001", other, &o, &e), DZ_ECONFLICT, e);
    assert_dz_fails(store_report_link(f->s, &f->tashi, &sc, "BTCIRT-R-2026-00099", inc, &o, &e), DZ_EINVAL, e);
    sc = scope_of(&f->sonam);
    assert_dz_fails(store_report_link(f->s, &f->sonam, &sc, "BTCIRT-R-2026-00002", inc, &o, &e), DZ_ENOTFOUND, e);

    /* listing: newest first, cursor pages, organisation and incident filters */
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "{\"source\":\"feed\",\"source_ref\":\"n-%d\"}", i);
        json_decref(report(f, &f->sonam, body, &created, DZ_OK));
    }
    char *cursor = NULL;
    int seen = 0, pages = 0;
    char last_id[64] = "";
    do {
        assert_dz_ok(store_report_list(f->s, 0, cursor, 2, NULL, &o, &e), e);
        free(cursor);
        cursor = NULL;
        json_t *items = json_object_get(o, "items");
        for (size_t i = 0; i < json_array_size(items); i++) {
            const char *id = S(json_array_get(items, i), "id");
            if (last_id[0])
                assert_true(strcmp(id, last_id) < 0);
            snprintf(last_id, sizeof last_id, "%s", id);
            seen++;
        }
        if (!json_is_null(json_object_get(o, "next_cursor")))
            cursor = strdup(S(o, "next_cursor"));
        json_decref(o);
        pages++;
    } while (cursor && pages < 100);
    assert_int_equal(seen, 8);
    assert_int_equal(pages, 4);
    assert_dz_ok(store_report_list(f->s, f->telecom, NULL, 100, NULL, &o, &e), e);
    assert_int_equal(json_array_size(json_object_get(o, "items")), 5);
    json_decref(o);
    assert_dz_ok(store_report_list(f->s, 0, NULL, 100, inc, &o, &e), e);
    assert_int_equal(json_array_size(json_object_get(o, "items")), 2);
    json_decref(o);
    assert_dz_fails(store_report_list(f->s, 0, "x", 10, NULL, &o, &e), DZ_EINVAL, e);
    assert_dz_fails(store_report_list(f->s, 0, "5x", 10, NULL, &o, &e), DZ_EINVAL, e);
    assert_dz_fails(store_report_list(f->s, 0, "-5", 10, NULL, &o, &e), DZ_EINVAL, e);
    assert_dz_fails(store_report_list(f->s, 0, NULL, 501, NULL, &o, &e), DZ_EINVAL, e);
    json_decref(r1);
    free(inc);
    free(other);
    audit_ok(f);
}

/* ---- the constituency registry ---- */

/* A record from JSON through the real decoder (the default sectors); fails the test on error. */
static constituent_record crec(const char *body)
{
    json_error_t je;
    json_t *o = json_loads(body, 0, &je);
    if (!o)
        fail_msg("test JSON %s: %s", body, je.text);
    constituent_record r;
    dz_err e = {0};
    if (constituent_from_json(o, NULL, &r, &e) != DZ_OK)
        fail_msg("decode %s: %s", body, e.msg);
    json_decref(o);
    return r;
}

static dz_code cput(fx *f, store_put_mode mode, const char *body, json_t **out, bool *created, dz_err *e)
{
    constituent_record r = crec(body);
    dz_code rc = store_constituent_put(f->s, &f->admin, &r, mode, out, created, e);
    constituent_record_free(&r);
    return rc;
}

/* Puts and must succeed; returns the answer. */
static json_t *cput_ok(fx *f, store_put_mode mode, const char *body)
{
    json_t *o = NULL;
    dz_err e = {0};
    dz_code rc = cput(f, mode, body, &o, NULL, &e);
    if (rc != DZ_OK)
        fail_msg("put %s: %s: %s", body, dz_code_name(rc), e.msg);
    return o;
}

static json_t *cget(fx *f, int64_t only_org, const char *name)
{
    json_t *o;
    dz_err e = {0};
    assert_dz_ok(store_constituent_get(f->s, only_org, name, &o, &e), e);
    return o;
}

static int64_t regver(fx *f)
{
    int64_t v = -1;
    dz_err e = {0};
    assert_dz_ok(store_registry_version(f->s, &v, &e), e);
    return v;
}

/* One number from SQL on a connection of its own (past the store). */
static int64_t query_num(fx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int64_t query_num(fx *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *q = vfmt(fmt, ap);
    va_end(ap);
    db *d;
    db_stmt *st;
    dz_err e = {0};
    assert_dz_ok(db_open(f->url, &d, &e), e);
    assert_dz_ok(db_prepare(d, q, &st, &e), e);
    assert_int_equal(db_step(st, &e), DB_ROW);
    int64_t n = db_col_int(st, 0);
    db_reset(st);
    db_close(d);
    free(q);
    return n;
}

/* The child rows stored for an organisation, all four tables together. */
static int64_t child_rows(fx *f, const char *short_name)
{
    return query_num(f, "SELECT (SELECT COUNT(*) FROM constituent_networks x JOIN constituents c ON c.id = "
                        "x.constituent_id WHERE c.short_name = '%s') + (SELECT COUNT(*) FROM constituent_asns x "
                        "JOIN constituents c ON c.id = x.constituent_id WHERE c.short_name = '%s') + "
                        "(SELECT COUNT(*) FROM constituent_domains x JOIN constituents c ON c.id = x.constituent_id "
                        "WHERE c.short_name = '%s') + (SELECT COUNT(*) FROM constituent_contacts x JOIN constituents c "
                        "ON c.id = x.constituent_id WHERE c.short_name = '%s')",
                     short_name, short_name, short_name, short_name);
}

static json_t *last_audit(fx *f)
{
    json_t *a, *last;
    dz_err e = {0};
    assert_dz_ok(store_audit_list(f->s, 0, 1000000, &a, &e), e);
    assert_true(json_array_size(a) > 0);
    last = json_incref(json_array_get(a, json_array_size(a) - 1));
    json_decref(a);
    return last;
}

static bool array_has(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    return false;
}

/* Compact, sorted keys: for comparing documents. */
static char *canon(json_t *o)
{
    char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    assert_non_null(s);
    return s;
}

static void assert_json_same(json_t *a, json_t *b)
{
    char *x = canon(a), *y = canon(b);
    if (strcmp(x, y) != 0)
        fail_msg("documents differ:\n  %s\n  %s", x, y);
    free(x);
    free(y);
}

#define GOV_CIRT                                                                                                   \
    "{\"short_name\":\"gov-cirt\",\"name\":\"Government CIRT\",\"kind\":\"government\",\"sector\":\"government\","  \
    "\"cii\":true,\"cii_tier\":1,\"tags\":[\"b\",\"a_b\"],"                                                       \
    "\"networks\":[\"192.0.2.0/24\",\"10.0.0.0/8\",\"2001:db8::/32\",\"198.51.100.7\"],"                          \
    "\"asns\":[\"AS64512\",64500],\"domains\":[\"gov.example.bt\",\"B\\u00fccher.example\"],"                       \
    "\"contacts\":[{\"name\":\"Desk\",\"email\":\"desk@gov.example.bt\",\"role\":\"24x7\",\"phone\":\"+975 2 123456\"," \
    "\"notify_interval\":\"immediate\",\"notify_format\":\"json\",\"max_tlp\":\"RED\",\"language\":\"dz\"},"       \
    "{\"name\":\"Abuse\",\"email\":\"abuse@gov.example.bt\"}]}"

static void test_registry_put(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    json_t *o;
    bool created = false;
    int64_t v0 = regver(f);
    assert_int_equal(v0, 3); /* the fixture's three organisations */
    size_t audits = audit_count(f);

    assert_dz_ok(cput(f, STORE_PUT_CREATE, GOV_CIRT, &o, &created, &e), e);
    assert_true(created);
    assert_string_equal(S(o, "short_name"), "gov-cirt");
    assert_string_equal(S(o, "kind"), "government");
    assert_string_equal(S(o, "sector"), "government");
    assert_true(json_is_true(json_object_get(o, "cii")));
    assert_int_equal(json_integer_value(json_object_get(o, "cii_tier")), 1);
    assert_true(json_is_null(json_object_get(o, "parent")));
    static const char *const nets[] = {"10.0.0.0/8", "192.0.2.0/24", "198.51.100.7/32", "2001:db8::/32"};
    assert_true(json_list_is(json_object_get(o, "networks"), nets, 4)); /* by address, IPv4 first */
    static const char *const tags[] = {"a_b", "b"};
    assert_true(json_list_is(json_object_get(o, "tags"), tags, 2));
    static const char *const doms[] = {"gov.example.bt", "xn--bcher-kva.example"};
    assert_true(json_list_is(json_object_get(o, "domains"), doms, 2));
    json_t *asns = json_object_get(o, "asns");
    assert_int_equal(json_array_size(asns), 2);
    assert_int_equal(json_integer_value(json_array_get(asns, 0)), 64500);
    assert_int_equal(json_integer_value(json_array_get(asns, 1)), 64512);
    json_t *contacts = json_object_get(o, "contacts");
    assert_int_equal(json_array_size(contacts), 2); /* in the record's order */
    json_t *c0 = json_array_get(contacts, 0), *c1 = json_array_get(contacts, 1);
    assert_string_equal(S(c0, "name"), "Desk");
    assert_string_equal(S(c0, "role"), "24x7");
    assert_string_equal(S(c0, "phone"), "+975 2 123456");
    assert_string_equal(S(c0, "notify_interval"), "immediate");
    assert_string_equal(S(c0, "notify_format"), "json");
    assert_string_equal(S(c0, "max_tlp"), "RED");
    assert_string_equal(S(c0, "language"), "dz");
    assert_string_equal(S(c1, "name"), "Abuse");
    assert_string_equal(S(c1, "role"), "abuse");
    assert_true(json_is_null(json_object_get(c1, "phone")));
    assert_int_equal(T(o, "created_at"), T0);
    assert_int_equal(T(o, "updated_at"), T0);
    assert_int_equal(child_rows(f, "gov-cirt"), 4 + 2 + 2 + 2);
    assert_int_equal(regver(f), v0 + 1);
    assert_int_equal(audit_count(f), audits + 1);
    json_t *a = last_audit(f);
    assert_string_equal(S(a, "action"), "constituent.create");
    assert_string_equal(S(a, "object"), "gov-cirt");
    assert_string_equal(S(a, "actor"), "admin");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "detail"), "networks")), 4);
    json_decref(a);

    /* the same through get; and a GET sent back as a PUT changes nothing */
    json_t *g = cget(f, 0, "gov-cirt");
    assert_json_same(o, g);
    char *back = json_dumps(g, JSON_COMPACT);
    json_decref(g);
    store_set_clock(f->s, T0 + 60);
    assert_dz_ok(cput(f, STORE_PUT_REPLACE, back, &g, &created, &e), e);
    free(back);
    assert_false(created);
    assert_json_same(o, g); /* updated_at too */
    json_decref(g);
    json_decref(o);
    /* so does the same content in another order */
    assert_dz_ok(cput(f, STORE_PUT_UPSERT,
                      "{\"short_name\":\"gov-cirt\",\"name\":\"Government CIRT\",\"kind\":\"government\","
                      "\"sector\":\"government\",\"cii\":true,\"cii_tier\":1,\"tags\":[\"a_b\",\"b\"],"
                      "\"networks\":[\"198.51.100.7/32\",\"2001:db8::/32\",\"10.0.0.0/8\",\"192.0.2.0/24\"],"
                      "\"asns\":[64512,64500],\"domains\":[\"xn--bcher-kva.example\",\"gov.example.bt\"],"
                      "\"contacts\":[{\"name\":\"Desk\",\"email\":\"desk@gov.example.bt\",\"role\":\"24x7\","
                      "\"phone\":\"+975 2 123456\",\"notify_interval\":\"immediate\",\"notify_format\":\"json\","
                      "\"max_tlp\":\"RED\",\"language\":\"dz\"},{\"name\":\"Abuse\",\"email\":\"abuse@gov.example.bt\"}]}",
                      &o, &created, &e), e);
    assert_false(created);
    assert_int_equal(T(o, "updated_at"), T0);
    json_decref(o);
    assert_int_equal(regver(f), v0 + 1);
    assert_int_equal(audit_count(f), audits + 1);

    /* a change: rewrites what changed, keeps created_at */
    o = cput_ok(f, STORE_PUT_REPLACE,
                "{\"short_name\":\"gov-cirt\",\"name\":\"Government CIRT\",\"kind\":\"government\","
                "\"sector\":\"government\",\"cii\":true,\"cii_tier\":2,\"tags\":[\"a_b\",\"b\"],"
                "\"networks\":[\"10.0.0.0/8\"],\"asns\":[64512,64500],"
                "\"domains\":[\"xn--bcher-kva.example\",\"gov.example.bt\"],"
                "\"contacts\":[{\"name\":\"Abuse\",\"email\":\"abuse@gov.example.bt\"}]}");
    assert_int_equal(T(o, "created_at"), T0);
    assert_int_equal(T(o, "updated_at"), T0 + 60);
    assert_int_equal(json_array_size(json_object_get(o, "networks")), 1);
    assert_int_equal(json_array_size(json_object_get(o, "asns")), 2);
    assert_int_equal(json_array_size(json_object_get(o, "contacts")), 1);
    assert_string_equal(S(json_array_get(json_object_get(o, "contacts"), 0), "name"), "Abuse");
    json_decref(o);
    assert_int_equal(child_rows(f, "gov-cirt"), 1 + 2 + 2 + 1);
    assert_int_equal(regver(f), v0 + 2);
    assert_int_equal(audit_count(f), audits + 2);
    a = last_audit(f);
    assert_string_equal(S(a, "action"), "constituent.update");
    json_t *changed = json_object_get(json_object_get(a, "detail"), "changed");
    assert_int_equal(json_array_size(changed), 3);
    assert_true(array_has(changed, "cii_tier") && array_has(changed, "networks") && array_has(changed, "contacts"));
    json_decref(a);

    /* modes */
    assert_dz_fails(cput(f, STORE_PUT_CREATE, GOV_CIRT, &o, &created, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "constituent 'gov-cirt' exists already");
    assert_dz_fails(cput(f, STORE_PUT_REPLACE, "{\"short_name\":\"nope\",\"name\":\"N\"}", &o, &created, &e),
                    DZ_ENOTFOUND, e);
    assert_dz_fails(store_constituent_get(f->s, 0, "nope", &o, &e), DZ_ENOTFOUND, e);
    assert_dz_ok(cput(f, STORE_PUT_UPSERT, "{\"short_name\":\"isp-one\",\"name\":\"ISP One\",\"kind\":\"isp\"}", &o,
                      &created, &e), e);
    assert_true(created);
    json_decref(o);
    assert_dz_ok(cput(f, STORE_PUT_UPSERT, "{\"short_name\":\"isp-one\",\"name\":\"ISP One Ltd\",\"kind\":\"isp\"}",
                      NULL, &created, &e), e);
    assert_false(created);
    o = cget(f, 0, "isp-one");
    assert_string_equal(S(o, "name"), "ISP One Ltd");
    json_decref(o);
    assert_int_equal(regver(f), v0 + 4);

    /* what the store refuses even without the decoder */
    constituent_record bad = crec("{\"short_name\":\"bad\",\"name\":\"B\",\"tags\":[\"ok\"]}");
    char *saved = bad.tags[0];
    bad.tags[0] = (char *)"Not%OK";
    assert_dz_fails(store_constituent_put(f->s, &f->admin, &bad, STORE_PUT_UPSERT, NULL, NULL, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "tags[0]");
    bad.tags[0] = saved;
    bad.cii_tier = 2; /* without cii */
    assert_dz_fails(store_constituent_put(f->s, &f->admin, &bad, STORE_PUT_UPSERT, NULL, NULL, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "cii_tier");
    constituent_record_free(&bad);
    assert_int_equal(regver(f), v0 + 4);
    audit_ok(f);
}

static void test_registry_parents(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    json_t *o;
    json_decref(cput_ok(f, STORE_PUT_CREATE, "{\"short_name\":\"top\",\"name\":\"Top\"}"));
    json_decref(cput_ok(f, STORE_PUT_CREATE, "{\"short_name\":\"fin-cirt\",\"name\":\"Finance CIRT\","
                                             "\"kind\":\"partner-cert\",\"parent\":\"top\"}"));
    o = cput_ok(f, STORE_PUT_CREATE, "{\"short_name\":\"bank-a\",\"name\":\"Bank A\",\"parent\":\"fin-cirt\"}");
    assert_string_equal(S(o, "parent"), "fin-cirt");
    json_decref(o);
    int64_t v = regver(f);
    size_t audits = audit_count(f);

    assert_dz_fails(cput(f, STORE_PUT_CREATE, "{\"short_name\":\"bank-b\",\"name\":\"B\",\"parent\":\"nowhere\"}",
                         &o, NULL, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "no constituent 'nowhere'");
    assert_dz_fails(store_constituent_get(f->s, 0, "bank-b", &o, &e), DZ_ENOTFOUND, e);
    /* its own parent: the decoder may refuse it first; the store does in any case */
    constituent_record self = crec("{\"short_name\":\"top\",\"name\":\"Top\"}");
    self.parent = strdup("top");
    assert_dz_fails(store_constituent_put(f->s, &f->admin, &self, STORE_PUT_REPLACE, NULL, NULL, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "own parent");
    constituent_record_free(&self);
    /* cycles, direct and further down */
    assert_dz_fails(cput(f, STORE_PUT_REPLACE, "{\"short_name\":\"fin-cirt\",\"name\":\"F\",\"parent\":\"bank-a\"}",
                         &o, NULL, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "cannot be its parent");
    assert_dz_fails(cput(f, STORE_PUT_REPLACE, "{\"short_name\":\"top\",\"name\":\"Top\",\"parent\":\"bank-a\"}", &o,
                         NULL, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "'bank-a' is a member of 'top'");
    assert_int_equal(regver(f), v);
    assert_int_equal(audit_count(f), audits);
    o = cget(f, 0, "top");
    assert_true(json_is_null(json_object_get(o, "parent")));
    json_decref(o);

    /* moving a member elsewhere is fine; so is a parent that became free of the cycle */
    json_decref(cput_ok(f, STORE_PUT_REPLACE, "{\"short_name\":\"bank-a\",\"name\":\"Bank A\",\"parent\":\"top\"}"));
    json_decref(cput_ok(f, STORE_PUT_REPLACE, "{\"short_name\":\"fin-cirt\",\"name\":\"F\",\"parent\":\"bank-a\"}"));
    assert_int_equal(regver(f), v + 2);

    /* the parent filter and a parent's deletion */
    constituent_filter flt = {.cii = -1, .parent = "top"};
    assert_dz_ok(store_constituent_list(f->s, 0, &flt, &o, &e), e);
    assert_int_equal(json_array_size(json_object_get(o, "items")), 1);
    assert_string_equal(S(json_array_get(json_object_get(o, "items"), 0), "short_name"), "bank-a");
    json_decref(o);
    assert_dz_fails(store_constituent_delete(f->s, &f->admin, "top", &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "1 member organisation (bank-a)");
    assert_dz_ok(store_constituent_delete(f->s, &f->admin, "fin-cirt", &e), e);
    assert_dz_ok(store_constituent_delete(f->s, &f->admin, "bank-a", &e), e);
    assert_dz_ok(store_constituent_delete(f->s, &f->admin, "top", &e), e);
    audit_ok(f);
}

static void import_bodies(fx *f, const char *const *bodies, size_t n, store_import_result *res, dz_code want,
                          dz_err *e)
{
    constituent_record *recs = calloc(n, sizeof *recs);
    assert_non_null(recs);
    for (size_t i = 0; i < n; i++)
        recs[i] = crec(bodies[i]);
    dz_code rc = store_constituent_import(f->s, &f->admin, recs, n, res, e);
    for (size_t i = 0; i < n; i++)
        constituent_record_free(&recs[i]);
    free(recs);
    if (rc != want)
        fail_msg("import: %s (%s), expected %s", dz_code_name(rc), rc ? e->msg : "", dz_code_name(want));
}

static void test_registry_import(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    store_import_result res;
    int64_t v = regver(f);
    size_t audits = audit_count(f);
    /* a member before its parent, in the same batch; and an organisation already there */
    const char *batch[] = {
        "{\"short_name\":\"bank-b\",\"name\":\"Bank B\",\"parent\":\"cirt-fin\",\"networks\":[\"203.0.113.0/24\"]}",
        "{\"short_name\":\"cirt-fin\",\"name\":\"Finance CIRT\",\"tags\":[\"sectoral\"]}",
        "{\"short_name\":\"druk-bank\",\"name\":\"Druk Bank\",\"kind\":\"private\",\"sector\":\"banking-finance\","
        "\"domains\":[\"drukbank.example.bt\"],\"contacts\":[{\"name\":\"SOC\",\"email\":\"soc@drukbank.example.bt\"}]}",
    };
    import_bodies(f, batch, 3, &res, DZ_OK, &e);
    assert_int_equal(res.created, 2);
    assert_int_equal(res.updated, 1);
    assert_int_equal(res.unchanged, 0);
    assert_int_equal(regver(f), v + 1); /* once per import */
    assert_int_equal(audit_count(f), audits + 3);
    json_t *o = cget(f, 0, "bank-b");
    assert_string_equal(S(o, "parent"), "cirt-fin");
    json_decref(o);
    o = cget(f, 0, "druk-bank");
    assert_string_equal(S(o, "sector"), "banking-finance");
    assert_int_equal(T(o, "created_at"), T0);
    json_decref(o);

    /* again: nothing to do, nothing written */
    store_set_clock(f->s, T0 + 100);
    import_bodies(f, batch, 3, &res, DZ_OK, &e);
    assert_int_equal(res.created + res.updated, 0);
    assert_int_equal(res.unchanged, 3);
    assert_int_equal(regver(f), v + 1);
    assert_int_equal(audit_count(f), audits + 3);

    /* one changed among unchanged ones */
    const char *one_changed[] = {batch[0], batch[1],
                                 "{\"short_name\":\"druk-bank\",\"name\":\"Druk Bank\",\"kind\":\"private\","
                                 "\"sector\":\"banking-finance\",\"domains\":[\"drukbank.example.bt\"]}"};
    import_bodies(f, one_changed, 3, &res, DZ_OK, &e);
    assert_int_equal(res.updated, 1);
    assert_int_equal(res.unchanged, 2);
    assert_int_equal(regver(f), v + 2);
    assert_int_equal(audit_count(f), audits + 4);
    json_t *a = last_audit(f);
    assert_string_equal(S(a, "action"), "constituent.update");
    assert_string_equal(S(a, "object"), "druk-bank");
    json_decref(a);
    o = cget(f, 0, "druk-bank");
    assert_int_equal(T(o, "updated_at"), T0 + 100);
    json_decref(o);

    /* all or nothing: one bad record and nothing of the batch is written (through the group-commit writer,
       where the import is one savepoint of a batch) */
    assert_dz_ok(store_start_writer(f->s, &e), e);
    const char *bad_parent[] = {"{\"short_name\":\"new-one\",\"name\":\"New\"}",
                                "{\"short_name\":\"cirt-fin\",\"name\":\"Finance CIRT (renamed)\"}",
                                "{\"short_name\":\"new-two\",\"name\":\"Two\",\"parent\":\"nowhere\"}"};
    import_bodies(f, bad_parent, 3, &res, DZ_EINVAL, &e);
    assert_contains(e.msg, "no constituent 'nowhere'");
    const char *cycle[] = {"{\"short_name\":\"cyc-a\",\"name\":\"A\",\"parent\":\"cyc-b\"}",
                           "{\"short_name\":\"cyc-b\",\"name\":\"B\",\"parent\":\"cyc-a\"}"};
    import_bodies(f, cycle, 2, &res, DZ_EINVAL, &e);
    assert_contains(e.msg, "cannot be its parent");
    /* a cycle through a stored record that the batch does not change */
    const char *cycle2[] = {"{\"short_name\":\"cirt-fin\",\"name\":\"Finance CIRT\",\"tags\":[\"sectoral\"],"
                            "\"parent\":\"bank-b\"}"};
    import_bodies(f, cycle2, 1, &res, DZ_EINVAL, &e);
    const char *twice[] = {"{\"short_name\":\"dup-x\",\"name\":\"A\"}", "{\"short_name\":\"dup-x\",\"name\":\"B\"}"};
    import_bodies(f, twice, 2, &res, DZ_EINVAL, &e);
    assert_contains(e.msg, "more than once");
    constituent_record bad[2] = {crec("{\"short_name\":\"fine\",\"name\":\"F\"}"),
                                 crec("{\"short_name\":\"fine2\",\"name\":\"F\"}")};
    free(bad[1].name);
    bad[1].name = strdup("");
    assert_dz_fails(store_constituent_import(f->s, &f->admin, bad, 2, &res, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "record 2");
    constituent_record_free(&bad[0]);
    constituent_record_free(&bad[1]);
    store_stop_writer(f->s);
    assert_dz_fails(store_constituent_get(f->s, 0, "new-one", &o, &e), DZ_ENOTFOUND, e);
    o = cget(f, 0, "cirt-fin");
    assert_string_equal(S(o, "name"), "Finance CIRT");
    assert_true(json_is_null(json_object_get(o, "parent")));
    json_decref(o);
    assert_int_equal(regver(f), v + 2);
    assert_int_equal(audit_count(f), audits + 4);

    /* a big import (the store reads the whole registry once), then the same again, then one change */
    enum { BIG = 60 };
    char *bodies[BIG];
    for (int i = 0; i < BIG; i++)
        if (asprintf(&bodies[i], "{\"short_name\":\"org-%02d\",\"name\":\"Org %d\",\"parent\":%s,"
                                 "\"networks\":[\"10.%d.0.0/16\",\"2001:db8:%x::/48\"],\"asns\":[%d],"
                                 "\"contacts\":[{\"name\":\"C%d\",\"email\":\"c%d@example.bt\"}]}",
                     i, i, i ? "\"org-00\"" : "null", i, i, 65000 + i, i, i) < 0)
            fail_msg("out of memory");
    import_bodies(f, (const char *const *)bodies, BIG, &res, DZ_OK, &e);
    assert_int_equal(res.created, BIG);
    assert_int_equal(regver(f), v + 3);
    import_bodies(f, (const char *const *)bodies, BIG, &res, DZ_OK, &e);
    assert_int_equal(res.unchanged, BIG);
    free(bodies[7]);
    bodies[7] = strdup("{\"short_name\":\"org-07\",\"name\":\"Org 7\",\"parent\":\"org-00\","
                       "\"networks\":[\"10.7.0.0/16\"],\"asns\":[65007]}");
    import_bodies(f, (const char *const *)bodies, BIG, &res, DZ_OK, &e);
    assert_int_equal(res.updated, 1);
    assert_int_equal(res.unchanged, BIG - 1);
    assert_int_equal(regver(f), v + 4);
    assert_int_equal(child_rows(f, "org-07"), 2);
    assert_int_equal(child_rows(f, "org-08"), 4);
    for (int i = 0; i < BIG; i++)
        free(bodies[i]);
    assert_int_equal(audit_count(f), audits + 4 + BIG + 1);
    audit_ok(f);
}

static void test_registry_isolation(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    json_t *o;
    /* a constituent user (only_org = its organisation) sees its own record only */
    o = cget(f, f->druk, "druk-bank");
    assert_string_equal(S(o, "short_name"), "druk-bank");
    json_decref(o);
    assert_dz_fails(store_constituent_get(f->s, f->druk, "bhutan-telecom", &o, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(store_constituent_get(f->s, -1, "druk-bank", &o, &e), DZ_ENOTFOUND, e); /* policy: nothing */
    assert_dz_ok(store_constituent_get_by_id(f->s, 0, f->telecom, &o, &e), e);
    assert_string_equal(S(o, "short_name"), "bhutan-telecom");
    json_decref(o);
    assert_dz_ok(store_constituent_get_by_id(f->s, f->telecom, f->telecom, &o, &e), e);
    json_decref(o);
    assert_dz_fails(store_constituent_get_by_id(f->s, f->druk, f->telecom, &o, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(store_constituent_get_by_id(f->s, 0, 999999, &o, &e), DZ_ENOTFOUND, e);
    constituent_filter flt = {.cii = -1, .limit = 0};
    assert_dz_ok(store_constituent_list(f->s, f->telecom, &flt, &o, &e), e);
    assert_int_equal(json_array_size(json_object_get(o, "items")), 1);
    assert_string_equal(S(json_array_get(json_object_get(o, "items"), 0), "short_name"), "bhutan-telecom");
    json_decref(o);
    flt.text = "druk"; /* filters cannot reach past it */
    assert_dz_ok(store_constituent_list(f->s, f->telecom, &flt, &o, &e), e);
    assert_int_equal(json_array_size(json_object_get(o, "items")), 0);
    json_decref(o);
}

/* Every page of a list, its items' short names joined by spaces; checks each item against get. */
static char *all_pages(fx *f, constituent_filter flt, int *pages)
{
    char *names = strdup("");
    *pages = 0;
    for (;;) {
        json_t *o;
        dz_err e = {0};
        assert_dz_ok(store_constituent_list(f->s, 0, &flt, &o, &e), e);
        json_t *items = json_object_get(o, "items");
        size_t i;
        json_t *it;
        if (flt.limit)
            assert_true(json_array_size(items) <= (size_t)flt.limit);
        json_array_foreach(items, i, it) {
            json_t *g = cget(f, 0, S(it, "short_name")); /* the page's child rows went to the right records */
            assert_json_same(it, g);
            json_decref(g);
            char *n = NULL;
            if (asprintf(&n, "%s%s%s", names, *names ? " " : "", S(it, "short_name")) < 0)
                fail_msg("out of memory");
            free(names);
            names = n;
        }
        (*pages)++;
        const char *next = S(o, "next_cursor");
        if (!next) {
            json_decref(o);
            return names;
        }
        assert_true(json_array_size(items) > 0);
        static char cursor[200];
        snprintf(cursor, sizeof cursor, "%s", next);
        flt.cursor = cursor;
        json_decref(o);
    }
}

static void test_registry_list(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    /* names whose bytewise order differs from a locale's */
    static const struct {
        const char *name, *kind, *sector, *tags;
        bool cii;
        const char *parent, *title;
    } orgs[] = {
        {"Zeta-org", "private", "energy", "[\"grid\"]", true, NULL, "Zeta Power"},
        {"a-b", "isp", "ict-telecom", "[\"a_b\"]", false, NULL, "Hyphen Net"},
        {"a.c", "isp", "ict-telecom", "[\"axb\"]", false, NULL, "Dot Net"},
        {"ab", "government", "government", "[]", true, "a-b", "Ministry of Things"},
        {"alpha", "academia", NULL, "[\"uni\",\"grid\"]", false, "a-b", "Alpha University"},
        {"b9", "ngo", NULL, "[]", false, NULL, "Nine"},
        {"b10", "ngo", NULL, "[]", false, NULL, "Ten"},
        {"c@x", "other", "health", "[\"grid\"]", true, "ab", "Hospital"},
    };
    for (size_t i = 0; i < sizeof orgs / sizeof *orgs; i++) {
        char body[700];
        snprintf(body, sizeof body,
                 "{\"short_name\":\"%s\",\"name\":\"%s\",\"kind\":\"%s\",\"sector\":%s%s%s,\"tags\":%s,\"cii\":%s,"
                 "\"cii_tier\":%s,\"parent\":%s%s%s,\"networks\":[\"10.%zu.0.0/16\",\"10.%zu.1.0/24\"],"
                 "\"domains\":[\"d%zu.example.bt\"],\"contacts\":[{\"name\":\"N%zu\",\"email\":\"n%zu@example.bt\"},"
                 "{\"name\":\"M%zu\",\"email\":\"m%zu@example.bt\",\"role\":\"management\"}]}",
                 orgs[i].name, orgs[i].title, orgs[i].kind, orgs[i].sector ? "\"" : "",
                 orgs[i].sector ? orgs[i].sector : "null", orgs[i].sector ? "\"" : "", orgs[i].tags,
                 orgs[i].cii ? "true" : "false", orgs[i].cii ? "2" : "null", orgs[i].parent ? "\"" : "",
                 orgs[i].parent ? orgs[i].parent : "null", orgs[i].parent ? "\"" : "", i, i, i, i, i, i, i);
        json_decref(cput_ok(f, STORE_PUT_CREATE, body));
    }
    /* bytewise by short_name on both backends; the fixture's three among them */
    const char *everyone = "Zeta-org a-b a.c ab alpha b10 b9 bhutan-telecom c@x druk-bank partner-cert";
    constituent_filter all = {.cii = -1};
    int pages;
    char *got = all_pages(f, all, &pages);
    assert_string_equal(got, everyone);
    assert_int_equal(pages, 1);
    free(got);
    json_t *o;
    assert_dz_ok(store_constituent_list(f->s, 0, NULL, &o, &e), e); /* NULL: everything */
    assert_int_equal(json_array_size(json_object_get(o, "items")), 11);
    json_decref(o);
    for (int limit = 1; limit <= 12; limit += 3) {
        constituent_filter paged = {.cii = -1, .limit = limit};
        got = all_pages(f, paged, &pages);
        assert_string_equal(got, everyone);
        assert_int_equal(pages, (11 + limit - 1) / limit); /* a full last page says so: no empty page after it */
        free(got);
    }

    static const struct {
        constituent_filter flt;
        const char *want;
    } cases[] = {
        {{.cii = -1, .kind = "isp"}, "a-b a.c"},
        {{.cii = -1, .sector = "ict-telecom"}, "a-b a.c"},
        {{.cii = -1, .tag = "grid"}, "Zeta-org alpha c@x"},
        {{.cii = -1, .tag = "a_b"}, "a-b"}, /* '_' is no wildcard here */
        {{.cii = -1, .tag = "gri"}, ""},    /* whole tags only */
        {{.cii = -1, .parent = "a-b"}, "ab alpha"},
        {{.cii = -1, .parent = "nobody"}, ""},
        {{.cii = 1}, "Zeta-org ab c@x"},
        {{.cii = 0}, "a-b a.c alpha b10 b9 bhutan-telecom druk-bank partner-cert"},
        {{.cii = -1, .text = "NET"}, "a-b a.c"},          /* in names, any case */
        {{.cii = -1, .text = "b1"}, "b10"},               /* in short names */
        {{.cii = -1, .text = "%"}, ""},                   /* LIKE's wildcards are text */
        {{.cii = 1, .tag = "grid", .kind = "private"}, "Zeta-org"},
        {{.cii = -1, .tag = "grid", .limit = 1}, "Zeta-org alpha c@x"},
        {{.cii = 0, .sector = "ict-telecom", .limit = 1}, "a-b a.c"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        got = all_pages(f, cases[i].flt, &pages);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].want);
        free(got);
    }

    /* bad parameters */
    constituent_filter bad = {.cii = -1, .limit = 1001};
    assert_dz_fails(store_constituent_list(f->s, 0, &bad, &o, &e), DZ_EINVAL, e);
    bad.limit = -1;
    assert_dz_fails(store_constituent_list(f->s, 0, &bad, &o, &e), DZ_EINVAL, e);
    bad.limit = 10;
    bad.cii = 2;
    assert_dz_fails(store_constituent_list(f->s, 0, &bad, &o, &e), DZ_EINVAL, e);
    bad.cii = -1;
    bad.tag = "Grid%";
    assert_dz_fails(store_constituent_list(f->s, 0, &bad, &o, &e), DZ_EINVAL, e);
    bad.tag = NULL;
    static const char *const cursors[] = {"zz", "6", "20", "616263e9"};
    for (size_t i = 0; i < sizeof cursors / sizeof *cursors; i++) {
        bad.cursor = cursors[i];
        assert_dz_fails(store_constituent_list(f->s, 0, &bad, &o, &e), DZ_EINVAL, e);
        assert_contains(e.msg, "cursor");
    }
}

static void test_registry_delete(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    json_t *o;
    /* what refers to an organisation keeps it */
    assert_dz_fails(store_constituent_delete(f->s, &f->admin, "druk-bank", &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "1 user");
    free(mk_id(f, &f->admin, "{\"title\":\"x\",\"constituents\":[\"bhutan-telecom\"]}"));
    free(mk_id(f, &f->admin, "{\"title\":\"y\",\"constituents\":[\"bhutan-telecom\"]}"));
    assert_dz_fails(store_constituent_delete(f->s, &f->admin, "bhutan-telecom", &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "1 user, 2 incidents");
    json_decref(cput_ok(f, STORE_PUT_CREATE, "{\"short_name\":\"reported\",\"name\":\"R\"}"));
    bool created;
    json_decref(report(f, &f->admin, "{\"source\":\"web\",\"source_ref\":\"r1\",\"constituent\":\"reported\"}",
                       &created, DZ_OK));
    assert_dz_fails(store_constituent_delete(f->s, &f->admin, "reported", &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "1 report");
    assert_dz_fails(store_constituent_delete(f->s, &f->admin, "nope", &e), DZ_ENOTFOUND, e);

    /* a free one goes, with everything it owned */
    json_decref(cput_ok(f, STORE_PUT_CREATE, GOV_CIRT));
    int64_t v = regver(f);
    size_t audits = audit_count(f);
    assert_true(child_rows(f, "gov-cirt") > 0);
    int64_t id;
    assert_dz_ok(store_constituent_id(f->s, "gov-cirt", &id, &e), e);
    assert_dz_ok(store_constituent_delete(f->s, &f->admin, "gov-cirt", &e), e);
    assert_dz_fails(store_constituent_get(f->s, 0, "gov-cirt", &o, &e), DZ_ENOTFOUND, e);
    assert_dz_fails(store_constituent_id(f->s, "gov-cirt", &id, &e), DZ_ENOTFOUND, e);
    assert_int_equal(query_num(f, "SELECT (SELECT COUNT(*) FROM constituent_networks WHERE constituent_id = %lld) + "
                                  "(SELECT COUNT(*) FROM constituent_contacts WHERE constituent_id = %lld)",
                               (long long)id, (long long)id),
                     0);
    assert_int_equal(regver(f), v + 1);
    assert_int_equal(audit_count(f), audits + 1);
    json_t *a = last_audit(f);
    assert_string_equal(S(a, "action"), "constituent.delete");
    assert_string_equal(S(json_object_get(a, "detail"), "name"), "Government CIRT");
    json_decref(a);
    /* and can be made again */
    json_decref(cput_ok(f, STORE_PUT_CREATE, GOV_CIRT));
    audit_ok(f);
}

static int64_t ip_owner(const registry_index *ix, const char *addr, size_t *n_orgs, const registry_claim **claim)
{
    net_prefix p;
    dz_err e = {0};
    assert_dz_ok(ip_address_parse(addr, &p, &e), e);
    const registry_claim *c = registry_lookup_ip(ix, &p);
    if (claim)
        *claim = c;
    if (n_orgs)
        *n_orgs = c ? c->n_orgs : 0;
    return c ? c->org_ids[0] : 0;
}

static void test_registry_index(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    registry_index *ix;
    assert_dz_ok(store_registry_load(f->s, &ix, &e), e);
    assert_int_equal(registry_index_version(ix), regver(f));
    assert_int_equal(ip_owner(ix, "10.1.2.3", NULL, NULL), 0);
    assert_string_equal(registry_org_name(ix, f->druk), "druk-bank");
    registry_index_free(ix);

    json_decref(cput_ok(f, STORE_PUT_CREATE, "{\"short_name\":\"big-isp\",\"name\":\"Big ISP\",\"kind\":\"isp\","
                                             "\"networks\":[\"10.0.0.0/8\",\"2001:db8::/32\"],\"asns\":[64512],"
                                             "\"domains\":[\"isp.example.bt\"]}"));
    json_decref(cput_ok(f, STORE_PUT_CREATE, "{\"short_name\":\"customer\",\"name\":\"Customer\","
                                             "\"networks\":[\"10.1.0.0/16\"],\"domains\":[\"shop.isp.example.bt\"]}"));
    int64_t isp, cust;
    assert_dz_ok(store_constituent_id(f->s, "big-isp", &isp, &e), e);
    assert_dz_ok(store_constituent_id(f->s, "customer", &cust, &e), e);
    assert_dz_ok(store_registry_load(f->s, &ix, &e), e);
    assert_int_equal(registry_index_version(ix), regver(f));
    const registry_claim *c;
    assert_int_equal(ip_owner(ix, "10.1.2.3", NULL, &c), cust);
    assert_non_null(c->covering);
    assert_int_equal(c->covering->org_ids[0], isp);
    assert_int_equal(ip_owner(ix, "10.2.0.1", NULL, NULL), isp);
    assert_int_equal(ip_owner(ix, "2001:db8::1", NULL, NULL), isp);
    assert_int_equal(ip_owner(ix, "192.0.2.1", NULL, NULL), 0);
    assert_int_equal(registry_owner_v4(ix, 0x0a010203), cust);
    c = registry_lookup_asn(ix, 64512);
    assert_non_null(c);
    assert_int_equal(c->org_ids[0], isp);
    assert_null(registry_lookup_asn(ix, 64513));
    c = registry_lookup_domain(ix, "www.shop.isp.example.bt");
    assert_non_null(c);
    assert_int_equal(c->org_ids[0], cust);
    c = registry_lookup_domain(ix, "mail.isp.example.bt");
    assert_non_null(c);
    assert_int_equal(c->org_ids[0], isp);
    registry_counts counts;
    registry_index_counts(ix, &counts);
    assert_int_equal(counts.orgs, 5);
    assert_int_equal(counts.networks, 3);
    assert_int_equal(counts.asns, 1);
    assert_int_equal(counts.domains, 2);
    registry_index_free(ix);

    /* a change: the customer's network moves to the ISP's record too (a shared claim), then goes */
    int64_t v = regver(f);
    json_decref(cput_ok(f, STORE_PUT_REPLACE, "{\"short_name\":\"big-isp\",\"name\":\"Big ISP\",\"kind\":\"isp\","
                                              "\"networks\":[\"10.0.0.0/8\",\"10.1.0.0/16\",\"2001:db8::/32\"],"
                                              "\"asns\":[64512],\"domains\":[\"isp.example.bt\"]}"));
    assert_int_equal(regver(f), v + 1);
    assert_dz_ok(store_registry_load(f->s, &ix, &e), e);
    assert_int_equal(registry_index_version(ix), v + 1);
    size_t n_orgs;
    assert_int_equal(ip_owner(ix, "10.1.2.3", &n_orgs, NULL), isp < cust ? isp : cust);
    assert_int_equal(n_orgs, 2);
    registry_index_free(ix);
    assert_dz_ok(store_constituent_delete(f->s, &f->admin, "customer", &e), e);
    assert_dz_ok(store_registry_load(f->s, &ix, &e), e);
    assert_int_equal(registry_index_version(ix), v + 2);
    assert_int_equal(ip_owner(ix, "10.1.2.3", &n_orgs, NULL), isp);
    assert_int_equal(n_orgs, 1);
    assert_null(registry_org_name(ix, cust));
    c = registry_lookup_domain(ix, "www.shop.isp.example.bt");
    assert_int_equal(c->org_ids[0], isp);
    registry_index_free(ix);

    /* the store's own index, once loaded, follows the store's writes */
    assert_dz_ok(store_registry_refresh(f->s, true, &e), e);
    registry_ticket t;
    const registry_index *cur = store_registry_enter(f->s, &t);
    assert_int_equal(registry_index_version(cur), v + 2);
    store_registry_leave(f->s, t);
    json_decref(cput_ok(f, STORE_PUT_CREATE, "{\"short_name\":\"late\",\"name\":\"Late\","
                                             "\"networks\":[\"192.0.2.0/24\"]}"));
    cur = store_registry_enter(f->s, &t);
    assert_int_equal(registry_index_version(cur), v + 3);
    assert_true(ip_owner(cur, "192.0.2.1", NULL, NULL) > 0);
    store_registry_leave(f->s, t);
}

/* ---- the audit chain ---- */

/*
 * Runs SQL straight on the test database, past the store (the sqlite3 C API on
 * the file, or libpq). refused: it must fail with the append-only trigger's
 * error; else it must succeed.
 */
static void sql(fx *f, const char *text, bool refused)
{
    if (pg_url) {
        const char *err = pg_run(text);
        if (refused ? !err || !strstr(err, "append-only") : err != NULL)
            fail_msg("%s: %s, expected %s", text, err ? err : "ok", refused ? "append-only refusal" : "success");
        return;
    }
    sqlite3 *db;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    int rc = sqlite3_exec(db, text, NULL, NULL, &msg);
    int want = refused ? SQLITE_CONSTRAINT : SQLITE_OK;
    if ((rc & 0xff) != want || (refused && (!msg || !strstr(msg, "append-only"))))
        fail_msg("%s: %d (%s), expected %d", text, rc, msg ? msg : "", want);
    sqlite3_free(msg);
    sqlite3_close(db);
}

/* "DROP TRIGGER name", which PostgreSQL wants with the table's name. */
static const char *drop_trigger(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "DROP TRIGGER %s%s", name, pg_url ? " ON audit_log" : "");
    return buf;
}

/* One row of a query straight on the database: ncols strdup'ed texts (free them). */
static void sql_row(fx *f, const char *text, int ncols, char **out)
{
    if (pg_url) {
        PGconn *c = pg_connect();
        PGresult *r = PQexec(c, text);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != ncols)
            fail_msg("%s: %s (%d rows)", text, PQresultErrorMessage(r), PQntuples(r));
        for (int i = 0; i < ncols; i++)
            out[i] = strdup(PQgetvalue(r, 0, i));
        PQclear(r);
        PQfinish(c);
        return;
    }
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, text, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_count(st), ncols);
    for (int i = 0; i < ncols; i++)
        out[i] = strdup((const char *)sqlite3_column_text(st, i));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void verify(fx *f, int64_t *checked, int64_t *bad, char *why, size_t n)
{
    dz_err e = {0};
    assert_dz_ok(store_audit_verify(f->s, checked, bad, why, n, &e), e);
}

static void test_audit_list_and_verify(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    free(mk_id(f, &f->tashi, "{\"title\":\"one\"}"));
    json_t *a;
    assert_dz_ok(store_audit_list(f->s, 0, 2, &a, &e), e);
    assert_int_equal(json_array_size(a), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "seq")), 1);
    assert_string_equal(S(json_array_get(a, 0), "action"), "constituent.create");
    assert_string_equal(S(json_array_get(a, 0), "object"), "druk-bank");
    assert_string_equal(S(json_array_get(a, 0), "actor"), "system");
    assert_string_equal(S(json_object_get(json_array_get(a, 0), "detail"), "name"), "Druk Bank");
    assert_int_equal(strlen(S(json_array_get(a, 0), "hash")), AUDIT_HASH_HEX_LEN);
    json_decref(a);
    assert_dz_ok(store_audit_list(f->s, 2, 2, &a, &e), e);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "seq")), 3);
    json_decref(a);
    assert_dz_ok(store_audit_list(f->s, 0, 1000, &a, &e), e);
    json_t *lastone = json_array_get(a, json_array_size(a) - 1);
    assert_string_equal(S(lastone, "action"), "incident.create");
    assert_string_equal(S(lastone, "object"), "BTCIRT-2026-00001");
    assert_string_equal(S(lastone, "actor"), "tashi");
    assert_int_equal(json_array_size(a), 11); /* 3 constituents, 7 users, 1 incident */
    json_decref(a);
    audit_ok(f);

    /* append-only: the triggers refuse changes */
    sql(f, "UPDATE audit_log SET detail = '{}' WHERE seq = 3", true);
    sql(f, "DELETE FROM audit_log WHERE seq = 3", true);
    audit_ok(f);
}

static void test_audit_detects_altered_row(void **state)
{
    fx *f = *state;
    int64_t checked, bad;
    char why[256], q[200];
    verify(f, &checked, &bad, why, sizeof why);
    assert_int_equal(bad, 0);
    assert_int_equal(checked, 10);
    sql(f, drop_trigger("audit_log_no_update", q, sizeof q), false);
    sql(f, "UPDATE audit_log SET detail='{}' WHERE seq=3", false);
    verify(f, &checked, &bad, why, sizeof why);
    assert_int_equal(bad, 3);
    assert_int_equal(checked, 2);
    assert_string_equal(why, "entry 3 was altered (its content does not match its hash)");
}

static void test_audit_detects_rehashed_row(void **state)
{
    fx *f = *state;
    int64_t checked, bad;
    char why[256];
    /* an attacker who recomputes the altered row's own hash breaks the link to the next row */
    char *row[6];
    sql_row(f, "SELECT seq, at, actor, action, object, prev_hash FROM audit_log WHERE seq = 5", 6, row);
    audit_entry en = {strtoll(row[0], NULL, 10), strtoll(row[1], NULL, 10), row[2], row[3], row[4],
                      "{\"role\":\"admin\"}"};
    char h[AUDIT_HASH_HEX_LEN + 1], q[400];
    audit_chain_hash(row[5], &en, h);
    for (int i = 0; i < 6; i++)
        free(row[i]);
    sql(f, drop_trigger("audit_log_no_update", q, sizeof q), false);
    snprintf(q, sizeof q, "UPDATE audit_log SET detail = '{\"role\":\"admin\"}', hash = '%s' WHERE seq = 5", h);
    sql(f, q, false);
    verify(f, &checked, &bad, why, sizeof why);
    assert_int_equal(bad, 6);
    assert_int_equal(checked, 5);
    assert_contains(why, "entry 6 does not chain to entry 5");
}

static void test_audit_detects_missing_row(void **state)
{
    fx *f = *state;
    int64_t checked, bad;
    char why[256], q[200];
    sql(f, drop_trigger("audit_log_no_delete", q, sizeof q), false);
    sql(f, "DELETE FROM audit_log WHERE seq = 4", false);
    verify(f, &checked, &bad, why, sizeof why);
    assert_int_equal(bad, 4);
    assert_int_equal(checked, 3);
    assert_contains(why, "entry 4 is missing");
    /* the first entry removed */
    sql(f, "DELETE FROM audit_log WHERE seq = 1", false);
    verify(f, &checked, &bad, why, sizeof why);
    assert_int_equal(bad, 1);
    assert_int_equal(checked, 0);
}

/* ---- group commit ---- */

enum { THREADS = 8, PER_THREAD = 200 };

typedef struct {
    fx *f;
    int k;
    char **ids;
    int errors, conflicts, updates;
    char first_error[300];
} gc_arg;

static void gc_error(gc_arg *a, const char *what, const dz_err *e)
{
    if (!a->errors++)
        snprintf(a->first_error, sizeof a->first_error, "thread %d: %s: %s", a->k, what, e ? e->msg : "");
}

static void *gc_writer(void *p)
{
    gc_arg *a = p;
    static const char *const sev[] = {"low", "medium", "high", "critical"};
    principal who = a->k % 2 ? a->f->tashi : a->f->admin;
    for (int i = 0; i < PER_THREAD; i++) {
        char body[200];
        snprintf(body, sizeof body, "{\"title\":\"gc %d-%d\",\"severity\":\"%s\",\"constituents\":[\"druk-bank\"]}",
                 a->k, i, sev[i % 4]);
        incident_fields fl;
        dz_err e = {0};
        json_t *out = NULL;
        if (decode_incident(body, strlen(body), true, &fl, &e) != DZ_OK) {
            gc_error(a, "decode", &e);
            continue;
        }
        dz_code rc = store_incident_create(a->f->s, &who, &fl, &out, &e);
        incident_fields_free(&fl);
        if (rc != DZ_OK) {
            gc_error(a, "create", &e);
            continue;
        }
        char title[64];
        snprintf(title, sizeof title, "gc %d-%d", a->k, i);
        if (!S(out, "title") || strcmp(S(out, "title"), title) != 0)
            gc_error(a, "read back another incident", NULL);
        a->ids[i] = strdup(S(out, "id"));
        json_decref(out);
        store_scope sc = policy_incident_scope(&who);
        if (i % 40 == 0) { /* a refused write inside a batch fails alone */
            const char *ub = "{\"status\":\"closed\"}";
            if (decode_incident(ub, strlen(ub), false, &fl, &e) == DZ_OK) {
                rc = store_incident_update(a->f->s, &who, &sc, a->ids[i], &fl, &out, &e);
                incident_fields_free(&fl);
                if (rc == DZ_ECONFLICT)
                    a->conflicts++;
                else
                    gc_error(a, "illegal update was not refused", &e);
                if (rc == DZ_OK)
                    json_decref(out);
            }
        }
        if (i % 50 == 1) {
            const char *ub = "{\"status\":\"triage\"}";
            if (decode_incident(ub, strlen(ub), false, &fl, &e) == DZ_OK) {
                rc = store_incident_update(a->f->s, &who, &sc, a->ids[i], &fl, &out, &e);
                incident_fields_free(&fl);
                if (rc == DZ_OK) {
                    if (strcmp(S(out, "status"), "triage") != 0)
                        gc_error(a, "update not visible", NULL);
                    json_decref(out);
                    a->updates++;
                } else {
                    gc_error(a, "update", &e);
                }
            }
        }
    }
    return NULL;
}

typedef struct {
    fx *f;
    volatile int stop;
    int rounds, errors;
    char first_error[300];
} gc_reader_arg;

/* Reads while the writers write: WAL readers never block and never fail. */
static void *gc_reader(void *p)
{
    gc_reader_arg *a = p;
    store_scope sc = policy_incident_scope(&a->f->admin);
    do { /* at least once, however the threads are scheduled */
        incident_filter flt = {.limit = 20, .constituent = "druk-bank"};
        json_t *o;
        dz_err e = {0};
        if (store_incident_list(a->f->s, &sc, &flt, &o, &e) != DZ_OK) {
            if (!a->errors++)
                snprintf(a->first_error, sizeof a->first_error, "list: %s", e.msg);
            continue;
        }
        json_decref(o);
        a->rounds++;
    } while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE));
    return NULL;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void test_group_commit(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    size_t audits = audit_count(f);
    assert_dz_ok(store_start_writer(f->s, &e), e);
    assert_dz_ok(store_start_writer(f->s, &e), e); /* twice is harmless */
    char **ids = calloc(THREADS * PER_THREAD, sizeof *ids);
    gc_arg args[THREADS];
    pthread_t th[THREADS], rth;
    gc_reader_arg ra = {.f = f};
    assert_int_equal(pthread_create(&rth, NULL, gc_reader, &ra), 0);
    for (int k = 0; k < THREADS; k++) {
        args[k] = (gc_arg){.f = f, .k = k, .ids = ids + k * PER_THREAD};
        assert_int_equal(pthread_create(&th[k], NULL, gc_writer, &args[k]), 0);
    }
    int errors = 0, conflicts = 0, updates = 0;
    for (int k = 0; k < THREADS; k++) {
        pthread_join(th[k], NULL);
        if (args[k].errors)
            print_error("%s\n", args[k].first_error);
        errors += args[k].errors;
        conflicts += args[k].conflicts;
        updates += args[k].updates;
    }
    __atomic_store_n(&ra.stop, 1, __ATOMIC_RELEASE);
    pthread_join(rth, NULL);
    if (ra.errors)
        fail_msg("reader: %d errors, first: %s", ra.errors, ra.first_error);
    assert_true(ra.rounds > 0);
    assert_int_equal(errors, 0);
    assert_int_equal(conflicts, THREADS * 5);
    assert_int_equal(updates, THREADS * 4);

    /* 1600 distinct ids, exactly the numbers 1..1600: no gaps, no repeats */
    qsort(ids, THREADS * PER_THREAD, sizeof *ids, cmp_str);
    for (int i = 0; i < THREADS * PER_THREAD; i++) {
        char want[PUBLIC_ID_MAX];
        assert_non_null(ids[i]);
        snprintf(want, sizeof want, "BTCIRT-2026-%05d", i + 1);
        assert_string_equal(ids[i], want);
    }
    /* every one retrievable from another thread, with its own title */
    store_scope sc = policy_incident_scope(&f->admin);
    int triage = 0;
    for (int i = 0; i < THREADS * PER_THREAD; i++) {
        json_t *o;
        assert_dz_ok(store_incident_get(f->s, &sc, ids[i], &o, &e), e);
        assert_string_equal(S(o, "id"), ids[i]);
        assert_true(strncmp(S(o, "title"), "gc ", 3) == 0);
        triage += strcmp(S(o, "status"), "triage") == 0;
        json_decref(o);
    }
    assert_int_equal(triage, THREADS * 4);
    incident_filter flt = {.constituent = "druk-bank"};
    int pages;
    json_t *all = walk(f, &f->admin, flt, 500, &pages);
    assert_int_equal(json_array_size(all), THREADS * PER_THREAD);
    json_decref(all);
    assert_int_equal(audit_count(f), audits + THREADS * PER_THREAD + THREADS * 4);
    audit_ok(f);

    /* after the writer stops, writes run inline again */
    store_stop_writer(f->s);
    store_stop_writer(f->s);
    char *id = mk_id(f, &f->admin, "{\"title\":\"after\"}");
    assert_string_equal(id, "BTCIRT-2026-01601");
    free(id);
    for (int i = 0; i < THREADS * PER_THREAD; i++)
        free(ids[i]);
    free(ids);
    audit_ok(f);
}

/* ---- PostgreSQL: lost connections and failed transactions (the driver, db_pg.c) ---- */

/* Terminates every other session on the test database (or only pid), waiting until they are gone. */
static void pg_kill_sessions(long pid)
{
    char q[300];
    snprintf(q, sizeof q,
             "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity WHERE datname = current_database() "
             "AND pid <> pg_backend_pid()%s",
             pid ? " AND pid = " : "");
    if (pid)
        snprintf(q + strlen(q), sizeof q - strlen(q), "%ld", pid);
    const char *err = pg_run(q);
    if (err)
        fail_msg("%s", err);
}

static int64_t count_rows(db *d, const char *sql)
{
    db_stmt *st;
    dz_err e = {0};
    assert_dz_ok(db_prepare(d, sql, &st, &e), e);
    assert_int_equal(db_step(st, &e), DB_ROW);
    int64_t n = db_col_int(st, 0);
    db_reset(st);
    return n;
}

/* The server drops every connection of the store (a restart, a failover): the store carries on. */
static void test_pg_connections_lost(void **state)
{
    fx *f = *state;
    if (!pg_url)
        skip(); /* PostgreSQL only */
    dz_err e = {0};
    char *a = mk_id(f, &f->tashi, "{\"title\":\"before\"}");
    pg_kill_sessions(0);
    /* reads and writes outside a transaction reconnect and retry: the caller sees nothing */
    json_decref(get_ok(f, &f->admin, a));
    char *b = mk_id(f, &f->tashi, "{\"title\":\"after, inline\"}");
    assert_string_equal(b, "BTCIRT-2026-00002");
    /* the group-commit writer's connection too */
    assert_dz_ok(store_start_writer(f->s, &e), e);
    pg_kill_sessions(0);
    char *c = mk_id(f, &f->tashi, "{\"title\":\"after, writer\"}");
    assert_string_equal(c, "BTCIRT-2026-00003");
    pg_kill_sessions(0);
    json_decref(get_ok(f, &f->admin, c));
    store_stop_writer(f->s);
    audit_ok(f);
    free(a);
    free(b);
    free(c);
}

/* A connection lost inside a transaction: COMMIT fails, nothing half-done is kept, and the next BEGIN reconnects. */
static void test_pg_connection_lost_in_transaction(void **state)
{
    (void)state;
    if (!pg_url)
        skip();
    dz_err e = {0};
    db *d;
    db_stmt *st;
    assert_dz_ok(db_open(pg_url, &d, &e), e);
    long pid = (long)count_rows(d, "SELECT pg_backend_pid()");
    assert_dz_ok(db_begin(d, true, &e), e);
    assert_dz_ok(db_prepare(d, "INSERT INTO constituents(short_name, name, created_at) VALUES (?, 'x', 0)", &st, &e), e);
    db_bind_text(st, 1, "lost-one");
    assert_dz_ok(db_run(st, &e), e);
    pg_kill_sessions(pid);
    assert_dz_ok(db_prepare(d, "INSERT INTO constituents(short_name, name, created_at) VALUES (?, 'x', 0)", &st, &e), e);
    db_bind_text(st, 1, "lost-two");
    assert_int_equal(db_run(st, &e), DZ_EDB); /* not retried on a new connection outside the transaction */
    assert_dz_fails(db_commit(d, &e), DZ_EDB, e);
    db_rollback(d);
    assert_dz_ok(db_begin(d, false, &e), e); /* reconnects */
    assert_int_equal(count_rows(d, "SELECT COUNT(*) FROM constituents WHERE short_name LIKE 'lost-%'"), 0);
    assert_true(count_rows(d, "SELECT pg_backend_pid()") != pid);
    assert_dz_ok(db_commit(d, &e), e);
    db_close(d);
}

/* PostgreSQL answers COMMIT of a failed transaction with a ROLLBACK, not an error: the driver reports it. */
static void test_pg_commit_of_failed_transaction(void **state)
{
    (void)state;
    if (!pg_url)
        skip();
    dz_err e = {0};
    db *d;
    db_stmt *st;
    assert_dz_ok(db_open(pg_url, &d, &e), e);
    assert_dz_ok(db_begin(d, true, &e), e);
    assert_dz_ok(db_prepare(d, "INSERT INTO constituents(short_name, name, created_at) VALUES (?, 'x', 0)", &st, &e), e);
    db_bind_text(st, 1, "kept-or-not");
    assert_dz_ok(db_run(st, &e), e);
    db_bind_text(st, 1, "druk-bank");
    assert_int_equal(db_run(st, &e), DZ_ECONFLICT); /* the transaction is aborted now */
    assert_dz_fails(db_commit(d, &e), DZ_EDB, e);
    assert_contains(e.msg, "rolled back");
    db_rollback(d);
    assert_int_equal(count_rows(d, "SELECT COUNT(*) FROM constituents WHERE short_name = 'kept-or-not'"), 0);
    /* COMMIT with no transaction open is an error too, not a warning */
    assert_dz_fails(db_commit(d, &e), DZ_EDB, e);
    db_close(d);
}

/* ---- feed events (store_events.c) ---- */

/* Batches are built by hand here: the plain structs of lib/pipeline.h, filled as event_batch_add would. */
static void tb_init(event_batch *b)
{
    memset(b, 0, sizeof *b);
    strbuf_init(&b->text);
}

static void tb_free(event_batch *b)
{
    free(b->rows);
    free(b->bad);
    strbuf_free(&b->text);
    memset(b, 0, sizeof *b);
}

static size_t tb_text(event_batch *b, const char *s, size_t n)
{
    if (!s)
        return EB_NONE;
    size_t off = b->text.len;
    strbuf_append(&b->text, s, n);
    strbuf_append(&b->text, "", 1); /* the NUL the offsets promise */
    assert_false(b->text.oom);
    return off;
}

/* "00000000000000000000ffff" and the IPv4 address's 8 hex digits. */
static void v4_key(const char *ip, char out[33])
{
    unsigned a, b, c, d;
    assert_int_equal(sscanf(ip, "%u.%u.%u.%u", &a, &b, &c, &d), 4);
    snprintf(out, 33, "00000000000000000000ffff%02x%02x%02x%02x", a, b, c, d);
}

typedef struct tev {
    uint64_t hash;
    int64_t cid;
    const char *ip; /* IPv4 text, or an ip_key of 32 hex digits, or NULL */
    int64_t time_source;
    const char *feed, *taxonomy, *type;
} tev;

static void tb_add(event_batch *b, uint64_t line, const tev *t)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->rows = realloc(b->rows, b->cap * sizeof *b->rows);
        assert_non_null(b->rows);
    }
    event_batch_row *r = &b->rows[b->n++];
    memset(r, 0, sizeof *r);
    r->line = line;
    r->dedup_hash = t->hash;
    r->constituent_id = t->cid;
    r->time_source = t->time_source ? t->time_source : INT64_MIN;
    r->asn = 64500;
    if (t->ip && strlen(t->ip) == 32)
        snprintf(r->ip_key, sizeof r->ip_key, "%s", t->ip);
    else if (t->ip)
        v4_key(t->ip, r->ip_key);
    const char *feed = t->feed ? t->feed : "scan-ssh", *tax = t->taxonomy ? t->taxonomy : "vulnerable",
               *type = t->type ? t->type : "vulnerable-system";
    char doc[1024], ts[32] = "";
    if (t->time_source)
        time_format_iso(t->time_source, ts, sizeof ts);
    int n = snprintf(doc, sizeof doc,
                     "{\"classification.taxonomy\":\"%s\",\"classification.type\":\"%s\",\"extra.line\":%llu,"
                     "\"extra.note\":\"tab\\there \\\"quoted\\\" back\\\\slash\",\"feed.name\":\"%s\"%s%s%s%s%s%s}",
                     tax, type, (unsigned long long)line, feed, t->ip && strlen(t->ip) < 32 ? ",\"source.ip\":\"" : "",
                     t->ip && strlen(t->ip) < 32 ? t->ip : "", t->ip && strlen(t->ip) < 32 ? "\"" : "",
                     ts[0] ? ",\"time.source\":\"" : "", ts, ts[0] ? "\"" : "");
    r->doc = tb_text(b, doc, (size_t)n);
    r->doc_len = (size_t)n;
    r->feed_name = tb_text(b, feed, strlen(feed));
    r->taxonomy = tb_text(b, tax, strlen(tax));
    r->type = tb_text(b, type, strlen(type));
    r->identifier = tb_text(b, "id-1", 4);
}

static void tb_bad(event_batch *b, uint64_t line, const char *reason, const char *raw, size_t raw_len)
{
    if (b->n_bad == b->cap_bad) {
        b->cap_bad = b->cap_bad ? 2 * b->cap_bad : 16;
        b->bad = realloc(b->bad, b->cap_bad * sizeof *b->bad);
        assert_non_null(b->bad);
    }
    event_batch_bad *q = &b->bad[b->n_bad++];
    q->line = line;
    q->reason = tb_text(b, reason, strlen(reason));
    q->raw = tb_text(b, raw, raw_len);
    q->raw_len = raw ? raw_len : 0;
}

static ingest_state claim(fx *f, const char *key, const char *node, const char *take_over)
{
    ingest_claim c = {.kind = "file", .source = "/srv/feeds/scan.csv", .key = key, .feed = "shadowserver",
                      .report = "scan_ssh", .node = node, .take_over = take_over};
    ingest_state st;
    dz_err e = {0};
    assert_dz_ok(store_ingest_claim(f->s, &c, &st, &e), e);
    return st;
}

static store_batch_result commit(fx *f, int64_t ingest, const char *node, const event_batch *b)
{
    store_batch_result r;
    dz_err e = {0};
    assert_dz_ok(store_events_commit(f->s, ingest, node, b, &r, &e), e);
    return r;
}

/* One number from the database, past the store. */
static int64_t db_int(fx *f, const char *sql)
{
    db *d;
    dz_err e = {0};
    assert_dz_ok(db_open(f->url, &d, &e), e);
    db_stmt *st;
    assert_dz_ok(db_prepare(d, sql, &st, &e), e);
    assert_int_equal(db_step(st, &e), DB_ROW);
    int64_t n = db_col_int(st, 0);
    db_reset(st);
    db_close(d);
    return n;
}

static int64_t JI(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("'%s' is not an integer", key);
    return json_integer_value(v);
}

static size_t audit_actions(fx *f, const char *action)
{
    json_t *a;
    dz_err e = {0};
    assert_dz_ok(store_audit_list(f->s, 0, 1000000, &a, &e), e);
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        const char *x = S(v, "action");
        n += x && strcmp(x, action) == 0;
    }
    json_decref(a);
    return n;
}

/* NEW, BUSY for another node, RESUME after the lease ran out or with take_over, DONE; a lost claim writes nothing. */
/*
 * COPY's binary rows (PostgreSQL): integers at both ends of int64, NULLs,
 * empty text and text that text format would have had to escape come back
 * as sent; an integer sent to an INTEGER column is refused, not misread.
 * SQLite has no COPY: db_copy_begin says so.
 */
/*
 * SQLite's log goes through db_sqlite_vfs.c, which holds the log's last writes in a buffer. Connection a spills
 * frames of a transaction into the log (a tiny page cache) and rolls it back; b then commits over the same
 * offsets; a commits again. The rolled-back frames a still held must not reach the file over b's committed ones.
 */
static void test_sqlite_log_gathering(void **state)
{
    fx *f = *state;
    if (pg_url)
        return; /* PostgreSQL: no such layer */
    dz_err e = {0};
    db *a, *b, *c;
    assert_dz_ok(db_open(f->url, &a, &e), e);
    assert_dz_ok(db_open(f->url, &b, &e), e);
    assert_dz_ok(db_exec(a, "CREATE TABLE gather_t (who TEXT, n INTEGER, pad TEXT)", &e), e);
    /* the log starts over, so both transactions below write from its beginning */
    assert_dz_ok(db_exec(b, "PRAGMA wal_checkpoint(TRUNCATE)", &e), e);
    assert_dz_ok(db_exec(a, "PRAGMA cache_size=8", &e), e);
#define ROWS(who, n) \
    "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < " #n ") " \
    "INSERT INTO gather_t SELECT '" who "', n, printf('%.1000c', '" who "') FROM k"
    assert_dz_ok(db_exec(a, "BEGIN IMMEDIATE; " ROWS("a", 300) "; ROLLBACK", &e), e);
    assert_dz_ok(db_exec(b, "BEGIN IMMEDIATE; " ROWS("b", 600) "; COMMIT", &e), e);
    assert_dz_ok(db_exec(a, "BEGIN IMMEDIATE; " ROWS("c", 1) "; COMMIT", &e), e);
#undef ROWS
    assert_dz_ok(db_open(f->url, &c, &e), e);
    db_stmt *st;
    assert_dz_ok(db_prepare(c, "PRAGMA integrity_check", &st, &e), e);
    assert_int_equal(db_step(st, &e), DB_ROW);
    assert_string_equal(db_col_text(st, 0), "ok");
    db_reset(st);
    assert_dz_ok(db_prepare(c,
                            "SELECT who, count(*), sum(n), sum(pad = printf('%.1000c', who)) FROM gather_t "
                            "GROUP BY who ORDER BY who",
                            &st, &e),
                 e);
    assert_int_equal(db_step(st, &e), DB_ROW);
    assert_string_equal(db_col_text(st, 0), "b");
    assert_int_equal(db_col_int(st, 1), 600);
    assert_int_equal(db_col_int(st, 2), 600 * 601 / 2);
    assert_int_equal(db_col_int(st, 3), 600);
    assert_int_equal(db_step(st, &e), DB_ROW);
    assert_string_equal(db_col_text(st, 0), "c");
    assert_int_equal(db_step(st, &e), DB_DONE);
    db_reset(st);
    db_close(c);
    db_close(b);
    db_close(a);
}

static void test_db_copy(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    db *d;
    assert_dz_ok(db_open(f->url, &d, &e), e);
    if (!db_can_copy(d)) {
        assert_dz_fails(db_copy_begin(d, "COPY x(a) FROM STDIN", &e), DZ_EINTERNAL, e);
        db_close(d);
        return;
    }
    static const struct {
        int64_t n;
        const char *t;
    } rows[] = {
        {INT64_MIN, "tab\there\nnew line\r\\N back\\slash"},
        {INT64_MAX, ""},
        {-1, NULL},
        {0, "\xe0\xbd\xa2\xe0\xbe\xab\xe0\xbd\xbc\xe0\xbd\x84\xe0\xbc\x8b dzong"},
    };
    assert_dz_ok(db_exec(d, "CREATE TEMP TABLE copy_t (k BIGINT, n BIGINT, t TEXT, small INTEGER)", &e), e);
    assert_dz_ok(db_copy_begin(d, "COPY copy_t(k, n, t) FROM STDIN", &e), e);
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        db_copy_int(d, (int64_t)i);
        db_copy_int(d, rows[i].n);
        db_copy_text(d, rows[i].t, rows[i].t ? strlen(rows[i].t) : 0);
        assert_dz_ok(db_copy_end_row(d, &e), e);
    }
    int64_t copied = 0;
    assert_dz_ok(db_copy_end(d, &copied, &e), e);
    assert_int_equal(copied, 4);

    db_stmt *st;
    assert_dz_ok(db_prepare(d, "SELECT n, t FROM copy_t ORDER BY k", &st, &e), e);
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        assert_int_equal(db_step(st, &e), DB_ROW);
        assert_true(db_col_int(st, 0) == rows[i].n);
        if (rows[i].t)
            assert_string_equal(db_col_text(st, 1), rows[i].t);
        else
            assert_true(db_col_null(st, 1));
    }
    assert_int_equal(db_step(st, &e), DB_DONE);
    db_reset(st);

    assert_dz_ok(db_copy_begin(d, "COPY copy_t(small) FROM STDIN", &e), e);
    db_copy_int(d, 7);
    assert_dz_ok(db_copy_end_row(d, &e), e);
    assert_dz_fails(db_copy_end(d, NULL, &e), DZ_EINVAL, e);
    assert_contains(e.msg, "incorrect binary data format");
    db_close(d);
}

static void test_events_claim(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    ingest_state a = claim(f, "sha256:aaa", "node-a:1", NULL);
    assert_int_equal(a.state, INGEST_NEW);
    assert_true(a.id > 0);
    assert_string_equal(a.status, "running");
    ingest_state b = claim(f, "sha256:aaa", "node-b:2", NULL);
    assert_int_equal(b.state, INGEST_BUSY);
    assert_int_equal(b.id, a.id);
    assert_string_equal(b.holder, "node-a:1");

    /* a commits a batch: checkpoint 3 */
    event_batch bt;
    tb_init(&bt);
    tb_add(&bt, 1, &(tev){.hash = 11});
    tb_add(&bt, 2, &(tev){.hash = 12});
    tb_bad(&bt, 3, "no ip", "x,y", 3);
    bt.checkpoint = 3;
    store_batch_result r = commit(f, a.id, "node-a:1", &bt);
    assert_int_equal(r.stored, 2);
    assert_int_equal(r.quarantined, 1);

    /* the lease (120 s) is renewed by each commit; it runs out 120 s after the last one */
    store_set_clock(f->s, T0 + 119);
    assert_int_equal(claim(f, "sha256:aaa", "node-b:2", NULL).state, INGEST_BUSY);
    store_set_clock(f->s, T0 + 120);
    b = claim(f, "sha256:aaa", "node-b:2", NULL);
    assert_int_equal(b.state, INGEST_RESUME);
    assert_int_equal(b.id, a.id);
    assert_int_equal(b.lines_done, 3);
    assert_int_equal(b.events, 2);
    assert_int_equal(b.quarantined, 1);

    /* a lost it: its commit and its finish are refused, and nothing is written */
    event_batch late;
    tb_init(&late);
    tb_add(&late, 4, &(tev){.hash = 13});
    late.checkpoint = 4;
    store_batch_result lr;
    assert_dz_fails(store_events_commit(f->s, a.id, "node-a:1", &late, &lr, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "node-b:2");
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM events"), 2);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM event_recent"), 2);
    assert_int_equal(db_int(f, "SELECT lines_done FROM ingests"), 3);
    assert_dz_fails(store_ingest_finish(f->s, a.id, "node-a:1", NULL, &e), DZ_ECONFLICT, e);
    assert_dz_fails(store_ingest_renew(f->s, a.id, "node-a:1", &e), DZ_ECONFLICT, e);
    assert_dz_fails(store_events_commit(f->s, 999999, "node-a:1", &late, &lr, &e), DZ_ENOTFOUND, e);

    /* a live lease: only the holder itself, or a claim naming it in take_over, gets it */
    assert_int_equal(claim(f, "sha256:aaa", "node-a:1", NULL).state, INGEST_BUSY);
    assert_int_equal(claim(f, "sha256:aaa", "node-b:2", NULL).state, INGEST_RESUME);
    assert_int_equal(claim(f, "sha256:aaa", "node-a:1", "node-x:9").state, INGEST_BUSY);
    ingest_state t = claim(f, "sha256:aaa", "node-a:1", "node-b:2");
    assert_int_equal(t.state, INGEST_RESUME);
    assert_int_equal(t.lines_done, 3);
    r = commit(f, a.id, "node-a:1", &late);
    assert_int_equal(r.stored, 1);
    assert_dz_ok(store_ingest_finish(f->s, a.id, "node-a:1", NULL, &e), e);
    assert_dz_fails(store_ingest_finish(f->s, a.id, "node-a:1", NULL, &e), DZ_ECONFLICT, e);
    assert_contains(e.msg, "done");

    ingest_state d = claim(f, "sha256:aaa", "node-c:3", NULL);
    assert_int_equal(d.state, INGEST_DONE);
    assert_int_equal(d.id, a.id);
    assert_int_equal(d.lines_done, 4);
    assert_int_equal(d.events, 3);
    assert_int_equal(d.quarantined, 1);
    assert_string_equal(d.status, "done");
    assert_string_equal(d.holder, "");

    /* a failed ingest may be claimed again at once, from its checkpoint */
    store_set_clock(f->s, T0 + 1000);
    ingest_state g = claim(f, "sha256:bbb", "node-a:1", NULL);
    assert_int_equal(g.state, INGEST_NEW);
    assert_true(g.id > a.id);
    assert_dz_ok(store_ingest_finish(f->s, g.id, "node-a:1", "parser: line 9: bad header", &e), e);
    json_t *o;
    assert_dz_ok(store_ingest_get(f->s, g.id, &o, &e), e);
    assert_string_equal(S(o, "status"), "failed");
    assert_string_equal(S(o, "error"), "parser: line 9: bad header");
    assert_string_equal(S(o, "finished_at"), "2026-03-01T00:16:40Z");
    json_decref(o);
    ingest_state g2 = claim(f, "sha256:bbb", "node-b:2", NULL);
    assert_int_equal(g2.state, INGEST_RESUME);
    assert_int_equal(g2.id, g.id);
    assert_dz_ok(store_ingest_get(f->s, g.id, &o, &e), e);
    assert_string_equal(S(o, "status"), "running");
    assert_true(json_is_null(json_object_get(o, "error")));
    assert_true(json_is_null(json_object_get(o, "finished_at")));
    assert_string_equal(S(o, "node"), "node-b:2");
    json_decref(o);

    /* renew: the lease runs from the renewal */
    store_set_clock(f->s, T0 + 1100);
    assert_dz_ok(store_ingest_renew(f->s, g.id, "node-b:2", &e), e);
    store_set_clock(f->s, T0 + 1219);
    assert_int_equal(claim(f, "sha256:bbb", "node-a:1", NULL).state, INGEST_BUSY);
    store_set_clock(f->s, T0 + 1220);
    assert_int_equal(claim(f, "sha256:bbb", "node-a:1", NULL).state, INGEST_RESUME);

    /* the list, newest first, in pages */
    json_t *page1, *page2;
    assert_dz_ok(store_ingest_list(f->s, NULL, 1, &page1, &e), e);
    json_t *it = json_array_get(json_object_get(page1, "items"), 0);
    assert_int_equal(JI(it, "id"), g.id);
    assert_string_equal(S(it, "kind"), "file");
    assert_string_equal(S(it, "source"), "/srv/feeds/scan.csv");
    assert_string_equal(S(it, "feed"), "shadowserver");
    assert_string_equal(S(it, "report"), "scan_ssh");
    assert_string_equal(S(it, "started_at"), "2026-03-01T00:16:40Z");
    assert_non_null(S(page1, "next_cursor"));
    assert_dz_ok(store_ingest_list(f->s, S(page1, "next_cursor"), 1, &page2, &e), e);
    it = json_array_get(json_object_get(page2, "items"), 0);
    assert_int_equal(JI(it, "id"), a.id);
    assert_int_equal(JI(it, "lines_done"), 4);
    assert_int_equal(JI(it, "events"), 3);
    assert_int_equal(JI(it, "duplicates"), 0);
    assert_int_equal(JI(it, "quarantined"), 1);
    assert_string_equal(S(it, "status"), "done");
    assert_true(json_is_null(json_object_get(page2, "next_cursor")));
    json_decref(page1);
    json_decref(page2);
    assert_dz_fails(store_ingest_list(f->s, "x", 10, &page1, &e), DZ_EINVAL, e);
    assert_dz_fails(store_ingest_get(f->s, 424242, &o, &e), DZ_ENOTFOUND, e);

    /* one audit entry per start (new or taken over) and per finish, none per batch */
    assert_int_equal(audit_actions(f, "ingest.start"), 7);
    assert_int_equal(audit_actions(f, "ingest.finish"), 2);
    audit_ok(f);
    tb_free(&bt);
    tb_free(&late);
}

/* Duplicates inside a batch, across batches, and again once the window has run out; the quarantine; the purge. */
static void test_events_dedup(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    ingest_state in = claim(f, "k1", "n1", NULL);
    event_batch b;
    tb_init(&b);
    const uint64_t big = 0xfedcba9876543210ULL; /* > INT64_MAX: stored as a negative int64 */
    tb_add(&b, 1, &(tev){.hash = 1});
    tb_add(&b, 2, &(tev){.hash = big});
    tb_add(&b, 3, &(tev){.hash = 1}); /* the same event twice in one batch */
    tb_add(&b, 4, &(tev){.hash = UINT64_MAX});
    tb_add(&b, 5, &(tev){.hash = 0});
    tb_bad(&b, 6, "classification: unknown type 'foo'", "a,b\tc\\d\n", 8);
    const char bytes[] = {'o', 'k', ',', (char)0xff, ',', 0, ',', (char)0xc3, (char)0xa9}; /* bad byte, NUL, é */
    tb_bad(&b, 7, "bad row", bytes, sizeof bytes);
    tb_bad(&b, 8, "no bytes", NULL, 0);
    b.checkpoint = 8;
    store_batch_result r = commit(f, in.id, "n1", &b);
    assert_int_equal(r.stored, 4);
    assert_int_equal(r.duplicates, 1);
    assert_int_equal(r.quarantined, 3);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM event_recent"), 4);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM event_recent WHERE hash = -1"), 1); /* UINT64_MAX */
    assert_int_equal(db_int(f, "SELECT MIN(line) FROM events"), 1); /* the first of the two is kept */
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM events WHERE line = 3"), 0);

    /* the next batch repeats two of them; the same batch committed again is all duplicates */
    event_batch b2;
    tb_init(&b2);
    tb_add(&b2, 9, &(tev){.hash = big});
    tb_add(&b2, 10, &(tev){.hash = 2});
    tb_add(&b2, 11, &(tev){.hash = UINT64_MAX});
    b2.checkpoint = 11;
    store_set_clock(f->s, T0 + 60);
    r = commit(f, in.id, "n1", &b2);
    assert_int_equal(r.stored, 1);
    assert_int_equal(r.duplicates, 2);
    r = commit(f, in.id, "n1", &b2);
    assert_int_equal(r.stored, 0);
    assert_int_equal(r.duplicates, 3);

    /* the window is 24 h from the first sighting (T0): at T0 + 86399 still a duplicate, at T0 + 86400 new */
    event_batch b3;
    tb_init(&b3);
    tb_add(&b3, 12, &(tev){.hash = 1});
    tb_add(&b3, 13, &(tev){.hash = 2}); /* first seen at T0 + 60 */
    b3.checkpoint = 13;
    store_set_clock(f->s, T0 + 86399);
    assert_dz_ok(store_ingest_renew(f->s, in.id, "n1", &e), e);
    r = commit(f, in.id, "n1", &b3);
    assert_int_equal(r.stored, 0);
    store_set_clock(f->s, T0 + 86400);
    r = commit(f, in.id, "n1", &b3);
    assert_int_equal(r.stored, 1);
    assert_int_equal(r.duplicates, 1);
    /* stored again: its window starts over */
    store_set_clock(f->s, T0 + 86460);
    r = commit(f, in.id, "n1", &b3);
    assert_int_equal(r.stored, 1); /* hash 2: first seen at T0 + 60, so its window ran out now */
    assert_int_equal(r.duplicates, 1);

    json_t *o;
    assert_dz_ok(store_ingest_get(f->s, in.id, &o, &e), e);
    assert_int_equal(JI(o, "lines_done"), 13);
    assert_int_equal(JI(o, "events"), 7);
    assert_int_equal(JI(o, "duplicates"), 10);
    assert_int_equal(JI(o, "quarantined"), 3);
    json_decref(o);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM events"), 7);

    /* the checkpoint never goes back */
    event_batch empty;
    tb_init(&empty);
    empty.checkpoint = 5;
    r = commit(f, in.id, "n1", &empty);
    assert_int_equal(r.stored + r.duplicates + r.quarantined, 0);
    assert_int_equal(db_int(f, "SELECT lines_done FROM ingests"), 13);

    /* the quarantine, in order, made valid UTF-8 */
    json_t *q;
    assert_dz_ok(store_quarantine_list(f->s, in.id, NULL, 2, &q, &e), e);
    json_t *items = json_object_get(q, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_int_equal(JI(json_array_get(items, 0), "line"), 6);
    assert_int_equal(JI(json_array_get(items, 0), "ingest_id"), in.id);
    assert_string_equal(S(json_array_get(items, 0), "reason"), "classification: unknown type 'foo'");
    assert_string_equal(S(json_array_get(items, 0), "raw"), "a,b\tc\\d\n");
    assert_string_equal(S(json_array_get(items, 1), "raw"), "ok,\xef\xbf\xbd,\xef\xbf\xbd,\xc3\xa9");
    json_t *q2;
    assert_dz_ok(store_quarantine_list(f->s, 0, S(q, "next_cursor"), 10, &q2, &e), e);
    assert_int_equal(json_array_size(json_object_get(q2, "items")), 1);
    assert_true(json_is_null(json_object_get(json_array_get(json_object_get(q2, "items"), 0), "raw")));
    assert_true(json_is_null(json_object_get(q2, "next_cursor")));
    json_decref(q);
    json_decref(q2);
    assert_dz_ok(store_quarantine_list(f->s, 424242, NULL, 0, &q, &e), e);
    assert_int_equal(json_array_size(json_object_get(q, "items")), 0);
    json_decref(q);

    /* the purge forgets what is older than the window, and only that */
    int64_t purged = -1;
    store_set_clock(f->s, T0 + 86400 + 59);
    assert_dz_ok(store_dedup_purge(f->s, &purged, &e), e);
    assert_int_equal(purged, 3); /* big, UINT64_MAX and 0: first seen at T0; 1 and 2 were seen again since */
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM event_dedup"), 2);
    store_set_clock(f->s, T0 + 3 * 86400);
    assert_dz_ok(store_dedup_purge(f->s, &purged, &e), e);
    assert_int_equal(purged, 2);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM event_dedup"), 0);

    /* a purged hash is new again (it was past its window in any case) */
    assert_dz_ok(store_ingest_renew(f->s, in.id, "n1", &e), e);
    r = commit(f, in.id, "n1", &b2);
    assert_int_equal(r.stored, 3);
    tb_free(&b);
    tb_free(&b2);
    tb_free(&b3);
    tb_free(&empty);
}

static json_t *events(fx *f, int64_t only_org, const event_filter *flt)
{
    json_t *o;
    dz_err e = {0};
    assert_dz_ok(store_event_list(f->s, only_org, flt, &o, &e), e);
    return o;
}

static size_t n_items(json_t *o)
{
    size_t n = json_array_size(json_object_get(o, "items"));
    json_decref(o);
    return n;
}

static int64_t ids_of(fx *f, store *s, const char *ip)
{
    json_t *o;
    dz_err e = {0};
    assert_dz_ok(store_event_list(s ? s : f->s, 0, &(event_filter){.ip = ip}, &o, &e), e);
    return (int64_t)n_items(o);
}

/*
 * The two levels: a second process sees the first's recent hashes; a fold
 * (by either) keeps every hash and address findable; a rolled-back commit
 * leaves nothing behind in memory.
 */
static void test_events_levels(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    store_settings st = {0};
    snprintf(st.id_prefix, sizeof st.id_prefix, "X");
    store *s2;
    assert_dz_ok(store_open(f->url, &st, &s2, &e), e);
    store_set_clock(s2, T0);
    ingest_state a = claim(f, "k-a", "n1", NULL), b = {0};
    ingest_claim c = {.kind = "file", .source = "/srv/b.csv", .key = "k-b", .feed = "shadowserver", .node = "n2"};
    assert_dz_ok(store_ingest_claim(s2, &c, &b, &e), e);

    event_batch b1, b2, b3;
    tb_init(&b1);
    tb_add(&b1, 1, &(tev){.hash = 1, .ip = "192.0.2.1"});
    tb_add(&b1, 2, &(tev){.hash = 2, .ip = "192.0.2.2"});
    tb_add(&b1, 3, &(tev){.hash = 3, .ip = "20010db8000000000000000000000001"});
    b1.checkpoint = 3;
    assert_int_equal(commit(f, a.id, "n1", &b1).stored, 3);

    /* the other process: hash 2 is the first's (read from event_recent), 4 is new */
    tb_init(&b2);
    tb_add(&b2, 1, &(tev){.hash = 2, .ip = "192.0.2.2"});
    tb_add(&b2, 2, &(tev){.hash = 4, .ip = "192.0.2.4"});
    b2.checkpoint = 2;
    store_batch_result r;
    assert_dz_ok(store_events_commit(s2, b.id, "n2", &b2, &r, &e), e);
    assert_int_equal(r.stored, 1);
    assert_int_equal(r.duplicates, 1);
    /* and the first process sees the second's 4 */
    tb_init(&b3);
    tb_add(&b3, 4, &(tev){.hash = 4});
    tb_add(&b3, 5, &(tev){.hash = 5, .ip = "192.0.2.5"});
    b3.checkpoint = 5;
    r = commit(f, a.id, "n1", &b3);
    assert_int_equal(r.stored, 1);
    assert_int_equal(r.duplicates, 1);
    assert_int_equal(ids_of(f, s2, "192.0.2.0/24"), 4);
    assert_int_equal(ids_of(f, NULL, "2001:db8::/32"), 1);

    /* the second process folds: event_recent is empty, the hashes and addresses are in the indexed tables */
    int64_t purged = -1;
    assert_dz_ok(store_dedup_purge(s2, &purged, &e), e);
    assert_int_equal(purged, 0);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM event_recent"), 0);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM event_dedup"), 5);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM event_ip4"), 4);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM event_ip6"), 1);
    assert_int_equal(ids_of(f, NULL, "192.0.2.0/24"), 4);
    assert_int_equal(ids_of(f, NULL, "192.0.2.4"), 1);
    assert_int_equal(ids_of(f, NULL, "2001:db8::1"), 1);

    /* both levels at once: folded 1..5, recent 6 */
    event_batch b4;
    tb_init(&b4);
    tb_add(&b4, 6, &(tev){.hash = 1});
    tb_add(&b4, 7, &(tev){.hash = 5});
    tb_add(&b4, 8, &(tev){.hash = 6, .ip = "192.0.2.6"});
    b4.checkpoint = 8;
    r = commit(f, a.id, "n1", &b4);
    assert_int_equal(r.stored, 1);
    assert_int_equal(r.duplicates, 2);
    assert_int_equal(ids_of(f, NULL, "192.0.2.0/24"), 5);
    json_t *o;
    assert_dz_ok(store_event_list(f->s, 0, &(event_filter){.ip = "192.0.2.0/24", .limit = 2}, &o, &e), e);
    assert_int_equal(json_array_size(json_object_get(o, "items")), 2); /* newest first, across levels */
    assert_int_equal(JI(json_array_get(json_object_get(o, "items"), 0), "id"),
                     db_int(f, "SELECT MAX(id) FROM events"));
    json_decref(o);

    /* a commit that fails after its rows went in: memory forgets them, so the hash is new next time */
    const bool pg = strncmp(f->url, "postgres", 8) == 0;
    db *d;
    assert_dz_ok(db_open(f->url, &d, &e), e);
    assert_dz_ok(db_exec(d,
                         pg ? "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS "
                              "'BEGIN IF NEW.feed = ''boom'' THEN RAISE EXCEPTION ''boom''; END IF; RETURN NEW; END'; "
                              "CREATE TRIGGER boom BEFORE INSERT ON event_daily FOR EACH ROW EXECUTE FUNCTION boom()"
                            : "CREATE TRIGGER boom BEFORE INSERT ON event_daily WHEN NEW.feed = 'boom' "
                              "BEGIN SELECT RAISE(ABORT, 'boom'); END",
                         &e),
                 e);
    db_close(d);
    event_batch b5, b6;
    tb_init(&b5);
    tb_add(&b5, 9, &(tev){.hash = 77, .feed = "boom"});
    b5.checkpoint = 9;
    assert_int_not_equal(store_events_commit(f->s, a.id, "n1", &b5, &r, &e), DZ_OK);
    /* the other process takes the ids the failed rows had */
    event_batch b7;
    tb_init(&b7);
    tb_add(&b7, 3, &(tev){.hash = 78});
    b7.checkpoint = 3;
    assert_dz_ok(store_events_commit(s2, b.id, "n2", &b7, &r, &e), e);
    assert_int_equal(r.stored, 1);
    tb_init(&b6);
    tb_add(&b6, 9, &(tev){.hash = 77});
    b6.checkpoint = 9;
    assert_int_equal(commit(f, a.id, "n1", &b6).stored, 1);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM events"), 8);

    tb_free(&b1);
    tb_free(&b2);
    tb_free(&b3);
    tb_free(&b4);
    tb_free(&b5);
    tb_free(&b6);
    tb_free(&b7);
    store_close(s2);
}

/* Filters (organisation, time, classification, feed, address and network, ingest), pages, and isolation. */
static void test_events_list(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    ingest_state in = claim(f, "k-list", "n1", NULL);
    event_batch b;
    tb_init(&b);
    const int64_t t1 = T0 - 3600, t2 = T0 - 1800;
    tb_add(&b, 1, &(tev){.hash = 101, .cid = f->druk, .ip = "192.0.2.1", .time_source = t1});
    tb_add(&b, 2, &(tev){.hash = 102, .cid = f->druk, .ip = "192.0.2.200", .time_source = t2, .type = "vulnerable-service"});
    tb_add(&b, 3, &(tev){.hash = 103, .cid = f->telecom, .ip = "198.51.100.7", .time_source = t2,
                         .taxonomy = "malicious-code", .type = "infected-system", .feed = "sinkhole-http"});
    tb_add(&b, 4, &(tev){.hash = 104, .ip = "20010db8000000000000000000000001", .time_source = t1}); /* 2001:db8::1 */
    tb_add(&b, 5, &(tev){.hash = 105, .cid = f->telecom}); /* no address, no time */
    b.checkpoint = 5;
    commit(f, in.id, "n1", &b);
    ingest_state in2 = claim(f, "k-list-2", "n1", NULL);
    event_batch b2;
    tb_init(&b2);
    tb_add(&b2, 1, &(tev){.hash = 106, .cid = f->druk, .ip = "192.0.2.77", .time_source = t2});
    b2.checkpoint = 1;
    commit(f, in2.id, "n1", &b2);

    /* everything, newest first, and what an item holds */
    json_t *all = events(f, 0, NULL);
    json_t *items = json_object_get(all, "items");
    assert_int_equal(json_array_size(items), 6);
    for (size_t i = 1; i < 6; i++)
        assert_true(JI(json_array_get(items, i - 1), "id") > JI(json_array_get(items, i), "id"));
    json_t *top = json_array_get(items, 0);
    assert_string_equal(S(top, "constituent"), "druk-bank");
    assert_int_equal(JI(top, "ingest_id"), in2.id);
    assert_string_equal(S(top, "stored_at"), "2026-03-01T00:00:00Z");
    json_t *ev = json_object_get(top, "event");
    assert_true(json_is_object(ev));
    assert_string_equal(S(ev, "source.ip"), "192.0.2.77");
    assert_string_equal(S(ev, "extra.note"), "tab\there \"quoted\" back\\slash");
    assert_true(json_is_null(json_object_get(json_array_get(items, 2), "constituent"))); /* line 4: nobody's */
    int64_t telecom_event = JI(json_array_get(items, 1), "id");                          /* line 5 */
    assert_true(json_is_null(json_object_get(all, "next_cursor")));

    /* one event */
    json_t *one;
    assert_dz_ok(store_event_get(f->s, 0, telecom_event, &one, &e), e);
    assert_string_equal(S(one, "constituent"), "bhutan-telecom");
    json_decref(one);
    assert_dz_fails(store_event_get(f->s, f->druk, telecom_event, &one, &e), DZ_ENOTFOUND, e);
    assert_dz_ok(store_event_get(f->s, f->telecom, telecom_event, &one, &e), e);
    json_decref(one);
    assert_dz_fails(store_event_get(f->s, 0, 999999, &one, &e), DZ_ENOTFOUND, e);

    /* pages of two */
    event_filter pf = {.limit = 2};
    int64_t seen = 0, pages = 0, last = INT64_MAX;
    char cursor[32] = "";
    for (;;) {
        pf.cursor = cursor[0] ? cursor : NULL;
        json_t *p = events(f, 0, &pf);
        json_t *it = json_object_get(p, "items");
        size_t i;
        json_t *v;
        json_array_foreach(it, i, v)
        {
            assert_true(JI(v, "id") < last);
            last = JI(v, "id");
            seen++;
        }
        pages++;
        const char *next = S(p, "next_cursor");
        if (!next) {
            json_decref(p);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", next);
        json_decref(p);
    }
    assert_int_equal(seen, 6);
    assert_int_equal(pages, 3);

    /* filters */
    assert_int_equal(n_items(events(f, 0, &(event_filter){.constituent = "druk-bank"})), 3);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.constituent = "no-such-org"})), 0);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.from = t2})), 3);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.from = t1, .to = t2})), 2);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.taxonomy = "malicious-code"})), 1);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.type = "vulnerable-service"})), 1);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.feed = "sinkhole-http"})), 1);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.ingest_id = in2.id})), 1);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.ip = "192.0.2.1"})), 1);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.ip = "192.0.2.0/24"})), 3);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.ip = "192.0.2.128/25"})), 1);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.ip = "192.0.0.0/8"})), 3);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.ip = "0.0.0.0/0"})), 4);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.ip = "::ffff:192.0.2.200"})), 1);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.ip = "2001:db8::/32"})), 1);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.ip = "2001:db8::1"})), 1);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.ip = "::/0"})), 5);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.ip = "192.0.2.0/24", .type = "vulnerable-service"})), 1);
    assert_int_equal(n_items(events(f, 0, &(event_filter){.ip = "192.0.2.0/24", .constituent = "bhutan-telecom"})), 0);
    json_t *bad;
    assert_dz_fails(store_event_list(f->s, 0, &(event_filter){.ip = "192.0.2.1/24"}, &bad, &e), DZ_EINVAL, e);
    assert_dz_fails(store_event_list(f->s, 0, &(event_filter){.ip = "not-an-ip"}, &bad, &e), DZ_EINVAL, e);
    assert_dz_fails(store_event_list(f->s, 0, &(event_filter){.cursor = "abc"}, &bad, &e), DZ_EINVAL, e);
    assert_dz_fails(store_event_list(f->s, 0, &(event_filter){.limit = 1001}, &bad, &e), DZ_EINVAL, e);

    /* an organisation sees its own events only, whatever it asks for */
    assert_int_equal(n_items(events(f, f->druk, NULL)), 3);
    assert_int_equal(n_items(events(f, f->telecom, NULL)), 2);
    assert_int_equal(n_items(events(f, f->pcert, NULL)), 0);
    assert_int_equal(n_items(events(f, f->druk, &(event_filter){.constituent = "bhutan-telecom"})), 0);
    assert_int_equal(n_items(events(f, f->druk, &(event_filter){.constituent = "druk-bank"})), 3);
    assert_int_equal(n_items(events(f, f->druk, &(event_filter){.ip = "0.0.0.0/0"})), 3);
    assert_int_equal(n_items(events(f, f->druk, &(event_filter){.ip = "198.51.100.7"})), 0);
    assert_int_equal(n_items(events(f, f->telecom, &(event_filter){.feed = "sinkhole-http"})), 1);
    assert_int_equal(n_items(events(f, f->druk, &(event_filter){.feed = "sinkhole-http"})), 0);
    assert_int_equal(n_items(events(f, f->druk, &(event_filter){.ingest_id = in.id})), 2);

    /* an organisation gone since the pipeline's registry snapshot: its events are stored as nobody's */
    event_batch b3;
    tb_init(&b3);
    tb_add(&b3, 2, &(tev){.hash = 107, .cid = 424242});
    b3.checkpoint = 2;
    assert_int_equal(commit(f, in2.id, "n1", &b3).stored, 1);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM events WHERE line = 2 AND constituent_id IS NULL"), 1);
    /* deleting an organisation keeps its events, as nobody's (and out of its users' sight) */
    assert_dz_ok(store_constituent_create(f->s, &f->sys, "gone-org", "Gone", NULL, &e), e);
    int64_t gone;
    assert_dz_ok(store_constituent_id(f->s, "gone-org", &gone, &e), e);
    event_batch b4;
    tb_init(&b4);
    tb_add(&b4, 3, &(tev){.hash = 108, .cid = gone});
    b4.checkpoint = 3;
    assert_int_equal(commit(f, in2.id, "n1", &b4).stored, 1);
    assert_int_equal(n_items(events(f, gone, NULL)), 1);
    assert_dz_ok(store_constituent_delete(f->s, &f->sys, "gone-org", &e), e);
    assert_int_equal(n_items(events(f, gone, NULL)), 0);
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM events WHERE line = 3 AND constituent_id IS NULL"), 1);
    assert_int_equal(n_items(events(f, 0, NULL)), 8);
    tb_free(&b3);
    tb_free(&b4);
    json_decref(all);
    tb_free(&b);
    tb_free(&b2);
}

static json_t *find_in(json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *x = S(v, key);
        if ((!x && !value) || (x && value && strcmp(x, value) == 0))
            return v;
    }
    fail_msg("no item with %s = %s", key, value ? value : "null");
    return NULL;
}

/* Daily counts: by day, classification, feed, sector and organisation; scoped to one organisation. */
static void test_events_stats(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    sql(f, "UPDATE constituents SET sector = 'banking-finance' WHERE short_name = 'druk-bank'", false);
    ingest_state in = claim(f, "k-stats", "n1", NULL);
    event_batch b;
    tb_init(&b);
    for (uint64_t i = 0; i < 10; i++)
        tb_add(&b, i + 1, &(tev){.hash = 1000 + i, .cid = i < 6 ? f->druk : i < 9 ? f->telecom : 0,
                                 .feed = i % 2 ? "scan-ssh" : "scan-rdp"});
    tb_add(&b, 11, &(tev){.hash = 1000}); /* a duplicate is not counted */
    b.checkpoint = 11;
    commit(f, in.id, "n1", &b);
    event_batch b2;
    tb_init(&b2);
    tb_add(&b2, 12, &(tev){.hash = 2000, .cid = f->telecom, .taxonomy = "malicious-code", .type = "infected-system"});
    tb_add(&b2, 13, &(tev){.hash = 2001, .cid = f->druk});
    b2.checkpoint = 13;
    store_set_clock(f->s, T0 + 86400 + 5); /* the next day */
    assert_dz_ok(store_ingest_renew(f->s, in.id, "n1", &e), e);
    commit(f, in.id, "n1", &b2);

    json_t *st;
    assert_dz_ok(store_event_stats(f->s, 0, NULL, NULL, &st, &e), e);
    assert_int_equal(JI(st, "total"), 12);
    json_t *days = json_object_get(st, "by_day");
    assert_int_equal(json_array_size(days), 2);
    assert_string_equal(S(json_array_get(days, 0), "day"), "2026-03-01");
    assert_int_equal(JI(json_array_get(days, 0), "count"), 10);
    assert_string_equal(S(json_array_get(days, 1), "day"), "2026-03-02");
    assert_int_equal(JI(json_array_get(days, 1), "count"), 2);
    json_t *types = json_object_get(st, "by_type");
    assert_int_equal(json_array_size(types), 2);
    assert_string_equal(S(json_array_get(types, 0), "type"), "vulnerable-system");
    assert_int_equal(JI(json_array_get(types, 0), "count"), 11);
    assert_string_equal(S(json_array_get(types, 1), "taxonomy"), "malicious-code");
    json_t *feeds = json_object_get(st, "by_feed");
    assert_int_equal(JI(find_in(feeds, "feed", "scan-ssh"), "count"), 5 + 2);
    assert_int_equal(JI(find_in(feeds, "feed", "scan-rdp"), "count"), 5);
    json_t *sectors = json_object_get(st, "by_sector");
    assert_int_equal(JI(find_in(sectors, "sector", "banking-finance"), "count"), 7);
    assert_int_equal(JI(find_in(sectors, "sector", NULL), "count"), 5); /* telecom has no sector, 1 nobody's */
    json_t *orgs = json_object_get(st, "by_constituent");
    assert_int_equal(json_array_size(orgs), 2);
    assert_string_equal(S(json_array_get(orgs, 0), "constituent"), "druk-bank");
    assert_int_equal(JI(json_array_get(orgs, 0), "count"), 7);
    assert_int_equal(JI(json_array_get(orgs, 1), "count"), 4);
    json_decref(st);

    assert_dz_ok(store_event_stats(f->s, 0, "2026-03-02", NULL, &st, &e), e);
    assert_int_equal(JI(st, "total"), 2);
    json_decref(st);
    assert_dz_ok(store_event_stats(f->s, 0, NULL, "2026-03-01", &st, &e), e);
    assert_int_equal(JI(st, "total"), 10);
    json_decref(st);
    assert_dz_ok(store_event_stats(f->s, f->telecom, NULL, NULL, &st, &e), e);
    assert_int_equal(JI(st, "total"), 4);
    assert_int_equal(json_array_size(json_object_get(st, "by_constituent")), 1);
    assert_string_equal(S(json_array_get(json_object_get(st, "by_constituent"), 0), "constituent"), "bhutan-telecom");
    assert_int_equal(json_array_size(json_object_get(st, "by_sector")), 1);
    json_decref(st);
    assert_dz_ok(store_event_stats(f->s, f->pcert, NULL, NULL, &st, &e), e);
    assert_int_equal(JI(st, "total"), 0);
    assert_int_equal(json_array_size(json_object_get(st, "by_day")), 0);
    json_decref(st);
    assert_dz_fails(store_event_stats(f->s, 0, "2026-3-1", NULL, &st, &e), DZ_EINVAL, e);
    tb_free(&b);
    tb_free(&b2);
}

/* 20,000 events of realistic size in one commit, twice (the second into a table that is not empty); prints events/s. */
static void test_events_throughput(void **state)
{
    fx *f = *state;
    dz_err e = {0};
    enum { N = 20000 };
    store_set_clock(f->s, 0); /* real time: the lease and the window as in production */
    ingest_state in = claim(f, "k-bulk", "n1", NULL);
    static const char filler[] =
        ",\"extra.naics\":334220,\"extra.sector\":\"Communications, Service Provider, and Hosting\","
        "\"extra.tag\":\"ssh\",\"protocol.application\":\"ssh\",\"protocol.transport\":\"tcp\","
        "\"raw\":\"InRpbWVzdGFtcCIsImlwIiwicHJvdG9jb2wiLCJwb3J0IiwiaG9zdG5hbWUiLCJ0YWci\","
        "\"source.asn\":64500,\"source.geolocation.cc\":\"BT\",\"source.geolocation.city\":\"Thimphu\","
        "\"source.geolocation.region\":\"Thimphu\",\"source.port\":22,\"source.reverse_dns\":\"host.example.bt\"";
    for (int round = 0; round < 2; round++) {
        event_batch b;
        tb_init(&b);
        for (uint64_t i = 0; i < N; i++) {
            char ip[32];
            uint64_t k = (uint64_t)round * N + i;
            snprintf(ip, sizeof ip, "10.%u.%u.%u", (unsigned)(k >> 16) & 255, (unsigned)(k >> 8) & 255,
                     (unsigned)k & 255);
            tb_add(&b, k + 1, &(tev){.hash = 0x9e3779b97f4a7c15ULL * (k + 1), .cid = k % 3 ? f->druk : 0, .ip = ip,
                                     .time_source = T0 - (int64_t)(k % 86400)});
            /* grow the document to a Shadowserver scan's size (~700 bytes) */
            event_batch_row *r = &b.rows[b.n - 1];
            const char *doc = event_batch_text(&b, r->doc);
            char big[1400];
            int n = snprintf(big, sizeof big, "%.*s%s}", (int)r->doc_len - 1, doc, filler);
            r->doc = tb_text(&b, big, (size_t)n);
            r->doc_len = (size_t)n;
        }
        b.checkpoint = (uint64_t)(round + 1) * N;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        store_batch_result r = commit(f, in.id, "n1", &b);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        assert_int_equal(r.stored, N);
        fprintf(stderr, "test_store: %s: commit of %d events (%zu bytes of JSON each) in %.1f ms: %.0f events/s%s\n",
                pg_url ? "PostgreSQL" : "SQLite", N, b.rows[0].doc_len, s * 1e3, N / s,
                round ? " (table not empty)" : "");
        tb_free(&b);
    }
    assert_int_equal(db_int(f, "SELECT COUNT(*) FROM events"), 2 * N);
    assert_dz_ok(store_ingest_finish(f->s, in.id, "n1", NULL, &e), e);
}

int main(int argc, char **argv)
{
    const char *url = getenv("DZONG_TEST_DB");
    bool want_pg = argc > 1 && strcmp(argv[1], "--postgres") == 0;
    if (url && *url) {
        if (strncmp(url, "postgres://", 11) != 0 && strncmp(url, "postgresql://", 13) != 0) {
            fprintf(stderr, "test_store: DZONG_TEST_DB must be a postgres:// URL (unset: SQLite files), not '%s'\n",
                    url);
            return 1;
        }
        pg_url = url;
    } else if (want_pg) {
        fprintf(stderr, "test_store --postgres: DZONG_TEST_DB is not set; give it the URL of an empty PostgreSQL "
                        "database the tests may wipe (postgres://USER@HOST:PORT/DB)\n");
        return 1;
    }
    fprintf(stderr, "test_store: database %s\n",
            pg_url ? "PostgreSQL (DZONG_TEST_DB), emptied before each test" : "SQLite (a temporary file per test)");
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_open_and_migrate),
        TEST(test_constituents_and_users),
        TEST(test_registry_put),
        TEST(test_registry_parents),
        TEST(test_registry_import),
        TEST(test_registry_isolation),
        TEST(test_registry_list),
        TEST(test_registry_delete),
        TEST(test_registry_index),
        TEST(test_incident_create),
        TEST(test_lifecycle_timeline_metrics),
        TEST(test_field_changes),
        TEST(test_scope_isolation),
        TEST(test_list_filters),
        TEST(test_list_pagination),
        TEST(test_tasks),
        TEST(test_merge),
        TEST(test_reports),
        TEST(test_audit_list_and_verify),
        TEST(test_audit_detects_altered_row),
        TEST(test_audit_detects_rehashed_row),
        TEST(test_audit_detects_missing_row),
        TEST(test_group_commit),
        TEST(test_db_copy),
        TEST(test_sqlite_log_gathering),
        TEST(test_events_claim),
        TEST(test_events_dedup),
        TEST(test_events_levels),
        TEST(test_events_list),
        TEST(test_events_stats),
        TEST(test_events_throughput),
        TEST(test_pg_connections_lost),
        TEST(test_pg_connection_lost_in_transaction),
        TEST(test_pg_commit_of_failed_transaction),
    };
#undef TEST
    return cmocka_run_group_tests(tests, NULL, NULL);
}
