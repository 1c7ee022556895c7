#!/bin/bash
# build.sh [--sanitizers] [BUILD_DIR]
# Build pgsluice out of tree (VPATH): autoreconf -fi when configure is missing or older than
# configure.ac / Makefile.am, configure once per build directory, make -j$(nproc).
#   default BUILD_DIR: build/ (plain) or build-sanitizers/ (--enable-sanitizers: ASan + UBSan)
# Results: BUILD_DIR/pgsluice and the modules in BUILD_DIR/.libs/*.so.  Needs tools/deps.sh first.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
flags=(); dir=$ROOT/build
if [ "${1:-}" = --sanitizers ]; then flags=(--enable-sanitizers); dir=$ROOT/build-sanitizers; shift; fi
[ -n "${1:-}" ] && dir=$1
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)

if [ -f "$ROOT/config.status" ] && [ "$dir" != "$ROOT" ]; then
  echo "build: $ROOT was configured in place; an out-of-tree build needs 'make distclean' there first" >&2
  exit 1
fi
cd "$ROOT"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
  echo "build: autoreconf -fi"
  autoreconf -fi
fi
cd "$dir"
if [ ! -f Makefile ]; then
  echo "build: configure ${flags[*]} in $dir"
  "$ROOT/configure" -q "${flags[@]}"
fi
echo "build: make in $dir"
make -j"$(nproc)" > make.out 2>&1 || { tail -n 60 make.out; echo "build: make failed (full log: $dir/make.out)" >&2; exit 1; }
echo "build: $dir/pgsluice, modules in $dir/.libs"
