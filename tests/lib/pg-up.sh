#!/bin/bash
# pg-up.sh BASE
# Throwaway PostgreSQL 15 cluster under BASE/pg for pgsluice's tests and benchmark:
#   - run as a non-root OS user when we are root (PG_USER, default pgtest, created if missing)
#   - TCP on 127.0.0.1:$PG_PORT only (loopback), Unix socket in BASE/pg/run
#   - ssl=on with a throwaway CA from certs.sh (BASE/certs)
#   - durability off (fsync, synchronous_commit, full_page_writes): never use it for data
# Roles and pg_hba methods (TCP, 127.0.0.1 and ::1):
#   postgres   superuser, Unix socket only, trust
#   trustuser  trust
#   md5user    md5            password md5pass   (stored as an md5 hash)
#   scramuser  scram-sha-256  password scrampass (stored as SCRAM), owns database testdb
#   certuser   hostssl cert   (client certificate CN=certuser from certs.sh)
#   alice,bob  hostgssenc / host gss include_realm=0  (only when kdc-up.sh made a realm in
#              BASE/krb5 first: the server then gets its krb5.conf and postgres.keytab)
# Writes BASE/pg/pg.env (PGHOST PGPORT PG_SOCKET_DIR PGDATA PG_BIN PG_PID PG_OSUSER PG_LOG ...).
# Idempotent: starts an existing cluster, does nothing if it is running.  Undo: pg-down.sh BASE.
# Settings (env):
#   PG_PORT    default: first port from 25432 up that no socket uses in any state (test ports
#              stay below the ephemeral range 32768-60999); an explicit PG_PORT that is taken
#              is an error
#   PG_LISTEN  default 127.0.0.1 (e.g. '127.0.0.1,::1')
#   PG_USER    default pgtest (OS user that runs the server when we are root)
#   PG_MAX_CONNECTIONS default 300
#   PGBIN      default /usr/lib/postgresql/15/bin
set -euo pipefail
BASE=${1:?usage: pg-up.sh BASE}
mkdir -p "$BASE"; BASE=$(cd "$BASE" && pwd)
chmod 755 "$BASE"      # mktemp -d makes 0700; the server's OS user must be able to traverse it
HERE=$(cd "$(dirname "$0")" && pwd)
port_used() { ss -Hantu "sport = :$1" | grep -q .; }   # any socket on it, TIME-WAIT included
port_busy() { ss -Hlntu "sport = :$1" | grep -q .; }   # something listening on it
if [ -n "${PG_PORT:-}" ]; then PORT=$PG_PORT; else PORT=25432; while port_used $PORT; do PORT=$((PORT + 1)); done; fi
LISTEN=${PG_LISTEN:-127.0.0.1}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
P=$BASE/pg; DATA=$P/data; RUN=$P/run; LOG=$P/server.log
K=$BASE/krb5
REALM=$(sed -n 's/^export KRB_REALM=//p' "$K/krb5.env" 2>/dev/null || true)

if [ "$(id -u)" = 0 ]; then
  RUNAS=${PG_USER:-pgtest}
  id "$RUNAS" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$RUNAS"
  as_pg() { runuser -u "$RUNAS" -- "$@"; }
else
  RUNAS=$(id -un); as_pg() { "$@"; }
fi

write_env() {
  cat > "$P/pg.env" <<ENV
export PGHOST=127.0.0.1
export PGPORT=$PORT
export PG_SOCKET_DIR=$RUN
export PGDATA=$DATA
export PG_BIN=$PGBIN
export PG_PID=$(head -1 "$DATA/postmaster.pid")
export PG_OSUSER=$RUNAS
export PG_LOG=$LOG
export PG_CA=$BASE/certs/ca.crt
export PG_CERTS=$BASE/certs
ENV
  echo "PostgreSQL $("$PGBIN/postgres" -V | awk '{print $3}') pid $(head -1 "$DATA/postmaster.pid") (OS user $RUNAS) on $LISTEN:$PORT, socket dir $RUN"
  echo "data $DATA  log $LOG"
  echo "superuser: psql -h $RUN -p $PORT -U postgres"
  echo "to use it: source $P/pg.env"
}

if [ -s "$DATA/PG_VERSION" ]; then   # existing cluster: its port/addresses win
  PORT=$(sed -n "s/^port = //p" "$DATA/postgresql.conf" | tail -1)
  LISTEN=$(sed -n "s/^listen_addresses = '\(.*\)'/\1/p" "$DATA/postgresql.conf" | tail -1)
fi
if [ -s "$DATA/postmaster.pid" ] && kill -0 "$(head -1 "$DATA/postmaster.pid")" 2>/dev/null; then
  echo "cluster already running"; write_env; exit 0
