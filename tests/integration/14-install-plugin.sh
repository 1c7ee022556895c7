#!/bin/bash
# 14. `make install` installs the daemon, the modules, include/pgsluice/module.h and
#     pgsluice.pc; an out-of-tree module (examples/allowlist) builds against the INSTALLED
#     header with `cc -shared $(pkg-config --cflags pgsluice)` and is loaded by path by the
#     INSTALLED daemon, which then lets in the listed user and refuses another.
. "$(dirname "$0")/lib.sh"

BUILD=$(cd "$(dirname "$PGSLUICE")" && pwd)
SRC=$(cd "$IT_DIR/../.." && pwd)
DEST=$T/dest
if ! make -s -C "$BUILD" install DESTDIR="$DEST" > "$T/install.log" 2>&1; then
  fail "make install failed: $(tail -5 "$T/install.log")"; finish; exit
fi
prefix=$(sed -n 's/^prefix=//p' "$BUILD/pgsluice.pc")
root=$DEST$prefix
check "daemon installed" test -x "$root/sbin/pgsluice"
for m in trust reject scram md5 password hba userlist peer; do
  check "module $m.so installed" test -f "$root/lib/pgsluice/$m.so"
done
check "module.h installed" test -f "$root/include/pgsluice/module.h"
check "pgsluice.pc installed" test -f "$root/lib/pkgconfig/pgsluice.pc"

# The plugin sees only the installed header: pkg-config with the DESTDIR prefix.
cflags=$(PKG_CONFIG_PATH=$root/lib/pkgconfig pkg-config --define-variable=prefix="$root" --cflags pgsluice | sed "s/ *$//")
check_eq "pkg-config --cflags points at the installed include dir" "-I$root/include" "$cflags"
# shellcheck disable=SC2086  # cflags is a list of words
if cc -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror $cflags -o "$T/allowlist.so" \
     "$SRC/examples/allowlist/allowlist.c" > "$T/cc.log" 2>&1; then
  ok "example plugin builds against the installed header"
else
  fail "example plugin does not build: $(head -20 "$T/cc.log")"; finish; exit
fi
check_eq "the plugin exports only the entry symbol" "pgs_module_entry_v1" \
  "$(nm -D --defined-only "$T/allowlist.so" | awk '$2 == "T" { print $3 }' | tr '\n' ' ' | sed 's/ $//')"

PGSLUICE_MODULE_DIR=$root/lib/pgsluice
PGSLUICE=$root/sbin/pgsluice
conf_std transaction 5 > "$S_CONF"
# conf.d beside the main file: merged by name (module added, auth.default_chain replaced)
mkdir -p "$T/conf.d"
cat > "$T/conf.d/50-plugin.conf" <<CONF
modules = { allow = { path = "$T/allowlist.so"; users = "trustuser,scramuser"; }; };
auth = { default_chain = ( { use = "allow"; control = "required"; } ); };
CONF
out=$("$PGSLUICE" --check-config -c "$S_CONF" 2>&1)
check_match "installed daemon accepts the config with the plugin" "is valid" "$out"
sluice_start || { fail "installed pgsluice did not start"; finish; exit; }
check_eq "a listed user gets in through the plugin" "trustuser" "$(sq trustuser postgres 'select current_user')"
got=$(sq md5user postgres 'select current_user')
check_match "an unlisted user is refused" 'authentication failed for user "md5user"' "$got"
check_match "the refusal detail is logged, not sent" "allowlist: user is not on the list" "$(cat "$S_LOG")"
# A second daemon on the same port must refuse, not share the port (SO_REUSEPORT).
out=$(timeout -k 2 20 "$PGSLUICE" -c "$S_CONF" 2>&1); rc=$?
check_eq "a second pgsluice on the same port exits with 1" "1" "$rc"
check_match "it says the port is in use" "Address already in use" "$out"
check_eq "the first one still serves" "scramuser" "$(sq scramuser testdb 'select current_user')"
check "pgsluice still running" sluice_alive
sluice_stop
sanitizer_check
finish
