#!/bin/bash
# 23. The vault module and the vault/frontend-users security models, end to end:
#   pgsluice-admin creates the master key and the users and frontend-users vaults (no password
#   in clear text anywhere on disk); pgsluice starts from them (passphrase from a file, then from
#   PGSLUICE_MASTER_PASSPHRASE) and psql logs in with SCRAM: security = vault (the same password
#   both sides) and security = frontend-users (the client's password differs from the one
#   pgsluice uses for PostgreSQL; one frontend entry is a SCRAM verifier); pgbench -C through
#   the frontend-users pool; rotation: `pgsluice-admin user edit` + SIGHUP, no restart, no second
#   key derivation; a corrupted entry stops start-up with file:line:user and nothing is touched;
#   a wrong passphrase, a group-readable vault and a frontend user missing from the users vault
#   stop start-up with their message; a corrupted vault at SIGHUP keeps the old one.
. "$(dirname "$0")/lib.sh"

ADMIN=${PGSLUICE_ADMIN:-$(dirname "$PGSLUICE")/pgsluice-admin}
[ -x "$ADMIN" ] || { fail "no pgsluice-admin next to $PGSLUICE"; finish; }
V=$T/vault
mkdir -p "$V" && chmod 700 "$V"
printf 'correct horse battery staple\n' > "$V/passphrase" && chmod 600 "$V/passphrase"
PWF=$T/pw.txt
# adm ARGS...: pgsluice-admin with the passphrase file; setpw PASSWORD: the password file
adm() { "$ADMIN" "$@" --passphrase-file "$V/passphrase"; }
setpw() { printf '%s\n' "$1" > "$PWF"; chmod 600 "$PWF"; }

check "pgsluice-admin master-key" adm master-key -k "$V/master.key"
setpw scrampass
check "add scramuser to the users vault" adm user add -f "$V/users.vault" -U scramuser --password-file "$PWF"
setpw md5pass
check "add md5user to the users vault" adm user add -f "$V/users.vault" -U md5user --password-file "$PWF"
setpw 'front secret'
check "add scramuser to the frontend vault" adm user add -f "$V/frontend.vault" -U scramuser --password-file "$PWF"
setpw 'md5 front é'
check "add md5user to the frontend vault as a SCRAM verifier" \
  adm user add -f "$V/frontend.vault" -U md5user --password-file "$PWF" --scram
setpw 'admin pw'
check "add an admin to the admins vault (--scram)" adm user add -f "$V/admins.vault" -U opsadmin --password-file "$PWF" --scram
rm -f "$PWF"
check_eq "vault files are mode 600" "600 600 600" \
  "$(stat -c %a "$V/master.key" "$V/users.vault" "$V/frontend.vault" | tr '\n' ' ' | sed 's/ $//')"
check_eq "no password in clear text in the vault files" "" \
  "$(grep -l -E 'scrampass|md5pass|front secret|md5 front' "$V"/*.vault "$V/master.key")"

S_MODULES="vault = { path = \"vault.so\"; master_key = \"$V/master.key\";
    master_key_passphrase_file = \"$V/passphrase\";
    users = \"$V/users.vault\"; frontend_users = \"$V/frontend.vault\";
    admins = \"$V/admins.vault\"; };"
