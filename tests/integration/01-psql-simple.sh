#!/bin/bash
# 1. psql (simple query protocol) through pgsluice over TCP 127.0.0.1, TCP ::1 and the Unix
#    socket, as trustuser (backend trust), scramuser (backend SCRAM, pool password scrampass)
#    and md5user (backend MD5, md5pass); result values are checked, plus a multi-statement
#    query, an error that leaves the session usable, a 1 MB value and 20,000 rows.
. "$(dirname "$0")/lib.sh"

conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

for host in 127.0.0.1 ::1 "$S_SOCK"; do
  for u in trustuser scramuser md5user; do
    db=postgres; [ "$u" = scramuser ] && db=testdb
    got=$(sqh "$host" "$u" "$db" "select current_user, current_database(), 6 * 7, inet_server_port(), 'a' || 'b'")
    check_eq "$u via $host" "$u|$db|42|$PGPORT|ab" "$got"
  done
done

# the server really sees these sessions come from pgsluice (its TCP connection to 127.0.0.1)
got=$(sq scramuser testdb "select client_addr from pg_stat_activity where pid = pg_backend_pid()")
check_eq "server side client_addr is pgsluice's loopback connection" "127.0.0.1" "$got"

# several statements in one Query message
got=$(sq trustuser postgres "select 1; select 2; select 'three'")
check_eq "three statements in one Query" "1
2
three" "$(printf '%s' "$got" | tr -d '\r')"

# an error inside a session: the session stays usable (psql goes on after the error)
got=$(timeout -k 2 20 psql -X -At -w "host=127.0.0.1 port=$S_PORT user=scramuser dbname=testdb sslmode=disable gssencmode=disable" \
      -c "select 1/0" -c "select 'after error'" 2>&1)
check_match "division by zero is reported" "ERROR: +division by zero" "$got"
check_match "the session goes on after the error" "^after error$" "$got"

# a 1 MB value and 20,000 rows stream through intact
want=$(head -c 1000000 /dev/zero | tr '\0' x | md5sum | cut -d' ' -f1)
got=$(timeout -k 2 30 psql -X -At -w "host=127.0.0.1 port=$S_PORT user=trustuser dbname=postgres sslmode=disable gssencmode=disable" \
      -c "select repeat('x', 1000000)" | tr -d '\n' | md5sum | cut -d' ' -f1)
check_eq "1 MB value (md5 of the text)" "$want" "$got"
got=$(timeout -k 2 30 psql -X -At -w "host=127.0.0.1 port=$S_PORT user=scramuser dbname=testdb sslmode=disable gssencmode=disable" \
      -c "select g, md5(g::text) from generate_series(1, 20000) g" | awk -F'|' 'NF == 2 && length($2) == 32 { n++; s += $1 } END { print n + 0, s + 0 }')
check_eq "20,000 rows (count, sum)" "20000 200010000" "$got"

check "pgsluice still running" sluice_alive
finish
