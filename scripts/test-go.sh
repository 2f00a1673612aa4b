#!/usr/bin/env bash
# The Go suite: vet and test bindings/go (twice: plainly, then with
# GODEBUG=cgocheck=1 GOGC=1 to shake out pointer and lifetime bugs), build
# the example and check it needs no libprocreap.so at run time.
# `make test-go` runs this after building target/release/libprocreap.a.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  else
    echo "test-go: go is missing; install Go >= 1.22 (https://go.dev/dl/)" >&2
    exit 1
  fi
fi
if [ ! -f target/release/libprocreap.a ]; then
  echo "test-go: target/release/libprocreap.a is missing; run \`make go\` first" >&2
  exit 1
fi
export CGO_ENABLED=1
# Everything is local (a replace directive, the standard library): no proxy.
export GOPROXY=off GOTOOLCHAIN=local

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step() { echo "== test-go: $*"; }

step "gofmt + go vet (bindings/go)"
unformatted=$(gofmt -l bindings/go examples/go)
if [ -n "$unformatted" ]; then
  echo "test-go: not gofmt'ed: $unformatted" >&2
  exit 1
fi
(cd bindings/go && go vet ./...)

step "go build + vet (examples/go)"
(cd examples/go && go vet ./... && go build -o "$tmp/procreap-go-example" .)
example="$tmp/procreap-go-example"

step "go test (bindings/go)"
(cd bindings/go && PROCREAP_GO_EXAMPLE_BIN="$example" go test -p 1 -count=1 ./...)

step "go test with GODEBUG=cgocheck=1 GOGC=1 (bindings/go)"
(cd bindings/go && PROCREAP_GO_EXAMPLE_BIN="$example" GODEBUG=cgocheck=1 GOGC=1 go test -p 1 -count=1 ./...)

step "the example links libprocreap statically"
if command -v ldd >/dev/null 2>&1; then
  if ldd "$example" | grep -q libprocreap; then
    ldd "$example" >&2
    echo "test-go: the example binary depends on libprocreap.so" >&2
    exit 1
  fi
fi
# Runs with the shared library out of reach, in dry-run, matching only a
# private name (it signals nothing anyway).
(cd "$tmp" && env -u LD_LIBRARY_PATH "$example" -names "prt-none-$$" -state-dir "$tmp/state" -explain)

echo "test-go: ok"
