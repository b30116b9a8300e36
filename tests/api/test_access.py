"""
Who may do what: every route of routes.c for every role (and nobody), with the
expected statuses derived from the table in src/server/policy.h; then
constituent isolation and TLP:RED visibility.

                     admin coord handler analyst constituent partner
incident read         all   all   -RED    -RED    own,-RED     -
incident create/edit   y     y     y       y        -          -
incident merge         y     y     y       -        -          -
notes                  y     y     y       y     own, shared   -
tasks, full timeline   y     y     y       y        -          -
report file            y     y     y       y        y          y
report read           all   all   all     all    own org    own org
report link            y     y     y       y        -          -
constituents, lookup  all   all   all     all      own        own
constituents write     y     y     -       -        -          -
users, tokens of others y    -     -       -        -          -
audit log              y     y     -       -        -          -
feed events read      all   all   all     all      own        own
feed events submit     y     y     y       y        -          -
ingests, quarantine    y     y     y       y        -          -
notifications read    all   all   all     all      own        own
notification message   y     y     y       y        -          -
notification ack       -     -     -       -       own        own
incident notify        y     y     y       -        -          -
"""
import json
from urllib.parse import urlencode

from harness import check, check_problem, eq, test
from routes_table import ROUTES

ROLES = ("admin", "coordinator", "handler", "analyst", "constituent", "partner")
USER_OF = {"admin": "admin", "coordinator": "coord", "handler": "h1", "analyst": "an1", "constituent": "ca",
           "partner": "pa"}
STAFF = ("admin", "coordinator", "handler", "analyst")
EVERYONE = ROLES


def expected(ok, allowed):
    """ok for the allowed roles, 403 for the other roles, 401 without credentials."""
    exp = {r: (ok if r in allowed else 403) for r in ROLES}
    exp[None] = 401
    return exp


def public(ok):
    exp = {r: ok for r in ROLES}
    exp[None] = ok
    return exp


class Fixture:
    """Shared objects for the matrix: one AMBER incident of orga, with a task; a report per role."""
    inc = None
    task = None


def fixture(ctx):
    if Fixture.inc is None:
        Fixture.inc = ctx.create_incident(title="Matrix " + ctx.tag, constituents=["orga"], tlp="GREEN")["id"]
        Fixture.task = ctx.expect(201, "POST", "/api/v1/incidents/%s/tasks" % Fixture.inc, "admin",
                                  body={"title": "matrix task"}).json["id"]
    return Fixture


def inc_path(suffix=""):
    return lambda ctx, role: ("/api/v1/incidents/%s%s" % (fixture(ctx).inc, suffix), None)


def fresh_merge(ctx, role):
    sv = ctx.create_incident(title="Merge matrix " + ctx.tag, constituents=["orga"])["id"]
    dp = ctx.create_incident(title="Merge matrix dup " + ctx.tag, constituents=["orga"])["id"]
    return "/api/v1/incidents/%s/merge" % sv, {"from": [dp]}


def fresh_report_link(ctx, role):
    rid = ctx.expect(201, "POST", "/api/v1/reports", "admin", body={"source": "web", "source_ref": ctx.uniq("mx")}).json["id"]
    return "/api/v1/incidents/%s/reports" % fixture(ctx).inc, {"report": rid}


def own_report(ctx, role):
    filer = USER_OF[role] if role in ("constituent", "partner") else "admin"
    rid = ctx.expect(201, "POST", "/api/v1/reports", filer, body={"source": "web", "source_ref": ctx.uniq("own")}).json["id"]
    return "/api/v1/reports/" + rid, None


OWN_ORG = {"constituent": "orga", "partner": "certx"}


def own_constituent(ctx, role):
    return "/api/v1/constituents/" + OWN_ORG.get(role, "orga"), None


def fresh_constituent(body=None):
    """A new organisation per call, so writes and deletes of one role never meet another's."""
    def prepare(ctx, role):
        sn = ctx.uniq("mxorg")
        ctx.expect(201, "POST", "/api/v1/constituents", "admin", body={"short_name": sn, "name": "Matrix org"})
        return "/api/v1/constituents/" + sn, body
    return prepare


class EventFixture:
    """One batch (an ingest with a quarantined row) holding an event of orga and one of certx."""
    ingest = None
    event_of = {}  # short name -> event id


# Networks for the matrix's events; test_constituents later sets orga's networks to the same.
EVENT_NETS = {"orga": "10.60.0.0/16", "certx": "10.59.0.0/16"}


