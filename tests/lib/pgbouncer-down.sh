#!/bin/bash
# pgbouncer-down.sh BASE [--keep]   stop the PgBouncer started by pgbouncer-up.sh (SIGINT =
# safe shutdown, by PID, then SIGKILL after 30 s) and remove BASE/pgbouncer (--keep: leave it)
set -uo pipefail
BASE=${1:?usage: pgbouncer-down.sh BASE [--keep]}
B=$BASE/pgbouncer
[ -d "$B" ] || { echo "no pgbouncer in $B"; exit 0; }
if [ -s "$B/pgbouncer.pid" ]; then
  pid=$(cat "$B/pgbouncer.pid")
  if kill -0 "$pid" 2>/dev/null && grep -q pgbouncer "/proc/$pid/cmdline" 2>/dev/null; then
    kill -INT "$pid"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "stopped pgbouncer pid $pid"
  fi
fi
if [ "${2:-}" = "--keep" ]; then echo "kept $B"; else rm -rf "$B"; echo "removed $B"; fi
