#!/bin/bash
# 24. The authquery module and security = authquery, end to end with a real SECURITY DEFINER
#   function (contrib/pgsluice_get_password.sql) called as a dedicated role whose password is
#   kept in the vault: psql logs in with the SCRAM verifier fetched from PostgreSQL, and
#   pgsluice logs into PostgreSQL by pass-through (no password of the role anywhere in
#   pgsluice's files); a wrong password and an unknown user get the same 28P01; a role whose
#   name has quotes logs in; a name built as an SQL injection is only a name; an authquery
#   source that is down fails its logins cleanly (28P01, reason in the log) while other pools
#   go on; a source that accepts and never answers ends after its timeout, and meanwhile other
#   clients are served (the reactor never waits for it).
. "$(dirname "$0")/lib.sh"

ADMIN=${PGSLUICE_ADMIN:-$(dirname "$PGSLUICE")/pgsluice-admin}
ROOT=$(cd "$IT_DIR/../.." && pwd)
pgf() {   # pgf FILE: run an SQL file on the cluster as the superuser
  PGOPTIONS='-c client_min_messages=warning' timeout -k 2 20 psql -X -At -w -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PGPORT" -U postgres -d postgres -f "$1" 2>&1
}
qname="o'brien \"the\" user"
cat > "$T/roles.sql" <<'EOT'
SET password_encryption = 'scram-sha-256';
DROP TABLE IF EXISTS aq_canary;
CREATE TABLE aq_canary (x int);
DROP ROLE IF EXISTS pgsluice_auth;
DROP ROLE IF EXISTS aquser;
DROP ROLE IF EXISTS "o'brien ""the"" user";
DROP ROLE IF EXISTS aqnologin;
CREATE ROLE pgsluice_auth LOGIN PASSWORD 'auth pw';
CREATE ROLE aquser LOGIN PASSWORD 'aq pass';
CREATE ROLE "o'brien ""the"" user" LOGIN PASSWORD 'quoted pw';
CREATE ROLE aqnologin NOLOGIN PASSWORD 'nologin pw';
EOT
check_eq "roles for the test" "" "$(pgf "$T/roles.sql")"
check_eq "contrib/pgsluice_get_password.sql loads" "" "$(pgf "$ROOT/contrib/pgsluice_get_password.sql")"
check_eq "the function is not executable by PUBLIC" "f" \
  "$(pgq "select has_function_privilege('aquser', 'public.pgsluice_get_password(text)', 'execute')")"

# pgsluice_auth's password lives in the vault
V=$T/vault; mkdir -p "$V"; chmod 700 "$V"
printf 'vault pass\n' > "$V/passphrase"; chmod 600 "$V/passphrase"
printf 'auth pw\n' > "$T/pw"; chmod 600 "$T/pw"
check "master key" "$ADMIN" master-key -k "$V/master.key" --passphrase-file "$V/passphrase"
check "pgsluice_auth's password into the vault" "$ADMIN" user add -f "$V/users.vault" -U pgsluice_auth \
  --password-file "$T/pw" --passphrase-file "$V/passphrase"
rm -f "$T/pw"

# a port where nothing listens, and one that accepts and never answers
down_port=$(free_port $((S_PORT + 100)))
hang_port=$(free_port $((down_port + 1)))
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $hang_port)); s.listen(16)
held = []
while True:
    c, _ = s.accept(); held.append(c)
" & track $!
wait_until 10 port_used "$hang_port"

