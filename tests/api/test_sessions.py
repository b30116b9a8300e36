"""Password sessions: cookie flags, CSRF, logout, wrong passwords and the per-account lockout."""
from harness import check, check_problem, eq, test


def login(ctx, user, password=None):
    u = ctx.users[user]
    return ctx.req("POST", "/api/v1/session", body={"username": u.name, "password": password or u.password})


def session_cookie(r):
    """'dzong_session=VALUE' from a Set-Cookie header, and the header's attributes."""
    sc = r.header("Set-Cookie")
    check(sc, "no Set-Cookie header")
    parts = [p.strip() for p in sc.split(";")]
    check(parts[0].startswith("dzong_session="), "cookie is not dzong_session: %r" % sc)
    return parts[0], {p.split("=")[0].lower(): (p.split("=", 1)[1] if "=" in p else True) for p in parts[1:]}


@test("session: login sets an HttpOnly SameSite=Strict cookie and returns csrf_token")
def t_login(ctx):
    r = login(ctx, "h1")
    eq(r.status, 201, "login status (%s)" % r.brief())
    cookie, attrs = session_cookie(r)
    check(len(cookie) > len("dzong_session=") + 20, "session id too short: %r" % cookie)
    check(attrs.get("httponly") is True, "cookie lacks HttpOnly: %r" % r.header("Set-Cookie"))
    eq(attrs.get("samesite"), "Strict", "SameSite")
    eq(attrs.get("path"), "/", "Path")
    check(int(attrs.get("max-age", "0")) > 0, "Max-Age %r" % attrs.get("max-age"))
    doc = r.json
    eq((doc.get("username"), doc.get("role"), doc.get("constituent")), ("h1", "handler", None), "whoami")
    check(isinstance(doc.get("csrf_token"), str) and len(doc["csrf_token"]) >= 20, "csrf_token %r" % doc.get("csrf_token"))
    check(doc.get("expires_at"), "no expires_at")
    me = ctx.expect(200, "GET", "/api/v1/session", cookie=cookie).json
    eq((me["username"], me["auth"], me["csrf_token"]), ("h1", "session", doc["csrf_token"]), "GET /session by cookie")
    me = ctx.expect(200, "GET", "/api/v1/session", "ca").json
    eq((me["username"], me["role"], me["constituent"], me["auth"], me["csrf_token"]),
       ("ca", "constituent", "orga", "token", None), "GET /session by token")
    r = login(ctx, "ca")
    eq(r.status, 201, "constituent login")
    eq(r.json["constituent"], "orga", "constituent login names its organisation")


@test("session: a cookie POST without X-CSRF-Token is 403, with it succeeds; GET needs none")
def t_csrf(ctx):
    r = login(ctx, "h2")
    eq(r.status, 201, "login")
    cookie, _ = session_cookie(r)
    csrf = r.json["csrf_token"]
    body = {"title": "Cookie incident " + ctx.tag}
    r = ctx.req("POST", "/api/v1/incidents", cookie=cookie, body=body)
    check_problem(r, 403, "X-CSRF-Token", "cookie POST without CSRF header")
    r = ctx.req("POST", "/api/v1/incidents", cookie=cookie, csrf=csrf[:-1] + ("A" if csrf[-1] != "A" else "B"), body=body)
    check_problem(r, 403, "X-CSRF-Token", "cookie POST with a wrong CSRF token")
    r = ctx.req("POST", "/api/v1/incidents", cookie=cookie, csrf=login(ctx, "h2").json["csrf_token"], body=body)
    check_problem(r, 403, "X-CSRF-Token", "cookie POST with another session's CSRF token")
    r = ctx.req("POST", "/api/v1/incidents", cookie=cookie, csrf=csrf, body=body)
    eq(r.status, 201, "cookie POST with CSRF (%s)" % r.brief())
    eq(r.json["created_by"], "h2", "created_by of the cookie POST")
    iid = r.json["id"]
    r = ctx.req("PATCH", "/api/v1/incidents/" + iid, cookie=cookie, body={"status": "triage"})
    check_problem(r, 403, "X-CSRF-Token", "cookie PATCH without CSRF")
    r = ctx.req("PATCH", "/api/v1/incidents/" + iid, cookie=cookie, csrf=csrf, body={"status": "triage"})
    eq(r.status, 200, "cookie PATCH with CSRF")
    eq(ctx.req("GET", "/api/v1/incidents/" + iid, cookie=cookie).status, 200, "cookie GET without CSRF")
    # a bearer token needs no CSRF token
    eq(ctx.req("POST", "/api/v1/incidents", "h2", body=body).status, 201, "bearer POST without CSRF")


