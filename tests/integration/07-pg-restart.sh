#!/bin/bash
# 7. PostgreSQL restarted under load: pgbench runs through pgsluice while the cluster is
#    restarted (pg_ctl restart -m fast).  Clients may get errors then; afterwards new
#    queries through pgsluice succeed (bounded retry), pgsluice is still alive, and a fresh
#    pgbench run has no failure (no dead server connection is handed out).
. "$(dirname "$0")/lib.sh"

conf_std transaction 10 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

timeout -k 5 60 pgbench -n -h 127.0.0.1 -p "$S_PORT" -U scramuser -S -c 4 -j 2 -T 8 testdb > "$T/load.out" 2>&1 &
load=$!; track "$load"
sleep 2
check "pg_ctl restart -m fast" timeout 90 "$IT_LIB/pg-ctl.sh" "$IT_BASE" restart
wait_pid "$load" 40; rc=$?
note "pgbench during the restart: exit $rc; $(grep -Ec 'aborted|error|FATAL' "$T/load.out") error lines; processed $(pgbench_field "$(cat "$T/load.out")" processed)"
check "pgsluice survived the restart" sluice_alive

served() { [ "$(sq scramuser testdb "select 'back'")" = back ]; }
check "a query through pgsluice succeeds again (retried <= 20 s)" wait_until 20 served
n=0
for _ in 1 2 3 4 5 6 7 8 9 10; do [ "$(sq scramuser testdb "select 1")" = 1 ] && n=$((n + 1)); done
check_eq "10 sequential queries after recovery" 10 "$n"
out=$(timeout -k 5 120 pgbench -n -h 127.0.0.1 -p "$S_PORT" -U scramuser -S -c 8 -j 2 -t 100 testdb 2>&1); rc=$?
check_pgbench "pgbench -S -c 8 -t 100 after the restart" 800 "$out" "$rc"
check "pgsluice still running" sluice_alive
finish
