"""
Notifications through the API, without a relay: a handler's notice of an incident
(POST /api/v1/incidents/{id}/notify) and what the recipients' organisations see
of it (list, one, its events, acknowledgement). The suite's dzong.conf has
mail_from, so serve has a notifier; nothing is delivered. Digests (and their
events in CSV and JSON) need `dzong notify run --queue-only`: see the
notification suite of the notify layer.
"""
import os
from urllib.parse import urlencode

from harness import check, check_problem, eq, test
from test_access import notice_contacts

TICKET_RE_TAIL = "-N-"


class N:
    """An orga incident and an orgb incident, each notified once by h1."""
    ready = False
    inc_a = inc_b = None
    ticket_a = ticket_b = None


def notify(ctx, iid, as_user="h1", **body):
    return ctx.req("POST", "/api/v1/incidents/%s/notify" % iid, as_user, body=body)


def setup_notices(ctx):
    if N.ready:
        return N
    notice_contacts(ctx)
    N.inc_a = ctx.create_incident(title="Notify A " + ctx.tag, constituents=["orga"], tlp="GREEN", assignee="h1")["id"]
    N.inc_b = ctx.create_incident(title="Notify B " + ctx.tag, constituents=["orgb"], tlp="GREEN")["id"]
    r = notify(ctx, N.inc_a, constituents=["orga"], text="Notice for A " + ctx.tag)
    eq(r.status, 201, "notify orga: " + r.brief())
    N.ticket_a = r.json["queued"][0]["ticket"]
    r = notify(ctx, N.inc_b, constituents=["orgb"], text="Notice for B " + ctx.tag)
    eq(r.status, 201, "notify orgb: " + r.brief())
    N.ticket_b = r.json["queued"][0]["ticket"]
    N.ready = True
    return N


def all_tickets(ctx, as_user, **params):
    tickets, cursor = [], None
    for _ in range(100):
        p = dict(params, limit=1000)
        if cursor:
            p["cursor"] = cursor
        doc = ctx.expect(200, "GET", "/api/v1/notifications?" + urlencode(p), as_user).json
        check(isinstance(doc.get("items"), list) and "next_cursor" in doc, "list shape: %r" % doc)
        tickets += [n["ticket"] for n in doc["items"]]
        cursor = doc["next_cursor"]
        if not cursor:
            return tickets
    raise AssertionError("listing does not end")


# ---------------------------------------------------------------- notifying

@test("notifications: a handler notifies an affected constituent: 201, one queued notice per contact, a shared note")
def t_notify(ctx):
    notice_contacts(ctx)
    iid = ctx.create_incident(title="Notify ok " + ctx.tag, constituents=["orga", "orgb"], tlp="AMBER")["id"]
    text = "Please patch the VPN concentrator %s.\nDetails follow." % ctx.tag
    before = ctx.expect(200, "GET", "/api/v1/incidents/%s/timeline" % iid, "h1").json["items"]
    r = notify(ctx, iid, constituents=["orga"], text=text, subject="VPN advisory " + ctx.tag)
    eq(r.status, 201, "status: " + r.brief())
    out = r.json
    check(isinstance(out.get("queued"), list) and isinstance(out.get("skipped"), list), "answer shape: %r" % out)
    eq(len(out["queued"]), 1, "queued (orga has one contact)")
    n = out["queued"][0]
    eq((n["kind"], n["constituent"], n["recipient"], n["incident"]), ("incident", "orga", "abuse@orga.example", iid),
       "the notice")
    check(TICKET_RE_TAIL in n["ticket"] and n["ticket"].startswith(ctx.prefix), "ticket %r" % n["ticket"])
    check(n["status"] in ("queued", "sending", "sent", "failed"), "status %r" % n["status"])
    check(n["ticket"] in n["subject"] or "VPN advisory" in n["subject"], "subject %r" % n["subject"])
    eq((n.get("acknowledged_at"), n.get("acknowledged_by")), (None, None), "not acknowledged yet")
    # the text is a note shared with the constituents, on the timeline
    notes = ctx.expect(200, "GET", "/api/v1/incidents/%s/notes" % iid, "ca").json["items"]
    mine = [x for x in notes if x["body"] == text]
    eq(len(mine), 1, "the notice as a note the constituent sees")
    eq((mine[0]["shared"], mine[0]["author"]), (True, "h1"), "the note is shared, by the handler")
    after = ctx.expect(200, "GET", "/api/v1/incidents/%s/timeline" % iid, "h1").json["items"]
    new = [e for e in after if e not in before]
    check(any(e["kind"] == "note" and e["field"] == "shared" for e in new), "timeline gained no shared note: %r" % new)
    # the constituent sees it; the other affected organisation does not
    got = ctx.expect(200, "GET", "/api/v1/notifications/" + n["ticket"], "ca").json
    eq((got["ticket"], got["kind"], got["incident"]), (n["ticket"], "incident", iid), "ca reads its notice")
    check_problem(ctx.req("GET", "/api/v1/notifications/" + n["ticket"], "cb"), 404, None, "cb reads orga's notice")
    listed = all_tickets(ctx, "h1", incident=iid)
    eq(listed, [n["ticket"]], "incident= filter")