@test("session: DELETE logs out (cookie cleared, session gone)")
def t_logout(ctx):
    r = login(ctx, "an1")
    cookie, _ = session_cookie(r)
    csrf = r.json["csrf_token"]
    r = ctx.req("DELETE", "/api/v1/session", cookie=cookie)
    check_problem(r, 403, "X-CSRF-Token", "logout without CSRF")
    eq(ctx.req("GET", "/api/v1/session", cookie=cookie).status, 200, "still logged in after refused logout")
    r = ctx.req("DELETE", "/api/v1/session", cookie=cookie, csrf=csrf)
    eq(r.status, 204, "logout status (%s)" % r.brief())
    eq(r.body, b"", "logout body")
    c2, attrs = session_cookie(r)
    eq(c2, "dzong_session=", "cleared cookie value")
    eq(attrs.get("max-age"), "0", "cleared cookie Max-Age")
    r = ctx.req("GET", "/api/v1/session", cookie=cookie)
    check_problem(r, 401, None, "GET /session after logout")
    r = ctx.req("GET", "/api/v1/incidents", cookie=cookie)
    check_problem(r, 401, None, "GET /incidents after logout")


@test("session: wrong password, unknown user and disabled account are 401 problems")
def t_wrong_password(ctx):
    r = login(ctx, "coord", "definitely-not-it")
    doc = check_problem(r, 401, None, "wrong password")
    check("Set-Cookie" not in r.headers, "a failed login set a cookie")
    check("csrf_token" not in doc, "a failed login returned a csrf_token")
    r = ctx.req("POST", "/api/v1/session", body={"username": "nobody-" + ctx.tag, "password": "whatever-it-is"})
    check_problem(r, 401, None, "unknown user")
    r = ctx.req("POST", "/api/v1/session", body={"username": "coord"})
    check_problem(r, 400, "password", "missing password")
    eq(login(ctx, "coord").status, 201, "right password still works")
    r = ctx.req("GET", "/api/v1/incidents", token="dzt_not-a-real-token")
    check_problem(r, 401, None, "unknown bearer token")
    check((r.header("WWW-Authenticate") or "").startswith("Bearer"), "401 without WWW-Authenticate: Bearer")
    r = ctx.req("GET", "/api/v1/incidents", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    check_problem(r, 401, "Bearer", "Basic authorization")


@test("session: after 5 wrong passwords the account gets 429 with Retry-After, others do not", timeout=60)
def t_lockout(ctx):
    for i in range(5):
        r = login(ctx, "lockme", "wrong-password-%d" % i)
        check_problem(r, 401, None, "wrong password #%d" % (i + 1))
    r = login(ctx, "lockme", "wrong-password-6")
    check_problem(r, 429, None, "6th attempt")
    ra = r.header("Retry-After")
    check(ra and ra.isdigit() and 0 < int(ra) <= 900, "Retry-After %r" % ra)
    r = login(ctx, "lockme")
    check_problem(r, 429, None, "right password while locked")
    check(r.header("Retry-After"), "no Retry-After on the locked right-password attempt")
    # the token keeps working, and other accounts may still log in
    eq(ctx.req("GET", "/api/v1/session", "lockme").status, 200, "locked account's token")
    eq(login(ctx, "h1").status, 201, "another account's login")
