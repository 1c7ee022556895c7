#!/bin/bash
# 33. The admin console (admin = { database = "pgsluice"; users = (...); }): over the Unix
#   socket an admin gets SHOW VERSION, SHOW POOLS (the pools of a few sessions, with idle
#   servers), SHOW STATS (counts grow after pgbench), SHOW CONFIG, SHOW MODULES (trust with its
#   ABI and kinds); an unknown command is 42601, KILL without its database too, two commands in one
#   query 42601; a non-admin gets 42501; clear-text TCP is refused (28000) and TLS TCP works;
#   RELOAD applies an edited config (max_client_conn, a new admin user, a pool's max_size 1 -> 2
#   lets the client that waited on it in at once);
#   a message other than Query/Terminate is 08P01; SHUTDOWN drains and the daemon exits 0.
. "$(dirname "$0")/lib.sh"

C=$T/certs
CERT_KEY_ALG=ec bash "$IT_LIB/certs.sh" "$T" trustuser > /dev/null || { fail "certs.sh failed"; finish; }
S_MODULES="tls = { path = \"tls-openssl.so\"; cert = \"$C/server.crt\"; key = \"$C/server.key\"; };"
S_TOP='admin = { database = "pgsluice"; users = ( "ops", "alice" ); };'
# a pool of one server (database postgres): RELOAD raising it lets a waiting client in
S_POOLS_PRE='
  { database = "postgres"; user = "trustuser"; server = "main"; mode = "transaction"; max_size = 1; min_size = 0; initial_size = 0; },'
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

# cq USER SQL [psql args]: psql on the console over the Unix socket, unaligned, ',' separated
cq() {
  local u=$1 sql=$2; shift 2
  timeout -k 2 20 psql -X -A -t -F ',' -w \
    "host=$S_SOCK port=$S_PORT user=$u dbname=pgsluice connect_timeout=10" -c "$sql" "$@" 2>&1
}
# col CSV_LINE N: the Nth field
col() { printf '%s\n' "$1" | cut -d, -f"$2"; }

check_match "SHOW VERSION" "^pgsluice [0-9]" "$(cq ops 'SHOW VERSION')"
check_match "lower case and a trailing ';'" "^pgsluice [0-9]" "$(cq alice '  show   version ; ')"
hdr=$(timeout 20 psql -X -A -F ',' -w "host=$S_SOCK port=$S_PORT user=ops dbname=pgsluice" \
  -c 'SHOW POOLS' 2>&1 | head -1)
check_eq "SHOW POOLS columns" \
  "database,user,cl_active,cl_waiting,cl_idle,sv_active,sv_idle,sv_login,maxwait,maxwait_us,pool_mode,paused,disabled" "$hdr"

# ---- a few sessions: the pool (testdb, trustuser) appears with idle servers
for i in 1 2 3; do sq trustuser testdb 'select 1' > /dev/null; done
pools=$(cq ops 'SHOW POOLS')
line=$(printf '%s\n' "$pools" | grep '^testdb,trustuser,')
note "SHOW POOLS: $line"
check_match "the pool testdb/trustuser is listed" '^testdb,trustuser,' "$line"
check_ge "sv_idle > 0" 1 "$(col "$line" 7)"
check_eq "cl_active 0" 0 "$(col "$line" 3)"
check_eq "pool_mode" transaction "$(col "$line" 11)"

# ---- SHOW STATS grows with pgbench
s1=$(cq ops 'SHOW STATS' | grep '^testdb,scramuser,')
s1=${s1:-testdb,scramuser,0,0,0,0}
out=$(timeout -k 5 120 pgbench -n -h 127.0.0.1 -p "$S_PORT" -U scramuser -S -c 2 -j 2 -t 100 testdb 2>&1)
check_pgbench "pgbench -S -c 2 -t 100" 200 "$out" $?
s2=$(cq ops 'SHOW STATS' | grep '^testdb,scramuser,')
note "SHOW STATS before: $s1; after: $s2"
check_ge "total_xact_count grew by >= 200" 200 $(($(col "$s2" 3) - $(col "$s1" 3)))
check_ge "total_query_count grew by >= 200" 200 $(($(col "$s2" 4) - $(col "$s1" 4)))
check_ge "total_received grew" 1 $(($(col "$s2" 5) - $(col "$s1" 5)))
check_ge "total_sent grew" 1 $(($(col "$s2" 6) - $(col "$s1" 6)))

# ---- SHOW CONFIG, SHOW MODULES
cfg=$(cq ops 'SHOW CONFIG')
check_match "SHOW CONFIG: workers" '^workers,2,no$' "$cfg"
check_match "SHOW CONFIG: admin_database" '^admin_database,pgsluice,' "$cfg"
check_match "SHOW CONFIG: listen" "^listen,\"?127\\.0\\.0\\.1:$S_PORT" "$cfg"
check "SHOW CONFIG: no password" bash -c "! printf '%s' \"\$1\" | grep -qi 'scrampass\|md5pass'" _ "$cfg"
mods=$(cq ops 'SHOW MODULES')
note "SHOW MODULES: $(printf "%s" "$mods" | tr "\n" " ")"
check_match "SHOW MODULES: trust with its ABI and kinds" '^trust,trust,[^,]*,1\.[0-9]+,auth' "$mods"
check_match "SHOW MODULES: tls is a transport" '^tls,tls-openssl,.*transport' "$mods"

