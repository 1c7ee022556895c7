#!/bin/bash
# 36. The admin console's admins kept in the vault (admin = { database = "pgsluice";
#   vault = "vault"; }): a client of the admin database authenticates against the vault
#   instance's admins file (a SCRAM verifier and a plain password made with pgsluice-admin)
#   and is an admin iff it is in that table or in admin.users.  With psql over the Unix socket
#   and over TLS, both chains picked by pg_hba.conf lines for the database pgsluice: scram (right
#   password -> SHOW VERSION, wrong one -> 28P01, a user only in the users vault -> 28P01) and
#   trust (vault admin and admin.users admin get in, a users-vault user -> 42501).  An admin
#   added with pgsluice-admin gets in after SIGHUP.  Start-up is refused naming file:line for
#   admin.vault naming an unknown or a non-credential instance and for neither users nor vault;
#   and for an admins vault of mode 0644.  Without admin.users only the vault's admins get in.
#   TLS with a cipher that is not AES-GCM is refused by the console (28000): a TLS 1.2 CBC suite
#   forced by a python3 client, and TLS_CHACHA20_POLY1305_SHA256 forced by the server's
#   ciphersuites with psql.  psql shows no SQLSTATE for a refused login: pgerr.py (written
#   below: trust, cleartext or SCRAM-SHA-256 over the socket or TLS) checks those.
. "$(dirname "$0")/lib.sh"

ADMIN=${PGSLUICE_ADMIN:-$(dirname "$PGSLUICE")/pgsluice-admin}
[ -x "$ADMIN" ] || { fail "no pgsluice-admin next to $PGSLUICE"; finish; }
C=$T/certs
CERT_KEY_ALG=ec bash "$IT_LIB/certs.sh" "$T" trustuser > /dev/null || { fail "certs.sh failed"; finish; }
V=$T/vault
mkdir -p "$V" && chmod 700 "$V"
printf 'console vault passphrase\n' > "$V/passphrase" && chmod 600 "$V/passphrase"
PWF=$T/pw.txt
adm() { "$ADMIN" "$@" --passphrase-file "$V/passphrase"; }
setpw() { printf '%s\n' "$1" > "$PWF"; chmod 600 "$PWF"; }

check "pgsluice-admin master-key" adm master-key -k "$V/master.key"
setpw scrampass
check "users vault: scramuser" adm user add -f "$V/users.vault" -U scramuser --password-file "$PWF"
setpw 'vuser pw'
check "users vault: vuser (not an admin)" adm user add -f "$V/users.vault" -U vuser --password-file "$PWF"
setpw 'admin pw'
check "admins vault: opsadmin as a SCRAM verifier" \
  adm user add -f "$V/admins.vault" -U opsadmin --password-file "$PWF" --scram
setpw 'plain admin pw'
check "admins vault: plainadm as a password" adm user add -f "$V/admins.vault" -U plainadm --password-file "$PWF"
rm -f "$PWF"

