#!/usr/bin/env python3
"""Hostile GSSAPI input and a wire capture for 29-gss.sh (Python stdlib only).

  gssprobe.py hostile HOST PORT USER DB
      - a garbage GSSResponse token after AuthenticationGSS: ErrorResponse 28000
        'GSSAPI authentication failed for user "USER"'
      - an empty GSSResponse: an ErrorResponse, never a hang
      - GSSENCRequest answered 'G', then a framed garbage token: the connection is closed
      - GSSENCRequest answered 'G', then a length of 1 MiB: closed (oversize)
      - GSSENCRequest answered 'G', then EOF in the middle of a packet: closed, no hang
      - GSSENCRequest and a StartupMessage in one write: ErrorResponse 08P01
        (unencrypted data after the request)
  gssprobe.py relay LISTEN_PORT TARGET_PORT CAPTURE
      a loopback TCP relay: every byte a client sends to 127.0.0.1:LISTEN_PORT goes to
      127.0.0.1:TARGET_PORT and is appended to CAPTURE (the server's answers are relayed, not
      recorded); runs until killed

Each check prints '  ok   ...' or '  FAIL ...'; the exit status is the number of failures.
"""
import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgwire  # noqa: E402

GSSENC = struct.pack("!II", 8, pgwire.GSSENC_REQUEST)


def closed_within(s, what):
    """The peer must close (EOF or reset) without sending anything but an ErrorResponse."""
    kind, info = pgwire.reply(s)
    if kind == "close" or kind == "E":
        pgwire.ok("%s: %s" % (what, "closed" if kind == "close" else "ErrorResponse"))
    else:
        pgwire.fail("%s: got %r %r instead of a close" % (what, kind, info))


def auth_gss_start(host, port, user, db):
    s = pgwire.connect(host, port)
    s.sendall(pgwire.startup_packet(user, db))
    t, body = pgwire.read_message(s)
    if t != b"R" or struct.unpack("!I", body[:4])[0] != 7:
        raise RuntimeError("expected AuthenticationGSS, got %r %r" % (t, body[:8]))
    return s


def cmd_hostile(host, port, user, db):
    port = int(port)
    try:
        s = auth_gss_start(host, port, user, db)
        pgwire.ok("AuthenticationGSS (code 7) for %s" % user)
        token = b"\x60\x82\x01\x00" + os.urandom(200)
        s.sendall(b"p" + struct.pack("!I", 4 + len(token)) + token)
        kind, f = pgwire.reply(s)
        want = 'GSSAPI authentication failed for user "%s"' % user
        if kind == "E" and f.get("C") == "28000" and f.get("M") == want:
            pgwire.ok("garbage GSSResponse: 28000 %s" % f["M"])
        else:
            pgwire.fail("garbage GSSResponse: got %r %r" % (kind, f))
        s.close()
    except (OSError, EOFError, RuntimeError, ValueError) as e:
        pgwire.fail("garbage GSSResponse: %s" % e)

    try:
        s = auth_gss_start(host, port, user, db)
        s.sendall(b"p" + struct.pack("!I", 4))
        kind, f = pgwire.reply(s)
        if kind == "E":
            pgwire.ok("empty GSSResponse: %s %s" % (f.get("C"), f.get("M")))
        else:
            pgwire.fail("empty GSSResponse: got %r %r" % (kind, f))
        s.close()
    except (OSError, EOFError, RuntimeError, ValueError) as e:
        pgwire.fail("empty GSSResponse: %s" % e)

    for name, payload in (
        ("GSSENC + garbage token", struct.pack("!I", 64) + os.urandom(64)),
        ("GSSENC + oversize length", struct.pack("!I", 1 << 20) + b"x" * 100),
        ("GSSENC + EOF mid-packet", struct.pack("!I", 4000) + b"y" * 10),
    ):
        try:
            s = pgwire.connect(host, port)
            s.sendall(GSSENC)
            a = s.recv(1)
            if a != b"G":
                pgwire.fail("%s: answer %r instead of 'G'" % (name, a))
                continue
            s.sendall(payload)
            if "EOF" in name:
                s.shutdown(socket.SHUT_WR)
            closed_within(s, name)
            s.close()
        except (OSError, EOFError) as e:
            pgwire.fail("%s: %s" % (name, e))

    try:
        s = pgwire.connect(host, port)
        s.sendall(GSSENC + pgwire.startup_packet(user, db))
        kind, f = pgwire.reply(s)
        if kind == "E" and f.get("C") == "08P01":
            pgwire.ok("startup packet right after GSSENCRequest: 08P01 %s" % f.get("M"))
        else:
            pgwire.fail("startup packet right after GSSENCRequest: got %r %r" % (kind, f))
    except (OSError, EOFError) as e:
        pgwire.fail("startup packet right after GSSENCRequest: %s" % e)
    return pgwire.failures


def pipe(src, dst, capture):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if capture is not None:
                with open(capture, "ab") as f:
                    f.write(data)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def cmd_relay(listen_port, target_port, capture):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(listen_port)))
    srv.listen(16)
    while True:
        c, _ = srv.accept()
        u = socket.create_connection(("127.0.0.1", int(target_port)))
        threading.Thread(target=pipe, args=(c, u, capture), daemon=True).start()
        threading.Thread(target=pipe, args=(u, c, None), daemon=True).start()


def main(argv):
    if len(argv) == 6 and argv[1] == "hostile":
        return cmd_hostile(*argv[2:])
    if len(argv) == 5 and argv[1] == "relay":
        cmd_relay(*argv[2:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
