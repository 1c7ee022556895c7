#!/bin/bash
# 32. The Prometheus endpoint (metrics = { listen = "127.0.0.1:PORT"; }): build_info and the
#   families are there; pgbench -S -c 2 -t 200 shows up in transactions_total and queries_total
#   (>= 400 each) and in the byte counters; auth_total{result="ok"} grows by the number of
#   logins and a wrong password counts as result="fail"; a client waiting for the only server of
#   a max_size = 1 pool shows as clients{state="waiting"} 1 with waiting_max_seconds > 0; idle
#   servers after the load; 404 / 405 / 400 for another path, POST and garbage, and the endpoint
#   still answers; reloads are counted; a scrape during pgbench completes (its time is shown);
#   a second pgsluice whose metrics port is taken does not start.
. "$(dirname "$0")/lib.sh"

M_PORT=$(free_port $((S_PORT + 1 + RANDOM % 300)))
scram_verifier=$(pgq "select rolpassword from pg_authid where rolname = 'scramuser'")
cat > "$T/userlist.txt" <<EOT
"scramuser" "$scram_verifier"
"trustuser" "trustpw"
EOT
chmod 600 "$T/userlist.txt"
S_MODULES="userlist = { path = \"userlist.so\"; file = \"$T/userlist.txt\"; };"
S_AUTH='auth = { default_chain = ( { use = "scram"; control = "required"; } ); };'
S_POOLS_PRE='
  { database = "postgres"; user = "trustuser"; server = "main"; mode = "transaction";
    max_size = 1; min_size = 0; initial_size = 0; },'
S_TOP="metrics = { listen = \"127.0.0.1:$M_PORT\"; };"
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

URL=http://127.0.0.1:$M_PORT
scrape() { curl -s -m 5 "$URL/metrics"; }
# mval TEXT SERIES: the value of one series (exact name and labels), or nothing
mval() { printf '%s\n' "$1" | awk -v k="$2" '$1 == k { print $2; exit }'; }
# delta A B: B - A for integer counters (empty when either is missing)
delta() { [ -n "$1" ] && [ -n "$2" ] && echo $(($2 - $1)); }
P='{database="testdb",user="scramuser"}'

m0=$(scrape)
check_match "GET /metrics answers" '^pgsluice_up 1$' "$m0"
check_match "build_info with the version" '^pgsluice_build_info\{version="[^"]+"\} 1$' "$m0"
check_eq "Content-Type" "text/plain; version=0.0.4; charset=utf-8" \
  "$(curl -s -m 5 -o /dev/null -w '%{content_type}' "$URL/metrics")"
check_eq "a query string is ignored" 200 "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/metrics?x=1")"
nfam=$(printf '%s\n' "$m0" | grep -c '^# TYPE ')
nhelp=$(printf '%s\n' "$m0" | grep -c '^# HELP ')
check_eq "every family has # HELP and # TYPE" "$nfam" "$nhelp"
check_ge "families" 15 "$nfam"

# ---- logins: 3 right, 1 wrong
for i in 1 2 3; do PGPASSWORD=scrampass sq scramuser testdb 'select 1' > /dev/null; done
PGPASSWORD=nope sq scramuser testdb 'select 1' > /dev/null
m1=$(scrape)
ok0=$(mval "$m0" 'pgsluice_auth_total{method="default",result="ok"}'); ok0=${ok0:-0}
fail0=$(mval "$m0" 'pgsluice_auth_total{method="default",result="fail"}'); fail0=${fail0:-0}
check_eq "auth ok grew by the 3 logins" 3 "$(delta "$ok0" "$(mval "$m1" 'pgsluice_auth_total{method="default",result="ok"}')")"
check_eq "a wrong password: auth fail grew by 1" 1 "$(delta "$fail0" "$(mval "$m1" 'pgsluice_auth_total{method="default",result="fail"}')")"
c0=$(mval "$m0" pgsluice_client_connections_total); c1=$(mval "$m1" pgsluice_client_connections_total)
check_eq "client_connections_total grew by 4" 4 "$(delta "$c0" "$c1")"

