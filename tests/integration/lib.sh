#!/bin/bash
# lib.sh: sourced by every tests/integration/[0-9]*.sh test.  run.sh exports:
#   IT_TMP           this test's own work directory
#   PGSLUICE         the daemon binary under test
#   PGSLUICE_MODULE_DIR  where trust.so, scram.so, ... are (the build's .libs or the install dir)
#   IT_LIB           tests/lib (pg-ctl.sh ...)   IT_BASE: the cluster's base (IT_BASE/pg)
#   PGPORT PG_SOCKET_DIR PGDATA PG_OSUSER PG_LOG   from pg-up.sh's pg.env
# A test makes checks with check/check_eq/check_match/ok/fail and ends with `finish`, which
# exits 1 if a check failed or none was made.  Every wait is bounded; every process the test
# starts is stopped by PID when it exits (trap).  Traffic stays on 127.0.0.1 / ::1 / Unix sockets.
# shellcheck disable=SC2034   # variables here are used by the tests that source this file
set -uo pipefail

: "${IT_TMP:?run the tests through tests/integration/run.sh}" "${PGSLUICE:?}" "${PGSLUICE_MODULE_DIR:?}"
: "${PGPORT:?}" "${PG_SOCKET_DIR:?}" "${IT_LIB:?}" "${IT_BASE:?}"
IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$IT_TMP
mkdir -p "$T"

# Clients: no TLS or GSS negotiation unless a test asks for it on the connection string, no
# Kerberos cache from the environment, bounded connection attempts, no password prompts.
export PGSSLMODE=disable PGGSSENCMODE=disable PGCONNECT_TIMEOUT=10
unset KRB5CCNAME PGHOST PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS
export KRB5_CONFIG=/dev/null

N_OK=0; N_FAIL=0
ok()   { N_OK=$((N_OK + 1)); echo "  ok   $*"; }
fail() { N_FAIL=$((N_FAIL + 1)); echo "  FAIL $*"; }
note() { echo "  ..   $*"; }
# check NAME CMD...: the command must exit 0
check() { local name=$1; shift; if "$@"; then ok "$name"; else fail "$name (exit $?: $*)"; fi; }
# check_eq NAME WANT GOT
check_eq() { if [ "$2" = "$3" ]; then ok "$1: $3"; else fail "$1: want '$2', got '$3'"; fi; }
# check_match NAME ERE TEXT: TEXT must match the extended regular expression
check_match() {
  if printf '%s\n' "$3" | grep -Eq -- "$2"; then ok "$1"; else fail "$1: /$2/ not in: $(printf '%s' "$3" | head -c 600)"; fi
}
# check_le NAME MAX VALUE / check_ge NAME MIN VALUE (integers)
check_le() { if [ -n "$3" ] && [ "$3" -le "$2" ] 2>/dev/null; then ok "$1: $3 <= $2"; else fail "$1: '$3' not <= $2"; fi; }
check_ge() { if [ -n "$3" ] && [ "$3" -ge "$2" ] 2>/dev/null; then ok "$1: $3 >= $2"; else fail "$1: '$3' not >= $2"; fi; }

now_ms() { date +%s%3N; }

