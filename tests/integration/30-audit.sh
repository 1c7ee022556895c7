#!/bin/bash
# 30. The audit module with real clients: events for a trust login, a refused SCRAM password
#   (the password never appears), a TLS login (protocol, cipher), the chain steps, a
#   disconnection (duration, bytes), a failed server login and a reload; the HMAC chain checked
#   by pgsluice-admin audit-verify and by an independent Python verifier; a modified line is
#   named.  Rotation: the file is moved away, SIGUSR1, and the new file continues the chain.
#   A full file system (a 64 KiB tmpfs filled up): on_error=refuse refuses new logins with
#   58030 and says so in the log, then catches up when space comes back; on_error=continue
#   keeps serving and writes a gap event afterwards.
. "$(dirname "$0")/lib.sh"

ADMIN=$(dirname "$PGSLUICE")/pgsluice-admin
[ -x "$ADMIN" ] || { fail "no pgsluice-admin next to $PGSLUICE"; finish; }
verify() { "$ADMIN" audit-verify -k "$T/audit.key" "$@" 2>&1; }
pyverify() { python3 "$IT_DIR/auditverify.py" "$T/audit.key" "$1" 2>&1; }

C=$T/certs
CERT_KEY_ALG=ec bash "$IT_LIB/certs.sh" "$T" > /dev/null || { fail "certs.sh failed"; finish; }
(umask 077; openssl rand -hex 32 > "$T/audit.key")
cat > "$T/pg_hba.conf" <<EOT
host  all  scramuser  127.0.0.1/32  scram
host  all  all        127.0.0.1/32  trust
hostssl all all       ::1/128       trust
EOT
cat > "$T/userlist.txt" <<EOT
"scramuser" "scrampass"
EOT
chmod 600 "$T/userlist.txt"
AUDIT_OPTS=""
modules() {
  S_MODULES="hba = { path = \"hba.so\"; file = \"$T/pg_hba.conf\"; };
  userlist = { path = \"userlist.so\"; file = \"$T/userlist.txt\"; };
  tls = { path = \"tls-openssl.so\"; cert = \"$C/server.crt\"; key = \"$C/server.key\"; };
  audit = { path = \"audit.so\"; file = \"$1\"; key_file = \"$T/audit.key\"; $AUDIT_OPTS };"
}
modules "$T/audit.jsonl"
S_SERVERS=", { name = \"dead\"; host = \"127.0.0.1\"; port = $(free_port 24000); }"
S_POOLS_PRE="{ database = \"deaddb\"; user = \"*\"; server = \"dead\"; mode = \"transaction\"; max_size = 2; min_size = 0; initial_size = 0; },"
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; }
A=$T/audit.jsonl

check_eq "trust login" "trustuser" "$(sq trustuser postgres 'select current_user')"
out=$(PGPASSWORD=wrong-Secret-42 timeout 20 psql -X -At -w \
  "host=127.0.0.1 port=$S_PORT user=scramuser dbname=postgres sslmode=disable gssencmode=disable" -c 'select 1' 2>&1)
check_match "a wrong SCRAM password is refused" 'password authentication failed' "$out"
check_eq "TLS login over ::1" "trustuser" "$(timeout 20 psql -X -At -w \
  "host=::1 port=$S_PORT user=trustuser dbname=postgres sslmode=require gssencmode=disable" \
  -c 'select current_user' 2>&1)"
check_match "a pool whose server is down fails" 'FATAL' "$(sq trustuser deaddb 'select 1')"
kill -HUP "$S_PID"
wait_until 10 grep -q 'configuration reloaded' "$S_LOG" || fail "no reload"
check_eq "after the reload" "trustuser" "$(sq trustuser postgres 'select current_user')"
wait_until 10 grep -q '"event":"reload"' "$A" || fail "no reload event"
sleep 0.5   # the writer thread batches

ev() { grep -c "\"event\":\"$1\"" "$A"; }
check_ge "connect events" 4 "$(ev connect)"
check_ge "auth_ok events" 3 "$(ev auth_ok)"
check_ge "auth_fail events" 1 "$(ev auth_fail)"
check_ge "disconnect events" 3 "$(ev disconnect)"
check_ge "step events" 3 "$(ev step)"
check_eq "one reload event" 1 "$(ev reload)"
check_ge "server_fail events" 1 "$(ev server_fail)"
check_match "auth_ok: user, database, method (the chain), transport" \
  '"event":"auth_ok".*"user":"trustuser","database":"postgres","method":"trust".*"transport":"tcp"' "$(cat "$A")"
check_match "auth_fail: the reason as logged" '"event":"auth_fail".*"user":"scramuser".*"reason":"[^"]+' "$(cat "$A")"
check "the wrong password is nowhere in the trail" bash -c "! grep -q 'wrong-Secret-42' '$A'"
check_match "tls: protocol and cipher" '"event":"tls".*"protocol":"TLSv1\.3","cipher":"[A-Z0-9_-]+"' "$(cat "$A")"
check_match "auth_ok over TLS" '"event":"auth_ok".*"transport":"tls"' "$(cat "$A")"
check_match "disconnect: duration and bytes each way" \
  '"event":"disconnect".*"duration_ms":"[0-9]+","bytes_in":"[1-9][0-9]*","bytes_out":"[1-9][0-9]*"' "$(cat "$A")"
check_match "step: chain, step, module, result" '"event":"step".*"chain":"scram","step":"scram","module":"scram","result":"fail"' "$(cat "$A")"
check_match "server_fail names the server" '"event":"server_fail".*"server":"dead"' "$(cat "$A")"
check_match "connect: peer and listener" '"event":"connect".*"peer":"127\.0\.0\.1","port":"[0-9]+","listener":"[^"]+"' "$(cat "$A")"
check_match "every line has seq, ts (UTC, microseconds), prev and mac" \
  '^\{"seq":1,"ts":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z","event":"[a-z_]+".*"prev":"[0-9a-f]{64}","mac":"[0-9a-f]{64}"\}$' "$(head -1 "$A")"
check_eq "seq runs 1..N" "$(wc -l < "$A")" "$(tail -1 "$A" | sed 's/^{"seq":\([0-9]*\),.*/\1/')"
check_match "audit-verify: the trail verifies" '^OK: ' "$(verify "$A")"
check_match "the Python verifier agrees" '^OK' "$(pyverify "$A")"

# a modified line is named
cp "$A" "$T/tampered.jsonl"
sed -i '3s/"trustuser"/"postgres"/' "$T/tampered.jsonl"
if cmp -s "$A" "$T/tampered.jsonl"; then sed -i '3s/"event":"[a-z_]*"/"event":"admin"/' "$T/tampered.jsonl"; fi
out=$(verify "$T/tampered.jsonl"); rc=$?
check_eq "audit-verify fails on a modified line" 1 "$rc"
check_match "  and names line 3" 'line 3' "$out"

# ---- rotation: move the file away, SIGUSR1, the new file continues the chain
last_mac=$(tail -1 "$A" | sed 's/.*"mac":"\([0-9a-f]*\)"}$/\1/')
mv "$A" "$T/audit.1"
kill -USR1 "$S_PID"
wait_until 5 grep -q 'reopening audit' "$S_LOG" || fail "SIGUSR1 not logged"
check_eq "a login after the rotation" "trustuser" "$(sq trustuser postgres 'select current_user')"
wait_until 10 test -s "$A" || fail "the new file stays empty"
sleep 0.5
check_eq "the new file's first line continues the old chain (prev = last mac)" "$last_mac" \
  "$(head -1 "$A" | sed 's/.*"prev":"\([0-9a-f]*\)".*/\1/')"
check_match "audit-verify: the old file" '^OK: ' "$(verify "$T/audit.1")"
check_match "audit-verify: the new file, a continuation" '^OK: .*continues' "$(verify "$A")"
sluice_stop INT 10; check_eq "pgsluice stops cleanly" 0 $?
sanitizer_check

# ---- a full file system: on_error = refuse, then continue
FS=$T/fs; mkdir -p "$FS"
if ! mount -t tmpfs -o size=64k,mode=0755 tmpfs "$FS"; then
  fail "could not mount a 64 KiB tmpfs for the disk-full case (the test runs as root)"; finish
fi
trap 'cleanup; umount "$FS" 2>/dev/null' EXIT
full_fs() { dd if=/dev/zero of="$FS/filler" bs=1k count=64 2>/dev/null; sync; }
for policy in refuse continue; do
  rm -f "$FS"/*
  AUDIT_OPTS="on_error = \"$policy\";"
  modules "$FS/audit.jsonl"
  conf_std transaction 5 > "$S_CONF"
  sluice_start || { fail "pgsluice did not start ($policy)"; continue; }
  check_eq "$policy: login while there is room" "trustuser" "$(sq trustuser postgres 'select current_user')"
  full_fs
  # the writer notices at its next write: a few logins produce events
  for _ in 1 2 3 4 5 6; do sq trustuser postgres 'select 1' > "$T/full-$policy.out" 2>&1; done
  if [ "$policy" = refuse ]; then
    check_match "refuse: a login on a full disk is refused with 58030" \
      'could not write to the audit trail' "$(sq trustuser postgres 'select 1')"
    check_match "refuse: the log says so" 'refusing new logins' "$(cat "$S_LOG")"
  else
    check_eq "continue: logins go on on a full disk" "1" "$(sq trustuser postgres 'select 1')"
    check_match "continue: the log says so" 'continuing without' "$(cat "$S_LOG")"
  fi
  rm -f "$FS/filler"
  wait_until 10 bash -c "[ \"\$(psql -X -At -w 'host=127.0.0.1 port=$S_PORT user=trustuser dbname=postgres sslmode=disable gssencmode=disable' -c 'select 1' 2>&1)\" = 1 ]" \
    || fail "$policy: logins did not come back after space was freed"
  check_eq "$policy: logins again once there is room" "trustuser" "$(sq trustuser postgres 'select current_user')"
  sleep 1.2
  [ "$policy" = continue ] && check_match "continue: a gap event counts what was lost" '"event":"gap","dropped":"[1-9]' "$(cat "$FS/audit.jsonl")"
  [ "$policy" = refuse ] && check_match "refuse: the log says it writes again" 'writing .* again' "$(cat "$S_LOG")"
  check_match "$policy: the trail verifies" '^OK: ' "$(verify "$FS/audit.jsonl")"
  sluice_stop INT 10; check_eq "$policy: pgsluice stops cleanly" 0 $?
  sanitizer_check
done
umount "$FS"
finish