def event_fixture(ctx):
    f = EventFixture
    if f.ingest is None:
        for org, net in EVENT_NETS.items():
            ctx.expect(200, "PATCH", "/api/v1/constituents/" + org, "admin", body={"networks": [net]})
        lines = [json.dumps({"source.ip": ip, "classification.type": "scanner", "time.source": "2026-11-20T08:00:00+00:00",
                             "extra.matrix": ctx.tag}) for ip in ("10.60.200.1", "10.59.200.1")]
        lines.append("{this line is not JSON")
        r = ctx.expect(201, "POST", "/api/v1/events?batch=" + ctx.uniq("matrix"), "admin",
                       raw="\n".join(lines) + "\n", headers={"Content-Type": "application/x-ndjson"})
        f.ingest = r.json["ingest_id"]
        items = ctx.expect(200, "GET", "/api/v1/events?ingest=%d" % f.ingest, "admin").json["items"]
        f.event_of = {it["constituent"]: it["id"] for it in items}
        check(set(EVENT_NETS) <= set(f.event_of), "matrix events matched to %r" % f.event_of)
    return f


def own_event(ctx, role):
    return "/api/v1/events/%d" % event_fixture(ctx).event_of[OWN_ORG.get(role, "orga")], None


def fresh_event_batch(ctx, role):
    """A batch of its own per role: one IntelMQ event (a JSON object is one line of JSON lines)."""
    return "/api/v1/events?batch=" + ctx.uniq("mxb"), {"source.ip": "198.18.0.1", "classification.type": "scanner",
                                                        "extra.role": str(role), "extra.matrix": ctx.tag}


def ingest_path(suffix=""):
    return lambda ctx, role: ("/api/v1/ingests/%d%s" % (event_fixture(ctx).ingest, suffix), None)


class NoticeFixture:
    """An incident of orga and certx with one notice to each (the suite's dzong.conf has mail_from)."""
    inc = None
    ticket_of = {}  # short name -> ticket


# One contact per organisation, digests never (so the scheduler queues none of its own).
NOTICE_CONTACTS = {"orga": "abuse@orga.example", "orgb": "abuse@orgb.example", "certx": "soc@certx.example"}


def notice_contacts(ctx):
    for org, email in NOTICE_CONTACTS.items():
        ctx.expect(200, "PATCH", "/api/v1/constituents/" + org, "admin",
                   body={"contacts": [{"name": "Abuse desk", "email": email, "notify_interval": "never",
                                       "max_tlp": "AMBER"}]})


def notice_fixture(ctx):
    f = NoticeFixture
    if f.inc is None:
        notice_contacts(ctx)
        f.inc = ctx.create_incident(title="Notice matrix " + ctx.tag, constituents=["orga", "certx"], tlp="GREEN")["id"]
        out = ctx.expect(201, "POST", "/api/v1/incidents/%s/notify" % f.inc, "admin",
                         body={"constituents": ["orga", "certx"], "text": "matrix notice " + ctx.tag}).json
        f.ticket_of = {n["constituent"]: n["ticket"] for n in out["queued"]}
        check(set(f.ticket_of) == {"orga", "certx"}, "matrix notices queued for %r" % f.ticket_of)
    return f


def own_notice(suffix=""):
    return lambda ctx, role: ("/api/v1/notifications/%s%s" % (notice_fixture(ctx).ticket_of[OWN_ORG.get(role, "orga")],
                                                             suffix), None)


def fresh_notice(ctx, role):
    return "/api/v1/incidents/%s/notify" % notice_fixture(ctx).inc, {"constituents": ["orga"],
                                                                   "text": "matrix notice by %s" % role}


def login_body(ctx, role):
    u = ctx.users[USER_OF[role] if role else "h2"]
    return "/api/v1/session", {"username": u.name, "password": u.password}


def static(path, body=None):
    return lambda ctx, role: (path, body)


def dyn(fn):
    return fn


