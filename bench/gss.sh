#!/bin/bash
# bench/gss.sh [options]: what GSS encryption costs through pgsluice, against plain TCP and TLS on
# the same pgsluice, in one run on this machine (doc/kerberos.md describes the gss module).
#
# Brings up, all on 127.0.0.1 and in one mktemp -d base:
#   - a throwaway MIT Kerberos realm EXAMPLE.TEST (tests/lib/kdc-up.sh, KDC port from 18500 up):
#     user alice (password alicepass, kinit'ed into the realm's cache), services
#     postgres/localhost and postgres/127.0.0.1 (one keytab)
#   - a PostgreSQL 15 (tests/lib/pg-up.sh in the same base), pgbench -i -s 10
#   - ONE pgsluice with the tls-openssl module (EC P-256 certificate from tests/lib/certs.sh) and
#     the gss module (keytab = a root-owned mode 0600 copy of the realm's postgres.keytab), frontend
#     auth trust for every client, one transaction-mode pool of max_size 20 that logs into
#     PostgreSQL as scramuser / scrampass (SCRAM) over plain TCP
# then runs interleaved rounds of
#   select    pgbench -S          (simple query protocol)
#   connect   pgbench -S -C       (a new connection, and so a new handshake, per transaction)
# through pgsluice three ways, the order rotating each round (plain TLS GSS, TLS GSS plain, ...):
#   plain     sslmode=disable gssencmode=disable
#   tls       sslmode=require gssencmode=disable
#   gss       gssencmode=require sslmode=disable, KRB5CCNAME = alice's ticket cache (pgbench's user
#             stays scramuser: trust does not look at the principal)
# with 16 clients, 2 threads, and prints per run tps / average latency / average connection time /
# failed transactions, per round the ratios GSS/plain and GSS/TLS, and a summary table (mean tps
# over the rounds).  Everything it started is stopped by PID on exit, ^C included.
# No PgBouncer here: it answers GSSENCRequest with 'N'.
#
# Every process gets KRB5_CONFIG = the throwaway realm's krb5.conf: /etc/krb5.conf is never read.
#
# Options:
#   -b DIR      pgsluice build directory (default: build/, built with tools/build.sh if missing)
#   -r N        rounds (default 2)
#   -T SECONDS  duration of each run (default 10)
#   -c N        pgbench clients (default 16); -j N threads (default 2)
#   -w N        pgsluice workers (default 0 = one per CPU)
#   -k KINDS    comma-separated subset of select,extended,connect,tpcb (default select,connect)
#   --keep      keep the work directory (logs) afterwards
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIB=$ROOT/tests/lib
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
BUILD=$ROOT/build; ROUNDS=2; DUR=10; CLIENTS=16; THREADS=2; WORKERS=0
KINDS=select,connect; KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    -b) BUILD=$(cd "$2" && pwd) || exit 2; shift 2 ;;
    -r) ROUNDS=$2; shift 2 ;;
    -T) DUR=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    -j) THREADS=$2; shift 2 ;;
    -w) WORKERS=$2; shift 2 ;;
    -k) KINDS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) sed -n '2,36p' "$0"; exit 2 ;;
  esac
done
for n in "$ROUNDS" "$DUR" "$CLIENTS" "$THREADS" "$WORKERS"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "not a number: $n" >&2; exit 2; }
done
if [ "$ROUNDS" -lt 1 ] || [ "$DUR" -lt 1 ]; then echo "-r and -T must be at least 1" >&2; exit 2; fi
IFS=, read -r -a kinds <<< "$KINDS"
for k in "${kinds[@]}"; do
  case $k in select|extended|connect|tpcb) ;; *) echo "unknown kind $k (-k)" >&2; exit 2 ;; esac
done
if [ ! -x "$BUILD/pgsluice" ]; then
  bash "$ROOT/tools/build.sh" "$BUILD" || exit 1
