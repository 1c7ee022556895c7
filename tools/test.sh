#!/bin/bash
# test.sh: everything CI runs, from a fresh Debian 12 machine (as root) or a developer's:
#   1. installs what is missing (tools/deps.sh)
#   2. builds the optimized configuration (-O2, what quickstart.sh and the benchmark use: its
#      -Werror warnings differ) into build/, then with ./configure --enable-sanitizers (ASan +
#      UBSan) into build-sanitizers/
#   3. make check: the Check unit tests (their tests/unit/*.log files are printed, so Check's
#      "100%: Checks: N, Failures: 0, Errors: 0" lines show)
#   4. the fuzz targets of tests/fuzz/ (tools/fuzz.sh), FUZZ_SECONDS (30) each
#   5. the integration suite (tests/integration/run.sh) against that sanitizer build
# Exits non-zero if anything failed; the last line is the integration suite's
# "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build-sanitizers
t0=$(date +%s)
# shellcheck disable=SC1091  # tools/deps.sh (checked on its own)
. "$ROOT/tools/deps.sh"
deps_install || { echo "installing the dependencies failed"; echo "0 passed, 1 failed"; exit 1; }

echo "== formatting (.clang-format, STYLE.md rule 13)"
fmt_bad=$(cd "$ROOT" && git ls-files '*.c' '*.h' 2>/dev/null | grep -v '^tests/abi/' |
          while read -r f; do clang-format --dry-run --Werror "$f" > /dev/null 2>&1 || echo "$f"; done)
if [ -n "$fmt_bad" ]; then
  echo "not formatted with clang-format (run: clang-format -i FILE):"
  while read -r f; do echo "  $f"; done <<< "$fmt_bad"
  fmt_rc=1
else
  echo "all C files formatted"; fmt_rc=0
fi

echo "== build (-O2)"
bash "$ROOT/tools/build.sh" "$ROOT/build" || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

echo "== build (--enable-sanitizers)"
bash "$ROOT/tools/build.sh" --sanitizers "$BUILD" || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

echo "== unit tests (make check)"
( cd "$BUILD" && make -j"$(nproc)" check > make-check.out 2>&1 ); unit_rc=$?
grep -E '^(PASS|FAIL|XFAIL|XPASS|ERROR|SKIP):|^# [A-Z]+:' "$BUILD/make-check.out"
for f in "$BUILD"/tests/unit/*.log; do
  [ -f "$f" ] || continue
  echo "--- ${f#"$BUILD"/}"; cat "$f"
done
if [ "$unit_rc" != 0 ]; then
  echo "--- make check failed (exit $unit_rc); the end of its output:"
  tail -n 40 "$BUILD/make-check.out"
fi

echo "== fuzzing (libFuzzer, ${FUZZ_SECONDS:-30} s per target)"
bash "$ROOT/tools/fuzz.sh" -t "${FUZZ_SECONDS:-30}" -o "$BUILD/fuzz"; fuzz_rc=$?

echo "== integration tests (sanitizer build)"
bash "$ROOT/tests/integration/run.sh" -b "$BUILD" 2>&1 | tee "$BUILD/integration.out"; it_rc=${PIPESTATUS[0]}
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$BUILD/integration.out" | tail -1)
[ -n "$summary" ] || { summary="0 passed, 1 failed"; it_rc=1; }
echo "== done in $(( $(date +%s) - t0 )) s: formatting $([ "$fmt_rc" = 0 ] && echo ok || echo FAILED), unit tests $([ "$unit_rc" = 0 ] && echo passed || echo FAILED), fuzzing $([ "$fuzz_rc" = 0 ] && echo passed || echo FAILED), integration tests $([ "$it_rc" = 0 ] && echo passed || echo FAILED)"
echo "$summary"
[ "$unit_rc" = 0 ] && [ "$it_rc" = 0 ] && [ "$fmt_rc" = 0 ] && [ "$fuzz_rc" = 0 ]
