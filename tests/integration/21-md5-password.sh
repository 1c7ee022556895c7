#!/bin/bash
# 21. The md5 and password modules on the client side, chains that mix methods, reject lines:
#   md5 with a stored MD5 hash and with a plain userlist password, right and wrong, and an
#   unknown user (same message); the chain md5 = (md5 sufficient, scram required), PostgreSQL's
#   md5 behaviour: a role whose secret is a SCRAM verifier is asked for SCRAM instead;
#   password (cleartext) refuses a connection without TLS/GSS encryption unless the instance
#   says allow_unencrypted = true; then right and wrong passwords, against plain, MD5 and SCRAM
#   secrets (the SCRAM check runs PBKDF2 on the work pool).
. "$(dirname "$0")/lib.sh"

md5_hash=$(pgq "select rolpassword from pg_authid where rolname = 'md5user'")
scram_verifier=$(pgq "select rolpassword from pg_authid where rolname = 'scramuser'")
check_match "PostgreSQL stores an MD5 hash for md5user" '^md5[0-9a-f]{32}$' "$md5_hash"
cat > "$T/userlist.txt" <<EOT
"md5user" "$md5_hash"
"scramuser" "$scram_verifier"
"trustuser" "plainpw"
EOT
chmod 600 "$T/userlist.txt"
cat > "$T/pg_hba.conf" <<EOT
host    testdb    all    127.0.0.1/32    cleartext
host    all       all    127.0.0.1/32    md5
host    all       all    ::1/128         password
EOT
S_MODULES="hba = { path = \"hba.so\"; file = \"$T/pg_hba.conf\"; };
  userlist = { path = \"userlist.so\"; file = \"$T/userlist.txt\"; };
  cleartext = { path = \"password.so\"; allow_unencrypted = true; };"
S_AUTH='chains = { md5 = ( { use = "md5"; control = "sufficient"; }, { use = "scram"; control = "required"; } ); };'
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; }
check_match "loading md5 logs the deprecation warning" "MD5 authentication is deprecated" "$(cat "$S_LOG")"

# ---- md5 chain
check_eq "md5: stored MD5 hash, right password" "md5user" "$(PGPASSWORD=md5pass sq md5user postgres 'select current_user')"
check_match "md5: wrong password" 'FATAL: +password authentication failed for user "md5user"' \
  "$(PGPASSWORD=bad sq md5user postgres 'select 1')"
check_eq "md5: plain userlist password" "trustuser" "$(PGPASSWORD=plainpw sq trustuser postgres 'select current_user')"
check_match "md5: unknown user, same message" 'FATAL: +password authentication failed for user "nobody"' \
  "$(PGPASSWORD=bad sq nobody postgres 'select 1')"
check_eq "md5 chain with a SCRAM secret: SCRAM is used (md5 steps aside)" "scramuser" \
  "$(PGPASSWORD=scrampass sq scramuser postgres 'select current_user')"
check_match "...and the log shows md5 stepping aside" "SCRAM verifier" "$(grep -a scramuser "$S_LOG")"
check_match "md5 chain, SCRAM secret, wrong password" 'password authentication failed for user "scramuser"' \
  "$(PGPASSWORD=bad sq scramuser postgres 'select 1')"

# ---- password over ::1 without TLS: refused by the module
out=$(PGPASSWORD=plainpw sqh ::1 trustuser postgres 'select 1')
check_match "password without TLS/GSS is refused" 'FATAL: +password authentication failed for user "trustuser"' "$out"
check_match "...and the log says why" "(TLS|encrypt)" "$(grep -a 'trustuser' "$S_LOG" | grep -ai 'password' | tail -3)"

# ---- cleartext instance (allow_unencrypted) on testdb
check_eq "cleartext: plain secret" "trustuser" "$(PGPASSWORD=plainpw sq trustuser testdb 'select current_user')"
check_eq "cleartext: MD5 secret" "md5user" "$(PGPASSWORD=md5pass sq md5user testdb 'select current_user')"
check_eq "cleartext: SCRAM secret (PBKDF2 on the work pool)" "scramuser" \
  "$(PGPASSWORD=scrampass sq scramuser testdb 'select current_user')"
check_match "cleartext: wrong password" 'password authentication failed for user "scramuser"' \
  "$(PGPASSWORD=bad sq scramuser testdb 'select 1')"
check_match "cleartext: unknown user" 'password authentication failed for user "nobody"' \
  "$(PGPASSWORD=bad sq nobody testdb 'select 1')"
finish
