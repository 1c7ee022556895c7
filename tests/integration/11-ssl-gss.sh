#!/bin/bash
# 11. SSLRequest and GSSENCRequest are answered 'N': psql with sslmode=prefer works (plain),
#     sslmode=require fails with "server does not support SSL"; on raw sockets (pgwire.py)
#     both requests get 'N' and the same connection then logs in and runs a query; psql
#     with gssencmode=require fails.
. "$(dirname "$0")/lib.sh"

conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

ps() {   # ps CONNINFO-EXTRA
  timeout -k 2 20 psql -X -At -w "host=127.0.0.1 port=$S_PORT user=trustuser dbname=postgres connect_timeout=10 $1" -c "select 'plain ok'" 2>&1
}
check_eq "sslmode=prefer gssencmode=disable" "plain ok" "$(ps "sslmode=prefer gssencmode=disable")"
check_eq "sslmode=allow gssencmode=prefer" "plain ok" "$(ps "sslmode=allow gssencmode=prefer")"
out=$(ps "sslmode=require gssencmode=disable"); rc=$?
check "sslmode=require fails" test "$rc" != 0
check_match "sslmode=require: 'server does not support SSL'" "server does not support SSL" "$out"
out=$(ps "sslmode=disable gssencmode=require"); rc=$?
note "gssencmode=require: $out"
check "gssencmode=require fails" test "$rc" != 0
check_match "gssencmode=require: GSSAPI encryption refused" "GSSAPI encryption" "$out"

py_checks python3 "$IT_DIR/pgwire.py" negotiate 127.0.0.1 "$S_PORT" ssl trustuser postgres
py_checks python3 "$IT_DIR/pgwire.py" negotiate 127.0.0.1 "$S_PORT" gss trustuser postgres
py_checks python3 "$IT_DIR/pgwire.py" negotiate ::1 "$S_PORT" ssl scramuser testdb
check "pgsluice still running" sluice_alive
finish