# ---- pgbench -S -c 2 -t 200
out=$(PGPASSWORD=scrampass timeout -k 5 120 pgbench -n -h 127.0.0.1 -p "$S_PORT" -U scramuser -S -c 2 -j 2 -t 200 testdb 2>&1); rc=$?
check_pgbench "pgbench -S -c 2 -t 200" 400 "$out" "$rc"
m2=$(scrape); printf "%s\n" "$m2" > "$T/scrape-after-pgbench.txt"
tx=$(delta "$(mval "$m1" "pgsluice_transactions_total$P")" "$(mval "$m2" "pgsluice_transactions_total$P")")
q=$(delta "$(mval "$m1" "pgsluice_queries_total$P")" "$(mval "$m2" "pgsluice_queries_total$P")")
check_ge "transactions_total grew by >= 400" 400 "$tx"
check_ge "queries_total grew by >= 400" 400 "$q"
note "pgbench: transactions +$tx, queries +$q, auth ok +$(delta "$(mval "$m1" 'pgsluice_auth_total{method="default",result="ok"}')" "$(mval "$m2" 'pgsluice_auth_total{method="default",result="ok"}')")"
check_ge "bytes_received_total grew" 1 "$(delta "$(mval "$m1" "pgsluice_bytes_received_total$P")" "$(mval "$m2" "pgsluice_bytes_received_total$P")")"
check_ge "bytes_sent_total grew" 1 "$(delta "$(mval "$m1" "pgsluice_bytes_sent_total$P")" "$(mval "$m2" "pgsluice_bytes_sent_total$P")")"
check_ge 'servers{state="idle"} after the load' 1 "$(mval "$m2" 'pgsluice_servers{database="testdb",user="scramuser",state="idle"}')"
check_eq 'servers{state="active"} after the load' 0 "$(mval "$m2" 'pgsluice_servers{database="testdb",user="scramuser",state="active"}')"
check_eq 'clients{state="active"} after the load' 0 "$(mval "$m2" 'pgsluice_clients{database="testdb",user="scramuser",state="active"}')"
check_eq "no server connect errors" 0 "$(mval "$m2" "pgsluice_server_connect_errors_total$P")"

# ---- a waiting client: the pool (postgres, trustuser) has max_size 1
W='{database="postgres",user="trustuser",state="waiting"}'
(PGPASSWORD=trustpw sq trustuser postgres 'select pg_sleep(3)' > "$T/hold.out") & hp=$!; track $hp
sleep 1
(PGPASSWORD=trustpw sq trustuser postgres 'select 42' > "$T/wait.out") & wp=$!; track $wp
waiting_is_1() { [ "$(mval "$(scrape)" "pgsluice_clients$W")" = 1 ]; }
if wait_until 5 waiting_is_1; then
  ok 'clients{state="waiting"} 1 while the only server is busy'
  mw=$(scrape)
  wmax=$(mval "$mw" 'pgsluice_clients_waiting_max_seconds{database="postgres",user="trustuser"}')
  check "waiting_max_seconds > 0 ($wmax)" awk -v v="$wmax" 'BEGIN { exit !(v > 0) }'
  check_eq 'clients{state="active"} 1 (the holder)' 1 "$(mval "$mw" 'pgsluice_clients{database="postgres",user="trustuser",state="active"}')"
  check_eq 'servers{state="active"} 1' 1 "$(mval "$mw" 'pgsluice_servers{database="postgres",user="trustuser",state="active"}')"
else
  fail 'clients{state="waiting"} never showed 1'
fi
wait_pid "$hp" 25; wait_pid "$wp" 25
check_eq "the waiting client got its answer" 42 "$(cat "$T/wait.out")"
m3=$(scrape)
check_eq "no client waits any more" 0 "$(mval "$m3" "pgsluice_clients$W")"
check_eq "waiting_max_seconds back to 0" 0.000 "$(mval "$m3" 'pgsluice_clients_waiting_max_seconds{database="postgres",user="trustuser"}')"

