"""The incident desk with a bearer token: lifecycle, timeline, notes, tasks, listing, merges, reports."""
from urllib.parse import quote, urlencode

from harness import ID_RE, ISO_RE, REPORT_ID_RE, check, check_problem, eq, iso, parse_iso, test

INCIDENT_FIELDS = ("id", "title", "description", "classification", "tlp", "pap", "severity", "status",
                   "constituents", "assignee", "tags", "due_at", "created_at", "updated_at")

DUE = {"critical": 4 * 3600, "high": 24 * 3600, "medium": 3 * 86400, "low": 7 * 86400}


def timeline(ctx, iid, as_user="admin"):
    return ctx.expect(200, "GET", "/api/v1/incidents/%s/timeline" % iid, as_user).json["items"]


def list_ids(ctx, as_user="admin", **params):
    r = ctx.expect(200, "GET", "/api/v1/incidents?" + urlencode(params), as_user)
    return [it["id"] for it in r.json["items"]], r.json


@test("incidents: create answers 201 with Location and every field")
def t_create(ctx):
    body = {"title": "Phishing wave against " + ctx.tag, "description": "Mails with\na fake login page",
            "classification": {"taxonomy": "fraud", "type": "phishing"}, "tlp": "GREEN", "pap": "AMBER",
            "severity": "high", "constituents": ["orgb", "orga"], "assignee": "h1", "tags": ["mail", "phish"]}
    r = ctx.req("POST", "/api/v1/incidents", "h1", body=body)
    eq(r.status, 201, "status")
    inc = r.json
    missing = [f for f in INCIDENT_FIELDS if f not in inc]
    check(not missing, "missing fields %s in %r" % (missing, inc))
    check(ID_RE.match(inc["id"]), "id %r does not match PREFIX-YYYY-NNNNN" % inc["id"])
    check(inc["id"].startswith(ctx.prefix + "-"), "id %r lacks prefix %s" % (inc["id"], ctx.prefix))
    eq(r.header("Location"), "/api/v1/incidents/" + inc["id"], "Location")
    eq(inc["title"], body["title"], "title")
    eq(inc["description"], body["description"], "description")
    eq(inc["classification"], {"taxonomy": "fraud", "type": "phishing"}, "classification")
    eq(inc["tlp"], "GREEN", "tlp")
    eq(inc["pap"], "AMBER", "pap")
    eq(inc["severity"], "high", "severity")
    eq(inc["status"], "new", "status")
    eq(inc["constituents"], ["orga", "orgb"], "constituents (sorted)")
    eq(inc["assignee"], "h1", "assignee")
    eq(sorted(inc["tags"]), ["mail", "phish"], "tags")
    for f in ("due_at", "created_at", "updated_at"):
        check(isinstance(inc[f], str) and ISO_RE.match(inc[f]), "%s %r is not an ISO-8601 UTC time" % (f, inc[f]))
    eq(inc["created_at"], inc["updated_at"], "updated_at of a fresh incident")
    eq(inc.get("created_by"), "h1", "created_by")
    eq(inc.get("duplicate_of"), None, "duplicate_of")


@test("incidents: create applies defaults (AMBER, medium, other/undetermined, no assignee)")
def t_create_defaults(ctx):
    inc = ctx.create_incident(title="Defaults " + ctx.tag)
    eq(inc["tlp"], "AMBER", "tlp")
    eq(inc["pap"], "AMBER", "pap")
    eq(inc["severity"], "medium", "severity")
    eq(inc["classification"], {"taxonomy": "other", "type": "undetermined"}, "classification")
    eq(inc["assignee"], None, "assignee")
    eq(inc["constituents"], [], "constituents")
    eq(inc["tags"], [], "tags")
    eq(inc["description"], "", "description")
    r = ctx.req("POST", "/api/v1/incidents", "admin", body={"title": "x", "status": "triage"})
    check_problem(r, 400, "status", "create with status triage")
    r = ctx.req("POST", "/api/v1/incidents", "admin", body={"description": "no title"})
    check_problem(r, 400, "title", "create without title")


@test("incidents: get returns what create stored, unknown id is 404 problem")
def t_get(ctx):
    inc = ctx.create_incident(title="Get me " + ctx.tag, severity="low", tags=["x"])
    got = ctx.expect(200, "GET", "/api/v1/incidents/" + inc["id"], "an1").json
    for f in INCIDENT_FIELDS:
        eq(got.get(f), inc[f], "field %s" % f)
    check("metrics" in got and got["metrics"]["time_to_triage_s"] is None, "metrics of a new incident: %r" % got.get("metrics"))
    r = ctx.req("GET", "/api/v1/incidents/%s-1999-99999" % ctx.prefix, "admin")
    check_problem(r, 404, "no incident", "unknown incident")


