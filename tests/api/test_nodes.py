"""
Two nodes on one PostgreSQL database (PostgreSQL only; run.py leaves this out
on SQLite and says so in its header line).

A second `dzong serve` (node B) on the same database and data directory, on
another port, next to the suite's server (node A). Client threads split across
both nodes create incidents with a bearer token; at a random moment node B gets
SIGKILL while requests are in flight. Afterwards: every acknowledged (201)
incident is readable through node A with its own title, no public id was
handed out twice, the numbers of the year run 1..N without a gap, every
creation has its audit entry, `dzong audit verify` passes (the chain stayed
intact with two writers), node A kept writing after B died (B's open
transaction did not leave the writers' lock held), and B serves again after a
restart.

Then PostgreSQL drops every session of the database (pg_terminate_backend, as
a restart or failover would) while clients write to node A: at most the batch
in flight fails, nothing acknowledged is lost, and the node answers again at
once; dropped while idle, not one request fails.

Last, both nodes share one spool directory and one scheduled download: 20 files
dropped at once are each taken in exactly once (by one node or the other), and
each download round runs on one node.
"""
import http.client
import os
import random
import re
import signal
import subprocess
import threading
import time
from urllib.parse import quote

from harness import ID_RE, Ctx, check, do_request, eq, log, test
# the feed input tests (registered here, before the two-node tests, if run.py has not imported them yet)
from test_feeds_inputs import FeedServer, all_ingests, drop, events_of_ingest, intelmq_file, spool, wait_for  # noqa: E402

CLIENTS = 8          # split evenly across the two nodes
RUN_SECONDS = 4.0    # total writing time
KILL_WINDOW = (1.0, 2.8)  # B is killed at a random moment in this window (seconds after the start)


def list_all_incidents(ctx, port):
    """Every incident visible to admin through one node, by cursor pagination: [(id, title)]."""
    out, cursor, pages = [], None, 0
    c = ctx.conn(30, port)
    try:
        while True:
            q = "/api/v1/incidents?limit=500" + ("&cursor=" + quote(cursor) if cursor else "")
            r = do_request(c, "GET", q, ctx.users["admin"].token)
            eq(r.status, 200, "GET %s" % q)
            doc = r.json
            out += [(it["id"], it["title"]) for it in doc["items"]]
            pages += 1
            cursor = doc.get("next_cursor")
            if not cursor:
                return out
            check(doc["items"] and pages < 1000, "pagination does not end (page %d)" % pages)
    finally:
        c.close()


def audit_all(ctx, port):
    items, after = [], 0
    while True:
        page = ctx.expect(200, "GET", "/api/v1/audit?after=%d&limit=1000" % after, "admin", port=port).json["items"]
        if not page:
            return items
        items += page
        after = page[-1]["seq"]


@test("nodes: two nodes on one PostgreSQL write concurrently; kill -9 of one loses no acknowledged write",
      timeout=120, backend="postgres")
def t_two_nodes(ctx):
    log_b = os.path.join(ctx.tmp, "server-b.log")
    proc_b, port_b = ctx.spawn_server(log_b)
    port_a = ctx.port
    try:
        _two_nodes(ctx, proc_b, port_a, port_b, log_b)
    finally:
        Ctx._kill(proc_b, graceful=False)


