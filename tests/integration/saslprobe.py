#!/usr/bin/env python3
"""SCRAM exchanges by hand, for pgsluice's authentication tests (Python stdlib only).

  saslprobe.py shape HOST PORT USER DB
      start SCRAM-SHA-256 with a wrong proof; print one line describing what the server showed:
      the mechanisms, the iteration count, the salt and nonce lengths and the final error
      (SQLSTATE and message with the user name replaced by USER) - the same line for a known
      and an unknown user means the absence of a user does not show
  saslprobe.py garbage HOST PORT USER DB
      malformed SASL messages (a broken client-first, a broken client-final, a message of the
      wrong type) must each get an ErrorResponse with SQLSTATE 08P01 and a closed connection
  saslprobe.py stall HOST PORT USER DB SECONDS
      begin SCRAM and then send nothing: within SECONDS + 3 s pgsluice must send SQLSTATE 57014
      ("canceling authentication due to timeout") and close

Each check prints '  ok   ...' or '  FAIL ...'; the exit status is the number of failures.
"""
import base64
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgwire  # noqa: E402

AUTH_SASL, AUTH_SASL_CONTINUE = 10, 11


def msg(t, body):
    return t + struct.pack("!I", len(body) + 4) + body


def start(host, port, user, db):
    """Connect and read the AuthenticationSASL request: (socket, [mechanisms])."""
    s = pgwire.connect(host, port)
    s.sendall(pgwire.startup_packet(user, db))
    t, body = pgwire.read_message(s)
    if t != b"R" or struct.unpack("!I", body[:4])[0] != AUTH_SASL:
        raise ValueError("expected AuthenticationSASL, got %r %r" % (t, body[:40]))
    mechs = [m.decode() for m in body[4:].split(b"\0") if m]
    return s, mechs


def initial(mech, data):
    return msg(b"p", mech.encode() + b"\0" + struct.pack("!i", len(data)) + data)


def error_after(s):
    """Read until an ErrorResponse or EOF: (fields or None, closed_after)."""
    while True:
        kind, fields = pgwire.reply(s)
        if kind == "E":
            closed = pgwire.reply(s)[0] == "close"
            return fields, closed
        if kind in ("close", "timeout"):
            return None, kind == "close"
        # another message: skip its body
        (length,) = struct.unpack("!I", pgwire.recv_exact(s, 4))
        pgwire.recv_exact(s, length - 4)


def cmd_shape(host, port, user, db):
    s, mechs = start(host, port, user, db)
    cnonce = base64.b64encode(os.urandom(18)).decode()
    s.sendall(initial("SCRAM-SHA-256", ("n,,n=,r=" + cnonce).encode()))
    t, body = pgwire.read_message(s)
    if t != b"R" or struct.unpack("!I", body[:4])[0] != AUTH_SASL_CONTINUE:
        print("no server-first-message: %r" % (t,))
        return 1
    attrs = dict(kv.split("=", 1) for kv in body[4:].decode().split(","))
    salt = base64.b64decode(attrs["s"])
    proof = base64.b64encode(os.urandom(32)).decode()
    final = "c=biws,r=%s,p=%s" % (attrs["r"], proof)
    s.sendall(msg(b"p", final.encode()))
    fields, closed = error_after(s)
    err = "%s %s" % (fields.get("C"), fields.get("M", "").replace(user, "USER")) if fields else "none"
    print("mechs=%s i=%s saltlen=%d nonce_prefix_ok=%s noncelen=%d error=[%s] closed=%s" % (
        "+".join(mechs), attrs["i"], len(salt), attrs["r"].startswith(cnonce), len(attrs["r"]),
        err, closed))
    return 0


def expect_08p01(name, s):
    fields, closed = error_after(s)
    if fields and fields.get("C") == "08P01" and closed:
        pgwire.ok("%s: 08P01 \"%s\", connection closed" % (name, fields.get("M")))
    else:
        pgwire.fail("%s: want 08P01 and a close, got %r closed=%s" % (name, fields, closed))


def cmd_garbage(host, port, user, db):
    s, _ = start(host, port, user, db)
    s.sendall(initial("SCRAM-SHA-256", b"\x01\xffgarbage,,,"))
    expect_08p01("broken client-first-message", s)
    s.close()

    s, _ = start(host, port, user, db)
    s.sendall(initial("SCRAM-SHA-256", b"n,,n=,r=abcdefghijkl"))
    pgwire.read_message(s)  # server-first
    s.sendall(msg(b"p", b"c=biws,r=not-the-nonce,p=AAAA"))
    expect_08p01("broken client-final-message", s)
    s.close()

    s, _ = start(host, port, user, db)
    s.sendall(initial("NO-SUCH-MECHANISM", b"n,,n=,r=abc"))
    expect_08p01("unknown SASL mechanism", s)
    s.close()

    s, _ = start(host, port, user, db)
    s.sendall(msg(b"Q", b"select 1\0"))
    expect_08p01("a query instead of a SASL response", s)
    s.close()


def cmd_stall(host, port, user, db, secs):
    s, _ = start(host, port, user, db)
    s.settimeout(secs + 3)
    t0 = time.monotonic()
    fields, closed = error_after(s)
    took = time.monotonic() - t0
    if fields and fields.get("C") == "57014" and closed:
        pgwire.ok("stalled SCRAM exchange ended after %.1f s: 57014 \"%s\"" % (took, fields.get("M")))
    else:
        pgwire.fail("stalled SCRAM exchange: got %r closed=%s after %.1f s" % (fields, closed, took))


def main(argv):
    if len(argv) < 5:
        print(__doc__)
        return 2
    what, host, port, user, db = argv[0], argv[1], int(argv[2]), argv[3], argv[4]
    try:
        if what == "shape":
            return cmd_shape(host, port, user, db)
        if what == "garbage":
            cmd_garbage(host, port, user, db)
        elif what == "stall":
            cmd_stall(host, port, user, db, float(argv[5]))
        else:
            print(__doc__)
            return 2
    except (OSError, EOFError, ValueError) as e:
        pgwire.fail("%s: %s" % (what, e))
    return min(pgwire.failures, 100)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
