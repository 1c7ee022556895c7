#!/bin/bash
# run.sh [-b BUILD_DIR] [-k] [TEST ...]
# pgsluice's integration suite: brings up ONE throwaway PostgreSQL 15 cluster (tests/lib/pg-up.sh,
# in a mktemp -d base, as the OS user pgtest when run as root), runs `pgbench -i` once (testdb,
# as scramuser), then every tests/integration/NN-*.sh (or those named: "05", "05-query-wait",
# ...), each under a time limit, each starting its own pgsluice on its own free ports on
# loopback.  Ends with the line "N passed, N failed" and exits 1 if a test failed.  Everything
# it started is stopped by PID (pg_ctl for the cluster) on exit, even on ^C.
#   -b DIR   use DIR/pgsluice and DIR/.libs (default: $PGSLUICE / $PGSLUICE_MODULE_DIR if set,
#            else the first of build-sanitizers/, build/ and the source tree that has one)
#   -k       keep the work directory (logs, configs) instead of removing it
# Env: IT_TIMEOUT (seconds per test, default 300), ASAN_OPTIONS/UBSAN_OPTIONS (defaults below)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LIB=$ROOT/tests/lib
KEEP=0; BUILD=
while getopts "b:kh" o; do
  case $o in
    b) BUILD=$(cd "$OPTARG" && pwd) || exit 2 ;;
    k) KEEP=1 ;;
    *) sed -n '2,14p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

if [ -n "$BUILD" ]; then
  PGSLUICE=$BUILD/pgsluice; PGSLUICE_MODULE_DIR=$BUILD/.libs
elif [ -z "${PGSLUICE:-}" ]; then
  for d in "$ROOT/build-sanitizers" "$ROOT/build" "$ROOT"; do
    [ -x "$d/pgsluice" ] && { PGSLUICE=$d/pgsluice; PGSLUICE_MODULE_DIR=${PGSLUICE_MODULE_DIR:-$d/.libs}; break; }
  done
fi
if [ -z "${PGSLUICE:-}" ] || [ ! -x "$PGSLUICE" ]; then
  echo "no pgsluice binary: build first (tools/test.sh does), or pass -b BUILD_DIR / set PGSLUICE" >&2
  echo "0 passed, 1 failed"; exit 1
fi
PGSLUICE_MODULE_DIR=${PGSLUICE_MODULE_DIR:-$(dirname "$PGSLUICE")/.libs}
export PGSLUICE PGSLUICE_MODULE_DIR
# sanitizer builds: report and stop at the first error; leak checking is off (a daemon that is
# stopped by a signal holds its memory on purpose)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:halt_on_error=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

missing=
for c in psql pgbench python3 ss timeout setpriv /usr/lib/postgresql/15/bin/initdb; do
  command -v "$c" > /dev/null || missing="$missing $c"
done
[ -z "$missing" ] || { echo "missing:$missing (tools/deps.sh installs them)" >&2; echo "0 passed, 1 failed"; exit 1; }

tests=()
for f in "$HERE"/[0-9][0-9]-*.sh; do
  name=$(basename "$f" .sh)
  if [ $# -eq 0 ]; then tests+=("$f"); continue; fi
  for want in "$@"; do [[ $name == "$want"* ]] && { tests+=("$f"); break; }; done
done
[ ${#tests[@]} -gt 0 ] || { echo "no test matches: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

IT_BASE=$(mktemp -d /tmp/pgsluice-it.XXXXXX)
export IT_BASE IT_LIB=$LIB
teardown() {
  local f pid
  trap - EXIT INT TERM
  for f in "$IT_BASE"/t/*/pgsluice.pid; do     # a daemon a killed test left behind
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null && grep -q pgsluice "/proc/$pid/cmdline" 2>/dev/null; then kill -KILL "$pid"; fi
  done
  "$LIB/pg-down.sh" "$IT_BASE" > /dev/null 2>&1
  if [ "$KEEP" = 1 ]; then echo "kept $IT_BASE"; else rm -rf "$IT_BASE"; fi
}
trap teardown EXIT
trap 'exit 130' INT TERM

echo "pgsluice: $PGSLUICE ($("$PGSLUICE" --version 2>&1 | head -1))"
echo "modules:  $PGSLUICE_MODULE_DIR"
echo "work dir: $IT_BASE"
if ! "$LIB/pg-up.sh" "$IT_BASE" > "$IT_BASE/pg-up.out" 2>&1; then
  cat "$IT_BASE/pg-up.out"; tail -n 20 "$IT_BASE/pg/server.log" 2>/dev/null
  echo "could not start PostgreSQL"; echo "0 passed, 1 failed"; exit 1
fi
grep -E '^(PostgreSQL|initdb) ' "$IT_BASE/pg-up.out"
# shellcheck disable=SC1091
. "$IT_BASE/pg/pg.env"
export PGPORT PG_SOCKET_DIR PGDATA PG_OSUSER PG_LOG
if ! PGPASSWORD=scrampass PGSSLMODE=disable PGGSSENCMODE=disable timeout 120 \
     pgbench -i -q -s 1 -h 127.0.0.1 -p "$PGPORT" -U scramuser testdb > "$IT_BASE/pgbench-init.out" 2>&1; then
  cat "$IT_BASE/pgbench-init.out"; echo "pgbench -i failed"; echo "0 passed, 1 failed"; exit 1
fi
echo "pgbench -i -s 1 done (testdb, owner scramuser)"

pass=0; failed=0; failed_names=()
for f in "${tests[@]}"; do
  name=$(basename "$f" .sh)
  export IT_TMP=$IT_BASE/t/$name
  mkdir -p "$IT_TMP"
  echo "=== $name"
  t0=$(date +%s%N)
  # timeout puts the test in its own process group and signals all of it on expiry
  timeout -k 10 "${IT_TIMEOUT:-300}" bash "$f" < /dev/null; rc=$?
  secs=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  if [ -s "$IT_TMP/pgsluice.pid" ]; then      # the test was killed before its own cleanup
    pid=$(cat "$IT_TMP/pgsluice.pid")
    if kill -0 "$pid" 2>/dev/null && grep -q pgsluice "/proc/$pid/cmdline" 2>/dev/null; then kill -KILL "$pid"; fi
  fi
  if [ "$rc" = 0 ]; then
    pass=$((pass + 1)); echo "PASS $name (${secs} s)"
  else
    failed=$((failed + 1)); failed_names+=("$name")
    [ "$rc" = 124 ] && echo "  test timed out after ${IT_TIMEOUT:-300} s"
    echo "FAIL $name (exit $rc, ${secs} s)"
  fi
  # a test may have restarted or stopped the cluster: the next one needs it up
  if ! "$LIB/pg-ctl.sh" "$IT_BASE" status > /dev/null 2>&1; then
    echo "  (PostgreSQL was down after $name: starting it again)"
    "$LIB/pg-ctl.sh" "$IT_BASE" start > /dev/null 2>&1 || echo "  could not restart PostgreSQL"
  fi
done

echo "==="
[ "$failed" = 0 ] || echo "failed: ${failed_names[*]}"
echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
