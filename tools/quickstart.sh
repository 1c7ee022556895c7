#!/bin/bash
# quickstart.sh [--keep]
# From a fresh Debian 12 machine (as root) to a query through pgsluice:
#   1. installs what is missing (tools/deps.sh: apt-get update + apt-get install)
#   2. builds (tools/build.sh: autoreconf -fi, configure, make) into build/
#   3. starts a throwaway PostgreSQL 15 on loopback (tests/lib/pg-up.sh, in a mktemp -d dir)
#   4. starts pgsluice with the shipped pgsluice.conf + conf.d/ + pg_hba.conf, copied to that
#      dir with a userlist.txt giving the quickstart user a random password, plus a
#      conf.d/90-quickstart.conf that points server "main" at the throwaway cluster, module_path
#      at the build, the Unix socket into the temp dir, and the listen port elsewhere if 6432
#      is taken (conf.d files are read in name order; later settings win)
#   5. runs psql through pgsluice
#   6. stops everything it started (by PID; pg_ctl for the cluster) - or, with --keep, leaves it
#      running and prints how to stop it
# Env: QS_USER (default trustuser) and QS_DB (default postgres): who psql connects as.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KEEP=0
case ${1:-} in
  --keep) KEEP=1 ;;
  "") ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
esac
# shellcheck disable=SC1091  # tools/deps.sh (checked on its own)
. "$ROOT/tools/deps.sh"
deps_install
"$ROOT/tools/build.sh"
BUILD=$ROOT/build

B=$(mktemp -d /tmp/pgsluice-quickstart.XXXXXX)
SPID=
stop_all() {
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
    kill -TERM "$SPID"
    for _ in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SPID" 2>/dev/null && kill -KILL "$SPID"
    echo "stopped pgsluice pid $SPID"
  fi
  "$ROOT/tests/lib/pg-down.sh" "$B" > /dev/null
  rm -rf "$B"
  echo "stopped PostgreSQL and removed $B"
}
on_exit() {
  rc=$?
  if [ "$rc" != 0 ]; then
    for f in "$B/pgsluice.log" "$B/pg/server.log"; do
      [ -s "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
    done
  fi
  if [ "$KEEP" = 1 ] && [ "$rc" = 0 ]; then return; fi
  stop_all
}
trap on_exit EXIT

echo "== PostgreSQL 15 (throwaway, loopback only)"
"$ROOT/tests/lib/pg-up.sh" "$B" > "$B/pg-up.out" || { cat "$B/pg-up.out"; exit 1; }
grep '^PostgreSQL' "$B/pg-up.out"
# shellcheck disable=SC1091
. "$B/pg/pg.env"
: "${PGPORT:?}"

echo "== pgsluice"
[ -f "$ROOT/pgsluice.conf" ] || { echo "no pgsluice.conf at the top of the source tree" >&2; exit 1; }
mkdir -p "$B/etc/conf.d" "$B/run"
cp "$ROOT/pgsluice.conf" "$ROOT/pg_hba.conf" "$ROOT/pg_ident.conf" "$B/etc/"
# the shipped pg_hba.conf asks TCP clients for SCRAM-SHA-256 against userlist.txt: give the
# quickstart user a random password there (the file must not be readable by others)
QS_PASSWORD=$(openssl rand -hex 12)
( umask 077; printf '"%s" "%s"\n' "${QS_USER:-trustuser}" "$QS_PASSWORD" > "$B/etc/userlist.txt" )
if [ -d "$ROOT/conf.d" ]; then
  find "$ROOT/conf.d" -maxdepth 1 -name '*.conf' -type f -exec cp {} "$B/etc/conf.d/" \;
fi
port=6432
# something listening on 6432 (another pooler, or an earlier --keep run: pgsluice binds with
# SO_REUSEPORT, so a second one would share the port silently): use another port
if ss -Hlnt "sport = :$port" | grep -q .; then
  port=27432; while ss -Hantu "sport = :$port" | grep -q .; do port=$((port + 1)); done
  echo "port 6432 is taken: listening on $port instead"
  listen="listen = ( { host = \"127.0.0.1\"; port = $port; }, { host = \"::1\"; port = $port; } );"
else
  listen="# listen: as shipped (port 6432)"
fi
cat > "$B/etc/conf.d/90-quickstart.conf" <<CONF
# written by tools/quickstart.sh: the throwaway cluster, the build tree, a private socket dir
servers = ( { name = "main"; host = "127.0.0.1"; port = $PGPORT; } );
module_path = "$BUILD/.libs";
unix_socket_dir = "$B/run";
$listen
CONF
echo "config: $B/etc/pgsluice.conf and conf.d/: $(for f in "$B"/etc/conf.d/*.conf; do printf '%s ' "${f##*/}"; done)"
"$BUILD/pgsluice" --check-config -c "$B/etc/pgsluice.conf"
"$BUILD/pgsluice" -c "$B/etc/pgsluice.conf" < /dev/null > "$B/pgsluice.log" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do
  kill -0 "$SPID" 2>/dev/null || { wait "$SPID" || true; echo "pgsluice exited at start-up" >&2; SPID=; exit 1; }
  ss -Hlnt "sport = :$port" | grep -q 127.0.0.1 && break
  sleep 0.1
done
ss -Hlnt "sport = :$port" | grep -q 127.0.0.1 || { echo "pgsluice does not listen on 127.0.0.1:$port" >&2; exit 1; }
echo "$("$BUILD/pgsluice" --version 2>&1 | head -1) pid $SPID on 127.0.0.1:$port -> PostgreSQL 127.0.0.1:$PGPORT (log $B/pgsluice.log)"

echo "== psql through pgsluice"
conn="host=127.0.0.1 port=$port user=${QS_USER:-trustuser} dbname=${QS_DB:-postgres} sslmode=disable gssencmode=disable connect_timeout=10"
echo "\$ psql \"$conn\" -c \"select version(), current_user, inet_server_port() as server_port\""
echo "(password from $B/etc/userlist.txt, checked by SCRAM-SHA-256 as the shipped pg_hba.conf says)"
env -u KRB5CCNAME PGPASSWORD="$QS_PASSWORD" timeout 30 psql -X -w "$conn" \
  -c "select version(), current_user, inet_server_port() as server_port"

if [ "$KEEP" = 1 ]; then
  cat > "$B/stop.sh" <<STOP
#!/bin/bash
# stop what tools/quickstart.sh --keep started
if grep -q pgsluice /proc/$SPID/cmdline 2>/dev/null && kill -TERM $SPID; then
  for _ in \$(seq 1 100); do kill -0 $SPID 2>/dev/null || break; sleep 0.1; done
  kill -0 $SPID 2>/dev/null && kill -KILL $SPID
  echo "stopped pgsluice pid $SPID"
fi
"$ROOT/tests/lib/pg-down.sh" "$B" > /dev/null && echo "stopped PostgreSQL"
rm -rf "$B"
STOP
  chmod +x "$B/stop.sh"
  echo "== kept running:"
  echo "  pgsluice pid $SPID: psql \"$conn\""
  echo "  PostgreSQL pid $PG_PID on 127.0.0.1:$PGPORT (superuser: psql -h $PG_SOCKET_DIR -p $PGPORT -U postgres)"
  echo "  stop both: $B/stop.sh"
else
  echo "== stopping"
fi
