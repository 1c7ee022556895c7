#!/bin/bash
# 8. CancelRequest: psql runs pg_sleep(30) through pgsluice; SIGINT to psql makes it send a
#    CancelRequest (to pgsluice, which must forward it to the right server); psql must end
#    within a few seconds with "canceling statement due to user request".  Both pool modes.
. "$(dirname "$0")/lib.sh"

sleeping() { [ "$(pgq "select count(*) from pg_stat_activity where query like '%pg_sleep(30)%' and state = 'active' and pid <> pg_backend_pid()")" -ge 1 ]; }
for mode in transaction session; do
  conf_std "$mode" 5 > "$S_CONF"
  sluice_start || { fail "pgsluice did not start ($mode mode)"; continue; }
  # no timeout wrapper: the SIGINT must reach psql itself
  psql -X -At -w "host=127.0.0.1 port=$S_PORT user=scramuser dbname=testdb sslmode=disable gssencmode=disable" \
    -c "select pg_sleep(30)" > "$T/psql.out" 2>&1 &
  p=$!; track "$p"
  if ! wait_until 10 sleeping; then fail "$mode: pg_sleep(30) never became active"; sluice_stop; continue; fi
  sleep 1
  t0=$(now_ms)
  kill -INT "$p"
  wait_pid "$p" 8; rc=$?
  dt=$(( $(now_ms) - t0 ))
  out=$(cat "$T/psql.out")
  note "$mode: psql exit $rc after $dt ms: $out"
  check "$mode: psql ended after SIGINT" test "$rc" != 124
  check_match "$mode: the statement was canceled" "canceling statement due to user request" "$out"
  check_le "$mode: ... within 5 s (ms)" 5000 "$dt"
  stopped() { ! sleeping; }
  check "$mode: the server is no longer running pg_sleep(30)" wait_until 5 stopped
  check_eq "$mode: the pool serves the next client" "after cancel" "$(sq scramuser testdb "select 'after cancel'")"
  check "$mode: pgsluice still running" sluice_alive
  [ "$rc" = 124 ] && stop_pid "$p" 2
  sluice_stop
done
finish
