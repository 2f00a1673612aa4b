#!/usr/bin/env bash
# The Go suite (`make test-go`, after `make lib`):
# - places the archive in the module (what `make go` does);
# - gofmt, go vet; the tests, plainly and with GODEBUG=cgocheck=1 GOGC=1;
# - without cgo: vet, build and the ErrUnsupported tests; compile-only
#   builds for darwin, freebsd, windows and linux/arm64;
# - the procreap_system tag against `make install` into a temp prefix, found
#   by pkg-config;
# - a module outside the checkout made exactly as bindings/go/README.md
#   says, built and run with cgo (a read-only scan, private names) and
#   without (ErrUnsupported);
# - the example links libprocreap statically.
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
# Everything is local (replace directives, the standard library): nothing
# is downloaded.
export GOPROXY=off GOTOOLCHAIN=local GOFLAGS=-mod=mod

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step() { echo "== test-go: $*"; }
fail() { echo "test-go: $*" >&2; exit 1; }
name=prt-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
marker=PRT_LEAK_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)=1
version=$(sed -n 's/^#define PROCREAP_VERSION_STRING "\(.*\)"$/\1/p' include/procreap.h)

step "the archive inside the module (make go)"
bindings/go/place-archive.sh

step "without \`make go\`, the build says to run it"
bare="$tmp/bare"
mkdir "$bare"
(cd bindings/go && tar --exclude=./lib --exclude='./archive_*.go' -cf - .) | tar -C "$bare" -xf -
for missing in "header and archive" archive; do
  if msg=$(cd "$bare" && go build . 2>&1); then fail "built without the $missing"; fi
  grep -q 'make[ _]go' <<<"$msg" && ! grep -qi 'ld returned\|cannot find\|no such file' <<<"$msg" ||
    fail "without the $missing the build says: $msg"
  mkdir -p "$bare/lib/include" && cp include/procreap.h "$bare/lib/include/"
done
grep -q 'undefined: procreap_archive_missing_run_make_go' <<<"$msg" || fail "without the archive: $msg"

step "gofmt + go vet"
unformatted=$(gofmt -l bindings/go examples/go)
[ -z "$unformatted" ] || fail "not gofmt'ed: $unformatted"
(cd bindings/go && go vet ./...)
(cd examples/go && go vet ./... && go build -o "$tmp/procreap-go-example" .)
example="$tmp/procreap-go-example"

step "go test"
(cd bindings/go && PROCREAP_GO_EXAMPLE_BIN="$example" go test -p 1 -count=1 ./...)

step "go test with GODEBUG=cgocheck=1 GOGC=1"
(cd bindings/go && PROCREAP_GO_EXAMPLE_BIN="$example" GODEBUG=cgocheck=1 GOGC=1 go test -p 1 -count=1 ./...)

step "without cgo: vet, build, the ErrUnsupported tests"
(cd bindings/go && CGO_ENABLED=0 go vet ./... && CGO_ENABLED=0 go test -count=1 ./...)
(cd examples/go && CGO_ENABLED=0 go build -o /dev/null .)

step "compile only: darwin, freebsd, windows, linux/arm64 (no cgo)"
for target in darwin/amd64 darwin/arm64 freebsd/amd64 windows/amd64 linux/arm64; do
  for dir in bindings/go examples/go; do
    (cd "$dir" && GOOS=${target%/*} GOARCH=${target#*/} CGO_ENABLED=0 go vet ./... &&
      GOOS=${target%/*} GOARCH=${target#*/} CGO_ENABLED=0 go build -o /dev/null ./...) ||
      fail "$dir does not build for $target"
  done
done

step "-tags procreap_system: the library installed by make install, found by pkg-config"
prefix="$tmp/prefix"
make --no-print-directory install PREFIX="$prefix" >/dev/null
(
  export PKG_CONFIG_PATH="$prefix/lib/pkgconfig" LD_LIBRARY_PATH="$prefix/lib"
  # Go's build cache does not key a package on what pkg-config said
  # (golang/go#24544): a second run would link against the first run's
  # prefix, long deleted. CGO_LDFLAGS is part of the key: naming the prefix
  # there makes each run's build its own.
  export CGO_LDFLAGS="-O2 -g -L$prefix/lib"
  cd bindings/go
  go vet -tags procreap_system ./...
  go test -tags procreap_system -count=1 \
    -run 'TestVersion|TestHeaderMatches|TestNamesMatch|TestStatusesMatch|TestEveryKnob|TestDefaultsCome|TestFindOrphans|TestScanObject|TestCleanupStepEscalates|Example' .
  cd "$root/examples/go"
  go build -tags procreap_system -o "$tmp/system-example" .
  ldd "$tmp/system-example" | grep -q "libprocreap.so.0 => $prefix/lib/libprocreap.so.0" ||
    { ldd "$tmp/system-example" >&2; fail "-tags procreap_system did not link $prefix/lib/libprocreap.so.0"; }
  "$tmp/system-example" -names "$name" -leak-markers "$marker" -state-dir "$tmp/state" >/dev/null
)

step "a module outside the checkout, as bindings/go/README.md says"
outside=$(mktemp -d)
trap 'rm -rf "$tmp" "$outside"' EXIT
case "$outside" in "$root"/*) fail "$outside is inside the checkout" ;; esac
# The fenced block after each "<!-- test-go: FILE -->" line, with the
# checkout's path for /path/to/procreap.
for file in go.mod main.go; do
  awk -v want="<!-- test-go: $file -->" '
    $0 == want { found = 1; next }
    found && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }' bindings/go/README.md | sed "s|/path/to/procreap|$root|g" >"$outside/$file"
  [ -s "$outside/$file" ] || fail "bindings/go/README.md has no block for $file"
done
(
  cd "$outside"
  go build -o reaper .
  out=$(./reaper -leak-marker "$marker" "$name")
  echo "$out"
  for want in "procreap $version" "orphans: 0 <nil>" "leaked: 0 <nil>"; do
    grep -qxF "$want" <<<"$out" || fail "the README's program did not print \"$want\""
  done
  CGO_ENABLED=0 go build -o reaper-nocgo .
  set +e
  msg=$(./reaper-nocgo -leak-marker "$marker" "$name" 2>&1)
  rc=$?
  set -e
  echo "$msg"
  [ "$rc" = 2 ] && grep -q "unsupported platform" <<<"$msg" && grep -q "CGO_ENABLED=1" <<<"$msg" ||
    fail "without cgo the README's program should exit 2 with ErrUnsupported (rc $rc)"
)

step "the example links libprocreap statically"
if command -v ldd >/dev/null 2>&1 && ldd "$example" | grep -q libprocreap; then
  ldd "$example" >&2
  fail "the example binary depends on libprocreap.so"
fi
# Runs with the shared library out of reach, in dry-run, matching only
# private names and a private leak marker (it signals nothing anyway).
(cd "$tmp" && env -u LD_LIBRARY_PATH "$example" -names "$name" -leak-markers "$marker" -state-dir "$tmp/state" -explain)

echo "test-go: ok"