# ---- processes started by this test: stopped by PID on exit ------------------------------
BG_PIDS=()
track() { BG_PIDS+=("$1"); }
stop_pid() {   # stop_pid PID [SECONDS]: TERM, bounded wait, KILL
  local pid=$1 n=$((${2:-5} * 10))
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  while [ "$n" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  return 0
}
# wait_pid PID SECONDS: wait for a child to end; returns its exit status, or 124 on timeout
wait_pid() {
  local pid=$1 n=$(($2 * 10))
  while [ "$n" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
  if kill -0 "$pid" 2>/dev/null; then return 124; fi
  wait "$pid" 2>/dev/null
}
# wait_until SECONDS CMD...: retry CMD every 0.2 s until it succeeds (0) or time runs out (1)
wait_until() {
  local n=$(($1 * 5)); shift
  while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
  return 1
}

# ---- ports -------------------------------------------------------------------------------
# free_port START: first port from START up that no socket uses in any state (TIME-WAIT
# included); test ports stay below the ephemeral range 32768-60999
port_used() { ss -Hantu "sport = :$1" | grep -q .; }
free_port() {
  local p=$1
  while port_used "$p"; do p=$((p + 1)); done
  [ "$p" -lt 32768 ] || { echo "no free port below 32768" >&2; return 1; }
  echo "$p"
}

# ---- pgsluice ------------------------------------------------------------------------------
S_PORT=$(free_port $((27432 + RANDOM % 4000))) # the test's pgsluice listens here on 127.0.0.1, ::1 and the socket
S_SOCK=$T/sock                # unix_socket_dir: socket $S_SOCK/.s.PGSQL.$S_PORT
S_CONF=$T/pgsluice.conf
S_LOG=$T/pgsluice.log
S_PID=
mkdir -p "$S_SOCK"

# conf_std MODE MAX_SIZE > FILE: the standard test configuration.  Pools: scramuser (backend
# SCRAM, password scrampass), md5user (backend MD5, md5pass), every other user (trustuser:
# backend trust).  Frontend: trust.  Variables that change it:
#   S_WORKERS (2)   S_TOP (extra top-level settings)   S_POOL (extra settings in every pool)
#   S_LISTEN (the whole listen list)   S_POOLS_PRE (pool entries put before the standard ones,
#   each ending with a comma)   S_MODULES (extra module instances, each ending with ';')
#   S_AUTH (replaces the whole `auth = {...};` line, e.g. with chains and an hba default)
#   S_SERVER (extra settings of the server "main")   S_SERVERS (more servers, each starting
#   with a comma)
conf_std() {
  local mode=${1:-transaction} max=${2:-20}
  local p="server = \"main\"; mode = \"$mode\"; max_size = $max; min_size = 0; initial_size = 0; ${S_POOL:-}"
  local listen="( { host = \"127.0.0.1\"; port = $S_PORT; }, { host = \"::1\"; port = $S_PORT; } )"
  local auth='auth = { default_chain = ( { use = "trust"; control = "required"; } ); };'
  [ -n "${S_AUTH:-}" ] && auth=$S_AUTH
  cat <<CONF
# written by tests/integration/lib.sh conf_std for $(basename "$T")
listen = ${S_LISTEN:-$listen};
unix_socket_dir = "$S_SOCK";
workers = ${S_WORKERS:-2};
max_client_conn = 5000;
log = { level = "info"; connections = true; disconnections = true; };
module_path = "$PGSLUICE_MODULE_DIR";
modules = {
  trust = { path = "trust.so"; };
  reject = { path = "reject.so"; };
  scram = { path = "scram.so"; };
  md5 = { path = "md5.so"; };
  password = { path = "password.so"; };
  ${S_MODULES:-}
};
servers = ( { name = "main"; host = "127.0.0.1"; port = $PGPORT; ${S_SERVER:-} }${S_SERVERS:-} );
pools = (${S_POOLS_PRE:-}
  { database = "*"; user = "scramuser"; $p password = "scrampass"; },
  { database = "*"; user = "md5user"; $p password = "md5pass"; },
  { database = "*"; user = "*"; $p }
);
$auth
${S_TOP:-}
CONF
}

# sluice_start: run the daemon on $S_CONF in the background (stderr+stdout -> $S_LOG), wait
# (<= 30 s) until it listens on 127.0.0.1:$S_PORT.  Returns 1 (and shows the log) if it does not.
# pgsluice binds with SO_REUSEPORT, so a port that another process of the same user took in
# the meantime would be shared silently (the kernel spreads connections over both): if any
# listener on the port is not ours, move to another free port (rewriting the config's
# "port = $S_PORT;") and start again.
sluice_start() {
  local attempt
  for attempt in 1 2 3; do
    sluice_start_once || return 1
    local others
    others=$(ss -Hlntp "sport = :$S_PORT" | grep -o 'pid=[0-9]*' | sort -u | grep -vx "pid=$S_PID")
    [ -z "$others" ] && return 0
    echo "  port $S_PORT is shared with another process ($others): moving"
    sluice_stop KILL 5
    local old=$S_PORT
    S_PORT=$(free_port $((old + 1 + RANDOM % 200)))
    sed -i "s/port = $old;/port = $S_PORT;/g" "$S_CONF"
  done
  echo "  could not find a port of our own"; return 1
}
sluice_start_once() {
  : > "$S_LOG"
  "$PGSLUICE" -c "$S_CONF" < /dev/null >> "$S_LOG" 2>&1 &
  S_PID=$!
  echo "$S_PID" > "$T/pgsluice.pid"      # run.sh stops leftovers by this PID
  local n=300
  while [ "$n" -gt 0 ]; do
    if ! kill -0 "$S_PID" 2>/dev/null; then
      wait "$S_PID" 2>/dev/null; local rc=$?
      echo "  pgsluice exited with status $rc during start-up; log:"; tail -n 30 "$S_LOG" | sed 's/^/    | /'
      S_PID=; return 1
    fi
    ss -Hlnt "sport = :$S_PORT" | grep -q 127.0.0.1 && return 0
    sleep 0.1; n=$((n - 1))
  done
  echo "  pgsluice did not listen on 127.0.0.1:$S_PORT within 30 s; log:"; tail -n 30 "$S_LOG" | sed 's/^/    | /'
  return 1
}
sluice_alive() { [ -n "$S_PID" ] && kill -0 "$S_PID" 2>/dev/null; }
# sluice_stop [SIGNAL] [SECONDS]: SIGINT (fast stop) by default; KILL after SECONDS (10).
# Returns the daemon's exit status (or 124 if it had to be killed).
sluice_stop() {
  local sig=${1:-INT} secs=${2:-10} rc=0
  [ -n "$S_PID" ] || return 0
  if kill -0 "$S_PID" 2>/dev/null; then
    kill "-$sig" "$S_PID" 2>/dev/null
    wait_pid "$S_PID" "$secs"; rc=$?
    if [ "$rc" = 124 ]; then kill -KILL "$S_PID" 2>/dev/null; wait "$S_PID" 2>/dev/null; fi
  else
    wait "$S_PID" 2>/dev/null; rc=$?
  fi
  S_PID=; rm -f "$T/pgsluice.pid"
  return "$rc"
}
# sanitizer_check: the daemon's log must hold no AddressSanitizer/UBSan report
sanitizer_check() {
  if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$S_LOG" 2>/dev/null; then
    fail "sanitizer report in $S_LOG:"
    grep -E -A 12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$S_LOG" | head -40 | sed 's/^/    | /'
  fi
}

# ---- clients -------------------------------------------------------------------------------
# sq USER DB SQL [psql args...]: one psql through pgsluice on 127.0.0.1 (timeout 20 s); prints
# the unaligned tuples-only result; stderr is kept too (2>&1)
sq() {
  local u=$1 d=$2 sql=$3; shift 3
  timeout -k 2 20 psql -X -At -w -v ON_ERROR_STOP=1 \
    "host=127.0.0.1 port=$S_PORT user=$u dbname=$d sslmode=disable gssencmode=disable connect_timeout=10" \
    -c "$sql" "$@" 2>&1
}
# sqh HOST USER DB SQL: the same through another host (::1, or the Unix socket directory)
sqh() {
  local h=$1 u=$2 d=$3 sql=$4
  timeout -k 2 20 psql -X -At -w -v ON_ERROR_STOP=1 \
    "host=$h port=$S_PORT user=$u dbname=$d sslmode=disable gssencmode=disable connect_timeout=10" \
    -c "$sql" 2>&1
}
# pgq SQL: directly on the cluster as the superuser (Unix socket), bypassing pgsluice
pgq() {
  timeout -k 2 20 psql -X -At -w -h "$PG_SOCKET_DIR" -p "$PGPORT" -U postgres -d postgres -c "$1" 2>&1
}
# server_conns USER: backends of USER on the cluster (what pgsluice holds for that user)
server_conns() {
  pgq "select count(*) from pg_stat_activity where usename = '$1' and backend_type = 'client backend'"
}

# pgbench_field OUTPUT NAME: processed | failed | tps | latency | aborted
pgbench_field() {
  case $2 in
    processed) printf '%s\n' "$1" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' | head -1 ;;
    failed)    printf '%s\n' "$1" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' | head -1 ;;
    tps)       printf '%s\n' "$1" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1 ;;
    latency)   printf '%s\n' "$1" | sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' | head -1 ;;
    aborted)   printf '%s\n' "$1" | grep -c 'aborted' ;;
  esac
}
# check_pgbench NAME EXPECTED_PROCESSED OUTPUT STATUS: all transactions done, none failed
check_pgbench() {
  local name=$1 want=$2 out=$3 rc=$4
  local processed failed
  processed=$(pgbench_field "$out" processed); failed=$(pgbench_field "$out" failed)
  if [ "$rc" = 0 ] && [ "$processed" = "$want" ] && [ "$failed" = 0 ]; then
    ok "$name: $processed/$want transactions, 0 failed, tps $(pgbench_field "$out" tps)"
  else
    fail "$name: exit $rc, processed '$processed' of $want, failed '$failed'"
    printf '%s\n' "$out" | grep -Ev '^(pgbench \(|starting vacuum|transaction type|scaling factor|query mode|number of (clients|threads)|maximum number)' \
      | tail -n 15 | sed 's/^    /  /; s/^/    | /'
  fi
}

