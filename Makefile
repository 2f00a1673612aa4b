# procreap — the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all lib header header-check demo test test-rust test-c test-go test-python test-platforms deps bench go wheel clean

all: lib header-check

# Release static + shared library: target/release/libprocreap.{a,so}.
lib:
	$(CARGO) build --release --lib

# Rewrites include/procreap.h from the Rust sources (cbindgen pinned in Cargo.lock).
header:
	PROCREAP_WRITE_HEADER=1 $(CARGO) test --quiet --release --test header

header-check:
	$(CARGO) test --quiet --release --test header

# The demo needs only Rust (no tmux: its zombie scan says why it is empty).
demo:
	@command -v $(CARGO) >/dev/null 2>&1 || { echo "make demo: cargo (Rust) is missing; install it with rustup (https://rustup.rs)" >&2; exit 1; }
	$(CARGO) run --quiet --release --example procreap -- demo

# Everything `make test` needs that may be missing on a fresh machine.
deps:
	@scripts/ensure-deps.sh

# Every suite runs even when an earlier one fails, so one run shows all
# failures; the exit status is non-zero if any failed.
SUITES := test-rust test-platforms test-c test-go test-python
test: deps
	@failed=""; \
	for s in $(SUITES); do \
	  $(MAKE) --no-print-directory $$s || failed="$$failed $$s"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: every suite passed"

test-rust: deps
	$(CARGO) build --release --lib --examples
	$(CARGO) clippy --release --all-targets --quiet -- -D warnings
	$(CARGO) fmt --check
	$(CARGO) test --release --no-fail-fast

test-c: lib
	$(MAKE) -C tests/c

# Builds the Rust archive the Go module links statically.
go: lib

test-go: lib
	scripts/test-go.sh

test-python: lib
	scripts/test-python.sh

# The Python package as an sdist (carrying the crate) and a platform wheel
# built from it (bundling the library): target/wheels/procreap-<ver>-*.whl.
wheel:
	scripts/test-python.sh --wheel

# macOS (portable backend) and Windows ("unsupported") must keep compiling.
test-platforms:
	scripts/check-platforms.sh

bench: deps
	scripts/bench.sh

clean:
	$(CARGO) clean
