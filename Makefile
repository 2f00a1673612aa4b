# procreap — the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
VENV := target/venv
PY := $(VENV)/bin/python

.PHONY: all lib header header-check demo test test-rust test-c test-go test-python deps bench clean

all: lib header-check

lib:
	$(CARGO) build --release --lib

# Rewrites include/procreap.h from the Rust sources (cbindgen pinned in Cargo.lock).
header:
	PROCREAP_WRITE_HEADER=1 $(CARGO) test --quiet --test header

header-check:
	$(CARGO) test --quiet --test header

demo:
	$(CARGO) run --quiet --release --example procreap -- demo

# Everything `make test` needs that may be missing on a fresh machine.
deps:
	@scripts/ensure-deps.sh

test: deps
	$(CARGO) build --release --lib --examples
	$(CARGO) test --release
	@echo "make test: all suites passed"

clean:
	$(CARGO) clean