@test("incidents: status walks new>triage>analysis>mitigation>recovery>closed, timeline and metrics follow")
def t_lifecycle(ctx):
    inc = ctx.create_incident(as_user="coord", title="Lifecycle " + ctx.tag, severity="high")
    iid = inc["id"]
    phases = ["triage", "analysis", "mitigation", "recovery", "closed"]
    actors = {"triage": "h1", "analysis": "h2", "mitigation": "an1", "recovery": "coord", "closed": "admin"}
    prev = "new"
    for ph in phases:
        out = ctx.patch_incident(iid, actors[ph], status=ph)
        eq(out["status"], ph, "status after PATCH to %s" % ph)
        got = ctx.expect(200, "GET", "/api/v1/incidents/" + iid, "admin").json
        eq(got["status"], ph, "GET status after PATCH to %s" % ph)
        if ph == "triage":
            tt = got["metrics"]["time_to_triage_s"]
            check(isinstance(tt, int) and tt >= 0, "metrics.time_to_triage_s after triage is %r" % tt)
            eq(got["metrics"]["time_to_close_s"], None, "time_to_close_s before closing")
        prev = ph
    got = ctx.expect(200, "GET", "/api/v1/incidents/" + iid, "admin").json
    check(isinstance(got["metrics"]["time_to_close_s"], int), "time_to_close_s after closing: %r" % got["metrics"])
    tl = timeline(ctx, iid)
    eq(tl[0]["kind"], "created", "first timeline entry kind")
    eq(tl[0]["actor"], "coord", "creator in timeline")
    status_moves = [(e["old_value"], e["new_value"], e["actor"]) for e in tl if e["kind"] == "status"]
    want, prev = [], "new"
    for ph in phases:
        want.append((prev, ph, actors[ph]))
        prev = ph
    eq(status_moves, want, "status entries (old, new, actor) in the timeline")
    for e in tl:
        check(e.get("actor") and ISO_RE.match(e.get("at") or ""), "timeline entry without actor/time: %r" % e)
    # closed -> triage reopens
    eq(ctx.patch_incident(iid, "h1", status="triage")["status"], "triage", "reopen closed incident")


@test("incidents: an illegal transition is 409 problem naming the allowed targets")
def t_illegal_transition(ctx):
    inc = ctx.create_incident(title="Illegal " + ctx.tag)
    r = ctx.req("PATCH", "/api/v1/incidents/" + inc["id"], "h1", body={"status": "closed"})
    doc = check_problem(r, 409, ["new", "closed", "triage", "rejected"], "new->closed")
    check("mitigation" not in doc["detail"], "detail lists a target not allowed from new: %r" % doc["detail"])
    r = ctx.req("PATCH", "/api/v1/incidents/" + inc["id"], "h1", body={"status": "duplicate"})
    check_problem(r, 409, "merg", "new->duplicate")
    eq(ctx.expect(200, "GET", "/api/v1/incidents/" + inc["id"], "h1").json["status"], "new", "status after refusals")
    eq([e for e in timeline(ctx, inc["id"]) if e["kind"] == "status"], [], "refused moves must not reach the timeline")
    r = ctx.req("PATCH", "/api/v1/incidents/" + inc["id"], "h1", body={"status": "sleeping"})
    check_problem(r, 400, "status", "unknown status")


@test("incidents: every field change is in the timeline with its actor; a no-op PATCH writes nothing")
def t_timeline_fields(ctx):
    inc = ctx.create_incident(title="Fields " + ctx.tag)
    iid = inc["id"]
    ctx.patch_incident(iid, "h2", tlp="RED", assignee="h2")  # RED stays visible to h2: its assignee
    ctx.patch_incident(iid, "h2", severity="critical", title="Fields renamed " + ctx.tag)
    ctx.patch_incident(iid, "h2", constituents=["orga"], tags=["t1"])
    tl = timeline(ctx, iid)
    seen = {}
    for e in tl:
        seen.setdefault(e["field"], e)
    for field, old, new in (("tlp", "AMBER", "RED"), ("assignee", None, "h2"), ("severity", "medium", "critical"),
                            ("title", inc["title"], "Fields renamed " + ctx.tag), ("constituents", "", "orga"),
                            ("tags", "", "t1")):
        e = seen.get(field)
        check(e is not None, "no timeline entry for %s in %r" % (field, [x["field"] for x in tl]))
        eq((e["old_value"], e["new_value"], e["actor"]), (old, new, "h2"), "timeline entry for %s" % field)
    before = ctx.expect(200, "GET", "/api/v1/incidents/" + iid, "admin").json
    n = len(tl)
    ctx.patch_incident(iid, "h2", severity="critical")
    eq(len(timeline(ctx, iid)), n, "timeline length after a PATCH that changes nothing")
    after = ctx.expect(200, "GET", "/api/v1/incidents/" + iid, "admin").json
    eq(after["updated_at"], before["updated_at"], "updated_at after a no-op PATCH")
    # a GET body sent back as a PATCH is accepted (computed fields ignored)
    back = dict(after)
    back["description"] = "round trip"
    out = ctx.patch_incident(iid, "admin", **back)
    eq(out["description"], "round trip", "PATCH with a GET body")


