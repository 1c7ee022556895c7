#!/bin/bash
# 5. query_wait_timeout: pool max_size 1, query_wait_timeout 1 s.  One client holds the only
#    server with pg_sleep(4); a second client's query fails within a bounded time with an
#    error naming query_wait_timeout; the first client's query still completes; afterwards
#    the pool serves again.
. "$(dirname "$0")/lib.sh"

S_TOP="query_wait_timeout = 1;" conf_std transaction 1 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }

sq scramuser testdb "select 'slept' from pg_sleep(4)" > "$T/a.out" 2>&1 &
a=$!; track "$a"
sleeping() { [ "$(pgq "select count(*) from pg_stat_activity where query like '%pg_sleep(4)%' and state = 'active' and pid <> pg_backend_pid()")" = 1 ]; }
check "client A holds the server (pg_sleep(4) active)" wait_until 5 sleeping

t0=$(now_ms)
out=$(sq scramuser testdb "select 'B got in'"); rc=$?
dt=$(( $(now_ms) - t0 ))
note "client B: exit $rc after $dt ms: $out"
check "client B's query fails" test "$rc" != 0
check_match "client B's error names query_wait_timeout" "query_wait_timeout" "$out"
check_match "client B's error is a FATAL ErrorResponse" "FATAL" "$out"
check_ge "client B waited about query_wait_timeout (ms)" 800 "$dt"
check_le "client B was refused within 3.5 s (ms)" 3500 "$dt"

wait_pid "$a" 10; rc=$?
check_eq "client A's pg_sleep(4) completed" "0 slept" "$rc $(tr -d '\n' < "$T/a.out")"
check_eq "the pool serves again afterwards" "C" "$(sq scramuser testdb "select 'C'")"
check "pgsluice still running" sluice_alive
finish
