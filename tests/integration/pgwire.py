#!/usr/bin/env python3
"""Raw PostgreSQL wire-protocol probes for pgsluice's integration tests (Python stdlib only).

  pgwire.py malformed HOST PORT USER DB
      send hostile or broken startup packets, one connection each; every one must get an
      ErrorResponse ('E') or a closed connection within 5 s, never a hang
  pgwire.py negotiate HOST PORT ssl|gss USER DB
      SSLRequest / GSSENCRequest must be answered 'N'; the same connection then carries a
      normal startup and `SELECT 42`
  pgwire.py fragmented HOST PORT USER DB
      a valid startup packet sent one byte at a time still gets in (framing)
  pgwire.py halfopen HOST PORT N -- CMD...
      hold N connections open that send nothing (and a few with 3 bytes of a length), run CMD
      (a real client), which must succeed within 5 s

  pgwire.py idle HOST PORT N USER DB PID
      (benchmark) open N connections that log in and then stay idle; print the resident memory
      (VmRSS) of process PID before and with them, and the difference per connection

Each check prints '  ok   ...' or '  FAIL ...'; the exit status is the number of failures.
"""
import random
import socket
import struct
import subprocess
import sys
import time

PROTO_30 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
TIMEOUT = 5.0

failures = 0


def ok(msg):
    print("  ok   " + msg, flush=True)


def fail(msg):
    global failures
    failures += 1
    print("  FAIL " + msg, flush=True)


def connect(host, port):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def parse_fields(body):
    """ErrorResponse/NoticeResponse body -> {code: text}"""
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


def read_message(s):
    t = recv_exact(s, 1)
    (length,) = struct.unpack("!I", recv_exact(s, 4))
    if length < 4 or length > 1 << 24:
        raise ValueError("bad message length %d for type %r" % (length, t))
    return t, recv_exact(s, length - 4)


def reply(s):
    """What the peer answers: ('E', fields) | ('close', why) | ('timeout', None) | (type, body)"""
    try:
        first = s.recv(1)
    except socket.timeout:
        return "timeout", None
    except (ConnectionResetError, BrokenPipeError) as e:
        return "close", "reset (%s)" % e.__class__.__name__
    if not first:
        return "close", "EOF"
    if first != b"E":
        return first.decode("latin-1"), None
    try:
        (length,) = struct.unpack("!I", recv_exact(s, 4))
        if length < 4 or length > 65536:
            return "E", {"M": "(bad ErrorResponse length %d)" % length}
        return "E", parse_fields(recv_exact(s, length - 4))
    except (EOFError, OSError) as e:
        return "E", {"M": "(truncated ErrorResponse: %s)" % e}


def startup_body(user, db, extra=None):
    params = [("user", user), ("database", db)] + list(extra or [])
    body = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params) + b"\0"
    return body


def startup_packet(user, db, version=PROTO_30):
    body = struct.pack("!I", version) + startup_body(user, db)
    return struct.pack("!I", len(body) + 4) + body


def send_quietly(s, data):
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the peer may close before it has read everything: that is an answer too


def probe(name, data, host, port, shut_wr=False, allow=("E", "close")):
    t0 = time.monotonic()
    try:
        s = connect(host, port)
    except OSError as e:
        fail("%s: cannot connect: %s" % (name, e))
        return
    try:
        send_quietly(s, data)
        if shut_wr:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        kind, info = reply(s)
    finally:
        s.close()
    dt = time.monotonic() - t0
    if kind in allow:
        if kind == "E":
            detail = "ErrorResponse %s %s: %s" % (info.get("S", "?"), info.get("C", "?"), info.get("M", "?"))
        elif kind == "close":
            detail = "connection closed (%s)" % info
        else:
            detail = "message %r" % kind
        ok("%s -> %s (%.2f s)" % (name, detail, dt))
    elif kind == "timeout":
        fail("%s -> no answer and no close within %.0f s (hang)" % (name, TIMEOUT))
    else:
        fail("%s -> unexpected first byte %r" % (name, kind))


