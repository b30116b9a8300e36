"""
Feed events over HTTP: a batch of IntelMQ JSON lines POSTed, matched to the
organisations that own its addresses (networks of the demo constituency),
counted, quarantined and deduplicated; the same batch again is answered
from what is stored; each organisation reads only its own events; staff
filter, page and count them.
"""
import json
import threading
import time
from urllib.parse import urlencode

from harness import check, check_problem, eq, test

E = "/api/v1/events"

# Three organisations with networks of src/cli/demo_constituency.json: a bank inside an ISP's /24, and a
# second ISP. 203.0.113.5 is nobody's here (the demo gives it to another ISP, which this suite does not create).
ORGS = {
    "bank": {"name": "Druk Bank (events test)", "kind": "cii-operator", "sector": "banking-finance", "cii": True,
             "cii_tier": 1, "networks": ["198.51.100.0/26", "2001:db8:100:10::/64"]},
    "net": {"name": "DrukNet (events test)", "kind": "isp", "sector": "ict-telecom",
            "networks": ["198.51.100.0/24", "2001:db8:100::/40"]},
    "cell": {"name": "TashiCell (events test)", "kind": "isp", "sector": "ict-telecom",
             "networks": ["203.0.113.128/25"]},
}


class S:
    """State shared by the tests of this module, built by the first."""
    org = {}       # key of ORGS -> short name
    user = {}      # key of ORGS -> user name (a constituent user of that organisation)
    feed = None    # this run's feed.name
    batch = None
    ingest = None
    ids = {}       # line label -> event id
    stats_before = None


def ev(ctx, ip, when, ctype, **extra):
    d = {"feed.name": S.feed, "source.ip": ip, "time.source": when, "classification.type": ctype,
         "extra.run": ctx.tag}
    d.update(extra)
    return json.dumps(d)


def lines_of(ctx):
    """(label, line) of the first batch: six events and, on line 5, one that is not JSON."""
    return [
        ("bank1", ev(ctx, "198.51.100.10", "2026-11-20T10:00:00+00:00", "scanner")),
        ("bank2", ev(ctx, "198.51.100.11", "2026-11-20T11:00:00+00:00", "infected-system",
                     **{"malware.name": "mirai"})),
        ("net1", ev(ctx, "198.51.100.200", "2026-11-21T09:00:00+00:00", "vulnerable-system")),
        ("cell1", ev(ctx, "203.0.113.130", "2026-11-21T12:00:00+00:00", "scanner")),
        ("bad", '{"source.ip": "198.51.100.12", "time.source": '),
        ("bank6", ev(ctx, "2001:db8:100:10::5", "2026-11-22T08:00:00+00:00", "brute-force")),
        ("nobody", ev(ctx, "203.0.113.5", "2026-11-22T09:00:00+00:00", "scanner")),
    ]


def body(lines):
    return "\n".join(lines) + "\n"


def post(ctx, text, user="h1", query=None, headers=None):
    path = E + ("?" + urlencode(query) if query else "")
    h = {"Content-Type": "application/x-ndjson"}
    h.update(headers or {})
    return ctx.req("POST", path, user, raw=text, headers=h, timeout=120)


