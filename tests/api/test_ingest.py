"""
`dzong ingest`: a Shadowserver report through the whole pipeline, matched to
the constituent that owns each address; the same file again is not taken
twice; and a run killed with SIGKILL in the middle of a file resumes from its
checkpoint with every row stored exactly once.
"""
import json
import os
import random
import signal
import subprocess
import time

from harness import check, eq, test

HEADER = "timestamp,ip,protocol,port,hostname,tag,asn,geo,region,city\n"


def write_report(path, rows, owned_net, seed):
    """A scan_adb report: unique addresses, every third inside owned_net (a /16 given as 'a.b')."""
    rnd = random.Random(seed)
    used = set()
    with open(path, "w") as f:
        f.write(HEADER)
        for i in range(rows):
            while True:
                if i % 3 == 0:
                    ip = "%s.%d.%d" % (owned_net, rnd.randrange(256), rnd.randrange(1, 255))
                else:
                    ip = "%d.%d.%d.%d" % (rnd.randrange(11, 224), rnd.randrange(256), rnd.randrange(256),
                                          rnd.randrange(1, 255))
                if ip not in used:
                    break
            used.add(ip)
            f.write("2026-11-20 %02d:%02d:%02d,%s,tcp,5555,,adb,64511,BT,THIMPHU,THIMPHU\n"
                    % (i // 3600 % 24, i // 60 % 60, i % 60, ip))


def ingests(ctx):
    r = ctx.req("GET", "/api/v1/ingests?limit=100", "admin")
    eq(r.status, 200, "GET /api/v1/ingests " + r.brief())
    return r.json["items"]


def org_with_network(ctx, net):
    short = ctx.uniq("ing")
    rec = {"short_name": short, "name": "Ingest test " + short, "kind": "isp", "networks": [net]}
    path = os.path.join(ctx.tmp, short + ".json")
    with open(path, "w") as f:
        json.dump([rec], f)
    ctx.cli("constituents", "import", path)
    return short


@test("ingest: a report is stored, matched to its constituent, and not taken twice", timeout=120)
def t_ingest_once(ctx):
    short = org_with_network(ctx, "10.61.0.0/16")
    path = os.path.join(ctx.tmp, "2026-11-20-scan_adb-bt-geo.csv")
    write_report(path, 3000, "10.61", 1)
    with open(path, "a") as f:  # a broken row: an unterminated quoted field (the file's last line)
        f.write('2026-11-20 10:00:00,"10.61.0.1,tcp,5555\n')
    p = ctx.cli("ingest", "--feed", "shadowserver", path, timeout=60)
    check("3000 events stored" in p.stdout and "1 quarantined" in p.stdout and "1000 matched" in p.stdout,
          "first ingest printed %r" % p.stdout)
    p = ctx.cli("ingest", "--feed", "shadowserver", path, timeout=60)
    check("already ingested" in p.stdout, "second ingest printed %r" % p.stdout)
    # a copy under another name is the same content: also not taken twice
    other = os.path.join(ctx.tmp, "2026-11-21-scan_adb-bt-geo.csv")
    with open(path, "rb") as src, open(other, "wb") as dst:
        dst.write(src.read())
    p = ctx.cli("ingest", "--feed", "shadowserver", other, timeout=60)
    check("already ingested" in p.stdout, "ingest of a copy printed %r" % p.stdout)
    # the constituent's events carry extra.constituent
    r = ctx.req("GET", "/api/v1/events?constituent=%s&limit=5" % short, "admin")
    eq(r.status, 200, "events of the constituent " + r.brief())
    check(len(r.json["items"]) == 5, "5 events expected: %r" % r.json)
    for it in r.json["items"]:
        eq(it["constituent"], short, "constituent of an event")
        eq(it["event"].get("extra.constituent"), short, "extra.constituent")
        check(it["event"]["source.ip"].startswith("10.61."), "owned address: %r" % it["event"])
        eq(it["event"]["classification.taxonomy"], "vulnerable", "taxonomy")


@test("ingest: killed with SIGKILL mid-file, a rerun resumes and stores every row exactly once", timeout=300)
def t_ingest_kill_resume(ctx):
    org_with_network(ctx, "10.62.0.0/16")
    rows = 150000  # a third inside a /16: at most 65,024 distinct owned addresses
    path = os.path.join(ctx.tmp, "2026-11-22-scan_adb-kill-geo.csv")
    write_report(path, rows, "10.62", 2)
    cmd = [ctx.dzong, "--data", ctx.data, "ingest", "--feed", "shadowserver", "--batch", "2000", "--quiet", path]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ctx.env())
    # wait for a checkpoint past the start, then kill -9 before the end
    done = 0
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        mine = [i for i in ingests(ctx) if i["source"] == path]
        if mine and mine[0]["lines_done"] > 2:
            done = mine[0]["lines_done"]
            break
        time.sleep(0.01)
    check(proc.poll() is None, "the ingest ended before it could be killed (lines_done %d)" % done)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    mine = [i for i in ingests(ctx) if i["source"] == path][0]
    eq(mine["status"], "running", "status of the killed ingest")
    check(0 < mine["lines_done"] < rows + 1, "checkpoint of the killed run: %r" % mine)

    p = ctx.cli("ingest", "--feed", "shadowserver", path, timeout=120)
    check("(resumed)" in p.stdout, "the rerun did not resume: %r" % p.stdout)
    mine = [i for i in ingests(ctx) if i["source"] == path][0]
    eq(mine["status"], "done", "status after the rerun")
    eq(mine["events"], rows, "events stored over both runs")
    eq(mine["duplicates"], 0, "duplicates (a row stored twice would show here)")
    eq(mine["quarantined"], 0, "quarantined")
    eq(mine["lines_done"], rows + 1, "last line")
    if ctx.backend == "sqlite":
        import sqlite3
        db = sqlite3.connect(os.path.join(ctx.data, "dzong.db"))
        n, distinct, lo, hi = db.execute("SELECT COUNT(*), COUNT(DISTINCT line), MIN(line), MAX(line) FROM events "
                                         "WHERE ingest_id = ?", (mine["id"],)).fetchone()
        db.close()
        eq((n, distinct, lo, hi), (rows, rows, 2, rows + 1), "rows in the events table (count, distinct, min, max)")
