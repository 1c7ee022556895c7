#!/bin/bash
# 35. The audit trail keyed from the vault's master key (audit key_vault = "vault"): pgsluice-admin
#   makes a master key and a users vault; pgsluice starts with the vault instance listed before
#   the audit instance, trust logins are audited; a reload and a restart continue the same chain
#   (the vault derives the same key each time, the master key is unlocked once per process).
#   `pgsluice-admin audit-verify -m master.key` (passphrase from a file, then from the environment)
#   verifies the trail, names a modified line, and refuses a wrong passphrase; another master key
#   does not verify it.  The key is derived a second time in Python from master.key and the
#   passphrase (PBKDF2-HMAC-SHA256, then HKDF-SHA256 with salt "pgsluice-derive-v1" and info
#   "pgsluice audit-hmac"): both the independent verifier auditverify.py and audit-verify -k
#   accept the trail with it, which holds the C derivation to the documented one.  Config
#   errors refuse start-up with file:line: key_file and key_vault both set, neither, the vault
#   listed after the audit instance, an unknown instance, an instance that cannot derive keys.
. "$(dirname "$0")/lib.sh"

ADMIN=${PGSLUICE_ADMIN:-$(dirname "$PGSLUICE")/pgsluice-admin}
[ -x "$ADMIN" ] || { fail "no pgsluice-admin next to $PGSLUICE"; finish; }
V=$T/vault
mkdir -p "$V" && chmod 700 "$V"
PASS='correct horse battery staple'
printf '%s\n' "$PASS" > "$V/passphrase" && chmod 600 "$V/passphrase"
adm() { "$ADMIN" "$@" --passphrase-file "$V/passphrase"; }
PWF=$T/pw.txt
printf 'scrampass\n' > "$PWF" && chmod 600 "$PWF"
check "pgsluice-admin master-key" adm master-key -k "$V/master.key"
check "a users vault" adm user add -f "$V/users.vault" -U scramuser -k "$V/master.key" --password-file "$PWF"
rm -f "$PWF"
A=$T/audit.jsonl
# verify_m FILE [ARGS...]: audit-verify with the master key (stdout and stderr)
verify_m() { local f=$1; shift; "$ADMIN" audit-verify -m "$V/master.key" "$@" "$f" 2>&1; }

VAULT_INST="vault = { path = \"vault.so\"; master_key = \"$V/master.key\";
    master_key_passphrase_file = \"$V/passphrase\"; users = \"$V/users.vault\"; };"
AUDIT_KEY='key_vault = "vault";'
audit_inst() { echo "audit = { path = \"audit.so\"; file = \"$A\"; $AUDIT_KEY };"; }
S_MODULES="$VAULT_INST
  $(audit_inst)"
conf_std transaction 5 > "$S_CONF"
sluice_start || { fail "pgsluice did not start with key_vault"; finish; }
check_match "the audit module says where its key comes from" \
  'audit: writing .*audit.jsonl .*key from the master key of vault "vault"' "$(cat "$S_LOG")"
check_match "the vault logs the derivation (label and length, no key)" \
  'vault: a 32-byte key derived from the master key for "audit-hmac"' "$(cat "$S_LOG")"
for i in 1 2 3; do
  check_eq "trust login $i" "trustuser" "$(sq trustuser postgres 'select current_user')"
done
kill -HUP "$S_PID"
wait_until 20 grep -q 'configuration reloaded (generation 2)' "$S_LOG" || fail "no reload"
check_eq "a login after the reload" "trustuser" "$(sq trustuser postgres 'select current_user')"
check_eq "the reload reused the master key (one unlock)" 1 "$(grep -c 'unlocked in' "$S_LOG")"
wait_until 10 grep -q '"event":"reload"' "$A" || fail "no reload event"
sluice_stop INT 10; check_eq "pgsluice stops cleanly" 0 $?
sluice_start || { fail "pgsluice did not start again"; finish; }
check_eq "a login after the restart" "trustuser" "$(sq trustuser postgres 'select current_user')"
sluice_stop INT 10
sanitizer_check
check_ge "auth_ok events" 5 "$(grep -c '"event":"auth_ok"' "$A")"
check_eq "one chain across the reload and the restart (one chain_start)" 1 \
  "$(grep -c '"event":"chain_start"' "$A")"
