"""The constituency registry and the lookup: records, validation, isolation, import/export, demo data."""
import csv
import io
import json
import os
import subprocess
import tempfile
import time
from urllib.parse import quote

from harness import check, check_problem, eq, test

C = "/api/v1/constituents"


def record(ctx, **over):
    r = {"short_name": ctx.uniq("reg"), "name": "Registry test org", "kind": "cii-operator", "sector": "energy",
         "cii": True, "cii_tier": 1, "tags": ["ics", "hydro"],
         "networks": ["10.20.0.0/16", "2001:DB8:AB00:0000::/40"], "asns": ["AS64600", 64601],
         "domains": ["Power.Example.", "bücher.example"],
         "contacts": [{"name": "Control room", "email": "soc@power.example", "role": "24x7",
                       "phone": "+975 2 123456", "notify_interval": "immediate", "max_tlp": "AMBER+STRICT",
                       "pgp": "0123 4567 89ab cdef 0123  4567 89AB CDEF 0123 4567"},
                      {"name": "Abuse", "email": "abuse@power.example"}]}
    r.update(over)
    return r


def lookup(ctx, as_user="admin", **q):
    key, value = next(iter(q.items()))
    return ctx.expect(200, "GET", "/api/v1/lookup?%s=%s" % (key, quote(str(value))), as_user).json


def owners(doc):
    return sorted(c["short_name"] for c in doc["constituents"])


@test("registry: a full record is stored canonical (CIDR, ASN, A-label, fingerprint) and read back")
def t_record(ctx):
    rec = record(ctx)
    r = ctx.expect(201, "POST", C, "coord", body=rec)
    eq(r.header("Location"), C + "/" + rec["short_name"], "Location")
    out = r.json
    eq(out["networks"], ["10.20.0.0/16", "2001:db8:ab00::/40"], "networks, canonical")
    eq(out["asns"], [64600, 64601], "asns")
    eq(sorted(out["domains"]), ["power.example", "xn--bcher-kva.example"], "domains as A-labels")
    eq((out["kind"], out["sector"], out["cii"], out["cii_tier"], out["parent"]), ("cii-operator", "energy", True, 1, None),
       "classification")
    c0 = out["contacts"][0]
    eq((c0["role"], c0["notify_interval"], c0["max_tlp"], c0["pgp"]),
       ("24x7", "immediate", "AMBER+STRICT", "0123456789ABCDEF0123456789ABCDEF01234567"), "first contact")
    c1 = out["contacts"][1]
    eq((c1["role"], c1["notify_interval"], c1["notify_format"], c1["max_tlp"], c1["language"], c1["phone"]),
       ("abuse", "daily", "csv", "AMBER", "en", None), "defaults of the second contact")
    got = ctx.expect(200, "GET", C + "/" + rec["short_name"], "an1").json
    eq(got, out, "GET equals the POST answer")
    # A GET can be sent back as a PUT unchanged.
    again = ctx.expect(200, "PUT", C + "/" + rec["short_name"], "admin", body=got).json
    for k in got:
        if k != "updated_at":
            eq(again[k], got[k], "PUT of the GET: " + k)


@test("registry: PUT replaces, PATCH changes named fields, both validated as a whole")
def t_update(ctx):
    rec = record(ctx, networks=["10.21.0.0/16"], asns=[], domains=[])
    sn = rec["short_name"]
    ctx.expect(201, "POST", C, "admin", body=rec)
    out = ctx.expect(200, "PATCH", C + "/" + sn, "coord", body={"sector": "water", "tags": ["dam"]}).json
    eq((out["sector"], out["tags"], out["networks"], len(out["contacts"])), ("water", ["dam"], ["10.21.0.0/16"], 2),
       "after PATCH")
    out = ctx.expect(200, "PUT", C + "/" + sn, "admin", body={"name": "Replaced"}).json
    eq((out["name"], out["kind"], out["sector"], out["networks"], out["contacts"], out["cii"]),
       ("Replaced", "other", None, [], [], False), "after PUT (omitted fields take defaults)")
    check_problem(ctx.req("PATCH", C + "/" + sn, "admin", body={"cii_tier": 2}), 400, "cii", "tier without cii")
    check_problem(ctx.req("PUT", C + "/" + sn, "admin", body={"short_name": "other-name", "name": "x"}), 400,
                  "short_name", "rename through PUT")
    check_problem(ctx.req("PUT", C + "/nobody-" + ctx.tag, "admin", body={"name": "x"}), 404, None, "PUT unknown")
    check_problem(ctx.req("PATCH", C + "/nobody-" + ctx.tag, "admin", body={"name": "x"}), 404, None, "PATCH unknown")