cat > "$T/pg_hba.conf" <<EOT
host  all  trustuser  127.0.0.1/32  trust
host  all  all        127.0.0.1/32  scram
EOT
aq='path = "authquery.so"; auth_user = "pgsluice_auth"; password_from = "vault"; dbname = "postgres";'
S_MODULES="hba = { path = \"hba.so\"; file = \"$T/pg_hba.conf\"; };
  vault = { path = \"vault.so\"; master_key = \"$V/master.key\"; master_key_passphrase_file = \"$V/passphrase\"; users = \"$V/users.vault\"; };
  authquery = { $aq host = \"127.0.0.1\"; port = $PGPORT; cache_ttl = 60; };
  aqdown = { $aq host = \"127.0.0.1\"; port = $down_port; timeout = 2; };
  aqhang = { $aq host = \"127.0.0.1\"; port = $hang_port; timeout = 5; };"
pool='server = "main"; mode = "transaction"; max_size = 4;'
S_POOLS_PRE="
  { database = \"postgres\"; user = \"*\"; $pool security = \"authquery\"; },
  { database = \"testdb\"; user = \"*\"; $pool security = \"authquery\"; authquery = \"aqdown\"; },
  { database = \"template1\"; user = \"*\"; $pool security = \"authquery\"; authquery = \"aqhang\"; },
  { database = \"testdb\"; user = \"trustuser\"; $pool },"
S_WORKERS=1   # one reactor: a fetch that blocked it would hold every client
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; }

# ---- the verifier from PostgreSQL drives frontend SCRAM, then pass-through to PostgreSQL
check_eq "aquser logs in with the verifier fetched from PostgreSQL" "aquser" \
  "$(PGPASSWORD='aq pass' sq aquser postgres 'select current_user')"
check_eq "pass-through: the server connection is aquser's own" "1" "$(server_conns aquser | tr -d ' ')"
check_match "PostgreSQL logged aquser's login as SCRAM" 'connection authenticated: identity="aquser" method=scram-sha-256' \
  "$(grep -a 'identity="aquser"' "$PG_LOG" | tail -2)"
check_eq "a second login (cached verifier)" "aquser" \
  "$(PGPASSWORD='aq pass' sq aquser postgres 'select current_user')"
check_match "wrong password" 'FATAL: +password authentication failed for user "aquser"' \
  "$(PGPASSWORD='bad' sq aquser postgres 'select 1')"
check_match "unknown user: the same message" 'FATAL: +password authentication failed for user "nosuchrole"' \
  "$(PGPASSWORD='bad' sq nosuchrole postgres 'select 1')"
check_match "a role that cannot log in gets no verifier" 'FATAL: +password authentication failed for user "aqnologin"' \
  "$(PGPASSWORD='nologin pw' sq aqnologin postgres 'select 1')"
out=$(PGUSER=$qname PGPASSWORD='quoted pw' timeout 20 psql -X -At -w \
  "host=127.0.0.1 port=$S_PORT dbname=postgres sslmode=disable gssencmode=disable" -c 'select current_user' 2>&1)
check_eq "a role name with quotes (a bound parameter, not SQL text)" "$qname" "$out"
evil="x'; drop table aq_canary; --"
out=$(PGUSER=$evil PGPASSWORD='x' timeout 20 psql -X -At -w \
  "host=127.0.0.1 port=$S_PORT dbname=postgres sslmode=disable gssencmode=disable" -c 'select 1' 2>&1)
check_match "an injection-shaped name is an unknown user" 'password authentication failed' "$out"
check_eq "and the canary table is still there" "0" "$(pgq 'select count(*) from aq_canary')"
check_eq "the auth role's password is nowhere in the log" "" "$(grep -o 'auth pw' "$S_LOG")"

# ---- a source that is down: its logins fail cleanly, other pools go on
out=$(PGPASSWORD='aq pass' sq aquser testdb 'select 1')
check_match "authquery source down: 28P01" 'FATAL: +password authentication failed for user "aquser"' "$out"
check_match "authquery source down: the reason is logged" 'authquery' "$(grep -i -E 'connect|refused' "$S_LOG" | tail -3)"
check_eq "authquery source down: another pool still serves" "trustuser" \
  "$(sq trustuser testdb 'select current_user')"

# ---- a source that never answers: bounded by its timeout, the reactor is not held
t0=$(now_ms)
(PGPASSWORD='aq pass' sq aquser template1 'select 1' > "$T/hang.out" 2>&1) & hang_client=$!
track $hang_client
sleep 0.5
t1=$(now_ms)
check_eq "while a fetch hangs, another client logs in" "aquser" \
  "$(PGPASSWORD='aq pass' sq aquser postgres 'select current_user')"
t2=$(now_ms)
check_le "...promptly, while the hung fetch still waits (ms)" 2500 $((t2 - t1))
wait_pid "$hang_client" 30
t3=$(now_ms)
check_match "the hanging source: 28P01" 'password authentication failed for user "aquser"' "$(cat "$T/hang.out")"
check_le "the hanging source: refused within its timeout (5 s) + 4 s (ms)" 9000 $((t3 - t0))
finish
