#!/usr/bin/env bash
# `make test-install`: installs procreap into a temporary prefix the way a
# user would (`make install PREFIX=...`), then, from a directory outside the
# checkout, builds and runs C programs through pkg-config (shared and
# --static), checks the SONAME and the symlinks, runs the installed CLI
# (read-only, a private agent name), checks DESTDIR staging, and that
# `make uninstall` removes every file it installed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
make=${MAKE:-make}

tmp=$(mktemp -d /tmp/prt-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
work=$tmp/work
mkdir -p "$work"
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAILED: $*" >&2; fail=$((fail + 1)); }
check() { # check DESCRIPTION CMD...
  local what=$1
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

echo "== make install PREFIX=$prefix"
$make --no-print-directory install PREFIX="$prefix" DESTDIR= >"$tmp/install.log" 2>&1 || {
  cat "$tmp/install.log" >&2
  echo "test-install: make install failed" >&2
  exit 1
}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}
lib=$prefix/lib

for f in include/procreap.h lib/libprocreap.a "lib/libprocreap.so.$version" \
  lib/pkgconfig/procreap.pc bin/procreap share/man/man1/procreap.1 \
  share/bash-completion/completions/procreap share/zsh/site-functions/_procreap \
  share/fish/vendor_completions.d/procreap.fish; do
  check "installed $f" test -f "$prefix/$f"
done
check "libprocreap.so.$major -> libprocreap.so.$version" \
  test "$(readlink "$lib/libprocreap.so.$major")" = "libprocreap.so.$version"
check "libprocreap.so -> libprocreap.so.$major" \
  test "$(readlink "$lib/libprocreap.so")" = "libprocreap.so.$major"
soname=$(readelf -d "$lib/libprocreap.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
check "SONAME is libprocreap.so.$major (readelf: ${soname:-none})" test "$soname" = "libprocreap.so.$major"
no_debug() { ! readelf -S -W "$1" 2>/dev/null | grep -qE '\.debug_info|\.llvmbc'; }
check "libprocreap.so.$version has no debug info" no_debug "$lib/libprocreap.so.$version"
check "libprocreap.a has no debug info or bitcode" no_debug "$lib/libprocreap.a"
check "bin/procreap has no debug info" no_debug "$prefix/bin/procreap"
echo "sizes: $(du -k "$lib/libprocreap.so.$version" "$lib/libprocreap.a" "$prefix/bin/procreap" |
  awk '{printf "%s %d KiB; ", $2, $1}' | sed "s|$prefix/||g")"

# A program that uses the library through the installed header only: the
# version, a getter, a read-only scan with a name no process has.
cat >"$work/prog.c" <<'C'
#include <procreap.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    if (strcmp(procreap_version(), PROCREAP_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s, library %s\n", PROCREAP_VERSION_STRING, procreap_version());
        return 1;
    }
    procreap_config *cfg = procreap_config_new();
    const char *names[] = {"prt-install-none"};
    procreap_error *err = NULL;
    procreap_process_list *list = NULL;
    if (cfg == NULL || procreap_config_set_agent_names(cfg, names, 1, &err) != PROCREAP_STATUS_OK ||
        procreap_find_orphans(cfg, &list, &err) != PROCREAP_STATUS_OK) {
        fprintf(stderr, "procreap: %s\n", procreap_error_message(err));
        procreap_error_free(err);
        procreap_config_free(cfg);
        return 1;
    }
    printf("procreap %s: %zu orphans named prt-install-none\n", procreap_version(), list->len);
    procreap_process_list_free(list);
    procreap_config_free(cfg);
    return 0;
}
C