S_AUTH='auth = { default_chain = ( { use = "scram"; control = "required"; } ); };'
pool='server = "main"; mode = "transaction"; max_size = 4;'
S_POOLS_PRE="
  { database = \"testdb\"; user = \"*\"; $pool security = \"frontend-users\"; },
  { database = \"postgres\"; user = \"*\"; $pool security = \"vault\"; },"
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start from the vault"; finish; }
log=$(cat "$S_LOG")
check_match "the master key is unlocked once, its time logged" 'vault: master key .*master.key unlocked in [0-9]+ ms' "$log"
check_match "the users vault is loaded" 'users.vault: 2 users' "$log"
check_match "the frontend vault is loaded" 'frontend.vault: 2 users' "$log"
check_match "the admins vault is loaded and decrypted (1 SCRAM verifier)" 'admins.vault: 1 users \(0 plain, 0 md5, 1 scram-sha-256\)' "$log"

# ---- security = vault: the vault's password on both sides
check_eq "vault model: scramuser logs in with the vault's password" "scramuser" \
  "$(PGPASSWORD=scrampass sq scramuser postgres 'select current_user')"
check_eq "vault model: md5user (MD5 on the PostgreSQL side)" "md5user" \
  "$(PGPASSWORD=md5pass sq md5user postgres 'select current_user')"
check_match "vault model: wrong password" 'FATAL: +password authentication failed for user "scramuser"' \
  "$(PGPASSWORD=nope sq scramuser postgres 'select 1')"
check_match "vault model: unknown user, same message" 'FATAL: +password authentication failed for user "ghost"' \
  "$(PGPASSWORD=nope sq ghost postgres 'select 1')"

# ---- security = frontend-users: another password towards pgsluice
check_eq "frontend-users: scramuser with its frontend password" "scramuser" \
  "$(PGPASSWORD='front secret' sq scramuser testdb 'select current_user')"
check_match "frontend-users: the server password does not open the front door" \
  'FATAL: +password authentication failed for user "scramuser"' \
  "$(PGPASSWORD=scrampass sq scramuser testdb 'select 1')"
check_eq "frontend-users: a frontend entry stored as a SCRAM verifier" "md5user" \
  "$(PGPASSWORD='md5 front é' sq md5user testdb 'select current_user')"
out=$(PGPASSWORD='front secret' timeout 120 pgbench -n -S -C -c 2 -j 1 -t 25 \
  "host=127.0.0.1 port=$S_PORT user=scramuser dbname=testdb sslmode=disable gssencmode=disable" 2>&1)
check_pgbench "pgbench -C through the frontend-users pool" 50 "$out" $?
check_eq "no password in the log" "" \
  "$(grep -E -o 'scrampass|md5pass|front secret|md5 front|correct horse' "$S_LOG" | head -3)"

# ---- rotation: user edit + SIGHUP, same process, no new key derivation
pid=$S_PID
setpw 'front two'
check "pgsluice-admin user edit (rotation)" adm user edit -f "$V/frontend.vault" -U scramuser --password-file "$PWF"
rm -f "$PWF"
kill -HUP "$S_PID"
wait_until 20 grep -q 'configuration reloaded (generation 2)' "$S_LOG"
check_eq "after SIGHUP: the new frontend password" "scramuser" \
  "$(PGPASSWORD='front two' sq scramuser testdb 'select current_user')"
check_match "after SIGHUP: the old frontend password is refused" \
  'FATAL: +password authentication failed for user "scramuser"' \
  "$(PGPASSWORD='front secret' sq scramuser testdb 'select 1')"
check_eq "rotation needed no restart" "$pid" "$S_PID"
check_eq "the reload reused the master key (one derivation)" "1" \
  "$(grep -c 'unlocked in' "$S_LOG")"

# ---- a corrupted vault at SIGHUP: the old one stays
cp -p "$V/users.vault" "$T/users.good"
python3 - "$V/users.vault" <<'EOF'
import sys
p = sys.argv[1]
lines = open(p).read().split('\n')
for i, l in enumerate(lines):
    if l.startswith('scramuser:'):
        user, entry = l.rsplit(':', 1)
        c = entry[20]
        entry = entry[:20] + ('B' if c != 'B' else 'C') + entry[21:]
        lines[i] = user + ':' + entry
open(p, 'w').write('\n'.join(lines))
EOF
kill -HUP "$S_PID"
wait_until 20 grep -q 'reload of .* failed' "$S_LOG"
check_match "corrupt vault at SIGHUP: the reload fails naming file, line and user" \
  'users.vault:[0-9]+: user "scramuser"' "$(cat "$S_LOG")"
check_eq "corrupt vault at SIGHUP: logins go on with the old vault" "scramuser" \
  "$(PGPASSWORD=scrampass sq scramuser postgres 'select current_user')"
sluice_stop

# ---- start-up refusals: nothing else is touched
sums() { sha256sum "$V"/* | sha256sum; }
refuse() {   # refuse NAME ERE: pgsluice must exit non-zero at start with ERE in its log
  local before after
  before=$(sums)
  : > "$S_LOG"
  timeout 60 "$PGSLUICE" -c "$S_CONF" < /dev/null >> "$S_LOG" 2>&1
  local rc=$?
  after=$(sums)
  if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -Eq -- "$2" "$S_LOG"; then ok "$1 (exit $rc)"; else
    fail "$1: exit $rc, log: $(head -c 600 "$S_LOG")"; fi
  check_eq "$1: the files are unchanged" "$before" "$after"
  check "$1: nothing listens" bash -c "! ss -Hlnt 'sport = :$S_PORT' | grep -q ."
}
refuse "corrupted entry" 'users.vault:[0-9]+: user "scramuser".*(decrypt|modified)'
cp -p "$T/users.good" "$V/users.vault"

cp -p "$V/passphrase" "$T/passphrase.good"
printf 'wrong horse\n' > "$V/passphrase"
refuse "wrong passphrase" 'wrong passphrase'
cp -p "$T/passphrase.good" "$V/passphrase"

chmod 640 "$V/users.vault"
refuse "group-readable users vault" 'users.vault.*(permission|group)'
chmod 600 "$V/users.vault"

setpw 'ghost pw'
check "add a frontend user missing from the users vault" adm user add -f "$V/frontend.vault" -U ghost --password-file "$PWF"
rm -f "$PWF"
refuse "frontend user not in the users vault" 'ghost'
check "remove it again" adm user del -f "$V/frontend.vault" -U ghost

# ---- passphrase from the environment
sed -i '/master_key_passphrase_file/d' "$S_CONF"
export PGSLUICE_MASTER_PASSPHRASE='correct horse battery staple'
sluice_start || fail "pgsluice did not start with PGSLUICE_MASTER_PASSPHRASE"
unset PGSLUICE_MASTER_PASSPHRASE
check_eq "passphrase from the environment: logins work" "scramuser" \
  "$(PGPASSWORD='front two' sq scramuser testdb 'select current_user')"
finish