@test("incidents: notes, internal and shared")
def t_notes(ctx):
    inc = ctx.create_incident(title="Notes " + ctx.tag, constituents=["orga"])
    iid = inc["id"]
    r = ctx.req("POST", "/api/v1/incidents/%s/notes" % iid, "h1", body={"body": "internal only", "visibility": "internal"})
    eq(r.status, 201, "internal note status (%s)" % r.brief())
    n1 = r.json
    eq((n1["author"], n1["body"], n1["shared"], n1["visibility"]), ("h1", "internal only", False, "internal"), "internal note")
    n2 = ctx.expect(201, "POST", "/api/v1/incidents/%s/notes" % iid, "an1", body={"body": "for the org", "shared": True}).json
    eq((n2["shared"], n2["visibility"]), (True, "shared"), "shared note")
    n3 = ctx.expect(201, "POST", "/api/v1/incidents/%s/notes" % iid, "h1", body={"body": "default"}).json
    eq(n3["shared"], False, "a note is internal unless said otherwise")
    items = ctx.expect(200, "GET", "/api/v1/incidents/%s/notes" % iid, "h2").json["items"]
    eq([n["id"] for n in items], [n1["id"], n2["id"], n3["id"]], "staff see every note in order")
    tl = [e for e in timeline(ctx, iid) if e["kind"] == "note"]
    eq([(e["field"], e["actor"]) for e in tl], [("internal", "h1"), ("shared", "an1"), ("internal", "h1")], "note timeline")
    r = ctx.req("POST", "/api/v1/incidents/%s/notes" % iid, "h1", body={"body": "x", "shared": True, "visibility": "internal"})
    check_problem(r, 400, ["shared", "visibility"], "contradicting shared/visibility")
    r = ctx.req("POST", "/api/v1/incidents/%s/notes" % iid, "h1", body={"body": ""})
    check_problem(r, 400, "body", "empty note")


@test("incidents: tasks are created open and patched to done")
def t_tasks(ctx):
    inc = ctx.create_incident(title="Tasks " + ctx.tag)
    iid = inc["id"]
    t = ctx.expect(201, "POST", "/api/v1/incidents/%s/tasks" % iid, "h1",
                   body={"title": "Block the C2 address", "assignee": "h2", "due_at": "2031-01-02T03:04:05Z"}).json
    eq((t["title"], t["status"], t["assignee"], t["due_at"]), ("Block the C2 address", "open", "h2", "2031-01-02T03:04:05Z"),
       "created task")
    check(isinstance(t["id"], int), "task id %r" % t["id"])
    t2 = ctx.expect(200, "PATCH", "/api/v1/incidents/%s/tasks/%d" % (iid, t["id"]), "an1", body={"status": "done"}).json
    eq((t2["status"], t2["title"], t2["assignee"]), ("done", "Block the C2 address", "h2"), "task after PATCH status")
    items = ctx.expect(200, "GET", "/api/v1/incidents/%s/tasks" % iid, "admin").json["items"]
    eq([(x["id"], x["status"]) for x in items], [(t["id"], "done")], "task list")
    kinds = [(e["kind"], e["field"], e["actor"]) for e in timeline(ctx, iid) if e["kind"] == "task"]
    eq(kinds, [("task", "created", "h1"), ("task", "done", "an1")], "task timeline")
    other = ctx.create_incident(title="Other " + ctx.tag)
    r = ctx.req("PATCH", "/api/v1/incidents/%s/tasks/%d" % (other["id"], t["id"]), "admin", body={"status": "open"})
    check_problem(r, 404, None, "task of another incident")
    r = ctx.req("PATCH", "/api/v1/incidents/%s/tasks/999999" % iid, "admin", body={"status": "open"})
    check_problem(r, 404, None, "unknown task")
    r = ctx.req("PATCH", "/api/v1/incidents/%s/tasks/%d" % (iid, t["id"]), "admin", body={"status": "finished"})
    check_problem(r, 400, "status", "bad task status")
    r = ctx.req("POST", "/api/v1/incidents/%s/tasks" % iid, "admin", body={"status": "open"})
    check_problem(r, 400, "title", "task without title")
    r = ctx.req("POST", "/api/v1/incidents/%s/tasks" % iid, "admin", body={"title": "x", "assignee": "ca"})
    check_problem(r, 400, "assignee", "task assigned to a constituent user")


class ListSet:
    """Seven incidents that only this run's list tests match (q=word)."""
    data = None


def list_set(ctx):
    if ListSet.data:
        return ListSet.data
    word = "zqlist" + ctx.tag
    specs = [
        dict(severity="low", tlp="GREEN", constituents=["orga"], assignee="h1"),
        dict(severity="critical", tlp="AMBER", constituents=["orgb"]),
        dict(severity="medium", tlp="GREEN", constituents=["orga", "orgb"], assignee="h2"),
        dict(severity="high", tlp="CLEAR", constituents=[]),
        dict(severity="critical", tlp="AMBER", constituents=["orga"], assignee="h1"),
        dict(severity="low", tlp="AMBER+STRICT", constituents=["orgb"]),
        dict(severity="medium", tlp="GREEN", constituents=[], assignee="an1"),
    ]
    incs = []
    for i, s in enumerate(specs):
        incs.append(ctx.create_incident(title="%s item %d" % (word.upper() if i % 2 else word, i),
                                        description="needle-%d" % i, **s))
    ctx.patch_incident(incs[1]["id"], status="triage")
    ctx.patch_incident(incs[4]["id"], status="triage")
    ctx.patch_incident(incs[4]["id"], status="analysis")
    ctx.patch_incident(incs[5]["id"], status="rejected")
    ListSet.data = (word, [ctx.expect(200, "GET", "/api/v1/incidents/" + x["id"], "admin").json for x in incs])
    return ListSet.data


