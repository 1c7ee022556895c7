#!/bin/bash
# 26. TLS towards clients through the tls-openssl transport module, with real certificates from
#   a throwaway CA (tests/lib/certs.sh): psql with sslmode=require, verify-ca and verify-full
#   (a wrong host name refused by the client); SCRAM-SHA-256-PLUS with channel_binding=require
#   end to end; hostssl / hostnossl in pg_hba.conf from the real connection state (PostgreSQL's
#   "hostnossl ... reject" idiom); min_protocol = TLSv1.3 refuses a TLS 1.2-only client;
#   pgbench over TLS with no failure; bad input: garbage instead of a ClientHello, a client that
#   drops mid-handshake, unencrypted bytes right after the SSLRequest (08P01); PostgreSQL 17's
#   direct TLS (ALPN "postgresql" required); SIGHUP with a key that does not match the
#   certificate keeps the old one; a key rotation at SIGHUP keeps open sessions and serves the
#   new certificate to new ones; a group/world-readable key stops start-up.
. "$(dirname "$0")/lib.sh"

C=$T/certs
CERT_KEY_ALG=ec bash "$IT_LIB/certs.sh" "$T" scramuser > /dev/null || { fail "certs.sh failed"; finish; }
cat > "$T/pg_hba.conf" <<EOT
hostssl    all  all  127.0.0.1/32  scram
hostnossl  all  all  127.0.0.1/32  reject
host       all  all  ::1/128       scram
EOT
cat > "$T/userlist.txt" <<EOT
"scramuser" "scrampass"
EOT
chmod 600 "$T/userlist.txt"
S_MODULES="hba = { path = \"hba.so\"; file = \"$T/pg_hba.conf\"; };
  userlist = { path = \"userlist.so\"; file = \"$T/userlist.txt\"; };
  tls = { path = \"tls-openssl.so\"; cert = \"$C/server.crt\"; key = \"$C/server.key\"; };"
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start with TLS"; finish; }

tq() {   # tq CONNINFO-EXTRA SQL: psql as scramuser over TCP with extra connection settings
  PGPASSWORD=scrampass timeout -k 2 20 psql -X -At -w \
    "port=$S_PORT user=scramuser dbname=postgres gssencmode=disable connect_timeout=10 $1" -c "$2" 2>&1
}
check_eq "sslmode=require" "scramuser" "$(tq "host=127.0.0.1 sslmode=require" 'select current_user')"
check_match "the log shows the TLS session" 'connection authorized: user=scramuser .*SSL enabled \(protocol=TLSv1\.[23], cipher=' "$(cat "$S_LOG")"
check_eq "sslmode=verify-ca" "ok" "$(tq "host=127.0.0.1 sslmode=verify-ca sslrootcert=$C/ca.crt" "select 'ok'")"
check_eq "sslmode=verify-full, host localhost" "ok" "$(tq "host=localhost hostaddr=127.0.0.1 sslmode=verify-full sslrootcert=$C/ca.crt" "select 'ok'")"
check_match "sslmode=verify-full, wrong host name: refused by the client" 'does not match host name' \
  "$(tq "host=wrong.example hostaddr=127.0.0.1 sslmode=verify-full sslrootcert=$C/ca.crt" 'select 1')"
check_eq "channel_binding=require over TLS (SCRAM-SHA-256-PLUS)" "scramuser" \
  "$(tq "host=127.0.0.1 sslmode=require channel_binding=require" 'select current_user')"
check_match "sslmode=disable: hostnossl ... reject, PostgreSQL's message" \
  'pg_hba.conf rejects connection for host "127.0.0.1", user "scramuser", database "postgres", no encryption' \
  "$(tq "host=127.0.0.1 sslmode=disable" 'select 1')"
out=$(PGPASSWORD=scrampass timeout 120 pgbench -n -S -c 4 -j 2 -t 200 \
  "host=127.0.0.1 port=$S_PORT user=scramuser dbname=testdb sslmode=require gssencmode=disable" 2>&1)
check_pgbench "pgbench -S over TLS" 800 "$out" $?

# ---- bad input on the TLS path
out=$(timeout 20 python3 - "$S_PORT" <<'EOF'
import socket, struct, sys
port = int(sys.argv[1])
def req():
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    s.sendall(struct.pack('!II', 8, 80877103))
    return s
res = []
s = req(); a = s.recv(1)                                   # garbage instead of a ClientHello
s.sendall(b'GET / HTTP/1.1\r\n\r\n' * 10)
try: rest = s.recv(100)
except ConnectionResetError: rest = b''            # closed with our bytes unread: RST
except Exception as e: rest = b'!' + type(e).__name__.encode()
res.append('garbage:%s:%s' % (a.decode(), 'closed' if rest in (b'',) or rest.startswith(b'\x15') else repr(rest[:20])))
s = req(); a = s.recv(1)                                   # drop mid-handshake
s.sendall(b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'); s.close()
res.append('drop:%s' % a.decode())
s = socket.create_connection(('127.0.0.1', port), timeout=10)   # bytes after the SSLRequest
start = b'user\x00scramuser\x00database\x00postgres\x00\x00'
s.sendall(struct.pack('!II', 8, 80877103) + struct.pack('!II', 8 + len(start), 196608) + start)
data = b''
while True:
    try: d = s.recv(4096)
    except Exception: break
    if not d: break
    data += d
res.append('stuffing:%s' % ('08P01' if b'C08P01' in data and b'unencrypted data after SSL request' in data else repr(data[:80])))
print(' '.join(res))
EOF
)
check_match "garbage instead of a ClientHello: 'S', then the connection closes" 'garbage:S:closed' "$out"
check_match "a client that drops mid-handshake" 'drop:S' "$out"
check_match "unencrypted data after the SSLRequest: 08P01" 'stuffing:08P01' "$out"
check "pgsluice still running" sluice_alive
check_eq "and still serves TLS" "scramuser" "$(tq "host=127.0.0.1 sslmode=require" 'select current_user')"

# ---- PostgreSQL 17's direct TLS (no SSLRequest): ALPN "postgresql" required
out=$(timeout 20 python3 - "$S_PORT" "$C/ca.crt" <<'EOF'
import socket, ssl, struct, sys
port, ca = int(sys.argv[1]), sys.argv[2]
start = b'user\x00scramuser\x00database\x00postgres\x00\x00'
pkt = struct.pack('!II', 8 + len(start), 196608) + start
def direct(alpn):
    ctx = ssl.create_default_context(cafile=ca)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=10), server_hostname='localhost')
    s.sendall(pkt)
    data = b''
    while len(data) < 9:
        d = s.recv(4096)
        if not d: break
        data += d
    return s.version(), data
v, data = direct(['postgresql'])
print('alpn:%s:%s' % (v, 'SASL' if data[:1] == b'R' and struct.unpack('!I', data[5:9])[0] == 10 else repr(data[:40])))
try:
    v, data = direct(None)
    print('noalpn:%s' % ('08P01' if b'C08P01' in data and b'ALPN' in data else repr(data[:60])))
except Exception as e:
    print('noalpn:exception:%s' % e)
EOF
)
check_match "direct TLS with ALPN postgresql: the startup packet gets AuthenticationSASL" 'alpn:TLSv1\.[23]:SASL' "$out"
check_match "direct TLS without ALPN: 08P01, as PostgreSQL 17" 'noalpn:08P01' "$out"

# ---- SIGHUP with a key that does not match the certificate: the old one stays
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/other.key" 2>/dev/null
chmod 600 "$T/other.key"
sed -i "s|key = \"$C/server.key\"|key = \"$T/other.key\"|" "$S_CONF"
kill -HUP "$S_PID"
wait_until 20 grep -q 'reload of .* failed' "$S_LOG"
check_match "a mismatched key at SIGHUP: the reload fails and says why" 'other.key' "$(cat "$S_LOG")"
check_eq "the old key keeps serving" "scramuser" "$(tq "host=127.0.0.1 sslmode=require" 'select current_user')"
sed -i "s|key = \"$T/other.key\"|key = \"$C/server.key\"|" "$S_CONF"
# ---- key rotation at SIGHUP: open sessions go on, new ones get the new certificate
( umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/server2.key" 2>/dev/null )
openssl req -new -key "$T/server2.key" -subj "/CN=localhost" -out "$T/server2.csr" 2>/dev/null
openssl x509 -req -in "$T/server2.csr" -CA "$C/ca.crt" -CAkey "$C/ca.key" -CAcreateserial -days 30 \
  -extfile "$C/server.ext" -out "$T/server2.crt" 2>/dev/null
(tq "host=127.0.0.1 sslmode=require" "select 'survived' from pg_sleep(3)" > "$T/long.out" 2>&1) & long=$!
track $long
sleep 1
sed -i "s|cert = \"$C/server.crt\"; key = \"$C/server.key\"|cert = \"$T/server2.crt\"; key = \"$T/server2.key\"|" "$S_CONF"
kill -HUP "$S_PID"
wait_until 20 bash -c "[ \$(grep -c 'configuration reloaded' '$S_LOG') -ge 1 ]"
wait_pid "$long" 20
check_eq "a session open across the key rotation finishes" "survived" "$(cat "$T/long.out")"
want=$(openssl x509 -in "$T/server2.crt" -noout -fingerprint -sha256)
got=$(timeout 20 openssl s_client -starttls postgres -connect "127.0.0.1:$S_PORT" < /dev/null 2>/dev/null |
      openssl x509 -noout -fingerprint -sha256 2>&1)
check_eq "a new connection gets the new certificate" "$want" "$got"
check_eq "and logs in" "scramuser" "$(tq "host=127.0.0.1 sslmode=verify-full sslrootcert=$C/ca.crt host=localhost hostaddr=127.0.0.1" 'select current_user')"
sed -i "s|cert = \"$T/server2.crt\"; key = \"$T/server2.key\"|cert = \"$C/server.crt\"; key = \"$C/server.key\"|" "$S_CONF"
sluice_stop

# ---- a key file that group or others may read is refused at start (PostgreSQL's rule)
cp -p "$C/server.key" "$T/loose.key"; chmod 644 "$T/loose.key"
sed -i "s|key = \"$C/server.key\"|key = \"$T/loose.key\"|" "$S_CONF"
: > "$S_LOG"
timeout 30 "$PGSLUICE" -c "$S_CONF" < /dev/null >> "$S_LOG" 2>&1
rc=$?
check "a group/world-readable key stops start-up" test "$rc" != 0 -a "$rc" != 124
check_match "and the log names the file" 'loose.key.*(group|world|permission)' "$(cat "$S_LOG")"
sed -i "s|key = \"$T/loose.key\"|key = \"$C/server.key\"|" "$S_CONF"

# ---- min_protocol = TLSv1.3 refuses a TLS 1.2-only client
sed -i "s|key = \"$C/server.key\"; };|key = \"$C/server.key\"; min_protocol = \"TLSv1.3\"; };|" "$S_CONF"
sluice_start || { fail "pgsluice did not start with min_protocol"; finish; }
check_match "min_protocol TLSv1.3: a client capped at TLS 1.2 is refused" 'SSL|protocol|alert' \
  "$(tq "host=127.0.0.1 sslmode=require ssl_max_protocol_version=TLSv1.2" 'select 1')"
check_eq "min_protocol TLSv1.3: a TLS 1.3 client is served" "scramuser" \
  "$(tq "host=127.0.0.1 sslmode=require" 'select current_user')"
finish
