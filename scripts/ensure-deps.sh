#!/usr/bin/env bash
# Installs (or names) what the test suites need on a fresh machine.
set -euo pipefail
need_apt=()
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
command -v lsof >/dev/null 2>&1 || need_apt+=(lsof)
command -v ps >/dev/null 2>&1 || need_apt+=(procps)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v valgrind >/dev/null 2>&1 || need_apt+=(valgrind)
command -v perl >/dev/null 2>&1 || need_apt+=(perl)
command -v readelf >/dev/null 2>&1 || need_apt+=(binutils)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkgconf)
command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-deps: installing ${need_apt[*]} from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "ensure-deps: missing ${need_apt[*]}; install them (e.g. apt-get install ${need_apt[*]}) and rerun" >&2
    exit 1
  fi
fi
command -v cargo >/dev/null 2>&1 || { echo "ensure-deps: cargo (Rust) is missing; install it with rustup" >&2; exit 1; }
for comp in clippy rustfmt; do
  if ! cargo "$( [ $comp = rustfmt ] && echo fmt || echo clippy )" --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null 2>&1; then
      rustup component add "$comp"
    else
      echo "ensure-deps: cargo $comp is missing; install it (rustup component add $comp)" >&2
      exit 1
    fi
  fi
done
