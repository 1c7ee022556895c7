#!/bin/bash
# 9. Malformed and hostile startup packets (pgwire.py, raw sockets): lengths < 8 and > 10000,
#    garbage protocol versions, a packet without its terminating NUL, truncated packets,
#    random bytes...; each gets an ErrorResponse or a closed connection within 5 s, never a
#    hang.  pgsluice stays up and serves psql.  100 half-open connections that send nothing
#    do not keep a real client from being served.
. "$(dirname "$0")/lib.sh"

conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

py_checks python3 "$IT_DIR/pgwire.py" malformed 127.0.0.1 "$S_PORT" trustuser postgres
check "pgsluice still running after the malformed packets" sluice_alive
check_eq "psql works after the malformed packets" "still serving" "$(sq trustuser postgres "select 'still serving'")"

py_checks python3 "$IT_DIR/pgwire.py" fragmented 127.0.0.1 "$S_PORT" trustuser postgres

py_checks python3 "$IT_DIR/pgwire.py" halfopen 127.0.0.1 "$S_PORT" 100 -- \
  psql -X -At -w "host=127.0.0.1 port=$S_PORT user=scramuser dbname=testdb sslmode=disable gssencmode=disable connect_timeout=10" \
  -c "select 'served'"
check "pgsluice still running after the half-open connections" sluice_alive
check_eq "psql works after the half-open connections closed" "served again" "$(sq scramuser testdb "select 'served again'")"
finish
