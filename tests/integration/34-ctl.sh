#!/bin/bash
# 34. pgsluice-ctl, the client of the admin console: over the Unix socket (trust) `show pools`
#   prints an aligned table whose header names database and user; --json gives a JSON array
#   with the pool of a few sessions; `pause testdb` (then again: exit 1, 55000), `resume testdb`
#   and `show clients` work; `show modules --json` lists trust; `version` is SHOW
#   VERSION; a non-admin exits 1 with the 42501 message; an unknown command exits 1 with 42601;
#   a wrong port exits 2; bad usage exits 64; `reload` makes the daemon reload and `shutdown`
#   makes it exit 0.  Over TCP clear text is refused (exit 1) and TLS (PGSSLMODE=require) works.
. "$(dirname "$0")/lib.sh"

CTL=$(dirname "$PGSLUICE")/pgsluice-ctl
[ -x "$CTL" ] || { fail "no pgsluice-ctl next to $PGSLUICE"; finish; exit; }
C=$T/certs
CERT_KEY_ALG=ec bash "$IT_LIB/certs.sh" "$T" trustuser > /dev/null || { fail "certs.sh failed"; finish; exit; }
S_MODULES="tls = { path = \"tls-openssl.so\"; cert = \"$C/server.crt\"; key = \"$C/server.key\"; };"
S_TOP='admin = { database = "pgsluice"; users = ( "ops", "alice" ); };'
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

# ctl ARGS...: pgsluice-ctl on the console over the Unix socket; stdout only, "rc=N" last
ctl() { timeout -k 2 20 "$CTL" -h "$S_SOCK" -p "$S_PORT" "$@" 2> "$T/ctl.err"; echo "rc=$?"; }
rc_of() { printf '%s\n' "$1" | tail -1; }

for i in 1 2 3; do sq trustuser testdb 'select 1' > /dev/null; done

out=$(ctl -U ops show pools)
note "show pools: $(printf '%s' "$out" | head -3 | tr '\n' '|')"
check_eq "show pools: exit 0" rc=0 "$(rc_of "$out")"
check_match "show pools: header with database and user" '^database  +user  +cl_active  ' "$(printf '%s\n' "$out" | head -1)"
check_match "show pools: the row testdb/trustuser" '^testdb  +trustuser  +[0-9]+ ' "$out"
check_match "show pools: pool_mode transaction, not paused, not disabled" 'transaction  +0  +0$' "$(printf '%s\n' "$out" | grep '^testdb  *trustuser')"

# pause / resume / show clients through pgsluice-ctl
out=$(ctl -U ops pause testdb)
check_eq "pause testdb: tag, exit 0" "PAUSE|rc=0" "$(printf '%s' "$out" | tr '\n' '|')"
out=$(ctl -U ops --json show pools)
check_match "--json show pools: paused 1" '"paused": "1"' "$out"
out=$(ctl -U ops pause testdb)
check_eq "pause testdb again: refused, exit 1" rc=1 "$(rc_of "$out")"
check_match "... with the server's message" '55000|already paused' "$(cat "$T/ctl.err")"
out=$(ctl -U ops resume testdb)
check_eq "resume testdb: tag, exit 0" "RESUME|rc=0" "$(printf '%s' "$out" | tr '\n' '|')"
out=$(ctl -U ops show clients)
check_match "show clients: the console session itself" '^C  +ops  +pgsluice  +console ' "$out"
sq trustuser testdb 'select 1' > /dev/null   # the pause closed the idle servers: one again

