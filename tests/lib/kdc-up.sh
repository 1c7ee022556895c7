#!/bin/bash
# kdc-up.sh BASE   (pgsluice's copy of the tested recipe; used by the gss tests and bench)
# Throwaway MIT Kerberos realm on loopback under BASE/krb5: krb5.conf, kdc.conf, database,
# user principals (with passwords + keytabs), service principals + keytab, krb5kdc in the
# foreground (-n) in the background, PID in BASE/krb5/krb5kdc.pid, and a ticket for the
# first user in BASE/krb5/ccache. Never touches /etc/krb5.conf: everything goes through
# KRB5_CONFIG / KRB5_KDC_PROFILE / KRB5CCNAME.  Idempotent: reuses an existing realm and
# does nothing if the KDC is already running.  Undo with kdc-down.sh BASE.
# Settings (env):
#   KRB_REALM=EXAMPLE.TEST
#   KDC_PORT (udp+tcp, 127.0.0.1 only; default: first free port from KDC_PORT_BASE (18088)
#             up in steps of 3, an explicit
#             KDC_PORT that is taken is an error; PORT+1/PORT+2 are written into kdc.conf
#             for kadmind/kpasswd, which this script does not start)
#   KRB_USERS="alice:alicepass bob:bobpass"   (first one gets kinit'ed)
#   KRB_SERVICES="postgres/localhost postgres/127.0.0.1"  (one keytab per service name:
#                 BASE/krb5/postgres.keytab)
#   KRB_KEYTAB_OWNER=pgtest   (chown of the service keytabs, so a server run as that
#                 user can read them; ignored when not root)
set -euo pipefail
BASE=${1:?usage: kdc-up.sh BASE}
mkdir -p "$BASE"; BASE=$(cd "$BASE" && pwd)
chmod 755 "$BASE"            # other users (postgres) must be able to traverse it
REALM=${KRB_REALM:-EXAMPLE.TEST}
port_used() { ss -Hantu "sport = :$1" | grep -q .; }   # any socket on it, TIME-WAIT included
port_busy() { ss -Hlntu "sport = :$1" | grep -q .; }   # something listening on it
if [ -n "${KDC_PORT:-}" ]; then PORT=$KDC_PORT; else PORT=${KDC_PORT_BASE:-18088}; while port_used $PORT; do PORT=$((PORT + 3)); done; fi
USERS=${KRB_USERS:-alice:alicepass bob:bobpass}
SERVICES=${KRB_SERVICES:-postgres/localhost postgres/127.0.0.1}
OWNER=${KRB_KEYTAB_OWNER:-pgtest}
K=$BASE/krb5
mkdir -p "$K"; chmod 755 "$K"
export KRB5_CONFIG=$K/krb5.conf KRB5_KDC_PROFILE=$K/kdc.conf KRB5CCNAME=FILE:$K/ccache
export KRB5_TRACE=${KRB5_TRACE:-}   # set KRB5_TRACE=/dev/stderr to debug
[ -n "$KRB5_TRACE" ] || unset KRB5_TRACE

write_env() {
  cat > "$K/krb5.env" <<ENV
export KRB5_CONFIG=$K/krb5.conf
export KRB5_KDC_PROFILE=$K/kdc.conf
export KRB5CCNAME=FILE:$K/ccache
export KRB_REALM=$REALM
export KDC_PORT=$PORT
export KDC_PID=$(cat "$K/krb5kdc.pid" 2>/dev/null || echo)
export KRB_SERVER_KEYTAB=$K/postgres.keytab
ENV
  echo "realm $REALM: KDC pid $(cat "$K/krb5kdc.pid") on 127.0.0.1:$PORT (udp+tcp); files in $K"
  echo "principals: $(for u in $USERS; do printf '%s@%s ' "${u%%:*}" "$REALM"; done)$(for s in $SERVICES; do printf '%s@%s ' "$s" "$REALM"; done)"
  echo "keytabs: $(ls "$K"/*.keytab | tr '\n' ' ')"
  echo "to use it: source $K/krb5.env"
  cat "$K/krb5.env"
}

if [ -s "$K/krb5kdc.pid" ] && kill -0 "$(cat "$K/krb5kdc.pid")" 2>/dev/null; then
  echo "KDC already running"; write_env; exit 0