export PKG_CONFIG_PATH=$lib/pkgconfig
cd "$work" # outside the checkout from here on
case "$work" in "$root"/*) bad "work dir inside the checkout" ;; esac
cc=${CC:-cc}

echo "== shared: cc prog.c \$(pkg-config --cflags --libs procreap)"
echo "   $(pkg-config --cflags --libs procreap)"
# shellcheck disable=SC2046
if $cc -std=c99 -Wall -Werror prog.c $(pkg-config --cflags --libs procreap) -o prog-shared; then
  ok "shared build"
  check "prog-shared needs libprocreap.so.$major" \
    grep -q "NEEDED.*\[libprocreap.so.$major\]" <(readelf -d prog-shared)
  check "prog-shared runs (LD_LIBRARY_PATH=$lib)" env LD_LIBRARY_PATH="$lib" ./prog-shared
else
  bad "shared build"
fi

echo "== static: cc -static prog.c \$(pkg-config --static --cflags --libs procreap)"
echo "   $(pkg-config --static --cflags --libs procreap)"
# glibc warns at link time that getpwnam & co. need its shared NSS modules
# at run time; that is expected of any static glibc program.
# shellcheck disable=SC2046
if $cc -static -std=c99 -Wall -Werror prog.c $(pkg-config --static --cflags --libs procreap) \
  -o prog-static 2>static.log; then
  ok "static build"
  check "prog-static has no dynamic section" \
    grep -q "no dynamic section" <(readelf -d prog-static 2>&1)
  check "prog-static runs with no library path" env -u LD_LIBRARY_PATH ./prog-static
else
  cat static.log >&2
  bad "static build"
fi

echo "== the installed CLI"
name="prt-inst$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
check "bin/procreap --version" grep -qx "procreap $version" <("$prefix/bin/procreap" --version)
scan=$("$prefix/bin/procreap" scan --agent-name "$name" --json) || bad "bin/procreap scan exited $?"
check "bin/procreap scan --json: schema 1, no error" \
  grep -q '^{"schema":1,"command":"scan",.*"error":null}$' <<<"$scan"
check "man page renders" grep -q '^\.TH' "$prefix/share/man/man1/procreap.1"
check "bash completion parses" bash -n "$prefix/share/bash-completion/completions/procreap"
check "bash completion completes subcommands" bash -c "
  source '$prefix/share/bash-completion/completions/procreap'
  COMP_WORDS=(procreap sc); COMP_CWORD=1; COMP_LINE='procreap sc'; COMP_POINT=11
  _procreap procreap sc procreap; [[ \" \${COMPREPLY[*]} \" == *' scan '* ]]"
check "zsh completion defines _procreap" grep -q '^#compdef procreap' "$prefix/share/zsh/site-functions/_procreap"
check "fish completion names the subcommands" grep -q 'reap-now' "$prefix/share/fish/vendor_completions.d/procreap.fish"
cd "$root"

echo "== cargo install --locked --path . --example procreap"
if cargo install --quiet --locked --path . --example procreap --root "$tmp/cargo" >"$tmp/cargo.log" 2>&1; then
  check "cargo install: bin/procreap --version" grep -qx "procreap $version" <("$tmp/cargo/bin/procreap" --version)
else
  cat "$tmp/cargo.log" >&2
  bad "cargo install --path . --example procreap"
fi

echo "== DESTDIR staging"
stage=$tmp/stage
$make --no-print-directory install PREFIX=/opt/prt DESTDIR="$stage" >"$tmp/stage.log" 2>&1 || {
  cat "$tmp/stage.log" >&2
  bad "make install DESTDIR=$stage"
}
check "DESTDIR: files under \$DESTDIR\$PREFIX" test -f "$stage/opt/prt/lib/pkgconfig/procreap.pc"
check "DESTDIR: procreap.pc names PREFIX, not DESTDIR" grep -qx 'prefix=/opt/prt' "$stage/opt/prt/lib/pkgconfig/procreap.pc"

echo "== make uninstall"
$make --no-print-directory uninstall PREFIX="$prefix" >/dev/null
$make --no-print-directory uninstall PREFIX=/opt/prt DESTDIR="$stage" >/dev/null
left=$(find "$prefix" "$stage" ! -type d)
check "uninstall removed every installed file${left:+ (left: $left)}" test -z "$left"

echo "install tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
