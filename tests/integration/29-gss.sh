#!/bin/bash
# 29. Kerberos end to end, with a throwaway MIT KDC on loopback and a PostgreSQL 15 cluster of
#   its own that accepts GSSAPI (tests/lib/kdc-up.sh, then pg-up.sh in the same base):
#   - psql gssencmode=require + the gss method: the session is GSS-encrypted (the transport's
#     state in pgsluice's log, and a relay's capture of the client's bytes holds neither the
#     user name nor the query), and pgsluice logs into PostgreSQL with its own keytab over GSS
#     encryption (pg_stat_gssapi shows pgsluice@EXAMPLE.TEST, encrypted)
#   - gssencmode=disable + the gss method (AuthenticationGSS exchange); a pool whose server has
#     gssencmode=disable, where PostgreSQL asks pgsluice for GSSAPI authentication
#   - include_realm=0 / 1, a regex ident map, a principal whose name matches no role, a client
#     without a ticket, hostgssenc / hostnogssenc on the real state, hostile tokens
#   - pgbench over GSS encryption (also -C: a full handshake per connection), 0 failures
#   - the KDC frozen (SIGSTOP): a login that needs a new service ticket for pgsluice waits on
#     the work pool while other clients log in and query at once; then the KDC killed: new
#     Kerberos logins fail cleanly, connected clients go on
. "$(dirname "$0")/lib.sh"

KB=$T/k
REALM=EXAMPLE.TEST
KDC_PORT_BASE=18088 KRB_REALM=$REALM \
  KRB_USERS="alice:alicepass bob:bobpass carol:carolpass pgsluice:pgsluicepass" \
  KRB_SERVICES="postgres/localhost postgres/127.0.0.1" \
  bash "$IT_LIB/kdc-up.sh" "$KB" > "$T/kdc-up.out" 2>&1 || { cat "$T/kdc-up.out"; fail "kdc-up.sh"; finish; }
PG_PORT= bash "$IT_LIB/pg-up.sh" "$KB" > "$T/pg-up.out" 2>&1 || { cat "$T/pg-up.out"; fail "pg-up.sh"; finish; }
trap 'cleanup; bash "$IT_LIB/pg-down.sh" "$KB" > /dev/null 2>&1; bash "$IT_LIB/kdc-down.sh" "$KB" > /dev/null 2>&1' EXIT
KDC_PID=$(cat "$KB/krb5/krb5kdc.pid")
GPORT=$(. "$KB/pg/pg.env"; echo "$PGPORT")
GSOCK=$(. "$KB/pg/pg.env"; echo "$PG_SOCKET_DIR")
export KRB5_CONFIG=$KB/krb5/krb5.conf
note "realm $REALM, KDC pid $KDC_PID; GSS cluster on 127.0.0.1:$GPORT"
gpq() { timeout -k 2 20 psql -X -At -w -h "$GSOCK" -p "$GPORT" -U postgres -d postgres -c "$1" 2>&1; }

# PostgreSQL's side: pgsluice@EXAMPLE.TEST may log in as the pooled roles (pg_ident), people
# directly as themselves; scramuser and trustuser by password / trust.
PGD=$KB/pg/data
cat > "$PGD/pg_hba.conf" <<EOT
local       all  all        trust
host        all  scramuser  127.0.0.1/32  scram-sha-256
host        all  trustuser  127.0.0.1/32  trust
hostgssenc  all  all        127.0.0.1/32  gss  map=pooler
host        all  all        127.0.0.1/32  gss  map=pooler
EOT
cat > "$PGD/pg_ident.conf" <<EOT
pooler  pgsluice@$REALM  alice
pooler  pgsluice@$REALM  bob
pooler  pgsluice@$REALM  appuser
pooler  pgsluice@$REALM  "alice@$REALM"
pooler  /^(.*)@EXAMPLE\.TEST\$  \1
EOT
chown "$(stat -c %U "$PGD")" "$PGD/pg_hba.conf" "$PGD/pg_ident.conf"
gpq "CREATE ROLE appuser LOGIN" > /dev/null
gpq "CREATE ROLE \"alice@$REALM\" LOGIN" > /dev/null
gpq "SELECT pg_reload_conf()" > /dev/null
PGPASSWORD= timeout 60 pgbench -i -q -s 1 -h "$GSOCK" -p "$GPORT" -U postgres postgres > "$T/pgbench-init.out" 2>&1 ||
  fail "pgbench -i on the GSS cluster"
gpq "GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC" > /dev/null