MATRIX = {
    ("GET", "/healthz"): (static("/healthz"), public(200)),
    ("GET", "/api/v1/openapi.json"): (static("/api/v1/openapi.json"), public(200)),
    ("GET", "/"): (static("/"), public(200)),
    ("GET", "/ui/{file}"): (static("/ui/app.js"), public(200)),
    ("POST", "/api/v1/session"): (login_body, public(201)),
    ("GET", "/api/v1/session"): (static("/api/v1/session"), expected(200, EVERYONE)),
    ("DELETE", "/api/v1/session"): (static("/api/v1/session"), expected(204, EVERYONE)),
    ("POST", "/api/v1/tokens"): (static("/api/v1/tokens", {"label": "matrix"}), expected(201, EVERYONE)),
    ("GET", "/api/v1/incidents"): (static("/api/v1/incidents"), expected(200, STAFF + ("constituent",))),
    ("POST", "/api/v1/incidents"): (lambda ctx, role: ("/api/v1/incidents", {"title": ctx.uniq("matrix create")}),
                                    expected(201, STAFF)),
    ("GET", "/api/v1/incidents/{id}"): (inc_path(), expected(200, STAFF + ("constituent",))),
    ("PATCH", "/api/v1/incidents/{id}"): (lambda ctx, role: (inc_path()(ctx, role)[0], {"tags": ["m-" + str(role)]}),
                                          expected(200, STAFF)),
    ("POST", "/api/v1/incidents/{id}/merge"): (fresh_merge, expected(200, ("admin", "coordinator", "handler"))),
    ("GET", "/api/v1/incidents/{id}/notes"): (inc_path("/notes"), expected(200, STAFF + ("constituent",))),
    ("POST", "/api/v1/incidents/{id}/notes"): (lambda ctx, role: (inc_path("/notes")(ctx, role)[0], {"body": "matrix"}),
                                               expected(201, STAFF + ("constituent",))),
    ("GET", "/api/v1/incidents/{id}/tasks"): (inc_path("/tasks"), expected(200, STAFF)),
    ("POST", "/api/v1/incidents/{id}/tasks"): (lambda ctx, role: (inc_path("/tasks")(ctx, role)[0], {"title": "m"}),
                                               expected(201, STAFF)),
    ("PATCH", "/api/v1/incidents/{id}/tasks/{task}"): (
        lambda ctx, role: ("/api/v1/incidents/%s/tasks/%d" % (fixture(ctx).inc, fixture(ctx).task),
                           {"status": "in_progress"}), expected(200, STAFF)),
    # constituents get the timeline filtered to phases and shared notes (see the isolation tests)
    ("GET", "/api/v1/incidents/{id}/timeline"): (inc_path("/timeline"), expected(200, STAFF + ("constituent",))),
    ("GET", "/api/v1/incidents/{id}/reports"): (inc_path("/reports"), expected(200, STAFF + ("constituent",))),
    ("POST", "/api/v1/incidents/{id}/reports"): (fresh_report_link, expected(200, STAFF)),
    ("GET", "/api/v1/taxonomy"): (static("/api/v1/taxonomy"), expected(200, EVERYONE)),
    ("GET", "/api/v1/reports"): (static("/api/v1/reports"), expected(200, EVERYONE)),
    ("POST", "/api/v1/reports"): (lambda ctx, role: ("/api/v1/reports", {"source": "web", "source_ref": ctx.uniq("file")}),
                                  expected(201, EVERYONE)),
    ("GET", "/api/v1/reports/{id}"): (own_report, expected(200, EVERYONE)),
    ("GET", "/api/v1/constituents"): (static("/api/v1/constituents"), expected(200, EVERYONE)),
    ("POST", "/api/v1/constituents"): (
        lambda ctx, role: ("/api/v1/constituents", {"short_name": ctx.uniq("org"), "name": "Matrix org"}),
        expected(201, ("admin", "coordinator"))),
    ("GET", "/api/v1/constituents/{name}"): (own_constituent, expected(200, EVERYONE)),
    ("PUT", "/api/v1/constituents/{name}"): (fresh_constituent({"name": "Matrix org, renamed", "kind": "ngo"}),
                                             expected(200, ("admin", "coordinator"))),
    ("PATCH", "/api/v1/constituents/{name}"): (fresh_constituent({"networks": ["192.0.2.192/30"]}),
                                               expected(200, ("admin", "coordinator"))),
    ("DELETE", "/api/v1/constituents/{name}"): (fresh_constituent(), expected(204, ("admin", "coordinator"))),
    ("GET", "/api/v1/lookup"): (static("/api/v1/lookup?ip=192.0.2.1"), expected(200, EVERYONE)),
    ("GET", "/api/v1/users"): (static("/api/v1/users"), expected(200, ("admin",))),
    ("POST", "/api/v1/users"): (
        lambda ctx, role: ("/api/v1/users", {"username": ctx.uniq("mxuser"), "role": "analyst",
                                             "password": "matrix-password-123"}), expected(201, ("admin",))),
    ("PATCH", "/api/v1/users/{name}"): (static("/api/v1/users/victim", {"disabled": False}), expected(200, ("admin",))),
    ("GET", "/api/v1/audit"): (static("/api/v1/audit"), expected(200, ("admin", "coordinator"))),
    ("GET", "/api/v1/audit/verify"): (static("/api/v1/audit/verify"), expected(200, ("admin", "coordinator"))),
    ("GET", "/api/v1/events"): (static("/api/v1/events"), expected(200, EVERYONE)),
    ("POST", "/api/v1/events"): (fresh_event_batch, expected(201, STAFF)),
    ("GET", "/api/v1/events/stats"): (static("/api/v1/events/stats"), expected(200, EVERYONE)),
    ("GET", "/api/v1/events/{id}"): (own_event, expected(200, EVERYONE)),
    ("GET", "/api/v1/ingests"): (static("/api/v1/ingests"), expected(200, STAFF)),
    ("GET", "/api/v1/ingests/{id}"): (ingest_path(), expected(200, STAFF)),
    ("GET", "/api/v1/ingests/{id}/quarantine"): (ingest_path("/quarantine"), expected(200, STAFF)),
    ("POST", "/api/v1/incidents/{id}/notify"): (fresh_notice, expected(201, ("admin", "coordinator", "handler"))),
    ("GET", "/api/v1/notifications"): (static("/api/v1/notifications"), expected(200, EVERYONE)),
    ("GET", "/api/v1/notifications/{ticket}"): (own_notice(), expected(200, EVERYONE)),
    ("GET", "/api/v1/notifications/{ticket}/events"): (own_notice("/events"), expected(200, EVERYONE)),
    ("GET", "/api/v1/notifications/{ticket}/message"): (own_notice("/message"), expected(200, STAFF)),
    ("POST", "/api/v1/notifications/{ticket}/ack"): (own_notice("/ack"), expected(200, ("constituent", "partner"))),
}