@test("notifications: analysts, constituents and partners may not notify (403)")
def t_notify_refused_roles(ctx):
    s = setup_notices(ctx)
    for user in ("an1", "ca", "pa"):
        check_problem(notify(ctx, s.inc_a, user, constituents=["orga"], text="x"), 403, None, "%s notifies" % user)
    check_problem(ctx.req("POST", "/api/v1/incidents/%s/notify" % s.inc_a, body={"constituents": ["orga"], "text": "x"}),
                  401, None, "anonymous notifies")


@test("notifications: bad notify bodies are refused with a problem naming the field")
def t_notify_bad_bodies(ctx):
    s = setup_notices(ctx)
    path = "/api/v1/incidents/%s/notify" % s.inc_a
    ok = {"constituents": ["orga"], "text": "hello"}
    cases = [
        (dict(ok, extra=1), "extra"),
        (dict(ok, constituent="orga"), "constituent"),
        ({"text": "hello"}, "constituents"),
        (dict(ok, constituents=[]), "constituents"),
        (dict(ok, constituents="orga"), "constituents"),
        (dict(ok, constituents=[7]), "constituents"),
        (dict(ok, constituents=["bad name!"]), "constituents"),
        (dict(ok, constituents=["o%d" % i for i in range(101)]), "constituents"),
        ({"constituents": ["orga"]}, "text"),
        (dict(ok, text=""), "text"),
        (dict(ok, text="   \n "), "text"),
        (dict(ok, text=5), "text"),
        (dict(ok, text="x" * 20001), "text"),
        (dict(ok, text="bell\x07"), "text"),
        (dict(ok, subject=["x"]), "subject"),
        (dict(ok, subject="two\nlines"), "subject"),
        (dict(ok, subject="s" * 201), "subject"),
    ]
    for body, field in cases:
        check_problem(ctx.req("POST", path, "h1", body=body), 400, field, "body %r" % (str(body)[:80],))
    check_problem(ctx.req("POST", path, "h1", raw="{not json", headers={"Content-Type": "application/json"}), 400,
                  "JSON", "not JSON")
    check_problem(ctx.req("POST", path, "h1", raw='["orga"]', headers={"Content-Type": "application/json"}), 400,
                  "object", "not an object")
    check_problem(ctx.req("POST", path, "h1", raw=""), 400, "empty", "no body")
    check_problem(ctx.req("POST", path, "h1", raw='{"text":"a","text":"b","constituents":["orga"]}',
                          headers={"Content-Type": "application/json"}), 400, None, "duplicate field")
    # a text of exactly 20000 bytes (multi-byte characters count as their bytes) is taken
    r = notify(ctx, s.inc_a, constituents=["orga"], text="é" * 10000)
    eq(r.status, 201, "20000 bytes of text: " + r.brief())
    check_problem(notify(ctx, s.inc_a, constituents=["orga"], text="é" * 10001), 400, "text", "20002 bytes")


@test("notifications: an unknown or unaffected constituent is refused and nothing is queued; invisible incidents 404, RED 409")
def t_notify_bad_constituents(ctx):
    s = setup_notices(ctx)
    before = all_tickets(ctx, "admin", incident=s.inc_a)
    check_problem(notify(ctx, s.inc_a, constituents=["no-such-org"], text="x"), 400, "no-such-org", "unknown constituent")
    check_problem(notify(ctx, s.inc_a, constituents=["orgb"], text="x"), 400, "orgb", "orgb is not affected")
    check_problem(notify(ctx, s.inc_a, constituents=["orga", "orgb"], text="x"), 400, "orgb", "one of two not affected")
    eq(all_tickets(ctx, "admin", incident=s.inc_a), before, "nothing queued by the refusals")
    notes = ctx.expect(200, "GET", "/api/v1/incidents/%s/notes" % s.inc_a, "admin").json["items"]
    check(not any(n["body"] == "x" for n in notes), "a refused notice left a note")
    red = ctx.create_incident(as_user="coord", title="Notify red " + ctx.tag, constituents=["orga"], tlp="RED",
                              assignee="h1")["id"]
    check_problem(notify(ctx, red, "h2", constituents=["orga"], text="x"), 404, None, "h2 notifies on a RED incident")
    check_problem(notify(ctx, red, "h1", constituents=["orga"], text="x"), 409, "RED", "TLP:RED is not mailed")
    check_problem(notify(ctx, ctx.prefix + "-2001-99999", constituents=["orga"], text="x"), 404, None, "no incident")


