#!/bin/bash
# 12. Configuration and signals:
#   --check-config: a valid config exits 0; a config with errors exits 1 and prints every
#     error as FILE:LINE: (semantic errors, a syntax error, an error in conf.d/);
#   a module file that does not exist makes start-up fail with a message naming the file;
#   SIGHUP with a broken config: the error is logged and the old config keeps serving;
#   SIGHUP with a changed pool: the change takes effect and everything still serves;
#   SIGTERM with an idle client connected: pgsluice drains and exits by itself (<= 15 s);
#   SIGINT: fast stop (<= 10 s).
. "$(dirname "$0")/lib.sh"

# ---- --check-config
conf_std transaction 5 > "$S_CONF"
out=$(timeout -k 2 30 "$PGSLUICE" --check-config -c "$S_CONF" 2>&1); rc=$?
check_eq "--check-config on a valid config: exit status" 0 "$rc"
[ "$rc" = 0 ] || note "$out"

mkdir -p "$T/bad" "$T/syntax" "$T/confd/conf.d"
cat > "$T/bad/bad.conf" <<CONF
# line 1: a config with two errors, on lines 3 and 7
listen = ( { host = "127.0.0.1"; port = $S_PORT; } );
workers = "two";
module_path = "$PGSLUICE_MODULE_DIR";
modules = { trust = { path = "trust.so"; }; };
servers = ( { name = "main"; host = "127.0.0.1"; port = $PGPORT; } );
pools = ( { database = "*"; user = "*"; server = "nosuchserver"; mode = "transaction"; max_size = 5; } );
auth = { default_chain = ( { use = "trust"; control = "required"; } ); };
CONF
out=$(timeout -k 2 30 "$PGSLUICE" --check-config -c "$T/bad/bad.conf" 2>&1); rc=$?
note "--check-config bad.conf (exit $rc): $(printf '%s' "$out" | tr '\n' '|' | head -c 400)"
check_eq "--check-config on a config with errors: exit status" 1 "$rc"
check_match "the error on line 3 (workers = \"two\") is reported as FILE:3:" "bad\.conf:3:" "$out"
check_match "the error on line 7 (unknown server) is reported as FILE:7:" "bad\.conf:7:" "$out"

cat > "$T/syntax/syntax.conf" <<CONF
listen = ( { host = "127.0.0.1"; port = $S_PORT; } );
workers = = 2;
max_client_conn = 10;
CONF
out=$(timeout -k 2 30 "$PGSLUICE" --check-config -c "$T/syntax/syntax.conf" 2>&1); rc=$?
note "--check-config syntax.conf (exit $rc): $(printf '%s' "$out" | tr '\n' '|' | head -c 300)"
check_eq "--check-config on a syntax error: exit status" 1 "$rc"
check_match "the syntax error is reported as FILE:LINE:" "syntax\.conf:2:" "$out"

conf_std transaction 5 > "$T/confd/main.conf"
printf '# conf.d file with an error on line 2\nworkers = "many";\n' > "$T/confd/conf.d/50-bad.conf"
out=$(timeout -k 2 30 "$PGSLUICE" --check-config -c "$T/confd/main.conf" 2>&1); rc=$?
note "--check-config with a bad conf.d file (exit $rc): $(printf '%s' "$out" | tr '\n' '|' | head -c 300)"
check_eq "--check-config with an error in conf.d/50-bad.conf: exit status" 1 "$rc"
check_match "the conf.d error is reported as conf.d/50-bad.conf:2:" "50-bad\.conf:2:" "$out"

# ---- a module file that does not exist
conf_std transaction 5 | sed 's/path = "md5.so"/path = "nosuch-module.so"/' > "$T/nomod.conf"
grep -q nosuch-module.so "$T/nomod.conf" || fail "test setup: could not write nomod.conf"
timeout -k 2 20 "$PGSLUICE" -c "$T/nomod.conf" > "$T/nomod.log" 2>&1; rc=$?
note "start-up with a missing module (exit $rc): $(tr '\n' '|' < "$T/nomod.log" | head -c 300)"
check "start-up with a missing module fails (exit $rc, not 0 and not a timeout)" test "$rc" != 0 -a "$rc" != 124
check_match "the start-up error names nosuch-module.so" "nosuch-module\.so" "$(cat "$T/nomod.log")"

