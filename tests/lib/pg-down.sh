#!/bin/bash
# pg-down.sh BASE [--keep]   stop the cluster made by pg-up.sh (pg_ctl stop -m fast as its
# owner, then by PID if it is still there) and remove BASE/pg (--keep: leave the files)
set -uo pipefail
BASE=${1:?usage: pg-down.sh BASE [--keep]}
HERE=$(cd "$(dirname "$0")" && pwd)
P=$BASE/pg; DATA=$P/data
[ -d "$P" ] || { echo "no cluster in $P"; exit 0; }
if [ -s "$DATA/postmaster.pid" ]; then
  pid=$(head -1 "$DATA/postmaster.pid")
  if kill -0 "$pid" 2>/dev/null && grep -q postgres "/proc/$pid/cmdline" 2>/dev/null; then
    "$HERE/pg-ctl.sh" "$BASE" stop > /dev/null
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    echo "stopped postgres pid $pid"
  fi
fi
if [ "${2:-}" = "--keep" ]; then echo "kept $P"; else rm -rf "$P"; echo "removed $P"; fi
