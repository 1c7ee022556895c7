#!/bin/bash
# fuzz.sh [-t SECONDS] [-o DIR] [TARGET ...]: build the libFuzzer targets of tests/fuzz/ with
# clang (-fsanitize=fuzzer,address,undefined) and run each for SECONDS (default 30), starting
# from the seed corpus tests/fuzz/corpus/<target>/ (copied: the checkout is never written).
# Targets: hba (pg_hba.conf / pg_ident.conf parser and matcher), scram (the server side of the
# SCRAM exchange), vault (vault files, master.key, entry decryption).  Exits non-zero when a
# build fails or a target finds a crash, a leak or undefined behaviour; the crashing input is
# kept in DIR (default a mktemp -d directory).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=30
OUT=
while getopts 't:o:' o; do
  case $o in
    t) SECS=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) sed -n '2,8p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(hba scram vault)
OUT=${OUT:-$(mktemp -d /tmp/pgsluice-fuzz.XXXXXX)}
mkdir -p "$OUT"
CC=${FUZZ_CC:-clang}
CFLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -Wall -Wextra -Werror -I"$ROOT/include")

sources() {
  case $1 in
    hba) echo "$ROOT/modules/hba/hba_token.c $ROOT/modules/hba/hba_rules.c $ROOT/modules/hba/hba_ident.c" ;;
    scram) echo "$ROOT/modules/scram/scram_server.c $ROOT/modules/common/scram_verifier.c $ROOT/modules/common/saslprep.c $ROOT/modules/common/md5_hash.c $ROOT/modules/common/errbuf.c" ;;
    vault) echo "$ROOT/modules/vault/vault_crypto.c $ROOT/modules/vault/vault_file.c $ROOT/modules/vault/vault_io.c $ROOT/modules/common/scram_verifier.c $ROOT/modules/common/saslprep.c $ROOT/modules/common/md5_hash.c $ROOT/modules/common/secret_kind.c $ROOT/modules/common/errbuf.c" ;;
    *) return 1 ;;
  esac
}
libs() { case $1 in scram|vault) echo "-lcrypto -lidn" ;; *) echo "" ;; esac; }

rc=0
for t in "${TARGETS[@]}"; do
  src=$(sources "$t") || { echo "fuzz: unknown target $t"; rc=1; continue; }
  bin=$OUT/fuzz_$t
  # shellcheck disable=SC2046,SC2086  # word lists on purpose
  if ! "$CC" "${CFLAGS[@]}" -I"$ROOT/modules/$t" -I"$ROOT/modules/common" \
       "$ROOT/tests/fuzz/fuzz_$t.c" $src $(libs "$t") -o "$bin" > "$OUT/build_$t.log" 2>&1; then
    echo "fuzz: building $t failed:"; tail -n 20 "$OUT/build_$t.log"; rc=1; continue
  fi
  corpus=$OUT/corpus_$t
  mkdir -p "$corpus"
  [ -d "$ROOT/tests/fuzz/corpus/$t" ] && cp "$ROOT/tests/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null
  ( cd "$OUT" && ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$SECS" -timeout=10 \
      -rss_limit_mb=1024 -print_final_stats=1 "$corpus" > "$OUT/run_$t.log" 2>&1 ); frc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/run_$t.log")
  if [ "$frc" = 0 ]; then
    echo "fuzz $t: ok, ${runs:-?} inputs in ${SECS} s, corpus $(find "$corpus" -type f | wc -l) files"
  else
    echo "fuzz $t: FAILED (exit $frc); crash input and log in $OUT:"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$OUT/run_$t.log" | head -10
    rc=1
  fi
done
exit $rc
