#!/bin/bash
# bench/lib.sh: shell functions shared by bench/run.sh and bench/gss.sh (sourced).
#   port_used PORT / free_port START     a port no socket uses in any state
#   sluice_wait_listen                   after starting pgsluice as $SPID: wait until it
#                                        listens on $SPORT (60 s), 1 if it died or did not
#   sluice_down                          SIGINT to $SPID, bounded wait, KILL
#   pgbench_parse FILE                   R_TPS R_LAT R_CONN R_FAILED from pgbench's output
#                                        (R_TPS=0 R_FAILED=error, and the tail shown, when
#                                        pgbench printed no tps)
# The caller sets SPID, SPORT and B (its work directory, pgsluice.log in it).

port_used() { ss -Hantu "sport = :$1" | grep -q .; }
free_port() { local p=$1; while port_used "$p"; do p=$((p + 1)); done; echo "$p"; }

sluice_wait_listen() {
  for _ in $(seq 1 600); do
    ss -Hlnt "sport = :$SPORT" | grep -q . && return 0
    kill -0 "$SPID" 2>/dev/null || { tail "$B/pgsluice.log"; echo "pgsluice did not start" >&2; return 1; }
    sleep 0.1
  done
  echo "pgsluice does not listen on $SPORT" >&2; return 1
}

sluice_down() {
  [ -n "${SPID:-}" ] || return 0
  if kill -0 "$SPID" 2>/dev/null; then
    kill -INT "$SPID"
    for _ in $(seq 1 600); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SPID" 2>/dev/null && kill -KILL "$SPID"
  fi
  wait "$SPID" 2>/dev/null; SPID=
}

pgbench_parse() {
  R_TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$1" | head -1)
  R_LAT=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$1")
  R_CONN=$(sed -n 's/^average connection time = \([0-9.]*\) ms.*/\1/p' "$1")
  R_FAILED=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$1")
  if [ -z "$R_TPS" ]; then
    R_TPS=0; R_FAILED=error
    tail -n 5 "$1" | sed 's/^/      | /' >&2
  fi
}
