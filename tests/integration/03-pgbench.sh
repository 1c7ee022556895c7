#!/bin/bash
# 3. pgbench -S (select only) and TPC-B (the default script) through pgsluice, in session
#    mode and in transaction mode: every transaction processed, none failed.
. "$(dirname "$0")/lib.sh"

for mode in session transaction; do
  conf_std "$mode" 10 > "$S_CONF"
  sluice_start || { fail "pgsluice did not start ($mode mode)"; continue; }
  out=$(timeout -k 5 120 pgbench -n -h 127.0.0.1 -p "$S_PORT" -U scramuser -S -c 8 -j 2 -t 500 testdb 2>&1); rc=$?
  check_pgbench "pgbench -S -c 8 -t 500, $mode mode" 4000 "$out" "$rc"
  out=$(timeout -k 5 180 pgbench -n -h 127.0.0.1 -p "$S_PORT" -U scramuser -c 8 -j 2 -t 100 testdb 2>&1); rc=$?
  check_pgbench "pgbench TPC-B -c 8 -t 100, $mode mode" 800 "$out" "$rc"
  check "pgsluice still running ($mode mode)" sluice_alive
  sluice_stop
done
finish
