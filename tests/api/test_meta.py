"""Health, the OpenAPI document, the web UI's files, and the suite's own route table."""
import json
import os
import re

from harness import check, eq, test
from routes_table import ROUTES, parse_routes_c


@test("meta: /healthz answers 200 ok without credentials")
def t_healthz(ctx):
    r = ctx.req("GET", "/healthz")
    eq(r.status, 200, "status")
    eq(r.header("Content-Type"), "application/json", "Content-Type")
    eq(r.json.get("status"), "ok", "status field")
    eq(r.json.get("database"), "ok", "database field")
    check(r.header("X-Request-Id"), "no X-Request-Id header")


@test("meta: X-Request-Id from the client is echoed, a bad one replaced")
def t_request_id(ctx):
    r = ctx.req("GET", "/healthz", headers={"X-Request-Id": "suite-abc.123"})
    eq(r.header("X-Request-Id"), "suite-abc.123", "echoed request id")
    r = ctx.req("GET", "/healthz", headers={"X-Request-Id": "bad id with spaces"})
    check(r.header("X-Request-Id") and r.header("X-Request-Id") != "bad id with spaces",
          "unacceptable request id was echoed: %r" % r.header("X-Request-Id"))


@test("meta: the suite's route table is src/server/routes.c")
def t_routes_in_step(ctx):
    path = os.path.join(ctx.repo, "src", "server", "routes.c")
    check(os.path.exists(path), "%s not found" % path)
    src = parse_routes_c(open(path).read())
    check(len(src) > 10, "parsed only %d routes from routes.c" % len(src))
    missing = [r for r in src if r not in ROUTES]
    extra = [r for r in ROUTES if r not in src]
    check(not missing and not extra,
          "routes.c and tests/api/routes_table.py differ: only in routes.c %s; only in the suite %s "
          "(add the route to the access matrix)" % (missing, extra))


@test("meta: /api/v1/openapi.json is OpenAPI 3.1 JSON documenting every routed path and method")
def t_openapi(ctx):
    r = ctx.req("GET", "/api/v1/openapi.json")
    eq(r.status, 200, "status")
    check((r.header("Content-Type") or "").startswith("application/json"), "Content-Type %r" % r.header("Content-Type"))
    try:
        doc = json.loads(r.body)
    except ValueError as ex:
        raise AssertionError("openapi.json is not valid JSON: %s" % ex)
    check(isinstance(doc, dict), "document is not an object")
    check(re.match(r"^3\.1\.\d+$", str(doc.get("openapi", ""))), "openapi is %r, want 3.1.x" % doc.get("openapi"))
    check(isinstance(doc.get("info"), dict) and doc["info"].get("title") and doc["info"].get("version"),
          "info.title/info.version missing")
    paths = doc.get("paths")
    check(isinstance(paths, dict), "paths is not an object")
    missing = []
    for method, pattern, _ in ROUTES:
        item = paths.get(pattern)
        if not isinstance(item, dict) or method.lower() not in item:
            missing.append("%s %s" % (method, pattern))
    check(not missing, "%d of %d routes undocumented, e.g. %s" % (len(missing), len(ROUTES), ", ".join(missing[:6])))


@test("meta: web UI index and assets are served with the right types")
def t_web(ctx):
    r = ctx.req("GET", "/")
    eq(r.status, 200, "GET / status")
    check((r.header("Content-Type") or "").startswith("text/html"), "GET / Content-Type %r" % r.header("Content-Type"))
    check(r.header("Content-Security-Policy"), "GET / lacks Content-Security-Policy")
    eq(r.header("X-Frame-Options"), "DENY", "X-Frame-Options")
    r = ctx.req("GET", "/ui/app.js")
    eq(r.status, 200, "GET /ui/app.js status")
    check((r.header("Content-Type") or "").startswith("text/javascript"), "app.js Content-Type %r" % r.header("Content-Type"))
    r = ctx.req("GET", "/ui/style.css")
    eq(r.status, 200, "GET /ui/style.css status")
    r = ctx.req("GET", "/ui/nope.js")
    eq(r.status, 404, "GET /ui/nope.js status")
    r = ctx.req("GET", "/ui/openapi.json")
    eq(r.status, 404, "GET /ui/openapi.json (only served at /api/v1/openapi.json)")
