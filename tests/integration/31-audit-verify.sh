#!/bin/bash
# 31. The audit trail's tamper evidence, without pgsluice: `pgsluice-admin audit-key` writes a
#   private random key (64 hex digits, mode 600; an existing file is refused, exit 5, unless
#   --force); audit files are generated here by a small Python writer of the format (the same
#   text the audit module follows: HMAC-SHA256 chain, escaped field values); then
#   `pgsluice-admin audit-verify` and the independent tests/integration/auditverify.py must both
#   pass the good files (exit 0, "OK: ..." and one note per chain_start or gap) and both stop at
#   the same first problem, naming the right line, for: a modified value, a deleted, swapped or
#   duplicated line, a truncated last line, the wrong key, a seq that skips, a zero prev in the
#   middle, a malformed line, an over-long line, an empty file.  A chain_start in the middle is
#   accepted with a note; a file whose first prev is not zero "continues an earlier file".  A
#   loose (0644), malformed or missing key file and a missing audit file exit 3; usage errors 2.
. "$(dirname "$0")/lib.sh"
ADMIN=${PGSLUICE_ADMIN:-$(dirname "$PGSLUICE")/pgsluice-admin}
[ -x "$ADMIN" ] || { fail "no pgsluice-admin at $ADMIN"; finish; }
VERIFY_PY=$IT_DIR/auditverify.py
D=$T/audit; mkdir -p "$D"; chmod 700 "$D"
K=$D/audit.key
SAN='AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer'

# adm ARGS...: the tool, without a terminal; sets RC, OUT, ERR
adm() {
  timeout -k 2 60 setsid -w "$ADMIN" "$@" < /dev/null > "$T/out" 2> "$T/err"; RC=$?
  OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
  cat "$T/out" "$T/err" >> "$T/all-output.log"
  if grep -Eq "$SAN" "$T/err"; then fail "sanitizer report from: $*"; sed 's/^/    | /' "$T/err" | head -30; fi
}
mode() { stat -c %a "$1"; }
# differ NAME A B: the two files must differ
differ() { if cmp -s "$2" "$3"; then fail "$1: $2 and $3 are the same"; else ok "$1"; fi; }
sum() { md5sum < "$1" | cut -c1-32; }

# gen.py KEYFILE OUT SCENARIO: write an audit file the way the audit module does (its own
# writer, not auditverify.py's code).  Scenarios: good (12 lines, a chain_start, a gap, escaped
# values; line 4 is auth_ok of user "alice"), midchain (a new chain at line 7, seq 1),
# midchain_seq (the same, seq continuing), linked_start (a chain_start at line 7 linked to line
# 6), continues (seq 101.., first prev non-zero), rotA/rotB (one chain over two files), seqskip
# (line 6 has seq 7, rightly linked), zeroprev (line 5 a connect with a zero prev), malformed
# (line 3 is not an audit line), long65536 / long65537 (line 3 that many bytes, "\n" included)
cat > "$T/gen.py" <<'PY'
import hashlib, hmac, sys

def esc(v: bytes) -> bytes:
    """The format's escaping; values over 1024 bytes are cut at a UTF-8 boundary + '...'."""
    cut = len(v) > 1024
    if cut:  # drop a character the cut split
        v = v[:1024]
        i = len(v) - 1
        while i > len(v) - 4 and v[i] & 0xC0 == 0x80:
            i -= 1
        if v[i] >= 0xC0 and len(v) - i < (2 if v[i] < 0xE0 else 3 if v[i] < 0xF0 else 4):
            v = v[:i]
    s = v.decode("utf-8", "surrogateescape")
    o = []
    for ch in s:
        c = ord(ch)
        if ch == '"': o.append('\\"')
        elif ch == "\\": o.append("\\\\")
        elif ch == "\n": o.append("\\n")
        elif ch == "\r": o.append("\\r")
        elif ch == "\t": o.append("\\t")
        elif c < 0x20 or c == 0x7F: o.append("\\u%04x" % c)
        elif 0xDC80 <= c <= 0xDCFF: o.append("\\ufffd")  # one invalid byte
        else: o.append(ch)
    return "".join(o).encode() + (b"..." if cut else b"")