def _two_nodes(ctx, proc_b, port_a, port_b, log_b):
    nodes = {"A": port_a, "B": port_b}
    lock = threading.Lock()
    stop = threading.Event()
    b_killed = threading.Event()
    acked = {}         # id -> (title, node, time acknowledged relative to start)
    acks_201 = 0       # 201 answers, to compare with the number of distinct ids
    errors = []        # anything that should not happen
    lost_on_b = []     # titles sent to B whose answer never came (B died)
    inflight = {"A": 0, "B": 0}
    sent = {"A": 0, "B": 0}
    t_start = time.time()
    kill_at = {"t": None, "inflight_b": None}

    def client(k, node):
        nonlocal acks_201
        port = nodes[node]
        user = ("h1", "h2")[k % 2]
        token = ctx.users[user].token
        conn = None
        i = 0
        while not stop.is_set():
            if node == "B" and b_killed.is_set():
                return
            i += 1
            title = "Node %s %s%d-%d" % (ctx.tag, node, k, i)
            body = {"title": title, "severity": "medium", "constituents": ["orga"], "tags": ["nodes"]}
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                with lock:
                    inflight[node] += 1
                    sent[node] += 1
                try:
                    r = do_request(conn, "POST", "/api/v1/incidents", token, body=body)
                finally:
                    with lock:
                        inflight[node] -= 1
            except Exception as ex:  # noqa: BLE001
                if conn is not None:
                    conn.close()
                    conn = None
                if node == "B" and b_killed.is_set():
                    lost_on_b.append(title)
                    return
                errors.append("%s: %s: %r" % (node, title, ex))
                time.sleep(0.05)
                continue
            if r.status == 201:
                iid = r.json.get("id")
                with lock:
                    acks_201 += 1
                    if iid in acked:
                        errors.append("id %s acknowledged twice: %r and %r" % (iid, acked[iid][0], title))
                    acked[iid] = (title, node, time.time() - t_start)
                if r.json.get("title") != title:
                    errors.append("%s: created %s with title %r, want %r" % (node, iid, r.json.get("title"), title))
            else:
                errors.append("%s: %s: %s" % (node, title, r.brief()[:200]))
            if r.header("Connection") == "close":
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, args=(k, "AB"[k % 2]), daemon=True) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(random.uniform(*KILL_WINDOW))
    with lock:
        kill_at["inflight_b"] = inflight["B"]
    b_killed.set()
    os.kill(proc_b.pid, signal.SIGKILL)
    proc_b.wait(timeout=5)
    kill_at["t"] = time.time() - t_start
    time.sleep(max(RUN_SECONDS - kill_at["t"], 1.0))  # A keeps writing for at least a second after B died
    stop.set()
    for t in threads:
        t.join(30)
    check(not any(t.is_alive() for t in threads), "client threads still running")
    check(not errors, "%d unexpected failures (A at any time, B before its kill), first: %s" % (len(errors), errors[:3]))

    by_node = {n: sum(1 for v in acked.values() if v[1] == n) for n in "AB"}
    a_after_kill = sum(1 for v in acked.values() if v[1] == "A" and v[2] > kill_at["t"] + 0.2)
    log("     (B killed at %.2fs with %s requests in flight; acknowledged: %d by A, %d by B, "
        "%d by A after the kill; %d sent to B unanswered)"
        % (kill_at["t"], kill_at["inflight_b"], by_node["A"], by_node["B"], a_after_kill, len(lost_on_b)))
    check(by_node["A"] >= 10 and by_node["B"] >= 10, "too few writes to mean anything: %r" % by_node)
    check(a_after_kill > 0, "node A acknowledged nothing after B was killed: did B's death leave the lock held?")
    eq(len(acked), acks_201, "distinct ids among the 201 answers")

    # every acknowledged incident is there, through node A, with its own title
    missing = []
    c = ctx.conn(30, port_a)
    try:
        for iid, (title, node, _) in sorted(acked.items()):
            r = do_request(c, "GET", "/api/v1/incidents/" + iid, ctx.users["admin"].token)
            if r.status != 200 or r.json.get("title") != title:
                missing.append("%s from %s (%s)" % (iid, node, r.brief()[:80]))
    finally:
        c.close()
    check(not missing, "%d acknowledged incidents lost or changed: %s" % (len(missing), missing[:5]))

    # no id twice, all well-formed, and per year the numbers 1..N without a gap
    everything = list_all_incidents(ctx, port_a)
    ids = [i for i, _ in everything]
    dups = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    check(not dups, "ids listed more than once: %s" % dups[:5])
    bad = [i for i in ids if not ID_RE.match(i) or not i.startswith(ctx.prefix + "-")]
    check(not bad, "ids not of the form %s-YYYY-NNNNN: %s" % (ctx.prefix, bad[:5]))
    listed = dict(everything)
    not_listed = [i for i in acked if i not in listed]
    check(not not_listed, "acknowledged but not in the list: %s" % not_listed[:5])
    per_year = {}
    for i in ids:
        _, year, num = i.rsplit("-", 2)
        per_year.setdefault(year, []).append(int(num))
    for year, nums in per_year.items():
        nums.sort()
        eq(nums, list(range(1, len(nums) + 1)), "incident numbers of %s (gaps or repeats)" % year)
    # requests B never answered: committed or not, each at most once
    mine = [t for _, t in everything if t.startswith("Node %s " % ctx.tag)]
    check(len(mine) == len(set(mine)), "a title of this test was stored twice")
    committed_unanswered = sum(1 for t in lost_on_b if t in set(mine))
    log("     (%d incidents listed in all; of B's unanswered requests %d were committed before the kill)"
        % (len(ids), committed_unanswered))

    # the audit chain: intact, contiguous, one incident.create per acknowledged id
    p = ctx.cli("audit", "verify", check_rc=False)
    eq(p.returncode, 0, "audit verify exit code (%s%s)" % (p.stdout, p.stderr))
    check(re.search(r"intact: \d+ entries verified", p.stdout), "audit verify output %r" % p.stdout)
    items = audit_all(ctx, port_a)
    eq([x["seq"] for x in items], list(range(1, len(items) + 1)), "audit seqs")
    created = [x["object"] for x in items if x["action"] == "incident.create"]
    check(len(created) == len(set(created)), "an incident.create audited twice")
    no_audit = [i for i in acked if i not in set(created)]
    check(not no_audit, "acknowledged creations without an audit entry: %s" % no_audit[:5])

    # B comes back and serves; what it writes A reads, and the other way round
    proc_b2, port_b2 = ctx.spawn_server(log_b)
    try:
        r = ctx.req("GET", "/healthz", port=port_b2)
        eq((r.status, r.json.get("database")), (200, "ok"), "B's /healthz after the restart")
        via_b = ctx.expect(201, "POST", "/api/v1/incidents", "h1", body={"title": "After B restart " + ctx.tag},
                           port=port_b2).json
        check(via_b["id"] not in listed, "B handed out %s again after its restart" % via_b["id"])
        eq(ctx.expect(200, "GET", "/api/v1/incidents/" + via_b["id"], "admin").json["title"],
           "After B restart " + ctx.tag, "B's incident read through A")
        via_a = ctx.create_incident(as_user="h2", title="After B restart, via A " + ctx.tag)
        eq(ctx.expect(200, "GET", "/api/v1/incidents/" + via_a["id"], "admin", port=port_b2).json["title"],
           via_a["title"], "A's incident read through B")
        eq(int(via_a["id"].rsplit("-", 1)[1]), int(via_b["id"].rsplit("-", 1)[1]) + 1, "numbers after B's restart")
    finally:
        Ctx._kill(proc_b2, graceful=True)
    eq(ctx.cli("audit", "verify", check_rc=False).returncode, 0, "audit verify at the end")