@test("registry: bad records are refused with the field and the reason, and nothing changes")
def t_validation(ctx):
    base = record(ctx)
    cases = [
        ({"networks": ["10.30.0.1/16"]}, "host bits"),
        ({"networks": ["10.30.0.0/33"]}, "10.30.0.0/33"),
        ({"networks": ["not-a-network"]}, "networks[0]"),
        ({"networks": ["10.30.0.0/16", "10.30.0.0/16"]}, "networks[1]"),
        ({"sector": "space"}, "space"),
        ({"kind": "alien"}, "alien"),
        ({"asns": [0]}, "asns[0]"),
        ({"asns": ["AS4294967296"]}, "asns[0]"),
        ({"domains": ["bad_domain.example"]}, "domains[0]"),
        ({"domains": ["-x.example"]}, "domains[0]"),
        ({"contacts": [{"name": "x", "email": "no-at-sign"}]}, "contacts[0].email"),
        ({"contacts": [{"name": "x", "email": "a@b.example", "notify_interval": "monthly"}]}, "monthly"),
        ({"contacts": [{"name": "x", "email": "a@b.example", "max_tlp": "PURPLE"}]}, "contacts[0].max_tlp"),
        ({"contacts": [{"name": "x", "email": "a@b.example", "pgp": "1234"}]}, "contacts[0].pgp"),
        ({"cii": False, "cii_tier": 1}, "cii_tier"),
        ({"cii_tier": 7}, "cii_tier"),
        ({"parent": "no-such-parent-" + ctx.tag}, "no-such-parent"),
        ({"surprise": 1}, "surprise"),
        ({"short_name": "has space"}, "short_name"),
        ({"name": ""}, "name"),
    ]
    for change, mention in cases:
        body = dict(base, **change)
        check_problem(ctx.req("POST", C, "admin", body=body), 400, mention, "POST with %r" % (change,))
    check_problem(ctx.req("GET", C + "/" + base["short_name"], "admin"), 404, None, "nothing was stored")
    check_problem(ctx.req("POST", C, "admin", raw=b'{"short_name": "x", "name": '), 400, "json", "broken JSON")
    ctx.expect(201, "POST", C, "admin", body=base)
    check_problem(ctx.req("POST", C, "admin", body=base), 409, base["short_name"], "duplicate short name")


@test("registry: parents must exist and never form a cycle; referenced organisations cannot be deleted")
def t_parent_delete(ctx):
    top = ctx.uniq("sector-cirt")
    ctx.expect(201, "POST", C, "admin", body={"short_name": top, "name": "Sector CIRT"})
    mid = ctx.uniq("member")
    ctx.expect(201, "POST", C, "admin", body={"short_name": mid, "name": "Member", "parent": top})
    r = ctx.req("PATCH", C + "/" + top, "admin", body={"parent": mid})
    check(r.status in (400, 409), "a parent cycle was accepted: %s" % r.brief())
    check_problem(ctx.req("PATCH", C + "/" + top, "admin", body={"parent": top}), r.status, None, "own parent")
    members = ctx.expect(200, "GET", C + "?parent=" + top, "admin").json["items"]
    eq([m["short_name"] for m in members], [mid], "members of the sector CIRT")
    check_problem(ctx.req("DELETE", C + "/" + top, "admin"), 409, mid, "delete a parent with members")
    check_problem(ctx.req("DELETE", C + "/orga", "admin"), 409, None, "delete an organisation with users")
    ctx.expect(204, "DELETE", C + "/" + mid, "coord")
    ctx.expect(204, "DELETE", C + "/" + top, "coord")
    check_problem(ctx.req("GET", C + "/" + top, "admin"), 404, None, "deleted")