class Writer:
    def __init__(self, key, f, seq=1, prev=b"0" * 64):
        self.key, self.f, self.seq, self.prev = key, f, seq, prev
        self.usec = 0
    def ev(self, event, fields=(), seq=None, prev=None):
        seq = self.seq if seq is None else seq
        prev = self.prev if prev is None else prev
        self.usec += 1234567
        ts = "2024-03-%02dT%02d:%02d:%02d.%06dZ" % (1 + self.usec // 86400000000, self.usec // 3600000000 % 24,
                                                     self.usec // 60000000 % 60, self.usec // 1000000 % 60,
                                                     self.usec % 1000000)
        body = b'{"seq":%d,"ts":"%s","event":"%s"' % (seq, ts.encode(), event.encode())
        for k, v in fields:
            body += b',"%s":"%s"' % (k.encode(), esc(v))
        body += b',"prev":"' + prev + b'"'
        mac = hmac.new(self.key, body, hashlib.sha256).hexdigest().encode()
        self.f.write(body + b',"mac":"' + mac + b'"}\n')
        self.seq, self.prev = seq + 1, mac

def session(w, user=b"alice"):
    w.ev("connect", [("client", b"127.0.0.1:50000"), ("listener", b"127.0.0.1:6432")])
    w.ev("auth_ok", [("user", user), ("database", b"db"), ("method", b"scram-sha-256")])
    w.ev("disconnect", [("reason", b"client closed"), ("bytes_in", b"1234")])

key = bytes.fromhex(open(sys.argv[1]).read().strip())
out, what = sys.argv[2], sys.argv[3]
with open(out, "wb") as f:
    w = Writer(key, f)
    if what == "good":
        w.ev("chain_start", [("reason", b"new file")])
        w.ev("connect", [("client", b"10.0.0.1:5432"), ("tls", b"")])
        w.ev("tls", [("version", b"TLSv1.3"), ("cipher", b"TLS_AES_256_GCM_SHA384")])
        w.ev("auth_ok", [("user", b"alice"), ("database", b"appdb"), ("method", b"scram-sha-256")])
        w.ev("step", [("module", b"hba"), ("result", b'say "ok" \\ back\nslash\ttab\r\x01\x7f')])
        w.ev("gap", [("dropped", b"3"), ("reason", b"queue full")])
        w.ev("auth_fail", [("user", "j\u00f6rg \u20ac".encode() + b" bad\xff\xc3("), ("reason", b"wrong password")])
        w.ev("disconnect", [("reason", b"x" * 1500)])
        w.ev("reload", [("result", b"ok")])
        w.ev("server_fail", [("server", b"main"), ("error", b"connection refused")])
        w.ev("admin", [("command", b"SHOW POOLS")])
        w.ev("disconnect", [("reason", b"client closed")])
    elif what in ("midchain", "midchain_seq", "linked_start"):
        w.ev("chain_start", [("reason", b"new file")])
        session(w); session(w, b"bob")
        if what == "midchain":
            w.ev("chain_start", [("reason", b"restart: no state")], seq=1, prev=b"0" * 64)
        elif what == "midchain_seq":
            w.ev("chain_start", [("reason", b"restart: no state")], prev=b"0" * 64)
        else:
            w.ev("chain_start", [("reason", b"reload")])
        session(w)
    elif what == "continues":
        w.seq, w.prev = 101, hashlib.sha256(b"an earlier file").hexdigest().encode()
        for u in (b"a", b"b", b"c"):
            session(w, u)
        w.ev("reload", [("result", b"ok")])
    elif what in ("rotA", "rotB"):
        w.ev("chain_start", [("reason", b"new file")])
        session(w); session(w, b"bob")
        w.ev("reload", [("result", b"rotated")])
        if what == "rotB":  # rotA's lines again, to learn the state; then rotB alone
            f.seek(0); f.truncate()
            session(w, b"carol"); session(w, b"dave")
    elif what == "seqskip":
        w.ev("chain_start", [("reason", b"new file")])
        session(w)
        w.ev("reload", [("result", b"ok")])
        w.ev("reload", [("result", b"ok")], seq=7)
        session(w)
    elif what == "zeroprev":
        w.ev("chain_start", [("reason", b"new file")])
        session(w)
        w.ev("connect", [("client", b"10.0.0.9:1")], prev=b"0" * 64)
        session(w)
    elif what == "malformed":
        w.ev("chain_start", [("reason", b"new file")])
        w.ev("reload", [("result", b"ok")])
        f.write(b"this is not an audit line\n")
        w.ev("reload", [("result", b"ok")])
    elif what in ("long65536", "long65537"):
        want = int(what[4:])
        w.ev("chain_start", [("reason", b"new file")])
        w.ev("reload", [("result", b"ok")])
        probe = Writer(key, open("/dev/null", "wb"), w.seq, w.prev)
        fields = [("f%d" % i, b"y" * 1000) for i in range(64)]
        probe.usec = w.usec
        import io
        buf = io.BytesIO(); probe.f = buf
        probe.ev("step", fields + [("pad", b"")])
        fields.append(("pad", b"z" * (want - len(buf.getvalue()))))
        w.ev("step", fields)
        w.ev("reload", [("result", b"ok")])
    else:
        sys.exit("unknown scenario " + what)
