#!/bin/bash
# 17. initial_size and min_size of an exact (database, user) pool: servers are opened at start
#     without any client; server_idle_timeout closes idle servers down to min_size, never below.
. "$(dirname "$0")/lib.sh"

S_POOLS_PRE='
  { database = "testdb"; user = "scramuser"; server = "main"; mode = "transaction";
    max_size = 5; min_size = 2; initial_size = 3; password = "scrampass"; },'
S_TOP='server_idle_timeout = 1;'
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }
conns_are() { [ "$(server_conns scramuser)" = "$1" ]; }   # re-evaluated at each try

check "initial_size: 3 servers open with no client (<= 10 s)" wait_until 10 conns_are 3
# idle for longer than server_idle_timeout: down to min_size and no further
check "server_idle_timeout closes idle servers down to min_size 2 (<= 10 s)" \
  wait_until 10 conns_are 2
sleep 2.5
check_eq "min_size is kept after further idle time" "2" "$(server_conns scramuser)"
check_eq "the pool serves" "scramuser|testdb" "$(sq scramuser testdb 'select current_user, current_database()')"
check "pgsluice still running" sluice_alive
sluice_stop
sanitizer_check
finish
