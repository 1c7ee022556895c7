#!/bin/bash
# 6. A client killed with SIGKILL in the middle of a query frees its server: pool max_size 1,
#    a psql running pg_sleep(6) is killed -9 after it started, and a new client is served
#    well before the sleep would have ended.  In transaction mode and in session mode.
. "$(dirname "$0")/lib.sh"

sleeping() { [ "$(pgq "select count(*) from pg_stat_activity where query like '%pg_sleep(6)%' and state = 'active' and pid <> pg_backend_pid()")" -ge 1 ]; }
for mode in transaction session; do
  conf_std "$mode" 1 > "$S_CONF"
  sluice_start || { fail "pgsluice did not start ($mode mode)"; continue; }
  # no timeout wrapper: $! must be psql itself
  psql -X -At -w "host=127.0.0.1 port=$S_PORT user=scramuser dbname=testdb sslmode=disable gssencmode=disable" \
    -c "select pg_sleep(6)" > "$T/victim.out" 2>&1 &
  victim=$!; track "$victim"
  if ! wait_until 5 sleeping; then fail "$mode: the victim's pg_sleep(6) never became active"; sluice_stop; continue; fi
  t_start=$(now_ms)
  kill -KILL "$victim"; wait "$victim" 2>/dev/null
  out=$(sq scramuser testdb "select 'next client served'"); rc=$?
  dt=$(( $(now_ms) - t_start ))
  check_eq "$mode: a new client is served after the kill" "0 next client served" "$rc $out"
  check_le "$mode: ... within 4 s of the kill, before pg_sleep(6) would end (ms)" 4000 "$dt"
  check "$mode: pgsluice still running" sluice_alive
  sluice_stop
done
finish