fi
for m in trust scram tls-openssl gss; do
  [ -e "$BUILD/.libs/$m.so" ] || { echo "$BUILD/.libs/$m.so is missing (build the $m module)" >&2; exit 1; }
done
for c in krb5kdc kdb5_util kadmin.local kinit pgbench psql ss; do
  command -v "$c" > /dev/null || { echo "missing: $c (krb5-kdc, krb5-user, postgresql-client)" >&2; exit 1; }
done

# Clients negotiate nothing unless a run asks for it; no Kerberos settings from the caller.  Until
# the realm exists, libkrb5 reads no configuration at all (never /etc/krb5.conf).
export PGSSLMODE=disable PGGSSENCMODE=disable PGCONNECT_TIMEOUT=10 KRB5_CONFIG=/dev/null
unset KRB5CCNAME KRB5_KTNAME KRB5_CLIENT_KTNAME KRB5_TRACE PGHOST PGUSER PGDATABASE PGPASSWORD \
  PGSERVICE PGOPTIONS

B=$(mktemp -d /tmp/pgsluice-gssbench.XXXXXX)
SPID=; BPID=
teardown() {
  trap - EXIT INT TERM
  if [ -n "$BPID" ] && kill -0 "$BPID" 2>/dev/null; then
    kill -TERM "$BPID" 2>/dev/null   # timeout(1) passes it on to pgbench
    for _ in $(seq 1 50); do kill -0 "$BPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$BPID" 2>/dev/null
    wait "$BPID" 2>/dev/null
  fi
  sluice_down
  "$LIB/pg-down.sh" "$B" > /dev/null 2>&1
  "$LIB/kdc-down.sh" "$B" > /dev/null 2>&1
  if [ "$KEEP" = 1 ]; then echo "kept $B"; else rm -rf "$B"; fi
}
trap teardown EXIT
trap 'exit 130' INT TERM

# sluice_up: start pgsluice on $SPORT with the tls and gss modules
sluice_up() {
  SPORT=$(free_port $((28432 + RANDOM % 2000)))
  cat > "$B/pgsluice.conf" <<CONF
listen = ( { host = "127.0.0.1"; port = $SPORT; } );
unix_socket_dir = "$B";
workers = $WORKERS;
max_client_conn = 5000;
log = { level = "info"; connections = true; disconnections = true; };
module_path = "$BUILD/.libs";
modules = {
  trust = { path = "trust.so"; };
  scram = { path = "scram.so"; };   # the pool's backend login (SCRAM as scramuser)
  tls = { path = "tls-openssl.so"; cert = "$B/certs/server.crt"; key = "$B/certs/server.key"; };
  gss = { path = "gss.so"; keytab = "$B/sluice.keytab"; };
};
servers = ( { name = "main"; host = "127.0.0.1"; port = $PGPORT; sslmode = "disable";
              gssencmode = "disable"; } );
pools = (
  { database = "*"; user = "*"; server = "main"; mode = "transaction";
    max_size = 20; min_size = 0; initial_size = 0; password = "scrampass"; }
);
auth = { default_chain = ( { use = "trust"; control = "required"; } ); };
CONF
  # the realm's krb5.conf, and no ticket cache: the acceptor needs only its keytab
  env -u KRB5CCNAME KRB5_CONFIG="$B/krb5/krb5.conf" \
    "$BUILD/pgsluice" -c "$B/pgsluice.conf" < /dev/null >> "$B/pgsluice.log" 2>&1 &
  SPID=$!
  sluice_wait_listen
}

echo "== setup ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
KDC_PORT_BASE=18500 KRB_REALM=EXAMPLE.TEST KRB_USERS="alice:alicepass" \
  KRB_SERVICES="postgres/localhost postgres/127.0.0.1" \
  "$LIB/kdc-up.sh" "$B" > "$B/kdc-up.out" 2>&1 || { cat "$B/kdc-up.out"; exit 1; }
