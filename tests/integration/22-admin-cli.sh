#!/bin/bash
# 22. pgsluice-admin, the vault tool (no pgsluice, no PostgreSQL needed):
#   master-key: created mode 600, refused when it exists (exit 5), replaced with --force (the
#   old vaults then no longer decrypt); passphrase from PGSLUICE_MASTER_PASSPHRASE or a private
#   --passphrase-file; user add|edit|del|ls with --password-file and PGSLUICE_PASSWORD; exit
#   codes 2 (usage), 3 (wrong passphrase, entries that do not decrypt), 4 (user exists / does not
#   exist); --generate prints one line, the stored password; --scram stores a SCRAM-SHA-256
#   verifier (4096 iterations, SASLprep'ed); group-readable vault, key and password files are
#   refused; a failed run leaves the vault as it was; no password or passphrase ever appears in
#   the tool's output.  Entries are decrypted independently of the C code by a Python helper
#   (python3-cryptography's AES-GCM) when that module is installed; else those checks are skipped.
# Every run is under setsid (no controlling terminal), so no run can wait on a prompt.
. "$(dirname "$0")/lib.sh"
ADMIN=${PGSLUICE_ADMIN:-$(dirname "$PGSLUICE")/pgsluice-admin}
[ -x "$ADMIN" ] || { fail "no pgsluice-admin at $ADMIN"; finish; }
unset PGSLUICE_MASTER_PASSPHRASE PGSLUICE_PASSWORD

PASS='master Pass-phrase 31415'   # the master key passphrase
PASS2='second Pass-phrase 27182'  # the one --force installs
PW1='alice First pw 1'
PW2='alice Second pw 2'
PWB='bob Env pw 3'
D=$T/vaults; mkdir -p "$D"; chmod 700 "$D"
K=$D/master.key
V=$D/users.vault
LOG=$T/outputs.log                # every output of the tool except --generate's stdout
: > "$LOG"

# adm ARGS...: run the tool without a terminal; sets RC, OUT (stdout), ERR (stderr); both go to
# $LOG, except stdout when GEN=1 (the password --generate prints)
adm() {
  timeout -k 2 120 setsid -w "$ADMIN" "$@" < /dev/null > "$T/out" 2> "$T/err"; RC=$?
  OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
  [ "${GEN:-0}" = 1 ] || cat "$T/out" >> "$LOG"
  cat "$T/err" >> "$LOG"
}
# admp ARGS...: adm with the right passphrase in the environment
admp() { PGSLUICE_MASTER_PASSPHRASE=$PASS adm "$@"; }
sum() { md5sum < "$1" | cut -c1-32; }
mode() { stat -c %a "$1"; }
words() { printf "%s\n" "$1" | paste -sd " "; }   # lines joined by spaces
secret_file() { printf '%s\n' "$2" > "$1"; chmod 600 "$1"; }

# vaultcheck.py MASTER_KEY VAULT USER plain|scram: decrypt USER's entry (passphrase in VC_PASS)
# and compare it with VC_PW: the password itself (plain) or a SCRAM verifier of VC_PW (scram);
# prints "ok" or "bad: reason", never a secret
cat > "$T/vaultcheck.py" <<'PY'
import base64, hashlib, hmac, os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
keyfile, vault, user, mode = sys.argv[1:5]
kv = {}
for line in open(keyfile):
    f = line.split()
    if f and not f[0].startswith('#'):
        kv[f[0]] = f[1:]
iters = int(kv['kdf'][1])
mk = hashlib.pbkdf2_hmac('sha256', os.environb[b'VC_PASS'], base64.b64decode(kv['salt'][0]), iters, 32)
if not hmac.compare_digest(hmac.new(mk, b'pgsluice master key check v1', 'sha256').digest(),
                           base64.b64decode(kv['check'][0])):
    sys.exit(print('bad: master key check value'))