def make_matrix_test(method, pattern):
    def run(ctx):
        check((method, pattern) in MATRIX, "route %s %s has no row in the access matrix" % (method, pattern))
        prepare, exp = MATRIX[(method, pattern)]
        wrong = []
        for role in ROLES + (None,):
            path, body = prepare(ctx, role)
            token = ctx.users[USER_OF[role]].token if role else None
            kw = {} if body is None else {"body": body}
            r = ctx.req(method, path, token=token, **kw)
            want = exp[role]
            if r.status != want:
                wrong.append("%s: want %d got %s" % (role or "anonymous", want, r.brief()[:160]))
            elif r.status in (401, 403):
                check_problem(r, r.status, None, "%s %s as %s" % (method, path, role))
        check(not wrong, "; ".join(wrong))
    return run


for _m, _p, _pub in ROUTES:
    test("access: %s %s for every role" % (_m, _p))(make_matrix_test(_m, _p))


# ---------------------------------------------------------------- constituent isolation

class Iso:
    a = b = both = None


def iso_set(ctx):
    if Iso.a is None:
        Iso.a = ctx.create_incident(title="Iso A " + ctx.tag, constituents=["orga"], tlp="AMBER")["id"]
        Iso.b = ctx.create_incident(title="Iso B " + ctx.tag, constituents=["orgb"], tlp="GREEN")["id"]
        Iso.both = ctx.create_incident(title="Iso both " + ctx.tag, constituents=["orga", "orgb"])["id"]
        Iso.red = ctx.create_incident(title="Iso red " + ctx.tag, constituents=["orga"], tlp="RED", assignee="h1")["id"]
    return Iso


def all_ids(ctx, as_user, **params):
    ids, cursor = [], None
    for _ in range(200):
        p = dict(params, limit=500)
        if cursor:
            p["cursor"] = cursor
        doc = ctx.expect(200, "GET", "/api/v1/incidents?" + urlencode(p), as_user).json
        ids += [x["id"] for x in doc["items"]]
        cursor = doc["next_cursor"]
        if not cursor:
            return ids
    raise AssertionError("listing does not end")