grep '^realm' "$B/kdc-up.out"
export KRB5_CONFIG=$B/krb5/krb5.conf
ALICE_CC=FILE:$B/krb5/ccache   # kdc-up.sh kinit'ed the first user into it
"$LIB/pg-up.sh" "$B" > "$B/pg-up.out" 2>&1 || { cat "$B/pg-up.out"; exit 1; }
grep '^PostgreSQL' "$B/pg-up.out"
# shellcheck disable=SC1091
. "$B/pg/pg.env"
: "${PGPORT:?}"
t0=$(date +%s)
PGPASSWORD=scrampass pgbench -i -q -s 10 -h 127.0.0.1 -p "$PGPORT" -U scramuser testdb > "$B/init.out" 2>&1 \
  || { cat "$B/init.out"; exit 1; }
echo "pgbench -i -s 10: $(( $(date +%s) - t0 )) s"
CERT_KEY_ALG=ec "$LIB/certs.sh" "$B" > /dev/null || exit 1
# pgsluice's own copy of the service keys (the cluster's file belongs to its OS user): owned by
# whoever runs the bench (root, or the daemon's user otherwise), mode 0600
install -m 600 "$B/krb5/postgres.keytab" "$B/sluice.keytab" || exit 1
sluice_up || exit 1
echo "$("$BUILD/pgsluice" --version | head -1) pid $SPID on 127.0.0.1:$SPORT, workers = $WORKERS, transaction pool max_size 20, client auth trust; modules tls-openssl + gss ($BUILD)"

# mode_env MODE: the environment of a client of that mode, as an array MODE_ENV
mode_env() {
  case $1 in
    plain) MODE_ENV=(PGSSLMODE=disable PGGSSENCMODE=disable) ;;
    tls) MODE_ENV=(PGSSLMODE=require PGGSSENCMODE=disable) ;;
    gss) MODE_ENV=(PGSSLMODE=disable PGGSSENCMODE=require KRB5CCNAME="$ALICE_CC") ;;
  esac
}

# Each mode once with psql: the connection must be what its name says (libpq refuses otherwise with
# sslmode=require / gssencmode=require), and pgsluice must log it so.
for m in plain tls gss; do
  mode_env "$m"
  out=$(env -u KRB5CCNAME "${MODE_ENV[@]}" timeout 30 psql -X -At -w -h 127.0.0.1 -p "$SPORT" \
        -U scramuser -d testdb -c 'select count(*) from pgbench_branches' 2>&1)
  [ "$out" = 10 ] || { echo "$m: psql through pgsluice failed: $out" >&2; tail -n 5 "$B/pgsluice.log" >&2; exit 1; }
done
sleep 0.2
line=$(grep -o 'connection authorized: user=scramuser database=testdb worker=[0-9]* GSS .*' "$B/pgsluice.log" | head -1)
[ -n "$line" ] || { echo "pgsluice logged no GSS-encrypted connection" >&2; tail -n 5 "$B/pgsluice.log" >&2; exit 1; }
echo "pgsluice log, gss: ${line#connection authorized: }"
line=$(grep -o 'connection authorized: user=scramuser database=testdb worker=[0-9]* SSL .*' "$B/pgsluice.log" | head -1)
[ -n "$line" ] || { echo "pgsluice logged no TLS connection" >&2; exit 1; }
echo "pgsluice log, tls: ${line#connection authorized: }"

# bench MODE KIND: one pgbench run through pgsluice; sets R_TPS R_LAT R_CONN R_FAILED.  pgbench runs
# in the background so that ^C (the trap) ends the wait at once and teardown stops it by PID.
bench() {
  local mode=$1 kind=$2 args=() out=$B/pgbench.out
  mode_env "$mode"
  case $kind in
    select) args=(-S) ;;
    extended) args=(-S -M extended) ;;
    connect) args=(-S -C) ;;
    tpcb) args=() ;;
  esac
  env -u KRB5CCNAME "${MODE_ENV[@]}" timeout $((DUR + 120)) pgbench -n "${args[@]}" -c "$CLIENTS" \
    -j "$THREADS" -T "$DUR" -h 127.0.0.1 -p "$SPORT" -U scramuser testdb > "$out" 2>&1 &
  BPID=$!
  wait "$BPID"; BPID=
  pgbench_parse "$out"
}