entry = None
lines = [l.rstrip('\n') for l in open(vault)]
body = [l for l in lines if l.strip() and not l.startswith('#')]
if body[0] != 'pgsluice-vault 1':
    sys.exit(print('bad: header'))
for l in body[1:]:
    u, _, e = l.rpartition(':')
    if u == user:
        entry = base64.b64decode(e, validate=True)
if entry is None:
    sys.exit(print('bad: no entry'))
ek = hashlib.pbkdf2_hmac('sha256', mk, entry[:16], 1, 32)
aad = b'pgsluice-vault\0' + bytes([1]) + user.encode()
try:
    secret = AESGCM(ek).decrypt(entry[16:28], entry[28:], aad)
except Exception:
    sys.exit(print('bad: does not decrypt'))
pw = os.environb[b'VC_PW']
if mode == 'plain':
    sys.exit(print('ok' if hmac.compare_digest(secret, pw) else 'bad: another password'))
head, _, keys = secret.decode().partition('$')[2].partition('$')
it, salt = head.split(':')
stored, server = keys.split(':')
if it != '4096' or len(base64.b64decode(salt)) != 16:
    sys.exit(print('bad: iterations or salt length'))
sp = hashlib.pbkdf2_hmac('sha256', pw, base64.b64decode(salt), int(it), 32)
ck = hmac.new(sp, b'Client Key', 'sha256').digest()
good = (hmac.compare_digest(hashlib.sha256(ck).digest(), base64.b64decode(stored)) and
        hmac.compare_digest(hmac.new(sp, b'Server Key', 'sha256').digest(), base64.b64decode(server)))
print('ok' if good else 'bad: the verifier is not of that password')
PY
HAVE_PY=0
python3 -c 'import cryptography.hazmat.primitives.ciphers.aead' 2> /dev/null && HAVE_PY=1
[ "$HAVE_PY" = 1 ] || note "python3-cryptography is missing: entries are not decrypted independently"
# decrypts NAME USER MODE PASSWORD [PASSPHRASE]: the entry of USER holds PASSWORD
decrypts() {
  [ "$HAVE_PY" = 1 ] || return 0
  check_eq "$1" ok "$(VC_PASS=${5:-$PASS} VC_PW=$4 python3 "$T/vaultcheck.py" "$K" "$V" "$2" "$3" 2>&1)"
}

# ---- usage (exit 2), help
adm --help
check_eq "--help exits 0" 0 "$RC"
check_match "--help: every command" 'master-key.*user add.*user edit.*user del.*user ls' "$(printf '%s' "$OUT" | tr '\n' ' ')"
check_match "--help: exit codes" '5 +the master key file exists' "$OUT"
check_match "--help: --scram is not for the users vault" 'passwords of the users vault' "$(printf '%s' "$OUT" | tr '\n' ' ' | tr -s ' ')"
adm;                                     check_eq "no command: exit 2" 2 "$RC"
adm frobnicate;                          check_eq "unknown command: exit 2" 2 "$RC"
adm user add -f "$V";                    check_eq "user add without -U: exit 2" 2 "$RC"
check_match "...and says what is missing" '^pgsluice-admin: user add needs --user$' "$ERR"
adm user add -f "$V" -U x --password "$PW1"
check_eq "there is no --password option: exit 2" 2 "$RC"
check_eq "...nor is --password-file abbreviated" "pgsluice-admin: unknown option --password" "$ERR"
adm user add -f "$V" -U x --password="$PW1"
check_eq "--password=...: exit 2" 2 "$RC"
adm user add -f "$V" -U x "$PW1"
check_eq "a password as an argument: exit 2" 2 "$RC"
adm user add -f "$V" -U x --generate --password-file "$T/nope"
check_eq "--generate with --password-file: exit 2" 2 "$RC"
adm user del -f "$V" -U x --scram;       check_eq "user del --scram: exit 2" 2 "$RC"
adm master-key -k "$K" -f "$V";          check_eq "master-key -f: exit 2" 2 "$RC"
adm user ls -f "$V" extra;               check_eq "stray argument: exit 2" 2 "$RC"
check_eq "usage errors wrote nothing" "" "$(ls "$D")"