@test("isolation: a constituent sees only incidents affecting its organisation (others 404, absent from lists)")
def t_iso_read(ctx):
    s = iso_set(ctx)
    eq(ctx.req("GET", "/api/v1/incidents/" + s.a, "ca").status, 200, "ca reads orga incident")
    eq(ctx.req("GET", "/api/v1/incidents/" + s.both, "ca").status, 200, "ca reads orga+orgb incident")
    check_problem(ctx.req("GET", "/api/v1/incidents/" + s.b, "ca"), 404, None, "ca reads orgb incident")
    check_problem(ctx.req("GET", "/api/v1/incidents/" + s.red, "ca"), 404, None, "ca reads its own org's TLP:RED incident")
    check_problem(ctx.req("GET", "/api/v1/incidents/" + s.a, "cb"), 404, None, "cb reads orga incident")
    ids = all_ids(ctx, "ca")
    check(s.a in ids and s.both in ids, "ca's list lacks its incidents")
    check(s.b not in ids and s.red not in ids, "ca's list shows an incident of another org or a RED one")
    for iid in ids:
        inc = ctx.expect(200, "GET", "/api/v1/incidents/" + iid, "admin").json
        check("orga" in inc["constituents"] and inc["tlp"] != "RED", "ca's list holds %s (%r, %s)"
              % (iid, inc["constituents"], inc["tlp"]))
    ids = all_ids(ctx, "ca", q="Iso B " + ctx.tag)
    eq(ids, [], "ca searching for orgb's incident")
    ids = all_ids(ctx, "ca", constituent="orgb")
    check(s.both in ids and s.b not in ids, "ca filtering constituent=orgb: %r" % ids)
    for iid in ids:
        inc = ctx.expect(200, "GET", "/api/v1/incidents/" + iid, "admin").json
        check({"orga", "orgb"} <= set(inc["constituents"]), "ca's constituent=orgb list holds %s %r"
              % (iid, inc["constituents"]))
    ids = all_ids(ctx, "cb", q="Iso ")
    check(s.b in ids and s.both in ids and s.a not in ids, "cb's list: %r" % ids)
    for sub in ("notes", "timeline", "reports"):
        check_problem(ctx.req("GET", "/api/v1/incidents/%s/%s" % (s.b, sub), "ca"), 404, None, "ca GET orgb %s" % sub)
    check_problem(ctx.req("POST", "/api/v1/incidents/%s/notes" % s.b, "ca", body={"body": "hi"}), 404, None,
                  "ca note on orgb incident")
    # constituents list: own organisation only
    items = ctx.expect(200, "GET", "/api/v1/constituents", "ca").json["items"]
    eq([c["short_name"] for c in items], ["orga"], "constituents visible to ca")
    items = ctx.expect(200, "GET", "/api/v1/constituents", "pa").json["items"]
    eq([c["short_name"] for c in items], ["certx"], "constituents visible to pa")
    items = ctx.expect(200, "GET", "/api/v1/constituents", "h1").json["items"]
    check({"orga", "orgb", "certx"} <= {c["short_name"] for c in items}, "staff see all constituents")


@test("isolation: a constituent sees only shared notes; its own notes are always shared")
def t_iso_notes(ctx):
    s = iso_set(ctx)
    internal = ctx.expect(201, "POST", "/api/v1/incidents/%s/notes" % s.a, "h1", body={"body": "internal " + ctx.tag}).json
    shared = ctx.expect(201, "POST", "/api/v1/incidents/%s/notes" % s.a, "h1",
                        body={"body": "shared " + ctx.tag, "shared": True}).json
    mine = ctx.expect(201, "POST", "/api/v1/incidents/%s/notes" % s.a, "ca",
                      body={"body": "from orga", "visibility": "internal"}).json
    eq((mine["shared"], mine["author"]), (True, "ca"), "a constituent's note is forced shared")
    ids = [n["id"] for n in ctx.expect(200, "GET", "/api/v1/incidents/%s/notes" % s.a, "ca").json["items"]]
    check(internal["id"] not in ids, "ca sees an internal note")
    check(shared["id"] in ids and mine["id"] in ids, "ca misses shared notes: %r" % ids)
    ids = [n["id"] for n in ctx.expect(200, "GET", "/api/v1/incidents/%s/notes" % s.a, "h2").json["items"]]
    check({internal["id"], shared["id"], mine["id"]} <= set(ids), "staff miss notes")


