#!/bin/bash
# 2. Extended query protocol (Parse/Bind/Describe/Execute/Sync) through pgsluice: pgbench
#    -M extended with a script whose results are checked in pgbench itself (\gset + \if: a
#    wrong value runs SELECT 1/0, which aborts the client and fails the run), in transaction
#    mode; built-in -S with -M extended; and -M prepared (named statements) in session mode.
. "$(dirname "$0")/lib.sh"

cat > "$T/check.sql" <<'SQL'
\set a random(1, 100000)
\set b random(-1000, 1000)
SELECT :a::int + :b::int AS s, :a::bigint * 2 AS d, length(repeat('x', :a::int % 5000)) AS l, :b::text AS t \gset
\if :s != :a + :b
  SELECT 1/0 AS wrong_sum;
\elif :d != 2 * :a
  SELECT 1/0 AS wrong_product;
\elif :l != :a % 5000
  SELECT 1/0 AS wrong_length;
\elif :t != :b
  SELECT 1/0 AS wrong_text;
\endif
SELECT aid AS got_aid FROM pgbench_accounts WHERE aid = :a::int \gset
\if :got_aid != :a
  SELECT 1/0 AS wrong_row;
\endif
SQL

run_pgbench() {   # run_pgbench NAME EXPECTED args...
  local name=$1 want=$2 out rc; shift 2
  out=$(PGPASSWORD=unused timeout -k 5 120 pgbench -n -h 127.0.0.1 -p "$S_PORT" -U scramuser "$@" testdb 2>&1); rc=$?
  check_pgbench "$name" "$want" "$out" "$rc"
}

conf_std transaction 5 > "$S_CONF"
if sluice_start; then
  run_pgbench "checked script, -M extended, transaction mode" 800 -M extended -c 4 -j 2 -t 200 -f "$T/check.sql"
  run_pgbench "pgbench -S -M extended, transaction mode" 2000 -S -M extended -c 4 -j 2 -t 500
  check "pgsluice still running" sluice_alive
  sluice_stop
else
  fail "pgsluice did not start (transaction mode)"
fi

conf_std session 5 > "$S_CONF"
if sluice_start; then
  run_pgbench "checked script, -M prepared, session mode" 800 -M prepared -c 4 -j 2 -t 200 -f "$T/check.sql"
  run_pgbench "checked script, -M extended, session mode" 800 -M extended -c 4 -j 2 -t 200 -f "$T/check.sql"
  check "pgsluice still running" sluice_alive
else
  fail "pgsluice did not start (session mode)"
fi
finish