check_eq "no key in the log" "" "$(grep -E -o '[0-9a-f]{64}' "$S_LOG" | head -1)"

# ---- pgsluice-admin audit-verify -m
out=$(verify_m "$A" --passphrase-file "$V/passphrase"); rc=$?
check_eq "audit-verify -m (passphrase file): exit 0" 0 "$rc"
check_match "  OK, one chain" '^OK: .*audit.jsonl: [0-9]+ lines, seq 1\.\.[0-9]+, starts a new chain' "$out"
out=$(PGSLUICE_MASTER_PASSPHRASE=$PASS verify_m "$A"); rc=$?
check_eq "audit-verify --vault-master-key, passphrase from the environment: exit 0" 0 "$rc"
out=$(printf 'wrong horse\n' > "$T/wrong" && chmod 600 "$T/wrong" && verify_m "$A" --passphrase-file "$T/wrong"); rc=$?
check_eq "a wrong passphrase: exit 3" 3 "$rc"
check_match "  named as such" 'wrong passphrase' "$out"
out=$(verify_m "$A" -k "$V/master.key"); rc=$?
check_eq "-k and -m together: usage error" 2 "$rc"
check_match "  said" 'exactly one of --key and --vault-master-key' "$out"
out=$("$ADMIN" audit-verify "$A" 2>&1); rc=$?
check_eq "neither -k nor -m: usage error" 2 "$rc"
out=$("$ADMIN" audit-verify -m "$T/nosuch.key" "$A" 2>&1); rc=$?
check_eq "a missing master key file: exit 3" 3 "$rc"
check_match "  named" 'nosuch.key: no such master key file' "$out"

cp "$A" "$T/tampered.jsonl"
sed -i '3s/"trustuser"/"postgres"/' "$T/tampered.jsonl"
cmp -s "$A" "$T/tampered.jsonl" && sed -i '3s/"event":"[a-z_]*"/"event":"admin"/' "$T/tampered.jsonl"
out=$(verify_m "$T/tampered.jsonl" --passphrase-file "$V/passphrase"); rc=$?
check_eq "a modified line: exit 1" 1 "$rc"
check_match "  names line 3" 'tampered.jsonl: line 3 .*MAC does not match' "$out"

check "a second master key, same passphrase" adm master-key -k "$T/other.key"
out=$("$ADMIN" audit-verify -m "$T/other.key" --passphrase-file "$V/passphrase" "$A" 2>&1); rc=$?
check_eq "another master key does not verify the trail: exit 1" 1 "$rc"
check_match "  the first line's MAC" 'line 1 .*MAC does not match' "$out"

# ---- the derivation, independently (Python's hashlib and hmac only)
python3 - "$V/master.key" "$V/passphrase" "$T/py-audit.key" <<'EOF'
import base64, hashlib, hmac, os, sys
master, passfile, out = sys.argv[1:4]
fields = {}
for line in open(master):
    w = line.split()
    if w and not w[0].startswith('#'):
        fields[w[0]] = w[1:]
iterations = int(fields['kdf'][1])
salt = base64.b64decode(fields['salt'][0])
passphrase = open(passfile, 'rb').read().split(b'\n')[0]
mk = hashlib.pbkdf2_hmac('sha256', passphrase, salt, iterations, 32)
check = hmac.new(mk, b'pgsluice master key check v1', hashlib.sha256).digest()
if check != base64.b64decode(fields['check'][0]):
    sys.exit('the master key check value does not match')
