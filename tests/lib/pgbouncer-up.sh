#!/bin/bash
# pgbouncer-up.sh BASE
# Debian's PgBouncer in front of the cluster made by pg-up.sh BASE (the benchmark's reference
# pooler), on 127.0.0.1 only, in the foreground (not -d) in the background as the cluster's OS
# user (PgBouncer refuses to run as root); files under BASE/pgbouncer, PID in
# BASE/pgbouncer/pgbouncer.pid.  Databases testdb and postgres -> 127.0.0.1:$PGPORT (an IP
# literal: PgBouncer resolves names with c-ares).
# Settings (env):
#   PGB_PORT        default: first free port from 26432 up (below the ephemeral range)
#   PGB_AUTH_TYPE   scram-sha-256 (default) | md5 | trust | plain
#   PGB_POOL_MODE   transaction (default) | session | statement
#   PGB_POOL_SIZE   default_pool_size, default 20
#   PGB_MAX_CLIENT_CONN  default 500
#   PGB_USERLIST    plain (default: "scramuser" "scrampass", "md5user" "md5pass", "trustuser" "")
#                   | secrets (copy rolpassword from pg_authid: SCRAM/md5 secrets)
#   PGB_CLIENT_TLS_CERT, PGB_CLIENT_TLS_KEY  when set: client_tls_sslmode = require with this
#                   certificate and key (copied into BASE/pgbouncer for its OS user)
#   PGB_EXEC_PREFIX command words put before pgbouncer, e.g. "valgrind --tool=callgrind
#                   --callgrind-out-file=/tmp/x" (valgrind runs it in the same process, so the
#                   PID checks still hold)
# Idempotent: nothing happens if it is running.  Undo with pgbouncer-down.sh BASE.
set -euo pipefail
BASE=${1:?usage: pgbouncer-up.sh BASE}
BASE=$(cd "$BASE" && pwd)
[ -f "$BASE/pg/pg.env" ] || { echo "no cluster: run pg-up.sh $BASE first" >&2; exit 1; }
# shellcheck disable=SC1091
. "$BASE/pg/pg.env"
: "${PGPORT:?pg.env has no PGPORT}" "${PGDATA:?}" "${PG_SOCKET_DIR:?}"
B=$BASE/pgbouncer
port_used() { ss -Hantu "sport = :$1" | grep -q .; }   # any socket on it, TIME-WAIT included
port_busy() { ss -Hlntu "sport = :$1" | grep -q .; }   # something listening on it

write_env() {
  cat > "$B/pgbouncer.env" <<ENV
export PGB_HOST=127.0.0.1
export PGB_PORT=$(sed -n 's/^listen_port = //p' "$B/pgbouncer.ini")
export PGB_PID=$(cat "$B/pgbouncer.pid")
export PGB_INI=$B/pgbouncer.ini
export PGB_LOG=$B/pgbouncer.log
ENV
  echo "pgbouncer $(pgbouncer --version | head -1 | awk '{print $2}') pid $(cat "$B/pgbouncer.pid") on 127.0.0.1:$(sed -n 's/^listen_port = //p' "$B/pgbouncer.ini") -> 127.0.0.1:$PGPORT ($(sed -n 's/^auth_type = //p' "$B/pgbouncer.ini"), $(sed -n 's/^pool_mode = //p' "$B/pgbouncer.ini") pooling, pool size $(sed -n 's/^default_pool_size = //p' "$B/pgbouncer.ini"))"
  echo "config $B/pgbouncer.ini  log $B/pgbouncer.log  userlist $B/userlist.txt"
  echo "to use it: source $B/pgbouncer.env"
}

if [ -s "$B/pgbouncer.pid" ] && kill -0 "$(cat "$B/pgbouncer.pid")" 2>/dev/null; then
  echo "pgbouncer already running"; write_env; exit 0
