"""Users, tokens and constituents through the API."""
from harness import check, check_problem, eq, test


@test("admin: POST /users creates a user who can log in; bad input is refused")
def t_user_create(ctx):
    name = ctx.uniq("newuser")
    pw = "a-long-password-" + ctx.tag
    out = ctx.expect(201, "POST", "/api/v1/users", "admin",
                     body={"username": name, "role": "constituent", "constituent": "orgb", "password": pw}).json
    eq(out, {"username": name, "role": "constituent", "constituent": "orgb"}, "created user")
    r = ctx.req("POST", "/api/v1/session", body={"username": name, "password": pw})
    eq((r.status, r.json.get("constituent")), (201, "orgb"), "new user's login")
    users = {u["username"]: u for u in ctx.expect(200, "GET", "/api/v1/users", "admin").json["items"]}
    eq((users[name]["role"], users[name]["constituent"], users[name]["disabled"]), ("constituent", "orgb", False),
       "listed user")
    check("password_hash" not in users[name] and "password" not in users[name], "user list shows password data")
    for body, status, mention in (
            ({"username": ctx.uniq("u"), "role": "constituent", "password": "x" * 12}, 400, "organisation"),
            ({"username": ctx.uniq("u"), "role": "handler", "constituent": "orga", "password": "x" * 12}, 400, "handler"),
            ({"username": ctx.uniq("u"), "role": "boss", "password": "x" * 12}, 400, "role"),
            ({"username": ctx.uniq("u"), "role": "analyst", "password": "short"}, 400, "12"),
            ({"username": "bad name", "role": "analyst", "password": "x" * 12}, 400, "bad name"),
            ({"username": ctx.uniq("u"), "role": "constituent", "constituent": "nowhere", "password": "x" * 12}, 404, "nowhere"),
            ({"username": "h1", "role": "analyst", "password": "x" * 12}, 409, "exists"),
            ({"username": ctx.uniq("u"), "role": "analyst"}, 400, None)):
        check_problem(ctx.req("POST", "/api/v1/users", "admin", body=body), status, mention, "create %r" % (body,))


@test("admin: disabling a user ends its sessions and refuses its tokens and logins; enabling restores")
def t_user_disable(ctx):
    u = ctx.add_user(ctx.uniq("dis"), "handler")
    r = ctx.req("POST", "/api/v1/session", body={"username": u.name, "password": u.password})
    eq(r.status, 201, "login before disabling")
    cookie = r.header("Set-Cookie").split(";")[0]
    inc = ctx.create_incident(title="Disabled assignee " + ctx.tag)
    out = ctx.expect(200, "PATCH", "/api/v1/users/" + u.name, "admin", body={"disabled": True}).json
    eq(out, {"username": u.name, "disabled": True}, "PATCH answer")
    check_problem(ctx.req("GET", "/api/v1/session", token=u.token), 401, None, "disabled user's token")
    check_problem(ctx.req("GET", "/api/v1/session", cookie=cookie), 401, None, "disabled user's session")
    check_problem(ctx.req("POST", "/api/v1/session", body={"username": u.name, "password": u.password}), 401, None,
                  "disabled user's login")
    check_problem(ctx.req("PATCH", "/api/v1/incidents/" + inc["id"], "admin", body={"assignee": u.name}), 400,
                  ["assignee", "disabled"], "assigning a disabled user")
    ctx.expect(200, "PATCH", "/api/v1/users/" + u.name, "admin", body={"disabled": False})
    eq(ctx.req("GET", "/api/v1/session", token=u.token).status, 200, "token after enabling")
    check_problem(ctx.req("GET", "/api/v1/session", cookie=cookie), 401, None, "ended session stays ended")
    check_problem(ctx.req("PATCH", "/api/v1/users/nobody-" + ctx.tag, "admin", body={"disabled": True}), 404, None,
                  "disabling an unknown user")
    check_problem(ctx.req("PATCH", "/api/v1/users/" + u.name, "admin", body={"disabled": "yes"}), 400, "disabled",
                  "disabled as a string")
    actions = [(x["action"], x["object"]) for x in ctx.expect(200, "GET", "/api/v1/audit?limit=1000", "admin").json["items"]]
    check(("user.disable", u.name) in actions and ("user.enable", u.name) in actions, "disable/enable not audited")


@test("admin: POST /tokens gives the caller a working token of its own, shown once")
def t_tokens(ctx):
    out = ctx.expect(201, "POST", "/api/v1/tokens", "ca", body={"label": "script"}).json
    eq((out["username"], out["label"]), ("ca", "script"), "token answer")
    check(out["token"].startswith("dzt_") and out["token"] != ctx.users["ca"].token, "token %r" % out["token"])
    me = ctx.expect(200, "GET", "/api/v1/session", token=out["token"]).json
    eq((me["username"], me["role"], me["constituent"]), ("ca", "constituent", "orga"), "whoami with the new token")
    check_problem(ctx.req("POST", "/api/v1/tokens", "ca", body={"label": ""}), 400, "label", "empty label")
    check_problem(ctx.req("POST", "/api/v1/tokens", "ca", body={"label": "x" * 300}), 400, "label", "long label")
    check_problem(ctx.req("POST", "/api/v1/tokens", "ca", body={"label": "x", "username": "admin"}), 400, "username",
                  "a token for another user")


@test("admin: constituents are created once, with valid short names")
def t_constituents(ctx):
    short = ctx.uniq("org")
    out = ctx.expect(201, "POST", "/api/v1/constituents", "coord", body={"short_name": short, "name": "Ministry"}).json
    eq((out["short_name"], out["name"]), (short, "Ministry"), "created constituent")
    names = [c["short_name"] for c in ctx.expect(200, "GET", "/api/v1/constituents?q=" + short, "h1").json["items"]]
    check(short in names, "new constituent not listed")
    check_problem(ctx.req("POST", "/api/v1/constituents", "admin", body={"short_name": short, "name": "Again"}), 409,
                  short, "duplicate constituent")
    check_problem(ctx.req("POST", "/api/v1/constituents", "admin", body={"short_name": "has space", "name": "x"}), 400,
                  "short name", "bad short name")
    check_problem(ctx.req("POST", "/api/v1/constituents", "admin", body={"short_name": ctx.uniq("o"), "name": ""}), 400,
                  "name", "empty name")
    inc = ctx.create_incident(title="New org " + ctx.tag, constituents=[short])
    eq(inc["constituents"], [short], "incident of the new constituent")