# HKDF-SHA256 (RFC 5869): extract with the fixed salt, expand with "pgsluice " + label
prk = hmac.new(b'pgsluice-derive-v1', mk, hashlib.sha256).digest()
key = hmac.new(prk, b'pgsluice audit-hmac' + b'\x01', hashlib.sha256).digest()
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, key.hex().encode() + b'\n')
os.close(fd)
EOF
check_eq "Python derived the audit key from master.key" 0 $?
out=$(python3 "$IT_DIR/auditverify.py" "$T/py-audit.key" "$A" 2>&1); rc=$?
check_eq "auditverify.py with the Python-derived key: exit 0" 0 "$rc"
check_match "  OK" '^OK: ' "$out"
out=$("$ADMIN" audit-verify -k "$T/py-audit.key" "$A" 2>&1); rc=$?
check_eq "audit-verify -k with the Python-derived key: exit 0" 0 "$rc"
out=$(python3 "$IT_DIR/auditverify.py" "$T/py-audit.key" "$T/tampered.jsonl" 2>&1); rc=$?
check_eq "auditverify.py: the modified line too" 1 "$rc"
check_match "  line 3" 'line 3' "$out"

# ---- switching to key_file with the same key continues the chain
cp -p "$T/py-audit.key" "$T/audit.key"
AUDIT_KEY="key_file = \"$T/audit.key\";"
S_MODULES="$VAULT_INST
  $(audit_inst)"
conf_std transaction 5 > "$S_CONF"
sluice_start || fail "pgsluice did not start with key_file"
check_eq "a login with key_file" "trustuser" "$(sq trustuser postgres 'select current_user')"
sluice_stop INT 10
check_eq "key_file with the derived key: still one chain" 1 "$(grep -c '"event":"chain_start"' "$A")"
check_eq "audit-verify -m: the whole trail" 0 "$(verify_m "$A" --passphrase-file "$V/passphrase" > /dev/null; echo $?)"

# ---- configuration errors: start-up refused, with file:line
refuse() {   # refuse NAME ERE: pgsluice must exit non-zero at start with ERE in its log
  conf_std transaction 5 > "$S_CONF"
  : > "$S_LOG"
  timeout 60 "$PGSLUICE" -c "$S_CONF" < /dev/null >> "$S_LOG" 2>&1
  local rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -Eq -- "$2" "$S_LOG"; then ok "$1 (exit $rc)"; else
    fail "$1: exit $rc, log: $(head -c 800 "$S_LOG")"; fi
  check "$1: nothing listens" bash -c "! ss -Hlnt 'sport = :$S_PORT' | grep -q ."
}
CONF_RE='pgsluice\.conf:[0-9]+: audit: '
AUDIT_KEY="key_file = \"$T/audit.key\"; key_vault = \"vault\";"
S_MODULES="$VAULT_INST $(audit_inst)"
refuse "key_file and key_vault both set" "$CONF_RE\"key_file\" and \"key_vault\" exclude each other"
AUDIT_KEY=""
S_MODULES="$VAULT_INST $(audit_inst)"
refuse "neither key_file nor key_vault" "$CONF_RE"'the HMAC key is required: set "key_file".*or "key_vault"'
AUDIT_KEY='key_vault = "vault";'
S_MODULES="$(audit_inst) $VAULT_INST"
refuse "the vault listed after the audit instance" \
  "${CONF_RE}key_vault = \"vault\": no vault instance of that name is listed before this audit instance.*must be listed before the audit instance in modules"
AUDIT_KEY='key_vault = "nosuch";'
S_MODULES="$VAULT_INST $(audit_inst)"
refuse "an unknown instance" "${CONF_RE}key_vault = \"nosuch\": no vault instance of that name"
printf '"trustuser" "x"\n' > "$T/userlist.txt" && chmod 600 "$T/userlist.txt"
AUDIT_KEY='key_vault = "ul";'
S_MODULES="ul = { path = \"userlist.so\"; file = \"$T/userlist.txt\"; }; $(audit_inst)"
refuse "an instance that cannot derive keys" \
  "${CONF_RE}key_vault = \"ul\": that module instance cannot derive keys \(it is not a vault instance\)"
check_eq "the refused starts left the trail alone" 0 \
  "$(verify_m "$A" --passphrase-file "$V/passphrase" > /dev/null; echo $?)"
finish
