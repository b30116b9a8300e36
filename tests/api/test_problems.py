"""Bad input is answered with RFC 9457 problem+json that names what was wrong."""
from harness import check, check_problem, eq, test


def post_incident(ctx, body=None, raw=None):
    kw = {"raw": raw} if raw is not None else {"body": body}
    return ctx.req("POST", "/api/v1/incidents", "h1", headers={"Content-Type": "application/json"}, **kw)


@test("problem: invalid JSON, empty body and non-object bodies are 400")
def t_invalid_json(ctx):
    check_problem(post_incident(ctx, raw='{"title": "x",}'), 400, "JSON", "trailing comma")
    check_problem(post_incident(ctx, raw='{"title": "x"'), 400, "JSON", "truncated")
    check_problem(post_incident(ctx, raw=b"\xff\xfe{}"), 400, "JSON", "not UTF-8")
    check_problem(post_incident(ctx, raw=""), 400, "empty", "empty body")
    check_problem(post_incident(ctx, raw='["title"]'), 400, "object", "array body")
    check_problem(post_incident(ctx, raw='{"title": "a", "title": "b"}'), 400, "duplicate", "duplicate key")
    inc = ctx.create_incident(title="Bad patch target " + ctx.tag)
    r = ctx.req("PATCH", "/api/v1/incidents/" + inc["id"], "h1", raw="not json")
    check_problem(r, 400, "JSON", "PATCH with invalid JSON")
    r = ctx.req("PATCH", "/api/v1/incidents/" + inc["id"], "h1", body={})
    check_problem(r, 400, "nothing to change", "empty PATCH")
    check_problem(ctx.req("POST", "/api/v1/reports", "h1", raw="{"), 400, "JSON", "report invalid JSON")
    check_problem(ctx.req("POST", "/api/v1/session", raw="{"), 400, "JSON", "login invalid JSON")


@test("problem: an unknown field is 400 naming it")
def t_unknown_field(ctx):
    check_problem(post_incident(ctx, {"title": "x", "colour": "red"}), 400, ["unknown field", "colour"], "incident")
    check_problem(post_incident(ctx, {"title": "x", "classification": {"taxonomy": "fraud", "type": "phishing",
                                                                        "extra": 1}}),
                  400, ["classification", "extra"], "classification.extra")
    inc = ctx.create_incident(title="Unknown field " + ctx.tag)
    for path, body, field in (("/api/v1/incidents/%s/notes" % inc["id"], {"body": "x", "pinned": True}, "pinned"),
                              ("/api/v1/incidents/%s/tasks" % inc["id"], {"title": "x", "priority": 1}, "priority"),
                              ("/api/v1/incidents/%s/merge" % inc["id"], {"with": "x"}, "with"),
                              ("/api/v1/reports", {"source": "web", "source_ref": "x", "urgent": True}, "urgent"),
                              ("/api/v1/session", {"username": "a", "password": "b", "otp": "1"}, "otp"),
                              ("/api/v1/tokens", {"label": "x", "scope": "all"}, "scope")):
        check_problem(ctx.req("POST", path, "admin", body=body), 400, field, "POST %s" % path)
    check_problem(ctx.req("PATCH", "/api/v1/incidents/" + inc["id"], "admin", body={"priority": "high"}), 400, "priority",
                  "PATCH unknown field")
    check_problem(ctx.req("POST", "/api/v1/constituents", "admin", body={"short_name": "z", "name": "Z", "x": 1}), 400,
                  None, "constituent unknown field")
    check_problem(ctx.req("PATCH", "/api/v1/users/victim", "admin", body={"disabled": False, "role": "admin"}), 400,
                  None, "user update unknown field")


@test("problem: wrong JSON types are 400 naming the field")
def t_wrong_types(ctx):
    for body, field in (({"title": 42}, "title"), ({"title": None}, "title"), ({"title": "x", "description": []}, "description"),
                        ({"title": "x", "tlp": 1}, "tlp"), ({"title": "x", "severity": 3}, "severity"),
                        ({"title": "x", "tags": "a,b"}, "tags"), ({"title": "x", "tags": [1]}, "tags"),
                        ({"title": "x", "constituents": {"orga": True}}, "constituents"),
                        ({"title": "x", "assignee": 7}, "assignee"), ({"title": "x", "due_at": 12345}, "due_at"),
                        ({"title": "x", "classification": 5}, "classification"),
                        ({"title": "x", "classification": {"taxonomy": 1, "type": "phishing"}}, "classification"),
                        ({"title": "x", "status": True}, "status")):
        check_problem(post_incident(ctx, body), 400, field, "body %r" % (body,))
    inc = ctx.create_incident(title="Types " + ctx.tag)
    check_problem(ctx.req("POST", "/api/v1/incidents/%s/notes" % inc["id"], "h1", body={"body": "x", "shared": "yes"}),
                  400, "shared", "note shared as string")
    check_problem(ctx.req("POST", "/api/v1/incidents/%s/tasks" % inc["id"], "h1", body={"title": ["x"]}), 400, "title",
                  "task title as array")
    check_problem(ctx.req("POST", "/api/v1/reports", "h1", body={"source": "web", "source_ref": 5}), 400, "source_ref",
                  "report source_ref as number")
    check_problem(ctx.req("POST", "/api/v1/incidents/%s/reports" % inc["id"], "h1", body={"report": 5}), 400, "report",
                  "link report as number")
    check_problem(post_incident(ctx, {"title": "x", "constituents": ["no-such-org"]}), 400, "constituents",
                  "unknown constituent")
    check_problem(post_incident(ctx, {"title": "x", "assignee": "nobody-here"}), 400, "assignee", "unknown assignee")


