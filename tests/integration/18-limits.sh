#!/bin/bash
# 18. Limits and timeouts not covered elsewhere:
#     max_client_conn: the connection over the limit gets FATAL 53300 and the others go on;
#     client_idle_timeout: an idle client is told 57P05 and closed;
#     server_lifetime: a server older than it is replaced (another backend pid).
. "$(dirname "$0")/lib.sh"

S_TOP='client_idle_timeout = 1.5; server_lifetime = 1;'
conf_std transaction 5 > "$S_CONF"
sed -i 's/^max_client_conn = 5000;/max_client_conn = 3;/' "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

# ---- max_client_conn = 3: three clients busy, a fourth is refused
pids=()
for i in 1 2 3; do
  sq trustuser postgres "select pg_sleep(1.2)" > "$T/busy$i.out" 2>&1 & pids+=($!); track "$!"
done
sleep 0.5
got=$(sq trustuser postgres "select 'fourth'")
check_match "the 4th client is refused with max_client_conn" "no more connections allowed \(max_client_conn\)" "$got"
for p in "${pids[@]}"; do wait_pid "$p" 10; done
check_eq "the three others completed" "3" "$(cat "$T"/busy*.out | grep -c '^$')"
check_eq "a client is served again once they left" "again" "$(sq trustuser postgres "select 'again'")"

# ---- client_idle_timeout = 1.5 s: a logged-in client that does nothing is closed
out=$(timeout -k 2 20 python3 - "$S_PORT" "$IT_DIR" <<'PY'
import socket, struct, sys, time
sys.path.insert(0, sys.argv[2])
from pgwire import parse_fields, read_message, startup_packet
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(startup_packet("trustuser", "postgres"))
while read_message(s)[0] != b"Z":
    pass
t0 = time.time()
try:
    t, body = read_message(s)
    f = parse_fields(body) if t == b"E" else {}
    print("%s %s %s after %.1f s" % (t.decode(), f.get("C"), f.get("M"), time.time() - t0))
except EOFError:
    print("EOF without an error after %.1f s" % (time.time() - t0))
PY
)
check_match "an idle client gets 57P05 client_idle_timeout" "^E 57P05 client_idle_timeout" "$out"

# ---- server_lifetime = 1 s: the next transaction after it runs on a new server
pid1=$(sq trustuser postgres "select pg_backend_pid()")
sleep 2
pid2=$(sq trustuser postgres "select pg_backend_pid()")
note "backend pids: $pid1 then $pid2"
check "a server past server_lifetime is replaced" test -n "$pid1" -a -n "$pid2" -a "$pid1" != "$pid2"
check "pgsluice still running" sluice_alive
sluice_stop
sanitizer_check
finish
