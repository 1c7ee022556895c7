#!/bin/bash
# pg-ctl.sh BASE start|stop|restart|status [pg_ctl options...]
# Run pg_ctl on the cluster made by pg-up.sh, as the data directory's owner (runuser when we
# are root) and with a clean server environment (no KRB5CCNAME/PG* client variables, and
# KRB5_CONFIG=/dev/null so libkrb5 never reads /etc/krb5.conf, or the realm's krb5.conf and
# keytab when kdc-up.sh made one in BASE/krb5).  start and restart wait
# (-w, 60 s) and log into BASE/pg/server.log; stop and restart use -m fast unless -m is given.
# Example (what the PostgreSQL-restart test does):  pg-ctl.sh "$BASE" restart
set -euo pipefail
BASE=${1:?usage: pg-ctl.sh BASE start|stop|restart|status [pg_ctl options...]}
ACTION=${2:?usage: pg-ctl.sh BASE start|stop|restart|status [pg_ctl options...]}
shift 2
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DATA=$BASE/pg/data; LOG=$BASE/pg/server.log
[ -s "$DATA/PG_VERSION" ] || { echo "no cluster in $DATA" >&2; exit 1; }
owner=$(stat -c %U "$DATA")
run=(env -u KRB5CCNAME -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u PGPASSWORD
     -u PGSSLMODE -u PGGSSENCMODE -u KRB5_CLIENT_KTNAME)
if [ -f "$BASE/krb5/krb5.conf" ]; then   # a realm made by kdc-up.sh in the same BASE
  run+=(KRB5_CONFIG="$BASE/krb5/krb5.conf" KRB5_KTNAME="FILE:$BASE/krb5/postgres.keytab")
else
  run+=(KRB5_CONFIG=/dev/null)
fi
if [ "$(id -u)" = 0 ] && [ "$owner" != root ]; then run=(runuser -u "$owner" -- "${run[@]}"); fi
mode=(-m fast)
for a in "$@"; do case $a in -m|-m*|--mode*) mode=() ;; esac; done
case $ACTION in
  start)   exec "${run[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 "$@" start ;;
  stop)    exec "${run[@]}" "$PGBIN/pg_ctl" -D "$DATA" "${mode[@]}" -w -t 60 "$@" stop ;;
  restart) exec "${run[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" "${mode[@]}" -w -t 60 "$@" restart ;;
  status)  exec "${run[@]}" "$PGBIN/pg_ctl" -D "$DATA" "$@" status ;;
  *) echo "unknown action $ACTION" >&2; exit 2 ;;
esac
