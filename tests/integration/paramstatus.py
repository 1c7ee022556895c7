#!/usr/bin/env python3
"""ParameterStatus replay check for tests/integration/15-param-replay.sh (stdlib only).

  paramstatus.py HOST PORT USER DB

Needs a transaction-mode pool of max_size 2 on ONE worker.  Three raw-protocol clients track the
ParameterStatus values they are sent, as a driver does:
  X: BEGIN                      -> holds server S1 (TimeZone = default)
  Y: BEGIN; SET TimeZone = 'Asia/Tokyo'; COMMIT -> server S2 now has Tokyo, and so does Y
  X: COMMIT                     -> idle servers: S2, S1 (first in, first out)
  Z: SHOW TimeZone              -> gets S2: must have been told TimeZone=Asia/Tokyo first
  Y: SHOW TimeZone              -> gets S1: must have been told the default back
In both cases what the client was told must equal what SHOW returns.
"""
import struct
import sys

from pgwire import connect, fail, ok, parse_fields, read_message, startup_packet


class Client:
    def __init__(self, host, port, user, db):
        self.s = connect(host, port)
        self.params = {}
        self.s.sendall(startup_packet(user, db))
        self.run_until_ready()

    def run_until_ready(self):
        rows = []
        while True:
            t, body = read_message(self.s)
            if t == b"S":
                name, value = body.split(b"\0")[:2]
                self.params[name.decode()] = value.decode()
            elif t == b"E":
                raise RuntimeError(parse_fields(body).get("M"))
            elif t == b"D":
                (vlen,) = struct.unpack("!i", body[2:6])
                rows.append(body[6:6 + vlen].decode())
            elif t == b"Z":
                return rows

    def query(self, sql):
        q = sql.encode() + b"\0"
        self.s.sendall(b"Q" + struct.pack("!I", len(q) + 4) + q)
        return self.run_until_ready()


def main(argv):
    host, port, user, db = argv[1], int(argv[2]), argv[3], argv[4]
    x = Client(host, port, user, db)
    y = Client(host, port, user, db)
    default_tz = x.params.get("TimeZone")
    if not default_tz:
        fail("no TimeZone in the welcome ParameterStatus set")
        return 1
    ok("welcome TimeZone is %s" % default_tz)
    x.query("BEGIN")
    y.query("BEGIN")
    y.query("SET TimeZone = 'Asia/Tokyo'")
    y.query("COMMIT")
    if y.params.get("TimeZone") == "Asia/Tokyo":
        ok("Y was forwarded the server's TimeZone change")
    else:
        fail("Y thinks TimeZone is %r after SET" % y.params.get("TimeZone"))
    x.query("COMMIT")

    z = Client(host, port, user, db)
    told_before = z.params.get("TimeZone")
    shown = z.query("SHOW TimeZone")
    told = z.params.get("TimeZone")
    if shown == ["Asia/Tokyo"] and told == "Asia/Tokyo" and told_before == default_tz:
        ok("Z got the Tokyo server and was told TimeZone=Asia/Tokyo before the result")
    else:
        fail("Z: welcome %r, SHOW %r, told %r (want Asia/Tokyo for both)" % (told_before, shown, told))
    shown = y.query("SHOW TimeZone")
    told = y.params.get("TimeZone")
    if shown == [default_tz] and told == default_tz:
        ok("Y got the other server and was told TimeZone=%s back" % default_tz)
    else:
        fail("Y: SHOW %r, told %r (want %s for both)" % (shown, told, default_tz))
    for c in (x, y, z):
        c.s.sendall(b"X" + struct.pack("!I", 4))
    return 0


if __name__ == "__main__":
    try:
        main(sys.argv)
    except Exception as e:  # a hang or a protocol error is a failure, not a crash of the test
        fail("paramstatus: %s: %s" % (e.__class__.__name__, e))
    import pgwire
    sys.exit(pgwire.failures)