@test("nodes: a registry change through one node reaches the other node's lookup within seconds",
      timeout=60, backend="postgres")
def t_registry_two_nodes(ctx):
    log_b = os.path.join(ctx.tmp, "server-b.log")
    proc_b, port_b = ctx.spawn_server(log_b)
    sn = ctx.uniq("twonode")

    def owners_on_b(ip):
        doc = ctx.expect(200, "GET", "/api/v1/lookup?ip=" + ip, "admin", port=port_b).json
        return [c["short_name"] for c in doc["constituents"]]

    def wait_on_b(ip, want, what):
        deadline = time.time() + 5
        while owners_on_b(ip) != want and time.time() < deadline:
            time.sleep(0.1)
        eq(owners_on_b(ip), want, what)

    try:
        eq(owners_on_b("10.90.1.1"), [], "node B before")
        ctx.expect(201, "POST", "/api/v1/constituents", "admin",
                   body={"short_name": sn, "name": "Two nodes", "networks": ["10.90.0.0/16"]})
        wait_on_b("10.90.1.1", [sn], "node B after node A created the network")
        ctx.expect(200, "PATCH", "/api/v1/constituents/" + sn, "admin", port=port_b, body={"networks": []})
        eq(owners_on_b("10.90.1.1"), [], "node B right after its own change")
        deadline = time.time() + 5
        while ctx.expect(200, "GET", "/api/v1/lookup?ip=10.90.1.1", "admin").json["constituents"] and \
                time.time() < deadline:
            time.sleep(0.1)
        eq(ctx.expect(200, "GET", "/api/v1/lookup?ip=10.90.1.1", "admin").json["constituents"], [],
           "node A after node B's change")
    finally:
        Ctx._kill(proc_b, graceful=True)