fi
if [ -f "$K/krb5.conf" ] && [ -e "$K/principal" ]; then   # existing realm: keep its port
  PORT=$(sed -n 's/^ *kdc = 127.0.0.1://p' "$K/krb5.conf")
fi
if port_busy "$PORT"; then echo "port $PORT already in use (set KDC_PORT)" >&2; exit 1; fi

cat > "$K/krb5.conf" <<CONF
# client/library config: use with KRB5_CONFIG=$K/krb5.conf
[libdefaults]
    default_realm = $REALM
    dns_lookup_kdc = false
    dns_lookup_realm = false
    # no DNS/hosts canonicalisation: postgres@localhost -> postgres/localhost@$REALM
    dns_canonicalize_hostname = false
    rdns = false
    qualify_shortname = ""
    # acceptors accept any principal in their keytab whatever the local hostname is
    ignore_acceptor_hostname = true
    default_ccache_name = FILE:$K/ccache
    forwardable = true
    ticket_lifetime = 10h
    renew_lifetime = 7d

[realms]
    $REALM = {
        kdc = 127.0.0.1:$PORT
        admin_server = 127.0.0.1:$((PORT + 1))
    }

[domain_realm]
    localhost = $REALM
    .localhost = $REALM
CONF

cat > "$K/kdc.conf" <<CONF
# KDC config: use with KRB5_KDC_PROFILE=$K/kdc.conf
[kdcdefaults]
    kdc_listen = 127.0.0.1:$PORT
    kdc_tcp_listen = 127.0.0.1:$PORT

[realms]
    $REALM = {
        database_name = $K/principal
        key_stash_file = $K/stash
        acl_file = $K/kadm5.acl
        admin_keytab = FILE:$K/kadm5.keytab
        kadmind_listen = 127.0.0.1:$((PORT + 1))
        kpasswd_listen = 127.0.0.1:$((PORT + 2))
        max_life = 10h 0m 0s
        max_renewable_life = 7d 0h 0m 0s
        default_principal_flags = +preauth
    }

[logging]
    kdc = FILE:$K/kdc.log
    admin_server = FILE:$K/kadmind.log
    default = FILE:$K/krb5lib.log
CONF
: > "$K/kadm5.acl"

if [ ! -e "$K/principal" ]; then
  kdb5_util create -s -r "$REALM" -P "master-$RANDOM$RANDOM" > "$K/kdb5_util.log" 2>&1
  for u in $USERS; do
    name=${u%%:*}; pw=${u#*:}
    kadmin.local -r "$REALM" -q "addprinc -pw $pw $name" > /dev/null 2>&1
    # user keytab with the *same* key as the password (-norandkey: kadmin.local only)
    rm -f "$K/$name.keytab"
    kadmin.local -r "$REALM" -q "ktadd -k $K/$name.keytab -norandkey $name" > /dev/null
  done
  for s in $SERVICES; do
    kadmin.local -r "$REALM" -q "addprinc -randkey $s" > /dev/null 2>&1
    kadmin.local -r "$REALM" -q "ktadd -k $K/${s%%/*}.keytab $s" > /dev/null
  done
fi
chmod 600 "$K"/*.keytab
if [ "$(id -u)" = 0 ]; then
  id "$OWNER" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$OWNER"
  for s in $SERVICES; do chown "$OWNER" "$K/${s%%/*}.keytab"; done
fi

# start the KDC: -n = stay in the foreground (no fork), so $! is its PID; krb5kdc also
# writes it to the -P file itself (it does so with -n too)
rm -f "$K/krb5kdc.pid"
krb5kdc -n -r "$REALM" -P "$K/krb5kdc.pid" < /dev/null >> "$K/krb5kdc.out" 2>&1 &
kdcpid=$!
for _ in $(seq 1 100); do
  [ -s "$K/krb5kdc.pid" ] && ss -Hlnt "sport = :$PORT" | grep -q . && break
  kill -0 "$kdcpid" 2>/dev/null || { echo "krb5kdc died:" >&2; cat "$K/krb5kdc.out" "$K/kdc.log" >&2; exit 1; }
  sleep 0.1
done
[ "$(cat "$K/krb5kdc.pid")" = "$kdcpid" ] || { echo "pid mismatch: $kdcpid vs $(cat "$K/krb5kdc.pid")" >&2; exit 1; }

first=${USERS%% *}
echo "${first#*:}" | kinit "${first%%:*}@$REALM" > /dev/null
klist
write_env