@test("registry: list filters by kind, sector, CII, tag and text, and pages with a cursor")
def t_list(ctx):
    tag = "page-" + ctx.tag
    made, stem = [], ctx.uniq("pg")
    for i in range(7):
        sn = "%s-%02d" % (stem, i)
        made.append(sn)
        ctx.expect(201, "POST", C, "admin", body={"short_name": sn, "name": "Paged %d" % i, "tags": [tag],
                                                  "kind": "isp" if i % 2 else "ngo", "cii": i == 3,
                                                  "sector": "media" if i < 2 else None})
    seen, cursor = [], None
    for _ in range(10):
        doc = ctx.expect(200, "GET", C + "?tag=%s&limit=3%s" % (tag, "&cursor=" + quote(cursor) if cursor else ""),
                         "h1").json
        check(len(doc["items"]) <= 3, "page larger than its limit")
        seen += [x["short_name"] for x in doc["items"]]
        cursor = doc["next_cursor"]
        if not cursor:
            break
    eq(seen, sorted(made), "all pages, in short_name order, once each")
    isp = [x["short_name"] for x in ctx.expect(200, "GET", C + "?kind=isp&tag=" + tag, "h1").json["items"]]
    eq(isp, [made[1], made[3], made[5]], "kind=isp")
    cii = [x["short_name"] for x in ctx.expect(200, "GET", C + "?cii=true&tag=" + tag, "h1").json["items"]]
    eq(cii, [made[3]], "cii=true")
    media = [x["short_name"] for x in ctx.expect(200, "GET", C + "?sector=media&tag=" + tag, "h1").json["items"]]
    eq(media, made[:2], "sector=media")
    q = [x["short_name"] for x in ctx.expect(200, "GET", C + "?q=" + quote(made[4]), "h1").json["items"]]
    eq(q, [made[4]], "q=")
    for bad, mention in (("kind=alien", "kind"), ("sector=space", "sector"), ("cii=maybe", "cii"),
                         ("limit=0", "limit"), ("limit=abc", "limit")):
        check_problem(ctx.req("GET", C + "?" + bad, "h1"), 400, mention, "list ?" + bad)


