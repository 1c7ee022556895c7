#!/bin/bash
# 19. Access rules (hba module, PostgreSQL's pg_hba.conf syntax) and the ident map:
#   every row of a sample pg_hba.conf is verified by connecting with psql (local + peer with a
#   map, local + peer without, host + trust, a reject line, regex users, an @file list, IPv4 vs
#   IPv6 rules, address + mask columns, no matching line);
#   refusals carry PostgreSQL 15's messages and SQLSTATE 28000 / the method's wording;
#   SIGHUP with a broken pg_hba.conf: the error names file:line and the old rules stay;
#   SIGHUP with a changed pg_hba.conf: the new rules apply;
#   the shipped configuration (pgsluice.conf, conf.d/, pg_hba.conf: hba + scram) passes
#   --check-config, and refuses a userlist.txt readable by others.
. "$(dirname "$0")/lib.sh"

# frontend secrets: PgBouncer-style userlist (plain, and the verifier PostgreSQL stores)
scram_verifier=$(pgq "select rolpassword from pg_authid where rolname = 'scramuser'")
check_match "PostgreSQL stores a SCRAM verifier for scramuser" '^SCRAM-SHA-256\$4096:' "$scram_verifier"
cat > "$T/userlist.txt" <<EOT
"trustuser" "trustpw"
"scramuser" "$scram_verifier"
EOT
chmod 600 "$T/userlist.txt"
printf 'scramuser\n# comment\n"trustuser"\n' > "$T/v6users"
me=$(id -un)
cat > "$T/pg_ident.conf" <<EOT
# MAPNAME  SYSTEM-USER    PG-USER
rootmap    $me            trustuser
rxmap      /^(r.*)\$       \1
EOT
cat > "$T/pg_hba.conf" <<EOT
# TYPE  DATABASE        USER          ADDRESS                  METHOD
local   all             trustuser                              peer map=rootmap
local   all             all                                    peer
host    rejectdb        all           127.0.0.1   255.255.255.255  reject
host    all             "trustuser"   127.0.0.1/32             trust
host    postgres,testdb /^scram       127.0.0.1/32             scram-sha-256
host    all             @v6users      ::1/128                  scram-sha-256
EOT
S_MODULES="hba = { path = \"hba.so\"; file = \"$T/pg_hba.conf\"; ident_file = \"$T/pg_ident.conf\"; };
  userlist = { path = \"userlist.so\"; file = \"$T/userlist.txt\"; };
  peer = { path = \"peer.so\"; };"
S_AUTH='chains = { scram-sha-256 = ( { use = "scram"; control = "required"; } ); };'
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; }

export PGPASSWORD=
# line 2: local + peer through the map (this OS user -> trustuser)
check_eq "pg_hba.conf:2 local peer map=rootmap: $me connects as trustuser" "trustuser" \
  "$(sqh "$S_SOCK" trustuser postgres 'select current_user')"
# line 3: local + peer without a map: the OS user must be the role
out=$(sqh "$S_SOCK" scramuser postgres 'select 1')
check_match "pg_hba.conf:3 local peer: $me is not scramuser -> PostgreSQL's peer message" \
  "FATAL: +Peer authentication failed for user \"scramuser\"" "$out"
# line 4: reject, address + mask columns
out=$(sq scramuser rejectdb 'select 1')
check_match "pg_hba.conf:4 reject line: PostgreSQL's message" \
  "FATAL: +pg_hba.conf rejects connection for host \"127.0.0.1\", user \"scramuser\", database \"rejectdb\", no encryption" "$out"
# line 5: trust for the quoted name over IPv4
check_eq "pg_hba.conf:5 host trust: trustuser over 127.0.0.1" "trustuser" "$(sq trustuser postgres 'select current_user')"
# line 6: /regex user, database list, SCRAM against the stored verifier
check_eq "pg_hba.conf:6 regex user + scram, right password" "scramuser" \
  "$(PGPASSWORD=scrampass sq scramuser testdb 'select current_user')"
out=$(PGPASSWORD=wrong sq scramuser testdb 'select 1')
check_match "pg_hba.conf:6 wrong password: 28P01 wording" \
  "FATAL: +password authentication failed for user \"scramuser\"" "$out"
out=$(PGPASSWORD=scrampass sq scramuser template1 'select 1')
check_match "pg_hba.conf:6 database not in the list: no entry" \
  "FATAL: +no pg_hba.conf entry for host \"127.0.0.1\", user \"scramuser\", database \"template1\", no encryption" "$out"
# line 7: @file list of users, IPv6 only
check_eq "pg_hba.conf:7 @file user over ::1" "scramuser" \
  "$(PGPASSWORD=scrampass sqh ::1 scramuser postgres 'select current_user')"
out=$(sqh ::1 md5user postgres 'select 1')
check_match "pg_hba.conf:7 user not in the @file: no entry for ::1" \
  "FATAL: +no pg_hba.conf entry for host \"::1\", user \"md5user\", database \"postgres\", no encryption" "$out"
out=$(PGPASSWORD=trustpw sqh ::1 trustuser postgres 'select current_user')
check_eq "pg_hba.conf:7 quoted name in the @file, plain userlist password" "trustuser" "$out"
# an IPv4 client never matches the IPv6 line
out=$(PGPASSWORD=scrampass sq md5user postgres 'select 1')
check_match "no line for md5user over IPv4" "no pg_hba.conf entry for host \"127.0.0.1\", user \"md5user\"" "$out"

# ---- SIGHUP with a broken file: error with file:line, old rules stay
cp "$T/pg_hba.conf" "$T/pg_hba.good"
printf 'host all all 10.0.0.0/33 trust\n' >> "$T/pg_hba.conf"
kill -HUP "$S_PID"
wait_until 10 grep -q 'pg_hba.conf:8' "$S_LOG"
check_match "the broken line is reported as file:line" "pg_hba\.conf:8:" "$(grep 'pg_hba.conf:8' "$S_LOG" | head -1)"
check_eq "old rules still in force after the failed reload" "trustuser" "$(sq trustuser postgres 'select current_user')"
check "daemon still running" sluice_alive

# ---- SIGHUP with a changed file: the new rules apply
sed 's/^host    all             "trustuser".*/host    all             trustuser     127.0.0.1\/32             reject/' \
  "$T/pg_hba.good" > "$T/pg_hba.conf"
kill -HUP "$S_PID"
wait_until 10 bash -c "psql -X -At -w 'host=127.0.0.1 port=$S_PORT user=trustuser dbname=postgres sslmode=disable' -c 'select 1' 2>&1 | grep -q rejects"
out=$(sq trustuser postgres 'select 1')
check_match "after the reload, trustuser over 127.0.0.1 is rejected" "pg_hba.conf rejects connection" "$out"
sluice_stop

# ---- the shipped configuration
top=$(cd "$IT_DIR/../.." && pwd)
mkdir -p "$T/shipped/conf.d"
cp "$top/pgsluice.conf" "$top/pg_hba.conf" "$top/pg_ident.conf" "$T/shipped/"
cp "$top"/conf.d/*.conf "$T/shipped/conf.d/"
printf 'module_path = "%s";\n' "$PGSLUICE_MODULE_DIR" > "$T/shipped/conf.d/90-test.conf"
( umask 077; printf '"alice" "secret"\n' > "$T/shipped/userlist.txt" )
out=$(timeout -k 2 30 "$PGSLUICE" --check-config -c "$T/shipped/pgsluice.conf" 2>&1); rc=$?
check_eq "the shipped configuration passes --check-config" 0 "$rc"
[ "$rc" = 0 ] || note "$out"
check_match "the shipped chains use hba + scram" 'hba.*file' "$(cat "$T/shipped/conf.d/10-modules.conf")"
chmod 644 "$T/shipped/userlist.txt"
out=$(timeout -k 2 30 "$PGSLUICE" --check-config -c "$T/shipped/pgsluice.conf" 2>&1); rc=$?
check_eq "a userlist.txt readable by others is refused" 1 "$rc"
check_match "...with a message naming the file" "userlist\.txt" "$out"
finish
