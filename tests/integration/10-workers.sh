#!/bin/bash
# 10. workers = 2 serves clients on both workers: 30 sequential psql connections, then the
#     log must have "connection authorized: ... worker=0" and "... worker=1" lines (and one
#     "connection authorized" and one "disconnection" line per connection).
. "$(dirname "$0")/lib.sh"

S_WORKERS=2 conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

n=0
for i in $(seq 1 30); do [ "$(sq trustuser postgres "select $i")" = "$i" ] && n=$((n + 1)); done
check_eq "30 sequential connections served" 30 "$n"
sleep 0.5    # let the last disconnection be logged
auth=$(grep -c 'connection authorized: user=trustuser database=postgres worker=[0-9]' "$S_LOG")
disc=$(grep -Ec 'disconnection: .*user=trustuser database=postgres' "$S_LOG")
w0=$(grep -c 'connection authorized: user=trustuser database=postgres worker=0' "$S_LOG")
w1=$(grep -c 'connection authorized: user=trustuser database=postgres worker=1' "$S_LOG")
note "connection authorized lines: $auth (worker=0: $w0, worker=1: $w1); disconnection lines: $disc"
check_eq "one 'connection authorized' line per connection" 30 "$auth"
check_eq "one 'disconnection' line per connection" 30 "$disc"
check_ge "connections on worker 0" 1 "$w0"
check_ge "connections on worker 1" 1 "$w1"
check "pgsluice still running" sluice_alive
finish