# ---- master-key
adm master-key -k "$K"
check_eq "master-key without any passphrase source (no terminal): exit 1" 1 "$RC"
check_match "...and says where a passphrase comes from" 'PGSLUICE_MASTER_PASSPHRASE' "$ERR"
admp master-key -k "$K"
check_eq "master-key: exit 0" 0 "$RC"
check_eq "master-key: mode 600" 600 "$(mode "$K")"
check_match "master-key: the text form" '^pgsluice-master-key 1$' "$(cat "$K")"
check_match "master-key: 600000 rounds" '^kdf pbkdf2-hmac-sha256 600000$' "$(cat "$K")"
k_sum=$(sum "$K")
admp master-key -k "$K"
check_eq "master-key on an existing file: exit 5" 5 "$RC"
check_match "...names the file and --force" "$K.*--force" "$ERR"
check_eq "...and leaves it alone" "$k_sum" "$(sum "$K")"
mkdir -p "$T/cwd"
(cd "$T/cwd" && PGSLUICE_MASTER_PASSPHRASE=$PASS adm master-key) > /dev/null
check_eq "master-key default ./master.key, mode 600" 600 "$(mode "$T/cwd/master.key" 2> /dev/null)"
secret_file "$T/pp.txt" "$PASS"
adm master-key -k "$T/k2.key" --passphrase-file "$T/pp.txt"
check_eq "master-key --passphrase-file: exit 0" 0 "$RC"
chmod 644 "$T/pp.txt"
adm master-key -k "$T/k3.key" --passphrase-file "$T/pp.txt"
check_eq "a world-readable passphrase file is refused: exit 1" 1 "$RC"
check_match "...saying why" 'pp.txt.*(group|other|chmod|permission)' "$ERR"
check_eq "...and no key was written" no "$([ -e "$T/k3.key" ] && echo yes || echo no)"
chmod 600 "$T/pp.txt"

# ---- user add / edit / ls with a password file and PGSLUICE_PASSWORD
secret_file "$T/pw1.txt" "$PW1"
admp user add -f "$V" -U alice --password-file "$T/pw1.txt"
check_eq "add alice (--password-file, default key beside the vault): exit 0" 0 "$RC"
check_eq "the new vault has mode 600" 600 "$(mode "$V")"
check_match "the vault has its header" '^pgsluice-vault 1$' "$(cat "$V")"
check_eq "add prints nothing on stdout" "" "$OUT"
decrypts "alice's entry decrypts to her password" alice plain "$PW1"
PGSLUICE_MASTER_PASSPHRASE=$PASS PGSLUICE_PASSWORD=$PWB adm user add -f "$V" -U bob
check_eq "add bob (PGSLUICE_PASSWORD): exit 0" 0 "$RC"
decrypts "bob's entry decrypts to his password" bob plain "$PWB"
adm user ls -f "$V"
check_eq "ls needs no key, lists in file order" "alice bob" "$(words "$OUT")"
admp user add -f "$V" -U alice --password-file "$T/pw1.txt"
check_eq "add an existing user: exit 4" 4 "$RC"
check_match "...naming vault and user" "$V.*\"alice\".*exists" "$ERR"
admp user edit -f "$V" -U carol --password-file "$T/pw1.txt"
check_eq "edit a missing user: exit 4" 4 "$RC"
adm user del -f "$V" -U carol
check_eq "del a missing user: exit 4" 4 "$RC"
adm user add -f "$V" -U alice --password-file "$T/pw1.txt"
check_eq "user add with an existing user and no key: still exit 4" 4 "$RC"
v_sum=$(sum "$V")
secret_file "$T/pw2.txt" "$PW2"
PGSLUICE_MASTER_PASSPHRASE='not the passphrase' adm user edit -f "$V" -U alice --password-file "$T/pw2.txt"
check_eq "edit with a wrong passphrase: exit 3" 3 "$RC"
check_match "...says the passphrase is wrong" 'master.key: wrong passphrase' "$ERR"
check_eq "...and leaves the vault as it was" "$v_sum" "$(sum "$V")"
adm user edit -f "$V" -U alice --password-file "$T/pw2.txt"
check_eq "edit without a passphrase source: exit 1" 1 "$RC"
check_eq "...vault unchanged" "$v_sum" "$(sum "$V")"
admp user edit -f "$V" -U alice --password-file "$T/pw2.txt" -k "$K"
check_eq "edit alice (explicit -k): exit 0" 0 "$RC"
decrypts "alice now has the second password" alice plain "$PW2"
admp user ls -f "$V" --check
check_eq "ls --check: exit 0" 0 "$RC"
check_eq "ls --check: edit kept the order" "alice bob" "$(words "$OUT")"
PGSLUICE_MASTER_PASSPHRASE='not the passphrase' adm user ls -f "$V" --check
check_eq "ls --check with a wrong passphrase: exit 3" 3 "$RC"

