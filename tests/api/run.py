#!/usr/bin/env python3
"""
Black-box API suite for dzong.

    python3 tests/api/run.py --dzong build/dzong [--db postgres://...] [--keep] [--only SUBSTRING]

Without --db the database is SQLite in the temporary data directory (a DZONG_DB
in the environment is ignored); with --db every dzong subprocess gets
DZONG_DB=URL (PostgreSQL: give it an empty database of its own). Tests bound to
the other backend (the two-node test needs PostgreSQL) are left out, and the
header line says so.

Creates a temporary data directory, initialises it with the CLI (users,
constituents and tokens of its own), serves it on a free 127.0.0.1 port (log in
the temporary directory), runs every test with a timeout, stops the server
whatever happens, and prints one line per test and, last, "N passed, N failed".
Exits 1 if any test failed. Standard library only.
"""
import argparse
import atexit
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import Ctx, TestTimeout, log  # noqa: E402

# Registration order is run order: the durability and tampering tests restart
# and alter the server's database, so they come last.
import test_meta  # noqa: E402,F401
import test_incidents  # noqa: E402,F401
import test_sessions  # noqa: E402,F401
import test_access  # noqa: E402,F401
import test_admin  # noqa: E402,F401
import test_constituents  # noqa: E402,F401
import test_ingest  # noqa: E402,F401
import test_events  # noqa: E402,F401
import test_feeds_inputs  # noqa: E402,F401
import test_problems  # noqa: E402,F401
import test_notifications_api  # noqa: E402,F401
import test_notify  # noqa: E402,F401
import test_keepalive  # noqa: E402,F401
import test_nodes  # noqa: E402,F401  (PostgreSQL only)
import test_durability  # noqa: E402,F401


def setup(ctx):
    """Data directory, constituents, one user (and token) per role, the server."""
    p = ctx.cli("init", timeout=60)
    m = re.search(r"created user 'admin' \(role admin\) with password: (\S+)", p.stdout)
    if not m:
        raise RuntimeError("init did not print the admin password: %r" % p.stdout)
    conf = open(os.path.join(ctx.data, "dzong.conf")).read()
    pm = re.search(r"^prefix\s*=\s*(\S+)", conf, re.M)
    ctx.prefix = pm.group(1) if pm else "DZONG"
    admin = harness.User("admin", "admin", m.group(1))
    admin.token = ctx.cli("token", "create", "admin").stdout.strip()
    ctx.users["admin"] = admin
    for short, name in (("orga", "Organisation A"), ("orgb", "Organisation B"), ("certx", "Partner CERT X")):
        ctx.cli("constituent", "add", short, name)
    ctx.add_user("coord", "coordinator")
    ctx.add_user("h1", "handler")
    ctx.add_user("h2", "handler")
    ctx.add_user("an1", "analyst")
    ctx.add_user("ca", "constituent", "orga")
    ctx.add_user("cb", "constituent", "orgb")
    ctx.add_user("pa", "partner", "certx")
    ctx.add_user("lockme", "handler")
    ctx.add_user("victim", "analyst")
    # notifications are configured (serve creates the notifier); no relay answers, so nothing is delivered
    with open(os.path.join(ctx.data, "dzong.conf"), "a") as f:
        f.write("mail_from = cirt@example.bt\n")
    ctx.start_server()


def run_one(ctx, fn, timeout):
    def on_alarm(signum, frame):
        raise TestTimeout("timed out after %ds" % timeout)
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(timeout)
    try:
        fn(ctx)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dzong", required=True, help="path to the dzong binary")
    ap.add_argument("--db", metavar="URL", help="database URL (postgres://...) for every dzong process; "
                    "default: SQLite in the temporary data directory")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--only", action="append", default=[], help="run only tests whose name contains this")
    args = ap.parse_args()
    dzong = os.path.abspath(args.dzong)
    if not os.access(dzong, os.X_OK):
        log("dzong binary %s is not executable" % dzong)
        log("0 passed, 1 failed")
        return 1

    if args.db and not re.match(r"^postgres(ql)?://", args.db):
        log("--db %s: only postgres:// URLs (SQLite is the default, in the temporary data directory)" % args.db)
        log("0 passed, 1 failed")
        return 1

    tmp = tempfile.mkdtemp(prefix="dzong-api-")
    ctx = Ctx(dzong, tmp, os.path.dirname(os.path.dirname(HERE)), db_url=args.db)
    atexit.register(lambda: ctx.stop_server(graceful=False))
    # A SIGTERM/SIGINT to the runner must not leave the server behind.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: (_ for _ in ()).throw(KeyboardInterrupt()))

    passed = failed = 0
    started = time.time()
    left_out = [name for name, _, _ in harness.TESTS
                if harness.ONLY_BACKEND.get(name, ctx.backend) != ctx.backend]
    if ctx.backend == "postgres":
        where = "PostgreSQL %s" % re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", args.db)
    else:
        where = "SQLite %s" % os.path.join(ctx.data, "dzong.db")
        if os.environ.get("DZONG_DB"):
            where += " (DZONG_DB in the environment ignored; use --db)"
    skipped = ""
    if left_out:  # e.g. "; left out: 2 postgres-only tests (nodes)"
        kinds = sorted({harness.ONLY_BACKEND[n] for n in left_out})
        groups = sorted({n.split(":")[0] for n in left_out})
        skipped = "; left out: %d %s-only test%s (%s)" % (len(left_out), "/".join(kinds),
                                                         "" if len(left_out) == 1 else "s", ", ".join(groups))
    log("dzong API suite: %s, backend %s, data in %s%s" % (dzong, where, tmp, skipped))
    try:
        try:
            run_one(ctx, setup, 90)
        except BaseException as ex:  # noqa: BLE001
            log("FAIL setup: %s" % (ex,))
            traceback.print_exc(file=sys.stdout)
            log("0 passed, 1 failed")
            return 1
        for name, fn, timeout in harness.TESTS:
            if args.only and not any(o in name for o in args.only):
                continue
            if name in left_out:
                continue
            t0 = time.time()
            try:
                if ctx.proc is None or ctx.proc.poll() is not None:
                    if ctx.proc is not None:
                        log("     (the server had exited with %r; restarting it)" % ctx.proc.poll())
                    ctx.start_server()  # a previous test may have killed it
                run_one(ctx, fn, timeout)
                passed += 1
                log("ok   %s (%.2fs)" % (name, time.time() - t0))
            except KeyboardInterrupt:
                raise
            except AssertionError as ex:
                failed += 1
                log("FAIL %s: %s" % (name, ex))
            except BaseException as ex:  # noqa: BLE001
                failed += 1
                tb = traceback.extract_tb(ex.__traceback__)
                where = ("%s:%d" % (os.path.basename(tb[-1].filename), tb[-1].lineno)) if tb else "?"
                log("FAIL %s: %s: %s (at %s)" % (name, type(ex).__name__, ex, where))
    except KeyboardInterrupt:
        failed += 1
        log("FAIL interrupted")
    finally:
        ctx.stop_server()
    log("server log: %s; total %.1fs" % (ctx.log_path if (failed or args.keep) else "(removed)", time.time() - started))
    if failed == 0 and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    log("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