# ---- SIGHUP with a broken config keeps the old one
conf_std transaction 5 > "$S_CONF"
cp "$S_CONF" "$T/good.conf"
sluice_start || { fail "pgsluice did not start"; finish; exit; }
check_eq "serving before SIGHUP" "before" "$(sq trustuser postgres "select 'before'")"
lines=$(wc -l < "$S_LOG")
printf 'this is { not a valid ; config\n' > "$S_CONF"
kill -HUP "$S_PID"
sleep 1.5
check "alive after SIGHUP with a broken config" sluice_alive
check_eq "serving with the old config after the broken reload" "old config" "$(sq scramuser testdb "select 'old config'")"
check_match "the broken reload is reported in the log, naming the file" "pgsluice\.conf" "$(tail -n +"$((lines + 1))" "$S_LOG")"

# ---- SIGHUP with a module the loader refuses (built for ABI major 2): the old config stays
make -s -C "$(dirname "$PGSLUICE")" fx_badmajor.la > /dev/null 2>&1
if [ -f "$PGSLUICE_MODULE_DIR/fx_badmajor.so" ]; then
  sed 's/path = "md5.so"/path = "fx_badmajor.so"/' "$T/good.conf" > "$S_CONF"
  lines=$(wc -l < "$S_LOG")
  kill -HUP "$S_PID"
  sleep 1.5
  check "alive after SIGHUP with a refused module" sluice_alive
  check_eq "md5user still served by the old md5 module" "md5user" "$(sq md5user postgres "select current_user")"
  check_match "the refusal names the module file and the field" "fx_badmajor\.so: field 'abi_major' is 2" \
    "$(tail -n +"$((lines + 1))" "$S_LOG")"
else
  fail "fixture fx_badmajor.so is not built in $PGSLUICE_MODULE_DIR"
fi

# ---- SIGHUP with a changed pool: a new pool aliasdb -> server database testdb
before=$(sq trustuser aliasdb "select current_database()")
check_match "before the reload, database aliasdb does not exist" "aliasdb" "$before"
S_POOLS_PRE='
  { database = "aliasdb"; user = "*"; server = "main"; server_database = "testdb"; mode = "transaction"; max_size = 3; },' \
  conf_std transaction 5 > "$S_CONF"
kill -HUP "$S_PID"
alias_ok() { [ "$(sq trustuser aliasdb "select current_database()")" = testdb ]; }
check "after SIGHUP, the new pool aliasdb serves database testdb (<= 10 s)" wait_until 10 alias_ok
check "alive after SIGHUP with a changed pool" sluice_alive
check_eq "the other pools still serve" "scramuser|testdb" "$(sq scramuser testdb "select current_user, current_database()")"
check_eq "trustuser still served" "trustuser|postgres" "$(sq trustuser postgres "select current_user, current_database()")"

# ---- SIGINT: fast stop
sluice_stop INT 10; rc=$?
check "SIGINT: pgsluice stops within 10 s (exit $rc)" test "$rc" != 124

# ---- SIGTERM with an idle client connected
cp "$T/good.conf" "$S_CONF"
sluice_start || { fail "pgsluice did not start again"; finish; exit; }
mkfifo "$T/idle.in"
psql -X -At -w "host=127.0.0.1 port=$S_PORT user=scramuser dbname=testdb sslmode=disable gssencmode=disable" \
  < "$T/idle.in" > "$T/idle.out" 2>&1 &
idle=$!; track "$idle"
exec 7> "$T/idle.in"
echo "select 'idle client connected';" >&7
connected() { grep -q 'idle client connected' "$T/idle.out"; }
check "an idle client is connected" wait_until 10 connected
t0=$(now_ms)
kill -TERM "$S_PID"
wait_pid "$S_PID" 15; rc=$?
dt=$(( $(now_ms) - t0 ))
note "after SIGTERM with an idle client: exit $rc after $dt ms"
check "SIGTERM with an idle client: pgsluice exits by itself within 15 s" test "$rc" != 124
check_eq "SIGTERM: exit status" 0 "$rc"
[ "$rc" = 124 ] || S_PID=
exec 7>&-
wait_pid "$idle" 5 >/dev/null
finish