PY
gen() { python3 "$T/gen.py" "$K" "$D/$1.log" "${2:-$1}" || fail "gen.py $1"; }

# verify NAME WANT_RC WANT_LAST_LINE FILE...: both verifiers with key $VKEY (default $K): the
# exit status, the last line on stdout, and the whole stdout must be the same for both
verify() {
  local name=$1 want_rc=$2 want=$3 key=${VKEY:-$K} crc prc; shift 3
  adm audit-verify -k "$key" "$@"; crc=$RC; cp "$T/out" "$T/c.out"; cp "$T/err" "$T/c.err"
  timeout -k 2 60 python3 "$VERIFY_PY" "$key" "$@" < /dev/null > "$T/p.out" 2> "$T/p.err"; prc=$?
  check_eq "$name: audit-verify exit" "$want_rc" "$crc"
  check_eq "$name: auditverify.py exit" "$want_rc" "$prc"
  [ -n "$want" ] && check_eq "$name: message" "$want" "$(tail -n 1 "$T/c.out")"
  if cmp -s "$T/c.out" "$T/p.out"; then
    ok "$name: both print the same ($(wc -l < "$T/c.out") lines)"
  else
    fail "$name: the two verifiers differ:"; diff "$T/c.out" "$T/p.out" | head -10 | sed 's/^/    | /'
  fi
}

# ---- usage
adm --help
check_match "--help lists audit-key and audit-verify" 'audit-key -k FILE.*audit-verify -k FILE' "$(printf '%s' "$OUT" | tr '\n' ' ')"
check_match "--help: audit-verify's exit codes" 'audit-verify: 0 every file verified, 1 a file is broken' "$OUT"
adm audit-key;                            check_eq "audit-key without -k: exit 2" 2 "$RC"
check_eq "...and says so" "pgsluice-admin: audit-key needs --key" "$ERR"
adm audit-verify -k "$K";                 check_eq "audit-verify without a file: exit 2" 2 "$RC"
adm audit-verify "$D/x.log";              check_eq "audit-verify without -k: exit 2" 2 "$RC"
adm audit-verify --ke "$K" "$D/x.log";    check_eq "no abbreviated options: exit 2" 2 "$RC"
adm audit-verify -k "$K" --force "$D/x.log"; check_eq "audit-verify --force: exit 2" 2 "$RC"
adm audit-key -k "$K" "$D/extra";         check_eq "audit-key with a stray argument: exit 2" 2 "$RC"
check_eq "usage errors wrote nothing" "" "$(ls "$D")"

# ---- audit-key
adm audit-key -k "$K"
check_eq "audit-key: exit 0" 0 "$RC"
check_eq "audit-key: prints nothing" "" "$OUT$ERR"
check_eq "audit-key: mode 600" 600 "$(mode "$K")"
check_eq "audit-key: 65 bytes" 65 "$(stat -c %s "$K")"
check_match "audit-key: 64 lowercase hex digits" '^[0-9a-f]{64}$' "$(cat "$K")"
k_sum=$(sum "$K")
adm audit-key -k "$K"
check_eq "audit-key on an existing file: exit 5" 5 "$RC"
check_match "...names the file and --force" "$K.*--force" "$ERR"
check_eq "...and leaves it alone" "$k_sum" "$(sum "$K")"
cp "$K" "$D/old.key"
adm audit-key -k "$K" --force
check_eq "audit-key --force: exit 0" 0 "$RC"
check "audit-key --force: a new key" [ "$k_sum" != "$(sum "$K")" ]
check_eq "audit-key --force: mode 600" 600 "$(mode "$K")"
adm audit-key -k "$D/nodir/k.key"
check_eq "audit-key into a missing directory: exit 1" 1 "$RC"
(umask 077; openssl rand -hex 32 > "$D/openssl.key")