fi

[ -s "$BASE/certs/server.crt" ] || CERT_KEY_ALG=${CERT_KEY_ALG:-ec} "$HERE/certs.sh" "$BASE" certuser > /dev/null

t0=$(date +%s.%N)
if [ ! -s "$DATA/PG_VERSION" ]; then
  if port_busy "$PORT"; then echo "port $PORT already in use (set PG_PORT)" >&2; exit 1; fi
  rm -rf "$P"; mkdir -p "$DATA" "$RUN"
  chown -R "$RUNAS" "$P"; chmod 700 "$DATA"
  as_pg "$PGBIN/initdb" -D "$DATA" -U postgres -E UTF8 --no-locale --auth=trust --no-sync > "$P/initdb.log"
  t1=$(date +%s.%N)
  install -o "$RUNAS" -m 600 "$BASE/certs/server.key" "$DATA/server.key"
  install -o "$RUNAS" -m 644 "$BASE/certs/server.crt" "$DATA/server.crt"
  install -o "$RUNAS" -m 644 "$BASE/certs/ca.crt"     "$DATA/ca.crt"
  {
    echo "# ---- added by pg-up.sh ----"
    echo "listen_addresses = '$LISTEN'"
    echo "port = $PORT"
    echo "unix_socket_directories = '$RUN'"
    echo "password_encryption = 'scram-sha-256'"
    echo "max_connections = ${PG_MAX_CONNECTIONS:-300}"
    echo "shared_buffers = 128MB"
    echo "# throwaway cluster: durability off"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
    echo "ssl = on"
    echo "ssl_cert_file = 'server.crt'"
    echo "ssl_key_file = 'server.key'"
    echo "ssl_ca_file = 'ca.crt'"
    echo "log_connections = on"
    echo "log_disconnections = on"
    echo "log_line_prefix = '%m [%p] %q%u@%d '"
    if [ -n "$REALM" ]; then echo "krb_server_keyfile = 'FILE:$K/postgres.keytab'"; fi
  } >> "$DATA/postgresql.conf"
  {
    echo "# TYPE     DATABASE USER       ADDRESS       METHOD"
    echo "local      all      all                      trust"
    for a in 127.0.0.1/32 ::1/128; do
      echo "hostssl    all      certuser   $a  cert"
      echo "host       all      trustuser  $a  trust"
      echo "host       all      md5user    $a  md5"
      echo "host       all      scramuser  $a  scram-sha-256"
      if [ -n "$REALM" ]; then
        echo "hostgssenc all      all        $a  gss include_realm=0 krb_realm=$REALM"
        echo "host       all      all        $a  gss include_realm=0 krb_realm=$REALM"
      fi
      echo "host       all      all        $a  scram-sha-256"
    done
  } > "$DATA/pg_hba.conf"
  fresh=1
else
  port_busy "$PORT" && { echo "port $PORT (from $DATA/postgresql.conf) already in use" >&2; exit 1; }
  t1=$t0; fresh=0
fi

# start; if another process took the port between our check and the bind (other test runs
# pick ports the same way), move to the next free port and try again
for attempt in 1 2 3 4 5; do
  if "$HERE/pg-ctl.sh" "$BASE" start > "$P/pg_ctl.out" 2>&1; then break; fi
  if [ "$attempt" -lt 5 ] && [ -z "${PG_PORT:-}" ] && [ "$fresh" = 1 ] && grep -q 'could not bind' "$LOG" 2>/dev/null; then
    while port_used "$PORT"; do PORT=$((PORT + 1)); done
    echo "port taken while starting: retrying on $PORT" >&2
    echo "port = $PORT" >> "$DATA/postgresql.conf"
    continue
  fi
  cat "$P/pg_ctl.out" >&2; tail -n 20 "$LOG" >&2
  exit 1
done
t2=$(date +%s.%N)

if [ "$fresh" = 1 ]; then
  psql -X -q -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -U postgres -d postgres <<'SQL'
CREATE ROLE scramuser LOGIN PASSWORD 'scrampass';
SET password_encryption = 'md5';
CREATE ROLE md5user LOGIN PASSWORD 'md5pass';
RESET password_encryption;
CREATE ROLE trustuser LOGIN;
CREATE ROLE certuser LOGIN;
CREATE DATABASE testdb OWNER scramuser;
SQL
  if [ -n "$REALM" ]; then
    psql -X -q -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -U postgres -d postgres \
      -c "CREATE ROLE alice LOGIN" -c "CREATE ROLE bob LOGIN"
  fi
fi
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "initdb %.2f s, start %.2f s\n", b - a, c - b }'
write_env
