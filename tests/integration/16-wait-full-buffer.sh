#!/bin/bash
# 16. A client that sends more than one read buffer (16 KiB) while it waits for a server
#     (pool max_size 1, the only server busy) stops being read until it gets one, then is
#     read again to the end: a 200 kB query and a 1 MB COPY IN both complete.
. "$(dirname "$0")/lib.sh"

conf_std transaction 1 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

python3 -c "print(\"select length('\" + 'x' * 200000 + \"')\")" > "$T/big.sql"
sq trustuser postgres "select pg_sleep(2)" > /dev/null & busy=$!; track "$busy"
sleep 0.5
got=$(timeout -k 2 20 psql -X -At -w "host=127.0.0.1 port=$S_PORT user=trustuser dbname=postgres" -f "$T/big.sql" 2>&1)
check_eq "200 kB query sent while waiting for the busy server" "200000" "$got"
wait_pid "$busy" 10

sq scramuser testdb "create table if not exists it16 (v text); truncate it16" > /dev/null
sq scramuser testdb "select pg_sleep(2)" > /dev/null & busy=$!; track "$busy"
sleep 0.5
got=$(python3 -c "
import sys
for i in range(20000): sys.stdout.write('row %06d %s\n' % (i, 'y' * 39))" |
      timeout -k 2 20 psql -X -At -w "host=127.0.0.1 port=$S_PORT user=scramuser dbname=testdb" \
        -c "copy it16 from stdin" -c "select count(*), sum(length(v)) from it16" 2>&1 | tail -1)
check_eq "1 MB COPY IN sent while waiting for the busy server" "20000|1000000" "$got"
wait_pid "$busy" 10
sq scramuser testdb "drop table it16" > /dev/null
check "pgsluice still running" sluice_alive
sluice_stop
sanitizer_check
finish