@test("isolation: a constituent's timeline shows phases and shared notes only")
def t_iso_timeline(ctx):
    s = iso_set(ctx)
    ctx.patch_incident(s.a, "h1", status="triage", severity="high", assignee="h2")
    ctx.expect(201, "POST", "/api/v1/incidents/%s/notes" % s.a, "h1", body={"body": "secret"})
    ctx.expect(201, "POST", "/api/v1/incidents/%s/tasks" % s.a, "h1", body={"title": "secret task"})
    tl = ctx.expect(200, "GET", "/api/v1/incidents/%s/timeline" % s.a, "ca").json["items"]
    kinds = {(e["kind"], e["field"]) for e in tl}
    check(("status", "status") in kinds and any(k == "created" for k, _ in kinds), "ca's timeline lacks phases: %r" % kinds)
    bad = [k for k in kinds if not (k[0] in ("created", "status") or k == ("note", "shared"))]
    check(not bad, "ca's timeline shows internal entries %r" % bad)
    full = ctx.expect(200, "GET", "/api/v1/incidents/%s/timeline" % s.a, "h1").json["items"]
    check(len(full) > len(tl), "staff timeline is not fuller than the constituent's")


@test("isolation: a constituent cannot PATCH, merge, link or touch tasks (403), even on its own incidents")
def t_iso_write(ctx):
    s = iso_set(ctx)
    for method, path, body in (("PATCH", "/api/v1/incidents/" + s.a, {"status": "rejected"}),
                               ("POST", "/api/v1/incidents/%s/merge" % s.a, {"from": [s.both]}),
                               ("POST", "/api/v1/incidents/%s/merge" % s.a, {"into": s.both}),
                               ("GET", "/api/v1/incidents/%s/tasks" % s.a, None),
                               ("POST", "/api/v1/incidents/%s/tasks" % s.a, {"title": "t"}),
                               ("PATCH", "/api/v1/incidents/%s/tasks/1" % s.a, {"status": "done"}),
                               ("POST", "/api/v1/incidents/%s/reports" % s.a, {"report": "x"}),
                               ("POST", "/api/v1/incidents", {"title": "by a constituent"})):
        kw = {} if body is None else {"body": body}
        check_problem(ctx.req(method, path, "ca", **kw), 403, None, "ca %s %s" % (method, path))
    a = ctx.expect(200, "GET", "/api/v1/incidents/" + s.a, "admin").json
    check(a["status"] != "rejected" and a["status"] != "duplicate", "a refused write changed the incident: %s" % a["status"])
    r = ctx.req("POST", "/api/v1/reports", "ca", body={"source": "web", "source_ref": ctx.uniq("x"), "constituent": "orgb"})
    check_problem(r, 403, "orga", "ca filing for orgb")
    r = ctx.req("POST", "/api/v1/reports", "ca", body={"source": "web", "source_ref": ctx.uniq("x"), "incident": s.a})
    check_problem(r, 403, "incident", "ca filing a report linked to an incident")
    r = ctx.req("POST", "/api/v1/reports", "pa", body={"source": "web", "source_ref": ctx.uniq("x"), "constituent": "orga"})
    check_problem(r, 403, "certx", "partner filing for another org")
    check_problem(ctx.req("GET", "/api/v1/incidents/" + s.a, "pa"), 403, None, "partner reads incidents")


@test("isolation: constituents and partners read only their organisation's reports")
def t_iso_reports(ctx):
    ref = ctx.uniq("shared-ref")
    ra = ctx.expect(201, "POST", "/api/v1/reports", "ca", body={"source": "web", "source_ref": ref}).json
    eq((ra["created_by"], ra["filed_by_org"], ra["constituent"]), ("ca", "orga", None), "report filed by ca")
    rp = ctx.expect(201, "POST", "/api/v1/reports", "pa", body={"source": "certx", "source_ref": ctx.uniq("p")}).json
    rs = ctx.expect(201, "POST", "/api/v1/reports", "h1", body={"source": "web", "source_ref": ctx.uniq("s")}).json
    def listed(user):
        ids, cursor = [], None
        for _ in range(50):
            doc = ctx.expect(200, "GET", "/api/v1/reports?limit=500" + ("&cursor=" + cursor if cursor else ""), user).json
            ids += [x["id"] for x in doc["items"]]
            cursor = doc["next_cursor"]
            if not cursor:
                break
        return ids
    ca_ids, pa_ids, cb_ids, h_ids = listed("ca"), listed("pa"), listed("cb"), listed("h2")
    check(ra["id"] in ca_ids and rp["id"] not in ca_ids and rs["id"] not in ca_ids, "ca's reports: %r" % ca_ids[:10])
    check(rp["id"] in pa_ids and ra["id"] not in pa_ids, "pa's reports: %r" % pa_ids[:10])
    check(ra["id"] not in cb_ids, "cb sees orga's report")
    check({ra["id"], rp["id"], rs["id"]} <= set(h_ids), "staff miss reports")
    for rid in ca_ids:
        eq(ctx.expect(200, "GET", "/api/v1/reports/" + rid, "ca").json["filed_by_org"], "orga", "filed_by_org of %s" % rid)
    check_problem(ctx.req("GET", "/api/v1/reports/" + rs["id"], "ca"), 404, None, "ca GET staff report")
    check_problem(ctx.req("GET", "/api/v1/reports/" + ra["id"], "pa"), 404, None, "pa GET orga report")
    # a resubmission by another organisation must not reveal the report
    r = ctx.req("POST", "/api/v1/reports", "cb", body={"source": "web", "source_ref": ref})
    check_problem(r, 409, None, "cb resubmitting orga's source_ref")
    check(ra["id"] not in r.body.decode(), "the 409 reveals the other organisation's report id")
    r = ctx.req("POST", "/api/v1/reports", "ca", body={"source": "web", "source_ref": ref})
    eq((r.status, r.json.get("id")), (200, ra["id"]), "ca resubmitting its own report")