out=$(ctl -U ops --json show pools)
check_eq "--json show pools: exit 0" rc=0 "$(rc_of "$out")"
js=$(printf '%s\n' "$out" | sed '$d')
r=$(printf '%s' "$js" | python3 -c '
import json, sys
a = json.load(sys.stdin)
row = [p for p in a if p["database"] == "testdb" and p["user"] == "trustuser"]
print("ok" if isinstance(a, list) and row and int(row[0]["sv_idle"]) >= 1
      and row[0]["pool_mode"] == "transaction" else "bad: %r" % a)' 2>&1)
check_eq "--json show pools: parses, the pool with sv_idle >= 1" ok "$r"

out=$(ctl -U alice show modules --json)
js=$(printf '%s\n' "$out" | sed '$d')
r=$(printf '%s' "$js" | python3 -c '
import json, sys
a = json.load(sys.stdin)
print("ok" if any(m["name"] == "trust" and "auth" in m["kinds"] for m in a) else "bad: %r" % a)' 2>&1)
check_eq "show modules --json: lists trust (auth)" ok "$r"

out=$(ctl -U ops version)
check_match "version: SHOW VERSION" '^version' "$(printf '%s\n' "$out" | head -1)"
check_match "version: pgsluice N" '^pgsluice [0-9]' "$(printf '%s\n' "$out" | sed -n 2p)"
check_eq "version: exit 0" rc=0 "$(rc_of "$out")"
out=$(ctl -U ops show config)
check_eq "show config: exit 0" rc=0 "$(rc_of "$out")"
check "show config: no password" bash -c "! printf '%s' \"\$1\" | grep -qi 'scrampass\|md5pass'" _ "$out"
check_match "show config: workers 2" '^workers  +2  +no$' "$out"

# ---- errors
out=$(ctl -U bob show pools)
check_eq "a non-admin: exit 1" rc=1 "$(rc_of "$out")"
check_match "a non-admin: the 42501 message on stderr" 'permission denied for the admin console: "bob" is not an admin user' "$(cat "$T/ctl.err")"
check_eq "a non-admin: nothing on stdout" "" "$(printf '%s\n' "$out" | sed '$d')"
out=$(ctl -U ops show nothing)
check_eq "an unknown command: exit 1" rc=1 "$(rc_of "$out")"
check_match "an unknown command: 42601 on stderr" 'ERROR 42601: invalid command' "$(cat "$T/ctl.err")"
bad=$(free_port $((S_PORT + 1)))
out=$(timeout -k 2 20 "$CTL" -h "$S_SOCK" -p "$bad" -U ops show pools 2>&1; echo "rc=$?")
check_eq "a wrong port: exit 2" rc=2 "$(rc_of "$out")"
out=$(timeout -k 2 20 "$CTL" -h 127.0.0.1 -p "$bad" -U ops show pools 2>&1; echo "rc=$?")
check_eq "a wrong TCP port: exit 2" rc=2 "$(rc_of "$out")"
out=$(ctl -U ops)
check_eq "no command: exit 64" rc=64 "$(rc_of "$out")"
check_match "no command: usage text" 'Usage:' "$(cat "$T/ctl.err")"
check_eq "bad option: exit 64" rc=64 "$(rc_of "$(ctl -x show pools)")"
check_eq "show without what: exit 64" rc=64 "$(rc_of "$(ctl -U ops show)")"
check_match "--help: usage on stdout, exit 0" 'Usage:.*rc=0' "$(timeout 5 "$CTL" --help | tr '\n' ' '; echo "rc=$?")"

# ---- TCP: clear-text is refused by the console (28000); TLS (PGSSLMODE=require) works
out=$(PGSSLMODE=disable ctl -h 127.0.0.1 -U ops show version)
check_eq "clear-text TCP: refused, exit 1" rc=1 "$(rc_of "$out")"
check_match "clear-text TCP: 28000 message" 'requires an encrypted connection' "$(cat "$T/ctl.err")"

out=$(PGSSLMODE=require ctl -h 127.0.0.1 -U ops --json show version)
check_eq "TLS TCP (PGSSLMODE=require): exit 0" rc=0 "$(rc_of "$out")"
check_match "TLS TCP: the version" '"version": "pgsluice [0-9]' "$out"

# ---- reload, shutdown
sed -i 's/max_client_conn = 5000;/max_client_conn = 4000;/' "$S_CONF"
out=$(ctl -U ops reload)
check_eq "reload: prints RELOAD, exit 0" "RELOAD rc=0" "$(printf '%s' "$out" | tr '\n' ' ')"
reloaded() { grep -q 'received SIGHUP' "$S_LOG"; }
check "the daemon logs a reload" wait_until 10 reloaded
newcfg() { grep -Eq '^max_client_conn  +4000  +yes$' <<< "$(ctl -U ops show config)"; }
check "show config: the new max_client_conn" wait_until 10 newcfg
out=$(ctl -U ops --json shutdown)
check_eq "--json shutdown: a status object" '[  {"status": "SHUTDOWN"} ] rc=0' "$(printf '%s' "$out" | tr '\n' ' ')"
wait_pid "$S_PID" 20; rc=$?
check_eq "the daemon exited with status 0" 0 "$rc"
check_match "after SIGTERM" 'received SIGTERM' "$(cat "$S_LOG")"
S_PID=
finish