# ---- good files
gen good
F=$D/good.log
verify "good file" 0 "OK: $F: 12 lines, seq 1..12, starts a new chain" "$F"
check_eq "good file: notes for the chain_start and the gap" \
  "note: $F: line 1 (seq 1): chain_start: a new chain begins (reason: new file)|note: $F: line 6 (seq 6): gap: 3 events were lost (reason: queue full)" \
  "$(head -n 2 "$T/c.out" | paste -sd '|')"
check_eq "good file: 3 lines of output" 3 "$(wc -l < "$T/c.out")"
check_match "the generator escaped the values as the format says" \
  '"result":"say \\"ok\\" \\\\ back\\nslash\\ttab\\r\\u0001\\u007f".*"user":"jörg € bad\\ufffd\\ufffd\(".*"reason":"x{1024}\.\.\."' \
  "$(tr '\n' ' ' < "$F")"
tr 'a-f' 'A-F' < "$K" > "$D/upper.key"; chmod 600 "$D/upper.key"
VKEY=$D/upper.key verify "the key in uppercase hex" 0 "OK: $F: 12 lines, seq 1..12, starts a new chain" "$F"
head -c 64 "$K" > "$D/nonl.key"; chmod 600 "$D/nonl.key"
VKEY=$D/nonl.key verify "the key without a newline" 0 "OK: $F: 12 lines, seq 1..12, starts a new chain" "$F"
adm audit-verify -k "$K" <(cat "$F")
check_match "a pipe is read too" "^OK: /dev/fd/[0-9]+: 12 lines" "$(tail -n 1 "$T/out")"

gen midchain
F=$D/midchain.log
verify "a chain_start in the middle (seq 1)" 0 "OK: $F: 11 lines, seq 1..4, starts a new chain" "$F"
check_match "...with a note naming line 8" "^note: $F: line 8 \(seq 1\): chain_start: a new chain begins \(reason: restart: no state\)$" "$(cat "$T/c.out")"
gen midchain_seq
F=$D/midchain_seq.log
verify "a chain_start in the middle (seq continues)" 0 "OK: $F: 11 lines, seq 1..11, starts a new chain" "$F"
check_match "...with a note naming line 8" "^note: $F: line 8 \(seq 8\): chain_start: a new chain begins" "$(cat "$T/c.out")"
gen linked_start
F=$D/linked_start.log
verify "a chain_start linked to the line before" 0 "OK: $F: 11 lines, seq 1..11, starts a new chain" "$F"
check_match "...noted as linked" "^note: $F: line 8 \(seq 8\): chain_start: linked to the line before \(reason: reload\)$" "$(cat "$T/c.out")"
gen continues
F=$D/continues.log
verify "a file continuing an earlier one" 0 "OK: $F: 10 lines, seq 101..110, continues an earlier file" "$F"
check_eq "...and no note" 1 "$(wc -l < "$T/c.out")"
gen rotA; gen rotB
verify "a chain over two files" 0 "OK: $D/rotB.log: 6 lines, seq 9..14, continues an earlier file" "$D/rotA.log" "$D/rotB.log"
check_eq "...one OK line per file" 2 "$(grep -c '^OK: ' "$T/c.out")"
gen long65536
verify "a line of 65536 bytes (with its newline)" 0 "OK: $D/long65536.log: 4 lines, seq 1..4, starts a new chain" "$D/long65536.log"
check_eq "...(the generator made it so)" 65536 "$(sed -n 3p "$D/long65536.log" | wc -c)"