# ---- refused passwords, files and names
: > "$T/empty.txt"; chmod 600 "$T/empty.txt"
admp user add -f "$V" -U dave --password-file "$T/empty.txt"
check_eq "an empty password file: exit 1" 1 "$RC"
PGSLUICE_PASSWORD='' admp user add -f "$V" -U dave
check_eq "an empty PGSLUICE_PASSWORD: exit 1" 1 "$RC"
head -c 1025 /dev/zero | tr '\0' x > "$T/long.txt"; chmod 600 "$T/long.txt"
admp user add -f "$V" -U dave --password-file "$T/long.txt"
check_eq "a 1025-byte password: exit 1" 1 "$RC"
check_match "...says it is too long" 'longer than 1024' "$ERR"
head -c 1024 /dev/zero | tr '\0' y > "$T/max.txt"; chmod 600 "$T/max.txt"
admp user add -f "$V" -U maxi --password-file "$T/max.txt"
check_eq "a 1024-byte password: exit 0" 0 "$RC"
chmod 640 "$T/pw1.txt"
admp user add -f "$V" -U dave --password-file "$T/pw1.txt"
check_eq "a group-readable password file: exit 1" 1 "$RC"
check_match "...names it" 'pw1.txt' "$ERR"
chmod 600 "$T/pw1.txt"
admp user add -f "$V" -U dave
check_eq "no password source and no terminal: exit 1" 1 "$RC"
check_match "...says where a password comes from" 'PGSLUICE_PASSWORD' "$ERR"
admp user add -f "$V" -U "$(printf 'bad\tname')" --password-file "$T/pw1.txt"
check_eq "a user name with a control character: exit 2" 2 "$RC"
admp user add -f "$V" -U "$(head -c 64 /dev/zero | tr '\0' n)" --password-file "$T/pw1.txt"
check_eq "a 64-byte user name: exit 2" 2 "$RC"
v_sum=$(sum "$V")
chmod 640 "$V"
adm user ls -f "$V"
check_eq "a group-readable vault: ls exit 1" 1 "$RC"
check_match "...names it and says why" "$V.*(group|other|chmod)" "$ERR"
admp user add -f "$V" -U dave --password-file "$T/pw1.txt"
check_eq "a group-readable vault: add exit 1" 1 "$RC"
check_eq "...and the vault is unchanged" "$v_sum" "$(sum "$V")"
chmod 600 "$V"
chmod 644 "$K"
admp user edit -f "$V" -U bob --password-file "$T/pw1.txt"
check_eq "a world-readable master key file: exit 1" 1 "$RC"
chmod 600 "$K"

