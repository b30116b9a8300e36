"""
Feed inputs besides the CLI: the spool directory and scheduled downloads.

Spool: files dropped into DATA/spool/<feed>/ are taken in by `dzong serve`
(spool_interval = 1 here), moved to .done/<feed>/, and their events are listed
by the events API; a file the parser refuses goes to .failed/<feed>/ with a
.reason; the same content under another name is not taken in twice; dot files
are left alone.

Downloads: a local HTTP server (127.0.0.1, which dzong allows over plain
http) serves a blocklist with an ETag. `fetch = ... every=1s`: the first round
takes the body in, the next ones send If-None-Match and get 304 (feed_fetch
records it), a changed body is taken in once more, and a new ETag on an
unchanged body gives no new ingest (the content's fingerprint is the key).
Removing the line from dzong.conf removes the job.
"""
import http.server
import os
import re
import threading
import time

from harness import check, eq, log, test

EVENT_LINE = ('{"__type": "Event", "feed.name": "%s", "classification.type": "scanner", '
              '"source.ip": "%s", "source.port": %d, "time.source": "2026-11-20T10:00:00+00:00"}\n')


def wait_for(what, fn, timeout=20, every=0.2):
    """Polls fn until it returns something true; returns it, or fails naming what."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("waited %ds for %s" % (timeout, what))
        time.sleep(every)


def spool(ctx, *parts):
    return os.path.join(ctx.data, "spool", *parts)


def drop(ctx, feed, name, text, age=10):
    """Writes under a dot name, dates it back (it has not changed for `age` seconds), renames it into place."""
    tmp = spool(ctx, feed, "." + name + ".part")
    with open(tmp, "w") as f:
        f.write(text)
    past = time.time() - age
    os.utime(tmp, (past, past))
    os.rename(tmp, spool(ctx, feed, name))


def intelmq_file(feed_name, first, n):
    return "".join(EVENT_LINE % (feed_name, "198.51.%d.%d" % (first // 250, first % 250 + 1), 1000 + i)
                   for i in range(n))


def all_ingests(ctx, port=None):
    out, cursor = [], None
    while True:
        q = "/api/v1/ingests?limit=500" + ("&cursor=" + cursor if cursor else "")
        doc = ctx.expect(200, "GET", q, "admin", port=port).json
        out += doc["items"]
        cursor = doc.get("next_cursor")
        if not cursor:
            return out


def events_of_ingest(ctx, ingest_id, port=None):
    items, cursor = [], None
    while True:
        q = "/api/v1/events?limit=1000&ingest=%d" % ingest_id + ("&cursor=" + cursor if cursor else "")
        doc = ctx.expect(200, "GET", q, "admin", port=port).json
        items += doc["items"]
        cursor = doc.get("next_cursor")
        if not cursor:
            return items


def ingests_from(ctx, kind, source_pred, port=None):
    return [i for i in all_ingests(ctx, port) if i["kind"] == kind and source_pred(i["source"] or "")]


# ---------------------------------------------------------------- a tiny HTTP server with ETags

class FeedServer:
    """Serves path -> (body, etag) on 127.0.0.1, honours If-None-Match, and keeps a log of every request."""

    def __init__(self):
        self.files = {}
        self.hits = []  # (time, path, status, if_none_match)
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                inm = self.headers.get("If-None-Match")
                with outer.lock:
                    f = outer.files.get(self.path)
                    if f is None:
                        status = 404
                    elif inm is not None and inm == f[1]:
                        status = 304
                    else:
                        status = 200
                    outer.hits.append((time.time(), self.path, status, inm))
                if status == 200:
                    body = f[0].encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("ETag", f[1])
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(status)
                    if status == 304:
                        self.send_header("ETag", f[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def put(self, path, body, etag):
        with self.lock:
            self.files[path] = (body, etag)

    def hits_of(self, path):
        with self.lock:
            return [h for h in self.hits if h[1] == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def feed_fetch_row(ctx, name):
    rows = ctx.db_rows("SELECT url, etag, last_status, last_error, last_ingest_id FROM feed_fetch "
                       "WHERE name = '%s'" % name)
    return rows[0] if rows else None


def job_of(ctx, name):
    import json
    jobs = json.loads(ctx.cli("jobs", "list").stdout)
    return next((j for j in jobs if j["name"] == name), None)


# ---------------------------------------------------------------- the spool

@test("feeds: spool files are taken in, moved to .done, and their events listed; refused ones go to .failed",
      timeout=90)
def t_spool(ctx):
    ctx.set_conf_extra(["spool_interval = 1"])
    ctx.restart_server()
    try:
        _spool(ctx)
    finally:
        ctx.set_conf_extra([])
        ctx.restart_server()


def _spool(ctx):
    feed_name = "spool-" + ctx.tag
    name = "events-%s.jsonl" % ctx.tag
    drop(ctx, "intelmq", name, intelmq_file(feed_name, 1, 3))
    # a dot file is somebody still writing: left alone
    with open(spool(ctx, "intelmq", ".writing-" + ctx.tag), "w") as f:
        f.write(intelmq_file(feed_name, 100, 1))
    # a Shadowserver file whose name names no report type: the parser refuses it
    bad = "no-report-type-%s.csv" % ctx.tag
    drop(ctx, "shadowserver", bad, "timestamp,ip,port\n2026-11-20 10:00:00,192.0.2.1,22\n")

    done = spool(ctx, ".done", "intelmq", name)
    wait_for(name + " in .done/intelmq", lambda: os.path.exists(done))
    check(not os.path.exists(spool(ctx, "intelmq", name)), "%s still in the spool after its move" % name)
    ing = ingests_from(ctx, "spool", lambda s: s.endswith("/" + name))
    eq(len(ing), 1, "ingests of %s" % name)
    eq((ing[0]["feed"], ing[0]["status"], ing[0]["events"]), ("intelmq", "done", 3), "the spool ingest")
    evs = events_of_ingest(ctx, ing[0]["id"])
    eq(sorted(e["event"]["source.port"] for e in evs), [1000, 1001, 1002], "its events (source.port)")
    check(all(e["event"]["feed.name"] == feed_name for e in evs), "feed.name of its events: %r" % evs[:1])

    failed = spool(ctx, ".failed", "shadowserver", bad)
    wait_for(bad + " in .failed/shadowserver", lambda: os.path.exists(failed + ".reason"))
    check(os.path.exists(failed), "%s moved to .failed" % bad)
    reason = open(failed + ".reason").read()
    check("report" in reason.lower(), "the .reason names the problem: %r" % reason)
    bad_ing = ingests_from(ctx, "spool", lambda s: s.endswith("/" + bad))
    eq([i["status"] for i in bad_ing], ["failed"], "the refused file's ingest")

    # the same content under another name: already taken in, moved, no second ingest
    again = "again-%s.jsonl" % ctx.tag
    drop(ctx, "intelmq", again, intelmq_file(feed_name, 1, 3))
    wait_for(again + " in .done/intelmq", lambda: os.path.exists(spool(ctx, ".done", "intelmq", again)))
    eq(len(ingests_from(ctx, "spool", lambda s: s.endswith("/" + again))), 0, "ingests of the same content again")

    # a name that is taken in .done already: the second file gets a suffix, nothing is overwritten
    drop(ctx, "intelmq", name, intelmq_file(feed_name, 7, 2))
    wait_for(name + ".1 in .done/intelmq", lambda: os.path.exists(done + ".1"))
    eq(len(ingests_from(ctx, "spool", lambda s: s.endswith("/" + name))), 2, "ingests named " + name)

    check(os.path.exists(spool(ctx, "intelmq", ".writing-" + ctx.tag)), "the dot file was taken")
    os.unlink(spool(ctx, "intelmq", ".writing-" + ctx.tag))
    log_text = open(ctx.log_path, errors="replace").read()
    check(re.search(r"spool intelmq/%s: ingest \d+ done: 3 events" % re.escape(name), log_text),
          "no log line for %s in the server log" % name)


# ---------------------------------------------------------------- scheduled downloads

@test("feeds: a scheduled download is taken in once, then 304 with its ETag, then again when the body changes",
      timeout=120)
def t_fetch(ctx):
    srv = FeedServer()
    name = "inputs-" + ctx.tag
    path = "/blocklist-%s.txt" % ctx.tag
    url = "http://127.0.0.1:%d%s" % (srv.port, path)
    feed_name = "fetch-" + ctx.tag
    srv.put(path, "192.0.2.61\n192.0.2.62\n", '"v1"')
    try:
        ctx.set_conf_extra(["fetch = %s blocklist %s every=1s feed_name=%s" % (name, url, feed_name),
                            "fetch = %s-gone blocklist http://127.0.0.1:%d/gone-%s.txt every=1h"
                            % (name, srv.port, ctx.tag)])
        ctx.restart_server()
        _fetch(ctx, srv, name, path, url)
    finally:
        ctx.set_conf_extra([])
        ctx.restart_server()
        srv.close()
    # no longer configured: the job and its row are gone
    for n in (name, name + "-gone"):
        eq(job_of(ctx, "fetch." + n), None, "the job after its line was removed")
        eq(feed_fetch_row(ctx, n), None, "the feed_fetch row after its line was removed")


def _fetch(ctx, srv, name, path, url):
    job = job_of(ctx, "fetch." + name)
    check(job is not None, "dzong jobs list has no fetch.%s" % name)
    eq(job["interval_s"], 1, "the job's interval")

    def fetch_ingests():
        return ingests_from(ctx, "fetch", lambda s: s == url)

    first = wait_for("the first download's ingest", lambda: [i for i in fetch_ingests() if i["status"] == "done"])
    eq(len(first), 1, "ingests after the first download")
    eq(first[0]["events"], 2, "events of the first download")
    eq(first[0]["feed"], "blocklist", "its feed")
    wait_for("a 304 round", lambda: any(h[2] == 304 for h in srv.hits_of(path)))
    row = wait_for("feed_fetch.last_status 304", lambda: (lambda r: r if r and r[2] == "304" else None)(
        feed_fetch_row(ctx, name)))
    eq((row[0], row[1]), (url, '"v1"'), "feed_fetch url and etag")
    eq(int(row[4]), first[0]["id"], "feed_fetch.last_ingest_id")
    check(not row[3], "feed_fetch.last_error after a 304: %r" % row[3])
    h304 = [h for h in srv.hits_of(path) if h[2] == 304]
    eq(h304[0][3], '"v1"', "If-None-Match sent")
    eq(len(fetch_ingests()), 1, "ingests after 304 rounds")

    # a new body: taken in once more
    srv.put(path, "192.0.2.61\n192.0.2.62\n192.0.2.63\n", '"v2"')
    second = wait_for("the changed body's ingest", lambda: [i for i in fetch_ingests()
                                                          if i["id"] != first[0]["id"] and i["status"] == "done"])
    # two of its three addresses were in the first body: duplicates within the dedup window
    eq((second[0]["events"], second[0]["duplicates"]), (1, 2), "events and duplicates of the changed body")
    wait_for("a 304 for v2", lambda: any(h[2] == 304 and h[3] == '"v2"' for h in srv.hits_of(path)))

    # a new ETag on the same body: downloaded, but the same content is not taken in twice
    n_before = len(srv.hits_of(path))
    srv.put(path, "192.0.2.61\n192.0.2.62\n192.0.2.63\n", '"v3"')
    wait_for("a 200 for v3", lambda: any(h[2] == 200 for h in srv.hits_of(path)[n_before:]))
    wait_for("feed_fetch etag v3", lambda: (feed_fetch_row(ctx, name) or [None, None])[1] == '"v3"')
    eq(len(fetch_ingests()), 2, "ingests after a new ETag on the same body")

    # a URL that answers 404: recorded, and the job's last error says so
    gone = wait_for("feed_fetch of the 404", lambda: (lambda r: r if r and r[2] == "404" else None)(
        feed_fetch_row(ctx, name + "-gone")))
    check("404" in (gone[3] or ""), "feed_fetch.last_error of the 404: %r" % gone[3])
    check("404" in (job_of(ctx, "fetch.%s-gone" % name)["last_error"] or ""), "the job's last_error of the 404")

    # the events are there
    evs = events_of_ingest(ctx, second[0]["id"])
    eq(sorted(e["event"]["source.ip"] for e in events_of_ingest(ctx, first[0]["id"])), ["192.0.2.61", "192.0.2.62"],
       "events of the first body")
    eq([e["event"]["source.ip"] for e in evs], ["192.0.2.63"], "events of the second body")
    log("     (%d requests: %s)" % (len(srv.hits_of(path)),
                                    ", ".join(str(h[2]) for h in srv.hits_of(path))))


@test("feeds: a bad fetch or spool line in dzong.conf is refused with its file and line", timeout=30)
def t_fetch_config_errors(ctx):
    conf = os.path.join(ctx.data, "dzong.conf")
    try:
        for line, mention in (("fetch = x blocklist http://example.com/list.txt", "https"),
                              ("fetch = x nosuchfeed https://example.com/list.txt", "unknown feed"),
                              ("fetch = X blocklist https://example.com/list.txt", "name"),
                              ("fetch = x blocklist https://example.com/a every=soon", "every"),
                              ("fetch = x csv https://example.com/a.csv", "mapping"),
                              ("spool_interval = 0", "spool_interval"),
                              ("dedup_window = forever", "")):
            ctx.set_conf_extra(["# a comment", line])
            n = len(open(conf).read().splitlines())
            p = ctx.cli("jobs", "list", check_rc=False)
            check(p.returncode != 0, "%r accepted" % line)
            check("dzong.conf:%d:" % n in p.stderr, "%r: the message does not name dzong.conf:%d: %r"
                  % (line, n, p.stderr))
            check(mention.lower() in p.stderr.lower(), "%r: the message does not mention %r: %r"
                  % (line, mention, p.stderr))
        ctx.set_conf_extra(["fetch = a blocklist https://example.com/a.txt",
                            "fetch = a blocklist https://example.com/b.txt"])
        p = ctx.cli("jobs", "list", check_rc=False)
        check(p.returncode != 0 and "taken" in p.stderr, "a name used twice: %r" % p.stderr)
        # plain http to another host, when allowed
        ctx.set_conf_extra(["fetch = a blocklist http://example.com/a.txt", "fetch_allow_http = true"])
        eq(ctx.cli("jobs", "list", check_rc=False).returncode, 0, "http with fetch_allow_http = true")
    finally:
        ctx.set_conf_extra([])
