"""
E-mail notifications against a real SMTP server (tests/api/smtp_sink.py,
Debian's python3-aiosmtpd) on 127.0.0.1: digests reach each contact once, with
ticket, body and attachment, up to the contact's TLP ceiling; failures are
visible per recipient; a sender killed with SIGKILL mid-round resends nothing
that was accepted and loses nothing; signatures verify with gpg and
encryption decrypts; two nodes send from one outbox without sending twice.
"""
import csv
import email
import email.policy
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time

from harness import check, eq, test

HERE = os.path.dirname(os.path.abspath(__file__))
SINK = os.path.join(HERE, "smtp_sink.py")
PY = "/usr/bin/python3"  # Debian's, which has aiosmtpd (python3 on PATH may be another)
TICKET_RE = r"[A-Z0-9]{1,16}-N-\d{4}-\d{6}"


# ---------------------------------------------------------------- the SMTP server

class Sink:
    """One smtp_sink.py process; messages land in self.dir."""

    def __init__(self, ctx, *args):
        self.dir = tempfile.mkdtemp(prefix="sink-", dir=ctx.tmp)
        self.proc = subprocess.Popen([PY, SINK, "--port", "0", "--dir", self.dir, "--lifetime", "900"] + list(args),
                                     stdout=subprocess.PIPE, stderr=open(os.path.join(self.dir, "log"), "w"),
                                     text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"PORT (\d+)", line)
        check(m, "smtp_sink.py printed %r (log in %s)" % (line, self.dir))
        self.port = int(m.group(1))
        self.url = "smtp://127.0.0.1:%d" % self.port

    def messages(self):
        """[(meta, email.message.EmailMessage, raw bytes)] in arrival order."""
        out = []
        for name in sorted(os.listdir(self.dir)):
            if not name.endswith(".json"):  # written after its .eml
                continue
            with open(os.path.join(self.dir, name)) as f:
                meta = json.load(f)
            with open(os.path.join(self.dir, name[:-5] + ".eml"), "rb") as f:
                raw = f.read()
            out.append((meta, email.message_from_bytes(raw, policy=email.policy.default), raw))
        return out

    def to(self, addr):
        return [m for m in self.messages() if addr in m[0]["rcpt_tos"]]

    def release(self):
        open(os.path.join(self.dir, "release"), "w").close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---------------------------------------------------------------- test data

def notify_conf(ctx, *more):
    ctx.set_conf_extra(["mail_from = cirt@cirt.example", "mail_from_name = Test CIRT"] + list(more))


def make_org(ctx, net, contacts):
    """A constituent owning net, with contacts [(local, interval, max_tlp, format, extra dict)]; returns
    (short name, {local: address})."""
    short = ctx.uniq("ntf")
    addrs = {}
    recs = []
    for local, interval, tlp, fmt, extra in contacts:
        addr = "%s@%s.example" % (local, short)
        addrs[local] = addr
        c = {"name": "Contact " + local, "email": addr, "notify_interval": interval, "max_tlp": tlp,
             "notify_format": fmt}
        c.update(extra)
        recs.append(c)
    rec = {"short_name": short, "name": "Notify test " + short, "kind": "other", "networks": [net], "contacts": recs}
    path = os.path.join(ctx.tmp, short + ".json")
    with open(path, "w") as f:
        json.dump([rec], f)
    ctx.cli("constituents", "import", path)
    return short, addrs