# ---------------------------------------------------------------- TLP:RED

@test("TLP:RED: visible only to the assignee, coordinators and admins")
def t_red(ctx):
    red = ctx.create_incident(as_user="coord", title="Red " + ctx.tag, tlp="RED", assignee="h1", constituents=["orga"])
    iid = red["id"]
    for user, want in (("admin", 200), ("coord", 200), ("h1", 200), ("h2", 404), ("an1", 404), ("ca", 404)):
        r = ctx.req("GET", "/api/v1/incidents/" + iid, user)
        eq(r.status, want, "GET RED incident as %s" % user)
    for user, want in (("admin", True), ("coord", True), ("h1", True), ("h2", False), ("an1", False), ("ca", False)):
        ids = all_ids(ctx, user, q="Red " + ctx.tag)
        eq(iid in ids, want, "RED incident in %s's list" % user)
        ids = all_ids(ctx, user, tlp="RED")
        eq(iid in ids, want, "RED incident in %s's tlp=RED list" % user)
    for method, sub, body in (("GET", "/notes", None), ("GET", "/timeline", None), ("GET", "/tasks", None),
                              ("GET", "/reports", None), ("PATCH", "", {"title": "stolen"}),
                              ("POST", "/notes", {"body": "x"}), ("POST", "/tasks", {"title": "x"})):
        kw = {} if body is None else {"body": body}
        check_problem(ctx.req(method, "/api/v1/incidents/%s%s" % (iid, sub), "h2", **kw), 404, None,
                      "h2 %s RED incident%s" % (method, sub))
    other = ctx.create_incident(title="Red merge partner " + ctx.tag)
    check_problem(ctx.req("POST", "/api/v1/incidents/%s/merge" % other["id"], "h2", body={"from": [iid]}), 404, None,
                  "h2 merging the RED incident away")
    check_problem(ctx.req("POST", "/api/v1/incidents/%s/merge" % iid, "h2", body={"into": other["id"]}), 404, None,
                  "h2 merging the RED incident into another")
    eq(ctx.expect(200, "GET", "/api/v1/incidents/" + iid, "admin").json["status"], "new", "RED incident after refusals")
    # linking a report to it, either way, is refused like for an incident that does not exist
    rep = ctx.expect(201, "POST", "/api/v1/reports", "h2", body={"source": "web", "source_ref": ctx.uniq("red")}).json
    check_problem(ctx.req("POST", "/api/v1/incidents/%s/reports" % iid, "h2", body={"report": rep["id"]}), 404, None,
                  "h2 linking a report to the RED incident")
    ref = ctx.uniq("red")
    r = ctx.req("POST", "/api/v1/reports", "h2", body={"source": "web", "source_ref": ref, "incident": iid})
    nonexistent = ctx.req("POST", "/api/v1/reports", "h2", body={"source": "web", "source_ref": ctx.uniq("red"),
                                                                 "incident": "%s-1999-00001" % ctx.prefix})
    check_problem(nonexistent, 400, "incident", "filing a report for an unknown incident")
    check_problem(r, 400, "incident", "h2 filing a report into the RED incident")
    eq(r.json["detail"].replace(iid, "X"), nonexistent.json["detail"].replace("%s-1999-00001" % ctx.prefix, "X"),
       "refusal for an invisible incident must read like the one for a missing incident")
    linked = ctx.expect(200, "GET", "/api/v1/incidents/%s/reports" % iid, "admin").json["items"]
    eq(linked, [], "reports linked to the RED incident after refusals")
    eq([e for e in ctx.expect(200, "GET", "/api/v1/incidents/%s/timeline" % iid, "admin").json["items"]
        if e["kind"] == "report"], [], "report entries in the RED incident's timeline")
    eq(ctx.req("POST", "/api/v1/reports", "h1", body={"source": "web", "source_ref": ctx.uniq("red"),
                                                       "incident": iid}).status, 201, "its assignee files a report into it")
    # reassigning moves visibility
    ctx.patch_incident(iid, "coord", assignee="h2")
    eq(ctx.req("GET", "/api/v1/incidents/" + iid, "h2").status, 200, "new assignee h2 reads it")
    eq(ctx.req("GET", "/api/v1/incidents/" + iid, "h1").status, 404, "former assignee h1 no longer reads it")
    # lowering the TLP makes it visible to all staff
    ctx.patch_incident(iid, "coord", tlp="AMBER")
    eq(ctx.req("GET", "/api/v1/incidents/" + iid, "an1").status, 200, "analyst reads it once AMBER")