# warm-up: fill the pool (20 server connections) and the caches; each mode once
for m in plain tls gss; do DUR=3 bench "$m" select; done

modes=(plain tls gss)
declare -A SUM CONN
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r/$ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))"
  printf '  %-9s %-6s %11s %9s %9s %7s\n' kind mode tps "lat ms" "conn ms" failed
  s=$(((r - 1) % 3))
  order=("${modes[@]:s}" "${modes[@]:0:s}")
  for k in "${kinds[@]}"; do
    declare -A TPS=()
    for m in "${order[@]}"; do
      bench "$m" "$k"
      TPS[$m]=$R_TPS
      SUM[$k,$m]=$(awk -v a="${SUM[$k,$m]:-0}" -v b="$R_TPS" 'BEGIN { print a + b }')
      CONN[$k,$m]=$(awk -v a="${CONN[$k,$m]:-0}" -v b="${R_CONN:-0}" 'BEGIN { print a + b }')
      printf '  %-9s %-6s %11.1f %9s %9s %7s\n' "$k" "$m" "$R_TPS" "${R_LAT:--}" "${R_CONN:--}" "${R_FAILED:-?}"
    done
    awk -v g="${TPS[gss]}" -v p="${TPS[plain]}" -v t="${TPS[tls]}" -v k="$k" 'BEGIN {
      printf "  %-9s GSS/plain = %s  GSS/TLS = %s\n", k, (p > 0 ? sprintf("%.3f", g / p) : "-"),
        (t > 0 ? sprintf("%.3f", g / t) : "-") }'
  done
done

echo "== summary: mean tps over $ROUNDS rounds, $CLIENTS clients, $THREADS threads, ${DUR} s runs, scale 10, $(nproc) cores, pgsluice workers = $WORKERS"
head="| |"; sep="|---|"
for k in "${kinds[@]}"; do
  case $k in select) h="-S simple" ;; extended) h="-S extended" ;; connect) h="-S -C" ;; tpcb) h="TPC-B" ;; esac
  head="$head $h |"; sep="$sep---|"
done
echo "$head"; echo "$sep"
for m in "${modes[@]}"; do
  case $m in
    plain) line="| plain TCP |" ;;
    tls) line="| TLS (sslmode=require) |" ;;
    gss) line="| GSS encryption (gssencmode=require) |" ;;
  esac
  for k in "${kinds[@]}"; do
    line="$line $(awk -v s="${SUM[$k,$m]}" -v n="$ROUNDS" 'BEGIN { printf "%.0f", s / n }') |"
  done
  echo "$line"
done
for d in plain tls; do
  line="| GSS / $([ "$d" = plain ] && echo plain || echo TLS) |"
  for k in "${kinds[@]}"; do
    line="$line $(awk -v a="${SUM[$k,gss]}" -v b="${SUM[$k,$d]}" 'BEGIN { printf "%s", (b > 0 ? sprintf("%.2f", a / b) : "-") }') |"
  done
  echo "$line"
done
for k in "${kinds[@]}"; do
  [ "$k" = connect ] || continue
  printf 'mean connection time (-S -C):'
  for m in "${modes[@]}"; do
    awk -v s="${CONN[$k,$m]}" -v n="$ROUNDS" -v m="$m" 'BEGIN { printf " %s %.2f ms", m, s / n }'
  done
  echo
done
if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$B/pgsluice.log"; then
  echo "sanitizer report in pgsluice's log ($B/pgsluice.log): see --keep" >&2
fi
kill -0 "$SPID" 2>/dev/null || echo "pgsluice is no longer running: see its log (--keep)" >&2