# ---- --generate
GEN=1 admp user add -f "$V" -U gen --generate
gen_pw=$OUT
check_eq "--generate: exit 0" 0 "$RC"
check_eq "--generate prints exactly one line" 1 "$(wc -l < "$T/out")"
check_match "...of 24 letters and digits" '^[A-Za-z0-9]{24}$' "$gen_pw"
check_eq "...and nothing on stderr" "" "$ERR"
decrypts "the printed password is the one stored" gen plain "$gen_pw"
GEN=1 admp user edit -f "$V" -U gen --generate
gen2=$OUT
check_eq "edit --generate: exit 0" 0 "$RC"
check_match "edit --generate: a new password" '^[A-Za-z0-9]{24}$' "$gen2"
check "...different from the first" [ "$gen2" != "$gen_pw" ]
decrypts "...and stored" gen plain "$gen2"

# ---- --scram
admp user add -f "$V" -U scrammy --password-file "$T/pw1.txt" --scram
check_eq "add --scram: exit 0" 0 "$RC"
decrypts "--scram stores a SCRAM-SHA-256\$4096 verifier of the password" scrammy scram "$PW1"
printf 'pa\xc2\xadss\n' > "$T/prep.txt"; chmod 600 "$T/prep.txt"   # U+00AD: SASLprep drops it
admp user add -f "$V" -U prepped --password-file "$T/prep.txt" --scram
check_eq "add --scram, a password SASLprep changes: exit 0" 0 "$RC"
decrypts "...the verifier is of the SASLprep'ed password" prepped scram "pass"
admp user ls -f "$V" --check
check_eq "ls --check after --scram and --generate: exit 0" 0 "$RC"
check_eq "...all users" "alice bob maxi gen scrammy prepped" "$(words "$OUT")"

# ---- entries that do not decrypt: swapped between users, a new master key
cp "$V" "$T/good.vault"
a=$(grep '^alice:' "$V" | cut -d: -f2); b=$(grep '^bob:' "$V" | cut -d: -f2)
sed -i "s|^alice:.*|alice:$b|; s|^bob:.*|bob:$a|" "$V"
a_line=$(grep -n '^alice:' "$V" | cut -d: -f1)
admp user ls -f "$V" --check
check_eq "ls --check with swapped entries: exit 3" 3 "$RC"
check_match "...names file, line and user" "^pgsluice-admin: $V:$a_line: user \"alice\": does not decrypt$" "$ERR"
check_eq "...one line per failing entry" 2 "$(printf '%s\n' "$ERR" | grep -c 'does not decrypt')"
check_eq "...and still lists the users" 6 "$(printf '%s\n' "$OUT" | grep -c .)"
v_sum=$(sum "$V")
admp user add -f "$V" -U erin --password-file "$T/pw1.txt"
check_eq "add into a vault whose entries do not decrypt: exit 3" 3 "$RC"
check_eq "...vault unchanged" "$v_sum" "$(sum "$V")"
adm user del -f "$V" -U bob
check_eq "del needs no key: exit 0" 0 "$RC"
check_eq "...bob is gone" "alice maxi gen scrammy prepped" "$(adm user ls -f "$V"; words "$OUT")"
admp user edit -f "$V" -U alice --password-file "$T/pw1.txt"
check_eq "edit repairs the broken entry: exit 0" 0 "$RC"
admp user ls -f "$V" --check
check_eq "...ls --check passes again" 0 "$RC"
cp "$T/good.vault" "$V"
PGSLUICE_MASTER_PASSPHRASE=$PASS2 adm master-key -k "$K" --force
check_eq "master-key --force: exit 0" 0 "$RC"
check_match "...warns that old vaults become unreadable" 'unreadable' "$ERR"
check "...and wrote a new key" [ "$(sum "$K")" != "$k_sum" ]
check_eq "...mode 600" 600 "$(mode "$K")"
PGSLUICE_MASTER_PASSPHRASE=$PASS2 adm user ls -f "$V" --check
check_eq "the old vault does not decrypt with the new key: exit 3" 3 "$RC"
check_eq "...every entry is named" 6 "$(printf '%s\n' "$ERR" | grep -c 'does not decrypt')"
admp user ls -f "$V" --check
check_eq "the old passphrase is wrong for the new key: exit 3" 3 "$RC"