# ---------------------------------------------------------------- reading

@test("notifications: each organisation lists and reads only its own; staff see all")
def t_visibility(ctx):
    s = setup_notices(ctx)
    ca, cb, staff = all_tickets(ctx, "ca"), all_tickets(ctx, "cb"), all_tickets(ctx, "an1")
    check(s.ticket_a in ca and s.ticket_b not in ca, "ca's list: %r" % ca[:10])
    check(s.ticket_b in cb and s.ticket_a not in cb, "cb's list: %r" % cb[:10])
    check({s.ticket_a, s.ticket_b} <= set(staff), "staff miss notices")
    for t in ca:
        eq(ctx.expect(200, "GET", "/api/v1/notifications/" + t, "ca").json["constituent"], "orga", "constituent of " + t)
    pa = all_tickets(ctx, "pa")
    check(s.ticket_a not in pa and s.ticket_b not in pa, "pa sees other organisations' notices")
    check_problem(ctx.req("GET", "/api/v1/notifications/" + s.ticket_b, "ca"), 404, None, "ca GET orgb's")
    check_problem(ctx.req("GET", "/api/v1/notifications/%s/events" % s.ticket_b, "ca"), 404, None, "ca GET orgb's events")
    check_problem(ctx.req("GET", "/api/v1/notifications/" + s.ticket_a, "pa"), 404, None, "pa GET orga's")
    check_problem(ctx.req("GET", "/api/v1/notifications/%s-N-2001-999999" % ctx.prefix, "admin"), 404, None, "no ticket")
    # constituent=: staff filter by it; a constituent may not name another organisation
    eq(set(all_tickets(ctx, "h1", constituent="orgb")) & {s.ticket_a, s.ticket_b}, {s.ticket_b}, "constituent=orgb")
    check_problem(ctx.req("GET", "/api/v1/notifications?constituent=orgb", "ca"), 400, "constituent", "ca names orgb")
    check(s.ticket_a in all_tickets(ctx, "ca", constituent="orga"), "ca names its own organisation")
    # kind= and status=
    check(s.ticket_a in all_tickets(ctx, "h1", kind="incident"), "kind=incident")
    check(s.ticket_a not in all_tickets(ctx, "h1", kind="digest"), "kind=digest holds a notice")
    st = ctx.expect(200, "GET", "/api/v1/notifications/" + s.ticket_a, "h1").json["status"]
    check(s.ticket_a in all_tickets(ctx, "h1", status=st), "status=%s" % st)


@test("notifications: list parameters are checked; pages follow next_cursor")
def t_list_params(ctx):
    s = setup_notices(ctx)
    for q, field in (("status=lost", "status"), ("kind=letter", "kind"), ("acknowledged=maybe", "acknowledged"),
                     ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"),
                     ("constituent=no-such-org", "constituent"), ("cursor=garbage", None)):
        check_problem(ctx.req("GET", "/api/v1/notifications?" + q, "h1"), 400, field, q)
    seen, cursor = [], None
    for _ in range(50):
        doc = ctx.expect(200, "GET", "/api/v1/notifications?limit=1" + ("&cursor=" + cursor if cursor else ""), "h1").json
        check(len(doc["items"]) <= 1, "limit=1 gave %d" % len(doc["items"]))
        seen += [n["ticket"] for n in doc["items"]]
        cursor = doc["next_cursor"]
        if not cursor:
            break
    eq(len(seen), len(set(seen)), "a ticket twice across pages")
    check({s.ticket_a, s.ticket_b} <= set(seen) or len(seen) == 50, "paging misses tickets")


@test("notifications: an incident notice has no events (json [], csv empty); format is checked; the message is staff's")
def t_events_and_message(ctx):
    s = setup_notices(ctx)
    r = ctx.expect(200, "GET", "/api/v1/notifications/%s/events" % s.ticket_a, "ca")
    eq((r.header("Content-Type") or "").split(";")[0], "application/json", "default format")
    eq(r.json, [], "a notice's events")
    r = ctx.expect(200, "GET", "/api/v1/notifications/%s/events?format=json" % s.ticket_a, "h1")
    eq(r.json, [], "format=json")
    r = ctx.expect(200, "GET", "/api/v1/notifications/%s/events?format=csv" % s.ticket_a, "ca")
    eq(r.header("Content-Type"), "text/csv; charset=utf-8", "csv Content-Type")
    eq(r.body, b"", "a notice's CSV")
    check_problem(ctx.req("GET", "/api/v1/notifications/%s/events?format=xml" % s.ticket_a, "ca"), 400, "format", "xml")
    r = ctx.expect(200, "GET", "/api/v1/notifications/%s/message" % s.ticket_a, "an1")
    eq(r.header("Content-Type"), "message/rfc822", "message Content-Type")
    n = ctx.expect(200, "GET", "/api/v1/notifications/" + s.ticket_a, "an1").json
    head = r.body.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    check(n["message_id"] in head, "Message-ID %r not in the headers: %r" % (n["message_id"], head[:400]))
    check("abuse@orga.example" in head, "recipient not in the headers")
    check_problem(ctx.req("GET", "/api/v1/notifications/%s/message" % s.ticket_a, "ca"), 403, None, "ca reads the message")
    check_problem(ctx.req("GET", "/api/v1/notifications/%s/message" % s.ticket_a, "pa"), 403, None, "pa reads the message")