@test("nodes: a node carries on when PostgreSQL drops its connections mid-load (restart, failover)",
      timeout=90, backend="postgres")
def t_connections_dropped(ctx):
    """Every session on the database is terminated (pg_terminate_backend) while clients write; then once more
    while the node is idle. A batch in flight may fail (not acknowledged, not committed); everything
    acknowledged is kept, and the node answers again at once: it reconnects."""
    def terminate_all():
        p = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", ctx.db_url, "-c",
                            "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"],
                           capture_output=True, text=True, timeout=30)
        eq(p.returncode, 0, "psql pg_terminate_backend (%s)" % p.stderr)
        return int(p.stdout.strip() or 0)

    lock, stop = threading.Lock(), threading.Event()
    acked, failed, t_cut = {}, [], {}

    def client(k):
        c = None
        i = 0
        while not stop.is_set():
            i += 1
            title = "Dropped %s %d-%d" % (ctx.tag, k, i)
            try:
                if c is None:
                    c = ctx.conn(20)
                r = do_request(c, "POST", "/api/v1/incidents", ctx.users["h1"].token,
                               body={"title": title, "constituents": ["orga"]})
            except Exception as ex:  # noqa: BLE001
                if c is not None:
                    c.close()
                c = None
                failed.append((time.time(), "%r" % ex))
                continue
            with lock:
                if r.status == 201:
                    acked[r.json["id"]] = title
                else:
                    failed.append((time.time(), r.brief()[:160]))
        if c is not None:
            c.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    t_cut["t"] = time.time()
    killed = terminate_all()
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join(30)
    late = [f for f in failed if f[0] > t_cut["t"] + 1.0]
    early = [f for f in failed if f[0] < t_cut["t"]]
    log("     (%d sessions terminated under load; %d acknowledged, %d failed around the cut)"
        % (killed, len(acked), len(failed)))
    check(killed >= 2, "expected the node's sessions to be terminated, got %d" % killed)
    check(not early, "failures before the cut: %s" % [f[1] for f in early[:3]])
    check(not late, "the node still failed a second after the cut (did it reconnect?): %s" % [f[1] for f in late[:3]])
    check(len(failed) <= 8, "%d requests failed around the cut: %s" % (len(failed), [f[1] for f in failed[:3]]))
    c = ctx.conn(30)
    try:
        for iid, title in acked.items():
            r = do_request(c, "GET", "/api/v1/incidents/" + iid, ctx.users["admin"].token)
            check(r.status == 200 and r.json["title"] == title, "acknowledged %s lost: %s" % (iid, r.brief()[:120]))
    finally:
        c.close()

    # idle: not one request fails (reads and BEGIN are retried on a new connection)
    terminate_all()
    inc = ctx.create_incident(as_user="h1", title="After the cut " + ctx.tag)
    eq(ctx.expect(200, "GET", "/api/v1/incidents/" + inc["id"], "h1").json["title"], inc["title"], "read back")
    r = ctx.req("GET", "/healthz")
    eq((r.status, r.json.get("database")), (200, "ok"), "/healthz after the cut")
    p = ctx.cli("audit", "verify", check_rc=False)
    eq(p.returncode, 0, "audit verify (%s%s)" % (p.stdout, p.stderr))


@test("nodes: two nodes share one spool directory and one download: each file and each round taken once",
      timeout=150, backend="postgres")