# ---- tampering: every failure names the right line
G=$D/good.log
F=$D/modified.log; sed '4s/alice/alicf/' "$G" > "$F"
differ "the modified copy differs" "$F" "$G"
verify "a modified value" 1 "$F: line 4 (seq 4): MAC does not match: the line was modified (or the wrong key)" "$F"
F=$D/deleted.log; sed '6d' "$G" > "$F"
verify "a deleted line" 1 "$F: line 6 (seq 7): chain broken: prev does not match the MAC of line 5: a line was deleted, inserted or reordered" "$F"
F=$D/swapped.log; awk 'NR == 4 { hold = $0; next } NR == 5 { print; print hold; next } { print }' "$G" > "$F"
verify "two swapped lines" 1 "$F: line 4 (seq 5): chain broken: prev does not match the MAC of line 3: a line was deleted, inserted or reordered" "$F"
F=$D/dup.log; sed '7p' "$G" > "$F"
verify "a duplicated line" 1 "$F: line 8 (seq 7): chain broken: prev does not match the MAC of line 7: a line was deleted, inserted or reordered" "$F"
F=$D/truncated.log; head -c -20 "$G" > "$F"
verify "a truncated last line" 1 "$F: line 12: incomplete last line" "$F"
F=$D/nonl.log; head -c -1 "$G" > "$F"
verify "a last line without its newline" 1 "$F: line 12: incomplete last line" "$F"
F=$D/lastgone.log; head -n 11 "$G" > "$F"
verify "(a deleted last line cannot be seen)" 0 "OK: $F: 11 lines, seq 1..11, starts a new chain" "$F"
VKEY=$D/old.key verify "the wrong key" 1 "$G: line 1 (seq 1): MAC does not match: the line was modified (or the wrong key)" "$G"
VKEY=$D/openssl.key verify "a key made by openssl rand" 1 "$G: line 1 (seq 1): MAC does not match: the line was modified (or the wrong key)" "$G"
gen seqskip
F=$D/seqskip.log
verify "a seq that skips one" 1 "$F: line 6: seq 7 after 5: the sequence numbers are not consecutive" "$F"
gen zeroprev
F=$D/zeroprev.log
verify "a zero prev that is not a chain_start" 1 "$F: line 5 (seq 5): chain broken: prev does not match the MAC of line 4: a line was deleted, inserted or reordered" "$F"
gen malformed
F=$D/malformed.log
verify "a malformed line" 1 "$F: line 3: not an audit line: it does not start with {\"seq\":" "$F"
F=$D/badfield.log; sed '3s/"event":"tls","version"/"event":"tls","Version"/' "$G" > "$F"
verify "a field name in capitals" 1 "$F: line 3: not an audit line: the fields are not ,\"key\":\"value\" pairs of JSON strings" "$F"
F=$D/crlf.log; sed '5s/$/\r/' "$G" > "$F"
verify "a CRLF line" 1 "$F: line 5: not an audit line: it does not end with ,\"mac\":\"<64 lowercase hex digits>\"}" "$F"
gen long65537
F=$D/long65537.log
verify "a line of 65537 bytes (with its newline)" 1 "$F: line 3: longer than 65536 bytes" "$F"
F=$D/empty.log; : > "$F"
verify "an empty file" 1 "$F: the file is empty: there is nothing to verify" "$F"
verify "a good file, then a broken one" 1 "$D/deleted.log: line 6 (seq 7): chain broken: prev does not match the MAC of line 5: a line was deleted, inserted or reordered" "$G" "$D/deleted.log"
check_match "...the good one was reported first" "^OK: $G: 12 lines" "$(cat "$T/c.out")"
verify "a broken file stops the run" 1 "$D/deleted.log: line 6 (seq 7): chain broken: prev does not match the MAC of line 5: a line was deleted, inserted or reordered" "$D/deleted.log" "$G"
check_eq "...before the next file" 0 "$(grep -c '^OK: ' "$T/c.out")"

# ---- key and file errors: exit 3, naming the file
cp "$K" "$D/loose.key"; chmod 644 "$D/loose.key"
VKEY=$D/loose.key verify "a key file of mode 644" 3 "" "$G"
check_match "...named, with the reason" "loose.key.*(group|other)" "$(cat "$T/c.err")"
check_match "...(auditverify.py too)" "loose.key.*(group|other)" "$(cat "$T/p.err")"
check_eq "...nothing verified" "" "$(cat "$T/c.out")"
VKEY=$D/none.key verify "a missing key file" 3 "" "$G"
check_match "...named" "none.key" "$(cat "$T/c.err")"
printf '%s\n\n' "$(cat "$K")" > "$D/twonl.key"; chmod 600 "$D/twonl.key"
VKEY=$D/twonl.key verify "a key file with two newlines" 3 "" "$G"
check_match "...says what a key file holds" "twonl.key: not an audit key" "$(cat "$T/c.err")"
head -c 63 "$K" > "$D/short.key"; chmod 600 "$D/short.key"
VKEY=$D/short.key verify "a key of 63 digits" 3 "" "$G"
verify "a missing audit file" 3 "" "$D/nope.log"
check_match "...named" "nope.log: No such file" "$(cat "$T/c.err")"
verify "a directory" 3 "" "$D"
verify "a good file, then a missing one" 3 "OK: $G: 12 lines, seq 1..12, starts a new chain" "$G" "$D/nope.log"
if grep -qiF "$(cat "$K")" "$T/all-output.log"; then fail "the key's digits were printed"
else ok "the key's digits were never printed"; fi

finish
