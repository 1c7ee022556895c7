#!/bin/bash
# bench/run.sh [options]: pgsluice against Debian's PgBouncer and direct PostgreSQL, side by side
# in one run on this machine (see doc/benchmarks.md for the method and for figures).
#
# Brings up its own throwaway PostgreSQL 15 (tests/lib/pg-up.sh, pgbench -i -s 10), PgBouncer
# (tests/lib/pgbouncer-up.sh: auth_type=trust, transaction pooling, default_pool_size 20) and
# pgsluice (trust chain, one transaction-mode pool of max_size 20), all on 127.0.0.1, then runs
# interleaved rounds (A B A B: pgsluice then PgBouncer in odd rounds, PgBouncer then pgsluice in
# even rounds, direct last) of
#   select    pgbench -S                  (simple query protocol)
#   extended  pgbench -S -M extended
#   connect   pgbench -S -C               (a new connection per transaction)
#   tpcb      pgbench (TPC-B-like default script)
# with 16 clients, 2 threads, and prints per run tps / average latency, per round the ratio
# pgsluice/PgBouncer, and a summary table (mean over the rounds).  Tears everything down (by PID).
#
# Logins: both poolers accept the client without a password (trust) and log into PostgreSQL as
# scramuser with the password scrampass (SCRAM-SHA-256, only when they open a server
# connection).  Direct runs log in as scramuser with SCRAM on every connection (what the server
# requires), so "connect" direct includes pgbench's own PBKDF2 per connection.
#
# Options:
#   -b DIR      pgsluice build directory (default: build/, built with tools/build.sh if missing)
#   -r N        rounds (default 2)
#   -T SECONDS  duration of each run (default 10)
#   -c N        pgbench clients (default 16); -j N threads (default 2)
#   -w N        pgsluice workers (default 0 = one per CPU, as shipped; -w 1 = one thread, like PgBouncer)
#   -k KINDS    comma-separated subset of select,extended,connect,tpcb (default: all four)
#   --callgrind also measure instructions per transaction with valgrind --tool=callgrind for
#               pgsluice and PgBouncer: pgbench -S -c4 -j1 -t 2000 and -t 20000, difference of
#               the daemon's total instructions / 72,000 transactions (DESIGN.md section 8)
#   --syscalls  also count system calls per transaction the same way, with strace -f -c
#               attached to the running daemon (-t 2000 vs -t 20000)
#   --idle N    also measure memory per idle client: N clients log in and stay idle; the
#               growth of the daemon's VmRSS divided by N (tests/integration/pgwire.py idle)
#   --auth scram  clients authenticate to both poolers with SCRAM-SHA-256 against the verifier
#               PostgreSQL stores (PgBouncer: auth_type = scram-sha-256 and that verifier in its
#               auth_file; pgsluice: the userlist module with the same file, chain scram), so
#               "connect" compares full SCRAM logins; default: trust
#   --tls       clients speak TLS to both poolers (and to PostgreSQL directly): the same
#               certificate and key (tests/lib/certs.sh, EC P-256) for pgsluice's tls-openssl and
#               PgBouncer's client_tls_*, pgbench with sslmode=require, OpenSSL's default TLS 1.3
#               suites on both; both poolers talk to PostgreSQL without TLS
#   --keep      keep the work directory (logs) afterwards
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIB=$ROOT/tests/lib
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
BUILD=$ROOT/build; ROUNDS=2; DUR=10; CLIENTS=16; THREADS=2; WORKERS=0
KINDS=select,extended,connect,tpcb; CALLGRIND=0; SYSCALLS=0; IDLE=0; KEEP=0; AUTH=trust; TLS=0
while [ $# -gt 0 ]; do
  case $1 in
    -b) BUILD=$(cd "$2" && pwd) || exit 2; shift 2 ;;
    -r) ROUNDS=$2; shift 2 ;;
    -T) DUR=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    -j) THREADS=$2; shift 2 ;;
    -w) WORKERS=$2; shift 2 ;;
    -k) KINDS=$2; shift 2 ;;
    --callgrind) CALLGRIND=1; shift ;;
    --syscalls) SYSCALLS=1; shift ;;
    --idle) IDLE=$2; shift 2 ;;
    --auth) AUTH=$2; shift 2 ;;
    --tls) TLS=1; shift ;;
    --keep) KEEP=1; shift ;;
    *) sed -n '2,40p' "$0"; exit 2 ;;
  esac
done
case $AUTH in trust|scram) ;; *) echo "--auth must be trust or scram" >&2; exit 2 ;; esac
if [ ! -x "$BUILD/pgsluice" ]; then
  bash "$ROOT/tools/build.sh" "$BUILD" || exit 1