def t_feed_inputs_two_nodes(ctx):
    """Both nodes scan the same spool directory every second and run the same download every 2 s. The
    store's claim of an ingest decides which node takes a file (the other sees it busy, or done, and
    leaves it); the job schedule gives each download round to one node."""
    import json

    srv = FeedServer()
    name = "nodes-" + ctx.tag
    path = "/nodes-%s.txt" % ctx.tag
    url = "http://127.0.0.1:%d%s" % (srv.port, path)
    srv.put(path, "192.0.2.91\n192.0.2.92\n", '"n1"')
    ctx.set_conf_extra(["spool_interval = 1",
                        "fetch = %s blocklist %s every=2s feed_name=nodes-fetch-%s" % (name, url, ctx.tag)])
    proc_b = None
    try:
        ctx.restart_server()
        log_b = os.path.join(ctx.tmp, "server-b.log")
        proc_b, port_b = ctx.spawn_server(log_b)
        feed_name = "nodes-spool-" + ctx.tag
        names = ["n%02d-%s.jsonl" % (k, ctx.tag) for k in range(20)]
        want_events = {}
        for k, n in enumerate(names):
            drop(ctx, "intelmq", n, intelmq_file(feed_name, 10 * k, k + 1))
            want_events[n] = k + 1

        def all_moved():
            left = [n for n in names if os.path.exists(spool(ctx, "intelmq", n))]
            return not left and all(os.path.exists(spool(ctx, ".done", "intelmq", n)) for n in names)
        wait_for("the 20 files in .done/intelmq", all_moved, timeout=60)
        time.sleep(4.5)  # two more download rounds at least, with both nodes polling
    finally:
        ctx.stop_server()
        if proc_b is not None:
            Ctx._kill(proc_b, graceful=True)
    try:
        # the download: every round ran on one node (the gaps between requests are the interval's)
        jobs = json.loads(ctx.cli("jobs", "list").stdout)
        job = next(j for j in jobs if j["name"] == "fetch." + name)
        hits = srv.hits_of(path)
        # a round claimed while its node stops ends without a request ("dzong is stopping")
        check(len(hits) <= job["runs"] <= len(hits) + 2, "runs of fetch.%s: %d, requests the server saw: %d"
              % (name, job["runs"], len(hits)))
        gaps = [round(b[0] - a[0], 2) for a, b in zip(hits, hits[1:])]
        check(len(hits) >= 3, "too few rounds to mean anything: %d" % len(hits))
        # rounds are due 2 s apart in whole seconds of the store's clock: at least 1 s between two requests
        # (less jitter); one round run by both nodes would be two requests at once
        check(min(gaps) > 0.5, "two requests less than half a second apart (a round run twice?): gaps %r" % gaps)
        eq([h[2] for h in hits], [200] + [304] * (len(hits) - 1), "statuses of the rounds")
    finally:
        srv.close()
        ctx.set_conf_extra([])
        ctx.start_server()

    # each file exactly once
    ings = [i for i in all_ingests(ctx) if i["kind"] == "spool" and os.path.basename(i["source"] or "") in want_events]
    by_file = {}
    for i in ings:
        by_file.setdefault(os.path.basename(i["source"]), []).append(i)
    eq(sorted(by_file), sorted(names), "the files with an ingest")
    twice = {n: len(v) for n, v in by_file.items() if len(v) != 1}
    check(not twice, "files taken in more than once: %r" % twice)
    bad = [(n, v[0]["status"], v[0]["events"]) for n, v in by_file.items()
           if v[0]["status"] != "done" or v[0]["events"] != want_events[n]]
    check(not bad, "ingests not done or with the wrong number of events: %r" % bad[:5])
    total = sum(len(events_of_ingest(ctx, v[0]["id"])) for v in by_file.values())
    eq(total, sum(want_events.values()), "events stored from the 20 files")
    nodes = {}
    for v in by_file.values():
        nodes[v[0]["node"]] = nodes.get(v[0]["node"], 0) + 1
    fetched = [i for i in all_ingests(ctx) if i["kind"] == "fetch" and i["source"] == url]
    eq(len(fetched), 1, "ingests of the download (one body)")
    log("     (files taken per node: %r; %d download rounds, gaps %s s)"
        % (nodes, job["runs"], ", ".join("%.1f" % g for g in gaps)))
