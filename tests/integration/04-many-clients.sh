#!/bin/bash
# 4. 200 concurrent clients on a pool of max_size 10 (transaction mode): all served, none
#    failed, and the server never saw more than 10 connections of that user (sampled every
#    0.1 s in pg_stat_activity while pgbench runs).
. "$(dirname "$0")/lib.sh"

conf_std transaction 10 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

no_conns() { [ "$(server_conns scramuser)" = 0 ]; }
check "no scramuser server connection before the run (waited <= 10 s)" wait_until 10 no_conns

timeout -k 5 180 pgbench -n -h 127.0.0.1 -p "$S_PORT" -U scramuser -S -c 200 -j 2 -t 100 testdb > "$T/pgbench.out" 2>&1 &
bench=$!; track "$bench"
max=0; samples=0
while kill -0 "$bench" 2>/dev/null; do
  n=$(server_conns scramuser)
  if [[ $n =~ ^[0-9]+$ ]]; then samples=$((samples + 1)); [ "$n" -gt "$max" ] && max=$n; fi
  sleep 0.05
done
wait "$bench"; rc=$?
check_pgbench "pgbench -S -c 200 -j 2 -t 100 on a pool of 10" 20000 "$(cat "$T/pgbench.out")" "$rc"
note "$samples samples of pg_stat_activity during the run, highest count $max"
check_ge "samples taken during the run" 3 "$samples"
check_ge "the sampler saw pgsluice's server connections" 1 "$max"
check_le "server connections of scramuser never above max_size" 10 "$max"
after=$(server_conns scramuser)
check_le "server connections after the run" 10 "$after"
check "pgsluice still running" sluice_alive
finish
