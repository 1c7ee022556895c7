#!/bin/bash
# 25. The authquery module's PostgreSQL client (aq_pg.c) and cache, through the Check unit test
#   tests/unit/check_authquery with this suite's cluster: verifiers returned as pg_authid holds
#   them, unknown/NOLOGIN/expired/superuser roles and injection-shaped names answered as
#   unknown, a wrong auth password, malformed answers (2 rows, 2 columns, over-long, broken
#   verifier), a server that never answers and a stuck query (both end at the timeout), a
#   connection killed by the server, concurrent fetches over 2 connections.
. "$(dirname "$0")/lib.sh"

BIN=${PGSLUICE_CHECK_AUTHQUERY:-$(dirname "$PGSLUICE")/tests/unit/check_authquery}
[ -x "$BIN" ] || { fail "no $BIN (build it with: make tests/unit/check_authquery)"; finish; }
out=$(PGSLUICE_TEST_PGPORT=$PGPORT PGSLUICE_TEST_PGHOST=127.0.0.1 PGSLUICE_TEST_PGSOCKET=$PG_SOCKET_DIR \
  CK_DEFAULT_TIMEOUT=120 timeout -k 5 300 "$BIN" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks' | sed 's/^/  ..   /'
check_eq "check_authquery against PostgreSQL 15 exits 0" 0 "$rc"
check_match "check_authquery ran its PostgreSQL cases (no failure)" '^100%: Checks: [0-9]+, Failures: 0, Errors: 0' "$out"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 20 | sed 's/^/    | /'
finish