def cmd_malformed(host, port, user, db):
    good = startup_body(user, db)
    v3 = struct.pack("!I", PROTO_30)
    cases = [
        ("length 0", struct.pack("!II", 0, PROTO_30), False),
        ("length 4 (< 8)", struct.pack("!II", 4, PROTO_30), False),
        ("length 7 (< 8)", struct.pack("!II", 7, PROTO_30), False),
        ("length 100000 (> 10000)", struct.pack("!I", 100000) + v3 + good, False),
        ("length 0x7fffffff", struct.pack("!I", 0x7FFFFFFF) + v3 + good, False),
        ("length 0xffffffff (negative)", struct.pack("!I", 0xFFFFFFFF) + v3 + good, False),
        ("garbage protocol version 0x12345678",
         struct.pack("!II", 8 + len(good), 0x12345678) + good, False),
        ("protocol 2.0", struct.pack("!II", 8 + len(good), 0x00020000) + good, False),
        ("protocol 4.0", struct.pack("!II", 8 + len(good), 0x00040000) + good, False),
        ("no terminating NUL", struct.pack("!I", 8 + len(good) - 1) + v3 + good[:-1], False),
        ("key without value", struct.pack("!I", 8 + 6) + v3 + b"user\0\0", False),
        ("value without NUL", struct.pack("!I", 8 + 9) + v3 + b"user\0abcd", False),
        ("no user name", struct.pack("!I", 8 + 17) + v3 + b"database\0testdb\0\0", False),
        ("only the version (length 8)", struct.pack("!II", 8, PROTO_30), False),
        ("CancelRequest with a bogus key", struct.pack("!IIII", 16, CANCEL_REQUEST, 12345, 67890), False),
        ("CancelRequest too short", struct.pack("!III", 12, CANCEL_REQUEST, 1), False),
        ("SSLRequest with a trailing garbage length",
         struct.pack("!II", 8, SSL_REQUEST) + struct.pack("!II", 3, PROTO_30), False),
        ("truncated packet, then close", struct.pack("!I", 64) + v3 + b"user\0sc", True),
        ("3 bytes, then close", b"\0\0\0", True),
        ("nothing, then close", b"", True),
    ]
    for name, data, shut in cases:
        allow = ("E", "close")
        if name.startswith("SSLRequest"):
            allow = ("N", "E", "close")     # 'N' for the request, then the garbage is refused
        probe(name, data, host, port, shut_wr=shut, allow=allow)
    rnd = random.Random(20261123)
    for i in range(8):
        data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300)))
        probe("random bytes #%d (%d bytes: %s...)" % (i, len(data), data[:8].hex()), data, host, port, shut_wr=True)
    # a long user name inside a valid length: refused or closed, or an authentication exchange
    # begins ('R': with trust the error may come later, from the server login) - never a hang
    long_user = startup_body("u" * 9000, db)
    probe("9000-byte user name", struct.pack("!I", 8 + len(long_user)) + v3 + long_user, host, port,
          allow=("E", "close", "R"))


def session(s, user, db, fragmented=False):
    """startup on an open socket, then SELECT 42; returns an error string or None"""
    pkt = startup_packet(user, db)
    if fragmented:
        for i in range(len(pkt)):
            s.sendall(pkt[i:i + 1])
            time.sleep(0.005)
    else:
        s.sendall(pkt)
    while True:
        t, body = read_message(s)
        if t == b"R":
            (code,) = struct.unpack("!I", body[:4])
            if code != 0:
                return "authentication request %d (the tests configure trust)" % code
        elif t == b"E":
            return "ErrorResponse during startup: %s" % parse_fields(body).get("M")
        elif t == b"Z":
            break
    q = b"SELECT 42\0"
    s.sendall(b"Q" + struct.pack("!I", len(q) + 4) + q)
    value = None
    while True:
        t, body = read_message(s)
        if t == b"D":
            (ncol,) = struct.unpack("!H", body[:2])
            (vlen,) = struct.unpack("!i", body[2:6])
            value = body[6:6 + vlen].decode() if ncol == 1 and vlen >= 0 else None
        elif t == b"E":
            return "ErrorResponse to SELECT 42: %s" % parse_fields(body).get("M")
        elif t == b"Z":
            break
    s.sendall(b"X" + struct.pack("!I", 4))
    if value != "42":
        return "SELECT 42 returned %r" % value
    return None


