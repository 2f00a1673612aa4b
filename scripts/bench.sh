#!/usr/bin/env bash
# `make bench`: builds examples/bench.rs in release mode and runs it. The
# bench builds its own process table (sleepers, tmux servers on private
# sockets, agent decoys under a private name), measures procreap against the
# ps/tmux subprocess baseline and the /proc floor, prints the medians and
# writes target/bench/results.csv; it tears down everything it started.
# PROCREAP_BENCH_SIZES=200,1000 picks other table sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in tmux ps setsid; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is required (make deps)" >&2; exit 1; }
done
exec "${CARGO:-cargo}" run --quiet --release --example bench -- "$@"
