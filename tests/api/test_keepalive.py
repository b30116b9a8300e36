"""HTTP/1.1 keep-alive: one connection carries many requests, with and without bodies."""
from harness import check, do_request, eq, test


@test("keep-alive: GET, POST, PATCH, errors and HEAD reuse one socket")
def t_keepalive(ctx):
    tok = ctx.users["h1"].token
    conn = ctx.conn()
    try:
        conn.connect()
        sock = conn.sock
        local = sock.getsockname()
        steps = [
            ("GET", "/healthz", None, {}, 200),
            ("GET", "/api/v1/incidents?limit=2", tok, {}, 200),
            ("POST", "/api/v1/incidents", tok, {"body": {"title": "Keep-alive " + ctx.tag}}, 201),
            ("PATCH", None, tok, {"body": {"status": "triage"}}, 200),
            ("POST", None, tok, {"body": {"body": "a note over the same socket"}}, 201),
            ("POST", "/api/v1/incidents", tok, {"raw": "{broken"}, 400),
            ("GET", "/api/v1/nope", tok, {}, 404),
            ("DELETE", "/api/v1/incidents", tok, {}, 405),
            ("GET", "/api/v1/incidents", None, {}, 401),
            ("POST", "/api/v1/reports", tok, {"body": {"source": "web", "source_ref": ctx.uniq("ka")}}, 201),
            ("HEAD", "/healthz", None, {}, 200),
            ("GET", None, tok, {}, 200),
        ]
        iid = None
        for i, (method, path, token, kw, want) in enumerate(steps):
            if path is None:
                path = "/api/v1/incidents/" + iid + ("/notes" if method == "POST" else "")
            r = do_request(conn, method, path, token, **kw)
            eq(r.status, want, "step %d %s %s (%s)" % (i, method, path, r.brief()))
            if want == 201 and path == "/api/v1/incidents":
                iid = r.json["id"]
            conn_hdr = (r.header("Connection") or "").lower()
            check("close" not in conn_hdr, "step %d %s %s answered Connection: %s" % (i, method, path, conn_hdr))
            check(conn.sock is sock, "step %d %s %s: the client had to reconnect (server closed the connection)"
                  % (i, method, path))
            eq(sock.getsockname(), local, "local address after step %d" % i)
        got = do_request(conn, "GET", "/api/v1/incidents/" + iid, tok)
        eq(got.json["status"], "triage", "state written over the kept-alive connection")
        check(conn.sock is sock, "reconnected for the last request")
    finally:
        conn.close()


@test("keep-alive: a burst of 50 requests on one connection")
def t_keepalive_burst(ctx):
    tok = ctx.users["an1"].token
    conn = ctx.conn()
    try:
        conn.connect()
        sock = conn.sock
        for i in range(50):
            method = "POST" if i % 5 == 0 else "GET"
            if method == "POST":
                r = do_request(conn, "POST", "/api/v1/reports", tok, body={"source": "web", "source_ref": ctx.uniq("burst")})
                eq(r.status, 201, "burst POST %d" % i)
            else:
                r = do_request(conn, "GET", "/api/v1/taxonomy", tok)
                eq(r.status, 200, "burst GET %d" % i)
            check(conn.sock is sock, "request %d needed a new connection" % i)
    finally:
        conn.close()
