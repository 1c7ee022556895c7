#!/usr/bin/env python3
# mkkat.py — writes the known-answer files of check_vault.c (master.key and
# kat.vault beside this script) with Python's hashlib/hmac and the
# "cryptography" package, independently of pgsluice's C code.  Salts and
# nonces are fixed so the output never changes; rerun only to change them.
import base64, hashlib, hmac, os
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
PASSPHRASE = b"correct horse battery staple"
MASTER_SALT = bytes(range(16))
ITERATIONS = 600000
ENTRIES = [  # user, secret, entry salt first byte, nonce first byte
    ("alice", "s3cret p\u00e4ssword", 0xA0, 0xB0),
    ("bob", "md5" + hashlib.md5(b"hunter2bob").hexdigest(), 0xC0, 0xD0),
    ("carol:ops", "SCRAM-SHA-256$4096:AQIDBAUGBwgJCgsMDQ4PEA==$"
     "CnvBmCtH5guHF/5riSDtILlD9iBAYbJy10UwRk+Yolk=:Bzu3hfBLTt64NQb8FK3Nnsw/7zmY+HmsHw1uESFqsqM=",
     0xE0, 0xF0),
]

mk = hashlib.pbkdf2_hmac("sha256", PASSPHRASE, MASTER_SALT, ITERATIONS)
check = hmac.new(mk, b"pgsluice master key check v1", hashlib.sha256).digest()
b64 = lambda b: base64.b64encode(b).decode()
with open(os.path.join(HERE, "master.key"), "w") as f:
    f.write("# written by mkkat.py; passphrase: %s\n" % PASSPHRASE.decode())
    f.write("pgsluice-master-key 1\nkdf pbkdf2-hmac-sha256 %d\n" % ITERATIONS)
    f.write("salt %s\ncheck %s\n" % (b64(MASTER_SALT), b64(check)))
with open(os.path.join(HERE, "kat.vault"), "w") as f:
    f.write("# written by mkkat.py under master.key (mk %s)\npgsluice-vault 1\n\n" % mk.hex())
    for user, secret, s0, n0 in ENTRIES:
        salt = bytes(range(s0, s0 + 16))
        nonce = bytes(range(n0, n0 + 12))
        key = hashlib.pbkdf2_hmac("sha256", mk, salt, 1)
        aad = b"pgsluice-vault\x00\x01" + user.encode()
        sealed = AESGCM(key).encrypt(nonce, secret.encode(), aad)  # ciphertext | tag
        f.write("%s:%s\n" % (user, b64(salt + nonce + sealed)))