@test("lookup: the most specific network wins, IPv6, AS numbers, domains with subdomains and IDNs")
def t_lookup(ctx):
    isp, cust, twin = ctx.uniq("isp"), ctx.uniq("cust"), ctx.uniq("twin")
    ctx.expect(201, "POST", C, "admin", body={"short_name": isp, "name": "ISP", "kind": "isp",
                                              "networks": ["10.40.0.0/16", "2001:db8:4000::/36"], "asns": [64700],
                                              "domains": ["isp40.example"],
                                              "contacts": [{"name": "Abuse", "email": "abuse@isp40.example"}]})
    ctx.expect(201, "POST", C, "admin", body={"short_name": cust, "name": "Customer", "cii": True, "cii_tier": 2,
                                              "networks": ["10.40.7.0/24", "2001:db8:4000:7::/64"],
                                              "domains": ["shop.isp40.example", "müller.example"]})
    ctx.expect(201, "POST", C, "admin", body={"short_name": twin, "name": "Twin", "networks": ["10.40.7.0/24"]})
    d = lookup(ctx, ip="10.40.7.9")
    eq(d["query"], {"ip": "10.40.7.9"}, "query echo")
    eq(owners(d), sorted([cust, twin]), "owners of 10.40.7.9 (two claim the same /24)")
    eq([(m["resource"], sorted(m["constituents"])) for m in d["matches"]],
       [("10.40.7.0/24", sorted([cust, twin])), ("10.40.0.0/16", [isp])], "match chain")
    got = {c["short_name"]: c for c in d["constituents"]}
    eq((got[cust]["cii"], got[cust]["cii_tier"], got[cust]["matched"]), (True, 2, "10.40.7.0/24"), "owner details")
    check("networks" not in got[cust], "lookup answers carry whole network lists")
    eq(owners(lookup(ctx, ip="10.40.8.1")), [isp], "outside the customer's /24")
    eq(lookup(ctx, ip="10.40.8.1")["constituents"][0]["contacts"][0]["email"], "abuse@isp40.example", "contacts")
    eq(owners(lookup(ctx, ip="10.41.0.1")), [], "nobody's address")
    eq(owners(lookup(ctx, ip="2001:db8:4000:7::99")), [cust], "IPv6, most specific")
    eq(owners(lookup(ctx, ip="2001:db8:4000:8::1")), [isp], "IPv6, covering")
    eq(owners(lookup(ctx, ip="::ffff:10.40.7.9")), sorted([cust, twin]), "IPv4-mapped IPv6 asks IPv4")
    eq(owners(lookup(ctx, ip="10.40.0.0/17")), [isp], "a network inside the ISP's")
    eq(owners(lookup(ctx, asn="AS64700")), [isp], "AS number")
    eq(owners(lookup(ctx, asn="64701")), [], "unknown AS")
    eq(owners(lookup(ctx, domain="www.Shop.ISP40.example.")), [cust], "subdomain, any case, trailing dot")
    eq(owners(lookup(ctx, domain="mail.isp40.example")), [isp], "parent domain")
    eq(owners(lookup(ctx, domain="notisp40.example")), [], "a label boundary is not crossed")
    d = lookup(ctx, domain="www.MÜLLER.example")
    eq((owners(d), d["query"]["domain"]), ([cust], "www.xn--mller-kva.example"), "IDN in U-label form")
    eq(owners(lookup(ctx, q="10.40.7.1")), sorted([cust, twin]), "q= guesses an address")
    eq(owners(lookup(ctx, q="AS64700")), [isp], "q= guesses an AS")
    eq(owners(lookup(ctx, q="shop.isp40.example")), [cust], "q= guesses a domain")
    for bad, mention in (("ip=10.40.7.999", "ip"), ("asn=ASX", "asn"), ("domain=a..b", "domain"),
                         ("ip=10.40.7.1&asn=1", "not both"), ("", "ip")):
        check_problem(ctx.req("GET", "/api/v1/lookup?" + bad, "admin"), 400, mention, "lookup ?" + bad)


@test("lookup: answers change as soon as the registry does (index rebuilt and swapped)")
def t_lookup_rebuild(ctx):
    sn = ctx.uniq("moving")
    eq(owners(lookup(ctx, ip="10.50.1.1")), [], "before")
    ctx.expect(201, "POST", C, "admin", body={"short_name": sn, "name": "Moving", "networks": ["10.50.0.0/16"]})
    eq(owners(lookup(ctx, ip="10.50.1.1")), [sn], "right after create")
    ctx.expect(200, "PATCH", C + "/" + sn, "admin", body={"networks": ["10.51.0.0/16"]})
    eq(owners(lookup(ctx, ip="10.50.1.1")), [], "right after the network moved away")
    eq(owners(lookup(ctx, ip="10.51.1.1")), [sn], "the new network")
    ctx.expect(204, "DELETE", C + "/" + sn, "admin")
    eq(owners(lookup(ctx, ip="10.51.1.1")), [], "after delete")


@test("isolation: constituent users read their own record and nothing else, also through lookup")
def t_isolation(ctx):
    ctx.expect(200, "PATCH", C + "/orga", "admin", body={"networks": ["10.60.0.0/16"], "domains": ["orga.example"]})
    ctx.expect(200, "PATCH", C + "/orgb", "admin", body={"networks": ["10.60.5.0/24"], "domains": ["orgb.example"],
                                                         "contacts": [{"name": "B", "email": "secret@orgb.example"}]})
    eq([x["short_name"] for x in ctx.expect(200, "GET", C, "ca").json["items"]], ["orga"], "ca's list")
    eq(ctx.expect(200, "GET", C + "/orga", "ca").json["networks"], ["10.60.0.0/16"], "ca reads orga")
    check_problem(ctx.req("GET", C + "/orgb", "ca"), 404, None, "ca reads orgb")
    check_problem(ctx.req("GET", C + "/orga", "cb"), 404, None, "cb reads orga")
    check_problem(ctx.req("PATCH", C + "/orga", "ca", body={"name": "mine"}), 403, None, "ca edits its own record")
    eq(owners(lookup(ctx, "ca", ip="10.60.1.1")), ["orga"], "ca looks up its own address")
    d = lookup(ctx, "ca", ip="10.60.5.1")
    eq((owners(d), [m["constituents"] for m in d["matches"]]), ([], [["orga"]]),
       "ca looks up orgb's address: only its own covering claim")
    check("secret@orgb.example" not in json.dumps(d), "orgb's contact leaked to ca")
    eq(owners(lookup(ctx, "cb", domain="www.orga.example")), [], "cb looks up orga's domain")
    eq(owners(lookup(ctx, "h1", ip="10.60.5.1")), ["orgb"], "staff see the owner")


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