# ---- on a terminal (a pseudo-terminal from python3's pty module): passphrase and password
# asked twice, never echoed
cat > "$T/ttydrive.py" <<'PY'
# ttydrive.py CMD...: run CMD on a new pseudo-terminal (its controlling terminal); answer each
# prompt (output ending in ":") with the next of $TTY_ANSWERS (split at '|'); print what the
# terminal showed and exit with CMD's status
import os, pty, select, sys, time
answers = os.environ.pop('TTY_ANSWERS', '').split('|')
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
shown, pending, deadline = b'', b'', time.time() + 100
while time.time() < deadline:
    if not select.select([fd], [], [], 0.5)[0]:
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    shown += data; pending += data
    if pending.rstrip(b' ').endswith(b':') and answers:
        time.sleep(0.05)
        os.write(fd, answers.pop(0).encode() + b'\n'); pending = b''
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode(errors='replace'))
sys.exit(os.waitstatus_to_exitcode(status))
PY
TK=$T/tty/master.key; TV=$T/tty/users.vault; mkdir -p "$T/tty"
# onterm ANSWERS ARGS...: sets RC and OUT (what the terminal showed, also logged)
onterm() { OUT=$(TTY_ANSWERS=$1 timeout -k 2 120 python3 "$T/ttydrive.py" "$ADMIN" "${@:2}" 2>&1); RC=$?; printf '%s\n' "$OUT" >> "$LOG"; }
onterm "$PASS|$PASS" master-key -k "$TK"
check_eq "terminal: master-key, passphrase asked twice: exit 0" 0 "$RC"
check_match "...both prompts shown" 'passphrase: .*Repeat the passphrase:' "$(words "$OUT")"
onterm "$PASS|$PASS2" master-key -k "$T/tty/other.key"
check_eq "terminal: two different passphrases: exit 1" 1 "$RC"
check_match "...says they differ" 'passphrases differ' "$OUT"
onterm "$PASS|$PW1|$PW1" user add -f "$TV" -U tina
check_eq "terminal: user add, password asked twice: exit 0" 0 "$RC"
check_match "...prompts for the user" 'Password for user "tina": .*Repeat the password:' "$(words "$OUT")"
if [ "$HAVE_PY" = 1 ]; then
  check_eq "...and stores that password" ok \
    "$(VC_PASS=$PASS VC_PW=$PW1 python3 "$T/vaultcheck.py" "$TK" "$TV" tina plain 2>&1)"
fi
tv_sum=$(sum "$TV")
onterm "$PASS|$PW1|$PW2" user edit -f "$TV" -U tina
check_eq "terminal: two different passwords: exit 1" 1 "$RC"
check_match "...says they differ" 'passwords differ' "$OUT"
check_eq "...vault unchanged" "$tv_sum" "$(sum "$TV")"
onterm "$PASS2" user ls --check -f "$TV"
check_eq "terminal: wrong passphrase: exit 3" 3 "$RC"

# ---- a corrupt vault
printf 'pgsluice-vault 1\nthis line has no colon\n' > "$T/bad.vault"; chmod 600 "$T/bad.vault"
adm user ls -f "$T/bad.vault"
check_eq "a corrupt vault: exit 1" 1 "$RC"
check_match "...names file and line" "bad.vault:2" "$ERR"

# ---- no secret in any output; no sanitizer report
leaks=0
for s in "$PASS" "$PASS2" "$PW1" "$PW2" "$PWB" "$gen_pw" "$gen2"; do
  [ -n "$s" ] || continue
  grep -qF -- "$s" "$LOG" && { leaks=$((leaks + 1)); note "a secret appears in the output"; }
done
check_eq "no passphrase or password in any stdout/stderr ($(wc -l < "$LOG") lines)" 0 "$leaks"
check_eq "no sanitizer report" 0 "$(grep -cE 'AddressSanitizer|runtime error:|LeakSanitizer' "$LOG")"
finish