fi
extra=()
[ "$CALLGRIND" = 1 ] && ! command -v valgrind > /dev/null && extra+=(valgrind)
[ "$SYSCALLS" = 1 ] && ! command -v strace > /dev/null && extra+=(strace)
if [ ${#extra[@]} -gt 0 ]; then
  # shellcheck disable=SC1091  # tools/deps.sh (checked on its own)
  . "$ROOT/tools/deps.sh"; deps_install "${extra[@]}" || exit 1
fi
export PGSSLMODE=disable PGGSSENCMODE=disable PGCONNECT_TIMEOUT=10
unset KRB5CCNAME PGHOST PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS

B=$(mktemp -d /tmp/pgsluice-bench.XXXXXX)
SPID=
teardown() {
  trap - EXIT INT TERM
  sluice_down
  "$LIB/pgbouncer-down.sh" "$B" > /dev/null 2>&1
  "$LIB/pg-down.sh" "$B" > /dev/null 2>&1
  if [ "$KEEP" = 1 ]; then echo "kept $B"; else rm -rf "$B"; fi
}
trap teardown EXIT
trap 'exit 130' INT TERM

# sluice_up [VALGRIND_OUT]: start pgsluice (optionally under callgrind) on $SPORT
sluice_up() {
  SPORT=$(free_port $((28432 + RANDOM % 2000)))
  local mods='trust = { path = "trust.so"; }; scram = { path = "scram.so"; };' chain=trust
  if [ "$AUTH" = scram ]; then
    # the verifier PostgreSQL stores, as PgBouncer's auth_file holds it (mode 600)
    ( umask 077; psql -X -At -h "$PG_SOCKET_DIR" -p "$PGPORT" -U postgres -d postgres -c "select format('\"%s\" \"%s\"', rolname, rolpassword) from pg_authid where rolname = 'scramuser'" > "$B/sluice-userlist.txt" )
    mods="$mods userlist = { path = \"userlist.so\"; file = \"$B/sluice-userlist.txt\"; };"
    chain=scram
  fi
  [ "$TLS" = 1 ] && mods="$mods tls = { path = \"tls-openssl.so\"; cert = \"$B/certs/server.crt\"; key = \"$B/certs/server.key\"; };"
  cat > "$B/pgsluice.conf" <<CONF
listen = ( { host = "127.0.0.1"; port = $SPORT; } );
unix_socket_dir = "$B";
workers = $WORKERS;
max_client_conn = 5000;
log = { level = "info"; connections = true; disconnections = true; };
module_path = "$BUILD/.libs";
modules = { $mods };
servers = ( { name = "main"; host = "127.0.0.1"; port = $PGPORT; sslmode = "disable"; } );
pools = (
  { database = "*"; user = "*"; server = "main"; mode = "transaction";
    max_size = 20; min_size = 0; initial_size = 0; password = "scrampass"; }
);
auth = { default_chain = ( { use = "$chain"; control = "required"; } ); };
CONF
  local pre=()
  [ -n "${1:-}" ] && pre=(valgrind -q --tool=callgrind "--callgrind-out-file=$1")
  "${pre[@]}" "$BUILD/pgsluice" -c "$B/pgsluice.conf" < /dev/null >> "$B/pgsluice.log" 2>&1 &
  SPID=$!
  sluice_wait_listen
}

echo "== setup ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
"$LIB/pg-up.sh" "$B" > "$B/pg-up.out" 2>&1 || { cat "$B/pg-up.out"; exit 1; }
grep '^PostgreSQL' "$B/pg-up.out"
# shellcheck disable=SC1091
. "$B/pg/pg.env"
: "${PGPORT:?}"
t0=$(date +%s)
PGPASSWORD=scrampass pgbench -i -q -s 10 -h 127.0.0.1 -p "$PGPORT" -U scramuser testdb > "$B/init.out" 2>&1 \
  || { cat "$B/init.out"; exit 1; }
echo "pgbench -i -s 10: $(( $(date +%s) - t0 )) s"
pgb_auth=(PGB_AUTH_TYPE=trust)
if [ "$TLS" = 1 ]; then
  CERT_KEY_ALG=ec "$LIB/certs.sh" "$B" > /dev/null || exit 1
  pgb_auth+=(PGB_CLIENT_TLS_CERT="$B/certs/server.crt" PGB_CLIENT_TLS_KEY="$B/certs/server.key")
fi
[ "$AUTH" = scram ] && pgb_auth[0]=PGB_AUTH_TYPE=scram-sha-256 && pgb_auth+=(PGB_USERLIST=secrets)
env "${pgb_auth[@]}" PGB_POOL_MODE=transaction PGB_POOL_SIZE=20 PGB_MAX_CLIENT_CONN=1000 \
  "$LIB/pgbouncer-up.sh" "$B" > "$B/pgbouncer-up.out" 2>&1 || { cat "$B/pgbouncer-up.out"; exit 1; }
grep '^pgbouncer' "$B/pgbouncer-up.out"
# shellcheck disable=SC1091
. "$B/pgbouncer/pgbouncer.env"
: "${PGB_PORT:?}"
sluice_up || exit 1
echo "$("$BUILD/pgsluice" --version | head -1) pid $SPID on 127.0.0.1:$SPORT, workers = $WORKERS, transaction pool max_size 20, client auth $AUTH, TLS $([ "$TLS" = 1 ] && echo on || echo off) ($BUILD)"

# bench TARGET KIND [pgbench -t args]: one pgbench run; sets R_TPS R_LAT R_CONN R_FAILED
bench() {
  local target=$1 kind=$2 port pw=() args=(); shift 2
  case $target in
    pgsluice) port=$SPORT ;;
    pgbouncer) port=$PGB_PORT ;;
    direct) port=$PGPORT ;;
  esac
  [ "$target" = direct ] || [ "$AUTH" = scram ] && pw=(PGPASSWORD=scrampass)
  [ "$TLS" = 1 ] && pw+=(PGSSLMODE=require)
  case $kind in
    select) args=(-S) ;;
    extended) args=(-S -M extended) ;;
    connect) args=(-S -C) ;;
    tpcb) args=() ;;
  esac
  env "${pw[@]}" timeout $((DUR + 120)) pgbench -n "${args[@]}" -c "$CLIENTS" -j "$THREADS" -T "$DUR" \
    -h 127.0.0.1 -p "$port" -U scramuser testdb > "$B/pgbench.out" 2>&1
  pgbench_parse "$B/pgbench.out"
}

