#!/bin/bash
# 20. Frontend SCRAM-SHA-256 with real clients, and SCRAM pass-through to PostgreSQL:
#   psql, libpq's channel_binding=disable/prefer/require, psycopg2: right and wrong passwords;
#   an unknown user goes through the same exchange and gets the same answer as a wrong password;
#   pass-through: a role whose only secret anywhere is the SCRAM verifier PostgreSQL stores
#   (userlist.txt holds that verifier, the pool no password): pgsluice recovers the client's
#   ClientKey and logs into PostgreSQL with it;
#   malformed SASL messages get 08P01 and a close; a stalled exchange hits auth_timeout (57014);
#   pgbench with a new SCRAM login per transaction (-C) through pgsluice: zero failures.
. "$(dirname "$0")/lib.sh"

# a role with a SCRAM verifier only; PostgreSQL's pg_hba asks it for scram-sha-256 over TCP
pgq "drop role if exists ptuser" > /dev/null
check_eq "create role ptuser" "CREATE ROLE" "$(pgq "set password_encryption = 'scram-sha-256'; create role ptuser login password 'pt pass é'" | tail -1)"
pt_verifier=$(pgq "select rolpassword from pg_authid where rolname = 'ptuser'")
scram_verifier=$(pgq "select rolpassword from pg_authid where rolname = 'scramuser'")
cat > "$T/userlist.txt" <<EOT
; PgBouncer-style comment
"scramuser" "$scram_verifier"
"ptuser" "$pt_verifier"
"trustuser" "trust""pw"
EOT
chmod 600 "$T/userlist.txt"
S_MODULES="userlist = { path = \"userlist.so\"; file = \"$T/userlist.txt\"; };"
S_AUTH='auth = { default_chain = ( { use = "scram"; control = "required"; } ); };'
S_TOP='auth_timeout = 2;'
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; }

# ---- psql: right password, wrong password, unknown user
check_eq "scramuser, right password (stored verifier from PostgreSQL)" "scramuser" \
  "$(PGPASSWORD=scrampass sq scramuser postgres 'select current_user')"
check_eq "trustuser, plain userlist password with a doubled quote" "trustuser" \
  "$(PGPASSWORD='trust"pw' sq trustuser postgres 'select current_user')"
wrong=$(PGPASSWORD=nope sq scramuser postgres 'select 1')
check_match "wrong password: PostgreSQL's 28P01 message" \
  'FATAL: +password authentication failed for user "scramuser"' "$wrong"
ghost=$(PGPASSWORD=nope sq ghost postgres 'select 1')
check_match "unknown user: the same message" 'FATAL: +password authentication failed for user "ghost"' "$ghost"

# the same exchange on the wire for a known and an unknown user
known_shape=$(timeout 20 python3 "$IT_DIR/saslprobe.py" shape 127.0.0.1 "$S_PORT" scramuser postgres)
ghost_shape=$(timeout 20 python3 "$IT_DIR/saslprobe.py" shape 127.0.0.1 "$S_PORT" ghostuser postgres)
note "known: $known_shape"
note "ghost: $ghost_shape"
check_match "known user: SCRAM exchange, 28P01 at the end" 'mechs=SCRAM-SHA-256 i=4096 saltlen=16 nonce_prefix_ok=True.*error=\[28P01 password authentication failed for user "USER"\] closed=True' "$known_shape"
check_eq "unknown user: the exchange looks the same as for a known user" "$known_shape" "$ghost_shape"

# ---- libpq channel binding settings (no TLS here: SCRAM-SHA-256-PLUS is not offered)
check_eq "channel_binding=disable" "scramuser" \
  "$(PGPASSWORD=scrampass PGCHANNELBINDING=disable sq scramuser postgres 'select current_user')"
check_eq "channel_binding=prefer" "scramuser" \
  "$(PGPASSWORD=scrampass PGCHANNELBINDING=prefer sq scramuser postgres 'select current_user')"
out=$(PGPASSWORD=scrampass PGCHANNELBINDING=require sq scramuser postgres 'select 1')
check_match "channel_binding=require without TLS is refused by the client" "channel binding" "$out"

# ---- psycopg2 (Debian's python3-psycopg2)
dsn="host=127.0.0.1 port=$S_PORT dbname=postgres sslmode=disable gssencmode=disable connect_timeout=10"
out=$(timeout 20 /usr/bin/python3 -c "
import psycopg2, sys
c = psycopg2.connect(sys.argv[1], user='scramuser', password='scrampass')
cur = c.cursor(); cur.execute('select current_user'); print(cur.fetchone()[0])
try:
    psycopg2.connect(sys.argv[1], user='scramuser', password='bad')
    print('wrong password accepted')
except psycopg2.OperationalError as e:
    print('refused:', str(e).strip().splitlines()[-1])
" "$dsn" 2>&1)
check_match "psycopg2: right password" '^scramuser$' "$out"
check_match "psycopg2: wrong password refused with 28P01 wording" 'refused: .*password authentication failed for user "scramuser"' "$out"

# ---- pass-through: ptuser's pool has no password; only the verifier is stored anywhere
check_eq "pass-through: ptuser (non-ASCII password, SASLprep) logs in through pgsluice" "ptuser" \
  "$(PGPASSWORD='pt pass é' sq ptuser postgres 'select current_user')"
check_eq "pass-through: the server connection is really ptuser's" "1" "$(server_conns ptuser | tr -d ' ')"
check_match "PostgreSQL logged ptuser's login as SCRAM" 'connection authenticated: identity="ptuser" method=scram-sha-256' \
  "$(grep -a 'ptuser' "$PG_LOG" | tail -5)"
out=$(PGPASSWORD='pt pass e' sq ptuser postgres 'select 1')
check_match "pass-through: wrong password still refused" 'password authentication failed for user "ptuser"' "$out"

# ---- malformed SASL messages, stalled exchange
py_checks python3 "$IT_DIR/saslprobe.py" garbage 127.0.0.1 "$S_PORT" scramuser postgres
py_checks python3 "$IT_DIR/saslprobe.py" stall 127.0.0.1 "$S_PORT" scramuser postgres 2
check "daemon alive after the bad clients" sluice_alive

# ---- pgbench: a SCRAM login per transaction
printf 'select 1;\n' > "$T/one.sql"
out=$(PGPASSWORD=scrampass timeout 120 pgbench -n -C -c 4 -j 2 -t 50 -f "$T/one.sql" \
  -h 127.0.0.1 -p "$S_PORT" -U scramuser postgres 2>&1); rc=$?
check_pgbench "pgbench -C (200 SCRAM logins)" 200 "$out" "$rc"
finish