fi
if [ -n "${PGB_PORT:-}" ]; then PORT=$PGB_PORT; else PORT=26432; while port_used $PORT; do PORT=$((PORT + 1)); done; fi
port_busy "$PORT" && { echo "port $PORT already in use (set PGB_PORT)" >&2; exit 1; }

RUNAS=$(stat -c %U "$PGDATA")
mkdir -p "$B"
case ${PGB_USERLIST:-plain} in
  plain)
    printf '"scramuser" "scrampass"\n"md5user" "md5pass"\n"trustuser" ""\n' > "$B/userlist.txt" ;;
  secrets)
    psql -X -At -h "$PG_SOCKET_DIR" -p "$PGPORT" -U postgres -d postgres -c \
      "SELECT format('%s %s', quote_ident(rolname) , '\"' || rolpassword || '\"') FROM pg_authid WHERE rolname IN ('scramuser','md5user')" \
      | sed 's/^\([a-z0-9_]*\) /"\1" /' > "$B/userlist.txt" ;;
  *) echo "PGB_USERLIST must be plain or secrets" >&2; exit 1 ;;
esac
cat > "$B/pgbouncer.ini" <<INI
[databases]
testdb = host=127.0.0.1 port=$PGPORT dbname=testdb
postgres = host=127.0.0.1 port=$PGPORT dbname=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir = $B
auth_type = ${PGB_AUTH_TYPE:-scram-sha-256}
auth_file = $B/userlist.txt
pool_mode = ${PGB_POOL_MODE:-transaction}
default_pool_size = ${PGB_POOL_SIZE:-20}
max_client_conn = ${PGB_MAX_CLIENT_CONN:-500}
ignore_startup_parameters = extra_float_digits
server_tls_sslmode = disable
$(if [ -n "${PGB_CLIENT_TLS_CERT:-}" ]; then
    printf 'client_tls_sslmode = require\nclient_tls_cert_file = %s\nclient_tls_key_file = %s\n' \
      "$B/client-tls.crt" "$B/client-tls.key"
  else
    echo "client_tls_sslmode = disable"
  fi)
logfile = $B/pgbouncer.log
pidfile = $B/pgbouncer.pid
admin_users = scramuser
stats_users = scramuser
INI
if [ -n "${PGB_CLIENT_TLS_CERT:-}" ]; then
  cp "$PGB_CLIENT_TLS_CERT" "$B/client-tls.crt"; cp "$PGB_CLIENT_TLS_KEY" "$B/client-tls.key"
  chmod 600 "$B/client-tls.key"
fi
chown -R "$RUNAS" "$B"; chmod 600 "$B/userlist.txt"
rm -f "$B/pgbouncer.pid"
read -r -a prefix <<< "${PGB_EXEC_PREFIX:-}"
# setpriv execs in place (runuser would fork and $! would be runuser's PID)
if [ "$(id -u)" = 0 ]; then
  setpriv --reuid="$RUNAS" --regid="$(id -g "$RUNAS")" --init-groups \
    "${prefix[@]}" pgbouncer "$B/pgbouncer.ini" < /dev/null >> "$B/pgbouncer.out" 2>&1 &
else
  "${prefix[@]}" pgbouncer "$B/pgbouncer.ini" < /dev/null >> "$B/pgbouncer.out" 2>&1 &
fi
pid=$!
for _ in $(seq 1 300); do
  [ -s "$B/pgbouncer.pid" ] && port_busy "$PORT" && break
  kill -0 "$pid" 2>/dev/null || { echo "pgbouncer died:" >&2; tail "$B/pgbouncer.out" "$B/pgbouncer.log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$B/pgbouncer.pid" ] || { echo "pgbouncer did not start within 30 s" >&2; kill "$pid"; exit 1; }
[ "$(cat "$B/pgbouncer.pid")" = "$pid" ] || { echo "pid mismatch $pid vs $(cat "$B/pgbouncer.pid")" >&2; exit 1; }
write_env