# warm-up: fill both pools (20 server connections each) and the caches
for t in pgsluice pgbouncer direct; do DUR=3 bench "$t" select; done

declare -A SUM
IFS=, read -r -a kinds <<< "$KINDS"
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r/$ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))"
  printf '  %-9s %-10s %11s %9s %9s %7s\n' kind target tps "lat ms" "conn ms" failed
  if [ $((r % 2)) = 1 ]; then order=(pgsluice pgbouncer direct); else order=(pgbouncer pgsluice direct); fi
  for k in "${kinds[@]}"; do
    declare -A TPS=()
    for t in "${order[@]}"; do
      bench "$t" "$k"
      TPS[$t]=$R_TPS
      SUM[$k,$t]=$(awk -v a="${SUM[$k,$t]:-0}" -v b="$R_TPS" 'BEGIN { print a + b }')
      printf '  %-9s %-10s %11.1f %9s %9s %7s\n' "$k" "$t" "$R_TPS" "${R_LAT:--}" "${R_CONN:--}" "${R_FAILED:-?}"
    done
    awk -v a="${TPS[pgsluice]}" -v b="${TPS[pgbouncer]}" -v k="$k" \
      'BEGIN { printf "  %-9s pgsluice/PgBouncer = %s\n", k, (b > 0 ? sprintf("%.3f", a / b) : "-") }'
  done
done

echo "== summary: mean tps over $ROUNDS rounds, $CLIENTS clients, $THREADS threads, ${DUR} s runs, scale 10, $(nproc) cores"
head="| |"; sep="|---|"
for k in "${kinds[@]}"; do
  case $k in select) h="-S simple" ;; extended) h="-S extended" ;; connect) h="-S -C" ;; tpcb) h="TPC-B" ;; esac
  head="$head $h |"; sep="$sep---|"
done
echo "$head"; echo "$sep"
for t in direct pgbouncer pgsluice; do
  case $t in direct) line="| direct PostgreSQL |" ;; pgbouncer) line="| PgBouncer $(pgbouncer --version | head -1 | awk '{print $2}'), transaction |" ;; pgsluice) line="| pgsluice, transaction, workers = $WORKERS |" ;; esac
  for k in "${kinds[@]}"; do
    line="$line $(awk -v s="${SUM[$k,$t]}" -v n="$ROUNDS" 'BEGIN { printf "%.0f", s / n }') |"
  done
  echo "$line"
done
line="| pgsluice / PgBouncer |"
for k in "${kinds[@]}"; do
  line="$line $(awk -v a="${SUM[$k,pgsluice]}" -v b="${SUM[$k,pgbouncer]}" 'BEGIN { printf "%s", (b > 0 ? sprintf("%.2f", a / b) : "-") }') |"
