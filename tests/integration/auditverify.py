#!/usr/bin/env python3
"""auditverify.py KEYFILE FILE...: check pgsluice audit files, independently of the C code.

A second implementation of `pgsluice-admin audit-verify -k KEYFILE FILE...` (standard library
only), written from the format text rather than from the C code, so that the integration tests
can hold the C tool and the audit module to the same rules.  It prints the same lines on stdout:
"note: FILE: line N (seq S): ..." for each chain_start and gap event met, then
"OK: FILE: N lines, seq A..B, starts a new chain|continues an earlier file" per good file, or the
first problem of the first broken file ("FILE: line N ...").  Exit status: 0 every file verified,
1 a file is broken, 2 usage, 3 a key or audit file that cannot be read or used (said on stderr).

The format: JSON Lines, one event per line,
  {"seq":N,"ts":"YYYY-MM-DDTHH:MM:SS.uuuuuuZ","event":"name"<,"key":"value"...>,"prev":"<hex>","mac":"<hex>"}
where mac = HMAC-SHA256(key, the bytes from '{' up to ,"mac":") and prev = the mac of the line
before (64 zeros where a chain starts: a chain_start event).
"""
import hashlib
import hmac
import os
import re
import stat
import sys

LINE_MAX = 65536  # bytes of a line, its "\n" included
ZEROS = b"0" * 64
MAC_END = re.compile(rb',"mac":"([0-9a-f]{64})"\}\Z')
PREV_END = re.compile(rb',"prev":"([0-9a-f]{64})"\Z')
SEQ = re.compile(rb'(0|[1-9][0-9]{0,18}),')
TS = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\Z")
NAME = re.compile(rb"[a-z0-9_]*")
VALUE = rb'"(?:[^"\\\x00-\x1f\x7f]|\\["\\nrt]|\\u[0-9a-fA-F]{4})*"'
FIELDS = re.compile(rb'(?:,"[a-z0-9_]+":' + VALUE + rb")*\Z")
RAW_VALUE = re.compile(rb'((?:[^"\\]|\\.)*)"', re.S)


class Unusable(Exception):
    """A key or audit file that cannot be read or used (exit 3)."""


def out(*parts):
    sys.stdout.buffer.write(b"".join(p if isinstance(p, bytes) else str(p).encode() for p in parts) + b"\n")


def load_key(path):
    """The key file: private (as the vault's files), exactly 64 hex digits and an optional \\n."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as e:
        raise Unusable(f"{path}: {e.strerror}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Unusable(f"{path}: not a regular file")
        if st.st_uid not in (os.geteuid(), 0):
            raise Unusable(f"{path}: owned by uid {st.st_uid}, neither this user nor root")
        if st.st_mode & 0o077:
            raise Unusable(f"{path}: permissions {st.st_mode & 0o777:04o} allow group or other access")
        data = os.read(fd, 66)
    finally:
        os.close(fd)
    if not re.fullmatch(rb"[0-9a-fA-F]{64}\n?", data):
        raise Unusable(f"{path}: not an audit key (64 hex digits and an optional newline)")
    return bytes.fromhex(data[:64].decode())


def parse(line):
    """(fields dict-ish, None) or (None, reason): the line taken apart, in the C tool's order."""
    if not line.startswith(b'{"seq":'):
        return None, 'it does not start with {"seq":'
    m = MAC_END.search(line)
    if len(line) < 7 + 74 + 74 or not m:
        return None, 'it does not end with ,"mac":"<64 lowercase hex digits>"}'
    content = line[:-74]
    p = PREV_END.search(content)
    if not p:
        return None, 'no ,"prev":"<64 lowercase hex digits>" before the mac'
    middle = content[7:-74]
    s = SEQ.match(middle)
    if not s:
        return None, "seq is not a decimal number (at most 19 digits)"
    rest = middle[len(s.group(1)):]
    if len(rest) < 7 + 27 + 11 or not rest.startswith(b',"ts":"'):
        return None, 'no "ts" after the seq'
    if not TS.match(rest[7:34]):
        return None, "ts is not YYYY-MM-DDTHH:MM:SS.uuuuuuZ"
    if rest[34:45] != b'","event":"':
        return None, 'no "event" after the ts'
    rest = rest[45:]
    name = NAME.match(rest).group(0)
    if not 1 <= len(name) <= 64 or rest[len(name):len(name) + 1] != b'"':
        return None, "the event is not a name of 1 to 64 characters [a-z0-9_]"
    fields = rest[len(name) + 1:]
    if not FIELDS.match(fields):
        return None, 'the fields are not ,"key":"value" pairs of JSON strings'
    return {"seq": int(s.group(1)), "event": name, "fields": fields, "content": content,
            "prev": p.group(1), "mac": m.group(1)}, None


