#!/bin/bash
# deps.sh: install (apt-get, Debian 12) whatever pgsluice's build, tests and benchmark need
# and is missing.  Sourced by quickstart.sh and test.sh (function deps_install), or run:
#   tools/deps.sh [EXTRA_PACKAGE ...]
# Needs root (or sudo) only when something is missing.  Never starts a service.

DEPS_PACKAGES=(build-essential autoconf automake libtool pkg-config libssl-dev libltdl-dev
  libconfig-dev libidn-dev libpq-dev libkrb5-dev krb5-kdc krb5-admin-server krb5-user check
  postgresql-15 postgresql-client-15 pgbouncer python3 python3-psycopg2 python3-cryptography clang libclang-rt-14-dev clang-format)

# deps_install [EXTRA_PACKAGE ...]
deps_install() {
  local p missing=() sudo=()
  for p in "${DEPS_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#DEPS_PACKAGES[@]} packages present"
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    command -v sudo > /dev/null || { echo "deps: missing ${missing[*]}; run as root or install them" >&2; return 1; }
    sudo=(sudo)
  fi
  echo "deps: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -q || return 1
  # DEBIAN_FRONTEND: no prompts (CI has no stdin); services that the packages would start
  # (a postgresql 15/main cluster, pgbouncer, krb5-kdc) are not used by the project
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" < /dev/null || return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  deps_install "$@"
fi
