#!/usr/bin/python3
"""
smtp_sink.py: a test SMTP server for the API tests (dzong's notifications).

Run it with Debian's /usr/bin/python3 (python3-aiosmtpd). Every accepted
message is written atomically as DIR/NNNNNN.eml and then DIR/NNNNNN.json
({"mail_from", "rcpt_tos", "message_id", "size"}), so a test that sees the
.json file may read both.

    --port P            0 (default): a free port. The first line on stdout is
                        always "PORT n" (flushed).
    --dir D             where messages go (created)
    --fail-rcpt A       550 5.1.1 for recipient A (repeatable)
    --tempfail-rcpt A   451 4.3.0 for recipient A (repeatable)
    --hold-after N      once N messages were accepted, every further DATA
                        command stalls (before the message is read) until
                        the file D/release exists: a test may kill the sender
                        mid-round at a known point
    --auth USER:PASS    require AUTH (PLAIN or LOGIN) before MAIL
    --starttls CERT KEY offer STARTTLS (AUTH then requires TLS)
    --delay S           answer each message S seconds after storing it (a
                        sender killed meanwhile never hears that it was taken)
    --lifetime S        exit after S seconds (default 600), so nothing
                        outlives a test run; SIGTERM and SIGINT also stop it
"""
import argparse
import asyncio
import email.parser
import email.policy
import json
import logging
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult


class Sink:
    """The aiosmtpd handler: refuses the configured recipients, stores the rest."""

    def __init__(self, args):
        self.dir = args.dir
        self.fail = {a.lower() for a in args.fail_rcpt}
        self.tempfail = {a.lower() for a in args.tempfail_rcpt}
        self.accepted = 0
        self.delay = args.delay
        # Continue after what the directory already holds: never overwrite.
        nums = [int(f[:6]) for f in os.listdir(self.dir) if f.endswith(".json") and f[:6].isdigit()]
        self.next = max(nums, default=0) + 1

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.fail:
            return "550 5.1.1 <%s>: recipient address rejected" % address
        if address.lower() in self.tempfail:
            return "451 4.3.0 <%s>: temporarily unavailable, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
        n = self.next
        self.next += 1
        base = os.path.join(self.dir, "%06d" % n)
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                "message_id": (headers.get("Message-ID") or "").strip() or None, "size": len(data)}
        write_atomic(base + ".eml", data)
        write_atomic(base + ".json", json.dumps(meta).encode())
        self.accepted += 1
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        return "250 2.0.0 OK queued as %06d" % n


def write_atomic(path, data):
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


class HoldingSMTP(SMTP):
    """SMTP whose DATA command waits for DIR/release once hold_after messages were accepted."""

    hold_after = None
    sink = None

    async def smtp_DATA(self, arg):
        if self.hold_after is not None and self.sink.accepted >= self.hold_after:
            release = os.path.join(self.sink.dir, "release")
            while not os.path.exists(release):
                await asyncio.sleep(0.05)
        return await super().smtp_DATA(arg)


def main():
    ap = argparse.ArgumentParser(description="a test SMTP server that stores what it accepts")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--fail-rcpt", action="append", default=[])
    ap.add_argument("--tempfail-rcpt", action="append", default=[])
    ap.add_argument("--hold-after", type=int)
    ap.add_argument("--auth")
    ap.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--lifetime", type=float, default=600)
    args = ap.parse_args()
    # aiosmtpd warns about AUTH without TLS and deprecations: noise in a test's log.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    os.makedirs(args.dir, exist_ok=True)

    sink = Sink(args)
    HoldingSMTP.hold_after = args.hold_after
    HoldingSMTP.sink = sink
    kw = {"hostname": "sink.test", "enable_SMTPUTF8": True, "auth_require_tls": False}
    if args.starttls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.starttls[0], args.starttls[1])
        kw["tls_context"] = ctx
        kw["auth_require_tls"] = True
    if args.auth:
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (mechanism in ("PLAIN", "LOGIN") and auth_data.login == user.encode()
                  and auth_data.password == password.encode())
            return AuthResult(success=ok, handled=False)

        kw["authenticator"] = authenticator
        kw["auth_required"] = True

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(lambda: HoldingSMTP(sink, loop=loop, **kw), "127.0.0.1", args.port))
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)

    stop = loop.stop
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    loop.call_later(args.lifetime, stop)
    try:
        loop.run_forever()
    finally:
        server.close()
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