def listing(ctx, user="admin", **params):
    """Every event of the query, following next_cursor."""
    items, cursor = [], None
    for _ in range(1000):
        p = dict(params)
        if cursor:
            p["cursor"] = cursor
        doc = ctx.expect(200, "GET", E + "?" + urlencode(p), user).json
        items += doc["items"]
        cursor = doc["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("the listing does not end")


def ids(items):
    return sorted(it["id"] for it in items)


def want(*labels):
    return sorted(S.ids[x] for x in labels)


def stats(ctx, user="admin", **params):
    return ctx.expect(200, "GET", E + "/stats" + ("?" + urlencode(params) if params else ""), user).json


def count_of(rows, **match):
    return sum(r["count"] for r in rows if all(r.get(k) == v for k, v in match.items()))


def setup(ctx):
    if S.org:
        return
    for key, rec in ORGS.items():
        sn = ctx.uniq("ev" + key)
        ctx.expect(201, "POST", "/api/v1/constituents", "admin", body=dict(rec, short_name=sn))
        S.org[key] = sn
        S.user[key] = ctx.uniq("cev" + key)
        ctx.add_user(S.user[key], "constituent", sn)
    S.feed = "events-test-" + ctx.tag


@test("events: a POSTed batch of IntelMQ lines is stored, matched, counted; its bad line is quarantined", timeout=60)
def t_post(ctx):
    setup(ctx)
    S.stats_before = stats(ctx)
    S.batch = ctx.uniq("batch")
    labelled = lines_of(ctx)
    r = post(ctx, body([x for _, x in labelled]), query={"batch": S.batch})
    eq(r.status, 201, "first POST of the batch (%s)" % r.brief())
    doc = r.json
    eq(sorted(doc), sorted(["ingest_id", "events", "duplicates", "quarantined", "lines", "status"]), "answer's keys")
    eq((doc["events"], doc["duplicates"], doc["quarantined"], doc["lines"], doc["status"]), (6, 0, 1, 7, "done"),
       "events, duplicates, quarantined, lines, status")
    S.ingest = doc["ingest_id"]
    eq(r.header("Location"), "/api/v1/ingests/%d" % S.ingest, "Location")

    items = listing(ctx, ingest=S.ingest)
    eq(len(items), 6, "events of the ingest")
    by_ip = {it["event"]["source.ip"]: it for it in items}
    owner = {"bank1": "bank", "bank2": "bank", "net1": "net", "cell1": "cell", "bank6": "bank", "nobody": None}
    for label, line in labelled:
        if label == "bad":
            continue
        ip = json.loads(line)["source.ip"]
        check(ip in by_ip, "no stored event for %s (%s): %r" % (label, ip, sorted(by_ip)))
        it = by_ip[ip]
        S.ids[label] = it["id"]
        eq(it["constituent"], S.org[owner[label]] if owner[label] else None, "constituent of %s" % label)
        eq(it["ingest_id"], S.ingest, "ingest_id of %s" % label)
        for k in ("id", "stored_at", "constituent", "ingest_id", "event"):
            check(k in it, "event %s lacks %r: %r" % (label, k, it))
    b2 = by_ip["198.51.100.11"]["event"]
    eq((b2["classification.taxonomy"], b2["classification.type"], b2["malware.name"], b2["extra.run"]),
       ("malicious-code", "infected-system", "mirai", ctx.tag), "the event's fields, classified")
    eq(ctx.expect(200, "GET", "%s/%d" % (E, S.ids["bank2"]), "h2").json, by_ip["198.51.100.11"],
       "GET by id equals the listed event")

    ing = ctx.expect(200, "GET", "/api/v1/ingests/%d" % S.ingest, "an1").json
    eq((ing["id"], ing["kind"], ing["source"], ing["feed"], ing["status"], ing["events"], ing["duplicates"],
        ing["quarantined"], ing["lines_done"]), (S.ingest, "api", S.batch, "intelmq", "done", 6, 0, 1, 7), "the ingest")
    listed = ctx.expect(200, "GET", "/api/v1/ingests?limit=500", "coord").json["items"]
    check(S.ingest in [i["id"] for i in listed], "the ingest is not in GET /api/v1/ingests")

    q = ctx.expect(200, "GET", "/api/v1/ingests/%d/quarantine" % S.ingest, "h1").json
    eq(len(q["items"]), 1, "quarantined rows")
    row = q["items"][0]
    eq((row["line"], row["ingest_id"]), (5, S.ingest), "the quarantined row's line and ingest")
    check(isinstance(row["reason"], str) and row["reason"], "the quarantined row has no reason: %r" % row)
    check('"time.source": ' in (row.get("raw") or ""), "the quarantined row's bytes: %r" % row)
    eq(q["next_cursor"], None, "next_cursor of a one-row quarantine")


@test("events: the same batch again is answered 200 with the stored totals and stores nothing", timeout=60)
def t_repeat(ctx):
    check(S.ingest, "needs the first POST")
    text = body([x for _, x in lines_of(ctx)])
    for how in ({"query": {"batch": S.batch}}, {"headers": {"Idempotency-Key": S.batch}},
                {"query": {"batch": S.batch, "feed": "intelmq"}, "headers": {"Idempotency-Key": S.batch}}):
        r = post(ctx, text, **how)
        eq(r.status, 200, "POST of a finished batch %r (%s)" % (how, r.brief()))
        eq(r.json, {"ingest_id": S.ingest, "events": 6, "duplicates": 0, "quarantined": 1, "lines": 7,
                    "status": "done"}, "answer to the repeated batch")
    eq(len(listing(ctx, ingest=S.ingest)), 6, "events of the ingest after the repeats")
    eq(len(listing(ctx, ip="198.51.100.10")), 1, "events of 198.51.100.10 (stored once)")
    # even a different body under the same batch id is not taken again: the id names the batch
    r = post(ctx, body([ev(ctx, "198.51.100.13", "2026-11-20T10:00:00+00:00", "scanner")]), query={"batch": S.batch})
    eq((r.status, r.json["ingest_id"]), (200, S.ingest), "another body under a finished batch's id")
    eq(listing(ctx, ip="198.51.100.13"), [], "events of the second body")


@test("events: batch ids are per user; events seen before are duplicates across batches", timeout=60)
def t_duplicates(ctx):
    check(S.ingest, "needs the first POST")
    text = body([x for _, x in lines_of(ctx)])
    r = post(ctx, text, user="h2", query={"batch": S.batch})
    eq(r.status, 201, "another user's batch with the same id (%s)" % r.brief())
    doc = r.json
    check(doc["ingest_id"] != S.ingest, "another user's batch got the first user's ingest")
    eq((doc["events"], doc["duplicates"], doc["quarantined"], doc["lines"]), (0, 6, 1, 7),
       "the same lines again: every event a duplicate")
    eq(listing(ctx, ingest=doc["ingest_id"]), [], "events stored by the duplicate batch")
    # a batch id in the Idempotency-Key header; one new event and one seen before
    key = ctx.uniq("idem")
    two = body([lines_of(ctx)[0][1], ev(ctx, "198.51.100.14", "2026-11-20T12:00:00+00:00", "scanner")])
    r = post(ctx, two, user="an1", headers={"Idempotency-Key": key})
    eq(r.status, 201, "POST with Idempotency-Key (%s)" % r.brief())
    eq((r.json["events"], r.json["duplicates"], r.json["quarantined"], r.json["lines"]), (1, 1, 0, 2),
       "one new event, one duplicate")
    again = post(ctx, two, user="an1", query={"batch": key})
    eq((again.status, again.json), (200, r.json), "the same batch by batch= after Idempotency-Key")
    eq(ctx.expect(200, "GET", "/api/v1/ingests/%d" % r.json["ingest_id"], "admin").json["source"], key,
       "the ingest's source is the batch id")
    S.ids["extra"] = listing(ctx, ip="198.51.100.14")[0]["id"]


@test("events: a POST is refused without a batch id, for unknown or file-bound feeds, empty, or from a constituent")
def t_post_refused(ctx):
    line = body([json.dumps({"source.ip": "198.18.0.9", "classification.type": "scanner"})])
    check_problem(post(ctx, line), 400, "batch", "no batch id")
    check_problem(post(ctx, line, query={"batch": "a"}, headers={"Idempotency-Key": "b"}), 400, "batch",
                  "batch= and Idempotency-Key differ")
    check_problem(post(ctx, line, query={"batch": "has space"}), 400, "batch", "a batch id with a space")
    check_problem(post(ctx, line, query={"batch": "x" * 200}), 400, "batch", "an over-long batch id")
    check_problem(post(ctx, line, query={"batch": ctx.uniq("f"), "feed": "nope"}), 400, ["feed", "nope", "intelmq"],
                  "an unknown feed")
    check_problem(post(ctx, line, query={"batch": ctx.uniq("f"), "feed": "shadowserver"}), 400, "report",
                  "shadowserver without report=")
    check_problem(post(ctx, line, query={"batch": ctx.uniq("f"), "feed": "shadowserver", "report": "scan_nope"}), 400,
                  ["report", "scan_nope"], "shadowserver with an unknown report")
    check_problem(post(ctx, line, query={"batch": ctx.uniq("f"), "feed": "csv"}), 400, ["feed", "mapping"],
                  "generic CSV over the API")
    check_problem(post(ctx, "", query={"batch": ctx.uniq("f")}), 400, "empty", "an empty body")
    setup(ctx)
    for user in (S.user["bank"], "pa"):
        check_problem(post(ctx, line, user=user, query={"batch": ctx.uniq("f")}), 403, None, "POST as %s" % user)
    check_problem(ctx.req("POST", E + "?batch=x", raw=line), 401, None, "POST without credentials")
    eq(listing(ctx, ip="198.18.0.9"), [], "events stored by refused POSTs")


@test("events: each organisation reads only its own events (others: absent from lists, 404 by id)")
def t_isolation(ctx):
    check(S.ids, "needs the first POST")
    bank, net = S.user["bank"], S.user["net"]
    mine = listing(ctx, bank, limit=1000)
    check(all(it["constituent"] == S.org["bank"] for it in mine), "the bank's user sees others' events: %r"
          % sorted({it["constituent"] for it in mine}))
    eq(ids(mine), want("bank1", "bank2", "bank6", "extra"), "the bank user's events")
    eq(ids(listing(ctx, net, limit=1000)), want("net1"), "the ISP user's events (the bank's /26 inside its /24 is "
                                                         "the bank's)")
    eq(ids(listing(ctx, S.user["cell"])), want("cell1"), "the second ISP's events")
    for it in listing(ctx, "ca", limit=1000):
        eq(it["constituent"], "orga", "an event in orga's user's list")
    eq(ctx.expect(200, "GET", "%s/%d" % (E, S.ids["bank1"]), bank).json["id"], S.ids["bank1"], "bank reads its own")
    for label in ("net1", "cell1", "nobody"):
        check_problem(ctx.req("GET", "%s/%d" % (E, S.ids[label]), bank), 404, None, "the bank user GET %s" % label)
    check_problem(ctx.req("GET", "%s/%d" % (E, S.ids["bank1"]), net), 404, None, "the ISP user GET the bank's event")
    check_problem(ctx.req("GET", "%s/%d" % (E, S.ids["bank1"]), "pa"), 404, None, "a partner GET the bank's event")
    # filters cannot widen the view; naming another organisation reads like naming none
    eq(ids(listing(ctx, bank, ip="198.51.100.0/24")), want("bank1", "bank2", "extra"),
       "the bank user filtering the ISP's /24")
    eq(ids(listing(ctx, bank, ingest=S.ingest)), want("bank1", "bank2", "bank6"), "the bank user filtering by ingest")
    a = check_problem(ctx.req("GET", E + "?constituent=" + S.org["net"], bank), 400, "constituent",
                      "the bank user naming the ISP")
    b = check_problem(ctx.req("GET", E + "?constituent=nobody-" + ctx.tag, bank), 400, "constituent",
                      "the bank user naming nobody")
    eq(a["detail"].replace(S.org["net"], "X"), b["detail"].replace("nobody-" + ctx.tag, "X"),
       "another organisation's name must read like an unknown one")
    eq(ids(listing(ctx, bank, constituent=S.org["bank"])), want("bank1", "bank2", "bank6", "extra"), "its own name")
    for path in ("/api/v1/ingests", "/api/v1/ingests/%d" % S.ingest, "/api/v1/ingests/%d/quarantine" % S.ingest):
        check_problem(ctx.req("GET", path, bank), 403, None, "the bank user GET " + path)


@test("events: staff filter by constituent, ip (address, CIDR, IPv6), taxonomy, type, feed, time, ingest")
def t_filters(ctx):
    check(S.ids, "needs the first POST")
    ing = {"ingest": S.ingest}
    eq(ids(listing(ctx, "h1", constituent=S.org["bank"])), want("bank1", "bank2", "bank6", "extra"),
       "constituent=bank")
    eq(ids(listing(ctx, "an1", ip="198.51.100.0/24", **ing)), want("bank1", "bank2", "net1"), "ip=198.51.100.0/24")
    eq(ids(listing(ctx, "an1", ip="198.51.100.0/26")), want("bank1", "bank2", "extra"), "ip=198.51.100.0/26")
    eq(ids(listing(ctx, "an1", ip="198.51.100.10")), want("bank1"), "ip=198.51.100.10")
    eq(ids(listing(ctx, "an1", ip="2001:db8:100::/40")), want("bank6"), "ip=2001:db8:100::/40")
    eq(ids(listing(ctx, "an1", ip="2001:DB8:100:10:0::5")), want("bank6"), "ip=an IPv6 address in another spelling")
    eq(ids(listing(ctx, "h1", taxonomy="information-gathering", **ing)), want("bank1", "cell1", "nobody"),
       "taxonomy=information-gathering")
    eq(ids(listing(ctx, "h1", taxonomy="Information Gathering", **ing)), want("bank1", "cell1", "nobody"),
       "taxonomy in RSIT's display spelling")
    eq(ids(listing(ctx, "h1", type="scanner", **ing)), want("bank1", "cell1", "nobody"), "type=scanner")
    eq(ids(listing(ctx, "h1", type="infected-system", taxonomy="malicious-code", **ing)), want("bank2"),
       "taxonomy and type")
    eq(ids(listing(ctx, "h1", type="vulnerable-system", **ing)), want("net1"), "type=vulnerable-system")
    # feed: the name the events carry
    stored = ctx.expect(200, "GET", "%s/%d" % (E, S.ids["bank1"]), "h1").json["event"]["feed.name"]
    eq(ids(listing(ctx, "h1", feed=stored, **ing)), want("bank1", "bank2", "net1", "cell1", "bank6", "nobody"),
       "feed=%s" % stored)
    eq(listing(ctx, "h1", feed="no-such-feed-" + ctx.tag), [], "an unknown feed")
    # time.source in [from, to)
    eq(ids(listing(ctx, "h1", **{"from": "2026-11-21T00:00:00Z", "to": "2026-11-22T00:00:00Z"}, **ing)),
       want("net1", "cell1"), "from/to one day")
    eq(ids(listing(ctx, "h1", **{"from": "2026-11-21T12:00:00+00:00"}, **ing)), want("cell1", "bank6", "nobody"),
       "from (inclusive)")
    eq(ids(listing(ctx, "h1", to="2026-11-20T11:00:00Z", **ing)), want("bank1"), "to (exclusive)")
    eq(ids(listing(ctx, "h1", **{"from": "2026-11-20T16:30:00+06:00", "to": "2026-11-21"}, **ing)), want("bank2"),
       "from with an offset, to as a date")
    eq(ids(listing(ctx, "h1", constituent=S.org["bank"], type="scanner", ip="198.51.100.0/24",
                   **{"from": "2026-11-20T00:00:00Z"})), want("bank1", "extra"), "filters combined")
    for bad, mention in (("from=yesterday", "from"), ("to=2026-13-01", "to"),
                         ("from=2026-11-22T00:00:00Z&to=2026-11-21T00:00:00Z", "to"), ("ip=999.1.1.1", "ip"),
                         ("ip=198.51.100.1/24", "ip"), ("ip=198.51.100.0/33", "ip"), ("taxonomy=nope", "taxonomy"),
                         ("type=nope", "type"), ("taxonomy=malicious-code&type=scanner", "taxonomy"),
                         ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"), ("ingest=x", "ingest"),
                         ("ingest=-1", "ingest"), ("constituent=nobody-" + ctx.tag, "constituent")):
        check_problem(ctx.req("GET", E + "?" + bad, "h1"), 400, mention, "GET events?" + bad)
    check_problem(ctx.req("GET", E + "?cursor=not-a-cursor", "h1"), 400, None, "a forged cursor")
    for bad in ("0", "x", "-1", "99999999999"):
        check_problem(ctx.req("GET", E + "/" + bad, "h1"), 404, None, "GET events/" + bad)
    for bad in ("0", "x", "99999999999"):
        check_problem(ctx.req("GET", "/api/v1/ingests/" + bad, "h1"), 404, None, "GET ingests/" + bad)
        check_problem(ctx.req("GET", "/api/v1/ingests/%s/quarantine" % bad, "h1"), 404, None,
                      "GET ingests/%s/quarantine" % bad)


@test("events: pages follow next_cursor, each event once, none skipped")
def t_paging(ctx):
    check(S.ids, "needs the first POST")
    seen, cursor, pages = [], None, 0
    while True:
        q = {"ingest": S.ingest, "limit": 2}
        if cursor:
            q["cursor"] = cursor
        doc = ctx.expect(200, "GET", E + "?" + urlencode(q), "h2").json
        check(len(doc["items"]) <= 2, "a page larger than its limit")
        seen += [it["id"] for it in doc["items"]]
        pages += 1
        cursor = doc["next_cursor"]
        check(pages < 10, "paging does not end")
        if not cursor:
            break
    eq(sorted(seen), want("bank1", "bank2", "net1", "cell1", "bank6", "nobody"), "events over all pages")
    eq(len(seen), len(set(seen)), "an event on two pages")
    check(pages in (3, 4), "6 events in pages of 2 took %d pages" % pages)
    # a constituent pages its own events the same way
    seen, cursor = [], None
    for _ in range(5):
        q = {"limit": 1}
        if cursor:
            q["cursor"] = cursor
        doc = ctx.expect(200, "GET", E + "?" + urlencode(q), S.user["bank"]).json
        seen += [it["id"] for it in doc["items"]]
        cursor = doc["next_cursor"]
        if not cursor:
            break
    eq(sorted(seen), want("bank1", "bank2", "bank6", "extra"), "the bank user's events, one per page")
    # ingests and the quarantine page too
    first = ctx.expect(200, "GET", "/api/v1/ingests?limit=1", "h1").json
    eq(len(first["items"]), 1, "one ingest per page")
    check(first["next_cursor"], "more than one ingest, but no next_cursor")
    second = ctx.expect(200, "GET", "/api/v1/ingests?limit=1&cursor=" + first["next_cursor"], "h1").json
    check(second["items"] and second["items"][0]["id"] != first["items"][0]["id"], "the second page repeats the first")
    check_problem(ctx.req("GET", "/api/v1/ingests?limit=0", "h1"), 400, "limit", "ingests?limit=0")
    check_problem(ctx.req("GET", "/api/v1/ingests/%d/quarantine?limit=5000" % S.ingest, "h1"), 400, "limit",
                  "quarantine?limit=5000")


@test("events: stats count by day, type, feed, sector and constituent, scoped like the lists")
def t_stats(ctx):
    check(S.ids and S.stats_before, "needs the first POST")
    before, after = S.stats_before, stats(ctx)
    # this module stored 7 events (6 in the first batch, 1 with the Idempotency-Key)
    eq(after["total"] - before["total"], 7, "total grew by this module's events")
    eq(count_of(after["by_sector"], sector="banking-finance") - count_of(before["by_sector"], sector="banking-finance"),
       4, "banking-finance grew")
    eq(count_of(after["by_sector"], sector="ict-telecom") - count_of(before["by_sector"], sector="ict-telecom"), 2,
       "ict-telecom grew")
    eq(count_of(after["by_type"], taxonomy="information-gathering", type="scanner") -
       count_of(before["by_type"], taxonomy="information-gathering", type="scanner"), 4, "scanners grew")
    stored = ctx.expect(200, "GET", "%s/%d" % (E, S.ids["bank1"]), "h1").json["event"]["feed.name"]
    eq(count_of(after["by_feed"], feed=stored) - count_of(before["by_feed"], feed=stored), 7, "feed %s grew" % stored)
    for k in ("by_day", "by_type", "by_feed", "by_sector", "by_constituent"):
        check(isinstance(after[k], list), "stats.%s is not a list" % k)
    # a constituent's stats are its own organisation's, exactly
    mine = stats(ctx, S.user["bank"])
    eq(mine["total"], 4, "the bank user's total")
    eq([(r["constituent"], r["count"]) for r in mine["by_constituent"]], [(S.org["bank"], 4)], "its by_constituent")
    eq([(r["sector"], r["count"]) for r in mine["by_sector"]], [("banking-finance", 4)], "its by_sector")
    eq(sorted((r["taxonomy"], r["type"], r["count"]) for r in mine["by_type"]),
       [("information-gathering", "scanner", 2), ("intrusion-attempts", "brute-force", 1),
        ("malicious-code", "infected-system", 1)], "its by_type")
    eq(sum(r["count"] for r in mine["by_day"]), 4, "its by_day adds up")
    # days are the days the events were stored (UTC), not their time.source
    today = ctx.expect(200, "GET", "%s/%d" % (E, S.ids["bank1"]), "h1").json["stored_at"][:10]
    eq({r["day"]: r["count"] for r in mine["by_day"]}, {today: 4}, "its by_day")
    eq(stats(ctx, S.user["bank"], **{"from": today, "to": today})["total"], 4, "the bank user's total from/to today")
    eq(stats(ctx, S.user["bank"], to="2026-11-01")["total"], 0, "to a day before anything was stored")
    eq(stats(ctx, S.user["bank"], **{"from": "2099-01-01"})["total"], 0, "from a day after")
    eq(stats(ctx, S.user["net"])["total"], 1, "the ISP user's total")
    other = stats(ctx, "ca")
    check(all(r["constituent"] == "orga" for r in other["by_constituent"]), "orga's user sees others in stats: %r"
          % other["by_constituent"])
    for bad, mention in (("from=2026-13-01", "from"), ("to=20261120", "to"), ("from=2026-11-20T00:00:00Z", "from"),
                         ("from=2026-11-22&to=2026-11-20", "to")):
        check_problem(ctx.req("GET", E + "/stats?" + bad, "h1"), 400, mention, "stats?" + bad)


@test("events: a Shadowserver report POSTed with report= is read with the built-in schema", timeout=60)
def t_shadowserver(ctx):
    setup(ctx)
    report = ("timestamp,ip,protocol,port,hostname,tag,asn,geo,region,city\n"
              "2026-11-20 10:00:00,198.51.100.40,tcp,5555,,adb,64511,BT,THIMPHU,THIMPHU\n"
              "not-a-time,198.51.100.41,tcp,5555,,adb,64511,BT,THIMPHU,THIMPHU\n"
              "2026-11-20 10:00:02,198.51.100.201,tcp,5555,,adb,64511,BT,THIMPHU,THIMPHU\n")
    batch = ctx.uniq("ss")
    r = post(ctx, report, user="coord", query={"batch": batch, "feed": "shadowserver", "report": "scan_adb"},
             headers={"Content-Type": "text/csv"})
    eq(r.status, 201, "a scan_adb report (%s)" % r.brief())
    eq((r.json["events"], r.json["quarantined"], r.json["lines"]), (2, 1, 4), "events, quarantined, last line")
    ing = ctx.expect(200, "GET", "/api/v1/ingests/%d" % r.json["ingest_id"], "admin").json
    eq((ing["feed"], ing["report"], ing["kind"]), ("shadowserver", "scan_adb", "api"), "the ingest")
    got = {it["event"]["source.ip"]: it for it in listing(ctx, ingest=r.json["ingest_id"])}
    eq(sorted(got), ["198.51.100.201", "198.51.100.40"], "addresses stored")
    eq((got["198.51.100.40"]["constituent"], got["198.51.100.201"]["constituent"]), (S.org["bank"], S.org["net"]),
       "matched organisations")
    eq(got["198.51.100.40"]["event"]["classification.taxonomy"], "vulnerable", "taxonomy from the schema")
    q = ctx.expect(200, "GET", "/api/v1/ingests/%d/quarantine" % r.json["ingest_id"], "admin").json["items"]
    eq([x["line"] for x in q], [3], "the quarantined row's line")
    again = post(ctx, report, user="coord", query={"batch": batch, "feed": "shadowserver", "report": "scan_adb"})
    eq((again.status, again.json), (200, r.json), "the report again")


def big_batch(ctx, n, net):
    """n distinct events nobody owns (198.18.0.0/15, benchmark space), about 150 bytes each."""
    out = []
    for i in range(n):
        out.append(json.dumps({"feed.name": S.feed or "events-test", "source.ip": "%s.%d.%d" % (net, i // 250 % 250,
                                                                                                  i % 250 + 1),
                               "source.port": 1024 + i % 60000, "time.source": "2026-11-19T%02d:%02d:%02d+00:00"
                               % (i // 3600 % 24, i // 60 % 60, i % 60), "classification.type": "scanner",
                               "extra.seq": i, "extra.run": ctx.tag}))
    return body(out)


@test("events: bodies over the ordinary limit are taken from staff on this route only; a running batch is 409",
      timeout=240)
def t_large_and_busy(ctx):
    text = big_batch(ctx, 40000, "198.18")
    size = len(text.encode())
    check(size > 2 * 1024 * 1024, "the big batch is only %d bytes" % size)
    # others get the ordinary limit, before anything is read
    check_problem(post(ctx, text, user=S.user["bank"] if S.user else "ca", query={"batch": ctx.uniq("big")}), 413,
                  None, "a constituent sending a big body")
    check_problem(ctx.req("POST", E + "?batch=x", raw=text, headers={"Content-Type": "application/x-ndjson"}), 413,
                  None, "a big body without credentials")
    check_problem(ctx.req("POST", "/api/v1/reports", "admin", raw=text), 413, None, "a big body to another route")
    # staff: one batch, and the same batch while it runs
    batch = ctx.uniq("big")
    result = {}

    def first():
        try:
            result["r"] = post(ctx, text, user="h1", query={"batch": batch})
        except Exception as ex:  # noqa: BLE001
            result["ex"] = ex

    th = threading.Thread(target=first)
    th.start()
    busy = None
    deadline = time.time() + 60
    while time.time() < deadline and th.is_alive():
        items = ctx.expect(200, "GET", "/api/v1/ingests?limit=20", "admin").json["items"]
        if any(i["source"] == batch and i["status"] == "running" for i in items):
            busy = post(ctx, body(['{"source.ip": "198.18.0.1"}']), user="h1", query={"batch": batch})
            break
        time.sleep(0.005)
    th.join(180)
    check("ex" not in result, "the big POST failed: %r" % result.get("ex"))
    r = result["r"]
    eq(r.status, 201, "the big batch (%d bytes) from staff (%s)" % (size, r.brief()))
    eq((r.json["events"], r.json["duplicates"], r.json["quarantined"], r.json["lines"]), (40000, 0, 0, 40000),
       "the big batch's totals")
    check(busy is not None, "the big batch finished before a second POST could meet it running")
    check_problem(busy, 409, batch, "the same batch while it runs")
    check(busy.header("Retry-After"), "409 without Retry-After")
    again = post(ctx, text, user="h1", query={"batch": batch})
    eq((again.status, again.json), (200, r.json), "the big batch once more")