done
echo "$line"

if [ "$IDLE" -gt 0 ]; then
  echo "== memory per idle client ($IDLE clients log in as scramuser and stay idle)"
  for target in pgsluice pgbouncer; do
    if [ "$target" = pgsluice ]; then port=$SPORT; pid=$SPID; else port=$PGB_PORT; pid=$(cat "$B/pgbouncer/pgbouncer.pid"); fi
    printf '  %-10s' "$target"
    timeout 300 python3 "$ROOT/tests/integration/pgwire.py" idle 127.0.0.1 "$port" "$IDLE" scramuser testdb "$pid" \
      | sed 's/^  ok   //; s/^  FAIL /FAILED: /'
  done
fi

if [ "$SYSCALLS" = 1 ]; then
  echo "== system calls per transaction (strace -f -c attached; pgbench -S -c 4 -j 1 -t 2000 vs -t 20000)"
  st_run() {   # st_run PID PORT TXNS_PER_CLIENT -> total system calls of the daemon during the run
    local f=$B/strace-$1-$3.out st
    strace -f -c -o "$f" -p "$1" 2> /dev/null &
    st=$!
    sleep 1
    timeout 900 pgbench -n -S -c 4 -j 1 -t "$3" -h 127.0.0.1 -p "$2" -U scramuser testdb > "$B/st-pgbench.out" 2>&1 \
      || tail -n 5 "$B/st-pgbench.out" >&2
    kill -INT "$st"; wait "$st" 2>/dev/null
    awk '$NF == "total" { print $4 }' "$f"
  }
  for target in pgsluice pgbouncer; do
    if [ "$target" = pgsluice ]; then port=$SPORT; pid=$SPID; else port=$PGB_PORT; pid=$(cat "$B/pgbouncer/pgbouncer.pid"); fi
    small=$(st_run "$pid" "$port" 2000); big=$(st_run "$pid" "$port" 20000)
    awk -v t="$target" -v a="$small" -v b="$big" 'BEGIN {
      if (a > 0 && b > a) printf "  %-10s %10d system calls (-t 2000) %10d (-t 20000)  => %.2f system calls / transaction\n", t, a, b, (b - a) / 72000;
      else printf "  %-10s measurement failed (%s, %s)\n", t, a, b }'
  done
fi

if [ "$CALLGRIND" = 1 ]; then
  echo "== instructions per transaction (valgrind --tool=callgrind; pgbench -S -c 4 -j 1 -t 2000 vs -t 20000)"
  # cg_total FILE: total instructions (Ir) of a callgrind output file
  cg_total() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }
  cg_run() {   # cg_run TARGET TXNS_PER_CLIENT -> prints the daemon's total instructions
    local target=$1 t=$2 f port
    if [ "$target" = pgsluice ]; then
      f=$B/cg-pgsluice-$t.out
      sluice_up "$f" > /dev/null || return 1; port=$SPORT
    else
      f=$B/pgbouncer/cg-pgbouncer-$t.out
      PGB_EXEC_PREFIX="valgrind -q --tool=callgrind --callgrind-out-file=$f" PGB_AUTH_TYPE=trust \
        PGB_POOL_MODE=transaction PGB_POOL_SIZE=20 "$LIB/pgbouncer-up.sh" "$B" > /dev/null || return 1
      # shellcheck disable=SC1091
      . "$B/pgbouncer/pgbouncer.env"; port=$PGB_PORT
    fi
    timeout 1800 pgbench -n -S -c 4 -j 1 -t "$t" -h 127.0.0.1 -p "$port" -U scramuser testdb > "$B/cg-pgbench.out" 2>&1 \
      || { tail -n 5 "$B/cg-pgbench.out" >&2; }
    if [ "$target" = pgsluice ]; then sluice_down; else "$LIB/pgbouncer-down.sh" "$B" --keep > /dev/null; fi
    cg_total "$f"
    if [ "$target" = pgbouncer ]; then rm -rf "$B/pgbouncer"; fi
  }
  sluice_down
  "$LIB/pgbouncer-down.sh" "$B" > /dev/null
  for target in pgsluice pgbouncer; do
    small=$(cg_run "$target" 2000); big=$(cg_run "$target" 20000)
    awk -v t="$target" -v a="$small" -v b="$big" 'BEGIN {
      if (a > 0 && b > a) printf "  %-10s %15.0f instructions (-t 2000) %15.0f (-t 20000)  => %.0f instructions / transaction\n", t, a, b, (b - a) / 72000;
      else printf "  %-10s measurement failed (%s, %s)\n", t, a, b }'
  done
fi