@test("problem: a bad TLP or PAP is 400 naming the field and the accepted values")
def t_bad_tlp(ctx):
    check_problem(post_incident(ctx, {"title": "x", "tlp": "PURPLE"}), 400, ["tlp", "PURPLE", "AMBER"], "tlp PURPLE")
    check_problem(post_incident(ctx, {"title": "x", "pap": "BLUE"}), 400, ["pap", "BLUE"], "pap BLUE")
    for spelling, want in (("TLP:WHITE", "CLEAR"), ("tlp:amber+strict", "AMBER+STRICT"), ("amber strict", "AMBER+STRICT"),
                           ("red", "RED")):
        body = {"title": "TLP spelling " + ctx.tag, "tlp": spelling}
        if want == "RED":
            body["assignee"] = "h1"
        eq(ctx.create_incident(**body)["tlp"], want, "tlp %r" % spelling)


@test("problem: an unknown classification is 400 naming it")
def t_bad_classification(ctx):
    check_problem(post_incident(ctx, {"title": "x", "classification": {"taxonomy": "fraud", "type": "wizardry"}}), 400,
                  ["classification", "wizardry"], "unknown type")
    check_problem(post_incident(ctx, {"title": "x", "classification": {"taxonomy": "magic", "type": "phishing"}}), 400,
                  ["classification", "magic"], "unknown taxonomy")
    check_problem(post_incident(ctx, {"title": "x", "classification": {"taxonomy": "fraud", "type": "spam"}}), 400,
                  ["classification", "abusive-content"], "type of another taxonomy")
    check_problem(post_incident(ctx, {"title": "x", "classification": {"taxonomy": "fraud"}}), 400,
                  ["classification", "type"], "taxonomy without type")
    check_problem(ctx.req("GET", "/api/v1/incidents?type=wizardry", "h1"), 400, "type", "list type=wizardry")
    check_problem(ctx.req("GET", "/api/v1/incidents?taxonomy=magic", "h1"), 400, "taxonomy", "list taxonomy=magic")


@test("problem: over-long title (301 bytes) is 400; 300 bytes is fine")
def t_title_too_long(ctx):
    check_problem(post_incident(ctx, {"title": "x" * 301}), 400, ["title", "too long"], "301-byte title")
    check_problem(post_incident(ctx, {"title": "é" * 151}), 400, ["title", "too long"], "302-byte UTF-8 title")
    eq(len(ctx.create_incident(title="y" * 300)["title"]), 300, "300-byte title")
    check_problem(post_incident(ctx, {"title": "   "}), 400, "title", "blank title")
    check_problem(post_incident(ctx, {"title": "tab\tinside"}), 400, ["title", "control"], "control character in title")
    check_problem(post_incident(ctx, {"title": "x", "description": "d" * 65537}), 400, ["description", "too long"],
                  "65537-byte description")
    check_problem(post_incident(ctx, {"title": "x", "tags": ["t" * 65]}), 400, "tags", "65-byte tag")
    check_problem(post_incident(ctx, {"title": "x", "tags": ["t%d" % i for i in range(101)]}), 400, "tags", "101 tags")
    eq(ctx.create_incident(title="  trimmed  " + ctx.tag + "  ")["title"], "trimmed  " + ctx.tag, "title trimmed")


@test("problem: a body over 1 MiB is 413 problem+json")
def t_body_too_large(ctx):
    big = '{"title": "big", "description": "' + "a" * (1024 * 1024) + '"}'
    r = post_incident(ctx, raw=big)
    check_problem(r, 413, "limit", "1 MiB + body")
    r = ctx.req("POST", "/api/v1/reports", None, raw=big)
    check_problem(r, 413, None, "oversized unauthenticated body")
    # just under the limit is read (and refused for its content, not its size)
    ok = '{"title": "big", "description": "' + "a" * (1024 * 1024 - 64) + '"}'
    r = post_incident(ctx, raw=ok)
    check_problem(r, 400, "description", "body just under 1 MiB")