# py_checks CMD...: run a helper that prints '  ok   ...' / '  FAIL ...' lines (pgwire.py) and
# count them here; a helper that fails without printing a FAIL line is one failure
py_checks() {
  local out rc n_ok n_fail
  out=$(timeout -k 2 "${PY_TIMEOUT:-120}" "$@" 2>&1); rc=$?
  printf '%s\n' "$out"
  n_ok=$(printf '%s\n' "$out" | grep -c '^  ok   ')
  n_fail=$(printf '%s\n' "$out" | grep -c '^  FAIL ')
  N_OK=$((N_OK + n_ok)); N_FAIL=$((N_FAIL + n_fail))
  if [ "$rc" != 0 ] && [ "$n_fail" = 0 ]; then fail "$(basename "$2") exited $rc"; fi
}

# ---- end of test -----------------------------------------------------------------------------
cleanup() {
  local p
  for p in "${BG_PIDS[@]}"; do stop_pid "$p" 2; done
  if [ -n "$S_PID" ]; then sluice_stop INT 10 >/dev/null; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# finish: stop the daemon, look for sanitizer reports, show the log's tail on failure, exit
finish() {
  cleanup
  sanitizer_check
  if [ "$N_FAIL" -gt 0 ] && [ -s "$S_LOG" ]; then
    echo "  --- last lines of $S_LOG"; tail -n 25 "$S_LOG" | sed 's/^/    | /'
  fi
  if [ "$N_OK" = 0 ] && [ "$N_FAIL" = 0 ]; then echo "  FAIL no check was made"; exit 1; fi
  echo "  ($N_OK ok, $N_FAIL failed)"
  [ "$N_FAIL" = 0 ]
}