# pgsluice's keytabs: its own copy of the service key (the cluster's file belongs to the
# PostgreSQL OS user) and the pgsluice@ client keytab
install -m 600 "$KB/krb5/postgres.keytab" "$T/service.keytab"
install -m 600 "$KB/krb5/pgsluice.keytab" "$T/client.keytab"
# client tickets, each in its own cache
for u in alice bob carol; do
  echo "${u}pass" | KRB5CCNAME=FILE:$T/cc-$u kinit "$u@$REALM" > /dev/null 2>&1 || fail "kinit $u"
done

cat > "$T/pg_hba.conf" <<EOT
host          postgres   scramuser             127.0.0.1/32  trust
hostgssenc    postgres   trustuser             127.0.0.1/32  trust
hostnogssenc  postgres   trustuser             127.0.0.1/32  reject
hostgssenc    postgres   alice                 127.0.0.1/32  gss  include_realm=0
host          postgres   alice                 127.0.0.1/32  gss  include_realm=0
host          postgres   "alice@$REALM"        127.0.0.1/32  gss
host          postgres   alice2                127.0.0.1/32  gss
hostgssenc    rejectdb   all                   127.0.0.1/32  reject
hostgssenc    all        all                   127.0.0.1/32  gss  map=krb
host          all        all                   127.0.0.1/32  gss  map=krb
EOT
cat > "$T/pg_ident.conf" <<EOT
krb  /^(.*)@EXAMPLE\.TEST\$  \1
krb  bob@$REALM             appuser
EOT
S_MODULES="hba = { path = \"hba.so\"; file = \"$T/pg_hba.conf\"; ident_file = \"$T/pg_ident.conf\"; };
  gss = { path = \"gss.so\"; keytab = \"$T/service.keytab\"; client_keytab = \"$T/client.keytab\"; };"
S_SERVER='gssencmode = "require";'
S_SERVERS=", { name = \"noenc\"; host = \"127.0.0.1\"; port = $GPORT; gssencmode = \"disable\"; },
  { name = \"byname\"; host = \"localhost\"; port = $GPORT; gssencmode = \"require\"; },
  { name = \"pref\"; host = \"127.0.0.1\"; port = $GPORT; gssencmode = \"prefer\"; sslmode = \"disable\"; }"
S_POOLS_PRE="
  { database = \"postgres\"; user = \"bob\"; server = \"noenc\"; mode = \"transaction\"; max_size = 4; min_size = 0; initial_size = 0; },
  { database = \"prefdb\"; user = \"*\"; server = \"pref\"; server_database = \"postgres\"; mode = \"transaction\"; max_size = 2; min_size = 0; initial_size = 0; },
  { database = \"kdcwait\"; user = \"*\"; server = \"byname\"; server_database = \"postgres\"; mode = \"transaction\"; max_size = 4; min_size = 0; initial_size = 0; },"
S_TOP='server_connect_timeout = 6;'
PGPORT=$GPORT conf_std transaction 8 > "$S_CONF"
# no client ticket cache in the daemon's environment: its logins use client.keytab
KRB5CCNAME= sluice_start || { fail "pgsluice did not start"; finish; }

# gq CACHE USER DB GSSENCMODE SQL: psql through pgsluice as that principal's cache
gq() {
  KRB5CCNAME=FILE:$T/cc-$1 timeout -k 2 40 psql -X -At -w -v ON_ERROR_STOP=1 \
    "host=localhost port=$S_PORT user=$2 dbname=$3 gssencmode=$4 sslmode=disable connect_timeout=10" \
    -c "$5" 2>&1
}
STAT="SELECT current_user, gss_authenticated, encrypted, principal FROM pg_stat_gssapi WHERE pid = pg_backend_pid()"

# ---- GSS encryption + gss auth, and pgsluice's own GSS login to PostgreSQL ----
check_eq "gssencmode=require + gss: alice, server side GSS-encrypted as pgsluice@" \
  "alice|t|t|pgsluice@$REALM" "$(gq alice alice postgres require "$STAT")"
check_match "pgsluice logs the client's GSS state" \
  "connection authorized: user=alice database=postgres .*GSS \(authenticated=yes, encrypted=yes, principal=alice@$REALM\)" \
  "$(cat "$S_LOG")"
RPORT=$(free_port $((S_PORT + 1)))
python3 "$IT_DIR/gssprobe.py" relay "$RPORT" "$S_PORT" "$T/wire-enc" > "$T/relay.out" 2>&1 &
RELAY=$!; track "$RELAY"
wait_until 5 bash -c "ss -Hlnt 'sport = :$RPORT' | grep -q ." || fail "relay did not listen"
CANARY="canary_$RANDOM$RANDOM"
out=$(KRB5CCNAME=FILE:$T/cc-alice timeout 20 psql -X -At -w \
  "host=localhost port=$RPORT user=alice dbname=postgres gssencmode=require sslmode=disable" \
  -c "SELECT '$CANARY'" 2>&1)
check_eq "through the relay (GSS-encrypted)" "$CANARY" "$out"
check "the capture starts with GSSENCRequest" \
  bash -c "[ \"\$(head -c 8 '$T/wire-enc' | od -An -tx1 | tr -d ' ')\" = 0000000804d21630 ]"
check "the client's bytes on the wire hold neither the user name nor the query" \
  bash -c "! grep -a -q -e '$CANARY' -e 'alice' '$T/wire-enc'"
out=$(KRB5CCNAME=FILE:$T/cc-alice timeout 20 psql -X -At -w \
  "host=localhost port=$RPORT user=alice dbname=postgres gssencmode=disable sslmode=disable" \
  -c "SELECT '${CANARY}_plain'" 2>&1)
check_eq "through the relay without encryption" "${CANARY}_plain" "$out"
check "control: an unencrypted session's query is visible in the capture" \
  grep -a -q -e "${CANARY}_plain" "$T/wire-enc"
stop_pid "$RELAY" 2

# ---- gss auth without encryption, and a server that asks pgsluice for GSSAPI auth ----
check_eq "gssencmode=disable + gss auth: alice" "alice|t|t|pgsluice@$REALM" \
  "$(gq alice alice postgres disable "$STAT")"
check_match "the connection was not GSS-encrypted" \
  'connection authorized: user=alice database=postgres worker=[0-9]+$' "$(grep 'user=alice database=postgres' "$S_LOG")"
check_eq "bob's pool logs in with AuthenticationGSS (no encryption to the server)" \
  "bob|t|f|pgsluice@$REALM" "$(gq bob bob postgres require "$STAT")"

check_eq "gssencmode=prefer on a server that says G: GSS-encrypted" "alice|t|t|pgsluice@$REALM" \
  "$(gq alice alice prefdb require "$STAT")"

# ---- include_realm, maps, mismatches ----
check_eq "include_realm=1 (default), no map: user alice@$REALM" "alice@$REALM" \
  "$(gq alice "alice@$REALM" postgres disable 'select current_user')"
check_match "include_realm=1 without a map: role alice2 refused" \
  'FATAL:  GSSAPI authentication failed for user "alice2"' "$(gq alice alice2 postgres disable 'select 1')"
check_match "  logged: provided user name and authenticated user name do not match" \
  'provided user name \(alice2\) and authenticated user name \(alice@EXAMPLE.TEST\) do not match' "$(cat "$S_LOG")"
check_eq "regex map: bob@$REALM -> bob" "bob" "$(gq bob bob postgres require 'select current_user')"
check_eq "map line: bob@$REALM -> appuser" "appuser" "$(gq bob appuser postgres require 'select current_user')"
check_match "bob may not be alice (include_realm=0 line)" \
  'GSSAPI authentication failed for user "alice"' "$(gq bob alice postgres require 'select 1')"
check_match "carol may not be appuser (no map line)" \
  'GSSAPI authentication failed for user "appuser"' "$(gq carol appuser postgres require 'select 1')"
check_match "  logged: no match in the ident map" 'krb' "$(grep -i 'carol' "$S_LOG" | grep -i 'map')"
out=$(gq carol carol postgres require 'select 1')
check_match "carol is carol by the map, but PostgreSQL has no such role" 'FATAL: .*(carol|server login failed)' "$out"
check_match "the identity is recorded as the principal" "carol@$REALM" "$(grep -i carol "$S_LOG")"
out=$(KRB5CCNAME=FILE:$T/no-such-cache timeout 20 psql -X -At -w \
  "host=localhost port=$S_PORT user=alice dbname=postgres gssencmode=disable sslmode=disable" -c 'select 1' 2>&1)
check_match "a client without a ticket is refused" '(GSSAPI|credentials|Kerberos)' "$out"
check "  and gets no session" bash -c "! grep -qx 1 <<< '$out'"
check_match "gssencmode=require without a ticket fails in the client" 'GSS' \
  "$(KRB5CCNAME=FILE:$T/no-such-cache timeout 20 psql -X -At -w \
    "host=localhost port=$S_PORT user=alice dbname=postgres gssencmode=require sslmode=disable" -c 'select 1' 2>&1)"

# ---- hostgssenc / hostnogssenc on the real state ----
check_eq "hostgssenc trust line: trustuser over GSS encryption" "trustuser" \
  "$(gq alice trustuser postgres require 'select current_user')"
check_match "hostnogssenc reject line: trustuser in clear" \
  'pg_hba.conf rejects connection for host "127.0.0.1", user "trustuser", database "postgres", no encryption' \
  "$(gq alice trustuser postgres disable 'select 1')"
check_match "a reject line over GSS encryption names the state" \
  'pg_hba.conf rejects connection for host "127.0.0.1", user "alice", database "rejectdb", GSS encryption' \
  "$(gq alice alice rejectdb require 'select 1')"

# ---- hostile input ----
py_checks python3 "$IT_DIR/gssprobe.py" hostile 127.0.0.1 "$S_PORT" alice postgres
check_match "  the garbage token's GSSAPI error is logged" 'GSS' "$(grep -i 'accept' "$S_LOG" | head -3)"
check "pgsluice is still running" sluice_alive

# ---- pgbench over GSS encryption ----
out=$(KRB5CCNAME=FILE:$T/cc-alice PGGSSENCMODE=require timeout 120 pgbench -n -S -c 4 -j 2 -t 250 \
  -h localhost -p "$S_PORT" -U alice postgres 2>&1); rc=$?
check_pgbench "pgbench -S over GSS encryption" 1000 "$out" "$rc"
out=$(KRB5CCNAME=FILE:$T/cc-alice PGGSSENCMODE=require timeout 120 pgbench -n -S -C -c 4 -j 2 -t 25 \
  -h localhost -p "$S_PORT" -U alice postgres 2>&1); rc=$?
check_pgbench "pgbench -S -C over GSS encryption (a handshake per connection)" 100 "$out" "$rc"

# ---- the KDC stops answering, then dies ----
FIFO=$T/held.fifo; mkfifo "$FIFO"
KRB5CCNAME=FILE:$T/cc-alice timeout 120 psql -X -At -w \
  "host=localhost port=$S_PORT user=alice dbname=postgres gssencmode=require sslmode=disable" \
  < "$FIFO" > "$T/held.out" 2>&1 &
HELD=$!; track "$HELD"
exec 3> "$FIFO"
echo "select 'held-1';" >&3
wait_until 10 grep -q held-1 "$T/held.out" || fail "the held session did not answer"
kill -STOP "$KDC_PID"
note "KDC stopped (SIGSTOP): it takes requests and never answers"
t0=$(now_ms)
KRB5CCNAME=FILE:$T/cc-alice timeout 60 psql -X -At -w \
  "host=localhost port=$S_PORT user=alice dbname=kdcwait gssencmode=require sslmode=disable connect_timeout=30" \
  -c 'select 1' > "$T/kdcwait.out" 2>&1 &
WAITER=$!; track "$WAITER"
sleep 1
check "  the login that needs a new service ticket is still waiting" kill -0 "$WAITER"
t1=$(now_ms)
check_eq "  meanwhile another client logs in (no Kerberos)" "scramuser" \
  "$(sq scramuser postgres 'select current_user')"
check_eq "  and a Kerberos client with a ticket logs in (acceptors need no KDC)" "alice|t|t|pgsluice@$REALM" \
  "$(gq alice alice postgres require "$STAT")"
echo "select 'held-2';" >&3
wait_until 5 grep -q held-2 "$T/held.out" || fail "the held session stalled"
t2=$(now_ms)
check_le "  both logins and a query of the held session took (ms)" 3000 $((t2 - t1))
wait_pid "$WAITER" 30; rc=$?
t3=$(now_ms)
check_match "  the waiting login fails cleanly" 'FATAL' "$(cat "$T/kdcwait.out")"
check_ge "  after the server_connect_timeout (ms)" 5000 $((t3 - t0))
kill -KILL "$KDC_PID"
kill -CONT "$KDC_PID" 2> /dev/null
note "KDC killed"
sleep 0.5
check_match "KDC down: a new principal's first login fails cleanly (client-side ticket request)" \
  '(KDC|Kerberos|GSS)' "$(KRB5CCNAME=FILE:$T/cc-carol timeout 40 psql -X -At -w \
    "host=127.0.0.1 port=$S_PORT user=carol dbname=postgres gssencmode=require sslmode=disable" -c 'select 1' 2>&1)"
check_match "KDC down: a pool that needs a new service ticket fails the login cleanly" 'FATAL' \
  "$(gq alice alice kdcwait require 'select 1')"
check_match "  and the log says why" 'Cannot contact any KDC' "$(cat "$S_LOG")"
echo "select 'held-3';" >&3
wait_until 5 grep -q held-3 "$T/held.out" || fail "the held session stalled after the KDC died"
check "the held session went on throughout" grep -q held-3 "$T/held.out"
check_eq "KDC down: an existing pool still serves Kerberos clients with tickets" "alice" \
  "$(gq alice alice postgres require 'select current_user')"
exec 3>&-
wait_pid "$HELD" 10

sluice_stop INT 10; check_eq "pgsluice stops cleanly" 0 $?
sanitizer_check
finish