@test("problem: an unknown route is 404 problem+json")
def t_unknown_route(ctx):
    for path in ("/api/v1/nope", "/api/v2/incidents", "/api/v1/incidents/X/nope", "/api/v1/incidents/X/tasks/1/more",
                 "/favicon.ico"):
        check_problem(ctx.req("GET", path, "admin"), 404, None, "GET %s" % path)
    check_problem(ctx.req("GET", "/api/v1/nope"), 404, None, "unknown route without credentials")
    check_problem(ctx.req("GET", "/api/v1/incidents/%zz", "admin"), 404, None, "a malformed escape is a literal id")
    # the path is percent-decoded once: %2531 is the id "...%31", not "...1"
    inc = ctx.create_incident(title="double decoding " + ctx.tag)
    encoded = inc["id"][:-1] + "%25" + "%x" % ord(inc["id"][-1])
    check_problem(ctx.req("GET", "/api/v1/incidents/" + encoded, "admin"), 404, None, "double-encoded id")
    eq(ctx.req("GET", "/api/v1/incidents/" + inc["id"][:-1] + "%" + "%x" % ord(inc["id"][-1]), "admin").status, 200,
       "a once-encoded id")


@test("problem: a wrong method is 405 with Allow")
def t_wrong_method(ctx):
    for method, path, allow in (("DELETE", "/api/v1/incidents", {"GET", "POST"}),
                                ("PUT", "/api/v1/incidents/X", {"GET", "PATCH"}),
                                ("GET", "/api/v1/incidents/X/merge", {"POST"}),
                                ("POST", "/healthz", {"GET"}),
                                ("PUT", "/api/v1/session", {"GET", "POST", "DELETE"}),
                                ("DELETE", "/api/v1/users/victim", {"PATCH"})):
        r = ctx.req(method, path, "admin")
        doc = check_problem(r, 405, method, "%s %s" % (method, path))
        got = {m.strip() for m in (r.header("Allow") or "").split(",") if m.strip()}
        eq(got, allow, "Allow of %s %s" % (method, path))
        for m in allow:
            check(m in doc["detail"], "405 detail does not list %s: %r" % (m, doc["detail"]))
    r = ctx.req("DELETE", "/api/v1/incidents")
    check_problem(r, 405, None, "405 comes before authentication")


@test("problem: a bad cursor is 400 naming 'cursor'")
def t_bad_cursor(ctx):
    for cur in ("garbage", "1.2.3", "12", "5.0", "5.-1", "1.2x", "abc.def"):
        check_problem(ctx.req("GET", "/api/v1/incidents?cursor=" + cur, "admin"), 400, "cursor", "incidents cursor=%s" % cur)
    for cur in ("garbage", "0", "-4", "7x"):
        check_problem(ctx.req("GET", "/api/v1/reports?cursor=" + cur, "admin"), 400, "cursor", "reports cursor=%s" % cur)


@test("problem: a bad limit is 400 naming 'limit'")
def t_bad_limit(ctx):
    for lim in ("0", "-1", "501", "abc", "10x", "1e3", "99999999999999999999"):
        check_problem(ctx.req("GET", "/api/v1/incidents?limit=" + lim, "admin"), 400, "limit", "incidents limit=%s" % lim)
        check_problem(ctx.req("GET", "/api/v1/reports?limit=" + lim, "admin"), 400, "limit", "reports limit=%s" % lim)
    for lim in ("0", "1001", "abc"):
        check_problem(ctx.req("GET", "/api/v1/audit?limit=" + lim, "admin"), 400, "limit", "audit limit=%s" % lim)
    eq(len(ctx.expect(200, "GET", "/api/v1/incidents?limit=1", "admin").json["items"]), 1, "limit=1")
    eq(ctx.req("GET", "/api/v1/incidents?limit=500", "admin").status, 200, "limit=500")


@test("problem: missing credentials are 401 problem+json with WWW-Authenticate")
def t_unauthenticated(ctx):
    r = ctx.req("GET", "/api/v1/incidents")
    check_problem(r, 401, "authentication", "no credentials")
    check((r.header("WWW-Authenticate") or "").startswith("Bearer"), "WWW-Authenticate %r" % r.header("WWW-Authenticate"))
    r = ctx.req("POST", "/api/v1/incidents", body={"title": "x"}, cookie="dzong_session=forged")
    check_problem(r, 401, None, "forged session cookie")