def cmd_negotiate(host, port, what, user, db):
    code = SSL_REQUEST if what == "ssl" else GSSENC_REQUEST
    name = "SSLRequest" if what == "ssl" else "GSSENCRequest"
    try:
        s = connect(host, port)
        s.sendall(struct.pack("!II", 8, code))
        answer = s.recv(1)
        if answer != b"N":
            fail("%s answered %r, want b'N'" % (name, answer))
            return
        ok("%s answered 'N'" % name)
        err = session(s, user, db)
        s.close()
    except (OSError, EOFError, ValueError) as e:
        err = "%s: %s" % (e.__class__.__name__, e)
    if err:
        fail("plain session after %s 'N': %s" % (name, err))
    else:
        ok("plain session after %s 'N': SELECT 42 -> 42" % name)


def cmd_fragmented(host, port, user, db):
    try:
        s = connect(host, port)
        err = session(s, user, db, fragmented=True)
        s.close()
    except (OSError, EOFError, ValueError) as e:
        err = "%s: %s" % (e.__class__.__name__, e)
    if err:
        fail("startup packet sent one byte at a time: %s" % err)
    else:
        ok("startup packet sent one byte at a time: SELECT 42 -> 42")


def cmd_halfopen(host, port, n, cmd):
    socks = []
    try:
        for i in range(n):
            s = socket.create_connection((host, port), timeout=TIMEOUT)
            if i % 10 == 9:
                s.sendall(b"\0\0\0")   # a few send part of a length, then nothing
            socks.append(s)
        ok("%d half-open connections held" % len(socks))
    except OSError as e:
        fail("opening half-open connection %d: %s" % (len(socks) + 1, e))
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=15)
        out, rc = p.stdout.decode("utf-8", "replace").strip(), p.returncode
    except subprocess.TimeoutExpired:
        out, rc = "(timed out after 15 s)", -1
    dt = time.monotonic() - t0
    if rc == 0 and dt < 5.0:
        ok("a real client is served while %d connections are half-open (%.2f s): %s" % (len(socks), dt, out))
    else:
        fail("a real client while %d connections are half-open: exit %d after %.2f s: %s" % (len(socks), rc, dt, out))
    # the half-open connections must still be there or closed by the server: never an error
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except (BlockingIOError, ConnectionResetError):
            pass
        except OSError:
            pass
        s.close()
    print("  ..   %d of %d half-open connections had been closed by the server" % (closed, len(socks)))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cmd_idle(host, port, n, user, db, pid):
    before = rss_kib(pid)
    socks = []
    pkt = startup_packet(user, db)
    try:
        for _ in range(n):
            s = connect(host, port)
            s.sendall(pkt)
            socks.append(s)
        for s in socks:                     # every login finished: ReadyForQuery seen
            while True:
                t, body = read_message(s)
                if t == b"E":
                    raise OSError("ErrorResponse: %s" % parse_fields(body).get("M"))
                if t == b"Z":
                    break
    except (OSError, EOFError, ValueError) as e:
        fail("idle connection %d of %d: %s" % (len(socks), n, e))
        return
    time.sleep(1.0)
    during = rss_kib(pid)
    ok("%d idle clients: VmRSS %d KiB before, %d KiB with them: %.2f KiB per idle client"
       % (n, before, during, (during - before) / float(n)))
    for s in socks:
        try:
            s.sendall(b"X" + struct.pack("!I", 4))
        except OSError:
            pass
        s.close()


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    what, host, port = argv[0], argv[1], int(argv[2])
    if what == "malformed":
        cmd_malformed(host, port, argv[3], argv[4])
    elif what == "negotiate":
        cmd_negotiate(host, port, argv[3], argv[4], argv[5])
    elif what == "fragmented":
        cmd_fragmented(host, port, argv[3], argv[4])
    elif what == "idle":
        cmd_idle(host, port, int(argv[3]), argv[4], argv[5], int(argv[6]))
    elif what == "halfopen":
        n = int(argv[3])
        if argv[4] != "--":
            print("usage: halfopen HOST PORT N -- CMD...")
            return 2
        cmd_halfopen(host, port, n, argv[5:])
    else:
        print(__doc__)
        return 2
    return min(failures, 100)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
