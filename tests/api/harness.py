"""
harness.py: the machinery of the black-box API suite.

A temporary data directory initialised with `dzong init`, users, constituents
and tokens made with the CLI, one `dzong serve` on a free 127.0.0.1 port, a tiny
HTTP client over http.client, and a registry of tests that run.py executes in
order, each under its own timeout. Standard library only.
"""
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time

# ---------------------------------------------------------------- registry

TESTS = []  # (name, fn, timeout_s)
ONLY_BACKEND = {}  # test name -> the only backend ("sqlite", "postgres") it runs on


def test(name, timeout=30, backend=None):
    """Registers fn(ctx) as a test; tests run in registration order. With backend,
    the test runs only against that database backend (run.py leaves it out otherwise)."""
    def deco(fn):
        TESTS.append((name, fn, timeout))
        if backend:
            ONLY_BACKEND[name] = backend
        return fn
    return deco


class TestTimeout(Exception):
    pass


def check(cond, msg):
    """assert that is never stripped by -O and always carries a reason."""
    if not cond:
        raise AssertionError(msg)


def eq(got, want, what):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


# ---------------------------------------------------------------- HTTP

NOBODY = object()


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage
        self.body = body
        self._json = NOBODY

    def header(self, name):
        return self.headers.get(name)

    def header_all(self, name):
        return self.headers.get_all(name) or []

    @property
    def json(self):
        if self._json is NOBODY:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except Exception as ex:  # noqa: BLE001
                raise AssertionError("response is not JSON (%s): %r" % (ex, self.body[:200]))
        return self._json

    def brief(self):
        return "%d %s" % (self.status, self.body[:300].decode("utf-8", "replace"))


def build_headers(token=None, cookie=None, csrf=None, headers=None, has_body=False):
    h = {}
    if token:
        h["Authorization"] = "Bearer " + token
    if cookie:
        h["Cookie"] = cookie
    if csrf:
        h["X-CSRF-Token"] = csrf
    if has_body:
        h["Content-Type"] = "application/json"
    if headers:
        h.update(headers)
    return h


def encode_body(body, raw):
    if raw is not None:
        return raw if isinstance(raw, bytes) else raw.encode("utf-8")
    if body is NOBODY:
        return None
    return json.dumps(body).encode("utf-8")


def do_request(conn, method, path, token=None, body=NOBODY, raw=None, cookie=None, csrf=None, headers=None):
    data = encode_body(body, raw)
    h = build_headers(token, cookie, csrf, headers, data is not None)
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    payload = r.read()
    return Resp(r.status, r.headers, payload)


# ---------------------------------------------------------------- the server under test

class User:
    def __init__(self, name, role, password, org=None, token=None):
        self.name, self.role, self.password, self.org, self.token = name, role, password, org, token