# ---- HTTP: other paths, methods, garbage
check_eq "another path: 404" 404 "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/other")"
check_eq "POST: 405" 405 "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -d x=1 "$URL/metrics")"
check_eq "HEAD: 200" 200 "$(curl -s -m 5 -o /dev/null -I -w '%{http_code}' "$URL/metrics")"
garbage=$(timeout 10 python3 - "$M_PORT" <<'PY'
import socket, sys, time
out = []
for payload in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
                b"hello there\r\n\r\n", b"GET /metrics HTTP/9.9\r\n\r\n",
                b"GET " + b"A" * 9000 + b"\r\n"):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    t = time.time()
    try:
        s.sendall(payload)
        data = s.recv(200)
    except OSError:
        data = b""
    s.close()
    out.append((data.split(b"\r\n")[0].decode(errors="replace") or "closed") + " in %.1fs" % (time.time() - t))
print("; ".join(out))
PY
)
note "garbage answers: $garbage"
check_eq "binary garbage, text garbage, bad version: 400 each, at once" 3 \
  "$(printf '%s' "$garbage" | grep -o 'HTTP/1.1 400 Bad Request in 0\.[0-9]s' | wc -l)"
check_match "a request line past 8 KiB: 400 or 431" 'HTTP/1.1 4(00|31)' "$garbage"
# a client that says nothing: answered 408 (or closed) after 2 s, and the endpoint lives on
silent=$(timeout 10 python3 -c "
import socket, sys, time
s = socket.create_connection(('127.0.0.1', $M_PORT), timeout=8); t = time.time()
d = s.recv(100); print((d.split(b'\r\n')[0].decode() or 'closed') + ' after %.1fs' % (time.time() - t))")
check_match "a silent client: 408 after about 2 s" '^HTTP/1.1 408 Request Timeout after 2\.' "$silent"
check_match "the endpoint still answers" '^pgsluice_up 1$' "$(scrape)"

# ---- reloads
r0=$(mval "$(scrape)" 'pgsluice_reloads_total{result="ok"}')
kill -HUP "$S_PID"
reload_counted() { [ "$(mval "$(scrape)" 'pgsluice_reloads_total{result="ok"}')" = $((r0 + 1)) ]; }
check "a reload counts as ok" wait_until 5 reload_counted
cp "$S_CONF" "$T/good.conf"; echo 'bogus_setting = 1;' >> "$S_CONF"
kill -HUP "$S_PID"
reload_failed() { [ "$(mval "$(scrape)" 'pgsluice_reloads_total{result="failed"}')" = 1 ]; }
check "a failed reload counts as failed" wait_until 5 reload_failed
cp "$T/good.conf" "$S_CONF"

# ---- a scrape while pgbench runs
(PGPASSWORD=scrampass timeout -k 5 120 pgbench -n -h 127.0.0.1 -p "$S_PORT" -U scramuser -S -c 4 -j 2 -T 4 testdb > "$T/bench2.out" 2>&1) & bp=$!; track $bp
sleep 1.5
t=$(curl -s -m 5 -o "$T/during.txt" -w '%{time_total}' "$URL/metrics")
check_match "a scrape during pgbench completes" '^pgsluice_up 1$' "$(cat "$T/during.txt")"
note "scrape time under load: ${t}s ($(wc -c < "$T/during.txt") bytes)"
wait "$bp"
check_match "that pgbench had no failures" 'number of failed transactions: 0 ' "$(cat "$T/bench2.out")"

# ---- start-up fails when the metrics port is taken (by the daemon running now)
P2=$(free_port $((M_PORT + 1 + RANDOM % 200)))
sed "s/port = $S_PORT;/port = $P2;/g; s|$S_SOCK|$T/sock2|" "$S_CONF" > "$T/second.conf"
mkdir -p "$T/sock2"
second=$(timeout -k 2 15 "$PGSLUICE" -c "$T/second.conf" 2>&1 < /dev/null); rc=$?
check "a second pgsluice with the same metrics port exits non-zero ($rc)" test "$rc" != 0 -a "$rc" != 124
check_match "and says why" "metrics: could not listen on 127.0.0.1 port $M_PORT: Address already in use" "$second"

check "pgsluice still running" sluice_alive
sluice_stop; rc=$?
check_eq "clean stop (the endpoint's thread joined)" 0 "$rc"
finish
