#!/bin/bash
# 27. Client certificates with real certificates: the cert method (CN must name the role),
#   a wrong CN, no certificate, a revoked certificate (CRL), an expired one and one from an
#   untrusted CA are refused; `scram clientcert=verify-full` needs both the password and a
#   certificate naming the role (two factors); `clientcert=verify-ca` needs any valid
#   certificate.  The extra certificates are made with python3-cryptography.
. "$(dirname "$0")/lib.sh"

C=$T/certs
CERT_KEY_ALG=ec bash "$IT_LIB/certs.sh" "$T" trustuser scramuser > /dev/null || { fail "certs.sh failed"; finish; }
python3 - "$C" <<'EOF' || { echo "  FAIL making the extra certificates"; exit 1; }
import datetime, os, sys
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
d = sys.argv[1]
now = datetime.datetime.utcnow()
def load(name):
    key = serialization.load_pem_private_key(open(f'{d}/{name}.key', 'rb').read(), None)
    return key, x509.load_pem_x509_certificate(open(f'{d}/{name}.crt', 'rb').read())
def save(name, key, cert):
    with open(f'{d}/{name}.key', 'wb') as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(f'{d}/{name}.key', 0o600)
    open(f'{d}/{name}.crt', 'wb').write(cert.public_bytes(serialization.Encoding.PEM))
def issue(cn, ca_key, ca_cert, before, after, serial=None):
    key = ec.generate_private_key(ec.SECP256R1())
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .issuer_name(ca_cert.subject if ca_cert else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .public_key(key.public_key()).serial_number(serial or x509.random_serial_number())
         .not_valid_before(before).not_valid_after(after)
         .add_extension(x509.BasicConstraints(ca=ca_cert is None, path_length=None), critical=True))
    if ca_cert:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return key, b.sign(ca_key or key, hashes.SHA256())
ca_key, ca_cert = load('ca')
day = datetime.timedelta(days=1)
k, c = issue('trustuser', ca_key, ca_cert, now - day, now + 30 * day); save('revoked', k, c)
crl = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
       .last_update(now - day).next_update(now + 30 * day)
       .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(c.serial_number)
                                .revocation_date(now - day).build())
       .sign(ca_key, hashes.SHA256()))
open(f'{d}/crl.pem', 'wb').write(crl.public_bytes(serialization.Encoding.PEM))
k, c = issue('trustuser', ca_key, ca_cert, now - 30 * day, now - day); save('expired', k, c)
ok, oc = issue('Other CA', None, None, now - day, now + 30 * day)
k, c = issue('trustuser', ok, oc, now - day, now + 30 * day); save('otherca', k, c)
EOF
cat > "$T/pg_hba.conf" <<EOT
hostssl    all  trustuser  127.0.0.1/32  cert
hostssl    all  scramuser  127.0.0.1/32  scram  clientcert=verify-full
hostssl    all  md5user    127.0.0.1/32  trust  clientcert=verify-ca
hostnossl  all  all        127.0.0.1/32  reject
EOT
cat > "$T/userlist.txt" <<EOT
"scramuser" "scrampass"
EOT
chmod 600 "$T/userlist.txt"
S_MODULES="hba = { path = \"hba.so\"; file = \"$T/pg_hba.conf\"; };
  userlist = { path = \"userlist.so\"; file = \"$T/userlist.txt\"; };
  cert = { path = \"cert.so\"; };
  tls = { path = \"tls-openssl.so\"; cert = \"$C/server.crt\"; key = \"$C/server.key\";
          ca = \"$C/ca.crt\"; crl = \"$C/crl.pem\"; client_cert = \"optional\"; };"
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start"; finish; }

cq() {   # cq USER CERTNAME|- PASSWORD SQL
  local certs=""
  [ "$2" != - ] && certs="sslcert=$C/$2.crt sslkey=$C/$2.key"
  PGPASSWORD=$3 timeout -k 2 20 psql -X -At -w \
    "host=localhost hostaddr=127.0.0.1 port=$S_PORT user=$1 dbname=postgres sslmode=verify-full sslrootcert=$C/ca.crt gssencmode=disable connect_timeout=10 $certs" \
    -c "$4" 2>&1
}
check_eq "cert method: CN=trustuser logs in as trustuser" "trustuser" "$(cq trustuser client-trustuser x 'select current_user')"
check_match "cert method: the identity is logged" 'connection authorized: user=trustuser' "$(cat "$S_LOG")"
check_match "cert method: a certificate for another role" 'certificate authentication failed for user "trustuser"' \
  "$(cq trustuser client-scramuser x 'select 1')"
check_match "cert method: no certificate" 'connection requires a valid client certificate' \
  "$(cq trustuser - x 'select 1')"
check_match "cert method: a revoked certificate is refused in the handshake" 'revoked|SSL|alert' \
  "$(cq trustuser revoked x 'select 1')"
check_match "cert method: an expired certificate is refused" 'expired|SSL|alert' "$(cq trustuser expired x 'select 1')"
check_match "cert method: a certificate from an untrusted CA is refused" 'unknown ca|SSL|alert' \
  "$(cq trustuser otherca x 'select 1')"
check_match "the log names the revoked certificate" 'revoked' "$(cat "$S_LOG")"

check_eq "scram + clientcert=verify-full: password and matching certificate" "scramuser" \
  "$(cq scramuser client-scramuser scrampass 'select current_user')"
check_match "scram + verify-full: no certificate" 'connection requires a valid client certificate' \
  "$(cq scramuser - scrampass 'select 1')"
check_match "scram + verify-full: right password, another role's certificate" \
  'password authentication failed for user "scramuser"' "$(cq scramuser client-trustuser scrampass 'select 1')"
check_match "the log says why (clientcert=verify-full)" 'certificate validation \(clientcert=verify-full\) failed for user "scramuser"' \
  "$(cat "$S_LOG")"
check_match "scram + verify-full: right certificate, wrong password" 'password authentication failed for user "scramuser"' \
  "$(cq scramuser client-scramuser wrong 'select 1')"
check_eq "trust + clientcert=verify-ca: any valid certificate" "md5user" \
  "$(cq md5user client-trustuser x 'select current_user')"
check_match "trust + clientcert=verify-ca: none" 'connection requires a valid client certificate' \
  "$(cq md5user - x 'select 1')"
finish