def expect_filter(ctx, word, incs, params, pred, what):
    got, _ = list_ids(ctx, q=word, limit=100, **params)
    want = [x["id"] for x in incs if pred(x)]
    check(want, "test bug: filter %s selects nothing" % what)
    eq(sorted(got), sorted(want), "filter %s" % what)


@test("incidents: list q finds title (any case), description and id")
def t_list_q(ctx):
    word, incs = list_set(ctx)
    got, doc = list_ids(ctx, q=word, limit=100)
    eq(sorted(got), sorted(x["id"] for x in incs), "q=word (mixed case titles)")
    check("next_cursor" in doc and doc["next_cursor"] is None, "next_cursor of a complete page: %r" % doc.get("next_cursor"))
    got, _ = list_ids(ctx, q="NEEDLE-3")
    eq(got, [incs[3]["id"]], "q matching a description")
    got, _ = list_ids(ctx, q=incs[2]["id"])
    eq(got, [incs[2]["id"]], "q=public id")
    got, _ = list_ids(ctx, q=word + "%")
    eq(got, [], "q with a LIKE wildcard must match literally")


@test("incidents: list filters status (incl. open), severity, constituent, assignee, tlp")
def t_list_filters(ctx):
    word, incs = list_set(ctx)
    expect_filter(ctx, word, incs, {"status": "triage"}, lambda x: x["status"] == "triage", "status=triage")
    expect_filter(ctx, word, incs, {"status": "new,analysis"}, lambda x: x["status"] in ("new", "analysis"), "status=new,analysis")
    expect_filter(ctx, word, incs, {"status": "open"}, lambda x: x["status"] != "rejected", "status=open")
    expect_filter(ctx, word, incs, {"severity": "critical"}, lambda x: x["severity"] == "critical", "severity=critical")
    expect_filter(ctx, word, incs, {"severity": "low,high"}, lambda x: x["severity"] in ("low", "high"), "severity=low,high")
    expect_filter(ctx, word, incs, {"constituent": "orga"}, lambda x: "orga" in x["constituents"], "constituent=orga")
    expect_filter(ctx, word, incs, {"assignee": "h1"}, lambda x: x["assignee"] == "h1", "assignee=h1")
    expect_filter(ctx, word, incs, {"assignee": "none"}, lambda x: x["assignee"] is None, "assignee=none")
    expect_filter(ctx, word, incs, {"tlp": "GREEN"}, lambda x: x["tlp"] == "GREEN", "tlp=GREEN")
    expect_filter(ctx, word, incs, {"tlp": "amber+strict"}, lambda x: x["tlp"] == "AMBER+STRICT", "tlp=amber+strict")
    expect_filter(ctx, word, incs, {"tlp": "AMBER", "severity": "critical", "status": "triage"},
                  lambda x: x["tlp"] == "AMBER" and x["severity"] == "critical" and x["status"] == "triage", "combined")
    r = ctx.req("GET", "/api/v1/incidents?status=bogus", "admin")
    check_problem(r, 400, "status", "status=bogus")
    r = ctx.req("GET", "/api/v1/incidents?severity=extreme", "admin")
    check_problem(r, 400, "severity", "severity=extreme")
    r = ctx.req("GET", "/api/v1/incidents?tlp=PURPLE", "admin")
    check_problem(r, 400, "tlp", "tlp=PURPLE")


@test("incidents: list created_after/created_before bound the creation time")
def t_list_created(ctx):
    word, incs = list_set(ctx)
    first = min(parse_iso(x["created_at"]) for x in incs)
    last = max(parse_iso(x["created_at"]) for x in incs)
    expect_filter(ctx, word, incs, {"created_after": iso(first)}, lambda x: True, "created_after=first")
    got, _ = list_ids(ctx, q=word, created_after=iso(last + 1))
    eq(got, [], "created_after after the last creation")
    got, _ = list_ids(ctx, q=word, created_before=iso(first))
    eq(got, [], "created_before the first creation")
    expect_filter(ctx, word, incs, {"created_after": iso(last)}, lambda x: parse_iso(x["created_at"]) >= last,
                  "created_after=last")
    r = ctx.req("GET", "/api/v1/incidents?created_after=yesterday", "admin")
    check_problem(r, 400, "created_after", "created_after=yesterday")