# The admin database: trust for ops and vuser on the Unix socket, SCRAM for everyone else there
# and over TLS on 127.0.0.1, trust over TLS on ::1.  Other databases: trust.
cat > "$T/pg_hba.conf" <<EOT
# TYPE  DATABASE  USER        ADDRESS        METHOD
local   pgsluice  ops,vuser                  trust
local   pgsluice  all                        scram
hostssl pgsluice  all         127.0.0.1/32   scram
hostssl pgsluice  all         ::1/128        trust
local   all       all                        trust
host    all       all         127.0.0.1/32   trust
host    all       all         ::1/128        trust
EOT
TLS_EXTRA=
modules() {
  S_MODULES="tls = { path = \"tls-openssl.so\"; cert = \"$C/server.crt\"; key = \"$C/server.key\"; $TLS_EXTRA };
  vault = { path = \"vault.so\"; master_key = \"$V/master.key\";
    master_key_passphrase_file = \"$V/passphrase\";
    users = \"$V/users.vault\"; admins = \"$V/admins.vault\"; };
  hba = { path = \"hba.so\"; file = \"$T/pg_hba.conf\"; };"
}
modules
S_TOP='admin = { database = "pgsluice"; vault = "vault"; users = ( "ops" ); };'
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; }
check_match "the admins vault is loaded" \
  'admins.vault: 2 users \(1 plain, 0 md5, 1 scram-sha-256\)' "$(cat "$S_LOG")"

# cu USER PASSWORD SQL: psql on the console over the Unix socket
cu() {
  PGPASSWORD=$2 timeout -k 2 20 psql -X -At -w \
    "host=$S_SOCK port=$S_PORT user=$1 dbname=pgsluice connect_timeout=10" -c "$3" 2>&1
}
# ct HOST USER PASSWORD SQL: the same over TLS (sslmode=require)
ct() {
  PGPASSWORD=$3 timeout -k 2 20 psql -X -At -w \
    "host=$1 port=$S_PORT user=$2 dbname=pgsluice sslmode=require connect_timeout=10" -c "$4" 2>&1
}
VERSION='^pgsluice [0-9]'
BADPW='FATAL: +password authentication failed for user'
notadmin() { printf 'FATAL: +permission denied for the admin console: "%s" is not an admin user' "$1"; }

# psql shows no SQLSTATE for a refused connection: pgerr.py logs in to the console (trust,
# cleartext or SCRAM-SHA-256) and prints "SQLSTATE|message" of the ErrorResponse, or "ready".
cat > "$T/pgerr.py" <<'PY'
import base64, hashlib, hmac, os, socket, ssl, struct, sys
where, port, user, pw, tls = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
if where.startswith('/'):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect('%s/.s.PGSQL.%d' % (where, port))
else:
    s = socket.create_connection((where, port), timeout=10)
if tls == 'tls':
    s.sendall(struct.pack('!II', 8, 80877103))
    if s.recv(1) != b'S':
        sys.exit('no TLS')
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    s = ctx.wrap_socket(s)
def recv_exact(n):
    b = b''
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            sys.exit('closed')
        b += d
    return b
def msg():
    t = recv_exact(1)
    return t, recv_exact(struct.unpack('!I', recv_exact(4))[0] - 4)
def send(t, body):
    s.sendall(t + struct.pack('!I', len(body) + 4) + body)
body = b'user\0' + user.encode() + b'\0database\0pgsluice\0\0'
s.sendall(struct.pack('!II', len(body) + 8, 196608) + body)
first = None
while True:
    t, b = msg()
    if t == b'E':
        f = dict((x[:1].decode(), x[1:].decode()) for x in b.split(b'\0') if x)
        print('%s|%s' % (f.get('C'), f.get('M')))
        break
    if t == b'Z':
        print('ready')
        break
    if t != b'R':
        continue
    code = struct.unpack('!I', b[:4])[0]
    if code == 3:
        send(b'p', pw.encode() + b'\0')
    elif code == 10:
        first = 'n=,r=' + base64.b64encode(os.urandom(18)).decode()
        data = ('n,,' + first).encode()
        send(b'p', b'SCRAM-SHA-256\0' + struct.pack('!I', len(data)) + data)
    elif code == 11:
        sf = b[4:].decode()
        a = dict(x.split('=', 1) for x in sf.split(','))
        salted = hashlib.pbkdf2_hmac('sha256', pw.encode(), base64.b64decode(a['s']), int(a['i']))
        ck = hmac.new(salted, b'Client Key', 'sha256').digest()
        final = 'c=biws,r=' + a['r']
        auth = ','.join((first, sf, final)).encode()
        sig = hmac.new(hashlib.sha256(ck).digest(), auth, 'sha256').digest()
        proof = base64.b64encode(bytes(x ^ y for x, y in zip(ck, sig))).decode()
        send(b'p', (final + ',p=' + proof).encode())
PY
# state NAME ERE WHERE USER PASSWORD [tls]: pgerr.py's answer must match ERE (WHERE: a host,
# or the socket directory)
state() {
  check_match "$1" "$2" "$(timeout 20 python3 "$T/pgerr.py" "$3" "$S_PORT" "$4" "$5" "${6:-plain}" 2>&1)"
}

# ---- scram chain (Unix socket)
check_match "socket scram: vault admin (SCRAM verifier)" "$VERSION" "$(cu opsadmin 'admin pw' 'SHOW VERSION')"
check_match "socket scram: vault admin (password entry)" "$VERSION" \
  "$(cu plainadm 'plain admin pw' 'SHOW VERSION')"
check_match "socket scram: wrong password" "$BADPW \"opsadmin\"" "$(cu opsadmin 'admin pw!' 'SHOW VERSION')"
state "socket scram: wrong password: 28P01" '^28P01\|password authentication failed for user "opsadmin"$' \
  "$S_SOCK" opsadmin 'admin pw!'
state "socket scram (pgerr.py): the right password: ready" '^ready$' "$S_SOCK" opsadmin 'admin pw'
check_match "socket scram: users-vault user with its own password" "$BADPW \"scramuser\"" \
  "$(cu scramuser scrampass 'SHOW VERSION')"
state "socket scram: users-vault user: 28P01" '^28P01\|' "$S_SOCK" scramuser scrampass
state "socket scram: unknown user: 28P01" '^28P01\|' "$S_SOCK" ghost x
# ---- trust chain (Unix socket)
check_match "socket trust: admin.users next to the vault" "$VERSION" "$(cu ops '' 'SHOW VERSION')"
check_match "socket trust: users-vault user" "$(notadmin vuser)" "$(cu vuser '' 'SHOW VERSION')"
state "socket trust: users-vault user: 42501" '^42501\|permission denied for the admin console' \
  "$S_SOCK" vuser ''

# ---- scram chain over TLS (127.0.0.1)
check_match "TLS scram: vault admin" "$VERSION" "$(ct 127.0.0.1 opsadmin 'admin pw' 'SHOW VERSION')"
check_match "TLS scram: wrong password" "$BADPW \"opsadmin\"" "$(ct 127.0.0.1 opsadmin wrong 'SHOW VERSION')"
state "TLS scram: wrong password: 28P01" '^28P01\|' 127.0.0.1 opsadmin wrong tls
check_match "TLS scram: users-vault user" "$BADPW \"vuser\"" "$(ct 127.0.0.1 vuser 'vuser pw' 'SHOW VERSION')"
state "TLS scram: users-vault user: 28P01" '^28P01\|' 127.0.0.1 vuser 'vuser pw' tls
check_match "TLS scram: an admin.users user has no secret in the admins vault" "$BADPW \"ops\"" \
  "$(ct 127.0.0.1 ops x 'SHOW VERSION')"
# ---- trust chain over TLS (::1)
check_match "TLS trust: vault admin" "$VERSION" "$(ct ::1 plainadm '' 'SHOW VERSION')"
check_match "TLS trust: admin.users" "$VERSION" "$(ct ::1 ops '' 'SHOW VERSION')"
check_match "TLS trust: users-vault user" "$(notadmin scramuser)" "$(ct ::1 scramuser '' 'SHOW VERSION')"
state "TLS trust: users-vault user: 42501" '^42501\|' ::1 scramuser '' tls
check_match "TLS trust: unknown user" "$(notadmin bob)" "$(ct ::1 bob '' 'SHOW VERSION')"
check_match "an ordinary pool next to the console" '^1$' "$(sq trustuser testdb 'select 1')"

# ---- TLS 1.2 with a CBC suite (python3 ssl): the console refuses it
out=$(timeout 20 python3 - "$S_PORT" <<'EOF'
import socket, ssl, struct, sys
s = socket.create_connection(('::1', int(sys.argv[1])), timeout=10)
s.sendall(struct.pack('!II', 8, 80877103))
if s.recv(1) != b'S':
    print('no TLS'); sys.exit(1)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.set_ciphers('ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384')
t = ctx.wrap_socket(s)
body = b'user\x00ops\x00database\x00pgsluice\x00\x00'
t.sendall(struct.pack('!II', 8 + len(body), 196608) + body)
data = b''
while True:
    try:
        d = t.recv(4096)
    except Exception:
        break
    if not d:
        break
    data += d
fields = {}
i = 0
while i + 5 <= len(data):
    kind, n = data[i:i + 1], struct.unpack('!I', data[i + 1:i + 5])[0]
    if kind == b'E':
        for f in data[i + 5:i + 1 + n].split(b'\x00'):
            if f:
                fields[f[:1].decode()] = f[1:].decode()
    i += 1 + n
print(t.version(), t.cipher()[0], fields.get('C'), fields.get('M'))
EOF
)
note "TLS 1.2 CBC: $out"
check_match "TLS 1.2 CBC suite: 28000, requires AES-GCM" \
  '^TLSv1\.2 ECDHE-ECDSA-AES(128|256)-SHA(256|384) 28000 the admin console requires an AES-GCM cipher suite over TCP \(negotiated: ECDHE-ECDSA-AES' \
  "$out"

# ---- SIGHUP after adding an admin with pgsluice-admin
check_match "before: newadm is not in the admins vault" "$BADPW \"newadm\"" \
  "$(cu newadm 'new admin pw' 'SHOW VERSION')"
setpw 'new admin pw'
check "pgsluice-admin user add newadm to the admins vault" \
  adm user add -f "$V/admins.vault" -U newadm --password-file "$PWF" --scram
rm -f "$PWF"
kill -HUP "$S_PID"
check "reloaded" wait_until 20 grep -q 'configuration reloaded (generation 2)' "$S_LOG"
check_match "after SIGHUP: newadm gets in" "$VERSION" "$(cu newadm 'new admin pw' 'SHOW VERSION')"
check_match "after SIGHUP: newadm over TLS trust" "$VERSION" "$(ct ::1 newadm '' 'SHOW VERSION')"
check_match "after SIGHUP: opsadmin still gets in" "$VERSION" "$(cu opsadmin 'admin pw' 'SHOW VERSION')"
check_eq "no password in the log" "" \
  "$(grep -E -o 'admin pw|plain admin|new admin pw|vuser pw|console vault passphrase' "$S_LOG" | head -3)"
sluice_stop

# ---- start-up refusals
# refuse NAME ERE: pgsluice must exit non-zero at start with ERE in its log, listening nowhere
refuse() {
  : > "$S_LOG"
  timeout 60 "$PGSLUICE" -c "$S_CONF" < /dev/null >> "$S_LOG" 2>&1
  local rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -Eq -- "$2" "$S_LOG"; then
    ok "$1 (exit $rc)"; note "$(grep -m1 -Eo -- "$2.*" "$S_LOG")"; else
    fail "$1: exit $rc, log: $(head -c 600 "$S_LOG")"; fi
  check "$1: nothing listens" bash -c "! ss -Hlnt 'sport = :$S_PORT' | grep -q ."
}
# admin_line: the config file's line number of the admin group
admin_line() { grep -n '^admin = ' "$S_CONF" | cut -d: -f1; }
CF=$(basename "$S_CONF")
S_TOP='admin = { database = "pgsluice"; vault = "nosuch"; users = ( "ops" ); };'
conf_std transaction 5 > "$S_CONF"
refuse "admin.vault naming an unknown instance" \
  "$CF:$(admin_line).*admin\.vault: module instance \"nosuch\" is not defined in modules"
S_TOP='admin = { database = "pgsluice"; vault = "trust"; };'
conf_std transaction 5 > "$S_CONF"
refuse "admin.vault naming a non-credential instance (trust)" \
  "$CF:$(admin_line).*admin\.vault: module instance \"trust\" is not a credential source"
S_TOP='admin = { database = "pgsluice"; };'
conf_std transaction 5 > "$S_CONF"
refuse "admin with neither users nor vault" \
  "$CF:$(admin_line).*admin: missing required setting \"users\" \(or \"vault\"\)"
S_TOP='admin = { database = "pgsluice"; vault = "vault"; };'
conf_std transaction 5 > "$S_CONF"
chmod 644 "$V/admins.vault"
refuse "admins vault of mode 0644" 'admins\.vault.*(permission|group|others|mode)'
chmod 600 "$V/admins.vault"

# ---- vault only (no admin.users), the server's TLS suites limited to CHACHA20 (1.3 and 1.2)
TLS_EXTRA='ciphersuites = "TLS_CHACHA20_POLY1305_SHA256"; ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305";'
modules
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start (vault only, CHACHA20)"; finish; }
check_match "vault only: vault admin on the socket" "$VERSION" "$(cu opsadmin 'admin pw' 'SHOW VERSION')"
check_match "vault only: ops (no longer in admin.users)" "$(notadmin ops)" "$(cu ops '' 'SHOW VERSION')"
state "vault only: ops: 42501" '^42501\|' "$S_SOCK" ops ''
out=$(ct ::1 opsadmin '' 'SHOW VERSION')
check_match "TLS 1.3 CHACHA20 (psql): requires AES-GCM" \
  'FATAL: +the admin console requires an AES-GCM cipher suite over TCP \(negotiated: TLS_CHACHA20_POLY1305_SHA256\)' \
  "$out"
out=$(ct 127.0.0.1 opsadmin 'admin pw' 'SHOW VERSION')
check_match "TLS 1.3 CHACHA20 with SCRAM: refused too" 'FATAL: +the admin console requires an AES-GCM' "$out"
state "TLS 1.3 CHACHA20: 28000" '^28000\|the admin console requires an AES-GCM cipher suite' ::1 opsadmin '' tls
check_eq "the pools work over that TLS" "1" "$(timeout 20 psql -X -At -w \
  "host=::1 port=$S_PORT user=trustuser dbname=testdb sslmode=require" -c 'select 1' 2>&1)"
check_match "the log names the refusal" 'AES-GCM' "$(cat "$S_LOG")"
finish
