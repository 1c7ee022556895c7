#!/bin/bash
# 28. TLS from pgsluice to PostgreSQL (the test cluster runs with ssl=on and its own CA):
#   servers { sslmode = "verify-full"; sslrootcert; sslcert/sslkey }: certuser, whose
#   PostgreSQL pg_hba line is `hostssl ... cert`, is logged in by pgsluice's own client
#   certificate; pg_stat_ssl shows every pgsluice backend encrypted, with the client DN;
#   a pooled server connection keeps its TLS session (one handshake for many transactions);
#   pgbench with TLS on both sides (clients -> pgsluice -> PostgreSQL) has no failure;
#   sslmode = "verify-full" with a CA that did not sign the server's certificate is refused
#   and the reason is logged.
. "$(dirname "$0")/lib.sh"

: "${PG_CA:?}" "${PG_CERTS:?}"
C=$T/certs
CERT_KEY_ALG=ec bash "$IT_LIB/certs.sh" "$T" scramuser > /dev/null || { fail "certs.sh failed"; finish; }
cp "$PG_CERTS/client-certuser.crt" "$T/pgs-client.crt"
install -m 600 "$PG_CERTS/client-certuser.key" "$T/pgs-client.key"
S_MODULES="tls = { path = \"tls-openssl.so\"; cert = \"$C/server.crt\"; key = \"$C/server.key\"; };"
S_POOLS_PRE="{ database = \"*\"; user = \"certuser\"; server = \"main\"; mode = \"transaction\"; max_size = 2; },"
# the server entry with TLS settings
S_SERVER="sslmode = \"verify-full\"; sslrootcert = \"$PG_CA\"; sslcert = \"$T/pgs-client.crt\"; sslkey = \"$T/pgs-client.key\";"
conf_std transaction 4 > "$S_CONF"
check_match "the config has the server's TLS settings" 'sslmode = "verify-full"' "$(cat "$S_CONF")"
sluice_start || { fail "pgsluice did not start"; finish; }

check_eq "certuser: PostgreSQL's hostssl cert line accepts pgsluice's certificate" "certuser" \
  "$(sq certuser postgres 'select current_user')"
ssl=$(pgq "select s.ssl, s.client_dn from pg_stat_ssl s join pg_stat_activity a using (pid) where a.usename = 'certuser' and a.backend_type = 'client backend'")
check_match "pg_stat_ssl: the pgsluice backend of certuser is encrypted, with pgsluice's DN" '^t\|/CN=certuser' "$ssl"
check_eq "scramuser through pgsluice" "scramuser" "$(PGPASSWORD=scrampass sq scramuser postgres 'select current_user')"
check_eq "pg_stat_ssl: scramuser's pgsluice backend is encrypted too" "t" \
  "$(pgq "select bool_and(s.ssl) from pg_stat_ssl s join pg_stat_activity a using (pid) where a.usename = 'scramuser' and a.backend_type = 'client backend'")"

before=$(grep -c 'connection authorized: user=certuser' "$PG_LOG")
for i in $(seq 1 20); do sq certuser postgres 'select 1' > /dev/null; done
after=$(grep -c 'connection authorized: user=certuser' "$PG_LOG")
check_le "20 client sessions of certuser reuse pooled TLS server connections (new logins)" 2 $((after - before))

out=$(PGPASSWORD=scrampass timeout 120 pgbench -n -S -c 4 -j 2 -t 200 \
  "host=127.0.0.1 port=$S_PORT user=scramuser dbname=testdb sslmode=require gssencmode=disable" 2>&1)
check_pgbench "pgbench -S with TLS on both sides" 800 "$out" $?
sluice_stop

# ---- a CA that did not sign PostgreSQL's certificate: refused, with the reason
sed -i "s|sslrootcert = \"$PG_CA\"|sslrootcert = \"$C/ca.crt\"|" "$S_CONF"
sluice_start || { fail "pgsluice did not start (wrong CA)"; finish; }
out=$(sq certuser postgres 'select 1')
check_match "verify-full with the wrong CA: the client gets an error" 'ERROR|FATAL|failed' "$out"
check_match "the log says the server's certificate did not verify" 'TLS handshake with the server failed: .*(verify|issuer)' "$(cat "$S_LOG")"
finish