def field(fields, key):
    """The raw (still escaped) value of a field, or (none)."""
    i = fields.find(b',"' + key + b'":"')
    if i < 0:
        return b"(none)"
    return RAW_VALUE.match(fields, i + len(key) + 5).group(1)


def verify(key, path):
    """0 (good), 1 (broken, said on stdout); Unusable when unreadable."""
    name = os.fsencode(path)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise Unusable(f"{path}: {e.strerror}")
    with f:
        n = 0
        first_seq = last_seq = None
        last_mac = None
        starts = False
        while True:
            try:
                line = f.readline(LINE_MAX)
            except OSError as e:
                raise Unusable(f"{path}: line {n + 1}: {e.strerror}")
            if not line:
                break
            lineno = n + 1
            if not line.endswith(b"\n"):
                if len(line) == LINE_MAX:
                    out(name, f": line {lineno}: longer than {LINE_MAX} bytes")
                else:
                    out(name, f": line {lineno}: incomplete last line")
                return 1
            al, why = parse(line[:-1])
            if why:
                out(name, f": line {lineno}: not an audit line: ", why)
                return 1
            seq = al["seq"]
            want = hmac.new(key, al["content"], hashlib.sha256).digest()
            if not hmac.compare_digest(want, bytes.fromhex(al["mac"].decode())):
                out(name, f": line {lineno} (seq {seq}): MAC does not match: the line was modified (or the wrong key)")
                return 1
            chain_start = al["event"] == b"chain_start"
            zero_prev = al["prev"] == ZEROS
            if n == 0:
                starts = zero_prev
                first_seq = seq
            else:
                if not (chain_start and zero_prev) and al["prev"] != last_mac:
                    out(name, f": line {lineno} (seq {seq}): chain broken: prev does not match the MAC of line "
                              f"{lineno - 1}: a line was deleted, inserted or reordered")
                    return 1
                if seq != last_seq + 1 and not (chain_start and seq == 1):
                    out(name, f": line {lineno}: seq {seq} after {last_seq}: the sequence numbers are not consecutive")
                    return 1
            if chain_start:
                what = "a new chain begins" if zero_prev else "linked to the line before"
                out(b"note: ", name, f": line {lineno} (seq {seq}): chain_start: {what} (reason: ",
                    field(al["fields"], b"reason"), b")")
            elif al["event"] == b"gap":
                out(b"note: ", name, f": line {lineno} (seq {seq}): gap: ", field(al["fields"], b"dropped"),
                    b" events were lost (reason: ", field(al["fields"], b"reason"), b")")
            n, last_seq, last_mac = lineno, seq, al["mac"]
    if n == 0:
        out(name, b": the file is empty: there is nothing to verify")
        return 1
    how = "starts a new chain" if starts else "continues an earlier file"
    out(b"OK: ", name, f": {n} line{'' if n == 1 else 's'}, seq {first_seq}..{last_seq}, {how}")
    return 0


def main(argv):
    if len(argv) < 3 or argv[1].startswith("-"):
        print("usage: auditverify.py KEYFILE FILE...", file=sys.stderr)
        return 2
    try:
        key = load_key(argv[1])
        for path in argv[2:]:
            if verify(key, path) != 0:
                return 1
            sys.stdout.flush()
    except Unusable as e:
        sys.stdout.flush()
        print(f"auditverify.py: {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
