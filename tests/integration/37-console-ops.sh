#!/bin/bash
# 37. The admin console's operations commands, with real psql and pgbench clients:
#   SHOW CLIENTS lists held sessions (TCP, Unix socket, TLS) with user, database, state,
#   addresses, application_name, ptr/link and the console row; SHOW SERVERS shows their servers
#   (remote_pid = the backend's pid, link back to the client) and idle ones afterwards;
#   PAUSE closes idle servers and holds new queries until RESUME, waits for an open transaction
#   and, in session mode, for the session to end; DISABLE refuses new logins (55000) while an
#   older session goes on, ENABLE re-allows; KILL ends sessions (57P01) and their servers and
#   leaves the database paused; errors (55000, 42601); pgbench through two PAUSE/RESUME rounds
#   has no failed transaction.
. "$(dirname "$0")/lib.sh"

C=$T/certs
CERT_KEY_ALG=ec bash "$IT_LIB/certs.sh" "$T" trustuser > /dev/null || { fail "certs.sh failed"; finish; }
(umask 077; openssl rand -hex 32 > "$T/audit.key")
S_MODULES="tls = { path = \"tls-openssl.so\"; cert = \"$C/server.crt\"; key = \"$C/server.key\"; };
  audit = { path = \"audit.so\"; file = \"$T/audit.jsonl\"; key_file = \"$T/audit.key\"; };"
S_TOP='admin = { database = "pgsluice"; users = ( "ops" ); };'
# md5user on testdb: a session-mode pool; everything else transaction mode
S_POOLS_PRE='
  { database = "testdb"; user = "md5user"; server = "main"; mode = "session";
    max_size = 3; min_size = 0; initial_size = 0; password = "md5pass"; },'
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

# cq USER SQL [psql args]: psql on the console over the Unix socket, unaligned, ',' separated
cq() {
  local u=$1 sql=$2; shift 2
  timeout -k 2 20 psql -X -A -t -F ',' -w \
    "host=$S_SOCK port=$S_PORT user=$u dbname=pgsluice connect_timeout=10" -c "$sql" "$@" 2>&1
}
# cqv SQL: the same as ops, errors with their SQLSTATE
cqv() { cq ops "$1" -v VERBOSITY=verbose; }
# col CSV_LINE N: the Nth field
col() { printf '%s\n' "$1" | cut -d, -f"$2"; }
# header SQL: the console's column names
header() {
  timeout -k 2 20 psql -X -A -F ',' -w "host=$S_SOCK port=$S_PORT user=ops dbname=pgsluice" \
    -c "$1" 2>&1 | head -1
}
# client_row APP: the SHOW CLIENTS row of the client with that application_name
client_row() { cq ops 'SHOW CLIENTS' | awk -F, -v a="$1" '$18 == a' | head -1; }
client_in_state() { [ "$(col "$(client_row "$1")" 4)" = "$2" ]; }
pool_row() { cq ops 'SHOW POOLS' | grep "^$1,$2," | head -1; }
pool_paused() { [ "$(col "$(pool_row testdb trustuser)" 12)" = "$1" ]; }
conns_are() { [ "$(server_conns "$1")" = "$2" ]; }
# bgq NAME APP CONNINFO PSQL_ARGS...: a psql in the background (PGAPPNAME=APP, at most 40 s),
# its output then "rc=N" and "end=MS" (when it ended) in $T/NAME.out; the PID in $BG
bgq() {
  local name=$1 app=$2 conn=$3; shift 3
  (
    PGAPPNAME=$app timeout -k 2 40 psql -X -At -w -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
      "$conn connect_timeout=10" "$@" 2>&1
    echo "rc=$?"
    echo "end=$(now_ms)"
  ) > "$T/$name.out" 2>&1 &
  BG=$!; track "$BG"
}
TCP="host=127.0.0.1 port=$S_PORT sslmode=disable gssencmode=disable"
UNIX="host=$S_SOCK port=$S_PORT"
# out_of NAME: the output lines (without rc= / end=) as one line; rc_of / end_of NAME
out_of() { grep -Ev '^(rc|end)=' "$T/$1.out" | tr '\n' ' ' | sed 's/ $//'; }
rc_of() { sed -n 's/^rc=//p' "$T/$1.out"; }
end_of() { sed -n 's/^end=//p' "$T/$1.out"; }
# timed SQL: run a console command as ops; sets OUT and MS (how long it took)
timed() {
  local t0
  t0=$(now_ms); OUT=$(cqv "$1"); MS=$(($(now_ms) - t0)); DONE=$(now_ms)
}
# login_error USER DB: a startup over TCP (psql shows no SQLSTATE for a failed connection);
# prints the ErrorResponse's "SEVERITY CODE message", or what came instead
login_error() {
  timeout -k 2 15 python3 - "$S_PORT" "$1" "$2" <<'EOF'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
body = b"user\0" + sys.argv[2].encode() + b"\0database\0" + sys.argv[3].encode() + b"\0\0"
s.sendall(struct.pack("!II", 8 + len(body), 196608) + body)
data, seen = b"", []
while True:
    while len(data) < 5 or len(data) < 1 + struct.unpack("!I", data[1:5])[0]:
        d = s.recv(4096)
        if not d:
            print("closed after %s" % seen)
            sys.exit(0)
        data += d
    n = 1 + struct.unpack("!I", data[1:5])[0]
    t, msg, data = data[:1], data[5:n], data[n:]
    if t == b"E":
        break
    seen.append(t.decode("ascii", "replace"))
    if t == b"Z":
        print("logged in")
        sys.exit(0)
f = {}
for part in msg.split(b"\0"):
    if part:
        f[chr(part[0])] = part[1:].decode("utf-8", "replace")
print(f.get("V", f.get("S", "?")), f.get("C", "?"), f.get("M", "?"))
EOF
}
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC$'

check_eq "SHOW CLIENTS columns" \
  "type,user,database,state,addr,port,local_addr,local_port,connect_time,request_time,wait,wait_us,close_needed,ptr,link,remote_pid,tls,application_name,id,identity,method,worker" \
  "$(header 'SHOW CLIENTS')"
check_eq "SHOW SERVERS columns" \
  "type,user,database,state,addr,port,local_addr,local_port,connect_time,request_time,wait,wait_us,close_needed,ptr,link,remote_pid,tls,application_name,id,worker" \
  "$(header 'SHOW SERVERS')"
check_eq "SHOW POOLS columns (paused, disabled at the end)" \
  "database,user,cl_active,cl_waiting,cl_idle,sv_active,sv_idle,sv_login,maxwait,maxwait_us,pool_mode,paused,disabled" \
  "$(header 'SHOW POOLS')"

# ---- SHOW CLIENTS / SHOW SERVERS with three held sessions: TCP, Unix socket, TLS
bgq h1 holder-tcp "$TCP user=trustuser dbname=testdb" -c 'select pg_sleep(4.01)'; hp=("$BG")
bgq h2 holder-unix "$UNIX user=trustuser dbname=testdb" -c 'select pg_sleep(4.02)'; hp+=("$BG")
bgq h3 holder-tls "host=127.0.0.1 port=$S_PORT sslmode=require user=trustuser dbname=testdb" \
  -c 'select pg_sleep(4.03)'; hp+=("$BG")
all_active() {
  client_in_state holder-tcp active && client_in_state holder-unix active && client_in_state holder-tls active
}
check "the three held sessions are active in SHOW CLIENTS (<= 10 s)" wait_until 10 all_active
clients=$(cq ops 'SHOW CLIENTS')
servers=$(cq ops 'SHOW SERVERS')
pid1=$(pgq "select pid from pg_stat_activity where query = 'select pg_sleep(4.01)'")
conns=$(ss -Htn state established "dport = :$S_PORT")
printf '%s\n' "$clients" | sed 's/^/    clients| /'
printf '%s\n' "$servers" | sed 's/^/    servers| /'
r1=$(printf '%s\n' "$clients" | awk -F, '$18 == "holder-tcp"')
r2=$(printf '%s\n' "$clients" | awk -F, '$18 == "holder-unix"')
r3=$(printf '%s\n' "$clients" | awk -F, '$18 == "holder-tls"')
check_eq "TCP client: type,user,database,state,addr" "C,trustuser,testdb,active,127.0.0.1" \
  "$(printf '%s\n' "$r1" | cut -d, -f1-5)"
port1=$(col "$r1" 6)
check_match "TCP client: port is a number" '^[1-9][0-9]*$' "$port1"
check_match "TCP client: that port is connected to pgsluice (ss)" "127\\.0\\.0\\.1:$port1 " "$conns"
check_eq "TCP client: local_addr,local_port" "127.0.0.1,$S_PORT" "$(printf '%s\n' "$r1" | cut -d, -f7-8)"
check_match "TCP client: connect_time" "$TS" "$(col "$r1" 9)"
check_match "TCP client: request_time" "$TS" "$(col "$r1" 10)"
ct=$(date -u -d "$(col "$r1" 9)" +%s 2>/dev/null)
check_le "TCP client: connect_time is recent (s ago)" 15 $(($(date +%s) - ${ct:-0}))
check_eq "TCP client: wait,wait_us,close_needed" "0,0,0" "$(printf '%s\n' "$r1" | cut -d, -f11-13)"
id1=$(col "$r1" 19)
check_match "TCP client: id is a number" '^[0-9]+$' "$id1"
check_eq "TCP client: ptr is C-<id>" "C-$id1" "$(col "$r1" 14)"
link1=$(col "$r1" 15)
check_match "TCP client: link is S-<n>" '^S-[0-9]+$' "$link1"
check_eq "TCP client: remote_pid 0, tls empty" "0," "$(printf '%s\n' "$r1" | cut -d, -f16-17)"
check_match "TCP client: worker is 0 or 1" '^[01]$' "$(col "$r1" 22)"
check_match "the log's C-<id> is the same client" "C-$id1 trustuser@testdb" "$(cat "$S_LOG")"
check_eq "Unix client: user,database,state,addr,port" "trustuser,testdb,active,unix,0" \
  "$(printf '%s\n' "$r2" | cut -d, -f2-6)"
check_match "Unix client: link S-<n>, tls empty" '^S-[0-9]+,0,$' "$(printf '%s\n' "$r2" | cut -d, -f15-17)"
check_match "TLS client: tls is TLSv1.3/<cipher>" '^TLSv1\.3/[A-Z0-9_-]+$' "$(col "$r3" 17)"
check_eq "TLS client: state, addr" "active,127.0.0.1" "$(printf '%s\n' "$r3" | cut -d, -f4-5)"
check_eq "three clients on testdb" 3 "$(printf '%s\n' "$clients" | awk -F, '$3 == "testdb"' | wc -l)"
cons=$(printf '%s\n' "$clients" | awk -F, '$4 == "console"')
check_eq "the console session: one row, ops@pgsluice over unix" "C,ops,pgsluice,console,unix,0" \
  "$(printf '%s\n' "$cons" | cut -d, -f1-6)"
check_eq "four rows in all" 4 "$(printf '%s\n' "$clients" | grep -c .)"

s1=$(printf '%s\n' "$servers" | awk -F, -v c="C-$id1" '$15 == c')
check_eq "SHOW SERVERS: the TCP client's server: type,user,database,state,addr,port" \
  "S,trustuser,testdb,active,127.0.0.1,$PGPORT" "$(printf '%s\n' "$s1" | cut -d, -f1-6)"
check_eq "SHOW SERVERS: its ptr is the client's link" "$link1" "$(col "$s1" 14)"
check_eq "SHOW SERVERS: ptr is S-<id>" "S-$(col "$s1" 19)" "$(col "$s1" 14)"
check_match "pg_stat_activity has the TCP client's query" '^[0-9]+$' "$pid1"
check_eq "SHOW SERVERS: remote_pid is that backend's pid" "$pid1" "$(col "$s1" 16)"
check_match "SHOW SERVERS: connect_time" "$TS" "$(col "$s1" 9)"
check_match "SHOW SERVERS: local_addr,local_port" '^127\.0\.0\.1,[1-9][0-9]*$' \
  "$(printf '%s\n' "$s1" | cut -d, -f7-8)"
check_match "SHOW SERVERS: worker 0 or 1" '^[01]$' "$(col "$s1" 20)"
check_eq "SHOW SERVERS: three active servers on testdb" 3 \
  "$(printf '%s\n' "$servers" | awk -F, '$3 == "testdb" && $4 == "active"' | wc -l)"
for i in 1 2 3; do
  wait_pid "${hp[i - 1]}" 15
  check_eq "held session h$i completed" "rc=0" "rc=$(rc_of "h$i")"
done
idle_servers() {
  [ "$(cq ops 'SHOW SERVERS' | awk -F, '$3 == "testdb" && $4 == "idle" && $15 == ""' | wc -l)" -ge 1 ]
}
check "idle servers (no link) after the sessions (<= 5 s)" wait_until 5 idle_servers
n_idle=$(cq ops 'SHOW SERVERS' | awk -F, '$2 == "trustuser" && $3 == "testdb"' | wc -l)
check_eq "SHOW SERVERS rows = the backends on PostgreSQL" "$(server_conns trustuser)" "$n_idle"
check_eq "the held sessions are gone from SHOW CLIENTS" 0 \
  "$(cq ops 'SHOW CLIENTS' | awk -F, '$3 == "testdb"' | wc -l)"

# ---- PAUSE with an idle server; a new client waits until RESUME
check_eq "a query (leaves an idle server)" 1 "$(sq trustuser testdb 'select 1')"
check_ge "servers of trustuser before PAUSE" 1 "$(server_conns trustuser)"
timed 'PAUSE testdb'
check_eq "PAUSE testdb" "PAUSE" "$OUT"
check_le "PAUSE with idle servers only answers within 1.5 s (ms)" 1500 "$MS"
check_eq "no server of testdb left in SHOW SERVERS" 0 \
  "$(cq ops 'SHOW SERVERS' | awk -F, '$3 == "testdb"' | wc -l)"
check "the servers are gone from PostgreSQL (<= 2 s)" wait_until 2 conns_are trustuser 0
line=$(pool_row testdb trustuser)
note "SHOW POOLS: $line"
check_eq "SHOW POOLS: paused 1, disabled 0" "1,0" "$(printf '%s\n' "$line" | cut -d, -f12-13)"
bgq w1 waiter "$TCP user=trustuser dbname=testdb" -c 'select 41 + 1'; w1=$BG
sleep 2
check "the new client still waits after 2 s" kill -0 "$w1"
rw=$(client_row waiter)
note "waiting client: $rw"
check_eq "SHOW CLIENTS: state waiting, no link" "waiting," "$(col "$rw" 4),$(col "$rw" 15)"
check_ge "SHOW CLIENTS: wait >= 1 s" 1 "$(col "$rw" 11)"
check_match "SHOW CLIENTS: wait_us" '^[0-9]{1,6}$' "$(col "$rw" 12)"
check_ge "SHOW POOLS: cl_waiting >= 1" 1 "$(col "$(pool_row testdb trustuser)" 4)"
check_eq "RESUME testdb" "RESUME" "$(cqv 'RESUME testdb')"
wait_pid "$w1" 10
check_eq "the waiting client's query ran after RESUME" "42 rc=0" "$(out_of w1) rc=$(rc_of w1)"
check_eq "SHOW POOLS: paused 0 after RESUME" "0,0" "$(pool_row testdb trustuser | cut -d, -f12-13)"

# ---- PAUSE while a transaction is open: it answers once the transaction has ended
bgq x1 txn "$TCP user=trustuser dbname=testdb" -c 'BEGIN; select pg_sleep(2); COMMIT'; x1=$BG
check "the transaction is active (<= 5 s)" wait_until 5 client_in_state txn active
timed 'PAUSE testdb'
check_eq "PAUSE during a transaction" "PAUSE" "$OUT"
check_ge "PAUSE waited for the transaction (ms)" 1500 "$MS"
wait_pid "$x1" 10
check_eq "the transaction completed" "rc=0" "rc=$(rc_of x1)"
check_ge "PAUSE answered after the transaction's client ended (ms, 300 ms slack)" -300 \
  $((DONE - $(end_of x1)))
check_eq "RESUME" "RESUME" "$(cqv 'RESUME testdb')"

# ---- session mode (md5user on testdb): PAUSE waits until the session disconnects
bgq s1 sess "$TCP user=md5user dbname=testdb" -c 'select 1' -c '\! sleep 2.5' -c 'select 2'; s1=$BG
check "the session-mode client holds its server: state active (<= 5 s)" \
  wait_until 5 client_in_state sess active
timed 'PAUSE testdb'
check_eq "PAUSE with a session-mode session" "PAUSE" "$OUT"
check_ge "PAUSE waited for the session (ms)" 1500 "$MS"
wait_pid "$s1" 10
check_eq "the session ran its queries" "1 2 rc=0" "$(out_of s1) rc=$(rc_of s1)"
check_ge "PAUSE answered after the session ended (ms, 300 ms slack)" -300 $((DONE - $(end_of s1)))
check "md5user's servers are gone (<= 2 s)" wait_until 2 conns_are md5user 0

# ---- errors
out=$(cqv 'PAUSE testdb')
check_match "PAUSE of a paused db: 55000" 'ERROR: +55000: .*already paused' "$out"
check_eq "RESUME" "RESUME" "$(cqv 'RESUME testdb')"
out=$(cqv 'RESUME testdb')
check_match "RESUME of a db not paused: 55000" 'ERROR: +55000: .*not paused' "$out"
out=$(cqv 'RESUME')
check_match "RESUME with nothing paused: 55000" 'ERROR: +55000: nothing is paused' "$out"
check_eq "PAUSE (all)" "PAUSE" "$(cqv 'PAUSE')"
check_eq "pools paused by PAUSE without a db" "1" "$(col "$(pool_row testdb trustuser)" 12)"
out=$(cqv 'PAUSE')
check_match "PAUSE twice: 55000" 'ERROR: +55000: .*already paused' "$out"
check_eq "RESUME (all)" "RESUME" "$(cqv 'RESUME')"
check_eq "not paused after RESUME without a db" "0" "$(col "$(pool_row testdb trustuser)" 12)"
out=$(cqv 'DISABLE')
check_match "DISABLE without a db: 42601" 'ERROR: +42601' "$out"
out=$(cqv 'PAUSE pgsluice')
check_match "PAUSE of the admin database: 55000" 'ERROR: +55000' "$out"
out=$(cqv 'ENABLE testdb')
check_match "ENABLE of a db not disabled: 55000" 'ERROR: +55000' "$out"
check_eq "PAUSE (all) again" "PAUSE" "$(cqv 'PAUSE')"
out=$(cqv 'RESUME testdb')
check_match "RESUME testdb while only PAUSE of all holds it: 55000" 'ERROR: +55000' "$out"
check_eq "RESUME (all) again" "RESUME" "$(cqv 'RESUME')"
check_eq "the pool serves" 1 "$(sq trustuser testdb 'select 1')"

# ---- a RESUME from another session cancels a waiting PAUSE (57014); the transaction goes on
bgq x2 txn2 "$TCP user=trustuser dbname=testdb" -c 'select pg_sleep(2.5)'; x2=$BG
check "the second transaction is active (<= 5 s)" wait_until 5 client_in_state txn2 active
cqv 'PAUSE testdb' > "$T/p2.out" 2>&1 &
p2=$!; track "$p2"
sleep 0.5
check "PAUSE waits for the transaction" kill -0 "$p2"
check_eq "RESUME from another session" "RESUME" "$(cqv 'RESUME testdb')"
wait_pid "$p2" 5
check_match "the waiting PAUSE ends with 57014" 'ERROR: +57014: PAUSE canceled' "$(cat "$T/p2.out")"
wait_pid "$x2" 10
check_eq "the second transaction completed" "rc=0" "rc=$(rc_of x2)"
check_eq "testdb is not paused" "0" "$(col "$(pool_row testdb trustuser)" 12)"

# ---- DISABLE: new logins refused, an older session goes on; ENABLE
bgq d1 before "$TCP user=trustuser dbname=testdb" -c 'select 1' -c '\! sleep 2' -c 'select 2'; d1=$BG
check "a session opened before DISABLE is idle between transactions (<= 5 s)" \
  wait_until 5 client_in_state before idle
check_eq "DISABLE testdb" "DISABLE" "$(cqv 'DISABLE testdb')"
out=$(sq trustuser testdb 'select 1')
check_match "a new login (psql) is refused" \
  'FATAL: +database "testdb" is not currently accepting connections' "$out"
check_eq "a new login (wire): FATAL 55000 with the message" \
  'FATAL 55000 database "testdb" is not currently accepting connections' \
  "$(login_error trustuser testdb)"
check_eq "SHOW POOLS: disabled 1" "1" "$(col "$(pool_row testdb trustuser)" 13)"
wait_pid "$d1" 10
check_eq "the older session kept working" "1 2 rc=0" "$(out_of d1) rc=$(rc_of d1)"
check_eq "ENABLE testdb" "ENABLE" "$(cqv 'ENABLE testdb')"
check_eq "logins work again" 1 "$(sq trustuser testdb 'select 1')"
check_eq "logins work again (wire)" "logged in" "$(login_error trustuser testdb)"
check_eq "SHOW POOLS: disabled 0" "0" "$(col "$(pool_row testdb trustuser)" 13)"

# ---- KILL: both held sessions end with 57P01, their servers are gone, testdb stays paused
bgq k1 kill-tcp "$TCP user=trustuser dbname=testdb" -c 'select pg_sleep(20.1)'; k1=$BG
bgq k2 kill-unix "$UNIX user=trustuser dbname=testdb" -c 'select pg_sleep(20.2)'; k2=$BG
both_active() { client_in_state kill-tcp active && client_in_state kill-unix active; }
check "two held sessions active (<= 10 s)" wait_until 10 both_active
timed 'KILL testdb'
check_eq "KILL testdb" "KILL" "$OUT"
check_le "KILL answers at once (ms)" 2000 "$MS"
wait_pid "$k1" 5; wait_pid "$k2" 5
for k in k1 k2; do
  check_match "$k: 57P01 terminating connection due to administrator command" \
    'FATAL: +57P01: terminating connection due to administrator command' "$(cat "$T/$k.out")"
done
sleeping() { [ "$(pgq "select count(*) from pg_stat_activity where query like 'select pg_sleep(20.%'")" = 0 ]; }
check "their backends are gone from PostgreSQL (<= 3 s)" wait_until 3 sleeping
check "no server of trustuser left (<= 3 s)" wait_until 3 conns_are trustuser 0
check_eq "testdb stays paused after KILL" "1" "$(col "$(pool_row testdb trustuser)" 12)"
bgq w2 after-kill "$TCP user=trustuser dbname=testdb" -c 'select 7'; w2=$BG
sleep 1.5
check "a new query waits after KILL" kill -0 "$w2"
check_eq "RESUME after KILL" "RESUME" "$(cqv 'RESUME testdb')"
wait_pid "$w2" 10
check_eq "the query runs after RESUME" "7 rc=0" "$(out_of w2) rc=$(rc_of w2)"

# ---- pgbench -S through two PAUSE/RESUME rounds: no failed transaction
timeout -k 5 60 pgbench -n -h 127.0.0.1 -p "$S_PORT" -U scramuser -S -c 4 -j 2 -T 6 testdb \
  > "$T/bench.out" 2>&1 &
bench=$!; track "$bench"
sleep 1.5
for round in 1 2; do
  check_eq "pgbench round $round: PAUSE" "PAUSE" "$(cqv 'PAUSE testdb')"
  sleep 0.5
  check_eq "pgbench round $round: RESUME" "RESUME" "$(cqv 'RESUME testdb')"
  sleep 0.5
done
wait_pid "$bench" 30; rc=$?
out=$(cat "$T/bench.out")
check_eq "pgbench exit status" 0 "$rc"
check_eq "pgbench: 0 failed transactions" 0 "$(pgbench_field "$out" failed)"
check_ge "pgbench: transactions processed" 1 "$(pgbench_field "$out" processed)"

# ---- the log, the daemon
log=$(cat "$S_LOG")
for c in 'SHOW CLIENTS' 'SHOW SERVERS' PAUSE RESUME DISABLE ENABLE KILL; do
  check_match "the log has 'admin command $c: ok'" "ops@pgsluice .*admin command $c( \"testdb\")?: ok" "$log"
done
# every successful PAUSE logs ": ok" (5 of testdb, 2 without a db), also those that waited
check_eq "log lines 'admin command PAUSE ...: ok'" 7 \
  "$(grep -cE 'admin command PAUSE( "testdb")?: ok' "$S_LOG")"
# audit_admin: "COMMAND|RESULT" of the audit trail's admin events, one a line
audit_admin() {
  python3 -c 'import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "admin":
        print(e.get("command", "?") + "|" + e.get("result", "?"))' "$T/audit.jsonl" 2>&1
}
audit_has_kill() { audit_admin | grep -E '^KILL( "?testdb"?)?\|ok$' > /dev/null; }  # no -q: pipefail
check "the audit trail has the KILL admin event (<= 5 s)" wait_until 5 audit_has_kill
aud=$(audit_admin)
for c in 'SHOW CLIENTS' 'SHOW SERVERS' PAUSE RESUME DISABLE ENABLE KILL; do
  check_match "audit: admin event $c ok" "^$c( \"?testdb\"?)?\\|ok\$" "$aud"
done
check_eq "audit: 7 PAUSE events with result ok (as in the log)" 7 \
  "$(printf '%s\n' "$aud" | grep -cE '^PAUSE( "testdb")?\|ok$')"
check_match "audit: a refused PAUSE" '^PAUSE( "?testdb"?)?\|refused' "$aud"
check_match "the console still answers" '^pgsluice [0-9]' "$(cq ops 'SHOW VERSION')"
check "pgsluice still running" sluice_alive
finish
