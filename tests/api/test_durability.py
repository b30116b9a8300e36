"""
Durability and the audit log. These restart the server and alter its
database, so they run last (run.py imports this module last).
"""
import os
import re
import subprocess
import threading

from harness import check, eq, test


@test("durability: every acknowledged incident survives kill -9 and restart", timeout=60)
def t_kill9(ctx):
    acked, errors, lock = {}, [], threading.Lock()

    def writer(n, k):
        for i in range(k):
            title = "Durable %s %d-%d" % (ctx.tag, n, i)
            try:
                r = ctx.req("POST", "/api/v1/incidents", "h1", body={"title": title, "severity": "high",
                                                                     "constituents": ["orga"], "tags": ["durable"]})
                if r.status == 201:
                    with lock:
                        acked[r.json["id"]] = title
                else:
                    errors.append(r.brief())
            except Exception as ex:  # noqa: BLE001
                errors.append(repr(ex))

    threads = [threading.Thread(target=writer, args=(n, 8)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    check(not errors, "writes failed before the kill: %s" % errors[:3])
    # one more, acknowledged immediately before the kill
    last = ctx.create_incident(as_user="h1", title="Durable last " + ctx.tag)
    acked[last["id"]] = last["title"]
    note = ctx.expect(201, "POST", "/api/v1/incidents/%s/notes" % last["id"], "h1", body={"body": "just before"}).json
    ctx.kill9_server()
    eq(len(acked), 65, "acknowledged creations")
    ctx.start_server()
    missing = []
    for iid, title in sorted(acked.items()):
        r = ctx.req("GET", "/api/v1/incidents/" + iid, "admin")
        if r.status != 200 or r.json.get("title") != title:
            missing.append("%s (%s)" % (iid, r.brief()[:80]))
    check(not missing, "%d acknowledged incidents lost or changed after kill -9: %s" % (len(missing), missing[:5]))
    notes = ctx.expect(200, "GET", "/api/v1/incidents/%s/notes" % last["id"], "admin").json["items"]
    eq([n["id"] for n in notes], [note["id"]], "note acknowledged just before the kill")
    # ids stay unique after recovery: the sequence did not go back
    fresh = ctx.create_incident(title="After restart " + ctx.tag)
    check(fresh["id"] not in acked, "id %s handed out twice after restart" % fresh["id"])
    check(fresh["id"] > max(acked), "id %s not after %s" % (fresh["id"], max(acked)))


def audit_verify(ctx):
    return ctx.cli("audit", "verify", check_rc=False)


@test("audit: `dzong audit verify` passes and the API agrees")
def t_audit_intact(ctx):
    p = audit_verify(ctx)
    eq(p.returncode, 0, "audit verify exit code (%s%s)" % (p.stdout, p.stderr))
    m = re.search(r"intact: (\d+) entries verified", p.stdout)
    check(m and int(m.group(1)) > 50, "audit verify output %r" % p.stdout)
    doc = ctx.expect(200, "GET", "/api/v1/audit/verify", "coord").json
    eq((doc["ok"], doc["first_bad"], doc["reason"]), (True, None, None), "API verify")
    check(doc["checked"] >= int(m.group(1)), "API checked %d < CLI %s" % (doc["checked"], m.group(1)))
    items = ctx.expect(200, "GET", "/api/v1/audit?limit=1000", "admin").json["items"]
    eq([x["seq"] for x in items], list(range(1, len(items) + 1)), "audit seqs")
    actions = {x["action"] for x in items}
    for a in ("user.create", "incident.create", "incident.update", "incident.merge", "report.create", "incident.note"):
        check(a in actions, "no %s in the audit log" % a)
    page = ctx.expect(200, "GET", "/api/v1/audit?after=5&limit=3", "admin").json["items"]
    eq([x["seq"] for x in page], [6, 7, 8], "audit after=5&limit=3")


@test("audit: tampering with an entry makes `dzong audit verify` exit 1 naming it", timeout=60)
def t_audit_tamper(ctx):
    items = ctx.expect(200, "GET", "/api/v1/audit?limit=1000", "admin").json["items"]
    check(len(items) > 20, "too few audit entries (%d)" % len(items))
    seq = items[len(items) // 2]["seq"]

    # Straight to the database, past dzong: the sqlite3 CLI on the file, or psql on the URL.
    if ctx.backend == "postgres":
        def sql(script):
            return subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", ctx.db_url], input=script,
                                  capture_output=True, text=True, timeout=30)
        drop_trigger = "DROP TRIGGER audit_log_no_update ON audit_log;\n"
        tampered_out = "DROP TRIGGER\nUPDATE 1"  # psql's command tags
    else:
        db = os.path.join(ctx.data, "dzong.db")

        def sql(script):
            return subprocess.run(["sqlite3", db], input=".timeout 10000\n" + script, capture_output=True, text=True,
                                  timeout=30)
        drop_trigger = "DROP TRIGGER audit_log_no_update;\n"
        tampered_out = "1"  # SELECT changes()

    # the triggers refuse the change as long as they exist
    p = sql("UPDATE audit_log SET detail = '{\"tampered\":true}' WHERE seq = %d;\n" % seq)
    check(p.returncode != 0 and "append-only" in p.stderr, "UPDATE with the trigger in place: rc %d %r" % (p.returncode, p.stderr))
    p = sql("DELETE FROM audit_log WHERE seq = %d;\n" % seq)
    check(p.returncode != 0 and "append-only" in p.stderr, "DELETE with the trigger in place: rc %d %r" % (p.returncode, p.stderr))
    eq(audit_verify(ctx).returncode, 0, "verify after refused tampering")
    p = sql(drop_trigger + "UPDATE audit_log SET detail = '{\"tampered\":true}' WHERE seq = %d;\n" % seq +
            ("SELECT changes();\n" if ctx.backend == "sqlite" else ""))
    eq((p.returncode, p.stdout.strip()), (0, tampered_out), "tampering (%s)" % p.stderr)
    p = audit_verify(ctx)
    eq(p.returncode, 1, "audit verify exit code after tampering (%s%s)" % (p.stdout, p.stderr))
    check(re.search(r"\bentry %d\b" % seq, p.stdout), "audit verify does not name entry %d: %r" % (seq, p.stdout))
    check("BROKEN" in p.stdout and "altered" in p.stdout, "audit verify output %r" % p.stdout)
    m = re.search(r"\((\d+) entries before it verified\)", p.stdout)
    check(m and int(m.group(1)) == seq - 1, "entries verified before the break: %r" % p.stdout)
    doc = ctx.expect(200, "GET", "/api/v1/audit/verify", "admin").json
    eq((doc["ok"], doc["first_bad"]), (False, seq), "API verify after tampering")
    check(str(seq) in (doc["reason"] or ""), "API reason %r" % doc["reason"])