@test("TLP:RED: a PATCH that takes the incident out of the caller's sight is answered 200 with the new state")
def t_red_handover(ctx):
    inc = ctx.create_incident(as_user="h1", title="Hand over " + ctx.tag, tlp="RED")
    eq(inc["assignee"], "h1", "opener is the assignee")
    r = ctx.req("PATCH", "/api/v1/incidents/" + inc["id"], "h1", body={"assignee": "h2"})
    eq(r.status, 200, "h1 handing its RED incident to h2 (%s)" % r.brief())
    eq((r.json["id"], r.json["assignee"]), (inc["id"], "h2"), "answer to the hand-over")
    eq(ctx.req("GET", "/api/v1/incidents/" + inc["id"], "h1").status, 404, "h1 after the hand-over")
    eq(ctx.req("GET", "/api/v1/incidents/" + inc["id"], "h2").status, 200, "h2 after the hand-over")
    amber = ctx.create_incident(as_user="an1", title="Goes red " + ctx.tag)
    r = ctx.req("PATCH", "/api/v1/incidents/" + amber["id"], "an1", body={"tlp": "RED", "assignee": "h1"})
    eq(r.status, 200, "an1 marking an incident RED for h1 (%s)" % r.brief())
    eq((r.json["tlp"], r.json["assignee"]), ("RED", "h1"), "answer to the marking")
    got = ctx.expect(200, "GET", "/api/v1/incidents/" + amber["id"], "admin").json
    eq((got["tlp"], got["assignee"]), ("RED", "h1"), "stored state")
    # marking an unassigned incident RED: the marker takes it, as on create
    amber = ctx.create_incident(as_user="admin", title="Marked red " + ctx.tag)
    r = ctx.req("PATCH", "/api/v1/incidents/" + amber["id"], "h2", body={"tlp": "RED"})
    eq(r.status, 200, "h2 marking an unassigned incident RED (%s)" % r.brief())
    eq((r.json["tlp"], r.json["assignee"]), ("RED", "h2"), "answer to the marking")
    eq(ctx.req("GET", "/api/v1/incidents/" + amber["id"], "h2").status, 200, "h2 still reads it")
    eq(ctx.req("GET", "/api/v1/incidents/" + amber["id"], "h1").status, 404, "h1 does not")


@test("TLP:RED: a handler opening a RED incident without assignee is assigned to it")
def t_red_autoassign(ctx):
    inc = ctx.create_incident(as_user="h2", title="Own red " + ctx.tag, tlp="RED")
    eq(inc["assignee"], "h2", "assignee of a RED incident opened by a handler")
    eq(ctx.req("GET", "/api/v1/incidents/" + inc["id"], "h2").status, 200, "its opener reads it")
    eq(ctx.req("GET", "/api/v1/incidents/" + inc["id"], "h1").status, 404, "another handler does not")
    inc = ctx.create_incident(as_user="coord", title="Coord red " + ctx.tag, tlp="RED")
    eq(inc["assignee"], None, "a coordinator's RED incident stays unassigned")