@test("cli: import CSV and JSON (all or nothing, every error with its line), export, round trip, check", timeout=90)
def t_cli_import_export(ctx):
    tmp = tempfile.mkdtemp(dir=ctx.tmp)
    a, b = ctx.uniq("csv-a"), ctx.uniq("csv-b")
    header = ("short_name,name,kind,sector,cii,cii_tier,parent,tags,networks,asns,domains,contact_name,"
              "contact_email,contact_role,contact_notify_interval,contact_max_tlp,contact_pgp\n")
    key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGVvZmFrZQ==\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----"
    good = header + (
        '%s,"Bank, ""A""",cii-operator,banking-finance,yes,1,,swift ebank,10.70.0.0/16 2001:db8:7000::/36,'
        'AS64800 64801,bank-a.example,SOC,soc@bank-a.example,24x7,immediate,AMBER+STRICT,"%s"\n'
        '%s,"Bank, ""A""",cii-operator,banking-finance,yes,1,,swift ebank,10.70.0.0/16 2001:db8:7000::/36,'
        'AS64800 64801,bank-a.example,Abuse,abuse@bank-a.example,abuse,daily,GREEN,\n'
        '%s,Branch B,private,,no,,%s,,10.70.9.0/24,,b.bank-a.example,,,,,,\n') % (a, key, a, b, a)
    write(os.path.join(tmp, "good.csv"), good)
    bad = header + (
        '%s-x,Bad one,cii-operator,,no,,,,10.80.0.1/16,,,,,,,,\n'
        '%s-y,Bad two,martian,,no,,,,,,,,,,,,\n'
        '%s-z,Fine,other,,no,,,,,,,,,,,,\n') % (a, a, a)
    write(os.path.join(tmp, "bad.csv"), bad)
    p = ctx.cli("constituents", "import", os.path.join(tmp, "bad.csv"), check_rc=False)
    check(p.returncode != 0, "a bad import succeeded: %s" % p.stdout)
    check("bad.csv:2:" in p.stderr and "host bits" in p.stderr, "line 2's error: %r" % p.stderr)
    check("bad.csv:3:" in p.stderr and "martian" in p.stderr, "line 3's error: %r" % p.stderr)
    check_problem(ctx.req("GET", C + "/%s-z" % a, "admin"), 404, None, "the good row of a bad file was written")

    p = ctx.cli("constituents", "import", os.path.join(tmp, "good.csv"))
    check("2 created" in p.stdout, "import summary: %r" % p.stdout)
    rec = ctx.expect(200, "GET", C + "/" + a, "admin").json
    eq((rec["name"], rec["asns"], rec["tags"], rec["cii_tier"], len(rec["contacts"]), rec["contacts"][0]["pgp"]),
       ('Bank, "A"', [64800, 64801], ["ebank", "swift"], 1, 2, key), "imported record (tags sorted)")
    eq(ctx.expect(200, "GET", C + "/" + b, "admin").json["parent"], a, "parent from the same file")
    # The running server notices a CLI import within a second or two.
    deadline = time.time() + 10
    while owners(lookup(ctx, ip="10.70.9.5")) != [b] and time.time() < deadline:
        time.sleep(0.2)
    eq(owners(lookup(ctx, ip="10.70.9.5")), [b], "server's lookup after the CLI import")

    p = ctx.cli("constituents", "import", os.path.join(tmp, "good.csv"))
    check("2 unchanged" in p.stdout, "second import of the same file: %r" % p.stdout)

    # Round trips: CSV export -> import changes nothing; JSON export -> import changes nothing; they agree.
    out_csv, out_json = os.path.join(tmp, "all.csv"), os.path.join(tmp, "all.json")
    ctx.cli("constituents", "export", "--output", out_csv)
    ctx.cli("constituents", "export", "--format", "json", "--output", out_json)
    n = len(json.load(open(out_json, encoding="utf-8")))
    p = ctx.cli("constituents", "import", out_csv)
    check("%d unchanged" % n in p.stdout, "re-import of the CSV export: %r" % p.stdout)
    p = ctx.cli("constituents", "import", out_json)
    check("%d unchanged" % n in p.stdout, "re-import of the JSON export: %r" % p.stdout)
    rows = list(csv.DictReader(io.StringIO(open(out_csv, encoding="utf-8").read())))
    eq(sorted({r["short_name"] for r in rows}), sorted(x["short_name"] for x in json.load(open(out_json))),
       "CSV and JSON exports name the same organisations")

    p = ctx.cli("constituents", "check")
    check("nested" in p.stdout and "10.70.9.0/24" in p.stdout and a in p.stdout, "check output: %r" % p.stdout)
    p = ctx.cli("lookup", "10.70.9.5")
    eq(owners(json.loads(p.stdout)), [b], "dzong lookup")
    p = ctx.cli("lookup", "--domain", "x.b.bank-a.example")
    eq(owners(json.loads(p.stdout)), [b], "dzong lookup --domain")
    p = ctx.cli("lookup", "999.1.1.1", check_rc=False)
    check(p.returncode != 0 and "999.1.1.1" in p.stderr, "bad lookup: %r" % p.stderr)