SEV = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@test("incidents: list sorts by severity, created_at, due_at both ways; unknown sort is 400")
def t_list_sort(ctx):
    word, incs = list_set(ctx)
    by_id = {x["id"]: x for x in incs}
    for sort, key, rev in (("severity", lambda x: SEV[x["severity"]], False), ("-severity", lambda x: SEV[x["severity"]], True),
                           ("created_at", lambda x: x["created_at"], False), ("-created_at", lambda x: x["created_at"], True),
                           ("due_at", lambda x: x["due_at"], False), ("-due_at", lambda x: x["due_at"], True)):
        got, _ = list_ids(ctx, q=word, sort=sort, limit=100)
        eq(sorted(got), sorted(by_id), "members with sort=%s" % sort)
        keys = [key(by_id[i]) for i in got]
        eq(keys, sorted(keys, reverse=rev), "order of sort=%s" % sort)
    # default: newest first, ties by id descending
    got, _ = list_ids(ctx, q=word, limit=100)
    eq(got, [x["id"] for x in sorted(incs, key=lambda x: (x["created_at"], x["id"]), reverse=True)], "default order")
    r = ctx.req("GET", "/api/v1/incidents?sort=title", "admin")
    check_problem(r, 400, "sort", "sort=title")


@test("incidents: cursor pagination with limit=2 walks every page once, in every sort")
def t_list_cursor(ctx):
    word, incs = list_set(ctx)
    want = sorted(x["id"] for x in incs)
    for sort in ("-created_at", "severity", "-severity", "updated_at", "due_at"):
        seen, cursor, pages = [], None, 0
        while True:
            params = {"q": word, "limit": 2, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            ids, doc = list_ids(ctx, **params)
            pages += 1
            check(len(ids) <= 2, "page of %d items with limit=2" % len(ids))
            seen += ids
            cursor = doc.get("next_cursor")
            if not cursor:
                break
            check(ids, "empty page with a next_cursor")
            check(pages < 20, "pagination does not end (sort=%s)" % sort)
        dups = sorted({i for i in seen if seen.count(i) > 1})
        check(not dups, "sort=%s: duplicates across pages %s" % (sort, dups))
        eq(sorted(seen), want, "sort=%s: union of pages" % sort)
        eq(pages, 4, "sort=%s: pages for 7 items with limit=2" % sort)
        full, _ = list_ids(ctx, q=word, limit=100, sort=sort)
        eq(seen, full, "sort=%s: paged order equals unpaged order" % sort)


@test("incidents: merge {from:[...]} moves notes, tasks, timeline; unites constituents; dup is duplicate")
def t_merge_from(ctx):
    sv = ctx.create_incident(title="Survivor " + ctx.tag, constituents=["orga"], tags=["a"])
    dp = ctx.create_incident(title="Dup " + ctx.tag, constituents=["orgb"], tags=["b"])
    note = ctx.expect(201, "POST", "/api/v1/incidents/%s/notes" % dp["id"], "h1", body={"body": "dup note"}).json
    task = ctx.expect(201, "POST", "/api/v1/incidents/%s/tasks" % dp["id"], "h1", body={"title": "dup task"}).json
    ctx.patch_incident(dp["id"], "h1", status="triage")
    dup_tl = timeline(ctx, dp["id"])
    out = ctx.expect(200, "POST", "/api/v1/incidents/%s/merge" % sv["id"], "h1", body={"from": [dp["id"]]}).json
    eq(out["id"], sv["id"], "merge answers with the survivor")
    eq(out["constituents"], ["orga", "orgb"], "constituents united")
    eq(sorted(out["tags"]), ["a", "b"], "tags united")
    d = ctx.expect(200, "GET", "/api/v1/incidents/" + dp["id"], "admin").json
    eq((d["status"], d["duplicate_of"]), ("duplicate", sv["id"]), "duplicate's status and duplicate_of")
    notes = ctx.expect(200, "GET", "/api/v1/incidents/%s/notes" % sv["id"], "admin").json["items"]
    check(note["id"] in [n["id"] for n in notes], "note %d not moved to survivor" % note["id"])
    eq(ctx.expect(200, "GET", "/api/v1/incidents/%s/notes" % dp["id"], "admin").json["items"], [], "duplicate's notes")
    tasks = ctx.expect(200, "GET", "/api/v1/incidents/%s/tasks" % sv["id"], "admin").json["items"]
    check(task["id"] in [t["id"] for t in tasks], "task %d not moved to survivor" % task["id"])
    sv_tl = timeline(ctx, sv["id"])
    sv_ids = {e["id"] for e in sv_tl}
    check(all(e["id"] in sv_ids for e in dup_tl), "duplicate's timeline not moved to the survivor")
    check(any(e["kind"] == "merged_from" and e["new_value"] == dp["id"] and e["actor"] == "h1" for e in sv_tl),
          "no merged_from entry in the survivor's timeline")
    d_tl = timeline(ctx, dp["id"])
    check(any(e["kind"] == "merged_into" and e["new_value"] == sv["id"] for e in d_tl), "no merged_into entry: %r" % d_tl)
    check(any(e["kind"] == "status" and e["new_value"] == "duplicate" for e in d_tl), "no status->duplicate entry")
    # the single-string form
    one = ctx.create_incident(title="Dup one " + ctx.tag)
    ctx.expect(200, "POST", "/api/v1/incidents/%s/merge" % sv["id"], "h2", body={"from": one["id"]})
    eq(ctx.expect(200, "GET", "/api/v1/incidents/" + one["id"], "admin").json["duplicate_of"], sv["id"],
       "duplicate_of after {from: \"id\"}")
    r = ctx.req("POST", "/api/v1/incidents/%s/merge" % sv["id"], "h2", body={"from": one["id"] + "X" * 60})
    check_problem(r, 400, "from", "an over-long from id")
    # several at once
    a = ctx.create_incident(title="Dup A " + ctx.tag)
    b = ctx.create_incident(title="Dup B " + ctx.tag, constituents=["orgb"])
    out = ctx.expect(200, "POST", "/api/v1/incidents/%s/merge" % sv["id"], "coord", body={"from": [a["id"], b["id"]]}).json
    for x in (a, b):
        got = ctx.expect(200, "GET", "/api/v1/incidents/" + x["id"], "admin").json
        eq((got["status"], got["duplicate_of"]), ("duplicate", sv["id"]), "status of %s after multi-merge" % x["id"])


@test("incidents: merge {into: X} makes the path's incident the duplicate; refusals are problems")
def t_merge_into(ctx):
    sv = ctx.create_incident(title="Into target " + ctx.tag, constituents=["orgb"])
    dp = ctx.create_incident(title="Into source " + ctx.tag, constituents=["orga"])
    ctx.expect(201, "POST", "/api/v1/incidents/%s/tasks" % dp["id"], "h1", body={"title": "moves along"})
    out = ctx.expect(200, "POST", "/api/v1/incidents/%s/merge" % dp["id"], "admin", body={"into": sv["id"]}).json
    eq(out["id"], sv["id"], "merge into answers with the survivor")
    eq(out["constituents"], ["orga", "orgb"], "constituents united")
    got = ctx.expect(200, "GET", "/api/v1/incidents/" + dp["id"], "admin").json
    eq((got["status"], got["duplicate_of"]), ("duplicate", sv["id"]), "duplicate after into")
    eq(len(ctx.expect(200, "GET", "/api/v1/incidents/%s/tasks" % sv["id"], "admin").json["items"]), 1, "tasks moved")
    other = ctx.create_incident(title="Another " + ctx.tag)
    r = ctx.req("POST", "/api/v1/incidents/%s/merge" % other["id"], "admin", body={"into": dp["id"]})
    check_problem(r, 409, "duplicate", "merge into a duplicate")
    r = ctx.req("POST", "/api/v1/incidents/%s/merge" % dp["id"], "admin", body={"into": other["id"]})
    check_problem(r, 409, "duplicate", "merge a duplicate again")
    r = ctx.req("POST", "/api/v1/incidents/%s/merge" % other["id"], "admin", body={"into": other["id"]})
    check_problem(r, 400, "itself", "merge into itself")
    r = ctx.req("POST", "/api/v1/incidents/%s/merge" % other["id"], "admin", body={"into": sv["id"], "from": [dp["id"]]})
    check_problem(r, 400, ["into", "from"], "both into and from")
    r = ctx.req("POST", "/api/v1/incidents/%s/merge" % other["id"], "admin", body={})
    check_problem(r, 400, ["into", "from"], "neither into nor from")
    r = ctx.req("POST", "/api/v1/incidents/%s/merge" % other["id"], "admin", body={"into": "%s-1999-00001" % ctx.prefix})
    check_problem(r, 404, None, "merge into unknown incident")
    r = ctx.req("PATCH", "/api/v1/incidents/" + dp["id"], "admin", body={"status": "triage"})
    check_problem(r, 409, None, "a duplicate cannot be reopened by PATCH")


@test("incidents: a refused merge {from:[...]} merges none of the list")
def t_merge_from_atomic(ctx):
    sv = ctx.create_incident(title="Atomic survivor " + ctx.tag)
    a = ctx.create_incident(title="Atomic a " + ctx.tag)
    b = ctx.create_incident(title="Atomic b " + ctx.tag)
    gone = ctx.create_incident(title="Atomic gone " + ctx.tag)
    ctx.expect(200, "POST", "/api/v1/incidents/%s/merge" % sv["id"], "admin", body={"from": [gone["id"]]})
    for bad, status, what in (("%s-1999-00001" % ctx.prefix, 404, "an unknown incident"),
                              (sv["id"], 400, "the survivor itself"),
                              (gone["id"], 409, "an incident merged already")):
        r = ctx.req("POST", "/api/v1/incidents/%s/merge" % sv["id"], "admin", body={"from": [a["id"], b["id"], bad]})
        check_problem(r, status, None, "from list ending in %s" % what)
        for x in (a, b):
            got = ctx.expect(200, "GET", "/api/v1/incidents/" + x["id"], "admin").json
            eq((got["status"], got["duplicate_of"]), ("new", None),
               "%s after a refused merge whose list ends in %s (answered %d)" % (x["id"], what, r.status))
    red = ctx.create_incident(title="Atomic red " + ctx.tag, tlp="RED", assignee="h1")
    r = ctx.req("POST", "/api/v1/incidents/%s/merge" % sv["id"], "h2", body={"from": [a["id"], red["id"]]})
    check_problem(r, 404, None, "from list ending in an incident the handler may not see")
    eq(ctx.expect(200, "GET", "/api/v1/incidents/" + a["id"], "admin").json["status"], "new",
       "first incident after a merge refused for visibility")


@test("reports: same source+source_ref is 201 first, then 200 with the same id")
def t_reports_idempotent(ctx):
    ref = ctx.uniq("msgid")
    body = {"source": "email", "source_ref": ref, "title": "Suspicious mail", "body": "see headers",
            "reporter": {"name": "Dorji", "email": "dorji@example.bt", "phone": "+975 1"}, "constituent": "orga"}
    r = ctx.req("POST", "/api/v1/reports", "h1", body=body)
    eq(r.status, 201, "first submission (%s)" % r.brief())
    rep = r.json
    check(REPORT_ID_RE.match(rep["id"]), "report id %r" % rep["id"])
    eq(r.header("Location"), "/api/v1/reports/" + rep["id"], "Location")
    eq((rep["source"], rep["source_ref"], rep["constituent"], rep["incident"], rep["created_by"]),
       ("email", ref, "orga", None, "h1"), "report fields")
    eq(rep["reporter"], {"name": "Dorji", "email": "dorji@example.bt", "phone": "+975 1"}, "reporter")
    r2 = ctx.req("POST", "/api/v1/reports", "an1", body=dict(body, title="changed"))
    eq(r2.status, 200, "resubmission (%s)" % r2.brief())
    eq(r2.json["id"], rep["id"], "resubmission id")
    eq(r2.json["title"], "Suspicious mail", "resubmission keeps the first report")
    r3 = ctx.expect(201, "POST", "/api/v1/reports", "h1", body={"source": "web", "source_ref": ref})
    check(r3.json["id"] != rep["id"], "another source with the same ref must be another report")
    r = ctx.req("POST", "/api/v1/reports", "h1", body={"source": "e mail!", "source_ref": "x"})
    check_problem(r, 400, "source", "bad source name")
    r = ctx.req("POST", "/api/v1/reports", "h1", body={"source": "email"})
    check_problem(r, 400, "source_ref", "missing source_ref")
    r = ctx.req("POST", "/api/v1/reports", "h1", body={"source": "email", "source_ref": "y", "reporter": {"email": "nobody"}})
    check_problem(r, 400, "email", "bad reporter email")


@test("reports: list (newest first, paged) and get")
def t_reports_list(ctx):
    ids = [ctx.expect(201, "POST", "/api/v1/reports", "h1", body={"source": "phone", "source_ref": ctx.uniq("call")}).json["id"]
           for _ in range(3)]
    items = ctx.expect(200, "GET", "/api/v1/reports?limit=500", "an1").json["items"]
    got = [x["id"] for x in items]
    for i in ids:
        check(i in got, "report %s not listed" % i)
    check(got.index(ids[2]) < got.index(ids[1]) < got.index(ids[0]), "reports not newest first")
    seen, cursor = [], None
    for _ in range(100):
        q = "/api/v1/reports?limit=2" + ("&cursor=" + quote(cursor) if cursor else "")
        doc = ctx.expect(200, "GET", q, "admin").json
        seen += [x["id"] for x in doc["items"]]
        cursor = doc["next_cursor"]
        if not cursor:
            break
    eq(len(seen), len(set(seen)), "reports paging without duplicates")
    eq(sorted(seen), sorted(got), "reports paging covers the list")
    one = ctx.expect(200, "GET", "/api/v1/reports/" + ids[0], "coord").json
    eq(one["id"], ids[0], "GET report id")
    r = ctx.req("GET", "/api/v1/reports/%s-R-1999-00001" % ctx.prefix, "admin")
    check_problem(r, 404, None, "unknown report")


@test("reports: link to an incident, list the incident's reports, refuse a second incident")
def t_reports_link(ctx):
    inc = ctx.create_incident(title="Linked " + ctx.tag)
    other = ctx.create_incident(title="Other link " + ctx.tag)
    rep = ctx.expect(201, "POST", "/api/v1/reports", "h1", body={"source": "web", "source_ref": ctx.uniq("form")}).json
    out = ctx.expect(200, "POST", "/api/v1/incidents/%s/reports" % inc["id"], "an1", body={"report": rep["id"]}).json
    eq(out["incident"], inc["id"], "linked report's incident")
    ctx.expect(200, "POST", "/api/v1/incidents/%s/reports" % inc["id"], "an1", body={"report": rep["id"]})  # idempotent
    items = ctx.expect(200, "GET", "/api/v1/incidents/%s/reports" % inc["id"], "h2").json["items"]
    eq([x["id"] for x in items], [rep["id"]], "incident's reports")
    items = ctx.expect(200, "GET", "/api/v1/reports?incident=" + inc["id"], "h2").json["items"]
    eq([x["id"] for x in items], [rep["id"]], "reports?incident=")
    tl = [e for e in timeline(ctx, inc["id"]) if e["kind"] == "report"]
    eq([(e["new_value"], e["actor"]) for e in tl], [(rep["id"], "an1")], "report link in the timeline")
    r = ctx.req("POST", "/api/v1/incidents/%s/reports" % other["id"], "an1", body={"report": rep["id"]})
    check_problem(r, 409, "another incident", "link to a second incident")
    r = ctx.req("POST", "/api/v1/incidents/%s/reports" % inc["id"], "an1", body={"report": "%s-R-1999-00001" % ctx.prefix})
    check_problem(r, 400, "report", "link unknown report")
    # filed with an incident
    rep2 = ctx.expect(201, "POST", "/api/v1/reports", "h1",
                      body={"source": "web", "source_ref": ctx.uniq("form"), "incident": other["id"]}).json
    eq(rep2["incident"], other["id"], "report filed with incident")
    items = ctx.expect(200, "GET", "/api/v1/incidents/%s/reports" % other["id"], "admin").json["items"]
    eq([x["id"] for x in items], [rep2["id"]], "reports of the incident given at filing")


@test("incidents: legacy RSIT spellings are accepted and stored canonically")
def t_rsit_legacy(ctx):
    cases = [
        ({"taxonomy": "fraud", "type": "unauthorized-use-of-resources"}, ("fraud", "unauthorised-use-of-resources")),
        ({"taxonomy": "Fraud", "type": "Unauthorized Use Of Resources"}, ("fraud", "unauthorised-use-of-resources")),
        ({"taxonomy": "malicious code", "type": "botnet drone"}, ("malicious-code", "infected-system")),
        ({"type": "botnet drone"}, ("malicious-code", "infected-system")),
        ("botnet drone", ("malicious-code", "infected-system")),
        ({"taxonomy": "information content security", "type": "unauthorized_information_access"},
         ("information-content-security", "unauthorised-information-access")),
        ({"taxonomy": "intrusion attempts", "type": "bruteforce"}, ("intrusion-attempts", "brute-force")),
        ({"type": "c&c"}, ("malicious-code", "c2-server")),
    ]
    for given, (tax, typ) in cases:
        inc = ctx.create_incident(title="RSIT " + ctx.tag, classification=given)
        eq((inc["classification"]["taxonomy"], inc["classification"]["type"]), (tax, typ), "classification of %r" % (given,))
    inc = ctx.create_incident(title="RSIT patch " + ctx.tag)
    out = ctx.patch_incident(inc["id"], classification={"type": "unauthorized login"})
    eq(out["classification"], {"taxonomy": "intrusions", "type": "system-compromise"}, "PATCH with a legacy type")
    inc = ctx.create_incident(title="RSIT cmd " + ctx.tag, classification={"taxonomy": "intrusions",
                                                                          "type": "unauthorized-command"})
    eq(inc["classification"], {"taxonomy": "intrusions", "type": "system-compromise"}, "intrusions/unauthorized-command")
    # list filters accept the same spellings
    ids, _ = list_ids(ctx, q="RSIT " + ctx.tag, type="botnet drone", limit=100)
    check(len(ids) == 3, "type=botnet drone filter found %d, want 3" % len(ids))
    ids, _ = list_ids(ctx, q="RSIT " + ctx.tag, taxonomy="Fraud", limit=100)
    check(len(ids) == 2, "taxonomy=Fraud filter found %d, want 2" % len(ids))
    tax = ctx.expect(200, "GET", "/api/v1/taxonomy", "h1").json["items"]
    check({"taxonomy": "fraud", "type": "unauthorised-use-of-resources"} in tax, "taxonomy list lacks the fraud type")


@test("incidents: due_at follows severity (4h/1d/3d/1w) and is recomputed when severity changes")
def t_due_at(ctx):
    for sev in ("critical", "high", "medium", "low"):
        inc = ctx.create_incident(title="Due %s %s" % (sev, ctx.tag), severity=sev)
        eq(parse_iso(inc["due_at"]) - parse_iso(inc["created_at"]), DUE[sev], "due_at - created_at for %s" % sev)
    inc = ctx.create_incident(title="Due change " + ctx.tag, severity="low")
    created = parse_iso(inc["created_at"])
    for sev in ("critical", "high", "medium"):
        out = ctx.patch_incident(inc["id"], severity=sev)
        eq(parse_iso(out["due_at"]) - created, DUE[sev], "due_at after severity -> %s" % sev)
    tl = [e for e in timeline(ctx, inc["id"]) if e["field"] == "due_at"]
    check(len(tl) == 3, "due_at changes in the timeline: %d, want 3" % len(tl))
    # a manual deadline survives severity changes; null goes back to the severity rule
    out = ctx.patch_incident(inc["id"], due_at="2030-05-06T07:08:09Z")
    eq(out["due_at"], "2030-05-06T07:08:09Z", "manual due_at")
    out = ctx.patch_incident(inc["id"], severity="critical")
    eq(out["due_at"], "2030-05-06T07:08:09Z", "manual due_at after severity change")
    out = ctx.patch_incident(inc["id"], due_at=None)
    eq(parse_iso(out["due_at"]) - created, DUE["critical"], "due_at back to the rule")
    manual = ctx.create_incident(title="Due manual " + ctx.tag, severity="high", due_at="2031-01-01T00:00:00Z")
    eq(manual["due_at"], "2031-01-01T00:00:00Z", "due_at given at creation")
    r = ctx.req("PATCH", "/api/v1/incidents/" + inc["id"], "admin", body={"due_at": "soon"})
    check_problem(r, 400, "due_at", "due_at=soon")
