#!/usr/bin/env bash
# `make bench`: builds examples/bench (release) and what its contenders
# need, then runs it. The bench builds its own process table (background
# sleepers, agents and marker processes under private names, tmux servers on
# private sockets), measures procreap against the floors, its Go and Python
# bindings, psutil and the ps/tmux subprocess pipeline, prints the tables,
# writes target/bench/results.csv and (at the default sizes) the generated
# blocks of README.md and docs/PERFORMANCE.md; it tears down everything it
# started. PROCREAP_BENCH_SIZES=1000,5000 picks other sizes of N.
#
# Made here, each skipped with a note when it cannot be:
#   strace                    from Debian's packages (as root), to count syscalls;
#   target/bench/bench-pair-go the Go contender (examples/bench/go, `make go` first);
#   target/bench-venv         a venv with psutil (pinned), for the Python contenders.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
MAKE=${MAKE:-make}
for tool in tmux ps setsid; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is required (make deps)" >&2; exit 1; }
done
mkdir -p target/bench

if ! command -v strace >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench: installing strace from Debian's packages"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null; } ||
      echo "bench: strace could not be installed; syscalls will not be counted"
  fi
fi

# The library (the Python binding loads it), its archive inside the Go
# module, and the bench itself.
"$MAKE" --no-print-directory go >/dev/null
"${CARGO:-cargo}" build --quiet --release --example bench

unset PROCREAP_BENCH_GO PROCREAP_BENCH_PYTHON
go=$(command -v go || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; } || true)
if [ -n "$go" ]; then
  if (cd examples/bench/go && GOPROXY=off GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=1 \
    "$go" build -o "$root/target/bench/bench-pair-go" .); then
    export PROCREAP_BENCH_GO=$root/target/bench/bench-pair-go
  else
    echo "bench: the Go contender did not build; it is skipped"
  fi
fi

PSUTIL=psutil==7.2.2
venv=target/bench-venv
py=${PYTHON:-python3}
if command -v "$py" >/dev/null 2>&1; then
  if [ ! -x "$venv/bin/python" ] && ! "$py" -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    echo "bench: $py -m venv failed; the Python contenders run without a venv (psutil only if installed)"
    export PROCREAP_BENCH_PYTHON=$(command -v "$py")
  fi
  if [ -x "$venv/bin/python" ]; then
    if ! "$venv/bin/python" -c 'import psutil' 2>/dev/null; then
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$PSUTIL" ||
        echo "bench: pip could not install $PSUTIL; psutil is skipped"
    fi
    export PROCREAP_BENCH_PYTHON=$root/$venv/bin/python
  fi
fi

exec target/release/examples/bench "$@"
