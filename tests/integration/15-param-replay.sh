#!/bin/bash
# 15. ParameterStatus values are kept per server and replayed to a client that gets a server
#     whose values differ from what it was told (transaction mode): see paramstatus.py.
. "$(dirname "$0")/lib.sh"

S_WORKERS=1   # one worker: the idle list order (first in, first out) makes the test exact
conf_std transaction 2 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; exit; }
out=$(timeout -k 2 60 python3 "$IT_DIR/paramstatus.py" 127.0.0.1 "$S_PORT" trustuser postgres 2>&1)
printf '%s\n' "$out"
N_OK=$((N_OK + $(printf '%s\n' "$out" | grep -c '^  ok ')))
N_FAIL=$((N_FAIL + $(printf '%s\n' "$out" | grep -c '^  FAIL ')))
check_le "never more than max_size server connections" 2 "$(server_conns trustuser)"
check "pgsluice still running" sluice_alive
sluice_stop
sanitizer_check
finish