# ---- errors
out=$(cq ops 'SHOW NOTHING' -v VERBOSITY=verbose)
check_match "unknown command: 42601" 'ERROR: +42601: invalid command' "$out"
out=$(cq ops 'KILL' -v VERBOSITY=verbose)
check_match "KILL without a database: 42601" 'ERROR: +42601: invalid command' "$out"
out=$(cq ops 'SHOW VERSION; SHOW POOLS' -v VERBOSITY=verbose)
check_match "two commands in one query: 42601" '42601' "$out"
out=$(cq ops '' ; echo "rc=$?")
check_match "an empty query" 'rc=0' "$out"
out=$(cq bob 'SHOW VERSION' -v VERBOSITY=verbose)
check_match "a non-admin: 42501" 'permission denied for the admin console: "bob" is not an admin user' "$out"
out=$(timeout 20 psql -X -At -w -v VERBOSITY=verbose \
  "host=127.0.0.1 port=$S_PORT user=ops dbname=pgsluice sslmode=disable" -c 'SHOW VERSION' 2>&1)
check_match "clear-text TCP: refused" 'the admin console requires an encrypted connection \(TLS or GSS\) over TCP' "$out"
out=$(timeout 20 psql -X -At -w \
  "host=127.0.0.1 port=$S_PORT user=ops dbname=pgsluice sslmode=require" -c 'SHOW VERSION' 2>&1)
check_match "TLS TCP (sslmode=require): works" '^pgsluice [0-9]' "$out"
out=$(timeout 20 python3 - "$S_SOCK/.s.PGSQL.$S_PORT" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
body = b'user\x00ops\x00database\x00pgsluice\x00\x00'
s.sendall(struct.pack('!II', 8 + len(body), 196608) + body)
data = b''
while b'Z\x00\x00\x00\x05I' not in data:
    d = s.recv(4096)
    if not d: break
    data += d
s.sendall(b'P' + struct.pack('!I', 8) + b'\x00\x00\x00\x00')   # Parse: not for the console
rest = b''
while True:
    try: d = s.recv(4096)
    except Exception: break
    if not d: break
    rest += d
print('welcome' if b'server_version' in data else 'no welcome', '08P01' if b'C08P01' in rest else repr(rest[:80]))
EOF
)
check_eq "a Parse message: 08P01 and closed" "welcome 08P01" "$out"
check_match "the log names the commands and users" 'ops@pgsluice .*admin command SHOW POOLS: ok' "$(cat "$S_LOG")"

# ---- RELOAD applies the edited file; a client waiting on a full pool gets in at once
timeout 30 psql -X -At -w "host=127.0.0.1 port=$S_PORT user=trustuser dbname=postgres sslmode=disable" \
  -c 'select pg_sleep(6)' > /dev/null 2>&1 & holder=$!; track $holder
sleep 1
timeout 30 psql -X -At -w "host=127.0.0.1 port=$S_PORT user=trustuser dbname=postgres sslmode=disable" \
  -c "select 'second'" > "$T/second.out" 2>&1 & second=$!; track $second
waiting() { cq ops 'SHOW POOLS' | grep -q '^postgres,trustuser,1,1,'; }
check "max_size = 1: one client active, one waiting (SHOW POOLS)" wait_until 5 waiting
sed -i 's/max_client_conn = 5000;/max_client_conn = 4000;/; s/max_size = 5;/max_size = 7;/g; s/max_size = 1;/max_size = 2;/; s/"ops", "alice"/"ops", "alice", "bob"/' "$S_CONF"
t0=$(now_ms)
check_eq "RELOAD" "RELOAD" "$(cq ops 'RELOAD')"
reloaded() { cq ops 'SHOW CONFIG' | grep -qx 'max_client_conn,4000,yes'; }
check "SHOW CONFIG shows the new max_client_conn" wait_until 10 reloaded
wait_pid "$second" 10
check_eq "max_size 1 -> 2: the waiting client's query ran" second "$(cat "$T/second.out")"
check "... while the first still held its server" kill -0 "$holder"
note "the waiting client finished $(( $(now_ms) - t0 )) ms after RELOAD (the holder sleeps 6 s)"
check_match "the log shows the reload" 'received SIGHUP' "$(cat "$S_LOG")"
check_match "bob is an admin now" '^pgsluice [0-9]' "$(cq bob 'SHOW VERSION')"
check "pgsluice still running" sluice_alive

# ---- SHUTDOWN
check_eq "SHUTDOWN answers" "SHUTDOWN" "$(cq ops 'SHUTDOWN')"
wait_pid "$S_PID" 20; rc=$?
check_eq "the daemon exited with status 0" 0 "$rc"
check_match "after draining" 'received SIGTERM' "$(cat "$S_LOG")"
S_PID=
finish