@test("demo: `dzong init --demo` loads a national constituency in documentation address space", timeout=90)
def t_demo(ctx):
    data = tempfile.mkdtemp(dir=ctx.tmp)
    env = dict(os.environ)
    for k in ("DZONG_DB", "DZONG_DATA", "DZONG_LISTEN"):
        env.pop(k, None)

    def run(*args):
        p = subprocess.run([ctx.dzong, "--data", data] + list(args), capture_output=True, text=True, env=env,
                           timeout=60)
        check(p.returncode == 0, "dzong %s: %s%s" % (" ".join(args), p.stdout, p.stderr))
        return p.stdout

    run("init", "--demo")
    orgs = json.loads(run("constituents", "list", "--json"))
    check(len(orgs) >= 15, "demo has %d organisations" % len(orgs))
    kinds = {o["kind"] for o in orgs}
    sectors = {o["sector"] for o in orgs}
    check({"government", "isp", "cii-operator", "partner-cert"} <= kinds, "demo kinds: %r" % kinds)
    check({"government", "energy", "banking-finance", "health", "transport", "ict-telecom"} <= sectors,
          "demo sectors: %r" % sectors)
    import ipaddress
    doc_space = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
    for o in orgs:
        for n in o["networks"]:
            net = ipaddress.ip_network(n)
            check(any(net.version == d.version and net.subnet_of(d) for d in doc_space),
                  "%s has %s outside documentation space" % (o["short_name"], n))
        for asn in o["asns"]:
            check(64512 <= asn <= 65534 or 4200000000 <= asn <= 4294967294, "%s: AS%d is not private-use" %
                  (o["short_name"], asn))
        for d in o["domains"]:
            check(d.endswith(".example"), "%s: domain %s" % (o["short_name"], d))
        check(o["contacts"], "%s has no contacts" % o["short_name"])
    d = json.loads(run("lookup", "198.51.100.10"))
    eq((owners(d), [m["constituents"] for m in d["matches"]]), (["druk-bank"], [["druk-bank"], ["druknet"]]),
       "a bank's address inside the telecom operator's /24")
    check("nested" in run("constituents", "check"), "the demo's nesting is reported")
