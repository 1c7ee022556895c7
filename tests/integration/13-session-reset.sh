#!/bin/bash
# 13. Session mode: state set in a session (a SET, a temp table, a prepared statement, a
#     custom GUC) persists within that session; after the client disconnects, the next
#     client - on the same server connection (pool max_size 1, same backend PID) - sees none
#     of it (server_reset_query = "DISCARD ALL").
. "$(dirname "$0")/lib.sh"

S_POOL='server_reset_query = "DISCARD ALL";' conf_std session 1 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

c="host=127.0.0.1 port=$S_PORT user=scramuser dbname=testdb sslmode=disable gssencmode=disable"
out=$(timeout -k 2 20 psql -X -At -w -v ON_ERROR_STOP=1 "$c" \
  -c "set application_name = 'sess13'" \
  -c "set myapp.flag = 'dirty'" \
  -c "create temp table t13 (a int)" \
  -c "insert into t13 values (1), (2), (3)" \
  -c "prepare p13 as select 13" \
  -c "select current_setting('application_name'), current_setting('myapp.flag'), (select count(*) from t13), pg_backend_pid()" \
  -c "execute p13" 2>&1); rc=$?
first=$(printf '%s\n' "$out" | grep -E '^sess13\|' | head -1)
pid1=${first##*|}
check_eq "state persists within the session (exit $rc)" "sess13|dirty|3" "${first%|*}"
check_match "prepared statement usable within the session" "^13$" "$out"

sleep 0.5   # let pgsluice see the disconnection and reset the server
out=$(timeout -k 2 20 psql -X -At -w "$c" \
  -c "select coalesce(current_setting('myapp.flag', true), '<null>'), to_regclass('pg_temp.t13') is null, (select count(*) from pg_prepared_statements), pg_backend_pid(), current_setting('application_name') = 'sess13'" 2>&1)
IFS='|' read -r flag notemp nprep pid2 appname <<< "$out"
note "second client: $out (first backend pid $pid1)"
check_eq "the next client is on the same server connection (backend pid)" "$pid1" "$pid2"
check "the custom GUC was reset (got '$flag')" test "$flag" != dirty
check_eq "the temp table is gone" t "$notemp"
check_eq "no prepared statement left" 0 "$nprep"
check_eq "application_name is not the previous session's" f "$appname"
check "pgsluice still running" sluice_alive
finish