# ---------------------------------------------------------------- acknowledging

@test("notifications: a constituent acknowledges its own notice once; others 404, staff 403; unacknowledged filter")
def t_ack(ctx):
    s = setup_notices(ctx)
    check(s.ticket_a in all_tickets(ctx, "coord", acknowledged="false"), "unacknowledged notice missing from acknowledged=false")
    check_problem(ctx.req("POST", "/api/v1/notifications/%s/ack" % s.ticket_a, "h1"), 403, None, "a handler acknowledges")
    check_problem(ctx.req("POST", "/api/v1/notifications/%s/ack" % s.ticket_a, "admin"), 403, None, "admin acknowledges")
    check_problem(ctx.req("POST", "/api/v1/notifications/%s/ack" % s.ticket_a, "cb"), 404, None, "cb acknowledges orga's")
    check_problem(ctx.req("POST", "/api/v1/notifications/%s/ack" % s.ticket_a, "pa"), 404, None, "pa acknowledges orga's")
    eq(ctx.expect(200, "GET", "/api/v1/notifications/" + s.ticket_a, "h1").json["acknowledged_at"], None,
       "refused acknowledgements changed nothing")
    r = ctx.expect(200, "POST", "/api/v1/notifications/%s/ack" % s.ticket_a, "ca")
    n = r.json
    eq((n["ticket"], n["acknowledged_by"]), (s.ticket_a, "ca"), "the acknowledged notification")
    check(isinstance(n["acknowledged_at"], str) and n["acknowledged_at"], "acknowledged_at %r" % n["acknowledged_at"])
    again = ctx.expect(200, "POST", "/api/v1/notifications/%s/ack" % s.ticket_a, "ca").json
    eq((again["acknowledged_at"], again["acknowledged_by"]), (n["acknowledged_at"], "ca"), "acknowledging again")
    staff = ctx.expect(200, "GET", "/api/v1/notifications/" + s.ticket_a, "coord").json
    eq((staff["acknowledged_at"], staff["acknowledged_by"]), (n["acknowledged_at"], "ca"), "staff see who acknowledged")
    check(s.ticket_a not in all_tickets(ctx, "coord", acknowledged="false"), "acknowledged notice in acknowledged=false")
    check(s.ticket_a in all_tickets(ctx, "coord", acknowledged="true"), "acknowledged notice missing from acknowledged=true")
    check(s.ticket_b in all_tickets(ctx, "coord", acknowledged="false"), "orgb's notice left acknowledged=false")
    check_problem(ctx.req("POST", "/api/v1/notifications/%s-N-2001-999999/ack" % ctx.prefix, "ca"), 404, None, "no ticket")


# ---------------------------------------------------------------- not configured

@test("notifications: without mail_from in dzong.conf, notify is 409 and says what to set; reading still works",
      timeout=60)
def t_not_configured(ctx):
    s = setup_notices(ctx)
    path = os.path.join(ctx.data, "dzong.conf")
    with open(path) as f:
        conf = f.read()
    without = "".join(line for line in conf.splitlines(True) if not line.strip().startswith("mail_from"))
    check(without != conf, "the suite's dzong.conf has no mail_from line")
    try:
        with open(path, "w") as f:
            f.write(without)
        ctx.restart_server()
        r = notify(ctx, s.inc_a, constituents=["orga"], text="x")
        check_problem(r, 409, "mail_from", "notify without a notifier")
        check_problem(notify(ctx, s.inc_a, "an1", constituents=["orga"], text="x"), 403, None, "an analyst still 403")
        check(s.ticket_a in all_tickets(ctx, "ca"), "the list without a notifier")
    finally:
        with open(path, "w") as f:
            f.write(conf)
        ctx.restart_server()
    eq(notify(ctx, s.inc_a, constituents=["orga"], text="configured again " + ctx.tag).status, 201, "notify after restart")