class Ctx:
    def __init__(self, dzong, tmp, repo, db_url=None):
        self.dzong = dzong
        # None: SQLite in the data directory (dzong's default); else a postgres:// URL,
        # given to every dzong subprocess as DZONG_DB.
        self.db_url = db_url
        self.backend = "postgres" if db_url else "sqlite"
        self.tmp = tmp
        self.repo = repo
        self.data = os.path.join(tmp, "data")
        self.log_path = os.path.join(tmp, "server.log")
        self.proc = None
        self.port = None
        self.users = {}
        self.prefix = None
        self.tag = secrets.token_hex(3)  # makes names unique within this run
        self._seq = 0

    # -- unique names
    def uniq(self, stem):
        self._seq += 1
        return "%s-%s-%d" % (stem, self.tag, self._seq)

    # -- the environment of every dzong subprocess: the database under test and nothing else
    def env(self):
        env = dict(os.environ)
        env.pop("DZONG_DB", None)
        env.pop("DZONG_DATA", None)
        env.pop("DZONG_LISTEN", None)
        if self.db_url:
            env["DZONG_DB"] = self.db_url
        return env

    # -- CLI
    def cli(self, *args, stdin=None, timeout=30, check_rc=True):
        p = subprocess.run([self.dzong, "--data", self.data] + list(args), input=stdin, capture_output=True,
                           text=True, timeout=timeout, env=self.env())
        if check_rc and p.returncode != 0:
            raise AssertionError("dzong %s exited %d: %s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def add_user(self, name, role, org=None):
        password = "pw-" + secrets.token_urlsafe(15)
        args = ["user", "add", name, "--role", role]
        if org:
            args += ["--constituent", org]
        self.cli(*(args + ["--password-stdin"]), stdin=password + "\n")
        u = User(name, role, password, org)
        u.token = self.cli("token", "create", name).stdout.strip()
        check(u.token.startswith("dzt_"), "token create printed %r" % u.token)
        self.users[name] = u
        return u

    # -- extra dzong.conf lines (spool, downloads) for the tests that need them
    CONF_EXTRA_MARK = "# ---- lines of the API suite ----\n"

    def set_conf_extra(self, lines):
        """Replaces the suite's block at the end of dzong.conf with lines ([]: removes it). Takes effect for
        dzong processes started afterwards (restart_server())."""
        path = os.path.join(self.data, "dzong.conf")
        with open(path) as f:
            text = f.read().split(self.CONF_EXTRA_MARK)[0]
        if lines:
            text += self.CONF_EXTRA_MARK + "".join(line + "\n" for line in lines)
        with open(path, "w") as f:
            f.write(text)

    def restart_server(self):
        self.stop_server()
        self.start_server()

    # -- reading the database directly (tables no API shows, e.g. feed_fetch)
    def db_rows(self, sql):
        """Rows of a query as lists of strings (NULL: None), from SQLite or PostgreSQL."""
        if self.db_url:
            p = subprocess.run(["psql", "-X", "-At", "-F", "\x1f", "-v", "ON_ERROR_STOP=1", self.db_url, "-c", sql],
                               capture_output=True, text=True, timeout=30)
            if p.returncode != 0:
                raise AssertionError("psql %r: %s" % (sql, p.stderr))
            return [line.split("\x1f") for line in p.stdout.splitlines()]
        import sqlite3
        con = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.data, "dzong.db"), uri=True, timeout=10)
        try:
            return [[None if v is None else str(v) for v in row] for row in con.execute(sql)]
        finally:
            con.close()

    # -- server process
    def spawn_server(self, log_path, attempts=5):
        """Starts one `dzong serve` on a free port; returns (proc, port) once /healthz answers 200."""
        last = ""
        for _ in range(attempts):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            log = open(log_path, "ab")
            log.write(("\n==== serve on port %d at %s ====\n" % (port, time.strftime("%H:%M:%S"))).encode())
            log.flush()
            proc = subprocess.Popen([self.dzong, "--data", self.data, "serve", "--listen", "127.0.0.1:%d" % port],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env())
            log.close()
            deadline = time.time() + 10
            while time.time() < deadline:
                if proc.poll() is not None:
                    break
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    c.request("GET", "/healthz")
                    r = c.getresponse()
                    r.read()
                    c.close()
                    if r.status == 200:
                        return proc, port
                except OSError:
                    pass
                time.sleep(0.05)
            last = "exit code %r" % proc.poll()
            self._kill(proc)
        raise RuntimeError("dzong serve did not come up (%s); see %s" % (last, log_path))

    def start_server(self, attempts=5):
        self.proc, self.port = self.spawn_server(self.log_path, attempts)

    @staticmethod
    def _kill(proc, graceful=True):
        if proc is None or proc.poll() is not None:
            return
        if graceful:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                pass
        proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def stop_server(self, graceful=True):
        self._kill(self.proc, graceful)
        self.proc = None

    def kill9_server(self):
        """SIGKILL, no chance to flush anything: what a power cut looks like to the process."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.proc = None

    # -- HTTP helpers
    def conn(self, timeout=15, port=None):
        return http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)

    def req(self, method, path, as_user=None, token=None, body=NOBODY, raw=None, cookie=None, csrf=None,
            headers=None, timeout=15, port=None):
        if as_user is not None:
            token = self.users[as_user].token
        c = self.conn(timeout, port)
        try:
            return do_request(c, method, path, token, body, raw, cookie, csrf, headers)
        finally:
            c.close()

    # JSON helpers that insist on the status
    def expect(self, status, method, path, as_user=None, **kw):
        r = self.req(method, path, as_user=as_user, **kw)
        if r.status != status:
            raise AssertionError("%s %s as %s: want %d, got %s" % (method, path, as_user, status, r.brief()))
        return r

    def create_incident(self, as_user="admin", **fields):
        fields.setdefault("title", self.uniq("incident"))
        return self.expect(201, "POST", "/api/v1/incidents", as_user, body=fields).json

    def patch_incident(self, iid, as_user="admin", **fields):
        return self.expect(200, "PATCH", "/api/v1/incidents/" + iid, as_user, body=fields).json


PROBLEM_FIELDS = ("type", "title", "status", "detail", "request_id")


def check_problem(r, status, mentions=None, what=""):
    """An RFC 9457 problem document with the expected status that names what it is about."""
    pre = (what + ": ") if what else ""
    check(r.status == status, "%swant %d, got %s" % (pre, status, r.brief()))
    ctype = (r.header("Content-Type") or "").split(";")[0].strip()
    check(ctype == "application/problem+json", "%sContent-Type is %r, want application/problem+json" % (pre, ctype))
    doc = r.json
    check(isinstance(doc, dict), "%sproblem is not an object" % pre)
    missing = [f for f in PROBLEM_FIELDS if f not in doc]
    check(not missing, "%sproblem lacks %s: %r" % (pre, missing, doc))
    check(doc["status"] == status, "%sproblem.status %r != %d" % (pre, doc["status"], status))
    for f in ("type", "title", "detail", "request_id"):
        check(isinstance(doc[f], str) and doc[f], "%sproblem.%s empty or not a string: %r" % (pre, f, doc))
    rid = r.header("X-Request-Id")
    check(rid == doc["request_id"], "%sX-Request-Id %r != problem.request_id %r" % (pre, rid, doc["request_id"]))
    for m in ([mentions] if isinstance(mentions, str) else (mentions or [])):
        check(m.lower() in doc["detail"].lower(), "%sdetail does not mention %r: %r" % (pre, m, doc["detail"]))
    return doc


ID_RE = re.compile(r"^[A-Z0-9]+-\d{4}-\d{5}$")
REPORT_ID_RE = re.compile(r"^[A-Z0-9]+-R-\d{4}-\d{5}$")
ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def parse_iso(s):
    import calendar
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def log(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()