def ingest_events(ctx, prefix, n, tlp=None, start=1, etype="infected-system"):
    """n IntelMQ events for addresses prefix.X.Y (distinct, so none is a duplicate)."""
    path = os.path.join(ctx.tmp, ctx.uniq("events") + ".jsonl")
    with open(path, "w") as f:
        for i in range(start, start + n):
            ev = {"time.source": "2026-11-20T10:%02d:%02d+00:00" % (i // 60 % 60, i % 60),
                  "source.ip": "%s.%d.%d" % (prefix, i // 250, i % 250 + 1), "classification.type": etype,
                  "malware.name": "mirai", "feed.name": "Test Feed"}
            if tlp:
                ev["tlp"] = tlp
            f.write(json.dumps(ev) + "\n")
    p = ctx.cli("ingest", "--feed", "intelmq", path, timeout=60)
    check("%d events stored" % n in p.stdout, "ingest printed %r" % p.stdout)


def notify_run(ctx, sink, *args, check_rc=True, timeout=120):
    return ctx.cli("--smtp", sink.url, "notify", "run", *args, timeout=timeout, check_rc=check_rc)


def attachment(msg):
    for part in msg.iter_attachments():
        return part.get_filename(), part.get_content()
    return None, None


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


# ---------------------------------------------------------------- digests

@test("notify: each contact gets one digest of its organisation's new events, up to its TLP ceiling", timeout=180)
def t_digests(ctx):
    notify_conf(ctx)
    sink = Sink(ctx)
    try:
        a, a_addr = make_org(ctx, "10.71.0.0/16", [("soc", "immediate", "AMBER", "csv", {}),
                                                   ("abuse", "immediate", "GREEN", "json", {})])
        b, b_addr = make_org(ctx, "10.72.0.0/16", [("noc", "immediate", "AMBER", "csv", {})])
        ingest_events(ctx, "10.71", 20)                 # AMBER by default (events_default_tlp)
        ingest_events(ctx, "10.71", 10, tlp="GREEN", start=100)
        ingest_events(ctx, "10.72", 5)
        p = notify_run(ctx, sink)
        check(re.search(r"outbox: \d+ sent, 0 to retry later, 0 failed", p.stdout), "notify run printed %r" % p.stdout)

        soc = sink.to(a_addr["soc"])
        eq(len(soc), 1, "digests to %s" % a_addr["soc"])
        meta, msg, raw = soc[0]
        ticket = msg["X-Dzong-Ticket"]
        check(ticket and re.fullmatch(TICKET_RE, ticket), "X-Dzong-Ticket %r" % ticket)
        check(ticket in msg["Subject"], "the subject names the ticket: %r" % msg["Subject"])
        eq(meta["rcpt_tos"], [a_addr["soc"]], "envelope recipients")
        eq(meta["mail_from"], "cirt@cirt.example", "envelope sender")
        check(msg["Message-ID"] and ticket in msg["Message-ID"], "Message-ID %r" % msg["Message-ID"])
        eq(msg["Auto-Submitted"], "auto-generated", "Auto-Submitted")
        body = msg.get_body(preferencelist=("plain",)).get_content()
        check("Notify test " + a in body and ticket in body, "the body names the organisation and ticket: %r" % body)
        check("30" in body, "the body counts the events: %r" % body)
        name, text = attachment(msg)
        check(name and name.endswith(".csv"), "a CSV attachment: %r" % name)
        rows = csv_rows(text if isinstance(text, str) else text.decode())
        eq(len(rows), 30, "CSV rows to the AMBER contact")
        check(all(r["source.ip"].startswith("10.71.") for r in rows), "only the organisation's addresses")
        check(all(r["classification.type"] == "infected-system" for r in rows), "IntelMQ field names and values")

        # the GREEN contact: only the 10 GREEN events, as JSON lines; 20 withheld
        ab = sink.to(a_addr["abuse"])
        eq(len(ab), 1, "digests to %s" % a_addr["abuse"])
        name, data = attachment(ab[0][1])
        check(name and name.endswith(".jsonl"), "a JSON attachment: %r" % name)
        evs = [json.loads(line) for line in (data if isinstance(data, str) else data.decode()).splitlines() if line]
        eq(len(evs), 10, "events sent to the GREEN contact")
        check(all(ev.get("tlp") == "GREEN" for ev in evs), "nothing above GREEN: %r" % evs[:2])
        check("20" in ab[0][1].get_body(preferencelist=("plain",)).get_content(), "the body says 20 were withheld")

        eq(len(sink.to(b_addr["noc"])), 1, "digest to the other organisation")
        eq(len(csv_rows(attachment(sink.to(b_addr["noc"])[0][1])[1])), 5, "its CSV rows")

        # nothing new: nothing sent; three new events: a second digest with exactly those
        notify_run(ctx, sink)
        eq(len(sink.to(a_addr["soc"])), 1, "digests after a round with nothing new")
        ingest_events(ctx, "10.71", 3, start=200)
        notify_run(ctx, sink)
        soc = sink.to(a_addr["soc"])
        eq(len(soc), 2, "digests after three new events")
        rows2 = csv_rows(attachment(soc[1][1])[1])
        eq(sorted(r["source.ip"] for r in rows2), ["10.71.0.201", "10.71.0.202", "10.71.0.203"], "second digest")
        check(soc[1][1]["X-Dzong-Ticket"] != ticket, "a new ticket")

        # the API: the owner sees its notifications and pulls the events; another organisation does not
        ua = ctx.add_user(ctx.uniq("ua"), "constituent", a)
        ub = ctx.add_user(ctx.uniq("ub"), "constituent", b)
        r = ctx.req("GET", "/api/v1/notifications?limit=100", ua.name)
        eq(r.status, 200, "list as the owner " + r.brief())
        tickets = {it["ticket"] for it in r.json["items"]}
        # soc twice; abuse twice: the second time all three new events were above its ceiling, and it
        # still hears that they exist (no attachment), so they are waiting for it in the portal
        check(ticket in tickets and len(tickets) == 4, "the owner's notifications: %r" % tickets)
        ab = sink.to(a_addr["abuse"])
        eq(len(ab), 2, "digests to the GREEN contact")
        eq(attachment(ab[1][1]), (None, None), "no attachment when everything was withheld")
        check("3" in ab[1][1].get_body(preferencelist=("plain",)).get_content(), "it says 3 were withheld")
        check(all(it["constituent"] == a for it in r.json["items"]), "only its own")
        r = ctx.req("GET", "/api/v1/notifications/%s/events?format=csv" % ticket, ua.name)
        eq(r.status, 200, "events as CSV " + r.brief())
        eq(len(csv_rows(r.body.decode())), 30, "rows pulled through the API")
        r = ctx.req("GET", "/api/v1/notifications/%s/events?format=json" % ticket, ua.name)
        eq(r.status, 200, "events as JSON " + r.brief())
        eq(len(r.json), 30, "events pulled as JSON")
        eq(ctx.req("GET", "/api/v1/notifications/%s" % ticket, ub.name).status, 404, "another organisation's")
        eq(ctx.req("GET", "/api/v1/notifications/%s/events" % ticket, ub.name).status, 404, "its events")
        eq(ctx.req("POST", "/api/v1/notifications/%s/ack" % ticket, ub.name, body={}).status, 404,
           "ack of another organisation's")
        r = ctx.req("GET", "/api/v1/notifications?acknowledged=false&constituent=%s&limit=100" % a, "admin")
        check(ticket in {it["ticket"] for it in r.json["items"]}, "unacknowledged before: %r" % r.json)
        r = ctx.req("POST", "/api/v1/notifications/%s/ack" % ticket, ua.name, body={})
        eq(r.status, 200, "ack by the owner " + r.brief())
        eq(r.json["acknowledged_by"], ua.name, "acknowledged_by")
        r = ctx.req("GET", "/api/v1/notifications?acknowledged=false&constituent=%s&limit=100" % a, "admin")
        check(ticket not in {it["ticket"] for it in r.json["items"]}, "the CIRT sees it acknowledged")
        r = ctx.req("GET", "/api/v1/notifications/%s" % ticket, "admin")
        eq(r.json["status"], "sent", "status")
        check(r.json["sent_at"], "sent_at")
    finally:
        sink.stop()


@test("notify: a dry run prints what it would send and changes nothing", timeout=120)
def t_dry_run(ctx):
    notify_conf(ctx)
    sink = Sink(ctx)
    try:
        c, addr = make_org(ctx, "10.73.0.0/16", [("soc", "immediate", "AMBER", "csv", {})])
        ingest_events(ctx, "10.73", 4)
        p = notify_run(ctx, sink, "--dry-run")
        check(addr["soc"] in p.stdout and "would be queued" in p.stdout, "dry run printed %r" % p.stdout)
        eq(len(sink.messages()), 0, "messages sent by a dry run")
        p = notify_run(ctx, sink)
        eq(len(sink.to(addr["soc"])), 1, "the real round sends it")
    finally:
        sink.stop()


@test("notify: permanent failures are kept per recipient, temporary ones retried with backoff", timeout=180)
def t_failures(ctx):
    notify_conf(ctx, "notify_retry_base = 1s")
    c, addr = make_org(ctx, "10.74.0.0/16", [("ok", "immediate", "AMBER", "csv", {}),
                                             ("gone", "immediate", "AMBER", "csv", {}),
                                             ("busy", "immediate", "AMBER", "csv", {})])
    ingest_events(ctx, "10.74", 3)
    sink = Sink(ctx, "--fail-rcpt", addr["gone"], "--tempfail-rcpt", addr["busy"])
    try:
        p = notify_run(ctx, sink)
        check(re.search(r"1 to retry later, 1 failed", p.stdout), "round printed %r" % p.stdout)
        eq(len(sink.to(addr["ok"])), 1, "the good recipient")
        p = ctx.cli("notify", "list", "--status", "failed", "--constituent", c)
        check(addr["gone"] in p.stdout and "550" in p.stdout, "notify list --status failed: %r" % p.stdout)
        r = ctx.req("GET", "/api/v1/notifications?constituent=%s&status=failed" % c, "admin")
        eq(len(r.json["items"]), 1, "failed notifications in the API")
        eq(r.json["items"][0]["recipient"], addr["gone"], "the failed recipient")
        eq(r.json["items"][0]["smtp_code"], 550, "its SMTP code")
        r = ctx.req("GET", "/api/v1/notifications?constituent=%s&status=queued" % c, "admin")
        eq([it["recipient"] for it in r.json["items"]], [addr["busy"]], "queued for a retry")
        busy = r.json["items"][0]
        eq(busy["attempts"], 1, "attempts")
        check("451" in (busy["last_error"] or ""), "last_error %r" % busy["last_error"])
    finally:
        sink.stop()
    # the relay takes it now: after the backoff it goes out, on its second attempt
    sink = Sink(ctx)
    try:
        time.sleep(1.5)
        notify_run(ctx, sink)
        eq(len(sink.to(addr["busy"])), 1, "the retried message")
        r = ctx.req("GET", "/api/v1/notifications/%s" % busy["ticket"], "admin")
        eq((r.json["status"], r.json["attempts"]), ("sent", 2), "status and attempts after the retry")
        eq(len(sink.to(addr["gone"])), 0, "a permanent failure is not retried")
    finally:
        sink.stop()


# ---------------------------------------------------------------- crashes

def queue_digests(ctx, net, prefix, n):
    """An organisation with n immediate contacts and events; queues their digests; returns the addresses."""
    c, addr = make_org(ctx, net, [("c%02d" % i, "immediate", "AMBER", "csv", {}) for i in range(n)])
    ingest_events(ctx, prefix, 2)
    ctx.cli("notify", "run", "--queue-only", timeout=120)
    # counted in the outbox: the suite's server runs the digest job too, and may have queued some first
    r = ctx.req("GET", "/api/v1/notifications?constituent=%s&limit=1000" % c, "admin")
    eq(len(r.json["items"]), n, "digests queued")
    return c, sorted(addr.values())


def sender(ctx, sink):
    return subprocess.Popen([ctx.dzong, "--data", ctx.data, "--smtp", sink.url, "notify", "run", "--send-only"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ctx.env())


def count_by_message_id(sink, addrs):
    counts = {}
    for meta, msg, raw in sink.messages():
        if meta["rcpt_tos"][0] in addrs:
            counts[msg["Message-ID"]] = counts.get(msg["Message-ID"], 0) + 1
    return counts


@test("notify: kill -9 of the sender mid-round: every message arrives exactly once", timeout=240)
def t_kill_mid_round(ctx):
    notify_conf(ctx)
    c, addrs = queue_digests(ctx, "10.75.0.0/16", "10.75", 30)
    # the relay stalls the 11th message at DATA: the sender is killed while it waits for the answer
    sink = Sink(ctx, "--hold-after", "10")
    try:
        s = sender(ctx, sink)
        deadline = time.time() + 60
        while len(sink.messages()) < 10 and time.time() < deadline:
            time.sleep(0.05)
        eq(len(sink.messages()), 10, "messages before the stall")
        time.sleep(0.3)
        os.kill(s.pid, signal.SIGKILL)
        s.wait(timeout=10)
        sink.release()
        r = ctx.req("GET", "/api/v1/notifications?constituent=%s&status=sending" % c, "admin")
        eq(len(r.json["items"]), 1, "one message was in flight when the sender died")
        in_flight = r.json["items"][0]["ticket"]
        p = notify_run(ctx, sink, "--send-only")
        check("20 sent" in p.stdout, "the restarted sender printed %r" % p.stdout)
        counts = count_by_message_id(sink, addrs)
        eq(len(counts), 30, "distinct messages at the server")
        eq(sorted(set(counts.values())), [1], "copies of each message")
        r = ctx.req("GET", "/api/v1/notifications/%s" % in_flight, "admin")
        eq((r.json["status"], r.json["attempts"], r.json["in_doubt"]), ("sent", 2, True),
           "the interrupted one: sent on its second attempt, marked in doubt")
    finally:
        sink.stop()


@test("notify: random kill -9 of the sender: nothing lost, a copy only where an attempt was in doubt", timeout=300)
def t_random_kills(ctx):
    notify_conf(ctx)
    c, addrs = queue_digests(ctx, "10.76.0.0/16", "10.76", 40)
    sink = Sink(ctx, "--delay", "0.02")
    rnd = random.Random(7)
    try:
        kills = 0
        for _ in range(8):
            s = sender(ctx, sink)
            time.sleep(rnd.uniform(0.05, 0.3))
            if s.poll() is None:
                os.kill(s.pid, signal.SIGKILL)
                kills += 1
            s.wait(timeout=10)
        notify_run(ctx, sink, "--send-only")
        counts = count_by_message_id(sink, addrs)
        eq(len(counts), 40, "distinct messages at the server (none lost)")
        r = ctx.req("GET", "/api/v1/notifications?constituent=%s&limit=100" % c, "admin")
        doubt = {it["message_id"] for it in r.json["items"] if it["in_doubt"]}
        check(all(it["status"] == "sent" for it in r.json["items"]), "all sent: %r" % r.json["items"][:2])
        dups = {mid for mid, n in counts.items() if n > 1}
        check(dups <= doubt, "copies only of messages in doubt: %r not in %r" % (dups, doubt))
        check(len(dups) <= kills, "at most one copy per kill: %d copies, %d kills" % (len(dups), kills))
    finally:
        sink.stop()


# ---------------------------------------------------------------- OpenPGP

def gpg(home, *args, stdin=None):
    p = subprocess.run(["gpg", "--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback",
                        "--passphrase", ""] + list(args), input=stdin, capture_output=True, timeout=60)
    check(p.returncode == 0, "gpg %s: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
    return p.stdout


def new_key(home, uid):
    os.makedirs(home, mode=0o700, exist_ok=True)
    gpg(home, "--quick-gen-key", uid, "future-default", "default", "never")
    out = gpg(home, "--with-colons", "--list-secret-keys", uid).decode()
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


def signed_parts(raw):
    """The first part of a multipart/signed message exactly as sent, and the signature."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    check(msg.get_content_type() == "multipart/signed", "multipart/signed expected, got %s" % msg.get_content_type())
    boundary = msg.get_boundary().encode()
    body = raw.split(b"\r\n\r\n", 1)[1]
    chunks = body.split(b"--" + boundary)
    part = chunks[1][2:-2]  # between "--B\r\n" and "\r\n--B"
    sig = msg.get_payload()[1].get_content()
    return part, sig if isinstance(sig, bytes) else sig.encode()


@test("notify: digests are signed with the CIRT's key (gpg --verify) and encrypted to contacts with a key",
      timeout=240)
def t_openpgp(ctx):
    keys = tempfile.mkdtemp(prefix="k", dir="/tmp")  # short: gpg-agent's socket path
    dz_home = os.path.join(ctx.data, "gnupg")
    try:
        cirt_home, contact_home = os.path.join(keys, "c"), os.path.join(keys, "p")
        fpr = new_key(cirt_home, "Test CIRT <cirt@cirt.example>")
        secret = gpg(cirt_home, "--armor", "--export-secret-keys", fpr)
        cirt_pub = gpg(cirt_home, "--armor", "--export", fpr)
        path = os.path.join(keys, "cirt.asc")
        with open(path, "wb") as f:
            f.write(secret)
        p = ctx.cli("notify", "keys", "import", path)
        check("imported" in p.stdout, "keys import printed %r" % p.stdout)
        new_key(contact_home, "Contact <keyed@example.org>")
        contact_pub = gpg(contact_home, "--armor", "--export", "keyed@example.org").decode()
        c, addr = make_org(ctx, "10.77.0.0/16", [("plain", "immediate", "AMBER", "csv", {}),
                                                 ("keyed", "immediate", "AMBER", "csv", {"pgp": contact_pub})])
        ingest_events(ctx, "10.77", 5)
        notify_conf(ctx, "pgp_sign_key = " + fpr)
        sink = Sink(ctx)
        try:
            notify_run(ctx, sink)
            plain, keyed = sink.to(addr["plain"]), sink.to(addr["keyed"])
            eq((len(plain), len(keyed)), (1, 1), "messages to the two contacts")
        finally:
            sink.stop()
        verify_home = os.path.join(keys, "v")
        os.makedirs(verify_home, mode=0o700)
        gpg(verify_home, "--import", stdin=cirt_pub)
        part, sig = signed_parts(plain[0][2])
        with open(os.path.join(keys, "part"), "wb") as f:
            f.write(part)
        with open(os.path.join(keys, "sig.asc"), "wb") as f:
            f.write(sig)
        gpg(verify_home, "--verify", os.path.join(keys, "sig.asc"), os.path.join(keys, "part"))
        inner = email.message_from_bytes(part, policy=email.policy.default)
        name, text = attachment(inner)
        eq(len(csv_rows(text)), 5, "CSV rows inside the signed part")

        enc = keyed[0][1]
        eq(enc.get_content_type(), "multipart/encrypted", "the keyed contact's message")
        armored = enc.get_payload()[1].get_content()
        clear = gpg(contact_home, "--decrypt", stdin=armored if isinstance(armored, bytes) else armored.encode())
        check(b"multipart/signed" in clear.split(b"\r\n\r\n", 1)[0], "decrypted: a signed entity")
        part, sig = signed_parts(b"MIME-Version: 1.0\r\n" + clear)
        with open(os.path.join(keys, "part2"), "wb") as f:
            f.write(part)
        with open(os.path.join(keys, "sig2.asc"), "wb") as f:
            f.write(sig)
        gpg(verify_home, "--verify", os.path.join(keys, "sig2.asc"), os.path.join(keys, "part2"))
        r = ctx.req("GET", "/api/v1/notifications?constituent=%s" % c, "admin")
        flags = {it["recipient"]: (it["signed"], it["encrypted"]) for it in r.json["items"]}
        eq(flags, {addr["plain"]: (True, False), addr["keyed"]: (True, True)}, "signed/encrypted in the API")
    finally:
        notify_conf(ctx)
        for home in (os.path.join(keys, d) for d in ("c", "p", "v")):
            subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True)
        subprocess.run(["gpgconf", "--homedir", dz_home, "--kill", "all"], capture_output=True)
        shutil.rmtree(keys, ignore_errors=True)


# ---------------------------------------------------------------- templates, serve, demo

@test("notify: a broken template is refused with its line, and nothing is sent", timeout=120)
def t_broken_template(ctx):
    notify_conf(ctx)
    path = os.path.join(ctx.data, "templates", "digest.en.txt")
    with open(path) as f:
        good = f.read()
    try:
        with open(path, "w") as f:
            f.write("Subject: [{{ticket}}] events\n\nHello {{organisation}},\n{{#counts}}\n- {{type}}: {{count}}\n")
        sink = Sink(ctx)
        try:
            p = notify_run(ctx, sink, check_rc=False)
            check(p.returncode != 0 and re.search(r"digest\.en\.txt:\d+:", p.stderr),
                  "notify run with a broken template: rc %d, %r" % (p.returncode, p.stderr))
            eq(len(sink.messages()), 0, "messages sent")
        finally:
            sink.stop()
        with open(path, "w") as f:
            f.write("Subject: [{{ticket}}] events\n\nHello {{orgnisation}}\n")
        p = ctx.cli("notify", "run", "--dry-run", check_rc=False)
        check(p.returncode != 0 and "digest.en.txt:3:" in p.stderr and "orgnisation" in p.stderr,
              "an unknown variable: %r" % p.stderr)
    finally:
        with open(path, "w") as f:
            f.write(good)


@test("notify: dzong serve sends the outbox and incident notices by itself", timeout=180)
def t_serve_sends(ctx):
    sink = Sink(ctx)
    try:
        notify_conf(ctx, "smtp = " + sink.url, "notify_poll = 1")
        c, addr = make_org(ctx, "10.78.0.0/16", [("soc", "immediate", "AMBER", "csv", {})])
        ingest_events(ctx, "10.78", 2)
        ctx.cli("notify", "run", "--queue-only")
        ctx.restart_server()
        deadline = time.time() + 30
        while not sink.to(addr["soc"]) and time.time() < deadline:
            time.sleep(0.2)
        eq(len(sink.to(addr["soc"])), 1, "the digest sent by serve")
        # an incident notice through the API is queued and sent at once
        r = ctx.req("POST", "/api/v1/incidents", "h1", body={"title": "Notice test", "tlp": "AMBER",
                                                             "classification": {"type": "infected-system"},
                                                             "constituents": [c]})
        eq(r.status, 201, "incident " + r.brief())
        iid = r.json["id"]
        r = ctx.req("POST", "/api/v1/incidents/%s/notify" % iid, "h1",
                    body={"constituents": [c], "text": "Please clean host 10.78.0.1 now."})
        eq(r.status, 201, "notify " + r.brief())
        deadline = time.time() + 15
        while len(sink.to(addr["soc"])) < 2 and time.time() < deadline:
            time.sleep(0.2)
        msgs = sink.to(addr["soc"])
        eq(len(msgs), 2, "digest and incident notice")
        body = msgs[1][1].get_body(preferencelist=("plain",)).get_content()
        check("Please clean host 10.78.0.1 now." in body and iid in body, "the notice's body: %r" % body)
        r = ctx.req("GET", "/api/v1/incidents/%s/notes" % iid, "h1")
        notes = [n for n in r.json["items"] if "Please clean host" in n["body"]]
        check(len(notes) == 1 and notes[0]["shared"], "the notice is a shared note: %r" % r.json)
    finally:
        notify_conf(ctx)
        ctx.restart_server()
        sink.stop()


@test("notify: the demo data sends its first digests", timeout=180, backend="sqlite")
def t_demo(ctx):
    data = os.path.join(ctx.tmp, "demo-notify")
    env = dict(os.environ)
    for k in ("DZONG_DB", "DZONG_DATA", "DZONG_SMTP"):
        env.pop(k, None)
    p = subprocess.run([ctx.dzong, "--data", data, "init", "--demo"], capture_output=True, text=True, env=env,
                       timeout=120)
    eq(p.returncode, 0, "init --demo: %s" % p.stderr)
    check("demo feed events" in p.stdout, "init --demo loads feed events: %r" % p.stdout)
    sink = Sink(ctx)
    try:
        p = subprocess.run([ctx.dzong, "--data", data, "--smtp", sink.url, "notify", "run"], capture_output=True,
                           text=True, env=env, timeout=120)
        eq(p.returncode, 0, "notify run: %s%s" % (p.stdout, p.stderr))
        msgs = sink.messages()
        check(len(msgs) >= 10, "digests of the demo: %d (%s)" % (len(msgs), p.stdout))
        to = {m[0]["rcpt_tos"][0] for m in msgs}
        check("noc@govnet.example" in to, "the GovNet NOC (immediate) got one: %r" % sorted(to))
        check("cert@partner-cert.example" not in to, "a contact with interval never got none")
        govnet = [m for m in msgs if m[0]["rcpt_tos"] == ["noc@govnet.example"]][0][1]
        rows = csv_rows(attachment(govnet)[1])
        check(any(r["source.ip"] == "192.0.2.10" for r in rows), "the GovNet digest lists 192.0.2.10: %r" % rows[:2])
    finally:
        sink.stop()


@test("notify: two nodes send from one outbox on PostgreSQL, nothing twice", timeout=240, backend="postgres")
def t_two_senders(ctx):
    notify_conf(ctx)
    c, addrs = queue_digests(ctx, "10.79.0.0/16", "10.79", 60)
    sink = Sink(ctx, "--delay", "0.01")
    try:
        a, b = sender(ctx, sink), sender(ctx, sink)
        outs = [p.communicate(timeout=120) for p in (a, b)]
        eq((a.returncode, b.returncode), (0, 0), "both senders: %r" % (outs,))
        sent = [int(re.search(rb"outbox: (\d+) sent", out).group(1)) for out, _ in outs]
        eq(sum(sent), 60, "sent by the two nodes together (%r)" % sent)
        check(min(sent) > 0, "both nodes sent some: %r" % sent)
        counts = count_by_message_id(sink, addrs)
        eq(len(counts), 60, "distinct messages at the server")
        eq(sorted(set(counts.values())), [1], "copies of each message")
    finally:
        sink.stop()


@test("notify: two serve nodes on PostgreSQL send one outbox between them, nothing twice", timeout=240,
      backend="postgres")
def t_two_serve_nodes(ctx):
    sink = Sink(ctx, "--delay", "0.05")
    other = None
    try:
        notify_conf(ctx, "smtp = " + sink.url, "notify_poll = 1")
        ctx.restart_server()
        other, _ = ctx.spawn_server(os.path.join(ctx.tmp, "server-b.log"))
        c, addrs = queue_digests(ctx, "10.80.0.0/16", "10.80", 60)
        deadline = time.time() + 120
        while len(count_by_message_id(sink, addrs)) < 60 and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # anything sent twice would arrive now
        counts = count_by_message_id(sink, addrs)
        eq(len(counts), 60, "distinct messages at the server")
        eq(sorted(set(counts.values())), [1], "copies of each message")
        org = ctx.db_rows("SELECT id FROM constituents WHERE short_name = '%s'" % c)[0][0]
        nodes = ctx.db_rows("SELECT node, count(*) FROM notifications WHERE org_id = %s GROUP BY node" % org)
        eq(len(nodes), 2, "nodes that sent: %r" % nodes)
    finally:
        ctx._kill(other)
        notify_conf(ctx)
        ctx.restart_server()
        sink.stop()


@test("notify: STARTTLS and AUTH: a relay that requires both takes the digest; a wrong password is retried",
      timeout=180)
def t_starttls_auth(ctx):
    cert, key = os.path.join(ctx.tmp, "relay.crt"), os.path.join(ctx.tmp, "relay.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=sink.test",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    c, addr = make_org(ctx, "10.81.0.0/16", [("soc", "immediate", "AMBER", "csv", {})])
    ingest_events(ctx, "10.81", 2)
    sink = Sink(ctx, "--starttls", cert, key, "--auth", "dzong:s3cret")
    try:
        # the wrong password: refused by the relay, kept for a retry (a configuration fix must not lose it)
        notify_conf(ctx, "smtp_user = dzong", "smtp_password = wrong", "smtp_starttls = require",
                    "smtp_insecure = true", "notify_retry_base = 1s")
        p = notify_run(ctx, sink)
        check("1 to retry later" in p.stdout, "round with a wrong password printed %r" % p.stdout)
        eq(len(sink.to(addr["soc"])), 0, "messages accepted with a wrong password")
        # the right one, from the environment
        notify_conf(ctx, "smtp_user = dzong", "smtp_starttls = require", "smtp_insecure = true",
                    "notify_retry_base = 1s")
        time.sleep(1.5)
        env = ctx.env()
        env["DZONG_SMTP_PASSWORD"] = "s3cret"
        p = subprocess.run([ctx.dzong, "--data", ctx.data, "--smtp", sink.url, "notify", "run"], capture_output=True,
                           text=True, env=env, timeout=120)
        eq(p.returncode, 0, "notify run: %s" % p.stderr)
        eq(len(sink.to(addr["soc"])), 1, "the digest over STARTTLS with AUTH")
        check("s3cret" not in p.stdout + p.stderr, "the password is never printed")
    finally:
        notify_conf(ctx)
        sink.stop()
    # a relay without STARTTLS when it is required: nothing is sent in clear, the message waits
    ingest_events(ctx, "10.81", 1, start=50)
    sink = Sink(ctx)
    try:
        notify_conf(ctx, "smtp_starttls = require", "notify_retry_base = 1s")
        p = notify_run(ctx, sink)
        check("1 to retry later" in p.stdout, "round against a relay without TLS printed %r" % p.stdout)
        eq(len(sink.messages()), 0, "messages sent in clear")
    finally:
        notify_conf(ctx)
        sink.stop()
